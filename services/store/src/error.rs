//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("database error: {0}")]
    /// A query failed, or the database could not be reached ([`Error::is_unavailable`]).
    Database(#[from] sqlx::Error),
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

impl Error {
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
