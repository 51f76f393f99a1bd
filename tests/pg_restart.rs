//! Postgres killed and restarted under a gossiping node: `switchyard up` (regtest Lightning
//! node, one gossip peer) on a Postgres cluster of its own; the postmaster is killed with
//! SIGKILL, the peer keeps sending channel updates while the database is down, then the
//! cluster is started again (crash recovery).
//!
//! Asserts: the process stays up throughout (`/healthz` answers), `/readyz` reports the
//! outage (503, `"database": false`) and recovers, and every update received during the
//! outage is in the store afterwards (the gossip writer keeps its batch and retries). Prints
//! how long the outage lasted and how long the store took to catch up.

#[path = "support/gossip_peer.rs"]
mod gossip_peer;
#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lightning::ln::msgs::MessageSendEvent;
use process::{call, free_port, pg_url, spawn_logged, wait_ready};
use serde_json::Value;
use sqlx::ConnectOptions;
use switchyard_regtest::gossip::sign_channel_update;
use switchyard_regtest::synthetic::network;
use switchyard_store::embedded::EmbeddedPostgres;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
/// Channel updates the peer sends while the database is down.
const DURING_OUTAGE: usize = 40;

/// Stored `channel_updates` with exactly this timestamp, or `None` while the database is down.
async fn stored_with_timestamp(pg: &EmbeddedPostgres, ts: u32) -> Option<i64> {
    let mut conn = pg.connect_options("switchyard").connect().await.ok()?;
    sqlx::query_scalar("SELECT count(*) FROM channel_updates WHERE timestamp = $1")
        .bind(i64::from(ts))
        .fetch_one(&mut conn)
        .await
        .ok()
}

async fn readyz(api: SocketAddr) -> (u16, Value) {
    let (status, body) = call(api, "GET", "/readyz", "", "").await;
    (status, serde_json::from_str(&body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_outlives_a_postgres_crash_and_loses_no_gossip_received_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPostgres::new(&dir.path().join("pg")).unwrap();
    pg.start().await.unwrap();
    pg.ensure_database("switchyard").await.unwrap();
    let url = pg_url(&pg, "switchyard");

    let ts = switchyard_regtest::now_timestamp();
    let net = tokio::task::spawn_blocking(move || network(30, 60, 17, ts))
        .await
        .unwrap();
    let peer = gossip_peer::serving([0x44; 32], &net).await;

    let data = dir.path().join("data");
    let log = dir.path().join("switchyard.log");
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut child = spawn_logged(
        tokio::process::Command::new(BIN)
            .args(["up", "--network", "regtest", "--no-dns-bootstrap"])
            .args(["--p2p-listen", "127.0.0.1:0", "--refresh-secs", "1"])
            .args(["--connect", &peer.connect_string()])
            .arg("--listen")
            .arg(api.to_string())
            .arg("--database-url")
            .arg(&url)
            .arg("--data-dir")
            .arg(&data)
            .env("RUST_LOG", "warn"),
        &log,
    );
    wait_ready(&mut child, &log, Duration::from_secs(180), || async {
        readyz(api).await.0 == 200
    })
    .await;
    // The peer's network is in the store (initial sync done).
    wait_ready(&mut child, &log, Duration::from_secs(60), || async {
        stored_with_timestamp(&pg, ts).await.unwrap_or(0) >= net.channels.len() as i64
    })
    .await;

    // Kill the postmaster; the backends follow it.
    let pid = pg
        .running_postmaster()
        .unwrap()
        .expect("postmaster running");
    let killed = Instant::now();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_ready(&mut child, &log, Duration::from_secs(30), || async {
        let (status, body) = readyz(api).await;
        status == 503 && body["database"] == false
    })
    .await;
    let noticed = killed.elapsed();
    assert!(
        noticed < Duration::from_secs(5),
        "outage reported after {noticed:?}"
    );

    // Gossip while the database is down: one fresh update per channel direction 1.
    let during = ts + 1_000;
    let events: Vec<_> = gossip_peer::node_1_updates(&net)
        .into_iter()
        .take(DURING_OUTAGE)
        .map(|(mut c, key)| {
            c.timestamp = during;
            c.fee_proportional_millionths = 777;
            MessageSendEvent::BroadcastChannelUpdate {
                msg: sign_channel_update(c, &key),
            }
        })
        .collect();
    let sent = events.len();
    assert_eq!(sent, DURING_OUTAGE.min(net.channels.len()));
    peer.broadcast(events);
    // Down for a few seconds with the updates received: the process stays up.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(call(api, "GET", "/healthz", "", "").await.0, 200);
        assert!(child.try_wait().unwrap().is_none(), "switchyard exited");
    }
    assert_eq!(stored_with_timestamp(&pg, during).await, None);

    // Start the cluster again (crash recovery); the old backends may take a moment to go.
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Err(e) = pg.start().await {
        assert!(Instant::now() < deadline, "postgres did not restart: {e}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let outage = killed.elapsed();
    wait_ready(&mut child, &log, Duration::from_secs(60), || async {
        readyz(api).await.0 == 200
    })
    .await;
    // Every update received meanwhile reaches the store (the writer's backoff is at most 30 s).
    wait_ready(&mut child, &log, Duration::from_secs(90), || async {
        stored_with_timestamp(&pg, during).await == Some(sent as i64)
    })
    .await;
    let caught_up = killed.elapsed() - outage;
    assert!(child.try_wait().unwrap().is_none(), "switchyard exited");
    let (_, metrics) = call(api, "GET", "/metrics", "", "").await;
    let write_errors = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_gossip_store_write_errors_total "))
        .unwrap_or("?")
        .to_owned();
    println!(
        "| measure | value |\n|---|---|\n\
         | /readyz reported the outage after | {noticed:.1?} |\n\
         | database down for | {outage:.1?} |\n\
         | updates received while down / in the store after | {sent} / {sent} |\n\
         | store caught up after the restart in | {caught_up:.1?} |\n\
         | gossip batch writes failed and retried | {write_errors} |"
    );
    drop(child);
    pg.stop().await.ok();
}
