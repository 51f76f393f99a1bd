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
//!
//! ## Layout
//! This file holds the [`Router`] implementation (checking LDK's request, searching, the
//! retry without learned limits); `base` converts and caches LDK's graph, `prepare` builds
//! the payer's view for one query (first hops, hints, in-flight HTLCs, limits), `ldk_route`
//! writes our routes in LDK's conventions and checks them; `tests` compares with LDK's own
//! conventions on small graphs.

mod base;
mod ldk_route;
mod prepare;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lightning::bitcoin::secp256k1::{PublicKey, Secp256k1, Signing, Verification};
use lightning::blinded_path::payment::{BlindedPaymentPath, ReceiveTlvs};
use lightning::ln::channel_state::ChannelDetails;
use lightning::routing::gossip::{NetworkGraph, NodeId as LdkNodeId};
use lightning::routing::router::{
    InFlightHtlcs, Payee, Route, RouteHint, RouteParameters, Router, MAX_PATH_LENGTH_ESTIMATE,
};
use lightning::types::features::{Bolt11InvoiceFeatures, NodeFeatures};
use lightning::util::logger::Logger;
use switchyard_graph::route::{
    self as engine, CostModel, MppRequest, RouteError, RouteRequest, RoutingIndex,
};
use switchyard_graph::{GraphBuilder, Scid};

use base::{add_channel, convert, fingerprint, learned_caps, node_id, BaseGraph};
use ldk_route::{check_route, ldk_path};
use prepare::{prepare, Extra};

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
    /// The channel's short channel id (as u64).
    pub scid: u64,
    /// The node the direction leads to.
    pub towards: LdkNodeId,
    /// The direction is expected to carry less than this (LDK's scorer sets it to the amount
    /// that failed there).
    pub max_msat: u64,
}

/// Where the router gets [`LearnedLimit`]s (the node's payment history, see `learn`).
pub trait LiquidityLimits: Send + Sync {
    /// Every limit currently known.
    fn known_max_liquidity(&self) -> Vec<LearnedLimit>;
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
