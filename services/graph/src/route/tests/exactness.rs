//! Exactness under every search path: the forward ball at any point, lazy scans of any
//! list, and the label budget when Pareto labels explode.

use super::*;

#[test]
fn label_search_stays_within_its_budget_when_pareto_labels_explode() {
    const LAYERS: u32 = 17;
    let mut t = TestGraph::new(LAYERS + 1);
    both(&mut t, 0, 1, 1_000_000, 0, 0, 0);
    for i in 1..LAYERS {
        let w = 1u16 << (LAYERS - 1 - i);
        both(&mut t, i, i + 1, 1_000_000, 0, 0, w);
        both(&mut t, i, i + 1, 1_000_000, u32::from(w), 0, 0);
    }
    let idx = index(&t);
    let budget = idx.label_budget();
    assert_eq!(budget, MIN_LABEL_BUDGET, "a small graph gets the floor");
    assert!(
        1usize << (LAYERS - 1) > budget,
        "the unbounded search would exceed it"
    );
    // The all-free path has cltv 18 + 65,535. Allowing half of that makes the cheapest
    // route within the limit cost 2^15 - 1 msat: every choice over the 15 later hops
    // (2^16 labels over their nodes) is cheaper and comes first.
    let req = RouteRequest {
        max_cltv: Some(18 + (1 << 15)),
        ..RouteRequest::new(id(0), id(LAYERS), 1_000)
    };
    let started = std::time::Instant::now();
    let res = idx.find_route(&req);
    let elapsed = started.elapsed();
    let (labels, heap) = search::buffer_lens();
    assert!(labels <= budget, "{labels} labels held, budget {budget}");
    assert!(heap <= budget, "{heap} heap entries held, budget {budget}");
    match res {
        Err(e) => {
            assert_eq!(e, RouteError::SearchBudget { labels: budget });
            assert_eq!(e.code(), "search_budget_exceeded");
            assert!(!e.is_invalid_request());
        }
        Ok(r) => {
            validate_route(idx.snapshot(), &req, &r).unwrap();
            assert_eq!(r.total_fee_msat, (1 << 15) - 1);
        }
    }
    assert!(elapsed < std::time::Duration::from_secs(20), "{elapsed:?}");
    // Within budget the same graph still gets exact answers: one cltv block too many
    // costs the cheapest paid channel.
    let req = RouteRequest {
        max_cltv: Some(18 + (1 << 16) - 2),
        ..req
    };
    let r = route_ok(&idx, &req);
    assert_eq!(r.total_fee_msat, 1);
}

/// The forward ball raises the fee search's bounds mid-search; whenever it comes, and
/// however small, the answers stay those of the search without it (both exact), also
/// when the ball (and the fee search) scan every list lazily in fee order.
#[test]
fn forward_ball_at_any_point_keeps_fee_answers() {
    let g = Arc::new(crate::testing::load_bundled("2019-05-14"));
    let idx = RoutingIndex::build(g.clone());
    let n = g.node_count() as u64;
    let mut next = xorshift(0xba11_u64);
    let with = |p: Option<(usize, usize)>, req: &RouteRequest| {
        search::BALL_OVERRIDE.with(|c| c.set(p));
        let r = idx.find_route(req);
        search::BALL_OVERRIDE.with(|c| c.set(None));
        r
    };
    let lazily = |p: Option<(usize, usize)>, lazy: (usize, usize), req: &RouteRequest| {
        search::LAZY_OVERRIDE.with(|c| c.set(Some(lazy)));
        let r = with(p, req);
        search::LAZY_OVERRIDE.with(|c| c.set(None));
        r
    };
    let mut routed = 0;
    for i in 0..300 {
        let (s, d) = ((next() % n) as u32, (next() % n) as u32);
        if s == d {
            continue;
        }
        let amount = [1_000_000, 30_000_000, 700_000_000][i % 3];
        let req = RouteRequest::new(g.node(s).id, g.node(d).id, amount);
        let plain = with(Some((0, usize::MAX)), &req);
        let variants = [(1, 1), (3, 2), (40, 5), (1_000, 20)]
            .into_iter()
            .flat_map(|p| [(p, None), (p, Some((0, 1))), (p, Some((2, 3)))]);
        for (p, lazy) in variants {
            let r = match lazy {
                None => with(Some(p), &req),
                Some(l) => lazily(Some(p), l, &req),
            };
            match (&plain, &r) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.total_fee_msat, b.total_fee_msat, "query {i}, {p:?}");
                    validate_route(&g, &req, b).unwrap();
                }
                (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "query {i}, {p:?}"),
            }
        }
        routed += usize::from(plain.is_ok());
    }
    assert!(routed > 100, "{routed}");
}

/// Hubs' in-edge lists are scanned lazily in fee order; scanning every list that way, or
/// none, one edge per visit or many, gives the same fees and the same errors (fee
/// limits included) on the real graph.
#[test]
fn lazy_fee_order_scan_keeps_fee_answers_and_errors() {
    let g = Arc::new(crate::testing::load_bundled("2019-05-14"));
    let idx = RoutingIndex::build(g.clone());
    let n = g.node_count() as u64;
    let mut next = xorshift(0x1a2e_u64);
    let with = |v: Option<(usize, usize)>, req: &RouteRequest| {
        search::LAZY_OVERRIDE.with(|c| c.set(v));
        let r = idx.find_route(req);
        search::LAZY_OVERRIDE.with(|c| c.set(None));
        r
    };
    let (mut routed, mut fee_limited) = (0, 0);
    for i in 0..700 {
        let (s, d) = ((next() % n) as u32, (next() % n) as u32);
        if s == d {
            continue;
        }
        let amount = [1_000_000, 30_000_000, 700_000_000][i % 3];
        let req = RouteRequest {
            max_fee_msat: (i % 4 == 0).then_some(1_500),
            ..RouteRequest::new(g.node(s).id, g.node(d).id, amount)
        };
        let eager = with(Some((usize::MAX, 1)), &req);
        for v in [(0, 1), (0, 3), (12, 8), (40, 64)] {
            let r = with(Some(v), &req);
            match (&eager, &r) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.total_fee_msat, b.total_fee_msat, "query {i}, {v:?}");
                    validate_route(&g, &req, b).unwrap();
                }
                (a, b) => assert_eq!(
                    a.as_ref().err(),
                    b.as_ref().err(),
                    "query {i}, {v:?}, unlimited {:?}",
                    idx.find_route(&RouteRequest {
                        max_fee_msat: None,
                        ..req.clone()
                    })
                    .map(|r| r.total_fee_msat)
                ),
            }
        }
        routed += usize::from(eager.is_ok());
        fee_limited += usize::from(eager == Err(RouteError::FeeLimit));
    }
    assert!(
        routed > 100 && fee_limited > 5,
        "{routed} routed, {fee_limited} fee-limited"
    );
}
