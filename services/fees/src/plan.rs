//! A fee plan for a node: per channel, the rule that matched, its strategy, the current
//! and proposed fee, why, and the revenue expected on it (msat over the demand, from a
//! simulation with every proposal applied).
//!
//! Pinned channels keep their fee. Channels under `flow` are priced one at a time given
//! each other (see [`crate::strategy::flow`]), the others being fixed at their own
//! proposals. A section's floor raises its proposal's ppm to the channel's refill cost.
//! When every flow channel's fee lies within its bounds, the flow channels keep their
//! current fees if the plan, routed afresh, would simulate less revenue for N than they do
//! (the rounds' routes keep a payer's route among equally cheap ones; routed afresh, such
//! ties may fall otherwise).
//!
//! Every scenario of a plan derives from the node's base scenario (only N's fees differ), and
//! the baseline routes serve both the current revenue and the first flow round. The final
//! simulation skips the payments the flow rounds proved to earn N nothing whatever it
//! charges (their best route avoids N and every route through N costs strictly more).

use rayon::prelude::*;
use serde::Serialize;
use switchyard_graph::route::RouteError;
use switchyard_graph::{EdgeIdx, NodeId, Scid, Snapshot};

use crate::curves::{Session, Work};
use crate::demand::{Demand, DemandSpec};
use crate::rules::{ChannelState, Rules, Section, Strategy};
use crate::scenario::{request, Balances, FeePolicy, Scenario};
use crate::sim::{account, route_all, ChannelFlow, NodeFlow, Way};
use crate::strategy::{self, FlowChannel, Proposal};
use crate::FeesError;

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The node under study N.
    pub node: NodeId,
    /// Which strategy prices which channel.
    pub rules: Rules,
    /// Replaces every section's strategy (pinning still holds), e.g. `?strategy=flow`.
    pub strategy: Option<Strategy>,
    /// States of the node's channels; a channel not listed gets half its capacity each side,
    /// age 0, no activity, public.
    pub channels: Vec<ChannelState>,
    /// What N's channels can forward (htlc_max caps in the simulations).
    pub balances: Balances,
    /// The payments the `flow` strategy and the revenue figures are simulated over.
    pub demand: DemandSpec,
}

/// One channel of a plan (`GET /v1/fees/plan`'s `channels[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelPlan {
    /// The channel.
    pub scid: Scid,
    /// The node under study N (the direction priced leaves it).
    pub from: NodeId,
    /// The peer.
    pub to: NodeId,
    /// Name of the rules section that decided this channel.
    pub rule: String,
    /// Name of the strategy used, or `pinned`.
    pub strategy: String,
    /// Whether the section pins the channel (its fee is kept).
    pub pinned: bool,
    /// The fee the direction charges now.
    pub current: FeePolicy,
    /// The proposed fee (equal to `current` when kept).
    pub proposed: FeePolicy,
    /// Why this fee (the strategy's reasoning, or why the current one is kept).
    pub reason: String,
    /// N's revenue (msat) on this direction over the demand under the whole plan.
    pub expected_revenue_msat: u64,
}

/// `GET /v1/fees/plan`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The node under study N.
    pub node: NodeId,
    /// The strategy forced on every channel, or `rules`.
    pub strategy: String,
    /// One row per outgoing direction of N that has a policy.
    pub channels: Vec<ChannelPlan>,
    /// N's revenue over the demand at the current fees and under the plan.
    pub current_revenue_msat: u64,
    /// N's revenue (msat) over the demand under the plan.
    pub expected_revenue_msat: u64,
    #[serde(skip)]
    /// Work done by the `flow` strategy's curve computations (not serialized).
    pub work: Work,
    #[serde(skip)]
    /// The `flow` rounds' moves: kept, refused by their simulation, and the payments routed
    /// again to simulate them (not serialized).
    pub flow_moves: (u64, u64, u64),
}

fn default_state(g: &Snapshot, e: EdgeIdx) -> ChannelState {
    let ch = g.channel(Snapshot::edge_channel(e));
    let half = ch.capacity_sat * 500;
    ChannelState {
        scid: ch.scid,
        peer: g.node(g.edge_to(e)).id,
        capacity_sat: ch.capacity_sat,
        local_msat: half,
        remote_msat: half,
        age_days: 0,
        forwards: 0,
        forward_volume_msat: 0,
        public: true,
    }
}

/// A non-flow strategy's proposal (`None`: keep the current fee, with the reason).
fn direct(sc: &Scenario, e: EdgeIdx, st: &ChannelState, s: &Strategy) -> Result<Proposal, String> {
    match s {
        Strategy::Static(fee) => Ok(strategy::static_fee(*fee)),
        Strategy::Proportional {
            base_fee_msat,
            min_fee_ppm,
            max_fee_ppm,
        } => Ok(strategy::proportional(
            st.local_ratio(),
            *base_fee_msat,
            *min_fee_ppm,
            *max_fee_ppm,
        )),
        Strategy::Competitive {
            percentile,
            base_fee_msat,
        } => strategy::competitive(&sc.snapshot, e, *percentile, *base_fee_msat)
            .ok_or_else(|| "competitive: no other channel into the peer".to_string()),
        Strategy::CostFloor { amount_sat } => {
            let cur = sc.fee_of(e);
            strategy::cost_floor(sc, e, amount_sat.saturating_mul(1000))
                .map(|(ppm, cost)| Proposal {
                    fee: FeePolicy::new(cur.base_fee_msat, ppm),
                    reason: format!("cost_floor: refilling {amount_sat} sat costs {cost} msat"),
                })
                .ok_or_else(|| "cost_floor: no circular route refills the channel".to_string())
        }
        Strategy::Flow(_) => Err("flow is planned jointly".to_string()),
    }
}

/// One channel's row of the plan: the rule that matched and, unless the channel is priced
/// by `flow` (then returned apart, to be priced with the others), its proposal.
fn plan_row(base: &Scenario, req: &PlanRequest, e: EdgeIdx) -> (ChannelPlan, Option<FlowChannel>) {
    let g = &*base.snapshot;
    let head = default_state(g, e);
    let st = req
        .channels
        .iter()
        .find(|c| c.scid == head.scid)
        .cloned()
        .unwrap_or(head);
    let section: &Section = req.rules.match_channel(&st);
    let current = base.fee_of(e);
    let strat = if section.pin {
        None
    } else {
        req.strategy.as_ref().or(section.strategy.as_ref())
    };
    let floor = section
        .floor_amount_sat
        .and_then(|a| strategy::cost_floor(base, e, a.saturating_mul(1000)).map(|x| x.0));
    let mut row = ChannelPlan {
        scid: st.scid,
        from: req.node,
        to: st.peer,
        rule: section.name.clone(),
        strategy: strat.map_or("pinned", |s| s.name()).to_string(),
        pinned: section.pin,
        current,
        proposed: current,
        reason: "pinned".to_string(),
        expected_revenue_msat: 0,
    };
    match strat {
        None => {}
        Some(_) if !g.edge_enabled(e) => row.reason = "direction disabled: kept".to_string(),
        Some(Strategy::Flow(params)) => {
            let f = FlowChannel {
                edge: e,
                params: *params,
                floor_ppm: floor,
            };
            return (row, Some(f));
        }
        Some(s) => match direct(base, e, &st, s) {
            Ok(p) => {
                row.proposed = p.fee;
                row.reason = p.reason;
                if let Some(f) = floor.filter(|&f| f > row.proposed.fee_ppm) {
                    row.proposed.fee_ppm = f;
                    row.reason += &format!("; raised to the refill cost {f} ppm");
                }
            }
            Err(why) => row.reason = why + ": kept",
        },
    }
    (row, None)
}

/// Plans fees for `req.node` on `graph` (see the module documentation).
pub fn plan(graph: &Snapshot, req: &PlanRequest) -> Result<Plan, FeesError> {
    let base = Scenario::new(graph, &req.node, &req.balances, &[])?;
    let demand = Demand::generate(graph, &req.demand)?;
    let g = &*base.snapshot;
    let edges: Vec<EdgeIdx> = g.out_edges(base.node).to_vec();
    let mut rows: Vec<ChannelPlan> = Vec::with_capacity(edges.len());
    let mut flow: Vec<(usize, FlowChannel)> = Vec::new();
    for (i, &e) in edges.iter().enumerate() {
        let (row, f) = plan_row(&base, req, e);
        rows.push(row);
        flow.extend(f.map(|f| (i, f)));
    }
    // Every scenario below derives from `base` (a patched copy and an index borrowing the
    // floor's landmarks): only N's fees differ.
    let changes = |rows: &[ChannelPlan]| -> Vec<(EdgeIdx, FeePolicy)> {
        rows.iter()
            .zip(&edges)
            .filter(|(r, _)| r.proposed != r.current)
            .map(|(r, &e)| (e, r.proposed))
            .collect()
    };
    let base_routes = route_all(&base, &demand);
    let current_revenue_msat = account(&base, &base_routes).0.revenue_msat;
    let mut work = Work::default();
    let mut moves = (0, 0, 0);
    let mut start_revenue = None;
    let mut session = Session::new(&demand);
    if !flow.is_empty() {
        let fixed = rows.clone();
        let start: Vec<FeePolicy> = flow.iter().map(|(i, _)| rows[*i].current).collect();
        let chans: Vec<FlowChannel> = flow.iter().map(|x| x.1).collect();
        // At the start the flow channels are at their current fees: the baseline's routes
        // are the first round's when no other channel changes.
        let known = changes(&fixed).is_empty().then_some(&base_routes[..]);
        let out = strategy::flow_from(
            &chans,
            &mut session,
            &start,
            |fees| {
                let mut r = fixed.clone();
                for ((i, _), f) in flow.iter().zip(fees) {
                    r[*i].proposed = *f;
                }
                base.with_fees(&changes(&r))
            },
            known,
        );
        work = out.work;
        moves = (out.moves, out.refused, out.rerouted);
        for ((i, _), p) in flow.iter().zip(out.proposals) {
            rows[*i].proposed = p.fee;
            rows[*i].reason = format!("{} ({} rounds)", p.reason, out.rounds);
        }
        // Moves into the bounds are not a choice: compare only when none was needed.
        start_revenue = (out.forced == 0).then_some(out.start_revenue_msat);
    }
    let mut flows = simulate_plan(&base, &session, &demand, &changes(&rows));
    if let Some(start) = start_revenue.filter(|&s| flows.0.revenue_msat < s) {
        // The moves each raised N's revenue on the routes the rounds kept; routed afresh,
        // ties may fall otherwise: never propose less than the flow channels' current fees.
        for (i, _) in &flow {
            rows[*i].proposed = rows[*i].current;
            rows[*i].reason = format!(
                "flow: kept: the plan simulates {} msat, below {start} msat at the current fees",
                flows.0.revenue_msat
            );
        }
        flows = simulate_plan(&base, &session, &demand, &changes(&rows));
    }
    let (node, flows) = flows;
    Ok(finish(
        req,
        rows,
        current_revenue_msat,
        node,
        &flows,
        (work, moves),
    ))
}

/// N's flows over `demand` with `changes` applied to `base`. Payments the flow rounds
/// showed to earn N nothing whatever it charges are not routed again: only N's outgoing
/// flows (its revenue) are read from this simulation.
fn simulate_plan(
    base: &Scenario,
    session: &Session,
    demand: &Demand,
    changes: &[(EdgeIdx, FeePolicy)],
) -> (NodeFlow, Vec<ChannelFlow>) {
    let planned = base.with_fees(changes);
    let idle = session.earns_nothing(&planned);
    let routes: Vec<_> = demand
        .payments
        .par_iter()
        .enumerate()
        .map(|(i, p)| match &idle {
            Some(idle) if idle[i] => Err(RouteError::Disconnected),
            _ => planned.find_route(&request(p)),
        })
        .collect();
    account(&planned, &routes)
}

/// The plan's answer from its rows and simulated flows.
fn finish(
    req: &PlanRequest,
    mut rows: Vec<ChannelPlan>,
    current_revenue_msat: u64,
    node: NodeFlow,
    flows: &[ChannelFlow],
    (work, flow_moves): (Work, (u64, u64, u64)),
) -> Plan {
    for row in &mut rows {
        row.expected_revenue_msat = flows
            .iter()
            .filter(|f| f.scid == row.scid && f.direction == Way::Out)
            .map(|f| f.revenue_msat)
            .sum();
    }
    Plan {
        node: req.node,
        strategy: req
            .strategy
            .as_ref()
            .map_or("rules", |s| s.name())
            .to_string(),
        channels: rows,
        current_revenue_msat,
        expected_revenue_msat: node.revenue_msat,
        work,
        flow_moves,
    }
}
