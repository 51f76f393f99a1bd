//! Routing benchmarks: switchyard's engine and LDK's `find_route` side by side, same queries,
//! same run.
//!
//! `cargo bench --bench routing` runs, per bundled graph (2019-05-14 and 2026-02-03):
//! per-query latency of the three cost models and LDK's over the fixed seeded query set,
//! the fee-model load (below), a 100 x 100 matrix, MPP for 1M-sat payments no single path
//! carries (the split ones and the refused ones timed apart), index build time and memory,
//! and criterion groups `route/{fee,fee_limit,prob,balanced,ldk_zero,ldk_prob}/{2019,2026}`
//! and `index/{build,build_with_landmarks_of}/{2019,2026}` (the index a node's payment needs,
//! whole or with the cached landmark tables); then the same without LDK on the 4x synthetic
//! graph (four relabelled copies of 2026 stitched with random channels;
//! `SWITCHYARD_BENCH_NO_4X=1` skips it).
//!
//! The fee-model load (issue 18, a simulation's mass of routes): the fee-model queries with
//! no fee limit and with a wallet's ceiling (LDK's default, 1% of the amount + 50 sat), each
//! with latency (mean, median, p99), the fee search's work per query (nodes settled, edges
//! relaxed: no noisy neighbour changes it), the answers (routes found, their fee sum,
//! refusals by code: what a refactor must leave unchanged) and the batch rate on 2 threads.
//! It also runs on each real graph with directions priced near u32::MAX ppm, as LND nodes
//! price a channel they do not want used (`testing::do_not_use`: a fixed 3% of the enabled
//! directions, and every direction into 2% of the nodes, which are then reachable only over
//! such directions; names end in `-dnu`, criterion ids `route/{fee,fee_limit}/{year}-dnu`),
//! once with the query set and once with its payments sent to those trapped nodes instead.
//!
//! Latency tables use 1,000 fixed seeded queries (`SWITCHYARD_BENCH_QUERIES` changes the
//! count) and print wall-clock and thread-CPU percentiles: the bench machine is shared, and
//! CPU time leaves out time spent preempted. `SWITCHYARD_BENCH_FULL=1` splits 60 MPP
//! payments instead of 20; `SWITCHYARD_BENCH_NO_LDK=1` leaves LDK out (before/after runs of
//! our engine alone).

#[path = "../services/graph/tests/common/ldk.rs"]
mod ldk;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard_graph::load::{ChannelRecord, NodeRecord, Record};
use switchyard_graph::route::{CostModel, MppRequest, RouteError, RouteRequest, RoutingIndex};
use switchyard_graph::testing::{do_not_use, do_not_use_traps, load_bundled};
use switchyard_graph::{NodeId, Scid, Snapshot};

type Query = (NodeId, NodeId, u64);

fn full() -> bool {
    std::env::var_os("SWITCHYARD_BENCH_FULL").is_some()
}

fn with_ldk() -> bool {
    std::env::var_os("SWITCHYARD_BENCH_NO_LDK").is_none()
}

/// A wallet's fee ceiling: LDK's default `max_total_routing_fee_msat`, 1% of the amount plus
/// 50 sat.
fn wallet_fee_limit(amount_msat: u64) -> u64 {
    amount_msat / 100 + 50_000
}

/// The fee-model request of a query, with no fee limit or the wallet's.
fn fee_request(q: &Query, ceiling: bool) -> RouteRequest {
    RouteRequest {
        max_fee_msat: ceiling.then(|| wallet_fee_limit(q.2)),
        ..RouteRequest::new(q.0, q.1, q.2)
    }
}

fn pct(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (p(0.5), p(0.99))
}

/// This thread's CPU time. The bench machine is shared, so wall-clock latencies include
/// time spent preempted; CPU time does not (it still includes cache and SMT contention).
fn thread_cpu() -> Duration {
    cpu_time::ThreadTime::now().as_duration()
}

/// Latency percentiles of one query set: wall clock and thread CPU time, all queries and
/// those without a route.
#[derive(Clone, Copy)]
struct Lat {
    wall: (Duration, Duration),
    cpu: (Duration, Duration),
    cpu_no_route: (Duration, Duration),
    mean_cpu: Duration,
    found: usize,
}

fn time_each(queries: &[Query], mut f: impl FnMut(&Query) -> bool) -> Lat {
    let mut wall = Vec::with_capacity(queries.len());
    let mut cpu = Vec::with_capacity(queries.len());
    let mut cpu_no_route = Vec::new();
    let mut found = 0;
    for q in queries {
        let (t, c) = (Instant::now(), thread_cpu());
        let ok = f(q);
        let (dc, dt) = (thread_cpu().saturating_sub(c), t.elapsed());
        found += usize::from(ok);
        wall.push(dt);
        cpu.push(dc);
        if !ok {
            cpu_no_route.push(dc);
        }
    }
    let mean_cpu = cpu.iter().sum::<Duration>() / queries.len().max(1) as u32;
    Lat {
        wall: pct(wall),
        cpu: pct(cpu),
        cpu_no_route: pct(cpu_no_route),
        mean_cpu,
        found,
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Four relabelled copies of `g`, stitched together with random extra channels whose
/// capacities and policies are copied from random existing channels.
fn synthetic_4x(g: &Snapshot) -> Snapshot {
    let mut records = Vec::new();
    let relabel = |id: &NodeId, k: u8| {
        let mut b = *id.as_bytes();
        b[1] ^= k;
        b[2] ^= k.wrapping_mul(37);
        NodeId::from_bytes_unchecked(b)
    };
    let mut x = 0x4444_u64;
    let mut rnd = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let push_channel = |records: &mut Vec<Record>,
                        scid: Scid,
                        n1: NodeId,
                        n2: NodeId,
                        src: &switchyard_graph::Channel| {
        records.push(Record::Channel(ChannelRecord {
            scid,
            node_1: n1,
            node_2: n2,
            capacity_sat: src.capacity_sat,
            funding_outpoint: None,
        }));
        for (dir, p) in src.policies.iter().enumerate() {
            if let Some(p) = p {
                records.push(Record::Update(p.to_update(scid, dir as u8)));
            }
        }
    };
    for k in 0..4u8 {
        for n in g.nodes() {
            records.push(Record::Node(NodeRecord {
                node_id: relabel(&n.id, k),
                announcement: None,
            }));
        }
        for (i, ch) in g.channels().iter().enumerate() {
            let scid = Scid::new(1_000_000 * (u32::from(k) + 1) + i as u32, 1, 0).expect("small");
            let (a, b) = (g.node(ch.nodes[0]).id, g.node(ch.nodes[1]).id);
            push_channel(&mut records, scid, relabel(&a, k), relabel(&b, k), ch);
        }
    }
    // 5% extra channels per copy, between random endpoints of random channels (so the degree
    // distribution is kept) in different copies.
    let extra = g.channel_count() / 5;
    for i in 0..extra {
        let c1 = g.channel((rnd() % g.channel_count() as u64) as u32);
        let c2 = g.channel((rnd() % g.channel_count() as u64) as u32);
        let (k1, k2) = ((rnd() % 4) as u8, (rnd() % 4) as u8);
        if k1 == k2 {
            continue;
        }
        let a = relabel(&g.node(c1.nodes[0]).id, k1);
        let b = relabel(&g.node(c2.nodes[1]).id, k2);
        let scid = Scid::new(6_000_000 + i as u32, 2, 0).expect("small");
        push_channel(&mut records, scid, a, b, c1);
    }
    Snapshot::from_records(records)
}

struct Setup {
    name: &'static str,
    g: Arc<Snapshot>,
    idx: Arc<RoutingIndex>,
    queries: Vec<Query>,
    ldk: Option<ldk::Graph>,
}

fn setup(name: &'static str, g: Snapshot, with_ldk: bool) -> Setup {
    let g = Arc::new(g);
    let t = Instant::now();
    let idx = RoutingIndex::build(g.clone());
    let build = t.elapsed();
    eprintln!(
        "[{name}] {} nodes, {} channels, {} enabled edges; index build {:.0} ms, index memory {:.1} MiB (snapshot {:.1} MiB)",
        g.node_count(),
        g.channel_count(),
        idx.edge_count(),
        build.as_secs_f64() * 1e3,
        idx.heap_bytes() as f64 / 1048576.0,
        g.heap_bytes() as f64 / 1048576.0
    );
    let count = std::env::var("SWITCHYARD_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let queries = ldk::queries(&g, count, 0x5eed_2019);
    let ldk = with_ldk.then(|| ldk::build_graph(&g));
    Setup {
        name,
        g,
        idx: Arc::new(idx),
        queries,
        ldk,
    }
}

fn latency_table(s: &Setup) {
    let idx = &s.idx;
    let mut rows = Vec::new();
    for (label, model) in [
        ("fee", CostModel::Fee),
        ("prob", CostModel::Probability),
        ("balanced", CostModel::Balanced),
    ] {
        // Warm the thread-local scratch and caches once.
        for q in s.queries.iter().take(20) {
            let _ = idx.find_route(&RouteRequest::new(q.0, q.1, q.2).with_model(model));
        }
        let r = time_each(&s.queries, |q| {
            idx.find_route(&RouteRequest::new(q.0, q.1, q.2).with_model(model))
                .is_ok()
        });
        rows.push((label, r));
    }
    if let Some(graph) = &s.ldk {
        let r = time_each(&s.queries, |q| {
            ldk::zero_penalty(graph, &q.0, &q.1, q.2).is_some()
        });
        rows.push(("ldk_zero", r));
        let scorer = ldk::scorer(graph);
        let r = time_each(&s.queries, |q| {
            ldk::probabilistic(graph, &scorer, &q.0, &q.1, q.2).is_some()
        });
        rows.push(("ldk_prob", r));
    }
    eprintln!(
        "[{}] per-query latency over {} queries (1 thread; wall clock, and this thread's CPU time):",
        s.name,
        s.queries.len()
    );
    for (label, r) in &rows {
        eprintln!(
            "  {label:<9} wall median {:>8.1} us p99 {:>8.1} us | cpu median {:>8.1} us p99 {:>8.1} us mean {:>8.1} us | no route: {:>4}, cpu median {:>7.1} us p99 {:>8.1} us",
            us(r.wall.0),
            us(r.wall.1),
            us(r.cpu.0),
            us(r.cpu.1),
            us(r.mean_cpu),
            s.queries.len() - r.found,
            us(r.cpu_no_route.0),
            us(r.cpu_no_route.1),
        );
    }
    let get = |l: &str| rows.iter().find(|r| r.0 == l).map(|r| r.1);
    if let (Some(f), Some(z)) = (get("fee"), get("ldk_zero")) {
        eprintln!(
            "  fee vs ldk_zero (cpu): {:.0}x at median, {:.0}x at p99",
            us(z.cpu.0) / us(f.cpu.0),
            us(z.cpu.1) / us(f.cpu.1)
        );
    }
    for l in ["prob", "balanced"] {
        if let (Some(o), Some(z)) = (get(l), get("ldk_prob")) {
            eprintln!(
                "  {l} vs ldk_prob: {:.0}x at median (cpu), {:.0}x at median (wall), {:.0}x at p99 (cpu)",
                us(z.cpu.0) / us(o.cpu.0),
                us(z.wall.0) / us(o.wall.0),
                us(z.cpu.1) / us(o.cpu.1)
            );
        }
    }
}

/// Work, answers, latency and batch rate of the fee-model queries, with no fee limit and
/// with the wallet's ceiling (`wallet_fee_limit`).
fn fee_load(s: &Setup) {
    fee_load_of(s, s.name, &s.queries);
}

/// [`fee_load`] of the given queries.
fn fee_load_of(s: &Setup, name: &str, queries: &[Query]) {
    let idx = &s.idx;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    for (label, ceiling) in [("no fee limit", false), ("fee limit 1% + 50 sat", true)] {
        for q in queries.iter().take(20) {
            let _ = idx.find_route(&fee_request(q, ceiling));
        }
        let r = time_each(queries, |q| {
            idx.find_route(&fee_request(q, ceiling)).is_ok()
        });
        // The fee search's work per query, counted: unlike the clock, the same on any
        // machine, so a change to the bounds can be judged by it. With the answers (fee sum
        // of the routes found, refusals by code), what a refactor must leave unchanged.
        let (mut settled, mut relaxed) = (Vec::new(), Vec::new());
        let (mut fee_sum, mut refusals) = (0u64, std::collections::BTreeMap::new());
        for q in queries {
            let w0 = switchyard_graph::route::fee_search_work_for_tests();
            let res = idx.find_route(&fee_request(q, ceiling));
            let w1 = switchyard_graph::route::fee_search_work_for_tests();
            settled.push(w1.0 - w0.0);
            relaxed.push(w1.1 - w0.1);
            match res {
                Ok(route) => fee_sum += route.total_fee_msat,
                Err(e) => *refusals.entry(e.code()).or_insert(0usize) += 1,
            }
        }
        let reqs: Vec<RouteRequest> = queries
            .iter()
            .cycle()
            .take(20_000)
            .map(|q| fee_request(q, ceiling))
            .collect();
        let (dt, batch_ok) = pool.install(|| {
            let _ = idx.find_routes(&reqs[..1000]);
            let t = Instant::now();
            let res = idx.find_routes(&reqs);
            (
                t.elapsed().as_secs_f64(),
                res.iter().filter(|r| r.is_ok()).count(),
            )
        });
        let (s50, s99, smean) = counts(settled);
        let (r50, r99, rmean) = counts(relaxed);
        eprintln!(
            "[{}] fee model, {label}, {} queries: cpu mean {:.1} us median {:.1} us p99 {:.1} us | wall median {:.1} us p99 {:.1} us",
            name,
            queries.len(),
            us(r.mean_cpu),
            us(r.cpu.0),
            us(r.cpu.1),
            us(r.wall.0),
            us(r.wall.1),
        );
        eprintln!(
            "  answers: {} routes, fee sum {fee_sum} msat; refused {refusals:?}",
            r.found
        );
        eprintln!(
            "  fee search work: nodes settled median {s50} p99 {s99} mean {smean}; edges relaxed \
             (forward ball included) median {r50} p99 {r99} mean {rmean}"
        );
        eprintln!(
            "  batch, 2 threads: {} queries in {dt:.3} s = {:.0} queries/s ({batch_ok} routes found)",
            reqs.len(),
            reqs.len() as f64 / dt,
        );
    }
}

/// The query set's sources and amounts, each sent instead to one of the nodes that
/// `testing::do_not_use` makes reachable only over "do not use" directions (in turn).
fn trapped_queries(s: &Setup) -> Vec<Query> {
    let g = &s.g;
    let trapped: Vec<NodeId> = (0..g.node_count() as u32)
        .filter(|&u| do_not_use_traps(u) && g.in_edges(u).iter().any(|&e| g.edge_enabled(e)))
        .map(|u| g.node(u).id)
        .collect();
    s.queries
        .iter()
        .zip(trapped.iter().cycle())
        .filter(|(q, d)| q.0 != **d)
        .map(|(q, &d)| (q.0, d, q.2))
        .collect()
}

/// Median, p99 and mean of work counts.
fn counts(mut v: Vec<u64>) -> (u64, u64, u64) {
    v.sort_unstable();
    let p = |q: f64| v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)));
    (
        p(0.5).copied().unwrap_or(0),
        p(0.99).copied().unwrap_or(0),
        v.iter().sum::<u64>() / v.len().max(1) as u64,
    )
}

fn matrix_mpp(s: &Setup) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let nodes: Vec<NodeId> = s.queries.iter().map(|q| q.0).take(100).collect();
        let dests: Vec<NodeId> = s.queries.iter().map(|q| q.1).take(100).collect();
        let t = Instant::now();
        let m = s.idx.matrix(&nodes, &dests, 100_000_000, CostModel::Fee);
        let cells = m
            .cells
            .iter()
            .flatten()
            .filter(|c| c.fee_msat.is_some())
            .count();
        eprintln!(
            "[{}] matrix 100 x 100 (100k sat, fee), 2 threads: {:.3} s ({cells} cells routable)",
            s.name,
            t.elapsed().as_secs_f64()
        );
    });
    // MPP: 1M-sat payments that no single path carries, until `limit` of them have been
    // split (or 20 times as many tried); the refusals (no flow carries the amount) are timed
    // too, since "cannot be paid" is an answer a caller waits for as well.
    let (mut split, mut refused) = (Vec::new(), Vec::new());
    let mut parts = Vec::new();
    let limit = if full() { 60 } else { 20 };
    for q in &s.queries {
        if split.len() >= limit || split.len() + refused.len() >= 20 * limit {
            break;
        }
        let req = RouteRequest::new(q.0, q.1, 1_000_000_000);
        if s.idx.find_route(&req) != Err(RouteError::Capacity) {
            continue;
        }
        let t = Instant::now();
        let r = s.idx.find_mpp(&MppRequest {
            request: req,
            force_split: false,
        });
        let dt = t.elapsed();
        match r {
            Ok(m) => {
                split.push(dt);
                parts.push(m.parts.len());
            }
            Err(_) => refused.push(dt),
        }
    }
    let (n, r) = (split.len(), refused.len());
    let ((m, p), (rm, rp)) = (pct(split), pct(refused));
    parts.sort();
    eprintln!(
        "[{}] MPP 1M sat where no single path carries it: {n} split (median {} parts), median {:.1} ms, p99 {:.1} ms; {r} refused (no flow carries it), median {:.2} ms, p99 {:.1} ms",
        s.name,
        parts.get(parts.len() / 2).copied().unwrap_or(0),
        m.as_secs_f64() * 1e3,
        p.as_secs_f64() * 1e3,
        rm.as_secs_f64() * 1e3,
        rp.as_secs_f64() * 1e3
    );
}

fn criterion_groups(c: &mut Criterion, s: &Setup) {
    let year = if s.name.starts_with("2019") {
        "2019"
    } else if s.name.starts_with("2026") {
        "2026"
    } else {
        "4x"
    };
    let dnu = if s.name.ends_with("-dnu") { "-dnu" } else { "" };
    for (label, ceiling) in [("fee", false), ("fee_limit", true)] {
        let mut i = 0;
        c.bench_function(&format!("route/{label}/{year}{dnu}"), |b| {
            b.iter(|| {
                let q = &s.queries[i % s.queries.len()];
                i += 1;
                s.idx.find_route(&fee_request(q, ceiling))
            })
        });
    }
    if !dnu.is_empty() {
        return;
    }
    for (label, model) in [
        ("prob", CostModel::Probability),
        ("balanced", CostModel::Balanced),
    ] {
        let mut i = 0;
        c.bench_function(&format!("route/{label}/{year}"), |b| {
            b.iter(|| {
                let q = &s.queries[i % s.queries.len()];
                i += 1;
                s.idx
                    .find_route(&RouteRequest::new(q.0, q.1, q.2).with_model(model))
            })
        });
    }
    // What a payment of the node pays before its search: an index of the payer's view of
    // the graph, built whole or with the cached index's landmark tables.
    c.bench_function(&format!("index/build/{year}"), |b| {
        b.iter(|| RoutingIndex::build(s.g.clone()))
    });
    c.bench_function(&format!("index/build_with_landmarks_of/{year}"), |b| {
        b.iter(|| RoutingIndex::build_with_landmarks_of(s.g.clone(), &s.idx))
    });
    if let Some(graph) = &s.ldk {
        let mut i = 0;
        c.bench_function(&format!("route/ldk_zero/{year}"), |b| {
            b.iter(|| {
                let q = &s.queries[i % s.queries.len()];
                i += 1;
                ldk::zero_penalty(graph, &q.0, &q.1, q.2)
            })
        });
        let scorer = ldk::scorer(graph);
        let mut i = 0;
        c.bench_function(&format!("route/ldk_prob/{year}"), |b| {
            b.iter(|| {
                let q = &s.queries[i % s.queries.len()];
                i += 1;
                ldk::probabilistic(graph, &scorer, &q.0, &q.1, q.2)
            })
        });
    }
}

fn routing(c: &mut Criterion) {
    let ldk = with_ldk();
    let mut setups = vec![
        setup("2019-05-14", load_bundled("2019-05-14"), ldk),
        setup("2026-02-03", load_bundled("2026-02-03"), ldk),
    ];
    if std::env::var_os("SWITCHYARD_BENCH_NO_4X").is_none() {
        let base = setups[1].g.clone();
        setups.push(setup("4x-2026", synthetic_4x(&base), false));
    }
    let dnu: Vec<Setup> = [("2019-05-14-dnu", 0), ("2026-02-03-dnu", 1)]
        .into_iter()
        .map(|(name, i)| setup(name, do_not_use(&setups[i].g), false))
        .collect();
    for s in &setups {
        latency_table(s);
        fee_load(s);
        matrix_mpp(s);
    }
    for s in &dnu {
        fee_load(s);
        // The payments whose only routes cross "do not use" directions, alone.
        let trapped = trapped_queries(s);
        fee_load_of(s, &format!("{} to trapped nodes", s.name), &trapped);
    }
    for s in setups.iter().chain(&dnu) {
        criterion_groups(c, s);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = routing
}
criterion_main!(benches);
