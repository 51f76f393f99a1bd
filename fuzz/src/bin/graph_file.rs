//! AFL++ entry point of the `graph_file` target (see `switchyard_fuzz::graph_file`).

fn main() {
    afl::fuzz!(|data: &[u8]| switchyard_fuzz::graph_file(data));
}
