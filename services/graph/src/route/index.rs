//! The routing index: a compact, search-friendly copy of a [`Snapshot`]'s enabled edges,
//! plus the precomputed data that makes queries fast (landmark fee bounds, reachability).
//!
//! Built once per snapshot; read-only afterwards, so it is shared freely between threads.
//! It must not hold per-query state (that lives in thread-local scratch, see `search.rs`).

use std::collections::VecDeque;
use std::sync::Arc;

use rayon::prelude::*;

use crate::snapshot::{NodeIdx, Snapshot};
use crate::types::NodeId;

/// Query amounts (msat) for which landmark distances are precomputed. A query of amount A
/// uses the largest bucket <= A: every hop forwards at least A, fees are monotone in the
/// amount, so fees at the bucket amount are lower bounds on the real fees (admissible).
pub(crate) const LANDMARK_BUCKETS_MSAT: [u64; 5] =
    [0, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
/// Number of landmarks (ALT). Eight is the usual sweet spot between bound quality and memory.
pub(crate) const LANDMARKS: usize = 8;
/// "Unreachable" in search bounds.
pub(crate) const INF: u64 = u64::MAX;
/// "Unreachable" in the compact landmark table.
pub(crate) const LM_INF: u32 = u32::MAX;
/// "At least this much" in the compact landmark table (distances are stored as u32 to keep
/// a node's 16 distances in one cache line; larger ones saturate here, which the bound
/// handles so that it stays admissible).
pub(crate) const LM_SAT: u32 = u32::MAX - 1;

/// `base + floor(amount x ppm / 10^6)`, saturating: u64 arithmetic (a multiply-shift) in the
/// common case, u128 only when it overflows.
#[inline]
pub(crate) fn policy_fee(base: u32, ppm: u32, amount: u64) -> u64 {
    let ppm = u64::from(ppm);
    let prop = match amount.checked_mul(ppm) {
        Some(p) => p / 1_000_000,
        None => u64::try_from(u128::from(amount) * u128::from(ppm) / 1_000_000).unwrap_or(u64::MAX),
    };
    u64::from(base).saturating_add(prop)
}

/// The fields the searches read for every in-edge they scan, packed so that one edge is
/// one half cache line instead of five separate array reads. Aligned to it: unaligned, half
/// the edges straddled two lines (the allocator aligns to 16 bytes), and reading such an
/// edge's limit and then its fee missed twice.
#[derive(Debug, Clone, Copy)]
#[repr(align(32))]
pub(crate) struct HotEdge {
    /// min(htlc_maximum, capacity).
    pub htlc_max: u64,
    pub htlc_min: u64,
    pub from: u32,
    pub base: u32,
    pub ppm: u32,
    pub cltv: u16,
}

impl HotEdge {
    /// `base + floor(amount x ppm / 10^6)`, saturating.
    #[inline]
    pub(crate) fn fee(&self, amount: u64) -> u64 {
        policy_fee(self.base, self.ppm, amount)
    }
}

/// What the forward ball reads of an out-edge, in `out_slot` order: a node's out-edges are
/// then one contiguous run instead of four reads per edge spread over the slot arrays.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutEdge {
    /// min(htlc_maximum, capacity).
    pub htlc_max: u64,
    pub to: u32,
    pub base: u32,
    pub ppm: u32,
}

impl OutEdge {
    /// `base + floor(amount x ppm / 10^6)`, saturating (as [`HotEdge::fee`]).
    #[inline]
    pub(crate) fn fee(&self, amount: u64) -> u64 {
        policy_fee(self.base, self.ppm, amount)
    }
}

/// One node's landmark distances at one bucket: `d(L, u)` for each landmark, then `d(u, L)`;
/// one aligned cache line, so a bound reads one line, not two.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct LandmarkRow(pub [u32; 2 * LANDMARKS]);

/// Reverse (incoming) adjacency over enabled edges in structure-of-arrays form: the search
/// runs from the destination back to the source, so for node `v` the slots
/// `in_off[v]..in_off[v+1]` describe the edges `from[slot] -> v`, largest htlc_max first.
///
/// Nodes are numbered in the index's own order (`order`, `rank`), not the snapshot's: the
/// snapshot sorts nodes by id, which scatters neighbours over memory, while a query's time
/// is mostly the cache misses of reading its nodes' state. In breadth-first order from the
/// best-connected node, a hub's neighbours sit next to each other and the busy core of the
/// graph packs into a few cache-resident pages.
#[derive(Debug)]
pub struct RoutingIndex {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) n: usize,
    /// The snapshot's node for each index node.
    pub(crate) order: Vec<NodeIdx>,
    /// The index node for each snapshot node (the inverse of `order`).
    pub(crate) rank: Vec<u32>,
    pub(crate) in_off: Vec<u32>,
    /// `in_mid[v]` splits `v`'s in-edges: before it, edges whose tail has another
    /// in-neighbour; from it, edges whose tail can only be entered from `v` (or not at all),
    /// which only matter when the tail is the payer. Each part is sorted by htlc_max,
    /// largest first.
    pub(crate) in_mid: Vec<u32>,
    /// Per slot, the search's hot fields; within a node, slots are sorted by htlc_max,
    /// largest first.
    pub(crate) hot: Vec<HotEdge>,
    /// Per landmark bucket `b`, at `b * hot.len() + p`: the slots of each part of each node's
    /// in-edges (the same position ranges as the slots) ordered by fee at the bucket amount,
    /// cheapest first, edges that cannot carry that amount last (see `search.rs`).
    pub(crate) fee_order: Vec<u32>,
    pub(crate) from: Vec<u32>,
    pub(crate) base: Vec<u32>,
    pub(crate) ppm: Vec<u32>,
    pub(crate) cltv: Vec<u16>,
    pub(crate) htlc_min: Vec<u64>,
    /// min(htlc_maximum, capacity): the most one HTLC may carry over the edge.
    pub(crate) htlc_max: Vec<u64>,
    /// Channel capacity in msat (the probability model's liquidity bound).
    pub(crate) cap_msat: Vec<u64>,
    /// The snapshot's edge index (`2 * channel + direction`) of each slot.
    pub(crate) edge: Vec<u32>,
    /// Forward adjacency: `out_off[u]..out_off[u+1]` index `out_slot`, slots whose `from` is u.
    pub(crate) out_off: Vec<u32>,
    pub(crate) out_slot: Vec<u32>,
    /// Per `out_slot` position, the fields the forward ball reads.
    pub(crate) out_hot: Vec<OutEdge>,
    /// Per landmark bucket `b`, at `b * out_hot.len() + p`: the `out_hot` positions of each
    /// node's out-edges (the same ranges) ordered by fee at the bucket amount, cheapest
    /// first, edges that cannot carry that amount last; the forward ball scans long lists
    /// lazily in this order, as the fee search does with `fee_order`.
    pub(crate) out_fee_order: Vec<u32>,
    /// Head node of each slot (the `v` of `from -> v`), for forward walks.
    pub(crate) to: Vec<u32>,
    /// The reachability hub (highest-degree node) and who reaches it / is reached from it.
    pub(crate) hub: u32,
    pub(crate) reaches_hub: Vec<bool>,
    pub(crate) reached_from_hub: Vec<bool>,
    pub(crate) landmarks: Vec<u32>,
    /// `in_cap_max[b * n + v]`: the largest capacity (msat) among `v`'s in-edges whose
    /// htlc_max reaches landmark bucket `b`, 0 if none (bounds the probability of entering
    /// `v`; see `search.rs`).
    pub(crate) in_cap_max: Vec<u64>,
    /// `in_fee_min[b * n + v]`: the least fee at bucket `b`'s amount among `v`'s in-edges
    /// whose htlc_max reaches it (`INF` if none): every hop into `v` charges at least that.
    pub(crate) in_fee_min: Vec<u64>,
    /// `lm[b * n + u].0[l]` = fee distance landmark l -> u at bucket b, and at
    /// `LANDMARKS + l` the distance u -> landmark l, over the edges whose htlc_max exceeds
    /// the bucket amount (see `compute_landmark_tables`).
    pub(crate) lm: Vec<LandmarkRow>,
    /// Nodes whose `lm` row is unknown (indexes built with another index's tables, see
    /// [`RoutingIndex::build_with_landmarks_of`]); empty when every row is known.
    pub(crate) lm_unknown: Vec<bool>,
}

impl RoutingIndex {
    /// The compact arrays, bounds per bucket and hub reachability: everything but the
    /// landmark tables. `order` lists the snapshot's nodes in the index's order.
    fn build_arrays(snapshot: Arc<Snapshot>, order: Vec<NodeIdx>) -> RoutingIndex {
        let g = &*snapshot;
        let n = g.node_count();
        debug_assert_eq!(order.len(), n);
        let mut rank = vec![0u32; n];
        for (i, &u) in order.iter().enumerate() {
            rank[u as usize] = i as u32;
        }
        let tail = |e| rank[g.edge_from(e) as usize];
        let mut in_off = Vec::with_capacity(n + 1);
        let (mut from, mut base, mut ppm, mut cltv) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut htlc_min, mut htlc_max, mut cap_msat, mut edge) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        in_off.push(0u32);
        let mut in_mid = Vec::with_capacity(n);
        // Per node: its one enabled in-neighbour, `NO_NODE` if none, `MANY` if several.
        const NO_NODE: u32 = u32::MAX;
        const MANY: u32 = u32::MAX - 1;
        let only_in_neighbour: Vec<u32> = order
            .iter()
            .map(|&u| {
                let mut one = NO_NODE;
                for &e in g.in_edges(u) {
                    if !g.edge_enabled(e) {
                        continue;
                    }
                    let x = tail(e);
                    if one == NO_NODE {
                        one = x;
                    } else if one != x {
                        return MANY;
                    }
                }
                one
            })
            .collect();
        let mut incoming: Vec<(bool, u64, u32)> = Vec::new();
        for (v, &snapshot_v) in order.iter().enumerate() {
            let v = v as u32;
            // A tail whose only in-neighbour is `v` itself leads backward nowhere but to `v`:
            // unless it is the payer, relaxing it is wasted work. Such edges go last
            // (`RoutingIndex::in_mid`), so searches can skip them. Within each part, largest
            // htlc limit first: a search stops scanning at the first edge that cannot carry
            // its label.
            incoming.clear();
            for &e in g.in_edges(snapshot_v) {
                let Some(p) = g.edge_policy(e) else { continue };
                if p.disabled {
                    continue;
                }
                let cap = g
                    .channel(Snapshot::edge_channel(e))
                    .capacity_sat
                    .saturating_mul(1000);
                let only = only_in_neighbour[tail(e) as usize];
                let dead_end = only == NO_NODE || only == v;
                incoming.push((dead_end, p.htlc_max_msat.min(cap), e));
            }
            incoming.sort_by_key(|&(dead_end, max, e)| (dead_end, std::cmp::Reverse(max), e));
            in_mid.push((from.len() + incoming.iter().filter(|x| !x.0).count()) as u32);
            for &(_, _, e) in &incoming {
                let Some(p) = g.edge_policy(e) else { continue };
                let cap = g
                    .channel(Snapshot::edge_channel(e))
                    .capacity_sat
                    .saturating_mul(1000);
                from.push(tail(e));
                base.push(p.fee_base_msat);
                ppm.push(p.fee_ppm);
                cltv.push(p.cltv_delta);
                htlc_min.push(p.htlc_min_msat);
                htlc_max.push(p.htlc_max_msat.min(cap));
                cap_msat.push(cap);
                edge.push(e);
            }
            in_off.push(from.len() as u32);
        }
        let mut to = vec![0u32; from.len()];
        for v in 0..n {
            for s in in_off[v]..in_off[v + 1] {
                to[s as usize] = v as u32;
            }
        }
        let mut out_off = vec![0u32; n + 1];
        for &u in &from {
            out_off[u as usize + 1] += 1;
        }
        for i in 0..n {
            out_off[i + 1] += out_off[i];
        }
        let mut fill = out_off.clone();
        let mut out_slot = vec![0u32; from.len()];
        for (s, &u) in from.iter().enumerate() {
            out_slot[fill[u as usize] as usize] = s as u32;
            fill[u as usize] += 1;
        }
        let hot: Vec<HotEdge> = (0..from.len())
            .map(|s| HotEdge {
                htlc_max: htlc_max[s],
                htlc_min: htlc_min[s],
                from: from[s],
                base: base[s],
                ppm: ppm[s],
                cltv: cltv[s],
            })
            .collect();
        let out_hot: Vec<OutEdge> = out_slot
            .iter()
            .map(|&s| {
                let s = s as usize;
                OutEdge {
                    htlc_max: htlc_max[s],
                    to: to[s],
                    base: base[s],
                    ppm: ppm[s],
                }
            })
            .collect();
        let fee_order = Self::fee_order(&hot, &in_off, &in_mid);
        let out_fee_order = Self::out_fee_order(&out_hot, &out_off);
        let mut idx = RoutingIndex {
            snapshot: snapshot.clone(),
            n,
            order,
            rank,
            in_off,
            in_mid,
            hot,
            fee_order,
            from,
            base,
            ppm,
            cltv,
            htlc_min,
            htlc_max,
            cap_msat,
            edge,
            out_off,
            out_slot,
            out_hot,
            out_fee_order,
            to,
            hub: 0,
            reaches_hub: vec![false; n],
            reached_from_hub: vec![false; n],
            landmarks: Vec::new(),
            in_cap_max: Vec::new(),
            in_fee_min: Vec::new(),
            lm: Vec::new(),
            lm_unknown: Vec::new(),
        };
        idx.in_cap_max = LANDMARK_BUCKETS_MSAT
            .iter()
            .flat_map(|&bucket| {
                let idx = &idx;
                (0..n as u32).map(move |v| {
                    idx.in_slots(v)
                        .filter(|&s| idx.htlc_max[s] >= bucket)
                        .map(|s| idx.cap_msat[s])
                        .max()
                        .unwrap_or(0)
                })
            })
            .collect();
        idx.in_fee_min = LANDMARK_BUCKETS_MSAT
            .iter()
            .flat_map(|&bucket| {
                let idx = &idx;
                (0..n as u32).map(move |v| {
                    idx.in_slots(v)
                        .filter(|&s| idx.htlc_max[s] >= bucket)
                        .map(|s| idx.fee(s, bucket))
                        .min()
                        .unwrap_or(INF)
                })
            })
            .collect();
        if n == 0 {
            return idx;
        }
        // The order starts at the best-connected node (`locality_order`; a payer's view
        // keeps its base's order).
        idx.hub = 0;
        idx.reached_from_hub = idx.bfs(idx.hub, true);
        idx.reaches_hub = idx.bfs(idx.hub, false);
        idx
    }

    /// Builds the index (compact arrays, reachability, landmark tables; rayon-parallel).
    pub fn build(snapshot: Arc<Snapshot>) -> RoutingIndex {
        let order = locality_order(&snapshot);
        let mut idx = Self::build_arrays(snapshot, order);
        if idx.n > 0 {
            idx.landmarks = idx.pick_landmarks();
            idx.compute_landmark_tables();
        }
        idx
    }

    /// `fee_order` (see the field): per bucket, each part of each in-edge list sorted by
    /// (fee at the bucket amount, slot), edges whose limit is below the amount last.
    fn fee_order(hot: &[HotEdge], in_off: &[u32], in_mid: &[u32]) -> Vec<u32> {
        let parts: Vec<std::ops::Range<usize>> = in_mid
            .iter()
            .enumerate()
            .flat_map(|(v, &mid)| [in_off[v]..mid, mid..in_off[v + 1]])
            .map(|r| r.start as usize..r.end as usize)
            .collect();
        Self::sort_by_bucket_fee(hot.len(), &parts, |s| {
            (hot[s].htlc_max, hot[s].base, hot[s].ppm)
        })
    }

    /// `out_fee_order` (see the field): per bucket, each node's out-edges sorted by (fee at
    /// the bucket amount, position), edges whose limit is below the amount last.
    fn out_fee_order(out_hot: &[OutEdge], out_off: &[u32]) -> Vec<u32> {
        let lists: Vec<std::ops::Range<usize>> = out_off
            .windows(2)
            .map(|w| w[0] as usize..w[1] as usize)
            .collect();
        Self::sort_by_bucket_fee(out_hot.len(), &lists, |p| {
            (out_hot[p].htlc_max, out_hot[p].base, out_hot[p].ppm)
        })
    }

    /// Per landmark bucket (`b * len + position`), the positions of each range sorted by
    /// (fee at the bucket amount, position), positions whose edge's limit is below the
    /// amount last; `edge` gives a position's (limit, base fee, ppm).
    fn sort_by_bucket_fee(
        len: usize,
        ranges: &[std::ops::Range<usize>],
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

    /// Builds the index of a payer's variant of `base`'s graph, borrowing `base`'s landmark
    /// tables instead of computing new ones (which is most of the cost of a build).
    ///
    /// The bounds stay admissible only if, compared with `base`, `snapshot` *adds* no edge
    /// except edges out of the payer (its own channels, whose hop is free) and edges into the
    /// payee or into nodes `base` does not have (route hints), and otherwise only removes
    /// edges or lowers their limits: a shortest fee path between two other nodes can then
    /// only get longer, and landmark distances of `base` still bound it from below. Nodes
    /// `base` does not have get no landmark bound. The caller checks the condition.
    ///
    /// A `base` without landmark tables (an empty graph: a node whose channels are all
    /// private) has nothing to lend: the index is then built whole.
    pub fn build_with_landmarks_of(snapshot: Arc<Snapshot>, base: &RoutingIndex) -> RoutingIndex {
        if base.landmarks.is_empty() || base.lm.is_empty() {
            return Self::build(snapshot);
        }
        // The base's order where it has the node (its neighbourhoods are this graph's, less
        // a few edges), new nodes last: cheaper than ordering afresh for every payment.
        let in_base: Vec<Option<u32>> = (0..snapshot.node_count() as NodeIdx)
            .map(|u| base.node_by_id(&snapshot.node(u).id))
            .collect();
        let mut order: Vec<NodeIdx> = (0..snapshot.node_count() as NodeIdx).collect();
        order.sort_by_key(|&u| (in_base[u as usize].unwrap_or(u32::MAX), u));
        let mut idx = Self::build_arrays(snapshot, order);
        let n = idx.n;
        if n == 0 {
            return idx;
        }
        let k = LANDMARKS;
        let buckets = LANDMARK_BUCKETS_MSAT.len();
        let mut lm = vec![LandmarkRow([0; 2 * LANDMARKS]); buckets * n];
        let mut unknown = vec![false; n];
        for u in 0..n {
            let from = in_base[idx.order[u] as usize].map(|v| v as usize);
            for b in 0..buckets {
                let row = &mut lm[b * n + u].0;
                match from {
                    Some(v) => *row = base.lm[b * base.n + v].0,
                    // No bound: d(L, u) >= 0 gives nothing, a saturated d(u, L) is skipped.
                    None => row[k..].fill(LM_SAT),
                }
            }
            unknown[u] = from.is_none();
        }
        idx.landmarks = base.landmarks.clone();
        idx.lm = lm;
        idx.lm_unknown = unknown;
        idx
    }

    /// Whether `u`'s landmark row is unknown (see [`RoutingIndex::lm_unknown`]).
    #[inline]
    pub(crate) fn lm_row_unknown(&self, u: usize) -> bool {
        self.lm_unknown.get(u).copied().unwrap_or(false)
    }

    /// The snapshot this index was built from.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Bytes held by the index's own arrays (the snapshot itself is not counted).
    pub fn heap_bytes(&self) -> usize {
        4 * (self.in_off.capacity()
            + self.in_mid.capacity()
            + self.order.capacity()
            + self.rank.capacity()
            + self.from.capacity()
            + self.base.capacity()
            + self.ppm.capacity()
            + self.edge.capacity()
            + self.out_off.capacity()
            + self.out_slot.capacity()
            + self.to.capacity()
            + self.landmarks.capacity())
            + 2 * self.cltv.capacity()
            + std::mem::size_of::<HotEdge>() * self.hot.capacity()
            + std::mem::size_of::<OutEdge>() * self.out_hot.capacity()
            + 4 * self.fee_order.capacity()
            + 4 * self.out_fee_order.capacity()
            + std::mem::size_of::<LandmarkRow>() * self.lm.capacity()
            + self.lm_unknown.capacity()
            + 8 * (self.htlc_min.capacity()
                + self.htlc_max.capacity()
                + self.cap_msat.capacity()
                + self.in_cap_max.capacity()
                + self.in_fee_min.capacity())
            + self.reaches_hub.capacity()
            + self.reached_from_hub.capacity()
    }

    /// Number of enabled directed edges in the index.
    pub fn edge_count(&self) -> usize {
        self.from.len()
    }

    /// Most labels one label-setting search (the fee model's steps 2 and 3, see the search
    /// module) may create: [`LABELS_PER_GRAPH_ELEMENT`] per node and per enabled edge, within
    /// [`MIN_LABEL_BUDGET`]..=[`MAX_LABEL_BUDGET`].
    ///
    /// [`LABELS_PER_GRAPH_ELEMENT`]: super::LABELS_PER_GRAPH_ELEMENT
    /// [`MIN_LABEL_BUDGET`]: super::MIN_LABEL_BUDGET
    /// [`MAX_LABEL_BUDGET`]: super::MAX_LABEL_BUDGET
    pub fn label_budget(&self) -> usize {
        use super::search::{LABELS_PER_GRAPH_ELEMENT, MAX_LABEL_BUDGET, MIN_LABEL_BUDGET};
        (self.n + self.edge_count())
            .saturating_mul(LABELS_PER_GRAPH_ELEMENT)
            .clamp(MIN_LABEL_BUDGET, MAX_LABEL_BUDGET)
    }

    pub(crate) fn in_slots(&self, v: u32) -> std::ops::Range<usize> {
        self.in_off[v as usize] as usize..self.in_off[v as usize + 1] as usize
    }

    /// `v`'s in-edges as their two parts (see `in_mid`), each sorted by htlc_max, largest
    /// first; the second is empty unless `dead_ends`.
    #[inline]
    pub(crate) fn in_parts(&self, v: u32, dead_ends: bool) -> [std::ops::Range<usize>; 2] {
        let vi = v as usize;
        let (a, m) = (self.in_off[vi] as usize, self.in_mid[vi] as usize);
        let b = if dead_ends {
            self.in_off[vi + 1] as usize
        } else {
            m
        };
        [a..m, m..b]
    }

    pub(crate) fn out_slots(&self, u: u32) -> &[u32] {
        &self.out_slot[self.out_off[u as usize] as usize..self.out_off[u as usize + 1] as usize]
    }

    fn out_degree(&self, u: u32) -> usize {
        self.out_slots(u).len()
    }

    fn in_degree(&self, v: u32) -> usize {
        self.in_slots(v).len()
    }

    /// Fee of slot `s` for forwarding `amount` (saturating; amounts are bounded by capacity).
    #[inline]
    /// What the sending node of slot `s` must receive to forward `amount` over it: `amount`
    /// plus its fee, except on the payer's own first channel, which charges nothing.
    pub(crate) fn inbound(&self, s: usize, amount: u64, payer_hop: bool) -> u64 {
        if payer_hop {
            amount
        } else {
            amount.saturating_add(self.fee(s, amount))
        }
    }

    pub(crate) fn fee(&self, s: usize, amount: u64) -> u64 {
        policy_fee(self.base[s], self.ppm[s], amount)
    }

    /// Nodes reachable from (`forward`) or reaching (`!forward`) `start` over enabled edges.
    fn bfs(&self, start: u32, forward: bool) -> Vec<bool> {
        let mut seen = vec![false; self.n];
        let mut queue = VecDeque::from([start]);
        seen[start as usize] = true;
        while let Some(x) = queue.pop_front() {
            let mut visit = |y: u32| {
                if !seen[y as usize] {
                    seen[y as usize] = true;
                    queue.push_back(y);
                }
            };
            if forward {
                for &s in self.out_slots(x) {
                    visit(self.to[s as usize]);
                }
            } else {
                for s in self.in_slots(x) {
                    visit(self.from[s]);
                }
            }
        }
        seen
    }

    /// Landmarks spread over the hub's strongly connected part: the hub first, then each next
    /// landmark farthest (in hops, undirected) from those already chosen ("farthest point").
    fn pick_landmarks(&self) -> Vec<u32> {
        let core: Vec<bool> = (0..self.n)
            .map(|u| self.reaches_hub[u] && self.reached_from_hub[u])
            .collect();
        let mut chosen = vec![self.hub];
        let mut hop = vec![u32::MAX; self.n];
        while chosen.len() < LANDMARKS {
            let last = *chosen.last().unwrap_or(&self.hub);
            let mut dist = vec![u32::MAX; self.n];
            let mut queue = VecDeque::from([last]);
            dist[last as usize] = 0;
            while let Some(x) = queue.pop_front() {
                let d = dist[x as usize] + 1;
                let next = self
                    .out_slots(x)
                    .iter()
                    .map(|&s| self.to[s as usize])
                    .chain(self.in_slots(x).map(|s| self.from[s]));
                for y in next {
                    if dist[y as usize] == u32::MAX {
                        dist[y as usize] = d;
                        queue.push_back(y);
                    }
                }
            }
            for u in 0..self.n {
                hop[u] = hop[u].min(dist[u]);
            }
            // Ties are broken by degree so that landmarks are not dangling leaves.
            let best = (0..self.n as u32)
                .filter(|&u| core[u as usize] && hop[u as usize] != u32::MAX && hop[u as usize] > 0)
                .max_by_key(|&u| (hop[u as usize], self.in_degree(u) + self.out_degree(u)));
            match best {
                Some(b) => chosen.push(b),
                None => break,
            }
        }
        chosen
    }

    fn compute_landmark_tables(&mut self) {
        let n = self.n;
        let k = LANDMARKS;
        let jobs: Vec<(usize, usize, bool)> = (0..LANDMARK_BUCKETS_MSAT.len())
            .flat_map(|b| {
                (0..self.landmarks.len()).flat_map(move |l| [(b, l, true), (b, l, false)])
            })
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
                let dist = self.landmark_dijkstra(self.landmarks[l], fwd, |s| {
                    if self.htlc_max[s] <= bucket {
                        INF
                    } else {
                        self.fee(s, bucket)
                    }
                });
                ((b, l, fwd), dist)
            })
            .collect();
        let mut lm = vec![LandmarkRow([LM_INF; 2 * LANDMARKS]); LANDMARK_BUCKETS_MSAT.len() * n];
        for ((b, l, fwd), dist) in results {
            let col = if fwd { l } else { k + l };
            for (u, d) in dist.into_iter().enumerate() {
                lm[b * n + u].0[col] = if d == INF {
                    LM_INF
                } else {
                    u32::try_from(d).unwrap_or(LM_SAT).min(LM_SAT)
                };
            }
        }
        self.lm = lm;
    }

    /// Distances from (`forward`) or to (`!forward`) `root` over every enabled edge, limits
    /// ignored, with the given edge weight (the fee at the bucket amount; `INF` = no edge).
    fn landmark_dijkstra(
        &self,
        root: u32,
        forward: bool,
        weight: impl Fn(usize) -> u64,
    ) -> Vec<u64> {
        use std::cmp::Reverse;
        let mut dist = vec![INF; self.n];
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
                for &s in self.out_slots(x) {
                    relax(self.to[s as usize], s as usize);
                }
            } else {
                for s in self.in_slots(x) {
                    relax(self.from[s], s);
                }
            }
        }
        dist
    }

    /// The index's node for a snapshot node.
    #[inline]
    pub(crate) fn node_of(&self, u: NodeIdx) -> u32 {
        self.rank[u as usize]
    }

    /// The index's node for a node id, if the snapshot has it.
    pub(crate) fn node_by_id(&self, id: &NodeId) -> Option<u32> {
        self.snapshot.node_idx(id).map(|u| self.node_of(u))
    }

    /// Index of the landmark bucket for a query amount.
    pub(crate) fn bucket_for(amount: u64) -> usize {
        LANDMARK_BUCKETS_MSAT
            .iter()
            .rposition(|&b| b <= amount)
            .unwrap_or(0)
    }
}

/// The index's node order (see [`RoutingIndex`]): breadth-first over enabled edges (either
/// direction) from the node with the most, each node's unplaced neighbours best-connected
/// first; every further component likewise from its best-connected node. Ties go to the
/// lower snapshot index, so the order is a function of the graph.
fn locality_order(g: &Snapshot) -> Vec<NodeIdx> {
    let n = g.node_count();
    let enabled = |edges: &[u32]| edges.iter().filter(|&&e| g.edge_enabled(e)).count();
    let degree: Vec<usize> = (0..n as NodeIdx)
        .map(|u| enabled(g.out_edges(u)) + enabled(g.in_edges(u)))
        .collect();
    let best_connected_first = |&u: &NodeIdx| (std::cmp::Reverse(degree[u as usize]), u);
    let mut starts: Vec<NodeIdx> = (0..n as NodeIdx).collect();
    starts.sort_by_key(best_connected_first);
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut next = Vec::new();
    for start in starts {
        if placed[start as usize] {
            continue;
        }
        placed[start as usize] = true;
        order.push(start);
        let mut head = order.len() - 1;
        while let Some(&u) = order.get(head) {
            head += 1;
            next.clear();
            let outs = g.out_edges(u).iter().map(|&e| (e, g.edge_to(e)));
            let ins = g.in_edges(u).iter().map(|&e| (e, g.edge_from(e)));
            next.extend(
                outs.chain(ins)
                    .filter(|&(e, v)| g.edge_enabled(e) && !placed[v as usize])
                    .map(|(_, v)| v),
            );
            next.sort_by_key(best_connected_first);
            next.dedup();
            for &v in &next {
                placed[v as usize] = true;
            }
            order.extend_from_slice(&next);
        }
    }
    order
}
