//! kill -9 a forwarding node with HTLCs in flight: A -> S -> C on a real regtest bitcoind, S
//! the `switchyard node` binary in its own process, A and C switchyard nodes in this one, each
//! with its own Postgres. After S restarts no channel was closed, every payment resolves, no
//! HTLC is left in flight, and S's books hold each settled forward exactly once, with the fee
//! A paid for it. `SWITCHYARD_CRASH_RUNS` (default 1) kills and restarts S that many times in
//! one line, each kill with a wave of payments in flight.
//!
//! The second test kills S's own Postgres instead (SIGKILL to the postmaster) with a wave in
//! flight: S stays up, the HTLCs wait, and every payment completes once the database is back.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use sqlx::PgPool;
use support::line::{
    address, confirm_channels, fund, hex, htlcs_in_flight, knows_peer_policies, start, usable_with,
    wait_for_or as wait_for,
};
use support::process::{free_port, pg_url};
use switchyard_node::PeerSpec;
use switchyard_regtest::Bitcoind;
use switchyard_store::embedded::EmbeddedPostgres;
use switchyard_store::queries::books;
use switchyard_store::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
/// A payment, when S is killed once (as CI runs it).
const PAYMENT_MSAT: u64 = 20_000_000;
/// S's liquidity towards C (C pushes half of its channel), less a margin.
const LIQUIDITY_MSAT: u64 = 800_000_000;
/// Payments of each killed wave.
const WAVE: usize = 30;

/// Crash runs (`SWITCHYARD_CRASH_RUNS`, default 1).
fn runs() -> usize {
    std::env::var("SWITCHYARD_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// The amount of each payment: smaller the more runs there are, so every wave still finds
/// liquidity at S (the first wave of 5 included).
fn payment_msat() -> u64 {
    (LIQUIDITY_MSAT / (runs() * WAVE + 5) as u64).min(PAYMENT_MSAT)
}
const BASE_FEE_MSAT: u64 = 1_000;
const FEE_PPM: u64 = 1_000;

/// S, the node under test, as its operator runs it.
struct Forwarder {
    db_url: String,
    data: PathBuf,
    log: PathBuf,
    p2p: u16,
    api: u16,
    btc: (String, String, String),
}

/// S's process, killed when dropped: a failing test must not leave a node running.
struct Running(Option<Child>);

impl Running {
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process has not exited.
    fn alive(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Forwarder {
    fn spawn(&self) -> Running {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        Command::new(BIN)
            .args(["node", "--network", "regtest", "--no-dns-bootstrap"])
            .args(["--p2p-listen", &format!("127.0.0.1:{}", self.p2p)])
            .args(["--listen", &format!("127.0.0.1:{}", self.api)])
            .args(["--bitcoind-rpc", &self.btc.0])
            .args(["--bitcoind-rpc-user", &self.btc.1])
            .args(["--bitcoind-rpc-password", &self.btc.2])
            .args(["--fee-base-msat", &BASE_FEE_MSAT.to_string()])
            .args(["--fee-ppm", &FEE_PPM.to_string()])
            .arg("--database-url")
            .arg(&self.db_url)
            .arg("--data-dir")
            .arg(&self.data)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(|c| Running(Some(c)))
            .expect("switchyard node")
    }

    /// The last lines of S's log that are not a backtrace, after any panic message: a
    /// backtrace alone would push the reason off the end.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let is_frame = |l: &str| {
            let t = l.trim_start();
            t.starts_with("at ")
                || t.split_once(": ")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        };
        let lines: Vec<&str> = log.lines().filter(|l| !is_frame(l)).collect();
        let panics = self.panics();
        format!(
            "{}\n--- panics in S's log: {} ---\n{}",
            lines[lines.len().saturating_sub(40)..].join("\n"),
            panics.len(),
            panics.join("\n")
        )
    }

    /// Each panic in S's log, with the two lines after it (the message).
    fn panics(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        (0..all.len())
            .filter(|&i| all[i].contains("panicked at"))
            .map(|i| all[i..(i + 3).min(all.len())].join("\n"))
            .collect()
    }

    /// S's node id, from its API once it answers (with the read token S writes at start:
    /// `/v1/node` shows the node's own data).
    fn node_id(&self) -> Option<PublicKey> {
        let token = std::fs::read_to_string(self.data.join("api_read_token")).ok()?;
        let body = http_get(self.api, "/v1/node", token.trim())?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["node_id"].as_str()?.parse().ok()
    }
}

fn http_get(port: u16, path: &str, token: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Payment hash -> (status, fee) of A's payments.
async fn statuses(db: &TestDb, hashes: &[[u8; 32]]) -> Vec<(String, Option<i64>)> {
    let mut out = Vec::with_capacity(hashes.len());
    for h in hashes {
        let row = books::payment(db.store.pool(), h)
            .await
            .expect("payment row");
        out.push(row.map_or(("missing".into(), None), |p| (p.status, p.fee_msat)));
    }
    out
}

/// Kills S (SIGKILL) once HTLCs are in flight through it, a few milliseconds later each
/// run, and starts it again.
async fn crash_and_restart(
    s: &Forwarder,
    mut child: Running,
    a: &switchyard_node::Node,
    run: usize,
) -> Running {
    let log = || s.log_tail();
    let mut in_flight_at_kill = 0;
    wait_for(
        "HTLCs in flight through S",
        30,
        async || {
            in_flight_at_kill = htlcs_in_flight(a);
            in_flight_at_kill > 0
        },
        log,
    )
    .await;
    tokio::time::sleep(Duration::from_millis((run as u64 * 7) % 40)).await;
    child.kill(); // SIGKILL
    eprintln!("run {run}: killed S with {in_flight_at_kill} HTLCs in flight at A");
    s.spawn()
}

/// The books agree: what A paid for is what C was paid for, and S booked each forward once
/// (none lost to a kill, none twice from LDK replaying its events) with its fee.
async fn check_books(
    db_a: &TestDb,
    db_c: &TestDb,
    db_s: &PgPool,
    s: &Forwarder,
    hashes: &[[u8; 32]],
    run: usize,
) {
    let log = || s.log_tail();
    let outcome = statuses(db_a, hashes).await;
    let succeeded: BTreeSet<String> = hashes
        .iter()
        .zip(&outcome)
        .filter(|(_, (s, _))| s == "succeeded")
        .map(|(h, _)| hex(h))
        .collect();
    assert!(succeeded.len() >= 5, "at least the first wave: {outcome:?}");
    let fee = BASE_FEE_MSAT + payment_msat() * FEE_PPM / 1_000_000;
    for (_, f) in outcome.iter().filter(|(s, _)| s == "succeeded") {
        assert_eq!(*f, Some(fee as i64), "A paid S's policy fee");
    }
    let limit = hashes.len() as i64 + 10;
    wait_for(
        "C's books to show every payment",
        30,
        async || {
            let paid: BTreeSet<String> = books::invoices(db_c.store.pool(), limit)
                .await
                .expect("invoices")
                .into_iter()
                .filter(|i| i.status == "paid")
                .map(|i| i.payment_hash)
                .collect();
            paid == succeeded
        },
        log,
    )
    .await;
    let (settled, fees, amounts): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT count(*), sum(fee_msat)::BIGINT, sum(amount_out_msat)::BIGINT \
         FROM forwards WHERE outcome = 'settled'",
    )
    .fetch_one(db_s)
    .await
    .expect("S's forwards");
    assert_eq!(
        settled as usize,
        succeeded.len(),
        "run {run}: S booked each settled forward exactly once\n{}",
        s.log_tail()
    );
    assert_eq!(fees, Some(fee as i64 * settled));
    assert_eq!(amounts, Some(payment_msat() as i64 * settled));
    let failed_payments = outcome.iter().filter(|(s, _)| s == "failed").count();
    eprintln!(
        "run {run}: {} payments succeeded, {failed_payments} failed; S booked {settled} settled forwards",
        succeeded.len()
    );
}

/// A -> S -> C with both channels usable and a first wave of 5 payments settled through S.
struct Line {
    _btc: Bitcoind,
    db_a: TestDb,
    db_c: TestDb,
    a: Arc<switchyard_node::Node>,
    c: Arc<switchyard_node::Node>,
    s: Forwarder,
    child: Running,
    s_id: PublicKey,
    hashes: Vec<[u8; 32]>,
    _dir: tempfile::TempDir,
}

impl Line {
    /// Builds the line with S on the database at `s_db_url`.
    async fn new(dir: tempfile::TempDir, s_db_url: String) -> Line {
        let btc = tokio::task::block_in_place(Bitcoind::start)
            .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
        let (db_a, db_c) = (TestDb::new().await, TestDb::new().await);
        let (user, password) = btc.rpc_user_pass();
        let s = Forwarder {
            db_url: s_db_url,
            data: dir.path().join("s"),
            log: dir.path().join("s.log"),
            p2p: free_port(),
            api: free_port(),
            btc: (btc.rpc_addr().to_string(), user, password),
        };
        let child = s.spawn();
        let log = || s.log_tail();
        wait_for("S's API", 60, async || s.node_id().is_some(), log).await;
        let s_id = s.node_id().expect("S's node id");
        let s_spec: PeerSpec = format!("{s_id}@127.0.0.1:{}", s.p2p)
            .parse()
            .expect("peer spec");

        let a = start(&btc, &db_a, &dir.path().join("a")).await;
        let c = start(&btc, &db_c, &dir.path().join("c")).await;
        let burn = address(&c);
        fund(&btc, &[&a, &c], &burn).await;

        // Private channels: C's invoices carry route hints, so nothing waits for gossip. C
        // pushes half of its channel to S, which gives S the outbound liquidity to forward to C.
        a.add_peer(s_spec.clone(), "test")
            .await
            .expect("A connects to S");
        c.add_peer(s_spec.clone(), "test")
            .await
            .expect("C connects to S");
        a.lightning()
            .open_channel(s_id, 2_000_000, 0, false)
            .expect("A opens to S");
        c.lightning()
            .open_channel(s_id, 2_000_000, 1_000_000_000, false)
            .expect("C opens to S");
        confirm_channels(&btc, &[&a, &c], &burn).await;
        wait_for(
            "both channels usable, and S's forwarding fee known to C",
            90,
            async || usable_with(&a, &s_id) && usable_with(&c, &s_id) && knows_peer_policies(&c),
            log,
        )
        .await;
        let mut line = Line {
            _btc: btc,
            db_a,
            db_c,
            a,
            c,
            s,
            child,
            s_id,
            hashes: Vec::new(),
            _dir: dir,
        };
        // Wave 1 settles before anything breaks: those forwards are in S's books already.
        line.pay(5, "before");
        line.wait_resolved("the first wave to succeed", 60).await;
        line
    }

    /// Sends `n` payments A -> S -> C (not waiting for them).
    fn pay(&mut self, n: usize, label: &str) {
        for i in 0..n {
            let invoice = self
                .c
                .lightning()
                .create_invoice(Some(payment_msat()), &format!("{label} {i}"), 3600)
                .expect("invoice");
            self.a
                .lightning()
                .pay_invoice(&invoice, None, None)
                .expect("payment sent");
            self.hashes.push(*invoice.payment_hash().as_ref());
        }
    }

    /// Waits until every payment sent has succeeded or failed, asserting all along that both
    /// channels with S are still open: S commits each channel monitor update with (or after)
    /// a channel manager that knows it, so a restart never finds a monitor ahead of the
    /// manager, which LDK would answer by force-closing the channel.
    async fn wait_resolved(&self, what: &str, secs: u64) {
        let state = || {
            format!(
                "A: {:#?}\nC: {:#?}\n--- S ---\n{}",
                self.a.lightning().channels(),
                self.c.lightning().channels(),
                self.s.log_tail()
            )
        };
        wait_for(
            what,
            secs,
            async || {
                let open_with_s = |n: &switchyard_node::Node| {
                    n.lightning()
                        .channels()
                        .iter()
                        .any(|ch| ch.counterparty == self.s_id.to_string())
                };
                assert!(
                    open_with_s(&self.a) && open_with_s(&self.c),
                    "{what}: a channel with S was closed\n{}",
                    state()
                );
                statuses(&self.db_a, &self.hashes)
                    .await
                    .iter()
                    .all(|(s, _)| s == "succeeded" || s == "failed")
            },
            state,
        )
        .await;
        wait_for(
            "no HTLC left in flight at A or C",
            60,
            async || htlcs_in_flight(&self.a) == 0 && htlcs_in_flight(&self.c) == 0,
            || self.s.log_tail(),
        )
        .await;
    }

    async fn check_books(&self, db_s: &PgPool, run: usize) {
        check_books(&self.db_a, &self.db_c, db_s, &self.s, &self.hashes, run).await;
    }

    async fn stop(mut self) {
        // A panicking task would leave S up but deaf (in release builds LDK does not panic
        // there, it leaves the channel waiting forever).
        assert_eq!(self.s.panics(), Vec::<String>::new(), "S panicked");
        self.child.kill();
        self.a.stop().await;
        self.c.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_htlcs_in_flight_the_forwarder_restarts_and_books_each_forward_once() {
    let db_s = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut line = Line::new(dir, db_s.url().to_string()).await;
    // Then, `SWITCHYARD_CRASH_RUNS` times (default 1), a wave is killed in flight at a
    // slightly different moment each time, S restarts, and everything is checked.
    for run in 0..runs() {
        line.pay(WAVE, &format!("during {run}"));
        let child = std::mem::replace(&mut line.child, Running(None));
        line.child = crash_and_restart(&line.s, child, &line.a, run).await;
        line.wait_resolved("every payment to resolve after the restart", 240)
            .await;
        line.check_books(db_s.store.pool(), run).await;
    }
    line.stop().await;
}

/// S's own database is killed (SIGKILL to the postmaster) with a wave of HTLCs in flight
/// through S, and started again (crash recovery) some seconds later. S stays up; the HTLCs
/// wait (S cannot make their channel monitor updates durable, so LDK holds the channels), and
/// every payment then succeeds, booked once, with no channel closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_under_the_forwarder_htlcs_wait_then_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = EmbeddedPostgres::new(&dir.path().join("s-pg")).expect("S's cluster");
    pg.start().await.expect("S's cluster starts");
    pg.ensure_database("switchyard").await.expect("database");
    let url = pg_url(&pg, "switchyard");
    let mut line = Line::new(dir, url).await;

    line.pay(WAVE, "during the outage");
    wait_for(
        "HTLCs in flight through S",
        30,
        async || htlcs_in_flight(&line.a) > 0,
        || line.s.log_tail(),
    )
    .await;
    let pid = pg
        .running_postmaster()
        .expect("postmaster pid")
        .expect("postmaster running");
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    // Down for a while: S stays up, the wave waits, nothing fails.
    for _ in 0..16 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(line.child.alive(), "S exited\n{}", line.s.log_tail());
    }
    let outcome = statuses(&line.db_a, &line.hashes).await;
    let waiting = outcome.iter().filter(|(s, _)| s == "pending").count();
    let failed = outcome.iter().filter(|(s, _)| s == "failed").count();
    assert!(
        waiting > 0,
        "no payment waited for S's database: {outcome:?}"
    );
    assert_eq!(failed, 0, "payments failed during the outage: {outcome:?}");
    eprintln!("S's database down 8 s: {waiting} payments waiting, {failed} failed");

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while let Err(e) = pg.start().await {
        assert!(
            std::time::Instant::now() < deadline,
            "postgres did not restart: {e}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    line.wait_resolved("every payment to resolve after the database is back", 240)
        .await;
    let outcome = statuses(&line.db_a, &line.hashes).await;
    assert!(
        outcome.iter().all(|(s, _)| s == "succeeded"),
        "every payment completes: {outcome:?}"
    );
    assert!(line.child.alive(), "S exited\n{}", line.s.log_tail());
    let pool = PgPool::connect_with(pg.connect_options("switchyard"))
        .await
        .expect("S's database");
    line.check_books(&pool, 0).await;
    pool.close().await;
    line.stop().await;
    pg.stop().await.ok();
}
