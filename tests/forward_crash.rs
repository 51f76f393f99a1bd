//! kill -9 a forwarding node with HTLCs in flight: A -> S -> C on a real regtest bitcoind, S
//! the `switchyard node` binary in its own process, A and C switchyard nodes in this one, each
//! with its own Postgres. After S restarts no channel was closed, every payment resolves, no
//! HTLC is left in flight, and S's books hold each settled forward exactly once, with the fee
//! A paid for it. `SWITCHYARD_CRASH_RUNS` (default 1) kills and restarts S that many times in
//! one line, each kill with a wave of payments in flight.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use support::line::{
    address, confirm_channels, fund, hex, htlcs_in_flight, knows_peer_policies, start, usable_with,
    wait_for_or as wait_for,
};
use switchyard_node::PeerSpec;
use switchyard_regtest::Bitcoind;
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

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
struct Running(Child);

impl Running {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
            .map(Running)
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
    db_s: &TestDb,
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
    .fetch_one(db_s.store.pool())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_htlcs_in_flight_the_forwarder_restarts_and_books_each_forward_once() {
    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let (db_a, db_s, db_c) = (
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (user, password) = btc.rpc_user_pass();
    let s = Forwarder {
        db_url: db_s.url().to_string(),
        data: dir.path().join("s"),
        log: dir.path().join("s.log"),
        p2p: free_port(),
        api: free_port(),
        btc: (btc.rpc_addr().to_string(), user, password),
    };
    let mut child = s.spawn();
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

    // Private channels: C's invoices carry route hints, so nothing waits for gossip. C pushes
    // half of its channel to S, which gives S the outbound liquidity to forward to C.
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

    let pay = |n: usize, label: &str| {
        let mut hashes = Vec::with_capacity(n);
        for i in 0..n {
            let invoice = c
                .lightning()
                .create_invoice(Some(payment_msat()), &format!("{label} {i}"), 3600)
                .expect("invoice");
            a.lightning()
                .pay_invoice(&invoice, None, None)
                .expect("payment sent");
            hashes.push(*invoice.payment_hash().as_ref());
        }
        hashes
    };

    // Wave 1 settles before the crash: those forwards are in S's books already.
    let mut hashes = pay(5, "before");
    wait_for(
        "the first wave to succeed",
        60,
        async || {
            statuses(&db_a, &hashes)
                .await
                .iter()
                .all(|(s, _)| s == "succeeded")
        },
        log,
    )
    .await;

    // Then, `SWITCHYARD_CRASH_RUNS` times (default 1), a wave is killed in flight at a
    // slightly different moment each time, S restarts, and everything is checked.
    for run in 0..runs() {
        hashes.extend(pay(WAVE, &format!("during {run}")));
        child = crash_and_restart(&s, child, &a, run).await;
        let state = || {
            format!(
                "A: {:#?}\nC: {:#?}\n--- S ---\n{}",
                a.lightning().channels(),
                c.lightning().channels(),
                s.log_tail()
            )
        };
        // S commits each channel monitor update with (or after) a channel manager that
        // knows it, so a restart never finds a monitor ahead of the manager, which LDK
        // would answer by force-closing the channel.
        wait_for(
            "every payment to resolve after the restart",
            240,
            async || {
                let open_with_s = |n: &switchyard_node::Node| {
                    n.lightning()
                        .channels()
                        .iter()
                        .any(|ch| ch.counterparty == s_id.to_string())
                };
                assert!(
                    open_with_s(&a) && open_with_s(&c),
                    "run {run}: a channel with S was closed after the restart\n{}",
                    state()
                );
                statuses(&db_a, &hashes)
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
            async || htlcs_in_flight(&a) == 0 && htlcs_in_flight(&c) == 0,
            log,
        )
        .await;
        check_books(&db_a, &db_c, &db_s, &s, &hashes, run).await;
    }

    // A panicking task would leave S up but deaf (in release builds LDK does not panic
    // there, it leaves the channel waiting forever).
    assert_eq!(s.panics(), Vec::<String>::new(), "S panicked");

    child.kill();
    a.stop().await;
    c.stop().await;
}
