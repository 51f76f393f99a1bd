//! Analytics unit tests: small graphs with known answers here, the brute-force reference on
//! random graphs in `brute.rs`.

mod brute;

use super::*;
use crate::testing::TestGraph;
use crate::types::{NodeId, Scid};

const AMOUNT: u64 = 1_000_000;

/// Both directions of a channel with the given fees.
fn both(t: &mut TestGraph, a: u32, b: u32, base: u32) -> Scid {
    let s = t.channel(a, b, 1_000_000);
    t.policy(s, a, base, 0, 40);
    t.policy(s, b, base, 0, 40);
    s
}

/// Betweenness by test-node number (`TestGraph` node `i`).
fn bc_by_test_node(g: &Snapshot, w: Weighting, nodes: u32) -> Vec<f64> {
    let ag = ActiveGraph::new(g);
    let b = ag.betweenness(g, w).unwrap();
    (0..nodes)
        .map(|i| {
            let sn = g.node_idx(&TestGraph::node_id(i)).unwrap();
            ag.active_index(sn).map_or(f64::NAN, |a| b.node[a])
        })
        .collect()
}

#[test]
fn path_betweenness_folds_its_leaves_exactly() {
    // 0 - 1 - 2 - 3, both directions: nodes 0 and 3 are folded leaves.
    let mut t = TestGraph::new(4);
    for i in 0..3 {
        both(&mut t, i, i + 1, 1);
    }
    let g = t.build();
    assert_eq!(
        bc_by_test_node(&g, Weighting::Hops, 4),
        vec![0.0, 4.0, 4.0, 0.0]
    );
    let b = ActiveGraph::new(&g)
        .betweenness(&g, Weighting::Hops)
        .unwrap();
    assert_eq!(b.reachable_pairs, 12);
    // Edge 1 -> 2 carries (0,2), (0,3), (1,2), (1,3).
    let mut e = b.edge.clone();
    e.sort_by(f64::total_cmp);
    assert_eq!(e, vec![3.0, 3.0, 3.0, 3.0, 4.0, 4.0]);
}

#[test]
fn star_center_carries_every_leaf_pair() {
    let mut t = TestGraph::new(6);
    for i in 1..6 {
        both(&mut t, 0, i, 1);
    }
    let g = t.build();
    let bc = bc_by_test_node(
        &g,
        Weighting::Fee {
            amount_msat: AMOUNT,
        },
        6,
    );
    assert_eq!(bc, vec![20.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn one_way_cycle_and_equal_cost_ties() {
    // Directed 4-cycle: each node lies inside 0 + 1 + 2 pairs per source, 3 in total.
    let mut t = TestGraph::new(4);
    for i in 0..4 {
        let s = t.channel(i, (i + 1) % 4, 1000);
        t.policy(s, i, 1, 0, 40);
    }
    let g = t.build();
    assert_eq!(bc_by_test_node(&g, Weighting::Hops, 4), vec![3.0; 4]);

    // Square 0-1-2-3-0 in both directions: opposite corners have two equal routes, so
    // each corner carries half of two pairs.
    let mut t = TestGraph::new(4);
    for i in 0..4 {
        both(&mut t, i, (i + 1) % 4, 7);
    }
    let g = t.build();
    assert_eq!(
        bc_by_test_node(
            &g,
            Weighting::Fee {
                amount_msat: AMOUNT
            },
            4
        ),
        vec![1.0; 4]
    );
}

#[test]
fn fee_weighting_prefers_the_cheap_detour_and_collapses_parallel_channels() {
    // 0 -> 2 directly costs 1000 msat, 0 -> 1 -> 2 costs 2: node 1 carries (0, 2).
    let mut t = TestGraph::new(3);
    let direct = t.channel(0, 2, 1000);
    t.policy(direct, 0, 1000, 0, 40);
    let a = t.channel(0, 1, 1000);
    t.policy(a, 0, 1, 0, 40);
    let b = t.channel(1, 2, 1000);
    t.policy(b, 1, 1, 0, 40);
    // A dearer parallel channel 1 -> 2 must not add a second route.
    let b2 = t.channel(1, 2, 1000);
    t.policy(b2, 1, 5, 0, 40);
    let g = t.build();
    assert_eq!(
        bc_by_test_node(
            &g,
            Weighting::Fee {
                amount_msat: AMOUNT
            },
            3
        ),
        vec![0.0, 1.0, 0.0]
    );
    assert_eq!(bc_by_test_node(&g, Weighting::Hops, 3), vec![0.0, 0.0, 0.0]);
    let r = NetworkAnalytics::compute(&g, &AnalyticsConfig::for_amount(AMOUNT)).unwrap();
    let fee = r.channel(b).unwrap().weighted[1].clone();
    assert!(matches!(fee.weighting, Weighting::Fee { .. }));
    let dir = g
        .edge_policy(2 * g.channel_idx(b).unwrap())
        .map_or(1, |_| 0);
    // 1 -> 2 carries (1, 2) and (0, 2) out of 3 reachable pairs.
    assert_eq!(fee.betweenness[dir], 2.0);
    assert!((fee.share_of_routes[dir] - 2.0 / 3.0).abs() < 1e-15);
    assert_eq!(r.channel(b2).unwrap().weighted[1].betweenness, [0.0, 0.0]);
}

#[test]
fn probability_weighting_avoids_small_channels() {
    // Amount 600k sat: 0 -> 1 -> 2 goes over big channels, the direct 0 -> 2 is too small.
    let mut t = TestGraph::new(3);
    let small = t.channel(0, 2, 500_000);
    t.policy(small, 0, 1, 0, 40);
    let a = t.channel(0, 1, 10_000_000);
    t.policy(a, 0, 1, 0, 40);
    let b = t.channel(1, 2, 10_000_000);
    t.policy(b, 1, 1, 0, 40);
    let g = t.build();
    let w = Weighting::Probability {
        amount_msat: 600_000_000,
    };
    assert_eq!(bc_by_test_node(&g, w, 3), vec![0.0, 1.0, 0.0]);
    assert!(ActiveGraph::new(&g)
        .betweenness(&g, Weighting::Probability { amount_msat: 0 })
        .is_err());
}

/// Brute-force reference: all-pairs distances and path counts by dynamic programming,
/// betweenness and closeness from their definitions.
#[test]
fn compute_reports_nodes_channels_and_top() {
    let mut t = TestGraph::new(5);
    for i in 1..5 {
        both(&mut t, 0, i, 10 * i);
    }
    let g = t.build();
    let r = NetworkAnalytics::compute(&g, &AnalyticsConfig::default()).unwrap();
    assert_eq!(r.nodes.len(), 5);
    assert_eq!(r.channels.len(), 4);
    let hub = TestGraph::node_id(0);
    let top = r.top(Metric::Betweenness(WeightKind::Hops), 2).unwrap();
    assert_eq!(top[0], (hub, 12.0));
    let rep = r.node(&hub).unwrap();
    assert_eq!(rep.weighted[0].betweenness.percentile, 1.0);
    assert_eq!(rep.weighted[0].betweenness_normalized, 1.0);
    assert_eq!(rep.core_number, 1);
    assert!(rep.in_largest_scc);
    assert_eq!(rep.rank.position, 1);
    assert_eq!(r.largest_scc_diameter, 2);
    assert_eq!(r.distributions.degree.summary.max, 4);
    assert!(r.node(&NodeId([2; 33])).is_none());
    assert!(r.heap_bytes() > 0);
    let mut cfg = AnalyticsConfig {
        weightings: vec![Weighting::Hops],
        ..Default::default()
    };
    let r = NetworkAnalytics::compute(&g, &cfg).unwrap();
    assert!(matches!(
        r.top(Metric::Betweenness(WeightKind::Fee), 1),
        Err(AnalyticsError::NotComputed(_))
    ));
    cfg.weightings = vec![Weighting::Hops, Weighting::Hops];
    assert_eq!(
        NetworkAnalytics::compute(&g, &cfg).unwrap_err(),
        AnalyticsError::DuplicateWeighting("hops")
    );
    cfg = AnalyticsConfig::default();
    cfg.pagerank_damping = 1.0;
    assert!(NetworkAnalytics::compute(&g, &cfg).is_err());
    assert!(serde_json::to_string(&r)
        .unwrap()
        .contains("\"reachable_pairs\""));
}

#[test]
fn empty_snapshot_is_fine() {
    let g = TestGraph::new(3).build();
    let r = NetworkAnalytics::compute(&g, &AnalyticsConfig::default()).unwrap();
    assert!(r.nodes.is_empty());
    assert_eq!(r.largest_scc_diameter, 0);
}

/// A few hundred nodes around hubs, fees from a small set (many exact ties between paths),
/// some directions disabled.
fn tied_graph(nodes: u32) -> TestGraph {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let mut t = TestGraph::new(nodes);
    for v in 1..nodes {
        for _ in 0..1 + rnd(3) {
            // Earlier nodes, biased towards the first ones (hubs).
            let u = (rnd(u64::from(v)) / (1 + rnd(4))) as u32;
            let s = t.channel(u, v, 100_000 * (1 + rnd(4)));
            for from in [u, v] {
                if rnd(10) > 0 {
                    t.policy(s, from, rnd(3) as u32 * 1000, rnd(3) as u32 * 100, 40);
                }
            }
        }
    }
    t
}

#[test]
fn every_metric_is_the_same_whatever_the_number_of_threads() {
    // Sums over sources in a per-thread order gave last-bit differences from run to run, and
    // exact ties in one run only, which moved percentiles and ranks.
    let g = tied_graph(400).build();
    let config = AnalyticsConfig::for_amount(AMOUNT);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let a = pool.install(|| NetworkAnalytics::compute(&g, &config).unwrap());
        serde_json::to_string(&a).unwrap()
    };
    let one = run(1);
    for threads in [2, 3, 5] {
        assert!(run(threads) == one, "{threads} threads differ from one");
    }
    // And again with the same count: the scheduling differs from run to run.
    assert!(run(2) == one);
}
