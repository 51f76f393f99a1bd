//! The LDK types the node is assembled from, each named once (as ldk-node's `types.rs`): the
//! generic parameters say which of our parts LDK talks to (the store's key-value table, our
//! router, the BDK wallet, bitcoind for fees and broadcasting).
//!
//! To change a part (another monitor persister, another router), change its alias here and
//! the one step of [`crate::builder`] that makes it.

use std::sync::Arc;

use lightning::chain::chainmonitor;
use lightning::chain::Filter;
use lightning::ln::channelmanager;
use lightning::ln::peer_handler::IgnoringMessageHandler;
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::routing::gossip::NetworkGraph;
use lightning::sign::{InMemorySigner, KeysManager};
use lightning::util::persist::MonitorUpdatingPersisterAsync;
use lightning::util::sweep::OutputSweeperSync;

use crate::kv::PgKvStore;
use crate::ln::{Broadcaster, FeeEstimates, TokioSpawner};
use crate::wallet::OnchainWallet;
use crate::{LdkLogger, RecordingGossip};

/// LDK's view of the channel graph, fed by gossip.
pub type Graph = NetworkGraph<Arc<LdkLogger>>;

/// The peer manager: channel messages go to LDK's channel manager, gossip to our recorder.
pub type PeerManager = lightning::ln::peer_handler::PeerManager<
    lightning_net_tokio::SocketDescriptor,
    Arc<ChannelManager>,
    Arc<RecordingGossip>,
    Arc<IgnoringMessageHandler>,
    Arc<LdkLogger>,
    Arc<IgnoringMessageHandler>,
    Arc<KeysManager>,
    Arc<IgnoringMessageHandler>,
>;

/// A chain filter is never used: the feed hands every full block to every listener.
pub type NoFilter = Arc<dyn Filter + Send + Sync>;

/// Writes channel monitors and their updates to the store, asynchronously (see `ln::persist`).
pub type MonitorPersister = MonitorUpdatingPersisterAsync<
    Arc<PgKvStore>,
    TokioSpawner,
    Arc<LdkLogger>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<Broadcaster>,
    Arc<FeeEstimates>,
>;

/// Watches the chain for every channel's monitor.
pub type ChainMonitor = chainmonitor::ChainMonitor<
    InMemorySigner,
    NoFilter,
    Arc<Broadcaster>,
    Arc<FeeEstimates>,
    Arc<LdkLogger>,
    chainmonitor::AsyncPersister<
        Arc<PgKvStore>,
        TokioSpawner,
        Arc<LdkLogger>,
        Arc<KeysManager>,
        Arc<KeysManager>,
        Arc<Broadcaster>,
        Arc<FeeEstimates>,
    >,
    Arc<KeysManager>,
>;

/// Our own pathfinding (`services/graph`'s engine behind LDK's `Router` trait) finds the routes
/// of the node's payments.
pub type NodeRouter = crate::router::SwitchyardRouter;

/// Routes onion messages (LDK's default over the gossip graph).
pub type MessageRouter = DefaultMessageRouter<Arc<Graph>, Arc<LdkLogger>, Arc<KeysManager>>;

/// Channels, HTLC forwarding and payments.
pub type ChannelManager = channelmanager::ChannelManager<
    Arc<ChainMonitor>,
    Arc<Broadcaster>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<FeeEstimates>,
    Arc<NodeRouter>,
    Arc<MessageRouter>,
    Arc<LdkLogger>,
>;

/// Sweeps the outputs of closed channels to the wallet.
pub type Sweeper = OutputSweeperSync<
    Arc<Broadcaster>,
    Arc<OnchainWallet>,
    Arc<FeeEstimates>,
    NoFilter,
    Arc<PgKvStore>,
    Arc<LdkLogger>,
    Arc<KeysManager>,
>;
