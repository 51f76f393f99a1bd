//! The forward ball: a forward Dijkstra from the source that the fee search grows once it
//! has settled a few nodes, whose distances raise the fee bound near the source.

use super::{count_work, lazy_scan, Query, Scratch, REST_OF_LIST};
use crate::route::index::{OutEdge, RoutingIndex, INF, LANDMARK_BUCKETS_MSAT};

/// When the fee search grows its forward ball around the source (see `forward_ball`), as
/// steps (nodes it has settled, ball size). Most searches end before the first step and pay
/// nothing. A ball of 32 rather than 16 nodes usually takes in all of a well-connected
/// payer's first-hop peers (free hops, so at distance 0), and its radius then counts the
/// next hop's fee: on the 2019 bench queries the p99 query settled 68 nodes instead of 267
/// and took a quarter less time (2026: -12%), medians unchanged. Larger balls (64 and 256
/// nodes, after 16 to 512 settled) cost more than their radius saved.
pub(super) const FORWARD_BALL_SCHEDULE: [(usize, usize); 1] = [(32, 32)];

#[cfg(test)]
thread_local! {
    /// Tests override (ball size, settled nodes before it) to exercise the ball everywhere.
    pub(crate) static BALL_OVERRIDE: std::cell::Cell<Option<(usize, usize)>> =
        const { std::cell::Cell::new(None) };
}

/// `FORWARD_BALL_SCHEDULE`, or in tests the one step (settled nodes, ball size) asked for.
#[inline]
pub(super) fn ball_schedule() -> [(usize, usize); FORWARD_BALL_SCHEDULE.len()] {
    #[cfg(test)]
    if let Some((size, after)) = BALL_OVERRIDE.with(|c| c.get()) {
        return [(after, size); FORWARD_BALL_SCHEDULE.len()];
    }
    FORWARD_BALL_SCHEDULE
}

impl RoutingIndex {
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
    pub(super) fn forward_ball(&self, q: &Query, sc: &mut Scratch, size: usize) {
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
                let pos = self.orders.out_bucket(sc.bucket)[p] as usize;
                let tail = self.edges.out_tail(pos);
                let end = self.edges.out_range(tail).end;
                self.ball_scan(q, sc, sc.ball[tail as usize].dist, (p, end), (d, batch));
                continue;
            }
            sc.f_size += 1;
            sc.ball[xi].done = fg;
            let (start, end) = (self.edges.out_range(x).start, self.edges.out_range(x).end);
            if x != src && end - start > lazy_min {
                self.ball_scan(q, sc, d, (start, end), (d, batch));
                continue;
            }
            count_work(0, (end - start) as u64);
            for e in &self.edges.out_hot()[start..end] {
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
        let order = self.orders.out_bucket(sc.bucket);
        let batch_end = p + batch;
        while p < end {
            let e = &self.edges.out_hot()[order[p] as usize];
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
}
