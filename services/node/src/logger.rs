//! LDK's log records, forwarded to `tracing` under the `ldk` target.

use lightning::util::logger::{Level, Logger, Record};

#[derive(Debug, Default, Clone, Copy)]
/// Forwards LDK's log records to `tracing` (target `ldk`).
pub struct LdkLogger;

impl Logger for LdkLogger {
    fn log(&self, record: Record) {
        let module = record.module_path;
        let peer = record.peer_id.map(|p| p.to_string()).unwrap_or_default();
        match record.level {
            Level::Gossip | Level::Trace => {
                tracing::trace!(target: "ldk", module, peer, "{}", record.args)
            }
            Level::Debug => tracing::debug!(target: "ldk", module, peer, "{}", record.args),
            Level::Info => tracing::info!(target: "ldk", module, peer, "{}", record.args),
            Level::Warn => tracing::warn!(target: "ldk", module, peer, "{}", record.args),
            Level::Error => tracing::error!(target: "ldk", module, peer, "{}", record.args),
        }
    }
}
