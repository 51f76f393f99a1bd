//! AFL++ entry point of the `gossip_raw` target (see `switchyard_fuzz::gossip_raw`).

fn main() {
    afl::fuzz!(|data: &[u8]| switchyard_fuzz::gossip_raw(data));
}
