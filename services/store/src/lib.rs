//! # switchyard-store: Postgres, and every SQL statement of switchyard
//!
//! Owns the connection pool, the migrations (`migrations/` at the repository root, embedded
//! at build time), the embedded cluster used when no `DATABASE_URL` is given
//! ([`embedded`]), the transactional file import ([`import`]), the typed queries
//! ([`queries`], the graph's history in [`queries::history`] over the pure replay in
//! [`timeline`]), the loading of the current graph ([`graph`]) and the one-writer,
//! many-read-only-replicas pieces ([`replica`]: writer lock, read-only pool, schema wait).
//!
//! It must not know about HTTP status codes and must not compute routes or analytics; no
//! other crate writes SQL or inspects `sqlx::Error`.
//!
//! # Brief overview
//! ```no_run
//! # async fn demo() -> switchyard_store::Result<()> {
//! use switchyard_store::{embedded::EmbeddedPostgres, Store};
//! let pg = EmbeddedPostgres::new(std::path::Path::new("./switchyard-data/postgres"))?;
//! pg.start().await?;
//! pg.ensure_database("switchyard").await?;
//! let store = Store::connect(pg.connect_options("switchyard"), 8).await?;
//! let (snapshot, _version) = switchyard_store::graph::load_snapshot(&store).await?;
//! println!("{} channels", snapshot.channel_count());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod embedded;
mod error;
pub mod gossip;
pub mod graph;
pub mod import;
pub mod queries;
pub mod replica;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod timeline;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use error::{Error, Result};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A snapshot of the connection pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// A handle on the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool })
    }

    /// A store whose pool opens connections only when a query needs one, and that applies no
    /// migrations: for a process that must start (and answer what needs no database) while
    /// the database is down or absent. Queries then fail with an error for which
    /// [`Error::is_unavailable`] holds.
    pub fn connect_lazy(options: PgConnectOptions, max_connections: u32) -> Store {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Store { pool }
    }

    /// Connects to a `postgres://` URL and applies pending migrations.
    pub async fn connect_url(url: &str, max_connections: u32) -> Result<Store> {
        Self::connect(PgConnectOptions::from_str(url)?, max_connections).await
    }

    /// The connection pool, for running queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many connections the pool holds, how many of them are idle, and its maximum.
    pub fn pool_status(&self) -> PoolStatus {
        PoolStatus {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (waits for checked-out ones to return).
    pub async fn close(&self) {
        self.pool.close().await
    }
}
