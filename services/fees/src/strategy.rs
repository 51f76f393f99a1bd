//! Fee strategies: each a function from what is known of a channel (its state, the graph,
//! the demand) to a proposed fee and a human-readable reason.
//!
//! * [`static_fee`]: a fixed base fee and ppm.
//! * [`proportional`] (charge-lnd's semantics): ppm linear in the local balance ratio, from
//!   `max_fee_ppm` when nothing is local (ratio 0) down to `min_fee_ppm` when everything is
//!   (ratio 1), rounded to the nearest ppm.
//! * [`competitive`]: a percentile (nearest rank) of what the alternatives to N charge for
//!   the same next hop: the other enabled channels into the same peer.
//! * [`cost_floor`]: the estimated cost of refilling the channel, as ppm of a given amount:
//!   the cheapest circular route the router finds, N -> ... -> peer over other channels, then
//!   peer -> N over the channel itself (its reverse direction, whose fee the peer charges).
//! * [`flow`]: per channel, the candidate fee that maximises N's simulated total revenue
//!   over the demand with the other fees fixed ([`crate::curves`]), all channels moved
//!   together, repeated until no channel moves or the rounds run out; candidates lie within
//!   `[min_fee_ppm, max_fee_ppm]` and within a step of the current ppm (at most
//!   `max_step_ppm`, and at most `max_step_percent` % of a non-zero current ppm, never less
//!   than 1 ppm), and above the channel's floor if it has one.
//!
//! Any strategy can be combined with a floor (`cost_floor`): the plan raises a proposal's
//! ppm to the floor's.

use switchyard_graph::route::{Route, RouteError, RouteRequest};
use switchyard_graph::{EdgeIdx, Snapshot};

use crate::curves::{self, Work};
use crate::demand::Demand;
use crate::rules::FlowParams;
use crate::scenario::{FeePolicy, Scenario};

/// A strategy's answer for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The fee to charge.
    pub fee: FeePolicy,
    /// Why, in words (shown in plans).
    pub reason: String,
}

/// `static`: always `fee`.
pub fn static_fee(fee: FeePolicy) -> Proposal {
    Proposal {
        fee,
        reason: format!("static {} msat + {} ppm", fee.base_fee_msat, fee.fee_ppm),
    }
}

/// `proportional`: see the module documentation; `ratio` is clamped to 0..=1.
pub fn proportional(
    ratio: f64,
    base_fee_msat: u32,
    min_fee_ppm: u32,
    max_fee_ppm: u32,
) -> Proposal {
    let r = if ratio.is_nan() {
        0.5
    } else {
        ratio.clamp(0.0, 1.0)
    };
    let (lo, hi) = (min_fee_ppm.min(max_fee_ppm), max_fee_ppm.max(min_fee_ppm));
    let drop = ((f64::from(hi - lo) * r) + 0.5).floor() as u32;
    let ppm = hi - drop.min(hi - lo);
    Proposal {
        fee: FeePolicy::new(base_fee_msat, ppm),
        reason: format!(
            "local balance ratio {r:.2} between {lo} ppm (all local) and {hi} ppm (all remote)"
        ),
    }
}

/// Nearest-rank percentile of a non-empty sorted slice.
fn percentile_of(sorted: &[u32], p: f64) -> u32 {
    let n = sorted.len();
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// `competitive`: `percentile` of the alternatives into `edge`'s peer (see the module docs).
/// `None` when the peer has no other enabled channel in.
pub fn competitive(
    g: &Snapshot,
    edge: EdgeIdx,
    percentile: f64,
    base_fee_msat: Option<u32>,
) -> Option<Proposal> {
    let (me, peer) = (g.edge_from(edge), g.edge_to(edge));
    let mut ppm = Vec::new();
    let mut base = Vec::new();
    for &e in g.in_edges(peer) {
        if g.edge_from(e) == me || !g.edge_enabled(e) {
            continue;
        }
        if let Some(p) = g.edge_policy(e) {
            ppm.push(p.fee_ppm);
            base.push(p.fee_base_msat);
        }
    }
    if ppm.is_empty() {
        return None;
    }
    ppm.sort_unstable();
    base.sort_unstable();
    let fee = FeePolicy::new(
        base_fee_msat.unwrap_or_else(|| percentile_of(&base, percentile)),
        percentile_of(&ppm, percentile),
    );
    Some(Proposal {
        fee,
        reason: format!(
            "percentile {percentile} of the {} other channels into the peer ({} ppm)",
            ppm.len(),
            fee.fee_ppm
        ),
    })
}

/// `cost_floor`: the refill cost of `edge` (N -> peer) for `amount_msat`, in ppm (rounded
/// up), and the circular route's total fee; `None` when no circular route exists.
pub fn cost_floor(sc: &Scenario, edge: EdgeIdx, amount_msat: u64) -> Option<(u32, u64)> {
    let g = &*sc.snapshot;
    let back = edge ^ 1;
    let p = g.edge_policy(back).filter(|p| !p.disabled)?;
    let amount = amount_msat.max(1);
    if amount < p.htlc_min_msat || amount > p.htlc_max_msat {
        return None;
    }
    let last_fee = FeePolicy::of(p).fee_msat(amount);
    let peer = g.node(g.edge_to(edge)).id;
    let scid = g.channel(Snapshot::edge_channel(edge)).scid;
    let req = RouteRequest {
        exclude_channels: vec![scid],
        ..RouteRequest::new(sc.node_id, peer, amount.saturating_add(last_fee))
    };
    let r = sc.find_route(&req).ok()?;
    let cost = r.total_fee_msat.saturating_add(last_fee);
    let ppm = (u128::from(cost) * 1_000_000).div_ceil(u128::from(amount));
    Some((u32::try_from(ppm).unwrap_or(u32::MAX), cost))
}

/// One channel priced by `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowChannel {
    /// The direction N -> peer to price.
    pub edge: EdgeIdx,
    /// The `flow` parameters of its section.
    pub params: FlowParams,
    /// The least ppm allowed (a `cost_floor`), if any.
    pub floor_ppm: Option<u32>,
}

/// What `flow` proposes: per channel a fee and a reason, the rounds it took, its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowOutcome {
    /// One proposal per channel, in the order given.
    pub proposals: Vec<Proposal>,
    /// Rounds run.
    pub rounds: u32,
    /// Counts of the curve computations' work.
    pub work: Work,
}

/// The candidate grid of `params`: `candidates` ppm values evenly spaced over the bounds.
pub fn grid(params: &FlowParams) -> Vec<FeePolicy> {
    let n = u64::from(params.candidates.max(1));
    let (lo, hi) = (u64::from(params.min_fee_ppm), u64::from(params.max_fee_ppm));
    let mut v: Vec<FeePolicy> = (0..n)
        .map(|i| {
            let ppm = if n == 1 {
                lo
            } else {
                lo + (hi - lo) * i / (n - 1)
            };
            FeePolicy::new(params.base_fee_msat, ppm as u32)
        })
        .collect();
    v.dedup();
    v
}

/// The ppm window a channel at `cur` may move to in one step.
pub fn step_window(params: &FlowParams, cur: u32) -> (u32, u32) {
    let pct = u64::from(cur) * u64::from(params.max_step_percent) / 100;
    let step = if cur == 0 {
        params.max_step_ppm
    } else {
        (pct.max(1) as u32).min(params.max_step_ppm)
    };
    (cur.saturating_sub(step), cur.saturating_add(step))
}

/// `flow` (see the module docs): `scenario_for(fees)` gives the scenario with the flow
/// channels at `fees` (the other channels fixed as the caller wants them). The rounds share
/// one [`curves::Session`]: `scenario_for` should change only the fees of N's outgoing
/// directions from one call to the next (anything else, and the session starts afresh).
pub fn flow(
    channels: &[FlowChannel],
    demand: &Demand,
    start: &[FeePolicy],
    scenario_for: impl FnMut(&[FeePolicy]) -> Scenario,
) -> FlowOutcome {
    let mut session = curves::Session::new(demand);
    flow_from(channels, &mut session, start, scenario_for, None)
}

/// [`flow`] on `session`'s demand, with the payments' routes at `start` (on
/// `scenario_for(start)`) already known.
pub(crate) fn flow_from(
    channels: &[FlowChannel],
    session: &mut curves::Session,
    start: &[FeePolicy],
    mut scenario_for: impl FnMut(&[FeePolicy]) -> Scenario,
    start_routes: Option<&[Result<Route, RouteError>]>,
) -> FlowOutcome {
    let mut fees = start.to_vec();
    let mut reasons = vec![String::from("no round ran"); channels.len()];
    let mut grid_all: Vec<FeePolicy> = channels.iter().flat_map(|c| grid(&c.params)).collect();
    grid_all.sort_unstable();
    grid_all.dedup();
    let edges: Vec<EdgeIdx> = channels.iter().map(|c| c.edge).collect();
    let rounds = channels.iter().map(|c| c.params.rounds).max().unwrap_or(0);
    let mut work = Work::default();
    let mut done = 0;
    for round in 0..rounds {
        done = round + 1;
        let sc = scenario_for(&fees);
        let known = if round == 0 { start_routes } else { None };
        let curves = session.curves(&sc, &grid_all, &edges, known);
        work = work.add(curves.work);
        let mut moved = false;
        let mut next = fees.clone();
        for (k, (c, curve)) in channels.iter().zip(&curves.curves).enumerate() {
            let (choice, reason) = choose(c, fees[k], curves.baseline_revenue_msat, &curve.points);
            moved |= choice != fees[k];
            next[k] = choice;
            reasons[k] = reason;
        }
        fees = next;
        if !moved {
            break;
        }
    }
    FlowOutcome {
        proposals: fees
            .into_iter()
            .zip(reasons)
            .map(|(fee, reason)| Proposal { fee, reason })
            .collect(),
        rounds: done,
        work,
    }
}

/// The best allowed point of one curve (staying put is allowed when within bounds).
fn choose(
    c: &FlowChannel,
    cur: FeePolicy,
    current_total: u64,
    points: &[curves::CurvePoint],
) -> (FeePolicy, String) {
    let p = &c.params;
    let (lo, hi) = step_window(p, cur.fee_ppm);
    let floor = c.floor_ppm.unwrap_or(0);
    let allowed = |f: &FeePolicy| {
        f.base_fee_msat == p.base_fee_msat
            && (p.min_fee_ppm..=p.max_fee_ppm).contains(&f.fee_ppm)
            && (lo..=hi).contains(&f.fee_ppm)
            && f.fee_ppm >= floor
    };
    let stay_ok = (p.min_fee_ppm..=p.max_fee_ppm).contains(&cur.fee_ppm) && cur.fee_ppm >= floor;
    let mut best: Option<(u64, FeePolicy)> = stay_ok.then_some((current_total, cur));
    for pt in points.iter().filter(|pt| allowed(&pt.fee)) {
        let better = match best {
            None => true,
            Some((rev, f)) => {
                pt.node_revenue_msat > rev
                    || (pt.node_revenue_msat == rev
                        && pt.fee.fee_ppm.abs_diff(cur.fee_ppm) < f.fee_ppm.abs_diff(cur.fee_ppm))
            }
        };
        if better {
            best = Some((pt.node_revenue_msat, pt.fee));
        }
    }
    match best {
        Some((rev, f)) => (
            f,
            format!(
                "flow: {rev} msat simulated node revenue at {} ppm (window {lo}..={hi})",
                f.fee_ppm
            ),
        ),
        None => {
            // Outside the bounds with no candidate in reach: one step toward them.
            let target = cur
                .fee_ppm
                .clamp(p.min_fee_ppm.max(floor), p.max_fee_ppm.max(floor));
            let ppm = target.clamp(lo, hi);
            (
                FeePolicy::new(p.base_fee_msat, ppm),
                format!(
                    "flow: one step toward the bounds {}..={} ppm",
                    p.min_fee_ppm, p.max_fee_ppm
                ),
            )
        }
    }
}
