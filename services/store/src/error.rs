//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("database error: {0}")]
    /// A query failed, or the database could not be reached ([`Error::is_unavailable`]).
    ///
    /// Its message already carries sqlx's (which carries the server's), so it names no
    /// `source`: a report of the whole chain says each thing once.
    Database(sqlx::Error),
    #[error("applying migrations: {0}")]
    /// Applying the embedded migrations failed.
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    /// A graph file could not be read or parsed.
    Load(#[from] switchyard_graph::LoadError),
    #[error("{}: {source}", path.display())]
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        #[source]
        /// The underlying I/O error.
        source: std::io::Error,
    },
    #[error("embedded PostgreSQL: {0}")]
    /// Setting up, starting or stopping the embedded PostgreSQL cluster failed.
    Embedded(String),
    /// A value read from the database does not fit the type it stands for.
    #[error("corrupt row in {table}: {detail}")]
    CorruptRow {
        /// The table the row is in.
        table: &'static str,
        /// What does not fit.
        detail: String,
    },
    #[error("import interrupted: {0}")]
    /// An import stopped before it finished (nothing of it was written).
    Interrupted(String),
    /// A caller-supplied parameter the store cannot use.
    #[error("{0}")]
    InvalidInput(String),
    /// The graph as of an instant the store cannot answer for.
    #[error(transparent)]
    AsOf(#[from] crate::queries::asof::ResolveError),
    /// Another session holds the writer's advisory lock: one writer per database.
    #[error("another switchyard writer holds this database's writer lock ({holder}); run one writer per database and point the others at it with `serve --read-only`")]
    WriterLocked {
        /// Who holds it (pid, application name, client), as far as Postgres tells.
        holder: String,
    },
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(e)
    }
}

/// SQLSTATE `disk_full`: the server could not extend a file (a table, an index, the WAL).
const DISK_FULL: &str = "53100";

impl Error {
    /// The server's disk is full (SQLSTATE `53100`, whichever file it could not extend). The
    /// statement was rolled back; the same work succeeds once there is space again.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(e)) => e.code().as_deref() == Some(DISK_FULL),
            Error::Migrate(sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(e))) => {
                e.code().as_deref() == Some(DISK_FULL)
            }
            _ => false,
        }
    }

    /// The database cannot be reached (no connection could be made, or it broke, or the pool
    /// is closed): a condition of the deployment that passes, not a fault of the request.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Database(
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            )
        )
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
