//! What the channel layer writes to the store, and in which order.
//!
//! - **Channel monitors** are written asynchronously, as LDK documents for `Persist` and
//!   builds in [`MonitorUpdatingPersisterAsync`] with `ChainMonitor::new_async_beta`: LDK
//!   hands an update over, hears [`ChannelMonitorUpdateStatus::InProgress`], and holds the
//!   channel (no new commitment or revocation goes to the peer) until the write's future
//!   resolves and the chain monitor is told (`channel_monitor_updated`, which LDK's persister
//!   calls for us through the chain monitor's completed updates). Each update is a small row
//!   of its own and the whole monitor is written every [`MONITOR_UPDATES_PER_FULL_WRITE`]
//!   updates (a monitor grows with the HTLCs its channel carried, so writing it whole each
//!   time slowed a busy channel down the longer it ran).
//! - **Group commit** (`ln::commit`): the key-value store queues each write when LDK calls it
//!   (so writes of one key keep LDK's order) and one task writes everything queued, the
//!   channel manager and the queued book entries in one transaction, then completes every
//!   write of it at once. Channels that change together share one fsync.
//! - **Order, and why a crash cannot close a channel.** LDK force-closes a channel on start
//!   when its stored monitor is ahead of the stored channel manager (the manager would
//!   negotiate from a state the monitor has revoked); a manager ahead of a monitor is fine:
//!   the manager keeps each update it handed over and not yet heard completed
//!   ("in flight"), and replays it to the monitor on start. So a monitor update may become
//!   durable only together with, or after, a manager that knows it. Each round takes the
//!   queued monitor writes first and encodes the manager after; LDK records an update as in
//!   flight before handing it to the persister, so the manager written knows every update
//!   written with it, and the transaction makes them durable together. A crash before the
//!   commit loses the update in both (it was never acknowledged, so the peer never saw what
//!   followed it: the channel resumes from the previous state), after it LDK finds the update
//!   in both (or replays it from the manager if the completion was not recorded yet).
//! - **Books** (forwards, payments, invoices, and any other record of what the node did) are
//!   queued with [`Lightning::book`] and written in the same transaction as the manager that
//!   has handled their events, so each is booked exactly once across crashes: before that
//!   commit LDK replays the events, after it they are in the books. Handling events and
//!   taking the books with the manager's bytes exclude each other (`event_round`), so no
//!   manager is written that has dropped an event whose entry is not in the same round.
//! - **Liquidity estimates** (the scorer): each minute if they changed.
//!
//! [`MonitorCommit::PerUpdate`](crate::MonitorCommit::PerUpdate) writes each monitor write in
//! its own transaction before LDK's call returns, as the node did before; it is kept only to
//! measure group commit against.
//!
//! [`ChannelMonitorUpdateStatus::InProgress`]: lightning::chain::ChannelMonitorUpdateStatus::InProgress

use std::future::Future;
use std::sync::Arc;

use lightning::sign::KeysManager;
use lightning::util::native_async::FutureSpawner;
use lightning::util::persist::{
    MonitorUpdatingPersisterAsync, SCORER_PERSISTENCE_KEY, SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
    SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
};
use lightning::util::ser::Writeable;
use switchyard_store::queries::books::BookEntry;

use super::commit::Attachment;
use super::{Broadcaster, FeeEstimates, Lightning};
use crate::error::NodeError;
use crate::kv::PgKvStore;
use crate::types::MonitorPersister;
use crate::LdkLogger;

/// Channel monitor updates written between two full writes of a monitor (ldk-node's value).
pub const MONITOR_UPDATES_PER_FULL_WRITE: u64 = 100;

/// Runs LDK's persistence futures on the node's tokio runtime (from any thread).
#[derive(Clone)]
pub struct TokioSpawner(pub tokio::runtime::Handle);

impl FutureSpawner for TokioSpawner {
    fn spawn<T: Future<Output = ()> + Send + 'static>(&self, future: T) {
        self.0.spawn(future);
    }
}

/// The monitor persister over the store's key-value table. It also reads monitors written
/// whole by LDK's plain key-value persister (what earlier versions used), so existing
/// channels carry over.
pub(crate) fn monitor_persister(
    kv: Arc<PgKvStore>,
    spawner: TokioSpawner,
    logger: Arc<LdkLogger>,
    keys: Arc<KeysManager>,
    broadcaster: Arc<Broadcaster>,
    fees: Arc<FeeEstimates>,
) -> MonitorPersister {
    MonitorUpdatingPersisterAsync::new(
        kv,
        spawner,
        logger,
        MONITOR_UPDATES_PER_FULL_WRITE,
        keys.clone(),
        keys,
        broadcaster,
        fees,
    )
}

impl Attachment for Lightning {
    fn take(&self, force: bool) -> (Option<Vec<u8>>, Vec<BookEntry>) {
        // No event is handled meanwhile (see the module doc).
        let _round = self.event_round.lock().unwrap_or_else(|p| p.into_inner());
        let entries = self
            .books
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default();
        let manager = self.manager.get_and_clear_needs_persistence() | force;
        let bytes = (manager || !entries.is_empty()).then(|| self.manager.encode());
        (bytes, entries)
    }

    fn give_back(&self, entries: Vec<BookEntry>) {
        self.metrics.store_write_errors.inc();
        if let Ok(mut b) = self.books.lock() {
            let newer = std::mem::replace(&mut *b, entries);
            b.extend(newer);
        }
    }
}

impl Lightning {
    /// Writes the channel manager (when LDK says it changed, or when `force`) together with
    /// the book entries gathered since the last write and any queued monitor writes, in one
    /// transaction, and waits for it. A failed round is retried by the writer until it
    /// commits; LDK goes on as if the manager was not written, which is safe: events it
    /// handled since are replayed after a crash and booked then.
    pub async fn persist(&self, force: bool) -> Result<(), NodeError> {
        self.commits.flush(force).await.map_err(|e| {
            NodeError::Lightning(format!("persisting the channel manager and books: {e}"))
        })
    }

    /// Writes the liquidity estimates if they changed (on LDK's timer and at shutdown: they
    /// are a cache of what payments taught us, so losing the last minute costs only retries).
    pub async fn persist_learned(&self) {
        let Some(bytes) = self.learned.take_changed() else {
            return;
        };
        let written = switchyard_store::queries::kv::write(
            self.store.pool(),
            SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
            SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
            SCORER_PERSISTENCE_KEY,
            &bytes,
        )
        .await;
        match written {
            Ok(()) => self
                .metrics
                .learned_channels
                .set(self.learned.channel_count() as i64),
            Err(e) => {
                self.learned.mark_dirty();
                tracing::warn!(error = %e, "writing the liquidity estimates; retrying next minute");
            }
        }
    }

    /// Channels the node holds liquidity estimates for.
    pub fn learned_channels(&self) -> usize {
        self.learned.channel_count()
    }

    /// Queues a book entry; the next [`Lightning::persist`] writes it.
    pub(crate) fn book(&self, e: BookEntry) {
        match self.books.lock() {
            Ok(mut b) => b.push(e),
            Err(_) => tracing::error!("books lock poisoned; an entry was not recorded"),
        }
    }
}
