//! `nodes` and `node_announcements`.

use serde::Serialize;
use sqlx::PgExecutor;
use switchyard_graph::NodeId;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// A node as stored: when it was seen.
pub struct NodeRow {
    /// The node id (hex).
    pub node_id: String,
    /// Unix seconds.
    pub first_seen: i64,
    /// Last time a snapshot or gossip showed it (unix seconds).
    pub last_seen: i64,
}

/// The node `id`; `None` when the store never saw it.
pub async fn get(db: impl PgExecutor<'_>, id: &NodeId) -> Result<Option<NodeRow>> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT extract(epoch FROM first_seen)::bigint, extract(epoch FROM last_seen)::bigint \
         FROM nodes WHERE node_id = $1",
    )
    .bind(&id.0[..])
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(first_seen, last_seen)| NodeRow {
        node_id: id.to_hex(),
        first_seen,
        last_seen,
    }))
}

/// One version of a node's announcement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnouncementRow {
    /// The announcement's own timestamp (unix seconds; 0 when the source gave none).
    pub timestamp: i64,
    /// The alias (may be empty).
    pub alias: String,
    /// `rrggbb`.
    pub color: String,
    /// Addresses, as `[{"type", "address", "port"}]`.
    pub addresses: serde_json::Value,
    /// Feature bits (hex).
    pub features: String,
    /// When switchyard stored it (unix seconds).
    pub received_at: i64,
    /// `import` or `gossip`.
    pub source: String,
}

/// The columns of an [`AnnouncementRow`], in [`announcement_row`]'s order.
pub(crate) const ANNOUNCEMENT_COLUMNS: &str = "timestamp, alias, color, addresses, features, \
     extract(epoch FROM received_at)::bigint, source";

pub(crate) type AnnouncementTuple = (i64, String, String, serde_json::Value, Vec<u8>, i64, String);

pub(crate) fn announcement_row(
    (timestamp, alias, color, addresses, features, received_at, source): AnnouncementTuple,
) -> AnnouncementRow {
    AnnouncementRow {
        timestamp,
        alias,
        color,
        addresses,
        features: switchyard_graph::types::encode_hex(&features),
        received_at,
        source,
    }
}

/// Every stored announcement of a node, newest first.
pub async fn announcements(db: impl PgExecutor<'_>, id: &NodeId) -> Result<Vec<AnnouncementRow>> {
    let rows: Vec<AnnouncementTuple> = sqlx::query_as(&format!(
        "SELECT {ANNOUNCEMENT_COLUMNS} FROM node_announcements WHERE node_id = $1 \
         ORDER BY timestamp DESC"
    ))
    .bind(&id.0[..])
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(announcement_row).collect())
}
