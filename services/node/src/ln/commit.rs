//! Group commit: the one task that writes channel state to Postgres. Channel monitor writes
//! (queued by the key-value store as LDK hands them over), the channel manager and the books
//! of every channel that changed since the last round share one transaction and one fsync;
//! then every write of the round is reported complete at once.
//!
//! Order inside a round (the reason is in `ln::persist`): take the queued monitor writes
//! first, then encode the channel manager, so the manager written knows every monitor update
//! written with it. A failed round is retried whole (writes, books and manager) after a
//! pause; its writes stay unfinished meanwhile, so LDK holds their channels.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use lightning::util::persist::{
    CHANNEL_MANAGER_PERSISTENCE_KEY, CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
    CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
};
use switchyard_store::queries::books::BookEntry;
use switchyard_store::queries::kv;
use switchyard_store::Store;
use tokio::sync::{oneshot, Notify};

/// One queued key-value write (`value` `None`: a remove).
pub(crate) struct Op {
    pub primary: String,
    pub secondary: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

impl Op {
    fn is(&self, primary: &str, secondary: &str, key: &str) -> bool {
        self.key == key && self.secondary == secondary && self.primary == primary
    }
}

/// Told when the round holding a write has committed (or the writer stopped).
type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
struct Queue {
    ops: Vec<Op>,
    waiters: Vec<Waiter>,
    /// The round being written: reads look here too until it has committed.
    committing: Arc<Vec<Op>>,
    /// Write the channel manager in the next round even if LDK does not ask.
    force_manager: bool,
    closed: bool,
}

/// What is written with the monitors: the channel manager and the books (`Lightning`).
pub(crate) trait Attachment: Send + Sync {
    /// The queued book entries and the manager's bytes, when it must be written (`force`, or
    /// LDK says it changed). Called after the round's monitor writes were taken.
    fn take(&self, force: bool) -> (Option<Vec<u8>>, Vec<BookEntry>);
    /// Puts back the entries of a failed round, ahead of newer ones.
    fn give_back(&self, entries: Vec<BookEntry>);
}

/// The group-commit writer's queue; [`GroupCommit::run`] is its task.
#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
    wake: Notify,
    attachment: OnceLock<Weak<dyn Attachment>>,
}

/// How long a failed round waits before it is tried again, at most.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// What one round writes.
struct Round {
    ops: Arc<Vec<Op>>,
    waiters: Vec<Waiter>,
    manager: Option<Vec<u8>>,
    books: Vec<BookEntry>,
}

impl GroupCommit {
    /// Sets what is written with the monitors (once; later calls are ignored).
    pub(crate) fn attach(&self, a: Weak<dyn Attachment>) {
        let _ = self.attachment.set(a);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding this lock leaves a consistent queue (pushes and takes only).
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a write; the receiver hears when it is durable. Writes are applied in the order
    /// queued, so two writes of one key land in that order.
    pub(crate) fn queue(&self, op: Op) -> oneshot::Receiver<Result<(), String>> {
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.lock();
            if q.closed {
                let _ = tx.send(Err("the store writer has stopped".into()));
                return rx;
            }
            q.ops.push(op);
            q.waiters.push(tx);
        }
        self.wake.notify_one();
        rx
    }

    /// Queues a write nobody waits for (LDK's lazy removes of pruned updates).
    pub(crate) fn queue_lazy(&self, op: Op) {
        let mut q = self.lock();
        if !q.closed {
            q.ops.push(op);
        }
        drop(q);
        self.wake.notify_one();
    }

    /// Asks for a round soon (the manager may need writing, books are queued).
    pub(crate) fn kick(&self) {
        self.wake.notify_one();
    }

    /// Writes the manager (even if unchanged when `force`) and everything queued, and waits
    /// for that round to commit.
    pub(crate) async fn flush(&self, force: bool) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.lock();
            if q.closed {
                return Err("the store writer has stopped".into());
            }
            q.force_manager |= force;
            q.waiters.push(tx);
        }
        self.wake.notify_one();
        rx.await
            .map_err(|_| "the store writer has stopped".to_string())?
    }

    /// The value a queued (or committing) write gives the key: `Some(None)` for a queued
    /// remove, `None` when nothing queued touches it.
    pub(crate) fn pending(
        &self,
        primary: &str,
        secondary: &str,
        key: &str,
    ) -> Option<Option<Vec<u8>>> {
        let q = self.lock();
        q.ops
            .iter()
            .rev()
            .chain(q.committing.iter().rev())
            .find(|o| o.is(primary, secondary, key))
            .map(|o| o.value.clone())
    }

    /// `keys` (as stored) with the queued writes and removes under the namespace applied.
    pub(crate) fn pending_list(
        &self,
        primary: &str,
        secondary: &str,
        mut keys: Vec<String>,
    ) -> Vec<String> {
        let q = self.lock();
        for o in q.committing.iter().chain(q.ops.iter()) {
            if o.primary != primary || o.secondary != secondary {
                continue;
            }
            let present = keys.iter().position(|k| *k == o.key);
            match (&o.value, present) {
                (Some(_), None) => keys.push(o.key.clone()),
                (None, Some(i)) => {
                    keys.swap_remove(i);
                }
                _ => {}
            }
        }
        keys
    }

    /// Stops after writing what is queued; later writes fail.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// The writer: waits for work, writes each round in one transaction, retries failed
    /// rounds. Returns once closed and drained.
    pub async fn run(self: Arc<Self>, store: Store) {
        let mut pause = Duration::from_millis(50);
        loop {
            let closed = self.lock().closed;
            if !closed {
                self.wake.notified().await;
            }
            let round = self.take_round();
            let empty = round.ops.is_empty()
                && round.waiters.is_empty()
                && round.manager.is_none()
                && round.books.is_empty();
            if empty {
                if closed {
                    return;
                }
                continue;
            }
            match write_round(&store, &round).await {
                Ok(()) => {
                    pause = Duration::from_millis(50);
                    self.lock().committing = Arc::default();
                    for w in round.waiters {
                        let _ = w.send(Ok(()));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, writes = round.ops.len(), books = round.books.len(), retry_in_ms = pause.as_millis() as u64, "group commit failed; retrying");
                    self.put_back(round);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                    self.wake.notify_one();
                }
            }
        }
    }

    /// Takes the queued writes, then (in that order) the manager and the books.
    fn take_round(&self) -> Round {
        let (ops, waiters, force) = {
            let mut q = self.lock();
            let ops = Arc::new(std::mem::take(&mut q.ops));
            q.committing = ops.clone();
            let force = std::mem::take(&mut q.force_manager);
            (ops, std::mem::take(&mut q.waiters), force)
        };
        let (manager, books) = self
            .attachment
            .get()
            .and_then(Weak::upgrade)
            .map(|a| a.take(force || !ops.is_empty()))
            .unwrap_or_default();
        Round {
            ops,
            waiters,
            manager,
            books,
        }
    }

    /// A failed round goes back to the front of the queue, its books to the attachment.
    fn put_back(&self, round: Round) {
        if let Some(a) = self.attachment.get().and_then(Weak::upgrade) {
            a.give_back(round.books);
        }
        let mut q = self.lock();
        let newer = std::mem::take(&mut q.ops);
        let mut ops = Arc::try_unwrap(round.ops).unwrap_or_else(|shared| {
            shared
                .iter()
                .map(|o| Op {
                    primary: o.primary.clone(),
                    secondary: o.secondary.clone(),
                    key: o.key.clone(),
                    value: o.value.clone(),
                })
                .collect()
        });
        ops.extend(newer);
        q.ops = ops;
        q.committing = Arc::default();
        let newer_waiters = std::mem::take(&mut q.waiters);
        q.waiters = round.waiters;
        q.waiters.extend(newer_waiters);
        q.force_manager |= round.manager.is_some();
    }
}

/// One transaction: the monitor writes in queue order, the books, the manager.
async fn write_round(store: &Store, round: &Round) -> Result<(), switchyard_store::Error> {
    let mut tx = store.pool().begin().await?;
    for o in round.ops.iter() {
        match &o.value {
            Some(v) => kv::write(&mut *tx, &o.primary, &o.secondary, &o.key, v).await?,
            None => kv::remove(&mut *tx, &o.primary, &o.secondary, &o.key).await?,
        }
    }
    if !round.books.is_empty() {
        switchyard_store::queries::books::record(&mut tx, &round.books).await?;
    }
    if let Some(bytes) = &round.manager {
        kv::write(
            &mut *tx,
            CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_KEY,
            bytes,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
