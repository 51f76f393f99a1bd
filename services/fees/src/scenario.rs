//! The graph as the node under study N's payers see it: policy overrides applied and N's
//! balances as htlc_max caps, plus the routing index over it.
//!
//! **How balance limits what a direction forwards.** A channel direction can forward an HTLC
//! only if its sender holds the amount on its side. For the node under study this is applied
//! as a cap on each direction's htlc_maximum: N -> peer carries at most N's local balance
//! (outbound liquidity), peer -> N at most the remote balance. For our own node the caller
//! passes the balances it knows ([`Balances::Known`]; a channel it does not list gets half);
//! for any other node, whose balances nobody knows, half of each channel's capacity is
//! assumed on each side ([`Balances::HalfCapacity`]). The cap applies to every payment
//! **independently**: the simulated payments do not consume liquidity from each other (each
//! sees the same balances), so a channel's volume over a demand can exceed its balance. The
//! other nodes' channels keep their announced limits (their balances are unknown).
//!
//! Overrides replace the base fee and ppm of directions leaving N; they are applied by
//! building a patched snapshot (`Snapshot::with_policies`) and a routing index over it
//! ([`Scenario::with_fees`] derives one scenario from another that way, cheaply).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchyard_graph::route::{Route, RouteError, RouteRequest, RoutingIndex};
use switchyard_graph::{EdgeIdx, NodeId, NodeIdx, Policy, Scid, Snapshot};

use crate::demand::Payment;
use crate::split::Split;
use crate::FeesError;

/// A direction's fee: `base_fee_msat + floor(amount x fee_ppm / 10^6)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeePolicy {
    /// Fixed fee (msat) per forwarded HTLC.
    pub base_fee_msat: u32,
    /// Proportional fee in millionths (ppm) of the forwarded amount.
    pub fee_ppm: u32,
}

impl FeePolicy {
    /// The fee `base_fee_msat` msat plus `fee_ppm` ppm.
    pub fn new(base_fee_msat: u32, fee_ppm: u32) -> Self {
        FeePolicy {
            base_fee_msat,
            fee_ppm,
        }
    }
    /// The fee to forward `amount_msat`, saturating (as the router computes it).
    pub fn fee_msat(&self, amount_msat: u64) -> u64 {
        // 64-bit arithmetic when the product fits (every realistic amount), 128 otherwise.
        let prop = match amount_msat.checked_mul(u64::from(self.fee_ppm)) {
            Some(x) => x / 1_000_000,
            None => {
                let x = u128::from(amount_msat) * u128::from(self.fee_ppm) / 1_000_000;
                u64::try_from(x).unwrap_or(u64::MAX)
            }
        };
        u64::from(self.base_fee_msat).saturating_add(prop)
    }
    /// The fee part of a policy.
    pub fn of(p: &Policy) -> Self {
        FeePolicy::new(p.fee_base_msat, p.fee_ppm)
    }
    /// `p` with this fee.
    pub fn apply(&self, p: &Policy) -> Policy {
        Policy {
            fee_base_msat: self.base_fee_msat,
            fee_ppm: self.fee_ppm,
            ..*p
        }
    }
}

/// "Charge this on the direction of `scid` leaving `from`" (`from` must be the node under
/// study).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// The channel.
    pub scid: Scid,
    /// The endpoint whose outgoing direction gets the fee (must be the node under study).
    pub from: NodeId,
    /// Fixed fee (msat) to charge.
    pub base_fee_msat: u32,
    /// Proportional fee (ppm) to charge.
    pub fee_ppm: u32,
}

/// One of our channels' balance (msat on each side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelBalance {
    /// The channel (one of the node under study's).
    pub scid: Scid,
    /// Our balance (msat): caps what the channel forwards outward.
    pub local_msat: u64,
    /// The peer's balance (msat): caps what the channel forwards inward.
    pub remote_msat: u64,
}

/// What N's channels can forward (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Balances {
    /// Half of each channel's capacity on each side (any node but ours).
    #[default]
    HalfCapacity,
    /// Our own node's balances; unlisted channels get half.
    Known(Vec<ChannelBalance>),
}

/// The patched graph, its routing index, and the node under study.
///
/// The index is built over the *split* graph (the `split` module: N's outgoing directions
/// on made-up channels, so that a route can be asked to avoid one direction of N's
/// channels); [`Scenario::find_route`] speaks real scids in and out. Its landmark tables
/// come from the *floor*: the same graph with N's outgoing fees at zero, whose fee distances
/// bound those of any fee patch of N's channels from below. So a scenario derived by
/// [`Scenario::with_fees`] (the oracle's candidates, the flow strategy's rounds, a what-if)
/// costs a patched copy and an index without landmark computation.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The graph with the overrides and balance caps applied (real scids).
    pub snapshot: Arc<Snapshot>,
    /// The node under study's index in `snapshot`.
    pub node: NodeIdx,
    /// The node under study's id.
    pub node_id: NodeId,
    split_graph: Arc<Snapshot>,
    split: Arc<Split>,
    index: Arc<RoutingIndex>,
    floor: Arc<RoutingIndex>,
}

/// The direction an override names, if it leaves `node`.
fn override_edge(g: &Snapshot, node: NodeIdx, o: &PolicyOverride) -> Result<EdgeIdx, FeesError> {
    let c = g
        .channel_idx(o.scid)
        .ok_or(FeesError::UnknownChannel(o.scid))?;
    let ch = g.channel(c);
    let dir = ch.nodes.iter().position(|&n| g.node(n).id == o.from);
    let Some(dir) = dir.filter(|&d| ch.nodes[d] == node) else {
        return Err(FeesError::NotNodeDirection {
            scid: o.scid,
            from: o.from,
        });
    };
    Ok(c * 2 + dir as u32)
}

/// N's directions with their capped policies and the given overrides, as edge changes.
fn changes(
    g: &Snapshot,
    node: NodeIdx,
    balances: &Balances,
    overrides: &[PolicyOverride],
) -> Result<Vec<(EdgeIdx, Policy)>, FeesError> {
    let node_id = g.node(node).id;
    let mut out: Vec<(EdgeIdx, Policy)> = Vec::new();
    let known: &[ChannelBalance] = match balances {
        Balances::HalfCapacity => &[],
        Balances::Known(v) => v,
    };
    for b in known {
        let c = g
            .channel_idx(b.scid)
            .ok_or(FeesError::UnknownChannel(b.scid))?;
        let ch = g.channel(c);
        if !ch.nodes.contains(&node) {
            return Err(FeesError::NotNodeDirection {
                scid: b.scid,
                from: node_id,
            });
        }
        let cap = u128::from(ch.capacity_sat) * 1000;
        if u128::from(b.local_msat) + u128::from(b.remote_msat) > cap {
            return Err(FeesError::Invalid(format!(
                "balances of {} exceed its capacity",
                b.scid
            )));
        }
    }
    for &c in g.channels_of(node) {
        let ch = g.channel(c);
        let half = ch.capacity_sat * 1000 / 2;
        let (local, remote) = known
            .iter()
            .find(|b| b.scid == ch.scid)
            .map_or((half, half), |b| (b.local_msat, b.remote_msat));
        for dir in 0..2 {
            let Some(p) = ch.policies[dir] else { continue };
            let cap = if ch.nodes[dir] == node { local } else { remote };
            let e = c * 2 + dir as u32;
            out.push((
                e,
                Policy {
                    htlc_max_msat: p.htlc_max_msat.min(cap),
                    ..p
                },
            ));
        }
    }
    for o in overrides {
        let e = override_edge(g, node, o)?;
        let slot = out
            .iter_mut()
            .find(|(x, _)| *x == e)
            .ok_or(FeesError::NoPolicy {
                scid: o.scid,
                from: o.from,
            })?;
        slot.1 = FeePolicy::new(o.base_fee_msat, o.fee_ppm).apply(&slot.1);
    }
    Ok(out)
}

impl Scenario {
    /// `graph` as seen for node `node`: balance caps and `overrides` applied, index built.
    pub fn new(
        graph: &Snapshot,
        node: &NodeId,
        balances: &Balances,
        overrides: &[PolicyOverride],
    ) -> Result<Scenario, FeesError> {
        let n = graph.node_idx(node).ok_or(FeesError::UnknownNode(*node))?;
        let changes = changes(graph, n, balances, overrides)?;
        let snapshot = graph
            .with_policies(&changes)
            .map_err(|e| FeesError::Invalid(e.to_string()))?;
        Ok(Scenario::from_patched(Arc::new(snapshot), n))
    }

    /// A scenario over an already patched snapshot.
    pub fn from_patched(snapshot: Arc<Snapshot>, node: NodeIdx) -> Scenario {
        let (split_graph, split) = Split::build(&snapshot, node);
        let zero: Vec<(EdgeIdx, Policy)> = split
            .dirs()
            .iter()
            .filter_map(|d| {
                let p = split_graph.edge_policy(d.fake_edge)?;
                Some((d.fake_edge, FeePolicy::new(0, 0).apply(p)))
            })
            .collect();
        let split_graph = Arc::new(split_graph);
        let floor = split_graph
            .with_policies(&zero)
            .map_or_else(|_| split_graph.clone(), Arc::new);
        let floor = Arc::new(RoutingIndex::build(floor));
        let index = RoutingIndex::build_with_landmarks_of(split_graph.clone(), &floor);
        Scenario {
            node_id: snapshot.node(node).id,
            snapshot,
            node,
            split_graph,
            split: Arc::new(split),
            index: Arc::new(index),
            floor,
        }
    }

    /// Whether `self` and `other` derive from one scenario by [`Scenario::with_fees`] alone
    /// (they share its floor index): then only N's outgoing fees can differ.
    pub(crate) fn same_family(&self, other: &Scenario) -> bool {
        Arc::ptr_eq(&self.floor, &other.floor)
    }

    /// This scenario with N's outgoing directions `changes` charging other fees (see the type
    /// documentation). Entries that are not an outgoing direction of N with a policy are
    /// ignored; with no effective change, the same scenario (and index) comes back.
    pub fn with_fees(&self, changes: &[(EdgeIdx, FeePolicy)]) -> Scenario {
        let mut real: Vec<(EdgeIdx, Policy)> = Vec::new();
        let mut fake: Vec<(EdgeIdx, Policy)> = Vec::new();
        for &(e, fee) in changes {
            let (Some(d), Some(p)) = (self.split.of_edge(e), self.snapshot.edge_policy(e)) else {
                continue;
            };
            if FeePolicy::of(p) != fee {
                real.push((e, fee.apply(p)));
                fake.push((d.fake_edge, fee.apply(p)));
            }
        }
        if real.is_empty() {
            return self.clone();
        }
        // Every listed edge has a policy in both graphs: the patches cannot fail.
        let (Ok(snapshot), Ok(split_graph)) = (
            self.snapshot.with_policies(&real),
            self.split_graph.with_policies(&fake),
        ) else {
            return self.clone();
        };
        let split_graph = Arc::new(split_graph);
        Scenario {
            snapshot: Arc::new(snapshot),
            node: self.node,
            node_id: self.node_id,
            index: Arc::new(RoutingIndex::build_with_landmarks_of(
                split_graph.clone(),
                &self.floor,
            )),
            split_graph,
            split: self.split.clone(),
            floor: self.floor.clone(),
        }
    }

    /// `overrides` as fee changes of N's directions, checked as [`Scenario::new`] checks them.
    pub fn override_changes(
        &self,
        overrides: &[PolicyOverride],
    ) -> Result<Vec<(EdgeIdx, FeePolicy)>, FeesError> {
        let g = &*self.snapshot;
        overrides
            .iter()
            .map(|o| {
                let e = override_edge(g, self.node, o)?;
                if g.edge_policy(e).is_none() {
                    return Err(FeesError::NoPolicy {
                        scid: o.scid,
                        from: o.from,
                    });
                }
                Ok((e, FeePolicy::new(o.base_fee_msat, o.fee_ppm)))
            })
            .collect()
    }

    /// The router's best route for `request`, with real scids (excluding a channel of N
    /// excludes both its directions, as on the real graph).
    pub fn find_route(&self, request: &RouteRequest) -> Result<Route, RouteError> {
        let req;
        let request = if request.exclude_channels.is_empty() {
            request
        } else {
            req = RouteRequest {
                exclude_channels: self.split.exclusions(&request.exclude_channels),
                ..request.clone()
            };
            &req
        };
        self.index
            .find_route(request)
            .map(|r| self.split.unsplit(r))
    }

    /// The router's best route on the split graph as it is (made-up scids for N's
    /// outgoing directions, which `request` may exclude one by one).
    pub(crate) fn find_split(&self, request: &RouteRequest) -> Result<Route, RouteError> {
        self.index.find_route(request)
    }

    /// N's split directions.
    pub(crate) fn split(&self) -> &Split {
        &self.split
    }

    /// N's enabled outgoing directions (edge ids), in the snapshot's order.
    pub fn out_edges(&self) -> Vec<EdgeIdx> {
        let g = &*self.snapshot;
        g.out_edges(self.node)
            .iter()
            .copied()
            .filter(|&e| g.edge_enabled(e))
            .collect()
    }

    /// The current fee of an edge (zero when it has no policy).
    pub fn fee_of(&self, edge: EdgeIdx) -> FeePolicy {
        self.snapshot
            .edge_policy(edge)
            .map_or(FeePolicy::new(0, 0), FeePolicy::of)
    }
}

/// The router request for a payment (fee model, its limits).
pub fn request(p: &Payment) -> RouteRequest {
    RouteRequest {
        max_fee_msat: Some(p.max_fee_msat),
        max_hops: Some(p.max_hops),
        max_cltv: Some(p.max_cltv),
        final_cltv_delta: Some(p.final_cltv_delta),
        ..RouteRequest::new(p.source, p.destination, p.amount_msat)
    }
}
