//! Our engine's routes written in LDK's conventions ([`Path`], [`RouteHop`]: each hop's fee
//! and cltv delta belong to the node *at* the hop, for the *next* channel), and the checks
//! LDK's `pay_route_internal` makes, run on every route before it is returned.

use std::collections::HashMap;

use lightning::bitcoin::secp256k1::PublicKey;
use lightning::ln::channel_state::ChannelDetails;
use lightning::routing::gossip::{NodeId as LdkNodeId, ReadOnlyNetworkGraph};
use lightning::routing::router::{Path, Route, RouteHop, RouteParameters};
use lightning::types::features::{ChannelFeatures, NodeFeatures};
use switchyard_graph::route as engine;
use switchyard_graph::Scid;

use super::prepare::Extra;

/// What LDK assumes of a node it knows nothing about.
fn default_node_features() -> NodeFeatures {
    let mut f = NodeFeatures::empty();
    f.set_variable_length_onion_optional();
    f
}

/// The node's announced features, LDK's default when it has none.
fn graph_node_features(g: &ReadOnlyNetworkGraph, id: &LdkNodeId) -> NodeFeatures {
    g.node(id)
        .and_then(|n| n.announcement_info.as_ref())
        .map_or_else(default_node_features, |a| a.features().clone())
}

/// One part in LDK's conventions: hop `i` names the node it reaches and the channel into it;
/// its `fee_msat` / `cltv_expiry_delta` are what that node charges / adds for the *next*
/// channel (the engine's hop `i + 1`), and the last hop's are the amount and the final delta.
pub(super) fn ldk_path(
    part: &engine::Route,
    extras: &HashMap<Scid, Extra>,
    first_hops: Option<&[&ChannelDetails]>,
    g: &ReadOnlyNetworkGraph,
    final_cltv: u32,
) -> Result<Path, &'static str> {
    let mut hops = Vec::with_capacity(part.hops.len());
    for (i, h) in part.hops.iter().enumerate() {
        let pubkey = PublicKey::from_slice(h.to.as_bytes())
            .map_err(|_| "A PublicKey in NetworkGraph is invalid!")?;
        let target = LdkNodeId::from_pubkey(&pubkey);
        let (fee_msat, cltv_expiry_delta) = match part.hops.get(i + 1) {
            Some(next) => (next.fee_msat, u32::from(next.cltv_delta)),
            None => (part.amount_msat, final_cltv),
        };
        let (short_channel_id, channel_features, node_features, maybe_announced_channel) =
            match extras.get(&h.scid) {
                Some(Extra::FirstHop(j)) => {
                    let d = first_hops
                        .and_then(|f| f.get(*j))
                        .ok_or("internal error: unknown first hop")?;
                    let scid = d
                        .get_outbound_payment_scid()
                        .ok_or("internal error: first hop without an scid")?;
                    let features = &d.counterparty.features;
                    (
                        scid,
                        features.to_context(),
                        features.to_context(),
                        d.is_announced,
                    )
                }
                Some(Extra::Hint(real)) => {
                    // As LDK: possibly announced if any public channel joins the two nodes in
                    // this direction (the hint's scid may be an alias of it).
                    let source = LdkNodeId::from_slice(h.from.as_bytes())
                        .map_err(|_| "A PublicKey in a route hint is invalid!")?;
                    let announced = g.node(&target).is_some_and(|n| {
                        n.channels.iter().any(|s| {
                            g.channel(*s)
                                .is_some_and(|c| c.as_directed_from(&source).is_some())
                        })
                    });
                    (
                        *real,
                        ChannelFeatures::empty(),
                        graph_node_features(g, &target),
                        announced,
                    )
                }
                None => (
                    h.scid.0,
                    g.channel(h.scid.0)
                        .map_or_else(ChannelFeatures::empty, |c| c.features.clone()),
                    graph_node_features(g, &target),
                    true,
                ),
            };
        hops.push(RouteHop {
            pubkey,
            node_features,
            short_channel_id,
            channel_features,
            fee_msat,
            cltv_expiry_delta,
            maybe_announced_channel,
        });
    }
    Ok(Path {
        hops,
        blinded_tail: None,
    })
}

/// The checks LDK's `pay_route_internal` makes, plus the request's own limits; a failure
/// here is a bug, reported as an error rather than a payment LDK would refuse.
pub(super) fn check_route(
    route: &Route,
    payer: &PublicKey,
    params: &RouteParameters,
    max_hops: u8,
) -> Result<(), &'static str> {
    if route.paths.is_empty() {
        return Err("internal error: route without paths");
    }
    let mut delivered = 0u64;
    for p in &route.paths {
        if p.hops.is_empty() || p.hops.len() > usize::from(max_hops) {
            return Err("internal error: path length out of bounds");
        }
        for (i, h) in p.hops.iter().enumerate() {
            if h.pubkey == *payer {
                return Err("internal error: path goes through the payer");
            }
            if p.hops[i + 1..]
                .iter()
                .any(|o| o.short_channel_id == h.short_channel_id)
            {
                return Err("internal error: path uses a channel twice");
            }
        }
        let cltv: u32 = p.hops.iter().map(|h| h.cltv_expiry_delta).sum();
        if cltv > params.payment_params.max_total_cltv_expiry_delta {
            return Err("internal error: path exceeds the cltv limit");
        }
        delivered = delivered.saturating_add(p.final_value_msat());
    }
    if delivered != params.final_value_msat {
        return Err("internal error: parts do not sum to the amount");
    }
    if route.paths.len() > usize::from(params.payment_params.max_path_count) {
        return Err("internal error: more paths than allowed");
    }
    if params
        .max_total_routing_fee_msat
        .is_some_and(|max| route.get_total_fees() > max)
    {
        return Err("Failed to find route that adheres to the maximum total fee limit");
    }
    Ok(())
}
