//! The naive oracle, and the one-payment computation it repeats (which the fast method
//! borrows for the rare points it cannot decide itself).

use rayon::prelude::*;
use switchyard_graph::route::{Route, RouteError, RouteRequest};
use switchyard_graph::EdgeIdx;

use super::{blank_points, curve_head, out_hop, Curves, OutHop, Work};
use crate::demand::{Demand, Payment};
use crate::scenario::{request, FeePolicy, Scenario};

/// The router gave up (label budget) on a query the tie rule needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Undecided;

/// `p`'s best route on `sc` avoiding N's outgoing directions `avoid` (their peer -> N
/// directions stay usable), with real scids.
pub(crate) fn avoiding(sc: &Scenario, p: &Payment, avoid: &[EdgeIdx]) -> Result<Route, RouteError> {
    let split = sc.split();
    let req = RouteRequest {
        exclude_channels: avoid
            .iter()
            .filter_map(|&e| split.of_edge(e).map(|d| d.fake))
            .collect(),
        ..request(p)
    };
    sc.find_split(&req).map(|r| split.unsplit(r))
}

/// What `p` earns N on `sc` under the tie rule (see the module documentation of
/// `curves`): `Some(hop)` when every cheapest route crosses `hop.edge`, N's fee on it the
/// router's route's; with the number of routes asked.
pub(crate) fn earn(sc: &Scenario, p: &Payment) -> (Result<Option<OutHop>, Undecided>, u64) {
    let route = match sc.find_route(&request(p)) {
        Ok(r) => r,
        Err(RouteError::SearchBudget { .. }) => return (Err(Undecided), 1),
        Err(_) => return (Ok(None), 1),
    };
    let Some(hop) = out_hop(&sc.snapshot, &sc.node_id, &route) else {
        return (Ok(None), 1);
    };
    let verdict = match avoiding(sc, p, &[hop.edge]) {
        Ok(r) if r.total_fee_msat <= route.total_fee_msat => Ok(None),
        Err(RouteError::SearchBudget { .. }) => Err(Undecided),
        _ => Ok(Some(hop)),
    };
    (verdict, 2)
}

/// The oracle: per edge and candidate, patch the fee, route everything, apply the tie rule.
/// Edges that do not exist are left out.
pub fn naive(sc: &Scenario, demand: &Demand, grid: &[FeePolicy], edges: &[EdgeIdx]) -> Curves {
    let edges: Vec<EdgeIdx> = edges
        .iter()
        .copied()
        .filter(|&e| (e as usize) < sc.snapshot.edge_slot_count())
        .collect();
    let mut work = Work {
        payments: demand.payments.len() as u64,
        ..Work::default()
    };
    let base: Vec<(Result<Option<OutHop>, Undecided>, u64)> =
        demand.payments.par_iter().map(|p| earn(sc, p)).collect();
    work.baseline_routes = base.len() as u64;
    work.avoid_routes = base.iter().map(|b| b.1 - 1).sum();
    let decided: Vec<usize> = (0..base.len()).filter(|&i| base[i].0.is_ok()).collect();
    work.payments_undecided = (base.len() - decided.len()) as u64;
    let fee_of = |i: usize| base[i].0.ok().flatten().map_or(0, |h| h.fee);
    let baseline_revenue_msat = decided.iter().map(|&i| fee_of(i)).sum();
    let mut curves = Vec::with_capacity(edges.len());
    for &edge in &edges {
        let mut curve = curve_head(sc, edge);
        curve.points = blank_points(grid, 0);
        for (pt, &fee) in curve.points.iter_mut().zip(grid) {
            let patched = sc.with_fees(&[(edge, fee)]);
            if fee != curve.current {
                work.indexes_built += 1;
            }
            let earned: Vec<(Result<Option<OutHop>, Undecided>, u64)> = decided
                .par_iter()
                .map(|&i| earn(&patched, &demand.payments[i]))
                .collect();
            for (hop, routes) in earned {
                work.patched_routes += routes;
                let Ok(Some(h)) = hop else { continue };
                pt.node_revenue_msat += h.fee;
                if h.edge == edge {
                    pt.payments += 1;
                    pt.revenue_msat += h.fee;
                }
            }
        }
        curves.push(curve);
    }
    Curves {
        curves,
        baseline_revenue_msat,
        work,
    }
}
