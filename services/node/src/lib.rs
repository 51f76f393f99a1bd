//! The Lightning node: identity, LDK `PeerManager` over TCP (and Tor), gossip sync checked
//! against bitcoind, every accepted gossip message recorded in the store.
//!
//! It must not do graph analytics or serve HTTP: the API reads what this crate writes.
