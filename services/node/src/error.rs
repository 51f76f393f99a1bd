//! The node's error type.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] switchyard_store::Error),
    #[error("bitcoind RPC {method}: {message}")]
    Rpc { method: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid peer {0}")]
    InvalidPeer(String),
    #[error("connecting to {peer}: {message}")]
    Connect { peer: String, message: String },
    #[error("DNS bootstrap: {0}")]
    Dns(String),
    #[error("wallet: {0}")]
    Wallet(String),
    /// A channel or payment request the node refuses (bad amount, unknown channel, ...).
    #[error("{0}")]
    Rejected(String),
    /// LDK refused the operation.
    #[error("{0}")]
    Lightning(String),
    /// The operation needs something the node was started without (e.g. bitcoind).
    #[error("{0}")]
    Unavailable(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A fault inside the node (a task that panicked): never the caller's doing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl NodeError {
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> NodeError {
        NodeError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}
