//! Fee-strategy benchmarks on the 2026 graph (`cargo bench --bench fees`).
//!
//! * simulate: 10,000 payments for one what-if (index build timed apart), criterion;
//! * curves: the fast revenue curves for a node with ~50 channels, 20 candidates, 10,000
//!   payments, criterion, and the naive oracle once (Instant: it is slow) in the same run,
//!   with the speed-up; then nodes with ~200 and ~1,000 channels (fast only);
//! * quality: for 10 well-connected nodes, N's revenue on a held-out demand (other seed,
//!   other amount range) under the `flow` plan, the current fees and `proportional`
//!   (half-balance assumption), as a table.
//!
//! Work counts (routes, settled nodes, fallbacks) are printed next to the times: the host is
//! shared and noisy. `SWITCHYARD_BENCH_SHORT=1`: 1,000 payments, the oracle on 5 channels,
//! 3 quality nodes.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard_fees::curves;
use switchyard_fees::demand::{AmountDistribution, Demand, DemandSpec, RandomDemand};
use switchyard_fees::plan::{plan, PlanRequest};
use switchyard_fees::rules::{FlowParams, Rules, Strategy};
use switchyard_fees::scenario::{Balances, PolicyOverride, Scenario};
use switchyard_fees::sim::{account, route_all};
use switchyard_fees::strategy;
use switchyard_graph::testing::load_bundled;
use switchyard_graph::{NodeId, Snapshot};

fn short() -> bool {
    std::env::var_os("SWITCHYARD_BENCH_SHORT").is_some()
}

/// The node whose enabled outgoing channel count is closest to `n`.
fn node_with(g: &Snapshot, n: usize) -> NodeId {
    let best = (0..g.node_count() as u32)
        .min_by_key(|&u| {
            let k = g
                .out_edges(u)
                .iter()
                .filter(|&&e| g.edge_enabled(e))
                .count();
            (k.abs_diff(n), u)
        })
        .unwrap_or(0);
    g.node(best).id
}

fn demand(g: &Snapshot, n: usize, seed: u64, amounts: AmountDistribution) -> Demand {
    let spec = DemandSpec::Random(RandomDemand {
        amounts,
        ..RandomDemand::new(n, seed)
    });
    Demand::generate(g, &spec).expect("demand")
}

fn flow_params() -> FlowParams {
    FlowParams {
        base_fee_msat: 0,
        min_fee_ppm: 0,
        max_fee_ppm: 2_000,
        max_step_ppm: 2_000,
        max_step_percent: 1_000,
        candidates: 20,
        rounds: 1,
    }
}

fn bench(c: &mut Criterion) {
    let g = load_bundled("2026-02-03");
    let payments = if short() { 1_000 } else { 10_000 };
    let d = demand(&g, payments, 1, AmountDistribution::default());
    let n50 = node_with(&g, 50);

    // Simulation.
    let t = Instant::now();
    let sc = Scenario::new(&g, &n50, &Balances::HalfCapacity, &[]).expect("scenario");
    let build = t.elapsed();
    let t = Instant::now();
    let routes = route_all(&sc, &d);
    println!(
        "simulate {payments} payments: index build {build:?}, routing {:?}, {} routed",
        t.elapsed(),
        routes.iter().filter(|r| r.is_ok()).count()
    );
    let e = sc.out_edges()[0];
    let ov = PolicyOverride {
        scid: g.channel(e >> 1).scid,
        from: n50,
        base_fee_msat: 0,
        fee_ppm: 1,
    };
    let mut grp = c.benchmark_group("fees");
    grp.sample_size(10);
    grp.bench_function("simulate_what_if_with_index_build", |b| {
        b.iter(|| {
            let s = Scenario::new(&g, &n50, &Balances::HalfCapacity, &[ov]).expect("scenario");
            account(&s, &route_all(&s, &d))
        })
    });

    // Curves: fast (criterion) and the oracle once.
    let grid = strategy::grid(&flow_params());
    let edges = sc.out_edges();
    let t = Instant::now();
    let fast = curves::compute(&sc, &d, &grid, &edges);
    let fast_time = t.elapsed();
    println!(
        "curves {} channels x {} candidates: fast {fast_time:?}, work {:?}",
        edges.len(),
        grid.len(),
        fast.work
    );
    grp.bench_function("curves_50_channels_20_candidates", |b| {
        b.iter(|| curves::compute(&sc, &d, &grid, &edges))
    });
    let naive_edges = if short() {
        &edges[..5.min(edges.len())]
    } else {
        &edges[..]
    };
    let t = Instant::now();
    let naive = curves::naive(&sc, &d, &grid, naive_edges);
    let naive_time = t.elapsed();
    let fast_same = if naive_edges.len() == edges.len() {
        fast_time
    } else {
        let t = Instant::now();
        curves::compute(&sc, &d, &grid, naive_edges);
        t.elapsed()
    };
    let equal = fast.curves.iter().zip(&naive.curves).all(|(a, b)| {
        a.points
            .iter()
            .zip(&b.points)
            .all(|(x, y)| (x.payments, x.revenue_msat) == (y.payments, y.revenue_msat))
    });
    println!(
        "oracle on {} channels: {naive_time:?} ({} indexes), fast on the same {fast_same:?}: {:.1}x, revenue on each channel equal: {equal}",
        naive_edges.len(),
        naive.work.indexes_built,
        naive_time.as_secs_f64() / fast_same.as_secs_f64()
    );
    for n in [200, 1_000] {
        let node = node_with(&g, n);
        let s = Scenario::new(&g, &node, &Balances::HalfCapacity, &[]).expect("scenario");
        let t = Instant::now();
        let r = curves::compute(&s, &d, &grid, &s.out_edges());
        println!(
            "curves {} channels x {}: {:?}, work {:?}",
            s.out_edges().len(),
            grid.len(),
            t.elapsed(),
            r.work
        );
    }
    grp.finish();
    quality(&g);
}

/// Revenue under flow, current fees and proportional, on a held-out demand.
fn quality(g: &Snapshot) {
    let nodes = if short() { 3 } else { 10 };
    let n_pay = if short() { 1_000 } else { 10_000 };
    let mut ranked: Vec<(usize, u32)> = (0..g.node_count() as u32)
        .map(|u| {
            (
                g.out_edges(u)
                    .iter()
                    .filter(|&&e| g.edge_enabled(e))
                    .count(),
                u,
            )
        })
        .collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    let held_out = demand(
        g,
        n_pay,
        99,
        AmountDistribution::LogUniform {
            min_sat: 5_000,
            max_sat: 2_000_000,
        },
    );
    let rules = Rules::parse("[default]\npin = true\n").expect("rules");
    println!(
        "{:<20} {:>8} {:>16} {:>16} {:>16} {:>8}",
        "node", "channels", "current msat", "flow msat", "proportional", "time"
    );
    // Nodes ranked 20.. (the very largest take minutes each here).
    for &(k, u) in ranked.iter().skip(20).take(nodes) {
        let node = g.node(u).id;
        let mk = |s: Strategy| PlanRequest {
            node,
            rules: rules.clone(),
            strategy: Some(s),
            channels: vec![],
            balances: Balances::HalfCapacity,
            demand: DemandSpec::Random(RandomDemand::new(n_pay, 7)),
        };
        let t = Instant::now();
        let flow = plan(
            g,
            &mk(Strategy::Flow(FlowParams {
                rounds: 2,
                max_step_ppm: 500,
                max_step_percent: 100,
                ..flow_params()
            })),
        );
        let time = t.elapsed();
        let prop = plan(
            g,
            &mk(Strategy::Proportional {
                base_fee_msat: 0,
                min_fee_ppm: 10,
                max_fee_ppm: 1_000,
            }),
        );
        let eval = |p: &switchyard_fees::Plan| {
            let ov: Vec<PolicyOverride> = p
                .channels
                .iter()
                .filter(|c| c.proposed != c.current)
                .map(|c| PolicyOverride {
                    scid: c.scid,
                    from: node,
                    base_fee_msat: c.proposed.base_fee_msat,
                    fee_ppm: c.proposed.fee_ppm,
                })
                .collect();
            let s = Scenario::new(g, &node, &Balances::HalfCapacity, &ov).expect("scenario");
            account(&s, &route_all(&s, &held_out)).0.revenue_msat
        };
        let cur = Scenario::new(g, &node, &Balances::HalfCapacity, &[]).expect("scenario");
        let current = account(&cur, &route_all(&cur, &held_out)).0.revenue_msat;
        match (flow, prop) {
            (Ok(f), Ok(p)) => println!(
                "{:<20} {k:>8} {current:>16} {:>16} {:>16} {time:>8.1?}",
                &node.to_string()[..16],
                eval(&f),
                eval(&p)
            ),
            (a, b) => println!("{node}: plan failed {:?} {:?}", a.err(), b.err()),
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
