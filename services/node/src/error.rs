//! The node's error type.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
/// Everything that can go wrong in the node.
pub enum NodeError {
    #[error("{}: {source}", path.display())]
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        #[source]
        /// The underlying I/O error.
        source: std::io::Error,
    },
    #[error("configuration: {0}")]
    /// The configuration is invalid (the reason is given).
    Config(String),
    #[error(transparent)]
    /// A store query failed.
    Store(#[from] switchyard_store::Error),
    #[error("bitcoind RPC {method}: {message}")]
    /// A bitcoind RPC call failed.
    Rpc {
        /// The RPC method called.
        method: String,
        /// bitcoind's (or the transport's) error message.
        message: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    /// The Lightning listener could not be bound.
    Listen {
        /// The configured address.
        addr: std::net::SocketAddr,
        #[source]
        /// Why binding failed.
        source: std::io::Error,
    },
    #[error("invalid peer {0}")]
    /// A peer string or peer request is invalid (the reason is given).
    InvalidPeer(String),
    #[error("connecting to {peer}: {message}")]
    /// Connecting to a peer failed.
    Connect {
        /// The peer (`pubkey@host:port`).
        peer: String,
        /// What went wrong.
        message: String,
    },
    #[error("DNS bootstrap: {0}")]
    /// DNS bootstrap (BOLT 10) failed.
    Dns(String),
    /// Talking to tor's control port (the onion service).
    #[error(transparent)]
    Tor(#[from] crate::tor::TorError),
    #[error("wallet: {0}")]
    /// The on-chain wallet failed (the reason is given).
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
    /// The channel, payment or invoice asked for is unknown.
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
