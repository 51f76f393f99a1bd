//! The fast revenue curves.
//!
//! **Decomposition.** Fix a payment p (payer s, payee d, amount a, fee ceiling M) and a
//! direction c = N -> peer at candidate fee f. The router returns a cheapest route (least
//! total fee, at most M). That route crosses c or it does not, so the best cost at f is the
//! lesser of `avoid(p, c)`, the best route not using c (independent of f), and `T_f(p, c)`,
//! the best route through c. p crosses c at f when `T_f < avoid` (and `T_f <= M`),
//! does not when `T_f > avoid`; at `T_f == avoid` the router's tie-breaking decides, so the
//! router decides (on the patched index, see "fallback").
//!
//! * `avoid(p, c)` is the baseline route's cost when the baseline route does not use c
//!   (it is the cheapest of all routes, and it avoids c). When it does, one route on a
//!   *split* index: N's channels each split into an inbound-only channel (the real scid)
//!   and an outbound-only one (a made-up scid), so excluding the outbound half forbids
//!   N -> peer and still allows peer -> N (excluding the real scid would forbid both).
//! * `T_f(p, c)`: a simple route through c is prefix s -> N, hop c, suffix peer -> d, with
//!   the suffix avoiding N and s. The amount c carries is what peer must receive; the sender's
//!   amount is strictly increasing in the amount at N (each hop's `x + fee(x)` is), which is
//!   strictly increasing in the amount at peer. So the best route through c uses the suffix
//!   that minimises the amount at peer, `A_peer`: the label of peer in a backward Dijkstra
//!   from d with amount a under exact Lightning rules, excluding N and s (`suffix`), one per
//!   payment for all of N's peers. Then `A_N = A_peer + fee_f(A_peer)`, N earns
//!   `fee_f(A_peer)`, and `T_f = P(A_N) - a` where `P(A)` is what s must send to deliver A to
//!   N: the router's route s -> N (limits: hops less the suffix's and c, cltv plus c's delta).
//!   The prefix is queried with the loosest limits (hops less one, final delta plus c's);
//!   if its route joined to the suffix is simple and within every limit, `T_f` is exact,
//!   and any other through route costs strictly more (it has a larger amount at N), so the
//!   router, if it crosses c, earns N exactly `fee_f(A_peer)`.
//! * **Bounds**, so that prefixes are routed only where needed. Prefix fees are
//!   non-decreasing in the amount (fees are monotone, and a larger amount can only lose
//!   channels) unless some enabled direction's htlc_minimum lies in the range of amounts in
//!   play (a larger amount may open a channel; checked on a sorted array of minimums). Then
//!   one prefix route at the least amount at N in play gives `pf0` and `LB_f = A_N(f) - a +
//!   pf0` bounds every through route: candidates are taken in increasing `A_N`, and the
//!   first one proven not to cross ends the channel (the rest cost more). The suffix search
//!   is bounded by the largest amount at a peer that could still compete.
//! * **Skipping payments.** Per amount bucket, relaxed distances into and out of N (fees at
//!   the bucket's amount, htlc limits ignored: lower bounds) give a lower bound on any route
//!   through N; a payment whose baseline route avoids N and whose bound exceeds its
//!   baseline cost (or its ceiling) never crosses N at any candidate and is skipped. Payments
//!   N pays or receives earn N nothing and are skipped too.
//! * **Fallback.** Every case where an assumption could fail goes to the naive computation
//!   for that (payment, channel, candidate), the real router on the patched index (built
//!   once per (channel, candidate), only if needed): a tie, a prefix and suffix that share a
//!   node or break a limit while the bound does not exclude the candidate, an htlc_minimum
//!   in the range in play, an uncertified suffix label, a search that hit its budget.
//!
//! A candidate equal to c's current fee is the baseline itself (`Scenario::with_fee` gives
//! the same index), so its point is the baseline's tally.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use switchyard_graph::load::{ChannelRecord, Record};
use switchyard_graph::route::{Route, RouteError, RouteRequest, RoutingIndex};
use switchyard_graph::{EdgeIdx, GraphBuilder, NodeIdx, Policy, Scid, Snapshot};

use super::{curve_head, node_hop, route_patched, tally, CurvePoint, Curves, Reason, Work};
use crate::demand::{Demand, Payment};
use crate::scenario::{request, FeePolicy, Scenario};
use crate::sim::route_all;
use crate::suffix::{bucket_of, Adjacency, Label, BUCKETS_MSAT};

/// Per (payment, channel, candidate): what the fast method decided when p crosses c or
/// cannot tell. Cells not listed do not cross c.
#[derive(Debug, Clone, Copy)]
enum Cell {
    /// p crosses c and N earns this on c.
    Through(u64),
    Fallback(Reason),
}

/// What one payment contributes.
#[derive(Debug, Default)]
struct PayOut {
    /// N's revenue on the baseline route.
    r0_rev: u64,
    /// Position (in the curves' edges) of the channel the baseline route crosses.
    c0: Option<usize>,
    /// N's revenue on the best route avoiding `c0`.
    ra_rev: u64,
    /// The best route avoiding `c0` costs as much as the baseline route.
    avoid_ties: bool,
    /// Channels whose best through route at their current fee may cost as much as the
    /// baseline route (a tie the router broke), or could not be decided.
    current_ties: Vec<u32>,
    cells: Vec<(u32, u32, Cell)>,
    work: Work,
}

/// The candidate index standing for a channel's current fee.
const CURRENT: usize = usize::MAX;

impl PayOut {
    /// Records a decision; the current fee's only marks a possible tie.
    fn push(&mut self, k: usize, f: usize, cell: Cell) {
        if f == CURRENT {
            if Some(k) != self.c0 {
                self.current_ties.push(k as u32);
            }
            return;
        }
        if let Cell::Fallback(r) = cell {
            self.work.count(r);
        }
        self.cells.push((k as u32, f as u32, cell));
    }
}

/// Everything the per-payment evaluation reads.
struct Ctx<'a> {
    sc: &'a Scenario,
    demand: &'a Demand,
    grid: &'a [FeePolicy],
    edges: &'a [EdgeIdx],
    policies: Vec<Policy>,
    adj: Adjacency,
    /// N's distinct peers over `edges`, and each edge's position in it.
    peers: Vec<NodeIdx>,
    peer_of: Vec<usize>,
    /// Per bucket: relaxed distances (into N, out of N) and the least fee N's edges charge.
    relaxed: Vec<(Vec<u64>, Vec<u64>)>,
    min_fee: Vec<u64>,
    split: OnceLock<(RoutingIndex, Vec<Scid>)>,
}

const INF: u64 = u64::MAX;

/// The fast curves of `edges` (N's outgoing directions; all enabled ones when empty).
pub fn compute(sc: &Scenario, demand: &Demand, grid: &[FeePolicy], edges: &[EdgeIdx]) -> Curves {
    let all;
    let edges = if edges.is_empty() {
        all = sc.out_edges();
        &all[..]
    } else {
        edges
    };
    let g = &*sc.snapshot;
    let adj = Adjacency::new(g);
    let policies: Vec<Policy> = edges
        .iter()
        .map(|&e| g.edge_policy(e).copied().unwrap_or(DISABLED))
        .collect();
    let mut peers: Vec<NodeIdx> = edges.iter().map(|&e| g.edge_to(e)).collect();
    peers.sort_unstable();
    peers.dedup();
    let peer_of = edges
        .iter()
        .map(|&e| peers.binary_search(&g.edge_to(e)).unwrap_or(0))
        .collect();
    let relaxed: Vec<(Vec<u64>, Vec<u64>)> = BUCKETS_MSAT
        .par_iter()
        .map(|&b| adj.relaxed(sc.node, b))
        .collect();
    let min_fee = BUCKETS_MSAT
        .iter()
        .map(|&b| {
            let cur = policies.iter().map(|p| FeePolicy::of(p).fee_msat(b));
            let cand = grid.iter().map(|f| f.fee_msat(b));
            cur.chain(cand).min().unwrap_or(0)
        })
        .collect();
    let ctx = Ctx {
        sc,
        demand,
        grid,
        edges,
        policies,
        adj,
        peers,
        peer_of,
        relaxed,
        min_fee,
        split: OnceLock::new(),
    };
    let baseline = route_all(sc, demand);
    let outs: Vec<PayOut> = demand
        .payments
        .par_iter()
        .zip(&baseline)
        .map(|(p, r0)| ctx.examine(p, r0))
        .collect();
    let mut curves = ctx.aggregate(&baseline, &outs);
    curves.work.baseline_routes = baseline.len() as u64;
    curves.work.indexes_built += u64::from(ctx.split.get().is_some());
    curves
}

/// Stands in for a missing policy (never crosses anything).
const DISABLED: Policy = Policy {
    fee_base_msat: 0,
    fee_ppm: 0,
    cltv_delta: 0,
    htlc_min_msat: u64::MAX,
    htlc_max_msat: 0,
    disabled: true,
    timestamp: 0,
};

/// Through, tie, or not, for a through cost `t` against `avoid` (INF: none) and the
/// ceiling `max_fee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Less,
    Tie,
    Greater,
}

fn compare(t: u64, avoid: u64, max_fee: u64) -> Cmp {
    if avoid == INF {
        if t <= max_fee {
            Cmp::Less
        } else {
            Cmp::Greater
        }
    } else if t < avoid {
        Cmp::Less
    } else if t == avoid {
        Cmp::Tie
    } else {
        Cmp::Greater
    }
}

impl Ctx<'_> {
    /// The edge's position among the curves' edges.
    fn position(&self, e: Option<EdgeIdx>) -> Option<usize> {
        e.and_then(|e| self.edges.iter().position(|&x| x == e))
    }

    /// The split index (see the module docs) and each edge's made-up outbound scid.
    fn split(&self) -> &(RoutingIndex, Vec<Scid>) {
        self.split.get_or_init(|| {
            let g = &*self.sc.snapshot;
            let taken: std::collections::HashSet<Scid> =
                g.channels().iter().map(|c| c.scid).collect();
            let mut next = (0xFF_FFFFu64 << 40) | 0xFF_FFFF << 16;
            let mut b = GraphBuilder::default();
            let mut fake = Vec::with_capacity(self.edges.len());
            for ch in g.channels() {
                b.add(Record::Channel(channel_record(g, ch.scid, ch)));
            }
            for (ci, ch) in g.channels().iter().enumerate() {
                for dir in 0..2u8 {
                    let Some(p) = ch.policies[dir as usize] else {
                        continue;
                    };
                    let e = ci as u32 * 2 + u32::from(dir);
                    if !self.edges.contains(&e) {
                        b.add_update(p.to_update(ch.scid, dir));
                        continue;
                    }
                    while taken.contains(&Scid(next)) {
                        next -= 1 << 16;
                    }
                    let scid = Scid(next);
                    next -= 1 << 16;
                    b.add(Record::Channel(channel_record(g, scid, ch)));
                    b.add_update(p.to_update(scid, dir));
                    fake.push((e, scid));
                }
            }
            let fake = self
                .edges
                .iter()
                .map(|e| fake.iter().find(|(x, _)| x == e).map_or(Scid(0), |f| f.1))
                .collect();
            let split = Arc::new(b.build());
            (
                RoutingIndex::build_with_landmarks_of(split, &self.sc.index),
                fake,
            )
        })
    }

    /// Per-payment evaluation (see the module docs).
    fn examine(&self, p: &Payment, r0: &Result<Route, RouteError>) -> PayOut {
        let g = &*self.sc.snapshot;
        let mut out = PayOut {
            work: Work {
                payments: 1,
                ..Work::default()
            },
            ..PayOut::default()
        };
        let (Some(s), Some(d)) = (g.node_idx(&p.source), g.node_idx(&p.destination)) else {
            out.work.payments_skipped = 1;
            return out;
        };
        let n = self.sc.node;
        if s == n || d == n {
            out.work.payments_skipped = 1;
            return out;
        }
        let hop = r0
            .as_ref()
            .ok()
            .and_then(|r| node_hop(g, &self.sc.node_id, r));
        if let Some((e, fee)) = hop {
            out.r0_rev = fee;
            out.c0 = self.position(e);
        }
        if matches!(r0, Err(RouteError::SearchBudget { .. })) {
            self.fallback_all(&mut out, None, Reason::SearchBudget);
            return out;
        }
        let cost0 = r0.as_ref().map_or(INF, |r| r.total_fee_msat);
        let b = bucket_of(p.amount_msat);
        let (into, out_of) = &self.relaxed[b];
        let lb_pre = self.adj.prefix_bound(s, n, into);
        let lb_n = lb_pre
            .saturating_add(self.min_fee[b])
            .saturating_add(out_of[d as usize]);
        if hop.is_none() && lb_n > cost0.min(p.max_fee_msat) {
            out.work.payments_skipped = 1;
            return out;
        }
        // Thresholds: the best route avoiding each channel.
        let mut avoid_c0 = cost0;
        if let Some(k0) = out.c0 {
            match self.avoid(p, k0, &mut out) {
                Ok(x) => avoid_c0 = x,
                Err(()) => self.fallback_all(&mut out, Some(k0), Reason::SearchBudget),
            }
        }
        let c0 = out.c0;
        out.avoid_ties = c0.is_some() && avoid_c0 == cost0;
        let thr = |k: usize| if Some(k) == c0 { avoid_c0 } else { cost0 };
        let worst = (0..self.edges.len())
            .map(|k| thr(k).min(p.max_fee_msat))
            .max()
            .unwrap_or(0);
        let bound = p
            .amount_msat
            .saturating_add(worst)
            .saturating_sub(lb_pre.saturating_add(self.min_fee[b]));
        let (labels, settled) = self
            .adj
            .suffix(d, p.amount_msat, [n, s], bound, &self.peers);
        out.work.suffix_searches = 1;
        out.work.settled_nodes = settled;
        self.through(p, s, &labels, &thr, &mut out);
        out
    }

    /// Every candidate (other than the current fee) of channel `only` (or of all) falls back.
    fn fallback_all(&self, out: &mut PayOut, only: Option<usize>, why: Reason) {
        for k in 0..self.edges.len() {
            if only.is_some_and(|o| o != k) {
                continue;
            }
            out.cells.retain(|c| c.0 as usize != k);
            let cur = FeePolicy::of(&self.policies[k]);
            for (f, fee) in self.grid.iter().enumerate() {
                if *fee != cur {
                    out.push(k, f, Cell::Fallback(why));
                }
            }
        }
    }

    /// The best route avoiding edge `k` (N -> peer only), on the split index: its cost
    /// (INF: none) and N's revenue on it, or `Err` when the router gave up.
    fn avoid(&self, p: &Payment, k: usize, out: &mut PayOut) -> Result<u64, ()> {
        let (index, fake) = self.split();
        let req = RouteRequest {
            exclude_channels: vec![fake[k]],
            ..request(p)
        };
        out.work.avoid_routes += 1;
        match index.find_route(&req) {
            Ok(r) => {
                let me = self.sc.node_id;
                out.ra_rev = r
                    .hops
                    .iter()
                    .skip(1)
                    .find(|h| h.from == me)
                    .map_or(0, |h| h.fee_msat);
                Ok(r.total_fee_msat)
            }
            Err(RouteError::SearchBudget { .. }) => Err(()),
            Err(_) => Ok(INF),
        }
    }
}

fn channel_record(g: &Snapshot, scid: Scid, ch: &switchyard_graph::Channel) -> ChannelRecord {
    ChannelRecord {
        scid,
        node_1: g.node(ch.nodes[0]).id,
        node_2: g.node(ch.nodes[1]).id,
        capacity_sat: ch.capacity_sat,
        funding_outpoint: None,
    }
}

/// One prefix query's answer, cached per (amount at N, c's cltv delta).
type Prefix = Result<Route, RouteError>;

impl Ctx<'_> {
    /// Decides every channel's candidates for one payment from the suffix labels.
    fn through(
        &self,
        p: &Payment,
        s: NodeIdx,
        labels: &[Option<Label>],
        thr: &dyn Fn(usize) -> u64,
        out: &mut PayOut,
    ) {
        let a = p.amount_msat;
        let mut cache: HashMap<(u64, u16), Prefix> = HashMap::new();
        // The least amount at N in play, its prefix fee (a lower bound for every larger
        // amount unless an htlc_minimum lies in the range in play).
        let a_min = (0..self.edges.len())
            .filter_map(|k| {
                let l = labels[self.peer_of[k]].as_ref()?;
                self.grid
                    .iter()
                    .map(|f| l.amount.saturating_add(f.fee_msat(l.amount)))
                    .min()
            })
            .min();
        let Some(a_min) = a_min else { return };
        // Amounts in play: no competing route costs more than its threshold or the ceiling.
        let worst = (0..self.edges.len())
            .map(|k| thr(k).min(p.max_fee_msat))
            .max()
            .unwrap_or(0);
        let monotone = !self.adj.htlc_min_within(a_min, a.saturating_add(worst));
        let pf0 = if monotone && a_min - a <= p.max_fee_msat {
            match self.prefix(p, s, a_min, 0, &mut cache, &mut out.work) {
                Ok(r) => r.total_fee_msat,
                Err(RouteError::SearchBudget { .. }) => 0,
                Err(_) => INF,
            }
        } else {
            0
        };
        for k in 0..self.edges.len() {
            if out.cells.iter().any(|c| c.0 as usize == k) {
                continue; // already handed to the router
            }
            let Some(l) = labels[self.peer_of[k]].as_ref() else {
                continue;
            };
            self.channel(p, s, k, l, thr(k), (monotone, pf0), &mut cache, out);
        }
    }

    /// Candidates of channel `k` for one payment (see the module docs).
    #[allow(clippy::too_many_arguments)]
    fn channel(
        &self,
        p: &Payment,
        s: NodeIdx,
        k: usize,
        l: &Label,
        avoid: u64,
        (monotone, pf0): (bool, u64),
        cache: &mut HashMap<(u64, u16), Prefix>,
        out: &mut PayOut,
    ) {
        let a = p.amount_msat;
        let pol = &self.policies[k];
        let cur = FeePolicy::of(pol);
        let cap = self
            .sc
            .snapshot
            .channel(Snapshot::edge_channel(self.edges[k]))
            .capacity_sat;
        let hi = pol.htlc_max_msat.min(cap.saturating_mul(1000));
        if l.amount > hi {
            return; // c cannot carry the least amount at peer, nor any larger one
        }
        // The grid's candidates, and the current fee (`CURRENT`) to detect ties.
        let candidates = self
            .grid
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, f)| *f != cur)
            .chain(std::iter::once((CURRENT, cur)));
        if !l.exact || l.amount < pol.htlc_min_msat {
            // Only weak bounds: the amount at peer is at least a and c's minimum.
            let why = if l.exact {
                Reason::HtlcMin
            } else {
                Reason::Suffix
            };
            let least = if l.exact { l.amount } else { a }.max(pol.htlc_min_msat);
            for (f, fee) in candidates {
                let lb = least.saturating_add(fee.fee_msat(least)) - a;
                if compare(lb, avoid, p.max_fee_msat) != Cmp::Greater {
                    out.push(k, f, Cell::Fallback(why));
                }
            }
            return;
        }
        let mut order: Vec<(u64, usize)> = candidates
            .map(|(f, fee)| (l.amount.saturating_add(fee.fee_msat(l.amount)), f))
            .collect();
        let fee_of = |f: usize| if f == CURRENT { cur } else { self.grid[f] };
        order.sort_unstable();
        let top = a.saturating_add(avoid.min(p.max_fee_msat));
        for (a_n, f) in order {
            let verdict = self.decide(p, s, k, l, a_n, avoid, (monotone, pf0), top, cache, out);
            match verdict {
                Some(Cell::Through(_)) => {
                    out.push(k, f, Cell::Through(fee_of(f).fee_msat(l.amount)));
                }
                Some(cell) => out.push(k, f, cell),
                None => break, // this and every larger amount at N: not through
            }
        }
    }

    /// One candidate with `a_n` at N: `Some(Through)`, `Some(Fallback)`, or `None` when
    /// it certainly does not cross c (nor does any larger amount at N).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        p: &Payment,
        s: NodeIdx,
        k: usize,
        l: &Label,
        a_n: u64,
        avoid: u64,
        (monotone, pf0): (bool, u64),
        top: u64,
        cache: &mut HashMap<(u64, u16), Prefix>,
        out: &mut PayOut,
    ) -> Option<Cell> {
        let a = p.amount_msat;
        if a_n - a > p.max_fee_msat {
            return None;
        }
        let lb = (a_n - a).saturating_add(pf0);
        if compare(lb, avoid, p.max_fee_msat) == Cmp::Greater {
            return None;
        }
        if !monotone && self.adj.htlc_min_within(a_n, top) {
            return Some(Cell::Fallback(Reason::HtlcMin));
        }
        let cltv = self.policies[k].cltv_delta;
        let r = match self.prefix(p, s, a_n, cltv, cache, &mut out.work) {
            Ok(r) => r,
            Err(RouteError::SearchBudget { .. }) => {
                return Some(Cell::Fallback(Reason::SearchBudget))
            }
            Err(_) => return None,
        };
        let t = r.total_amount_msat - a;
        let verdict = compare(t, avoid, p.max_fee_msat);
        if verdict == Cmp::Greater {
            return None;
        }
        if let Some(why) = self.joined_invalid(p, k, l, &r) {
            return Some(Cell::Fallback(why));
        }
        Some(match verdict {
            Cmp::Less => Cell::Through(0),
            _ => Cell::Fallback(Reason::Tie),
        })
    }

    /// Why prefix `r` + c + the suffix is not a valid route, if it is not.
    fn joined_invalid(&self, p: &Payment, k: usize, l: &Label, r: &Route) -> Option<Reason> {
        let g = &*self.sc.snapshot;
        let peer = self.peers[self.peer_of[k]];
        let suffix_ids: Vec<_> = std::iter::once(peer)
            .chain(l.path.iter().copied())
            .map(|x| g.node(x).id)
            .collect();
        if r.hops
            .iter()
            .any(|h| suffix_ids.contains(&h.from) || suffix_ids.contains(&h.to))
        {
            return Some(Reason::NotSimple);
        }
        let hops = r.hops.len() + 1 + l.path.len();
        let cltv = u64::from(r.total_cltv) + u64::from(l.cltv);
        if hops > usize::from(p.max_hops) || cltv > u64::from(p.max_cltv) {
            return Some(Reason::Limits);
        }
        None
    }

    /// The router's prefix s -> N delivering `a_n`, with the loosest limits a route through
    /// an edge of cltv delta `cltv` allows (one hop less, final delta plus `cltv`) and the
    /// fee ceiling left after the hops from N on.
    fn prefix(
        &self,
        p: &Payment,
        s: NodeIdx,
        a_n: u64,
        cltv: u16,
        cache: &mut HashMap<(u64, u16), Prefix>,
        work: &mut Work,
    ) -> Prefix {
        if let Some(r) = cache.get(&(a_n, cltv)) {
            return r.clone();
        }
        let g = &*self.sc.snapshot;
        let final_cltv = u32::from(p.final_cltv_delta) + u32::from(cltv);
        let r = if p.max_hops < 2 || final_cltv > p.max_cltv || final_cltv > u32::from(u16::MAX) {
            Err(RouteError::HopLimit)
        } else {
            work.prefix_routes += 1;
            let req = RouteRequest {
                max_fee_msat: Some(p.max_fee_msat - (a_n - p.amount_msat)),
                max_hops: Some(p.max_hops - 1),
                max_cltv: Some(p.max_cltv),
                final_cltv_delta: Some(final_cltv as u16),
                ..RouteRequest::new(g.node(s).id, self.sc.node_id, a_n)
            };
            self.sc.index.find_route(&req)
        };
        cache.insert((a_n, cltv), r.clone());
        r
    }
}

impl Ctx<'_> {
    /// Sums the payments' contributions into curves, routing the fallbacks.
    fn aggregate(&self, baseline: &[Result<Route, RouteError>], outs: &[PayOut]) -> Curves {
        let nk = self.edges.len();
        let mut work = outs.iter().fold(Work::default(), |w, o| w.add(o.work));
        let total_all: u64 = outs.iter().map(|o| o.r0_rev).sum();
        // N's total when payments do not cross c: the baseline's, except for the payments
        // whose baseline route crosses c (their best route around it).
        let mut base_total = vec![total_all; nk];
        for o in outs {
            if let Some(k) = o.c0 {
                base_total[k] = base_total[k] - o.r0_rev + o.ra_rev;
            }
        }
        let avoid_rev = |o: &PayOut, k: usize| if o.c0 == Some(k) { o.ra_rev } else { o.r0_rev };
        let nf = self.grid.len();
        let mut points: Vec<CurvePoint> = (0..nk * nf)
            .map(|i| CurvePoint {
                fee: self.grid[i % nf],
                payments: 0,
                revenue_msat: 0,
                node_revenue_msat: base_total[i / nf],
            })
            .collect();
        let mut fallbacks: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
        let mut ties = vec![0u64; nk];
        for (i, o) in outs.iter().enumerate() {
            let mut tied = vec![false; nk];
            for &(k, f, cell) in &o.cells {
                let pt = &mut points[k as usize * nf + f as usize];
                match cell {
                    Cell::Through(rev) => {
                        pt.payments += 1;
                        pt.revenue_msat += rev;
                        pt.node_revenue_msat =
                            pt.node_revenue_msat + rev - avoid_rev(o, k as usize);
                    }
                    Cell::Fallback(_) => fallbacks.entry((k, f)).or_default().push(i),
                }
            }
            // A total for c may come from one of several equally cheap routes around c:
            // c0's always may; every other channel's when the best route around c0 ties
            // with the baseline, or when a third channel's through route may.
            if let Some(k0) = o.c0 {
                tied[k0] = true;
            }
            let everywhere = o.avoid_ties || o.current_ties.len() > 1;
            for (k, t) in tied.iter_mut().enumerate() {
                *t |= everywhere || o.current_ties.iter().any(|&x| x as usize != k);
            }
            for (k, t) in tied.iter().enumerate() {
                ties[k] += u64::from(*t);
            }
        }
        let mut keys: Vec<(u32, u32)> = fallbacks.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let (k, f) = (key.0 as usize, key.1 as usize);
            let payments = &fallbacks[&key];
            work.indexes_built += 1;
            work.patched_routes += payments.len() as u64;
            let results =
                route_patched(self.sc, self.demand, self.edges[k], self.grid[f], payments);
            let pt = &mut points[k * nf + f];
            for (&i, (over, on, total)) in payments.iter().zip(results) {
                pt.payments += u64::from(over);
                pt.revenue_msat += on;
                pt.node_revenue_msat = pt.node_revenue_msat + total - avoid_rev(&outs[i], k);
            }
        }
        let mut curves = Vec::with_capacity(nk);
        for (k, &edge) in self.edges.iter().enumerate() {
            let mut curve = curve_head(self.sc, edge);
            let (n0, on0, _) = tally(self.sc, edge, baseline);
            curve.points = points[k * nf..(k + 1) * nf].to_vec();
            for pt in &mut curve.points {
                if pt.fee == curve.current {
                    *pt = CurvePoint {
                        fee: pt.fee,
                        payments: n0,
                        revenue_msat: on0,
                        node_revenue_msat: total_all,
                    };
                }
            }
            curve.total_ties = ties[k];
            curves.push(curve);
        }
        Curves {
            curves,
            baseline_revenue_msat: total_all,
            work,
        }
    }
}
