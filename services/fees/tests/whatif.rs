//! What-ifs against a kept baseline (`whatif::Baseline`) on the 2026 graph: every payment
//! gets a route that costs what routing every payment under the what-if gives (and is
//! valid there), only payments an override can move are routed again, and the answers do
//! not depend on the order of the what-ifs or the number of threads.

use switchyard_fees::demand::{Demand, DemandSpec, RandomDemand};
use switchyard_fees::scenario::{request, Balances, FeePolicy, PolicyOverride, Scenario};
use switchyard_fees::sim::{self, SimulationResult};
use switchyard_fees::whatif::Baseline;
use switchyard_graph::route::validate::validate_route;
use switchyard_graph::testing::load_bundled;
use switchyard_graph::{NodeId, Snapshot};

/// The node ranked `rank` by enabled outgoing channels.
fn node_ranked(g: &Snapshot, rank: usize) -> NodeId {
    let mut deg: Vec<(usize, u32)> = (0..g.node_count() as u32)
        .map(|n| {
            let out = g.out_edges(n).iter().filter(|&&e| g.edge_enabled(e));
            (out.count(), n)
        })
        .collect();
    deg.sort_unstable_by(|a, b| b.cmp(a));
    g.node(deg[rank].1).id
}

/// What-ifs on N's channels: each channel alone at 1 ppm, each alone +300 ppm, all +50,000
/// ppm, all at a quarter, and half up, half down.
fn what_ifs(g: &Snapshot, sc: &Scenario, n: NodeId) -> Vec<Vec<PolicyOverride>> {
    let ov = |e: u32, f: FeePolicy| PolicyOverride {
        scid: g.channel(e >> 1).scid,
        from: n,
        base_fee_msat: f.base_fee_msat,
        fee_ppm: f.fee_ppm,
    };
    let edges = sc.out_edges();
    let all = |f: &dyn Fn(usize, FeePolicy) -> FeePolicy| -> Vec<PolicyOverride> {
        let each = edges.iter().enumerate();
        each.map(|(i, &e)| ov(e, f(i, sc.fee_of(e)))).collect()
    };
    let mut out: Vec<Vec<PolicyOverride>> = Vec::new();
    for &e in edges.iter().take(6) {
        let f = sc.fee_of(e);
        out.push(vec![ov(e, FeePolicy::new(0, 1))]);
        let up = f.fee_ppm.saturating_add(300);
        out.push(vec![ov(e, FeePolicy::new(f.base_fee_msat, up))]);
    }
    out.push(all(&|_, f| {
        FeePolicy::new(f.base_fee_msat, f.fee_ppm.saturating_add(50_000))
    }));
    out.push(all(&|_, f| FeePolicy::new(0, f.fee_ppm / 4)));
    out.push(all(&|i, f| {
        let ppm = if i % 2 == 0 {
            f.fee_ppm.saturating_add(500)
        } else {
            f.fee_ppm / 2
        };
        FeePolicy::new(f.base_fee_msat, ppm)
    }));
    out
}

#[test]
fn a_baseline_what_if_costs_what_rerouting_everything_costs_and_reroutes_only_what_can_move() {
    let g = load_bundled("2026-02-03");
    let n = node_ranked(&g, 3);
    let d = Demand::generate(&g, &DemandSpec::Random(RandomDemand::new(500, 31))).unwrap();
    let sc = Scenario::new(&g, &n, &Balances::HalfCapacity, &[]).unwrap();
    let mut baseline = Baseline::from_scenario(sc.clone(), &d);
    let cases = what_ifs(&g, &sc, n);
    let mut answers: Vec<SimulationResult> = Vec::new();
    let mut rerouted_one_channel = 0;
    for (k, overrides) in cases.iter().enumerate() {
        let r = baseline.routes_under(overrides).unwrap();
        let (what_if, routes, changed, work) = (r.scenario, r.routes, r.changed_routes, r.work);
        assert_eq!(work.what_if_routes + work.reused_routes, 500, "{k}");
        if overrides.len() == 1 {
            rerouted_one_channel += work.what_if_routes;
        }
        let full = Scenario::new(&g, &n, &Balances::HalfCapacity, overrides).unwrap();
        let everything = sim::route_all(&full, &d);
        for (i, (a, b)) in routes.iter().zip(&everything).enumerate() {
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        a.total_fee_msat, b.total_fee_msat,
                        "what-if {k}, payment {i}"
                    );
                    validate_route(&full.snapshot, &request(&d.payments[i]), a).unwrap();
                }
                (Err(_), Err(_)) => {}
                _ => panic!("what-if {k}, payment {i}: {a:?} vs {b:?}"),
            }
        }
        let moved = routes
            .iter()
            .zip(baseline.routes())
            .filter(|(a, b)| {
                let key = |r: &Result<switchyard_graph::route::Route, _>| {
                    r.as_ref()
                        .ok()
                        .map(|r| r.hops.iter().map(|h| h.scid).collect::<Vec<_>>())
                };
                key(a) != key(b)
            })
            .count() as u64;
        assert!(changed <= moved, "what-if {k}: {changed} > {moved}");
        answers.push(sim::result(&what_if, routes, changed, false));
    }
    // One channel at a time moves few payments: most keep their baseline route unrouted.
    assert!(
        rerouted_one_channel < 12 * 500 / 4,
        "{rerouted_one_channel} routed again over 12 one-channel what-ifs"
    );
    // The same answers in reverse order, on a fresh baseline, on one thread.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let mut fresh = Baseline::new(&g, &n, &Balances::HalfCapacity, &d).unwrap();
        for (k, overrides) in cases.iter().enumerate().rev() {
            let (r, _) = fresh.what_if(overrides, false).unwrap();
            assert_eq!(r, answers[k], "what-if {k}");
        }
    });
}

#[test]
fn a_baseline_what_if_refuses_bad_overrides_and_answers_no_change_with_the_baseline() {
    let g = load_bundled("2026-02-03");
    let n = node_ranked(&g, 5);
    let d = Demand::generate(&g, &DemandSpec::Random(RandomDemand::new(100, 2))).unwrap();
    let mut baseline = Baseline::new(&g, &n, &Balances::HalfCapacity, &d).unwrap();
    let other = node_ranked(&g, 0);
    let e = baseline.scenario().out_edges()[0];
    let bad = PolicyOverride {
        scid: g.channel(e >> 1).scid,
        from: other,
        base_fee_msat: 0,
        fee_ppm: 1,
    };
    assert!(baseline.what_if(&[bad], false).is_err());
    let cur = baseline.scenario().fee_of(e);
    let same = PolicyOverride {
        from: n,
        base_fee_msat: cur.base_fee_msat,
        fee_ppm: cur.fee_ppm,
        ..bad
    };
    let (r, work) = baseline.what_if(&[same], true).unwrap();
    assert_eq!((work.what_if_routes, work.reused_routes), (0, 100));
    assert_eq!(r.changed_routes, 0);
    let (r0, _) = baseline.what_if(&[], true).unwrap();
    assert_eq!(r, r0);
    let routes: Vec<_> = baseline.routes().iter().map(|r| r.clone().ok()).collect();
    assert_eq!(r.routes, Some(routes));
}
