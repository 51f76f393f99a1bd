//! LDK's [`KVStoreSync`] over the Postgres `kv_store` table: LDK's state survives restarts in
//! the same database as the graph history, and a write is durable when LDK is told it is done.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};

use lightning::io as ldk_io;

use lightning::util::persist::KVStoreSync;
use switchyard_store::queries::kv;
use switchyard_store::Store;

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
        PgKvStore {
            store,
            sync: Arc::new(Mutex::new(None)),
        }
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
        .ok_or_else(|| {
            ldk_io::Error::new(
                ldk_io::ErrorKind::NotFound,
                format!("no key {primary}/{secondary}/{key}"),
            )
        })
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
