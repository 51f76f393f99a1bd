//! `SwitchyardRouter` against LDK's own `find_route` (zero-penalty scorer) on the 2019-05-14
//! mainnet graph, loaded into an LDK `NetworkGraph`.
//!
//! * Wherever LDK finds a route, ours (fee model) must find one with a total fee at most
//!   LDK's, also when LDK's fee is given as `max_total_routing_fee_msat`.
//! * Every route either router returns passes an independent checker written here from
//!   LDK's rules: each hop's channel joins the previous node to the hop's node in LDK's graph,
//!   the direction is enabled, amounts and fees are consistent hop by hop with that direction's
//!   policy (`fee_msat` of hop i is what node i charges for channel i + 1), htlc limits and
//!   capacity hold, cltv deltas cover the policies, limits of the request hold.
//! * The balanced model and multi-part payments (invoice with `basic_mpp`) are run through
//!   the same checker.
//!
//! 200 seeded queries (`SWITCHYARD_ROUTER_QUERIES` changes the count).

#[path = "../../graph/tests/common/ldk.rs"]
mod ldk;
#[path = "../src/ldk_fixtures.rs"]
#[allow(dead_code)] // this test uses the first hops only
mod ldk_fixtures;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lightning::bitcoin::secp256k1::PublicKey;
use lightning::ln::channel_state::ChannelDetails;
use lightning::routing::gossip::{ChannelInfo, ChannelUpdateInfo, NodeId as LdkNodeId};
use lightning::routing::router::{
    find_route, InFlightHtlcs, Payee, Route, RouteHop, RouteParameters, Router,
};
use lightning::routing::scoring::FixedPenaltyScorer;
use lightning::types::features::Bolt11InvoiceFeatures;
use switchyard_graph::route::CostModel;
use switchyard_graph::testing::load_bundled;
use switchyard_node::router::{RouterConfig, SwitchyardRouter};

fn route_ours(
    r: &SwitchyardRouter<&'static ldk::NoLog>,
    payer: &PublicKey,
    rp: &RouteParameters,
) -> Result<Route, &'static str> {
    r.find_route(payer, rp, None, InFlightHtlcs::new())
}

fn pk(id: &switchyard_graph::NodeId) -> PublicKey {
    PublicKey::from_slice(id.as_bytes()).expect("valid key")
}

/// What each hop's channel carries, from the end of the path (the last hop's `fee_msat` is
/// the amount delivered).
fn amounts_carried(hops: &[RouteHop]) -> Result<Vec<u64>, String> {
    let mut amounts = vec![0u64; hops.len()];
    let mut carried = hops[hops.len() - 1].fee_msat;
    for i in (0..hops.len()).rev() {
        if i + 1 < hops.len() {
            carried = carried
                .checked_add(hops[i].fee_msat)
                .ok_or("amount overflow")?;
        }
        amounts[i] = carried;
    }
    Ok(amounts)
}

/// The policy of `ch` in the direction `from` -> `to`.
fn direction(
    ch: &ChannelInfo,
    from: LdkNodeId,
    to: LdkNodeId,
) -> Result<&ChannelUpdateInfo, String> {
    let dir = if ch.node_one == from && ch.node_two == to {
        ch.one_to_two.as_ref()
    } else if ch.node_two == from && ch.node_one == to {
        ch.two_to_one.as_ref()
    } else {
        return Err("channel does not join the nodes".into());
    };
    dir.ok_or_else(|| "no policy".into())
}

/// The fee and cltv delta `hop` names for forwarding `amt` over a channel with policy `p`:
/// equal to the policy (`exact`) or at least it.
fn check_forward(
    p: &ChannelUpdateInfo,
    hop: &RouteHop,
    amt: u64,
    exact: bool,
) -> Result<(), String> {
    let fee =
        u64::from(p.fees.base_msat) + amt * u64::from(p.fees.proportional_millionths) / 1_000_000;
    let (got_fee, got_cltv) = (hop.fee_msat, hop.cltv_expiry_delta);
    let want_cltv = u32::from(p.cltv_expiry_delta);
    let ok = if exact {
        got_fee == fee && got_cltv == want_cltv
    } else {
        got_fee >= fee && got_cltv >= want_cltv
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "fee {got_fee} / cltv {got_cltv}, policy wants {fee} / {want_cltv}"
        ))
    }
}

/// LDK's rules, checked on `route` for a payment by `payer` without first hops or hints
/// (every hop is a public channel). `exact`: fees and cltv deltas must equal the policies
/// (ours); otherwise they may exceed them (LDK adds a random shadow cltv offset).
fn check(
    graph: &ldk::Graph,
    payer: &PublicKey,
    rp: &RouteParameters,
    route: &Route,
    exact: bool,
) -> Result<(), String> {
    let g = graph.read_only();
    let Payee::Clear {
        node_id: payee,
        final_cltv_expiry_delta: final_cltv,
        ..
    } = rp.payment_params.payee.clone()
    else {
        return Err("blinded payee".into());
    };
    if route.paths.is_empty() {
        return Err("no paths".into());
    }
    if route.paths.len() > usize::from(rp.payment_params.max_path_count) {
        return Err("too many paths".into());
    }
    let mut delivered = 0u64;
    // Per channel (both directions): what all parts carry, against the capacity.
    let mut per_channel: HashMap<u64, u64> = HashMap::new();
    for (pi, path) in route.paths.iter().enumerate() {
        let hops = &path.hops;
        if hops.is_empty()
            || hops.len() > 20
            || hops.len() > rp.payment_params.max_path_length.into()
        {
            return Err(format!("path {pi}: {} hops", hops.len()));
        }
        if hops[hops.len() - 1].pubkey != payee {
            return Err(format!("path {pi} does not end at the payee"));
        }
        let amounts = amounts_carried(hops)?;
        let mut cltv_total = 0u32;
        for (i, h) in hops.iter().enumerate() {
            let from = if i == 0 { *payer } else { hops[i - 1].pubkey };
            if i + 1 < hops.len() && h.pubkey == *payer {
                return Err(format!("path {pi} goes through the payer"));
            }
            if hops[i + 1..]
                .iter()
                .any(|o| o.short_channel_id == h.short_channel_id)
            {
                return Err(format!("path {pi} uses {} twice", h.short_channel_id));
            }
            let ch = g
                .channel(h.short_channel_id)
                .ok_or(format!("path {pi} hop {i}: unknown channel"))?;
            let (f, t) = (
                LdkNodeId::from_pubkey(&from),
                LdkNodeId::from_pubkey(&h.pubkey),
            );
            let p = direction(ch, f, t).map_err(|e| format!("path {pi} hop {i}: {e}"))?;
            if !p.enabled {
                return Err(format!("path {pi} hop {i}: disabled"));
            }
            let amt = amounts[i];
            if amt < p.htlc_minimum_msat || amt > p.htlc_maximum_msat {
                return Err(format!(
                    "path {pi} hop {i}: {amt} outside [{}, {}]",
                    p.htlc_minimum_msat, p.htlc_maximum_msat
                ));
            }
            *per_channel.entry(h.short_channel_id).or_default() += amt;
            if let Some(cap) = ch.capacity_sats {
                if per_channel[&h.short_channel_id] > cap * 1000 {
                    return Err(format!("path {pi} hop {i}: over capacity"));
                }
            }
            if i > 0 {
                // Node i - 1 forwards over this channel: its fee and delta are on hop i - 1.
                check_forward(p, &hops[i - 1], amt, exact)
                    .map_err(|e| format!("path {pi} hop {}: {e}", i - 1))?;
            }
            cltv_total += h.cltv_expiry_delta;
        }
        let last_cltv = hops[hops.len() - 1].cltv_expiry_delta;
        if (exact && last_cltv != final_cltv) || last_cltv < final_cltv {
            return Err(format!("path {pi}: final cltv {last_cltv}"));
        }
        if cltv_total > rp.payment_params.max_total_cltv_expiry_delta {
            return Err(format!("path {pi}: total cltv {cltv_total}"));
        }
        delivered += hops[hops.len() - 1].fee_msat;
    }
    if delivered != rp.final_value_msat {
        return Err(format!("delivers {delivered}, not {}", rp.final_value_msat));
    }
    if let Some(max) = rp.max_total_routing_fee_msat {
        if route.get_total_fees() > max {
            return Err(format!(
                "fee {} over the limit {max}",
                route.get_total_fees()
            ));
        }
    }
    Ok(())
}

/// The payer's public channels as the channel manager would list them (enabled outgoing
/// direction; the next HTLC may use the whole of `min(htlc_maximum, capacity)`).
fn first_hops_from_graph(graph: &ldk::Graph, payer: &PublicKey) -> Vec<ChannelDetails> {
    let g = graph.read_only();
    let me = LdkNodeId::from_pubkey(payer);
    let Some(node) = g.node(&me) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &scid in &node.channels {
        let Some(ch) = g.channel(scid) else { continue };
        let (Some(one), Some(two)) = (&ch.one_to_two, &ch.two_to_one) else {
            continue;
        };
        let (mine, peer) = if ch.node_one == me {
            (one, ch.node_two)
        } else {
            (two, ch.node_one)
        };
        if !mine.enabled {
            continue;
        }
        let cap_msat = ch.capacity_sats.unwrap_or(u64::MAX / 1000) * 1000;
        let limit = mine.htlc_maximum_msat.min(cap_msat);
        let Ok(peer) = PublicKey::from_slice(peer.as_slice()) else {
            continue;
        };
        out.push(ldk_fixtures::first_hop(ldk_fixtures::FirstHop {
            id: out.len() as u8,
            peer,
            scid: Some(scid),
            alias: None,
            limit_msat: limit,
            min_msat: mine.htlc_minimum_msat,
            value_sat: ch.capacity_sats.unwrap_or(0),
        }));
    }
    out
}

/// The payer's public channels given as first hops: the route must cost what `without`
/// costs and pass the checker.
fn same_with_first_hops(
    router: &SwitchyardRouter<&'static ldk::NoLog>,
    graph: &ldk::Graph,
    payer: &PublicKey,
    rp: &RouteParameters,
    without: &Route,
) -> Result<(), String> {
    let details = first_hops_from_graph(graph, payer);
    let first: Vec<&ChannelDetails> = details.iter().collect();
    let with = router
        .find_route(payer, rp, Some(&first), InFlightHtlcs::new())
        .map_err(|e| format!("no route with first hops: {e}"))?;
    if with.get_total_fees() != without.get_total_fees() {
        return Err(format!(
            "fee {} with first hops, {} without",
            with.get_total_fees(),
            without.get_total_fees()
        ));
    }
    check(graph, payer, rp, &with, true)
        .map_err(|e| format!("first-hop route breaks LDK's rules: {e}"))
}

#[test]
fn router_is_never_worse_than_ldk_and_its_routes_pass_ldks_rules() {
    let g = Arc::new(load_bundled("2019-05-14"));
    let graph = Arc::new(ldk::build_graph(&g));
    let config = |cost_model| RouterConfig {
        cost_model,
        min_rebuild_interval: Duration::from_secs(3600),
    };
    let fee_router = SwitchyardRouter::new(graph.clone(), config(CostModel::Fee));
    let balanced_router = SwitchyardRouter::new(graph.clone(), config(CostModel::Balanced));
    let count = std::env::var("SWITCHYARD_ROUTER_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let queries = ldk::queries(&g, count, 0x5eed_0705);
    let scorer = FixedPenaltyScorer::with_penalty(0);

    let t = Instant::now();
    route_ours(
        &fee_router,
        &pk(&queries[0].0),
        &ldk::params(&queries[0].1, 1000, 2016, 18),
    )
    .ok();
    route_ours(
        &balanced_router,
        &pk(&queries[0].0),
        &ldk::params(&queries[0].1, 1000, 2016, 18),
    )
    .ok();
    eprintln!(
        "router_vs_ldk: graph converted and indexed twice in {:?}",
        t.elapsed()
    );

    let (mut ldk_found, mut ours_found, mut balanced_found) = (0, 0, 0);
    let (mut cheaper, mut equal) = (0, 0);
    let mut problems = Vec::new();
    let (mut ours_time, mut ldk_time) = (Duration::ZERO, Duration::ZERO);
    let (mut first_hop_runs, mut first_hop_time) = (0u32, Duration::ZERO);
    for (src, dst, amount) in &queries {
        let payer = pk(src);
        let rp = ldk::params(dst, *amount, 2016, 18);
        let t = Instant::now();
        let ours = route_ours(&fee_router, &payer, &rp);
        ours_time += t.elapsed();
        let t = Instant::now();
        let theirs = find_route(
            &payer,
            &rp,
            &graph,
            None,
            &ldk::NO_LOG,
            &scorer,
            &(),
            &[7u8; 32],
        );
        ldk_time += t.elapsed();
        let q = format!("{src} -> {dst} {amount} msat");
        if let Ok(r) = &ours {
            ours_found += 1;
            if let Err(e) = check(&graph, &payer, &rp, r, true) {
                problems.push(format!("{q}: our route breaks LDK's rules: {e}"));
            }
        }
        // The payer's public channels given as first hops instead: the same fee (first 20
        // queries; each builds a private index).
        if first_hop_runs < 20 {
            if let Ok(r) = &ours {
                let t = Instant::now();
                if let Err(e) = same_with_first_hops(&fee_router, &graph, &payer, &rp, r) {
                    problems.push(format!("{q}: {e}"));
                }
                first_hop_time += t.elapsed();
                first_hop_runs += 1;
            }
        }
        if let Ok(r) = route_ours(&balanced_router, &payer, &rp) {
            balanced_found += 1;
            if let Err(e) = check(&graph, &payer, &rp, &r, true) {
                problems.push(format!("{q}: our balanced route breaks LDK's rules: {e}"));
            }
        }
        let Ok(l) = theirs else { continue };
        ldk_found += 1;
        if let Err(e) = check(&graph, &payer, &rp, &l, false) {
            problems.push(format!("{q}: the checker refuses LDK's own route: {e}"));
        }
        let ldk_fee = l.get_total_fees();
        match &ours {
            Err(e) => problems.push(format!("{q}: LDK fee {ldk_fee}, ours none ({e})")),
            Ok(r) if r.get_total_fees() > ldk_fee => problems.push(format!(
                "{q}: LDK fee {ldk_fee}, ours {}",
                r.get_total_fees()
            )),
            Ok(r) if r.get_total_fees() < ldk_fee => cheaper += 1,
            Ok(_) => equal += 1,
        }
        // LDK's fee as the limit: ours must still find a route within it.
        let mut limited = rp.clone();
        limited.max_total_routing_fee_msat = Some(ldk_fee);
        match route_ours(&fee_router, &payer, &limited) {
            Ok(r) => {
                if let Err(e) = check(&graph, &payer, &limited, &r, true) {
                    problems.push(format!("{q}: limited route breaks LDK's rules: {e}"));
                }
            }
            Err(e) => problems.push(format!("{q}: no route within LDK's fee {ldk_fee}: {e}")),
        }
    }
    eprintln!(
        "router_vs_ldk: {} queries; LDK found {ldk_found}, ours (fee) {ours_found}, ours \
         (balanced) {balanced_found}; of LDK's: ours cheaper {cheaper}, equal {equal}; \
         problems {}; time ours {:?}, LDK {:?}; {first_hop_runs} queries with first hops \
         (private index each) in {:?}",
        queries.len(),
        problems.len(),
        ours_time,
        ldk_time,
        first_hop_time
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        ldk_found > queries.len() / 4,
        "LDK found too few routes ({ldk_found})"
    );
}

#[test]
fn multi_part_routes_on_the_real_graph_pass_ldks_rules() {
    let g = Arc::new(load_bundled("2019-05-14"));
    let graph = Arc::new(ldk::build_graph(&g));
    let router = SwitchyardRouter::new(graph.clone(), RouterConfig::default());
    let mut features = Bolt11InvoiceFeatures::empty();
    features.set_variable_length_onion_optional();
    features.set_payment_secret_required();
    features.set_basic_mpp_optional();
    let (mut asked, mut found, mut split) = (0, 0, 0);
    let mut problems = Vec::new();
    // Large amounts, so that many need more than one path.
    for (src, dst, _) in ldk::queries(&g, 40, 0x0b16_0705) {
        let amount = 2_000_000_000u64;
        let mut rp = ldk::params(&dst, amount, 2016, 18);
        rp.payment_params = rp
            .payment_params
            .with_bolt11_features(features.clone())
            .expect("clear payee");
        rp.max_total_routing_fee_msat = Some(amount / 100);
        asked += 1;
        let payer = pk(&src);
        let Ok(r) = router.find_route(&payer, &rp, None, InFlightHtlcs::new()) else {
            continue;
        };
        found += 1;
        if r.paths.len() > 1 {
            split += 1;
        }
        if let Err(e) = check(&graph, &payer, &rp, &r, true) {
            problems.push(format!("{src} -> {dst}: {e}"));
        }
    }
    eprintln!("router_vs_ldk mpp: {asked} queries of 2,000,000 sat, {found} routed, {split} split");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(split > 0, "no query needed a split");
}
