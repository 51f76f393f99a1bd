//! Forwarding: how many HTLCs switchyard forwards per second, sustained, and how much latency
//! its hop adds, on a regtest line A -> S -> C of in-process switchyard nodes (real bitcoind,
//! one Postgres database per node, LDK peers over loopback TCP, private channels opened and
//! confirmed before anything is timed). S is the node measured; its books are written as it
//! forwards, and the run ends by checking that they hold every forward.
//!
//! 1. Latency, one payment at a time: A pays S (one hop) `SAMPLES` times, then A pays C
//!    through S `SAMPLES` times. The difference of the two distributions is what S's hop adds
//!    (S forwarding instead of claiming, plus one more link's commitment dance).
//! 2. Throughput: for `SECS` seconds A keeps `INFLIGHT` payments to C in flight through S;
//!    forwards/s is S's settled forwards over the wall time.
//!
//! 3. Books: S's settled forwards must equal, exactly, the payment parts that crossed S (the
//!    parts of A's succeeded payments to C, from A's books), once the books are written. The
//!    run fails otherwise.
//!
//! Each mode of committing channel monitors (`SWITCHYARD_BENCH_FORWARD_MODES`, default
//! `per-update,grouped`: the node's earlier one-transaction-per-update persistence, then
//! group commit) gets a fresh line on the same bitcoind, back to back, and a summary line.
//!
//! Not criterion: criterion times a closure in a tight loop, this is a sustained rate of a
//! running system. Environment: `SWITCHYARD_BENCH_FORWARD_SECS` (default 60),
//! `_INFLIGHT` (16), `_SAMPLES` (200), `_MODES`. Needs the regtest bitcoind
//! (`scripts/build-bitcoind.sh`) and the test Postgres, as the tests do.

#[path = "../tests/support/line.rs"]
mod line;

use std::time::{Duration, Instant};

use lightning::ln::channelmanager::{PaymentId, RecentPaymentDetails};
use line::{confirm_channels, fund, knows_peer_policies, start_with, usable_with, wait_for};
use switchyard_node::{MonitorCommit, Node, PeerSpec};
use switchyard_regtest::Bitcoind;
use switchyard_store::testing::TestDb;

const AMOUNT_MSAT: u64 = 1_000_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spec(n: &Node) -> PeerSpec {
    format!("{}@{}", n.node_id(), n.listening().expect("listening"))
        .parse()
        .expect("peer spec")
}

fn status(a: &Node, id: &PaymentId) -> Option<bool> {
    a.lightning()
        .manager()
        .list_recent_payments()
        .iter()
        .find_map(|p| match p {
            RecentPaymentDetails::Fulfilled { payment_id, .. } if payment_id == id => Some(true),
            RecentPaymentDetails::Abandoned { payment_id, .. } if payment_id == id => Some(false),
            _ => None,
        })
}

/// Pays `payee` one invoice at a time; the time from sending to LDK reporting it fulfilled.
async fn latencies(a: &Node, payee: &Node, samples: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let invoice = payee
            .lightning()
            .create_invoice(Some(AMOUNT_MSAT), &format!("latency {i}"), 3600)
            .expect("invoice");
        let id = PaymentId(*invoice.payment_hash().as_ref());
        let sent = Instant::now();
        a.lightning()
            .pay_invoice(&invoice, None, None)
            .expect("payment");
        loop {
            match status(a, &id) {
                Some(true) => break,
                Some(false) => panic!("payment {i} failed"),
                None if sent.elapsed() > Duration::from_secs(30) => panic!("payment {i} stuck"),
                None => tokio::time::sleep(Duration::from_micros(500)).await,
            }
        }
        out.push(sent.elapsed());
    }
    out.sort();
    out
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Parts of A's succeeded payments to `payee`, as A's books count them: the payment parts
/// that crossed S and were settled.
async fn parts_crossed(db: &TestDb, payee: &Node) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(parts), 0)::int8 FROM payments \
         WHERE status = 'succeeded' AND destination = $1",
    )
    .bind(payee.node_id().serialize().to_vec())
    .fetch_one(db.store.pool())
    .await
    .expect("A's payments")
}

/// Waits (up to 30 s) for S's settled forwards to equal the parts that crossed S, and to
/// stay equal for a second (both books are written a little after the payments resolve),
/// then asserts it: the books may lag the payments, never differ from them.
async fn assert_books_exact(db_a: &TestDb, db_s: &TestDb, c: &Node, when: &str) -> i64 {
    let started = Instant::now();
    let mut last = None;
    loop {
        let (crossed, settled) = (parts_crossed(db_a, c).await, settled_forwards(db_s).await);
        if crossed == settled && last == Some(settled) {
            return settled;
        }
        if started.elapsed() > Duration::from_secs(30) {
            assert_eq!(
                settled, crossed,
                "{when}: S's settled forwards must equal the payment parts that crossed S"
            );
        }
        last = (crossed == settled).then_some(settled);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn settled_forwards(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM forwards WHERE outcome = 'settled'")
        .fetch_one(db.store.pool())
        .await
        .expect("S's forwards")
}

/// Bytes of S's stored channel monitors (whole monitors, and pending update rows).
async fn monitor_bytes(db: &TestDb) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT coalesce(sum(octet_length(value)) FILTER (WHERE primary_namespace = 'monitors'), 0)::int8, \
                coalesce(sum(octet_length(value)) FILTER (WHERE primary_namespace = 'monitor_updates'), 0)::int8, \
                count(*) FILTER (WHERE primary_namespace = 'monitor_updates') \
         FROM kv_store",
    )
    .fetch_one(db.store.pool())
    .await
    .expect("S's monitors")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// One mode's numbers.
struct Report {
    mode: &'static str,
    hop_p50_ms: f64,
    hop_p99_ms: f64,
    forwards_per_s: f64,
    settled: i64,
    sent: usize,
}

fn mode_name(m: MonitorCommit) -> &'static str {
    match m {
        MonitorCommit::Grouped => "grouped",
        MonitorCommit::PerUpdate => "per-update",
    }
}

fn modes() -> Vec<MonitorCommit> {
    let spec = std::env::var("SWITCHYARD_BENCH_FORWARD_MODES")
        .unwrap_or_else(|_| "per-update,grouped".into());
    spec.split(',')
        .map(|m| match m.trim() {
            "grouped" => MonitorCommit::Grouped,
            "per-update" => MonitorCommit::PerUpdate,
            other => panic!("SWITCHYARD_BENCH_FORWARD_MODES: unknown mode {other:?}"),
        })
        .collect()
}

async fn run() {
    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let mut reports = Vec::new();
    for mode in modes() {
        println!("== monitors committed {}", mode_name(mode));
        reports.push(run_line(&btc, mode).await);
    }
    println!("mode        hop p50 ms  hop p99 ms  forwards/s  settled/sent");
    for r in reports {
        println!(
            "{:<10}  {:>10.2}  {:>10.2}  {:>10.1}  {}/{}",
            r.mode, r.hop_p50_ms, r.hop_p99_ms, r.forwards_per_s, r.settled, r.sent
        );
    }
}

/// A fresh line A -> S -> C committing monitors as `mode` says, measured.
async fn run_line(btc: &Bitcoind, mode: MonitorCommit) -> Report {
    let secs = env("SWITCHYARD_BENCH_FORWARD_SECS", 60) as u64;
    let inflight = env("SWITCHYARD_BENCH_FORWARD_INFLIGHT", 16);
    let samples = env("SWITCHYARD_BENCH_FORWARD_SAMPLES", 200).max(1);

    let (db_a, db_s, db_c) = (
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start_with(btc, &db_a, &dir.path().join("a"), mode).await;
    let s = start_with(btc, &db_s, &dir.path().join("s"), mode).await;
    let c = start_with(btc, &db_c, &dir.path().join("c"), mode).await;
    let burn = line::address(&c);
    fund(btc, &[&a, &c], &burn).await;
    a.add_peer(spec(&s), "bench")
        .await
        .expect("A connects to S");
    c.add_peer(spec(&s), "bench")
        .await
        .expect("C connects to S");
    let s_id = s.node_id();
    a.lightning()
        .open_channel(s_id, 10_000_000, 0, false)
        .expect("A opens to S");
    c.lightning()
        .open_channel(s_id, 10_000_000, 5_000_000_000, false)
        .expect("C opens to S");
    confirm_channels(btc, &[&a, &c], &burn).await;
    wait_for("the channels usable and policies known", 90, async || {
        usable_with(&a, &s_id)
            && usable_with(&c, &s_id)
            && knows_peer_policies(&c)
            && knows_peer_policies(&s)
    })
    .await;

    eprintln!("latency: {samples} sequential payments of {AMOUNT_MSAT} msat per path");
    let one_hop = latencies(&a, &s, samples).await;
    let two_hops = latencies(&a, &c, samples).await;
    let (hop_p50_ms, hop_p99_ms) = (
        ms(pct(&two_hops, 0.5)) - ms(pct(&one_hop, 0.5)),
        ms(pct(&two_hops, 0.99)) - ms(pct(&one_hop, 0.99)),
    );
    println!(
        "A -> S       (S receives): p50 {:7.2} ms  p99 {:7.2} ms",
        ms(pct(&one_hop, 0.5)),
        ms(pct(&one_hop, 0.99))
    );
    println!(
        "A -> S -> C  (S forwards): p50 {:7.2} ms  p99 {:7.2} ms",
        ms(pct(&two_hops, 0.5)),
        ms(pct(&two_hops, 0.99))
    );
    println!("added by S's hop:          p50 {hop_p50_ms:7.2} ms  p99 {hop_p99_ms:7.2} ms");
    // A sees a payment fulfilled before S has written the forward to its books (S books
    // it with its next manager write): a count taken now may miss the last forward, which
    // then looks like an extra row of the next phase. Wait for the books to catch up.
    let at_fulfilment = settled_forwards(&db_s).await;
    let before = assert_books_exact(&db_a, &db_s, &c, "after the latency phase").await;
    println!(
        "books: {at_fulfilment} settled forwards at S when A saw the last payment fulfilled, \
         {before} once written, for {samples} payments through S"
    );

    eprintln!("throughput: {inflight} payments in flight through S for {secs} s");
    let ln_a = a.lightning();
    let started = Instant::now();
    let mut sent = 0usize;
    let mut invoices = 0usize;
    while started.elapsed() < Duration::from_secs(secs) {
        let in_flight: usize = ln_a.channels().iter().map(|ch| ch.pending_htlcs_out).sum();
        for _ in in_flight..inflight {
            invoices += 1;
            let invoice = c
                .lightning()
                .create_invoice(Some(AMOUNT_MSAT), &format!("throughput {invoices}"), 3600)
                .expect("invoice");
            if ln_a.pay_invoice(&invoice, None, None).is_ok() {
                sent += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let window = started.elapsed();
    let settled_in_window = settled_forwards(&db_s).await - before;
    wait_for("every payment to resolve", 120, async || {
        ln_a.channels().iter().all(|ch| ch.pending_htlcs_out == 0)
    })
    .await;
    let drained = started.elapsed();
    let settled = assert_books_exact(&db_a, &db_s, &c, "after the throughput phase").await - before;
    let forwards_per_s = settled_in_window as f64 / window.as_secs_f64();
    println!(
        "sustained: {forwards_per_s:.1} forwards/s over {:.1} s ({settled_in_window} settled in the window)",
        window.as_secs_f64(),
    );
    println!(
        "books: {settled} settled forwards booked at S for {sent} payments sent, equal to \
         the parts that crossed S (all resolved {:.1} s after the start)",
        drained.as_secs_f64()
    );
    let (monitors, updates, update_rows) = monitor_bytes(&db_s).await;
    println!(
        "S's channel monitors: {:.1} KiB whole, {:.1} KiB in {update_rows} pending update rows",
        monitors as f64 / 1024.0,
        updates as f64 / 1024.0
    );
    for n in [&a, &s, &c] {
        n.stop().await;
    }
    Report {
        mode: mode_name(mode),
        hop_p50_ms,
        hop_p99_ms,
        forwards_per_s,
        settled,
        sent,
    }
}
