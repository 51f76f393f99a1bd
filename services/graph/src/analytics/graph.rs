//! The *active graph*: a compact, relabelled CSR view of a [`Snapshot`] that every analytics
//! kernel runs on, and the [`Weighting`]s that put a cost on its edges.
//!
//! Definition (kept identical to `scripts/analytics_reference.py`, which rebuilds it with
//! networkx from the same files):
//! * nodes: every snapshot node with at least one enabled direction in or out;
//! * directed edges: node pairs `(u, v)` with at least one enabled direction `u -> v`;
//!   parallel channels collapse into one edge, whose weight is the minimum over its member
//!   directions (the cheapest channel wins; equal weights: the lowest edge index, i.e. the
//!   lowest scid). Edge metrics of a collapsed edge are credited to that cheapest channel.
//!
//! Nodes are relabelled in breadth-first order from the best-connected node so that the
//! neighbours a search touches sit close together in memory. This module only builds
//! structure; it holds no per-metric state.

use serde::{Deserialize, Serialize};

use crate::snapshot::{EdgeIdx, NodeIdx, Snapshot};

/// One-directional compressed adjacency: `nbr[off[v]..off[v+1]]` are `v`'s neighbours and
/// `eid` the collapsed edge id of each entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Adj {
    pub off: Vec<u32>,
    pub nbr: Vec<u32>,
    pub eid: Vec<u32>,
}

impl Adj {
    #[inline]
    pub fn range(&self, v: u32) -> std::ops::Range<usize> {
        self.off[v as usize] as usize..self.off[v as usize + 1] as usize
    }
    fn heap_bytes(&self) -> usize {
        (self.off.capacity() + self.nbr.capacity() + self.eid.capacity()) * 4
    }
}

/// Compact view of the enabled part of a snapshot (see the module doc for the definition).
#[derive(Debug, Clone, Default)]
pub struct ActiveGraph {
    /// Snapshot node of each active node (internal index -> snapshot index).
    pub(crate) snap: Vec<NodeIdx>,
    /// Internal index of each snapshot node, `u32::MAX` when not active.
    pub(crate) internal: Vec<u32>,
    pub(crate) out: Adj,
    pub(crate) inn: Adj,
    /// Endpoints of each collapsed edge (internal indices).
    pub(crate) edge_from: Vec<u32>,
    pub(crate) edge_to: Vec<u32>,
    /// Member snapshot edges of collapsed edge `e`: `members[members_off[e]..members_off[e+1]]`.
    pub(crate) members_off: Vec<u32>,
    pub(crate) members: Vec<EdgeIdx>,
}

impl ActiveGraph {
    /// Builds the active graph of `g`.
    pub fn new(g: &Snapshot) -> ActiveGraph {
        let n_snap = g.node_count();
        // Collapsed pairs in snapshot numbering, with their member edges.
        let mut pairs: Vec<(NodeIdx, NodeIdx, EdgeIdx)> = Vec::new();
        for e in 0..g.edge_slot_count() as EdgeIdx {
            if g.edge_enabled(e) {
                pairs.push((g.edge_from(e), g.edge_to(e), e));
            }
        }
        let mut active = vec![false; n_snap];
        for &(a, b, _) in &pairs {
            active[a as usize] = true;
            active[b as usize] = true;
        }
        // Undirected simple adjacency (snapshot numbering) for the relabelling BFS.
        let mut und: Vec<(NodeIdx, NodeIdx)> = pairs
            .iter()
            .flat_map(|&(a, b, _)| [(a, b), (b, a)])
            .collect();
        und.sort_unstable();
        und.dedup();
        let mut und_off = vec![0u32; n_snap + 1];
        for &(a, _) in &und {
            und_off[a as usize + 1] += 1;
        }
        for i in 0..n_snap {
            und_off[i + 1] += und_off[i];
        }
        // BFS order, each component started from its highest-degree unvisited node.
        let mut by_degree: Vec<NodeIdx> = (0..n_snap as NodeIdx)
            .filter(|&v| active[v as usize])
            .collect();
        by_degree
            .sort_by_key(|&v| std::cmp::Reverse(und_off[v as usize + 1] - und_off[v as usize]));
        let mut internal = vec![u32::MAX; n_snap];
        let mut snap: Vec<NodeIdx> = Vec::with_capacity(by_degree.len());
        for &root in &by_degree {
            if internal[root as usize] != u32::MAX {
                continue;
            }
            internal[root as usize] = snap.len() as u32;
            snap.push(root);
            let mut head = snap.len() - 1;
            while head < snap.len() {
                let v = snap[head] as usize;
                head += 1;
                for &(_, w) in &und[und_off[v] as usize..und_off[v + 1] as usize] {
                    if internal[w as usize] == u32::MAX {
                        internal[w as usize] = snap.len() as u32;
                        snap.push(w);
                    }
                }
            }
        }
        let n = snap.len();
        let mut p: Vec<(u32, u32, EdgeIdx)> = pairs
            .iter()
            .map(|&(a, b, e)| (internal[a as usize], internal[b as usize], e))
            .collect();
        p.sort_unstable();
        let mut edge_from = Vec::new();
        let mut edge_to = Vec::new();
        let mut members_off = vec![0u32];
        let mut members = Vec::with_capacity(p.len());
        for (i, &(a, b, e)) in p.iter().enumerate() {
            if i == 0 || (p[i - 1].0, p[i - 1].1) != (a, b) {
                if i > 0 {
                    members_off.push(members.len() as u32);
                }
                edge_from.push(a);
                edge_to.push(b);
            }
            members.push(e);
        }
        if !p.is_empty() {
            members_off.push(members.len() as u32);
        }
        let build = |key: &[u32], other: &[u32]| {
            let mut off = vec![0u32; n + 1];
            for &k in key {
                off[k as usize + 1] += 1;
            }
            for i in 0..n {
                off[i + 1] += off[i];
            }
            let mut fill = off.clone();
            let mut nbr = vec![0u32; key.len()];
            let mut eid = vec![0u32; key.len()];
            for (e, (&k, &o)) in key.iter().zip(other).enumerate() {
                let slot = &mut fill[k as usize];
                nbr[*slot as usize] = o;
                eid[*slot as usize] = e as u32;
                *slot += 1;
            }
            Adj { off, nbr, eid }
        };
        let out = build(&edge_from, &edge_to);
        let inn = build(&edge_to, &edge_from);
        ActiveGraph {
            snap,
            internal,
            out,
            inn,
            edge_from,
            edge_to,
            members_off,
            members,
        }
    }

    /// Number of active nodes.
    pub fn node_count(&self) -> usize {
        self.snap.len()
    }
    /// Number of collapsed directed edges (ordered node pairs with an enabled direction).
    pub fn edge_count(&self) -> usize {
        self.edge_from.len()
    }
    /// The snapshot node of active node `i`.
    pub fn snapshot_node(&self, i: usize) -> NodeIdx {
        self.snap[i]
    }
    /// The active index of a snapshot node, if it is active.
    pub fn active_index(&self, n: NodeIdx) -> Option<usize> {
        self.internal
            .get(n as usize)
            .filter(|&&i| i != u32::MAX)
            .map(|&i| i as usize)
    }
    /// The endpoints (active indices) of collapsed edge `e`.
    pub fn edge_endpoints(&self, e: usize) -> (usize, usize) {
        (self.edge_from[e] as usize, self.edge_to[e] as usize)
    }
    pub(crate) fn members(&self, e: usize) -> &[EdgeIdx] {
        &self.members[self.members_off[e] as usize..self.members_off[e + 1] as usize]
    }
    /// Bytes held by the arrays (allocator overhead excluded).
    pub fn heap_bytes(&self) -> usize {
        (self.snap.capacity()
            + self.internal.capacity()
            + self.edge_from.capacity()
            + self.edge_to.capacity()
            + self.members_off.capacity()
            + self.members.capacity())
            * 4
            + self.out.heap_bytes()
            + self.inn.heap_bytes()
    }
}

/// How a directed channel hop is costed for shortest paths. Every variant produces one
/// weight per enabled direction; a collapsed edge takes the minimum over its channels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Weighting {
    /// Every hop costs 1 (breadth-first search).
    Hops,
    /// The fee the hop charges to forward `amount_msat`: `max(base + floor(amount x ppm /
    /// 10^6), 1)` msat. Integer, so equal-cost ties are exact. The floor of 1 msat keeps
    /// zero-fee hops from making zero-cost cycles (and matches the reference graph).
    Fee {
        /// Payment amount (msat) the fee is computed for.
        amount_msat: u64,
    },
    /// The router's probability cost for sending `amount_msat` through a channel of capacity
    /// `c` msat: `-ln((c + 1 - amount) / (c + 1))`. Channels smaller than the amount are
    /// unusable. Floating point: two paths tie only when their sums are bit-identical.
    Probability {
        /// Payment amount (msat) the probability is computed for.
        amount_msat: u64,
    },
}

impl Weighting {
    /// A short label (`hops`, `fee`, `probability`).
    pub fn label(&self) -> &'static str {
        match self {
            Weighting::Hops => "hops",
            Weighting::Fee { .. } => "fee",
            Weighting::Probability { .. } => "probability",
        }
    }
}

/// Per-edge weights of a [`Weighting`] on an [`ActiveGraph`], laid out along both adjacencies
/// so that searches read them sequentially. An unusable edge has weight [`Cost::INF`].
#[derive(Debug, Clone)]
pub(crate) struct Weights<C> {
    pub out: Vec<C>,
    pub inn: Vec<C>,
    /// The channel direction each collapsed edge stands for (its cheapest usable member).
    pub best: Vec<EdgeIdx>,
}

impl<C: Cost> Weights<C> {
    pub fn build(ag: &ActiveGraph, w: impl Fn(EdgeIdx) -> Option<C>) -> Weights<C> {
        let m = ag.edge_count();
        let mut per: Vec<C> = Vec::with_capacity(m);
        let mut best = Vec::with_capacity(m);
        for e in 0..m {
            let mut cur: Option<(C, EdgeIdx)> = None;
            for &se in ag.members(e) {
                if let Some(c) = w(se) {
                    if cur.is_none_or(|(b, _)| c < b) {
                        cur = Some((c, se));
                    }
                }
            }
            per.push(cur.map_or(C::INF, |(c, _)| c));
            best.push(cur.map_or(ag.members(e)[0], |(_, se)| se));
        }
        let lay = |adj: &Adj| adj.eid.iter().map(|&e| per[e as usize]).collect::<Vec<C>>();
        Weights {
            out: lay(&ag.out),
            inn: lay(&ag.inn),
            best,
        }
    }
}

/// A path cost: `u64` msat/hops (exact) or `f64` (probability).
pub(crate) trait Cost: Copy + PartialOrd + Send + Sync + std::fmt::Debug + 'static {
    /// The priority queue Dijkstra uses for this cost type.
    type Queue: super::paths::Queue<Self>;
    const INF: Self;
    const ZERO: Self;
    /// Whether sums are exact (associative), which dropping dominated edges relies on.
    const EXACT: bool;
    /// Saturating addition (anything plus `INF` stays `INF`).
    fn plus(self, o: Self) -> Self;
    fn as_f64(self) -> f64;
}

impl Cost for u64 {
    type Queue = crate::radix::RadixHeap;
    const INF: u64 = u64::MAX;
    const ZERO: u64 = 0;
    const EXACT: bool = true;
    #[inline]
    fn plus(self, o: u64) -> u64 {
        self.saturating_add(o)
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Cost for f64 {
    type Queue = super::paths::BinaryQueue<f64>;
    const INF: f64 = f64::INFINITY;
    const ZERO: f64 = 0.0;
    const EXACT: bool = false;
    #[inline]
    fn plus(self, o: f64) -> f64 {
        self + o
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
}

/// Integer fee weight of one channel direction (see [`Weighting::Fee`]).
pub(crate) fn fee_weight(g: &Snapshot, e: EdgeIdx, amount_msat: u64) -> Option<u64> {
    g.edge_policy(e).map(|p| p.fee_msat(amount_msat).max(1))
}

/// Probability cost of one channel direction (see [`Weighting::Probability`]).
pub(crate) fn probability_weight(g: &Snapshot, e: EdgeIdx, amount_msat: u64) -> Option<f64> {
    let cap = g
        .channel(Snapshot::edge_channel(e))
        .capacity_sat
        .saturating_mul(1000) as f64
        + 1.0;
    let a = amount_msat as f64;
    if a >= cap {
        return None;
    }
    // -ln(1 - a/cap) via ln_1p keeps precision for amounts far below the capacity.
    Some(-(-a / cap).ln_1p())
}
