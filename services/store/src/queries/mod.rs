//! Every SQL statement of switchyard, by table. Functions take any executor so they work
//! on the pool and inside transactions alike.

pub mod analytics;
pub mod asof;
pub mod books;
pub mod channels;
pub mod diff;
pub mod history;
pub mod imports;
pub mod kv;
pub mod meta;
pub mod nodes;
pub mod peers;

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
