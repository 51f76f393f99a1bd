//! Channels, HTLC forwarding and payments: LDK's `ChannelManager` and `ChainMonitor`, wired to
//! bitcoind (blocks in through `lightning-block-sync`, transactions out through
//! `sendrawtransaction`), to the BDK wallet (funding, change, sweeps), and to the books (every
//! forward, payment and invoice becomes a row, written in batches off the HTLC path).
//!
//! [`Lightning`] is assembled by [`crate::builder`]; its behaviour is split by concern:
//!
//! | module | holds |
//! |---|---|
//! | `chain_feed` | the block feed and its listeners; the "channels watched" gate |
//! | `events` | LDK's events, one function per family; the event loop's round |
//! | `actions` | operator actions: open, close, invoice, pay, keysend, send on-chain |
//! | `policy` | forwarding fees: the default policy, LDK's config, the one path that changes fees |
//! | `channels` | our channels as the operator sees them, channel references, gauges |
//! | `persist` | what is written to the store and in which order (monitors, manager + books, scorer) |
//! | `commit` | the group commit: one transaction per round of monitor writes, manager and books |
//! | `onchain` | fee estimates and the broadcaster (LDK's view of bitcoind) |
//!
//! This module must not decide fees or routes by itself: policies come from config and the
//! API (or a fee controller, through `policy`), routes from the router it is given.

mod actions;
mod chain_feed;
mod channels;
pub(crate) mod commit;
mod events;
mod onchain;
mod persist;
mod policy;

use std::sync::{Arc, Mutex};

use bitcoin::Network;
use lightning::chain::channelmonitor::ChannelMonitor;
use lightning::sign::{InMemorySigner, KeysManager};
use lightning_block_sync::rpc::RpcClient;
use switchyard_store::queries::books::BookEntry;
use switchyard_store::Store;
use tokio::sync::watch;

pub(crate) use chain_feed::catching_up;
pub use channels::{parse_channel_ref, ChannelPolicyView, ChannelRef, OwnChannel};
pub(crate) use onchain::chain_tip;
pub use onchain::{Broadcaster, FeeEstimates};
pub(crate) use persist::monitor_persister;
pub use persist::{TokioSpawner, MONITOR_UPDATES_PER_FULL_WRITE};
pub use policy::{user_config, ForwardingPolicy, PolicyUpdate};

use crate::error::NodeError;
use crate::learn::LearnedLiquidity;
use crate::metrics::NodeMetrics;
use crate::types::{ChainMonitor, ChannelManager, Sweeper};
use crate::wallet::OnchainWallet;

/// A restored channel monitor and the block it had seen.
pub(crate) type StoredMonitor = (bitcoin::BlockHash, ChannelMonitor<InMemorySigner>);

/// The channel, forwarding and payment layer of a node.
pub struct Lightning {
    manager: Arc<ChannelManager>,
    chain_monitor: Arc<ChainMonitor>,
    wallet: Option<Arc<OnchainWallet>>,
    sweeper: Option<Arc<Sweeper>>,
    broadcaster: Arc<Broadcaster>,
    fees: Arc<FeeEstimates>,
    keys: Arc<KeysManager>,
    rpc: Option<Arc<RpcClient>>,
    network: Network,
    policy: Mutex<ForwardingPolicy>,
    store: Store,
    /// Book entries not yet in Postgres. They are written in the same transaction as the
    /// channel manager that has handled their events, so a crash books every event exactly
    /// once: before that commit LDK replays the events, after it they are in the books.
    books: Mutex<Vec<BookEntry>>,
    /// Held while LDK's events are handled and while the group commit takes the books with
    /// the manager's bytes (see `persist`).
    event_round: Mutex<()>,
    /// The writer of monitors, manager and books (`commit`).
    commits: Arc<commit::GroupCommit>,
    /// Liquidity learned from our payments, which the router reads.
    learned: Arc<LearnedLiquidity>,
    metrics: Arc<NodeMetrics>,
    /// Monitors and their best blocks, kept until the chain feed has synced them.
    pending_monitors: Mutex<Vec<StoredMonitor>>,
    /// True once every restored monitor is in the chain monitor. Until then nothing may
    /// drive the channel manager (peers, events, payments, closes): an update it generated
    /// for a channel whose monitor is not registered yet would be lost, and the channel stuck.
    channels_watched: watch::Sender<bool>,
    manager_best: bitcoin::BlockHash,
}

/// What [`Lightning`] is made of, as the builder assembled and restored it.
pub(crate) struct Parts {
    pub manager: Arc<ChannelManager>,
    /// The block the stored manager had seen (the tip for a new one).
    pub manager_best: bitcoin::BlockHash,
    pub chain_monitor: Arc<ChainMonitor>,
    /// Restored monitors, handed to the chain monitor once the chain feed caught them up.
    pub monitors: Vec<StoredMonitor>,
    pub wallet: Option<Arc<OnchainWallet>>,
    pub sweeper: Option<Arc<Sweeper>>,
    pub broadcaster: Arc<Broadcaster>,
    pub fees: Arc<FeeEstimates>,
    pub keys: Arc<KeysManager>,
    pub rpc: Option<Arc<RpcClient>>,
    pub network: Network,
    pub policy: ForwardingPolicy,
    pub store: Store,
    pub learned: Arc<LearnedLiquidity>,
    pub metrics: Arc<NodeMetrics>,
    /// The group commit the key-value store queues monitor writes to.
    pub commits: Arc<commit::GroupCommit>,
}

impl Lightning {
    /// The layer over assembled parts; nothing runs until the chain feed
    /// ([`Lightning::run_chain_feed`]) and the event loop are started.
    pub(crate) fn new(p: Parts) -> Lightning {
        Lightning {
            manager: p.manager,
            chain_monitor: p.chain_monitor,
            wallet: p.wallet,
            sweeper: p.sweeper,
            broadcaster: p.broadcaster,
            fees: p.fees,
            keys: p.keys,
            rpc: p.rpc,
            network: p.network,
            policy: Mutex::new(p.policy),
            store: p.store,
            books: Mutex::new(Vec::new()),
            event_round: Mutex::new(()),
            commits: p.commits,
            learned: p.learned,
            metrics: p.metrics,
            channels_watched: watch::Sender::new(p.monitors.is_empty()),
            pending_monitors: Mutex::new(p.monitors),
            manager_best: p.manager_best,
        }
    }

    /// LDK's channel manager.
    pub fn manager(&self) -> &Arc<ChannelManager> {
        &self.manager
    }

    /// The on-chain wallet, or `Unavailable` when the node runs without bitcoind.
    pub fn wallet(&self) -> Result<&Arc<OnchainWallet>, NodeError> {
        self.wallet.as_ref().ok_or_else(|| {
            NodeError::Unavailable("the on-chain wallet needs bitcoind (--bitcoind-rpc)".into())
        })
    }

    /// A random `user_channel_id` for a channel we open or accept.
    fn random_user_id(&self) -> u128 {
        u128::from_be_bytes(
            lightning::sign::EntropySource::get_secure_random_bytes(&*self.keys)[..16]
                .try_into()
                .unwrap_or([0; 16]),
        )
    }
}
