//! Step 1 of the fee model (see the [search documentation](super)): an A\* with one label
//! per node, landmark and forward-ball bounds, hubs' in-edge lists taken lazily in fee order.

use super::ball::ball_schedule;
use super::{
    count_work, lazy_scan, prefetch_tail, Failure, Query, Scratch, SlotPath, PREFETCH_EDGE,
    PREFETCH_TAIL, REST_OF_LIST,
};
use crate::prefetch::prefetch;
use crate::route::index::{HotEdge, RoutingIndex, INF, LANDMARK_BUCKETS_MSAT};

/// Outcome of one pass of step 1.
pub(super) enum SingleOutcome {
    /// The cheapest route, certified against every htlc_minimum rejection.
    Certified(SlotPath),
    /// A route, but an htlc_minimum rejection may hide a cheaper one.
    Uncertified(SlotPath),
    Nothing {
        failure: Failure,
        min_rejected: bool,
    },
}

/// One pass's settings and what it gathers while relaxing edges.
struct SingleState {
    /// Least `m + fee(m)` over edges rejected by their htlc_minimum `m`.
    reject_bound: u64,
    min_rejected: bool,
    fee_pruned: bool,
    /// Whether htlc minimums are ignored (the relaxation of the second pass).
    ignore_min: bool,
    /// In-edge lists longer than this are scanned lazily, at least `batch` edges a visit.
    lazy_min: usize,
    batch: usize,
}

impl RoutingIndex {
    /// One pass of step 1, htlc minimums honoured or (`ignore_min`) not.
    pub(super) fn fee_single(
        &self,
        q: &Query,
        sc: &mut Scratch,
        ignore_min: bool,
    ) -> SingleOutcome {
        let gen = sc.gen;
        let (src, dst, amount) = (q.src, q.dst, q.amount);
        let (lazy_min, batch) = lazy_scan();
        let mut st = SingleState {
            reject_bound: INF,
            min_rejected: false,
            fee_pruned: false,
            ignore_min,
            lazy_min,
            batch,
        };
        let schedule = ball_schedule();
        let mut stage = 0;
        let mut settled = 0usize;
        sc.node[dst as usize].seen = gen;
        sc.node[dst as usize].dist = amount;
        sc.rheap.push(amount, dst);
        while let Some((key, v)) = sc.rheap.pop() {
            if v & REST_OF_LIST != 0 {
                if !self.resume_list(q, sc, &mut st, key, v) {
                    break;
                }
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
            // send at least `real`: past the fee limit or the first channel's limit, nothing
            // left in the heap can become a route. The fee limit is checked first: when the
            // fees alone break it (a "do not use" direction), that is the reason to give,
            // even if they also make the amount more than the payer can send.
            if q.over_fee_limit(a, h) {
                st.fee_pruned = true;
                break;
            }
            if real > sc.src_cap {
                break;
            }
            settled += 1;
            count_work(1, 0);
            if stage < schedule.len() && settled == schedule[stage].0 {
                stage += 1;
                if self.grow_ball(q, sc, v, key, schedule[stage - 1].1) {
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
            let head = self.relax_in_edges(q, sc, &mut st, v, a, real);
            // The payer's label equals the least key: nothing queued can beat it. Among
            // equal keys the queue pops the last pushed first, so pushed again now it is
            // settled next, not after every other node on an equally cheap path (on real
            // graphs, where many fees are round numbers, hundreds of them).
            if head && sc.node[src as usize].seen == gen && sc.node[src as usize].dist == real {
                sc.rheap.push(real, src);
            }
        }
        self.settle_rest_of_lists(q, sc, &mut st);
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

    /// A popped `REST_OF_LIST` entry (the rest of a settled node's in-edges): `key` is a
    /// lower bound on all of their labels' keys, so the same stopping rules apply. Scans on
    /// and returns true, or queues the entry again and returns false (the search stops).
    fn resume_list(
        &self,
        q: &Query,
        sc: &mut Scratch,
        st: &mut SingleState,
        key: u64,
        entry: u32,
    ) -> bool {
        // Past the fee limit or the payer's limit: whether an edge was really cut by the fee
        // limit is settled after the search (`settle_rest_of_lists`).
        if q.over_fee_limit(key, 0) || key > sc.src_cap {
            sc.rheap.push(key, entry);
            return false;
        }
        let (p, end, a) = self.rest_of_list(entry, sc);
        self.scan_in_fee_order(q, sc, st, a, (p, end), key);
        true
    }

    /// Grows the forward ball to `size` nodes once the search has settled as many nodes as
    /// the schedule says: a long search, for which exact forward distances near the source,
    /// and a larger radius for the rest, now pay off. Raising the bounds mid-search is safe:
    /// queued keys are lower bounds that are re-checked when popped, and the new bound is
    /// consistent too. Returns true when `v` (popped at `key`) went back into the queue
    /// under its raised key.
    fn grow_ball(&self, q: &Query, sc: &mut Scratch, v: u32, key: u64, size: usize) -> bool {
        if sc.f_size < size || !sc.f_on {
            self.forward_ball(q, sc, size);
        }
        sc.next_h_stamp();
        let a = sc.node[v as usize].dist;
        let real = a.saturating_add(self.bound(v, a, q.src, sc));
        if real > key {
            sc.rheap.push(real, v);
            return true;
        }
        false
    }

    /// Relaxes the in-edges of `v`, settled with label `a` at key `real`. Dead-end tails only
    /// matter as the payer, whose first hops end at marked nodes. The payer's own hop is
    /// free, so the heads of its first hops scan every edge at once; elsewhere a long in-edge
    /// list is taken in fee order, a few at a time. Returns whether `v` is such a head.
    #[inline(always)]
    fn relax_in_edges(
        &self,
        q: &Query,
        sc: &mut Scratch,
        st: &mut SingleState,
        v: u32,
        a: u64,
        real: u64,
    ) -> bool {
        let head = sc.bounds[v as usize].first_hop == sc.gen;
        for part in self.edges.in_parts(v, head) {
            if !head && part.len() > st.lazy_min {
                self.scan_in_fee_order(q, sc, st, a, (part.start, part.end), real);
                continue;
            }
            let (first, end) = (part.start, part.end);
            for (k, e) in self.edges.hot()[part].iter().enumerate() {
                // Sorted by htlc_max, largest first: no later edge carries `a` either.
                if a > e.htlc_max {
                    break;
                }
                if first + k + PREFETCH_TAIL < end {
                    prefetch_tail(self, sc, first + k + PREFETCH_TAIL);
                }
                self.relax_single(q, sc, st, first + k, e, a, real);
            }
        }
        head
    }

    /// A `REST_OF_LIST` queue entry's fee-order positions `p..end` and its node's label.
    #[inline]
    fn rest_of_list(&self, entry: u32, sc: &Scratch) -> (usize, usize, u64) {
        let p = (entry & !REST_OF_LIST) as usize;
        let head = self.edges.to(self.orders.in_bucket(sc.bucket)[p] as usize);
        let end = self.edges.in_part_end(head, p);
        (p, end, sc.node[head as usize].dist)
    }

    /// After a fee search that found nothing: looks at the in-edges still queued lazily as
    /// a full scan would have (without relaxing them), so that the failure's reason (fee
    /// limit or not) and the htlc_minimum rejections that decide whether the next steps
    /// run are those of scanning every in-edge of every settled node.
    fn settle_rest_of_lists(&self, q: &Query, sc: &mut Scratch, st: &mut SingleState) {
        let bucket_amount = LANDMARK_BUCKETS_MSAT[sc.bucket];
        let order = self.orders.in_bucket(sc.bucket);
        while let Some((_, entry)) = sc.rheap.pop() {
            if entry & REST_OF_LIST == 0 {
                continue;
            }
            let (p, end, a) = self.rest_of_list(entry, sc);
            for &slot in &order[p..end] {
                let slot = slot as usize;
                let e = &self.edges.hot()[slot];
                if e.htlc_max < bucket_amount {
                    break;
                }
                if a <= e.htlc_max {
                    self.single_label(q, sc, st, slot, e, a);
                }
            }
        }
    }

    /// The label edge `slot` (`e`, which can carry `a`) gives its tail, if the tail is not
    /// settled, excluded or the destination, its htlc_minimum admits `a` (else the rejection
    /// is recorded) and the fee limit admits it (else the cut is recorded).
    #[inline(always)]
    fn single_label(
        &self,
        q: &Query,
        sc: &Scratch,
        st: &mut SingleState,
        slot: usize,
        e: &HotEdge,
        a: u64,
    ) -> Option<u64> {
        let u = e.from;
        if sc.node[u as usize].settled == sc.gen || u == q.dst || self.edge_excluded(slot, sc) {
            return None;
        }
        if !st.ignore_min && a < e.htlc_min {
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
        if q.over_fee_limit(nu, 0) {
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
    ) {
        count_work(0, 1);
        let Some(nu) = self.single_label(q, sc, st, slot, e, a) else {
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
                    && self.edges.edge(slot) >= self.edges.edge(sc.node[ui].parent as usize)))
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
    /// amount) is at most `key`, the key being popped, and at least `st.batch` of them; the
    /// rest goes back into the queue as one entry keyed by the next edge's least key. A hub's
    /// hundreds of in-edges then cost only as many relaxations as their fees leave within
    /// reach of the answer.
    fn scan_in_fee_order(
        &self,
        q: &Query,
        sc: &mut Scratch,
        st: &mut SingleState,
        a: u64,
        (mut p, end): (usize, usize),
        key: u64,
    ) {
        let bucket_amount = LANDMARK_BUCKETS_MSAT[sc.bucket];
        let order = self.orders.in_bucket(sc.bucket);
        let hot = self.edges.hot();
        let batch_end = p + st.batch;
        while p < end {
            if p + PREFETCH_EDGE < end {
                prefetch(&hot[order[p + PREFETCH_EDGE] as usize]);
            }
            if p + PREFETCH_TAIL < end {
                prefetch_tail(self, sc, order[p + PREFETCH_TAIL] as usize);
            }
            let slot = order[p] as usize;
            let e = &hot[slot];
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
                self.relax_single(q, sc, st, slot, e, a, key);
            }
        }
    }
}
