//! AFL++ entry point of the `api_request` target (see `switchyard_fuzz::api`). The router, its
//! graph and analytics are built on the first input of each forked process: AFL++ forks at
//! its first call, and threads started before that (tokio's, rayon's) would not exist in the
//! child.

use std::cell::OnceCell;
use std::panic::AssertUnwindSafe;

use switchyard_fuzz::api::Harness;

fn main() {
    let harness = AssertUnwindSafe(OnceCell::new());
    afl::fuzz(true, move |data: &[u8]| {
        let _ = harness.get_or_init(Harness::new).request(data);
    });
}
