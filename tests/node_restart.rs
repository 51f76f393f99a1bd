//! kill -9 the node in the middle of a gossip sync: the store holds only whole batches (no
//! update without its channel), and after a restart the sync completes with every message once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/gossip_peer.rs"]
mod gossip_peer;

use switchyard_regtest::synthetic::network;
use switchyard_store::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

fn start(db: &TestDb, data: &std::path::Path, peer: &str, log: &std::path::Path) -> Child {
    Command::new(BIN)
        .args(["node", "--network", "regtest", "--no-dns-bootstrap"])
        .args(["--p2p-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
        .args(["--connect", peer])
        .arg("--database-url")
        .arg(db.url())
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("switchyard node")
}

async fn counts(db: &TestDb) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM channel_updates), \
         (SELECT count(*) FROM node_announcements), \
         (SELECT count(*) FROM channel_updates u WHERE NOT EXISTS \
            (SELECT 1 FROM channels c WHERE c.scid = u.scid))",
    )
    .fetch_one(db.store.pool())
    .await
    .expect("counts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_sync_the_store_stays_whole_and_sync_resumes() {
    let (nodes, channels) = (1_000usize, 5_000usize);
    let ts = switchyard_regtest::now_timestamp();
    let net = tokio::task::spawn_blocking(move || network(nodes, channels, 11, ts))
        .await
        .unwrap();
    let peer = gossip_peer::serving([0x77; 32], &net).await;
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("node.log");

    let mut child = start(&db, &data, &peer.connect_string(), &log);
    let started = Instant::now();
    // Kill as soon as part of the network is in the store.
    loop {
        let (c, _, _, _) = counts(&db).await;
        if c > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no gossip stored within 90 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    child.wait().unwrap();
    let (c, u, n, orphans) = counts(&db).await;
    assert!(
        c < channels as i64,
        "killed mid-sync ({c} of {channels} channels)"
    );
    assert_eq!(orphans, 0, "no update without its channel after a kill");
    eprintln!("killed with {c} channels, {u} updates, {n} node announcements stored");

    let mut child = start(&db, &data, &peer.connect_string(), &log);
    let want = (channels as i64, 2 * channels as i64, nodes as i64, 0);
    let started = Instant::now();
    loop {
        let now = counts(&db).await;
        if now == want {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "sync did not complete after restart: {now:?} of {want:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}
