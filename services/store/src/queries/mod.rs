//! Typed queries, by table. Functions take any executor so they work on the pool and inside
//! transactions alike.
//!
//! The store crate holds every SQL statement of switchyard. Most are here; the pipelines that
//! own a transaction's worth of statements keep theirs next to their logic: [`crate::import`]
//! (staging tables and the set-based merge), [`crate::gossip`] (the batched `COPY` writer),
//! [`crate::graph`] (the snapshot load) and [`crate::embedded`] (cluster administration).

pub mod analytics;
pub mod asof;
pub mod books;
pub mod channels;
pub mod diff;
pub mod fees;
pub mod history;
pub mod imports;
pub mod kv;
pub mod meta;
pub mod nodes;
pub mod peers;
pub mod published;
pub mod raw_gossip;

use sqlx::{PgPool, Postgres, Transaction};

/// A read-only repeatable-read transaction: every read in it sees one state of the store
/// (and it writes nothing, so it runs on a hot standby too).
pub(crate) async fn read_only(db: &PgPool) -> crate::Result<Transaction<'static, Postgres>> {
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
