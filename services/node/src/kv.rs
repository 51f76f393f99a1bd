//! LDK's [`KVStoreSync`] over the Postgres `kv_store` table: LDK's state survives restarts in
//! the same database as the graph history, and a write is durable when LDK is told it is done.

use std::future::Future;
use std::io;

use lightning::io as ldk_io;

use lightning::util::persist::KVStoreSync;
use switchyard_store::queries::kv;
use switchyard_store::Store;

/// Blocking bridge from LDK's synchronous trait to the async store. Call it from a
/// multi-threaded tokio runtime (it parks the worker with `block_in_place`) or from a plain
/// thread, never from a current-thread runtime.
#[derive(Clone)]
pub struct PgKvStore {
    store: Store,
    runtime: tokio::runtime::Handle,
}

fn to_io(e: switchyard_store::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl PgKvStore {
    pub fn new(store: Store, runtime: tokio::runtime::Handle) -> PgKvStore {
        PgKvStore { store, runtime }
    }

    /// Runs `f` as an ordinary task on the node's runtime and waits for it on this thread.
    /// The database future is driven by the runtime's workers (which own the I/O driver), not
    /// by the waiting thread: `Handle::block_on` from inside `block_in_place` could stall when
    /// every other worker was itself blocked.
    fn block_on<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        let wait = move || rx.recv();
        let result = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        // The task only drops its sender without sending if the runtime is shutting down.
        result.unwrap_or_else(|_| panic!("the runtime stopped during a key-value store call"))
    }

    pub async fn read_async(&self, p: &str, s: &str, k: &str) -> io::Result<Option<Vec<u8>>> {
        kv::read(self.store.pool(), p, s, k).await.map_err(to_io)
    }

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
        let me = self.clone();
        let (p, s, k) = (primary.to_string(), secondary.to_string(), key.to_string());
        self.block_on(async move { me.read_async(&p, &s, &k).await })
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
        let me = self.clone();
        let (p, s, k) = (primary.to_string(), secondary.to_string(), key.to_string());
        self.block_on(async move { me.write_async(&p, &s, &k, &buf).await })
            .map_err(to_ldk)
    }

    fn remove(
        &self,
        primary: &str,
        secondary: &str,
        key: &str,
        _lazy: bool,
    ) -> Result<(), ldk_io::Error> {
        let store = self.store.clone();
        let (p, s, k) = (primary.to_string(), secondary.to_string(), key.to_string());
        self.block_on(async move { kv::remove(store.pool(), &p, &s, &k).await })
            .map_err(to_ldk)
    }

    fn list(&self, primary: &str, secondary: &str) -> Result<Vec<String>, ldk_io::Error> {
        let store = self.store.clone();
        let (p, s) = (primary.to_string(), secondary.to_string());
        self.block_on(async move { kv::list(store.pool(), &p, &s).await })
            .map_err(to_ldk)
    }
}
