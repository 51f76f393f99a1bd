//! # Pathfinding on a [`Snapshot`]
//!
//! Lightning-correct payment routes: single-path search under three cost models
//! ([`CostModel`]), multi-part payments by min-cost flow ([`RoutingIndex::find_mpp`]), and
//! batch / many-to-many queries on rayon. Build a [`RoutingIndex`] once per snapshot, then
//! query it from any thread.
//!
//! Pure computation: no I/O, no logging, no async. Requests come straight from HTTP users, so
//! nothing here panics on caller input; every refusal is a [`RouteError`] with a stable
//! [`RouteError::code`].
//!
//! ## Route semantics (what [`validate::validate_route`] re-derives independently)
//! A route is hops `h_0 .. h_{k-1}`, `h_0` leaving the source and `h_{k-1}` reaching the
//! destination. For hop `i`:
//! * `amount_to_forward_msat` is the HTLC amount carried over the hop's channel, delivered to
//!   `to`. The last hop carries exactly the payment amount.
//! * `fee_msat` is what `from` charges for forwarding over this channel, by the channel
//!   direction's policy: `base + floor(amount_to_forward_msat x ppm / 10^6)`; 0 for `h_0`
//!   (the payer pays no fee to itself). `amount_to_forward(h_{i-1}) = amount_to_forward(h_i) +
//!   fee(h_i)`.
//! * `cltv_delta` is the delta `from` adds (its policy's `cltv_expiry_delta`); 0 for `h_0`.
//!   `total_cltv = final_cltv_delta + sum of cltv_delta`, which must not exceed `max_cltv`.
//! * every hop: direction enabled, `htlc_minimum <= amount <= min(htlc_maximum, capacity)`.
//!
//! `total_fee_msat` excludes the payer's first channel (as LDK's `get_total_fees`), and
//! `total_amount_msat = amount_msat + total_fee_msat` is what the sender sends.
//! `probability` is the product over *all* hops (the first included: the source's balance is
//! not known to an explorer) of `(capacity + 1 - amount) / (capacity + 1)`, capacity and amount
//! in msat (uniform liquidity prior). `cost` is the route's cost under the request's model.

mod index;
pub mod mpp;
mod radix;
mod search;
pub mod validate;

use std::sync::Arc;

use rayon::prelude::*;

pub use index::RoutingIndex;
pub use mpp::{MppRequest, MppRoute};
/// Tests only: scan in-edge lists longer than `min` lazily in fee order, at least `batch`
/// edges per visit (`None`: the defaults), on this thread. Lets small test graphs exercise
/// what only hubs use otherwise.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub fn set_lazy_scan_for_tests(v: Option<(usize, usize)>) {
    search::LAZY_OVERRIDE.with(|c| c.set(v));
}
/// Tests only: this thread's fee-search work so far (nodes settled, edges relaxed).
#[cfg(feature = "testing")]
#[doc(hidden)]
pub fn fee_search_work_for_tests() -> (u64, u64) {
    search::WORK.with(|c| c.get())
}
pub use search::{LABELS_PER_GRAPH_ELEMENT, MAX_LABEL_BUDGET, MIN_LABEL_BUDGET, WORK_PER_LABEL};

use crate::snapshot::Snapshot;
use crate::types::{NodeId, Scid};
use search::{Failure, Found, Query};

/// Most hops a route may have (the onion's limit with the legacy payload, as in LDK).
pub const MAX_HOPS: u8 = 20;
/// Default limit on the total cltv delta (LDK's and CLN's default is about two weeks).
pub const DEFAULT_MAX_CLTV: u32 = 2016;
/// Default cltv delta the destination requires.
pub const DEFAULT_FINAL_CLTV_DELTA: u16 = 18;
/// Largest amount accepted: all bitcoin there will ever be, in msat.
pub const MAX_AMOUNT_MSAT: u64 = 21_000_000 * 100_000_000 * 1000;

/// Balanced model: price (msat) of one unit of `-ln P` per hop. LDK's default scorer charges
/// `liquidity_penalty_multiplier_msat = 30,000` per unit of `-log10 P`; 30,000 / ln 10 = 13,029.
pub const BALANCED_MSAT_PER_NEG_LN_P: f64 = 13_029.0;
/// Balanced model: additional price per unit of `-ln P` per 2^20 msat carried, from LDK's
/// `liquidity_penalty_amount_multiplier_msat = 192` per `-log10 P` (192 / ln 10 = 83.38).
pub const BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT: f64 = 83.38;

/// What the search minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostModel {
    /// Least total fee (exact, see the search module documentation).
    #[default]
    Fee,
    /// Highest success probability under the uniform-liquidity prior (`sum of -ln P`).
    Probability,
    /// Fee plus a price on uncertainty, per hop: `fee + (BALANCED_MSAT_PER_NEG_LN_P +
    /// BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT x amount / 2^20) x (-ln P)`, LDK's default
    /// liquidity penalties expressed in natural logarithms.
    Balanced,
}

/// One payment route query. Omitted optional fields take the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RouteRequest {
    pub source: NodeId,
    pub destination: NodeId,
    /// Amount delivered to the destination (> 0).
    pub amount_msat: u64,
    #[serde(default)]
    pub cost_model: CostModel,
    /// Limit on `total_fee_msat`; none by default.
    #[serde(default)]
    pub max_fee_msat: Option<u64>,
    /// 1..=20, default 20.
    #[serde(default)]
    pub max_hops: Option<u8>,
    /// Limit on the total cltv (final delta included), default 2016.
    #[serde(default)]
    pub max_cltv: Option<u32>,
    /// The destination's final cltv delta, default 18.
    #[serde(default)]
    pub final_cltv_delta: Option<u16>,
    /// Nodes the route must avoid (unknown ids are ignored; source and destination refused).
    #[serde(default)]
    pub exclude_nodes: Vec<NodeId>,
    /// Channels the route must avoid, both directions (unknown scids are ignored).
    #[serde(default)]
    pub exclude_channels: Vec<Scid>,
}

impl RouteRequest {
    /// A fee-model request with every limit at its default.
    pub fn new(source: NodeId, destination: NodeId, amount_msat: u64) -> Self {
        RouteRequest {
            source,
            destination,
            amount_msat,
            cost_model: CostModel::Fee,
            max_fee_msat: None,
            max_hops: None,
            max_cltv: None,
            final_cltv_delta: None,
            exclude_nodes: Vec::new(),
            exclude_channels: Vec::new(),
        }
    }

    /// The same request under another cost model.
    pub fn with_model(mut self, model: CostModel) -> Self {
        self.cost_model = model;
        self
    }
}

/// One hop of a [`Route`]; see the module documentation for the exact semantics.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hop {
    pub scid: Scid,
    pub from: NodeId,
    pub to: NodeId,
    /// HTLC amount carried over this hop's channel.
    pub amount_to_forward_msat: u64,
    /// Fee charged by `from` for this channel (0 on the payer's first hop).
    pub fee_msat: u64,
    /// Cltv delta added by `from` (0 on the payer's first hop).
    pub cltv_delta: u16,
    pub capacity_sat: u64,
    /// `(capacity + 1 - amount) / (capacity + 1)`, msat.
    pub probability: f64,
}

/// A single-path route.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Route {
    pub hops: Vec<Hop>,
    /// Amount delivered to the destination.
    pub amount_msat: u64,
    /// Sum of the hops' fees (the payer's first channel charges nothing).
    pub total_fee_msat: u64,
    /// What the sender sends: `amount_msat + total_fee_msat`.
    pub total_amount_msat: u64,
    /// Final cltv delta plus every hop's `cltv_delta`.
    pub total_cltv: u32,
    pub final_cltv_delta: u16,
    /// Product of the hops' probabilities.
    pub probability: f64,
    /// The model this route was chosen under, and its cost there: msat for `fee` and
    /// `balanced`, `-ln probability` for `probability`.
    pub cost_model: CostModel,
    pub cost: f64,
}

/// Why no route was returned. Invalid requests map to HTTP 400, the rest to 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unknown source node {0}")]
    UnknownSource(NodeId),
    #[error("unknown destination node {0}")]
    UnknownDestination(NodeId),
    #[error("source and destination are the same node")]
    SameNode,
    #[error("the source cannot reach the destination over enabled channels")]
    Disconnected,
    #[error("no path can carry the amount (capacity, htlc limits or exclusions)")]
    Capacity,
    #[error("every path that can carry the amount costs more than the fee limit")]
    FeeLimit,
    #[error("every path that can carry the amount exceeds the cltv limit")]
    CltvLimit,
    #[error("every path that can carry the amount needs more hops than allowed")]
    HopLimit,
    /// The cheapest path breaks the cltv or hop limit, and the exact search among the paths
    /// within them gave up at its budget ([`RoutingIndex::label_budget`]) before it could
    /// find the cheapest one or prove there is none. Looser limits usually avoid it.
    #[error("the exact search within the cltv and hop limits gave up after {labels} labels (its budget) without deciding")]
    SearchBudget { labels: usize },
}

impl RouteError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RouteError::InvalidRequest(_) => "invalid_request",
            RouteError::UnknownSource(_) | RouteError::UnknownDestination(_) => "unknown_node",
            RouteError::SameNode => "same_node",
            RouteError::Disconnected => "no_route_disconnected",
            RouteError::Capacity => "no_route_capacity",
            RouteError::FeeLimit => "no_route_fee_limit",
            RouteError::CltvLimit => "no_route_cltv_limit",
            RouteError::HopLimit => "no_route_hop_limit",
            RouteError::SearchBudget { .. } => "search_budget_exceeded",
        }
    }

    /// Whether the request itself was malformed (HTTP 400) rather than unroutable (422).
    pub fn is_invalid_request(&self) -> bool {
        matches!(self, RouteError::InvalidRequest(_) | RouteError::SameNode)
    }
}

/// One cell of a [`Matrix`]: a route's fee and probability, or why there is none.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MatrixCell {
    pub fee_msat: Option<u64>,
    pub probability: Option<f64>,
    pub hops: Option<u8>,
    /// [`RouteError::code`] when there is no route.
    pub error: Option<&'static str>,
}

/// Sources x destinations: `cells[i][j]` is the route from `sources[i]` to `destinations[j]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Matrix {
    pub sources: Vec<NodeId>,
    pub destinations: Vec<NodeId>,
    pub amount_msat: u64,
    pub cost_model: CostModel,
    pub cells: Vec<Vec<MatrixCell>>,
}

/// `-ln((capacity + 1 - amount) / (capacity + 1))`, amounts in msat.
pub(crate) fn hop_neg_ln_p(amount: u64, cap_msat: u64) -> f64 {
    if amount > cap_msat {
        return f64::INFINITY;
    }
    let c = cap_msat as f64 + 1.0;
    -((c - amount as f64) / c).ln()
}

/// The balanced model's per-hop cost (see [`CostModel::Balanced`]).
pub(crate) fn balanced_hop_cost(fee: u64, amount: u64, neg_ln_p: f64) -> f64 {
    fee as f64
        + (BALANCED_MSAT_PER_NEG_LN_P
            + BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT * amount as f64 / 1_048_576.0)
            * neg_ln_p
}

impl RoutingIndex {
    /// Builds an index from a snapshot held elsewhere (convenience over [`RoutingIndex::build`]).
    pub fn from_snapshot(snapshot: &Snapshot) -> RoutingIndex {
        RoutingIndex::build(Arc::new(snapshot.clone()))
    }

    pub(crate) fn resolve(&self, r: &RouteRequest) -> Result<Query, RouteError> {
        let g = &*self.snapshot;
        if r.amount_msat == 0 || r.amount_msat > MAX_AMOUNT_MSAT {
            return Err(RouteError::InvalidRequest(format!(
                "amount_msat must be in 1..={MAX_AMOUNT_MSAT}"
            )));
        }
        let max_hops = r.max_hops.unwrap_or(MAX_HOPS);
        if max_hops == 0 || max_hops > MAX_HOPS {
            return Err(RouteError::InvalidRequest(format!(
                "max_hops must be in 1..={MAX_HOPS}"
            )));
        }
        let final_cltv = u32::from(r.final_cltv_delta.unwrap_or(DEFAULT_FINAL_CLTV_DELTA));
        let max_cltv = r.max_cltv.unwrap_or(DEFAULT_MAX_CLTV);
        if final_cltv > max_cltv {
            return Err(RouteError::InvalidRequest(
                "final_cltv_delta exceeds max_cltv".to_string(),
            ));
        }
        let src = self
            .node_by_id(&r.source)
            .ok_or(RouteError::UnknownSource(r.source))?;
        let dst = self
            .node_by_id(&r.destination)
            .ok_or(RouteError::UnknownDestination(r.destination))?;
        if src == dst {
            return Err(RouteError::SameNode);
        }
        let mut exclude_nodes = Vec::with_capacity(r.exclude_nodes.len());
        for id in &r.exclude_nodes {
            if *id == r.source || *id == r.destination {
                return Err(RouteError::InvalidRequest(
                    "exclude_nodes must not contain the source or the destination".to_string(),
                ));
            }
            if let Some(i) = self.node_by_id(id) {
                exclude_nodes.push(i);
            }
        }
        let exclude_channels = r
            .exclude_channels
            .iter()
            .filter_map(|s| g.channel_idx(*s))
            .collect();
        Ok(Query {
            src,
            dst,
            amount: r.amount_msat,
            model: r.cost_model,
            max_fee: r.max_fee_msat.unwrap_or(u64::MAX),
            max_hops,
            max_cltv,
            final_cltv,
            exclude_nodes,
            exclude_channels,
        })
    }

    /// The best single-path route for the request under its cost model. For `probability` and
    /// `balanced` (heuristic searches), when the heuristic finds nothing the fee model's
    /// exact search decides, so every model finds a route exactly when one exists (within the
    /// exact search's label budget, [`RouteError::SearchBudget`]).
    pub fn find_route(&self, request: &RouteRequest) -> Result<Route, RouteError> {
        let q = self.resolve(request)?;
        self.route_query(&q)
    }

    pub(crate) fn route_query(&self, q: &Query) -> Result<Route, RouteError> {
        let found = search::with_scratch(self, |sc| {
            if !self.reachable(q.src, q.dst, sc) {
                return Err(RouteError::Disconnected);
            }
            // Amounts only grow toward the source: if none of its channels can carry the
            // amount itself, no search is needed (otherwise it would explore everything).
            let src_can_carry = self
                .out_slots(q.src)
                .iter()
                .any(|&s| self.htlc_max[s as usize] >= q.amount);
            if !src_can_carry {
                return Err(RouteError::Capacity);
            }
            self.begin_search(q, sc);
            Ok(match q.model {
                CostModel::Fee => self.search_fee(q, sc),
                CostModel::Probability | CostModel::Balanced => match self.search_cost(q, sc) {
                    // The single-label heuristic can miss routes that only exist thanks to
                    // limits or htlc minimums; the exact fee search then decides existence.
                    Found::None(_) => {
                        self.begin_search(q, sc);
                        self.search_fee(q, sc)
                    }
                    found => found,
                },
            })
        })?;
        match found {
            Found::Path(path) => Ok(self.build_route(&path, q)),
            Found::None(f) => Err(match f {
                Failure::Capacity => RouteError::Capacity,
                Failure::FeeLimit => RouteError::FeeLimit,
                Failure::CltvLimit => RouteError::CltvLimit,
                Failure::HopLimit => RouteError::HopLimit,
                Failure::SearchBudget => RouteError::SearchBudget {
                    labels: self.label_budget(),
                },
            }),
        }
    }

    /// Many queries at once on rayon; results in input order.
    pub fn find_routes(&self, requests: &[RouteRequest]) -> Vec<Result<Route, RouteError>> {
        requests.par_iter().map(|r| self.find_route(r)).collect()
    }

    /// Sources x destinations for one amount and model. Under the fee model, one backward
    /// search per destination settles every source at once (columns in parallel); a cell it
    /// cannot certify, and every cell under the other models, is a [`find_route`] call.
    ///
    /// [`find_route`]: RoutingIndex::find_route
    pub fn matrix(
        &self,
        sources: &[NodeId],
        destinations: &[NodeId],
        amount_msat: u64,
        cost_model: CostModel,
    ) -> Matrix {
        let cell_of = |r: Result<Route, RouteError>| match r {
            Ok(r) => MatrixCell {
                fee_msat: Some(r.total_fee_msat),
                probability: Some(r.probability),
                hops: Some(r.hops.len() as u8),
                error: None,
            },
            Err(e) => MatrixCell {
                fee_msat: None,
                probability: None,
                hops: None,
                error: Some(e.code()),
            },
        };
        let pair = |s: &NodeId, d: &NodeId| {
            cell_of(self.find_route(&RouteRequest::new(*s, *d, amount_msat).with_model(cost_model)))
        };
        let src_idx: Option<Vec<u32>> = sources.iter().map(|s| self.node_by_id(s)).collect();
        let cells = match (cost_model, src_idx) {
            (CostModel::Fee, Some(src_idx)) => {
                let columns: Vec<Vec<MatrixCell>> = destinations
                    .par_iter()
                    .map(|d| {
                        let valid_amount = (1..=MAX_AMOUNT_MSAT).contains(&amount_msat);
                        let Some(dst) = self.node_by_id(d).filter(|_| valid_amount) else {
                            return sources.iter().map(|s| pair(s, d)).collect();
                        };
                        // `RouteRequest::new`'s defaults, resolved.
                        let q = Query {
                            src: dst,
                            dst,
                            amount: amount_msat,
                            model: CostModel::Fee,
                            max_fee: u64::MAX,
                            max_hops: MAX_HOPS,
                            max_cltv: DEFAULT_MAX_CLTV,
                            final_cltv: u32::from(DEFAULT_FINAL_CLTV_DELTA),
                            exclude_nodes: Vec::new(),
                            exclude_channels: Vec::new(),
                        };
                        let found = self.fee_column(dst, amount_msat, &src_idx, &q);
                        sources
                            .iter()
                            .zip(&src_idx)
                            .zip(found)
                            .map(|((s, &si), path)| match path {
                                Some(path) => {
                                    let q = Query {
                                        src: si,
                                        dst,
                                        ..q.clone()
                                    };
                                    cell_of(Ok(self.build_route(&path, &q)))
                                }
                                None => pair(s, d),
                            })
                            .collect()
                    })
                    .collect();
                (0..sources.len())
                    .map(|i| columns.iter().map(|c| c[i].clone()).collect())
                    .collect()
            }
            _ => sources
                .par_iter()
                .map(|s| destinations.iter().map(|d| pair(s, d)).collect())
                .collect(),
        };
        Matrix {
            sources: sources.to_vec(),
            destinations: destinations.to_vec(),
            amount_msat,
            cost_model,
            cells,
        }
    }

    /// Turns index slots (payment order) into a [`Route`] with amounts, fees, cltv and
    /// probability, all evaluated the same way whichever model chose the path.
    pub(crate) fn build_route(&self, path: &[u32], q: &Query) -> Route {
        let g = &*self.snapshot;
        let k = path.len();
        let mut hops: Vec<Hop> = Vec::with_capacity(k);
        let mut amount = q.amount;
        let mut cost = 0.0;
        for (i, &s) in path.iter().enumerate().rev() {
            let s = s as usize;
            let e = self.edge[s];
            let (fee, cltv_delta) = if i == 0 {
                (0, 0)
            } else {
                (self.fee(s, amount), self.cltv[s])
            };
            let neg_ln_p = hop_neg_ln_p(amount, self.cap_msat[s]);
            cost += match q.model {
                CostModel::Fee => fee as f64,
                CostModel::Probability => neg_ln_p,
                CostModel::Balanced => balanced_hop_cost(fee, amount, neg_ln_p),
            };
            let ch = g.channel(Snapshot::edge_channel(e));
            hops.push(Hop {
                scid: ch.scid,
                from: g.node(g.edge_from(e)).id,
                to: g.node(g.edge_to(e)).id,
                amount_to_forward_msat: amount,
                fee_msat: fee,
                cltv_delta,
                capacity_sat: ch.capacity_sat,
                probability: (-neg_ln_p).exp(),
            });
            amount = amount.saturating_add(fee);
        }
        hops.reverse();
        let total_fee: u64 = hops.iter().map(|h| h.fee_msat).sum();
        let total_cltv = q.final_cltv + hops.iter().map(|h| u32::from(h.cltv_delta)).sum::<u32>();
        Route {
            amount_msat: q.amount,
            total_fee_msat: total_fee,
            total_amount_msat: q.amount + total_fee,
            total_cltv,
            final_cltv_delta: q.final_cltv as u16,
            probability: hops.iter().map(|h| h.probability).product(),
            cost_model: q.model,
            cost,
            hops,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate::validate_route;
    use super::*;
    use crate::load::UpdateRecord;
    use crate::testing::TestGraph;

    fn id(i: u32) -> NodeId {
        TestGraph::node_id(i)
    }

    fn index(t: &TestGraph) -> RoutingIndex {
        RoutingIndex::build(Arc::new(t.build()))
    }

    fn route_ok(idx: &RoutingIndex, req: &RouteRequest) -> Route {
        let r = idx
            .find_route(req)
            .unwrap_or_else(|e| panic!("no route: {e}"));
        validate_route(idx.snapshot(), req, &r).unwrap_or_else(|e| panic!("invalid route: {e}"));
        r
    }

    fn path_of(r: &Route) -> Vec<NodeId> {
        let mut v = vec![r.hops[0].from];
        v.extend(r.hops.iter().map(|h| h.to));
        v
    }

    /// Both directions with the same policy.
    fn both(t: &mut TestGraph, a: u32, b: u32, cap: u64, base: u32, ppm: u32, cltv: u16) -> Scid {
        let s = t.channel(a, b, cap);
        t.policy(s, a, base, ppm, cltv);
        t.policy(s, b, base, ppm, cltv);
        s
    }

    fn set(t: &mut TestGraph, scid: Scid, from: u32, f: impl FnOnce(&mut UpdateRecord)) {
        let mut u = UpdateRecord {
            scid,
            direction: t.direction_from(scid, from),
            timestamp: 20,
            message_flags: 1,
            channel_flags: 0,
            disabled: false,
            cltv_delta: 40,
            htlc_min_msat: 0,
            htlc_max_msat: None,
            fee_base_msat: 0,
            fee_ppm: 0,
        };
        f(&mut u);
        t.update(u);
    }

    #[test]
    fn index_numbers_nodes_breadth_first_from_the_best_connected_and_maps_back() {
        // Two components: a star around 5 (plus a path 0-1 hanging off leaf 1), and 7-8.
        // Node 6 has no channel.
        let mut t = TestGraph::new(9);
        for leaf in [1, 2, 3, 4] {
            both(&mut t, 5, leaf, 1_000_000, 0, 0, 10);
        }
        both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
        both(&mut t, 7, 8, 1_000_000, 0, 0, 10);
        let idx = index(&t);
        let g = idx.snapshot();
        let snap = |i: u32| g.node_idx(&id(i)).unwrap();
        // A permutation, `rank` its inverse.
        let mut seen = idx.order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..9).collect::<Vec<u32>>());
        for (i, &u) in idx.order.iter().enumerate() {
            assert_eq!(idx.node_of(u), i as u32);
        }
        // The hub first, its neighbours next (leaf 1, with two channels, ahead of the
        // others), then what only they reach, then the other component, then the isolated.
        assert_eq!(idx.order[0], snap(5));
        assert_eq!(idx.order[1], snap(1));
        let mut leaves: Vec<u32> = idx.order[2..5].to_vec();
        leaves.sort_unstable();
        let mut want = vec![snap(2), snap(3), snap(4)];
        want.sort_unstable();
        assert_eq!(leaves, want);
        assert_eq!(idx.order[5], snap(0));
        let mut pair = idx.order[6..8].to_vec();
        pair.sort_unstable();
        let mut want = vec![snap(7), snap(8)];
        want.sort_unstable();
        assert_eq!(pair, want);
        assert_eq!(idx.order[8], snap(6));
        // Routes, exclusions and matrices speak snapshot ids whatever the numbering.
        let r = route_ok(&idx, &RouteRequest::new(id(0), id(3), 1_000));
        assert_eq!(path_of(&r), vec![id(0), id(1), id(5), id(3)]);
        let mut req = RouteRequest::new(id(2), id(0), 1_000);
        req.exclude_nodes = vec![id(4), id(3)];
        assert_eq!(route_ok(&idx, &req).hops.len(), 3);
        req.exclude_nodes = vec![id(5)];
        assert!(idx.find_route(&req).is_err());
        let m = idx.matrix(&[id(0), id(7)], &[id(3), id(8)], 1_000, CostModel::Fee);
        assert_eq!(m.cells[0][0].hops, Some(3));
        assert_eq!(m.cells[1][1].hops, Some(1));
        assert!(m.cells[0][1].error.is_some() && m.cells[1][0].error.is_some());
    }

    #[test]
    fn fees_accumulate_from_the_end_and_the_first_hop_is_free() {
        let mut t = TestGraph::new(4);
        both(&mut t, 0, 1, 1_000_000, 5_000, 100_000, 10);
        both(&mut t, 1, 2, 1_000_000, 1_000, 1_000, 20);
        both(&mut t, 2, 3, 1_000_000, 2_000, 10_000, 30);
        let idx = index(&t);
        let r = route_ok(&idx, &RouteRequest::new(id(0), id(3), 1_000_000));
        assert_eq!(path_of(&r), vec![id(0), id(1), id(2), id(3)]);
        // Node 2 charges 2000 + 1% of 1,000,000; node 1 charges 1000 + 0.1% of 1,012,000.
        assert_eq!(r.hops[2].fee_msat, 12_000);
        assert_eq!(r.hops[1].fee_msat, 1_000 + 1_012);
        assert_eq!(r.hops[0].fee_msat, 0);
        assert_eq!(r.hops[0].amount_to_forward_msat, 1_000_000 + 12_000 + 2_012);
        assert_eq!(r.total_fee_msat, 14_012);
        assert_eq!(r.total_cltv, 18 + 20 + 30);
    }

    #[test]
    fn cheapest_parallel_channel_that_carries_the_amount_wins() {
        let mut t = TestGraph::new(3);
        both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
        let cheap_small = both(&mut t, 1, 2, 10, 0, 1, 10);
        let mid = both(&mut t, 1, 2, 1_000_000, 0, 100, 10);
        both(&mut t, 1, 2, 1_000_000, 0, 1_000, 10);
        let idx = index(&t);
        let r = route_ok(&idx, &RouteRequest::new(id(0), id(2), 5_000));
        assert_eq!(r.hops[1].scid, cheap_small);
        let r = route_ok(&idx, &RouteRequest::new(id(0), id(2), 50_000));
        assert_eq!(
            r.hops[1].scid, mid,
            "10 sat channel cannot carry 50,000 msat"
        );
    }

    #[test]
    fn disabled_directions_and_htlc_limits_are_honoured() {
        let mut t = TestGraph::new(4);
        both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
        let cheap = both(&mut t, 1, 3, 1_000_000, 0, 1, 10);
        both(&mut t, 1, 2, 1_000_000, 0, 10, 10);
        both(&mut t, 2, 3, 1_000_000, 0, 10, 10);
        set(&mut t, cheap, 1, |u| u.htlc_max_msat = Some(100_000));
        let idx = index(&t);
        assert_eq!(
            route_ok(&idx, &RouteRequest::new(id(0), id(3), 100_000))
                .hops
                .len(),
            2
        );
        assert_eq!(
            route_ok(&idx, &RouteRequest::new(id(0), id(3), 100_001))
                .hops
                .len(),
            3
        );
        set(&mut t, cheap, 1, |u| u.disabled = true);
        let idx = index(&t);
        assert_eq!(
            route_ok(&idx, &RouteRequest::new(id(0), id(3), 1_000))
                .hops
                .len(),
            3
        );
        // The reverse direction 3 -> 1 is still enabled and usable.
        assert_eq!(
            route_ok(&idx, &RouteRequest::new(id(3), id(0), 1_000))
                .hops
                .len(),
            2
        );
    }

    #[test]
    fn htlc_minimum_can_make_a_larger_upstream_amount_the_only_way() {
        // 0 -> 1 -> 3 -> 4: cheap but edge 1->3 needs 10,500 msat. Via 2, node 2 charges
        // enough that the amount at 1 reaches that minimum.
        let mut t = TestGraph::new(5);
        both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
        let min = both(&mut t, 1, 3, 1_000_000, 0, 0, 10);
        both(&mut t, 3, 4, 1_000_000, 0, 0, 10);
        set(&mut t, min, 1, |u| u.htlc_min_msat = 10_500);
        let idx = index(&t);
        assert_eq!(
            idx.find_route(&RouteRequest::new(id(0), id(4), 10_000)),
            Err(RouteError::Capacity)
        );
        assert_eq!(
            route_ok(&idx, &RouteRequest::new(id(0), id(4), 10_500)).total_fee_msat,
            0
        );
        let mut t2 = t.clone();
        both(&mut t2, 3, 2, 1_000_000, 600, 0, 10);
        both(&mut t2, 2, 4, 1_000_000, 600, 0, 10);
        let idx = index(&t2);
        // 0 -> 1 -> 3 -> 2 -> 4: node 2 charges 600, so 3 receives 10,600 (+600 from 3).
        let r = route_ok(&idx, &RouteRequest::new(id(0), id(4), 10_000));
        assert_eq!(path_of(&r), vec![id(0), id(1), id(3), id(2), id(4)]);
    }

    #[test]
    fn cltv_and_hop_limits_pick_the_best_route_within_them() {
        let mut t = TestGraph::new(6);
        // Cheap long path 0-1-2-3-5 with big deltas; expensive short path 0-4-5.
        both(&mut t, 0, 1, 1_000_000, 0, 0, 100);
        both(&mut t, 1, 2, 1_000_000, 1, 0, 100);
        both(&mut t, 2, 3, 1_000_000, 1, 0, 100);
        both(&mut t, 3, 5, 1_000_000, 1, 0, 100);
        both(&mut t, 0, 4, 1_000_000, 0, 0, 10);
        both(&mut t, 4, 5, 1_000_000, 50, 0, 10);
        let idx = index(&t);
        let base = RouteRequest::new(id(0), id(5), 1_000);
        assert_eq!(route_ok(&idx, &base).total_fee_msat, 3);
        let req = RouteRequest {
            max_cltv: Some(300),
            ..base.clone()
        };
        let r = route_ok(&idx, &req);
        assert_eq!((r.total_fee_msat, r.total_cltv), (50, 28));
        let req = RouteRequest {
            max_hops: Some(3),
            ..base.clone()
        };
        assert_eq!(route_ok(&idx, &req).hops.len(), 2);
        let req = RouteRequest {
            max_cltv: Some(20),
            ..base.clone()
        };
        assert_eq!(
            idx.find_route(&req).unwrap_err().code(),
            "no_route_cltv_limit"
        );
        let req = RouteRequest {
            max_hops: Some(1),
            ..base.clone()
        };
        assert_eq!(
            idx.find_route(&req).unwrap_err().code(),
            "no_route_hop_limit"
        );
        let req = RouteRequest {
            max_fee_msat: Some(2),
            ..base
        };
        assert_eq!(
            idx.find_route(&req).unwrap_err().code(),
            "no_route_fee_limit"
        );
    }

    /// The 3.7 GB report: when the cheapest path breaks the cltv limit, the label-setting
    /// search may need exponentially many labels. Here the hop out of node `i` (1..=16)
    /// offers two parallel channels, one free with cltv delta `2^(16-i)`, one charging
    /// `2^(16-i)` msat with delta 0, so every choice of channels is Pareto-optimal (more fee,
    /// less cltv), and the backward search meets the big deltas, which the limit prunes,
    /// last. The search must stop at its budget, holding no more labels than the budget, and
    /// say so (or, were it cleverer, find the optimum).
    #[test]
    fn label_search_stays_within_its_budget_when_pareto_labels_explode() {
        const LAYERS: u32 = 17;
        let mut t = TestGraph::new(LAYERS + 1);
        both(&mut t, 0, 1, 1_000_000, 0, 0, 0);
        for i in 1..LAYERS {
            let w = 1u16 << (LAYERS - 1 - i);
            both(&mut t, i, i + 1, 1_000_000, 0, 0, w);
            both(&mut t, i, i + 1, 1_000_000, u32::from(w), 0, 0);
        }
        let idx = index(&t);
        let budget = idx.label_budget();
        assert_eq!(budget, MIN_LABEL_BUDGET, "a small graph gets the floor");
        assert!(
            1usize << (LAYERS - 1) > budget,
            "the unbounded search would exceed it"
        );
        // The all-free path has cltv 18 + 65,535. Allowing half of that makes the cheapest
        // route within the limit cost 2^15 - 1 msat: every choice over the 15 later hops
        // (2^16 labels over their nodes) is cheaper and comes first.
        let req = RouteRequest {
            max_cltv: Some(18 + (1 << 15)),
            ..RouteRequest::new(id(0), id(LAYERS), 1_000)
        };
        let started = std::time::Instant::now();
        let res = idx.find_route(&req);
        let elapsed = started.elapsed();
        let (labels, heap) = search::buffer_lens();
        assert!(labels <= budget, "{labels} labels held, budget {budget}");
        assert!(heap <= budget, "{heap} heap entries held, budget {budget}");
        match res {
            Err(e) => {
                assert_eq!(e, RouteError::SearchBudget { labels: budget });
                assert_eq!(e.code(), "search_budget_exceeded");
                assert!(!e.is_invalid_request());
            }
            Ok(r) => {
                validate_route(idx.snapshot(), &req, &r).unwrap();
                assert_eq!(r.total_fee_msat, (1 << 15) - 1);
            }
        }
        assert!(elapsed < std::time::Duration::from_secs(20), "{elapsed:?}");
        // Within budget the same graph still gets exact answers: one cltv block too many
        // costs the cheapest paid channel.
        let req = RouteRequest {
            max_cltv: Some(18 + (1 << 16) - 2),
            ..req
        };
        let r = route_ok(&idx, &req);
        assert_eq!(r.total_fee_msat, 1);
    }

    /// The forward ball raises the fee search's bounds mid-search; whenever it comes, and
    /// however small, the answers stay those of the search without it (both exact), also
    /// when the ball (and the fee search) scan every list lazily in fee order.
    #[test]
    fn forward_ball_at_any_point_keeps_fee_answers() {
        let g = Arc::new(crate::testing::load_bundled("2019-05-14"));
        let idx = RoutingIndex::build(g.clone());
        let n = g.node_count() as u64;
        let mut x = 0xba11_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let with = |p: Option<(usize, usize)>, req: &RouteRequest| {
            search::BALL_OVERRIDE.with(|c| c.set(p));
            let r = idx.find_route(req);
            search::BALL_OVERRIDE.with(|c| c.set(None));
            r
        };
        let lazily = |p: Option<(usize, usize)>, lazy: (usize, usize), req: &RouteRequest| {
            search::LAZY_OVERRIDE.with(|c| c.set(Some(lazy)));
            let r = with(p, req);
            search::LAZY_OVERRIDE.with(|c| c.set(None));
            r
        };
        let mut routed = 0;
        for i in 0..300 {
            let (s, d) = ((next() % n) as u32, (next() % n) as u32);
            if s == d {
                continue;
            }
            let amount = [1_000_000, 30_000_000, 700_000_000][i % 3];
            let req = RouteRequest::new(g.node(s).id, g.node(d).id, amount);
            let plain = with(Some((0, usize::MAX)), &req);
            let variants = [(1, 1), (3, 2), (40, 5), (1_000, 20)]
                .into_iter()
                .flat_map(|p| [(p, None), (p, Some((0, 1))), (p, Some((2, 3)))]);
            for (p, lazy) in variants {
                let r = match lazy {
                    None => with(Some(p), &req),
                    Some(l) => lazily(Some(p), l, &req),
                };
                match (&plain, &r) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.total_fee_msat, b.total_fee_msat, "query {i}, {p:?}");
                        validate_route(&g, &req, b).unwrap();
                    }
                    (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "query {i}, {p:?}"),
                }
            }
            routed += usize::from(plain.is_ok());
        }
        assert!(routed > 100, "{routed}");
    }

    /// Hubs' in-edge lists are scanned lazily in fee order; scanning every list that way, or
    /// none, one edge per visit or many, gives the same fees and the same errors (fee
    /// limits included) on the real graph.
    #[test]
    fn lazy_fee_order_scan_keeps_fee_answers_and_errors() {
        let g = Arc::new(crate::testing::load_bundled("2019-05-14"));
        let idx = RoutingIndex::build(g.clone());
        let n = g.node_count() as u64;
        let mut x = 0x1a2e_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let with = |v: Option<(usize, usize)>, req: &RouteRequest| {
            search::LAZY_OVERRIDE.with(|c| c.set(v));
            let r = idx.find_route(req);
            search::LAZY_OVERRIDE.with(|c| c.set(None));
            r
        };
        let (mut routed, mut fee_limited) = (0, 0);
        for i in 0..700 {
            let (s, d) = ((next() % n) as u32, (next() % n) as u32);
            if s == d {
                continue;
            }
            let amount = [1_000_000, 30_000_000, 700_000_000][i % 3];
            let req = RouteRequest {
                max_fee_msat: (i % 4 == 0).then_some(1_500),
                ..RouteRequest::new(g.node(s).id, g.node(d).id, amount)
            };
            let eager = with(Some((usize::MAX, 1)), &req);
            for v in [(0, 1), (0, 3), (12, 8), (40, 64)] {
                let r = with(Some(v), &req);
                match (&eager, &r) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.total_fee_msat, b.total_fee_msat, "query {i}, {v:?}");
                        validate_route(&g, &req, b).unwrap();
                    }
                    (a, b) => assert_eq!(
                        a.as_ref().err(),
                        b.as_ref().err(),
                        "query {i}, {v:?}, unlimited {:?}",
                        idx.find_route(&RouteRequest {
                            max_fee_msat: None,
                            ..req.clone()
                        })
                        .map(|r| r.total_fee_msat)
                    ),
                }
            }
            routed += usize::from(eager.is_ok());
            fee_limited += usize::from(eager == Err(RouteError::FeeLimit));
        }
        assert!(
            routed > 100 && fee_limited > 5,
            "{routed} routed, {fee_limited} fee-limited"
        );
    }

    #[test]
    fn excluded_nodes_and_channels_are_avoided() {
        let mut t = TestGraph::new(4);
        both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
        let c13 = both(&mut t, 1, 3, 1_000_000, 0, 0, 10);
        both(&mut t, 0, 2, 1_000_000, 0, 0, 10);
        both(&mut t, 2, 3, 1_000_000, 5, 0, 10);
        let idx = index(&t);
        let base = RouteRequest::new(id(0), id(3), 1_000);
        assert_eq!(path_of(&route_ok(&idx, &base))[1], id(1));
        let req = RouteRequest {
            exclude_nodes: vec![id(1)],
            ..base.clone()
        };
        assert_eq!(path_of(&route_ok(&idx, &req))[1], id(2));
        let req = RouteRequest {
            exclude_channels: vec![c13],
            ..base.clone()
        };
        assert_eq!(path_of(&route_ok(&idx, &req))[1], id(2));
        let req = RouteRequest {
            exclude_nodes: vec![id(1), id(2)],
            ..base
        };
        assert_eq!(idx.find_route(&req), Err(RouteError::Capacity));
    }

    #[test]
    fn bad_requests_and_unreachable_pairs_get_their_error_codes() {
        let mut t = TestGraph::new(5);
        both(&mut t, 0, 1, 1_000, 0, 0, 10);
        let one_way = t.channel(2, 3, 1_000);
        t.policy(one_way, 2, 0, 0, 10);
        let idx = index(&t);
        let code = |r: RouteRequest| idx.find_route(&r).unwrap_err().code();
        assert_eq!(code(RouteRequest::new(id(0), id(1), 0)), "invalid_request");
        assert_eq!(
            code(RouteRequest {
                max_hops: Some(21),
                ..RouteRequest::new(id(0), id(1), 1)
            }),
            "invalid_request"
        );
        assert_eq!(code(RouteRequest::new(id(0), id(0), 1)), "same_node");
        assert_eq!(code(RouteRequest::new(id(0), id(9), 1)), "unknown_node");
        assert_eq!(
            code(RouteRequest::new(id(0), id(3), 1)),
            "no_route_disconnected"
        );
        assert_eq!(
            code(RouteRequest::new(id(3), id(2), 1)),
            "no_route_disconnected"
        );
        assert_eq!(
            code(RouteRequest::new(id(0), id(4), 1)),
            "no_route_disconnected"
        );
        assert_eq!(
            code(RouteRequest::new(id(0), id(1), 1_000_001)),
            "no_route_capacity"
        );
        assert!(idx.find_route(&RouteRequest::new(id(2), id(3), 1)).is_ok());
        assert!(RouteError::SameNode.is_invalid_request());
        assert!(!RouteError::Disconnected.is_invalid_request());
    }

    #[test]
    fn probability_model_prefers_big_channels_and_reports_every_metric() {
        let mut t = TestGraph::new(4);
        both(&mut t, 0, 1, 200, 0, 0, 10);
        both(&mut t, 1, 3, 200, 0, 0, 10);
        both(&mut t, 0, 2, 100_000, 0, 0, 10);
        both(&mut t, 2, 3, 100_000, 10, 0, 10);
        let idx = index(&t);
        let req = RouteRequest::new(id(0), id(3), 100_000);
        let fee = route_ok(&idx, &req);
        assert_eq!(path_of(&fee)[1], id(1));
        for model in [CostModel::Probability, CostModel::Balanced] {
            let r = route_ok(&idx, &req.clone().with_model(model));
            assert_eq!(path_of(&r)[1], id(2), "{model:?}");
            assert!(r.probability > fee.probability);
            assert_eq!(r.total_fee_msat, 10);
        }
        let p = route_ok(&idx, &req.clone().with_model(CostModel::Probability));
        assert!((p.cost + p.probability.ln()).abs() < 1e-12);
    }

    #[test]
    fn batch_and_matrix_keep_input_order() {
        let mut t = TestGraph::new(4);
        both(&mut t, 0, 1, 1_000_000, 1, 0, 10);
        both(&mut t, 1, 2, 1_000_000, 2, 0, 10);
        both(&mut t, 2, 3, 1_000_000, 4, 0, 10);
        let idx = index(&t);
        let reqs: Vec<RouteRequest> = (0..40)
            .map(|i| RouteRequest::new(id(i % 4), id((i / 4) % 4), 1_000))
            .collect();
        for (req, res) in reqs.iter().zip(idx.find_routes(&reqs)) {
            assert_eq!(res, idx.find_route(req));
        }
        let m = idx.matrix(
            &[id(0), id(3)],
            &[id(1), id(2), id(3)],
            1_000,
            CostModel::Fee,
        );
        assert_eq!(m.cells[0][0].fee_msat, Some(0));
        assert_eq!(m.cells[0][1].fee_msat, Some(2));
        assert_eq!(m.cells[0][2].fee_msat, Some(6));
        assert_eq!(m.cells[1][2].error, Some("same_node"));
        assert_eq!(
            m.cells[1][0].fee_msat,
            Some(2),
            "3 -> 2 is free, 2 charges 2 for 2 -> 1"
        );
    }

    #[test]
    fn the_fee_search_stops_as_soon_as_the_payer_has_the_least_key() {
        // Every channel is free, so every node's key is the amount: 50 nodes besides the
        // payer (0) reach the payer's only peer (1), the destination's only way in. The
        // payer's channel carries the most, so it is relaxed first and the 50 after it.
        let mut t = TestGraph::new(53);
        both(&mut t, 0, 1, 1_000, 0, 0, 10);
        for i in 2..52 {
            both(&mut t, i, 1, 500, 0, 0, 10);
        }
        both(&mut t, 1, 52, 1_000, 0, 0, 10);
        let idx = index(&t);
        let before = fee_search_work_for_tests().0;
        let r = idx
            .find_route(&RouteRequest::new(id(0), id(52), 100_000))
            .unwrap();
        let settled = fee_search_work_for_tests().0 - before;
        assert_eq!(r.hops.len(), 2);
        assert_eq!(r.total_fee_msat, 0);
        assert_eq!(settled, 3, "destination, the payer's peer, the payer");
    }

    /// Three paths 0 -> mid -> 4, each able to deliver 400k msat (the last channel's size).
    fn three_path_index() -> RoutingIndex {
        let mut t = TestGraph::new(5);
        for mid in 1..=3 {
            both(&mut t, 0, mid, 500, 0, 0, 10);
            both(&mut t, mid, 4, 400, 100, 1_000 * mid, 10);
        }
        index(&t)
    }

    /// Parts that sum to the amount, each a valid route, no channel carrying more than its
    /// capacity over all parts, and totals that add up.
    fn assert_valid_split(idx: &RoutingIndex, req: &RouteRequest, m: &MppRoute) {
        assert_eq!(
            m.parts.iter().map(|p| p.amount_msat).sum::<u64>(),
            req.amount_msat
        );
        let mut per_channel: std::collections::HashMap<Scid, u64> = Default::default();
        for p in &m.parts {
            let preq = RouteRequest {
                amount_msat: p.amount_msat,
                ..req.clone()
            };
            validate_route(idx.snapshot(), &preq, p).unwrap();
            for h in &p.hops {
                *per_channel.entry(h.scid).or_default() += h.amount_to_forward_msat;
            }
        }
        for (scid, used) in per_channel {
            let c = idx
                .snapshot()
                .channel(idx.snapshot().channel_idx(scid).unwrap());
            assert!(used <= c.capacity_sat * 1000, "{scid} carries {used}");
        }
        assert_eq!(
            m.total_fee_msat,
            m.parts.iter().map(|p| p.total_fee_msat).sum::<u64>()
        );
    }

    #[test]
    fn mpp_uses_the_last_tenth_of_liquidity_only_when_the_payment_needs_it() {
        let idx = three_path_index();
        let mpp = |amount_msat| {
            idx.find_mpp(&MppRequest {
                request: RouteRequest::new(id(0), id(4), amount_msat),
                force_split: false,
            })
        };
        // 90% of the three last channels (1.08M msat) cannot carry 1.15M; all of them can.
        let req = RouteRequest::new(id(0), id(4), 1_150_000);
        let m = mpp(1_150_000).unwrap();
        assert_eq!(m.parts.len(), 3, "every path is needed");
        assert_valid_split(&idx, &req, &m);
        // Below 90%, the headroom is kept: no last channel is filled past 90% of 400k.
        let m = mpp(900_000).unwrap();
        for p in &m.parts {
            let last = p.hops.last().unwrap();
            assert!(last.amount_to_forward_msat <= 360_000, "{last:?}");
        }
        // Past what the destination's channels hold together: refused.
        assert_eq!(mpp(1_210_000).unwrap_err(), RouteError::Capacity);
    }

    #[test]
    fn mpp_splits_what_no_single_path_carries() {
        let idx = three_path_index();
        let req = RouteRequest::new(id(0), id(4), 900_000);
        assert_eq!(idx.find_route(&req), Err(RouteError::Capacity));
        let m = idx
            .find_mpp(&MppRequest {
                request: req.clone(),
                force_split: false,
            })
            .unwrap();
        assert!(m.parts.len() >= 3, "{} parts", m.parts.len());
        assert_valid_split(&idx, &req, &m);
        let too_much = RouteRequest::new(id(0), id(4), 1_300_000);
        assert_eq!(
            idx.find_mpp(&MppRequest {
                request: too_much,
                force_split: false
            })
            .unwrap_err()
            .code(),
            "no_route_capacity"
        );
        let small = RouteRequest::new(id(0), id(4), 1_000);
        let one = idx
            .find_mpp(&MppRequest {
                request: small.clone(),
                force_split: false,
            })
            .unwrap();
        assert_eq!(one.parts.len(), 1);
        let forced = idx
            .find_mpp(&MppRequest {
                request: small,
                force_split: true,
            })
            .unwrap();
        assert_eq!(forced.amount_msat, 1_000);
    }

    #[test]
    fn requests_parse_from_json_with_defaults() {
        let json = format!(
            r#"{{"source":"{}","destination":"{}","amount_msat":5000,"cost_model":"balanced",
               "exclude_channels":["100000x1x0"]}}"#,
            id(0),
            id(1)
        );
        let r: RouteRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(r.cost_model, CostModel::Balanced);
        assert_eq!(r.exclude_channels, vec![Scid::new(100_000, 1, 0).unwrap()]);
        assert_eq!(r.max_hops, None);
        let bad = json.replace(&id(0).to_string(), "02zz");
        assert!(serde_json::from_str::<RouteRequest>(&bad).is_err());
        let m: MppRequest =
            serde_json::from_str(&json.replace("}", r#","force_split":true}"#)).unwrap();
        assert!(m.force_split);
    }
}
