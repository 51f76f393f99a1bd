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
//! Payments are routed on rayon (the router is exact and deterministic for a given index),
//! so the result is the same for any number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use switchyard_graph::route::{Route, RouteError};
use switchyard_graph::{NodeId, Scid, Snapshot};

use crate::demand::{Demand, DemandSpec};
use crate::scenario::{request, Balances, PolicyOverride, Scenario};
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
fn route_key(r: &Result<Route, RouteError>) -> Option<Vec<(Scid, NodeId)>> {
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
    let base = Scenario::new(graph, &req.node, balances, &[])?;
    let changes = base.override_changes(&req.overrides)?;
    let demand = Demand::generate(graph, &req.demand)?;
    let what_if = base.with_fees(&changes);
    let routes = route_all(&what_if, &demand);
    let changed = if changes.is_empty() {
        0
    } else {
        let baseline = route_all(&base, &demand);
        routes
            .par_iter()
            .zip(&baseline)
            .filter(|(a, b)| route_key(a) != route_key(b))
            .count() as u64
    };
    Ok(result(&what_if, routes, changed, req.return_routes))
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
