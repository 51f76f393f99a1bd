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
//!   stops when the smallest key exceeds it (or the fee limit), which is what makes most
//!   "no route" answers immediate; the other searches drop labels past it.
//!
//! ## Matrix (fee model)
//! `fee_column` settles every source of a matrix from one plain backward Dijkstra per
//! destination; a source takes the first label offered over one of its out-edges (its own
//! first hop is free) and is certified as in step 1 (htlc_minimum rejections so far, cltv and
//! hop limits). Uncertified cells fall back to the full per-pair search.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::index::{
    HotEdge, LandmarkRow, OutEdge, RoutingIndex, INF, LANDMARKS, LANDMARK_BUCKETS_MSAT, LM_INF,
    LM_SAT,
};
use super::radix::RadixHeap;
use super::{CostModel, BALANCED_MSAT_PER_NEG_LN_P, BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT};

/// The balanced model's price of one unit of `-ln P` on a hop carrying `amount` (at least).
#[inline]
fn balanced_price(amount: u64) -> f64 {
    BALANCED_MSAT_PER_NEG_LN_P
        + BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT * amount as f64 / 1_048_576.0
}

/// Labels a label-setting search (steps 2 and 3) may create per node and per enabled edge of
/// the index. Realistic cltv-limited queries need a few labels per node they reach; a
/// budget in proportion to the graph keeps one search's memory (48 bytes a label with its
/// heap entry) to a fraction of the index's own, on any graph.
pub const LABELS_PER_GRAPH_ELEMENT: usize = 4;
/// Floor of the label budget, so that small graphs still get an exhaustive search.
pub const MIN_LABEL_BUDGET: usize = 50_000;
/// Ceiling of the label budget (about 100 MB of labels), whatever the graph's size.
pub const MAX_LABEL_BUDGET: usize = 2_000_000;
/// Work units (in-edges scanned, dominance comparisons) a label search may spend per label of
/// its budget: bounds the time of searches that scan much and create little.
pub const WORK_PER_LABEL: usize = 32;
/// When the fee search grows its forward ball around the source (see `forward_ball`), as
/// steps (nodes it has settled, ball size). Most searches end before the first step and pay
/// nothing. A ball of 32 rather than 16 nodes usually takes in all of a well-connected
/// payer's first-hop peers (free hops, so at distance 0), and its radius then counts the
/// next hop's fee: on the 2019 bench queries the p99 query settled 68 nodes instead of 267
/// and took a quarter less time (2026: -12%), medians unchanged. Larger balls (64 and 256
/// nodes, after 16 to 512 settled) cost more than their radius saved.
const FORWARD_BALL_SCHEDULE: [(usize, usize); 1] = [(32, 32)];

#[cfg(test)]
thread_local! {
    /// Tests override (ball size, settled nodes before it) to exercise the ball everywhere.
    pub(crate) static BALL_OVERRIDE: std::cell::Cell<Option<(usize, usize)>> =
        const { std::cell::Cell::new(None) };
}

/// `FORWARD_BALL_SCHEDULE`, or in tests the one step (settled nodes, ball size) asked for.
#[inline]
fn ball_schedule() -> [(usize, usize); FORWARD_BALL_SCHEDULE.len()] {
    #[cfg(test)]
    if let Some((size, after)) = BALL_OVERRIDE.with(|c| c.get()) {
        return [(after, size); FORWARD_BALL_SCHEDULE.len()];
    }
    FORWARD_BALL_SCHEDULE
}

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
    prefetch(&sc.node[idx.hot[slot].from as usize]);
}

/// Asks for the cache line holding `x` ahead of its use (see `PREFETCH_EDGE`).
#[inline(always)]
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing the program sees and cannot fault,
    // and `x` is a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Marks a fee-search queue entry that stands for the rest of a node's in-edge list (its
/// value is then a position in the fee order) instead of a node.
const REST_OF_LIST: u32 = 1 << 31;

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

/// Fee search (step 1) outcomes gathered while relaxing edges.
struct SingleState {
    /// Least `m + fee(m)` over edges rejected by their htlc_minimum `m`.
    reject_bound: u64,
    min_rejected: bool,
    fee_pruned: bool,
}

/// Capacity of the per-thread label and heap buffers kept between queries; a search that grew
/// them past it gives the memory back at the next query.
const RETAINED_BUFFER: usize = 1 << 16;

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

#[derive(Debug, Clone, Copy)]
struct Label {
    amt: u64,
    cltv: u32,
    hops: u8,
    node: u32,
    parent: u32,
    slot: u32,
    next_at_node: u32,
}

const NONE: u32 = u32::MAX;

/// What a relaxation reads and writes of the tail node, in one aligned half cache line: a
/// search relaxes tens of edges per node it settles, into nodes all over the graph, and a
/// query's time is mostly cache misses (the same query repeated runs two to three times
/// faster than the first time). Kept in six arrays, a relaxation missed up to six times.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct NodeState {
    /// The label's amount.
    dist: u64,
    /// The label's cost (probability and balanced models).
    cost: f64,
    seen: u32,
    settled: u32,
    parent: u32,
    cltv: u32,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState {
            dist: 0,
            cost: 0.0,
            seen: 0,
            settled: 0,
            parent: NONE,
            cltv: 0,
        }
    }
}

/// What a fee bound evaluation reads of a node (besides the index's landmark row).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct BoundState {
    /// The cached bound, valid when `h_gen` is the scratch's `h_stamp`.
    h: u64,
    h_gen: u32,
    /// Stamped with the generation when the node is the head of a usable first hop.
    first_hop: u32,
}

/// The forward ball's state of a node (stamped with the ball's generation).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct BallState {
    dist: u64,
    done: u32,
    seen: u32,
}

/// Per-thread reusable search state; arrays are stamped with a generation number so a query
/// costs nothing proportional to the graph size.
#[derive(Default)]
pub(crate) struct Scratch {
    gen: u32,
    /// What every relaxation reads and writes of a node, together (see [`NodeState`]).
    node: Vec<NodeState>,
    hops: Vec<u8>,
    /// Per node, what a fee bound evaluation reads (see [`BoundState`]).
    bounds: Vec<BoundState>,
    /// What `BoundState::h_gen` is compared with: renewed with every generation, and when
    /// the forward ball raises the bounds mid-search.
    h_stamp: u32,
    excl_node: Vec<u32>,
    excl_chan: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    /// The fee and probability searches' queue (their keys are monotone: integers, or
    /// non-negative f64 costs by their bits).
    rheap: RadixHeap,
    /// The forward ball (see `forward_ball`): its own generation, so it outlives the
    /// fee search's several passes; distances, settled stamps, queue.
    f_on: bool,
    f_gen: u32,
    ball: Vec<BallState>,
    f_heap: RadixHeap,
    f_size: usize,
    /// Least forward distance of any node outside the ball; `INF` when the ball holds every
    /// node the source reaches.
    f_radius: u64,
    labels: Vec<Label>,
    head: Vec<u32>,
    head_gen: Vec<u32>,
    stack: Vec<u32>,
    /// Label searches only: least cltv deltas and fewest hops from the source to each node
    /// (see `limit_bounds`).
    lb_cltv: Vec<u32>,
    lb_hops: Vec<u8>,
    // Per-query landmark offsets (see `prepare_bounds`).
    lm_a: [u32; LANDMARKS],
    lm_b: [u32; LANDMARKS],
    /// Least `-ln P` of any usable first hop of the source.
    first_neg_ln_p: f64,

    bucket: usize,
    /// The payment amount: labels above it get the landmark and ball bounds (see `bound`).
    amount: u64,
    any_excluded: bool,
    /// The most the source can send over any one of its usable first channels: no label
    /// whose amount plus fee bound exceeds it can end in a route.
    src_cap: u64,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Lengths of this thread's label and heap buffers as the last search left them.
#[cfg(test)]
pub(crate) fn buffer_lens() -> (usize, usize) {
    SCRATCH.with(|cell| {
        let sc = cell.borrow();
        (sc.labels.len(), sc.heap.len())
    })
}

/// Runs `f` with this thread's scratch prepared for `idx` and a fresh generation.
pub(crate) fn with_scratch<R>(idx: &RoutingIndex, f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut sc = cell.borrow_mut();
        sc.prepare(idx.n, idx.snapshot.channel_count());
        f(&mut sc)
    })
}

impl Scratch {
    fn prepare(&mut self, n: usize, channels: usize) {
        // Any reallocation restarts the generations, so every stamped array is renewed.
        if self.node.len() < n || self.excl_chan.len() < channels {
            let n = n.max(self.node.len());
            self.excl_chan = vec![0; channels.max(self.excl_chan.len())];
            self.node = vec![NodeState::default(); n];
            self.hops = vec![0; n];
            self.bounds = vec![BoundState::default(); n];
            self.h_stamp = 0;

            self.excl_node = vec![0; n];
            self.head = vec![NONE; n];
            self.head_gen = vec![0; n];
            self.ball = vec![BallState::default(); n];
            self.f_gen = 0;
            self.gen = 0;
        }
        self.f_on = false;
        self.labels.shrink_to(RETAINED_BUFFER);
        self.heap.shrink_to(RETAINED_BUFFER);
        self.rheap.shrink_to(RETAINED_BUFFER);
        self.next_gen();
    }

    fn next_h_stamp(&mut self) {
        self.h_stamp = self.h_stamp.wrapping_add(1);
        if self.h_stamp == 0 {
            self.bounds.iter_mut().for_each(|x| x.h_gen = 0);
            self.h_stamp = 1;
        }
    }

    fn next_gen(&mut self) {
        self.next_h_stamp();
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            for x in &mut self.node {
                (x.seen, x.settled) = (0, 0);
            }
            self.bounds.iter_mut().for_each(|x| x.first_hop = 0);
            for v in [&mut self.excl_node, &mut self.excl_chan, &mut self.head_gen] {
                v.iter_mut().for_each(|x| *x = 0);
            }
            self.gen = 1;
        }
        self.heap.clear();
        self.rheap.clear();
        self.labels.clear();
    }
}

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
        let (s, d) = (src as usize, dst as usize);
        if self.reaches_hub[s] && self.reached_from_hub[d] {
            return true;
        }
        let forward = !self.reaches_hub[s];
        let (start, goal) = if forward { (src, dst) } else { (dst, src) };
        let gen = sc.gen;
        sc.stack.clear();
        sc.stack.push(start);
        sc.node[start as usize].seen = gen;
        while let Some(x) = sc.stack.pop() {
            if x == goal {
                return true;
            }
            if forward {
                for &slot in self.out_slots(x) {
                    let y = self.to[slot as usize];
                    if sc.node[y as usize].seen != gen {
                        sc.node[y as usize].seen = gen;
                        sc.stack.push(y);
                    }
                }
            } else {
                for slot in self.in_slots(x) {
                    let y = self.from[slot];
                    if sc.node[y as usize].seen != gen {
                        sc.node[y as usize].seen = gen;
                        sc.stack.push(y);
                    }
                }
            }
        }
        false
    }

    /// Marks excluded nodes and channels and computes the landmark offsets for this query.
    /// Must run after `reachable` (which uses `seen`), and bumps the generation.
    pub(crate) fn begin_search(&self, q: &Query, sc: &mut Scratch) {
        sc.next_gen();
        let gen = sc.gen;
        sc.any_excluded = !q.exclude_nodes.is_empty() || !q.exclude_channels.is_empty();
        for &u in &q.exclude_nodes {
            sc.excl_node[u as usize] = gen;
        }
        for &c in &q.exclude_channels {
            sc.excl_chan[c as usize] = gen;
        }
        sc.bucket = Self::bucket_for(q.amount);
        sc.amount = q.amount;
        sc.src_cap = 0;
        sc.first_neg_ln_p = f64::INFINITY;
        for &s in self.out_slots(q.src) {
            let s = s as usize;
            let to = self.to[s] as usize;
            if self.edge_excluded(s, sc) || sc.excl_node[to] == gen {
                continue;
            }
            sc.src_cap = sc.src_cap.max(self.htlc_max[s]);
            if self.htlc_max[s] >= q.amount {
                sc.bounds[to].first_hop = gen;
                let p = super::hop_neg_ln_p(q.amount, self.cap_msat[s]);
                sc.first_neg_ln_p = sc.first_neg_ln_p.min(p);
            }
        }
        // The source's own first channel is free, so the fees still to come from node u are
        // at least the fee distance from some out-neighbour w of the source to u. With
        // a = max_w d(L, w) and b = min_w d(w, L), d(w, u) >= d(L, u) - a and >= b - d(u, L).
        let n = self.n;
        sc.lm_a = [0; LANDMARKS];
        sc.lm_b = [LM_INF; LANDMARKS];
        // Only first hops that can carry more than the amount count: the bound only serves
        // labels above the amount (see `bound`). One table row per first hop: a hub source
        // has thousands.
        for &slot in self.out_slots(q.src) {
            if self.htlc_max[slot as usize] <= q.amount {
                continue;
            }
            let w = self.to[slot as usize] as usize;
            if self.lm_row_unknown(w) {
                // Nothing known of d(L, w) or d(w, L): no bound from any landmark.
                sc.lm_a = [LM_SAT; LANDMARKS];
                sc.lm_b = [0; LANDMARKS];
                break;
            }
            let row = &self.lm[sc.bucket * n + w].0;
            for l in 0..LANDMARKS {
                sc.lm_a[l] = sc.lm_a[l].max(row[l]);
                sc.lm_b[l] = sc.lm_b[l].min(row[LANDMARKS + l]);
            }
        }
    }

    /// Admissible, consistent lower bound on the fees still to be added between `u` and the
    /// source for a label of amount `a` at `u`; `INF` when no out-neighbour of the source
    /// reaches `u` with more than the payment amount.
    ///
    /// A label above the payment amount (some fee is paid downstream of `u`, the usual case)
    /// makes every hop between the source and `u` carry more than the amount, so the landmark
    /// tables and the forward ball leave out edges whose limit is the amount or less. A label
    /// of exactly the amount (`u` is the destination, or only zero-fee hops follow) gets the
    /// cheapest-in-edge bound alone. Still consistent: an edge into a label of exactly the
    /// amount charges at least that bound, and labels above the amount only have labels above
    /// it upstream.
    #[inline]
    fn bound(&self, u: u32, a: u64, src: u32, sc: &mut Scratch) -> u64 {
        if u == src {
            return 0;
        }
        let ui = u as usize;
        if a <= sc.amount {
            return if sc.bounds[ui].first_hop == sc.gen {
                0
            } else {
                self.in_fee_min[sc.bucket * self.n + ui]
            };
        }
        if sc.bounds[ui].h_gen == sc.h_stamp {
            return sc.bounds[ui].h;
        }
        let mut h = self.landmark_bound(&self.lm, ui, sc.bucket, &sc.lm_a, &sc.lm_b);
        // Unless `u` is the head of a (free) first hop, the hop into `u` charges at least its
        // cheapest in-edge's fee; consistent for the same reason as `prob_bound`.
        if h != INF && sc.bounds[ui].first_hop != sc.gen {
            h = h.max(self.in_fee_min[sc.bucket * self.n + ui]);
        }
        if sc.f_on {
            h = h.max(if sc.ball[ui].done == sc.f_gen {
                sc.ball[ui].dist
            } else {
                sc.f_radius
            });
        }
        sc.bounds[ui].h_gen = sc.h_stamp;
        sc.bounds[ui].h = h;
        h
    }

    /// The ALT bound from one landmark table, given the per-query source offsets.
    #[inline]
    fn landmark_bound(
        &self,
        table: &[LandmarkRow],
        ui: usize,
        bucket: usize,
        la: &[u32; LANDMARKS],
        lb: &[u32; LANDMARKS],
    ) -> u64 {
        let row = &table[bucket * self.n + ui].0;
        let mut h = 0u64;
        for l in 0..self.landmarks.len() {
            let (dlu, dul) = (row[l], row[LANDMARKS + l]);
            let (a, b) = (la[l], lb[l]);
            // d(w, u) >= d(L, u) - a: needs an exact a; a saturated d(L, u) is a lower bound.
            if a < LM_SAT {
                if dlu == LM_INF {
                    return INF;
                }
                h = h.max(u64::from(dlu.saturating_sub(a)));
            }
            // d(w, u) >= b - d(u, L): needs an exact d(u, L); a saturated b is a lower bound.
            if dul < LM_SAT {
                if b == LM_INF {
                    return INF;
                }
                h = h.max(u64::from(b.saturating_sub(dul)));
            }
        }
        h
    }

    /// Lower bound on the `-ln P` still to come between the source and `v` (first hop
    /// included): the cheapest usable first hop, plus, unless `v` is the head of one, the
    /// cheapest edge into `v` (every hop carries at least the amount, and the cost grows
    /// with it). Consistent: an edge `x -> v` costs at least the second term, and `x`'s own
    /// bound is at least the first. `INF` when no edge into `v` carries the amount.
    #[inline]
    fn prob_bound(&self, v: u32, q: &Query, sc: &Scratch) -> f64 {
        if v == q.src {
            return 0.0;
        }
        let vi = v as usize;
        if sc.bounds[vi].first_hop == sc.gen {
            return sc.first_neg_ln_p;
        }
        let cap = self.in_cap_max[sc.bucket * self.n + vi];
        sc.first_neg_ln_p + super::hop_neg_ln_p(q.amount, cap)
    }

    #[inline]
    fn edge_excluded(&self, slot: usize, sc: &Scratch) -> bool {
        sc.any_excluded
            && (sc.excl_node[self.from[slot] as usize] == sc.gen
                || sc.excl_chan[(self.edge[slot] >> 1) as usize] == sc.gen)
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

    /// Grows the forward ball to `size` nodes: a forward Dijkstra from the source over the
    /// edges that can carry the amount, each weighted by its fee at the payment amount (the
    /// payer's first hop by 0), resumed where the last growth stopped. Every hop carries at
    /// least the amount and fees grow with it, and exclusions and htlc minimums only remove
    /// paths, so a settled node's distance, and the least distance left in the queue for the
    /// others, are lower bounds on the fees still to come between the source and the node
    /// (`bound`). That bound is consistent (settled distances never exceed the radius) and
    /// exact near the source, where the landmark bound is weakest; the backward search then
    /// meets the ball instead of crossing the graph to the source. The ball lives for the
    /// whole query (every pass of the fee search); the landmark and cheapest-in-edge bounds
    /// still apply (the larger wins).
    fn forward_ball(&self, q: &Query, sc: &mut Scratch, size: usize) {
        let src = q.src;
        if !sc.f_on {
            sc.f_gen = sc.f_gen.wrapping_add(1);
            if sc.f_gen == 0 {
                sc.ball.iter_mut().for_each(|x| (x.done, x.seen) = (0, 0));
                sc.f_gen = 1;
            }
            sc.f_heap.clear();
            sc.ball[src as usize].seen = sc.f_gen;
            sc.ball[src as usize].dist = 0;
            sc.f_heap.push(0, src);
            sc.f_size = 0;
            sc.f_radius = 0;
            sc.f_on = true;
        }
        let fg = sc.f_gen;
        let (lazy_min, batch) = lazy_scan();
        while let Some((d, x)) = sc.f_heap.pop() {
            let rest_of_list = x & REST_OF_LIST != 0;
            let xi = x as usize;
            if !rest_of_list && (sc.ball[xi].done == fg || d > sc.ball[xi].dist) {
                continue;
            }
            if sc.f_size >= size {
                // Back in the queue, for a later growth.
                sc.f_heap.push(d, x);
                sc.f_radius = d;
                return;
            }
            if rest_of_list {
                // The rest of a settled node's out-edges, in fee order: `d` bounds them all.
                let p = (x & !REST_OF_LIST) as usize;
                let pos = self.out_fee_order[sc.bucket * self.out_hot.len() + p] as usize;
                let tail = self.from[self.out_slot[pos] as usize] as usize;
                let end = self.out_off[tail + 1] as usize;
                self.ball_scan(q, sc, sc.ball[tail].dist, (p, end), (d, batch));
                continue;
            }
            sc.f_size += 1;
            sc.ball[xi].done = fg;
            let (start, end) = (self.out_off[xi] as usize, self.out_off[xi + 1] as usize);
            if x != src && end - start > lazy_min {
                self.ball_scan(q, sc, d, (start, end), (d, batch));
                continue;
            }
            count_work(0, (end - start) as u64);
            for e in &self.out_hot[start..end] {
                // The payer's own hop is free, whatever the fee order says.
                let nd = if x == src {
                    d
                } else {
                    d.saturating_add(e.fee(q.amount))
                };
                self.ball_relax(q, sc, e, nd);
            }
        }
        // The ball holds every node the source reaches: the others are unreachable.
        sc.f_radius = INF;
    }

    /// Relaxes a ball edge to the distance `nd`.
    #[inline(always)]
    fn ball_relax(&self, q: &Query, sc: &mut Scratch, e: &OutEdge, nd: u64) {
        // Only labels above the amount use the ball (see `bound`).
        if e.htlc_max <= q.amount {
            return;
        }
        let (y, fg) = (e.to as usize, sc.f_gen);
        if sc.ball[y].done == fg {
            return;
        }
        if sc.ball[y].seen != fg || nd < sc.ball[y].dist {
            sc.ball[y].seen = fg;
            sc.ball[y].dist = nd;
            sc.f_heap.push(nd, e.to);
        }
    }

    /// The forward ball's `scan_in_fee_order`: relaxes the out-edges at positions `p..end`
    /// of the bucket's out fee order (one node's list, settled at distance `d`, not the
    /// payer) while the least distance an edge can give (`d` plus its fee at the bucket
    /// amount, a lower bound on its fee at the payment amount) is at most `key`, at least
    /// `batch` of them; the rest goes back into the queue as one entry keyed by that least
    /// distance of the next edge. A hub's hundreds of out-edges then cost only as many as
    /// the ball's radius reaches.
    fn ball_scan(
        &self,
        q: &Query,
        sc: &mut Scratch,
        d: u64,
        (mut p, end): (usize, usize),
        (key, batch): (u64, usize),
    ) {
        let bucket_amount = LANDMARK_BUCKETS_MSAT[sc.bucket];
        let order = &self.out_fee_order[sc.bucket * self.out_hot.len()..];
        let batch_end = p + batch;
        while p < end {
            let e = &self.out_hot[order[p] as usize];
            // Edges that cannot carry the bucket amount come last, and cannot carry more.
            if e.htlc_max < bucket_amount {
                return;
            }
            let least = d.saturating_add(e.fee(bucket_amount));
            if least > key && p >= batch_end {
                sc.f_heap.push(least, REST_OF_LIST | p as u32);
                return;
            }
            p += 1;
            count_work(0, 1);
            self.ball_relax(q, sc, e, d.saturating_add(e.fee(q.amount)));
        }
    }

    /// Cltv total (final delta included) and hop count of a path.
    pub(crate) fn path_cltv_hops(&self, path: &[u32], q: &Query) -> (u32, u32) {
        let cltv = q.final_cltv
            + path
                .iter()
                .skip(1)
                .map(|&s| u32::from(self.cltv[s as usize]))
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
            let s = s as usize;
            if a < self.htlc_min[s] || a > self.htlc_max[s] {
                return false;
            }
            if i > 0 {
                a = a.saturating_add(self.fee(s, a));
            }
        }
        a - q.amount <= q.max_fee
    }

    fn fee_single(&self, q: &Query, sc: &mut Scratch, ignore_min: bool) -> SingleOutcome {
        let gen = sc.gen;
        let (src, dst, amount) = (q.src, q.dst, q.amount);
        let mut st = SingleState {
            reject_bound: INF,
            min_rejected: false,
            fee_pruned: false,
        };
        let schedule = ball_schedule();
        let (lazy_min, batch) = lazy_scan();
        let mut stage = 0;
        let mut settled = 0usize;
        sc.node[dst as usize].seen = gen;
        sc.node[dst as usize].dist = amount;
        sc.rheap.push(amount, dst);
        while let Some((key, v)) = sc.rheap.pop() {
            if v & REST_OF_LIST != 0 {
                // The rest of a settled node's in-edges: `key` is a lower bound on all of
                // their labels' keys, so the same stopping rules apply.
                if key > sc.src_cap {
                    sc.rheap.push(key, v);
                    break;
                }
                if key - amount > q.max_fee {
                    // Whether an edge was really cut by the fee limit is settled below.
                    sc.rheap.push(key, v);
                    break;
                }
                let (p, end, a) = self.rest_of_list(v, sc);
                self.scan_in_fee_order(q, sc, &mut st, a, (p, end), (key, batch), ignore_min);
                continue;
            }
            let vi = v as usize;
            if sc.node[vi].settled == gen {
                continue;
            }
            let a = sc.node[vi].dist;
            // Lazy A*: nodes are pushed with a cheap lower bound on their key and get their
            // landmark bound only when popped, so the many neighbours of hubs that never
            // come up cost a heap push, not a bound evaluation.
            let h = self.bound(v, a, src, sc);
            if h == INF {
                sc.node[vi].settled = gen;
                continue;
            }
            let real = a.saturating_add(h);
            if key < real {
                sc.rheap.push(real, v);
                continue;
            }
            // Keys pop in non-decreasing order and every route through `v` makes the source
            // send at least `real`: past the first channel's limit or the fee limit, nothing
            // left in the heap can become a route.
            if real > sc.src_cap {
                break;
            }
            if real - amount > q.max_fee {
                st.fee_pruned = true;
                break;
            }
            settled += 1;
            count_work(1, 0);
            if stage < schedule.len() && settled == schedule[stage].0 {
                let size = schedule[stage].1;
                stage += 1;
                // A long search: exact forward distances near the source, and a larger
                // radius for the rest, now pay off. Raising the bounds mid-search is safe:
                // queued keys are lower bounds that are re-checked when popped, and the new
                // bound is consistent too.
                if sc.f_size < size || !sc.f_on {
                    self.forward_ball(q, sc, size);
                }
                sc.next_h_stamp();
                let h = self.bound(v, a, src, sc);
                if a.saturating_add(h) > key {
                    sc.rheap.push(a.saturating_add(h), v);
                    continue;
                }
            }
            // key > real only for entries of nodes already settled (their real-key entry
            // was smaller and came first), which the check above skipped.
            sc.node[vi].settled = gen;
            if v == src {
                let path = self.tree_path(src, dst, sc);
                return if a <= st.reject_bound {
                    SingleOutcome::Certified(path)
                } else {
                    SingleOutcome::Uncertified(path)
                };
            }
            // Dead-end tails only matter as the payer, whose first hops end at marked nodes.
            // The payer's own hop is free, so the heads of its first hops scan every edge at
            // once; elsewhere a long in-edge list is taken in fee order, a few at a time.
            let head = sc.bounds[vi].first_hop == gen;
            for part in self.in_parts(v, head) {
                if !head && part.len() > lazy_min {
                    self.scan_in_fee_order(
                        q,
                        sc,
                        &mut st,
                        a,
                        (part.start, part.end),
                        (real, batch),
                        ignore_min,
                    );
                    continue;
                }
                let (first, end) = (part.start, part.end);
                for (k, e) in self.hot[part].iter().enumerate() {
                    // Sorted by htlc_max, largest first: no later edge carries `a` either.
                    if a > e.htlc_max {
                        break;
                    }
                    if first + k + PREFETCH_TAIL < end {
                        prefetch_tail(self, sc, first + k + PREFETCH_TAIL);
                    }
                    self.relax_single(q, sc, &mut st, first + k, e, a, real, ignore_min);
                }
            }
            // The payer's label equals the least key: nothing queued can beat it. Among
            // equal keys the queue pops the last pushed first, so pushed again now it is
            // settled next, not after every other node on an equally cheap path (on real
            // graphs, where many fees are round numbers, hundreds of them).
            if head && sc.node[src as usize].seen == gen && sc.node[src as usize].dist == real {
                sc.rheap.push(real, src);
            }
        }
        self.settle_rest_of_lists(q, sc, &mut st, ignore_min);
        let failure = if st.fee_pruned {
            Failure::FeeLimit
        } else {
            Failure::Capacity
        };
        SingleOutcome::Nothing {
            failure,
            min_rejected: st.min_rejected,
        }
    }

    /// A `REST_OF_LIST` queue entry's fee-order positions `p..end` and its node's label.
    #[inline]
    fn rest_of_list(&self, entry: u32, sc: &Scratch) -> (usize, usize, u64) {
        let p = (entry & !REST_OF_LIST) as usize;
        let head = self.to[self.fee_order[sc.bucket * self.hot.len() + p] as usize] as usize;
        let end = if p < self.in_mid[head] as usize {
            self.in_mid[head]
        } else {
            self.in_off[head + 1]
        };
        (p, end as usize, sc.node[head].dist)
    }

    /// After a fee search that found nothing: looks at the in-edges still queued lazily as
    /// a full scan would have (without relaxing them), so that the failure's reason (fee
    /// limit or not) and the htlc_minimum rejections that decide whether the next steps
    /// run are those of scanning every in-edge of every settled node.
    fn settle_rest_of_lists(
        &self,
        q: &Query,
        sc: &mut Scratch,
        st: &mut SingleState,
        ignore_min: bool,
    ) {
        let bucket_amount = LANDMARK_BUCKETS_MSAT[sc.bucket];
        let order = &self.fee_order[sc.bucket * self.hot.len()..];
        while let Some((_, entry)) = sc.rheap.pop() {
            if entry & REST_OF_LIST == 0 {
                continue;
            }
            let (p, end, a) = self.rest_of_list(entry, sc);
            for &slot in &order[p..end] {
                let slot = slot as usize;
                let e = &self.hot[slot];
                if e.htlc_max < bucket_amount {
                    break;
                }
                if a <= e.htlc_max {
                    self.single_label(q, sc, st, slot, e, a, ignore_min);
                }
            }
        }
    }

    /// The label edge `slot` (`e`, which can carry `a`) gives its tail, if the tail is not
    /// settled, excluded or the destination, its htlc_minimum admits `a` (else the rejection
    /// is recorded) and the fee limit admits it (else the cut is recorded).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn single_label(
        &self,
        q: &Query,
        sc: &Scratch,
        st: &mut SingleState,
        slot: usize,
        e: &HotEdge,
        a: u64,
        ignore_min: bool,
    ) -> Option<u64> {
        let u = e.from;
        if sc.node[u as usize].settled == sc.gen || u == q.dst || self.edge_excluded(slot, sc) {
            return None;
        }
        if !ignore_min && a < e.htlc_min {
            let b = if u == q.src {
                e.htlc_min
            } else {
                e.htlc_min.saturating_add(e.fee(e.htlc_min))
            };
            st.reject_bound = st.reject_bound.min(b);
            st.min_rejected = true;
            return None;
        }
        let nu = if u == q.src {
            a
        } else {
            a.saturating_add(e.fee(a))
        };
        if nu - q.amount > q.max_fee {
            st.fee_pruned = true;
            return None;
        }
        Some(nu)
    }

    /// Relaxes in-edge `slot` (`e`, which can carry `a`) of a node settled with label `a`;
    /// `key` is the key being popped (a lower bound for the new entry).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn relax_single(
        &self,
        q: &Query,
        sc: &mut Scratch,
        st: &mut SingleState,
        slot: usize,
        e: &HotEdge,
        a: u64,
        key: u64,
        ignore_min: bool,
    ) {
        count_work(0, 1);
        let Some(nu) = self.single_label(q, sc, st, slot, e, a, ignore_min) else {
            return;
        };
        let gen = sc.gen;
        let ui = e.from as usize;
        // The source could not send that much, whatever the path from it.
        if nu > sc.src_cap {
            return;
        }
        // Equal amounts: the lower snapshot edge wins, whatever the scan order.
        if sc.node[ui].seen == gen
            && (nu > sc.node[ui].dist
                || (nu == sc.node[ui].dist
                    && self.edge[slot] >= self.edge[sc.node[ui].parent as usize]))
        {
            return;
        }
        sc.node[ui].seen = gen;
        sc.node[ui].dist = nu;
        sc.node[ui].parent = slot as u32;
        // The bound is consistent, so nu + h(u) >= a + h(v) >= key: a valid lower key.
        sc.rheap.push(nu.max(key), e.from);
    }

    /// Relaxes the in-edges at positions `p..end` of the bucket's fee order (one part of one
    /// node's list, settled with label `a`, not a head of a first hop) while the least key
    /// an edge can give (`a` plus its fee at the bucket amount: fees only grow with the
    /// amount) is at most `key`, the key being popped; the rest goes back into the queue as
    /// one entry keyed by the next edge's least key. A hub's hundreds of in-edges then cost
    /// only as many relaxations as their fees leave within reach of the answer.
    #[allow(clippy::too_many_arguments)]
    fn scan_in_fee_order(
        &self,
        q: &Query,
        sc: &mut Scratch,
        st: &mut SingleState,
        a: u64,
        (mut p, end): (usize, usize),
        (key, batch): (u64, usize),
        ignore_min: bool,
    ) {
        let bucket_amount = LANDMARK_BUCKETS_MSAT[sc.bucket];
        let order = &self.fee_order[sc.bucket * self.hot.len()..];
        let batch_end = p + batch;
        while p < end {
            if p + PREFETCH_EDGE < end {
                prefetch(&self.hot[order[p + PREFETCH_EDGE] as usize]);
            }
            if p + PREFETCH_TAIL < end {
                prefetch_tail(self, sc, order[p + PREFETCH_TAIL] as usize);
            }
            let slot = order[p] as usize;
            let e = &self.hot[slot];
            // Edges that cannot carry the bucket amount come last, and cannot carry `a`.
            if e.htlc_max < bucket_amount {
                return;
            }
            let least = a.saturating_add(e.fee(bucket_amount));
            if least > key && p >= batch_end {
                // p < 2^31 on any graph that fits in memory (an edge takes ~100 index bytes).
                sc.rheap.push(least, REST_OF_LIST | p as u32);
                return;
            }
            p += 1;
            if a <= e.htlc_max {
                self.relax_single(q, sc, st, slot, e, a, key, ignore_min);
            }
        }
    }

    fn tree_path(&self, src: u32, dst: u32, sc: &Scratch) -> SlotPath {
        let mut path = Vec::new();
        let mut x = src;
        while x != dst && path.len() <= self.n {
            let slot = sc.node[x as usize].parent;
            path.push(slot);
            x = self.to[slot as usize];
        }
        path
    }

    /// Steps 2 (`exhaustive == false`) and 3 of the module documentation.
    fn fee_labels(&self, q: &Query, sc: &mut Scratch, exhaustive: bool) -> LabelOutcome {
        let gen = sc.gen;
        let (src, dst, amount) = (q.src, q.dst, q.amount);
        let budget = self.label_budget();
        let mut work_left = budget.saturating_mul(WORK_PER_LABEL);
        let mut reject_bound = INF;
        let mut min_rejected = false;
        let mut failure = Failure::Capacity;
        let h0 = self.bound(dst, amount, src, sc);
        if h0 == INF {
            return LabelOutcome::Nothing { min_rejected };
        }
        if sc.lb_cltv[dst as usize].saturating_add(q.final_cltv) > q.max_cltv {
            return LabelOutcome::Nothing { min_rejected };
        }
        sc.labels.push(Label {
            amt: amount,
            cltv: q.final_cltv,
            hops: 0,
            node: dst,
            parent: NONE,
            slot: NONE,
            next_at_node: NONE,
        });
        sc.heap.push(Reverse((amount.saturating_add(h0), 0)));
        while let Some(Reverse((_, li))) = sc.heap.pop() {
            let l = sc.labels[li as usize];
            let v = l.node;
            if !exhaustive && self.dominated(&l, sc, &mut work_left) {
                continue;
            }
            if v == src {
                let path = self.label_path(li, sc);
                return if l.amt <= reject_bound {
                    LabelOutcome::Certified(path)
                } else {
                    LabelOutcome::Uncertified(path)
                };
            }
            if !exhaustive {
                let vi = v as usize;
                let head = if sc.head_gen[vi] == gen {
                    sc.head[vi]
                } else {
                    NONE
                };
                sc.labels[li as usize].next_at_node = head;
                sc.head[vi] = li;
                sc.head_gen[vi] = gen;
            }
            if l.hops >= q.max_hops {
                failure = Failure::HopLimit;
                continue;
            }
            let scan = self.in_slots(v);
            work_left = match work_left.checked_sub(scan.len()) {
                Some(w) => w,
                None => return LabelOutcome::Budget,
            };
            for slot in scan {
                let u = self.from[slot];
                if u == dst || self.edge_excluded(slot, sc) || self.on_label_path(li, u, sc) {
                    continue;
                }
                let a = l.amt;
                if a > self.htlc_max[slot] {
                    continue;
                }
                if a < self.htlc_min[slot] {
                    let b = self.inbound(slot, self.htlc_min[slot], u == src);
                    reject_bound = reject_bound.min(b);
                    min_rejected = true;
                    continue;
                }
                let nu = self.inbound(slot, a, u == src);
                let ncltv = if u == src {
                    l.cltv
                } else {
                    l.cltv + u32::from(self.cltv[slot])
                };
                // Whatever path the label takes back to the source adds at least the least
                // cltv and hops to there: labels that cannot finish within the limits are
                // dropped now instead of multiplying (exact: only such labels go).
                let ui = u as usize;
                if ncltv.saturating_add(sc.lb_cltv[ui]) > q.max_cltv {
                    failure = Failure::CltvLimit;
                    continue;
                }
                if u32::from(l.hops) + 1 + u32::from(sc.lb_hops[ui]) > u32::from(q.max_hops) {
                    failure = Failure::HopLimit;
                    continue;
                }
                if nu - amount > q.max_fee {
                    failure = Failure::FeeLimit;
                    continue;
                }
                let h = self.bound(u, nu, src, sc);
                if h == INF || nu.saturating_add(h) > sc.src_cap {
                    continue;
                }
                let nl = Label {
                    amt: nu,
                    cltv: ncltv,
                    hops: l.hops + 1,
                    node: u,
                    parent: li,
                    slot: slot as u32,
                    next_at_node: NONE,
                };
                if !exhaustive && self.dominated(&nl, sc, &mut work_left) {
                    continue;
                }
                if sc.labels.len() >= budget || work_left == 0 {
                    return LabelOutcome::Budget;
                }
                sc.labels.push(nl);
                sc.heap.push(Reverse((
                    nu.saturating_add(h),
                    (sc.labels.len() - 1) as u32,
                )));
            }
        }
        let _ = failure;
        LabelOutcome::Nothing { min_rejected }
    }

    /// Fills `lb_cltv` and `lb_hops` for the label searches (steps 2 and 3): over the edges
    /// that can carry the amount (every hop carries at least it) and are not excluded, the
    /// least sum of cltv deltas (the payer's first hop adds none) and the fewest hops from the
    /// source to each node; `u32::MAX` / `u8::MAX` where none within the limits. O(edges),
    /// once per query, and only queries that need a label search, far dearer, pay it.
    fn limit_bounds(&self, q: &Query, sc: &mut Scratch) {
        let n = self.n;
        sc.lb_cltv.clear();
        sc.lb_cltv.resize(n, u32::MAX);
        sc.lb_hops.clear();
        sc.lb_hops.resize(n, u8::MAX);
        let usable = |s: usize, sc: &Scratch| {
            self.htlc_max[s] >= q.amount
                && !self.edge_excluded(s, sc)
                && sc.excl_node[self.to[s] as usize] != sc.gen
        };
        let src = q.src as usize;
        sc.lb_hops[src] = 0;
        sc.stack.clear();
        sc.stack.push(q.src);
        let mut next = Vec::new();
        let mut depth = 0u8;
        while !sc.stack.is_empty() && depth < q.max_hops {
            depth += 1;
            next.clear();
            for i in 0..sc.stack.len() {
                let x = sc.stack[i];
                for &s in self.out_slots(x) {
                    let (s, y) = (s as usize, self.to[s as usize] as usize);
                    if sc.lb_hops[y] == u8::MAX && usable(s, sc) {
                        sc.lb_hops[y] = depth;
                        next.push(y as u32);
                    }
                }
            }
            std::mem::swap(&mut sc.stack, &mut next);
        }
        sc.heap.clear();
        sc.lb_cltv[src] = 0;
        sc.heap.push(Reverse((0, q.src)));
        let reach = u64::from(q.max_cltv.saturating_sub(q.final_cltv));
        while let Some(Reverse((d, x))) = sc.heap.pop() {
            if d > u64::from(sc.lb_cltv[x as usize]) {
                continue;
            }
            if d > reach {
                break;
            }
            for &s in self.out_slots(x) {
                let (s, y) = (s as usize, self.to[s as usize] as usize);
                let w = if x == q.src {
                    0
                } else {
                    u64::from(self.cltv[s])
                };
                let nd = d + w;
                if nd <= reach && nd < u64::from(sc.lb_cltv[y]) && usable(s, sc) {
                    sc.lb_cltv[y] = nd as u32;
                    sc.heap.push(Reverse((nd, y as u32)));
                }
            }
        }
    }

    /// Whether a settled label at `l`'s node is no worse than `l` in amount, cltv and hops.
    /// Each comparison costs a unit of `work_left`; at zero it stops and answers `false`
    /// (keeping a label is always safe), and the caller then gives up on its budget.
    fn dominated(&self, l: &Label, sc: &Scratch, work_left: &mut usize) -> bool {
        let vi = l.node as usize;
        if sc.head_gen[vi] != sc.gen {
            return false;
        }
        let mut m = sc.head[vi];
        while m != NONE {
            if *work_left == 0 {
                return false;
            }
            *work_left -= 1;
            let o = &sc.labels[m as usize];
            if o.amt <= l.amt && o.cltv <= l.cltv && o.hops <= l.hops {
                return true;
            }
            m = o.next_at_node;
        }
        false
    }

    fn on_label_path(&self, mut li: u32, u: u32, sc: &Scratch) -> bool {
        while li != NONE {
            let l = &sc.labels[li as usize];
            if l.node == u {
                return true;
            }
            li = l.parent;
        }
        false
    }

    fn label_path(&self, mut li: u32, sc: &Scratch) -> SlotPath {
        let mut path = Vec::new();
        while li != NONE {
            let l = &sc.labels[li as usize];
            if l.slot != NONE {
                path.push(l.slot);
            }
            li = l.parent;
        }
        path
    }

    /// Probability and balanced models (module documentation: a heuristic), as a lazy A*:
    /// `prob_bound` for probability, the landmark fee bound + priced `prob_bound` for balanced.
    pub(crate) fn search_cost(&self, q: &Query, sc: &mut Scratch) -> Found {
        let gen = sc.gen;
        let (src, dst, amount) = (q.src, q.dst, q.amount);
        let balanced = q.model == CostModel::Balanced;
        let mut failure = Failure::Capacity;
        sc.node[dst as usize].seen = gen;
        sc.node[dst as usize].dist = amount;
        sc.node[dst as usize].cost = 0.0;
        sc.node[dst as usize].cltv = q.final_cltv;
        sc.hops[dst as usize] = 0;
        // The radix heap, on the costs' bits: non-negative f64s order as their bits do, and
        // the keys are monotone (consistent bound), as in the fee search.
        sc.rheap.clear();
        sc.rheap.push(0f64.to_bits(), dst);
        while let Some((key, v)) = sc.rheap.pop() {
            let vi = v as usize;
            if sc.node[vi].settled == gen {
                continue;
            }
            // Landmark bounds on `-ln P` were tried and did not pay off (the uncertainty of
            // big channels is so small that they barely prune). The fee bound guides the
            // balanced model, and is INF where the landmarks prove that no first hop of the
            // source reaches `v` at this amount. The probability model skips it: that pruning
            // saved less than the landmark rows cost it to read (callgrind: a quarter of its
            // cache misses; 2026 graph median -38%, same routes; a query without a route is
            // decided by the fee search anyway).
            let hf = if balanced {
                self.bound(v, sc.node[vi].dist, src, sc)
            } else {
                0
            };
            if hf == INF {
                sc.node[vi].settled = gen;
                continue;
            }
            let hp = self.prob_bound(v, q, sc);
            if hp == f64::INFINITY {
                sc.node[vi].settled = gen;
                continue;
            }
            let h = if balanced {
                hf as f64 + balanced_price(amount) * hp
            } else {
                hp
            };
            let real = sc.node[vi].cost + h;
            if f64::from_bits(key) < real {
                sc.rheap.push(real.to_bits(), v);
                continue;
            }
            sc.node[vi].settled = gen;
            if v == src {
                return Found::Path(self.tree_path(src, dst, sc));
            }
            let (a, c, cl, hop) = (
                sc.node[vi].dist,
                sc.node[vi].cost,
                sc.node[vi].cltv,
                sc.hops[vi],
            );
            if hop >= q.max_hops {
                failure = Failure::HopLimit;
                continue;
            }
            // Dead-end tails only matter as the payer (see `fee_single`).
            for part in self.in_parts(v, sc.bounds[vi].first_hop == gen) {
                let (first, end) = (part.start, part.end);
                for (k, e) in self.hot[part].iter().enumerate() {
                    // Sorted by htlc_max, largest first: no later edge carries `a` either.
                    if a > e.htlc_max {
                        break;
                    }
                    if first + k + PREFETCH_TAIL < end {
                        prefetch_tail(self, sc, first + k + PREFETCH_TAIL);
                    }
                    let slot = first + k;
                    let u = e.from;
                    let ui = u as usize;
                    if sc.node[ui].settled == gen
                        || u == dst
                        || a < e.htlc_min
                        || self.edge_excluded(slot, sc)
                    {
                        continue;
                    }
                    let (fee, ncl) = if u == src {
                        (0, cl)
                    } else {
                        (e.fee(a), cl + u32::from(e.cltv))
                    };
                    if ncl > q.max_cltv {
                        failure = Failure::CltvLimit;
                        continue;
                    }
                    let nu = a.saturating_add(fee);
                    if nu - amount > q.max_fee {
                        failure = Failure::FeeLimit;
                        continue;
                    }
                    // The source could not send what this label needs (see `fee_single`).
                    if nu > sc.src_cap {
                        continue;
                    }
                    let neg_ln_p = super::hop_neg_ln_p(a, self.cap_msat[slot]);
                    let nc = c + if balanced {
                        super::balanced_hop_cost(fee, a, neg_ln_p)
                    } else {
                        neg_ln_p
                    };
                    if sc.node[ui].seen == gen && nc >= sc.node[ui].cost {
                        continue;
                    }
                    sc.node[ui].seen = gen;
                    sc.node[ui].dist = nu;
                    sc.node[ui].cost = nc;
                    sc.node[ui].cltv = ncl;
                    sc.hops[ui] = hop + 1;
                    sc.node[ui].parent = slot as u32;
                    // The bound is consistent, so nc + h(u) >= c + h(v) = real; a key that is a
                    // rounding error too high only delays the node, it is never dropped.
                    sc.rheap.push(nc.max(real).to_bits(), u);
                }
            }
        }
        Found::None(failure)
    }
}

impl RoutingIndex {
    /// Fee model, default limits, no exclusions: one backward search from `dst` that settles
    /// every source at once (the matrix's column). `Some(path)` is the cheapest route, found
    /// and certified exactly as step 1 of the module documentation does it for one source;
    /// `None` means "not decided here" (no certified route), and the caller asks
    /// `find_route` for that pair. A source's own first channel is free, so each source
    /// takes the first (least) label offered over one of its out-edges, while the same node
    /// is relaxed as an ordinary, fee-charging node for the other sources.
    pub(crate) fn fee_column(
        &self,
        dst: u32,
        amount: u64,
        sources: &[u32],
        q: &Query,
    ) -> Vec<Option<SlotPath>> {
        with_scratch(self, |sc| {
            let gen = sc.gen;
            let mut answer: Vec<Option<(u64, u32, bool)>> = vec![None; sources.len()];
            // head/head_gen map a source node to its first position in `sources`.
            let mut pending = 0usize;
            for (i, &x) in sources.iter().enumerate() {
                let xi = x as usize;
                if x != dst && sc.head_gen[xi] != gen {
                    sc.head_gen[xi] = gen;
                    sc.head[xi] = i as u32;
                    pending += 1;
                }
            }
            let mut reject_bound = INF;
            sc.node[dst as usize].seen = gen;
            sc.node[dst as usize].dist = amount;
            sc.heap.push(Reverse((amount, dst)));
            while let Some(Reverse((a, v))) = sc.heap.pop() {
                let vi = v as usize;
                if pending == 0 {
                    break;
                }
                if sc.node[vi].settled == gen || a > sc.node[vi].dist {
                    continue;
                }
                sc.node[vi].settled = gen;
                // Every tail may be one of the sources: both parts.
                for part in self.in_parts(v, true) {
                    let first = part.start;
                    for (k, e) in self.hot[part].iter().enumerate() {
                        if a > e.htlc_max {
                            break;
                        }
                        let slot = first + k;
                        let u = e.from;
                        let ui = u as usize;
                        if u == dst {
                            continue;
                        }
                        if a < e.htlc_min {
                            // As a source, u would need at least the minimum; as a forwarder,
                            // the minimum plus its fee. The smaller bound covers both.
                            reject_bound = reject_bound.min(e.htlc_min);
                            continue;
                        }
                        if sc.head_gen[ui] == gen {
                            let pos = sc.head[ui] as usize;
                            if answer[pos].is_none() {
                                answer[pos] = Some((a, slot as u32, a <= reject_bound));
                                pending -= 1;
                            }
                        }
                        if sc.node[ui].settled == gen {
                            continue;
                        }
                        let nu = a.saturating_add(e.fee(a));
                        if sc.node[ui].seen == gen && nu >= sc.node[ui].dist {
                            continue;
                        }
                        sc.node[ui].seen = gen;
                        sc.node[ui].dist = nu;
                        sc.node[ui].parent = slot as u32;
                        sc.heap.push(Reverse((nu, u)));
                    }
                }
            }
            sources
                .iter()
                .map(|&x| {
                    let xi = x as usize;
                    if x == dst || sc.head_gen[xi] != gen {
                        return None;
                    }
                    let (_, slot, certified) = answer[sc.head[xi] as usize]?;
                    if !certified {
                        return None;
                    }
                    let mut path = vec![slot];
                    let mut y = self.to[slot as usize];
                    while y != dst && path.len() <= self.n {
                        let p = sc.node[y as usize].parent;
                        path.push(p);
                        y = self.to[p as usize];
                    }
                    let (cltv, hops) = self.path_cltv_hops(&path, q);
                    (cltv <= q.max_cltv && hops <= u32::from(q.max_hops)).then_some(path)
                })
                .collect()
        })
    }
}

enum SingleOutcome {
    Certified(SlotPath),
    Uncertified(SlotPath),
    Nothing {
        failure: Failure,
        min_rejected: bool,
    },
}

enum LabelOutcome {
    Certified(SlotPath),
    Uncertified(SlotPath),
    Nothing {
        min_rejected: bool,
    },
    /// The label or work budget ran out first.
    Budget,
}
