//! The fast revenue curves equal the naive oracle, on random graphs and on the 2026 graph;
//! every simulated route is valid; a seed gives the same demand and result on 1 or 2 threads.

use proptest::prelude::*;
use switchyard_fees::curves::{self, Curves, Session};
use switchyard_fees::demand::{Demand, DemandSpec, Payment, RandomDemand};
use switchyard_fees::plan::{plan, PlanRequest};
use switchyard_fees::rules::Rules;
use switchyard_fees::scenario::{request, Balances, FeePolicy, Scenario};
use switchyard_fees::sim::{self, SimulateRequest};
use switchyard_graph::load::UpdateRecord;
use switchyard_graph::route::validate::validate_route;
use switchyard_graph::testing::{load_bundled, TestGraph};
use switchyard_graph::NodeId;

/// Every point equals the oracle's: payments over the channel, revenue on it, and N's total.
fn assert_equal(fast: &Curves, naive: &Curves) {
    assert_eq!(fast.curves.len(), naive.curves.len());
    assert_eq!(
        fast.baseline_revenue_msat, naive.baseline_revenue_msat,
        "baseline"
    );
    assert_eq!(
        fast.work.payments_undecided, naive.work.payments_undecided,
        "payments left out"
    );
    for (a, b) in fast.curves.iter().zip(&naive.curves) {
        assert_eq!(a.scid, b.scid);
        assert_eq!(a.points.len(), b.points.len());
        for (x, y) in a.points.iter().zip(&b.points) {
            assert_eq!(
                x, y,
                "{} (current {:?}) at {:?}; fast work {:?}",
                a.scid, a.current, x.fee, fast.work
            );
        }
    }
}

#[derive(Debug, Clone)]
struct Chan {
    a: u32,
    b: u32,
    cap: u64,
    /// Per direction: (base, ppm, cltv, htlc_min, htlc_max, disabled)
    pol: [(u32, u32, u16, u64, Option<u64>, bool); 2],
}

fn policy() -> impl Strategy<Value = (u32, u32, u16, u64, Option<u64>, bool)> {
    (
        prop_oneof![Just(0u32), 0..3_000u32, Just(u32::MAX - 1)],
        prop_oneof![Just(0u32), 0..2_000u32, Just(u32::MAX)],
        prop_oneof![Just(40u16), 1..400u16],
        prop_oneof![Just(0u64), Just(1_000u64), 0..3_000_000u64],
        prop_oneof![Just(None), (1_000_000..20_000_000u64).prop_map(Some)],
        prop::bool::weighted(0.1),
    )
}

fn chans(nodes: u32) -> impl Strategy<Value = Vec<Chan>> {
    prop::collection::vec(
        (0..nodes, 0..nodes, 1_000..50_000u64, policy(), policy()).prop_filter_map(
            "no self channel",
            |(a, b, cap, p, q)| {
                (a != b).then_some(Chan {
                    a,
                    b,
                    cap,
                    pol: [p, q],
                })
            },
        ),
        nodes as usize..(nodes as usize * 4),
    )
}

fn build(nodes: u32, cs: &[Chan]) -> switchyard_graph::Snapshot {
    let mut t = TestGraph::new(nodes);
    for c in cs {
        let scid = t.channel(c.a, c.b, c.cap);
        for (i, from) in [c.a, c.b].into_iter().enumerate() {
            let (base, ppm, cltv, min, max, disabled) = c.pol[i];
            t.update(UpdateRecord {
                scid,
                direction: t.direction_from(scid, from),
                timestamp: 10,
                message_flags: 1,
                channel_flags: 0,
                disabled,
                cltv_delta: cltv,
                htlc_min_msat: min,
                htlc_max_msat: max,
                fee_base_msat: base,
                fee_ppm: ppm,
            });
        }
    }
    t.build()
}

fn grid() -> Vec<FeePolicy> {
    [
        (0, 0),
        (0, 10),
        (1_000, 1),
        (1_000, 100),
        (0, 700),
        (5_000, 2_000),
        (u32::MAX, u32::MAX),
    ]
    .into_iter()
    .map(|(b, p)| FeePolicy::new(b, p))
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn fast_curves_equal_the_oracle_on_random_graphs(
        cs in chans(9),
        node in 0..9u32,
        seed in any::<u64>(),
        tight in prop::bool::weighted(0.3),
    ) {
        let g = build(9, &cs);
        let Some(_) = g.node_idx(&TestGraph::node_id(node)) else { return Ok(()) };
        let sc = Scenario::new(&g, &TestGraph::node_id(node), &Balances::HalfCapacity, &[]).unwrap();
        let mut d = Demand::generate(&g, &DemandSpec::Random(RandomDemand {
            amounts: switchyard_fees::demand::AmountDistribution::LogUniform { min_sat: 1, max_sat: 20_000 },
            ..RandomDemand::new(60, seed)
        })).unwrap();
        if tight {
            for p in &mut d.payments {
                p.max_cltv = 150;
                p.max_hops = 3;
                p.max_fee_msat = p.amount_msat / 50;
            }
        }
        let edges = sc.out_edges();
        let mut session = Session::new(&d);
        let fast = session.curves(&sc, &grid(), &edges, None);
        let naive = curves::naive(&sc, &d, &grid(), &edges);
        assert_equal(&fast, &naive);
        // A second round with other fees on some channels reuses the first one's answers
        // and must still equal the oracle.
        let changes: Vec<_> = edges
            .iter()
            .enumerate()
            .filter(|(i, _)| (seed >> i) & 1 == 1)
            .map(|(i, &e)| (e, grid()[(seed as usize >> 8).wrapping_add(i) % grid().len()]))
            .collect();
        let next = sc.with_fees(&changes);
        let again = session.curves(&next, &grid(), &edges, None);
        assert_equal(&again, &curves::naive(&next, &d, &grid(), &edges));
    }
}

/// Real nodes of the 2026 graph: the ones ranked `ranks` by enabled outgoing channels.
fn nodes_2026(g: &switchyard_graph::Snapshot, ranks: &[usize]) -> Vec<NodeId> {
    let mut deg: Vec<(usize, u32)> = (0..g.node_count() as u32)
        .map(|n| {
            (
                g.out_edges(n)
                    .iter()
                    .filter(|&&e| g.edge_enabled(e))
                    .count(),
                n,
            )
        })
        .collect();
    deg.sort_unstable_by(|a, b| b.cmp(a));
    ranks.iter().map(|&r| g.node(deg[r].1).id).collect()
}

#[test]
fn fast_curves_equal_the_oracle_on_the_2026_graph() {
    let g = load_bundled("2026-02-03");
    let d = Demand::generate(&g, &DemandSpec::Random(RandomDemand::new(300, 11))).unwrap();
    let grid: Vec<FeePolicy> = [(0, 1), (1_000, 100), (0, 900)]
        .into_iter()
        .map(|(b, p)| FeePolicy::new(b, p))
        .collect();
    for n in nodes_2026(&g, &[60, 400]) {
        let sc = Scenario::new(&g, &n, &Balances::HalfCapacity, &[]).unwrap();
        let edges: Vec<_> = sc.out_edges().into_iter().take(4).collect();
        let mut session = Session::new(&d);
        let fast = session.curves(&sc, &grid, &edges, None);
        let naive = curves::naive(&sc, &d, &grid, &edges);
        assert_equal(&fast, &naive);
        let next = sc.with_fees(&[(edges[0], grid[2]), (edges[1], grid[0])]);
        let again = session.curves(&next, &grid, &edges, None);
        assert!(again.work.reused_answers + again.work.payments_reused > 0);
        assert_equal(&again, &curves::naive(&next, &d, &grid, &edges));
    }
}

/// A plan's proposals that differ from the current fees, as overrides.
fn overrides_of(p: &switchyard_fees::Plan) -> Vec<switchyard_fees::PolicyOverride> {
    p.channels
        .iter()
        .filter(|c| c.proposed != c.current)
        .map(|c| switchyard_fees::PolicyOverride {
            scid: c.scid,
            from: p.node,
            base_fee_msat: c.proposed.base_fee_msat,
            fee_ppm: c.proposed.fee_ppm,
        })
        .collect()
}

#[test]
fn a_flow_plan_expects_what_a_full_simulation_of_it_gives() {
    let g = load_bundled("2026-02-03");
    let n = nodes_2026(&g, &[3])[0];
    let spec = DemandSpec::Random(RandomDemand::new(6_000, 5));
    let req = PlanRequest {
        node: n,
        rules: Rules::parse(
            "[default]\nstrategy = \"flow\"\nmin_fee_ppm = 0\nmax_fee_ppm = 2000\nmin_gain_percent = 0\n",
        )
        .unwrap(),
        strategy: None,
        channels: vec![],
        balances: Balances::HalfCapacity,
        demand: spec.clone(),
    };
    let p = plan(&g, &req).unwrap();
    let mut why: Vec<&str> = p.channels.iter().map(|c| &c.reason[..]).collect();
    why.sort_unstable();
    why.dedup();
    assert!(
        p.channels.iter().any(|c| c.proposed != c.current),
        "{:?}",
        &why[..why.len().min(20)]
    );
    assert!(p.expected_revenue_msat > 0);
    assert!(
        p.work.payments_skipped > 0,
        "some payments are not simulated again"
    );
    let overrides = overrides_of(&p);
    let sim = |overrides: Vec<switchyard_fees::PolicyOverride>| {
        let r = SimulateRequest {
            node: n,
            overrides,
            demand: spec.clone(),
            return_routes: false,
        };
        sim::simulate(&g, &r, &Balances::HalfCapacity).unwrap()
    };
    let full = sim(overrides);
    assert_eq!(p.expected_revenue_msat, full.node.revenue_msat);
    assert_eq!(p.current_revenue_msat, sim(vec![]).node.revenue_msat);
    for c in &p.channels {
        let on: u64 = full
            .channels
            .iter()
            .filter(|f| f.scid == c.scid && f.direction == sim::Way::Out)
            .map(|f| f.revenue_msat)
            .sum();
        assert_eq!(c.expected_revenue_msat, on, "{}", c.scid);
    }
}

#[test]
fn simulated_routes_are_valid_and_a_seed_gives_the_same_result_on_1_or_2_threads() {
    let g = load_bundled("2026-02-03");
    let n = nodes_2026(&g, &[30])[0];
    let sc = Scenario::new(&g, &n, &Balances::HalfCapacity, &[]).unwrap();
    let e = sc.out_edges()[0];
    let scid = g.channel(e >> 1).scid;
    let req = SimulateRequest {
        node: n,
        overrides: vec![switchyard_fees::PolicyOverride {
            scid,
            from: n,
            base_fee_msat: 0,
            fee_ppm: 1,
        }],
        demand: DemandSpec::Random(RandomDemand::new(400, 3)),
        return_routes: true,
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| sim::simulate(&g, &req, &Balances::HalfCapacity).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two);
    assert_eq!(one.payments, 400);
    let d = Demand::generate(&g, &req.demand).unwrap();
    let patched = Scenario::new(&g, &n, &Balances::HalfCapacity, &req.overrides).unwrap();
    let routes = one.routes.as_ref().unwrap();
    let mut valid = 0;
    for (p, r) in d.payments.iter().zip(routes) {
        if let Some(r) = r {
            validate_route(&patched.snapshot, &request(p), r).unwrap();
            valid += 1;
        }
    }
    assert_eq!(valid as u64, one.succeeded);
    assert!(one.succeeded > 200, "{}", one.succeeded);
}

#[test]
fn balance_caps_limit_what_the_node_forwards() {
    // 0 -> 1 -> 2 through node 1 only; 1 holds 40k msat local on 1 -> 2.
    let mut t = TestGraph::new(3);
    let a = t.channel(0, 1, 1_000);
    t.policy(a, 0, 0, 0, 40);
    t.policy(a, 1, 0, 0, 40);
    let b = t.channel(1, 2, 1_000);
    t.policy(b, 1, 10, 0, 40);
    t.policy(b, 2, 10, 0, 40);
    let g = t.build();
    let me = TestGraph::node_id(1);
    let pay = |amount| Payment::new(TestGraph::node_id(0), TestGraph::node_id(2), amount);
    let req = SimulateRequest {
        node: me,
        overrides: vec![],
        demand: DemandSpec::List {
            list: vec![pay(30_000), pay(50_000), pay(30_000)],
        },
        return_routes: false,
    };
    let bal = Balances::Known(vec![switchyard_fees::ChannelBalance {
        scid: b,
        local_msat: 40_000,
        remote_msat: 960_000,
    }]);
    let r = sim::simulate(&g, &req, &bal).unwrap();
    assert_eq!(
        (r.succeeded, r.node.forwarded, r.node.revenue_msat),
        (2, 2, 20)
    );
    assert_eq!(
        r.node.volume_msat, 60_000,
        "each payment sees the full 40k: caps, not a budget"
    );
    let out = r
        .channels
        .iter()
        .find(|c| c.scid == b && c.direction == sim::Way::Out)
        .unwrap();
    assert_eq!((out.payments, out.revenue_msat), (2, 20));
    let inbound = r
        .channels
        .iter()
        .find(|c| c.scid == a && c.direction == sim::Way::In)
        .unwrap();
    assert_eq!(inbound.payments, 2);
}

/// A what-if whose fees only rise (or only fall) routes each payment on one side and on the
/// other only where it could differ; every route it reports costs what routing every payment
/// under the what-if costs, and is valid there.
#[test]
fn a_one_way_what_if_reuses_routes_and_costs_what_rerouting_everything_costs() {
    let g = load_bundled("2026-02-03");
    let n = nodes_2026(&g, &[3])[0];
    let sc = Scenario::new(&g, &n, &Balances::HalfCapacity, &[]).unwrap();
    let spec = DemandSpec::Random(RandomDemand::new(600, 21));
    let d = Demand::generate(&g, &spec).unwrap();
    for rise in [true, false] {
        let overrides: Vec<_> = sc
            .out_edges()
            .into_iter()
            .map(|e| {
                let f = sc.fee_of(e);
                let (base, ppm) = if rise {
                    (f.base_fee_msat, f.fee_ppm.saturating_add(50_000))
                } else {
                    (0, f.fee_ppm / 4)
                };
                switchyard_fees::PolicyOverride {
                    scid: g.channel(e >> 1).scid,
                    from: n,
                    base_fee_msat: base,
                    fee_ppm: ppm,
                }
            })
            .collect();
        let req = SimulateRequest {
            node: n,
            overrides: overrides.clone(),
            demand: spec.clone(),
            return_routes: true,
        };
        let (r, work) = sim::simulate_with_work(&g, &req, &Balances::HalfCapacity).unwrap();
        assert!(work.reused_routes > 300, "{rise}: {work:?}");
        assert!(r.changed_routes > 0, "{rise}: {work:?} {:?}", r.node);
        let full = Scenario::new(&g, &n, &Balances::HalfCapacity, &overrides).unwrap();
        let everything = sim::route_all(&full, &d);
        let mine = r.routes.as_ref().unwrap();
        for (i, (a, b)) in mine.iter().zip(&everything).enumerate() {
            match (a, b) {
                (Some(a), Ok(b)) => {
                    assert_eq!(a.total_fee_msat, b.total_fee_msat, "{rise}: payment {i}");
                    validate_route(&full.snapshot, &request(&d.payments[i]), a).unwrap();
                }
                (None, Err(_)) => {}
                _ => panic!("{rise}: payment {i}: {a:?} vs {b:?}"),
            }
        }
        assert_eq!(
            r.succeeded,
            everything.iter().filter(|x| x.is_ok()).count() as u64
        );
    }
}

/// A plan pricing every channel of `n` by `flow` (3 rounds, `min_gain` percent at least a
/// move), within bounds that hold every current fee of `n`, over `spec`.
fn flow_request(
    g: &switchyard_graph::Snapshot,
    n: NodeId,
    spec: DemandSpec,
    min_gain: u32,
) -> PlanRequest {
    let sc = Scenario::new(g, &n, &Balances::HalfCapacity, &[]).unwrap();
    let max = sc
        .out_edges()
        .into_iter()
        .map(|e| sc.fee_of(e).fee_ppm)
        .max()
        .unwrap_or(0)
        .max(2_000);
    let rules = format!(
        "[default]\nstrategy = \"flow\"\nmin_fee_ppm = 0\nmax_fee_ppm = {max}\n\
         min_gain_percent = {min_gain}\nmax_step_ppm = 1000\n"
    );
    PlanRequest {
        node: n,
        rules: Rules::parse(&rules).unwrap(),
        strategy: None,
        channels: vec![],
        balances: Balances::HalfCapacity,
        demand: spec,
    }
}

/// The flow plan's revenue, simulated independently (`sim::simulate` with its proposals as
/// overrides), and the current fees' on the same demand.
fn simulated_plan_and_current(g: &switchyard_graph::Snapshot, req: &PlanRequest) -> (u64, u64) {
    let p = plan(g, req).unwrap();
    let overrides = overrides_of(&p);
    let sim = |overrides| {
        let r = SimulateRequest {
            node: req.node,
            overrides,
            demand: req.demand.clone(),
            return_routes: false,
        };
        sim::simulate(g, &r, &Balances::HalfCapacity)
            .unwrap()
            .node
            .revenue_msat
    };
    let (planned, current) = (sim(overrides), sim(vec![]));
    assert_eq!(p.expected_revenue_msat, planned, "the plan's own figure");
    assert_eq!(p.current_revenue_msat, current);
    assert_eq!(
        plan(g, req).unwrap(),
        p,
        "the same demand gives the same plan"
    );
    (planned, current)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_flow_plan_never_simulates_less_than_the_current_fees_on_random_graphs(
        cs in chans(9),
        node in 0..9u32,
        seed in any::<u64>(),
        min_gain in prop_oneof![Just(0u32), Just(1u32)],
    ) {
        let g = build(9, &cs);
        let n = TestGraph::node_id(node);
        let Some(_) = g.node_idx(&n) else { return Ok(()) };
        let spec = DemandSpec::Random(RandomDemand {
            amounts: switchyard_fees::demand::AmountDistribution::LogUniform { min_sat: 1, max_sat: 20_000 },
            ..RandomDemand::new(80, seed)
        });
        let (planned, current) = simulated_plan_and_current(&g, &flow_request(&g, n, spec, min_gain));
        prop_assert!(planned >= current, "plan {planned} < current {current}");
    }
}

#[test]
fn a_flow_plan_never_simulates_less_than_the_current_fees_on_the_2019_graph() {
    let g = load_bundled("2019-05-14");
    let mut moved = 0;
    for (n, seed) in nodes_2026(&g, &[5, 20, 60]).into_iter().zip([3, 4, 5]) {
        let spec = DemandSpec::Random(RandomDemand::new(600, seed));
        let req = flow_request(&g, n, spec, 0);
        let (planned, current) = simulated_plan_and_current(&g, &req);
        assert!(
            planned >= current,
            "{n}: plan {planned} < current {current}"
        );
        moved += u32::from(planned > current);
    }
    assert!(moved > 0, "some plan gains");
}
