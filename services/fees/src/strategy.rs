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
//! * [`flow`]: one channel at a time, the candidate fee that maximises N's simulated total
//!   revenue over the demand given the others' current proposals ([`crate::curves`]), kept
//!   only if a simulation of the move confirms a gain of at least `min_gain_percent` of N's
//!   revenue, and a gain on each half of the demand (against fitting a few payments); rounds over the channels in a fixed order until a whole round moves nothing
//!   or the rounds run out. Candidates lie within `[min_fee_ppm, max_fee_ppm]` and within a
//!   step of the current ppm (at most `max_step_ppm`, and at most `max_step_percent` % of a
//!   non-zero current ppm, never less than 1 ppm): the grid's points in that window and
//!   the window's ends; and above the channel's floor if it has one. With every current fee
//!   within its bounds, N's simulated revenue under the proposals is never below its
//!   revenue at the current fees (see [`flow_from`]).
//!
//! Any strategy can be combined with a floor (`cost_floor`): the plan raises a proposal's
//! ppm to the floor's.

use switchyard_graph::route::{Route, RouteError, RouteRequest};
use switchyard_graph::{EdgeIdx, Snapshot};

use crate::curves::{self, Work};
use crate::demand::Demand;
use crate::rules::FlowParams;
use crate::scenario::{FeePolicy, Scenario};
use crate::sim::{account, reroute, route_all, HtlcMins, Way};

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
    /// N's simulated revenue (msat) over the demand at the start, and at the proposals.
    pub start_revenue_msat: u64,
    /// See `start_revenue_msat`.
    pub revenue_msat: u64,
    /// Moves kept, and moves a curve proposed that the simulation refused.
    pub moves: u64,
    /// See `moves`.
    pub refused: u64,
    /// Payments routed again to simulate the moves.
    pub rerouted: u64,
    /// Moves toward the bounds of channels outside them (counted in `moves` too; they need
    /// not raise N's revenue).
    pub forced: u64,
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

/// Where the coordinate-wise rounds stand: the flow channels' fees, the scenario with
/// them, a cheapest route (or failure) per payment on it, and N's revenue over those.
struct Standing {
    /// The htlc minimums of the scenarios' family.
    mins: HtlcMins,
    fees: Vec<FeePolicy>,
    sc: Scenario,
    routes: Vec<Result<Route, RouteError>>,
    /// N's revenue over the payments at even and at odd positions of the demand.
    revenue: [u64; 2],
}

/// N's revenue (as `sim::account` counts it) over the payments at even and at odd
/// positions of the demand.
fn revenue_halves(sc: &Scenario, routes: &[Result<Route, RouteError>]) -> [u64; 2] {
    let me = sc.node_id;
    let mut v = [0u64; 2];
    for (i, r) in routes.iter().enumerate() {
        if let Ok(r) = r {
            let fees = r.hops.iter().skip(1).filter(|h| h.from == me);
            v[i % 2] += fees.map(|h| h.fee_msat).sum::<u64>();
        }
    }
    v
}

/// The order the rounds take the channels in: by N's revenue on them over the demand at
/// the start, then their volume, both descending, then by edge (deterministic).
fn order(channels: &[FlowChannel], at: &Standing) -> Vec<usize> {
    let (_, flows) = account(&at.sc, &at.routes);
    let g = &*at.sc.snapshot;
    let key = |c: &FlowChannel| {
        let scid = g.channel(Snapshot::edge_channel(c.edge)).scid;
        flows
            .iter()
            .find(|f| f.scid == scid && f.direction == Way::Out)
            .map_or((0, 0), |f| (f.revenue_msat, f.volume_msat))
    };
    let mut v: Vec<usize> = (0..channels.len()).collect();
    v.sort_by_key(|&k| {
        let (r, vol) = key(&channels[k]);
        (
            std::cmp::Reverse(r),
            std::cmp::Reverse(vol),
            channels[k].edge,
        )
    });
    v
}

/// The candidates of channel `c` at `cur` in one step: its grid points within the step
/// window, the bounds and the floor, and the window's ends clamped to them (so a channel
/// between two grid points can still move), its current fee left out.
fn candidates(c: &FlowChannel, cur: FeePolicy) -> Vec<FeePolicy> {
    let p = &c.params;
    let (lo, hi) = step_window(p, cur.fee_ppm);
    let (min, max) = (p.min_fee_ppm.max(c.floor_ppm.unwrap_or(0)), p.max_fee_ppm);
    if min > max {
        return Vec::new();
    }
    let mut v: Vec<FeePolicy> = grid(p)
        .into_iter()
        .filter(|f| (lo..=hi).contains(&f.fee_ppm) && (min..=max).contains(&f.fee_ppm))
        .collect();
    for end in [lo, hi] {
        let ppm = end.clamp(min, max);
        if (lo..=hi).contains(&ppm) {
            v.push(FeePolicy::new(p.base_fee_msat, ppm));
        }
    }
    v.sort_unstable();
    v.dedup();
    v.retain(|f| *f != cur);
    v
}

/// [`flow`] on `session`'s demand, with the payments' routes at `start` (on
/// `scenario_for(start)`) already known.
///
/// Coordinate-wise: each round takes the channels one at a time in a fixed order
/// ([`order`]); for each, its curve over its candidates ([`candidates`]) given the others'
/// current proposals (the session's fast curves on the current scenario and routes), and
/// the best point if it beats N's current revenue by the margin (`min_gain_percent`).
/// The move is then simulated (only the payments whose route it can change are routed
/// again, `sim::reroute`) and kept only if N's simulated revenue over the whole demand
/// also beats the current one by the margin, and rises over each half of the demand
/// (payments at even and at odd positions: a move that one payment or a few decide is
/// refused); the next channel's curve starts from it.
/// So, with every current fee within its bounds, N's simulated revenue never falls, and
/// rises at every move kept (channels outside their bounds step toward them first, all at
/// once at each round's start, whatever that costs). Stops when a whole round moves nothing, or at the round limit.
pub(crate) fn flow_from(
    channels: &[FlowChannel],
    session: &mut curves::Session,
    start: &[FeePolicy],
    mut scenario_for: impl FnMut(&[FeePolicy]) -> Scenario,
    start_routes: Option<&[Result<Route, RouteError>]>,
) -> FlowOutcome {
    let demand = session.demand();
    let sc = scenario_for(start);
    let routes = match start_routes {
        Some(r) if r.len() == demand.payments.len() => r.to_vec(),
        _ => route_all(&sc, demand),
    };
    let revenue = revenue_halves(&sc, &routes);
    let mut at = Standing {
        mins: HtlcMins::new(&sc.snapshot),
        fees: start.to_vec(),
        sc,
        routes,
        revenue,
    };
    let mut out = FlowOutcome {
        proposals: Vec::new(),
        rounds: 0,
        work: Work::default(),
        start_revenue_msat: revenue[0] + revenue[1],
        revenue_msat: revenue[0] + revenue[1],
        moves: 0,
        refused: 0,
        rerouted: 0,
        forced: 0,
    };
    let mut reasons = vec![String::from("flow: kept (no round reached it)"); channels.len()];
    let order = order(channels, &at);
    let rounds = channels.iter().map(|c| c.params.rounds).max().unwrap_or(0);
    for round in 0..rounds {
        out.rounds = round + 1;
        let mut moved = into_bounds(
            channels,
            round,
            session,
            &mut scenario_for,
            &mut at,
            &mut out,
            &mut reasons,
        );
        for &k in &order {
            let c = &channels[k];
            if round < c.params.rounds && in_bounds(c, at.fees[k]) {
                moved |= step(
                    c,
                    k,
                    session,
                    &mut scenario_for,
                    &mut at,
                    &mut out,
                    &mut reasons[k],
                );
            }
        }
        if !moved {
            break;
        }
    }
    out.revenue_msat = at.revenue[0] + at.revenue[1];
    out.proposals = at
        .fees
        .into_iter()
        .zip(reasons)
        .map(|(fee, reason)| Proposal { fee, reason })
        .collect();
    out
}

/// Moves every channel whose fee lies outside its bounds one step toward them, all at once
/// (one simulation: only the payments the moved channels' curves at their new fees say may
/// change route are routed again, `Session::may_change`); whether any moved.
fn into_bounds(
    channels: &[FlowChannel],
    round: u32,
    session: &mut curves::Session,
    scenario_for: &mut impl FnMut(&[FeePolicy]) -> Scenario,
    at: &mut Standing,
    out: &mut FlowOutcome,
    reasons: &mut [String],
) -> bool {
    let mut fees = at.fees.clone();
    let mut changes = Vec::new();
    for (k, c) in channels.iter().enumerate() {
        if round < c.params.rounds && !in_bounds(c, fees[k]) {
            let (f, why) = choose(c, fees[k], 0, 0, &[]);
            reasons[k] = why;
            if f != fees[k] {
                fees[k] = f;
                changes.push((c.edge, f));
            }
        }
    }
    if changes.is_empty() {
        return false;
    }
    // Which payments the moves can re-route: the curves of the moved channels at their new
    // fees only (what they examine, later turns reuse).
    let (work, may) = session.moved_by(&at.sc, &changes, &at.routes);
    out.work = out.work.add(work);
    let next = scenario_for(&fees);
    let quiet = may.map(|v| v.into_iter().map(|m| !m).collect::<Vec<bool>>());
    let demand = session.demand();
    let (routes, n) = reroute(
        &at.sc,
        &next,
        &changes,
        demand,
        &at.routes,
        quiet.as_deref(),
        &at.mins,
    );
    out.rerouted += n;
    out.moves += changes.len() as u64;
    out.forced += changes.len() as u64;
    let revenue = revenue_halves(&next, &routes);
    (at.fees, at.sc, at.routes, at.revenue) = (fees, next, routes, revenue);
    true
}

/// The least gain (msat) a move must bring over `revenue`.
fn margin(c: &FlowChannel, revenue: u64) -> u64 {
    (u128::from(revenue) * u128::from(c.params.min_gain_percent) / 100).max(1) as u64
}

/// One channel's turn in a round (see [`flow_from`]); whether it moved.
fn step(
    c: &FlowChannel,
    k: usize,
    session: &mut curves::Session,
    scenario_for: &mut impl FnMut(&[FeePolicy]) -> Scenario,
    at: &mut Standing,
    out: &mut FlowOutcome,
    reason: &mut String,
) -> bool {
    let cur = at.fees[k];
    let cands = candidates(c, cur);
    if cands.is_empty() {
        *reason = format!(
            "flow: kept: no candidate within a step of {} ppm",
            cur.fee_ppm
        );
        return false;
    }
    let curves = session.curves(&at.sc, &cands, &[c.edge], Some(&at.routes));
    out.work = out.work.add(curves.work);
    let base = curves.baseline_revenue_msat;
    let points = curves.curves.first().map_or(&[][..], |x| &x.points[..]);
    let (choice, why) = choose(c, cur, base, margin(c, base), points);
    *reason = why;
    if choice == cur {
        return false;
    }
    let mut fees = at.fees.clone();
    fees[k] = choice;
    let next = scenario_for(&fees);
    // Payments whose route the move cannot change, from the curve's own computation.
    let fi = cands
        .iter()
        .position(|f| *f == choice)
        .unwrap_or(usize::MAX);
    let quiet = session
        .may_change(&[(c.edge, fi)], &at.routes)
        .map(|v| v.into_iter().map(|m| !m).collect::<Vec<bool>>());
    let demand = session.demand();
    let (routes, n) = reroute(
        &at.sc,
        &next,
        &[(c.edge, choice)],
        demand,
        &at.routes,
        quiet.as_deref(),
        &at.mins,
    );
    out.rerouted += n;
    let revenue = revenue_halves(&next, &routes);
    let (was, now) = (at.revenue[0] + at.revenue[1], revenue[0] + revenue[1]);
    if now < was.saturating_add(margin(c, was))
        || revenue[0] <= at.revenue[0]
        || revenue[1] <= at.revenue[1]
    {
        out.refused += 1;
        *reason = format!(
            "flow: kept: {} ppm simulates {now} msat for the node ({} + {} over the two halves \
             of the demand), not enough over {was} msat ({} + {})",
            choice.fee_ppm, revenue[0], revenue[1], at.revenue[0], at.revenue[1]
        );
        return false;
    }
    out.moves += 1;
    (at.fees, at.sc, at.routes, at.revenue) = (fees, next, routes, revenue);
    true
}

/// Whether `cur` lies within `c`'s bounds and above its floor.
fn in_bounds(c: &FlowChannel, cur: FeePolicy) -> bool {
    let p = &c.params;
    (p.min_fee_ppm..=p.max_fee_ppm).contains(&cur.fee_ppm)
        && cur.fee_ppm >= c.floor_ppm.unwrap_or(0)
}

/// The best allowed point of one curve: staying put unless a point beats N's current
/// total by `margin` (or the current fee is out of bounds: then the best point, or one
/// step toward the bounds).
fn choose(
    c: &FlowChannel,
    cur: FeePolicy,
    current_total: u64,
    margin: u64,
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
    let stay_ok = in_bounds(c, cur);
    let mut best: Option<(u64, FeePolicy)> =
        stay_ok.then_some((current_total.saturating_add(margin).saturating_sub(1), cur));
    for pt in points.iter().filter(|pt| allowed(&pt.fee)) {
        let better = match best {
            None => true,
            Some((rev, f)) => {
                pt.node_revenue_msat > rev
                    || (pt.node_revenue_msat == rev
                        && f != cur
                        && pt.fee.fee_ppm.abs_diff(cur.fee_ppm) < f.fee_ppm.abs_diff(cur.fee_ppm))
            }
        };
        if better {
            best = Some((pt.node_revenue_msat, pt.fee));
        }
    }
    match best {
        Some((_, f)) if f == cur => (
            f,
            format!("flow: kept: no fee in {lo}..={hi} ppm gains {margin} msat over {current_total} msat"),
        ),
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
