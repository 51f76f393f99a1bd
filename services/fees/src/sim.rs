//! Flow simulation: route every payment of a demand with the fee-model router under a
//! set of policy overrides, and account what the node under study N carries and earns.
//!
//! Per direction of each of N's channels: **out** (N -> peer) counts the payments N
//! forwards over it, their volume (the amount the hop carries) and N's revenue (the hop's
//! fee; 0 when N is the payer, whose first hop is free, as in the route semantics of
//! `switchyard_graph::route`); **in** (peer -> N) counts the payments it brings to N (for N to
//! forward or to receive) and their volume, and earns N nothing. The node totals count
//! payments N forwarded (N neither payer nor payee), their outgoing volume and the fees.
//!
//! Balances limit each direction as described in [`crate::scenario`]: caps per HTLC, not a
//! liquidity budget the payments share. A payment that finds no route (fee ceiling, limits,
//! capacity) counts as failed. `changed_routes` compares each payment's route with its route
//! under the same balances and no overrides (the baseline).
//!
//! **Routing once where once decides.** Overrides change only fees of directions leaving N.
//! When every changed fee rises (base and ppm both no lower), the baseline is routed and
//! a payment is routed again under the what-if only if its route crosses a changed
//! direction, it found no route, or an htlc_minimum could matter: some enabled direction's
//! minimum lies in `(amount, amount + the route's fee]` (higher fees upstream raise the
//! amounts a route carries, which can open a direction a baseline amount could not use;
//! that is the only way a route could become cheaper than one whose fees did not change).
//! Otherwise its baseline route is still a cheapest route and is kept: a payer does not
//! switch between equally cheap routes, so `changed_routes` counts real changes only.
//! A payment that found no route finds none on the other side either when its endpoints
//! are disconnected, or when no htlc_minimum lies in `(amount, amount + its fee ceiling]`
//! (a route within the ceiling carries at most that, and only a minimum could refuse it at
//! one side's amounts and not the other's); a search that gave up is asked again.
//! When every changed fee falls, the same holds the other way round (the what-if is
//! routed, the baseline only where it could differ). Mixed changes route both in full.
//! [`simulate_with_work`] says how many routes each side took.
//!
//! Payments are routed on rayon (the router is exact and deterministic for a given index),
//! so the result is the same for any number of threads. For many what-ifs over one demand,
//! [`crate::whatif::Baseline`] routes the demand once and each what-if only where it can
//! change a route.

use std::collections::HashSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use switchyard_graph::route::{Route, RouteError};
use switchyard_graph::{EdgeIdx, NodeId, Scid, Snapshot};

use crate::demand::{Demand, DemandSpec, Payment};
use crate::scenario::{request, Balances, FeePolicy, PolicyOverride, Scenario};
use crate::FeesError;

/// Most routes a simulation returns.
pub const MAX_RETURNED_ROUTES: usize = 1_000;

/// `POST /v1/fees/simulate`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// The node under study N.
    pub node: NodeId,
    #[serde(default)]
    /// Fees to charge on N's directions instead of the announced ones.
    pub overrides: Vec<PolicyOverride>,
    /// The payments to route.
    pub demand: DemandSpec,
    #[serde(default)]
    /// Whether to return the payments' routes (the first [`MAX_RETURNED_ROUTES`]).
    pub return_routes: bool,
}

/// N's totals over the demand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFlow {
    /// N's node id (hex).
    pub id: String,
    /// Payments N forwarded (neither payer nor payee).
    pub forwarded: u64,
    /// Their amount leaving N.
    pub volume_msat: u64,
    /// N's fees (msat) on those payments.
    pub revenue_msat: u64,
}

/// Which way a direction points, seen from N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// The direction leaves N.
    Out,
    /// The direction enters N.
    In,
}

/// One direction of one of N's channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelFlow {
    /// The channel.
    pub scid: Scid,
    /// The node the direction leaves.
    pub from: NodeId,
    /// The node the direction enters.
    pub to: NodeId,
    /// Whether the direction leaves or enters N.
    pub direction: Way,
    /// Payments whose route crosses this direction.
    pub payments: u64,
    /// Amount (msat) carried over this direction by those payments.
    pub volume_msat: u64,
    /// N's fees on it (always 0 inbound).
    pub revenue_msat: u64,
}

/// `POST /v1/fees/simulate`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationResult {
    /// Payments in the demand.
    pub payments: u64,
    /// Payments a route was found for.
    pub succeeded: u64,
    /// N's totals.
    pub node: NodeFlow,
    /// Every direction of N's channels that has a policy, out before in, by scid.
    pub channels: Vec<ChannelFlow>,
    /// Payments whose route (or failure) differs from the baseline's.
    pub changed_routes: u64,
    /// The first [`MAX_RETURNED_ROUTES`] payments' routes (`None` when none was found), when
    /// asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Option<Route>>>,
}

/// Routes every payment of `demand` in `scenario` (rayon, input order).
pub fn route_all(scenario: &Scenario, demand: &Demand) -> Vec<Result<Route, RouteError>> {
    demand
        .payments
        .par_iter()
        .map(|p| scenario.find_route(&request(p)))
        .collect()
}

/// Accounts N's flow over routed payments (see the module documentation).
pub fn account(
    scenario: &Scenario,
    routes: &[Result<Route, RouteError>],
) -> (NodeFlow, Vec<ChannelFlow>) {
    let g = &*scenario.snapshot;
    let n = scenario.node;
    let me = scenario.node_id;
    let mut channels: Vec<ChannelFlow> = Vec::new();
    for way in [Way::Out, Way::In] {
        let edges = if way == Way::Out {
            g.out_edges(n)
        } else {
            g.in_edges(n)
        };
        let mut v: Vec<ChannelFlow> = edges
            .iter()
            .map(|&e| ChannelFlow {
                scid: g.channel(Snapshot::edge_channel(e)).scid,
                from: g.node(g.edge_from(e)).id,
                to: g.node(g.edge_to(e)).id,
                direction: way,
                payments: 0,
                volume_msat: 0,
                revenue_msat: 0,
            })
            .collect();
        v.sort_by_key(|c| c.scid);
        channels.extend(v);
    }
    let find = |channels: &mut [ChannelFlow], scid: Scid, way: Way| -> Option<usize> {
        channels
            .iter()
            .position(|c| c.scid == scid && c.direction == way)
    };
    let mut node = NodeFlow {
        id: me.to_string(),
        ..NodeFlow::default()
    };
    for r in routes.iter().flatten() {
        for (i, h) in r.hops.iter().enumerate() {
            let way = if h.from == me {
                Way::Out
            } else if h.to == me {
                Way::In
            } else {
                continue;
            };
            if let Some(k) = find(&mut channels, h.scid, way) {
                let c = &mut channels[k];
                c.payments += 1;
                c.volume_msat += h.amount_to_forward_msat;
                c.revenue_msat += h.fee_msat;
            }
            if way == Way::Out && i > 0 {
                node.forwarded += 1;
                node.volume_msat += h.amount_to_forward_msat;
                node.revenue_msat += h.fee_msat;
            }
        }
    }
    (node, channels)
}

/// The hops' channels and senders: what "the same route" means for `changed_routes`.
pub(crate) fn route_key(r: &Result<Route, RouteError>) -> Option<Vec<(Scid, NodeId)>> {
    r.as_ref()
        .ok()
        .map(|r| r.hops.iter().map(|h| (h.scid, h.from)).collect())
}

/// Simulates `req` on `graph` with N's `balances` (see the module documentation).
pub fn simulate(
    graph: &Snapshot,
    req: &SimulateRequest,
    balances: &Balances,
) -> Result<SimulationResult, FeesError> {
    simulate_with_work(graph, req, balances).map(|(r, _)| r)
}

/// Work of a simulation: what its time depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SimWork {
    /// Routes computed under the what-if.
    pub what_if_routes: u64,
    /// Routes computed at the current fees (the baseline).
    pub baseline_routes: u64,
    /// Payments whose route on one side was shown to be a cheapest route on the other too
    /// (see the module documentation), not routed again.
    pub reused_routes: u64,
    /// Routing indexes built: the base scenario's (with its landmark tables) and the
    /// what-if's (landmarks borrowed), when the overrides change a fee.
    pub indexes_built: u64,
}

/// [`simulate`], with the work it did.
pub fn simulate_with_work(
    graph: &Snapshot,
    req: &SimulateRequest,
    balances: &Balances,
) -> Result<(SimulationResult, SimWork), FeesError> {
    let base = Scenario::new(graph, &req.node, balances, &[])?;
    let changes = base.override_changes(&req.overrides)?;
    let demand = Demand::generate(graph, &req.demand)?;
    let what_if = base.with_fees(&changes);
    let mut work = SimWork {
        indexes_built: 1,
        ..SimWork::default()
    };
    let (routes, changed) = route_what_if(&base, &what_if, &changes, &demand, &mut work);
    Ok((result(&what_if, routes, changed, req.return_routes), work))
}

/// Whether the effective changes raise some fee and lower some fee (pointwise in the amount).
fn rise_fall(base: &Scenario, changes: &[(EdgeIdx, FeePolicy)]) -> (bool, bool) {
    let (mut rise, mut fall) = (false, false);
    for &(e, new) in changes {
        let old = base.fee_of(e);
        if new == old {
            continue;
        }
        let up = new.base_fee_msat >= old.base_fee_msat && new.fee_ppm >= old.fee_ppm;
        let down = new.base_fee_msat <= old.base_fee_msat && new.fee_ppm <= old.fee_ppm;
        rise |= !down;
        fall |= !up;
    }
    (rise, fall)
}

/// The what-if's routes and how many differ from the baseline's, each payment routed on
/// one side and only where needed on the other (see the module documentation).
fn route_what_if(
    base: &Scenario,
    what_if: &Scenario,
    changes: &[(EdgeIdx, FeePolicy)],
    demand: &Demand,
    work: &mut SimWork,
) -> (Vec<Result<Route, RouteError>>, u64) {
    let n = demand.payments.len() as u64;
    let (rise, fall) = rise_fall(base, changes);
    if !rise && !fall {
        work.what_if_routes = n;
        return (route_all(base, demand), 0);
    }
    work.indexes_built += 1;
    let count_changed = |a: &[Result<Route, RouteError>], b: &[Result<Route, RouteError>]| {
        a.par_iter()
            .zip(b)
            .filter(|(x, y)| route_key(x) != route_key(y))
            .count() as u64
    };
    if rise && fall {
        let (routes, baseline) =
            rayon::join(|| route_all(what_if, demand), || route_all(base, demand));
        (work.what_if_routes, work.baseline_routes) = (n, n);
        let changed = count_changed(&routes, &baseline);
        return (routes, changed);
    }
    // Fees only rose: the baseline decides; only fell: the what-if does.
    let (first, second) = if rise {
        (base, what_if)
    } else {
        (what_if, base)
    };
    let known = route_all(first, demand);
    let mins = HtlcMins::new(&what_if.snapshot);
    let keep = Keep::new(base, what_if, changes, &mins);
    let other: Vec<Option<Result<Route, RouteError>>> = known
        .par_iter()
        .zip(&demand.payments)
        .map(|(r, p)| (!keep.holds(r, p)).then(|| second.find_route(&request(p))))
        .collect();
    let routed = other.iter().filter(|o| o.is_some()).count() as u64;
    work.reused_routes = n - routed;
    let other: Vec<Result<Route, RouteError>> = other
        .into_iter()
        .zip(&known)
        .map(|(o, k)| o.unwrap_or_else(|| k.clone()))
        .collect();
    let changed = count_changed(&known, &other);
    if rise {
        (work.baseline_routes, work.what_if_routes) = (n, routed);
        (other, changed)
    } else {
        (work.what_if_routes, work.baseline_routes) = (n, routed);
        (known, changed)
    }
}

/// "Is this payment's route (or failure) on one side of a one-way change still a cheapest
/// route (or a failure) on the other?" (see the module documentation).
struct Keep<'m> {
    me: NodeId,
    crossed: HashSet<Scid>,
    mins: &'m HtlcMins,
}

impl<'m> Keep<'m> {
    /// For the change from `before` to `after` (`changes`, N's outgoing fees).
    fn new(
        before: &Scenario,
        after: &Scenario,
        changes: &[(EdgeIdx, FeePolicy)],
        mins: &'m HtlcMins,
    ) -> Keep<'m> {
        let g = &*after.snapshot;
        let crossed = changes
            .iter()
            .filter(|&&(e, fee)| before.fee_of(e) != fee)
            .map(|&(e, _)| g.channel(Snapshot::edge_channel(e)).scid)
            .collect();
        Keep {
            me: after.node_id,
            crossed,
            mins,
        }
    }

    fn holds(&self, r: &Result<Route, RouteError>, p: &Payment) -> bool {
        let a = p.amount_msat;
        match r {
            Ok(r) => {
                !r.hops
                    .iter()
                    .any(|h| h.from == self.me && self.crossed.contains(&h.scid))
                    && !self.mins.within(a, a.saturating_add(r.total_fee_msat))
            }
            Err(RouteError::Disconnected) => true,
            Err(RouteError::SearchBudget { .. }) => false,
            Err(_) => !self.mins.within(a, a.saturating_add(p.max_fee_msat)),
        }
    }
}

/// The routes on `after` of payments whose routes on `before` are `routes` (a cheapest
/// route each, or a failure), `after` being `before` with N's outgoing directions
/// `changes` charging other fees; and how many payments were routed again. A payment keeps
/// its route when `quiet` marks it (shown to stay a cheapest route by the caller: e.g. it
/// earns N nothing on `after` whatever route it takes, its route avoiding N and every route
/// through N costing strictly more, see [`crate::curves::Session::earns_nothing`]; or the
/// curves of the changed channels at their new fees say so, `Session::may_change`), or when
/// every changed fee rose (`mins`: `before`'s htlc minimums) and its route is shown to stay
/// a cheapest one as in a one-way what-if (see the module documentation). Every other
/// payment is routed again.
pub(crate) fn reroute(
    before: &Scenario,
    after: &Scenario,
    changes: &[(EdgeIdx, FeePolicy)],
    demand: &Demand,
    routes: &[Result<Route, RouteError>],
    quiet: Option<&[bool]>,
    mins: &HtlcMins,
) -> (Vec<Result<Route, RouteError>>, u64) {
    let (rise, fall) = rise_fall(before, changes);
    if !rise && !fall {
        return (routes.to_vec(), 0);
    }
    let keep = (rise && !fall).then(|| Keep::new(before, after, changes, mins));
    let quiet = quiet.filter(|q| q.len() == routes.len());
    let out: Vec<(Result<Route, RouteError>, bool)> = routes
        .par_iter()
        .zip(&demand.payments)
        .enumerate()
        .map(|(i, (r, p))| {
            let kept = quiet.is_some_and(|q| q[i]) || keep.as_ref().is_some_and(|k| k.holds(r, p));
            if kept {
                (r.clone(), false)
            } else {
                (after.find_route(&request(p)), true)
            }
        })
        .collect();
    let routed = out.iter().filter(|x| x.1).count() as u64;
    (out.into_iter().map(|x| x.0).collect(), routed)
}

/// Every enabled direction's htlc_minimum, sorted: "could an htlc_minimum lie between these
/// two amounts?" (The same for every scenario of one family: fee changes keep minimums.)
pub(crate) struct HtlcMins(Vec<u64>);

impl HtlcMins {
    /// The minimums of `g`.
    pub(crate) fn new(g: &Snapshot) -> HtlcMins {
        let mut v: Vec<u64> = g
            .channels()
            .iter()
            .flat_map(|c| c.policies.iter().flatten())
            .filter(|p| !p.disabled && p.htlc_min_msat > 0)
            .map(|p| p.htlc_min_msat)
            .collect();
        v.sort_unstable();
        v.dedup();
        HtlcMins(v)
    }

    /// Whether some minimum `m` has `lo < m <= hi`.
    fn within(&self, lo: u64, hi: u64) -> bool {
        let i = self.0.partition_point(|&m| m <= lo);
        self.0.get(i).is_some_and(|&m| m <= hi)
    }
}

/// The answer for routed payments.
pub fn result(
    scenario: &Scenario,
    routes: Vec<Result<Route, RouteError>>,
    changed_routes: u64,
    return_routes: bool,
) -> SimulationResult {
    let (node, channels) = account(scenario, &routes);
    let succeeded = routes.iter().filter(|r| r.is_ok()).count() as u64;
    SimulationResult {
        payments: routes.len() as u64,
        succeeded,
        node,
        channels,
        changed_routes,
        routes: return_routes.then(|| {
            routes
                .into_iter()
                .take(MAX_RETURNED_ROUTES)
                .map(Result::ok)
                .collect()
        }),
    }
}
