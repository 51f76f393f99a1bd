//! Routes on small graphs with known answers: fees, limits, exclusions, errors, the
//! index numbering, batches and matrices, request parsing.

use super::*;

#[test]
fn index_numbers_nodes_breadth_first_from_the_best_connected_and_maps_back() {
    // Two components: a star around 5 (plus a path 0-1 hanging off leaf 1), and 7-8.
    // Node 6 has no channel.
    let mut t = TestGraph::new(9);
    for leaf in [1, 2, 3, 4] {
        both(&mut t, 5, leaf, 1_000_000, 0, 0, 10);
    }
    both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
    both(&mut t, 7, 8, 1_000_000, 0, 0, 10);
    let idx = index(&t);
    let g = idx.snapshot();
    let snap = |i: u32| g.node_idx(&id(i)).unwrap();
    // A permutation, `rank` its inverse.
    let mut seen = idx.nodes.order().to_vec();
    seen.sort_unstable();
    assert_eq!(seen, (0..9).collect::<Vec<u32>>());
    for (i, &u) in idx.nodes.order().iter().enumerate() {
        assert_eq!(idx.node_of(u), i as u32);
    }
    // The hub first, its neighbours next (leaf 1, with two channels, ahead of the
    // others), then what only they reach, then the other component, then the isolated.
    assert_eq!(idx.nodes.order()[0], snap(5));
    assert_eq!(idx.nodes.order()[1], snap(1));
    let mut leaves: Vec<u32> = idx.nodes.order()[2..5].to_vec();
    leaves.sort_unstable();
    let mut want = vec![snap(2), snap(3), snap(4)];
    want.sort_unstable();
    assert_eq!(leaves, want);
    assert_eq!(idx.nodes.order()[5], snap(0));
    let mut pair = idx.nodes.order()[6..8].to_vec();
    pair.sort_unstable();
    let mut want = vec![snap(7), snap(8)];
    want.sort_unstable();
    assert_eq!(pair, want);
    assert_eq!(idx.nodes.order()[8], snap(6));
    // Routes, exclusions and matrices speak snapshot ids whatever the numbering.
    let r = route_ok(&idx, &RouteRequest::new(id(0), id(3), 1_000));
    assert_eq!(path_of(&r), vec![id(0), id(1), id(5), id(3)]);
    let mut req = RouteRequest::new(id(2), id(0), 1_000);
    req.exclude_nodes = vec![id(4), id(3)];
    assert_eq!(route_ok(&idx, &req).hops.len(), 3);
    req.exclude_nodes = vec![id(5)];
    assert!(idx.find_route(&req).is_err());
    let m = idx.matrix(&[id(0), id(7)], &[id(3), id(8)], 1_000, CostModel::Fee);
    assert_eq!(m.cells[0][0].hops, Some(3));
    assert_eq!(m.cells[1][1].hops, Some(1));
    assert!(m.cells[0][1].error.is_some() && m.cells[1][0].error.is_some());
}

#[test]
fn fees_accumulate_from_the_end_and_the_first_hop_is_free() {
    let mut t = TestGraph::new(4);
    both(&mut t, 0, 1, 1_000_000, 5_000, 100_000, 10);
    both(&mut t, 1, 2, 1_000_000, 1_000, 1_000, 20);
    both(&mut t, 2, 3, 1_000_000, 2_000, 10_000, 30);
    let idx = index(&t);
    let r = route_ok(&idx, &RouteRequest::new(id(0), id(3), 1_000_000));
    assert_eq!(path_of(&r), vec![id(0), id(1), id(2), id(3)]);
    // Node 2 charges 2000 + 1% of 1,000,000; node 1 charges 1000 + 0.1% of 1,012,000.
    assert_eq!(r.hops[2].fee_msat, 12_000);
    assert_eq!(r.hops[1].fee_msat, 1_000 + 1_012);
    assert_eq!(r.hops[0].fee_msat, 0);
    assert_eq!(r.hops[0].amount_to_forward_msat, 1_000_000 + 12_000 + 2_012);
    assert_eq!(r.total_fee_msat, 14_012);
    assert_eq!(r.total_cltv, 18 + 20 + 30);
}

#[test]
fn cheapest_parallel_channel_that_carries_the_amount_wins() {
    let mut t = TestGraph::new(3);
    both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
    let cheap_small = both(&mut t, 1, 2, 10, 0, 1, 10);
    let mid = both(&mut t, 1, 2, 1_000_000, 0, 100, 10);
    both(&mut t, 1, 2, 1_000_000, 0, 1_000, 10);
    let idx = index(&t);
    let r = route_ok(&idx, &RouteRequest::new(id(0), id(2), 5_000));
    assert_eq!(r.hops[1].scid, cheap_small);
    let r = route_ok(&idx, &RouteRequest::new(id(0), id(2), 50_000));
    assert_eq!(
        r.hops[1].scid, mid,
        "10 sat channel cannot carry 50,000 msat"
    );
}

#[test]
fn disabled_directions_and_htlc_limits_are_honoured() {
    let mut t = TestGraph::new(4);
    both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
    let cheap = both(&mut t, 1, 3, 1_000_000, 0, 1, 10);
    both(&mut t, 1, 2, 1_000_000, 0, 10, 10);
    both(&mut t, 2, 3, 1_000_000, 0, 10, 10);
    set(&mut t, cheap, 1, |u| u.htlc_max_msat = Some(100_000));
    let idx = index(&t);
    assert_eq!(
        route_ok(&idx, &RouteRequest::new(id(0), id(3), 100_000))
            .hops
            .len(),
        2
    );
    assert_eq!(
        route_ok(&idx, &RouteRequest::new(id(0), id(3), 100_001))
            .hops
            .len(),
        3
    );
    set(&mut t, cheap, 1, |u| u.disabled = true);
    let idx = index(&t);
    assert_eq!(
        route_ok(&idx, &RouteRequest::new(id(0), id(3), 1_000))
            .hops
            .len(),
        3
    );
    // The reverse direction 3 -> 1 is still enabled and usable.
    assert_eq!(
        route_ok(&idx, &RouteRequest::new(id(3), id(0), 1_000))
            .hops
            .len(),
        2
    );
}

#[test]
fn htlc_minimum_can_make_a_larger_upstream_amount_the_only_way() {
    // 0 -> 1 -> 3 -> 4: cheap but edge 1->3 needs 10,500 msat. Via 2, node 2 charges
    // enough that the amount at 1 reaches that minimum.
    let mut t = TestGraph::new(5);
    both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
    let min = both(&mut t, 1, 3, 1_000_000, 0, 0, 10);
    both(&mut t, 3, 4, 1_000_000, 0, 0, 10);
    set(&mut t, min, 1, |u| u.htlc_min_msat = 10_500);
    let idx = index(&t);
    assert_eq!(
        idx.find_route(&RouteRequest::new(id(0), id(4), 10_000)),
        Err(RouteError::Capacity)
    );
    assert_eq!(
        route_ok(&idx, &RouteRequest::new(id(0), id(4), 10_500)).total_fee_msat,
        0
    );
    let mut t2 = t.clone();
    both(&mut t2, 3, 2, 1_000_000, 600, 0, 10);
    both(&mut t2, 2, 4, 1_000_000, 600, 0, 10);
    let idx = index(&t2);
    // 0 -> 1 -> 3 -> 2 -> 4: node 2 charges 600, so 3 receives 10,600 (+600 from 3).
    let r = route_ok(&idx, &RouteRequest::new(id(0), id(4), 10_000));
    assert_eq!(path_of(&r), vec![id(0), id(1), id(3), id(2), id(4)]);
}

#[test]
fn cltv_and_hop_limits_pick_the_best_route_within_them() {
    let mut t = TestGraph::new(6);
    // Cheap long path 0-1-2-3-5 with big deltas; expensive short path 0-4-5.
    both(&mut t, 0, 1, 1_000_000, 0, 0, 100);
    both(&mut t, 1, 2, 1_000_000, 1, 0, 100);
    both(&mut t, 2, 3, 1_000_000, 1, 0, 100);
    both(&mut t, 3, 5, 1_000_000, 1, 0, 100);
    both(&mut t, 0, 4, 1_000_000, 0, 0, 10);
    both(&mut t, 4, 5, 1_000_000, 50, 0, 10);
    let idx = index(&t);
    let base = RouteRequest::new(id(0), id(5), 1_000);
    assert_eq!(route_ok(&idx, &base).total_fee_msat, 3);
    let req = RouteRequest {
        max_cltv: Some(300),
        ..base.clone()
    };
    let r = route_ok(&idx, &req);
    assert_eq!((r.total_fee_msat, r.total_cltv), (50, 28));
    let req = RouteRequest {
        max_hops: Some(3),
        ..base.clone()
    };
    assert_eq!(route_ok(&idx, &req).hops.len(), 2);
    let req = RouteRequest {
        max_cltv: Some(20),
        ..base.clone()
    };
    assert_eq!(
        idx.find_route(&req).unwrap_err().code(),
        "no_route_cltv_limit"
    );
    let req = RouteRequest {
        max_hops: Some(1),
        ..base.clone()
    };
    assert_eq!(
        idx.find_route(&req).unwrap_err().code(),
        "no_route_hop_limit"
    );
    let req = RouteRequest {
        max_fee_msat: Some(2),
        ..base
    };
    assert_eq!(
        idx.find_route(&req).unwrap_err().code(),
        "no_route_fee_limit"
    );
}

/// The 3.7 GB report: when the cheapest path breaks the cltv limit, the label-setting
/// search may need exponentially many labels. Here the hop out of node `i` (1..=16)
/// offers two parallel channels, one free with cltv delta `2^(16-i)`, one charging
/// `2^(16-i)` msat with delta 0, so every choice of channels is Pareto-optimal (more fee,
/// less cltv), and the backward search meets the big deltas, which the limit prunes,
/// last. The search must stop at its budget, holding no more labels than the budget, and
/// say so (or, were it cleverer, find the optimum).
#[test]
fn excluded_nodes_and_channels_are_avoided() {
    let mut t = TestGraph::new(4);
    both(&mut t, 0, 1, 1_000_000, 0, 0, 10);
    let c13 = both(&mut t, 1, 3, 1_000_000, 0, 0, 10);
    both(&mut t, 0, 2, 1_000_000, 0, 0, 10);
    both(&mut t, 2, 3, 1_000_000, 5, 0, 10);
    let idx = index(&t);
    let base = RouteRequest::new(id(0), id(3), 1_000);
    assert_eq!(path_of(&route_ok(&idx, &base))[1], id(1));
    let req = RouteRequest {
        exclude_nodes: vec![id(1)],
        ..base.clone()
    };
    assert_eq!(path_of(&route_ok(&idx, &req))[1], id(2));
    let req = RouteRequest {
        exclude_channels: vec![c13],
        ..base.clone()
    };
    assert_eq!(path_of(&route_ok(&idx, &req))[1], id(2));
    let req = RouteRequest {
        exclude_nodes: vec![id(1), id(2)],
        ..base
    };
    assert_eq!(idx.find_route(&req), Err(RouteError::Capacity));
}

#[test]
fn bad_requests_and_unreachable_pairs_get_their_error_codes() {
    let mut t = TestGraph::new(5);
    both(&mut t, 0, 1, 1_000, 0, 0, 10);
    let one_way = t.channel(2, 3, 1_000);
    t.policy(one_way, 2, 0, 0, 10);
    let idx = index(&t);
    let code = |r: RouteRequest| idx.find_route(&r).unwrap_err().code();
    assert_eq!(code(RouteRequest::new(id(0), id(1), 0)), "invalid_request");
    assert_eq!(
        code(RouteRequest {
            max_hops: Some(21),
            ..RouteRequest::new(id(0), id(1), 1)
        }),
        "invalid_request"
    );
    assert_eq!(code(RouteRequest::new(id(0), id(0), 1)), "same_node");
    assert_eq!(code(RouteRequest::new(id(0), id(9), 1)), "unknown_node");
    assert_eq!(
        code(RouteRequest::new(id(0), id(3), 1)),
        "no_route_disconnected"
    );
    assert_eq!(
        code(RouteRequest::new(id(3), id(2), 1)),
        "no_route_disconnected"
    );
    assert_eq!(
        code(RouteRequest::new(id(0), id(4), 1)),
        "no_route_disconnected"
    );
    assert_eq!(
        code(RouteRequest::new(id(0), id(1), 1_000_001)),
        "no_route_capacity"
    );
    assert!(idx.find_route(&RouteRequest::new(id(2), id(3), 1)).is_ok());
    assert!(RouteError::SameNode.is_invalid_request());
    assert!(!RouteError::Disconnected.is_invalid_request());
}

#[test]
fn probability_model_prefers_big_channels_and_reports_every_metric() {
    let mut t = TestGraph::new(4);
    both(&mut t, 0, 1, 200, 0, 0, 10);
    both(&mut t, 1, 3, 200, 0, 0, 10);
    both(&mut t, 0, 2, 100_000, 0, 0, 10);
    both(&mut t, 2, 3, 100_000, 10, 0, 10);
    let idx = index(&t);
    let req = RouteRequest::new(id(0), id(3), 100_000);
    let fee = route_ok(&idx, &req);
    assert_eq!(path_of(&fee)[1], id(1));
    for model in [CostModel::Probability, CostModel::Balanced] {
        let r = route_ok(&idx, &req.clone().with_model(model));
        assert_eq!(path_of(&r)[1], id(2), "{model:?}");
        assert!(r.probability > fee.probability);
        assert_eq!(r.total_fee_msat, 10);
    }
    let p = route_ok(&idx, &req.clone().with_model(CostModel::Probability));
    assert!((p.cost + p.probability.ln()).abs() < 1e-12);
}

#[test]
fn batch_and_matrix_keep_input_order() {
    let mut t = TestGraph::new(4);
    both(&mut t, 0, 1, 1_000_000, 1, 0, 10);
    both(&mut t, 1, 2, 1_000_000, 2, 0, 10);
    both(&mut t, 2, 3, 1_000_000, 4, 0, 10);
    let idx = index(&t);
    let reqs: Vec<RouteRequest> = (0..40)
        .map(|i| RouteRequest::new(id(i % 4), id((i / 4) % 4), 1_000))
        .collect();
    for (req, res) in reqs.iter().zip(idx.find_routes(&reqs)) {
        assert_eq!(res, idx.find_route(req));
    }
    let m = idx.matrix(
        &[id(0), id(3)],
        &[id(1), id(2), id(3)],
        1_000,
        CostModel::Fee,
    );
    assert_eq!(m.cells[0][0].fee_msat, Some(0));
    assert_eq!(m.cells[0][1].fee_msat, Some(2));
    assert_eq!(m.cells[0][2].fee_msat, Some(6));
    assert_eq!(m.cells[1][2].error, Some("same_node"));
    assert_eq!(
        m.cells[1][0].fee_msat,
        Some(2),
        "3 -> 2 is free, 2 charges 2 for 2 -> 1"
    );
}

#[test]
fn the_fee_search_stops_as_soon_as_the_payer_has_the_least_key() {
    // Every channel is free, so every node's key is the amount: 50 nodes besides the
    // payer (0) reach the payer's only peer (1), the destination's only way in. The
    // payer's channel carries the most, so it is relaxed first and the 50 after it.
    let mut t = TestGraph::new(53);
    both(&mut t, 0, 1, 1_000, 0, 0, 10);
    for i in 2..52 {
        both(&mut t, i, 1, 500, 0, 0, 10);
    }
    both(&mut t, 1, 52, 1_000, 0, 0, 10);
    let idx = index(&t);
    let before = fee_search_work_for_tests().0;
    let r = idx
        .find_route(&RouteRequest::new(id(0), id(52), 100_000))
        .unwrap();
    let settled = fee_search_work_for_tests().0 - before;
    assert_eq!(r.hops.len(), 2);
    assert_eq!(r.total_fee_msat, 0);
    assert_eq!(settled, 3, "destination, the payer's peer, the payer");
}

#[test]
fn requests_parse_from_json_with_defaults() {
    let json = format!(
        r#"{{"source":"{}","destination":"{}","amount_msat":5000,"cost_model":"balanced",
           "exclude_channels":["100000x1x0"]}}"#,
        id(0),
        id(1)
    );
    let r: RouteRequest = serde_json::from_str(&json).unwrap();
    assert_eq!(r.cost_model, CostModel::Balanced);
    assert_eq!(r.exclude_channels, vec![Scid::new(100_000, 1, 0).unwrap()]);
    assert_eq!(r.max_hops, None);
    let bad = json.replace(&id(0).to_string(), "02zz");
    assert!(serde_json::from_str::<RouteRequest>(&bad).is_err());
    let m: MppRequest =
        serde_json::from_str(&json.replace("}", r#","force_split":true}"#)).unwrap();
    assert!(m.force_split);
}
