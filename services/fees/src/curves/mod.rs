//! Revenue curves: for each of N's channels c (direction N -> peer), what N earns on c, and
//! in total, as a function of c's fee over a candidate grid, the other fees fixed.
//!
//! ## What counts (the tie rule)
//! A payment p **counts for c at fee f** when *every* cheapest route (least total fee within
//! p's fee ceiling and limits, with c charging f) uses c: the best route through c costs
//! strictly less than the best route avoiding c. A payer indifferent between N's channel
//! and another route is not counted as N's: its choice would be the router's tie-breaking,
//! not N's price. N earns on p its fee on c in a cheapest route. Likewise N's **total**
//! revenue at (c, f) counts p on any channel c'' of N (c included) only when every
//! cheapest route uses c''. At c's current fee the points are the baseline's under the same
//! rule (`Curves::baseline_revenue_msat`). Because the rule never depends on which of
//! several equally cheap routes a router returns, the two methods below can agree exactly.
//!
//! Two methods give the same numbers (payments, revenue on c, N's total):
//! * [`naive`], the oracle: for every (c, candidate), patch c's fee
//!   ([`Scenario::with_fees`]), route every payment; when the route crosses an outgoing
//!   channel c* of N, route once more with only N -> peer of c* excluded and count the
//!   payment for c* only if that costs strictly more;
//! * [`compute`] (and [`Session`] across the rounds of the `flow` strategy), the fast method:
//!   one baseline routing, then per payment its best routes around the channel it crosses
//!   and through each channel from one bounded backward search, with prefix routes only where
//!   bounds cannot decide (the `fast` module documents it, and why it is exact).
//!
//! **Left out, in both methods:** a payment whose route at the current fees, or whose route
//! around the channel of N it crosses, the router gives up on at its label budget
//! (`RouteError::SearchBudget`) counts for nothing (`Work::payments_undecided`). Elsewhere
//! the oracle counts a search that gives up as "no route"; where the fast method would
//! need such an answer it asks the oracle's computation for that one point. Both are exact
//! up to the router's own exactness (its label budget).

mod channel;
mod fast;
mod oracle;
mod payment;

use serde::Serialize;
use switchyard_graph::route::Route;
use switchyard_graph::{EdgeIdx, NodeId, Scid, Snapshot};

use crate::scenario::{FeePolicy, Scenario};

pub use fast::{compute, Session};
pub use oracle::naive;

/// One candidate fee of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CurvePoint {
    /// The candidate fee (base msat and ppm) charged on c.
    pub fee: FeePolicy,
    /// Payments N forwards over c at this fee (every cheapest route uses c).
    pub payments: u64,
    /// N's fees on c.
    pub revenue_msat: u64,
    /// N's fees on all its channels (see the module documentation).
    pub node_revenue_msat: u64,
}

/// The curve of one direction N -> peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueCurve {
    /// The channel c.
    pub scid: Scid,
    /// The node under study N (the direction leaves it).
    pub from: NodeId,
    /// The peer at the other end.
    pub to: NodeId,
    #[serde(skip)]
    /// The direction's edge in the snapshot (not serialized).
    pub edge: EdgeIdx,
    /// The fee c charges now.
    pub current: FeePolicy,
    /// One point per candidate, in the grid's order.
    pub points: Vec<CurvePoint>,
}

/// Why the fast method handed a (payment, channel, candidate) to the oracle's computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A direction whose htlc_minimum lies in the amounts in play, within reach: a larger
    /// amount might find a cheaper prefix.
    HtlcMin,
    /// The cheapest prefix and the suffix share a node, and bounds cannot decide.
    NotSimple,
    /// The cheapest prefix and the suffix together break the hop or cltv limit, and bounds
    /// cannot decide.
    Limits,
    /// A router query the decision needs gave up at its label budget.
    SearchBudget,
    /// Several cheapest routes may earn N different fees on the channel it crosses.
    NotUnique,
}

macro_rules! work_counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Work done by a curve computation: what its speed depends on.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct Work {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Work {
            pub(crate) fn add(mut self, o: Work) -> Work {
                $(self.$name += o.$name;)*
                self
            }
        }
    };
}

work_counters! {
    /// Payments in the demand.
    payments,
    /// Payments left out (see the module documentation).
    payments_undecided,
    /// Payments shown never to count for any channel (bounds, or N paying or receiving).
    payments_skipped,
    /// Skipped payments decided in an earlier round of a [`Session`], not routed again.
    payments_reused,
    /// Routes of the baseline (every payment at the current fees).
    baseline_routes,
    /// Best routes around the channel the baseline route crosses (and around two).
    avoid_routes,
    /// Prefix routes payer -> N.
    prefix_routes,
    /// Exact suffixes through one channel (N as payer, its other directions excluded).
    suffix_routes,
    /// Suffix-label searches (N's peers -> payee, A*), one per payment not answered from an
    /// earlier round.
    suffix_searches,
    /// Nodes the suffix searches settled.
    settled_nodes,
    /// Suffix searches and prefix or suffix routes answered from an earlier round.
    reused_answers,
    /// Indexes built for patched fees (fallbacks, or every candidate of the oracle).
    indexes_built,
    /// Routes on patched indexes (fallbacks, or every route of the oracle).
    patched_routes,
    /// Fallbacks: an htlc_minimum within the amounts in play could change the prefix.
    fallback_htlc_min,
    /// Fallbacks: the cheapest prefix and the suffix share a node.
    fallback_not_simple,
    /// Fallbacks: prefix and suffix together may break the hop or cltv limit.
    fallback_limits,
    /// Fallbacks: a router query gave up at its label budget.
    fallback_search_budget,
    /// Fallbacks: several cheapest routes may earn N different fees.
    fallback_not_unique,
}

impl Work {
    pub(crate) fn count(&mut self, r: Reason) {
        match r {
            Reason::HtlcMin => self.fallback_htlc_min += 1,
            Reason::NotSimple => self.fallback_not_simple += 1,
            Reason::Limits => self.fallback_limits += 1,
            Reason::SearchBudget => self.fallback_search_budget += 1,
            Reason::NotUnique => self.fallback_not_unique += 1,
        }
    }

    /// (payment, channel, candidate) points handed to the oracle's computation.
    pub fn fallbacks(&self) -> u64 {
        self.fallback_htlc_min
            + self.fallback_not_simple
            + self.fallback_limits
            + self.fallback_search_budget
            + self.fallback_not_unique
    }

    /// Router queries of every kind.
    pub fn routes(&self) -> u64 {
        self.baseline_routes
            + self.avoid_routes
            + self.prefix_routes
            + self.suffix_routes
            + self.patched_routes
    }
}

/// Curves of several channels, with the work that computed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Curves {
    /// One curve per channel asked for, in the order asked.
    pub curves: Vec<RevenueCurve>,
    /// N's revenue at the current fees (under the tie rule).
    pub baseline_revenue_msat: u64,
    /// Counts of the work done (routes, searches, fallbacks).
    pub work: Work,
}

/// Where a route (real scids) leaves N to forward: N neither payer nor payee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutHop {
    /// N's outgoing direction.
    pub edge: EdgeIdx,
    /// N's fee on it.
    pub fee: u64,
    /// The amount it carries (what the peer receives).
    pub carried: u64,
}

impl OutHop {
    /// The amount N receives.
    pub(crate) fn at_node(&self) -> u64 {
        self.carried.saturating_add(self.fee)
    }
}

/// N's forwarding hop on `r`, if N forwards (not its first hop: N pays nothing to itself).
pub(crate) fn out_hop(g: &Snapshot, me: &NodeId, r: &Route) -> Option<OutHop> {
    let (i, h) = r.hops.iter().enumerate().find(|(_, h)| h.from == *me)?;
    if i == 0 {
        return None;
    }
    let c = g.channel_idx(h.scid)?;
    let dir = g
        .channel(c)
        .nodes
        .iter()
        .position(|&n| g.node(n).id == *me)?;
    Some(OutHop {
        edge: c * 2 + dir as u32,
        fee: h.fee_msat,
        carried: h.amount_to_forward_msat,
    })
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
    }
}

/// Empty points for `grid` (the node totals start at `node_revenue_msat`).
pub(crate) fn blank_points(grid: &[FeePolicy], node_revenue_msat: u64) -> Vec<CurvePoint> {
    grid.iter()
        .map(|&fee| CurvePoint {
            fee,
            payments: 0,
            revenue_msat: 0,
            node_revenue_msat,
        })
        .collect()
}
