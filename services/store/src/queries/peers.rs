//! `peers`: where the node connects, and how that went last time.

use serde::Serialize;
use sqlx::PgExecutor;
use switchyard_graph::NodeId;

use crate::error::Result;
use crate::queries::channels::node_id;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// A peer the node connects to.
pub struct PeerRow {
    /// The peer's node id.
    pub node_id: NodeId,
    /// Its network address (`host:port`).
    pub address: String,
    /// Where it came from (`config`, `dns`, or the caller's label).
    pub source: String,
    /// Unix seconds.
    pub added_at: i64,
    /// Last successful connection (unix seconds); `None` if never.
    pub last_connected_at: Option<i64>,
    /// The last connection error; cleared by a successful connection.
    pub last_error: Option<String>,
}

/// Adds a peer or updates its address (the newest address wins).
pub async fn upsert(
    db: impl PgExecutor<'_>,
    id: &NodeId,
    address: &str,
    source: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO peers (node_id, address, source) VALUES ($1, $2, $3) \
         ON CONFLICT (node_id) DO UPDATE SET address = EXCLUDED.address",
    )
    .bind(id.as_bytes().as_slice())
    .bind(address)
    .bind(source)
    .execute(db)
    .await?;
    Ok(())
}

/// A `peers` row as stored (the node id as bytes, times as unix seconds).
#[derive(sqlx::FromRow)]
struct StoredPeer {
    node_id: Vec<u8>,
    address: String,
    source: String,
    added_at: i64,
    last_connected_at: Option<i64>,
    last_error: Option<String>,
}

/// Every peer, oldest first.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<PeerRow>> {
    let rows: Vec<StoredPeer> = sqlx::query_as(
        "SELECT node_id, address, source, extract(epoch FROM added_at)::bigint AS added_at, \
         extract(epoch FROM last_connected_at)::bigint AS last_connected_at, last_error \
         FROM peers ORDER BY peers.added_at, node_id",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(PeerRow {
                node_id: node_id("peers", &r.node_id)?,
                address: r.address,
                source: r.source,
                added_at: r.added_at,
                last_connected_at: r.last_connected_at,
                last_error: r.last_error,
            })
        })
        .collect()
}

/// Records a successful connection now (clears the last error).
pub async fn mark_connected(db: impl PgExecutor<'_>, id: &NodeId) -> Result<()> {
    sqlx::query("UPDATE peers SET last_connected_at = now(), last_error = NULL WHERE node_id = $1")
        .bind(id.as_bytes().as_slice())
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed connection attempt and its error.
pub async fn mark_failed(db: impl PgExecutor<'_>, id: &NodeId, error: &str) -> Result<()> {
    sqlx::query("UPDATE peers SET last_error = $2, last_error_at = now() WHERE node_id = $1")
        .bind(id.as_bytes().as_slice())
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}
