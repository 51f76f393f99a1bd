//! LDK's key-value stores over the Postgres `kv_store` table: LDK's state survives restarts in
//! the same database as the graph history, and a write is durable when LDK is told it is done.
//!
//! - [`KVStoreSync`] (the wallet, the sweeper): each call waits for its own transaction.
//! - [`KVStore`] (channel monitors, through LDK's `MonitorUpdatingPersisterAsync`): a write is
//!   queued when LDK calls it (so writes keep LDK's order) and its future resolves when the
//!   group commit (`ln::commit`) that carried it has committed. Reads see queued writes.
//!   With [`MonitorCommit::PerUpdate`] writes are instead committed one by one before the call
//!   returns, as LDK's synchronous persister did (kept to measure against).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};

use lightning::io as ldk_io;

use lightning::util::async_poll::AsyncResult;
use lightning::util::persist::{KVStore, KVStoreSync};
use switchyard_store::queries::kv;
use switchyard_store::Store;

use crate::config::MonitorCommit;
use crate::ln::commit::{GroupCommit, Op};

/// Blocking bridge from LDK's synchronous trait to the async store. Call it from a
/// multi-threaded tokio runtime (it parks the worker with `block_in_place`) or from a plain
/// thread, never from a current-thread runtime.
///
/// Synchronous calls run on a thread of their own with its own small runtime and connection
/// pool: LDK calls them while holding its locks, from tasks of the node's runtime, so waiting
/// there for work scheduled on that same runtime can deadlock (another worker blocked on the
/// lock, the I/O driver not polled).
#[derive(Clone)]
pub struct PgKvStore {
    store: Store,
    sync: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
    commits: Arc<GroupCommit>,
    mode: MonitorCommit,
}

type JobFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
type Job = Box<dyn for<'a> FnOnce(&'a Store) -> JobFuture<'a> + Send>;

/// Starts the thread that serves synchronous calls.
fn start_sync_thread(store: &Store) -> io::Result<mpsc::Sender<Job>> {
    let options = (*store.pool().connect_options()).clone();
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("switchyard-kv".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "key-value store thread: no runtime");
                    return;
                }
            };
            rt.block_on(async move {
                let store = match Store::connect(options, 2).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "key-value store thread: cannot connect");
                        return;
                    }
                };
                // Blocking on the channel is fine: this runtime runs nothing else.
                while let Ok(job) = rx.recv() {
                    job(&store).await;
                }
            });
        })?;
    Ok(tx)
}

fn to_io(e: switchyard_store::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl PgKvStore {
    /// A key-value store over `store`'s `kv_store` table.
    pub fn new(store: Store) -> PgKvStore {
        PgKvStore::with_mode(store, MonitorCommit::default())
    }

    /// A key-value store whose asynchronous writes are committed as `mode` says. The group
    /// commit's task ([`GroupCommit::run`]) must be running for [`KVStore`] writes to finish.
    pub fn with_mode(store: Store, mode: MonitorCommit) -> PgKvStore {
        PgKvStore {
            store,
            sync: Arc::new(Mutex::new(None)),
            commits: Arc::new(GroupCommit::default()),
            mode,
        }
    }

    /// The group commit that asynchronous writes go through.
    pub(crate) fn group_commit(&self) -> &Arc<GroupCommit> {
        &self.commits
    }

    /// Runs `job` on the key-value thread and waits for its answer.
    fn call_sync<T: Send + 'static>(
        &self,
        job: impl for<'a> FnOnce(&'a Store) -> Pin<Box<dyn Future<Output = T> + Send + 'a>>
            + Send
            + 'static,
    ) -> io::Result<T> {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let boxed: Job = Box::new(move |store: &Store| {
            let fut = job(store);
            Box::pin(async move {
                let _ = reply_tx.send(fut.await);
            })
        });
        self.queue(boxed)?;
        let wait = move || reply_rx.recv();
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        answer.map_err(|_| io::Error::other("key-value store thread stopped"))
    }

    /// Hands `job` to the key-value thread (started on first use) without waiting for it.
    fn queue(&self, job: Job) -> io::Result<()> {
        let mut guard = self
            .sync
            .lock()
            .map_err(|_| io::Error::other("key-value store lock poisoned"))?;
        if guard.is_none() {
            *guard = Some(start_sync_thread(&self.store)?);
        }
        let sender = guard
            .as_ref()
            .ok_or_else(|| io::Error::other("key-value store thread missing"))?;
        if sender.send(job).is_err() {
            *guard = None;
            return Err(io::Error::other("key-value store thread stopped"));
        }
        Ok(())
    }

    /// Reads the value under (primary, secondary, key) without blocking; `None` when absent.
    pub async fn read_async(&self, p: &str, s: &str, k: &str) -> io::Result<Option<Vec<u8>>> {
        kv::read(self.store.pool(), p, s, k).await.map_err(to_io)
    }

    /// Writes (or replaces) the value under (primary, secondary, key) without blocking.
    pub async fn write_async(&self, p: &str, s: &str, k: &str, v: &[u8]) -> io::Result<()> {
        kv::write(self.store.pool(), p, s, k, v)
            .await
            .map_err(to_io)
    }
}

fn to_ldk(e: impl std::fmt::Display) -> ldk_io::Error {
    ldk_io::Error::new(ldk_io::ErrorKind::Other, e.to_string())
}

impl KVStoreSync for PgKvStore {
    fn read(&self, primary: &str, secondary: &str, key: &str) -> Result<Vec<u8>, ldk_io::Error> {
        let (p, s, k) = (primary.to_string(), secondary.to_string(), key.to_string());
        self.call_sync(move |store| {
            Box::pin(async move { kv::read(store.pool(), &p, &s, &k).await })
        })
        .map_err(to_ldk)?
        .map_err(to_io)
        .map_err(to_ldk)?
        .ok_or_else(|| not_found(primary, secondary, key))
    }

    fn write(
        &self,
        primary: &str,
        secondary: &str,
        key: &str,
        buf: Vec<u8>,
    ) -> Result<(), ldk_io::Error> {
        let (p, s, k) = (primary.to_string(), secondary.to_string(), key.to_string());
        self.call_sync(move |store| {
            Box::pin(async move { kv::write(store.pool(), &p, &s, &k, &buf).await })
        })
        .map_err(to_ldk)?
        .map_err(to_ldk)
    }

    /// A `lazy` remove (LDK's pruning of monitor updates already folded into a full monitor)
    /// is queued and not waited for: the key-value thread runs jobs in order, so a later write
    /// of the same key still lands after it, and a lost one only leaves a stale row that
    /// LDK ignores.
    fn remove(
        &self,
        primary: &str,
        secondary: &str,
        key: &str,
        lazy: bool,
    ) -> Result<(), ldk_io::Error> {
        let (p, s, k) = (primary.to_string(), secondary.to_string(), key.to_string());
        if lazy {
            return self
                .queue(Box::new(move |store: &Store| -> JobFuture<'_> {
                    Box::pin(async move {
                        if let Err(e) = kv::remove(store.pool(), &p, &s, &k).await {
                            tracing::warn!(error = %e, namespace = %p, key = %k, "lazy key-value remove failed");
                        }
                    })
                }))
                .map_err(to_ldk);
        }
        self.call_sync(move |store| {
            Box::pin(async move { kv::remove(store.pool(), &p, &s, &k).await })
        })
        .map_err(to_ldk)?
        .map_err(to_ldk)
    }

    fn list(&self, primary: &str, secondary: &str) -> Result<Vec<String>, ldk_io::Error> {
        let (p, s) = (primary.to_string(), secondary.to_string());
        self.call_sync(move |store| Box::pin(async move { kv::list(store.pool(), &p, &s).await }))
            .map_err(to_ldk)?
            .map_err(to_ldk)
    }
}

fn not_found(primary: &str, secondary: &str, key: &str) -> ldk_io::Error {
    ldk_io::Error::new(
        ldk_io::ErrorKind::NotFound,
        format!("no key {primary}/{secondary}/{key}"),
    )
}

/// Waits for a queued write's group commit.
async fn committed(
    rx: tokio::sync::oneshot::Receiver<Result<(), String>>,
) -> Result<(), ldk_io::Error> {
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(to_ldk(e)),
        Err(_) => Err(to_ldk("the store writer has stopped")),
    }
}

fn op(primary: &str, secondary: &str, key: &str, value: Option<Vec<u8>>) -> Op {
    Op {
        primary: primary.to_string(),
        secondary: secondary.to_string(),
        key: key.to_string(),
        value,
    }
}

impl KVStore for PgKvStore {
    fn read(
        &self,
        primary: &str,
        secondary: &str,
        key: &str,
    ) -> AsyncResult<'static, Vec<u8>, ldk_io::Error> {
        let pending = self.commits.pending(primary, secondary, key);
        let (p, s, k) = (primary.to_string(), secondary.to_string(), key.to_string());
        let store = self.store.clone();
        Box::pin(async move {
            let value = match pending {
                Some(v) => v,
                None => kv::read(store.pool(), &p, &s, &k).await.map_err(to_ldk)?,
            };
            value.ok_or_else(|| not_found(&p, &s, &k))
        })
    }

    fn write(
        &self,
        primary: &str,
        secondary: &str,
        key: &str,
        buf: Vec<u8>,
    ) -> AsyncResult<'static, (), ldk_io::Error> {
        if self.mode == MonitorCommit::PerUpdate {
            let res = KVStoreSync::write(self, primary, secondary, key, buf);
            return Box::pin(async move { res });
        }
        let rx = self.commits.queue(op(primary, secondary, key, Some(buf)));
        Box::pin(committed(rx))
    }

    /// A `lazy` remove (LDK's pruning of updates folded into a whole monitor) is queued and
    /// not waited for: a lost one only leaves a stale row that LDK ignores.
    fn remove(
        &self,
        primary: &str,
        secondary: &str,
        key: &str,
        lazy: bool,
    ) -> AsyncResult<'static, (), ldk_io::Error> {
        if self.mode == MonitorCommit::PerUpdate {
            let res = KVStoreSync::remove(self, primary, secondary, key, lazy);
            return Box::pin(async move { res });
        }
        let o = op(primary, secondary, key, None);
        if lazy {
            self.commits.queue_lazy(o);
            return Box::pin(async { Ok(()) });
        }
        Box::pin(committed(self.commits.queue(o)))
    }

    fn list(
        &self,
        primary: &str,
        secondary: &str,
    ) -> AsyncResult<'static, Vec<String>, ldk_io::Error> {
        let (p, s) = (primary.to_string(), secondary.to_string());
        let (store, commits) = (self.store.clone(), self.commits.clone());
        Box::pin(async move {
            let keys = kv::list(store.pool(), &p, &s).await.map_err(to_ldk)?;
            Ok(commits.pending_list(&p, &s, keys))
        })
    }
}
