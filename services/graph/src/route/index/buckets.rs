//! What the index keeps per landmark bucket besides the landmark tables: every in-edge and
//! out-edge list in order of fee at the bucket amount, and each node's cheapest in-edge fee
//! and largest in-edge capacity among the edges that can carry the bucket amount.

use std::ops::Range;

use rayon::prelude::*;

use super::edges::Edges;
use super::{policy_fee, INF, LANDMARK_BUCKETS_MSAT};

/// Per bucket, each in-edge part and each out-edge list sorted by fee at the bucket amount,
/// cheapest first, edges that cannot carry that amount last. The fee search takes a hub's
/// long in-edge list in this order, lazily; the forward ball does the same with out-edges.
#[derive(Debug)]
pub(crate) struct FeeOrders {
    /// At `b * slots + p`: the slots of each in-edge part, over the same position ranges.
    in_order: Vec<u32>,
    slots: usize,
    /// At `b * positions + p`: the out-positions of each node's list, over the same ranges.
    out_order: Vec<u32>,
    positions: usize,
}

impl FeeOrders {
    pub(super) fn build(edges: &Edges) -> FeeOrders {
        let hot = edges.hot();
        let in_order = sort_by_bucket_fee(hot.len(), &edges.all_in_parts(), |s| {
            (hot[s].htlc_max, hot[s].base, hot[s].ppm)
        });
        let out = edges.out_hot();
        let out_order = sort_by_bucket_fee(out.len(), &edges.all_out_ranges(), |p| {
            (out[p].htlc_max, out[p].base, out[p].ppm)
        });
        FeeOrders {
            in_order,
            slots: hot.len(),
            out_order,
            positions: out.len(),
        }
    }

    /// Bucket `b`'s in-edge fee order: position `p` holds a slot of the part `p` lies in.
    #[inline]
    pub(crate) fn in_bucket(&self, b: usize) -> &[u32] {
        &self.in_order[b * self.slots..(b + 1) * self.slots]
    }

    /// Bucket `b`'s out-edge fee order: position `p` holds an out-position of the list `p`
    /// lies in.
    #[inline]
    pub(crate) fn out_bucket(&self, b: usize) -> &[u32] {
        &self.out_order[b * self.positions..(b + 1) * self.positions]
    }

    pub(super) fn heap_bytes(&self) -> usize {
        4 * (self.in_order.capacity() + self.out_order.capacity())
    }
}

/// Per landmark bucket (`b * len + position`), the positions of each range sorted by (fee at
/// the bucket amount, position), positions whose edge's limit is below the amount last;
/// `edge` gives a position's (limit, base fee, ppm).
fn sort_by_bucket_fee(
    len: usize,
    ranges: &[Range<usize>],
    edge: impl Fn(usize) -> (u64, u32, u32) + Sync,
) -> Vec<u32> {
    let mut order = vec![0u32; LANDMARK_BUCKETS_MSAT.len() * len];
    if len == 0 {
        return order;
    }
    order
        .par_chunks_mut(len)
        .zip(LANDMARK_BUCKETS_MSAT.par_iter())
        .for_each(|(out, &bucket)| {
            // Keys computed once per edge, not once per comparison.
            let mut keyed: Vec<(u64, u32)> = Vec::new();
            for range in ranges {
                keyed.clear();
                keyed.extend(range.clone().map(|p| {
                    let (limit, base, ppm) = edge(p);
                    let fee = if limit < bucket {
                        INF
                    } else {
                        policy_fee(base, ppm, bucket)
                    };
                    (fee, p as u32)
                }));
                keyed.sort_unstable();
                for (x, &(_, p)) in out[range.clone()].iter_mut().zip(&keyed) {
                    *x = p;
                }
            }
        });
    order
}

/// Per bucket and node, bounds on any edge into the node that can carry the bucket amount:
/// the least fee at that amount (every hop into the node charges at least it) and the
/// largest capacity (bounds the probability of entering the node).
#[derive(Debug)]
pub(crate) struct InBounds {
    n: usize,
    /// At `b * n + v`; 0 when no in-edge reaches the bucket.
    cap_max: Vec<u64>,
    /// At `b * n + v`; `INF` when no in-edge reaches the bucket.
    fee_min: Vec<u64>,
}

impl InBounds {
    pub(super) fn build(edges: &Edges, n: usize) -> InBounds {
        let per_bucket = |f: &(dyn Fn(u64, u32) -> u64 + Sync)| -> Vec<u64> {
            LANDMARK_BUCKETS_MSAT
                .iter()
                .flat_map(|&bucket| (0..n as u32).map(move |v| f(bucket, v)))
                .collect()
        };
        let carrying = |bucket: u64, v: u32| {
            edges
                .in_slots(v)
                .filter(move |&s| edges.hot()[s].htlc_max >= bucket)
        };
        let cap_max = per_bucket(&|bucket, v| {
            carrying(bucket, v)
                .map(|s| edges.cap_msat(s))
                .max()
                .unwrap_or(0)
        });
        let fee_min = per_bucket(&|bucket, v| {
            carrying(bucket, v)
                .map(|s| edges.fee(s, bucket))
                .min()
                .unwrap_or(INF)
        });
        InBounds {
            n,
            cap_max,
            fee_min,
        }
    }

    /// The largest capacity (msat) among `v`'s in-edges that carry bucket `b`'s amount.
    #[inline]
    pub(crate) fn cap_max(&self, b: usize, v: usize) -> u64 {
        self.cap_max[b * self.n + v]
    }

    /// The least fee at bucket `b`'s amount among `v`'s in-edges that carry it.
    #[inline]
    pub(crate) fn fee_min(&self, b: usize, v: usize) -> u64 {
        self.fee_min[b * self.n + v]
    }

    pub(super) fn heap_bytes(&self) -> usize {
        8 * (self.cap_max.capacity() + self.fee_min.capacity())
    }
}
