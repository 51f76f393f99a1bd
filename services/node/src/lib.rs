//! # switchyard-node: the Lightning node
//!
//! Identity (a seed file in the data directory), LDK's `PeerManager` over TCP
//! (`lightning-net-tokio`, Noise_XK per BOLT 8) and through a SOCKS5 proxy for Tor, gossip
//! sync (`P2PGossipSync` with `gossip_queries`) whose channel announcements are checked
//! against bitcoind's UTXO set, every accepted gossip message recorded in the store's history
//! tables in batches off the message path, LDK's state in the store's key-value table, and
//! the channel layer (`ln`: channels, forwarding, payments, the wallet, the books).
//!
//! Routes for its own payments come from `switchyard-graph`'s engine (`router`). It must not
//! compute analytics, must not serve HTTP and must not write SQL (it calls the store). The API
//! reaches the node only through [`NodeHandle`] (status, peers, channels, policy, invoices,
//! payments, the wallet; its contract is in [`handle`]), and reads the rest (books, gossip
//! history) from the store.
//!
//! # Brief overview
//! [`Node::start`] runs the one linear [`builder`] (seed, graph, bitcoind, gossip, channel
//! layer, peer manager, background [`tasks`], peers) and returns the running [`Node`];
//! [`Node::stop`] persists and stops it. The LDK types it is made of are named in [`types`].
//!
//! ```text
//!  peers ──TCP/SOCKS5──► PeerManager ──► RecordingGossip ──► P2PGossipSync ──► NetworkGraph
//!            │                               │   ▲                  │ (async UTXO check)
//!            │                               │   └── Broadcast* ◄───┘◄── ChainSource ◄── bitcoind
//!            │                               ▼                                              │
//!            │                     batch writer ──► Postgres (history tables, graph_version) │
//!            ▼                                                                              │
//!     ChannelManager ◄── ln (events, actions, policy, persist) ◄── chain feed (blocks) ◄────┘
//!            ▲
//!      NodeHandle ◄── the API
//! ```

#![warn(missing_docs)]

mod bootstrap;
pub mod builder;
pub mod chain;
pub mod config;
pub mod dns;
mod error;
pub mod fees_ctl;
pub mod gossip;
pub mod handle;
pub mod kv;
#[cfg(test)]
mod ldk_fixtures;
pub mod learn;
pub mod ln;
mod logger;
pub mod metrics;
pub mod peers;
pub mod raw_gossip;
pub mod router;
pub mod secret;
mod tasks;
pub mod tor;
pub mod types;
pub mod wallet;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use lightning::util::persist::{
    NETWORK_GRAPH_PERSISTENCE_KEY, NETWORK_GRAPH_PERSISTENCE_PRIMARY_NAMESPACE,
    NETWORK_GRAPH_PERSISTENCE_SECONDARY_NAMESPACE,
};
use lightning::util::ser::Writeable;
use serde::Serialize;
use switchyard_graph::NodeId;
use switchyard_store::Store;
use tokio::sync::watch;

pub use builder::BuildError;
pub use chain::ChainSource;
pub use config::{
    BitcoindConfig, GossipLimits, MonitorCommit, NodeConfig, PeerSpec, RpcAuth, TorConfig,
};
pub use error::NodeError;
pub use fees_ctl::FeesConfig;
pub use gossip::RecordingGossip;
pub use handle::NodeHandle;
pub use logger::LdkLogger;
pub use metrics::NodeMetrics;
pub use types::{Graph, PeerManager};

/// File name of the node seed in the data directory.
pub const SEED_FILE: &str = "node_seed";

/// What `GET /v1/node` shows.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// Our node id (hex).
    pub node_id: String,
    /// The Bitcoin network (`bitcoin`, `testnet`, `signet`, `regtest`, ...).
    pub network: String,
    /// The address the Lightning listener is bound to; `None` when not listening.
    pub listening: Option<String>,
    /// Addresses in our node_announcement (an onion address included when we offer one).
    pub announced_addresses: Vec<String>,
    /// Peers with a completed handshake.
    pub peers_connected: usize,
    /// Peers the supervisor keeps connected.
    pub peers_configured: usize,
    /// LDK's graph (what gossip has accepted so far).
    pub gossip_channels: usize,
    /// Nodes in LDK's graph.
    pub gossip_nodes: usize,
    /// Accepted messages not yet committed to the store.
    pub store_queue: usize,
    /// bitcoind's tip; `None` without bitcoind.
    pub chain: Option<ChainStatus>,
    /// `no_peers`, `syncing` (gossip arrived in the last 10 s or is waiting for the store),
    /// or `synced`.
    pub sync_state: &'static str,
}

/// bitcoind's tip as the node last saw it.
#[derive(Debug, Clone, Serialize)]
pub struct ChainStatus {
    /// Block height of the tip.
    pub height: i64,
    /// Header time of the tip (unix seconds).
    pub tip_time: i64,
}

/// One peer in `GET /v1/peers`.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    /// The peer's node id (hex).
    pub node_id: String,
    /// The stored address, or the remote address of a connected peer not in the store;
    /// `None` when unknown.
    pub address: Option<String>,
    /// Whether it is connected now.
    pub connected: bool,
    /// Whether the connection is inbound; `None` when not connected.
    pub inbound: Option<bool>,
    /// `config`, `api`, `dns`, or `inbound` for peers that dialled us.
    pub source: String,
    /// Last successful connection (unix seconds); `None` if never.
    pub last_connected_at: Option<i64>,
    /// The last connection error; cleared by a successful connection.
    pub last_error: Option<String>,
}

/// A running node. Dropping it does not stop it: call [`Node::stop`].
pub struct Node {
    config: NodeConfig,
    node_id: PublicKey,
    graph: Arc<Graph>,
    gossip: Arc<RecordingGossip>,
    pm: Arc<PeerManager>,
    chain: Option<Arc<ChainSource>>,
    ln: Arc<ln::Lightning>,
    kv: kv::PgKvStore,
    store: Store,
    metrics: Arc<NodeMetrics>,
    fees: fees_ctl::FeeController,
    supervisor: Arc<peers::PeerSupervisor>,
    listening: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stopped: AtomicBool,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn network_name(n: Network) -> &'static str {
    match n {
        Network::Bitcoin => "mainnet",
        Network::Testnet => "testnet",
        Network::Testnet4 => "testnet4",
        Network::Signet => "signet",
        Network::Regtest => "regtest",
    }
}

impl Node {
    /// Starts the node: identity, graph from the store, bitcoind, listener, peers, background
    /// tasks (see [`builder`] for the steps). Must run inside a multi-threaded tokio runtime.
    pub async fn start(
        config: NodeConfig,
        store: Store,
        metrics: Arc<NodeMetrics>,
    ) -> Result<Arc<Node>, BuildError> {
        builder::build(config, store, metrics).await
    }

    /// The API's handle to this node ([`NodeHandle`]).
    pub fn handle(self: &Arc<Self>) -> NodeHandle {
        NodeHandle::new(self.clone())
    }

    fn push_task(&self, t: tokio::task::JoinHandle<()>) {
        if let Ok(mut v) = self.tasks.lock() {
            v.push(t);
        }
    }

    /// Our node id.
    pub fn node_id(&self) -> PublicKey {
        self.node_id
    }

    /// The network the node runs on.
    pub fn network(&self) -> Network {
        self.config.network
    }

    /// Where peers can reach us (the bound address, with the real port when 0 was asked).
    pub fn listening(&self) -> Option<SocketAddr> {
        self.listening
    }

    /// The routing message handler the peer manager feeds (for benchmarks and tests that
    /// inject messages directly).
    pub fn gossip_handler(&self) -> &Arc<RecordingGossip> {
        &self.gossip
    }

    /// LDK's gossip graph.
    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }

    /// LDK's peer manager.
    pub fn peer_manager(&self) -> &Arc<PeerManager> {
        &self.pm
    }

    /// bitcoind, when configured.
    pub fn chain(&self) -> Option<&Arc<ChainSource>> {
        self.chain.as_ref()
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Arc<NodeMetrics> {
        &self.metrics
    }

    /// Channels, payments, the wallet: the whole channel layer, for tests and benchmarks.
    /// The API uses the narrower [`Node::handle`].
    pub fn lightning(&self) -> &Arc<ln::Lightning> {
        &self.ln
    }

    /// Waits until every gossip message accepted so far is committed to the store.
    pub async fn flush_gossip(&self) {
        self.gossip.flush().await
    }

    /// Identity, addresses, peers, gossip and chain state (what `GET /v1/node` shows).
    pub fn status(&self) -> NodeStatus {
        let ro = self.graph.read_only();
        let peers_connected = self.pm.list_peers().len();
        let store_queue = self.gossip.store_queue_len();
        let recent = self
            .gossip
            .seconds_since_last_message()
            .is_some_and(|s| s < 10);
        let sync_state = if peers_connected == 0 {
            "no_peers"
        } else if recent || store_queue > 0 {
            "syncing"
        } else {
            "synced"
        };
        let mut announced: Vec<String> = self
            .config
            .announce_addresses
            .iter()
            .map(|a| a.to_string())
            .collect();
        if let Some(o) = &self.config.tor.onion_address {
            announced.push(o.to_string());
        }
        NodeStatus {
            node_id: self.node_id.to_string(),
            network: network_name(self.config.network).to_string(),
            listening: self.listening.map(|a| a.to_string()),
            announced_addresses: announced,
            peers_connected,
            peers_configured: self.supervisor.wanted(),
            gossip_channels: ro.channels().len(),
            gossip_nodes: ro.nodes().len(),
            store_queue,
            chain: self.chain.as_ref().map(|_| ChainStatus {
                height: self.metrics.chain_tip_height.get(),
                tip_time: self.metrics.chain_tip_timestamp.get(),
            }),
            sync_state,
        }
    }

    /// Connected peers and the ones we keep trying, with the last outcome of each.
    pub async fn peers(&self) -> Result<Vec<PeerStatus>, NodeError> {
        let connected = self.pm.list_peers();
        let mut out: Vec<PeerStatus> = Vec::new();
        for row in switchyard_store::queries::peers::list(self.store.pool()).await? {
            let hex = row.node_id.to_hex();
            let live = connected
                .iter()
                .find(|p| p.counterparty_node_id.serialize() == *row.node_id.as_bytes());
            out.push(PeerStatus {
                node_id: hex,
                address: Some(row.address),
                connected: live.is_some(),
                inbound: live.map(|p| p.is_inbound_connection),
                source: row.source,
                last_connected_at: row.last_connected_at,
                last_error: row.last_error,
            });
        }
        for p in &connected {
            let hex = p.counterparty_node_id.to_string();
            if !out.iter().any(|o| o.node_id == hex) {
                out.push(PeerStatus {
                    node_id: hex,
                    address: p.socket_address.as_ref().map(|a| a.to_string()),
                    connected: true,
                    inbound: Some(p.is_inbound_connection),
                    source: "inbound".to_string(),
                    last_connected_at: None,
                    last_error: None,
                });
            }
        }
        Ok(out)
    }

    /// Connects now (the error says why not) and keeps the peer connected from then on; the
    /// peer is remembered in the store either way so it is retried after restarts.
    pub async fn add_peer(&self, spec: PeerSpec, source: &str) -> Result<(), NodeError> {
        if spec.node_id == self.node_id {
            return Err(NodeError::InvalidPeer("that is our own node id".into()));
        }
        let id = NodeId::from_bytes_unchecked(spec.node_id.serialize());
        switchyard_store::queries::peers::upsert(
            self.store.pool(),
            &id,
            &spec.address.to_string(),
            source,
        )
        .await?;
        let mut shutdown = self.shutdown.subscribe();
        let watched = tokio::time::timeout(
            peers::CONNECT_TIMEOUT,
            self.ln.wait_channels_watched(&mut shutdown),
        )
        .await;
        let result = if watched != Ok(true) {
            Err(ln::catching_up(
                "the peer is saved and will be connected then",
            ))
        } else if self.pm.peer_by_node_id(&spec.node_id).is_some() {
            Ok(())
        } else {
            peers::connect_once(&self.pm, &spec, &self.config.tor)
                .await
                .map(|_done| ())
        };
        if result.is_ok() {
            switchyard_store::queries::peers::mark_connected(self.store.pool(), &id).await?;
        }
        self.supervisor.keep_connected(spec);
        result
    }

    /// Writes LDK's graph to the store. Everything the serialized graph contains is committed
    /// to the history tables first, so after a crash the store is never behind LDK's graph.
    pub async fn persist_graph(&self) -> Result<(), NodeError> {
        let bytes = self.graph.encode();
        self.gossip.flush().await;
        self.kv
            .write_async(
                NETWORK_GRAPH_PERSISTENCE_PRIMARY_NAMESPACE,
                NETWORK_GRAPH_PERSISTENCE_SECONDARY_NAMESPACE,
                NETWORK_GRAPH_PERSISTENCE_KEY,
                &bytes,
            )
            .await
            .map_err(|e| NodeError::Config(format!("writing the network graph: {e}")))?;
        tracing::debug!(bytes = bytes.len(), "network graph persisted");
        Ok(())
    }

    /// Disconnects peers, flushes gossip to the store, persists LDK's graph, stops tasks.
    pub async fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.shutdown.send(true);
        self.metrics.running.set(0);
        self.supervisor.stop();
        self.pm.disconnect_all_peers();
        if let Err(e) = self.ln.persist(true).await {
            tracing::error!(error = %e, "persisting the channel manager and books at shutdown");
        }
        // The group commit writes what LDK queued since, then stops.
        self.kv.group_commit().close();
        self.ln.persist_learned().await;
        if let Err(e) = self.persist_graph().await {
            tracing::warn!(error = %e, "persisting the network graph at shutdown");
        }
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        for t in tasks {
            t.abort();
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = writer {
            w.abort();
        }
        tracing::info!("node stopped");
    }
}
