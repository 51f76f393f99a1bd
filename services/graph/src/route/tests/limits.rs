//! Fees near `u32::MAX` ("do not use" directions): no overflow anywhere, and a fee limit
//! that refuses such routes at once.

use super::*;
use crate::testing::{do_not_use, do_not_use_traps, DO_NOT_USE_PPM};

/// A wallet's fee ceiling, LDK's default: 1% of the amount plus 50 sat.
fn wallet_ceiling(amount_msat: u64) -> u64 {
    amount_msat / 100 + 50_000
}

/// 0 -> 1 -> 2 -> 3 over channels of all bitcoin there is, where 1 and 2 charge base
/// `u32::MAX` msat plus `u32::MAX` ppm; and a cheap detour 0 -> 4 -> 3 that carries 1 BTC.
fn dearest_graph() -> TestGraph {
    let all = crate::route::MAX_AMOUNT_MSAT / 1000;
    let mut t = TestGraph::new(5);
    both(&mut t, 0, 1, all, 0, 0, 10);
    both(&mut t, 1, 2, all, u32::MAX, u32::MAX, 10);
    both(&mut t, 2, 3, all, u32::MAX, u32::MAX, 10);
    both(&mut t, 0, 4, 100_000_000, 0, 0, 10);
    both(&mut t, 4, 3, 100_000_000, 1, 1, 10);
    t
}

#[test]
fn fees_near_u32_max_on_all_bitcoin_neither_overflow_nor_route() {
    let t = dearest_graph();
    let idx = index(&t);
    let all = crate::route::MAX_AMOUNT_MSAT;
    // Over the dear path node 2 alone charges ~9e21 msat: past u64, and past anything the
    // payer can send. The detour cannot carry the amount either, whatever its fee: no path
    // can carry it (the fee limit is not what stops it).
    for model in [CostModel::Fee, CostModel::Probability, CostModel::Balanced] {
        let req = RouteRequest::new(id(0), id(3), all).with_model(model);
        assert_eq!(idx.find_route(&req), Err(RouteError::Capacity), "{model:?}");
        let limited = RouteRequest {
            max_fee_msat: Some(wallet_ceiling(all)),
            ..req.clone()
        };
        assert_eq!(
            idx.find_route(&limited),
            Err(RouteError::Capacity),
            "{model:?}"
        );
        let mpp = idx.find_mpp(&MppRequest {
            request: req,
            force_split: true,
        });
        assert!(mpp.is_err(), "{mpp:?}");
    }
    let m = idx.matrix(&[id(0), id(1)], &[id(3)], all, CostModel::Fee);
    assert_eq!(m.cells[0][0].error, Some("no_route_capacity"));
    // A payment only the dear path can carry: fees near 4.7e14 and 2e18 msat, exact (u128
    // here), validated, and past any wallet's ceiling.
    let amount: u64 = 110_000_000_000;
    let req = RouteRequest::new(id(0), id(3), amount);
    let r = route_ok(&idx, &req);
    let fee = |a: u128| u128::from(u32::MAX) + a * u128::from(u32::MAX) / 1_000_000;
    let hop2 = fee(u128::from(amount));
    let hop1 = fee(u128::from(amount) + hop2);
    assert_eq!(u128::from(r.total_fee_msat), hop1 + hop2);
    assert_eq!(
        u128::from(r.total_amount_msat),
        u128::from(amount) + hop1 + hop2
    );
    let limited = RouteRequest {
        max_fee_msat: Some(wallet_ceiling(amount)),
        ..req.clone()
    };
    assert_eq!(idx.find_route(&limited), Err(RouteError::FeeLimit));
    let split = idx.find_mpp(&MppRequest {
        request: req.clone(),
        force_split: true,
    });
    if let Ok(m) = split {
        assert_eq!(m.amount_msat, amount);
        for p in &m.parts {
            let preq = RouteRequest {
                amount_msat: p.amount_msat,
                ..req.clone()
            };
            validate_route(idx.snapshot(), &preq, p).unwrap();
        }
    }
    // Analytics price the same hops (fee weighting at all bitcoin) without overflowing.
    let g = t.build();
    let config = crate::analytics::AnalyticsConfig::for_amount(all);
    assert!(crate::analytics::NetworkAnalytics::compute(&g, &config).is_ok());
}

#[test]
fn the_validator_refuses_fees_past_u64_instead_of_wrapping() {
    let t = dearest_graph();
    let idx = index(&t);
    let all = crate::route::MAX_AMOUNT_MSAT;
    let r = route_ok(&idx, &RouteRequest::new(id(0), id(3), 110_000_000_000));
    // The same path claimed for all bitcoin: node 2's fee does not fit in u64.
    let mut forged = r.clone();
    forged.amount_msat = all;
    let last = forged.hops.len() - 1;
    forged.hops[last].amount_to_forward_msat = all;
    let req = RouteRequest::new(id(0), id(3), all);
    let err = validate_route(idx.snapshot(), &req, &forged).unwrap_err();
    assert!(err.contains("overflows"), "{err}");
}

/// On a real graph with "do not use" directions (3% of them, and every direction into 2%
/// of the nodes), a payment to a node reachable only over such directions is refused under
/// a wallet's fee ceiling at once: the search settles the destination and stops.
#[test]
fn a_destination_behind_do_not_use_directions_fails_fast_under_a_fee_ceiling() {
    let g = Arc::new(do_not_use(&crate::testing::load_bundled("2019-05-14")));
    let idx = RoutingIndex::build(g.clone());
    let n = g.node_count() as u32;
    let has_in = |u: u32| g.in_edges(u).iter().any(|&e| g.edge_enabled(e));
    let trapped: Vec<u32> = (0..n)
        .filter(|&u| do_not_use_traps(u) && has_in(u))
        .collect();
    let sources: Vec<u32> = (0..n)
        .filter(|&u| g.out_edges(u).iter().any(|&e| g.edge_enabled(e)))
        .step_by(97)
        .collect();
    assert!(trapped.len() > 20 && sources.len() > 20);
    let mut checked = 0;
    for (i, &d) in trapped.iter().enumerate().take(60) {
        let s = sources[i % sources.len()];
        // The payer's own first hop is free: a direct channel to `d` is no trap.
        let ins = g.in_edges(d);
        if s == d
            || ins.iter().any(|&e| g.edge_from(e) == s)
            || !ins.iter().all(|&e| {
                g.edge_policy(e)
                    .is_none_or(|p| p.disabled || p.fee_ppm >= DO_NOT_USE_PPM)
            })
        {
            continue;
        }
        let amount = [1_000_000, 100_000_000][i % 2];
        // Where the payer cannot send the amount, or no channel into `d` can carry it, the
        // answer is no_route_capacity whatever the fees.
        let carries = |e: u32| {
            let cap = g.channel(Snapshot::edge_channel(e)).capacity_sat * 1000;
            g.edge_policy(e)
                .is_some_and(|p| !p.disabled && p.htlc_max_msat.min(cap) >= amount)
        };
        if !g.out_edges(s).iter().any(|&e| carries(e)) || !ins.iter().any(|&e| carries(e)) {
            continue;
        }
        let req = RouteRequest {
            max_fee_msat: Some(wallet_ceiling(amount)),
            ..RouteRequest::new(g.node(s).id, g.node(d).id, amount)
        };
        let before = fee_search_work_for_tests().0;
        let r = idx.find_route(&req);
        let settled = fee_search_work_for_tests().0 - before;
        if r == Err(RouteError::Disconnected) {
            continue;
        }
        assert_eq!(r, Err(RouteError::FeeLimit), "{s} -> {d}");
        assert!(settled <= 2, "{s} -> {d}: {settled} nodes settled");
        // Without a limit the exact search decides too: a route, priced past the ceiling
        // and valid, or none.
        let unlimited = RouteRequest {
            max_fee_msat: None,
            ..req
        };
        match idx.find_route(&unlimited) {
            Ok(route) => {
                validate_route(&g, &unlimited, &route).unwrap();
                assert!(route.total_fee_msat > wallet_ceiling(amount));
            }
            Err(e) => assert!(
                matches!(
                    e,
                    RouteError::Capacity | RouteError::CltvLimit | RouteError::HopLimit
                ),
                "{s} -> {d}: {e}"
            ),
        }
        checked += 1;
    }
    assert!(checked > 10, "{checked}");
}

/// Under a fee limit, every model answers exactly when the fee model's exact search finds a
/// route within it, which is when the cheapest route without the limit is within it; the
/// limited answers are valid. Checked on the "do not use" graph, limits from tight to none.
#[test]
fn fee_limits_agree_with_the_unlimited_answer_on_a_do_not_use_graph() {
    let g = Arc::new(do_not_use(&crate::testing::load_bundled("2019-05-14")));
    let idx = RoutingIndex::build(g.clone());
    let n = g.node_count() as u64;
    let mut next = xorshift(0xfee1_u64);
    let (mut within, mut over) = (0, 0);
    for i in 0..400 {
        let (s, d) = ((next() % n) as u32, (next() % n) as u32);
        if s == d {
            continue;
        }
        let amount = [1_000_000, 30_000_000, 700_000_000][i % 3];
        let base = RouteRequest::new(g.node(s).id, g.node(d).id, amount);
        let best = idx.find_route(&base);
        let limit = [0, 1_000, 20_000, wallet_ceiling(amount)][i % 4];
        for model in [CostModel::Fee, CostModel::Probability, CostModel::Balanced] {
            let req = RouteRequest {
                max_fee_msat: Some(limit),
                ..base.clone().with_model(model)
            };
            let r = idx.find_route(&req);
            match (&best, &r) {
                (Ok(b), Ok(r)) => {
                    assert!(b.total_fee_msat <= limit, "query {i} {model:?}");
                    validate_route(&g, &req, r).unwrap();
                    if model == CostModel::Fee {
                        assert_eq!(r.total_fee_msat, b.total_fee_msat, "query {i}");
                    }
                }
                (Ok(b), Err(e)) => {
                    assert!(b.total_fee_msat > limit, "query {i} {model:?}: {e}");
                    assert_eq!(*e, RouteError::FeeLimit, "query {i} {model:?}");
                }
                (Err(b), Ok(_)) => {
                    panic!("query {i} {model:?}: a route under a limit, {b} without")
                }
                (Err(b), Err(e)) => assert!(
                    e == b || *e == RouteError::FeeLimit,
                    "query {i} {model:?}: {e} vs {b}"
                ),
            }
        }
        match best {
            Ok(b) if b.total_fee_msat <= limit => within += 1,
            Ok(_) => over += 1,
            Err(_) => {}
        }
    }
    assert!(within > 50 && over > 30, "{within} within, {over} over");
}
