//! Revenue curves: for each of N's channels c (direction N -> peer), what N earns on c, and
//! in total, as a function of c's fee over a candidate grid, the other fees fixed.
//!
//! Two methods give the same numbers:
//! * [`naive`], the oracle: for every (c, candidate) patch c's fee
//!   ([`Scenario::with_fee`]), rebuild the index, route every payment, sum N's fees;
//! * [`compute`], the fast method (the `fast` module documents it, and why it is exact):
//!   one baseline routing, then per payment its best route around c and its best route
//!   through c from a bounded backward search, with prefix routes only where bounds
//!   cannot decide, and the real router on a patched index for every ambiguous case.
//!
//! **What "equal" covers.** The revenue *on c* (and the number of payments c carries) is
//! exact: every case where the router's tie-breaking could decide is routed by the router on
//! the patched index itself. N's *total* revenue at a candidate adds, for the payments that
//! do not cross c there, N's revenue on the best route avoiding c; when several equally
//! cheap routes avoid c and earn N different amounts, which one the router returns depends
//! on its tie-breaking on the patched index, which only a full re-route shows. The fast
//! method then counts the route it knows (the baseline's, or the best route avoiding c on
//! the baseline graph) and [`RevenueCurve::total_ties`] says how many payments had such a
//! tie; without ties the totals equal the oracle's too.

mod fast;

use rayon::prelude::*;
use serde::Serialize;
use switchyard_graph::route::{Route, RouteError};
use switchyard_graph::{EdgeIdx, NodeId, Scid, Snapshot};

use crate::demand::Demand;
use crate::scenario::{FeePolicy, Scenario};
use crate::sim::route_all;

pub use fast::compute;

/// One candidate fee of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CurvePoint {
    pub fee: FeePolicy,
    /// Payments N forwards over c at this fee.
    pub payments: u64,
    /// N's fees on c.
    pub revenue_msat: u64,
    /// N's fees on all its channels.
    pub node_revenue_msat: u64,
}

/// The curve of one direction N -> peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueCurve {
    pub scid: Scid,
    pub from: NodeId,
    pub to: NodeId,
    #[serde(skip)]
    pub edge: EdgeIdx,
    pub current: FeePolicy,
    /// One point per candidate, in the grid's order.
    pub points: Vec<CurvePoint>,
    /// Payments whose total at some candidate was taken from one of several equally cheap
    /// routes avoiding c (see the module documentation); 0 for the oracle.
    pub total_ties: u64,
}

/// Why the fast method handed a (payment, channel, candidate) to the real router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The best route through c costs exactly as much as the best route around it.
    Tie,
    /// The prefix and suffix share a node.
    NotSimple,
    /// Prefix plus suffix break the hop or cltv limit.
    Limits,
    /// An htlc_minimum may let a larger amount use a cheaper path.
    HtlcMin,
    /// The suffix search's label is not certified (htlc_minimum rejections).
    Suffix,
    /// The router gave up at its label budget.
    SearchBudget,
}

/// Work done by a curve computation: what its speed depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Work {
    pub payments: u64,
    /// Payments the relaxed bounds (or N being payer or payee) skipped.
    pub payments_skipped: u64,
    pub baseline_routes: u64,
    /// Best routes around the channel the baseline route uses (split index).
    pub avoid_routes: u64,
    /// Prefix routes payer -> N.
    pub prefix_routes: u64,
    /// Routes on patched indexes (fallbacks, or every route of the oracle).
    pub patched_routes: u64,
    pub suffix_searches: u64,
    pub settled_nodes: u64,
    pub indexes_built: u64,
    pub fallback_tie: u64,
    pub fallback_not_simple: u64,
    pub fallback_limits: u64,
    pub fallback_htlc_min: u64,
    pub fallback_suffix: u64,
    pub fallback_search_budget: u64,
}

impl Work {
    pub(crate) fn add(mut self, o: Work) -> Work {
        self.payments += o.payments;
        self.payments_skipped += o.payments_skipped;
        self.baseline_routes += o.baseline_routes;
        self.avoid_routes += o.avoid_routes;
        self.prefix_routes += o.prefix_routes;
        self.patched_routes += o.patched_routes;
        self.suffix_searches += o.suffix_searches;
        self.settled_nodes += o.settled_nodes;
        self.indexes_built += o.indexes_built;
        self.fallback_tie += o.fallback_tie;
        self.fallback_not_simple += o.fallback_not_simple;
        self.fallback_limits += o.fallback_limits;
        self.fallback_htlc_min += o.fallback_htlc_min;
        self.fallback_suffix += o.fallback_suffix;
        self.fallback_search_budget += o.fallback_search_budget;
        self
    }

    pub(crate) fn count(&mut self, r: Reason) {
        match r {
            Reason::Tie => self.fallback_tie += 1,
            Reason::NotSimple => self.fallback_not_simple += 1,
            Reason::Limits => self.fallback_limits += 1,
            Reason::HtlcMin => self.fallback_htlc_min += 1,
            Reason::Suffix => self.fallback_suffix += 1,
            Reason::SearchBudget => self.fallback_search_budget += 1,
        }
    }

    /// Fallbacks of every reason.
    pub fn fallbacks(&self) -> u64 {
        self.fallback_tie
            + self.fallback_not_simple
            + self.fallback_limits
            + self.fallback_htlc_min
            + self.fallback_suffix
            + self.fallback_search_budget
    }
}

/// Curves of several channels, with the work that computed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Curves {
    pub curves: Vec<RevenueCurve>,
    /// N's revenue at the current fees.
    pub baseline_revenue_msat: u64,
    pub work: Work,
}

/// What N earns on a route: `(edge N forwards over, its fee)` when N forwards (neither
/// payer nor payee), as the scenario's edge id; hops over unknown scids count no edge.
pub(crate) fn node_hop(g: &Snapshot, me: &NodeId, r: &Route) -> Option<(Option<EdgeIdx>, u64)> {
    let (i, h) = r.hops.iter().enumerate().find(|(_, h)| h.from == *me)?;
    if i == 0 {
        return None;
    }
    let edge = g.channel_idx(h.scid).and_then(|c| {
        let ch = g.channel(c);
        let dir = ch.nodes.iter().position(|&n| g.node(n).id == *me)?;
        Some(c * 2 + dir as u32)
    });
    Some((edge, h.fee_msat))
}

/// The curve's identity fields for `edge`.
pub(crate) fn curve_head(sc: &Scenario, edge: EdgeIdx) -> RevenueCurve {
    let g = &*sc.snapshot;
    RevenueCurve {
        scid: g.channel(Snapshot::edge_channel(edge)).scid,
        from: g.node(g.edge_from(edge)).id,
        to: g.node(g.edge_to(edge)).id,
        edge,
        current: sc.fee_of(edge),
        points: Vec::new(),
        total_ties: 0,
    }
}

/// `(payments over edge, N's fee on edge, N's total)` of routed payments.
pub(crate) fn tally(
    sc: &Scenario,
    edge: EdgeIdx,
    routes: &[Result<Route, RouteError>],
) -> (u64, u64, u64) {
    let g = &*sc.snapshot;
    let (mut n, mut on, mut total) = (0, 0, 0);
    for r in routes.iter().flatten() {
        if let Some((e, fee)) = node_hop(g, &sc.node_id, r) {
            total += fee;
            if e == Some(edge) {
                n += 1;
                on += fee;
            }
        }
    }
    (n, on, total)
}

/// The oracle: per edge and candidate, patch the fee, rebuild the index, route everything.
pub fn naive(sc: &Scenario, demand: &Demand, grid: &[FeePolicy], edges: &[EdgeIdx]) -> Curves {
    let mut work = Work {
        payments: demand.payments.len() as u64,
        ..Work::default()
    };
    let baseline = route_all(sc, demand);
    work.baseline_routes = baseline.len() as u64;
    let baseline_revenue_msat = edges
        .first()
        .map_or_else(|| tally(sc, 0, &baseline).2, |&e| tally(sc, e, &baseline).2);
    let mut curves = Vec::new();
    for &edge in edges {
        let mut curve = curve_head(sc, edge);
        for &fee in grid {
            let patched = sc.with_fee(edge, fee);
            if fee != curve.current {
                work.indexes_built += 1;
            }
            let routes = route_all(&patched, demand);
            work.patched_routes += routes.len() as u64;
            let (payments, revenue_msat, node_revenue_msat) = tally(&patched, edge, &routes);
            curve.points.push(CurvePoint {
                fee,
                payments,
                revenue_msat,
                node_revenue_msat,
            });
        }
        curves.push(curve);
    }
    Curves {
        curves,
        baseline_revenue_msat,
        work,
    }
}

/// Routes `payments` (indexes into `demand`) on `sc` patched to charge `fee` on `edge`;
/// returns per payment `(over edge?, N's fee on edge, N's total)`.
pub(crate) fn route_patched(
    sc: &Scenario,
    demand: &Demand,
    edge: EdgeIdx,
    fee: FeePolicy,
    payments: &[usize],
) -> Vec<(bool, u64, u64)> {
    let patched = sc.with_fee(edge, fee);
    let g = &*patched.snapshot;
    payments
        .par_iter()
        .map(|&i| {
            let r = patched
                .index
                .find_route(&crate::scenario::request(&demand.payments[i]));
            match r.ok().and_then(|r| node_hop(g, &patched.node_id, &r)) {
                Some((e, fee)) if e == Some(edge) => (true, fee, fee),
                Some((_, fee)) => (false, 0, fee),
                None => (false, 0, 0),
            }
        })
        .collect()
}
