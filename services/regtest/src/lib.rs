//! Test support: runs a real regtest `bitcoind` (built by `scripts/build-bitcoind.sh`) and
//! builds correctly signed Lightning gossip for channels funded on it.
//!
//! Only tests and benchmarks depend on this crate; it must never be a dependency of the node.
//! Everything here blocks (plain `std::net` RPC); from async tests call it before starting
//! the runtime's work or inside `spawn_blocking`.
//!
//! # Brief overview
//!
//! - [`Bitcoind`]: a regtest bitcoind on a temporary datadir and free loopback ports,
//!   stopped on drop. Hand [`Bitcoind::rpc_url`] and [`Bitcoind::rpc_user_pass`] to the node
//!   under test. The binary is `$SWITCHYARD_BITCOIND`, else the cached build of
//!   `scripts/build-bitcoind.sh` (built on first use: 10-20 minutes). It has no wallet.
//! - [`Wallet`]: one P2WPKH key; [`Wallet::fund`] mines 101 blocks to it,
//!   [`Wallet::spend_to`] signs and broadcasts payments with change.
//! - [`ChannelFixture`]: a 2-of-2 P2WSH funding output (BOLT 3) confirmed 6 deep, and
//!   its BOLT 7 gossip: [`ChannelFixture::announcement`], [`ChannelFixture::update`],
//!   plus deliberately bad variants (missing UTXO, corrupted signatures) and
//!   [`ChannelFixture::close_onchain`]. [`node_announcement`] signs a node's announcement.
//! - [`BitcoindUtxoLookup`]: LDK's `UtxoLookup` over bitcoind RPC, to check messages with
//!   LDK's own `NetworkGraph` the way the node will.
//! - [`gossip`]: the signing primitives (no chain needed), e.g. for synthetic networks.
//! - [`daemons`]: real `dnsmasq`, `microsocks` and offline `tor` on loopback, for the node's
//!   DNS bootstrap, SOCKS5 and onion service tests.
//!
//! ```no_run
//! use bitcoin::secp256k1::SecretKey;
//! use switchyard_regtest::{now_timestamp, Bitcoind, ChannelFixture, Direction, Policy, Wallet};
//!
//! # fn main() -> switchyard_regtest::Result<()> {
//! let btc = Bitcoind::start()?;
//! let (user, password) = btc.rpc_user_pass(); // for the node: btc.rpc_url()
//! let mut wallet = Wallet::new(&btc)?;
//! wallet.fund()?;
//!
//! let node_a = SecretKey::from_slice(&[0x11; 32])?;
//! let node_b = SecretKey::from_slice(&[0x22; 32])?;
//! let ch = ChannelFixture::open(&btc, &mut wallet, &node_a, &node_b, 1_000_000)?;
//! let ts = now_timestamp();
//! let ann = ch.announcement();
//! let upd = ch.update(Direction::AToB, Policy { fee_ppm: 100, ..ch.default_policy() }, ts);
//! let node_ann = switchyard_regtest::node_announcement(&node_a, "alice", [1, 2, 3], vec![], ts);
//! let bad = ch.announcement_for_missing_utxo();
//!
//! // ... send them to the node over a Lightning connection, check the store, then:
//! let closing_tx = ch.close_onchain(&mut wallet)?; // mined: the channel is closed at the tip
//! # Ok(()) }
//! ```
//!
//! Timestamps: LDK (and so the node) drops channel updates older than two weeks or more
//! than a day ahead, so start from [`now_timestamp`] and increase it for newer updates.

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod bitcoind;
mod channel;
pub mod daemons;
mod error;
pub mod gossip;
mod peer;
mod rpc;
pub mod synthetic;
mod utxo;
mod wallet;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::secp256k1::SecretKey;

pub use bitcoind::{Bitcoind, BitcoindOptions, RpcAuth, BITCOIND_ENV, DEFAULT_STARTUP_TIMEOUT};
pub use channel::{
    funding_script, ChannelFixture, Direction, ANNOUNCEMENT_CONFIRMATIONS, CLOSE_FEE_SAT,
};
pub use error::{Error, Result};
pub use gossip::{node_announcement, now_timestamp, scid, scid_parts, Policy};
pub use peer::{GossipPeer, QuietLogger, ScriptedGossip, ScriptedPeerManager};
pub use rpc::RpcClient;
pub use utxo::BitcoindUtxoLookup;
pub use wallet::{Utxo, Wallet, COINBASE_MATURITY, FEE_PER_INPUT_SAT};

/// 32 unpredictable bytes for test keys and RPC passwords: SHA-256 over the process's
/// randomly seeded hasher state, the time, the pid and a counter. Not for real funds.
pub(crate) fn random_bytes32() -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut engine = sha256::Hash::engine();
    for _ in 0..4 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        engine.input(&hasher.finish().to_le_bytes());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    engine.input(&nanos.to_le_bytes());
    engine.input(&std::process::id().to_le_bytes());
    sha256::Hash::from_engine(engine).to_byte_array()
}

/// A fresh random secret key (for funding keys, wallets, or nodes in tests).
pub fn random_secret_key() -> SecretKey {
    loop {
        // Fails only for zero or values above the curve order: probability ~2^-128.
        if let Ok(key) = SecretKey::from_slice(&random_bytes32()) {
            return key;
        }
    }
}
