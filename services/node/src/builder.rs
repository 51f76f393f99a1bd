//! The node's assembly, in one linear builder (as ldk-node's `builder.rs`): each step makes one
//! part from the parts before it, in dependency order, restoring what the store holds; each
//! step that can fail has its own [`BuildError`] variant. [`crate::Node::start`] calls
//! [`build`]; nothing else constructs a node.
//!
//! Order matters in three places: the channel monitors are read before the channel manager
//! (the manager is read against them); the chain feed starts before the listener, the event
//! loop and the peers, which all wait until the restored monitors are watched (see
//! `ln::chain_feed`); and the peer manager is made after the channel manager it hands channel
//! messages to.
//!
//! A new long-running part (a fee controller, say) is one more step here, spawned with the
//! other background tasks so that [`crate::Node::stop`] ends it.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use lightning::chain::BestBlock;
use lightning::ln::channelmanager::{ChainParameters, ChannelManagerReadArgs};
use lightning::ln::peer_handler::{IgnoringMessageHandler, MessageHandler};
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::routing::gossip::{NetworkGraph, P2PGossipSync};
use lightning::sign::{EntropySource, KeysManager, NodeSigner, Recipient};
use lightning::util::config::UserConfig;
use lightning::util::persist::{
    CHANNEL_MANAGER_PERSISTENCE_KEY, CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
    CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE, NETWORK_GRAPH_PERSISTENCE_KEY,
    NETWORK_GRAPH_PERSISTENCE_PRIMARY_NAMESPACE, NETWORK_GRAPH_PERSISTENCE_SECONDARY_NAMESPACE,
    OUTPUT_SWEEPER_PERSISTENCE_KEY, OUTPUT_SWEEPER_PERSISTENCE_PRIMARY_NAMESPACE,
    OUTPUT_SWEEPER_PERSISTENCE_SECONDARY_NAMESPACE, SCORER_PERSISTENCE_KEY,
    SCORER_PERSISTENCE_PRIMARY_NAMESPACE, SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
};
use lightning::util::ser::ReadableArgs;
use lightning_block_sync::rpc::RpcClient;
use switchyard_graph::NodeId;
use switchyard_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::NodeError;
use crate::kv::PgKvStore;
use crate::learn::LearnedLiquidity;
use crate::ln::{self, Broadcaster, FeeEstimates, Lightning, StoredMonitor};
use crate::peers::PeerSupervisor;
use crate::router::{RouterConfig, SwitchyardRouter};
use crate::tasks::{self, Announcement};
use crate::types::{
    ChainMonitor, ChannelManager, Graph, MessageRouter, MonitorPersister, PeerManager, Sweeper,
};
use crate::wallet::OnchainWallet;
use crate::{bootstrap, tor};
use crate::{
    network_name, now, secret, ChainSource, LdkLogger, Node, NodeConfig, NodeMetrics, PeerSpec,
    RecordingGossip, SEED_FILE,
};

/// Why the node did not start: one variant per step of [`build`] that can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The seed file could not be read or created.
    #[error("the node seed: {0}")]
    Seed(#[source] NodeError),
    /// LDK's keys do not yield a node id (a corrupt seed).
    #[error("cannot derive the node id from the seed")]
    NodeId,
    /// bitcoind could not be reached, or serves another network.
    #[error("bitcoind: {0}")]
    Bitcoind(#[source] NodeError),
    /// bitcoind's best block could not be read.
    #[error("bitcoind's tip: {0}")]
    ChainTip(#[source] NodeError),
    /// The liquidity estimates could not be read from the store.
    #[error("reading the liquidity estimates: {0}")]
    ReadScorer(#[source] std::io::Error),
    /// The channel monitors could not be read from the store (or do not decode).
    #[error("reading channel monitors: {0}")]
    ReadMonitors(#[source] std::io::Error),
    /// The channel manager could not be read from the store.
    #[error("reading the channel manager: {0}")]
    ReadManager(#[source] std::io::Error),
    /// The stored channel manager does not decode (against the stored monitors).
    #[error("stored channel manager unreadable: {0}")]
    ManagerUnreadable(String),
    /// Monitors without a manager: starting a fresh manager would lose those channels' funds.
    #[error("{monitors} channel monitors are stored but the channel manager is missing; refusing to start (funds would be at risk)")]
    MonitorsWithoutManager {
        /// How many monitors the store holds.
        monitors: usize,
    },
    /// The on-chain wallet could not be loaded or created.
    #[error("the on-chain wallet: {0}")]
    Wallet(#[source] NodeError),
    /// The output sweeper could not be read from the store.
    #[error("reading the sweeper: {0}")]
    ReadSweeper(#[source] std::io::Error),
    /// The stored output sweeper does not decode.
    #[error("stored sweeper unreadable: {0}")]
    SweeperUnreadable(String),
    /// The Lightning listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The configured address.
        addr: SocketAddr,
        #[source]
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The onion service could not be created through tor's control port (`--tor-control`).
    #[error("the onion service: {0}")]
    Tor(#[source] NodeError),
    /// The configured or remembered peers could not be read or recorded.
    #[error("the peer list: {0}")]
    Peers(#[source] switchyard_store::Error),
}

/// Assembles and starts the node from `config`, restoring its state from `store`. Must run
/// inside a multi-threaded tokio runtime.
pub(crate) async fn build(
    mut config: NodeConfig,
    store: Store,
    metrics: Arc<NodeMetrics>,
) -> Result<Arc<Node>, BuildError> {
    let logger = Arc::new(LdkLogger);

    // Identity: the seed in the data directory, LDK's keys, our node id.
    let (seed, keys, node_id) = identity(&config)?;

    // LDK's network graph, restored from the store (empty when there is none).
    let kv = PgKvStore::with_mode(store.clone(), config.monitor_commit);
    let graph = Arc::new(load_graph(&kv, config.network, logger.clone()).await);

    // bitcoind: funding checks for gossip, the tip, spends of channels.
    let chain = connect_bitcoind(&config, &metrics).await?;

    // Gossip: LDK's sync behind our recorder, whose writer task fills the store.
    let (gossip, writer) = record_gossip(&config, &store, &graph, &chain, &metrics, &logger);

    // The channel layer: monitors, channel manager, wallet, sweeper, restored from the store.
    let ln = Arc::new(
        build_lightning(LightningInputs {
            seed,
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
        .await?,
    );
    // The group commit's writer (channel monitors, the channel manager and the books); LDK
    // writes nothing before the chain feed hands it the restored monitors.
    let attachment: std::sync::Weak<dyn ln::commit::Attachment> = Arc::downgrade(&ln) as _;
    kv.group_commit().attach(attachment);
    let commit_task = tokio::spawn(kv.group_commit().clone().run(store.clone()));

    // The peer manager: channel messages to the channel manager, gossip to the recorder.
    let pm = peer_manager(&keys, &ln, &gossip, logger);

    // Background tasks: the chain feed first (the others wait until it has caught the
    // restored channels up), the listener, the onion service, the event loop, the chain
    // watcher.
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (mut background, listening) = spawn_background(
        &mut config,
        &store,
        &pm,
        &ln,
        &chain,
        &metrics,
        &shutdown_rx,
    )
    .await?;
    background.push(commit_task);

    // The node, with the supervisor that keeps peers connected.
    let supervisor = PeerSupervisor::new(
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
        store,
        metrics,
        fees: crate::fees_ctl::FeeController::new(config.fees.clone()),
        supervisor,
        listening,
        shutdown,
        tasks: Mutex::new(background),
        writer: Mutex::new(Some(writer)),
        stopped: AtomicBool::new(false),
        config,
    });

    // Peers: configured ones first, then everyone the store remembers; DNS seeds (BOLT 10)
    // when there is no one (and not Tor-only).
    let known = remember_peers(&node).await?;
    if bootstrap::wanted(&node, known) {
        node.push_task(tokio::spawn(bootstrap::from_dns(node.clone())));
    }

    // The fee controller's schedule (module `fees_ctl`).
    node.push_task(tokio::spawn(crate::fees_ctl::control_loop(
        node.clone(),
        shutdown_rx.clone(),
    )));

    // LDK's graph to the store, periodically (and at stop).
    node.push_task(tokio::spawn(tasks::persist_graph_periodically(
        node.clone(),
        node.config.graph_persist_interval,
        shutdown_rx,
    )));

    node.metrics.running.set(1);
    tracing::info!(node_id = %node.node_id, network = network_name(node.config.network), "node started");
    Ok(node)
}

/// The seed (created on first start), LDK's keys from it, and the node id.
fn identity(config: &NodeConfig) -> Result<([u8; 32], Arc<KeysManager>, PublicKey), BuildError> {
    let seed_path = config.data_dir.join(SEED_FILE);
    let (seed, created) = secret::load_or_create(&seed_path, 32).map_err(BuildError::Seed)?;
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
        .map_err(|_| BuildError::NodeId)?;
    Ok((seed32, keys, node_id))
}

/// bitcoind, when configured (checked to serve the configured network).
async fn connect_bitcoind(
    config: &NodeConfig,
    metrics: &Arc<NodeMetrics>,
) -> Result<Option<Arc<ChainSource>>, BuildError> {
    match &config.bitcoind {
        Some(b) => ChainSource::connect(b, config.network, metrics.clone())
            .await
            .map(Some)
            .map_err(BuildError::Bitcoind),
        None => {
            tracing::warn!(
                "no bitcoind configured: channel announcements are accepted WITHOUT checking their funding outputs"
            );
            Ok(None)
        }
    }
}

/// LDK's gossip sync (checking fundings against `chain`) behind our recorder; returns the
/// recorder and its store writer task.
fn record_gossip(
    config: &NodeConfig,
    store: &Store,
    graph: &Arc<Graph>,
    chain: &Option<Arc<ChainSource>>,
    metrics: &Arc<NodeMetrics>,
    logger: &Arc<LdkLogger>,
) -> (Arc<RecordingGossip>, JoinHandle<()>) {
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
    if let Some(c) = chain {
        c.attach(&gossip, graph.clone());
    }
    (gossip, writer)
}

/// LDK's graph as last persisted; an unreadable or foreign one is logged and replaced by an
/// empty graph (gossip refills it).
async fn load_graph(kv: &PgKvStore, network: Network, logger: Arc<LdkLogger>) -> Graph {
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

/// What the channel layer is built from.
struct LightningInputs {
    seed: [u8; 32],
    keys: Arc<KeysManager>,
    graph: Arc<Graph>,
    logger: Arc<LdkLogger>,
    kv: PgKvStore,
    store: Store,
    rpc: Option<Arc<RpcClient>>,
    network: Network,
    policy: ln::ForwardingPolicy,
    metrics: Arc<NodeMetrics>,
}

/// What most steps of the channel layer's assembly share.
struct Core {
    keys: Arc<KeysManager>,
    logger: Arc<LdkLogger>,
    kv: Arc<PgKvStore>,
    fees: Arc<FeeEstimates>,
    broadcaster: Arc<Broadcaster>,
    network: Network,
    /// bitcoind's best block at start (`None` without bitcoind).
    tip: Option<BestBlock>,
}

/// The channel layer. The chain feed that catches it up starts separately
/// ([`Lightning::run_chain_feed`]).
async fn build_lightning(p: LightningInputs) -> Result<Lightning, BuildError> {
    // Fee estimates and the broadcaster: LDK's view of bitcoind.
    let fees = Arc::new(FeeEstimates::new());
    if let Some(rpc) = &p.rpc {
        fees.refresh(rpc).await;
    }
    let broadcaster = Arc::new(Broadcaster::new(
        p.rpc.clone(),
        tokio::runtime::Handle::current(),
    ));
    let tip = match &p.rpc {
        Some(rpc) => Some(ln::chain_tip(rpc).await.map_err(BuildError::ChainTip)?),
        None => None,
    };
    let core = Core {
        keys: p.keys.clone(),
        logger: p.logger.clone(),
        kv: Arc::new(p.kv.clone()),
        fees,
        broadcaster,
        network: p.network,
        tip,
    };

    // The chain monitor, over the monitor persister.
    let (reader, chain_monitor) = chain_monitor(&core);

    // What our payments taught us, and our router, which reads it.
    let learned = learned_liquidity(&core, &p.graph, &p.metrics).await?;
    let router = Arc::new(
        SwitchyardRouter::new(
            p.graph.clone(),
            // Fresh enough that a fee change we just heard of is priced in by our next
            // payment; a rebuild of the mainnet graph costs well under a second.
            RouterConfig {
                min_rebuild_interval: Duration::from_secs(5),
                ..Default::default()
            },
        )
        .with_liquidity_limits(learned.clone()),
    );
    let message_router = Arc::new(DefaultMessageRouter::new(
        p.graph.clone(),
        core.keys.clone(),
    ));

    // The channel monitors, then the channel manager, read against them.
    let mut monitors = reader
        .read_all_channel_monitors_with_updates()
        .await
        .map_err(|e| BuildError::ReadMonitors(std::io::Error::other(e.to_string())))?;
    let (manager_best, manager) = restore_manager(
        &core,
        chain_monitor.clone(),
        router,
        message_router,
        ln::user_config(&p.policy),
        &mut monitors,
    )
    .await?;

    // The on-chain wallet (with bitcoind only) and the sweeper that pays closed channels'
    // outputs into it.
    let wallet = match &p.rpc {
        Some(_) => Some(Arc::new(load_wallet(&p, tip).await?)),
        None => None,
    };
    let sweeper = match (&wallet, tip) {
        (Some(w), Some(tip)) => Some(Arc::new(load_sweeper(&core, tip, w.clone()).await?)),
        _ => None,
    };

    Ok(Lightning::new(ln::Parts {
        manager: Arc::new(manager),
        manager_best,
        chain_monitor,
        monitors,
        wallet,
        sweeper,
        broadcaster: core.broadcaster,
        fees: core.fees,
        keys: p.keys,
        rpc: p.rpc,
        network: p.network,
        policy: p.policy,
        store: p.store,
        learned,
        metrics: p.metrics,
        commits: core.kv.group_commit().clone(),
    }))
}

/// The chain monitor over the asynchronous monitor persister (see `ln::persist`), and a
/// persister of its own to read the stored monitors with.
fn chain_monitor(core: &Core) -> (MonitorPersister, Arc<ChainMonitor>) {
    let persister = || {
        ln::monitor_persister(
            core.kv.clone(),
            ln::TokioSpawner(tokio::runtime::Handle::current()),
            core.logger.clone(),
            core.keys.clone(),
            core.broadcaster.clone(),
            core.fees.clone(),
        )
    };
    let chain_monitor = Arc::new(ChainMonitor::new_async_beta(
        None,
        core.broadcaster.clone(),
        core.logger.clone(),
        core.fees.clone(),
        persister(),
        core.keys.clone(),
        NodeSigner::get_peer_storage_key(&*core.keys),
    ));
    (persister(), chain_monitor)
}

/// The value stored under `[primary, secondary, key]`, if any; `error` says which step
/// failed.
async fn read(
    kv: &PgKvStore,
    [primary, secondary, key]: [&str; 3],
    error: fn(std::io::Error) -> BuildError,
) -> Result<Option<Vec<u8>>, BuildError> {
    kv.read_async(primary, secondary, key).await.map_err(error)
}

/// The liquidity estimates our payments taught us, as last written (empty without).
async fn learned_liquidity(
    core: &Core,
    graph: &Arc<Graph>,
    metrics: &NodeMetrics,
) -> Result<Arc<LearnedLiquidity>, BuildError> {
    let stored = read(
        &core.kv,
        [
            SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
            SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
            SCORER_PERSISTENCE_KEY,
        ],
        BuildError::ReadScorer,
    )
    .await?;
    let learned = Arc::new(LearnedLiquidity::load(
        graph.clone(),
        core.logger.clone(),
        stored.as_deref(),
    ));
    metrics.learned_channels.set(learned.channel_count() as i64);
    Ok(learned)
}

/// The stored channel manager, read against `monitors`; a new one when none is stored (and
/// no monitor is either). Returns it with the block it had seen.
async fn restore_manager(
    core: &Core,
    chain_monitor: Arc<ChainMonitor>,
    router: Arc<SwitchyardRouter>,
    message_router: Arc<MessageRouter>,
    config: UserConfig,
    monitors: &mut [StoredMonitor],
) -> Result<(bitcoin::BlockHash, ChannelManager), BuildError> {
    let stored = read(
        &core.kv,
        [
            CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_KEY,
        ],
        BuildError::ReadManager,
    )
    .await?;
    let Some(bytes) = stored else {
        if !monitors.is_empty() {
            return Err(BuildError::MonitorsWithoutManager {
                monitors: monitors.len(),
            });
        }
        let best = core
            .tip
            .unwrap_or_else(|| BestBlock::from_network(core.network));
        let manager = ChannelManager::new(
            core.fees.clone(),
            chain_monitor,
            core.broadcaster.clone(),
            router,
            message_router,
            core.logger.clone(),
            core.keys.clone(),
            core.keys.clone(),
            core.keys.clone(),
            config,
            ChainParameters {
                network: core.network,
                best_block: best,
            },
            now().as_secs() as u32,
        );
        return Ok((best.block_hash, manager));
    };
    let args = ChannelManagerReadArgs::new(
        core.keys.clone(),
        core.keys.clone(),
        core.keys.clone(),
        core.fees.clone(),
        chain_monitor,
        core.broadcaster.clone(),
        router,
        message_router,
        core.logger.clone(),
        config,
        monitors.iter_mut().map(|(_, m)| &*m).collect(),
    );
    let (best, manager) = <(bitcoin::BlockHash, ChannelManager)>::read(&mut &bytes[..], args)
        .map_err(|e| BuildError::ManagerUnreadable(format!("{e:?}")))?;
    tracing::info!(
        channels = manager.list_channels().len(),
        monitors = monitors.len(),
        "channel manager restored"
    );
    Ok((best, manager))
}

/// The BDK wallet (keys from the node seed, change sets in the store).
async fn load_wallet(
    p: &LightningInputs,
    tip: Option<BestBlock>,
) -> Result<OnchainWallet, BuildError> {
    let (kv, seed, network) = (p.kv.clone(), p.seed, p.network);
    tokio::task::spawn_blocking(move || OnchainWallet::load_or_create(&seed, network, kv, tip))
        .await
        .map_err(|e| BuildError::Wallet(NodeError::Wallet(e.to_string())))?
        .map_err(BuildError::Wallet)
}

/// The stored output sweeper, or a new one starting at `tip`.
async fn load_sweeper(
    core: &Core,
    tip: BestBlock,
    wallet: Arc<OnchainWallet>,
) -> Result<Sweeper, BuildError> {
    let stored = read(
        &core.kv,
        [
            OUTPUT_SWEEPER_PERSISTENCE_PRIMARY_NAMESPACE,
            OUTPUT_SWEEPER_PERSISTENCE_SECONDARY_NAMESPACE,
            OUTPUT_SWEEPER_PERSISTENCE_KEY,
        ],
        BuildError::ReadSweeper,
    )
    .await?;
    let (broadcaster, fees, keys) = (
        core.broadcaster.clone(),
        core.fees.clone(),
        core.keys.clone(),
    );
    let (kv, logger) = (core.kv.clone(), core.logger.clone());
    match stored {
        Some(bytes) => {
            let (_, sweeper) = <(BestBlock, Sweeper)>::read(
                &mut &bytes[..],
                (broadcaster, fees, None, keys, wallet, kv, logger),
            )
            .map_err(|e| BuildError::SweeperUnreadable(format!("{e:?}")))?;
            Ok(sweeper)
        }
        None => Ok(Sweeper::new(
            tip,
            broadcaster,
            fees,
            None,
            keys,
            wallet,
            kv,
            logger,
        )),
    }
}

/// LDK's peer manager over our handlers.
fn peer_manager(
    keys: &Arc<KeysManager>,
    ln: &Arc<Lightning>,
    gossip: &Arc<RecordingGossip>,
    logger: Arc<LdkLogger>,
) -> Arc<PeerManager> {
    let ephemeral = keys.get_secure_random_bytes();
    Arc::new(PeerManager::new(
        MessageHandler {
            chan_handler: ln.manager().clone(),
            route_handler: gossip.clone(),
            onion_message_handler: Arc::new(IgnoringMessageHandler {}),
            custom_message_handler: Arc::new(IgnoringMessageHandler {}),
            send_only_message_handler: Arc::new(IgnoringMessageHandler {}),
        },
        now().as_secs() as u32,
        &ephemeral,
        logger,
        keys.clone(),
    ))
}

/// Starts the chain feed, the listener (when configured), the onion service (with
/// `--tor-control`; its address goes into `config.tor.onion_address`), the event loop and the
/// chain watcher; returns their tasks and the bound listening address.
async fn spawn_background(
    config: &mut NodeConfig,
    store: &Store,
    pm: &Arc<PeerManager>,
    ln: &Arc<Lightning>,
    chain: &Option<Arc<ChainSource>>,
    metrics: &Arc<NodeMetrics>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(Vec<JoinHandle<()>>, Option<SocketAddr>), BuildError> {
    let mut background = vec![tokio::spawn(
        ln.clone()
            .run_chain_feed(config.chain_poll_interval, shutdown.clone()),
    )];
    let listening = match config.listen {
        Some(addr) => {
            let (local, task) = listen(addr, pm, ln, shutdown).await?;
            background.push(task);
            Some(local)
        }
        None => None,
    };
    if let Some(control) = &config.tor.control {
        let onion =
            tor::OnionService::start(control, &config.data_dir, listening, shutdown.clone())
                .await
                .map_err(BuildError::Tor)?;
        config.tor.onion_address = Some(onion.address);
        background.push(onion.task);
    }
    let mut addresses = config.announce_addresses.clone();
    addresses.extend(config.tor.onion_address.clone());
    background.push(tokio::spawn(tasks::event_loop(
        pm.clone(),
        ln.clone(),
        chain.as_ref().map(|c| c.events.clone()),
        metrics.clone(),
        Announcement::new(&config.alias, addresses),
        shutdown.clone(),
    )));
    if let Some(c) = chain {
        background.push(tokio::spawn(c.clone().watch(
            store.clone(),
            config.chain_poll_interval,
            shutdown.clone(),
        )));
    }
    Ok((background, listening))
}

/// Binds the Lightning listener and starts accepting (once the restored channels are
/// watched). Returns the bound address (the real port when 0 was asked).
async fn listen(
    addr: SocketAddr,
    pm: &Arc<PeerManager>,
    ln: &Arc<Lightning>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>), BuildError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| BuildError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| BuildError::Listen { addr, source })?;
    let task = tokio::spawn(tasks::accept_loop(
        listener,
        pm.clone(),
        ln.clone(),
        shutdown.clone(),
    ));
    tracing::info!(%local, "accepting Lightning peers");
    Ok((local, task))
}

/// Records the configured peers in the store, then keeps every stored peer connected.
/// Returns how many peers the store knows.
async fn remember_peers(node: &Arc<Node>) -> Result<usize, BuildError> {
    let pool = node.store.pool();
    for p in &node.config.peers {
        switchyard_store::queries::peers::upsert(
            pool,
            &NodeId::from_bytes_unchecked(p.node_id.serialize()),
            &p.address.to_string(),
            "config",
        )
        .await
        .map_err(BuildError::Peers)?;
    }
    let stored = switchyard_store::queries::peers::list(pool)
        .await
        .map_err(BuildError::Peers)?;
    for row in &stored {
        let spec = format!("{}@{}", row.node_id.to_hex(), row.address);
        match spec.parse::<PeerSpec>() {
            Ok(s) => node.supervisor.keep_connected(s),
            Err(e) => tracing::warn!(error = %e, "skipping unusable stored peer"),
        }
    }
    Ok(stored.len())
}
