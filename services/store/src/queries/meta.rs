//! The graph version counter and whole-store counts.

use serde::Serialize;
use sqlx::{PgExecutor, Postgres, Transaction};

use crate::error::Result;

/// Bumps the graph version: call in every transaction that changes the graph.
pub async fn bump_graph_version(tx: &mut Transaction<'_, Postgres>) -> Result<i64> {
    Ok(
        sqlx::query_scalar("UPDATE graph_version SET version = version + 1 RETURNING version")
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// The current graph version: changes whenever the graph does.
pub async fn graph_version(db: impl PgExecutor<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT version FROM graph_version")
        .fetch_one(db)
        .await?)
}

/// Row counts of the history tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Nodes ever seen.
    pub nodes: i64,
    /// Stored node announcement versions.
    pub node_announcements: i64,
    /// Channels ever seen (open or closed).
    pub channels: i64,
    /// Channels not marked closed.
    pub channels_open: i64,
    /// Stored channel update versions.
    pub channel_updates: i64,
    /// Import runs.
    pub import_runs: i64,
}

/// Row counts of the history tables, read in one query.
pub async fn counts(db: impl PgExecutor<'_>) -> Result<Counts> {
    let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM node_announcements), \
         (SELECT count(*) FROM channels), (SELECT count(*) FROM channels WHERE closed_at IS NULL), \
         (SELECT count(*) FROM channel_updates), (SELECT count(*) FROM import_runs)",
    )
    .fetch_one(db)
    .await?;
    Ok(Counts {
        nodes: row.0,
        node_announcements: row.1,
        channels: row.2,
        channels_open: row.3,
        channel_updates: row.4,
        import_runs: row.5,
    })
}
