//! `kv_store`: LDK's persisted objects, keyed by (primary namespace, secondary namespace, key).

use sqlx::PgExecutor;

use crate::error::Result;

/// The value stored under (`primary`, `secondary`, `key`); `None` when absent.
pub async fn read(
    db: impl PgExecutor<'_>,
    primary: &str,
    secondary: &str,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar(
        "SELECT value FROM kv_store \
         WHERE primary_namespace = $1 AND secondary_namespace = $2 AND key = $3",
    )
    .bind(primary)
    .bind(secondary)
    .bind(key)
    .fetch_optional(db)
    .await?)
}

/// Inserts or replaces a value; durable once this returns.
pub async fn write(
    db: impl PgExecutor<'_>,
    primary: &str,
    secondary: &str,
    key: &str,
    value: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO kv_store (primary_namespace, secondary_namespace, key, value) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (primary_namespace, secondary_namespace, key) \
         DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
    )
    .bind(primary)
    .bind(secondary)
    .bind(key)
    .bind(value)
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a value; removing a missing key is not an error.
pub async fn remove(
    db: impl PgExecutor<'_>,
    primary: &str,
    secondary: &str,
    key: &str,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM kv_store \
         WHERE primary_namespace = $1 AND secondary_namespace = $2 AND key = $3",
    )
    .bind(primary)
    .bind(secondary)
    .bind(key)
    .execute(db)
    .await?;
    Ok(())
}

/// The keys in one namespace, sorted.
pub async fn list(db: impl PgExecutor<'_>, primary: &str, secondary: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT key FROM kv_store WHERE primary_namespace = $1 AND secondary_namespace = $2 \
         ORDER BY key",
    )
    .bind(primary)
    .bind(secondary)
    .fetch_all(db)
    .await?)
}
