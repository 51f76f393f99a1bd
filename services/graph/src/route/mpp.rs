//! Multi-part payments by min-cost flow (Pickhardt & Richter, "Optimally Reliable & Cheap
//! Payment Flows on the Lightning Network", 2021).
//!
//! The amount is cut into at most [`MPP_UNITS`] equal units. Every enabled edge becomes an
//! arc whose cost is convex and piecewise linear in the units it carries: on each of its
//! pieces (0-25-50-75-90-100% of the channel's usable liquidity) the marginal cost per unit
//! is the proportional fee of one unit plus [`BALANCED_MSAT_PER_NEG_LN_P`] times the growth
//! of the uncertainty cost `-ln((c + 1 - x) / (c + 1))` over the piece (its secant, so the
//! linearisation is convex). Base fees are not convex and are left out of the optimisation,
//! as in the paper; they are charged exactly when the parts are priced. The flow is solved by
//! successive shortest paths with potentials (Dijkstra on reduced costs), then decomposed
//! into paths, each a part.
//!
//! Every part is then priced hop by hop exactly like a single route (fees and cltv from the
//! end), and checked: per-HTLC limits per part, and per channel the sum of all parts' amounts
//! (both directions together) must not exceed the capacity. When fees push a channel over
//! its limit, or a part falls below an htlc_minimum, that arc is tightened and the flow is
//! solved again (a few rounds at most).
//!
//! The flow first keeps the top 10% of every channel's liquidity free, as headroom for the
//! fees the parts add. Only if that cannot carry the amount is it solved again with every
//! channel's whole liquidity, so a payment that fits is not refused for the headroom.
//! Before either, the liquidity out of the source and into the destination is summed: a
//! payment larger than either cut is refused without solving anything.
//!
//! Pure computation; no I/O.

use std::collections::HashMap;

use super::search::Query;
use super::{Route, RouteError, RouteRequest, RoutingIndex, BALANCED_MSAT_PER_NEG_LN_P};

/// Most units the amount is cut into (parts carry whole units).
pub const MPP_UNITS: u64 = 100;
/// Piece boundaries as fractions of an arc's usable liquidity. The first solve stops at
/// `PIECES[HEADROOM_PIECE]`, keeping the rest as headroom for the fees the parts add on top
/// of the flow; the second, only when the first cannot carry the amount, uses it all.
const PIECES: [f64; 6] = [0.0, 0.25, 0.5, 0.75, 0.9, 1.0];
const HEADROOM_PIECE: usize = 4;
/// Integer cost scale (cost units per msat), so reduced costs are exact.
const COST_SCALE: f64 = 1000.0;
/// Most a unit may cost on one arc (scaled: about 10^9 msat), so that sums of reduced costs
/// and potentials stay within `i64` on any real graph (they saturate beyond). Arcs dearer
/// than that (fees near `u32::MAX` ppm on large units: "do not use") all look equally
/// prohibitive to the flow; the parts are priced exactly anyway.
const MAX_ARC_COST: i64 = 1 << 40;
/// Rounds of "tighten the offending arcs and solve again".
const REPAIR_ROUNDS: usize = 4;

/// A multi-part payment request: a [`RouteRequest`] (its `cost_model` is ignored: the flow
/// has its own cost) plus whether to split even when one path would do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct MppRequest {
    #[serde(flatten)]
    /// Endpoints, amount, limits and exclusions (limits apply to each part).
    pub request: RouteRequest,
    /// Split by flow even if a single path carries the amount.
    #[serde(default)]
    pub force_split: bool,
}

/// The parts of a multi-part payment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MppRoute {
    /// Each part is a complete route; their `amount_msat` sum to the requested amount.
    pub parts: Vec<Route>,
    /// Amount (msat) delivered to the destination: the sum of the parts' amounts.
    pub amount_msat: u64,
    /// Sum of the parts' fees.
    pub total_fee_msat: u64,
    /// What the sender sends in all: `amount_msat + total_fee_msat` (saturating).
    pub total_amount_msat: u64,
    /// Probability that all parts succeed under the uniform prior, with parts that share a
    /// channel counted together: product over channels of `(c + 1 - sum) / (c + 1)`.
    pub probability: f64,
}

struct Flow {
    /// Usable liquidity per slot, in whole units (0 for excluded slots).
    liquidity: Vec<u32>,
    /// Most units per slot this solve may use: a piece breakpoint of the liquidity, lowered
    /// by the repair rounds.
    limit: Vec<u32>,
    flow: Vec<u32>,
}

impl RoutingIndex {
    /// Pays `amount_msat` over one path if one carries it (unless `force_split`), else splits
    /// it over several by min-cost flow (module documentation).
    pub fn find_mpp(&self, req: &MppRequest) -> Result<MppRoute, RouteError> {
        let q = self.resolve(&req.request)?;
        if !req.force_split {
            match self.route_query(&q) {
                Ok(r) => return Ok(self.combine(vec![r])),
                Err(RouteError::Capacity) => {}
                Err(e) => return Err(e),
            }
        }
        let unit = q.amount.div_ceil(MPP_UNITS).max(1);
        let units = q.amount.div_ceil(unit);
        let excluded_node = |u: u32| q.exclude_nodes.contains(&u);
        let liquidity: Vec<u32> = (0..self.edge_count())
            .map(|s| {
                let ch = self.edges.channel(s);
                if excluded_node(self.edges.from(s))
                    || excluded_node(self.edges.to(s))
                    || q.exclude_channels.contains(&ch)
                {
                    return 0;
                }
                let msat = self.edges.hot()[s].htlc_max.min(self.edges.cap_msat(s));
                u32::try_from(msat / unit).unwrap_or(u32::MAX)
            })
            .collect();
        // No flow exceeds the liquidity out of the source or into the destination.
        let units_over = |s: usize| u64::from(liquidity[s]);
        let out_of_src: u64 = self
            .edges
            .out_slots(q.src)
            .iter()
            .map(|&s| units_over(s as usize))
            .sum();
        let into_dst: u64 = self.edges.in_slots(q.dst).map(units_over).sum();
        if out_of_src.min(into_dst) < units {
            return Err(RouteError::Capacity);
        }
        let mut f = Flow {
            limit: Vec::new(),
            flow: vec![0; self.edge_count()],
            liquidity,
        };
        for top in [HEADROOM_PIECE, PIECES.len() - 1] {
            f.limit = f.liquidity.iter().map(|&l| breakpoint(l, top)).collect();
            match self.solve_and_price(&q, &mut f, unit, units) {
                Err(RouteError::Capacity) => continue,
                other => return other,
            }
        }
        Err(RouteError::Capacity)
    }

    /// Solves the flow within `f.limit`, tightening arcs and solving again while the priced
    /// parts break a rule (a few rounds at most).
    fn solve_and_price(
        &self,
        q: &Query,
        f: &mut Flow,
        unit: u64,
        units: u64,
    ) -> Result<MppRoute, RouteError> {
        for _round in 0..REPAIR_ROUNDS {
            f.flow.iter_mut().for_each(|x| *x = 0);
            let sent = self.solve_flow(q, f, unit, units);
            if sent < units {
                return Err(RouteError::Capacity);
            }
            let paths = self.decompose(q, &mut f.flow.clone());
            match self.price_parts(q, &paths, unit, units, &f.limit) {
                Ok(parts) => return Ok(self.combine(parts)),
                Err(Tighten(slots)) if slots.is_empty() => return Err(RouteError::FeeLimit),
                Err(Tighten(slots)) => {
                    for (s, new_limit) in slots {
                        f.limit[s] = f.limit[s].min(new_limit);
                    }
                }
            }
        }
        Err(RouteError::Capacity)
    }

    fn combine(&self, parts: Vec<Route>) -> MppRoute {
        // Ordered by scid: the product's rounding must not depend on a hash seed (the same
        // parts gave answers differing in the last bit from one process to the next).
        let mut used: std::collections::BTreeMap<crate::types::Scid, (u64, u64)> =
            std::collections::BTreeMap::new();
        for p in &parts {
            for h in &p.hops {
                let e = used.entry(h.scid).or_insert((0, h.capacity_sat));
                e.0 = e.0.saturating_add(h.amount_to_forward_msat);
            }
        }
        let probability = used
            .values()
            .map(|&(a, c)| {
                let c = c as f64 * 1000.0 + 1.0;
                ((c - a as f64) / c).max(0.0)
            })
            .product();
        let amount_msat = parts.iter().map(|p| p.amount_msat).sum();
        let total_fee_msat = parts
            .iter()
            .fold(0u64, |t, p| t.saturating_add(p.total_fee_msat));
        MppRoute {
            amount_msat,
            total_fee_msat,
            total_amount_msat: u64::saturating_add(amount_msat, total_fee_msat),
            probability,
            parts,
        }
    }

    /// Marginal cost (scaled) of the unit after `x` units on slot `s`, or `None` at the limit.
    fn marginal(&self, q: &Query, f: &Flow, s: usize, x: u32, unit: u64) -> Option<i64> {
        let limit = f.limit[s];
        if x >= limit {
            return None;
        }
        let fee = if self.edges.from(s) == q.src {
            0.0
        } else {
            f64::from(self.edges.hot()[s].ppm) * unit as f64 / 1e6
        };
        // Uncertainty over the piece containing x: secant of -ln(1 - y / c) between breakpoints.
        let c = self.edges.cap_msat(s) as f64 / unit as f64 + 1.0;
        let b = self.breakpoints(f, s);
        let last = PIECES.len() - 2;
        let i = (0..=last)
            .find(|&i| x >= b[i] && x < b[i + 1])
            .unwrap_or(last);
        let (lo, hi) = (
            f64::from(b[i]),
            f64::from(b[i + 1]).max(f64::from(b[i]) + 1.0),
        );
        let unc = (-(1.0 - hi / c).ln() + (1.0 - lo / c).ln()) / (hi - lo);
        let cost = ((fee + BALANCED_MSAT_PER_NEG_LN_P * unc) * COST_SCALE).round();
        Some(cost.min(MAX_ARC_COST as f64) as i64)
    }

    /// Successive shortest paths; returns the units sent.
    fn solve_flow(&self, q: &Query, f: &mut Flow, unit: u64, units: u64) -> u64 {
        use std::cmp::Reverse;
        let n = self.n;
        let mut pot = vec![0i64; n];
        let mut dist = vec![i64::MAX; n];
        let mut done = vec![false; n];
        // Parent: slot and whether it is used forwards.
        let mut parent: Vec<(u32, bool)> = vec![(u32::MAX, true); n];
        let mut touched: Vec<u32> = Vec::new();
        let mut sent = 0u64;
        let mut heap = std::collections::BinaryHeap::new();
        while sent < units {
            for &t in &touched {
                dist[t as usize] = i64::MAX;
                done[t as usize] = false;
            }
            touched.clear();
            heap.clear();
            dist[q.src as usize] = 0;
            touched.push(q.src);
            heap.push(Reverse((0i64, q.src)));
            let mut reached = false;
            while let Some(Reverse((d, x))) = heap.pop() {
                let xi = x as usize;
                if done[xi] || d > dist[xi] {
                    continue;
                }
                done[xi] = true;
                if x == q.dst {
                    reached = true;
                    break;
                }
                let mut relax =
                    |y: u32,
                     c: i64,
                     s: u32,
                     fwd: bool,
                     heap: &mut std::collections::BinaryHeap<_>| {
                        let yi = y as usize;
                        if done[yi] {
                            return;
                        }
                        let reduced = c.saturating_add(pot[xi]).saturating_sub(pot[yi]);
                        let nd = d.saturating_add(reduced.max(0));
                        if nd < dist[yi] {
                            if dist[yi] == i64::MAX {
                                touched.push(y);
                            }
                            dist[yi] = nd;
                            parent[yi] = (s, fwd);
                            heap.push(Reverse((nd, y)));
                        }
                    };
                for &s in self.edges.out_slots(x) {
                    let si = s as usize;
                    if let Some(c) = self.marginal(q, f, si, f.flow[si], unit) {
                        relax(self.edges.to(si), c, s, true, &mut heap);
                    }
                }
                for si in self.edges.in_slots(x) {
                    if f.flow[si] > 0 {
                        if let Some(c) = self.marginal(q, f, si, f.flow[si] - 1, unit) {
                            relax(self.edges.from(si), -c, si as u32, false, &mut heap);
                        }
                    }
                }
            }
            if !reached {
                break;
            }
            // pi(v) += min(d(v), d(t)) keeps every reduced cost non-negative (early exit).
            let dt = dist[q.dst as usize];
            for (v, p) in pot.iter_mut().enumerate() {
                *p = p.saturating_add(if done[v] { dist[v] } else { dt });
            }
            let mut path = Vec::new();
            let mut y = q.dst;
            while y != q.src {
                let (s, fwd) = parent[y as usize];
                path.push((s as usize, fwd));
                y = if fwd {
                    self.edges.from(s as usize)
                } else {
                    self.edges.to(s as usize)
                };
            }
            let mut push = units - sent;
            for &(s, fwd) in &path {
                let room = if fwd {
                    self.piece_room(f, s, f.flow[s])
                } else {
                    self.piece_room_back(f, s, f.flow[s])
                };
                push = push.min(u64::from(room));
            }
            let push = push.max(1) as u32;
            for &(s, fwd) in &path {
                if fwd {
                    f.flow[s] += push;
                } else {
                    f.flow[s] -= push;
                }
            }
            sent += u64::from(push);
        }
        sent
    }

    /// The pieces' boundaries on slot `s`, in units: those of its liquidity, cut at its limit
    /// (never above the liquidity, so the last boundary is the limit).
    fn breakpoints(&self, f: &Flow, s: usize) -> [u32; PIECES.len()] {
        std::array::from_fn(|i| breakpoint(f.liquidity[s], i).min(f.limit[s]))
    }

    /// Units that can be added to slot `s` before its marginal cost changes.
    fn piece_room(&self, f: &Flow, s: usize, x: u32) -> u32 {
        let b = self.breakpoints(f, s);
        b.iter().copied().find(|&p| p > x).map_or(0, |p| p - x)
    }

    /// Units that can be removed from slot `s` before its marginal cost changes.
    fn piece_room_back(&self, f: &Flow, s: usize, x: u32) -> u32 {
        let b = self.breakpoints(f, s);
        b.iter()
            .rev()
            .copied()
            .find(|&p| p < x)
            .map_or(x, |p| x - p)
    }

    /// Splits the flow into source-to-destination paths (slots in payment order, units).
    fn decompose(&self, q: &Query, flow: &mut [u32]) -> Vec<(Vec<u32>, u32)> {
        let mut paths = Vec::new();
        loop {
            let mut path: Vec<u32> = Vec::new();
            let mut on_path = HashMap::new();
            let mut x = q.src;
            on_path.insert(x, 0usize);
            while x != q.dst {
                let Some(&s) = self
                    .edges
                    .out_slots(x)
                    .iter()
                    .find(|&&s| flow[s as usize] > 0)
                else {
                    break;
                };
                path.push(s);
                x = self.edges.to(s as usize);
                if let Some(&start) = on_path.get(&x) {
                    // A cycle carries no payment: cancel it and restart the walk.
                    let cycle = path.split_off(start);
                    let m = cycle.iter().map(|&s| flow[s as usize]).min().unwrap_or(0);
                    for &s in &cycle {
                        flow[s as usize] -= m;
                    }
                    path.clear();
                    on_path.clear();
                    x = q.src;
                    on_path.insert(x, 0);
                    continue;
                }
                on_path.insert(x, path.len());
            }
            if x != q.dst || path.is_empty() {
                break;
            }
            let m = path.iter().map(|&s| flow[s as usize]).min().unwrap_or(0);
            if m == 0 {
                break;
            }
            for &s in &path {
                flow[s as usize] -= m;
            }
            paths.push((path, m));
        }
        paths
    }

    /// Prices the parts exactly; on a violation says which arcs to tighten.
    fn price_parts(
        &self,
        q: &Query,
        paths: &[(Vec<u32>, u32)],
        unit: u64,
        units: u64,
        limits: &[u32],
    ) -> Result<Vec<Route>, Tighten> {
        let mut amounts: Vec<u64> = paths.iter().map(|(_, k)| u64::from(*k) * unit).collect();
        // Whole units overshoot the amount by less than one unit: take it off the largest part.
        let excess = units * unit - q.amount;
        if let Some(i) = (0..amounts.len()).max_by_key(|&i| amounts[i]) {
            amounts[i] -= excess;
        }
        let mut parts = Vec::new();
        let mut per_channel: HashMap<u32, u64> = HashMap::new();
        let mut tighten = Vec::new();
        let mut fees = 0u64;
        for ((path, _), &amount) in paths.iter().zip(&amounts) {
            if amount == 0 {
                continue;
            }
            let pq = Query {
                amount,
                ..q.clone()
            };
            let route = self.build_route(path, &pq);
            for (h, &s) in route.hops.iter().zip(path) {
                let s = s as usize;
                let e = &self.edges.hot()[s];
                if h.amount_to_forward_msat < e.htlc_min {
                    tighten.push((s, 0));
                }
                if h.amount_to_forward_msat > e.htlc_max {
                    let units = (e.htlc_max / unit).saturating_sub(1);
                    tighten.push((s, u32::try_from(units).unwrap_or(u32::MAX)));
                }
                let used = per_channel.entry(self.edges.channel(s)).or_insert(0);
                *used = used.saturating_add(h.amount_to_forward_msat);
            }
            let (cltv, hops) = self.path_cltv_hops(path, &pq);
            if cltv > q.max_cltv || hops > u32::from(q.max_hops) {
                // Forbid the longest part's most cltv-hungry arc and solve again.
                if let Some(&s) = path
                    .iter()
                    .skip(1)
                    .max_by_key(|&&s| self.edges.hot()[s as usize].cltv)
                {
                    tighten.push((s as usize, 0));
                }
            }
            fees = fees.saturating_add(route.total_fee_msat);
            parts.push(route);
        }
        for (s, _) in paths
            .iter()
            .flat_map(|(p, _)| p.iter().map(|&s| (s as usize, ())))
        {
            let used = per_channel
                .get(&self.edges.channel(s))
                .copied()
                .unwrap_or(0);
            let cap = self.edges.cap_msat(s);
            if used > cap {
                let over = (used - cap).div_ceil(unit) + 1;
                let cur = u64::from(limits[s]);
                tighten.push((s, cur.saturating_sub(over) as u32));
            }
        }
        if fees > q.max_fee {
            return Err(Tighten(Vec::new()));
        }
        if tighten.is_empty() {
            Ok(parts)
        } else {
            Err(Tighten(tighten))
        }
    }
}

/// Boundary `i` of the pieces of an arc with `liquidity` units.
fn breakpoint(liquidity: u32, i: usize) -> u32 {
    (PIECES[i] * f64::from(liquidity)).floor() as u32
}

/// Arcs to tighten: (slot, new unit limit).
struct Tighten(Vec<(usize, u32)>);
