//! The immutable in-memory channel graph that every computation reads.
//!
//! Nodes are sorted by id and channels by scid, so two snapshots of the same data are
//! identical. A directed edge is `2 * channel + direction`, where direction 0 goes from
//! `node_1` to `node_2` (BOLT 7). Edges with a policy are listed per node in compressed
//! (CSR) adjacency arrays, both outgoing and incoming, so a search can walk either way.

use std::collections::HashMap;

mod patch;
pub use patch::PatchError;

use crate::load::{ChannelRecord, NodeRecord, Record, UpdateRecord};
use crate::types::{NodeId, Scid};

/// Index of a node in a [`Snapshot`].
pub type NodeIdx = u32;
/// Index of a channel in a [`Snapshot`].
pub type ChannelIdx = u32;
/// Index of a directed edge: `2 * channel + direction`.
pub type EdgeIdx = u32;

/// One direction's forwarding policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    /// Fixed fee (msat) per forwarded HTLC.
    pub fee_base_msat: u32,
    /// Proportional fee in millionths (ppm) of the forwarded amount.
    pub fee_ppm: u32,
    /// Cltv delta (blocks) added when forwarding.
    pub cltv_delta: u16,
    /// Smallest HTLC (msat) forwarded.
    pub htlc_min_msat: u64,
    /// The announced maximum, or the capacity when none was announced.
    pub htlc_max_msat: u64,
    /// Whether the direction is disabled (it stays in the adjacency arrays; searches skip it).
    pub disabled: bool,
    /// The `channel_update` timestamp this policy comes from.
    pub timestamp: u32,
}

/// `base + floor(amount x ppm / 10^6)`, saturating at `u64::MAX` (a base and a rate near
/// `u32::MAX` on a large amount exceed it): u64 arithmetic (a multiply-shift) in the common
/// case, u128 only when the product overflows.
#[inline]
pub(crate) fn policy_fee(base: u32, ppm: u32, amount: u64) -> u64 {
    let ppm = u64::from(ppm);
    let prop = match amount.checked_mul(ppm) {
        Some(p) => p / 1_000_000,
        None => u64::try_from(u128::from(amount) * u128::from(ppm) / 1_000_000).unwrap_or(u64::MAX),
    };
    u64::from(base).saturating_add(prop)
}

impl Policy {
    /// The fee this hop charges to forward `amount_msat`: base + floor(amount x ppm / 10^6),
    /// saturating at `u64::MAX`.
    pub fn fee_msat(&self, amount_msat: u64) -> u64 {
        policy_fee(self.fee_base_msat, self.fee_ppm, amount_msat)
    }

    /// The `channel_update` that announces this policy for `direction` of `scid`.
    pub fn to_update(&self, scid: Scid, direction: u8) -> UpdateRecord {
        UpdateRecord {
            scid,
            direction,
            timestamp: self.timestamp,
            message_flags: 1,
            channel_flags: direction | if self.disabled { 2 } else { 0 },
            disabled: self.disabled,
            cltv_delta: self.cltv_delta,
            htlc_min_msat: self.htlc_min_msat,
            htlc_max_msat: Some(self.htlc_max_msat),
            fee_base_msat: self.fee_base_msat,
            fee_ppm: self.fee_ppm,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A channel: its endpoints, capacity and the policy of each direction.
pub struct Channel {
    /// The channel's short channel id.
    pub scid: Scid,
    /// `[node_1, node_2]` in BOLT 7 order.
    pub nodes: [NodeIdx; 2],
    /// Funding amount (sat).
    pub capacity_sat: u64,
    /// Policy per direction; `None` when no `channel_update` is known.
    pub policies: [Option<Policy>; 2],
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A node: its id and what its newest announcement said.
pub struct Node {
    /// The node's public key.
    pub id: NodeId,
    /// The announced alias; `None` when the node never announced itself.
    pub alias: Option<Box<str>>,
    /// Timestamp of the newest announcement, if any.
    pub announced_at: Option<u32>,
}

/// The graph. Build it with [`GraphBuilder`] or [`Snapshot::from_records`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<Node>,
    channels: Vec<Channel>,
    node_index: HashMap<NodeId, NodeIdx>,
    scid_index: HashMap<Scid, ChannelIdx>,
    out_offsets: Vec<u32>,
    out_edges: Vec<EdgeIdx>,
    in_offsets: Vec<u32>,
    in_edges: Vec<EdgeIdx>,
    chan_offsets: Vec<u32>,
    node_channels: Vec<ChannelIdx>,
}

impl Snapshot {
    /// Builds a snapshot from records in any order (see [`GraphBuilder`]).
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Snapshot {
        let mut b = GraphBuilder::default();
        for r in records {
            b.add(r);
        }
        b.build()
    }

    /// Number of nodes (announced or known only from a channel).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
    /// Number of directed edge slots (`2 * channel_count`), including ones without a policy.
    pub fn edge_slot_count(&self) -> usize {
        self.channels.len() * 2
    }
    /// All nodes, sorted by id (a [`NodeIdx`] indexes this).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    /// All channels, sorted by scid (a [`ChannelIdx`] indexes this).
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
    /// Node `n`. Panics when `n` is out of range.
    pub fn node(&self, n: NodeIdx) -> &Node {
        &self.nodes[n as usize]
    }
    /// Channel `c`. Panics when `c` is out of range.
    pub fn channel(&self, c: ChannelIdx) -> &Channel {
        &self.channels[c as usize]
    }
    /// The index of node `id`; `None` when it is not in the graph.
    pub fn node_idx(&self, id: &NodeId) -> Option<NodeIdx> {
        self.node_index.get(id).copied()
    }
    /// The index of channel `scid`; `None` when it is not in the graph.
    pub fn channel_idx(&self, scid: Scid) -> Option<ChannelIdx> {
        self.scid_index.get(&scid).copied()
    }

    /// The channel an edge belongs to.
    pub fn edge_channel(e: EdgeIdx) -> ChannelIdx {
        e >> 1
    }
    /// The direction of an edge: 0 from `node_1` to `node_2`, 1 the other way.
    pub fn edge_direction(e: EdgeIdx) -> usize {
        (e & 1) as usize
    }
    /// The node an edge leaves. Panics when `e` is out of range.
    pub fn edge_from(&self, e: EdgeIdx) -> NodeIdx {
        self.channels[(e >> 1) as usize].nodes[(e & 1) as usize]
    }
    /// The node an edge enters. Panics when `e` is out of range.
    pub fn edge_to(&self, e: EdgeIdx) -> NodeIdx {
        self.channels[(e >> 1) as usize].nodes[1 - (e & 1) as usize]
    }
    /// The edge's policy; `None` when no `channel_update` is known for that direction.
    /// Panics when `e` is out of range.
    pub fn edge_policy(&self, e: EdgeIdx) -> Option<&Policy> {
        self.channels[(e >> 1) as usize].policies[(e & 1) as usize].as_ref()
    }
    /// Whether the edge has a policy and is not disabled.
    pub fn edge_enabled(&self, e: EdgeIdx) -> bool {
        self.edge_policy(e).is_some_and(|p| !p.disabled)
    }

    /// Edges leaving `n` that have a policy (enabled or not).
    pub fn out_edges(&self, n: NodeIdx) -> &[EdgeIdx] {
        let n = n as usize;
        &self.out_edges[self.out_offsets[n] as usize..self.out_offsets[n + 1] as usize]
    }
    /// Edges entering `n` that have a policy (enabled or not).
    pub fn in_edges(&self, n: NodeIdx) -> &[EdgeIdx] {
        let n = n as usize;
        &self.in_edges[self.in_offsets[n] as usize..self.in_offsets[n + 1] as usize]
    }
    /// Every channel of `n`, with or without policies, in scid order.
    pub fn channels_of(&self, n: NodeIdx) -> &[ChannelIdx] {
        let n = n as usize;
        &self.node_channels[self.chan_offsets[n] as usize..self.chan_offsets[n + 1] as usize]
    }
    /// Sum of the capacities of `n`'s channels.
    pub fn node_capacity_sat(&self, n: NodeIdx) -> u64 {
        self.channels_of(n)
            .iter()
            .map(|&c| self.channels[c as usize].capacity_sat)
            .sum()
    }
    /// Bytes held by this snapshot's arrays and maps (an estimate: allocator overhead excluded).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let aliases: usize = self
            .nodes
            .iter()
            .filter_map(|n| n.alias.as_ref().map(|a| a.len()))
            .sum();
        self.nodes.capacity() * size_of::<Node>()
            + aliases
            + self.channels.capacity() * size_of::<Channel>()
            + self.node_index.capacity() * (size_of::<NodeId>() + 4 + 8)
            + self.scid_index.capacity() * (8 + 4 + 8)
            + (self.out_offsets.capacity()
                + self.out_edges.capacity()
                + self.in_offsets.capacity()
                + self.in_edges.capacity()
                + self.chan_offsets.capacity()
                + self.node_channels.capacity())
                * 4
    }
}

/// Accumulates records (in any order, with repeats) into a [`Snapshot`]: for each channel
/// direction and each node the newest update or announcement wins.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: HashMap<NodeId, Option<(u32, Box<str>)>>,
    channels: HashMap<Scid, ChannelRecord>,
    updates: HashMap<(Scid, u8), UpdateRecord>,
}

impl GraphBuilder {
    /// Adds one record of any kind.
    pub fn add(&mut self, record: Record) {
        match record {
            Record::Channel(c) => self.add_channel(c),
            Record::Update(u) => self.add_update(u),
            Record::Node(n) => self.add_node(n),
        }
    }

    /// Adds (or replaces) a channel announcement.
    pub fn add_channel(&mut self, c: ChannelRecord) {
        self.channels.insert(c.scid, c);
    }

    /// Adds a direction's update; an older one (by timestamp) than the one held is ignored, an
    /// equal or newer one replaces it.
    pub fn add_update(&mut self, u: UpdateRecord) {
        let key = (u.scid, u.direction & 1);
        match self.updates.get(&key) {
            Some(old) if old.timestamp > u.timestamp => {}
            _ => {
                self.updates.insert(key, u);
            }
        }
    }

    /// Adds a node; its announcement replaces the one held unless that one is newer.
    pub fn add_node(&mut self, n: NodeRecord) {
        let entry = self.nodes.entry(n.node_id).or_insert(None);
        if let Some(a) = n.announcement {
            if entry.as_ref().is_none_or(|(ts, _)| *ts <= a.timestamp) {
                *entry = Some((a.timestamp, a.alias.into_boxed_str()));
            }
        }
    }

    /// Builds the snapshot. Nodes named only by a channel appear without announcement; an
    /// update whose channel was never announced is dropped.
    pub fn build(mut self) -> Snapshot {
        for c in self.channels.values() {
            self.nodes.entry(c.node_1).or_insert(None);
            self.nodes.entry(c.node_2).or_insert(None);
        }
        let mut nodes: Vec<Node> = self
            .nodes
            .into_iter()
            .map(|(id, ann)| Node {
                id,
                announced_at: ann.as_ref().map(|(ts, _)| *ts),
                alias: ann.map(|(_, alias)| alias),
            })
            .collect();
        nodes.sort_unstable_by_key(|n| n.id);
        let node_index: HashMap<NodeId, NodeIdx> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id, i as NodeIdx))
            .collect();

        let mut records: Vec<ChannelRecord> = self.channels.into_values().collect();
        records.sort_unstable_by_key(|c| c.scid);
        let channels: Vec<Channel> = records
            .into_iter()
            .map(|c| {
                let policy = |dir: u8| {
                    self.updates.get(&(c.scid, dir)).map(|u| Policy {
                        fee_base_msat: u.fee_base_msat,
                        fee_ppm: u.fee_ppm,
                        cltv_delta: u.cltv_delta,
                        htlc_min_msat: u.htlc_min_msat,
                        htlc_max_msat: u.htlc_max_msat.unwrap_or(c.capacity_sat * 1000),
                        disabled: u.disabled,
                        timestamp: u.timestamp,
                    })
                };
                Channel {
                    scid: c.scid,
                    nodes: [node_index[&c.node_1], node_index[&c.node_2]],
                    capacity_sat: c.capacity_sat,
                    policies: [policy(0), policy(1)],
                }
            })
            .collect();
        let scid_index = channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.scid, i as ChannelIdx))
            .collect();

        let n = nodes.len();
        let mut out_adj: Vec<(NodeIdx, EdgeIdx)> = Vec::with_capacity(channels.len() * 2);
        let mut in_adj: Vec<(NodeIdx, EdgeIdx)> = Vec::with_capacity(channels.len() * 2);
        let mut chan_adj: Vec<(NodeIdx, ChannelIdx)> = Vec::with_capacity(channels.len() * 2);
        for (ci, c) in channels.iter().enumerate() {
            let ci = ci as u32;
            chan_adj.push((c.nodes[0], ci));
            chan_adj.push((c.nodes[1], ci));
            for dir in 0..2 {
                if c.policies[dir].is_some() {
                    let e = ci * 2 + dir as u32;
                    out_adj.push((c.nodes[dir], e));
                    in_adj.push((c.nodes[1 - dir], e));
                }
            }
        }
        let (out_offsets, out_edges) = csr(n, out_adj);
        let (in_offsets, in_edges) = csr(n, in_adj);
        let (chan_offsets, node_channels) = csr(n, chan_adj);
        Snapshot {
            nodes,
            channels,
            node_index,
            scid_index,
            out_offsets,
            out_edges,
            in_offsets,
            in_edges,
            chan_offsets,
            node_channels,
        }
    }
}

/// Counting sort of `(node, item)` pairs into offsets + items, keeping input order per node.
fn csr(n: usize, pairs: Vec<(NodeIdx, u32)>) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; n + 1];
    for &(node, _) in &pairs {
        offsets[node as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut items = vec![0u32; pairs.len()];
    for (node, item) in pairs {
        let slot = &mut fill[node as usize];
        items[*slot as usize] = item;
        *slot += 1;
    }
    (offsets, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestGraph;

    #[test]
    fn newest_update_wins_and_edges_are_indexed_both_ways() {
        let mut t = TestGraph::new(3);
        let ab = t.channel(0, 1, 100_000);
        t.policy(ab, 0, 1000, 10, 40);
        t.policy_at(ab, 0, 5, 20, 40, 1); // older: ignored
        t.policy(ab, 1, 0, 1, 144);
        let bc = t.channel(1, 2, 50_000);
        t.policy(bc, 1, 0, 1, 144);
        let g = t.build();
        assert_eq!(g.node_count(), 3);
        assert_eq!(g.channel_count(), 2);
        let a = g.node_idx(&TestGraph::node_id(0)).unwrap();
        let b = g.node_idx(&TestGraph::node_id(1)).unwrap();
        let c = g.node_idx(&TestGraph::node_id(2)).unwrap();
        let e = g.out_edges(a)[0];
        assert_eq!((g.edge_from(e), g.edge_to(e)), (a, b));
        assert_eq!(g.edge_policy(e).unwrap().fee_base_msat, 1000);
        assert_eq!(g.out_edges(b).len(), 2);
        assert!(g.out_edges(c).is_empty(), "c has no policy on bc");
        assert_eq!(g.in_edges(b).len(), 1, "only a -> b has a policy");
        assert_eq!(g.in_edges(c).len(), 1);
        assert_eq!(g.channels_of(c).len(), 1);
        assert_eq!(g.node_capacity_sat(b), 150_000);
        assert_eq!(g.edge_policy(e).unwrap().htlc_max_msat, 100_000_000);
    }

    #[test]
    fn fee_is_base_plus_floored_proportional() {
        let p = Policy {
            fee_base_msat: 1000,
            fee_ppm: 1,
            cltv_delta: 40,
            htlc_min_msat: 0,
            htlc_max_msat: u64::MAX,
            disabled: false,
            timestamp: 0,
        };
        assert_eq!(p.fee_msat(999_999), 1000);
        assert_eq!(p.fee_msat(1_000_000), 1001);
        assert_eq!(p.fee_msat(u64::MAX / 2), 1000 + (u64::MAX / 2) / 1_000_000);
        // Base u32::MAX and rate u32::MAX ppm on all bitcoin (2.1e18 msat): about 9e21 msat,
        // past u64: saturates instead of wrapping around (or panicking).
        let dear = Policy {
            fee_base_msat: u32::MAX,
            fee_ppm: u32::MAX,
            ..p
        };
        let all_bitcoin = crate::route::MAX_AMOUNT_MSAT;
        assert_eq!(dear.fee_msat(all_bitcoin), u64::MAX);
        assert_eq!(dear.fee_msat(u64::MAX), u64::MAX);
        // Just below the overflow the fee is exact.
        let exact =
            u128::from(u32::MAX) + u128::from(1u64 << 44) * u128::from(u32::MAX) / 1_000_000;
        assert_eq!(u128::from(dear.fee_msat(1 << 44)), exact);
    }
}
