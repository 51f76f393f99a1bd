//! Recording gossip received from peers: every accepted `channel_announcement`,
//! `channel_update` and `node_announcement`, raw bytes and parsed fields, in batches.
//!
//! One batch is one transaction: parents (nodes, channels) are written before children
//! (updates, announcements), so the history tables never reference a missing row, and a
//! crash leaves either the whole batch or none of it.

use std::collections::{HashMap, HashSet};

use sqlx::{Postgres, Transaction};

use switchyard_graph::{NodeId, Scid};

use crate::error::{Error, Result};
use crate::queries::meta;
use crate::Store;

/// An accepted `channel_announcement`.
#[derive(Debug, Clone)]
pub struct GossipChannel {
    /// The channel's short channel id.
    pub scid: Scid,
    /// BOLT 7 order: `node_1 < node_2`.
    pub node_1: NodeId,
    /// The greater endpoint.
    pub node_2: NodeId,
    /// Funding amount (sat).
    pub capacity_sat: u64,
    /// `txid:vout`, when the chain lookup found it.
    pub funding_outpoint: Option<String>,
    /// The message's wire bytes.
    pub raw: Vec<u8>,
    /// The peer that sent it; `None` when not from a peer.
    pub peer: Option<NodeId>,
    /// Unix seconds.
    pub received_at: i64,
}

/// An accepted `channel_update`.
#[derive(Debug, Clone)]
pub struct GossipUpdate {
    /// The channel the update is for.
    pub scid: Scid,
    /// 0: from `node_1` to `node_2`; 1: the other way.
    pub direction: u8,
    /// The update's own timestamp (unix seconds).
    pub timestamp: u32,
    /// BOLT 7 `message_flags`.
    pub message_flags: u8,
    /// BOLT 7 `channel_flags` (bit 0: direction, bit 1: disabled).
    pub channel_flags: u8,
    /// Cltv delta (blocks) added when forwarding.
    pub cltv_delta: u16,
    /// Smallest HTLC (msat) forwarded.
    pub htlc_min_msat: u64,
    /// Largest HTLC (msat) forwarded.
    pub htlc_max_msat: u64,
    /// Fixed fee (msat) per forwarded HTLC.
    pub fee_base_msat: u32,
    /// Proportional fee (ppm).
    pub fee_ppm: u32,
    /// The message's wire bytes.
    pub raw: Vec<u8>,
    /// The peer that sent it; `None` when not from a peer.
    pub peer: Option<NodeId>,
    /// When it was received (unix seconds).
    pub received_at: i64,
}

/// An accepted `node_announcement`.
#[derive(Debug, Clone)]
pub struct GossipNode {
    /// The announcing node.
    pub node_id: NodeId,
    /// The announcement's own timestamp (unix seconds).
    pub timestamp: u32,
    /// The alias (may be empty).
    pub alias: String,
    /// `rrggbb`.
    pub color: String,
    /// Same shape as imports: `[{"type": "ipv4", "address": "1.2.3.4", "port": 9735}]`.
    pub addresses: serde_json::Value,
    /// Feature bits as they travel in the message.
    pub features: Vec<u8>,
    /// The message's wire bytes.
    pub raw: Vec<u8>,
    /// The peer that sent it; `None` when not from a peer.
    pub peer: Option<NodeId>,
    /// When it was received (unix seconds).
    pub received_at: i64,
}

/// Messages to write together.
#[derive(Debug, Clone, Default)]
pub struct GossipBatch {
    /// Channel announcements (written first, so updates find their channel).
    pub channels: Vec<GossipChannel>,
    /// Channel updates.
    pub updates: Vec<GossipUpdate>,
    /// Node announcements.
    pub nodes: Vec<GossipNode>,
}

impl GossipBatch {
    /// Number of messages in the batch.
    pub fn len(&self) -> usize {
        self.channels.len() + self.updates.len() + self.nodes.len()
    }

    /// Whether the batch holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a batch added (rows already present are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipWriteReport {
    /// Channels not stored before.
    pub channels_new: u64,
    /// Update versions not stored before.
    pub updates_new: u64,
    /// Announcement versions not stored before.
    pub announcements_new: u64,
    /// Updates whose channel is not in the store (cannot happen through the node, which
    /// records an announcement before its updates); skipped rather than left dangling.
    pub updates_orphaned: u64,
    /// The graph version after the batch (bumped by every write).
    pub graph_version: i64,
}

fn peer_bytes(p: &Option<NodeId>) -> Option<Vec<u8>> {
    p.as_ref().map(|id| id.as_bytes().to_vec())
}

/// Writes one batch in one transaction and bumps the graph version.
///
/// Rows go in with binary `COPY` straight into the history tables, which is several times
/// cheaper for the server than `INSERT ... ON CONFLICT` (multi-row heap inserts, less WAL, no
/// speculative insertion). `COPY` cannot merge, so when some row is already stored (a channel
/// announced again after a restart or after it closed, an update seen before) the transaction
/// fails on the unique constraint, is rolled back, and the batch is written again with
/// `INSERT ... ON CONFLICT`, which merges. Either way the batch is one transaction.
pub async fn record(store: &Store, batch: &GossipBatch) -> Result<GossipWriteReport> {
    match record_copy(store, batch).await {
        Err(Error::Database(sqlx::Error::Database(e)))
            if e.code().as_deref() == Some(UNIQUE_VIOLATION) =>
        {
            tracing::debug!(error = %e, "gossip batch overlaps the store; merging");
            record_merge(store, batch).await
        }
        r => r,
    }
}

const UNIQUE_VIOLATION: &str = "23505";

/// Nodes of the batch's channels and announcements, newest sighting wins. Rows whose
/// `last_seen` would not move are left alone (an update that changes nothing still writes a
/// new row version and its index entries).
async fn upsert_nodes(tx: &mut Transaction<'_, Postgres>, batch: &GossipBatch) -> Result<()> {
    let mut seen: HashMap<NodeId, i64> =
        HashMap::with_capacity(batch.channels.len() * 2 + batch.nodes.len());
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
    if seen.is_empty() {
        return Ok(());
    }
    let (ids, times): (Vec<&[u8]>, Vec<i64>) =
        seen.iter().map(|(id, t)| (&id.as_bytes()[..], *t)).unzip();
    sqlx::query(
        "INSERT INTO nodes (node_id, first_seen, last_seen) \
         SELECT id, to_timestamp(t), to_timestamp(t) FROM UNNEST($1::bytea[], $2::bigint[]) AS u(id, t) \
         ON CONFLICT (node_id) DO UPDATE SET last_seen = EXCLUDED.last_seen \
         WHERE nodes.last_seen < EXCLUDED.last_seen",
    )
    .bind(&ids)
    .bind(&times)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Raises `last_seen` of stored channels to their newest update in the batch (only where it
/// moves).
async fn touch_channels(
    tx: &mut Transaction<'_, Postgres>,
    newest: &HashMap<i64, i64>,
) -> Result<()> {
    if newest.is_empty() {
        return Ok(());
    }
    let (scids, times): (Vec<i64>, Vec<i64>) = newest.iter().map(|(s, t)| (*s, *t)).unzip();
    sqlx::query(
        "UPDATE channels c SET last_seen = to_timestamp(u.t) \
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(scid, t) \
         WHERE c.scid = u.scid AND c.last_seen < to_timestamp(u.t)",
    )
    .bind(&scids)
    .bind(&times)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The fast path: `COPY` into the history tables; fails on any row already stored.
async fn record_copy(store: &Store, batch: &GossipBatch) -> Result<GossipWriteReport> {
    let mut report = GossipWriteReport::default();
    let mut tx = store.pool().begin().await?;
    upsert_nodes(&mut tx, batch).await?;
    let seen = Sightings::of(batch);
    if !seen.chan_at.is_empty() {
        report.channels_new = copy_channels(&mut tx, batch, &seen).await?;
    }
    if !batch.updates.is_empty() {
        copy_updates(&mut tx, batch, seen.elsewhere, &mut report).await?;
    }
    if !batch.nodes.is_empty() {
        report.announcements_new = copy_announcements(&mut tx, batch).await?;
    }
    report.graph_version = meta::bump_graph_version(&mut tx).await?;
    tx.commit().await?;
    Ok(report)
}

/// When the batch's channels were last seen, for the `COPY` path.
struct Sightings {
    /// The batch index of the announcement that counts per scid (the last one).
    chan_at: HashMap<i64, usize>,
    /// Per batch channel, its newest sighting: its announcement or an update of it.
    last_seen: Vec<i64>,
    /// The newest update per scid of a channel not announced in the batch.
    elsewhere: HashMap<i64, i64>,
}

impl Sightings {
    fn of(batch: &GossipBatch) -> Sightings {
        // The same scid twice in a batch: the last announcement counts (as the merge path does).
        let mut chan_at: HashMap<i64, usize> = HashMap::with_capacity(batch.channels.len());
        for (i, c) in batch.channels.iter().enumerate() {
            chan_at.insert(c.scid.to_i64(), i);
        }
        // A channel's last_seen follows its newest update: fold the batch's updates into the
        // channels written with them, and collect the rest for stored channels.
        let mut last_seen: Vec<i64> = batch.channels.iter().map(|c| c.received_at).collect();
        let mut elsewhere: HashMap<i64, i64> = HashMap::new();
        for u in &batch.updates {
            let scid = u.scid.to_i64();
            match chan_at.get(&scid) {
                Some(&i) => last_seen[i] = last_seen[i].max(u.received_at),
                None => {
                    let t = elsewhere.entry(scid).or_insert(u.received_at);
                    *t = (*t).max(u.received_at);
                }
            }
        }
        Sightings {
            chan_at,
            last_seen,
            elsewhere,
        }
    }
}

async fn copy_channels(
    tx: &mut Transaction<'_, Postgres>,
    batch: &GossipBatch,
    seen: &Sightings,
) -> Result<u64> {
    let mut w = CopyBinary::with_capacity(batch.channels.len() * 512);
    for (i, c) in batch.channels.iter().enumerate() {
        if seen.chan_at.get(&c.scid.to_i64()) != Some(&i) {
            continue;
        }
        w.row(9);
        w.i64(c.scid.to_i64());
        w.bytes(c.node_1.as_bytes());
        w.bytes(c.node_2.as_bytes());
        w.i64(c.capacity_sat as i64);
        w.opt_bytes(c.funding_outpoint.as_deref().map(str::as_bytes));
        w.bytes(&c.raw);
        w.timestamp(c.received_at);
        w.timestamp(seen.last_seen[i]);
        w.opt_bytes(c.peer.as_ref().map(|p| &p.as_bytes()[..]));
    }
    w.copy(
        tx,
        "COPY channels (scid, node_1, node_2, capacity_sat, funding_outpoint, \
             raw_announcement, first_seen, last_seen, peer) FROM STDIN (FORMAT binary)",
    )
    .await
}

/// Copies the batch's updates of known channels (the others are counted as orphans) and
/// moves the last sighting of the stored channels they update.
async fn copy_updates(
    tx: &mut Transaction<'_, Postgres>,
    batch: &GossipBatch,
    mut elsewhere: HashMap<i64, i64>,
    report: &mut GossipWriteReport,
) -> Result<()> {
    // Updates whose channel is neither in this batch nor stored are skipped and counted.
    let orphans: HashSet<i64> = if elsewhere.is_empty() {
        HashSet::new()
    } else {
        let scids: Vec<i64> = elsewhere.keys().copied().collect();
        sqlx::query_scalar(
            "SELECT s FROM UNNEST($1::bigint[]) AS u(s) \
             WHERE NOT EXISTS (SELECT 1 FROM channels c WHERE c.scid = u.s)",
        )
        .bind(&scids)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect()
    };
    elsewhere.retain(|s, _| !orphans.contains(s));
    touch_channels(tx, &elsewhere).await?;

    let mut once: HashSet<(i64, u8, u32)> = HashSet::with_capacity(batch.updates.len());
    let mut w = CopyBinary::with_capacity(batch.updates.len() * 320);
    for u in &batch.updates {
        let scid = u.scid.to_i64();
        if orphans.contains(&scid) {
            report.updates_orphaned += 1;
            continue;
        }
        if !once.insert((scid, u.direction, u.timestamp)) {
            continue;
        }
        w.row(15);
        w.i64(scid);
        w.i16(u.direction as i16);
        w.i64(u.timestamp as i64);
        w.i16(u.message_flags as i16);
        w.i16(u.channel_flags as i16);
        w.bool(u.channel_flags & 2 != 0);
        w.i32(u.cltv_delta as i32);
        w.i64(u.htlc_min_msat as i64);
        w.i64(u.htlc_max_msat as i64);
        w.i64(u.fee_base_msat as i64);
        w.i64(u.fee_ppm as i64);
        w.bytes(&u.raw);
        w.timestamp(u.received_at);
        w.bytes(b"gossip");
        w.opt_bytes(u.peer.as_ref().map(|p| &p.as_bytes()[..]));
    }
    if !once.is_empty() {
        report.updates_new = w
            .copy(
                tx,
                "COPY channel_updates (scid, direction, timestamp, message_flags, \
                 channel_flags, disabled, cltv_delta, htlc_min_msat, htlc_max_msat, \
                 fee_base_msat, fee_ppm, raw, received_at, source, peer) \
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
    }
    Ok(())
}

async fn copy_announcements(
    tx: &mut Transaction<'_, Postgres>,
    batch: &GossipBatch,
) -> Result<u64> {
    let mut once: HashSet<(NodeId, u32)> = HashSet::with_capacity(batch.nodes.len());
    let mut w = CopyBinary::with_capacity(batch.nodes.len() * 384);
    let mut json = Vec::with_capacity(256);
    for n in &batch.nodes {
        if !once.insert((n.node_id, n.timestamp)) {
            continue;
        }
        json.clear();
        json.push(1); // jsonb's binary format: a version byte, then the text
        serde_json::to_writer(&mut json, &n.addresses).map_err(|e| Error::CorruptRow {
            table: "node_announcements",
            detail: format!("addresses: {e}"),
        })?;
        w.row(10);
        w.bytes(n.node_id.as_bytes());
        w.i64(n.timestamp as i64);
        w.bytes(n.alias.as_bytes());
        w.bytes(n.color.as_bytes());
        w.bytes(&json);
        w.bytes(&n.features);
        w.bytes(&n.raw);
        w.timestamp(n.received_at);
        w.bytes(b"gossip");
        w.opt_bytes(n.peer.as_ref().map(|p| &p.as_bytes()[..]));
    }
    w.copy(
        tx,
        "COPY node_announcements (node_id, timestamp, alias, color, addresses, \
             features, raw, received_at, source, peer) FROM STDIN (FORMAT binary)",
    )
    .await
}

/// PostgreSQL's binary `COPY` format, built in memory and sent in one go.
struct CopyBinary {
    buf: Vec<u8>,
}

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_UNIX: i64 = 946_684_800;

impl CopyBinary {
    fn with_capacity(n: usize) -> Self {
        let mut buf = Vec::with_capacity(n + 21);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyBinary { buf }
    }
    fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }
    fn field(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(v);
    }
    fn i16(&mut self, v: i16) {
        self.field(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.field(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.field(&v.to_be_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.field(&[v as u8]);
    }
    /// `timestamptz` from Unix seconds: microseconds since 2000-01-01 UTC.
    fn timestamp(&mut self, unix: i64) {
        self.i64(unix.saturating_sub(PG_EPOCH_UNIX).saturating_mul(1_000_000));
    }
    /// `bytea` or `text` (UTF-8).
    fn bytes(&mut self, v: &[u8]) {
        self.field(v);
    }
    fn opt_bytes(&mut self, v: Option<&[u8]>) {
        match v {
            Some(v) => self.field(v),
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    /// Ends the data, runs `statement` with it and returns the rows written.
    async fn copy(mut self, tx: &mut Transaction<'_, Postgres>, statement: &str) -> Result<u64> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        let mut copy = tx.copy_in_raw(statement).await?;
        copy.send(self.buf).await?;
        Ok(copy.finish().await?)
    }
}

/// The merging path: `INSERT ... ON CONFLICT` for batches that overlap what is stored.
async fn record_merge(store: &Store, batch: &GossipBatch) -> Result<GossipWriteReport> {
    let mut report = GossipWriteReport::default();
    let mut tx = store.pool().begin().await?;
    upsert_nodes(&mut tx, batch).await?;
    if !batch.channels.is_empty() {
        report.channels_new = merge_channels(&mut tx, &batch.channels).await?;
    }
    if !batch.updates.is_empty() {
        merge_updates(&mut tx, &batch.updates, &mut report).await?;
    }
    if !batch.nodes.is_empty() {
        report.announcements_new = merge_announcements(&mut tx, &batch.nodes).await?;
    }
    report.graph_version = meta::bump_graph_version(&mut tx).await?;
    tx.commit().await?;
    Ok(report)
}

/// Inserts new channels, refreshes stored ones (a channel announced again is open again).
async fn merge_channels(
    tx: &mut Transaction<'_, Postgres>,
    channels: &[GossipChannel],
) -> Result<u64> {
    // The same scid twice in one statement would make ON CONFLICT fail: keep the last.
    let mut by_scid: HashMap<i64, &GossipChannel> = HashMap::new();
    for c in channels {
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
    .bind(
        cs.iter()
            .map(|c| c.node_1.as_bytes().to_vec())
            .collect::<Vec<_>>(),
    )
    .bind(
        cs.iter()
            .map(|c| c.node_2.as_bytes().to_vec())
            .collect::<Vec<_>>(),
    )
    .bind(cs.iter().map(|c| c.capacity_sat as i64).collect::<Vec<_>>())
    .bind(
        cs.iter()
            .map(|c| c.funding_outpoint.clone())
            .collect::<Vec<_>>(),
    )
    .bind(cs.iter().map(|c| c.raw.clone()).collect::<Vec<_>>())
    .bind(cs.iter().map(|c| c.received_at).collect::<Vec<_>>())
    .bind(cs.iter().map(|c| peer_bytes(&c.peer)).collect::<Vec<_>>())
    .fetch_one(&mut **tx)
    .await?;
    Ok(new as u64)
}

/// Inserts the updates of known channels once each (the others are counted as orphans) and
/// moves their channels' last sighting.
async fn merge_updates(
    tx: &mut Transaction<'_, Postgres>,
    us: &[GossipUpdate],
    report: &mut GossipWriteReport,
) -> Result<()> {
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
    .fetch_one(&mut **tx)
    .await?;
    report.updates_new = inserted as u64;
    report.updates_orphaned = orphaned as u64;
    // A channel's last_seen follows its newest update.
    let mut newest: HashMap<i64, i64> = HashMap::new();
    for u in us {
        let t = newest.entry(u.scid.to_i64()).or_insert(u.received_at);
        *t = (*t).max(u.received_at);
    }
    touch_channels(tx, &newest).await?;
    Ok(())
}

async fn merge_announcements(tx: &mut Transaction<'_, Postgres>, ns: &[GossipNode]) -> Result<u64> {
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
    .fetch_one(&mut **tx)
    .await?;
    Ok(new as u64)
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
