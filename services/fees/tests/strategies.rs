//! Strategies on small hand-built graphs.

use switchyard_fees::demand::{Demand, DemandSpec, Payment};
use switchyard_fees::rules::FlowParams;
use switchyard_fees::scenario::{Balances, FeePolicy, PolicyOverride, Scenario};
use switchyard_fees::strategy::{self, FlowChannel};
use switchyard_graph::testing::TestGraph;
use switchyard_graph::Scid;

fn id(i: u32) -> switchyard_graph::NodeId {
    TestGraph::node_id(i)
}

fn both(t: &mut TestGraph, a: u32, b: u32, cap: u64, base: u32, ppm: u32) -> Scid {
    let s = t.channel(a, b, cap);
    t.policy(s, a, base, ppm, 40);
    t.policy(s, b, base, ppm, 40);
    s
}

#[test]
fn proportional_at_ratio_0_half_and_1() {
    let p = |r| strategy::proportional(r, 7, 100, 500).fee;
    assert_eq!(p(0.0), FeePolicy::new(7, 500));
    assert_eq!(p(0.5), FeePolicy::new(7, 300));
    assert_eq!(p(1.0), FeePolicy::new(7, 100));
}

#[test]
fn competitive_takes_the_percentile_of_the_other_channels_into_the_peer() {
    let mut t = TestGraph::new(6);
    let mine = both(&mut t, 0, 1, 1_000, 0, 999);
    for (i, ppm) in [(2, 100), (3, 200), (4, 300), (5, 400)] {
        both(&mut t, i, 1, 1_000, 10 * i, ppm);
    }
    let g = t.build();
    let e = g.out_edges(g.node_idx(&id(0)).unwrap())[0];
    assert_eq!(g.channel(e >> 1).scid, mine);
    let c = |p| strategy::competitive(&g, e, p, None).unwrap().fee;
    assert_eq!(c(50.0).fee_ppm, 200);
    assert_eq!(c(75.0).fee_ppm, 300);
    assert_eq!(c(100.0), FeePolicy::new(50, 400));
    assert_eq!(c(0.0).fee_ppm, 100);
}

#[test]
fn cost_floor_is_the_cheapest_circular_route() {
    // 0 = N, 1 = peer. Refill: 0 -> 2 -> 1 (2 charges 1000 + 100 ppm), then 1 -> 0 over the
    // channel itself (1 charges 5 + 10 ppm); 0 -> 3 -> 1 is dearer.
    let mut t = TestGraph::new(4);
    let c = both(&mut t, 0, 1, 10_000, 5, 10);
    both(&mut t, 0, 2, 10_000, 0, 0);
    both(&mut t, 2, 1, 10_000, 1_000, 100);
    both(&mut t, 0, 3, 10_000, 0, 0);
    both(&mut t, 3, 1, 10_000, 2_000, 100);
    let g = t.build();
    let sc = Scenario::new(&g, &id(0), &Balances::HalfCapacity, &[]).unwrap();
    let e = sc
        .out_edges()
        .into_iter()
        .find(|&e| g.channel(e >> 1).scid == c)
        .unwrap();
    let amount = 1_000_000;
    let last = 5 + amount * 10 / 1_000_000;
    let middle = 1_000 + (amount + last) * 100 / 1_000_000;
    let (ppm, cost) = strategy::cost_floor(&sc, e, amount).unwrap();
    assert_eq!(cost, last + middle);
    assert_eq!(u64::from(ppm), (cost * 1_000_000).div_ceil(amount));
}

/// N (0) is the only way from payers 1..=3 to payee 4 besides a competitor (5) charging 390 ppm:
/// N's revenue grows with its fee until it passes the competitor, so the best
/// candidate is the largest one below 390 ppm (no tie to break).
#[test]
fn flow_finds_the_known_best_fee_and_respects_bounds_and_steps() {
    let mut t = TestGraph::new(6);
    let out = both(&mut t, 0, 4, 10_000, 0, 0);
    both(&mut t, 5, 4, 10_000, 0, 390);
    for payer in 1..=3 {
        both(&mut t, payer, 0, 10_000, 0, 0);
        both(&mut t, payer, 5, 10_000, 0, 0);
    }
    let g = t.build();
    let pays: Vec<Payment> = (1..=3)
        .map(|p| Payment::new(id(p), id(4), 1_000_000))
        .collect();
    let demand = Demand::generate(&g, &DemandSpec::List { list: pays }).unwrap();
    let base = Scenario::new(&g, &id(0), &Balances::HalfCapacity, &[]).unwrap();
    let e = base
        .out_edges()
        .into_iter()
        .find(|&e| g.channel(e >> 1).scid == out)
        .unwrap();
    let params = FlowParams {
        base_fee_msat: 0,
        min_fee_ppm: 0,
        max_fee_ppm: 1_000,
        max_step_ppm: 1_000,
        max_step_percent: 100,
        candidates: 21, // 0, 50, ..., 1000
        rounds: 3,
        min_gain_percent: 0,
    };
    let scenario_for = |fees: &[FeePolicy]| {
        let o = PolicyOverride {
            scid: out,
            from: id(0),
            base_fee_msat: fees[0].base_fee_msat,
            fee_ppm: fees[0].fee_ppm,
        };
        Scenario::new(&g, &id(0), &Balances::HalfCapacity, &[o]).unwrap()
    };
    let run = |params: FlowParams, start: u32| {
        let ch = FlowChannel {
            edge: e,
            params,
            floor_ppm: None,
        };
        strategy::flow(&[ch], &demand, &[FeePolicy::new(0, start)], scenario_for).proposals[0].fee
    };
    assert_eq!(run(params, 0).fee_ppm, 350);
    // A 100 ppm step: from 0, the best reachable is 100, then 200, 300 (3 rounds).
    let stepped = run(
        FlowParams {
            max_step_ppm: 100,
            ..params
        },
        0,
    );
    assert_eq!(stepped.fee_ppm, 300);
    // Bounds: never above max.
    let capped = run(
        FlowParams {
            max_fee_ppm: 250,
            candidates: 6,
            ..params
        },
        0,
    );
    assert_eq!(capped.fee_ppm, 250);
    // Percent step from 200: at most 20% a round; no grid point in reach, the window's end
    // is a candidate: 240, 288 (+48), 345 (+57) in 3 rounds.
    let pct = run(
        FlowParams {
            max_step_percent: 20,
            candidates: 21,
            ..params
        },
        200,
    );
    assert_eq!(pct.fee_ppm, 345, "{pct:?}");
}
