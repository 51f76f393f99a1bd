//! What the channel layer writes to the store, and in which order.
//!
//! - **Channel monitors**: every update is in Postgres before LDK hears the write completed
//!   (the persister writes synchronously). LDK's [`MonitorUpdatingPersister`] writes each
//!   update as a small row of its own and the whole monitor only every
//!   [`MONITOR_UPDATES_PER_FULL_WRITE`] updates: a monitor keeps data on every HTLC of the
//!   channel's past commitments, so it grows with the traffic the channel carried, and writing
//!   it whole on every update made a busy channel's forwarding slower the longer it ran.
//!   Making these writes asynchronous means replacing [`monitor_persister`] (and the
//!   `MonitorPersister` alias in `types`) and completing updates from the write's task.
//! - **Channel manager and books**: written together, in one transaction, whenever LDK says
//!   the manager needs it and at shutdown ([`Lightning::persist`]); book entries (forwards,
//!   payments, invoices, and any other record of what the node did) are queued with
//!   [`Lightning::book`] until then.
//! - **Liquidity estimates** (the scorer): each minute if they changed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use lightning::sign::KeysManager;
use lightning::util::persist::{
    MonitorUpdatingPersister, CHANNEL_MANAGER_PERSISTENCE_KEY,
    CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE, CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
    SCORER_PERSISTENCE_KEY, SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
    SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
};
use lightning::util::ser::Writeable;
use switchyard_store::queries::books::BookEntry;

use super::{Broadcaster, FeeEstimates, Lightning};
use crate::error::NodeError;
use crate::kv::PgKvStore;
use crate::types::MonitorPersister;
use crate::LdkLogger;

/// Channel monitor updates written between two full writes of a monitor (ldk-node's value).
pub const MONITOR_UPDATES_PER_FULL_WRITE: u64 = 100;

/// The monitor persister over the store's key-value table. It also reads monitors written
/// whole by LDK's plain `KVStoreSync` persister (what earlier versions used), so existing
/// channels carry over.
pub(crate) fn monitor_persister(
    kv: Arc<PgKvStore>,
    logger: Arc<LdkLogger>,
    keys: Arc<KeysManager>,
    broadcaster: Arc<Broadcaster>,
    fees: Arc<FeeEstimates>,
) -> MonitorPersister {
    MonitorUpdatingPersister::new(
        kv,
        logger,
        MONITOR_UPDATES_PER_FULL_WRITE,
        keys.clone(),
        keys,
        broadcaster,
        fees,
    )
}

impl Lightning {
    /// Writes the channel manager (when LDK says it changed, when a write failed, or when
    /// `force`) together with the book entries gathered since the last write, in one
    /// transaction. Returns whether it wrote. On failure the entries are kept for the next
    /// round, and LDK goes on as if the manager was not written, which is safe: events it
    /// handled since are replayed after a crash and booked then.
    pub async fn persist(&self, force: bool) -> Result<bool, NodeError> {
        let manager = self.manager.get_and_clear_needs_persistence()
            | self.persist_retry.swap(false, Ordering::AcqRel)
            | force;
        let entries = self
            .books
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default();
        if !manager && entries.is_empty() {
            return Ok(false);
        }
        let bytes = manager.then(|| self.manager.encode());
        let result = async {
            let mut tx = self.store.pool().begin().await?;
            if !entries.is_empty() {
                switchyard_store::queries::books::record(&mut tx, &entries).await?;
            }
            if let Some(bytes) = &bytes {
                switchyard_store::queries::kv::write(
                    &mut *tx,
                    CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
                    CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
                    CHANNEL_MANAGER_PERSISTENCE_KEY,
                    bytes,
                )
                .await?;
            }
            tx.commit().await.map_err(switchyard_store::Error::from)
        }
        .await;
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                self.metrics.store_write_errors.inc();
                self.persist_retry.store(true, Ordering::Release);
                if let Ok(mut b) = self.books.lock() {
                    let newer = std::mem::replace(&mut *b, entries);
                    b.extend(newer);
                }
                Err(NodeError::Lightning(format!(
                    "persisting the channel manager and books: {e}"
                )))
            }
        }
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
