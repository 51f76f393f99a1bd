//! Landmark (ALT) tables: for a few well-spread landmarks, every node's fee distance from
//! and to each, per landmark bucket, over the edges that can carry more than the bucket
//! amount; and the lower bound on a fee distance they give.

use std::collections::VecDeque;

use rayon::prelude::*;

use super::edges::Edges;
use super::nodes::Reachability;
use super::{INF, LANDMARKS, LANDMARK_BUCKETS_MSAT, LM_INF, LM_SAT};

/// One node's landmark distances at one bucket: `d(L, u)` for each landmark, then `d(u, L)`;
/// one aligned cache line, so a bound reads one line, not two.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct LandmarkRow(pub [u32; 2 * LANDMARKS]);

/// The landmarks and their tables.
#[derive(Debug, Default)]
pub(crate) struct Landmarks {
    n: usize,
    /// The landmark nodes.
    nodes: Vec<u32>,
    /// `rows[b * n + u].0[l]` = fee distance landmark l -> u at bucket b, and at
    /// `LANDMARKS + l` the distance u -> landmark l (see [`Landmarks::compute`]).
    rows: Vec<LandmarkRow>,
    /// Nodes whose row is unknown (tables borrowed from another index, see
    /// [`Landmarks::borrowed`]); empty when every row is known.
    unknown: Vec<bool>,
}

impl Landmarks {
    /// Picks the landmarks of a graph of `n` nodes and computes their tables.
    pub(super) fn compute(edges: &Edges, reach: &Reachability, n: usize) -> Landmarks {
        if n == 0 {
            return Landmarks::default();
        }
        let nodes = pick(edges, reach, n);
        let jobs: Vec<(usize, usize, bool)> = (0..LANDMARK_BUCKETS_MSAT.len())
            .flat_map(|b| (0..nodes.len()).flat_map(move |l| [(b, l, true), (b, l, false)]))
            .collect();
        let results: Vec<((usize, usize, bool), Vec<u64>)> = jobs
            .par_iter()
            .map(|&(b, l, fwd)| {
                let bucket = LANDMARK_BUCKETS_MSAT[b];
                // The bounds serve labels whose amount exceeds the query's (some fee is still
                // to be paid downstream), and every edge between the source and such a label
                // carries more than that. So an edge whose limit is the bucket amount or less
                // cannot be on those paths: leaving it out keeps the bounds admissible and
                // lets a query prune whatever is unreachable at its amount. Limits that equal
                // the common round amounts (a 100k-sat channel for a 100k-sat payment) are
                // frequent; counting them as usable made the bounds much weaker.
                let dist = dijkstra(edges, n, nodes[l], fwd, |s| {
                    if edges.hot()[s].htlc_max <= bucket {
                        INF
                    } else {
                        edges.fee(s, bucket)
                    }
                });
                ((b, l, fwd), dist)
            })
            .collect();
        let mut rows = vec![LandmarkRow([LM_INF; 2 * LANDMARKS]); LANDMARK_BUCKETS_MSAT.len() * n];
        for ((b, l, fwd), dist) in results {
            let col = if fwd { l } else { LANDMARKS + l };
            for (u, d) in dist.into_iter().enumerate() {
                rows[b * n + u].0[col] = if d == INF {
                    LM_INF
                } else {
                    u32::try_from(d).unwrap_or(LM_SAT).min(LM_SAT)
                };
            }
        }
        Landmarks {
            n,
            nodes,
            rows,
            unknown: Vec::new(),
        }
    }

    /// `base`'s tables for a graph of `n` nodes: `base_node[u]` is `u`'s node in `base`, if
    /// it has one; the others get a row that bounds nothing and are marked unknown.
    pub(super) fn borrowed(
        base: &Landmarks,
        n: usize,
        base_node: impl Fn(usize) -> Option<u32>,
    ) -> Landmarks {
        let buckets = LANDMARK_BUCKETS_MSAT.len();
        let mut rows = vec![LandmarkRow([0; 2 * LANDMARKS]); buckets * n];
        let mut unknown = vec![false; n];
        for (u, unknown) in unknown.iter_mut().enumerate() {
            let from = base_node(u).map(|v| v as usize);
            for b in 0..buckets {
                let row = &mut rows[b * n + u].0;
                match from {
                    Some(v) => *row = base.rows[b * base.n + v].0,
                    // No bound: d(L, u) >= 0 gives nothing, a saturated d(u, L) is skipped.
                    None => row[LANDMARKS..].fill(LM_SAT),
                }
            }
            *unknown = from.is_none();
        }
        Landmarks {
            n,
            nodes: base.nodes.clone(),
            rows,
            unknown,
        }
    }

    /// Whether there are tables at all (not for an empty graph).
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty() || self.rows.is_empty()
    }

    /// `u`'s distances at bucket `b`.
    #[inline]
    pub(crate) fn row(&self, b: usize, u: usize) -> &[u32; 2 * LANDMARKS] {
        &self.rows[b * self.n + u].0
    }

    /// Whether `u`'s row is unknown (see [`Landmarks::borrowed`]).
    #[inline]
    pub(crate) fn row_unknown(&self, u: usize) -> bool {
        self.unknown.get(u).copied().unwrap_or(false)
    }

    /// The ALT lower bound on the fee distance from any of a set of nodes `W` to `u` at
    /// bucket `bucket`, given `la[l] = max_w d(L, w)` and `lb[l] = min_w d(w, L)`: `d(w, u) >=
    /// d(L, u) - la` and `>= lb - d(u, L)`; `INF` when the tables prove `u` unreachable.
    #[inline]
    pub(crate) fn bound(
        &self,
        u: usize,
        bucket: usize,
        la: &[u32; LANDMARKS],
        lb: &[u32; LANDMARKS],
    ) -> u64 {
        let row = self.row(bucket, u);
        let mut h = 0u64;
        for l in 0..self.nodes.len() {
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

    pub(super) fn heap_bytes(&self) -> usize {
        4 * self.nodes.capacity()
            + std::mem::size_of::<LandmarkRow>() * self.rows.capacity()
            + self.unknown.capacity()
    }
}

/// Landmarks spread over the hub's strongly connected part: the hub first, then each next
/// landmark farthest (in hops, undirected) from those already chosen ("farthest point").
fn pick(edges: &Edges, reach: &Reachability, n: usize) -> Vec<u32> {
    let mut chosen = vec![reach.hub()];
    let mut hop = vec![u32::MAX; n];
    while chosen.len() < LANDMARKS {
        let last = *chosen.last().unwrap_or(&reach.hub());
        let mut dist = vec![u32::MAX; n];
        let mut queue = VecDeque::from([last]);
        dist[last as usize] = 0;
        while let Some(x) = queue.pop_front() {
            let d = dist[x as usize] + 1;
            let next = edges
                .out_slots(x)
                .iter()
                .map(|&s| edges.to(s as usize))
                .chain(edges.in_slots(x).map(|s| edges.from(s)));
            for y in next {
                if dist[y as usize] == u32::MAX {
                    dist[y as usize] = d;
                    queue.push_back(y);
                }
            }
        }
        for u in 0..n {
            hop[u] = hop[u].min(dist[u]);
        }
        // Ties are broken by degree so that landmarks are not dangling leaves.
        let best = (0..n as u32)
            .filter(|&u| reach.in_core(u) && hop[u as usize] != u32::MAX && hop[u as usize] > 0)
            .max_by_key(|&u| (hop[u as usize], edges.in_degree(u) + edges.out_degree(u)));
        match best {
            Some(b) => chosen.push(b),
            None => break,
        }
    }
    chosen
}

/// Distances from (`forward`) or to (`!forward`) `root` over every enabled edge, limits
/// ignored, with the given edge weight (the fee at the bucket amount; `INF` = no edge).
fn dijkstra(
    edges: &Edges,
    n: usize,
    root: u32,
    forward: bool,
    weight: impl Fn(usize) -> u64,
) -> Vec<u64> {
    use std::cmp::Reverse;
    let mut dist = vec![INF; n];
    let mut heap = std::collections::BinaryHeap::new();
    dist[root as usize] = 0;
    heap.push(Reverse((0u64, root)));
    while let Some(Reverse((d, x))) = heap.pop() {
        if d > dist[x as usize] {
            continue;
        }
        let mut relax = |y: u32, s: usize| {
            let w = weight(s);
            if w == INF {
                return;
            }
            let nd = d.saturating_add(w);
            if nd < dist[y as usize] {
                dist[y as usize] = nd;
                heap.push(Reverse((nd, y)));
            }
        };
        if forward {
            for &s in edges.out_slots(x) {
                relax(edges.to(s as usize), s as usize);
            }
        } else {
            for s in edges.in_slots(x) {
                relax(edges.from(s), s);
            }
        }
    }
    dist
}
