//! A real Postgres for tests: `DATABASE_URL` when set, else an embedded cluster shared by all
//! test processes of this machine (started on first use, left running for the next run;
//! `scripts/test.sh` stops it). Each [`TestDb`] is a fresh database.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::embedded::EmbeddedPostgres;
use crate::Store;

/// Where the shared test cluster lives (`SWITCHYARD_TEST_PG_DIR` overrides).
pub fn test_cluster_dir() -> PathBuf {
    std::env::var_os("SWITCHYARD_TEST_PG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("switchyard-test-pg"))
}

/// A fresh, migrated database.
pub struct TestDb {
    /// A store connected to this database (migrations applied).
    pub store: Store,
    /// The database's name (unique per test).
    pub name: String,
    /// Connection options for it.
    pub options: PgConnectOptions,
}

impl TestDb {
    /// A `postgres://` URL for this database, for child processes (`--database-url`).
    pub fn url(&self) -> String {
        let o = &self.options;
        let name = o.get_database().unwrap_or("postgres");
        match o.get_socket() {
            Some(dir) => format!(
                "postgres://{}@localhost:{}/{name}?host={}",
                o.get_username(),
                o.get_port(),
                dir.display()
            ),
            None => format!(
                "postgres://{}@{}:{}/{name}",
                o.get_username(),
                o.get_host(),
                o.get_port()
            ),
        }
    }
}

/// Connection options for the server tests use, starting the embedded cluster if needed.
pub async fn server_options() -> PgConnectOptions {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url
            .parse()
            .expect("DATABASE_URL is not a valid postgres URL");
    }
    let dir = test_cluster_dir();
    std::fs::create_dir_all(&dir).expect("create test cluster dir");
    // Serialize cluster creation between concurrent test processes with a lock directory.
    let lock = dir.with_extension("lock");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::create_dir(&lock).is_err() {
        let stale = std::fs::metadata(&lock)
            .and_then(|m| m.modified())
            .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(120))
            .unwrap_or(false);
        if stale {
            let _ = std::fs::remove_dir(&lock);
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {}",
            lock.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pg = EmbeddedPostgres::new(&dir).expect("embedded postgres");
    let started = pg.start().await;
    let _ = std::fs::remove_dir(&lock);
    started.expect("start embedded postgres for tests");
    pg.connect_options("postgres")
}

impl TestDb {
    /// Creates a fresh, migrated database in the shared test cluster (started on first use).
    pub async fn new() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let server = server_options().await;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let mut admin = server
            .clone()
            .connect()
            .await
            .expect("connect to test server");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let options = server.database(&name);
        let store = Store::connect(options.clone(), 8)
            .await
            .expect("migrate test database");
        TestDb {
            store,
            name,
            options,
        }
    }
}

/// A snapshot's time as the import records it: the newest timestamp in its file.
pub fn snapshot_time(file: &str) -> i64 {
    switchyard_graph::load::read_file_to_vec(&switchyard_graph::testing::data_file(file))
        .expect("read snapshot")
        .iter()
        .filter_map(|r| match r {
            switchyard_graph::Record::Update(u) => Some(i64::from(u.timestamp)),
            switchyard_graph::Record::Node(n) => {
                n.announcement.as_ref().map(|a| i64::from(a.timestamp))
            }
            switchyard_graph::Record::Channel(_) => None,
        })
        .max()
        .unwrap_or(0)
}

/// The nodes whose newest announcement signed by `at` differs between a store holding all
/// of `nodes_files` and one holding `alone` only, with the one the former shows (`None`:
/// none): the history of several snapshots knows announcements one snapshot had not received
/// yet, and keeps those a later snapshot lists the node without.
pub fn announcements_differing(
    nodes_files: &[&str],
    alone: &str,
    at: i64,
) -> std::collections::HashMap<switchyard_graph::NodeId, Option<(u32, String)>> {
    use std::collections::HashMap;
    use switchyard_graph::NodeId;
    let newest = |files: &[&str]| {
        let mut m: HashMap<NodeId, Option<(u32, String)>> = HashMap::new();
        for f in files {
            let records =
                switchyard_graph::load::read_file_to_vec(&switchyard_graph::testing::data_file(f))
                    .expect("read nodes file");
            for r in records {
                let switchyard_graph::Record::Node(n) = r else {
                    continue;
                };
                let slot = m.entry(n.node_id).or_insert(None);
                if let Some(a) = n.announcement.filter(|a| i64::from(a.timestamp) <= at) {
                    if slot.as_ref().is_none_or(|(ts, _)| *ts <= a.timestamp) {
                        *slot = Some((a.timestamp, a.alias));
                    }
                }
            }
        }
        m
    };
    let (all, one) = (newest(nodes_files), newest(&[alone]));
    all.into_iter()
        .filter(|(id, a)| one.get(id).cloned().flatten() != *a)
        .collect()
}
