//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while running bitcoind or building fixtures on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Neither `SWITCHYARD_BITCOIND` nor `scripts/build-bitcoind.sh` gave a usable binary.
    #[error("no bitcoind binary: {0}")]
    BitcoindNotFound(String),
    /// The bitcoind process could not be started.
    #[error("spawning {path}: {source}")]
    Spawn {
        /// The binary we tried to run.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// bitcoind exited before its RPC server answered.
    #[error("bitcoind exited during startup ({status}); output and debug.log tail:\n{log_tail}")]
    Exited {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its stderr/stdout and `debug.log`.
        log_tail: String,
    },
    /// A test daemon (dnsmasq, microsocks, tor) exited or did not become ready.
    #[error("{daemon}: {detail}; its output:\n{output}")]
    DaemonStartup {
        /// Which daemon.
        daemon: &'static str,
        /// What happened.
        detail: String,
        /// Its output and log.
        output: String,
    },
    /// bitcoind's RPC server did not become ready in time.
    #[error(
        "bitcoind RPC not ready after {timeout:?} (last error: {last_error}); log tail:\n{log_tail}"
    )]
    StartupTimeout {
        /// How long we waited.
        timeout: Duration,
        /// The last RPC error seen while waiting.
        last_error: String,
        /// The end of its stderr/stdout and `debug.log`.
        log_tail: String,
    },
    /// Local I/O (temporary directory, port probing, log files).
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The RPC connection failed (refused, reset, timed out).
    #[error("RPC {method}: {source}")]
    RpcIo {
        /// The RPC method called.
        method: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// bitcoind answered with a JSON-RPC error object.
    #[error("RPC {method} failed with code {code}: {message}")]
    Rpc {
        /// The RPC method called.
        method: String,
        /// The JSON-RPC error code (e.g. -28 while warming up, -5 for an unknown block).
        code: i64,
        /// The error message.
        message: String,
    },
    /// bitcoind answered with something that is not a JSON-RPC response, or not the
    /// shape we expected.
    #[error("RPC {method}: unexpected response: {detail}")]
    BadResponse {
        /// The RPC method called.
        method: String,
        /// What was wrong.
        detail: String,
    },
    /// The wallet has no spendable coins for the requested payment.
    #[error(
        "wallet has {available_sat} sat spendable, needs {needed_sat} sat (call Wallet::fund)"
    )]
    InsufficientFunds {
        /// What the spend needs including the fee.
        needed_sat: u64,
        /// What is spendable now.
        available_sat: u64,
    },
    /// A transaction was not found where it was expected on chain.
    #[error("transaction {txid} not confirmed in block {block_hash}")]
    NotConfirmed {
        /// The transaction.
        txid: bitcoin::Txid,
        /// The block we looked in.
        block_hash: bitcoin::BlockHash,
    },
    /// Signing or key handling failed.
    #[error("secp256k1: {0}")]
    Secp(#[from] bitcoin::secp256k1::Error),
    /// A fixture parameter is out of range (e.g. an amount below the dust limit).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
