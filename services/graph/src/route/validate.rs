//! Independent route validator: re-derives every hop's amount, fee and cltv from the
//! [`Snapshot`] and the request, written from the route semantics in the module docs of
//! [`crate::route`], deliberately without any of the search's code or index.
//!
//! Tests run every route they produce through it. It must stay independent: do not "fix" it
//! by calling into the search. Its arithmetic is exact (`u128`): a route whose amounts or
//! fees do not fit in `u64` is refused, not wrapped around.

use crate::route::{Hop, Route, RouteRequest};
use crate::snapshot::{Policy, Snapshot};

/// Checks `route` against `request` on `graph`; `Err` says the first problem found.
pub fn validate_route(
    graph: &Snapshot,
    request: &RouteRequest,
    route: &Route,
) -> Result<(), String> {
    check_path(request, route)?;
    // Walk backwards: the last hop carries the payment; each earlier hop carries what the
    // next hop carries plus the fee the next hop's sender charges for it.
    let mut carried = request.amount_msat;
    let mut fees = 0u64;
    let mut cltv = u32::from(request.final_cltv_delta.unwrap_or(18));
    let mut probability = 1.0f64;
    for (i, h) in route.hops.iter().enumerate().rev() {
        let (fee, delta, p) = check_hop(graph, i, h, carried)?;
        fees = fees
            .checked_add(fee)
            .ok_or_else(|| format!("hop {i}: total fee overflows"))?;
        carried = carried
            .checked_add(fee)
            .ok_or_else(|| format!("hop {i}: amount overflows"))?;
        cltv = cltv.saturating_add(u32::from(delta));
        probability *= p;
    }
    if route.total_fee_msat != fees {
        return Err(format!(
            "total fee {} should be {fees}",
            route.total_fee_msat
        ));
    }
    if Some(route.total_amount_msat) != request.amount_msat.checked_add(fees) {
        return Err("total amount is not amount + fees".into());
    }
    if route.total_cltv != cltv {
        return Err(format!("total cltv {} should be {cltv}", route.total_cltv));
    }
    if cltv > request.max_cltv.unwrap_or(2016) {
        return Err(format!("total cltv {cltv} exceeds the limit"));
    }
    if let Some(max) = request.max_fee_msat {
        if fees > max {
            return Err(format!("fee {fees} exceeds the limit {max}"));
        }
    }
    if (route.probability - probability).abs() > 1e-9 * probability.max(1e-300) + 1e-12 {
        return Err(format!(
            "probability {} should be {probability}",
            route.probability
        ));
    }
    Ok(())
}

/// The route's shape: hop count, endpoints, continuity, no node twice, no exclusion used,
/// the requested amount.
fn check_path(request: &RouteRequest, route: &Route) -> Result<(), String> {
    let hops = &route.hops;
    if hops.is_empty() {
        return Err("route has no hops".into());
    }
    if hops.len() > usize::from(request.max_hops.unwrap_or(20)) {
        return Err(format!("{} hops exceed the hop limit", hops.len()));
    }
    if hops[0].from != request.source {
        return Err("first hop does not leave the source".into());
    }
    if hops[hops.len() - 1].to != request.destination {
        return Err("last hop does not reach the destination".into());
    }
    for (i, w) in hops.windows(2).enumerate() {
        if w[0].to != w[1].from {
            return Err(format!(
                "hop {i} ends at {} but hop {} starts at {}",
                w[0].to,
                i + 1,
                w[1].from
            ));
        }
    }
    let mut visited = vec![request.source];
    for h in hops {
        if visited.contains(&h.to) {
            return Err(format!("node {} visited twice", h.to));
        }
        visited.push(h.to);
        if request.exclude_nodes.contains(&h.to) {
            return Err(format!("excluded node {} used", h.to));
        }
        if request.exclude_channels.contains(&h.scid) {
            return Err(format!("excluded channel {} used", h.scid));
        }
    }
    if route.amount_msat != request.amount_msat {
        return Err("route amount differs from the requested amount".into());
    }
    Ok(())
}

/// Hop `i` (`h`), which must carry `carried`: its channel direction, limits and capacity;
/// returns the fee and cltv delta its sender charges (none for the payer's first hop) and
/// its success probability.
fn check_hop(graph: &Snapshot, i: usize, h: &Hop, carried: u64) -> Result<(u64, u16, f64), String> {
    let ci = graph
        .channel_idx(h.scid)
        .ok_or_else(|| format!("hop {i}: unknown channel {}", h.scid))?;
    let ch = graph.channel(ci);
    let from = graph.node_idx(&h.from).ok_or("unknown node")?;
    let to = graph.node_idx(&h.to).ok_or("unknown node")?;
    let dir = if ch.nodes == [from, to] {
        0
    } else if ch.nodes == [to, from] {
        1
    } else {
        return Err(format!(
            "hop {i}: channel {} does not join {} and {}",
            h.scid, h.from, h.to
        ));
    };
    let policy: &Policy = ch.policies[dir]
        .as_ref()
        .ok_or_else(|| format!("hop {i}: direction has no policy"))?;
    if policy.disabled {
        return Err(format!("hop {i}: direction is disabled"));
    }
    if h.amount_to_forward_msat != carried {
        return Err(format!(
            "hop {i}: carries {} but should carry {carried}",
            h.amount_to_forward_msat
        ));
    }
    if carried < policy.htlc_min_msat {
        return Err(format!(
            "hop {i}: {carried} below htlc_minimum {}",
            policy.htlc_min_msat
        ));
    }
    if carried > policy.htlc_max_msat {
        return Err(format!(
            "hop {i}: {carried} above htlc_maximum {}",
            policy.htlc_max_msat
        ));
    }
    if u128::from(carried) > u128::from(ch.capacity_sat) * 1000 {
        return Err(format!("hop {i}: {carried} above capacity"));
    }
    if h.capacity_sat != ch.capacity_sat {
        return Err(format!("hop {i}: capacity reported wrong"));
    }
    let c = ch.capacity_sat as f64 * 1000.0 + 1.0;
    let probability = (c - carried as f64) / c;
    let (fee, delta) = if i == 0 {
        (0, 0)
    } else {
        let fee = u128::from(policy.fee_base_msat)
            + u128::from(carried) * u128::from(policy.fee_ppm) / 1_000_000;
        let fee = u64::try_from(fee).map_err(|_| format!("hop {i}: fee {fee} overflows"))?;
        (fee, policy.cltv_delta)
    };
    if h.fee_msat != fee {
        return Err(format!("hop {i}: fee {} should be {fee}", h.fee_msat));
    }
    if h.cltv_delta != delta {
        return Err(format!(
            "hop {i}: cltv delta {} should be {delta}",
            h.cltv_delta
        ));
    }
    Ok((fee, delta, probability))
}
