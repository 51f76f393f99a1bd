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
