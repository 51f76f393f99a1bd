//! Our fee model against LDK's `find_route` with a zero-penalty scorer on the 2019-05-14
//! graph: wherever LDK finds a route, ours must exist and cost at most as much (fees compared
//! the same way, payer's first hop excluded), and every route of ours must pass the validator.
//!
//! 1,000 fixed seeded queries (set `SWITCHYARD_LDK_QUERIES` to change the count).

#[path = "common/ldk.rs"]
mod ldk;

use std::sync::Arc;

use switchyard_graph::route::validate::validate_route;
use switchyard_graph::route::{RouteRequest, RoutingIndex};
use switchyard_graph::testing::load_bundled;

#[test]
fn fee_routes_are_never_worse_than_ldk_zero_penalty() {
    let g = Arc::new(load_bundled("2019-05-14"));
    let idx = RoutingIndex::build(g.clone());
    let graph = ldk::build_graph(&g);
    let count = std::env::var("SWITCHYARD_LDK_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let queries = ldk::queries(&g, count, 0x5eed_2019);
    let (mut ldk_found, mut ours_found, mut cheaper, mut equal) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    let mut worse = Vec::new();
    for (src, dst, amount) in &queries {
        let req = RouteRequest::new(*src, *dst, *amount);
        let ours = idx.find_route(&req);
        if let Ok(r) = &ours {
            ours_found += 1;
            if let Err(e) = validate_route(&g, &req, r) {
                panic!("invalid route {src} -> {dst} {amount}: {e}");
            }
        }
        let Some(ldk_fee) = ldk::zero_penalty(&graph, src, dst, *amount) else {
            continue;
        };
        ldk_found += 1;
        match &ours {
            Err(e) => misses.push(format!(
                "{src} -> {dst} {amount} msat: LDK fee {ldk_fee}, ours {e}"
            )),
            Ok(r) if r.total_fee_msat > ldk_fee => worse.push(format!(
                "{src} -> {dst} {amount} msat: LDK fee {ldk_fee}, ours {}",
                r.total_fee_msat
            )),
            Ok(r) if r.total_fee_msat < ldk_fee => cheaper += 1,
            Ok(_) => equal += 1,
        }
    }
    eprintln!(
        "route_vs_ldk: {} queries; LDK found {ldk_found}, we found {ours_found}; \
         of LDK's: ours cheaper {cheaper}, equal {equal}, more expensive {}, missed {}",
        queries.len(),
        worse.len(),
        misses.len()
    );
    assert!(
        misses.is_empty(),
        "LDK found routes we did not:\n{}",
        misses.join("\n")
    );
    assert!(
        worse.is_empty(),
        "LDK found cheaper routes:\n{}",
        worse.join("\n")
    );
    assert!(
        ldk_found > queries.len() / 4,
        "LDK found too few routes ({ldk_found}) to compare"
    );
}
