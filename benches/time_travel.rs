//! The graph as of an instant, and analytics kept over time, against a real Postgres.
//!
//! * `asof/*/2026`: the 2026-02-03 snapshot imported, then 30 days of synthetic gossip history
//!   before it written by `COPY` (every channel direction re-signed about 33 times with a
//!   drifting fee, a few disabled; 5% of the channels opened during the month; fixed seed;
//!   about 3M `channel_updates`). The graph as of the middle of the month built through the
//!   API state (`AppState::view_at`): uncached (store read + view with routing index; each
//!   iteration a new instant) and cached (an LRU hit). Printed: the split between the store
//!   read and the view, rows and probes, the cache's memory per view, the current graph's
//!   load for comparison, and a diff over the month.
//! * Backfill: 30 days of analytics (every metric, all three weightings) of the 2019 graph
//!   (January's then May's snapshot), time per day (graph read and computation), printed.
//!
//! Needs the test Postgres (started by `TestDb` in `SWITCHYARD_TEST_PG_DIR`).
//! `SWITCHYARD_BENCH_HISTORY_UPDATES` sets the synthetic history size (default 3,000,000).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard_api::metrics::Metrics;
use switchyard_api::{AppState, GraphView};
use switchyard_graph::analytics::AnalyticsConfig;
use switchyard_graph::testing::data_file;
use switchyard_regtest::synthetic::Rng;
use switchyard_store::import::{import, ImportOptions, ImportSource};
use switchyard_store::queries::history::{Day, DAY_SECS};
use switchyard_store::testing::TestDb;
use switchyard_store::time::Time;
use switchyard_store::Store;

const MONTH_SECS: i64 = 30 * DAY_SECS;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn import_files(store: &Store, files: &[&str]) -> i64 {
    let sources: Vec<ImportSource> = files
        .iter()
        .map(|f| ImportSource::File(data_file(f)))
        .collect();
    let reports = import(store, &sources, ImportOptions::default(), Arc::new(|_| {}))
        .await
        .expect("import");
    reports.iter().map(|r| r.snapshot_time).max().unwrap_or(0)
}

type Current = (i64, i16, i64, bool, i32, i64, Option<i64>, i64, i64);

/// Writes `target` synthetic `channel_updates` over the 30 days before `snapshot` with `COPY`,
/// every version older than the direction's stored one (so the current graph is unchanged),
/// and moves channels' and nodes' first sighting before the month (5% of the channels into
/// it: opened during the month). Returns the rows written.
async fn synthetic_history(store: &Store, snapshot: i64, target: usize) -> usize {
    let pool = store.pool();
    let current: Vec<Current> = sqlx::query_as(
        "SELECT scid, direction, timestamp, disabled, cltv_delta, htlc_min_msat, htlc_max_msat, \
         fee_base_msat, fee_ppm FROM channel_updates",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let per_direction = (target / current.len().max(1)).max(1) as u64;
    let start = snapshot - MONTH_SECS;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut conn = pool.acquire().await.unwrap();
    let mut copy = conn
        .copy_in_raw(
            "COPY channel_updates (scid, direction, timestamp, message_flags, channel_flags, \
             disabled, cltv_delta, htlc_min_msat, htlc_max_msat, fee_base_msat, fee_ppm, \
             received_at, source) FROM STDIN (FORMAT csv)",
        )
        .await
        .unwrap();
    let mut buf = Vec::with_capacity(8 << 20);
    let mut rows = 0usize;
    for &(scid, dir, ts, _, cltv, min, max, base, ppm) in &current {
        let mut stamps: Vec<i64> = (0..per_direction)
            .map(|_| start + rng.below((ts - start).max(1) as u64) as i64)
            .filter(|&t| t < ts)
            .collect();
        stamps.sort_unstable();
        stamps.dedup();
        for t in stamps {
            let disabled = rng.below(100) < 3;
            let fee_ppm = (ppm + rng.below(201) as i64 - 100).max(0);
            let received = Time(t + rng.below(60) as i64);
            let max = max.map_or(String::new(), |m| m.to_string());
            let flags = dir | if disabled { 2 } else { 0 };
            writeln!(
                buf,
                "{scid},{dir},{t},1,{flags},{disabled},{cltv},{min},{max},{base},{fee_ppm},{received},gossip"
            )
            .unwrap();
            rows += 1;
        }
        if buf.len() > 4 << 20 {
            copy.send(std::mem::take(&mut buf)).await.unwrap();
        }
    }
    copy.send(buf).await.unwrap();
    copy.finish().await.unwrap();
    sqlx::query(
        "UPDATE channels SET first_seen = CASE WHEN hashint8(scid) % 20 = 0 \
         THEN to_timestamp($1 + abs(hashint8(scid)) % $2) ELSE to_timestamp($1 - 86400) END",
    )
    .bind(start)
    .bind(MONTH_SECS)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE nodes SET first_seen = to_timestamp($1 - 86400)")
        .bind(start)
        .execute(pool)
        .await
        .unwrap();
    // A store that has run a while has been vacuumed by autovacuum (insert-triggered):
    // the history's pages are all-visible, which the as-of probes' index-only scans need.
    sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
    rows
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (state, snapshot, _db) = rt.block_on(async {
        let db = TestDb::new().await;
        let started = Instant::now();
        let snapshot = import_files(
            &db.store,
            &["channels-2026-02-03.json.xz", "nodes-2026-02-03.json.xz"],
        )
        .await;
        let imported = started.elapsed();
        // The month ends at the time nearly every stored policy is older than. Not the
        // imports' newest snapshot time: a nodes file without timestamps is recorded at the
        // time of its import, months after the data, which left no version to write.
        let snapshot: i64 = sqlx::query_scalar(
            "SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY timestamp) FROM channel_updates",
        )
        .fetch_one(db.store.pool())
        .await
        .map(|p: Option<i64>| p.unwrap_or(snapshot))
        .unwrap();
        let target = env("SWITCHYARD_BENCH_HISTORY_UPDATES", 3_000_000);
        let started = Instant::now();
        let rows = synthetic_history(&db.store, snapshot, target).await;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM channel_updates")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        println!(
            "[2026] imported in {:.1}s; {rows} synthetic updates over 30 days written in {:.1}s; \
             channel_updates: {total} rows",
            imported.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        let state = AppState::new(db.store.clone(), Arc::new(Metrics::new()));
        let started = Instant::now();
        state.refresh_graph().await.unwrap();
        println!(
            "[2026] current graph (load_snapshot + view): {:.0} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        (state, snapshot, db)
    });
    let mid = snapshot - MONTH_SECS / 2;
    report_split(&rt, &state, Time(mid));
    report_serial_vs_split(&rt, &state, &_db, Time(mid));

    let mut group = c.benchmark_group("asof");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let mut shift = 0;
    group.bench_function("uncached/2026", |b| {
        b.iter(|| {
            shift += 7;
            let at = (mid + shift).to_string();
            rt.block_on(state.view_at(Some(&at))).unwrap()
        })
    });
    let at = mid.to_string();
    rt.block_on(state.view_at(Some(&at))).unwrap();
    group.bench_function("cached/2026", |b| {
        b.iter(|| rt.block_on(state.view_at(Some(&at))).unwrap())
    });
    group.finish();
    let (entries, bytes) = state.asof.views.usage();
    println!(
        "[2026] as-of cache: {entries} views, {:.1} MiB ({:.1} MiB per view)",
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 / entries.max(1) as f64
    );
    rt.block_on(async {
        let started = Instant::now();
        let d = switchyard_store::queries::diff::diff(
            state.store.pool(),
            Time(snapshot - MONTH_SECS),
            Time(snapshot),
            100,
        )
        .await
        .unwrap();
        println!(
            "[2026] diff over the month: {:.0} ms ({} channels opened, {} policy changes)",
            started.elapsed().as_secs_f64() * 1e3,
            d.changes.channels_opened,
            d.policies.changed
        );
    });
    drop(state);
    backfill_2019(&rt);
}

/// Prints where the uncached time goes: the store read and the view build, once each.
fn report_split(rt: &tokio::runtime::Runtime, state: &AppState, at: Time) {
    let started = Instant::now();
    let (snapshot, version) = rt
        .block_on(switchyard_store::graph::load_snapshot_at(&state.store, at))
        .unwrap();
    let read = started.elapsed();
    let (channels, directions) = (
        snapshot.channel_count(),
        snapshot
            .channels()
            .iter()
            .flat_map(|c| c.policies)
            .filter(Option::is_some)
            .count(),
    );
    let started = Instant::now();
    let view = GraphView::new_at(snapshot, version, Some(at));
    let build = started.elapsed();
    println!(
        "[2026] as of {at}: {channels} channels open ({} probes of channel_updates, {directions} \
         policies found), {} nodes; store read {:.0} ms, view build {:.0} ms; view {:.1} MiB",
        channels * 2,
        view.snapshot.node_count(),
        read.as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3,
        view.heap_bytes() as f64 / 1048576.0
    );
}

/// The store read with the probes on one connection (a store with a pool of one, as before
/// the split) and split over two, alternating, each as of a different instant; prints the
/// medians, so both are measured under the same host load.
fn report_serial_vs_split(rt: &tokio::runtime::Runtime, state: &AppState, db: &TestDb, at: Time) {
    let serial = rt.block_on(Store::connect(db.options.clone(), 1)).unwrap();
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for i in 0..5 {
        for (store, times) in [(&serial, &mut one), (&state.store, &mut two)] {
            let started = Instant::now();
            let (g, _) = rt
                .block_on(switchyard_store::graph::load_snapshot_at(
                    store,
                    Time(at.0 + 13 * i),
                ))
                .unwrap();
            times.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(g.channel_count() > 0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "[2026] store read as of T, median of 5: probes on one connection {:.0} ms, split over \
         two {:.0} ms",
        median(&mut one),
        median(&mut two)
    );
}

/// 30 days of analytics of the 2019 graph: time per day.
fn backfill_2019(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let db = TestDb::new().await;
        import_files(
            &db.store,
            &["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"],
        )
        .await;
        let may = import_files(
            &db.store,
            &["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"],
        )
        .await;
        let last = Day::from_unix(may);
        let config = AnalyticsConfig::for_amount(100_000_000);
        let days = std::sync::Mutex::new(Vec::new());
        let started = Instant::now();
        let report = switchyard_api::backfill::backfill(
            &db.store,
            &config,
            last.plus(-29),
            last,
            4_000_000_000,
            |d| {
                days.lock()
                    .unwrap()
                    .push((d.load_seconds, d.compute_seconds, d.active_nodes))
            },
        )
        .await
        .unwrap();
        let wall = started.elapsed().as_secs_f64();
        let mut days = days.into_inner().unwrap();
        days.sort_by(|a, b| a.1.total_cmp(&b.1));
        let median = days[days.len() / 2];
        println!(
            "[2019] backfill of {} days on {} threads: {wall:.1}s wall, {:.2}s per day; per day \
             median: computation {:.2}s ({} active nodes), graph read {:.2}s (overlapped)",
            report.days_computed,
            rayon::current_num_threads(),
            wall / report.days_computed.max(1) as f64,
            median.1,
            median.2,
            median.0
        );
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
