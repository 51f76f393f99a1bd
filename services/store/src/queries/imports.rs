//! `import_runs`.

use serde::Serialize;
use sqlx::PgExecutor;

use crate::error::Result;
use crate::import::ImportReport;

/// The id of a completed run that imported a file with this checksum.
pub async fn find_by_sha256(db: impl PgExecutor<'_>, sha256: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM import_runs WHERE sha256 = $1 ORDER BY id LIMIT 1")
            .bind(sha256)
            .fetch_optional(db)
            .await?,
    )
}

/// Records the counts of a finished run.
pub async fn finish(db: impl PgExecutor<'_>, r: &ImportReport) -> Result<()> {
    sqlx::query(
        "UPDATE import_runs SET finished_at = now(), nodes_new = $2, channels_new = $3, \
         channels_closed = $4, channels_reopened = $5, updates_new = $6, fee_changes = $7, \
         announcements_new = $8 WHERE id = $1",
    )
    .bind(r.run_id)
    .bind(r.nodes_new as i64)
    .bind(r.channels_new as i64)
    .bind(r.channels_closed as i64)
    .bind(r.channels_reopened as i64)
    .bind(r.updates_new as i64)
    .bind(r.fee_changes as i64)
    .bind(r.announcements_new as i64)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
/// One finished import, as `import_runs` records it.
pub struct ImportRunRow {
    /// Run id.
    pub id: i64,
    /// The file, as named by its source.
    pub file: String,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// The detected format.
    pub format: String,
    /// Newest gossip timestamp in the file (unix seconds).
    pub snapshot_time: i64,
    /// When the run finished (unix seconds).
    pub finished_at: i64,
    /// Entries in the file's `channels` / `edges` arrays.
    pub channel_entries: i64,
    /// Entries in the file's `nodes` array.
    pub node_entries: i64,
    /// Nodes not stored before.
    pub nodes_new: i64,
    /// Channels not stored before.
    pub channels_new: i64,
    /// Open channels the file no longer lists, marked closed.
    pub channels_closed: i64,
    /// Closed channels the file lists again, reopened.
    pub channels_reopened: i64,
    /// Update versions not stored before.
    pub updates_new: i64,
    /// Directions whose newest update in the file changed the fee.
    pub fee_changes: i64,
    /// Announcement versions not stored before.
    pub announcements_new: i64,
}

/// All runs, oldest first.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<ImportRunRow>> {
    Ok(sqlx::query_as(
        "SELECT id, file, sha256, format, extract(epoch FROM snapshot_time)::bigint AS snapshot_time, \
         extract(epoch FROM finished_at)::bigint AS finished_at, channel_entries, node_entries, \
         nodes_new, channels_new, channels_closed, channels_reopened, updates_new, fee_changes, \
         announcements_new FROM import_runs ORDER BY id",
    )
    .fetch_all(db)
    .await?)
}
