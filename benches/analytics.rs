//! Analytics benchmarks on the bundled 2019-05-14 and 2026-02-03 snapshots, side by side with
//! python-igraph on the same graph in the same run, the memory of the analytics state of both
//! graphs, and scaling on synthetic graphs 4x (and, with `SWITCHYARD_BENCH_FULL=1`, 16x) the
//! 2019 graph. The 16x graph takes minutes per kernel (exact all-pairs work grows with the
//! square of the size), so it is opt-in to keep the default run well under 10 minutes.
//!
//! `cargo bench --bench analytics` (criterion ids like `betweenness/fee/2019`). igraph runs via
//! `scripts/bench_igraph.py` (which sets up its own venv); without python the comparison is
//! skipped with a note. Fee weight: a 100,000 sat payment.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use switchyard_graph::analytics::{
    ActiveGraph, AnalyticsConfig, NetworkAnalytics, PageRankWeight, Weighting,
};
use switchyard_graph::testing::{load_bundled, scaled_copies};
use switchyard_graph::Snapshot;

const AMOUNT_MSAT: u64 = 100_000_000;
const FEE: Weighting = Weighting::Fee {
    amount_msat: AMOUNT_MSAT,
};

struct Case {
    label: &'static str,
    date: &'static str,
    g: Snapshot,
    ag: ActiveGraph,
}

fn criterion_benches(c: &mut Criterion, cases: &[Case]) {
    let full = std::env::var_os("SWITCHYARD_BENCH_FULL").is_some();
    for case in cases {
        let (g, ag, l) = (&case.g, &case.ag, case.label);
        for (name, w) in [
            ("unweighted", PageRankWeight::Unweighted),
            ("capacity", PageRankWeight::Capacity),
        ] {
            let weights = ag.pagerank_weights(g, w);
            c.bench_function(&format!("pagerank/{name}/{l}"), |b| {
                b.iter(|| black_box(ag.pagerank_with(&weights, 0.85, 1e-10, 1000).unwrap()))
            });
        }
        // Criterion takes at least 10 samples: seconds-long kernels on the 2026 graph only in
        // the full run (the side-by-side table below times them in every run).
        if l == "2026" && !full {
            continue;
        }
        c.bench_function(&format!("betweenness/fee/{l}"), |b| {
            b.iter(|| black_box(ag.betweenness(g, FEE).unwrap()))
        });
        c.bench_function(&format!("betweenness/hops/{l}"), |b| {
            b.iter(|| black_box(ag.betweenness(g, Weighting::Hops).unwrap()))
        });
        c.bench_function(&format!("closeness/fee/{l}"), |b| {
            b.iter(|| black_box(ag.closeness(g, FEE, false).unwrap()))
        });
    }
}

/// Best of `runs` wall-clock times of `f`.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .expect("runs > 0")
}

fn igraph(date: &str) -> Option<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench_igraph.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(date)
        .arg(AMOUNT_MSAT.to_string())
        .output();
    match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).ok(),
        Ok(o) => {
            println!(
                "igraph: unavailable ({})",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            );
            None
        }
        Err(e) => {
            println!("igraph: python3 unavailable ({e}); timing ours only");
            None
        }
    }
}

fn side_by_side(cases: &[Case]) {
    println!("\n== switchyard vs python-igraph (same graph, same run; best of 2 runs, PageRank best of 20; seconds) ==");
    println!(
        "threads: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for case in cases {
        let (g, ag) = (&case.g, &case.ag);
        let pr_u = ag.pagerank_weights(g, PageRankWeight::Unweighted);
        let pr_c = ag.pagerank_weights(g, PageRankWeight::Capacity);
        let ours = [
            (
                "betweenness_fee",
                best(2, || ag.betweenness(g, FEE).unwrap()),
            ),
            (
                "betweenness_hops",
                best(2, || ag.betweenness(g, Weighting::Hops).unwrap()),
            ),
            (
                "closeness_fee",
                best(2, || ag.closeness(g, FEE, false).unwrap()),
            ),
            (
                "pagerank_unweighted",
                best(20, || ag.pagerank_with(&pr_u, 0.85, 1e-10, 1000).unwrap()),
            ),
            (
                "pagerank_capacity",
                best(20, || ag.pagerank_with(&pr_c, 0.85, 1e-10, 1000).unwrap()),
            ),
        ];
        let theirs = igraph(case.date);
        println!(
            "{} ({}): {} nodes, {} directed pairs",
            case.label,
            case.date,
            ag.node_count(),
            ag.edge_count()
        );
        for (name, t) in ours {
            let ours_s = t.as_secs_f64();
            match theirs.as_ref().and_then(|v| v[name].as_f64()) {
                Some(ig) => println!(
                    "  {name:<20} switchyard {ours_s:>9.4} s   igraph {ig:>9.4} s   igraph/switchyard {:>6.2}x",
                    ig / ours_s
                ),
                None => println!("  {name:<20} switchyard {ours_s:>9.4} s   igraph n/a"),
            }
        }
        // The analytics state: every metric, three weightings, as the serving layer caches it.
        let t = Instant::now();
        let all = NetworkAnalytics::compute(g, &AnalyticsConfig::for_amount(AMOUNT_MSAT)).unwrap();
        println!(
            "  memory: snapshot {:.1} MiB, active graph {:.2} MiB, NetworkAnalytics (all metrics, 3 weightings) {:.2} MiB, computed in {:.2} s",
            mib(g.heap_bytes()),
            mib(ag.heap_bytes()),
            mib(all.heap_bytes()),
            t.elapsed().as_secs_f64()
        );
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1048576.0
}

fn scaling(base: &Case) {
    let full = std::env::var_os("SWITCHYARD_BENCH_FULL").is_some();
    let factors: &[u32] = if full { &[1, 4, 16] } else { &[1, 4] };
    println!(
        "\n== scaling: relabelled copies of {} with 10% of channels rewired across copies (one run each above 1x) ==",
        base.date
    );
    if !full {
        println!("(set SWITCHYARD_BENCH_FULL=1 for the 16x graph)");
    }
    for &k in factors {
        let g = if k == 1 {
            base.g.clone()
        } else {
            scaled_copies(&base.g, k)
        };
        let ag = ActiveGraph::new(&g);
        let runs = if k >= 4 { 1 } else { 2 };
        let bf = best(runs, || ag.betweenness(&g, FEE).unwrap()).as_secs_f64();
        let bh = best(runs, || ag.betweenness(&g, Weighting::Hops).unwrap()).as_secs_f64();
        let cf = best(runs, || ag.closeness(&g, FEE, false).unwrap()).as_secs_f64();
        let pw = ag.pagerank_weights(&g, PageRankWeight::Unweighted);
        let pr = best(5, || ag.pagerank_with(&pw, 0.85, 1e-10, 1000).unwrap()).as_secs_f64();
        println!(
            "  {k:>2}x: {:>6} nodes {:>7} pairs | betweenness fee {bf:>8.3} s hops {bh:>8.3} s | closeness fee {cf:>8.3} s | pagerank {:>7.2} ms | memory: snapshot {:.1} MiB, active graph {:.2} MiB",
            ag.node_count(),
            ag.edge_count(),
            pr * 1e3,
            mib(g.heap_bytes()),
            mib(ag.heap_bytes()),
        );
    }
}

fn main() {
    let cases: Vec<Case> = [("2019", "2019-05-14"), ("2026", "2026-02-03")]
        .into_iter()
        .map(|(label, date)| {
            let g = load_bundled(date);
            let ag = ActiveGraph::new(&g);
            Case { label, date, g, ag }
        })
        .collect();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    criterion_benches(&mut c, &cases);
    c.final_summary();
    side_by_side(&cases);
    scaling(&cases[0]);
}
