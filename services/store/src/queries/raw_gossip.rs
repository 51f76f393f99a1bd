//! Gossip rows that kept their wire bytes (`raw`, written by the node for peers' messages),
//! read back with the fields stored beside them, so the node can decode the bytes and check
//! both against each other (`switchyard gossip verify`).
//!
//! Each table is read in pages in its key order (keyset pagination): a page is one query,
//! memory stays bounded whatever the history holds.

use sqlx::PgExecutor;
use switchyard_graph::{NodeId, Scid};

use crate::error::{Error, Result};

/// A `channels` row with its `raw_announcement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawChannel {
    /// The channel's short channel id.
    pub scid: Scid,
    /// The lesser endpoint.
    pub node_1: NodeId,
    /// The greater endpoint.
    pub node_2: NodeId,
    /// The `channel_announcement` wire bytes.
    pub raw: Vec<u8>,
}

/// A `channel_updates` row with its `raw` bytes, and the channel's endpoints when the store
/// has the channel (the signer of direction 0 is `node_1`, of direction 1 `node_2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUpdate {
    /// The channel.
    pub scid: Scid,
    /// 0: signed by `node_1`; 1: by `node_2`.
    pub direction: i16,
    /// The update's own timestamp (unix seconds).
    pub timestamp: i64,
    /// BOLT 7 `message_flags`, as stored.
    pub message_flags: i16,
    /// BOLT 7 `channel_flags`, as stored.
    pub channel_flags: i16,
    /// Disabled flag, as stored.
    pub disabled: bool,
    /// Cltv delta (blocks), as stored.
    pub cltv_delta: i32,
    /// Smallest HTLC (msat), as stored.
    pub htlc_min_msat: i64,
    /// Largest HTLC (msat), as stored.
    pub htlc_max_msat: Option<i64>,
    /// Fixed fee (msat), as stored.
    pub fee_base_msat: i64,
    /// Proportional fee (ppm), as stored.
    pub fee_ppm: i64,
    /// The `channel_update` wire bytes.
    pub raw: Vec<u8>,
    /// `(node_1, node_2)` of the channel; `None` when the store lacks the channel.
    pub endpoints: Option<(NodeId, NodeId)>,
}

/// A `node_announcements` row with its `raw` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNode {
    /// The announcing node.
    pub node_id: NodeId,
    /// The announcement's own timestamp (unix seconds).
    pub timestamp: i64,
    /// Alias, as stored.
    pub alias: String,
    /// `rrggbb`, as stored.
    pub color: String,
    /// Addresses, as stored.
    pub addresses: serde_json::Value,
    /// Feature bits, as stored.
    pub features: Vec<u8>,
    /// The `node_announcement` wire bytes.
    pub raw: Vec<u8>,
}

fn node_id(table: &'static str, bytes: &[u8]) -> Result<NodeId> {
    <[u8; 33]>::try_from(bytes)
        .map(NodeId::from_bytes_unchecked)
        .map_err(|_| Error::CorruptRow {
            table,
            detail: format!("node id of {} bytes", bytes.len()),
        })
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    scid: i64,
    node_1: Vec<u8>,
    node_2: Vec<u8>,
    raw_announcement: Vec<u8>,
}

/// Up to `limit` channels with raw bytes, in `scid` order, after `after` (exclusive).
pub async fn channels(
    db: impl PgExecutor<'_>,
    after: Option<Scid>,
    limit: i64,
) -> Result<Vec<RawChannel>> {
    let rows: Vec<ChannelRow> = sqlx::query_as(
        "SELECT scid, node_1, node_2, raw_announcement FROM channels \
         WHERE raw_announcement IS NOT NULL AND ($1::bigint IS NULL OR scid > $1) \
         ORDER BY scid LIMIT $2",
    )
    .bind(after.map(Scid::to_i64))
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(RawChannel {
                scid: Scid::from_i64(r.scid),
                node_1: node_id("channels", &r.node_1)?,
                node_2: node_id("channels", &r.node_2)?,
                raw: r.raw_announcement,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct UpdateRow {
    scid: i64,
    direction: i16,
    timestamp: i64,
    message_flags: i16,
    channel_flags: i16,
    disabled: bool,
    cltv_delta: i32,
    htlc_min_msat: i64,
    htlc_max_msat: Option<i64>,
    fee_base_msat: i64,
    fee_ppm: i64,
    raw: Vec<u8>,
    node_1: Option<Vec<u8>>,
    node_2: Option<Vec<u8>>,
}

/// The key of a `channel_updates` row: (scid, direction, timestamp).
pub type UpdateKey = (Scid, i16, i64);

/// Up to `limit` updates with raw bytes, in key order, after `after` (exclusive).
pub async fn updates(
    db: impl PgExecutor<'_>,
    after: Option<UpdateKey>,
    limit: i64,
) -> Result<Vec<RawUpdate>> {
    let (scid, direction, timestamp) = after.map_or((None, 0, 0), |(s, d, t)| (Some(s), d, t));
    let rows: Vec<UpdateRow> = sqlx::query_as(
        "SELECT u.scid, u.direction, u.timestamp, u.message_flags, u.channel_flags, u.disabled, \
         u.cltv_delta, u.htlc_min_msat, u.htlc_max_msat, u.fee_base_msat, u.fee_ppm, u.raw, \
         c.node_1, c.node_2 \
         FROM channel_updates u LEFT JOIN channels c ON c.scid = u.scid \
         WHERE u.raw IS NOT NULL \
         AND ($1::bigint IS NULL OR (u.scid, u.direction, u.timestamp) > ($1, $2, $3)) \
         ORDER BY u.scid, u.direction, u.timestamp LIMIT $4",
    )
    .bind(scid.map(Scid::to_i64))
    .bind(direction)
    .bind(timestamp)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            let endpoints = match (r.node_1, r.node_2) {
                (Some(a), Some(b)) => Some((node_id("channels", &a)?, node_id("channels", &b)?)),
                _ => None,
            };
            Ok(RawUpdate {
                scid: Scid::from_i64(r.scid),
                direction: r.direction,
                timestamp: r.timestamp,
                message_flags: r.message_flags,
                channel_flags: r.channel_flags,
                disabled: r.disabled,
                cltv_delta: r.cltv_delta,
                htlc_min_msat: r.htlc_min_msat,
                htlc_max_msat: r.htlc_max_msat,
                fee_base_msat: r.fee_base_msat,
                fee_ppm: r.fee_ppm,
                raw: r.raw,
                endpoints,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    node_id: Vec<u8>,
    timestamp: i64,
    alias: String,
    color: String,
    addresses: serde_json::Value,
    features: Vec<u8>,
    raw: Vec<u8>,
}

/// Up to `limit` node announcements with raw bytes, in (node id, timestamp) order, after
/// `after` (exclusive).
pub async fn nodes(
    db: impl PgExecutor<'_>,
    after: Option<(NodeId, i64)>,
    limit: i64,
) -> Result<Vec<RawNode>> {
    let (id, timestamp) = after.map_or((None, 0), |(n, t)| (Some(n.0.to_vec()), t));
    let rows: Vec<NodeRow> = sqlx::query_as(
        "SELECT node_id, timestamp, alias, color, addresses, features, raw \
         FROM node_announcements \
         WHERE raw IS NOT NULL AND ($1::bytea IS NULL OR (node_id, timestamp) > ($1, $2)) \
         ORDER BY node_id, timestamp LIMIT $3",
    )
    .bind(id)
    .bind(timestamp)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(RawNode {
                node_id: node_id("node_announcements", &r.node_id)?,
                timestamp: r.timestamp,
                alias: r.alias,
                color: r.color,
                addresses: r.addresses,
                features: r.features,
                raw: r.raw,
            })
        })
        .collect()
}
