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
//! Not criterion: criterion times a closure in a tight loop, this is a sustained rate of a
//! running system. Environment: `SWITCHYARD_BENCH_FORWARD_SECS` (default 60),
//! `_INFLIGHT` (16), `_SAMPLES` (200). Needs the regtest bitcoind
//! (`scripts/build-bitcoind.sh`) and the test Postgres, as the tests do.

#[path = "../tests/support/line.rs"]
mod line;

use std::time::{Duration, Instant};

use lightning::ln::channelmanager::{PaymentId, RecentPaymentDetails};
use line::{confirm_channels, fund, knows_peer_policies, start, usable_with, wait_for};
use switchyard_node::{Node, PeerSpec};
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

async fn run() {
    let secs = env("SWITCHYARD_BENCH_FORWARD_SECS", 60) as u64;
    let inflight = env("SWITCHYARD_BENCH_FORWARD_INFLIGHT", 16);
    let samples = env("SWITCHYARD_BENCH_FORWARD_SAMPLES", 200).max(1);

    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let (db_a, db_s, db_c) = (
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(&btc, &db_a, &dir.path().join("a")).await;
    let s = start(&btc, &db_s, &dir.path().join("s")).await;
    let c = start(&btc, &db_c, &dir.path().join("c")).await;
    let burn = line::address(&c);
    fund(&btc, &[&a, &c], &burn).await;
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
    confirm_channels(&btc, &[&a, &c], &burn).await;
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
    println!(
        "added by S's hop:          p50 {:7.2} ms  p99 {:7.2} ms",
        ms(pct(&two_hops, 0.5)) - ms(pct(&one_hop, 0.5)),
        ms(pct(&two_hops, 0.99)) - ms(pct(&one_hop, 0.99))
    );

    eprintln!("throughput: {inflight} payments in flight through S for {secs} s");
    let before = settled_forwards(&db_s).await;
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
    // The books are written with the channel manager, so once the HTLCs are resolved they
    // are complete; wait only for the last round's write.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let settled = settled_forwards(&db_s).await - before;
    println!(
        "sustained: {:.1} forwards/s over {:.1} s ({settled_in_window} settled in the window)",
        settled_in_window as f64 / window.as_secs_f64(),
        window.as_secs_f64(),
    );
    println!(
        "books: {settled} settled forwards booked at S for {sent} payments sent \
         (all resolved {:.1} s after the start)",
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
}
