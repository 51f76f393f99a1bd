//! The payer's view of the graph for one query: the cached index as is when the query adds
//! nothing, else a private index of the cached graph with the payer's first hops (replacing
//! its public channels), the invoice's route hints, in-flight HTLCs taken off capacities and
//! learned limits on `htlc_maximum_msat`. The private index borrows the cached one's landmark
//! tables when they stay admissible (module documentation of `router`).

use std::collections::HashMap;
use std::sync::Arc;

use lightning::bitcoin::secp256k1::PublicKey;
use lightning::ln::channel_state::ChannelDetails;
use lightning::routing::gossip::NodeId as LdkNodeId;
use lightning::routing::router::{InFlightHtlcs, RouteHint};
use lightning::util::ser::Writeable;
use switchyard_graph::load::{ChannelRecord, UpdateRecord};
use switchyard_graph::route::{self as engine, RoutingIndex};
use switchyard_graph::{GraphBuilder, NodeId, Scid};

use super::base::{add_channel, node_id, BaseChannel, BaseGraph};
use super::Query;

/// Where an edge of a per-query index came from, when it is not a public channel.
#[derive(Debug, Clone, Copy)]
pub(super) enum Extra {
    /// `first_hops[i]`.
    FirstHop(usize),
    /// A route hint hop, with its real scid.
    Hint(u64),
}

/// The index a query searches, and how to read its scids back.
pub(super) struct Prepared {
    pub(super) index: Arc<RoutingIndex>,
    /// Synthetic scids of first hops and hints (they never collide with the graph's).
    pub(super) extras: HashMap<Scid, Extra>,
}

/// Capacity (sat) given to hint channels without an `htlc_maximum_msat`: all bitcoin, i.e.
/// unknown and not limiting (LDK treats them as infinite).
const UNKNOWN_CAPACITY_SAT: u64 = engine::MAX_AMOUNT_MSAT / 1000;

/// A one-directional private edge `from -> to`.
struct PrivateEdge {
    from: NodeId,
    to: NodeId,
    capacity_sat: u64,
    fee_base_msat: u32,
    fee_ppm: u32,
    cltv_delta: u16,
    htlc_min_msat: u64,
    htlc_max_msat: u64,
}

/// The private graph of one query, as it is built.
struct PrivateGraph<'a> {
    base: &'a BaseGraph,
    /// `None` when no HTLC is in flight.
    inflight: Option<&'a InFlightHtlcs>,
    builder: GraphBuilder,
    extras: HashMap<Scid, Extra>,
    /// The next synthetic scid to try (counting down from `u64::MAX`).
    next_scid: u64,
    /// Whether the cached landmark tables stay admissible lower bounds on this graph: true
    /// while it only adds the payer's own channels and hints into the payee or into nodes
    /// the graph lacks (see `RoutingIndex::build_with_landmarks_of`).
    reuse_landmarks: bool,
}

/// The index for this query: the cached one when nothing is added, else a private one with
/// the first hops (replacing the payer's public channels), the hints and in-flight HTLCs.
pub(super) fn prepare(
    q: &Query<'_>,
    payer: &NodeId,
    payee: &PublicKey,
    first_hops: Option<&[&ChannelDetails]>,
    route_hints: &[RouteHint],
    inflight: &InFlightHtlcs,
) -> Prepared {
    let base = q.base;
    let has_inflight = inflight.encode().len() > InFlightHtlcs::new().encode().len();
    let has_hints = route_hints.iter().any(|h| !h.0.is_empty());
    if first_hops.is_none() && !has_hints && !has_inflight && q.caps.is_empty() {
        return Prepared {
            index: base.index.clone(),
            extras: HashMap::new(),
        };
    }
    let mut g = PrivateGraph {
        base,
        inflight: has_inflight.then_some(inflight),
        builder: GraphBuilder::default(),
        extras: HashMap::new(),
        next_scid: u64::MAX,
        reuse_landmarks: true,
    };
    g.add_public(q.caps, payer, first_hops.is_some());
    let first_scids = g.add_first_hops(payer, first_hops.unwrap_or_default());
    g.add_hints(payee, route_hints, &first_scids);
    g.finish()
}

impl PrivateGraph<'_> {
    /// A scid the cached graph does not use.
    fn synthetic(&mut self) -> Scid {
        let snapshot = self.base.index.snapshot();
        loop {
            let s = Scid(self.next_scid);
            self.next_scid -= 1;
            if snapshot.channel_idx(s).is_none() {
                return s;
            }
        }
    }

    /// What HTLCs in flight take of the direction `from -> to` of `scid`.
    fn used(&self, from: &NodeId, to: &NodeId, scid: u64) -> u64 {
        let Some(inflight) = self.inflight else {
            return 0;
        };
        match (LdkNodeId::from_slice(&from.0), LdkNodeId::from_slice(&to.0)) {
            (Ok(f), Ok(t)) => inflight.used_liquidity_msat(&f, &t, scid).unwrap_or(0),
            _ => 0,
        }
    }

    /// The public channels, less what is in flight on them (both directions together), with
    /// the learned `caps` on their `htlc_maximum_msat`; the payer's own directions are left
    /// out when its first hops replace them.
    fn add_public(&mut self, caps: &HashMap<(u64, usize), u64>, payer: &NodeId, replace: bool) {
        for (i, c) in self.base.channels.iter().enumerate() {
            let in_flight = self
                .used(&c.nodes[0], &c.nodes[1], c.scid.0)
                .saturating_add(self.used(&c.nodes[1], &c.nodes[0], c.scid.0));
            let capacity_sat = c.capacity_sat.saturating_sub(in_flight.div_ceil(1000));
            let keep = |d: usize| !replace || c.nodes[d] != *payer;
            let cap = [caps.get(&(i as u64, 0)), caps.get(&(i as u64, 1))];
            if cap.iter().any(Option::is_some) {
                let mut capped = BaseChannel {
                    scid: c.scid,
                    nodes: c.nodes,
                    capacity_sat: c.capacity_sat,
                    policies: c.policies.clone(),
                };
                for (p, cap) in capped.policies.iter_mut().zip(cap) {
                    if let Some(&cap) = cap {
                        p.htlc_max_msat = Some(p.htlc_max_msat.map_or(cap, |m| m.min(cap)));
                    }
                }
                add_channel(&mut self.builder, &capped, capacity_sat, [keep(0), keep(1)]);
            } else {
                add_channel(&mut self.builder, c, capacity_sat, [keep(0), keep(1)]);
            }
        }
    }

    /// The payer's usable first hops, free, limited to what LDK says each can send now.
    /// Returns the scids (real and alias) of the payer's channels by peer.
    fn add_first_hops(
        &mut self,
        payer: &NodeId,
        first_hops: &[&ChannelDetails],
    ) -> HashMap<PublicKey, Vec<Option<u64>>> {
        let mut first_scids = HashMap::new();
        for (i, d) in first_hops.iter().enumerate() {
            if d.get_outbound_payment_scid().is_none() {
                continue; // not usable yet (LDK would refuse it outright)
            }
            let limit = d.next_outbound_htlc_limit_msat;
            let scid = self.synthetic();
            // Capacity in whole sat, rounded down, so that parts never sum above the limit.
            self.add_private(
                scid,
                PrivateEdge {
                    from: *payer,
                    to: node_id(&d.counterparty.node_id),
                    capacity_sat: limit / 1000,
                    fee_base_msat: 0,
                    fee_ppm: 0,
                    cltv_delta: 0,
                    htlc_min_msat: d.next_outbound_htlc_minimum_msat,
                    htlc_max_msat: limit,
                },
            );
            self.extras.insert(scid, Extra::FirstHop(i));
            first_scids
                .entry(d.counterparty.node_id)
                .or_insert_with(Vec::new)
                .extend([d.short_channel_id, d.outbound_scid_alias]);
        }
        first_scids
    }

    /// The route hints' hops, each walked from the payee back to the hint's entry, as LDK
    /// does: a hop over one of our own channels ends the hint (that hop and the ones before
    /// it are ours to choose).
    fn add_hints(
        &mut self,
        payee: &PublicKey,
        route_hints: &[RouteHint],
        first_scids: &HashMap<PublicKey, Vec<Option<u64>>>,
    ) {
        let payee_id = node_id(payee);
        for hint in route_hints {
            let targets = hint
                .0
                .iter()
                .skip(1)
                .map(|h| h.src_node_id)
                .chain(std::iter::once(*payee));
            let hops: Vec<_> = hint.0.iter().zip(targets).collect();
            for (hop, target) in hops.into_iter().rev() {
                if first_scids
                    .get(&target)
                    .is_some_and(|s| s.contains(&Some(hop.short_channel_id)))
                {
                    break;
                }
                let from = node_id(&hop.src_node_id);
                let to = node_id(&target);
                if from == to {
                    continue;
                }
                let capacity_sat = match hop.htlc_maximum_msat {
                    Some(m) => m.div_ceil(1000),
                    None => UNKNOWN_CAPACITY_SAT,
                }
                .saturating_sub(self.used(&from, &to, hop.short_channel_id).div_ceil(1000));
                let scid = self.synthetic();
                self.reuse_landmarks &=
                    to == payee_id || self.base.index.snapshot().node_idx(&to).is_none();
                self.add_private(
                    scid,
                    PrivateEdge {
                        from,
                        to,
                        capacity_sat,
                        fee_base_msat: hop.fees.base_msat,
                        fee_ppm: hop.fees.proportional_millionths,
                        cltv_delta: hop.cltv_expiry_delta,
                        htlc_min_msat: hop.htlc_minimum_msat.unwrap_or(0),
                        htlc_max_msat: hop.htlc_maximum_msat.unwrap_or(engine::MAX_AMOUNT_MSAT),
                    },
                );
                self.extras.insert(scid, Extra::Hint(hop.short_channel_id));
            }
        }
    }

    /// Adds `e` as a channel of its own (BOLT 7 order kept for the record).
    fn add_private(&mut self, scid: Scid, e: PrivateEdge) {
        let (node_1, node_2, direction) = if e.from < e.to {
            (e.from, e.to, 0)
        } else {
            (e.to, e.from, 1)
        };
        self.builder.add_channel(ChannelRecord {
            scid,
            node_1,
            node_2,
            capacity_sat: e.capacity_sat,
            funding_outpoint: None,
        });
        self.builder.add_update(UpdateRecord {
            scid,
            direction,
            timestamp: 0,
            message_flags: 1,
            channel_flags: direction,
            disabled: false,
            cltv_delta: e.cltv_delta,
            htlc_min_msat: e.htlc_min_msat,
            htlc_max_msat: Some(e.htlc_max_msat),
            fee_base_msat: e.fee_base_msat,
            fee_ppm: e.fee_ppm,
        });
    }

    /// The private index, with the cached landmark tables when they stay admissible
    /// (computing new ones is most of a build).
    fn finish(self) -> Prepared {
        let snapshot = Arc::new(self.builder.build());
        let index = if self.reuse_landmarks {
            RoutingIndex::build_with_landmarks_of(snapshot, &self.base.index)
        } else {
            RoutingIndex::build(snapshot)
        };
        Prepared {
            index: Arc::new(index),
            extras: self.extras,
        }
    }
}
