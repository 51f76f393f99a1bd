//! Fee-strategy benchmarks on the 2026 graph (`cargo bench -p switchyard-fees --bench fees`),
//! with about 3% of the directions (chosen by a fixed hash) priced near u32::MAX ppm, as LND
//! nodes say "do not use", and every payment carrying a wallet's fee ceiling.
//!
//! * routing load: every payment of the demand routed one by one (mean, median, p99, the
//!   slowest, refusals) and as a batch (rate);
//! * simulate: a what-if routing every payment (a scenario derived with one override, its
//!   index, 10,000 payments routed and accounted), timed once; a `whatif::Baseline` (the
//!   demand routed once, timed), then one what-if per channel at 1 ppm and per channel
//!   +200 ppm, each timed with the payments routed again and compared with routing every
//!   payment; the same series under criterion (`what_if_on_baseline`); the base scenario's build
//!   is timed apart;
//! * curves: the fast revenue curves (20 candidates, 10,000 payments) for nodes with about 50,
//!   200 and 1,000 channels, and the naive oracle in the same run, timed once with `Instant`
//!   (it is slow): on every channel of the 50-channel node, on a few channels of the others
//!   (its time per channel is nearly constant, so the full oracle is extrapolated from it
//!   and printed as such); the 50-channel curves also under criterion;
//! * simulate end to end: `sim::simulate_with_work` for a what-if that lowers one fee, one
//!   that raises every fee and one that does both, with its route counts;
//! * plan: `plan()` with the `flow` strategy (3 rounds) for the 50-, 200- and 1,000-channel
//!   nodes;
//! * quality: for the 10 best-connected nodes, N's revenue on a held-out demand (another seed
//!   and amount range) under the `flow` plan (bounds 0 ppm to the node's highest current
//!   ppm, at least 2,000, so that no move is forced), the current fees and `proportional`
//!   (half-balance assumption), as a table.
//!
//! Times are wall clock and CPU seconds of this process (the host is shared and noisy:
//! CPU seconds say what the work costs), next to the work counts.
//! `SWITCHYARD_BENCH_SHORT=1`: 1,000 payments, the oracle on 3 channels, 3 quality nodes.
//! `SWITCHYARD_BENCH_PARTS=routing,simulate,curves,plan,quality` runs only those parts;
//! `SWITCHYARD_BENCH_ORACLE=k` samples the oracle on `k` channels of the 50-channel node too;
//! `SWITCHYARD_BENCH_QUALITY_RANKS=10,15,...` picks the quality nodes by rank.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard_fees::curves::{self, Curves};
use switchyard_fees::demand::{AmountDistribution, Demand, DemandSpec, RandomDemand};
use switchyard_fees::plan::{plan, Plan, PlanRequest};
use switchyard_fees::rules::{FlowParams, Rules, Strategy};
use switchyard_fees::scenario::{request, Balances, FeePolicy, PolicyOverride, Scenario};
use switchyard_fees::sim::{self, account, route_all, SimulateRequest};
use switchyard_fees::strategy;
use switchyard_fees::whatif::Baseline;
use switchyard_graph::testing::load_bundled;
use switchyard_graph::{EdgeIdx, NodeId, NodeIdx, Snapshot};

/// `SWITCHYARD_BENCH_ORACLE=k`: the oracle on `k` channels of each node (at most 2 on the
/// 200- and 1,000-channel nodes), extrapolated to all and labelled so.
fn oracle_channels() -> Option<usize> {
    std::env::var("SWITCHYARD_BENCH_ORACLE")
        .ok()
        .and_then(|v| v.parse().ok())
}

fn short() -> bool {
    std::env::var_os("SWITCHYARD_BENCH_SHORT").is_some()
}

/// Whether to run `part` (`SWITCHYARD_BENCH_PARTS`, comma-separated; all when unset).
fn part(name: &str) -> bool {
    std::env::var("SWITCHYARD_BENCH_PARTS").map_or(true, |v| v.split(',').any(|x| x == name))
}

/// CPU seconds of this process so far (user + system; 0 where /proc is missing).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): utime and stime are 12 and 13.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, f64) {
    let (t, c) = (Instant::now(), cpu_seconds());
    let out = f();
    (out, t.elapsed(), cpu_seconds() - c)
}

/// The 2026 graph with about 3% of its enabled directions at `u32::MAX - h % 1000` ppm, the
/// directions chosen by a fixed hash of (scid, direction).
fn do_not_use_graph() -> Snapshot {
    let g = load_bundled("2026-02-03");
    let mut changes = Vec::new();
    for e in 0..g.edge_slot_count() as EdgeIdx {
        let Some(p) = g.edge_policy(e).filter(|p| !p.disabled) else {
            continue;
        };
        let scid = g.channel(Snapshot::edge_channel(e)).scid.0;
        let h = (scid ^ u64::from(e & 1))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
        if h % 100 < 3 {
            let mut q = *p;
            q.fee_ppm = u32::MAX - (h >> 40) as u32 % 1000;
            changes.push((e, q));
        }
    }
    println!(
        "graph: {} nodes, {} channels, {} directions priced near u32::MAX ppm",
        g.node_count(),
        g.channel_count(),
        changes.len()
    );
    g.with_policies(&changes).expect("existing policies")
}

fn enabled_out(g: &Snapshot, u: NodeIdx) -> usize {
    g.out_edges(u)
        .iter()
        .filter(|&&e| g.edge_enabled(e))
        .count()
}

/// Among the nodes with about `n` enabled outgoing directions (within 10%, or the closest
/// count), the one with the most capacity: a node that routes.
fn node_with(g: &Snapshot, n: usize) -> NodeId {
    let nodes = 0..g.node_count() as NodeIdx;
    let closest = nodes
        .clone()
        .map(|u| enabled_out(g, u).abs_diff(n))
        .min()
        .unwrap_or(0);
    let slack = closest.max(n / 10);
    let best = nodes
        .filter(|&u| enabled_out(g, u).abs_diff(n) <= slack)
        .max_by_key(|&u| (g.node_capacity_sat(u), u))
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

fn flow_params(rounds: u32) -> FlowParams {
    FlowParams {
        base_fee_msat: 0,
        min_fee_ppm: 0,
        max_fee_ppm: 2_000,
        max_step_ppm: 500,
        max_step_percent: 50,
        candidates: 20,
        rounds,
        min_gain_percent: 1,
    }
}

/// Every payment routed one by one (latencies) and as a batch (rate).
fn routing_load(sc: &Scenario, d: &Demand) {
    let mut times: Vec<Duration> = Vec::with_capacity(d.payments.len());
    let mut refused: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut by_outcome: std::collections::BTreeMap<&'static str, (usize, Duration)> =
        Default::default();
    for p in &d.payments {
        let t = Instant::now();
        let r = sc.find_route(&request(p));
        let dt = t.elapsed();
        times.push(dt);
        let code = r.as_ref().map_or_else(|e| e.code(), |_| "ok");
        let slot = by_outcome.entry(code).or_default();
        slot.0 += 1;
        slot.1 += dt;
        if let Err(e) = r {
            *refused.entry(e.code()).or_default() += 1;
        }
    }
    times.sort_unstable();
    let n = times.len().max(1);
    let mean = times.iter().sum::<Duration>() / n as u32;
    let at = |q: f64| times[((n as f64 * q) as usize).min(n - 1)];
    let (routes, wall, cpu) = timed(|| route_all(sc, d));
    println!(
        "routing {} payments with fee ceilings: one by one mean {mean:?}, p50 {:?}, p99 {:?}, \
         max {:?}; batch {wall:?} ({cpu:.2} s CPU), {:.0} routes/s; {} routed, refused {refused:?}",
        d.payments.len(),
        at(0.5),
        at(0.99),
        times[n - 1],
        routes.len() as f64 / wall.as_secs_f64(),
        routes.iter().filter(|r| r.is_ok()).count(),
    );
    println!("  time by outcome (count, total one by one): {by_outcome:?}");
    if std::env::var_os("SWITCHYARD_BENCH_SLOWEST").is_some() {
        let mut slow: Vec<(Duration, usize)> = d
            .payments
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let best = (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        let _ = sc.find_route(&request(p));
                        t.elapsed()
                    })
                    .min()
                    .unwrap_or_default();
                (best, i)
            })
            .collect();
        let total: Duration = slow.iter().map(|x| x.0).sum();
        slow.sort_unstable_by(|a, b| b.cmp(a));
        let top: Duration = slow.iter().take(100).map(|x| x.0).sum();
        println!("  best of 3: total {total:?}, slowest 100 {top:?}");
        for &(t, i) in slow.iter().take(15) {
            let p = &d.payments[i];
            let r = sc.find_route(&request(p));
            println!(
                "  {t:?} amount {} max_fee {} -> {:?}",
                p.amount_msat,
                p.max_fee_msat,
                r.map(|r| (r.hops.len(), r.total_fee_msat))
                    .map_err(|e| e.code())
            );
        }
    }
}

/// One line of curve work.
fn work_line(c: &Curves) -> String {
    let w = &c.work;
    format!(
        "routes {} (baseline {}, around {}, prefix {}, suffix {}), suffix searches {} settling {}, \
         skipped {}, fallbacks {} (htlc_min {}, not simple {}, limits {}, budget {}, not unique {}), \
         indexes {}",
        w.routes(),
        w.baseline_routes,
        w.avoid_routes,
        w.prefix_routes,
        w.suffix_routes,
        w.suffix_searches,
        w.settled_nodes,
        w.payments_skipped,
        w.fallbacks(),
        w.fallback_htlc_min,
        w.fallback_not_simple,
        w.fallback_limits,
        w.fallback_search_budget,
        w.fallback_not_unique,
        w.indexes_built,
    )
}

/// Fast curves for a node, the oracle on `oracle_channels` of its channels, the speed-up.
fn curves_vs_oracle(
    sc: &Scenario,
    d: &Demand,
    grid: &[FeePolicy],
    oracle_channels: usize,
) -> Duration {
    let edges = sc.out_edges();
    let (fast, wall, cpu) = timed(|| curves::compute(sc, d, grid, &edges));
    println!(
        "curves {} channels x {} candidates x {} payments: fast {wall:?} ({cpu:.2} s CPU); {}",
        edges.len(),
        grid.len(),
        d.payments.len(),
        work_line(&fast)
    );
    let some = &edges[..oracle_channels.min(edges.len())];
    let (naive, nwall, ncpu) = timed(|| curves::naive(sc, d, grid, some));
    let (part, pwall, pcpu) = if some.len() == edges.len() {
        (fast.clone(), wall, cpu)
    } else {
        timed(|| curves::compute(sc, d, grid, some))
    };
    let equal =
        part.curves == naive.curves && part.baseline_revenue_msat == naive.baseline_revenue_msat;
    let scale = edges.len() as f64 / some.len().max(1) as f64;
    println!(
        "  oracle on {} channels: {nwall:?} ({ncpu:.2} s CPU, {} indexes, {} routes); fast on the \
         same {pwall:?} ({pcpu:.2} s CPU): {:.0}x wall, {:.0}x CPU; every point equal: {equal}",
        some.len(),
        naive.work.indexes_built,
        naive.work.patched_routes,
        nwall.as_secs_f64() / pwall.as_secs_f64(),
        ncpu / pcpu.max(1e-9),
    );
    if some.len() < edges.len() {
        println!(
            "  oracle on all {} channels, extrapolated: {:.0} s wall ({:.0} s CPU): {:.0}x the \
             fast curves (wall), {:.0}x (CPU)",
            edges.len(),
            nwall.as_secs_f64() * scale,
            ncpu * scale,
            nwall.as_secs_f64() * scale / wall.as_secs_f64(),
            ncpu * scale / cpu.max(1e-9),
        );
    }
    wall
}

/// `sim::simulate_with_work` end to end (base scenario, demand, what-if, the baseline where
/// needed) for the bench's what-if (ppm 1 on one channel: a fall), for one that raises
/// every channel's ppm by 200 and one that both raises and lowers.
fn simulate_end_to_end(g: &Snapshot, base: &Scenario, fall: &SimulateRequest) {
    let node = fall.node;
    let shifted = |f: &dyn Fn(usize, FeePolicy) -> FeePolicy| -> Vec<PolicyOverride> {
        base.out_edges()
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let fee = f(i, base.fee_of(e));
                PolicyOverride {
                    scid: g.channel(Snapshot::edge_channel(e)).scid,
                    from: node,
                    base_fee_msat: fee.base_fee_msat,
                    fee_ppm: fee.fee_ppm,
                }
            })
            .collect()
    };
    let rise = shifted(&|_, f| FeePolicy::new(f.base_fee_msat, f.fee_ppm.saturating_add(200)));
    let mixed = shifted(&|i, f| {
        let ppm = if i % 2 == 0 {
            f.fee_ppm.saturating_add(200)
        } else {
            f.fee_ppm / 2
        };
        FeePolicy::new(f.base_fee_msat, ppm)
    });
    for (name, overrides) in [
        ("one channel at 1 ppm (fall)", fall.overrides.clone()),
        ("every channel +200 ppm (rise)", rise),
        ("half +200 ppm, half halved (mixed)", mixed),
    ] {
        let req = SimulateRequest {
            overrides,
            ..fall.clone()
        };
        let ((r, w), wall, cpu) =
            timed(|| sim::simulate_with_work(g, &req, &Balances::HalfCapacity).expect("simulate"));
        println!(
            "sim::simulate end to end, {name}: {wall:?} ({cpu:.2} s CPU); {} succeeded, {} \
             changed; routes: what-if {}, baseline {}, reused {}; indexes {}; result digest \
             {:016x}",
            r.succeeded,
            r.changed_routes,
            w.what_if_routes,
            w.baseline_routes,
            w.reused_routes,
            w.indexes_built,
            digest(&(&r.node, &r.channels, r.succeeded))
        );
    }
}

/// Per channel of N, the what-if "this channel at 1 ppm" (a fall), then "this channel
/// +200 ppm" (a rise), one override each.
fn one_ppm_overrides(g: &Snapshot, base: &Scenario, node: NodeId) -> Vec<Vec<PolicyOverride>> {
    let one = |e: EdgeIdx, fee: FeePolicy| PolicyOverride {
        scid: g.channel(Snapshot::edge_channel(e)).scid,
        from: node,
        base_fee_msat: fee.base_fee_msat,
        fee_ppm: fee.fee_ppm,
    };
    let edges = base.out_edges();
    let falls = edges.iter().map(|&e| vec![one(e, FeePolicy::new(0, 1))]);
    let rises = edges.iter().map(|&e| {
        let f = base.fee_of(e);
        vec![one(
            e,
            FeePolicy::new(f.base_fee_msat, f.fee_ppm.saturating_add(200)),
        )]
    });
    falls.chain(rises).collect()
}

/// The baseline (every payment routed once, timed), then one what-if per channel at 1 ppm
/// and per channel +200 ppm, each timed, its routes counted, and its result compared with
/// routing every payment under the what-if.
fn what_ifs<'d>(g: &Snapshot, base: &Scenario, d: &'d Demand, node: NodeId) -> Baseline<'d> {
    let (mut baseline, wall, cpu) = timed(|| Baseline::from_scenario(base.clone(), d));
    println!(
        "what-if baseline ({} payments routed once at the current fees): {wall:?} ({cpu:.2} s \
         CPU)",
        d.payments.len()
    );
    let series = one_ppm_overrides(g, base, node);
    let (mut wall_sum, mut cpu_sum, mut worst) = (Duration::ZERO, 0.0, Duration::ZERO);
    let (mut rerouted, mut same) = (0u64, 0usize);
    let (mut same_cost, mut same_sim, mut tied, mut checked) = (0usize, 0usize, 0usize, 0usize);
    for (i, ov) in series.iter().enumerate() {
        let (r, wall, cpu) = timed(|| baseline.routes_under(ov).expect("what-if"));
        let (sc, routes, w) = (r.scenario, r.routes, r.work);
        if i == 0 {
            println!(
                "  first what-if (cold session): {wall:?} ({cpu:.2} s CPU), {} payments routed \
                 again",
                w.what_if_routes
            );
        }
        (wall_sum, cpu_sum, worst) = (wall_sum + wall, cpu_sum + cpu, worst.max(wall));
        rerouted += w.what_if_routes;
        // Checked on every 8th what-if (`SWITCHYARD_BENCH_CHECK_ALL`: every one).
        if i % 8 != 0 && std::env::var_os("SWITCHYARD_BENCH_CHECK_ALL").is_none() {
            continue;
        }
        checked += 1;
        // Every payment routed under the what-if: the same cost (or failure) each?
        let all = route_all(&sc, d);
        let cost = |r: &Result<switchyard_graph::route::Route, _>| {
            r.as_ref().ok().map(|r| r.total_fee_msat)
        };
        same_cost += usize::from(routes.iter().zip(&all).all(|(a, b)| cost(a) == cost(b)));
        let mine = account(&sc, &routes);
        if mine == account(&sc, &all) {
            same += 1;
        } else {
            tied += 1;
        }
        let req = SimulateRequest {
            node,
            overrides: ov.clone(),
            demand: DemandSpec::List {
                list: d.payments.clone(),
            },
            return_routes: false,
        };
        let one = sim::simulate(g, &req, &Balances::HalfCapacity).expect("simulate");
        same_sim += usize::from((one.node, one.channels) == mine);
    }
    println!(
        "  of {checked} what-ifs checked, every route costs what routing every payment \
         gives: {same_cost}; N's flow \
         equal to routing every payment: {same}, differing only by the router's choice among \
         equally cheap routes: {tied}; equal to sim::simulate: {same_sim}"
    );
    let k = series.len().max(1);
    println!(
        "  {k} what-ifs (one channel at 1 ppm, or +200 ppm, each): mean {:?} ({:.3} s CPU), \
         slowest {worst:?}; {:.0} payments routed again per what-if; curves work {}",
        wall_sum / k as u32,
        cpu_sum / k as f64,
        rerouted as f64 / k as f64,
        work_line(&Curves {
            curves: vec![],
            baseline_revenue_msat: 0,
            work: baseline.curve_work()
        })
    );
    baseline
}

fn plan_request(node: NodeId, strategy: Strategy, payments: usize, seed: u64) -> PlanRequest {
    PlanRequest {
        node,
        // Every channel under `strategy` (the rules' own strategy is replaced).
        rules: Rules::parse("[default]\nstrategy = \"static\"\nbase_fee_msat = 0\nfee_ppm = 0\n")
            .expect("rules"),
        strategy: Some(strategy),
        channels: vec![],
        balances: Balances::HalfCapacity,
        demand: DemandSpec::Random(RandomDemand::new(payments, seed)),
    }
}

fn bench(c: &mut Criterion) {
    let g = do_not_use_graph();
    let payments = if short() { 1_000 } else { 10_000 };
    let d = demand(&g, payments, 1, AmountDistribution::default());
    let n50 = node_with(&g, 50);

    let (base, wall, cpu) =
        timed(|| Scenario::new(&g, &n50, &Balances::HalfCapacity, &[]).expect("scenario"));
    println!("scenario (split graph, floor and index): {wall:?} ({cpu:.2} s CPU)");
    if part("routing") {
        routing_load(&base, &d);
    }
    let mut grp = c.benchmark_group("fees");
    grp.sample_size(10);
    if part("simulate") {
        let e = base.out_edges()[0];
        let ov = [PolicyOverride {
            scid: g.channel(Snapshot::edge_channel(e)).scid,
            from: n50,
            base_fee_msat: 0,
            fee_ppm: 1,
        }];
        let every = || {
            let s = base.with_fees(&base.override_changes(&ov).expect("override"));
            account(&s, &route_all(&s, &d))
        };
        let (_, wall, cpu) = timed(every);
        println!(
            "simulate {payments} payments, one what-if routing every payment (its index \
             included): {wall:?} ({cpu:.2} s CPU)"
        );
        let mut baseline = what_ifs(&g, &base, &d, n50);
        let req = SimulateRequest {
            node: n50,
            overrides: ov.to_vec(),
            demand: DemandSpec::Random(RandomDemand::new(payments, 1)),
            return_routes: false,
        };
        simulate_end_to_end(&g, &base, &req);
        let series = one_ppm_overrides(&g, &base, n50);
        let mut i = 0;
        grp.bench_function("what_if_on_baseline", |b| {
            b.iter(|| {
                i = (i + 1) % series.len();
                baseline.what_if(&series[i], false).expect("what-if")
            })
        });
    }
    let grid = strategy::grid(&flow_params(1));
    if part("curves") {
        let oracle = oracle_channels().unwrap_or(if short() { 3 } else { usize::MAX });
        curves_vs_oracle(&base, &d, &grid, oracle);
        let edges = base.out_edges();
        grp.bench_function("curves_50_channels", |b| {
            b.iter(|| curves::compute(&base, &d, &grid, &edges))
        });
    }
    grp.finish();
    if part("curves") {
        for n in [200, 1_000] {
            let node = node_with(&g, n);
            let sc = Scenario::new(&g, &node, &Balances::HalfCapacity, &[]).expect("scenario");
            let sample = oracle_channels().unwrap_or(if short() { 1 } else { 2 });
            curves_vs_oracle(&sc, &d, &grid, sample.min(2));
        }
    }
    if part("plan") {
        // `SWITCHYARD_BENCH_PLAN_SIZES=50,200`: only the nodes of these sizes.
        let sizes: Vec<usize> = std::env::var("SWITCHYARD_BENCH_PLAN_SIZES")
            .ok()
            .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![50, 200, 1_000]);
        for node in sizes
            .into_iter()
            .map(|n| if n == 50 { n50 } else { node_with(&g, n) })
        {
            flow_plan(&g, node, payments);
        }
    }
    if part("quality") {
        quality(&g);
    }
}

/// The `flow` plan (3 rounds, 20 candidates) for `node`, timed, with its work.
fn flow_plan(g: &Snapshot, node: NodeId, payments: usize) {
    let req = plan_request(node, Strategy::Flow(flow_params(3)), payments, 1);
    let (p, wall, cpu) = timed(|| plan(g, &req).expect("plan"));
    println!(
        "plan (flow, {} channels, 20 candidates, up to 3 rounds, {payments} payments): {wall:?} \
         ({cpu:.2} s CPU); revenue {} -> {} msat; moves kept {}, refused {}, payments \
         routed again for them {}; {}",
        p.channels.len(),
        p.current_revenue_msat,
        p.expected_revenue_msat,
        p.flow_moves.0,
        p.flow_moves.1,
        p.flow_moves.2,
        work_line(&Curves {
            curves: vec![],
            baseline_revenue_msat: 0,
            work: p.work
        })
    );
    println!("  proposals digest {:016x}", digest(&p.channels));
}

/// A fixed hash of a value's debug form: "the same result" across runs and builds.
fn digest(x: &impl std::fmt::Debug) -> u64 {
    format!("{x:?}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// N's revenue on `held_out` under `plan`'s proposals.
fn revenue_under(g: &Snapshot, node: NodeId, p: &Plan, held_out: &Demand) -> u64 {
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
    account(&s, &route_all(&s, held_out)).0.revenue_msat
}

/// Revenue under flow, current fees and proportional, on a held-out demand.
fn quality(g: &Snapshot) {
    // `SWITCHYARD_BENCH_QUALITY_RANKS=10,15,...`: the nodes ranked so by enabled outgoing
    // channels instead of the 10 (short: 3) best-connected.
    let default_ranks: Vec<usize> = (0..if short() { 3 } else { 10 }).collect();
    let ranks: Vec<usize> = std::env::var("SWITCHYARD_BENCH_QUALITY_RANKS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or(default_ranks);
    let n_pay = if short() { 1_000 } else { 10_000 };
    let mut ranked: Vec<(usize, NodeIdx)> = (0..g.node_count() as NodeIdx)
        .map(|u| (enabled_out(g, u), u))
        .collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    println!(
        "enabled outgoing channels of the 60 best-connected nodes: {:?}",
        ranked.iter().take(60).map(|x| x.0).collect::<Vec<_>>()
    );
    let held_out = demand(
        g,
        n_pay,
        99,
        AmountDistribution::LogUniform {
            min_sat: 5_000,
            max_sat: 2_000_000,
        },
    );
    println!(
        "quality: plans on {n_pay} payments (seed 7, 1k..1M sat), revenue on {n_pay} held-out \
         payments (seed 99, 5k..2M sat)"
    );
    println!(
        "{:<18} {:>8} {:>14} {:>14} {:>14} {:>10} {:>8}   in-sample current -> flow",
        "node", "channels", "current msat", "flow msat", "proportional", "flow plan", "rounds",
    );
    let (mut cur_sum, mut flow_sum, mut prop_sum) = (0u64, 0u64, 0u64);
    for &(k, u) in ranks.iter().filter_map(|&r| ranked.get(r)) {
        let node = g.node(u).id;
        // Bounds that hold every current fee of the node: no move is forced, so the plan
        // never simulates less than the current fees on its own demand.
        let cur = Scenario::new(g, &node, &Balances::HalfCapacity, &[]).expect("scenario");
        let top = cur
            .out_edges()
            .into_iter()
            .map(|e| cur.fee_of(e).fee_ppm)
            .max();
        let params = FlowParams {
            max_fee_ppm: top.unwrap_or(0).max(2_000),
            ..flow_params(3)
        };
        let flow = plan_request(node, Strategy::Flow(params), n_pay, 7);
        let (flow, time, _) = timed(|| plan(g, &flow));
        let prop = plan_request(
            node,
            Strategy::Proportional {
                base_fee_msat: 0,
                min_fee_ppm: 10,
                max_fee_ppm: 1_000,
            },
            n_pay,
            7,
        );
        let current = account(&cur, &route_all(&cur, &held_out)).0.revenue_msat;
        match (flow, plan(g, &prop)) {
            (Ok(f), Ok(p)) => {
                let (fr, pr) = (
                    revenue_under(g, node, &f, &held_out),
                    revenue_under(g, node, &p, &held_out),
                );
                let rounds = f
                    .channels
                    .iter()
                    .find_map(|c| c.reason.rsplit('(').next())
                    .unwrap_or("")
                    .trim_end_matches(')')
                    .to_string();
                (cur_sum, flow_sum, prop_sum) = (cur_sum + current, flow_sum + fr, prop_sum + pr);
                println!(
                    "{:<18} {k:>8} {current:>14} {fr:>14} {pr:>14} {:>10.1?} {rounds:>8}   {} -> {}",
                    &node.to_string()[..16],
                    time,
                    f.current_revenue_msat,
                    f.expected_revenue_msat,
                );
            }
            (a, b) => println!("{node}: plan failed {:?} {:?}", a.err(), b.err()),
        }
    }
    println!(
        "{:<18} {:>8} {cur_sum:>14} {flow_sum:>14} {prop_sum:>14}",
        "total", ""
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
