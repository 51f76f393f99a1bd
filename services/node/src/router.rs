//! # `SwitchyardRouter`: LDK's [`Router`] over switchyard's pathfinding
//!
//! The channel manager asks its [`Router`] for a [`Route`] whenever the node pays (and again on
//! every retry). [`SwitchyardRouter`] answers with the engine in `switchyard_graph::route` (the
//! one behind `/v1/routes`) instead of LDK's `find_route`, so the node pays over the routes we
//! can explain and benchmark. It converts LDK's [`NetworkGraph`] into a [`Snapshot`] and a
//! [`RoutingIndex`] (cached, see below), adds the payer's own channels (`first_hops`) and the
//! invoice's route hints as private edges, searches, and writes the result in LDK's
//! conventions ([`RouteHop::fee_msat`] and [`RouteHop::cltv_expiry_delta`] belong to the node
//! *at* the hop, for the *next* channel; the last hop carries the amount and the final delta).
//!
//! It must not: change LDK's graph, hold the graph's read lock while searching (gossip would
//! wait; the lock is taken only to fingerprint/copy the graph and to read features), do I/O,
//! panic on anything the caller passes, or return a route that LDK's own checks would refuse
//! (every route is re-checked here before it is returned).
//!
//! ## What is honoured
//! `final_value_msat`, `max_total_routing_fee_msat` (summed over all parts),
//! `max_total_cltv_expiry_delta` (the payee's final delta included), `max_path_count` (more
//! than one part only when the payee supports `basic_mpp`, exactly as LDK decides),
//! `max_path_length` (capped at LDK's [`MAX_PATH_LENGTH_ESTIMATE`]),
//! `previously_failed_channels` (public, first-hop and hint channels alike), the payee's final
//! cltv delta, `first_hops` (when given, the only channels the payer may use, with their live
//! `next_outbound_htlc_limit_msat` / `next_outbound_htlc_minimum_msat`) and `inflight_htlcs`
//! (subtracted from the capacity of every public and hint channel they use, both directions
//! together, which is conservative; not from first hops, whose limits already count them).
//! As in LDK, a channel is used only when both directions have a `channel_update`, and
//! channels or nodes requiring unknown feature bits are left out.
//!
//! With [`SwitchyardRouter::with_liquidity_limits`], a public channel direction carries no
//! more than the liquidity learned for it from earlier payments (less than the amount that
//! last failed there); when that leaves no route, the search runs again without the limits.
//!
//! ## Graph cache
//! Converting LDK's graph and building the index (landmark tables) costs far more than a
//! search, so the converted graph is kept. The change signal is a fingerprint of the graph
//! (every channel's scid, capacity, and both directions' `last_update`/`enabled`, plus every
//! node announcement's timestamp), an O(channels) pass without allocation under LDK's read
//! lock: any accepted `channel_update`, new or removed channel changes it. Because a live node
//! sees gossip every second, a changed graph is re-converted at most once per
//! [`RouterConfig::min_rebuild_interval`]; routes can therefore be that much behind gossip,
//! which the payment retry logic absorbs (a channel closed in between fails like any other).
//!
//! A query with first hops, route hints, in-flight HTLCs or learned limits cannot use the
//! cached index as is, so it builds a private index of the cached graph plus those edges. The
//! channel manager always passes first hops, so every real payment pays that build. The
//! private graph differs from the cached one only by the payer's own channels, restrictions
//! (in-flight HTLCs, learned limits, the payer's public channels left out) and, usually,
//! hints into the payee or into nodes the graph lacks; then the private index borrows the
//! cached index's landmark tables (`RoutingIndex::build_with_landmarks_of`), which are still
//! admissible there, instead of computing its own: 4x less work per payment
//! (`cargo bench --bench routing -- index/`). A hint into another public node makes it
//! compute them.
//!
//! ## Not supported
//! Blinded payees (BOLT 12) are refused with an error; [`Router::create_blinded_payment_paths`]
//! returns `Err(())` (the node does not offer receiving over blinded paths). There is no
//! random "shadow" cltv offset and no overpayment to meet an `htlc_minimum_msat`.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lightning::bitcoin::secp256k1::{PublicKey, Secp256k1, Signing, Verification};
use lightning::blinded_path::payment::{BlindedPaymentPath, ReceiveTlvs};
use lightning::ln::channel_state::ChannelDetails;
use lightning::routing::gossip::{
    ChannelUpdateInfo, NetworkGraph, NodeId as LdkNodeId, ReadOnlyNetworkGraph,
};
use lightning::routing::router::{
    InFlightHtlcs, Path, Payee, Route, RouteHint, RouteHop, RouteParameters, Router,
    MAX_PATH_LENGTH_ESTIMATE,
};
use lightning::types::features::{Bolt11InvoiceFeatures, ChannelFeatures, NodeFeatures};
use lightning::util::logger::Logger;
use lightning::util::ser::Writeable;
use switchyard_graph::load::{ChannelRecord, UpdateRecord};
use switchyard_graph::route::{
    self as engine, CostModel, MppRequest, RouteError, RouteRequest, RoutingIndex,
};
use switchyard_graph::{GraphBuilder, NodeId, Scid};

use crate::LdkLogger;

/// How the router chooses and how often it re-reads LDK's graph.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// What the search minimises. [`CostModel::Balanced`] (fee plus LDK's default price on
    /// uncertainty) suits real payments; [`CostModel::Fee`] is the cheapest route.
    pub cost_model: CostModel,
    /// Least time between two conversions of a changed graph (see the module docs).
    pub min_rebuild_interval: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            cost_model: CostModel::Balanced,
            min_rebuild_interval: Duration::from_secs(30),
        }
    }
}

/// LDK's [`Router`] over switchyard's pathfinding (module documentation).
pub struct SwitchyardRouter<L: Deref = Arc<LdkLogger>>
where
    L::Target: Logger,
{
    graph: Arc<NetworkGraph<L>>,
    config: RouterConfig,
    cache: Mutex<Option<Arc<BaseGraph>>>,
    limits: Option<Arc<dyn LiquidityLimits>>,
}

/// An upper bound on what a channel direction can carry, learned from earlier payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnedLimit {
    pub scid: u64,
    /// The node the direction leads to.
    pub towards: LdkNodeId,
    /// The direction is expected to carry less than this (LDK's scorer sets it to the amount
    /// that failed there).
    pub max_msat: u64,
}

/// Where the router gets [`LearnedLimit`]s (the node's payment history, see `learn`).
pub trait LiquidityLimits: Send + Sync {
    fn known_max_liquidity(&self) -> Vec<LearnedLimit>;
}

/// One usable public channel, as converted from LDK's graph.
struct BaseChannel {
    scid: Scid,
    /// `[node_one, node_two]`.
    nodes: [NodeId; 2],
    capacity_sat: u64,
    /// `[one_to_two, two_to_one]`.
    policies: [UpdateRecord; 2],
}

/// The converted graph and its index, shared by queries until the graph changes.
struct BaseGraph {
    fingerprint: u64,
    built_at: Instant,
    channels: Vec<BaseChannel>,
    index: Arc<RoutingIndex>,
}

/// Where an edge of a per-query index came from, when it is not a public channel.
#[derive(Debug, Clone, Copy)]
enum Extra {
    /// `first_hops[i]`.
    FirstHop(usize),
    /// A route hint hop, with its real scid.
    Hint(u64),
}

/// A payment request as `route` has checked it, for each search it runs.
struct Ask<'a> {
    payer: &'a PublicKey,
    payee: &'a PublicKey,
    route_hints: &'a [RouteHint],
    invoice_features: Option<&'a Bolt11InvoiceFeatures>,
    final_cltv: u16,
    max_hops: u8,
    allow_mpp: bool,
    first_hops: Option<&'a [&'a ChannelDetails]>,
    inflight: &'a InFlightHtlcs,
    route_params: &'a RouteParameters,
}

/// The graph a search runs on and the learned limits applied to it.
#[derive(Clone, Copy)]
struct Query<'a> {
    base: &'a BaseGraph,
    /// Most a direction may carry, by `(position in base.channels, direction)`.
    caps: &'a HashMap<(u64, usize), u64>,
}

/// The learned limits that bind (below the direction's own htlc_maximum), by position in
/// `base.channels` and direction.
fn learned_caps(base: &BaseGraph, limits: &[LearnedLimit]) -> HashMap<(u64, usize), u64> {
    if limits.is_empty() {
        return HashMap::new();
    }
    let position: HashMap<u64, usize> = base
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| (c.scid.0, i))
        .collect();
    let mut caps = HashMap::new();
    for l in limits {
        let Some(&i) = position.get(&l.scid) else {
            continue;
        };
        let c = &base.channels[i];
        let Some(towards) = ldk_node_bytes(&l.towards) else {
            continue;
        };
        // Direction 0 runs node_one -> node_two.
        let d = if towards == c.nodes[1] {
            0
        } else if towards == c.nodes[0] {
            1
        } else {
            continue;
        };
        let cap = l.max_msat.saturating_sub(1);
        if cap < c.policies[d].htlc_max_msat.unwrap_or(u64::MAX) {
            caps.insert((i as u64, d), cap);
        }
    }
    caps
}

/// The index a query searches, and how to read its scids back.
struct Prepared {
    index: Arc<RoutingIndex>,
    /// Synthetic scids of first hops and hints (they never collide with the graph's).
    extras: HashMap<Scid, Extra>,
}

impl<L: Deref> SwitchyardRouter<L>
where
    L::Target: Logger,
{
    /// A router over `graph` (the node's gossip-fed graph). Nothing is converted until the
    /// first route is asked for.
    pub fn new(graph: Arc<NetworkGraph<L>>, config: RouterConfig) -> Self {
        SwitchyardRouter {
            graph,
            config,
            cache: Mutex::new(None),
            limits: None,
        }
    }

    /// Routes avoid putting more on a channel direction than `limits` say it can carry; if
    /// no route is left that way, the limits are dropped and the search runs again (they are
    /// estimates, and the payment's own retries learn the rest).
    pub fn with_liquidity_limits(mut self, limits: Arc<dyn LiquidityLimits>) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The configuration this router was built with.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The cached graph, converted again when it changed and the last conversion is older
    /// than `min_rebuild_interval`.
    fn base_graph(&self) -> Arc<BaseGraph> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let ro = self.graph.read_only();
        let fingerprint = fingerprint(&ro);
        if let Some(b) = cache.as_ref() {
            if b.fingerprint == fingerprint
                || b.built_at.elapsed() < self.config.min_rebuild_interval
            {
                return b.clone();
            }
        }
        let channels = convert(&ro);
        drop(ro);
        let mut builder = GraphBuilder::default();
        for c in &channels {
            add_channel(&mut builder, c, c.capacity_sat, [true, true]);
        }
        let base = Arc::new(BaseGraph {
            fingerprint,
            built_at: Instant::now(),
            channels,
            index: Arc::new(RoutingIndex::build(Arc::new(builder.build()))),
        });
        *cache = Some(base.clone());
        base
    }

    fn route(
        &self,
        payer: &PublicKey,
        route_params: &RouteParameters,
        first_hops: Option<&[&ChannelDetails]>,
        inflight: &InFlightHtlcs,
    ) -> Result<Route, &'static str> {
        let params = &route_params.payment_params;
        let Payee::Clear {
            node_id: payee,
            route_hints,
            features: invoice_features,
            final_cltv_expiry_delta,
        } = &params.payee
        else {
            return Err("SwitchyardRouter cannot pay blinded payees (BOLT 12) yet");
        };
        let amount_msat = route_params.final_value_msat;
        if payee == payer {
            return Err("Cannot generate a route to ourselves");
        }
        if amount_msat == 0 {
            return Err("Cannot send a payment of 0 msat");
        }
        if amount_msat > engine::MAX_AMOUNT_MSAT {
            return Err("Cannot generate a route of more value than all existing satoshis");
        }
        if params.max_total_cltv_expiry_delta <= *final_cltv_expiry_delta {
            return Err("Can't find a route where the maximum total CLTV expiry delta is below the final CLTV expiry.");
        }
        let final_cltv = u16::try_from(*final_cltv_expiry_delta)
            .map_err(|_| "The final CLTV expiry delta is too large")?;
        if params.max_path_count == 0 {
            return Err("Can't find a route with no paths allowed.");
        }
        let max_hops = params.max_path_length.min(MAX_PATH_LENGTH_ESTIMATE);
        if max_hops == 0 {
            return Err("Can't find a route with a maximum path length of zero");
        }
        if let Some(hops) = first_hops {
            if hops.iter().any(|h| h.counterparty.node_id == *payer) {
                return Err("First hop cannot have our_node_pubkey as a destination.");
            }
            if hops.is_empty() {
                return Err("Cannot route when there are no outbound routes away from us");
            }
        }
        // MPP only if the payee says it supports it, as LDK decides.
        let allow_mpp = params.max_path_count > 1
            && invoice_features.as_ref().map_or_else(
                || {
                    let ro = self.graph.read_only();
                    ro.node(&LdkNodeId::from_pubkey(payee))
                        .and_then(|n| n.announcement_info.as_ref())
                        .is_some_and(|a| a.features().supports_basic_mpp())
                },
                |f| f.supports_basic_mpp(),
            );

        let ask = Ask {
            payer,
            payee,
            route_hints,
            invoice_features: invoice_features.as_ref(),
            final_cltv,
            max_hops,
            allow_mpp,
            first_hops,
            inflight,
            route_params,
        };
        let base = self.base_graph();
        let learned: HashMap<(u64, usize), u64> = self
            .limits
            .as_ref()
            .map(|l| learned_caps(&base, &l.known_max_liquidity()))
            .unwrap_or_default();
        if !learned.is_empty() {
            let capped = Query {
                base: &base,
                caps: &learned,
            };
            match self.route_on(capped, &ask) {
                Ok(route) => return Ok(route),
                Err(e) => tracing::debug!(
                    error = e,
                    limits = learned.len(),
                    "no route within the learned liquidity limits; searching without them"
                ),
            }
        }
        let plain = Query {
            base: &base,
            caps: &HashMap::new(),
        };
        self.route_on(plain, &ask)
    }

    /// The search and the conversion to LDK's [`Route`], on `q`'s graph and limits.
    fn route_on(&self, q: Query<'_>, ask: &Ask<'_>) -> Result<Route, &'static str> {
        let &Ask {
            payer,
            payee,
            route_hints,
            invoice_features,
            final_cltv,
            max_hops,
            allow_mpp,
            first_hops,
            inflight,
            route_params,
        } = ask;
        let params = &route_params.payment_params;
        let amount_msat = route_params.final_value_msat;
        let (payer_id, payee_id) = (node_id(payer), node_id(payee));
        let base = q.base;
        let prepared = prepare(&q, &payer_id, payee, first_hops, route_hints, inflight);
        let failed: HashSet<u64> = params.previously_failed_channels.iter().copied().collect();
        // Failed public channels by their scid, first hops and hints by their synthetic one.
        let exclude_channels = failed
            .iter()
            .map(|&s| Scid(s))
            .filter(|&s| base.index.snapshot().channel_idx(s).is_some())
            .chain(prepared.extras.iter().filter_map(|(s, e)| {
                let real = match e {
                    Extra::FirstHop(i) => first_hops
                        .and_then(|h| h.get(*i))
                        .and_then(|d| d.get_outbound_payment_scid())?,
                    Extra::Hint(real) => *real,
                };
                failed.contains(&real).then_some(*s)
            }))
            .collect();
        let request = RouteRequest {
            source: payer_id,
            destination: payee_id,
            amount_msat,
            cost_model: self.config.cost_model,
            max_fee_msat: route_params.max_total_routing_fee_msat,
            max_hops: Some(max_hops),
            max_cltv: Some(params.max_total_cltv_expiry_delta),
            final_cltv_delta: Some(final_cltv),
            exclude_nodes: Vec::new(),
            exclude_channels,
        };
        let parts = match prepared.index.find_route(&request) {
            Ok(r) => vec![r],
            Err(RouteError::Capacity) if allow_mpp => {
                let mpp = prepared
                    .index
                    .find_mpp(&MppRequest {
                        request,
                        force_split: true,
                    })
                    .map_err(|e| error_text(&e))?;
                if mpp.parts.len() > usize::from(params.max_path_count) {
                    return Err("Failed to find a route within max_path_count paths");
                }
                mpp.parts
            }
            Err(e) => return Err(error_text(&e)),
        };

        let ro = self.graph.read_only();
        let mut paths = Vec::with_capacity(parts.len());
        for part in &parts {
            paths.push(ldk_path(
                part,
                &prepared.extras,
                first_hops,
                &ro,
                u32::from(final_cltv),
            )?);
        }
        drop(ro);
        if let Some(f) = invoice_features {
            let features: NodeFeatures = f.to_context();
            for p in &mut paths {
                if let Some(last) = p.hops.last_mut() {
                    last.node_features = features.clone();
                }
            }
        }
        let route = Route {
            paths,
            route_params: Some(route_params.clone()),
        };
        check_route(&route, payer, route_params, max_hops)?;
        Ok(route)
    }
}

impl<L: Deref> Router for SwitchyardRouter<L>
where
    L::Target: Logger,
{
    fn find_route(
        &self,
        payer: &PublicKey,
        route_params: &RouteParameters,
        first_hops: Option<&[&ChannelDetails]>,
        inflight_htlcs: InFlightHtlcs,
    ) -> Result<Route, &'static str> {
        self.route(payer, route_params, first_hops, &inflight_htlcs)
    }

    /// Receiving over blinded paths is not offered by this node, so there are none to create.
    fn create_blinded_payment_paths<T: Signing + Verification>(
        &self,
        _recipient: PublicKey,
        _first_hops: Vec<ChannelDetails>,
        _tlvs: ReceiveTlvs,
        _amount_msats: Option<u64>,
        _secp_ctx: &Secp256k1<T>,
    ) -> Result<Vec<BlindedPaymentPath>, ()> {
        Err(())
    }
}

fn node_id(pk: &PublicKey) -> NodeId {
    NodeId::from_bytes_unchecked(pk.serialize())
}

fn ldk_node_bytes(id: &LdkNodeId) -> Option<NodeId> {
    <[u8; 33]>::try_from(id.as_slice())
        .ok()
        .map(NodeId::from_bytes_unchecked)
}

/// splitmix64's finaliser: spreads the bits of each channel's summary before they are added.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The change signal: order-independent (LDK's maps iterate in random order) sum of mixed
/// per-channel and per-node summaries.
fn fingerprint(g: &ReadOnlyNetworkGraph) -> u64 {
    let dir = |u: &Option<ChannelUpdateInfo>| {
        u.as_ref().map_or(0, |u| {
            (u64::from(u.last_update) << 1) | u64::from(u.enabled)
        })
    };
    let mut acc = mix(g.channels().len() as u64) ^ mix(!(g.nodes().len() as u64));
    for (scid, c) in g.channels().unordered_iter() {
        let summary = mix(*scid)
            ^ mix(dir(&c.one_to_two)).rotate_left(1)
            ^ mix(dir(&c.two_to_one)).rotate_left(2)
            ^ mix(c.capacity_sats.unwrap_or(u64::MAX)).rotate_left(3);
        acc = acc.wrapping_add(mix(summary));
    }
    for (id, n) in g.nodes().unordered_iter() {
        if let Some(a) = &n.announcement_info {
            let mut key = [0u8; 8];
            key.copy_from_slice(&id.as_slice()[1..9]);
            acc = acc.wrapping_add(mix(u64::from_le_bytes(key) ^ u64::from(a.last_update())));
        }
    }
    acc
}

/// LDK's graph as our records: channels with both directions known, no unknown required
/// features on the channel or its nodes (LDK's own filter when it routes).
fn convert(g: &ReadOnlyNetworkGraph) -> Vec<BaseChannel> {
    let nodes = g.nodes();
    let unusable = |id: &LdkNodeId| {
        nodes
            .get(id)
            .and_then(|n| n.announcement_info.as_ref())
            .is_some_and(|a| a.features().requires_unknown_bits())
    };
    let mut out = Vec::with_capacity(g.channels().len());
    for (&scid, c) in g.channels().unordered_iter() {
        let (Some(one), Some(two)) = (&c.one_to_two, &c.two_to_one) else {
            continue;
        };
        if c.features.requires_unknown_bits() || unusable(&c.node_one) || unusable(&c.node_two) {
            continue;
        }
        let (Some(n1), Some(n2)) = (ldk_node_bytes(&c.node_one), ldk_node_bytes(&c.node_two))
        else {
            continue;
        };
        let scid = Scid(scid);
        // Without a known capacity LDK trusts the advertised htlc_maximum.
        let capacity_sat = c.capacity_sats.unwrap_or_else(|| {
            one.htlc_maximum_msat
                .max(two.htlc_maximum_msat)
                .div_ceil(1000)
        });
        let policy = |u: &ChannelUpdateInfo, direction: u8| UpdateRecord {
            scid,
            direction,
            timestamp: u.last_update,
            message_flags: 1,
            channel_flags: direction | if u.enabled { 0 } else { 2 },
            disabled: !u.enabled,
            cltv_delta: u.cltv_expiry_delta,
            htlc_min_msat: u.htlc_minimum_msat,
            htlc_max_msat: Some(u.htlc_maximum_msat),
            fee_base_msat: u.fees.base_msat,
            fee_ppm: u.fees.proportional_millionths,
        };
        out.push(BaseChannel {
            scid,
            nodes: [n1, n2],
            capacity_sat,
            policies: [policy(one, 0), policy(two, 1)],
        });
    }
    out
}

fn add_channel(b: &mut GraphBuilder, c: &BaseChannel, capacity_sat: u64, directions: [bool; 2]) {
    b.add_channel(ChannelRecord {
        scid: c.scid,
        node_1: c.nodes[0],
        node_2: c.nodes[1],
        capacity_sat,
        funding_outpoint: None,
    });
    for (d, p) in c.policies.iter().enumerate() {
        if directions[d] {
            b.add_update(p.clone());
        }
    }
}

/// A one-directional private edge `from -> to` (BOLT 7 order kept for the record).
#[allow(clippy::too_many_arguments)]
fn add_private(
    b: &mut GraphBuilder,
    scid: Scid,
    from: NodeId,
    to: NodeId,
    capacity_sat: u64,
    fee_base_msat: u32,
    fee_ppm: u32,
    cltv_delta: u16,
    htlc_min_msat: u64,
    htlc_max_msat: u64,
) {
    let (node_1, node_2, direction) = if from < to {
        (from, to, 0)
    } else {
        (to, from, 1)
    };
    b.add_channel(ChannelRecord {
        scid,
        node_1,
        node_2,
        capacity_sat,
        funding_outpoint: None,
    });
    b.add_update(UpdateRecord {
        scid,
        direction,
        timestamp: 0,
        message_flags: 1,
        channel_flags: direction,
        disabled: false,
        cltv_delta,
        htlc_min_msat,
        htlc_max_msat: Some(htlc_max_msat),
        fee_base_msat,
        fee_ppm,
    });
}

/// Capacity (sat) given to hint channels without an `htlc_maximum_msat`: all bitcoin, i.e.
/// unknown and not limiting (LDK treats them as infinite).
const UNKNOWN_CAPACITY_SAT: u64 = engine::MAX_AMOUNT_MSAT / 1000;

/// The index for this query: the cached one when nothing is added, else a private one with
/// the first hops (replacing the payer's public channels), the hints and in-flight HTLCs.
fn prepare(
    q: &Query<'_>,
    payer: &NodeId,
    payee: &PublicKey,
    first_hops: Option<&[&ChannelDetails]>,
    route_hints: &[RouteHint],
    inflight: &InFlightHtlcs,
) -> Prepared {
    let base = q.base;
    let has_inflight = inflight.encode().len() > InFlightHtlcs::new().encode().len();
    let has_hints = route_hints.iter().any(|h| !h.0.is_empty());
    if first_hops.is_none() && !has_hints && !has_inflight && q.caps.is_empty() {
        return Prepared {
            index: base.index.clone(),
            extras: HashMap::new(),
        };
    }
    let snapshot = base.index.snapshot();
    let mut next = u64::MAX;
    let mut synthetic = || loop {
        let s = Scid(next);
        next -= 1;
        if snapshot.channel_idx(s).is_none() {
            return s;
        }
    };
    let used = |from: &NodeId, to: &NodeId, scid: u64| -> u64 {
        if !has_inflight {
            return 0;
        }
        match (LdkNodeId::from_slice(&from.0), LdkNodeId::from_slice(&to.0)) {
            (Ok(f), Ok(t)) => inflight.used_liquidity_msat(&f, &t, scid).unwrap_or(0),
            _ => 0,
        }
    };

    // The cached index's landmark tables stay valid lower bounds when this graph only adds
    // the payer's own channels and hints into the payee or into nodes the graph lacks (see
    // `RoutingIndex::build_with_landmarks_of`); computing new ones is most of a build.
    let mut reuse_landmarks = true;
    let payee_id = node_id(payee);
    let mut b = GraphBuilder::default();
    let mut extras = HashMap::new();
    for (i, c) in base.channels.iter().enumerate() {
        let in_flight = used(&c.nodes[0], &c.nodes[1], c.scid.0).saturating_add(used(
            &c.nodes[1],
            &c.nodes[0],
            c.scid.0,
        ));
        let capacity_sat = c.capacity_sat.saturating_sub(in_flight.div_ceil(1000));
        // With first hops, the payer's public channels are replaced by them.
        let keep = |d: usize| first_hops.is_none() || c.nodes[d] != *payer;
        let caps = [q.caps.get(&(i as u64, 0)), q.caps.get(&(i as u64, 1))];
        if caps.iter().any(Option::is_some) {
            let mut capped = BaseChannel {
                scid: c.scid,
                nodes: c.nodes,
                capacity_sat: c.capacity_sat,
                policies: c.policies.clone(),
            };
            for (p, cap) in capped.policies.iter_mut().zip(caps) {
                if let Some(&cap) = cap {
                    p.htlc_max_msat = Some(p.htlc_max_msat.map_or(cap, |m| m.min(cap)));
                }
            }
            add_channel(&mut b, &capped, capacity_sat, [keep(0), keep(1)]);
        } else {
            add_channel(&mut b, c, capacity_sat, [keep(0), keep(1)]);
        }
    }
    let mut first_scids = HashMap::new();
    for (i, d) in first_hops.unwrap_or_default().iter().enumerate() {
        if d.get_outbound_payment_scid().is_none() {
            continue; // not usable yet (LDK would refuse it outright)
        }
        let limit = d.next_outbound_htlc_limit_msat;
        let scid = synthetic();
        // Capacity in whole sat, rounded down, so that parts never sum above the limit.
        add_private(
            &mut b,
            scid,
            *payer,
            node_id(&d.counterparty.node_id),
            limit / 1000,
            0,
            0,
            0,
            d.next_outbound_htlc_minimum_msat,
            limit,
        );
        extras.insert(scid, Extra::FirstHop(i));
        first_scids
            .entry(d.counterparty.node_id)
            .or_insert_with(Vec::new)
            .extend([d.short_channel_id, d.outbound_scid_alias]);
    }
    for hint in route_hints {
        // Walk from the payee back to the hint's entry, as LDK does: a hop over one of our own
        // channels ends the hint (that hop and the ones before it are ours to choose).
        let targets = hint
            .0
            .iter()
            .skip(1)
            .map(|h| h.src_node_id)
            .chain(std::iter::once(*payee));
        let hops: Vec<_> = hint.0.iter().zip(targets).collect();
        for (hop, target) in hops.into_iter().rev() {
            if first_scids
                .get(&target)
                .is_some_and(|s| s.contains(&Some(hop.short_channel_id)))
            {
                break;
            }
            let from = node_id(&hop.src_node_id);
            let to = node_id(&target);
            if from == to {
                continue;
            }
            let htlc_max = hop.htlc_maximum_msat.unwrap_or(engine::MAX_AMOUNT_MSAT);
            let capacity_sat = match hop.htlc_maximum_msat {
                Some(m) => m.div_ceil(1000),
                None => UNKNOWN_CAPACITY_SAT,
            }
            .saturating_sub(used(&from, &to, hop.short_channel_id).div_ceil(1000));
            let scid = synthetic();
            reuse_landmarks &= to == payee_id || snapshot.node_idx(&to).is_none();
            add_private(
                &mut b,
                scid,
                from,
                to,
                capacity_sat,
                hop.fees.base_msat,
                hop.fees.proportional_millionths,
                hop.cltv_expiry_delta,
                hop.htlc_minimum_msat.unwrap_or(0),
                htlc_max,
            );
            extras.insert(scid, Extra::Hint(hop.short_channel_id));
        }
    }
    let snapshot = Arc::new(b.build());
    let index = if reuse_landmarks {
        RoutingIndex::build_with_landmarks_of(snapshot, &base.index)
    } else {
        RoutingIndex::build(snapshot)
    };
    Prepared {
        index: Arc::new(index),
        extras,
    }
}

/// What LDK assumes of a node it knows nothing about.
fn default_node_features() -> NodeFeatures {
    let mut f = NodeFeatures::empty();
    f.set_variable_length_onion_optional();
    f
}

/// The node's announced features, LDK's default when it has none.
fn graph_node_features(g: &ReadOnlyNetworkGraph, id: &LdkNodeId) -> NodeFeatures {
    g.node(id)
        .and_then(|n| n.announcement_info.as_ref())
        .map_or_else(default_node_features, |a| a.features().clone())
}

/// One part in LDK's conventions: hop `i` names the node it reaches and the channel into it;
/// its `fee_msat` / `cltv_expiry_delta` are what that node charges / adds for the *next*
/// channel (the engine's hop `i + 1`), and the last hop's are the amount and the final delta.
fn ldk_path(
    part: &engine::Route,
    extras: &HashMap<Scid, Extra>,
    first_hops: Option<&[&ChannelDetails]>,
    g: &ReadOnlyNetworkGraph,
    final_cltv: u32,
) -> Result<Path, &'static str> {
    let mut hops = Vec::with_capacity(part.hops.len());
    for (i, h) in part.hops.iter().enumerate() {
        let pubkey = PublicKey::from_slice(h.to.as_bytes())
            .map_err(|_| "A PublicKey in NetworkGraph is invalid!")?;
        let target = LdkNodeId::from_pubkey(&pubkey);
        let (fee_msat, cltv_expiry_delta) = match part.hops.get(i + 1) {
            Some(next) => (next.fee_msat, u32::from(next.cltv_delta)),
            None => (part.amount_msat, final_cltv),
        };
        let (short_channel_id, channel_features, node_features, maybe_announced_channel) =
            match extras.get(&h.scid) {
                Some(Extra::FirstHop(j)) => {
                    let d = first_hops
                        .and_then(|f| f.get(*j))
                        .ok_or("internal error: unknown first hop")?;
                    let scid = d
                        .get_outbound_payment_scid()
                        .ok_or("internal error: first hop without an scid")?;
                    let features = &d.counterparty.features;
                    (
                        scid,
                        features.to_context(),
                        features.to_context(),
                        d.is_announced,
                    )
                }
                Some(Extra::Hint(real)) => {
                    // As LDK: possibly announced if any public channel joins the two nodes in
                    // this direction (the hint's scid may be an alias of it).
                    let source = LdkNodeId::from_slice(h.from.as_bytes())
                        .map_err(|_| "A PublicKey in a route hint is invalid!")?;
                    let announced = g.node(&target).is_some_and(|n| {
                        n.channels.iter().any(|s| {
                            g.channel(*s)
                                .is_some_and(|c| c.as_directed_from(&source).is_some())
                        })
                    });
                    (
                        *real,
                        ChannelFeatures::empty(),
                        graph_node_features(g, &target),
                        announced,
                    )
                }
                None => (
                    h.scid.0,
                    g.channel(h.scid.0)
                        .map_or_else(ChannelFeatures::empty, |c| c.features.clone()),
                    graph_node_features(g, &target),
                    true,
                ),
            };
        hops.push(RouteHop {
            pubkey,
            node_features,
            short_channel_id,
            channel_features,
            fee_msat,
            cltv_expiry_delta,
            maybe_announced_channel,
        });
    }
    Ok(Path {
        hops,
        blinded_tail: None,
    })
}

/// The checks LDK's `pay_route_internal` makes, plus the request's own limits; a failure
/// here is a bug, reported as an error rather than a payment LDK would refuse.
fn check_route(
    route: &Route,
    payer: &PublicKey,
    params: &RouteParameters,
    max_hops: u8,
) -> Result<(), &'static str> {
    if route.paths.is_empty() {
        return Err("internal error: route without paths");
    }
    let mut delivered = 0u64;
    for p in &route.paths {
        if p.hops.is_empty() || p.hops.len() > usize::from(max_hops) {
            return Err("internal error: path length out of bounds");
        }
        for (i, h) in p.hops.iter().enumerate() {
            if h.pubkey == *payer {
                return Err("internal error: path goes through the payer");
            }
            if p.hops[i + 1..]
                .iter()
                .any(|o| o.short_channel_id == h.short_channel_id)
            {
                return Err("internal error: path uses a channel twice");
            }
        }
        let cltv: u32 = p.hops.iter().map(|h| h.cltv_expiry_delta).sum();
        if cltv > params.payment_params.max_total_cltv_expiry_delta {
            return Err("internal error: path exceeds the cltv limit");
        }
        delivered = delivered.saturating_add(p.final_value_msat());
    }
    if delivered != params.final_value_msat {
        return Err("internal error: parts do not sum to the amount");
    }
    if route.paths.len() > usize::from(params.payment_params.max_path_count) {
        return Err("internal error: more paths than allowed");
    }
    if params
        .max_total_routing_fee_msat
        .is_some_and(|max| route.get_total_fees() > max)
    {
        return Err("Failed to find route that adheres to the maximum total fee limit");
    }
    Ok(())
}

fn error_text(e: &RouteError) -> &'static str {
    match e {
        RouteError::InvalidRequest(_) => "Invalid route parameters",
        RouteError::UnknownSource(_) => {
            "The payer has no usable channels in the graph and no first hops were given"
        }
        RouteError::UnknownDestination(_) => {
            "The payee is not in the graph and no route hint reaches it"
        }
        RouteError::SameNode => "Cannot generate a route to ourselves",
        RouteError::Disconnected => "Failed to find a path to the given destination",
        RouteError::Capacity => "Failed to find a sufficient route to the given destination",
        RouteError::FeeLimit => "Failed to find route that adheres to the maximum total fee limit",
        RouteError::CltvLimit => {
            "Failed to find a route within the maximum total CLTV expiry delta"
        }
        RouteError::HopLimit => "Failed to find a route within the maximum path length",
        RouteError::SearchBudget { .. } => {
            "Gave up looking for a route within the CLTV and path-length limits (search budget)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightning::bitcoin::constants::ChainHash;
    use lightning::bitcoin::secp256k1::SecretKey;
    use lightning::bitcoin::Network;
    use lightning::ln::channel_state::ChannelCounterparty;
    use lightning::ln::msgs::UnsignedChannelUpdate;
    use lightning::ln::types::ChannelId;
    use lightning::routing::router::{find_route, PaymentParameters, RouteHintHop};
    use lightning::routing::scoring::FixedPenaltyScorer;
    use lightning::types::features::{Bolt11InvoiceFeatures, InitFeatures};
    use lightning::types::routing::RoutingFees;

    struct NoLog;
    impl Logger for NoLog {
        fn log(&self, _record: lightning::util::logger::Record) {}
    }
    static NO_LOG: NoLog = NoLog;
    type TestGraph = NetworkGraph<&'static NoLog>;

    // Nodes: P pays, A and B are its private peers, C is public, Z (the payee) is private.
    const P: u8 = 1;
    const A: u8 = 2;
    const B: u8 = 3;
    const C: u8 = 4;
    const Z: u8 = 5;
    const SCID_PC: u64 = 700_000 << 40;
    const SCID_AC: u64 = (700_001 << 40) | (1 << 16);
    const SCID_BC: u64 = (700_002 << 40) | (2 << 16);
    const ALIAS_A: u64 = 0x000A_11A5_0001;
    const ALIAS_B: u64 = 0x000A_11A5_0002;
    const HINT_CZ: u64 = (777 << 40) | (1 << 16);

    fn pk(i: u8) -> PublicKey {
        let sk = SecretKey::from_slice(&[i; 32]).expect("valid secret key");
        PublicKey::from_secret_key(&Secp256k1::new(), &sk)
    }

    /// `(base_msat, ppm, cltv)` in both directions.
    fn channel(g: &TestGraph, scid: u64, a: u8, b: u8, cap_sat: u64, fee: (u32, u32, u16)) {
        let (x, y) = (
            LdkNodeId::from_pubkey(&pk(a)),
            LdkNodeId::from_pubkey(&pk(b)),
        );
        let (n1, n2) = if x < y { (x, y) } else { (y, x) };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        g.add_channel_from_partial_announcement(
            scid,
            Some(cap_sat),
            now - 60,
            ChannelFeatures::empty(),
            n1,
            n2,
        )
        .expect("channel added");
        for dir in 0..2u8 {
            g.update_channel_unsigned(&UnsignedChannelUpdate {
                chain_hash: ChainHash::using_genesis_block(Network::Bitcoin),
                short_channel_id: scid,
                timestamp: (now - 60) as u32,
                message_flags: 1,
                channel_flags: dir,
                cltv_expiry_delta: fee.2,
                htlc_minimum_msat: 1,
                htlc_maximum_msat: cap_sat * 1000,
                fee_base_msat: fee.0,
                fee_proportional_millionths: fee.1,
                excess_data: Vec::new(),
            })
            .expect("update applied");
        }
    }

    fn graph() -> Arc<TestGraph> {
        let g = NetworkGraph::new(Network::Bitcoin, &NO_LOG);
        channel(&g, SCID_PC, P, C, 10_000_000, (0, 0, 10));
        channel(&g, SCID_AC, A, C, 1_000_000, (1_000, 100, 40));
        channel(&g, SCID_BC, B, C, 1_000_000, (2_000, 200, 50));
        Arc::new(g)
    }

    fn first_hop(peer: u8, alias: u64, limit_msat: u64) -> ChannelDetails {
        ChannelDetails {
            channel_id: ChannelId([peer; 32]),
            counterparty: ChannelCounterparty {
                node_id: pk(peer),
                features: InitFeatures::empty(),
                unspendable_punishment_reserve: 0,
                forwarding_info: None,
                outbound_htlc_minimum_msat: None,
                outbound_htlc_maximum_msat: None,
            },
            funding_txo: None,
            channel_type: None,
            short_channel_id: None,
            outbound_scid_alias: Some(alias),
            inbound_scid_alias: None,
            channel_value_satoshis: limit_msat / 500,
            unspendable_punishment_reserve: None,
            user_channel_id: 0,
            outbound_capacity_msat: limit_msat,
            next_outbound_htlc_limit_msat: limit_msat,
            next_outbound_htlc_minimum_msat: 1_000,
            inbound_capacity_msat: 0,
            confirmations_required: None,
            confirmations: None,
            force_close_spend_delay: None,
            is_outbound: true,
            is_channel_ready: true,
            channel_shutdown_state: None,
            is_usable: true,
            is_announced: false,
            inbound_htlc_minimum_msat: None,
            inbound_htlc_maximum_msat: None,
            config: None,
            pending_inbound_htlcs: Vec::new(),
            pending_outbound_htlcs: Vec::new(),
            funding_redeem_script: None,
            feerate_sat_per_1000_weight: None,
        }
    }

    fn hops() -> Vec<ChannelDetails> {
        vec![
            first_hop(A, ALIAS_A, 100_000_000),
            first_hop(B, ALIAS_B, 100_000_000),
        ]
    }

    /// Paying Z (private) through the hint C -> Z, with MPP allowed by the invoice.
    fn params(amount_msat: u64, mpp: bool) -> RouteParameters {
        let hint = RouteHint(vec![RouteHintHop {
            src_node_id: pk(C),
            short_channel_id: HINT_CZ,
            fees: RoutingFees {
                base_msat: 500,
                proportional_millionths: 1_000,
            },
            cltv_expiry_delta: 60,
            htlc_minimum_msat: None,
            htlc_maximum_msat: None,
        }]);
        let mut features = Bolt11InvoiceFeatures::empty();
        features.set_variable_length_onion_optional();
        features.set_payment_secret_required();
        if mpp {
            features.set_basic_mpp_optional();
        }
        let pp = PaymentParameters::from_node_id(pk(Z), 24)
            .with_route_hints(vec![hint])
            .and_then(|p| p.with_bolt11_features(features))
            .expect("valid payment parameters");
        RouteParameters::from_payment_params_and_value(pp, amount_msat)
    }

    fn router(g: &Arc<TestGraph>, model: CostModel) -> SwitchyardRouter<&'static NoLog> {
        SwitchyardRouter::new(
            g.clone(),
            RouterConfig {
                cost_model: model,
                min_rebuild_interval: Duration::ZERO,
            },
        )
    }

    /// `(scid, node number, fee_msat, cltv_expiry_delta, maybe_announced)` per hop.
    type Hop = (u64, u8, u64, u32, bool);

    fn summary(r: &Route) -> Vec<Vec<Hop>> {
        let who = |p: &PublicKey| (1..=5).find(|&i| pk(i) == *p).unwrap_or(0);
        r.paths
            .iter()
            .map(|p| {
                p.hops
                    .iter()
                    .map(|h| {
                        (
                            h.short_channel_id,
                            who(&h.pubkey),
                            h.fee_msat,
                            h.cltv_expiry_delta,
                            h.maybe_announced_channel,
                        )
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn first_hops_replace_public_channels_and_hints_reach_a_private_payee() {
        let g = graph();
        let details = hops();
        let first: Vec<&ChannelDetails> = details.iter().collect();
        let rp = params(50_000_000, true);
        for model in [CostModel::Fee, CostModel::Balanced] {
            let r = router(&g, model)
                .find_route(&pk(P), &rp, Some(&first), InFlightHtlcs::new())
                .expect("route");
            // C charges 500 + 0.1% of 50,000,000 = 50,500 for the hint; A charges
            // 1,000 + 100 ppm of 50,050,500 = 6,005 for A -> C. B would charge 12,010.
            assert_eq!(
                summary(&r),
                vec![vec![
                    (ALIAS_A, A, 6_005, 40, false),
                    (SCID_AC, C, 50_500, 60, true),
                    (HINT_CZ, Z, 50_000_000, 24, false),
                ]],
                "{model:?}"
            );
            assert_eq!(r.get_total_fees(), 56_505);
            assert_eq!(r.route_params.as_ref(), Some(&rp));
            assert!(r.paths[0].hops[2].node_features.supports_basic_mpp());
        }
        // LDK's own router agrees on the fee.
        let scorer = FixedPenaltyScorer::with_penalty(0);
        let ldk = find_route(
            &pk(P),
            &rp,
            &g,
            Some(&first),
            &NO_LOG,
            &scorer,
            &(),
            &[7; 32],
        )
        .expect("LDK route");
        assert_eq!(ldk.get_total_fees(), 56_505);

        // Without first hops the payer's public channel P -> C is free to use.
        let r = router(&g, CostModel::Fee)
            .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
            .expect("route");
        assert_eq!(
            summary(&r),
            vec![vec![
                (SCID_PC, C, 50_500, 60, true),
                (HINT_CZ, Z, 50_000_000, 24, false)
            ]]
        );
    }

    #[test]
    fn mpp_splits_over_both_first_hops_and_parts_sum_to_the_amount() {
        let g = graph();
        let details = hops();
        let first: Vec<&ChannelDetails> = details.iter().collect();
        let amount = 150_000_000;
        let r = router(&g, CostModel::Balanced)
            .find_route(
                &pk(P),
                &params(amount, true),
                Some(&first),
                InFlightHtlcs::new(),
            )
            .expect("MPP route");
        assert!(r.paths.len() >= 2, "{} paths", r.paths.len());
        assert_eq!(
            r.paths.iter().map(|p| p.final_value_msat()).sum::<u64>(),
            amount
        );
        let mut per_first_hop: HashMap<u64, u64> = HashMap::new();
        for p in &r.paths {
            let h = &p.hops;
            assert_eq!(h.len(), 3);
            assert!([ALIAS_A, ALIAS_B].contains(&h[0].short_channel_id));
            assert_eq!(h[2].short_channel_id, HINT_CZ);
            assert_eq!(h[2].pubkey, pk(Z));
            // What the first hop carries: the part plus every fee after it.
            *per_first_hop.entry(h[0].short_channel_id).or_default() +=
                p.fee_msat() + p.final_value_msat();
            // The hint's fee on this part's amount, charged by C.
            assert_eq!(h[1].fee_msat, 500 + p.final_value_msat() / 1_000);
        }
        assert_eq!(per_first_hop.len(), 2, "both first hops are needed");
        assert!(per_first_hop.values().all(|&v| v <= 100_000_000));

        // Without MPP support in the invoice, or with one path allowed, there is no route.
        let err = router(&g, CostModel::Balanced)
            .find_route(
                &pk(P),
                &params(amount, false),
                Some(&first),
                InFlightHtlcs::new(),
            )
            .unwrap_err();
        assert!(err.contains("sufficient"), "{err}");
        let mut one = params(amount, true);
        one.payment_params.max_path_count = 1;
        assert!(router(&g, CostModel::Fee)
            .find_route(&pk(P), &one, Some(&first), InFlightHtlcs::new())
            .is_err());
    }

    #[test]
    fn failed_channels_inflight_htlcs_and_limits_are_honoured() {
        let g = graph();
        let details = hops();
        let first: Vec<&ChannelDetails> = details.iter().collect();
        let r = router(&g, CostModel::Fee);
        let via = |route: &Route| route.paths[0].hops[0].short_channel_id;

        let mut failed = params(50_000_000, true);
        failed.payment_params.previously_failed_channels = vec![SCID_AC];
        let route = r
            .find_route(&pk(P), &failed, Some(&first), InFlightHtlcs::new())
            .expect("route via B");
        assert_eq!(via(&route), ALIAS_B);

        // 990,000 sat in flight over A -> C leaves it 10,000 sat: too little for 50,000 sat.
        let mut inflight = InFlightHtlcs::new();
        inflight.add_inflight_htlc(
            &LdkNodeId::from_pubkey(&pk(A)),
            &LdkNodeId::from_pubkey(&pk(C)),
            SCID_AC,
            990_000_000,
        );
        let route = r
            .find_route(&pk(P), &params(50_000_000, true), Some(&first), inflight)
            .expect("route via B");
        assert_eq!(via(&route), ALIAS_B);

        let mut tight = params(50_000_000, true);
        tight.max_total_routing_fee_msat = Some(56_504);
        assert!(r
            .find_route(&pk(P), &tight, Some(&first), InFlightHtlcs::new())
            .is_err());
        tight.max_total_routing_fee_msat = Some(56_505);
        assert!(r
            .find_route(&pk(P), &tight, Some(&first), InFlightHtlcs::new())
            .is_ok());

        // Total cltv 40 + 60 + 24 = 124.
        let mut cltv = params(50_000_000, true);
        cltv.payment_params.max_total_cltv_expiry_delta = 123;
        assert!(r
            .find_route(&pk(P), &cltv, Some(&first), InFlightHtlcs::new())
            .is_err());
        cltv.payment_params.max_total_cltv_expiry_delta = 124;
        assert!(r
            .find_route(&pk(P), &cltv, Some(&first), InFlightHtlcs::new())
            .is_ok());

        let mut short = params(50_000_000, true);
        short.payment_params.max_path_length = 2;
        assert!(r
            .find_route(&pk(P), &short, Some(&first), InFlightHtlcs::new())
            .is_err());

        assert!(r
            .find_route(
                &pk(P),
                &params(50_000_000, true),
                Some(&[]),
                InFlightHtlcs::new()
            )
            .is_err());
        assert!(r
            .find_route(
                &pk(Z),
                &params(50_000_000, true),
                None,
                InFlightHtlcs::new()
            )
            .is_err());
    }

    #[test]
    fn blinded_payees_are_refused_and_no_blinded_paths_are_offered() {
        let g = graph();
        let r = router(&g, CostModel::Balanced);
        let pp = PaymentParameters::blinded(Vec::new());
        let rp = RouteParameters::from_payment_params_and_value(pp, 1_000);
        let err = r
            .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
            .unwrap_err();
        assert!(err.contains("blinded"), "{err}");
    }

    struct Learned(Vec<LearnedLimit>);

    impl LiquidityLimits for Learned {
        fn known_max_liquidity(&self) -> Vec<LearnedLimit> {
            self.0.clone()
        }
    }

    fn limit(scid: u64, towards: u8, max_msat: u64) -> LearnedLimit {
        LearnedLimit {
            scid,
            towards: LdkNodeId::from_pubkey(&pk(towards)),
            max_msat,
        }
    }

    #[test]
    fn learned_limits_steer_routes_and_are_dropped_when_nothing_else_is_left() {
        let g = graph();
        let details = hops();
        let first: Vec<&ChannelDetails> = details.iter().collect();
        let rp = params(50_000_000, false);
        let via = |limits: Vec<LearnedLimit>| {
            let r = router(&g, CostModel::Fee)
                .with_liquidity_limits(Arc::new(Learned(limits)))
                .find_route(&pk(P), &rp, Some(&first), InFlightHtlcs::new())
                .expect("route");
            summary(&r)[0][1].0
        };
        // A -> C is the cheaper way (see above) until we learn it cannot carry the amount.
        assert_eq!(via(Vec::new()), SCID_AC);
        assert_eq!(via(vec![limit(SCID_AC, C, 1_000_000)]), SCID_BC);
        // A limit in the other direction (C -> A) or above the amount changes nothing.
        assert_eq!(via(vec![limit(SCID_AC, A, 1_000_000)]), SCID_AC);
        assert_eq!(via(vec![limit(SCID_AC, C, 900_000_000)]), SCID_AC);
        // Both ways limited: the estimates are dropped rather than the payment refused.
        assert_eq!(
            via(vec![
                limit(SCID_AC, C, 1_000_000),
                limit(SCID_BC, C, 1_000_000)
            ]),
            SCID_AC
        );
    }

    #[test]
    fn the_cached_graph_follows_changes_to_ldks_graph() {
        let g = graph();
        let r = router(&g, CostModel::Fee);
        let rp = params(50_000_000, true);
        assert!(r
            .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
            .is_ok());
        let before = r.base_graph().fingerprint;
        g.channel_failed_permanent(SCID_PC);
        assert_ne!(r.base_graph().fingerprint, before);
        // P's only channel is gone: no route without first hops.
        assert!(r
            .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
            .is_err());
    }
}
