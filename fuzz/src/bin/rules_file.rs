//! AFL++ entry point of the `rules_file` target (see `switchyard_fuzz::rules_file`).

fn main() {
    afl::fuzz!(|data: &[u8]| switchyard_fuzz::rules_file(data));
}
