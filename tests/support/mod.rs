//! Helpers shared by integration tests (and benches, through `#[path]`).

pub mod line;
pub mod process;
