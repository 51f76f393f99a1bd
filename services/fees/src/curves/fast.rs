//! The fast revenue curves.
//!
//! **Decomposition.** Fix a payment p (payer s, payee d, amount a, fee ceiling M) and a
//! direction c = N -> peer at candidate fee f. A route crosses c or it does not, so the
//! cheapest cost at f is the lesser of `avoid(p, c)`, the best route not using c
//! (independent of f), and `T_f(p, c)`, the best route through c. Under the tie rule (see
//! `curves`) p counts for c iff `T_f < avoid` (and `T_f <= M`); at `T_f == avoid` it counts
//! for no channel; at `T_f > avoid` N's total gets whatever the routes avoiding c earn it.
//!
//! * **Around c.** The baseline route r0 (current fees) is a cheapest route. If it crosses no
//!   outgoing direction of N, `avoid(p, c) = cost(r0)` for every c and no channel of N lies
//!   on every cheapest route avoiding c. If it crosses c0, one more route avoids c0 (on the
//!   split graph, which forbids N -> peer only) and, if that one crosses c1, one avoids both:
//!   three costs give `avoid` for every channel and which channel of N (if any) lies on
//!   every cheapest route avoiding it (`Thresholds`).
//! * **Through c.** A simple route through c is prefix s -> N, hop c, suffix peer -> d, the
//!   suffix avoiding N and s. The amount c carries is what peer must receive, and the sender's
//!   amount is strictly increasing in the amount at N, itself strictly increasing in the
//!   amount at peer. So the best route through c uses a suffix with the least amount at
//!   peer, `A*`: the label of peer in one backward Dijkstra from d for all of N's peers
//!   (`suffix`), or, when a label is not certified or is below c's htlc_minimum, one router
//!   call N -> d with N's other outgoing directions excluded (N pays nothing for its own first
//!   hop, so the amount it sends is the amount at peer). Then `A_N = A* + fee_f(A*)`, N
//!   earns `fee_f(A*)`, and `T_f = P(A_N) - a` where `P(A)` is what s must send to deliver A
//!   to N: the router's route s -> N (loosest limits: one hop less, final delta plus c's).
//!   If that prefix and the suffix join into a valid route (no shared node, within the hop and
//!   cltv limits), `T_f` is exact; otherwise it is a lower bound, and the prefix is asked
//!   again avoiding the suffix's nodes within the limits left: equal costs make it exact.
//! * **Larger amounts.** A route through c with more than `A*` at peer has more than `A_N` at N;
//!   its prefix can be cheaper only by using a direction that `A_N`'s flow cannot use because
//!   of its htlc_minimum `m`, with `A_N < m <` what that route's payer sends. Such a direction
//!   must lie within reach: `m` (plus its fee) below the cost that matters, and the relaxed
//!   fee distance from it to N too (`Adjacency::opens_within`), and some path from s to N
//!   must carry more than `A_N` at all (`Adjacency::widest`). With none, every route with a
//!   larger amount costs strictly more: `T_f` is exact, N's fee on c is the same on every
//!   cheapest route, and `T` grows with `A_N`, so candidates are taken by increasing `A_N`
//!   and the first that does not count ends the channel (candidates with the same `A_N`
//!   share its verdict).
//! * **Bounds first.** Before any suffix is searched, one prefix route at the amount itself
//!   (the least N can receive) bounds every through route from below: most payments that
//!   pass the relaxed bound (below) stop there, their prefix alone costing more than the
//!   baseline route. The suffix search is an A* (potential: the relaxed distance from N's
//!   peers) bounded by the largest amount at peer that could still matter; one more prefix
//!   route at the least amount at N in play bounds each channel's candidates.
//! * **N's revenue when p does not cross c** is N's fee on the channel c0 (or c1) that every
//!   cheapest route avoiding c uses. The baseline route's fee is that fee only if every
//!   cheapest route through c0 carries the same amount: certified when r0 carries `A*` and
//!   its prefix costs what the router's best prefix costs at its amount, with no htlc_minimum
//!   in reach above it (`certified`).
//! * **Skipping payments.** Per amount bucket (powers of two), relaxed distances into and out
//!   of N give a lower bound on any route through N; a payment whose baseline route avoids
//!   N and whose bound is at least its baseline cost (or above its ceiling) counts for
//!   nothing anywhere and is skipped. Payments N pays or receives earn N nothing and are
//!   skipped too, and so are those left out (see `curves`).
//! * **Fallback.** Whatever bounds and these certificates cannot decide goes to the oracle's
//!   computation for that (payment, channel, candidate), on the patched index (built once per
//!   (channel, candidate), only if needed), counted by reason in [`Work`]: an htlc_minimum
//!   in reach, a prefix and suffix that cannot be joined while bounds do not decide, a router
//!   query that gave up, a fee that cannot be shown unique.
//!
//! **Router queries with a fee limit** that give up at the label budget are asked again
//! without the limit (a limit just below the best route's cost can exhaust the search where
//! the unlimited one answers at once), then without hop and cltv limits (a lower bound).
//!
//! **Rounds.** Suffix labels, prefix routes and exact suffixes do not depend on N's outgoing
//! fees (a route into N never leaves it; the suffix avoids N), nor does a payment's being
//! skipped when its prefixes alone exceed its baseline cost: a [`Session`] keeps them from
//! one computation to the next (the `flow` strategy's rounds) when only N's outgoing fees
//! changed, and routes again only what depends on them (baseline routes of the payments not
//! skipped, routes around N's channels).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use switchyard_graph::route::{Route, RouteError};
use switchyard_graph::{EdgeIdx, NodeIdx, Snapshot};

use super::oracle::earn;
use super::payment::Thresholds;
use super::{blank_points, curve_head, Curves, OutHop, Reason, Work};
use crate::demand::{Demand, Payment};
use crate::scenario::{FeePolicy, Scenario};
use crate::suffix::{bucket_amount, bucket_of, Adjacency, Label, Suffix, BUCKETS, NO_SLOT};

pub(super) const INF: u64 = u64::MAX;

/// One prefix answer: the router's route s -> N for an amount.
#[derive(Debug, Clone)]
pub(super) struct Prefix {
    /// Its fee (what s sends less the amount at N).
    pub fee: u64,
    /// Its nodes but N.
    pub nodes: Vec<NodeIdx>,
    pub hops: usize,
    /// Its total cltv (the final delta asked included).
    pub cltv: u32,
}

/// A cached router answer: `None` is "nothing within `limit`"; `Err` the router gave up.
pub(super) type Answer<T> = Result<Option<T>, super::oracle::Undecided>;

/// A prefix answer and the fee limit it was asked with.
#[derive(Debug, Clone)]
pub(super) struct PrefixEntry {
    pub amount: u64,
    pub cltv: u16,
    pub limit: u64,
    pub answer: Answer<Prefix>,
}

/// Why a payment whose baseline route avoids N counts for nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Quiet {
    /// The baseline route's cost (`INF`: none within the ceiling).
    pub cost0: u64,
    /// A bound on every route through N whatever N charges (its prefixes alone cost that
    /// much), at least the cut; `None`: the relaxed bound held with the fees of that round
    /// and is checked again with the next round's.
    pub floor: Option<u64>,
}

/// What a payment keeps across the computations of a [`Session`].
#[derive(Debug, Default)]
pub(super) struct Memo {
    /// Why the payment was skipped, when its baseline route avoided N.
    pub quiet: Option<Quiet>,
    pub suffix: Option<Suffix>,
    /// Exact suffixes through one direction: `(edge, fee limit, answer)`.
    pub forced: Vec<(EdgeIdx, u64, Answer<Label>)>,
    pub prefix: Vec<PrefixEntry>,
    /// The most a path payer -> N can carry (`Adjacency::widest`), once asked.
    pub widest: Option<u64>,
    /// The relaxed bound on any prefix payer -> N (`Adjacency::prefix_bound`), once asked.
    pub lb_pre: Option<u64>,
    /// The thresholds with the routes around N's channel the route crossed, and the
    /// scenario (`State::epoch`) they were routed on.
    pub around: Option<(u64, Result<Thresholds, super::oracle::Undecided>)>,
}

/// What a session keeps for one graph (up to N's outgoing fees).
struct State {
    graph: Arc<Snapshot>,
    node: NodeIdx,
    adj: Adjacency,
    /// Per bucket, relaxed distances (into N, out of N), computed on first use.
    relaxed: Vec<OnceLock<(Vec<u64>, Vec<u64>)>>,
    /// Per node, its slot among N's peers (`NO_SLOT`: not a peer).
    slot_of: Vec<u32>,
    targets: usize,
    memos: Vec<Memo>,
    /// The scenario of the last computation, and its number: computations on the same
    /// scenario reuse the routes around N's channels.
    last: Option<Arc<Snapshot>>,
    epoch: u64,
    /// The scenario the state was made for (its family fits at once).
    origin: Scenario,
}

impl State {
    fn new(sc: &Scenario, payments: usize) -> State {
        let g = &*sc.snapshot;
        let mut slot_of = vec![NO_SLOT; g.node_count()];
        let mut targets = 0;
        for d in sc.split().dirs() {
            let peer = g.edge_to(d.edge) as usize;
            if slot_of[peer] == NO_SLOT {
                slot_of[peer] = targets;
                targets += 1;
            }
        }
        State {
            graph: sc.snapshot.clone(),
            node: sc.node,
            adj: Adjacency::new(g),
            relaxed: (0..BUCKETS).map(|_| OnceLock::new()).collect(),
            slot_of,
            targets: targets as usize,
            memos: (0..payments).map(|_| Memo::default()).collect(),
            last: None,
            epoch: 0,
            origin: sc.clone(),
        }
    }

    /// Whether `sc` is this state's graph but for the fees of N's outgoing directions.
    fn fits(&self, sc: &Scenario) -> bool {
        if sc.node != self.node {
            return false;
        }
        if Arc::ptr_eq(&sc.snapshot, &self.graph) || sc.same_family(&self.origin) {
            return true;
        }
        let (a, b) = (&*self.graph, &*sc.snapshot);
        a.node_count() == b.node_count()
            && a.channel_count() == b.channel_count()
            && a.channels().iter().zip(b.channels()).all(|(x, y)| {
                x.scid == y.scid
                    && x.nodes == y.nodes
                    && x.capacity_sat == y.capacity_sat
                    && (0..2).all(|dir| {
                        let fees_free = x.nodes[dir] == self.node;
                        match (x.policies[dir], y.policies[dir]) {
                            (Some(p), Some(q)) if fees_free => FeePolicy::of(&q).apply(&p) == q,
                            (p, q) => p == q,
                        }
                    })
            })
    }
}

/// Revenue curves computed one after another for the same node and demand, reusing what
/// does not depend on N's outgoing fees (see the module documentation). A scenario that
/// differs in anything else starts afresh.
pub struct Session<'d> {
    demand: &'d Demand,
    state: Option<State>,
    /// After a computation: per payment, whether it was left out, and the (channel
    /// position, candidate index) pairs at which a route through the channel may cost at
    /// most its best route around it (see [`Session::may_change`]).
    touched: Vec<(bool, Vec<(u32, u32)>)>,
    /// The channels of that computation, in its order.
    touched_edges: Vec<EdgeIdx>,
}

/// The fast curves of `edges` (N's outgoing directions; all enabled ones when empty).
/// Edges that do not exist are left out.
pub fn compute(sc: &Scenario, demand: &Demand, grid: &[FeePolicy], edges: &[EdgeIdx]) -> Curves {
    Session::new(demand).curves(sc, grid, edges, None)
}

/// Per (payment, channel, candidate): what the fast method decided, where it differs from
/// the payment's default (not crossing c, N's total as around c).
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell {
    /// p crosses c and N earns this on c.
    Through(u64),
    /// The best route through c costs exactly as much as the best around it: p counts for
    /// no channel.
    Tie,
    Fallback(Reason),
}

/// What one payment contributes.
#[derive(Debug, Default)]
pub(super) struct Out {
    /// Left out (see `curves`).
    pub excluded: bool,
    /// What it earns N at the current fees.
    pub base: Option<OutHop>,
    /// N's revenue from it when it does not cross the channel: per position in the curves'
    /// edges where it differs from `def_other`.
    pub def_other: u64,
    pub def_k: Vec<(u32, u64)>,
    /// `(channel position, candidate, cell)`.
    pub cells: Vec<(u32, u32, Cell)>,
    pub work: Work,
}

impl Out {
    pub(super) fn push(&mut self, k: usize, f: usize, cell: Cell) {
        if let Cell::Fallback(r) = cell {
            self.work.count(r);
        }
        self.cells.push((k as u32, f as u32, cell));
    }

    fn default_of(&self, k: usize) -> u64 {
        self.def_k
            .iter()
            .find(|x| x.0 as usize == k)
            .map_or(self.def_other, |x| x.1)
    }
}

/// Everything the per-payment evaluation reads.
pub(super) struct Ctx<'a> {
    pub sc: &'a Scenario,
    pub grid: &'a [FeePolicy],
    pub edges: &'a [EdgeIdx],
    pub adj: &'a Adjacency,
    pub slot_of: &'a [u32],
    pub targets: usize,
    relaxed: &'a [OnceLock<(Vec<u64>, Vec<u64>)>],
    /// Per bucket, the least fee any of N's outgoing directions charges at its amount, at
    /// its current fee or a candidate.
    min_fee: Vec<OnceLock<u64>>,
    k_of: HashMap<EdgeIdx, usize>,
    /// The scenario's number in its session (see `State::epoch`).
    pub epoch: u64,
}

impl Ctx<'_> {
    /// The relaxed distances of bucket `b`.
    pub(super) fn relaxed(&self, b: usize) -> &(Vec<u64>, Vec<u64>) {
        self.relaxed[b].get_or_init(|| self.adj.relaxed(self.sc.node, bucket_amount(b)))
    }

    /// The least fee of N's outgoing directions at bucket `b`'s amount.
    pub(super) fn min_fee(&self, b: usize) -> u64 {
        *self.min_fee[b].get_or_init(|| {
            let x = bucket_amount(b);
            let g = &*self.sc.snapshot;
            let cur = self
                .sc
                .split()
                .dirs()
                .iter()
                .filter(|d| g.edge_enabled(d.edge))
                .map(|d| self.sc.fee_of(d.edge).fee_msat(x));
            cur.chain(self.grid.iter().map(|f| f.fee_msat(x)))
                .min()
                .unwrap_or(INF)
        })
    }

    /// The position of `edge` among the curves' edges.
    pub(super) fn k_of(&self, edge: EdgeIdx) -> Option<usize> {
        self.k_of.get(&edge).copied()
    }
}

impl<'d> Session<'d> {
    /// A session over `demand` that has computed nothing yet.
    pub fn new(demand: &'d Demand) -> Session<'d> {
        Session {
            demand,
            state: None,
            touched: Vec::new(),
            touched_edges: Vec::new(),
        }
    }

    /// The demand this session computes over.
    pub fn demand(&self) -> &'d Demand {
        self.demand
    }

    /// The curves of `edges` on `sc` (as [`compute`]); `baseline`, when given, are the
    /// payments' routes on `sc` at its current fees (e.g. from [`crate::sim::route_all`]),
    /// which then are not routed again.
    pub fn curves(
        &mut self,
        sc: &Scenario,
        grid: &[FeePolicy],
        edges: &[EdgeIdx],
        baseline: Option<&[Result<Route, RouteError>]>,
    ) -> Curves {
        let edges: Vec<EdgeIdx> = if edges.is_empty() {
            sc.out_edges()
        } else {
            edges
                .iter()
                .copied()
                .filter(|&e| (e as usize) < sc.snapshot.edge_slot_count())
                .collect()
        };
        let payments = &self.demand.payments;
        if !self.state.as_ref().is_some_and(|s| s.fits(sc)) {
            self.state = Some(State::new(sc, payments.len()));
        }
        let Some(state) = self.state.as_mut() else {
            unreachable!("the state was just set")
        };
        if !state
            .last
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, &sc.snapshot))
        {
            state.epoch += 1;
            state.last = Some(sc.snapshot.clone());
        }
        let ctx = Ctx {
            sc,
            grid,
            edges: &edges,
            adj: &state.adj,
            slot_of: &state.slot_of,
            targets: state.targets,
            relaxed: &state.relaxed,
            min_fee: (0..BUCKETS).map(|_| OnceLock::new()).collect(),
            k_of: edges.iter().enumerate().map(|(k, &e)| (e, k)).collect(),
            epoch: state.epoch,
        };
        let baseline = baseline.filter(|b| b.len() == payments.len());
        let outs: Vec<Out> = payments
            .par_iter()
            .zip(state.memos.par_iter_mut())
            .enumerate()
            .map(|(i, (p, memo))| ctx.examine(p, memo, baseline.map(|b| &b[i])))
            .collect();
        self.touched = outs
            .iter()
            .map(|o| (o.excluded, o.cells.iter().map(|c| (c.0, c.1)).collect()))
            .collect();
        self.touched_edges.clone_from(&edges);
        aggregate(&ctx, self.demand, &outs)
    }

    /// Per payment, whether its route (`routes`: cheapest routes on `sc`) may change when
    /// N's enabled directions `changes` charge their new fees all at once: the curves of
    /// those channels at those fees ([`Session::curves`]), then [`Session::may_change`].
    /// A disabled direction moves no route whatever it charges. With the work the curves
    /// took; `None`: any payment may change.
    pub(crate) fn moved_by(
        &mut self,
        sc: &Scenario,
        changes: &[(EdgeIdx, FeePolicy)],
        routes: &[Result<Route, RouteError>],
    ) -> (Work, Option<Vec<bool>>) {
        let g = &*sc.snapshot;
        let changes: Vec<(EdgeIdx, FeePolicy)> = changes
            .iter()
            .copied()
            .filter(|&(e, _)| g.edge_enabled(e))
            .collect();
        if changes.is_empty() {
            return (Work::default(), Some(vec![false; routes.len()]));
        }
        let mut grid: Vec<FeePolicy> = changes.iter().map(|c| c.1).collect();
        grid.sort_unstable();
        grid.dedup();
        let edges: Vec<EdgeIdx> = changes.iter().map(|c| c.0).collect();
        let work = self.curves(sc, &grid, &edges, Some(routes)).work;
        let moves: Vec<(EdgeIdx, usize)> = changes
            .iter()
            .map(|&(e, f)| (e, grid.binary_search(&f).unwrap_or(usize::MAX)))
            .collect();
        (work, self.may_change(&moves, routes))
    }

    /// After [`Session::curves`] of channels c_k on a scenario with the payments' routes
    /// `routes`: per payment, whether its route may change when each c_k of `moves` charges
    /// its candidate (an index of that computation's grid) instead, all at once: it was left
    /// out, its route crosses a c_k, or a route through a c_k at its candidate may cost at
    /// most its best route around c_k (a cell of the computation: it counts, ties, or went
    /// to the fallback). Any other payment's route stays a cheapest one: it avoids every
    /// c_k, so its cost does not change, nor does any route avoiding them all; a simple
    /// route crosses N once, so a route through c_k costs what it costs with only c_k
    /// moved, at least as much as the payment's route (strictly more where the computation
    /// compared them; a payment its bounds skipped may have a route through c_k exactly as
    /// cheap), or, failing, more than its ceiling. `None` when a moved channel was not in
    /// that computation, or after none.
    pub(crate) fn may_change(
        &self,
        moves: &[(EdgeIdx, usize)],
        routes: &[Result<Route, RouteError>],
    ) -> Option<Vec<bool>> {
        let st = self.state.as_ref()?;
        if self.touched.len() != routes.len() {
            return None;
        }
        let g = &*st.graph;
        let me = g.node(st.node).id;
        let mut cells: Vec<(u32, u32)> = Vec::with_capacity(moves.len());
        let mut scids = Vec::with_capacity(moves.len());
        for &(edge, candidate) in moves {
            let k = self.touched_edges.iter().position(|&e| e == edge)?;
            cells.push((k as u32, u32::try_from(candidate).ok()?));
            scids.push(g.channel(Snapshot::edge_channel(edge)).scid);
        }
        Some(
            self.touched
                .par_iter()
                .zip(routes)
                .map(|((excluded, touched), r)| {
                    *excluded
                        || touched.iter().any(|c| cells.contains(c))
                        || r.as_ref().is_ok_and(|r| {
                            r.hops
                                .iter()
                                .any(|h| h.from == me && scids.contains(&h.scid))
                        })
                })
                .collect(),
        )
    }

    /// Per payment, whether it certainly earns N nothing on `sc` (a scenario of this
    /// session's graph with other fees on N's outgoing directions), whichever of its
    /// cheapest routes the router picks: its baseline route avoided N, and every route
    /// through N costs strictly more, from the bounds an earlier computation kept. `None`
    /// when `sc` is not this session's graph.
    pub(crate) fn earns_nothing(&self, sc: &Scenario) -> Option<Vec<bool>> {
        let state = self.state.as_ref().filter(|s| s.fits(sc))?;
        let g = &*sc.snapshot;
        let fees: Vec<FeePolicy> = sc
            .split()
            .dirs()
            .iter()
            .filter(|d| g.edge_enabled(d.edge))
            .map(|d| sc.fee_of(d.edge))
            .collect();
        let quiet = |p: &Payment, q: Quiet| -> Option<bool> {
            let over = |lb: u64| {
                if q.cost0 == INF {
                    lb > p.max_fee_msat
                } else {
                    lb > q.cost0
                }
            };
            if let Some(floor) = q.floor {
                return Some(over(floor));
            }
            let (s, d) = (g.node_idx(&p.source)?, g.node_idx(&p.destination)?);
            let b = bucket_of(p.amount_msat);
            let (into, out_of) =
                state.relaxed[b].get_or_init(|| state.adj.relaxed(state.node, bucket_amount(b)));
            let least = fees.iter().map(|f| f.fee_msat(bucket_amount(b))).min()?;
            let lb = state
                .adj
                .prefix_bound(s, state.node, into)
                .saturating_add(least)
                .saturating_add(out_of[d as usize]);
            Some(over(lb))
        };
        Some(
            self.demand
                .payments
                .par_iter()
                .zip(&state.memos)
                .map(|(p, m)| m.quiet.and_then(|q| quiet(p, q)).unwrap_or(false))
                .collect(),
        )
    }
}

/// Sums the payments' contributions into curves, computing the fallbacks.
fn aggregate(ctx: &Ctx, demand: &Demand, outs: &[Out]) -> Curves {
    let (sc, grid, edges) = (ctx.sc, ctx.grid, ctx.edges);
    let (nk, nf) = (edges.len(), grid.len());
    let mut work = outs.iter().fold(Work::default(), |w, o| w.add(o.work));
    let baseline: u64 = outs.iter().filter_map(|o| o.base).map(|h| h.fee).sum();
    // N's totals where p does not cross c: its defaults.
    let sum_other: i128 = outs.iter().map(|o| i128::from(o.def_other)).sum();
    let mut node = vec![sum_other; nk * nf];
    let mut pts: Vec<(u64, u64)> = vec![(0, 0); nk * nf];
    let mut fallbacks: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
    for (i, o) in outs.iter().enumerate() {
        for &(k, v) in &o.def_k {
            let delta = i128::from(v) - i128::from(o.def_other);
            for x in &mut node[k as usize * nf..(k as usize + 1) * nf] {
                *x += delta;
            }
        }
        for &(k, f, cell) in &o.cells {
            let at = k as usize * nf + f as usize;
            let def = i128::from(o.default_of(k as usize));
            match cell {
                Cell::Through(fee) => {
                    pts[at].0 += 1;
                    pts[at].1 += fee;
                    node[at] += i128::from(fee) - def;
                }
                Cell::Tie => node[at] -= def,
                Cell::Fallback(_) => fallbacks.entry((k, f)).or_default().push(i),
            }
        }
    }
    let mut keys: Vec<(u32, u32)> = fallbacks.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let (k, f) = (key.0 as usize, key.1 as usize);
        let list = &fallbacks[&key];
        let patched = sc.with_fees(&[(edges[k], grid[f])]);
        work.indexes_built += 1;
        let earned: Vec<_> = list
            .par_iter()
            .map(|&i| earn(&patched, &demand.payments[i]))
            .collect();
        let at = k * nf + f;
        for (&i, (hop, routes)) in list.iter().zip(earned) {
            work.patched_routes += routes;
            node[at] -= i128::from(outs[i].default_of(k));
            if let Ok(Some(h)) = hop {
                node[at] += i128::from(h.fee);
                if h.edge == edges[k] {
                    pts[at].0 += 1;
                    pts[at].1 += h.fee;
                }
            }
        }
    }
    let mut curves = Vec::with_capacity(nk);
    for (k, &edge) in edges.iter().enumerate() {
        let mut curve = curve_head(sc, edge);
        curve.points = blank_points(grid, 0);
        for (f, pt) in curve.points.iter_mut().enumerate() {
            let at = k * nf + f;
            if pt.fee == curve.current {
                let on = outs
                    .iter()
                    .filter_map(|o| o.base)
                    .filter(|h| h.edge == edge);
                pt.payments = on.clone().count() as u64;
                pt.revenue_msat = on.map(|h| h.fee).sum();
                pt.node_revenue_msat = baseline;
            } else {
                (pt.payments, pt.revenue_msat) = pts[at];
                pt.node_revenue_msat = u64::try_from(node[at]).unwrap_or(0);
            }
        }
        curves.push(curve);
    }
    Curves {
        curves,
        baseline_revenue_msat: baseline,
        work,
    }
}

/// `Thresholds` helpers shared with the channel evaluation.
impl Thresholds {
    /// The cut for a cost compared with `avoid`: through routes must cost less.
    pub(super) fn cut(avoid: u64, max_fee: u64) -> u64 {
        if avoid == INF {
            max_fee.saturating_add(1)
        } else {
            avoid
        }
    }
}
