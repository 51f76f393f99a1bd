//! The index's enabled edges: the reverse adjacency the searches walk (one [`HotEdge`] per
//! slot, plus the few cold per-slot fields) and the forward adjacency over the same slots
//! (see the layout in the [index documentation](super)).

use std::ops::Range;

use super::policy_fee;
use crate::snapshot::{NodeIdx, Snapshot};

/// The fields the searches read for every in-edge they scan, packed so that one edge is
/// one half cache line instead of five separate array reads. Aligned to it: unaligned, half
/// the edges straddled two lines (the allocator aligns to 16 bytes), and reading such an
/// edge's limit and then its fee missed twice.
#[derive(Debug, Clone, Copy)]
#[repr(align(32))]
pub(crate) struct HotEdge {
    /// min(htlc_maximum, capacity): the most one HTLC may carry over the edge.
    pub htlc_max: u64,
    pub htlc_min: u64,
    /// Tail node (the `u` of `u -> v`), in the index's numbering.
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

/// What the forward ball reads of an out-edge, in out-position order: a node's out-edges are
/// then one contiguous run instead of four reads per edge spread over the slots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutEdge {
    /// min(htlc_maximum, capacity).
    pub htlc_max: u64,
    /// Head node, in the index's numbering.
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

/// Enabled edges as slots: for node `v`, slots `in_off[v]..in_off[v+1]` are the edges
/// `from -> v`, split at `in_mid[v]` into two parts (see [`Edges::in_parts`]), each sorted by
/// htlc_max, largest first. The forward adjacency lists, for node `u`, the positions
/// `out_off[u]..out_off[u+1]`, each naming a slot whose tail is `u` (`out_slot`) and holding
/// what the forward ball reads of it (`out_hot`).
#[derive(Debug)]
pub(crate) struct Edges {
    in_off: Vec<u32>,
    in_mid: Vec<u32>,
    /// Per slot, the search's hot fields.
    hot: Vec<HotEdge>,
    /// Per slot, the head node (the `v` of `from -> v`), for forward walks.
    to: Vec<u32>,
    /// Per slot, the snapshot's edge index (`2 * channel + direction`).
    edge: Vec<u32>,
    /// Per slot, the channel's capacity in msat (the probability model's liquidity bound).
    cap_msat: Vec<u64>,
    out_off: Vec<u32>,
    out_slot: Vec<u32>,
    out_hot: Vec<OutEdge>,
}

/// Per index node: its one enabled in-neighbour, [`NO_NODE`] if none, [`MANY`] if several.
const NO_NODE: u32 = u32::MAX;
const MANY: u32 = u32::MAX - 1;

impl Edges {
    /// The enabled edges of `g`, nodes numbered as `order` lists them (`rank` is its inverse).
    pub(super) fn build(g: &Snapshot, order: &[NodeIdx], rank: &[u32]) -> Edges {
        let n = order.len();
        let (in_off, in_mid, hot, edge, cap_msat) = in_lists(g, order, rank);
        let mut to = vec![0u32; hot.len()];
        for v in 0..n {
            for s in in_off[v]..in_off[v + 1] {
                to[s as usize] = v as u32;
            }
        }
        let mut out_off = vec![0u32; n + 1];
        for e in &hot {
            out_off[e.from as usize + 1] += 1;
        }
        for i in 0..n {
            out_off[i + 1] += out_off[i];
        }
        let mut fill = out_off.clone();
        let mut out_slot = vec![0u32; hot.len()];
        for (s, e) in hot.iter().enumerate() {
            out_slot[fill[e.from as usize] as usize] = s as u32;
            fill[e.from as usize] += 1;
        }
        let out_hot = out_slot
            .iter()
            .map(|&s| {
                let (e, s) = (&hot[s as usize], s as usize);
                OutEdge {
                    htlc_max: e.htlc_max,
                    to: to[s],
                    base: e.base,
                    ppm: e.ppm,
                }
            })
            .collect();
        Edges {
            in_off,
            in_mid,
            hot,
            to,
            edge,
            cap_msat,
            out_off,
            out_slot,
            out_hot,
        }
    }

    /// Number of slots (enabled directed edges).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.hot.len()
    }

    /// Every slot's hot fields.
    #[inline]
    pub(crate) fn hot(&self) -> &[HotEdge] {
        &self.hot
    }

    /// Tail node of slot `s`.
    #[inline]
    pub(crate) fn from(&self, s: usize) -> u32 {
        self.hot[s].from
    }

    /// Head node of slot `s`.
    #[inline]
    pub(crate) fn to(&self, s: usize) -> u32 {
        self.to[s]
    }

    /// The snapshot's edge index of slot `s`.
    #[inline]
    pub(crate) fn edge(&self, s: usize) -> u32 {
        self.edge[s]
    }

    /// The snapshot's channel index of slot `s`.
    #[inline]
    pub(crate) fn channel(&self, s: usize) -> u32 {
        self.edge[s] >> 1
    }

    /// Capacity (msat) of slot `s`'s channel.
    #[inline]
    pub(crate) fn cap_msat(&self, s: usize) -> u64 {
        self.cap_msat[s]
    }

    /// Fee of slot `s` for forwarding `amount` (saturating).
    #[inline]
    pub(crate) fn fee(&self, s: usize, amount: u64) -> u64 {
        self.hot[s].fee(amount)
    }

    /// What the sending node of slot `s` must receive to forward `amount` over it: `amount`
    /// plus its fee, except on the payer's own first channel, which charges nothing.
    #[inline]
    pub(crate) fn inbound(&self, s: usize, amount: u64, payer_hop: bool) -> u64 {
        if payer_hop {
            amount
        } else {
            amount.saturating_add(self.fee(s, amount))
        }
    }

    /// `v`'s in-edge slots.
    #[inline]
    pub(crate) fn in_slots(&self, v: u32) -> Range<usize> {
        self.in_off[v as usize] as usize..self.in_off[v as usize + 1] as usize
    }

    /// `v`'s in-edges as their two parts, each sorted by htlc_max, largest first: edges
    /// whose tail has another in-neighbour, then (empty unless `dead_ends`) edges whose tail
    /// can only be entered from `v` or not at all, which only matter when the tail is the
    /// payer.
    #[inline]
    pub(crate) fn in_parts(&self, v: u32, dead_ends: bool) -> [Range<usize>; 2] {
        let vi = v as usize;
        let (a, m) = (self.in_off[vi] as usize, self.in_mid[vi] as usize);
        let b = if dead_ends {
            self.in_off[vi + 1] as usize
        } else {
            m
        };
        [a..m, m..b]
    }

    /// Every in-edge part as a slot range, in node order (what the fee orders sort).
    pub(super) fn all_in_parts(&self) -> Vec<Range<usize>> {
        (0..self.in_mid.len() as u32)
            .flat_map(|v| self.in_parts(v, true))
            .collect()
    }

    /// The end of the in-edge part of `v` that slot position `p` lies in.
    #[inline]
    pub(crate) fn in_part_end(&self, v: u32, p: usize) -> usize {
        let vi = v as usize;
        if p < self.in_mid[vi] as usize {
            self.in_mid[vi] as usize
        } else {
            self.in_off[vi + 1] as usize
        }
    }

    /// The slots whose tail is `u`.
    #[inline]
    pub(crate) fn out_slots(&self, u: u32) -> &[u32] {
        &self.out_slot[self.out_range(u)]
    }

    /// `u`'s out-positions (indexes of [`Edges::out_hot`] and of the out fee orders).
    #[inline]
    pub(crate) fn out_range(&self, u: u32) -> Range<usize> {
        self.out_off[u as usize] as usize..self.out_off[u as usize + 1] as usize
    }

    /// Every out-position's forward fields.
    #[inline]
    pub(crate) fn out_hot(&self) -> &[OutEdge] {
        &self.out_hot
    }

    /// The tail node of out-position `p`.
    #[inline]
    pub(crate) fn out_tail(&self, p: usize) -> u32 {
        self.from(self.out_slot[p] as usize)
    }

    /// Every node's out-positions as a range, in node order.
    pub(super) fn all_out_ranges(&self) -> Vec<Range<usize>> {
        self.out_off
            .windows(2)
            .map(|w| w[0] as usize..w[1] as usize)
            .collect()
    }

    pub(super) fn in_degree(&self, v: u32) -> usize {
        self.in_slots(v).len()
    }

    pub(super) fn out_degree(&self, u: u32) -> usize {
        self.out_range(u).len()
    }

    /// Bytes held by the arrays.
    pub(super) fn heap_bytes(&self) -> usize {
        4 * (self.in_off.capacity()
            + self.in_mid.capacity()
            + self.to.capacity()
            + self.edge.capacity()
            + self.out_off.capacity()
            + self.out_slot.capacity())
            + 8 * self.cap_msat.capacity()
            + std::mem::size_of::<HotEdge>() * self.hot.capacity()
            + std::mem::size_of::<OutEdge>() * self.out_hot.capacity()
    }
}

type InLists = (Vec<u32>, Vec<u32>, Vec<HotEdge>, Vec<u32>, Vec<u64>);

/// The reverse adjacency: `in_off`, `in_mid`, and per slot the hot fields, the snapshot edge
/// and the capacity.
fn in_lists(g: &Snapshot, order: &[NodeIdx], rank: &[u32]) -> InLists {
    let n = order.len();
    let tail = |e| rank[g.edge_from(e) as usize];
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
    let mut in_off = Vec::with_capacity(n + 1);
    in_off.push(0u32);
    let mut in_mid = Vec::with_capacity(n);
    let (mut hot, mut edge, mut cap_msat) = (Vec::new(), Vec::new(), Vec::new());
    let mut incoming = Vec::new();
    for (v, &snapshot_v) in order.iter().enumerate() {
        let v = v as u32;
        // A tail whose only in-neighbour is `v` itself leads backward nowhere but to `v`:
        // unless it is the payer, relaxing it is wasted work. Such edges go last (the second
        // part, see `Edges::in_parts`), so searches can skip them. Within each part, largest
        // htlc limit first: a search stops scanning at the first edge that cannot carry its
        // label.
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
            incoming.push((dead_end, p.htlc_max_msat.min(cap), e, p, cap));
        }
        incoming.sort_by_key(|&(dead_end, max, e, ..)| (dead_end, std::cmp::Reverse(max), e));
        in_mid.push((hot.len() + incoming.iter().filter(|x| !x.0).count()) as u32);
        for &(_, htlc_max, e, p, cap) in &incoming {
            hot.push(HotEdge {
                htlc_max,
                htlc_min: p.htlc_min_msat,
                from: tail(e),
                base: p.fee_base_msat,
                ppm: p.fee_ppm,
                cltv: p.cltv_delta,
            });
            edge.push(e);
            cap_msat.push(cap);
        }
        in_off.push(hot.len() as u32);
    }
    (in_off, in_mid, hot, edge, cap_msat)
}
