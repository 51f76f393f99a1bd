//! Recording gossip received from peers: every accepted `channel_announcement`,
//! `channel_update` and `node_announcement`, raw bytes and parsed fields, in batches.
//!
//! One batch is one transaction: parents (nodes, channels) are written before children
//! (updates, announcements), so the history tables never reference a missing row, and a
//! crash leaves either the whole batch or none of it.

use std::collections::HashMap;

use switchyard_graph::{NodeId, Scid};

use crate::error::Result;
use crate::queries::meta;
use crate::Store;

/// An accepted `channel_announcement`.
#[derive(Debug, Clone)]
pub struct GossipChannel {
    pub scid: Scid,
    /// BOLT 7 order: `node_1 < node_2`.
    pub node_1: NodeId,
    pub node_2: NodeId,
    pub capacity_sat: u64,
    /// `txid:vout`, when the chain lookup found it.
    pub funding_outpoint: Option<String>,
    pub raw: Vec<u8>,
    pub peer: Option<NodeId>,
    /// Unix seconds.
    pub received_at: i64,
}

/// An accepted `channel_update`.
#[derive(Debug, Clone)]
pub struct GossipUpdate {
    pub scid: Scid,
    pub direction: u8,
    pub timestamp: u32,
    pub message_flags: u8,
    pub channel_flags: u8,
    pub cltv_delta: u16,
    pub htlc_min_msat: u64,
    pub htlc_max_msat: u64,
    pub fee_base_msat: u32,
    pub fee_ppm: u32,
    pub raw: Vec<u8>,
    pub peer: Option<NodeId>,
    pub received_at: i64,
}

/// An accepted `node_announcement`.
#[derive(Debug, Clone)]
pub struct GossipNode {
    pub node_id: NodeId,
    pub timestamp: u32,
    pub alias: String,
    /// `rrggbb`.
    pub color: String,
    /// Same shape as imports: `[{"type": "ipv4", "address": "1.2.3.4", "port": 9735}]`.
    pub addresses: serde_json::Value,
    pub features: Vec<u8>,
    pub raw: Vec<u8>,
    pub peer: Option<NodeId>,
    pub received_at: i64,
}

/// Messages to write together.
#[derive(Debug, Clone, Default)]
pub struct GossipBatch {
    pub channels: Vec<GossipChannel>,
    pub updates: Vec<GossipUpdate>,
    pub nodes: Vec<GossipNode>,
}

impl GossipBatch {
    pub fn len(&self) -> usize {
        self.channels.len() + self.updates.len() + self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a batch added (rows already present are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipWriteReport {
    pub channels_new: u64,
    pub updates_new: u64,
    pub announcements_new: u64,
    /// Updates whose channel is not in the store (cannot happen through the node, which
    /// records an announcement before its updates); skipped rather than left dangling.
    pub updates_orphaned: u64,
    pub graph_version: i64,
}

fn peer_bytes(p: &Option<NodeId>) -> Option<Vec<u8>> {
    p.as_ref().map(|id| id.as_bytes().to_vec())
}

/// Writes one batch in one transaction and bumps the graph version.
pub async fn record(store: &Store, batch: &GossipBatch) -> Result<GossipWriteReport> {
    let mut report = GossipWriteReport::default();
    let mut tx = store.pool().begin().await?;

    // Nodes first: every node of a channel or an announcement, newest sighting wins.
    let mut seen: HashMap<NodeId, i64> = HashMap::new();
    let mut see = |id: NodeId, at: i64| {
        let t = seen.entry(id).or_insert(at);
        *t = (*t).max(at);
    };
    for c in &batch.channels {
        see(c.node_1, c.received_at);
        see(c.node_2, c.received_at);
    }
    for n in &batch.nodes {
        see(n.node_id, n.received_at);
    }
    if !seen.is_empty() {
        let (ids, times): (Vec<Vec<u8>>, Vec<i64>) = seen
            .iter()
            .map(|(id, t)| (id.as_bytes().to_vec(), *t))
            .unzip();
        sqlx::query(
            "INSERT INTO nodes (node_id, first_seen, last_seen) \
             SELECT id, to_timestamp(t), to_timestamp(t) FROM UNNEST($1::bytea[], $2::bigint[]) AS u(id, t) \
             ON CONFLICT (node_id) DO UPDATE SET last_seen = GREATEST(nodes.last_seen, EXCLUDED.last_seen)",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&mut *tx)
        .await?;
    }

    if !batch.channels.is_empty() {
        // The same scid twice in one statement would make ON CONFLICT fail: keep the last.
        let mut by_scid: HashMap<i64, &GossipChannel> = HashMap::new();
        for c in &batch.channels {
            by_scid.insert(c.scid.to_i64(), c);
        }
        let cs: Vec<&GossipChannel> = by_scid.into_values().collect();
        let new: i64 = sqlx::query_scalar(
            "WITH ins AS ( \
               INSERT INTO channels (scid, node_1, node_2, capacity_sat, funding_outpoint, \
                 raw_announcement, first_seen, last_seen, peer) \
               SELECT scid, n1, n2, cap, op, raw, to_timestamp(t), to_timestamp(t), peer \
               FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[], $5::text[], \
                           $6::bytea[], $7::bigint[], $8::bytea[]) \
                 AS u(scid, n1, n2, cap, op, raw, t, peer) \
               ON CONFLICT (scid) DO UPDATE SET \
                 last_seen = GREATEST(channels.last_seen, EXCLUDED.last_seen), \
                 raw_announcement = COALESCE(channels.raw_announcement, EXCLUDED.raw_announcement), \
                 funding_outpoint = COALESCE(channels.funding_outpoint, EXCLUDED.funding_outpoint), \
                 peer = COALESCE(channels.peer, EXCLUDED.peer), \
                 closed_at = NULL, close_height = NULL \
               RETURNING (xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted) FROM ins",
        )
        .bind(cs.iter().map(|c| c.scid.to_i64()).collect::<Vec<_>>())
        .bind(cs.iter().map(|c| c.node_1.as_bytes().to_vec()).collect::<Vec<_>>())
        .bind(cs.iter().map(|c| c.node_2.as_bytes().to_vec()).collect::<Vec<_>>())
        .bind(cs.iter().map(|c| c.capacity_sat as i64).collect::<Vec<_>>())
        .bind(cs.iter().map(|c| c.funding_outpoint.clone()).collect::<Vec<_>>())
        .bind(cs.iter().map(|c| c.raw.clone()).collect::<Vec<_>>())
        .bind(cs.iter().map(|c| c.received_at).collect::<Vec<_>>())
        .bind(cs.iter().map(|c| peer_bytes(&c.peer)).collect::<Vec<_>>())
        .fetch_one(&mut *tx)
        .await?;
        report.channels_new = new as u64;
    }

    if !batch.updates.is_empty() {
        let us = &batch.updates;
        let (inserted, orphaned): (i64, i64) = sqlx::query_as(
            "WITH u AS ( \
               SELECT * FROM UNNEST($1::bigint[], $2::smallint[], $3::bigint[], $4::smallint[], \
                 $5::smallint[], $6::integer[], $7::bigint[], $8::bigint[], $9::bigint[], \
                 $10::bigint[], $11::bytea[], $12::bytea[], $13::bigint[]) \
               AS u(scid, dir, ts, mflags, cflags, cltv, hmin, hmax, base, ppm, raw, peer, t)), \
             ins AS ( \
               INSERT INTO channel_updates (scid, direction, timestamp, message_flags, \
                 channel_flags, disabled, cltv_delta, htlc_min_msat, htlc_max_msat, \
                 fee_base_msat, fee_ppm, raw, received_at, source, peer) \
               SELECT u.scid, u.dir, u.ts, u.mflags, u.cflags, (u.cflags & 2) <> 0, u.cltv, \
                 u.hmin, u.hmax, u.base, u.ppm, u.raw, to_timestamp(u.t), 'gossip', u.peer \
               FROM u WHERE EXISTS (SELECT 1 FROM channels c WHERE c.scid = u.scid) \
               ON CONFLICT (scid, direction, timestamp) DO NOTHING \
               RETURNING 1) \
             SELECT (SELECT count(*) FROM ins), \
                    (SELECT count(*) FROM u WHERE NOT EXISTS \
                       (SELECT 1 FROM channels c WHERE c.scid = u.scid))",
        )
        .bind(us.iter().map(|u| u.scid.to_i64()).collect::<Vec<_>>())
        .bind(us.iter().map(|u| u.direction as i16).collect::<Vec<_>>())
        .bind(us.iter().map(|u| u.timestamp as i64).collect::<Vec<_>>())
        .bind(
            us.iter()
                .map(|u| u.message_flags as i16)
                .collect::<Vec<_>>(),
        )
        .bind(
            us.iter()
                .map(|u| u.channel_flags as i16)
                .collect::<Vec<_>>(),
        )
        .bind(us.iter().map(|u| u.cltv_delta as i32).collect::<Vec<_>>())
        .bind(
            us.iter()
                .map(|u| u.htlc_min_msat as i64)
                .collect::<Vec<_>>(),
        )
        .bind(
            us.iter()
                .map(|u| u.htlc_max_msat as i64)
                .collect::<Vec<_>>(),
        )
        .bind(
            us.iter()
                .map(|u| u.fee_base_msat as i64)
                .collect::<Vec<_>>(),
        )
        .bind(us.iter().map(|u| u.fee_ppm as i64).collect::<Vec<_>>())
        .bind(us.iter().map(|u| u.raw.clone()).collect::<Vec<_>>())
        .bind(us.iter().map(|u| peer_bytes(&u.peer)).collect::<Vec<_>>())
        .bind(us.iter().map(|u| u.received_at).collect::<Vec<_>>())
        .fetch_one(&mut *tx)
        .await?;
        report.updates_new = inserted as u64;
        report.updates_orphaned = orphaned as u64;
        if !batch.updates.is_empty() {
            // A channel's last_seen follows its newest update.
            sqlx::query(
                "UPDATE channels c SET last_seen = GREATEST(c.last_seen, to_timestamp(u.t)) \
                 FROM (SELECT scid, max(t) AS t FROM UNNEST($1::bigint[], $2::bigint[]) AS x(scid, t) \
                       GROUP BY scid) u WHERE c.scid = u.scid",
            )
            .bind(us.iter().map(|u| u.scid.to_i64()).collect::<Vec<_>>())
            .bind(us.iter().map(|u| u.received_at).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
    }

    if !batch.nodes.is_empty() {
        let ns = &batch.nodes;
        let new: i64 = sqlx::query_scalar(
            "WITH ins AS ( \
               INSERT INTO node_announcements (node_id, timestamp, alias, color, addresses, \
                 features, raw, received_at, source, peer) \
               SELECT id, ts, alias, color, addrs, feat, raw, to_timestamp(t), 'gossip', peer \
               FROM UNNEST($1::bytea[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], \
                           $6::bytea[], $7::bytea[], $8::bigint[], $9::bytea[]) \
                 AS u(id, ts, alias, color, addrs, feat, raw, t, peer) \
               ON CONFLICT (node_id, timestamp) DO NOTHING RETURNING 1) \
             SELECT count(*) FROM ins",
        )
        .bind(
            ns.iter()
                .map(|n| n.node_id.as_bytes().to_vec())
                .collect::<Vec<_>>(),
        )
        .bind(ns.iter().map(|n| n.timestamp as i64).collect::<Vec<_>>())
        .bind(ns.iter().map(|n| n.alias.clone()).collect::<Vec<_>>())
        .bind(ns.iter().map(|n| n.color.clone()).collect::<Vec<_>>())
        .bind(ns.iter().map(|n| n.addresses.clone()).collect::<Vec<_>>())
        .bind(ns.iter().map(|n| n.features.clone()).collect::<Vec<_>>())
        .bind(ns.iter().map(|n| n.raw.clone()).collect::<Vec<_>>())
        .bind(ns.iter().map(|n| n.received_at).collect::<Vec<_>>())
        .bind(ns.iter().map(|n| peer_bytes(&n.peer)).collect::<Vec<_>>())
        .fetch_one(&mut *tx)
        .await?;
        report.announcements_new = new as u64;
    }

    report.graph_version = meta::bump_graph_version(&mut tx).await?;
    tx.commit().await?;
    Ok(report)
}

/// Open channels whose funding outpoint is known: what the chain watcher looks for in blocks.
pub async fn open_funding_outpoints(store: &Store) -> Result<Vec<(Scid, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT scid, funding_outpoint FROM channels \
         WHERE closed_at IS NULL AND funding_outpoint IS NOT NULL",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(s, o)| (Scid::from_i64(s), o))
        .collect())
}

/// Marks channels closed because their funding output was spent at `height`.
/// Returns how many were open until now.
pub async fn close_spent(store: &Store, spent: &[(Scid, u32)], at_unix: i64) -> Result<u64> {
    if spent.is_empty() {
        return Ok(0);
    }
    let mut tx = store.pool().begin().await?;
    let n = sqlx::query(
        "UPDATE channels c SET closed_at = to_timestamp($3), close_height = s.h \
         FROM UNNEST($1::bigint[], $2::integer[]) AS s(scid, h) \
         WHERE c.scid = s.scid AND c.closed_at IS NULL",
    )
    .bind(spent.iter().map(|(s, _)| s.to_i64()).collect::<Vec<_>>())
    .bind(spent.iter().map(|(_, h)| *h as i32).collect::<Vec<_>>())
    .bind(at_unix)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        meta::bump_graph_version(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(n)
}
