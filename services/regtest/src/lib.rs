//! Test support: runs a real regtest `bitcoind` (built by `scripts/build-bitcoind.sh`) and
//! builds correctly signed Lightning gossip for channels funded on it.
//!
//! Only tests and benchmarks depend on this crate; it must never be a dependency of the node.
