//! The searches behind [`RoutingIndex::find_route`](super::RoutingIndex::find_route).
//!
//! All searches run from the destination back to the source, because the amount a hop must
//! forward is only known once every hop after it is fixed. A label at node `u` is the amount
//! `u` must receive to deliver the payment (its own forwarding fee included); relaxing edge
//! `u -> v` from `v`'s label `a` gives `a + fee_uv(a)`, except that the payer (source) charges
//! nothing for its own first channel, so reaching the source yields the total `a` it sends.
//!
//! ## Fee model, and the cltv / hop limits (exact, by certification)
//! 1. **A\* with landmark bounds**, one label per node (the least amount). `x + fee(x)` is
//!    non-decreasing, so this is Dijkstra-exact for the problem *without* the cltv and hop
//!    limits, except that an htlc_minimum may reject a small label where a larger one would
//!    pass. The search records, for every such rejection of edge `e` with minimum `m`, the
//!    bound `m + fee_e(m)` (or `m` when `e` leaves the source): no path using `e` there can
//!    cost less. If the route found costs at most every recorded bound and satisfies the
//!    cltv and hop limits, it is optimal and returned.
//!    Between 1 and 2, the same search with htlc minimums ignored runs: it is exact for that
//!    relaxation, so if it finds nothing there is no route, and if its route happens to meet
//!    every rule it is optimal.
//! 2. Otherwise a **Pareto label-setting A\*** on (amount, cltv, hops) runs, pruning labels
//!    that exceed the limits; a label is dropped only when another label at the same node is
//!    no worse in all three. The first label to reach the source is optimal among routes
//!    within the limits, under the same htlc_minimum certification as above. A label
//!    whose cltv or hop count plus the least cltv or fewest hops from the source to its node
//!    (one forward pass per query) exceeds the limits is dropped at once: on the real graph
//!    that keeps cltv-limited searches to a few thousand labels.
//! 3. If that certification fails too, a **best-first tree search over simple paths** (no
//!    dominance, so htlc_minimum cannot mislead it) runs. It is exact.
//!
//! Steps 2 and 3 can need exponentially many labels (every Pareto-optimal or simple partial
//! path), so each runs under the budget of [`RoutingIndex::label_budget`]: labels created
//! (what holds memory: one label plus one heap entry each) and work (in-edges scanned plus
//! dominance comparisons, [`WORK_PER_LABEL`] per label). Past either the search stops with
//! [`RouteError::SearchBudget`](super::RouteError::SearchBudget) rather than answer
//! inexactly: memory and time stay proportional to the graph, whatever the request.
//!
//! ## Probability and balanced models (heuristic, like LDK's and CLN's routers)
//! One label per node, ordered by cost (`-ln P`, or fee + priced `-ln P`), with the limits
//! enforced on each relaxation. Cost is not monotone in the label's amount, so this is a
//! heuristic: the route is valid, but not guaranteed to be the most probable one.
//! The search is an A\* with a consistent bound (`prob_bound`): the cheapest usable first hop
//! of the source plus the cheapest edge into the node, both priced at the payment amount
//! (every hop carries at least that, and `-ln P` grows with the amount); the balanced model
//! adds the fee bound.
//!
//! ## Bounds and pruning shared by every search
//! * In-edges are scanned largest htlc_max first, so a scan stops at the first edge that
//!   cannot carry the label. Edges whose tail has no other in-neighbour come last and are
//!   scanned only at heads of the source's first hops (such a tail leads back nowhere else).
//! * The fee bound is the larger of the landmark (ALT) bound and the cheapest in-edge fee at
//!   the bucket amount (except at heads of the source's first hops, whose hop is free), and,
//!   once the fee search has settled 32 nodes, the forward ball's (`forward_ball`). The
//!   landmark and ball bounds leave out edges that cannot carry more than the amount: they
//!   serve labels above it, whose upstream hops all carry more (see `bound`).
//! * The fee search's queue is a radix heap: it pushes far more entries than it pops. So
//!   is the probability and balanced search's, on the bits of its costs (non-negative f64s
//!   order as their bits do): 16% fewer instructions than a binary heap on 2026 queries.
//! * The fee search takes a long in-edge list (a hub's) in order of fee at the bucket
//!   amount, a batch at a time, and queues the rest as one entry keyed by the least label
//!   its next edge can give (`scan_in_fee_order`): most of a hub's in-edges charge more than
//!   the answer leaves room for and are never looked at. If the search finds nothing, the
//!   lists' rest is looked at once (`settle_rest_of_lists`) so that the reason given is
//!   that of a full scan.
//! * Memory layout: a query's time is mostly cache misses, not instructions (the same query
//!   repeated runs two to three times faster than the first time). So what one step reads
//!   is kept together: an in-edge's fields in one `HotEdge`, a node's search state in one
//!   `NodeState` (half a cache line), its bound state in one `BoundState`, and the forward
//!   ball scans `OutEdge` runs instead of four slot arrays. Records are aligned so that none
//!   straddles two lines, and the index numbers nodes breadth-first from the best-connected
//!   one (`RoutingIndex`), so a hub's neighbours' states are neighbours in memory. In-edge
//!   scans ask for the records a few edges ahead (`PREFETCH_EDGE`), so their misses overlap.
//! * Ties: the queue pops equal keys last pushed first. Once the payer's label equals the
//!   least key it is queued again on top, so the search ends there instead of first settling
//!   every other node on an equally cheap path (round-number fees make hundreds of them).
//! * The source sends at most `src_cap` (its largest usable first-hop limit): the fee search
//!   stops when the smallest key exceeds it, which is what makes most "no route" answers
//!   immediate; the other searches drop labels past it.
//! * A fee limit (`max_fee_msat`) prunes as early as the bounds allow: a label whose fee so
//!   far already exceeds it is never queued, step 1 stops when the smallest key (label plus
//!   fee bound) exceeds the amount plus the limit, steps 2 and 3 drop a label whose amount
//!   plus bound does, and so do the probability and balanced searches when the request has
//!   a limit. A payment whose every route crosses a "do not use" direction (priced near
//!   `u32::MAX` ppm, as LND nodes do) is then refused with `no_route_fee_limit` after the
//!   few nodes before that direction, not after the whole graph. Without a limit the exact
//!   search must settle every node cheaper than such a route, or than the payer's largest
//!   channel when no such route can be paid: the routing bench's `-dnu` graphs measure it.
//!
//! ## Matrix (fee model)
//! `fee_column` settles every source of a matrix from one plain backward Dijkstra per
//! destination; a source takes the first label offered over one of its out-edges (its own
//! first hop is free) and is certified as in step 1 (htlc_minimum rejections so far, cltv and
//! hop limits). Uncertified cells fall back to the full per-pair search.
//!
//! ## Files
//! `scratch.rs` holds the per-thread search state, `bounds.rs` the per-query setup and the
//! A\* bounds, `ball.rs` the forward ball, `single.rs` step 1, `labels.rs` steps 2 and 3,
//! `cost.rs` the probability and balanced models and `column.rs` the matrix's columns; this
//! file, what they share and the fee model's steps in order (`search_fee`).

mod ball;
mod bounds;
mod column;
mod cost;
mod labels;
mod scratch;
mod single;

#[cfg(test)]
pub(crate) use ball::BALL_OVERRIDE;
pub use labels::{LABELS_PER_GRAPH_ELEMENT, MAX_LABEL_BUDGET, MIN_LABEL_BUDGET, WORK_PER_LABEL};
#[cfg(test)]
pub(crate) use scratch::buffer_lens;
pub(crate) use scratch::{with_scratch, Scratch};

use super::index::RoutingIndex;
use super::CostModel;
use crate::prefetch::prefetch;
use labels::LabelOutcome;
use single::SingleOutcome;

/// In-edge lists longer than this are scanned in fee order, lazily (`scan_in_fee_order`);
/// shorter ones at once, which costs less than queueing their rest.
const LAZY_SCAN_MIN: usize = 12;
/// Edges relaxed at least per visit of a lazily scanned list, ready or not: relaxing an edge
/// early is only extra work, and queueing the rest after every edge costs more.
const LAZY_BATCH: usize = 8;
/// How many positions ahead of the one it relaxes an in-edge scan asks for the next edge's
/// record (`PREFETCH_EDGE`) and for its tail's search state (`PREFETCH_TAIL`; by then the
/// edge's own line has arrived). Both reads land all over memory, and without the hint the
/// core waits for one miss at a time. On the bench queries (one cold pass, 8 runs each,
/// medians) the hints cut the fee search's p99 by 5-15% and its median by 2%; 10 / 5 ahead
/// did at least as well as 6 / 3.
const PREFETCH_EDGE: usize = 10;
const PREFETCH_TAIL: usize = 5;

/// Asks for the search state of in-edge `slot`'s tail ahead of its relaxation.
#[inline(always)]
fn prefetch_tail(idx: &RoutingIndex, sc: &Scratch, slot: usize) {
    prefetch(&sc.node[idx.edges.hot()[slot].from as usize]);
}

/// Marks a fee-search queue entry that stands for the rest of a node's in-edge list (its
/// value is then a position in the fee order) instead of a node.
const REST_OF_LIST: u32 = 1 << 31;

/// "No label / no slot / no node".
const NONE: u32 = u32::MAX;

#[cfg(any(test, feature = "testing"))]
thread_local! {
    /// Tests override (`LAZY_SCAN_MIN`, `LAZY_BATCH`) to scan every list lazily.
    pub(crate) static LAZY_OVERRIDE: std::cell::Cell<Option<(usize, usize)>> =
        const { std::cell::Cell::new(None) };
}

/// (`LAZY_SCAN_MIN`, `LAZY_BATCH`), or in tests the values asked for.
#[inline]
fn lazy_scan() -> (usize, usize) {
    #[cfg(any(test, feature = "testing"))]
    if let Some(v) = LAZY_OVERRIDE.with(|c| c.get()) {
        return v;
    }
    (LAZY_SCAN_MIN, LAZY_BATCH)
}

#[cfg(feature = "testing")]
thread_local! {
    /// Work of this thread's fee searches (step 1): nodes settled, edges relaxed. For
    /// measuring bound quality with counts instead of a noisy clock.
    pub(crate) static WORK: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

#[inline(always)]
fn count_work(_settled: u64, _relaxed: u64) {
    #[cfg(feature = "testing")]
    WORK.with(|c| {
        let (s, r) = c.get();
        c.set((s + _settled, r + _relaxed));
    });
}

/// A request resolved to the index's node numbers (`RoutingIndex::node_of`; channels keep
/// the snapshot's), limits filled in.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub src: u32,
    pub dst: u32,
    pub amount: u64,
    pub model: CostModel,
    pub max_fee: u64,
    pub max_hops: u8,
    pub max_cltv: u32,
    pub final_cltv: u32,
    pub exclude_nodes: Vec<u32>,
    pub exclude_channels: Vec<u32>,
}

impl Query {
    /// Whether a label of amount `a` (plus a lower bound `h` on the fees still to come)
    /// already costs more than the fee limit allows: no route through it can be within it.
    #[inline]
    fn over_fee_limit(&self, a: u64, h: u64) -> bool {
        a.saturating_add(h) - self.amount > self.max_fee
    }
}

/// Why a search found nothing, as far as it can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Capacity,
    FeeLimit,
    CltvLimit,
    HopLimit,
    /// A label search (step 2 or 3) ran out of its budget before it could decide.
    SearchBudget,
}

/// A found path: index slots in payment order (source first).
pub(crate) type SlotPath = Vec<u32>;

/// Outcome of the fee-model search.
pub(crate) enum Found {
    Path(SlotPath),
    None(Failure),
}

impl RoutingIndex {
    /// Whether `src` can reach `dst` at all over enabled edges (amounts and limits ignored).
    /// O(1) when both lie in the hub's strongly connected part; otherwise a walk over the
    /// side that lies outside it, which is small on real graphs.
    pub(crate) fn reachable(&self, src: u32, dst: u32, sc: &mut Scratch) -> bool {
        if self.reach.reaches_hub(src) && self.reach.reached_from_hub(dst) {
            return true;
        }
        let forward = !self.reach.reaches_hub(src);
        let (start, goal) = if forward { (src, dst) } else { (dst, src) };
        let gen = sc.gen;
        sc.stack.clear();
        sc.stack.push(start);
        sc.node[start as usize].seen = gen;
        while let Some(x) = sc.stack.pop() {
            if x == goal {
                return true;
            }
            let mut visit = |y: u32| {
                if sc.node[y as usize].seen != gen {
                    sc.node[y as usize].seen = gen;
                    sc.stack.push(y);
                }
            };
            if forward {
                for &slot in self.edges.out_slots(x) {
                    visit(self.edges.to(slot as usize));
                }
            } else {
                for slot in self.edges.in_slots(x) {
                    visit(self.edges.from(slot));
                }
            }
        }
        false
    }

    #[inline]
    fn edge_excluded(&self, slot: usize, sc: &Scratch) -> bool {
        sc.any_excluded
            && (sc.excl_node[self.edges.from(slot) as usize] == sc.gen
                || sc.excl_chan[self.edges.channel(slot) as usize] == sc.gen)
    }

    /// The fee model: steps 1 to 3 of the module documentation.
    pub(crate) fn search_fee(&self, q: &Query, sc: &mut Scratch) -> Found {
        let single = self.fee_single(q, sc, false);
        let first_failure = match single {
            SingleOutcome::Certified(path) => {
                let (cltv, hops) = self.path_cltv_hops(&path, q);
                if cltv <= q.max_cltv && hops <= u32::from(q.max_hops) {
                    return Found::Path(path);
                }
                if cltv > q.max_cltv {
                    Failure::CltvLimit
                } else {
                    Failure::HopLimit
                }
            }
            SingleOutcome::Uncertified(_) => Failure::Capacity,
            SingleOutcome::Nothing {
                failure,
                min_rejected: false,
            } => return Found::None(failure),
            SingleOutcome::Nothing { failure, .. } => failure,
        };
        // Without htlc minimums and limits the single-label search is exact: if it finds
        // nothing there is nothing, and if its route happens to be feasible it is optimal.
        self.begin_search(q, sc);
        match self.fee_single(q, sc, true) {
            SingleOutcome::Nothing { failure, .. } => return Found::None(failure),
            SingleOutcome::Certified(p) | SingleOutcome::Uncertified(p) => {
                if self.path_feasible(&p, q) {
                    return Found::Path(p);
                }
            }
        }
        self.begin_search(q, sc);
        self.limit_bounds(q, sc);
        match self.fee_labels(q, sc, false) {
            LabelOutcome::Certified(p) => Found::Path(p),
            LabelOutcome::Nothing {
                min_rejected: false,
                ..
            } => Found::None(first_failure),
            other => {
                let fallback = match other {
                    LabelOutcome::Uncertified(p) => Some(p),
                    _ => None,
                };
                self.begin_search(q, sc);
                match self.fee_labels(q, sc, true) {
                    LabelOutcome::Certified(p) | LabelOutcome::Uncertified(p) => Found::Path(p),
                    // Step 3 is exhaustive, so it cannot miss step 2's valid route; keeping
                    // that route only guards against a bug turning a route into "no route".
                    LabelOutcome::Nothing { .. } => match fallback {
                        Some(p) => Found::Path(p),
                        None => Found::None(first_failure),
                    },
                    // Step 2's uncertified route may not be the cheapest: no inexact answer.
                    LabelOutcome::Budget => Found::None(Failure::SearchBudget),
                }
            }
        }
    }

    /// Cltv total (final delta included) and hop count of a path.
    pub(crate) fn path_cltv_hops(&self, path: &[u32], q: &Query) -> (u32, u32) {
        let hot = self.edges.hot();
        let cltv = q.final_cltv
            + path
                .iter()
                .skip(1)
                .map(|&s| u32::from(hot[s as usize].cltv))
                .sum::<u32>();
        (cltv, path.len() as u32)
    }

    /// Whether a path meets every htlc limit and the cltv, hop and fee limits.
    pub(crate) fn path_feasible(&self, path: &[u32], q: &Query) -> bool {
        let (cltv, hops) = self.path_cltv_hops(path, q);
        if cltv > q.max_cltv || hops > u32::from(q.max_hops) {
            return false;
        }
        let mut a = q.amount;
        for (i, &s) in path.iter().enumerate().rev() {
            let e = &self.edges.hot()[s as usize];
            if a < e.htlc_min || a > e.htlc_max {
                return false;
            }
            if i > 0 {
                a = a.saturating_add(e.fee(a));
            }
        }
        a - q.amount <= q.max_fee
    }

    /// The path from the source to the destination along the single-label searches' parent
    /// slots.
    fn tree_path(&self, src: u32, dst: u32, sc: &Scratch) -> SlotPath {
        let mut path = Vec::new();
        let mut x = src;
        while x != dst && path.len() <= self.n {
            let slot = sc.node[x as usize].parent;
            path.push(slot);
            x = self.edges.to(slot as usize);
        }
        path
    }
}
