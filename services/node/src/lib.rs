//! # switchyard-node: the Lightning node
//!
//! Identity (a seed file in the data directory), LDK's `PeerManager` over TCP
//! (`lightning-net-tokio`, Noise_XK per BOLT 8) and through a SOCKS5 proxy for Tor, gossip
//! sync (`P2PGossipSync` with `gossip_queries`) whose channel announcements are checked
//! against bitcoind's UTXO set, every accepted gossip message recorded in the store's history
//! tables in batches off the message path, and LDK's state in the store's key-value table.
//!
//! Routes for its own payments come from `switchyard-graph`'s engine (`router`). It must not
//! compute analytics and must not serve HTTP: the API crate reads what
//! this crate exposes ([`Node::status`], [`Node::peers`]) and what it writes to the store.
//!
//! ```text
//!  peers ──TCP/SOCKS5──► PeerManager ──► RecordingGossip ──► P2PGossipSync ──► NetworkGraph
//!                                            │   ▲                  │ (async UTXO check)
//!                                            │   └── Broadcast* ◄───┘◄── ChainSource ◄── bitcoind
//!                                            ▼
//!                                  batch writer ──► Postgres (history tables, graph_version)
//! ```

pub mod chain;
pub mod config;
pub mod dns;
mod error;
pub mod gossip;
pub mod kv;
pub mod learn;
pub mod ln;
mod logger;
pub mod metrics;
pub mod peers;
pub mod raw_gossip;
pub mod router;
pub mod secret;
pub mod wallet;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use lightning::ln::msgs::SocketAddress;
use lightning::ln::peer_handler::{IgnoringMessageHandler, MessageHandler};
use lightning::routing::gossip::{NetworkGraph, P2PGossipSync};
use lightning::sign::{EntropySource, KeysManager, NodeSigner, Recipient};
use lightning::util::persist::{
    NETWORK_GRAPH_PERSISTENCE_KEY, NETWORK_GRAPH_PERSISTENCE_PRIMARY_NAMESPACE,
    NETWORK_GRAPH_PERSISTENCE_SECONDARY_NAMESPACE,
};
use lightning::util::ser::{ReadableArgs, Writeable};
use serde::Serialize;
use switchyard_graph::NodeId;
use switchyard_store::Store;
use tokio::sync::watch;

pub use chain::ChainSource;
pub use config::{BitcoindConfig, GossipLimits, NodeConfig, PeerSpec, RpcAuth, TorConfig};
pub use error::NodeError;
pub use gossip::RecordingGossip;
pub use logger::LdkLogger;
pub use metrics::NodeMetrics;

/// LDK's view of the channel graph, fed by gossip.
pub type Graph = NetworkGraph<Arc<LdkLogger>>;

/// The peer manager: channel messages go to LDK's channel manager, gossip to our recorder.
pub type PeerManager = lightning::ln::peer_handler::PeerManager<
    lightning_net_tokio::SocketDescriptor,
    Arc<ln::ChannelManager>,
    Arc<RecordingGossip>,
    Arc<IgnoringMessageHandler>,
    Arc<LdkLogger>,
    Arc<IgnoringMessageHandler>,
    Arc<KeysManager>,
    Arc<IgnoringMessageHandler>,
>;

/// File name of the node seed in the data directory.
pub const SEED_FILE: &str = "node_seed";

/// What `GET /v1/node` shows.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node_id: String,
    pub network: String,
    pub listening: Option<String>,
    pub announced_addresses: Vec<String>,
    pub peers_connected: usize,
    pub peers_configured: usize,
    /// LDK's graph (what gossip has accepted so far).
    pub gossip_channels: usize,
    pub gossip_nodes: usize,
    /// Accepted messages not yet committed to the store.
    pub store_queue: usize,
    pub chain: Option<ChainStatus>,
    /// `no_peers`, `syncing` (gossip arrived in the last 10 s or is waiting for the store),
    /// or `synced`.
    pub sync_state: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainStatus {
    pub height: i64,
    pub tip_time: i64,
}

/// One peer in `GET /v1/peers`.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    pub node_id: String,
    pub address: Option<String>,
    pub connected: bool,
    pub inbound: Option<bool>,
    /// `config`, `api`, `dns`, or `inbound` for peers that dialled us.
    pub source: String,
    pub last_connected_at: Option<i64>,
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
    /// tasks. Must run inside a multi-threaded tokio runtime.
    pub async fn start(
        config: NodeConfig,
        store: Store,
        metrics: Arc<NodeMetrics>,
    ) -> Result<Arc<Node>, NodeError> {
        let logger = Arc::new(LdkLogger);

        let seed_path = config.data_dir.join(SEED_FILE);
        let (seed, created) = secret::load_or_create(&seed_path, 32)?;
        if created {
            tracing::info!(file = %seed_path.display(), "created a new node seed; back it up");
        }
        let mut seed32 = [0u8; 32];
        seed32.copy_from_slice(&seed);
        let t = now();
        let keys = Arc::new(KeysManager::new(
            &seed32,
            t.as_secs(),
            t.subsec_nanos(),
            true,
        ));
        let node_id = keys
            .get_node_id(Recipient::Node)
            .map_err(|_| NodeError::Config("cannot derive the node id from the seed".into()))?;

        let kv = kv::PgKvStore::new(store.clone());
        let graph = Arc::new(load_graph(&kv, config.network, logger.clone()).await);

        let chain = match &config.bitcoind {
            Some(b) => Some(ChainSource::connect(b, config.network, metrics.clone()).await?),
            None => {
                tracing::warn!(
                    "no bitcoind configured: channel announcements are accepted WITHOUT checking their funding outputs"
                );
                None
            }
        };
        let sync = Arc::new(P2PGossipSync::new(
            graph.clone(),
            chain.clone(),
            logger.clone(),
        ));
        let (gossip, writer) = RecordingGossip::new(
            sync,
            chain.clone(),
            store.clone(),
            config.gossip.clone(),
            metrics.clone(),
        );
        if let Some(c) = &chain {
            c.attach(&gossip, graph.clone());
        }

        let ln = ln::Lightning::start(ln::LightningParts {
            seed: seed32,
            keys: keys.clone(),
            graph: graph.clone(),
            logger: logger.clone(),
            kv: kv.clone(),
            store: store.clone(),
            rpc: chain.as_ref().map(|c| c.rpc_client()),
            network: config.network,
            policy: config.policy,
            metrics: metrics.clone(),
        })
        .await?;

        let ephemeral = keys.get_secure_random_bytes();
        let pm: Arc<PeerManager> = Arc::new(PeerManager::new(
            MessageHandler {
                chan_handler: ln.manager().clone(),
                route_handler: gossip.clone(),
                onion_message_handler: Arc::new(IgnoringMessageHandler {}),
                custom_message_handler: Arc::new(IgnoringMessageHandler {}),
                send_only_message_handler: Arc::new(IgnoringMessageHandler {}),
            },
            t.as_secs() as u32,
            &ephemeral,
            logger.clone(),
            keys.clone(),
        ));

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(
            ln.clone()
                .run_chain_feed(config.chain_poll_interval, shutdown_rx.clone()),
        ));

        let listening = match config.listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| NodeError::Listen { addr, source })?;
                let local = listener
                    .local_addr()
                    .map_err(|source| NodeError::Listen { addr, source })?;
                tasks.push(tokio::spawn(accept_loop(
                    listener,
                    pm.clone(),
                    ln.clone(),
                    shutdown_rx.clone(),
                )));
                tracing::info!(%local, "accepting Lightning peers");
                Some(local)
            }
            None => None,
        };

        let mut addresses = config.announce_addresses.clone();
        addresses.extend(config.tor.onion_address.clone());
        tasks.push(tokio::spawn(event_loop(
            pm.clone(),
            ln.clone(),
            chain.as_ref().map(|c| c.events.clone()),
            metrics.clone(),
            Announcement {
                alias: alias_bytes(&config.alias),
                addresses,
            },
            shutdown_rx.clone(),
        )));
        if let Some(c) = &chain {
            tasks.push(tokio::spawn(c.clone().watch(
                store.clone(),
                config.chain_poll_interval,
                shutdown_rx.clone(),
            )));
        }

        let supervisor = peers::PeerSupervisor::new(
            pm.clone(),
            ln.clone(),
            store.clone(),
            config.tor.clone(),
            shutdown_rx.clone(),
        );
        let node = Arc::new(Node {
            node_id,
            graph,
            gossip,
            pm,
            chain,
            ln,
            kv,
            store: store.clone(),
            metrics,
            supervisor,
            listening,
            shutdown,
            tasks: Mutex::new(tasks),
            writer: Mutex::new(Some(writer)),
            stopped: AtomicBool::new(false),
            config,
        });

        // Configured peers first, then everyone the store remembers.
        for p in &node.config.peers {
            switchyard_store::queries::peers::upsert(
                store.pool(),
                &NodeId::from_bytes_unchecked(p.node_id.serialize()),
                &p.address.to_string(),
                "config",
            )
            .await?;
        }
        for row in switchyard_store::queries::peers::list(store.pool()).await? {
            let spec = format!("{}@{}", row.node_id.to_hex(), row.address);
            match spec.parse::<PeerSpec>() {
                Ok(s) => node.supervisor.keep_connected(s),
                Err(e) => tracing::warn!(error = %e, "skipping unusable stored peer"),
            }
        }
        let known = switchyard_store::queries::peers::list(store.pool())
            .await?
            .len();
        if known == 0 && !node.config.dns_seeds.is_empty() {
            node.push_task(tokio::spawn(bootstrap_from_dns(node.clone())));
        }
        let persister = node.clone();
        let mut rx = shutdown_rx;
        let interval = node.config.graph_persist_interval;
        node.push_task(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = rx.changed() => return,
                }
                if let Err(e) = persister.persist_graph().await {
                    tracing::warn!(error = %e, "persisting the network graph");
                }
            }
        }));
        node.metrics.running.set(1);
        tracing::info!(node_id = %node.node_id, network = network_name(node.config.network), "node started");
        Ok(node)
    }

    fn push_task(&self, t: tokio::task::JoinHandle<()>) {
        if let Ok(mut v) = self.tasks.lock() {
            v.push(t);
        }
    }

    pub fn node_id(&self) -> PublicKey {
        self.node_id
    }

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

    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }

    pub fn peer_manager(&self) -> &Arc<PeerManager> {
        &self.pm
    }

    pub fn chain(&self) -> Option<&Arc<ChainSource>> {
        self.chain.as_ref()
    }

    pub fn metrics(&self) -> &Arc<NodeMetrics> {
        &self.metrics
    }

    /// Channels, payments, the wallet.
    pub fn lightning(&self) -> &Arc<ln::Lightning> {
        &self.ln
    }

    /// Waits until every gossip message accepted so far is committed to the store.
    pub async fn flush_gossip(&self) {
        self.gossip.flush().await
    }

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

/// BOLT 10: with no peer known, ask the DNS seeds for some and keep a few connected.
async fn bootstrap_from_dns(node: Arc<Node>) {
    const WANT: usize = 8;
    match dns::bootstrap_peers(&node.config.dns_seeds, node.config.dns_server, WANT).await {
        Ok(found) => {
            tracing::info!(peers = found.len(), "DNS bootstrap");
            for spec in found {
                let id = NodeId::from_bytes_unchecked(spec.node_id.serialize());
                if let Err(e) = switchyard_store::queries::peers::upsert(
                    node.store.pool(),
                    &id,
                    &spec.address.to_string(),
                    "dns",
                )
                .await
                {
                    tracing::warn!(error = %e, "recording a bootstrap peer");
                }
                node.supervisor.keep_connected(spec);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "DNS bootstrap found no peers; add one with --connect or POST /v1/peers")
        }
    }
}

async fn load_graph(kv: &kv::PgKvStore, network: Network, logger: Arc<LdkLogger>) -> Graph {
    let fresh = || NetworkGraph::new(network, logger.clone());
    match kv
        .read_async(
            NETWORK_GRAPH_PERSISTENCE_PRIMARY_NAMESPACE,
            NETWORK_GRAPH_PERSISTENCE_SECONDARY_NAMESPACE,
            NETWORK_GRAPH_PERSISTENCE_KEY,
        )
        .await
    {
        Ok(Some(bytes)) => match NetworkGraph::read(&mut &bytes[..], logger.clone()) {
            Ok(g)
                if g.get_chain_hash()
                    == bitcoin::blockdata::constants::ChainHash::using_genesis_block(network) =>
            {
                let ro = g.read_only();
                tracing::info!(
                    channels = ro.channels().len(),
                    nodes = ro.nodes().len(),
                    "network graph restored"
                );
                drop(ro);
                g
            }
            Ok(_) => {
                tracing::warn!("stored network graph is for another network; starting empty");
                fresh()
            }
            Err(e) => {
                tracing::warn!(error = ?e, "stored network graph unreadable; starting empty");
                fresh()
            }
        },
        Ok(None) => fresh(),
        Err(e) => {
            tracing::warn!(error = %e, "reading the network graph; starting empty");
            fresh()
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    pm: Arc<PeerManager>,
    ln: Arc<ln::Lightning>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Until then, connections wait in the listen backlog.
    if !ln.wait_channels_watched(&mut shutdown).await {
        return;
    }
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, from)) => match stream.into_std() {
                    Ok(s) => {
                        tracing::debug!(%from, "inbound connection");
                        tokio::spawn(lightning_net_tokio::setup_inbound(pm.clone(), s));
                    }
                    Err(e) => tracing::warn!(error = %e, "inbound socket"),
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Drives LDK: message events, timer ticks, and the peer gauge.
/// What our `node_announcement` says besides the node id.
struct Announcement {
    alias: [u8; 32],
    addresses: Vec<SocketAddress>,
}

/// The alias as BOLT 7 carries it: 32 bytes, zero-padded, cut at a UTF-8 boundary.
fn alias_bytes(alias: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut end = alias.len().min(32);
    while !alias.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&alias.as_bytes()[..end]);
    out
}

/// How often the node announces itself again once it has a public channel (as LND and
/// ldk-node do): peers drop nodes whose announcement is older than two weeks.
const NODE_ANNOUNCEMENT_INTERVAL: Duration = Duration::from_secs(3600);

async fn event_loop(
    pm: Arc<PeerManager>,
    ln: Arc<ln::Lightning>,
    wake: Option<Arc<tokio::sync::Notify>>,
    metrics: Arc<NodeMetrics>,
    announcement: Announcement,
    mut shutdown: watch::Receiver<bool>,
) {
    if !ln.wait_channels_watched(&mut shutdown).await {
        return;
    }
    let mut last_announced: Option<std::time::Instant> = None;
    let wake = wake.unwrap_or_default();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut ldk_timer = tokio::time::interval(Duration::from_secs(60));
    // Short: pending HTLC forwards wait for this loop, so it bounds our hop's added latency.
    let mut events = tokio::time::interval(Duration::from_millis(10));
    events.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = events.tick() => {}
            _ = wake.notified() => {}
            _ = ln.manager().get_event_or_persistence_needed_future() => {}
            _ = tick.tick() => {
                pm.timer_tick_occurred();
                // LDK announces a node only once it has a public channel; checking every
                // tick makes the first announcement follow the first public channel closely.
                let due = last_announced
                    .is_none_or(|t| t.elapsed() >= NODE_ANNOUNCEMENT_INTERVAL);
                if due && ln.has_public_channel() {
                    pm.broadcast_node_announcement(
                        [0; 3],
                        announcement.alias,
                        announcement.addresses.clone(),
                    );
                    last_announced = Some(std::time::Instant::now());
                    tracing::info!(
                        addresses = announcement.addresses.len(),
                        "node announcement broadcast"
                    );
                }
            }
            _ = ldk_timer.tick() => {
                ln.timer_tick();
                ln.persist_learned().await;
            }
            _ = shutdown.changed() => return,
        }
        ln.process(&pm).await;
        pm.process_events();
        metrics.peers_connected.set(pm.list_peers().len() as i64);
    }
}
