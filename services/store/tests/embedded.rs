use std::time::Duration;

use switchyard_store::embedded::{EmbeddedPostgres, StartOutcome};
use switchyard_store::Store;

async fn write_and_count(pg: &EmbeddedPostgres, insert: bool) -> i64 {
    let store = Store::connect(pg.connect_options("switchyard"), 2)
        .await
        .unwrap();
    if insert {
        sqlx::query("INSERT INTO nodes (node_id, first_seen, last_seen) VALUES ($1, now(), now())")
            .bind(vec![2u8; 33])
            .execute(store.pool())
            .await
            .unwrap();
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    n
}

fn kill_cluster(pid: u32) {
    // SIGKILL the postmaster; its children notice and exit.
    let status = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn embedded_cluster_survives_an_unclean_stop_and_a_stale_pid_file() {
    if std::env::var("DATABASE_URL").is_ok() {
        // Still exercise the embedded path: it needs only the PostgreSQL binaries.
    }
    let dir = tempfile::Builder::new()
        .prefix("sy-emb")
        .tempdir_in("/tmp")
        .unwrap();
    let pg = EmbeddedPostgres::new(&dir.path().join("pg")).unwrap();
    assert_eq!(pg.start().await.unwrap(), StartOutcome::Initialized);
    pg.ensure_database("switchyard").await.unwrap();
    assert_eq!(write_and_count(&pg, true).await, 1);
    assert_eq!(
        pg.start().await.unwrap(),
        StartOutcome::AlreadyRunning,
        "a second start reuses it"
    );

    // Crash: kill -9, leaving postmaster.pid behind.
    let pid = pg.running_postmaster().unwrap().expect("running");
    kill_cluster(pid);
    let data_pid = pg.data_dir().join("postmaster.pid");
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(data_pid.exists(), "an unclean stop leaves the pid file");
    assert_eq!(pg.start().await.unwrap(), StartOutcome::Started);
    assert_eq!(
        write_and_count(&pg, false).await,
        1,
        "committed data survives the crash"
    );

    // A pid file naming a live process that is not our postmaster (pid reuse after a reboot).
    let pid = pg.running_postmaster().unwrap().expect("running");
    kill_cluster(pid);
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let content = std::fs::read_to_string(&data_pid).unwrap();
    let rest: Vec<&str> = content.lines().skip(1).collect();
    let fake = format!("{}\n{}\n", std::process::id(), rest.join("\n"));
    std::fs::write(&data_pid, fake).unwrap();
    assert_eq!(pg.start().await.unwrap(), StartOutcome::Started);
    assert_eq!(write_and_count(&pg, false).await, 1);

    pg.stop().await.unwrap();
    assert!(pg.running_postmaster().unwrap().is_none());
    assert!(!data_pid.exists(), "a clean stop removes the pid file");
    // And it starts again after a clean stop, data intact.
    assert_eq!(pg.start().await.unwrap(), StartOutcome::Started);
    assert_eq!(write_and_count(&pg, false).await, 1);
    pg.stop().await.unwrap();
}
