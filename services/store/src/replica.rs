//! One writer, many read-only replicas: the pieces of the store that make it safe.
//!
//! - [`Store::connect_read_only`]: a pool that applies no migrations and whose sessions are
//!   read-only (`default_transaction_read_only`), for a process serving from a hot standby.
//! - [`wait_for_schema`]: waits, logging at an interval, until the writer has applied the
//!   migrations this build needs (a standby cannot apply them; it replays the primary's).
//! - [`WriterLock`]: a session-level advisory lock the one writer holds for its lifetime; a
//!   second writer on the same database is refused with who holds it. The lock dies with its
//!   session: [`WriterLock::hold`] takes it again after a database restart, and tells the
//!   writer to stop if another one took it meanwhile.
//!
//! Nothing here writes to a read-only database.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::error::{Error, Result};
use crate::{Store, MIGRATOR};

/// The advisory lock key of the writer ("swyd" in ASCII), scoped to the database by Postgres.
pub const WRITER_LOCK_KEY: i64 = 0x7377_7964;

/// The newest migration version this build carries: a replica serves once the database has it.
pub fn required_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl Store {
    /// A store for a read-only replica: connects lazily (the database may not be up yet),
    /// applies no migrations, and every session is read-only, so even a primary refuses a
    /// write from it.
    pub fn connect_read_only(options: PgConnectOptions, max_connections: u32) -> Store {
        let options = options.options([("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Store { pool }
    }

    /// Takes the writer's advisory lock on a connection of its own (held until the returned
    /// lock is dropped or the connection ends). [`Error::WriterLocked`] when another session
    /// holds it.
    pub async fn acquire_writer_lock(&self, application_name: &str) -> Result<WriterLock> {
        let options = (*self.pool.connect_options())
            .clone()
            .application_name(application_name);
        let mut conn = options.connect().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(WRITER_LOCK_KEY)
            .fetch_one(&mut conn)
            .await?;
        if got {
            return Ok(WriterLock {
                conn,
                application_name: application_name.to_owned(),
            });
        }
        let holder = lock_holder(&mut conn).await.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "reading the writer lock's holder");
            "another session (pg_stat_activity not readable)".to_owned()
        });
        let _ = conn.close().await;
        Err(Error::WriterLocked { holder })
    }
}

/// From which session holds the writer lock (`$1` = [`WRITER_LOCK_KEY`]) of this database.
const HOLDER: &str = "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
     WHERE l.locktype = 'advisory' AND l.granted \
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
       AND l.classid = ($1 >> 32)::oid AND l.objid = ($1 & 4294967295)::oid \
     LIMIT 1";

/// The session holding the writer lock, as Postgres knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The server process of the session.
    pub server_pid: i32,
    /// Its `application_name` (a switchyard writer names itself with its process id).
    pub application_name: String,
    /// It connected over a Unix socket or loopback: its process runs on the database's host.
    pub local: bool,
}

impl Store {
    /// The session holding the writer lock, if any.
    pub async fn writer_lock_holder(&self) -> Result<Option<LockHolder>> {
        let sql = format!(
            "SELECT a.pid, a.application_name, (a.client_addr IS NULL \
               OR a.client_addr << inet '127.0.0.0/8' OR a.client_addr = inet '::1') {HOLDER}"
        );
        let row: Option<(i32, Option<String>, bool)> = sqlx::query_as(&sql)
            .bind(WRITER_LOCK_KEY)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(server_pid, app, local)| LockHolder {
            server_pid,
            application_name: app.unwrap_or_default(),
            local,
        }))
    }
}

/// pid, application_name, client address, backend start of a session (`pg_stat_activity`).
type Session = (i32, Option<String>, Option<String>, Option<String>);

/// Describes the session holding the writer lock: pid, application name, client, start.
async fn lock_holder(conn: &mut PgConnection) -> Result<String> {
    let sql = format!(
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start::text {HOLDER}"
    );
    let row: Option<Session> = sqlx::query_as(&sql)
        .bind(WRITER_LOCK_KEY)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some((pid, app, client, since)) => format!(
            "server pid {pid}, application_name {:?}, client {}, connected since {}",
            app.unwrap_or_default(),
            client.unwrap_or_else(|| "local socket".to_owned()),
            since.unwrap_or_default()
        ),
        None => "a session that has just released it (try again)".to_owned(),
    })
}

/// The writer's advisory lock, held by a connection of its own; released when dropped.
#[derive(Debug)]
pub struct WriterLock {
    conn: PgConnection,
    application_name: String,
}

impl WriterLock {
    /// Whether the connection holding the lock still answers (the lock is lost with it).
    pub async fn check(&mut self) -> Result<()> {
        self.conn.ping().await?;
        Ok(())
    }

    /// Holds the lock for as long as the writer runs. The lock lives with its connection, so
    /// a Postgres restart (or a terminated backend) loses it: this checks the connection every
    /// `every` and, once it broke, takes the lock again on a new connection as soon as the
    /// database answers. Returns only if another session took the lock meanwhile
    /// ([`Error::WriterLocked`]): the caller must stop writing, since two writers would
    /// interleave their changes.
    pub async fn hold(mut self, store: &Store, every: Duration) -> Error {
        loop {
            tokio::time::sleep(every).await;
            let Err(e) = self.check().await else {
                continue;
            };
            tracing::warn!(error = %e, "the writer lock's connection broke; taking the lock again");
            loop {
                match store.acquire_writer_lock(&self.application_name).await {
                    Ok(lock) => {
                        self = lock;
                        tracing::info!("writer lock taken again");
                        break;
                    }
                    Err(e @ Error::WriterLocked { .. }) => return e,
                    Err(e) => {
                        tracing::debug!(error = %e, "the database does not answer yet; the writer lock waits");
                        tokio::time::sleep(every).await;
                    }
                }
            }
        }
    }

    /// Releases the lock and closes its connection.
    pub async fn release(self) {
        let _ = self.conn.close().await;
    }
}

/// The newest applied migration of the database, `None` when none is (no migrations table).
pub async fn schema_version(store: &Store) -> Result<Option<i64>> {
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(store.pool())
        .await?;
    if table.is_none() {
        return Ok(None);
    }
    Ok(
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(store.pool())
            .await?,
    )
}

/// Waits until the database answers and holds [`required_schema_version`], logging why it
/// waits every `every`. Returns the version found.
pub async fn wait_for_schema(store: &Store, every: Duration) -> i64 {
    let needed = required_schema_version();
    loop {
        match schema_version(store).await {
            Ok(Some(v)) if v >= needed => return v,
            Ok(found) => tracing::info!(
                found = found.unwrap_or(0),
                needed,
                retry_secs = every.as_secs_f64(),
                "read-only: waiting for the writer to apply the migrations this build needs \
                 (a replica applies none)"
            ),
            Err(e) => tracing::info!(
                error = %e,
                retry_secs = every.as_secs_f64(),
                "read-only: waiting for the database"
            ),
        }
        tokio::time::sleep(every).await;
    }
}

impl Store {
    /// [`Store::connect_read_only`] on a `postgres://` URL, naming the sessions
    /// `application_name` (visible in `pg_stat_activity`).
    pub fn connect_read_only_url(
        url: &str,
        application_name: &str,
        max_connections: u32,
    ) -> Result<Store> {
        let options: PgConnectOptions = url.parse()?;
        Ok(Self::connect_read_only(
            options.application_name(application_name),
            max_connections,
        ))
    }
}
