//! LDK's graph converted for our engine, and the cache of it: each usable public channel as
//! our records ([`BaseChannel`]), the index built over them ([`BaseGraph`]), the fingerprint
//! that tells when LDK's graph changed, and the learned limits mapped onto the channels.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use lightning::bitcoin::secp256k1::PublicKey;
use lightning::routing::gossip::{ChannelUpdateInfo, NodeId as LdkNodeId, ReadOnlyNetworkGraph};
use switchyard_graph::load::{ChannelRecord, UpdateRecord};
use switchyard_graph::route::RoutingIndex;
use switchyard_graph::{GraphBuilder, NodeId, Scid};

use super::LearnedLimit;

/// One usable public channel, as converted from LDK's graph.
pub(super) struct BaseChannel {
    pub(super) scid: Scid,
    /// `[node_one, node_two]`.
    pub(super) nodes: [NodeId; 2],
    pub(super) capacity_sat: u64,
    /// `[one_to_two, two_to_one]`.
    pub(super) policies: [UpdateRecord; 2],
}

/// The converted graph and its index, shared by queries until the graph changes.
pub(super) struct BaseGraph {
    pub(super) fingerprint: u64,
    pub(super) built_at: Instant,
    pub(super) channels: Vec<BaseChannel>,
    pub(super) index: Arc<RoutingIndex>,
}

/// The learned limits that bind (below the direction's own htlc_maximum), by position in
/// `base.channels` and direction.
pub(super) fn learned_caps(
    base: &BaseGraph,
    limits: &[LearnedLimit],
) -> HashMap<(u64, usize), u64> {
    if limits.is_empty() {
        return HashMap::new();
    }
    let position: HashMap<u64, usize> = base
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| (c.scid.0, i))
        .collect();
    let mut caps = HashMap::new();
    for l in limits {
        let Some(&i) = position.get(&l.scid) else {
            continue;
        };
        let c = &base.channels[i];
        let Some(towards) = ldk_node_bytes(&l.towards) else {
            continue;
        };
        // Direction 0 runs node_one -> node_two.
        let d = if towards == c.nodes[1] {
            0
        } else if towards == c.nodes[0] {
            1
        } else {
            continue;
        };
        let cap = l.max_msat.saturating_sub(1);
        if cap < c.policies[d].htlc_max_msat.unwrap_or(u64::MAX) {
            caps.insert((i as u64, d), cap);
        }
    }
    caps
}

pub(super) fn node_id(pk: &PublicKey) -> NodeId {
    NodeId::from_bytes_unchecked(pk.serialize())
}

pub(super) fn ldk_node_bytes(id: &LdkNodeId) -> Option<NodeId> {
    <[u8; 33]>::try_from(id.as_slice())
        .ok()
        .map(NodeId::from_bytes_unchecked)
}

/// splitmix64's finaliser: spreads the bits of each channel's summary before they are added.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The change signal: order-independent (LDK's maps iterate in random order) sum of mixed
/// per-channel and per-node summaries.
pub(super) fn fingerprint(g: &ReadOnlyNetworkGraph) -> u64 {
    let dir = |u: &Option<ChannelUpdateInfo>| {
        u.as_ref().map_or(0, |u| {
            (u64::from(u.last_update) << 1) | u64::from(u.enabled)
        })
    };
    let mut acc = mix(g.channels().len() as u64) ^ mix(!(g.nodes().len() as u64));
    for (scid, c) in g.channels().unordered_iter() {
        let summary = mix(*scid)
            ^ mix(dir(&c.one_to_two)).rotate_left(1)
            ^ mix(dir(&c.two_to_one)).rotate_left(2)
            ^ mix(c.capacity_sats.unwrap_or(u64::MAX)).rotate_left(3);
        acc = acc.wrapping_add(mix(summary));
    }
    for (id, n) in g.nodes().unordered_iter() {
        if let Some(a) = &n.announcement_info {
            let mut key = [0u8; 8];
            key.copy_from_slice(&id.as_slice()[1..9]);
            acc = acc.wrapping_add(mix(u64::from_le_bytes(key) ^ u64::from(a.last_update())));
        }
    }
    acc
}

/// LDK's graph as our records: channels with both directions known, no unknown required
/// features on the channel or its nodes (LDK's own filter when it routes).
pub(super) fn convert(g: &ReadOnlyNetworkGraph) -> Vec<BaseChannel> {
    let nodes = g.nodes();
    let unusable = |id: &LdkNodeId| {
        nodes
            .get(id)
            .and_then(|n| n.announcement_info.as_ref())
            .is_some_and(|a| a.features().requires_unknown_bits())
    };
    let mut out = Vec::with_capacity(g.channels().len());
    for (&scid, c) in g.channels().unordered_iter() {
        let (Some(one), Some(two)) = (&c.one_to_two, &c.two_to_one) else {
            continue;
        };
        if c.features.requires_unknown_bits() || unusable(&c.node_one) || unusable(&c.node_two) {
            continue;
        }
        let (Some(n1), Some(n2)) = (ldk_node_bytes(&c.node_one), ldk_node_bytes(&c.node_two))
        else {
            continue;
        };
        let scid = Scid(scid);
        // Without a known capacity LDK trusts the advertised htlc_maximum.
        let capacity_sat = c.capacity_sats.unwrap_or_else(|| {
            one.htlc_maximum_msat
                .max(two.htlc_maximum_msat)
                .div_ceil(1000)
        });
        let policy = |u: &ChannelUpdateInfo, direction: u8| UpdateRecord {
            scid,
            direction,
            timestamp: u.last_update,
            message_flags: 1,
            channel_flags: direction | if u.enabled { 0 } else { 2 },
            disabled: !u.enabled,
            cltv_delta: u.cltv_expiry_delta,
            htlc_min_msat: u.htlc_minimum_msat,
            htlc_max_msat: Some(u.htlc_maximum_msat),
            fee_base_msat: u.fees.base_msat,
            fee_ppm: u.fees.proportional_millionths,
        };
        out.push(BaseChannel {
            scid,
            nodes: [n1, n2],
            capacity_sat,
            policies: [policy(one, 0), policy(two, 1)],
        });
    }
    out
}

pub(super) fn add_channel(
    b: &mut GraphBuilder,
    c: &BaseChannel,
    capacity_sat: u64,
    directions: [bool; 2],
) {
    b.add_channel(ChannelRecord {
        scid: c.scid,
        node_1: c.nodes[0],
        node_2: c.nodes[1],
        capacity_sat,
        funding_outpoint: None,
    });
    for (d, p) in c.policies.iter().enumerate() {
        if directions[d] {
            b.add_update(p.clone());
        }
    }
}
