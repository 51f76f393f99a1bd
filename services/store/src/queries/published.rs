//! `analytics_published`: the writer's analytics of each graph version, whole, for read-only
//! replicas to serve without computing them.
//!
//! The store does not compute analytics: it keeps a finished
//! [`NetworkAnalytics`] as JSON (floats round-trip exactly) and reads it back.

use sqlx::PgExecutor;
use switchyard_graph::analytics::NetworkAnalytics;

use crate::error::{Error, Result};

/// Published analytics of one graph version.
#[derive(Debug, Clone)]
pub struct Published {
    /// The graph version they describe.
    pub graph_version: i64,
    /// When the writer finished them (unix seconds).
    pub computed_at: i64,
    /// How long the computation took (seconds).
    pub seconds: f64,
    /// The results.
    pub analytics: NetworkAnalytics,
}

fn amount(a: u64) -> i64 {
    i64::try_from(a).unwrap_or(i64::MAX)
}

/// Publishes `p` (a version already published keeps its row) and deletes all but the newest
/// `keep` (at least 1) versions at the same amount. Returns whether a row was written.
pub async fn publish(db: &sqlx::PgPool, p: &Published, keep: u32) -> Result<bool> {
    let body = serde_json::to_vec(&p.analytics)
        .map_err(|e| Error::InvalidInput(format!("serializing analytics: {e}")))?;
    let amount_msat = amount(p.analytics.config.amount_msat);
    let mut tx = db.begin().await?;
    let written = sqlx::query(
        "INSERT INTO analytics_published (graph_version, amount_msat, computed_at, seconds, body) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(p.graph_version)
    .bind(amount_msat)
    .bind(p.computed_at)
    .bind(p.seconds)
    .bind(body)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "DELETE FROM analytics_published WHERE amount_msat = $1 AND graph_version NOT IN \
         (SELECT graph_version FROM analytics_published WHERE amount_msat = $1 \
          ORDER BY graph_version DESC LIMIT $2)",
    )
    .bind(amount_msat)
    .bind(i64::from(keep.max(1)))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(written > 0)
}

/// The analytics published for `graph_version` at `amount_msat`, if any.
pub async fn published(
    db: impl PgExecutor<'_>,
    graph_version: i64,
    amount_msat: u64,
) -> Result<Option<Published>> {
    let row: Option<(i64, f64, Vec<u8>)> = sqlx::query_as(
        "SELECT computed_at, seconds, body FROM analytics_published \
         WHERE graph_version = $1 AND amount_msat = $2",
    )
    .bind(graph_version)
    .bind(amount(amount_msat))
    .fetch_optional(db)
    .await?;
    let Some((computed_at, seconds, body)) = row else {
        return Ok(None);
    };
    let analytics = serde_json::from_slice(&body).map_err(|e| Error::CorruptRow {
        table: "analytics_published",
        detail: format!("graph version {graph_version}: {e}"),
    })?;
    Ok(Some(Published {
        graph_version,
        computed_at,
        seconds,
        analytics,
    }))
}
