//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("applying migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Load(#[from] switchyard_graph::LoadError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("embedded PostgreSQL: {0}")]
    Embedded(String),
    /// A value read from the database does not fit the type it stands for.
    #[error("corrupt row in {table}: {detail}")]
    CorruptRow { table: &'static str, detail: String },
    #[error("import interrupted: {0}")]
    Interrupted(String),
    /// A caller-supplied parameter the store cannot use.
    #[error("{0}")]
    InvalidInput(String),
    /// The graph as of an instant the store cannot answer for.
    #[error(transparent)]
    AsOf(#[from] crate::queries::asof::ResolveError),
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
