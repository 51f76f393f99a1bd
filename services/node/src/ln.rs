//! Channels, HTLC forwarding and payments: LDK's `ChannelManager` and `ChainMonitor`, wired to
//! bitcoind (blocks in through `lightning-block-sync`, transactions out through
//! `sendrawtransaction`), to the BDK wallet (funding, change, sweeps), and to the books (every
//! forward, payment and invoice becomes a row, written in batches off the HTLC path).
//!
//! Persistence order is LDK's: a channel monitor update is in Postgres before LDK is told it
//! completed (the persister writes synchronously), and the channel manager is written whenever
//! LDK says it needs to be, and at shutdown. Monitors are written by LDK's
//! [`MonitorUpdatingPersister`]: each update as a small row of its own, the whole monitor only
//! every [`MONITOR_UPDATES_PER_FULL_WRITE`] updates. A monitor keeps data on every HTLC of the
//! channel's past commitments, so it grows with the traffic the channel carried; writing it
//! whole on every update made a busy channel's forwarding slower the longer it ran.
//!
//! This module must not decide fees or routes by itself: policies come from config and the
//! API, routes from the router it is given.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use bitcoin::{Amount, FeeRate, Network, Transaction};
use lightning::chain::chaininterface::{BroadcasterInterface, ConfirmationTarget, FeeEstimator};
use lightning::chain::chainmonitor;
use lightning::chain::channelmonitor::ChannelMonitor;
use lightning::chain::{BestBlock, Filter, Listen};
use lightning::events::{
    ClosureReason, Event, EventsProvider, HTLCHandlingFailureReason, HTLCHandlingFailureType,
    PaymentPurpose, ReplayEvent,
};
use lightning::ln::channel_state::ChannelDetails;
use lightning::ln::channelmanager::{self, ChainParameters, ChannelManagerReadArgs, PaymentId};
use lightning::ln::types::ChannelId;
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::sign::{InMemorySigner, KeysManager};
use lightning::util::config::{ChannelConfig, ChannelConfigUpdate, UserConfig};
use lightning::util::persist::{
    MonitorUpdatingPersister, CHANNEL_MANAGER_PERSISTENCE_KEY,
    CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE, CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
    OUTPUT_SWEEPER_PERSISTENCE_KEY, OUTPUT_SWEEPER_PERSISTENCE_PRIMARY_NAMESPACE,
    OUTPUT_SWEEPER_PERSISTENCE_SECONDARY_NAMESPACE, SCORER_PERSISTENCE_KEY,
    SCORER_PERSISTENCE_PRIMARY_NAMESPACE, SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
};
use lightning::util::ser::{ReadableArgs, Writeable};
use lightning::util::sweep::OutputSweeperSync;
use lightning_block_sync::poll::ChainPoller;
use lightning_block_sync::rpc::RpcClient;
use lightning_block_sync::{init, SpvClient, UnboundedCache};
use serde::Serialize;
use switchyard_store::queries::books::{BookEntry, ForwardRecord};
use switchyard_store::Store;
use tokio::sync::watch;

use crate::error::NodeError;
use crate::kv::PgKvStore;
use crate::learn::LearnedLiquidity;
use crate::metrics::NodeMetrics;
use crate::wallet::OnchainWallet;
use crate::{Graph, LdkLogger};

/// A chain filter is never used: the feed hands every full block to every listener.
pub type NoFilter = Arc<dyn Filter + Send + Sync>;

/// Channel monitor updates written between two full writes of a monitor (ldk-node's value).
pub const MONITOR_UPDATES_PER_FULL_WRITE: u64 = 100;

pub type MonitorPersister = MonitorUpdatingPersister<
    Arc<PgKvStore>,
    Arc<LdkLogger>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<Broadcaster>,
    Arc<FeeEstimates>,
>;

pub type ChainMonitor = chainmonitor::ChainMonitor<
    InMemorySigner,
    NoFilter,
    Arc<Broadcaster>,
    Arc<FeeEstimates>,
    Arc<LdkLogger>,
    Arc<MonitorPersister>,
    Arc<KeysManager>,
>;

/// Our own pathfinding (`services/graph`'s engine behind LDK's `Router` trait) finds the routes
/// of the node's payments.
pub type NodeRouter = crate::router::SwitchyardRouter;

pub type MessageRouter = DefaultMessageRouter<Arc<Graph>, Arc<LdkLogger>, Arc<KeysManager>>;

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

pub type Sweeper = OutputSweeperSync<
    Arc<Broadcaster>,
    Arc<OnchainWallet>,
    Arc<FeeEstimates>,
    NoFilter,
    Arc<PgKvStore>,
    Arc<LdkLogger>,
    Arc<KeysManager>,
>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Fees and broadcasting

/// Fee rates (sat per 1000 weight units) per LDK confirmation target: from bitcoind's
/// `estimatesmartfee`, refreshed by the chain task, with fixed fallbacks where bitcoind has no
/// estimate (regtest, a fresh node).
pub struct FeeEstimates {
    rates: [AtomicU32; 9],
}

/// LDK's floor (1 sat/vB).
const MIN_FEERATE: u32 = 253;

fn target_slot(t: ConfirmationTarget) -> usize {
    match t {
        ConfirmationTarget::MaximumFeeEstimate => 0,
        ConfirmationTarget::UrgentOnChainSweep => 1,
        ConfirmationTarget::MinAllowedAnchorChannelRemoteFee => 2,
        ConfirmationTarget::MinAllowedNonAnchorChannelRemoteFee => 3,
        ConfirmationTarget::AnchorChannelFee => 4,
        ConfirmationTarget::NonAnchorChannelFee => 5,
        ConfirmationTarget::ChannelCloseMinimum => 6,
        ConfirmationTarget::OutputSpendingFee => 7,
    }
}

/// (confirmation target in blocks, fallback sat/kw) per slot.
const TARGETS: [(u16, u32); 8] = [
    (1, 5000),
    (1, 5000),
    (1008, MIN_FEERATE),
    (1008, MIN_FEERATE),
    (1008, MIN_FEERATE),
    (6, 2000),
    (144, MIN_FEERATE),
    (12, 1000),
];

impl FeeEstimates {
    pub fn new() -> FeeEstimates {
        let rates =
            std::array::from_fn(|i| AtomicU32::new(TARGETS.get(i).map_or(MIN_FEERATE, |t| t.1)));
        FeeEstimates { rates }
    }

    /// Asks bitcoind for each target; keeps the previous value where it has no estimate.
    pub async fn refresh(&self, rpc: &RpcClient) {
        for (slot, (blocks, _)) in TARGETS.iter().enumerate() {
            let r = rpc
                .call_method::<serde_json::Value>(
                    "estimatesmartfee",
                    &[serde_json::json!(blocks), serde_json::json!("ECONOMICAL")],
                )
                .await;
            if let Some(btc_per_kvb) = r.ok().and_then(|v| v["feerate"].as_f64()) {
                // BTC/kvB -> sat/kw: x 1e8 sat/BTC, / 4 weight units per vbyte.
                let mut sat_per_kw = (btc_per_kvb * 1e8 / 4.0) as u32;
                if slot == 2 || slot == 3 {
                    // Be lenient with what peers propose: bitcoind's long-horizon estimate,
                    // minus a margin, so a small disagreement does not close channels.
                    sat_per_kw = sat_per_kw.saturating_sub(250);
                }
                self.rates[slot].store(sat_per_kw.max(MIN_FEERATE), Ordering::Relaxed);
            }
        }
    }

    pub fn rate(&self, t: ConfirmationTarget) -> u32 {
        self.rates[target_slot(t)]
            .load(Ordering::Relaxed)
            .max(MIN_FEERATE)
    }
}

impl Default for FeeEstimates {
    fn default() -> Self {
        Self::new()
    }
}

impl FeeEstimator for FeeEstimates {
    fn get_est_sat_per_1000_weight(&self, t: ConfirmationTarget) -> u32 {
        self.rate(t)
    }
}

/// Hands transactions to bitcoind (`sendrawtransaction`) on the runtime, off LDK's locks.
pub struct Broadcaster {
    rpc: Option<Arc<RpcClient>>,
    runtime: tokio::runtime::Handle,
    wallet: std::sync::OnceLock<Arc<OnchainWallet>>,
}

impl Broadcaster {
    pub fn new(rpc: Option<Arc<RpcClient>>, runtime: tokio::runtime::Handle) -> Broadcaster {
        Broadcaster {
            rpc,
            runtime,
            wallet: std::sync::OnceLock::new(),
        }
    }

    /// Sends one transaction and waits for bitcoind's answer.
    pub async fn send(&self, tx: &Transaction) -> Result<bitcoin::Txid, NodeError> {
        let Some(rpc) = &self.rpc else {
            return Err(NodeError::Unavailable("no bitcoind configured".into()));
        };
        let hex = bitcoin::consensus::encode::serialize_hex(tx);
        rpc.call_method::<serde_json::Value>("sendrawtransaction", &[serde_json::json!(hex)])
            .await
            .map_err(|e| NodeError::Rpc {
                method: "sendrawtransaction".into(),
                message: e.to_string(),
            })?;
        Ok(tx.compute_txid())
    }
}

impl BroadcasterInterface for Broadcaster {
    fn broadcast_transactions(&self, txs: &[&Transaction]) {
        let Some(rpc) = self.rpc.clone() else {
            tracing::warn!(count = txs.len(), "no bitcoind: cannot broadcast");
            return;
        };
        for tx in txs {
            let txid = tx.compute_txid();
            let hex = bitcoin::consensus::encode::serialize_hex(*tx);
            let rpc = rpc.clone();
            self.runtime.spawn(async move {
                match rpc
                    .call_method::<serde_json::Value>(
                        "sendrawtransaction",
                        &[serde_json::json!(hex)],
                    )
                    .await
                {
                    Ok(_) => tracing::info!(%txid, "transaction broadcast"),
                    // LDK rebroadcasts what matters; "already in chain" and the like are
                    // normal for claims that were already sent.
                    Err(e) => tracing::debug!(%txid, error = %e, "broadcast refused"),
                }
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// How our channels charge for forwarding. Applied to new channels and, through the API, to
/// open ones (LDK then gossips a fresh `channel_update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ForwardingPolicy {
    pub base_fee_msat: u32,
    pub fee_ppm: u32,
    pub cltv_expiry_delta: u16,
    /// Smallest HTLC we accept on a new channel (fixed at open by the protocol).
    pub htlc_minimum_msat: u64,
}

impl Default for ForwardingPolicy {
    fn default() -> Self {
        ForwardingPolicy {
            base_fee_msat: 1000,
            fee_ppm: 100,
            cltv_expiry_delta: 72,
            htlc_minimum_msat: 1,
        }
    }
}

/// LDK's configuration for our node: no anchor channels (their fee bumping needs a reserve
/// this wallet does not keep yet), inbound channels accepted by us (refused without bitcoind),
/// and the forwarding policy.
pub fn user_config(policy: &ForwardingPolicy) -> UserConfig {
    let mut c = UserConfig::default();
    c.channel_handshake_config
        .negotiate_anchors_zero_fee_htlc_tx = false;
    c.channel_handshake_config.our_htlc_minimum_msat = policy.htlc_minimum_msat.max(1);
    c.channel_handshake_config
        .max_inbound_htlc_value_in_flight_percent_of_channel = 100;
    c.channel_handshake_config.announce_for_forwarding = true;
    c.channel_handshake_limits
        .force_announced_channel_preference = false;
    c.manually_accept_inbound_channels = true;
    c.accept_forwards_to_priv_channels = true;
    c.channel_config = channel_config(policy, &ChannelConfig::default());
    c
}

fn channel_config(policy: &ForwardingPolicy, base: &ChannelConfig) -> ChannelConfig {
    let mut cfg = *base;
    cfg.forwarding_fee_base_msat = policy.base_fee_msat;
    cfg.forwarding_fee_proportional_millionths = policy.fee_ppm;
    cfg.cltv_expiry_delta = policy.cltv_expiry_delta;
    cfg
}

// ---------------------------------------------------------------------------------------------
// The Lightning layer

/// A channel as `GET /v1/channels/own` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OwnChannel {
    pub channel_id: String,
    pub short_channel_id: Option<String>,
    pub counterparty: String,
    pub funding_txo: Option<String>,
    pub capacity_sat: u64,
    pub local_balance_msat: u64,
    pub remote_balance_msat: u64,
    pub outbound_capacity_msat: u64,
    pub inbound_capacity_msat: u64,
    /// What we must keep on our side (the counterparty's reserve requirement for us).
    pub reserve_sat: Option<u64>,
    pub pending_htlcs_in: usize,
    pub pending_htlcs_out: usize,
    pub in_flight_msat: u64,
    pub is_outbound: bool,
    pub is_announced: bool,
    pub is_ready: bool,
    pub is_usable: bool,
    pub confirmations: Option<u32>,
    pub confirmations_required: Option<u32>,
    pub policy: Option<ChannelPolicyView>,
    pub state: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelPolicyView {
    pub base_fee_msat: u32,
    pub fee_ppm: u32,
    pub cltv_expiry_delta: u16,
    pub htlc_minimum_msat: Option<u64>,
    pub htlc_maximum_msat: Option<u64>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn own_channel(c: &ChannelDetails) -> OwnChannel {
    let in_flight_out: u64 = c.pending_outbound_htlcs.iter().map(|h| h.amount_msat).sum();
    let in_flight_in: u64 = c.pending_inbound_htlcs.iter().map(|h| h.amount_msat).sum();
    let reserve = c.unspendable_punishment_reserve;
    let local = c.outbound_capacity_msat + reserve.unwrap_or(0) * 1000;
    let value_msat = c.channel_value_satoshis * 1000;
    let state = if c
        .channel_shutdown_state
        .is_some_and(|s| s != lightning::ln::channel_state::ChannelShutdownState::NotShuttingDown)
    {
        "closing"
    } else if c.is_usable {
        "active"
    } else if c.is_channel_ready {
        "inactive"
    } else {
        "pending"
    };
    OwnChannel {
        channel_id: hex(&c.channel_id.0),
        short_channel_id: c
            .short_channel_id
            .map(|s| switchyard_graph::Scid::from_i64(s as i64).to_string()),
        counterparty: c.counterparty.node_id.to_string(),
        funding_txo: c.funding_txo.map(|o| o.to_string()),
        capacity_sat: c.channel_value_satoshis,
        local_balance_msat: local.min(value_msat),
        remote_balance_msat: value_msat
            .saturating_sub(local)
            .saturating_sub(in_flight_in + in_flight_out),
        outbound_capacity_msat: c.outbound_capacity_msat,
        inbound_capacity_msat: c.inbound_capacity_msat,
        reserve_sat: reserve,
        pending_htlcs_in: c.pending_inbound_htlcs.len(),
        pending_htlcs_out: c.pending_outbound_htlcs.len(),
        in_flight_msat: in_flight_in + in_flight_out,
        is_outbound: c.is_outbound,
        is_announced: c.is_announced,
        is_ready: c.is_channel_ready,
        is_usable: c.is_usable,
        confirmations: c.confirmations,
        confirmations_required: c.confirmations_required,
        policy: c.config.map(|cfg| ChannelPolicyView {
            base_fee_msat: cfg.forwarding_fee_base_msat,
            fee_ppm: cfg.forwarding_fee_proportional_millionths,
            cltv_expiry_delta: cfg.cltv_expiry_delta,
            htlc_minimum_msat: c.inbound_htlc_minimum_msat,
            htlc_maximum_msat: c.inbound_htlc_maximum_msat,
        }),
        state,
    }
}

/// Parses a channel id (64 hex digits) or a short channel id (`BLOCKxTXxOUT`).
pub fn parse_channel_ref(s: &str) -> Result<ChannelRef, NodeError> {
    let s = s.trim();
    if s.len() == 64 {
        let mut id = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let byte = std::str::from_utf8(chunk)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| NodeError::Rejected(format!("channel id {s:?} is not hex")))?;
            id[i] = byte;
        }
        return Ok(ChannelRef::Id(ChannelId(id)));
    }
    let parts: Vec<&str> = s.split('x').collect();
    if let [b, t, o] = parts[..] {
        if let (Ok(b), Ok(t), Ok(o)) = (b.parse::<u64>(), t.parse::<u64>(), o.parse::<u64>()) {
            if b < 1 << 24 && t < 1 << 24 && o < 1 << 16 {
                return Ok(ChannelRef::Scid(b << 40 | t << 16 | o));
            }
        }
    }
    Err(NodeError::Rejected(format!(
        "{s:?} is neither a channel id (64 hex digits) nor a short channel id (BLOCKxTXxOUT)"
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelRef {
    Id(ChannelId),
    Scid(u64),
}

/// The error for a request refused until the restored channels are watched (see
/// `wait_channels_watched`); `then` says what happens next.
pub(crate) fn catching_up(then: &str) -> NodeError {
    NodeError::Unavailable(format!(
        "the node's channels are still catching up with the chain (is bitcoind reachable?); {then}"
    ))
}

/// The channel, forwarding and payment layer of a node.
pub struct Lightning {
    pub(crate) manager: Arc<ChannelManager>,
    pub(crate) chain_monitor: Arc<ChainMonitor>,
    pub(crate) wallet: Option<Arc<OnchainWallet>>,
    pub(crate) sweeper: Option<Arc<Sweeper>>,
    pub(crate) broadcaster: Arc<Broadcaster>,
    pub(crate) fees: Arc<FeeEstimates>,
    pub(crate) keys: Arc<KeysManager>,
    rpc: Option<Arc<RpcClient>>,
    network: Network,
    policy: Mutex<ForwardingPolicy>,
    store: Store,
    /// Book entries not yet in Postgres. They are written in the same transaction as the
    /// channel manager that has handled their events, so a crash books every event exactly
    /// once: before that commit LDK replays the events, after it they are in the books.
    books: Mutex<Vec<BookEntry>>,
    /// The last write failed: write the manager again even if LDK does not ask.
    persist_retry: AtomicBool,
    /// Liquidity learned from our payments, which the router reads.
    learned: Arc<LearnedLiquidity>,
    metrics: Arc<NodeMetrics>,
    /// Monitors and their best blocks, kept until the chain feed has synced them.
    pending_monitors: Mutex<Vec<(bitcoin::BlockHash, ChannelMonitor<InMemorySigner>)>>,
    /// True once every restored monitor is in the chain monitor. Until then nothing may
    /// drive the channel manager (peers, events, payments, closes): an update it generated
    /// for a channel whose monitor is not registered yet would be lost, and the channel stuck.
    channels_watched: watch::Sender<bool>,
    manager_best: bitcoin::BlockHash,
}

/// What `Lightning::start` needs from the node.
pub struct LightningParts {
    pub seed: [u8; 32],
    pub keys: Arc<KeysManager>,
    pub graph: Arc<Graph>,
    pub logger: Arc<LdkLogger>,
    pub kv: PgKvStore,
    pub store: Store,
    pub rpc: Option<Arc<RpcClient>>,
    pub network: Network,
    pub policy: ForwardingPolicy,
    pub metrics: Arc<NodeMetrics>,
}

impl Lightning {
    /// Restores (or creates) the channel manager, monitors, wallet and sweeper. The chain feed
    /// starts separately ([`Lightning::run_chain_feed`]) because it needs the runtime.
    pub async fn start(p: LightningParts) -> Result<Arc<Lightning>, NodeError> {
        let kv = Arc::new(p.kv.clone());
        let fees = Arc::new(FeeEstimates::new());
        if let Some(rpc) = &p.rpc {
            fees.refresh(rpc).await;
        }
        let broadcaster = Arc::new(Broadcaster::new(
            p.rpc.clone(),
            tokio::runtime::Handle::current(),
        ));
        let tip = match &p.rpc {
            Some(rpc) => Some(chain_tip(rpc).await?),
            None => None,
        };
        // Reads monitors written whole by LDK's plain `KVStoreSync` persister too (what
        // earlier versions used), so existing channels carry over.
        let persister = Arc::new(MonitorUpdatingPersister::new(
            kv.clone(),
            p.logger.clone(),
            MONITOR_UPDATES_PER_FULL_WRITE,
            p.keys.clone(),
            p.keys.clone(),
            broadcaster.clone(),
            fees.clone(),
        ));
        let chain_monitor: Arc<ChainMonitor> = Arc::new(ChainMonitor::new(
            None,
            broadcaster.clone(),
            p.logger.clone(),
            fees.clone(),
            persister.clone(),
            p.keys.clone(),
            lightning::sign::NodeSigner::get_peer_storage_key(&*p.keys),
        ));
        let stored_scorer =
            p.kv.read_async(
                SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
                SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
                SCORER_PERSISTENCE_KEY,
            )
            .await
            .map_err(|e| NodeError::Lightning(format!("reading liquidity estimates: {e}")))?;
        let learned = Arc::new(LearnedLiquidity::load(
            p.graph.clone(),
            p.logger.clone(),
            stored_scorer.as_deref(),
        ));
        p.metrics
            .learned_channels
            .set(learned.channel_count() as i64);
        let router = Arc::new(
            crate::router::SwitchyardRouter::new(
                p.graph.clone(),
                // Fresh enough that a fee change we just heard of is priced in by our next
                // payment; a rebuild of the mainnet graph costs well under a second.
                crate::router::RouterConfig {
                    min_rebuild_interval: Duration::from_secs(5),
                    ..Default::default()
                },
            )
            .with_liquidity_limits(learned.clone()),
        );
        let message_router = Arc::new(DefaultMessageRouter::new(p.graph.clone(), p.keys.clone()));
        let config = user_config(&p.policy);

        // Monitors first: the manager is read against them.
        let mut monitors = {
            let persister = persister.clone();
            tokio::task::spawn_blocking(move || persister.read_all_channel_monitors_with_updates())
                .await
                .map_err(|e| NodeError::Lightning(format!("reading channel monitors: {e}")))?
                .map_err(|e| NodeError::Lightning(format!("reading channel monitors: {e}")))?
        };
        let stored_manager =
            p.kv.read_async(
                CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
                CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
                CHANNEL_MANAGER_PERSISTENCE_KEY,
            )
            .await
            .map_err(|e| NodeError::Lightning(format!("reading the channel manager: {e}")))?;
        let (manager_best, manager) = match stored_manager {
            Some(bytes) => {
                let args = ChannelManagerReadArgs::new(
                    p.keys.clone(),
                    p.keys.clone(),
                    p.keys.clone(),
                    fees.clone(),
                    chain_monitor.clone(),
                    broadcaster.clone(),
                    router,
                    message_router,
                    p.logger.clone(),
                    config,
                    monitors.iter_mut().map(|(_, m)| &*m).collect(),
                );
                let (best, manager) = <(bitcoin::BlockHash, ChannelManager)>::read(
                    &mut &bytes[..],
                    args,
                )
                .map_err(|e| {
                    NodeError::Lightning(format!("stored channel manager unreadable: {e:?}"))
                })?;
                tracing::info!(
                    channels = manager.list_channels().len(),
                    monitors = monitors.len(),
                    "channel manager restored"
                );
                (best, manager)
            }
            None => {
                if !monitors.is_empty() {
                    return Err(NodeError::Lightning(format!(
                        "{} channel monitors are stored but the channel manager is missing; refusing to start (funds would be at risk)",
                        monitors.len()
                    )));
                }
                let best = tip.unwrap_or_else(|| BestBlock::from_network(p.network));
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as u32)
                    .unwrap_or(0);
                let manager = ChannelManager::new(
                    fees.clone(),
                    chain_monitor.clone(),
                    broadcaster.clone(),
                    router,
                    message_router,
                    p.logger.clone(),
                    p.keys.clone(),
                    p.keys.clone(),
                    p.keys.clone(),
                    config,
                    ChainParameters {
                        network: p.network,
                        best_block: best,
                    },
                    now,
                );
                (best.block_hash, manager)
            }
        };
        let manager = Arc::new(manager);

        let wallet = match (&p.rpc, tip) {
            (Some(_), tip) => {
                let kvw = p.kv.clone();
                let seed = p.seed;
                let network = p.network;
                let w = tokio::task::spawn_blocking(move || {
                    OnchainWallet::load_or_create(&seed, network, kvw, tip)
                })
                .await
                .map_err(|e| NodeError::Wallet(e.to_string()))??;
                Some(Arc::new(w))
            }
            (None, _) => None,
        };
        if let Some(w) = &wallet {
            let _ = broadcaster.wallet.set(w.clone());
        }
        let sweeper = match (&wallet, tip) {
            (Some(w), Some(tip)) => Some(Arc::new(
                load_sweeper(
                    &p.kv,
                    kv.clone(),
                    tip,
                    broadcaster.clone(),
                    fees.clone(),
                    p.keys.clone(),
                    w.clone(),
                    p.logger.clone(),
                )
                .await?,
            )),
            _ => None,
        };

        let ln = Arc::new(Lightning {
            manager,
            chain_monitor,
            wallet,
            sweeper,
            broadcaster,
            fees,
            keys: p.keys,
            rpc: p.rpc,
            network: p.network,
            policy: Mutex::new(p.policy),
            store: p.store,
            books: Mutex::new(Vec::new()),
            persist_retry: AtomicBool::new(false),
            learned,
            metrics: p.metrics,
            channels_watched: watch::Sender::new(monitors.is_empty()),
            pending_monitors: Mutex::new(monitors),
            manager_best,
        });
        Ok(ln)
    }

    /// Whether an announced channel of ours is usable (LDK then lets us announce the node).
    pub fn has_public_channel(&self) -> bool {
        self.manager
            .list_channels()
            .iter()
            .any(|c| c.is_announced && c.is_usable)
    }

    pub fn manager(&self) -> &Arc<ChannelManager> {
        &self.manager
    }

    pub fn wallet(&self) -> Result<&Arc<OnchainWallet>, NodeError> {
        self.wallet.as_ref().ok_or_else(|| {
            NodeError::Unavailable("the on-chain wallet needs bitcoind (--bitcoind-rpc)".into())
        })
    }

    /// Brings every chain listener to bitcoind's tip, hands the monitors to the chain
    /// monitor, then follows the chain: each new block goes to the channel manager, the
    /// monitors, the wallet and the sweeper. Without bitcoind, only registers the monitors.
    pub async fn run_chain_feed(
        self: Arc<Self>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let Some(rpc) = self.rpc.clone() else {
            self.watch_pending_monitors();
            return;
        };
        let mut cache = UnboundedCache::new();
        let tip = loop {
            match self.synchronize(&rpc, &mut cache).await {
                Ok(tip) => break tip,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        peers_wait = !self.channels_watched(),
                        "syncing channels with the chain; retrying"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        self.watch_pending_monitors();
        let listener = FeedListener(self.clone());
        let poller = ChainPoller::new(rpc.clone(), self.network);
        let mut spv = SpvClient::new(tip, poller, &mut cache, &listener);
        let mut last_fee_refresh = std::time::Instant::now();
        let mut was_down = false;
        loop {
            match spv.poll_best_tip().await {
                Ok((tip, _)) => {
                    // Outputs of closed channels become spendable at some height: sweep
                    // them when it comes, not at the next minute's timer.
                    if let (lightning_block_sync::poll::ChainTip::Better(_), Some(s)) =
                        (tip, &self.sweeper)
                    {
                        let s = s.clone();
                        let _ = tokio::task::spawn_blocking(move || {
                            s.regenerate_and_broadcast_spend_if_necessary()
                        })
                        .await;
                    }
                    if was_down {
                        tracing::info!("bitcoind is back");
                        was_down = false;
                    }
                }
                Err(e) => {
                    if !was_down {
                        tracing::warn!(error = ?e, "bitcoind unreachable; channels keep running, blocks will be caught up");
                        was_down = true;
                    }
                }
            }
            if last_fee_refresh.elapsed() > Duration::from_secs(300) {
                self.fees.refresh(&rpc).await;
                last_fee_refresh = std::time::Instant::now();
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn synchronize(
        &self,
        rpc: &Arc<RpcClient>,
        cache: &mut UnboundedCache,
    ) -> Result<lightning_block_sync::poll::ValidatedBlockHeader, NodeError> {
        let monitors: Vec<(bitcoin::BlockHash, ChannelMonitor<InMemorySigner>)> = self
            .pending_monitors
            .lock()
            .map(|mut m| m.drain(..).collect())
            .map_err(|_| NodeError::Lightning("lock poisoned".into()))?;
        let result = {
            let monitor_listeners: Vec<_> = monitors
                .iter()
                .map(|(best, m)| {
                    (
                        *best,
                        MonitorListener {
                            monitor: m,
                            broadcaster: self.broadcaster.clone(),
                            fees: self.fees.clone(),
                            logger: Arc::new(LdkLogger),
                        },
                    )
                })
                .collect();
            let mut listeners: Vec<(bitcoin::BlockHash, &(dyn Listen + Send + Sync))> = vec![(
                self.manager_best,
                &*self.manager as &(dyn Listen + Send + Sync),
            )];
            for (best, l) in &monitor_listeners {
                listeners.push((*best, l as &(dyn Listen + Send + Sync)));
            }
            if let Some(w) = &self.wallet {
                if let Some(b) = w.best_block() {
                    listeners.push((b.block_hash, &**w as &(dyn Listen + Send + Sync)));
                }
            }
            if let Some(s) = &self.sweeper {
                listeners.push((
                    s.current_best_block().block_hash,
                    &**s as &(dyn Listen + Send + Sync),
                ));
            }
            init::synchronize_listeners(rpc.clone(), self.network, cache, listeners)
                .await
                .map_err(|e| NodeError::Rpc {
                    method: "sync".into(),
                    message: format!("{e:?}"),
                })
        };
        // Synced or not, the monitors go back: a retry starts from where each one got to.
        if let Ok(mut m) = self.pending_monitors.lock() {
            m.extend(monitors);
        }
        result
    }

    fn watch_pending_monitors(&self) {
        let monitors: Vec<_> = self
            .pending_monitors
            .lock()
            .map(|mut m| m.drain(..).collect())
            .unwrap_or_default();
        let restored = monitors.len();
        for (_, monitor) in monitors {
            let id = monitor.channel_id();
            if let Err(e) =
                lightning::chain::Watch::watch_channel(&*self.chain_monitor, id, monitor)
            {
                tracing::error!(channel = %id, error = ?e, "cannot watch a restored channel monitor");
            }
        }
        if !self.channels_watched.send_replace(true) {
            tracing::info!(
                channels = restored,
                "restored channels follow the chain; peers and payments go ahead"
            );
        }
    }

    /// Whether the restored channels are watched (see `wait_channels_watched`).
    pub fn channels_watched(&self) -> bool {
        *self.channels_watched.borrow()
    }

    /// Waits until every restored channel monitor has caught up with the chain and is in the
    /// chain monitor: only then may peers, events or the API drive the channel manager.
    /// Returns false if `shutdown` comes first.
    pub async fn wait_channels_watched(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
        let mut watched = self.channels_watched.subscribe();
        tokio::select! {
            r = watched.wait_for(|w| *w) => r.is_ok(),
            _ = shutdown.wait_for(|s| *s) => false,
        }
    }

    fn ensure_channels_watched(&self) -> Result<(), NodeError> {
        if self.channels_watched() {
            return Ok(());
        }
        Err(catching_up("try again shortly"))
    }

    /// Writes the channel manager (when LDK says it changed, when a write failed, or when
    /// `force`) together with the book entries gathered since the last write, in one
    /// transaction. Returns whether it wrote. On failure the entries are kept for the next
    /// round, and LDK goes on as if the manager was not written, which is safe: events it
    /// handled since are replayed after a crash and booked then.
    pub async fn persist(&self, force: bool) -> Result<bool, NodeError> {
        let manager = self.manager.get_and_clear_needs_persistence()
            | self.persist_retry.swap(false, Ordering::AcqRel)
            | force;
        let entries = self
            .books
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default();
        if !manager && entries.is_empty() {
            return Ok(false);
        }
        let bytes = manager.then(|| self.manager.encode());
        let result = async {
            let mut tx = self.store.pool().begin().await?;
            if !entries.is_empty() {
                switchyard_store::queries::books::record(&mut tx, &entries).await?;
            }
            if let Some(bytes) = &bytes {
                switchyard_store::queries::kv::write(
                    &mut *tx,
                    CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
                    CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
                    CHANNEL_MANAGER_PERSISTENCE_KEY,
                    bytes,
                )
                .await?;
            }
            tx.commit().await.map_err(switchyard_store::Error::from)
        }
        .await;
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                self.metrics.store_write_errors.inc();
                self.persist_retry.store(true, Ordering::Release);
                if let Ok(mut b) = self.books.lock() {
                    let newer = std::mem::replace(&mut *b, entries);
                    b.extend(newer);
                }
                Err(NodeError::Lightning(format!(
                    "persisting the channel manager and books: {e}"
                )))
            }
        }
    }

    /// Writes the liquidity estimates if they changed (on LDK's timer and at shutdown: they
    /// are a cache of what payments taught us, so losing the last minute costs only retries).
    pub async fn persist_learned(&self) {
        let Some(bytes) = self.learned.take_changed() else {
            return;
        };
        let written = switchyard_store::queries::kv::write(
            self.store.pool(),
            SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
            SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
            SCORER_PERSISTENCE_KEY,
            &bytes,
        )
        .await;
        match written {
            Ok(()) => self
                .metrics
                .learned_channels
                .set(self.learned.channel_count() as i64),
            Err(e) => {
                self.learned.mark_dirty();
                tracing::warn!(error = %e, "writing the liquidity estimates; retrying next minute");
            }
        }
    }

    /// Channels the node holds liquidity estimates for.
    pub fn learned_channels(&self) -> usize {
        self.learned.channel_count()
    }

    /// One round of background work: forward pending HTLCs, handle events, persist.
    pub async fn process(&self, peer_manager: &crate::PeerManager) {
        if self.manager.needs_pending_htlc_processing() {
            self.manager.process_pending_htlc_forwards();
        }
        self.manager
            .process_pending_events(&|e| self.handle_event(e, peer_manager));
        self.chain_monitor
            .process_pending_events(&|e| self.handle_event(e, peer_manager));
        let failing = self.persist_retry.load(Ordering::Acquire);
        match self.persist(false).await {
            // Once per outage, not every 10 ms.
            Err(e) if !failing => tracing::error!(error = %e, "retrying every round"),
            Err(_) => {}
            Ok(_) if failing => tracing::info!("channel manager and books written again"),
            Ok(_) => {}
        }
        self.update_channel_metrics();
    }

    /// Once a minute: LDK's timers, rebroadcast of pending claims, and the sweeper.
    pub fn timer_tick(&self) {
        self.manager.timer_tick_occurred();
        self.learned.decay();
        self.chain_monitor.rebroadcast_pending_claims();
        if let Some(s) = &self.sweeper {
            if let Err(e) = s.regenerate_and_broadcast_spend_if_necessary() {
                tracing::debug!(?e, "sweeper");
            }
        }
    }

    fn update_channel_metrics(&self) {
        let channels = self.manager.list_channels();
        let m = &self.metrics;
        m.channels_open
            .set(channels.iter().filter(|c| c.is_channel_ready).count() as i64);
        m.channels_pending
            .set(channels.iter().filter(|c| !c.is_channel_ready).count() as i64);
        let mut in_flight = 0usize;
        m.channel_balance_msat.reset();
        for c in &channels {
            in_flight += c.pending_inbound_htlcs.len() + c.pending_outbound_htlcs.len();
            let id = hex(&c.channel_id.0);
            let view = own_channel(c);
            m.channel_balance_msat
                .with_label_values(&[&id, "local"])
                .set(view.local_balance_msat as i64);
            m.channel_balance_msat
                .with_label_values(&[&id, "remote"])
                .set(view.remote_balance_msat as i64);
        }
        m.htlcs_in_flight.set(in_flight as i64);
        if let Some(w) = &self.wallet {
            if let Some(b) = w.try_balance() {
                m.wallet_balance_sat
                    .with_label_values(&["confirmed"])
                    .set(b.confirmed_sat as i64);
                m.wallet_balance_sat
                    .with_label_values(&["pending"])
                    .set((b.trusted_pending_sat + b.untrusted_pending_sat) as i64);
                m.wallet_balance_sat
                    .with_label_values(&["immature"])
                    .set(b.immature_sat as i64);
            }
        }
    }

    /// Queues a book entry; the next [`Lightning::persist`] writes it.
    fn book(&self, e: BookEntry) {
        match self.books.lock() {
            Ok(mut b) => b.push(e),
            Err(_) => tracing::error!("books lock poisoned; an entry was not recorded"),
        }
    }

    fn handle_event(&self, event: Event, pm: &crate::PeerManager) -> Result<(), ReplayEvent> {
        self.learned.learn(&event);
        match event {
            Event::FundingGenerationReady {
                temporary_channel_id,
                counterparty_node_id,
                channel_value_satoshis,
                output_script,
                ..
            } => {
                let result = self.wallet().and_then(|w| {
                    let rate = self.fees.rate(ConfirmationTarget::NonAnchorChannelFee);
                    let tx = w.build_payment(
                        output_script,
                        Amount::from_sat(channel_value_satoshis),
                        FeeRate::from_sat_per_kwu(rate as u64),
                    )?;
                    match self.manager.funding_transaction_generated(
                        temporary_channel_id,
                        counterparty_node_id,
                        tx.clone(),
                    ) {
                        Ok(()) => Ok(tx.compute_txid()),
                        Err(e) => {
                            w.cancel(&tx);
                            Err(NodeError::Lightning(format!("{e:?}")))
                        }
                    }
                });
                match result {
                    Ok(txid) => {
                        tracing::info!(%txid, peer = %counterparty_node_id, "channel funding transaction signed")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, peer = %counterparty_node_id, "cannot fund the channel; abandoning it");
                        let _ = self.manager.force_close_broadcasting_latest_txn(
                            &temporary_channel_id,
                            &counterparty_node_id,
                            format!("funding failed: {e}"),
                        );
                    }
                }
            }
            Event::OpenChannelRequest {
                temporary_channel_id,
                counterparty_node_id,
                funding_satoshis,
                ..
            } => {
                if self.rpc.is_none() {
                    tracing::warn!(peer = %counterparty_node_id, "refusing an inbound channel: no bitcoind to watch it");
                    let _ = self.manager.force_close_broadcasting_latest_txn(
                        &temporary_channel_id,
                        &counterparty_node_id,
                        "this node runs without bitcoind and cannot watch channels".into(),
                    );
                } else {
                    let user_id = u128::from_be_bytes(
                        lightning::sign::EntropySource::get_secure_random_bytes(&*self.keys)[..16]
                            .try_into()
                            .unwrap_or([0; 16]),
                    );
                    match self.manager.accept_inbound_channel(
                        &temporary_channel_id,
                        &counterparty_node_id,
                        user_id,
                        None,
                    ) {
                        Ok(()) => {
                            tracing::info!(peer = %counterparty_node_id, sat = funding_satoshis, "accepted an inbound channel")
                        }
                        Err(e) => tracing::warn!(error = ?e, "accepting an inbound channel"),
                    }
                }
            }
            Event::ChannelPending {
                channel_id,
                counterparty_node_id,
                funding_txo,
                ..
            } => {
                tracing::info!(channel = %channel_id, peer = %counterparty_node_id, %funding_txo, "channel pending confirmation");
            }
            Event::ChannelReady {
                channel_id,
                counterparty_node_id,
                ..
            } => {
                tracing::info!(channel = %channel_id, peer = %counterparty_node_id, "channel ready");
            }
            Event::ChannelClosed {
                channel_id,
                reason,
                counterparty_node_id,
                ..
            } => {
                let reason_text = match &reason {
                    ClosureReason::HolderForceClosed { .. } => "force closed by us".to_string(),
                    ClosureReason::LegacyCooperativeClosure
                    | ClosureReason::CounterpartyInitiatedCooperativeClosure
                    | ClosureReason::LocallyInitiatedCooperativeClosure => {
                        "cooperative".to_string()
                    }
                    other => other.to_string(),
                };
                tracing::info!(channel = %channel_id, peer = ?counterparty_node_id, reason = %reason_text, "channel closed");
            }
            Event::PaymentClaimable {
                payment_hash,
                purpose,
                amount_msat,
                ..
            } => {
                match purpose.preimage() {
                    Some(preimage) => self.manager.claim_funds(preimage),
                    None => {
                        tracing::warn!(hash = %payment_hash, "payment without a known preimage; failing it back");
                        self.manager.fail_htlc_backwards(&payment_hash);
                    }
                }
                tracing::debug!(hash = %payment_hash, amount_msat, "payment claimable");
                let _ = matches!(purpose, PaymentPurpose::SpontaneousPayment(_));
            }
            Event::PaymentClaimed {
                payment_hash,
                amount_msat,
                ..
            } => {
                tracing::info!(hash = %payment_hash, amount_msat, "payment received");
                self.metrics.payments_received.inc();
                self.book(BookEntry::InvoicePaid {
                    payment_hash: payment_hash.0,
                    received_msat: amount_msat as i64,
                });
            }
            Event::PaymentSent {
                payment_id,
                payment_preimage,
                payment_hash,
                fee_paid_msat,
                ..
            } => {
                tracing::info!(hash = %payment_hash, fee_msat = ?fee_paid_msat, "payment sent");
                self.metrics
                    .payments_sent
                    .with_label_values(&["succeeded"])
                    .inc();
                if let Some(id) = payment_id {
                    self.book(BookEntry::PaymentSucceeded {
                        payment_id: id.0,
                        fee_msat: fee_paid_msat.map(|f| f as i64),
                        preimage: payment_preimage.0,
                    });
                }
            }
            Event::PaymentPathSuccessful { payment_id, .. } => {
                self.book(BookEntry::PathSucceeded {
                    payment_id: payment_id.0,
                });
            }
            Event::PaymentFailed {
                payment_id,
                payment_hash,
                reason,
            } => {
                let why = reason.map_or("unknown".to_string(), |r| format!("{r:?}"));
                tracing::warn!(hash = ?payment_hash, reason = %why, "payment failed");
                self.metrics
                    .payments_sent
                    .with_label_values(&["failed"])
                    .inc();
                self.book(BookEntry::PaymentFailed {
                    payment_id: payment_id.0,
                    reason: why,
                });
            }
            Event::PaymentForwarded {
                prev_channel_id,
                next_channel_id,
                prev_node_id,
                next_node_id,
                total_fee_earned_msat,
                outbound_amount_forwarded_msat,
                ..
            } => {
                let fee = total_fee_earned_msat.unwrap_or(0);
                let out = outbound_amount_forwarded_msat;
                self.metrics.forwards.with_label_values(&["settled"]).inc();
                self.metrics.forward_fees_earned_msat.inc_by(fee);
                self.book(BookEntry::Forward(ForwardRecord {
                    resolved_at_ms: now_ms(),
                    settled: true,
                    in_channel_id: prev_channel_id.map(|c| c.0),
                    out_channel_id: next_channel_id.map(|c| c.0),
                    in_scid: prev_channel_id.and_then(|c| self.scid_of(&c)),
                    out_scid: next_channel_id.and_then(|c| self.scid_of(&c)),
                    in_peer: prev_node_id.map(|p| p.serialize()),
                    out_peer: next_node_id.map(|p| p.serialize()),
                    amount_in_msat: out.map(|o| (o + fee) as i64),
                    amount_out_msat: out.map(|o| o as i64),
                    fee_msat: fee as i64,
                    failure_reason: None,
                    duration_ms: None,
                }));
            }
            Event::HTLCHandlingFailed {
                prev_channel_id,
                failure_type,
                failure_reason,
            } => {
                let (out_channel, out_peer, out_scid) = match &failure_type {
                    HTLCHandlingFailureType::Forward {
                        node_id,
                        channel_id,
                    } => (
                        Some(channel_id.0),
                        node_id.map(|n| n.serialize()),
                        self.scid_of(channel_id),
                    ),
                    HTLCHandlingFailureType::UnknownNextHop {
                        requested_forward_scid,
                    }
                    | HTLCHandlingFailureType::InvalidForward {
                        requested_forward_scid,
                    } => (None, None, Some(*requested_forward_scid as i64)),
                    HTLCHandlingFailureType::InvalidOnion => (None, None, None),
                    HTLCHandlingFailureType::Receive { .. } => return Ok(()),
                };
                let reason = match (&failure_type, &failure_reason) {
                    (_, Some(HTLCHandlingFailureReason::Local { reason })) => format!("{reason:?}"),
                    (_, Some(HTLCHandlingFailureReason::Downstream)) => "downstream".to_string(),
                    (HTLCHandlingFailureType::UnknownNextHop { .. }, None) => {
                        "unknown_next_channel".into()
                    }
                    (HTLCHandlingFailureType::InvalidForward { .. }, None) => {
                        "invalid_forward".into()
                    }
                    (HTLCHandlingFailureType::InvalidOnion, None) => "invalid_onion".into(),
                    _ => "unknown".into(),
                };
                self.metrics.forwards.with_label_values(&["failed"]).inc();
                self.book(BookEntry::Forward(ForwardRecord {
                    resolved_at_ms: now_ms(),
                    settled: false,
                    in_channel_id: Some(prev_channel_id.0),
                    out_channel_id: out_channel,
                    in_scid: self.scid_of(&prev_channel_id),
                    out_scid,
                    in_peer: self.peer_of(&prev_channel_id),
                    out_peer,
                    amount_in_msat: None,
                    amount_out_msat: None,
                    fee_msat: 0,
                    failure_reason: Some(reason),
                    duration_ms: None,
                }));
            }
            Event::SpendableOutputs {
                outputs,
                channel_id,
            } => {
                match &self.sweeper {
                    Some(s) => {
                        if s.track_spendable_outputs(outputs, channel_id, false, None)
                            .is_err()
                        {
                            // Persisting the sweeper failed: ask LDK to hand the event again.
                            return Err(ReplayEvent());
                        }
                        tracing::info!(channel = ?channel_id, "sweeping closed-channel outputs to the wallet");
                    }
                    None => {
                        tracing::error!(channel = ?channel_id, "spendable outputs but no wallet to sweep them to")
                    }
                }
            }
            Event::DiscardFunding {
                channel_id,
                funding_info,
            } => {
                if let (Ok(w), lightning::events::FundingInfo::Tx { transaction }) =
                    (self.wallet(), &funding_info)
                {
                    w.cancel(transaction);
                }
                tracing::info!(channel = %channel_id, "funding discarded");
            }
            Event::ConnectionNeeded { node_id, addresses } => {
                tracing::debug!(peer = %node_id, addresses = addresses.len(), "LDK needs a connection");
                let _ = pm;
            }
            other => tracing::debug!(event = ?other, "event"),
        }
        Ok(())
    }

    fn channel(&self, id: &ChannelId) -> Option<ChannelDetails> {
        self.manager
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id == *id)
    }

    fn scid_of(&self, id: &ChannelId) -> Option<i64> {
        self.channel(id)
            .and_then(|c| c.short_channel_id)
            .map(|s| s as i64)
    }

    fn peer_of(&self, id: &ChannelId) -> Option<[u8; 33]> {
        self.channel(id).map(|c| c.counterparty.node_id.serialize())
    }

    pub fn find_channel(&self, r: ChannelRef) -> Result<ChannelDetails, NodeError> {
        self.manager
            .list_channels()
            .into_iter()
            .find(|c| match r {
                ChannelRef::Id(id) => c.channel_id == id,
                ChannelRef::Scid(s) => {
                    c.short_channel_id == Some(s) || c.outbound_scid_alias == Some(s)
                }
            })
            .ok_or_else(|| NodeError::NotFound("no such channel of ours".into()))
    }

    pub fn channels(&self) -> Vec<OwnChannel> {
        let mut v: Vec<OwnChannel> = self
            .manager
            .list_channels()
            .iter()
            .map(own_channel)
            .collect();
        v.sort_by(|a, b| a.channel_id.cmp(&b.channel_id));
        v
    }

    /// Opens a channel to a connected peer. The funding transaction is built from the wallet
    /// when the peer accepts; this returns the channel id LDK assigned for now.
    pub fn open_channel(
        &self,
        peer: PublicKey,
        amount_sat: u64,
        push_msat: u64,
        announce: bool,
    ) -> Result<String, NodeError> {
        let wallet = self.wallet()?;
        if amount_sat < 20_000 {
            return Err(NodeError::Rejected(
                "a channel needs at least 20,000 sat".into(),
            ));
        }
        if push_msat > amount_sat * 1000 {
            return Err(NodeError::Rejected(
                "push_msat is larger than the channel".into(),
            ));
        }
        let balance = wallet.balance()?;
        let spendable = balance.confirmed_sat + balance.trusted_pending_sat;
        if spendable < amount_sat {
            return Err(NodeError::Rejected(format!(
                "the wallet has {spendable} sat spendable; the channel needs {amount_sat} sat plus fees"
            )));
        }
        let policy = *self
            .policy
            .lock()
            .map_err(|_| NodeError::Lightning("lock poisoned".into()))?;
        let mut cfg = user_config(&policy);
        cfg.channel_handshake_config.announce_for_forwarding = announce;
        let user_id = u128::from_be_bytes(
            lightning::sign::EntropySource::get_secure_random_bytes(&*self.keys)[..16]
                .try_into()
                .unwrap_or([0; 16]),
        );
        let id = self
            .manager
            .create_channel(peer, amount_sat, push_msat, user_id, None, Some(cfg))
            .map_err(|e| NodeError::Lightning(format!("{e:?}")))?;
        tracing::info!(%peer, amount_sat, push_msat, announce, "opening a channel");
        Ok(hex(&id.0))
    }

    /// Cooperative close (or force close with `force`).
    pub fn close_channel(&self, r: ChannelRef, force: bool) -> Result<(), NodeError> {
        self.ensure_channels_watched()?;
        let c = self.find_channel(r)?;
        let peer = c.counterparty.node_id;
        let result = if force {
            self.manager.force_close_broadcasting_latest_txn(
                &c.channel_id,
                &peer,
                "closed by the operator".into(),
            )
        } else {
            self.manager.close_channel(&c.channel_id, &peer)
        };
        result.map_err(|e| NodeError::Lightning(format!("{e:?}")))?;
        tracing::info!(channel = %c.channel_id, force, "closing a channel");
        Ok(())
    }

    pub fn policy(&self) -> ForwardingPolicy {
        self.policy.lock().map(|p| *p).unwrap_or_default()
    }

    /// Changes the forwarding policy of one channel (or all, with `None`); LDK announces the
    /// new fees in a `channel_update`. With `None` the default for new channels changes too.
    pub fn set_policy(
        &self,
        channel: Option<ChannelRef>,
        update: PolicyUpdate,
    ) -> Result<usize, NodeError> {
        let targets: Vec<ChannelDetails> = match channel {
            Some(r) => vec![self.find_channel(r)?],
            None => self.manager.list_channels(),
        };
        if update.htlc_minimum_msat.is_some() && channel.is_some() {
            return Err(NodeError::Rejected(
                "htlc_minimum_msat is fixed when a channel opens; it applies to new channels only"
                    .into(),
            ));
        }
        if let Some(d) = update.cltv_expiry_delta {
            if d < 18 {
                return Err(NodeError::Rejected(
                    "cltv_expiry_delta must be at least 18".into(),
                ));
            }
        }
        let cfg = ChannelConfigUpdate {
            forwarding_fee_base_msat: update.base_fee_msat,
            forwarding_fee_proportional_millionths: update.fee_ppm,
            cltv_expiry_delta: update.cltv_expiry_delta,
            ..Default::default()
        };
        for c in &targets {
            self.manager
                .update_partial_channel_config(&c.counterparty.node_id, &[c.channel_id], &cfg)
                .map_err(|e| NodeError::Lightning(format!("{e:?}")))?;
        }
        if channel.is_none() {
            if let Ok(mut p) = self.policy.lock() {
                if let Some(v) = update.base_fee_msat {
                    p.base_fee_msat = v;
                }
                if let Some(v) = update.fee_ppm {
                    p.fee_ppm = v;
                }
                if let Some(v) = update.cltv_expiry_delta {
                    p.cltv_expiry_delta = v;
                }
                if let Some(v) = update.htlc_minimum_msat {
                    p.htlc_minimum_msat = v;
                }
            }
        }
        tracing::info!(
            channels = targets.len(),
            ?update,
            "forwarding policy changed"
        );
        Ok(targets.len())
    }

    /// A BOLT 11 invoice for `amount_msat` (any amount with `None`).
    pub fn create_invoice(
        &self,
        amount_msat: Option<u64>,
        description: &str,
        expiry_secs: u32,
    ) -> Result<lightning_invoice::Bolt11Invoice, NodeError> {
        let desc = lightning_invoice::Description::new(description.to_string())
            .map_err(|e| NodeError::Rejected(format!("description: {e}")))?;
        let params = channelmanager::Bolt11InvoiceParameters {
            amount_msats: amount_msat,
            description: lightning_invoice::Bolt11InvoiceDescription::Direct(desc),
            invoice_expiry_delta_secs: Some(expiry_secs),
            ..Default::default()
        };
        let invoice = self
            .manager
            .create_bolt11_invoice(params)
            .map_err(|e| NodeError::Lightning(format!("creating the invoice: {e:?}")))?;
        let created = invoice.duration_since_epoch().as_secs() as i64;
        self.book(BookEntry::InvoiceCreated {
            payment_hash: *invoice.payment_hash().as_ref(),
            bolt11: invoice.to_string(),
            amount_msat: amount_msat.map(|a| a as i64),
            description: description.to_string(),
            expires_at: created + expiry_secs as i64,
        });
        Ok(invoice)
    }

    /// Pays a BOLT 11 invoice; returns the payment id (hex). The outcome arrives as an event
    /// and lands in the books; `GET /v1/payments/{id}` shows it.
    pub fn pay_invoice(
        &self,
        invoice: &lightning_invoice::Bolt11Invoice,
        amount_msat: Option<u64>,
        max_fee_msat: Option<u64>,
    ) -> Result<String, NodeError> {
        self.ensure_channels_watched()?;
        let amount = match (invoice.amount_milli_satoshis(), amount_msat) {
            (Some(a), None) => a,
            (None, Some(a)) => a,
            (Some(a), Some(b)) if a == b => a,
            (Some(_), Some(_)) => {
                return Err(NodeError::Rejected(
                    "the invoice names an amount; do not give another".into(),
                ))
            }
            (None, None) => {
                return Err(NodeError::Rejected(
                    "the invoice has no amount; give amount_msat".into(),
                ))
            }
        };
        let payment_id = PaymentId(*invoice.payment_hash().as_ref());
        let mut route_cfg = lightning::routing::router::RouteParametersConfig::default();
        if let Some(f) = max_fee_msat {
            route_cfg.max_total_routing_fee_msat = Some(f);
        }
        self.book(BookEntry::PaymentStarted {
            payment_id: payment_id.0,
            payment_hash: *invoice.payment_hash().as_ref(),
            kind: "bolt11",
            destination: Some(invoice.get_payee_pub_key().serialize()),
            amount_msat: amount as i64,
            bolt11: Some(invoice.to_string()),
        });
        self.manager
            .pay_for_bolt11_invoice(
                invoice,
                payment_id,
                if invoice.amount_milli_satoshis().is_some() {
                    None
                } else {
                    Some(amount)
                },
                route_cfg,
                channelmanager::Retry::Timeout(Duration::from_secs(60)),
            )
            .map_err(|e| self.refused(payment_id, "paying the invoice", e))?;
        Ok(hex(&payment_id.0))
    }

    /// A payment LDK refused to start: booked as failed, returned as the error.
    fn refused(&self, payment_id: PaymentId, what: &str, e: impl std::fmt::Debug) -> NodeError {
        let reason = format!("{e:?}");
        self.book(BookEntry::PaymentFailed {
            payment_id: payment_id.0,
            reason: reason.clone(),
        });
        NodeError::Lightning(format!("{what}: {reason}"))
    }

    /// Spontaneous payment (keysend) of `amount_msat` to `destination`.
    pub fn keysend(
        &self,
        destination: PublicKey,
        amount_msat: u64,
        max_fee_msat: Option<u64>,
    ) -> Result<String, NodeError> {
        self.ensure_channels_watched()?;
        if amount_msat == 0 {
            return Err(NodeError::Rejected("amount_msat must be positive".into()));
        }
        let preimage = lightning::types::payment::PaymentPreimage(
            lightning::sign::EntropySource::get_secure_random_bytes(&*self.keys),
        );
        let hash: lightning::types::payment::PaymentHash = preimage.into();
        let payment_id = PaymentId(hash.0);
        let mut params = lightning::routing::router::RouteParameters::from_payment_params_and_value(
            lightning::routing::router::PaymentParameters::for_keysend(destination, 40, false),
            amount_msat,
        );
        params.max_total_routing_fee_msat = max_fee_msat;
        self.book(BookEntry::PaymentStarted {
            payment_id: payment_id.0,
            payment_hash: hash.0,
            kind: "keysend",
            destination: Some(destination.serialize()),
            amount_msat: amount_msat as i64,
            bolt11: None,
        });
        self.manager
            .send_spontaneous_payment(
                Some(preimage),
                channelmanager::RecipientOnionFields::spontaneous_empty(),
                payment_id,
                params,
                channelmanager::Retry::Timeout(Duration::from_secs(60)),
            )
            .map_err(|e| self.refused(payment_id, "keysend", e))?;
        Ok(hex(&payment_id.0))
    }

    /// Sends on-chain funds from the wallet.
    pub async fn send_onchain(
        &self,
        address: &bitcoin::Address,
        amount_sat: Option<u64>,
    ) -> Result<bitcoin::Txid, NodeError> {
        let w = self.wallet()?;
        let rate = self.fees.rate(ConfirmationTarget::OutputSpendingFee);
        let tx = w.build_send(
            address,
            amount_sat.map(Amount::from_sat),
            FeeRate::from_sat_per_kwu(rate as u64),
        )?;
        match self.broadcaster.send(&tx).await {
            Ok(txid) => Ok(txid),
            Err(e) => {
                w.cancel(&tx);
                Err(e)
            }
        }
    }
}

/// A change to the forwarding policy; absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct PolicyUpdate {
    pub base_fee_msat: Option<u32>,
    pub fee_ppm: Option<u32>,
    pub cltv_expiry_delta: Option<u16>,
    pub htlc_minimum_msat: Option<u64>,
}

async fn chain_tip(rpc: &RpcClient) -> Result<BestBlock, NodeError> {
    use lightning_block_sync::BlockSource;
    let (hash, height) = rpc.get_best_block().await.map_err(|e| NodeError::Rpc {
        method: "getbestblockhash".into(),
        message: format!("{e:?}"),
    })?;
    Ok(BestBlock::new(hash, height.unwrap_or(0)))
}

#[allow(clippy::too_many_arguments)]
async fn load_sweeper(
    kv: &PgKvStore,
    kv_arc: Arc<PgKvStore>,
    tip: BestBlock,
    broadcaster: Arc<Broadcaster>,
    fees: Arc<FeeEstimates>,
    keys: Arc<KeysManager>,
    wallet: Arc<OnchainWallet>,
    logger: Arc<LdkLogger>,
) -> Result<Sweeper, NodeError> {
    let stored = kv
        .read_async(
            OUTPUT_SWEEPER_PERSISTENCE_PRIMARY_NAMESPACE,
            OUTPUT_SWEEPER_PERSISTENCE_SECONDARY_NAMESPACE,
            OUTPUT_SWEEPER_PERSISTENCE_KEY,
        )
        .await
        .map_err(|e| NodeError::Lightning(format!("reading the sweeper: {e}")))?;
    match stored {
        Some(bytes) => {
            let (_, sweeper) = <(BestBlock, Sweeper)>::read(
                &mut &bytes[..],
                (broadcaster, fees, None, keys, wallet, kv_arc, logger),
            )
            .map_err(|e| NodeError::Lightning(format!("stored sweeper unreadable: {e:?}")))?;
            Ok(sweeper)
        }
        None => Ok(Sweeper::new(
            tip,
            broadcaster,
            fees,
            None,
            keys,
            wallet,
            kv_arc,
            logger,
        )),
    }
}

/// Hands each block to every chain listener of the node.
struct FeedListener(Arc<Lightning>);

impl Listen for FeedListener {
    fn filtered_block_connected(
        &self,
        header: &bitcoin::block::Header,
        txdata: &lightning::chain::transaction::TransactionData,
        height: u32,
    ) {
        self.0
            .manager
            .filtered_block_connected(header, txdata, height);
        self.0
            .chain_monitor
            .filtered_block_connected(header, txdata, height);
        if let Some(s) = &self.0.sweeper {
            s.filtered_block_connected(header, txdata, height);
        }
    }

    fn block_connected(&self, block: &bitcoin::Block, height: u32) {
        self.0.manager.block_connected(block, height);
        self.0.chain_monitor.block_connected(block, height);
        if let Some(w) = &self.0.wallet {
            w.block_connected(block, height);
        }
        if let Some(s) = &self.0.sweeper {
            s.block_connected(block, height);
        }
        self.0.metrics.ln_chain_height.set(height as i64);
    }

    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.0.manager.blocks_disconnected(fork_point);
        self.0.chain_monitor.blocks_disconnected(fork_point);
        if let Some(w) = &self.0.wallet {
            w.blocks_disconnected(fork_point);
        }
        if let Some(s) = &self.0.sweeper {
            s.blocks_disconnected(fork_point);
        }
    }
}

/// A restored monitor catching up to the tip before the chain monitor takes it over.
struct MonitorListener<'a> {
    monitor: &'a ChannelMonitor<InMemorySigner>,
    broadcaster: Arc<Broadcaster>,
    fees: Arc<FeeEstimates>,
    logger: Arc<LdkLogger>,
}

impl Listen for MonitorListener<'_> {
    fn filtered_block_connected(
        &self,
        header: &bitcoin::block::Header,
        txdata: &lightning::chain::transaction::TransactionData,
        height: u32,
    ) {
        self.monitor.block_connected(
            header,
            txdata,
            height,
            &*self.broadcaster,
            &*self.fees,
            &self.logger,
        );
    }

    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.monitor
            .blocks_disconnected(fork_point, &*self.broadcaster, &*self.fees, &self.logger);
    }
}
