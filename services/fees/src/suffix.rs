//! The fees crate's own searches over a compact copy of a snapshot's enabled edges:
//!
//! * the **suffix search** of the revenue curves: a backward Dijkstra from a payment's
//!   destination with its amount, under Lightning's exact rules (enabled directions,
//!   `htlc_min <= amount <= min(htlc_max, capacity)`, fee `base + floor(amount x ppm / 10^6)`
//!   charged by the hop's sender), excluding the node under study and the payer, which
//!   labels each node with the least amount it must receive to deliver the payment (its own
//!   fee included). Bounded: it stops at a key bound or once every target is settled;
//! * the **relaxed bounds** used to skip payments: per amount bucket, one-to-all fee distances
//!   into and out of the node under study with each fee evaluated at the bucket amount and
//!   htlc limits ignored (valid lower bounds: every hop carries at least the payment amount,
//!   which is at least the bucket's, and fees grow with the amount).
//!
//! A single label per node is exact only where no htlc_minimum rejected a smaller label
//! that a larger one would have passed. Like the router (`switchyard_graph::route`'s search
//! module), the search records for each rejection of an edge with minimum `m` the bound
//! `m + fee(m)`: a path through that edge gives its tail at least that. A target settled at
//! a label no larger than every bound recorded so far is exact; otherwise it is reported as
//! not certified.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use switchyard_graph::{NodeIdx, Snapshot};

use crate::scenario::FeePolicy;

/// Amount buckets (msat) of the relaxed bounds: a payment uses the largest at most its amount.
pub(crate) const BUCKETS_MSAT: [u64; 5] = [0, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/// The bucket of an amount.
pub(crate) fn bucket_of(amount: u64) -> usize {
    BUCKETS_MSAT.iter().rposition(|&b| b <= amount).unwrap_or(0)
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

/// Compact adjacency over a snapshot's enabled directions.
#[derive(Debug)]
pub(crate) struct Adjacency {
    in_off: Vec<u32>,
    ins: Vec<Edge>,
    out_off: Vec<u32>,
    outs: Vec<Edge>,
    /// Every enabled direction's htlc_minimum, sorted.
    htlc_mins: Vec<u64>,
}

/// A target's label from [`Adjacency::suffix`].
#[derive(Debug, Clone)]
pub(crate) struct Label {
    /// Least amount the node must receive (its own fee included) to deliver the payment.
    pub amount: u64,
    /// No htlc_minimum rejection could hide a smaller label (see the module docs).
    pub exact: bool,
    /// The path's nodes after the labelled one, up to the destination.
    pub path: Vec<NodeIdx>,
    /// Sum of the path's cltv deltas.
    pub cltv: u32,
}

#[derive(Default)]
struct Scratch {
    dist: Vec<u64>,
    parent: Vec<u32>,
    stamp: Vec<u32>,
    done: Vec<u32>,
    generation: u32,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

const NO_PARENT: u32 = u32::MAX;

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
        for v in 0..n as NodeIdx {
            ins.extend(
                g.in_edges(v)
                    .iter()
                    .filter_map(|&e| edge(e, g.edge_from(e))),
            );
            in_off.push(ins.len() as u32);
            outs.extend(g.out_edges(v).iter().filter_map(|&e| edge(e, g.edge_to(e))));
            out_off.push(outs.len() as u32);
        }
        let mut htlc_mins: Vec<u64> = ins.iter().map(|e| e.htlc_min).collect();
        htlc_mins.sort_unstable();
        Adjacency {
            in_off,
            ins,
            out_off,
            outs,
            htlc_mins,
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

    /// Whether some enabled direction's htlc_minimum lies in `(lo, hi]`.
    pub(crate) fn htlc_min_within(&self, lo: u64, hi: u64) -> bool {
        let i = self.htlc_mins.partition_point(|&m| m <= lo);
        self.htlc_mins.get(i).is_some_and(|&m| m <= hi)
    }

    /// The suffix search (see the module docs) from `dst` with `amount`, never entering
    /// `excluded`, stopping at keys above `bound` or once every `targets` node is settled.
    /// Returns each target's label (`None`: not reached within the bound) and the number of
    /// nodes settled.
    pub(crate) fn suffix(
        &self,
        dst: NodeIdx,
        amount: u64,
        excluded: [NodeIdx; 2],
        bound: u64,
        targets: &[NodeIdx],
    ) -> (Vec<Option<Label>>, u64) {
        SCRATCH.with(|sc| {
            let mut sc = sc.borrow_mut();
            let sc = &mut *sc;
            let n = self.node_count();
            if sc.dist.len() != n {
                *sc = Scratch {
                    dist: vec![u64::MAX; n],
                    parent: vec![NO_PARENT; n],
                    stamp: vec![0; n],
                    done: vec![0; n],
                    ..Scratch::default()
                };
            }
            sc.generation = sc.generation.wrapping_add(1);
            if sc.generation == 0 {
                sc.stamp.fill(0);
                sc.done.fill(0);
                sc.generation = 1;
            }
            let gen = sc.generation;
            sc.heap.clear();
            let mut labels: Vec<Option<Label>> = vec![None; targets.len()];
            let mut left = targets.iter().filter(|&&t| !excluded.contains(&t)).count();
            let mut min_reject = u64::MAX;
            let mut settled = 0u64;
            sc.dist[dst as usize] = amount;
            sc.parent[dst as usize] = NO_PARENT;
            sc.stamp[dst as usize] = gen;
            sc.heap.push(Reverse((amount, dst)));
            while let Some(Reverse((x, v))) = sc.heap.pop() {
                if x > bound || left == 0 {
                    break;
                }
                let vu = v as usize;
                if sc.done[vu] == gen || sc.dist[vu] != x {
                    continue;
                }
                sc.done[vu] = gen;
                settled += 1;
                for (i, &t) in targets.iter().enumerate() {
                    if t == v && labels[i].is_none() {
                        labels[i] = Some(self.label(sc, v, x, x <= min_reject));
                        left -= 1;
                    }
                }
                for e in self.ins(v) {
                    let u = e.other;
                    if excluded.contains(&u) {
                        continue;
                    }
                    if x < e.htlc_min {
                        let m = e.htlc_min;
                        min_reject = min_reject.min(m.saturating_add(e.fee.fee_msat(m)));
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
                        sc.heap.push(Reverse((y, u)));
                    }
                }
            }
            (labels, settled)
        })
    }

    /// The label of settled node `v`: its path to the destination and the path's cltv.
    fn label(&self, sc: &Scratch, v: NodeIdx, amount: u64, exact: bool) -> Label {
        let mut path = Vec::new();
        let mut cltv = 0u32;
        let mut u = v;
        while sc.parent[u as usize] != NO_PARENT {
            let next = sc.parent[u as usize];
            // The cheapest enabled edge u -> next that carries next's label: the one used.
            let carried = sc.dist[next as usize];
            let used = self
                .outs(u)
                .iter()
                .filter(|e| e.other == next && e.htlc_min <= carried && carried <= e.htlc_max)
                .min_by_key(|e| (e.fee.fee_msat(carried), e.cltv));
            cltv += used.map_or(0, |e| u32::from(e.cltv));
            path.push(next);
            u = next;
        }
        Label {
            amount,
            exact,
            path,
            cltv,
        }
    }

    /// Relaxed fee distances for `bucket` (see the module docs): `(into, out_of)` where
    /// `into[v]` is the least fee a path `v -> ... -> node` charges (every hop's sender
    /// charging) and `out_of[v]` the least fee a path `node -> ... -> v` charges besides
    /// `node`'s own hop.
    pub(crate) fn relaxed(&self, node: NodeIdx, bucket: u64) -> (Vec<u64>, Vec<u64>) {
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
                        e.fee.fee_msat(bucket)
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
