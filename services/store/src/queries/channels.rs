//! `channels` and `channel_updates`.

use serde::Serialize;
use sqlx::PgExecutor;
use switchyard_graph::{NodeId, Scid};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// A channel as stored: endpoints, capacity and when it was seen.
pub struct ChannelRow {
    /// The channel's short channel id.
    pub scid: Scid,
    /// The lesser endpoint (BOLT 7 `node_id_1`).
    pub node_1: NodeId,
    /// The greater endpoint (`node_id_2`).
    pub node_2: NodeId,
    /// Funding amount (sat).
    pub capacity_sat: i64,
    /// `txid:vout`, when known.
    pub funding_outpoint: Option<String>,
    /// Unix seconds.
    pub first_seen: i64,
    /// Last time a snapshot or gossip showed it (unix seconds).
    pub last_seen: i64,
    /// When it was marked closed (unix seconds); `None` while open.
    pub closed_at: Option<i64>,
    /// Block height of the spend that closed it, when known.
    pub close_height: Option<i32>,
}

/// A `channels` row as stored (node ids as bytes, times as unix seconds).
#[derive(sqlx::FromRow)]
struct StoredChannel {
    scid: i64,
    node_1: Vec<u8>,
    node_2: Vec<u8>,
    capacity_sat: i64,
    funding_outpoint: Option<String>,
    first_seen: i64,
    last_seen: i64,
    closed_at: Option<i64>,
    close_height: Option<i32>,
}

impl TryFrom<StoredChannel> for ChannelRow {
    type Error = Error;

    fn try_from(r: StoredChannel) -> Result<Self> {
        Ok(ChannelRow {
            scid: Scid::from_i64(r.scid),
            node_1: node_id("channels", &r.node_1)?,
            node_2: node_id("channels", &r.node_2)?,
            capacity_sat: r.capacity_sat,
            funding_outpoint: r.funding_outpoint,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            closed_at: r.closed_at,
            close_height: r.close_height,
        })
    }
}

pub(crate) fn node_id(table: &'static str, bytes: &[u8]) -> Result<NodeId> {
    <[u8; 33]>::try_from(bytes)
        .map(NodeId::from_bytes_unchecked)
        .map_err(|_| Error::CorruptRow {
            table,
            detail: format!("node id of {} bytes", bytes.len()),
        })
}

/// The channel `scid`; `None` when the store never saw it.
pub async fn get(db: impl PgExecutor<'_>, scid: Scid) -> Result<Option<ChannelRow>> {
    let row: Option<StoredChannel> = sqlx::query_as(
        "SELECT scid, node_1, node_2, capacity_sat, funding_outpoint, \
         extract(epoch FROM first_seen)::bigint AS first_seen, \
         extract(epoch FROM last_seen)::bigint AS last_seen, \
         extract(epoch FROM closed_at)::bigint AS closed_at, close_height \
         FROM channels WHERE scid = $1",
    )
    .bind(scid.to_i64())
    .fetch_optional(db)
    .await?;
    row.map(ChannelRow::try_from).transpose()
}

/// One version of one direction's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct UpdateRow {
    /// 0: from `node_1` to `node_2`; 1: the other way.
    pub direction: i16,
    /// The update's own timestamp (unix seconds).
    pub timestamp: i64,
    /// BOLT 7 `message_flags`.
    pub message_flags: i16,
    /// BOLT 7 `channel_flags` (bit 0: direction, bit 1: disabled).
    pub channel_flags: i16,
    /// Whether the direction is disabled.
    pub disabled: bool,
    /// Cltv delta (blocks) added when forwarding.
    pub cltv_delta: i32,
    /// Smallest HTLC (msat) forwarded.
    pub htlc_min_msat: i64,
    /// Largest HTLC (msat) forwarded; `None` when not announced.
    pub htlc_max_msat: Option<i64>,
    /// Fixed fee (msat) per forwarded HTLC.
    pub fee_base_msat: i64,
    /// Proportional fee (ppm).
    pub fee_ppm: i64,
    /// When switchyard stored it (unix seconds).
    pub received_at: i64,
    /// `import` or `gossip`.
    pub source: String,
}

/// The columns of an [`UpdateRow`].
pub(crate) const UPDATE_COLUMNS: &str =
    "direction, timestamp, message_flags, channel_flags, disabled, cltv_delta, \
     htlc_min_msat, htlc_max_msat, fee_base_msat, fee_ppm, \
     extract(epoch FROM received_at)::bigint AS received_at, source";

/// Every stored update of a channel, both directions, newest first.
pub async fn updates(db: impl PgExecutor<'_>, scid: Scid) -> Result<Vec<UpdateRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {UPDATE_COLUMNS} FROM channel_updates WHERE scid = $1 \
         ORDER BY timestamp DESC, direction"
    ))
    .bind(scid.to_i64())
    .fetch_all(db)
    .await?)
}
