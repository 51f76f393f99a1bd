//! The fees crate's own searches over a compact copy of a snapshot's enabled edges:
//!
//! * the **suffix search** of the revenue curves: a backward Dijkstra from a payment's
//!   destination with its amount, under Lightning's exact rules (enabled directions,
//!   `htlc_min <= amount <= min(htlc_max, capacity)`, fee `base + floor(amount x ppm / 10^6)`
//!   charged by the hop's sender), excluding the node under study and the payer, which
//!   labels each node with the least amount it must receive to deliver the payment (its own
//!   fee included). Bounded: it stops at a key bound or once every target is settled;
//! * the **relaxed bounds** used to skip payments and to bound prefixes: per amount bucket
//!   (powers of two, computed on first use), one-to-all fee distances into and out of the
//!   node under study with each fee evaluated at the bucket amount and htlc limits ignored
//!   (valid lower bounds: every hop carries at least the payment amount, which is at least
//!   the bucket's, and fees grow with the amount);
//! * the **htlc-minimum test** ([`Adjacency::opens_within`]): whether some direction whose
//!   htlc_minimum lies in a range of amounts could lie on a cheap enough route to the node
//!   under study (a larger amount can open a direction a smaller one cannot use: the one
//!   way a larger amount can find a cheaper path).
//!
//! A single label per node is exact only where no htlc_minimum rejected a smaller label
//! that a larger one would have passed. Like the router (`switchyard_graph::route`'s search
//! module), the search records for each rejection of an edge with minimum `m` the bound
//! `m + fee(m)`: a path through that edge gives its tail at least that. A target settled at
//! a label no larger than every bound recorded so far is exact; a target left unreached is
//! certainly beyond the search's bound only if every recorded bound is too.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use switchyard_graph::{NodeIdx, Snapshot};

use crate::scenario::FeePolicy;

/// Number of amount buckets of the relaxed bounds.
pub(crate) const BUCKETS: usize = 64;

/// The amount (msat) of bucket `i`: 0, then 1 sat doubling (1, 2, 4, ... sat).
pub(crate) fn bucket_amount(i: usize) -> u64 {
    if i == 0 {
        0
    } else {
        1000u64.saturating_mul(1u64 << (i - 1).min(62))
    }
}

/// The bucket of an amount: the largest whose amount is at most it.
pub(crate) fn bucket_of(amount: u64) -> usize {
    if amount < 1000 {
        0
    } else {
        (1 + (amount / 1000).ilog2() as usize).min(BUCKETS - 1)
    }
}

/// One enabled direction, as the searches read it.
#[derive(Debug, Clone, Copy)]
struct Edge {
    /// The other end: the tail in the reverse lists, the head in the forward ones.
    other: u32,
    fee: FeePolicy,
    cltv: u16,
    htlc_min: u64,
    /// min(htlc_max, capacity).
    htlc_max: u64,
}

/// A direction with an htlc_minimum, for [`Adjacency::opens_within`].
#[derive(Debug, Clone, Copy)]
struct MinEdge {
    htlc_min: u64,
    from: u32,
    to: u32,
    fee: FeePolicy,
}

/// Compact adjacency over a snapshot's enabled directions.
#[derive(Debug)]
pub(crate) struct Adjacency {
    in_off: Vec<u32>,
    ins: Vec<Edge>,
    out_off: Vec<u32>,
    outs: Vec<Edge>,
    /// Every enabled direction with a non-zero htlc_minimum, sorted by it.
    mins: Vec<MinEdge>,
}

/// A target's label from [`Adjacency::suffix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    /// Least amount the node must receive (its own fee included) to deliver the payment.
    pub amount: u64,
    /// No htlc_minimum rejection could hide a smaller label (see the module docs).
    pub exact: bool,
    /// The path's nodes after the labelled one, up to the destination.
    pub path: Vec<NodeIdx>,
    /// Sum of the path's cltv deltas (the labelled node's included).
    pub cltv: u32,
}

/// What a suffix search found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Suffix {
    /// `(target slot, label)` of the targets it settled.
    pub labels: Vec<(u32, Label)>,
    pub settled: u64,
    /// The key bound it stopped at (`u64::MAX`: it ran out of nodes, or settled every
    /// target).
    pub bound: u64,
    /// The least bound recorded by an htlc_minimum rejection (`u64::MAX`: none).
    pub min_reject: u64,
}

impl Suffix {
    /// A target's label, if settled.
    pub(crate) fn label(&self, slot: u32) -> Option<&Label> {
        self.labels
            .binary_search_by_key(&slot, |x| x.0)
            .ok()
            .map(|i| &self.labels[i].1)
    }

    /// Whether an unsettled target certainly needs more than the bound (no rejection could
    /// hide a path to it within the bound).
    pub(crate) fn unreached_is_certain(&self) -> bool {
        self.min_reject > self.bound
    }
}

#[derive(Default)]
struct Scratch {
    dist: Vec<u64>,
    parent: Vec<u32>,
    /// The cltv delta of the edge from a node to its parent.
    cltv: Vec<u16>,
    stamp: Vec<u32>,
    done: Vec<u32>,
    generation: u32,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Scratch {
    /// Ready for a search over `n` nodes: a new generation, an empty heap.
    fn begin(&mut self, n: usize) {
        if self.dist.len() != n {
            *self = Scratch {
                dist: vec![u64::MAX; n],
                parent: vec![NO_PARENT; n],
                cltv: vec![0; n],
                stamp: vec![0; n],
                done: vec![0; n],
                ..Scratch::default()
            };
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.done.fill(0);
            self.generation = 1;
        }
        self.heap.clear();
    }
}

/// The label of settled node `v`: its path to the destination and the path's cltv.
fn label(sc: &Scratch, v: NodeIdx, amount: u64, exact: bool) -> Label {
    let mut path = Vec::new();
    let mut cltv = 0u32;
    let mut u = v;
    while sc.parent[u as usize] != NO_PARENT {
        cltv += u32::from(sc.cltv[u as usize]);
        u = sc.parent[u as usize];
        path.push(u);
    }
    Label {
        amount,
        exact,
        path,
        cltv,
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

const NO_PARENT: u32 = u32::MAX;
/// "Not a target" in a slot map.
pub(crate) const NO_SLOT: u32 = u32::MAX;

impl Adjacency {
    pub(crate) fn new(g: &Snapshot) -> Adjacency {
        let n = g.node_count();
        let edge = |e: u32, other: NodeIdx| {
            let p = g.edge_policy(e)?;
            if p.disabled {
                return None;
            }
            let cap = g
                .channel(Snapshot::edge_channel(e))
                .capacity_sat
                .saturating_mul(1000);
            Some(Edge {
                other,
                fee: FeePolicy::of(p),
                cltv: p.cltv_delta,
                htlc_min: p.htlc_min_msat,
                htlc_max: p.htlc_max_msat.min(cap),
            })
        };
        let (mut in_off, mut ins, mut out_off, mut outs) =
            (vec![0u32], Vec::new(), vec![0u32], Vec::new());
        let mut mins = Vec::new();
        for v in 0..n as NodeIdx {
            ins.extend(
                g.in_edges(v)
                    .iter()
                    .filter_map(|&e| edge(e, g.edge_from(e))),
            );
            in_off.push(ins.len() as u32);
            for &e in g.out_edges(v) {
                let Some(x) = edge(e, g.edge_to(e)) else {
                    continue;
                };
                outs.push(x);
                if x.htlc_min > 0 {
                    mins.push(MinEdge {
                        htlc_min: x.htlc_min,
                        from: v,
                        to: x.other,
                        fee: x.fee,
                    });
                }
            }
            out_off.push(outs.len() as u32);
        }
        mins.sort_unstable_by_key(|m| (m.htlc_min, m.from, m.to));
        Adjacency {
            in_off,
            ins,
            out_off,
            outs,
            mins,
        }
    }

    fn node_count(&self) -> usize {
        self.in_off.len() - 1
    }

    fn ins(&self, v: NodeIdx) -> &[Edge] {
        &self.ins[self.in_off[v as usize] as usize..self.in_off[v as usize + 1] as usize]
    }

    fn outs(&self, v: NodeIdx) -> &[Edge] {
        &self.outs[self.out_off[v as usize] as usize..self.out_off[v as usize + 1] as usize]
    }

    /// Whether a route from payer `src` to `node` carrying more than `lo` at `node` and
    /// costing at most `hi - a` (`a` the payment amount: the route's cost is what the payer
    /// sends less `a`) could use a direction whose htlc_minimum lies in `(lo, hi]`: such a
    /// direction cannot carry `lo`'s flow but may carry a larger amount's. `into` are the
    /// relaxed fee distances into `node` at a bucket at most `a`. A direction is out of
    /// reach when its minimum (plus its fee, unless the payer sends over it) already
    /// exceeds `hi`, or when the least fee from it to `node` does.
    pub(crate) fn opens_within(
        &self,
        lo: u64,
        hi: u64,
        src: NodeIdx,
        node: NodeIdx,
        into: &[u64],
        a: u64,
    ) -> bool {
        if hi <= lo {
            return false;
        }
        let start = self.mins.partition_point(|m| m.htlc_min <= lo);
        let budget = hi.saturating_sub(a);
        self.mins[start..]
            .iter()
            .take_while(|m| m.htlc_min <= hi)
            .any(|m| {
                if m.from == node || m.to == src {
                    return false; // never on a simple route from src into node
                }
                let paid = m.from != src;
                let fee_at = |x: u64| if paid { m.fee.fee_msat(x) } else { 0 };
                if m.htlc_min.saturating_add(fee_at(m.htlc_min)) > hi {
                    return false;
                }
                let rest = if m.to == node { 0 } else { into[m.to as usize] };
                (lo - a).saturating_add(fee_at(lo)).saturating_add(rest) <= budget
            })
    }

    /// The suffix search (see the module docs) from `dst` with `amount`, never entering
    /// `excluded`, settling nodes by label plus `potential` (an A\*: `potential[v]` must be
    /// a lower bound on the fees from any target to `v`, consistent along every edge, and
    /// 0 at the targets; `u64::MAX` marks nodes no target reaches), stopping at keys above
    /// `bound` or once every target (nodes whose `slot_of` entry is not [`NO_SLOT`],
    /// `targets` of them) is settled.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn suffix(
        &self,
        dst: NodeIdx,
        amount: u64,
        excluded: [NodeIdx; 2],
        bound: u64,
        potential: &[u64],
        slot_of: &[u32],
        targets: usize,
    ) -> Suffix {
        SCRATCH.with(|sc| {
            let mut sc = sc.borrow_mut();
            let sc = &mut *sc;
            sc.begin(self.node_count());
            // (The two excluded nodes are distinct: the node under study and the payer.)
            let excluded_targets = excluded
                .iter()
                .filter(|&&x| slot_of[x as usize] != NO_SLOT)
                .count();
            let mut left = targets.saturating_sub(excluded_targets);
            let mut out = Suffix {
                bound: u64::MAX,
                min_reject: u64::MAX,
                ..Suffix::default()
            };
            let gen = sc.generation;
            if potential[dst as usize] == u64::MAX {
                return out; // no target reaches the destination
            }
            sc.dist[dst as usize] = amount;
            sc.parent[dst as usize] = NO_PARENT;
            sc.stamp[dst as usize] = gen;
            let key = amount.saturating_add(potential[dst as usize]);
            sc.heap.push(Reverse((key, dst)));
            while let Some(Reverse((key, v))) = sc.heap.pop() {
                if key > bound {
                    out.bound = bound;
                    break;
                }
                if left == 0 {
                    break; // every target settled: nothing more to know (bound stays MAX)
                }
                let vu = v as usize;
                let x = sc.dist[vu];
                if sc.done[vu] == gen || x.saturating_add(potential[vu]) != key {
                    continue;
                }
                sc.done[vu] = gen;
                out.settled += 1;
                let slot = slot_of[vu];
                if slot != NO_SLOT {
                    let exact = key <= out.min_reject;
                    out.labels.push((slot, label(sc, v, x, exact)));
                    left -= 1;
                }
                self.relax(sc, v, x, excluded, potential, &mut out.min_reject);
            }
            out.labels.sort_unstable_by_key(|l| l.0);
            out
        })
    }

    /// Relaxes the in-edges of settled node `v` (label `x`). A rejection by an htlc_minimum
    /// `m` records `m + fee(m)` plus the tail's potential: in key terms, what any path
    /// through that edge gives a target at least.
    fn relax(
        &self,
        sc: &mut Scratch,
        v: NodeIdx,
        x: u64,
        excluded: [NodeIdx; 2],
        potential: &[u64],
        min_reject: &mut u64,
    ) {
        let gen = sc.generation;
        for e in self.ins(v) {
            let u = e.other;
            let h = potential[u as usize];
            if excluded.contains(&u) || h == u64::MAX {
                continue;
            }
            if x < e.htlc_min {
                let m = e.htlc_min;
                let at_least = m.saturating_add(e.fee.fee_msat(m)).saturating_add(h);
                *min_reject = (*min_reject).min(at_least);
                continue;
            }
            if x > e.htlc_max {
                continue;
            }
            let y = x.saturating_add(e.fee.fee_msat(x));
            let uu = u as usize;
            if sc.stamp[uu] != gen || y < sc.dist[uu] {
                sc.stamp[uu] = gen;
                sc.dist[uu] = y;
                sc.parent[uu] = v;
                sc.cltv[uu] = e.cltv;
                sc.heap.push(Reverse((y.saturating_add(h), u)));
            }
        }
    }

    /// Relaxed fee distances at `amount` (see the module docs): `(into, out_of)` where
    /// `into[v]` is the least fee a path `v -> ... -> node` charges (every hop's sender
    /// charging) and `out_of[v]` the least fee a path `node -> ... -> v` charges besides
    /// `node`'s own hop.
    pub(crate) fn relaxed(&self, node: NodeIdx, amount: u64) -> (Vec<u64>, Vec<u64>) {
        let n = self.node_count();
        let run = |forward: bool| {
            let mut dist = vec![u64::MAX; n];
            let mut heap = BinaryHeap::new();
            dist[node as usize] = 0;
            heap.push(Reverse((0u64, node)));
            while let Some(Reverse((x, v))) = heap.pop() {
                if x != dist[v as usize] {
                    continue;
                }
                let edges = if forward { self.outs(v) } else { self.ins(v) };
                for e in edges {
                    let fee = if forward && v == node {
                        0
                    } else {
                        e.fee.fee_msat(amount)
                    };
                    let y = x.saturating_add(fee);
                    if y < dist[e.other as usize] {
                        dist[e.other as usize] = y;
                        heap.push(Reverse((y, e.other)));
                    }
                }
            }
            dist
        };
        (run(false), run(true))
    }

    /// The largest amount one path `src -> ... -> dst` can carry (the best bottleneck of
    /// min(htlc_max, capacity) over enabled directions; htlc minimums ignored): no route
    /// from `src` delivers more to `dst`, whatever the fees.
    pub(crate) fn widest(&self, src: NodeIdx, dst: NodeIdx) -> u64 {
        let mut best = vec![0u64; self.node_count()];
        let mut heap = BinaryHeap::new();
        best[src as usize] = u64::MAX;
        heap.push((u64::MAX, src));
        while let Some((w, v)) = heap.pop() {
            if v == dst {
                return w;
            }
            if w != best[v as usize] {
                continue;
            }
            for e in self.outs(v) {
                let x = w.min(e.htlc_max);
                if x > best[e.other as usize] {
                    best[e.other as usize] = x;
                    heap.push((x, e.other));
                }
            }
        }
        0
    }

    /// Least of `into[x]` over the enabled directions `src -> x` (the payer's hop is free).
    pub(crate) fn prefix_bound(&self, src: NodeIdx, node: NodeIdx, into: &[u64]) -> u64 {
        self.outs(src)
            .iter()
            .map(|e| {
                if e.other == node {
                    0
                } else {
                    into[e.other as usize]
                }
            })
            .min()
            .unwrap_or(u64::MAX)
    }
}
