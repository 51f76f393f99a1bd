//! Imports graph files into the history tables: streaming parse on a blocking thread, batched
//! multi-row inserts (`UNNEST`) into staging tables, then set-based merges, all in one
//! transaction per run. A malformed file fails the whole run and writes nothing.
//!
//! What a file says is recorded as history:
//! - nodes and channels not seen before are added, with first/last seen = the snapshot time
//!   (the newest gossip timestamp in the file);
//! - every `channel_update` / `node_announcement` version not stored yet becomes a row;
//! - a channel file that no longer lists an open channel last seen before its snapshot time
//!   marks that channel closed (never deleted); a closed channel that shows up again in a
//!   newer snapshot is reopened.
//!
//! Importing a file whose checksum was already imported is skipped (unless forced); forcing
//! it adds no history rows either, since versions are unique per timestamp.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Transaction};
use switchyard_graph::load::{self, ChannelRecord, NodeRecord, Record, UpdateRecord};
use switchyard_graph::LoadError;

use crate::error::{Error, Result};
use crate::Store;

const BATCH: usize = 5_000;

/// Something to import.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// A graph file on disk (plain, xz or gzip).
    File(PathBuf),
    /// In-memory bytes, e.g. the snapshot bundled into the binary.
    Bytes {
        /// How the source is named in reports and errors.
        name: String,
        /// The file's content.
        data: &'static [u8],
    },
}

impl ImportSource {
    /// How the source is named in reports and errors (the path for a file).
    pub fn name(&self) -> String {
        match self {
            ImportSource::File(p) => p.display().to_string(),
            ImportSource::Bytes { name, .. } => name.clone(),
        }
    }

    fn size(&self) -> Result<u64> {
        match self {
            ImportSource::File(p) => {
                std::fs::metadata(p)
                    .map(|m| m.len())
                    .map_err(|source| Error::Io {
                        path: p.clone(),
                        source,
                    })
            }
            ImportSource::Bytes { data, .. } => Ok(data.len() as u64),
        }
    }

    fn open(&self) -> Result<Box<dyn BufRead + Send>> {
        match self {
            ImportSource::File(p) => {
                let f = std::fs::File::open(p).map_err(|source| Error::Io {
                    path: p.clone(),
                    source,
                })?;
                Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
            }
            ImportSource::Bytes { data, .. } => Ok(Box::new(*data)),
        }
    }

    fn sha256(&self) -> Result<String> {
        let mut r = self.open()?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r.read(&mut buf).map_err(|source| Error::Io {
                path: PathBuf::from(self.name()),
                source,
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(switchyard_graph::types::encode_hex(&h.finalize()))
    }
}

#[derive(Debug, Clone, Copy, Default)]
/// How to import.
pub struct ImportOptions {
    /// Import even if a file with the same checksum was imported before.
    pub force: bool,
}

/// Progress of one file: compressed bytes consumed out of the total.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The file being imported.
    pub file: String,
    /// Compressed bytes consumed so far.
    pub bytes_done: u64,
    /// The file's size in bytes.
    pub bytes_total: u64,
    /// Records parsed so far.
    pub records: u64,
}

/// What one file's import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The file, as named by its source.
    pub file: String,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// The detected format (e.g. `LND describegraph`).
    pub format: String,
    /// The file's checksum had been imported before, so nothing was done.
    pub skipped: bool,
    /// The `import_runs` row of this import; `None` when skipped.
    pub run_id: Option<i64>,
    /// Newest gossip timestamp in the file (unix seconds).
    pub snapshot_time: i64,
    /// Entries in the file's `channels` / `edges` arrays.
    pub channel_entries: u64,
    /// Entries in the file's `nodes` array.
    pub node_entries: u64,
    /// Nodes not stored before.
    pub nodes_new: u64,
    /// Channels not stored before.
    pub channels_new: u64,
    /// Open channels the (channel) file no longer lists, marked closed.
    pub channels_closed: u64,
    /// Closed channels the file lists again, reopened.
    pub channels_reopened: u64,
    /// Update versions not stored before.
    pub updates_new: u64,
    /// Directions whose newest update in the file changed the fee of the newest one stored.
    pub fee_changes: u64,
    /// Announcement versions not stored before.
    pub announcements_new: u64,
    /// Wall time of the import (seconds).
    pub seconds: f64,
}

/// Imports `sources` in order, in one transaction: all of them or nothing.
pub async fn import(
    store: &Store,
    sources: &[ImportSource],
    options: ImportOptions,
    progress: Arc<dyn Fn(&Progress) + Send + Sync>,
) -> Result<Vec<ImportReport>> {
    let mut tx = store.pool().begin().await?;
    create_staging(&mut tx).await?;
    let mut reports = Vec::with_capacity(sources.len());
    let mut changed = false;
    for source in sources {
        let report = import_one(&mut tx, source, options, progress.clone()).await?;
        changed |= !report.skipped;
        reports.push(report);
    }
    if changed {
        crate::queries::meta::bump_graph_version(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(reports)
}

async fn create_staging(tx: &mut Transaction<'_, Postgres>) -> Result<()> {
    for ddl in [
        "CREATE TEMP TABLE stage_channels (scid BIGINT NOT NULL, node_1 BYTEA NOT NULL, \
         node_2 BYTEA NOT NULL, capacity_sat BIGINT NOT NULL, funding_outpoint TEXT) ON COMMIT DROP",
        "CREATE TEMP TABLE stage_updates (scid BIGINT NOT NULL, direction SMALLINT NOT NULL, \
         timestamp BIGINT NOT NULL, message_flags SMALLINT NOT NULL, channel_flags SMALLINT NOT NULL, \
         disabled BOOLEAN NOT NULL, cltv_delta INTEGER NOT NULL, htlc_min_msat BIGINT NOT NULL, \
         htlc_max_msat BIGINT, fee_base_msat BIGINT NOT NULL, fee_ppm BIGINT NOT NULL) ON COMMIT DROP",
        "CREATE TEMP TABLE stage_nodes (node_id BYTEA NOT NULL, timestamp BIGINT, alias TEXT, \
         color TEXT, addresses JSONB, features BYTEA) ON COMMIT DROP",
    ] {
        sqlx::query(ddl).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Counts bytes read so progress can be shown on compressed input.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountingReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count.fetch_add(amt as u64, Ordering::Relaxed);
        self.inner.consume(amt)
    }
}

#[derive(Default)]
struct Batch {
    channels: Vec<ChannelRecord>,
    updates: Vec<UpdateRecord>,
    nodes: Vec<NodeRecord>,
}

impl Batch {
    fn len(&self) -> usize {
        self.channels.len() + self.updates.len() + self.nodes.len()
    }
}

struct Parsed {
    summary: load::ReadSummary,
    newest_timestamp: u32,
}

async fn import_one(
    tx: &mut Transaction<'_, Postgres>,
    source: &ImportSource,
    options: ImportOptions,
    progress: Arc<dyn Fn(&Progress) + Send + Sync>,
) -> Result<ImportReport> {
    let started = Instant::now();
    let name = source.name();
    let total = source.size()?;
    let sha256 = {
        let s = source.clone();
        tokio::task::spawn_blocking(move || s.sha256())
            .await
            .map_err(|e| Error::Interrupted(e.to_string()))??
    };
    let mut report = ImportReport {
        file: name.clone(),
        sha256: sha256.clone(),
        ..Default::default()
    };
    if !options.force {
        if let Some(run) = crate::queries::imports::find_by_sha256(&mut **tx, &sha256).await? {
            tracing::info!(file = %name, run_id = run, "already imported; skipping");
            report.skipped = true;
            report.run_id = Some(run);
            return Ok(report);
        }
    }
    for t in ["stage_channels", "stage_updates", "stage_nodes"] {
        sqlx::query(&format!("TRUNCATE {t}"))
            .execute(&mut **tx)
            .await?;
    }

    // Parse on a blocking thread; batches flow to this task through a bounded channel so
    // parsing and writing overlap without buffering the whole file.
    let (batches_tx, mut batches_rx) = tokio::sync::mpsc::channel::<Batch>(4);
    let (parser, count) = spawn_parser(source, &name, batches_tx)?;

    let mut records = 0u64;
    let mut last_progress = Instant::now() - Duration::from_secs(1);
    let mut write_error = None;
    while let Some(batch) = batches_rx.recv().await {
        records += batch.len() as u64;
        if let Err(e) = stage(tx, &batch).await {
            write_error = Some(e);
            break;
        }
        if last_progress.elapsed() >= Duration::from_millis(100) {
            last_progress = Instant::now();
            progress(&Progress {
                file: name.clone(),
                bytes_done: count.load(Ordering::Relaxed).min(total),
                bytes_total: total,
                records,
            });
        }
    }
    drop(batches_rx);
    let parsed = parser
        .await
        .map_err(|e| Error::Interrupted(format!("parser thread: {e}")))?;
    if let Some(e) = write_error {
        return Err(e);
    }
    let parsed = parsed?;
    progress(&Progress {
        file: name.clone(),
        bytes_done: total,
        bytes_total: total,
        records,
    });

    let snapshot_time = if parsed.newest_timestamp > 0 {
        i64::from(parsed.newest_timestamp)
    } else {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    };
    report.format = parsed
        .summary
        .format
        .map(|f| f.to_string())
        .unwrap_or_default();
    report.snapshot_time = snapshot_time;
    report.channel_entries = parsed.summary.channel_entries;
    report.node_entries = parsed.summary.node_entries;
    merge(tx, &mut report).await?;
    report.seconds = started.elapsed().as_secs_f64();
    crate::queries::imports::finish(&mut **tx, &report).await?;
    Ok(report)
}

/// The thread parsing one file.
type ParserThread = tokio::task::JoinHandle<Result<Parsed, LoadError>>;

/// Reads `source` on a blocking thread into batches sent to `batches_tx`; returns the thread
/// and the count of compressed bytes read so far (for progress).
fn spawn_parser(
    source: &ImportSource,
    name: &str,
    batches_tx: tokio::sync::mpsc::Sender<Batch>,
) -> Result<(ParserThread, Arc<AtomicU64>)> {
    let reader = source.open()?;
    let count = Arc::new(AtomicU64::new(0));
    let counting = CountingReader {
        inner: reader,
        count: count.clone(),
    };
    let parse_name = name.to_owned();
    let parser = tokio::task::spawn_blocking(move || -> Result<Parsed, LoadError> {
        let reader = load::decompress(counting).map_err(|source| LoadError::Io {
            file: parse_name.clone(),
            source,
        })?;
        let mut batch = Batch::default();
        let mut newest = 0u32;
        let summary = load::read_records(reader, &parse_name, |r| {
            match r {
                Record::Channel(c) => batch.channels.push(c),
                Record::Update(u) => {
                    newest = newest.max(u.timestamp);
                    batch.updates.push(u)
                }
                Record::Node(n) => {
                    if let Some(a) = &n.announcement {
                        newest = newest.max(a.timestamp);
                    }
                    batch.nodes.push(n)
                }
            }
            if batch.len() >= BATCH {
                return batches_tx.blocking_send(std::mem::take(&mut batch)).is_ok();
            }
            true
        })?;
        if batch.len() > 0 && batches_tx.blocking_send(batch).is_err() {
            return Err(LoadError::Aborted { file: parse_name });
        }
        Ok(Parsed {
            summary,
            newest_timestamp: newest,
        })
    });
    Ok((parser, count))
}

/// Writes one batch into the staging tables with one multi-row insert per table.
async fn stage(tx: &mut Transaction<'_, Postgres>, b: &Batch) -> Result<()> {
    if !b.channels.is_empty() {
        let c = &b.channels;
        sqlx::query(
            "INSERT INTO stage_channels SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[], \
             $4::bigint[], $5::text[])",
        )
        .bind(c.iter().map(|c| c.scid.to_i64()).collect::<Vec<_>>())
        .bind(c.iter().map(|c| c.node_1.0.to_vec()).collect::<Vec<_>>())
        .bind(c.iter().map(|c| c.node_2.0.to_vec()).collect::<Vec<_>>())
        .bind(c.iter().map(|c| c.capacity_sat as i64).collect::<Vec<_>>())
        .bind(c.iter().map(|c| c.funding_outpoint.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    if !b.updates.is_empty() {
        let u = &b.updates;
        sqlx::query(
            "INSERT INTO stage_updates SELECT * FROM UNNEST($1::bigint[], $2::smallint[], \
             $3::bigint[], $4::smallint[], $5::smallint[], $6::boolean[], $7::integer[], \
             $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])",
        )
        .bind(u.iter().map(|u| u.scid.to_i64()).collect::<Vec<_>>())
        .bind(u.iter().map(|u| i16::from(u.direction)).collect::<Vec<_>>())
        .bind(u.iter().map(|u| i64::from(u.timestamp)).collect::<Vec<_>>())
        .bind(
            u.iter()
                .map(|u| i16::from(u.message_flags))
                .collect::<Vec<_>>(),
        )
        .bind(
            u.iter()
                .map(|u| i16::from(u.channel_flags))
                .collect::<Vec<_>>(),
        )
        .bind(u.iter().map(|u| u.disabled).collect::<Vec<_>>())
        .bind(
            u.iter()
                .map(|u| i32::from(u.cltv_delta))
                .collect::<Vec<_>>(),
        )
        .bind(u.iter().map(|u| u.htlc_min_msat as i64).collect::<Vec<_>>())
        .bind(
            u.iter()
                .map(|u| u.htlc_max_msat.map(|m| m as i64))
                .collect::<Vec<_>>(),
        )
        .bind(
            u.iter()
                .map(|u| i64::from(u.fee_base_msat))
                .collect::<Vec<_>>(),
        )
        .bind(u.iter().map(|u| i64::from(u.fee_ppm)).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    if !b.nodes.is_empty() {
        let n = &b.nodes;
        fn ann(r: &NodeRecord) -> Option<&switchyard_graph::load::NodeAnnouncement> {
            r.announcement.as_ref()
        }
        sqlx::query(
            "INSERT INTO stage_nodes SELECT id, ts, alias, color, addr::jsonb, decode(feat, 'hex') \
             FROM UNNEST($1::bytea[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) \
             AS t(id, ts, alias, color, addr, feat)",
        )
        .bind(n.iter().map(|r| r.node_id.0.to_vec()).collect::<Vec<_>>())
        .bind(n.iter().map(|r| ann(r).map(|a| i64::from(a.timestamp))).collect::<Vec<_>>())
        .bind(n.iter().map(|r| ann(r).map(|a| a.alias.replace('\0', ""))).collect::<Vec<_>>())
        .bind(n.iter().map(|r| ann(r).map(|a| a.color.clone())).collect::<Vec<_>>())
        .bind(
            n.iter()
                .map(|r| ann(r).map(|a| serde_json::to_string(&a.addresses).unwrap_or_else(|_| "[]".into())))
                .collect::<Vec<_>>(),
        )
        .bind(n.iter().map(|r| ann(r).map(|a| a.features_hex.clone())).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Merges the staging tables into the history tables and fills in the report's counts.
async fn merge(tx: &mut Transaction<'_, Postgres>, r: &mut ImportReport) -> Result<()> {
    for t in ["stage_channels", "stage_updates", "stage_nodes"] {
        sqlx::query(&format!("ANALYZE {t}"))
            .execute(&mut **tx)
            .await?;
    }
    let t = r.snapshot_time;
    let run_id: i64 = sqlx::query_scalar(
        "INSERT INTO import_runs (file, sha256, format, snapshot_time, started_at, finished_at, \
         channel_entries, node_entries, nodes_new, channels_new, channels_closed, channels_reopened, \
         updates_new, fee_changes, announcements_new) \
         VALUES ($1, $2, $3, to_timestamp($4), now(), now(), $5, $6, 0, 0, 0, 0, 0, 0, 0) RETURNING id",
    )
    .bind(&r.file)
    .bind(&r.sha256)
    .bind(&r.format)
    .bind(t)
    .bind(r.channel_entries as i64)
    .bind(r.node_entries as i64)
    .fetch_one(&mut **tx)
    .await?;
    r.run_id = Some(run_id);

    // Upserts that touch an existing row only when it learns something: a re-import of the
    // same data writes nothing.
    r.nodes_new = count_inserted(
        tx,
        "WITH ids AS (SELECT node_1 AS id FROM stage_channels UNION SELECT node_2 FROM stage_channels \
         UNION SELECT node_id FROM stage_nodes), \
         up AS (INSERT INTO nodes (node_id, first_seen, last_seen) \
         SELECT id, to_timestamp($1), to_timestamp($1) FROM ids \
         ON CONFLICT (node_id) DO UPDATE SET first_seen = LEAST(nodes.first_seen, EXCLUDED.first_seen), \
         last_seen = GREATEST(nodes.last_seen, EXCLUDED.last_seen) \
         WHERE nodes.first_seen > EXCLUDED.first_seen OR nodes.last_seen < EXCLUDED.last_seen \
         RETURNING (xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted) FROM up",
        t,
    )
    .await?;
    r.channels_reopened = exec(
        tx,
        "UPDATE channels SET closed_at = NULL FROM (SELECT DISTINCT scid FROM stage_channels) s \
         WHERE channels.scid = s.scid AND channels.closed_at < to_timestamp($1) \
         AND channels.close_height IS NULL",
        t,
    )
    .await?;
    r.channels_new = count_inserted(
        tx,
        "WITH up AS (INSERT INTO channels (scid, node_1, node_2, capacity_sat, funding_outpoint, \
         first_seen, last_seen) \
         SELECT DISTINCT ON (scid) scid, node_1, node_2, capacity_sat, funding_outpoint, \
         to_timestamp($1), to_timestamp($1) FROM stage_channels ORDER BY scid \
         ON CONFLICT (scid) DO UPDATE SET first_seen = LEAST(channels.first_seen, EXCLUDED.first_seen), \
         last_seen = GREATEST(channels.last_seen, EXCLUDED.last_seen), \
         funding_outpoint = COALESCE(channels.funding_outpoint, EXCLUDED.funding_outpoint) \
         WHERE channels.first_seen > EXCLUDED.first_seen OR channels.last_seen < EXCLUDED.last_seen \
         OR (channels.funding_outpoint IS NULL AND EXCLUDED.funding_outpoint IS NOT NULL) \
         RETURNING (xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted) FROM up",
        t,
    )
    .await?;
    if r.channel_entries > 0 {
        r.channels_closed = exec(
            tx,
            "UPDATE channels SET closed_at = to_timestamp($1) WHERE closed_at IS NULL \
             AND last_seen < to_timestamp($1) \
             AND NOT EXISTS (SELECT 1 FROM stage_channels s WHERE s.scid = channels.scid)",
            t,
        )
        .await?;
    }

    r.fee_changes = sqlx::query_scalar::<_, i64>(
        "WITH latest AS (SELECT DISTINCT ON (scid, direction) * FROM stage_updates \
         ORDER BY scid, direction, timestamp DESC), \
         cur AS (SELECT DISTINCT ON (u.scid, u.direction) u.scid, u.direction, u.timestamp, \
         u.fee_base_msat, u.fee_ppm FROM channel_updates u JOIN latest l USING (scid, direction) \
         ORDER BY u.scid, u.direction, u.timestamp DESC) \
         SELECT count(*) FROM latest l JOIN cur c USING (scid, direction) \
         WHERE l.timestamp > c.timestamp \
         AND (l.fee_base_msat, l.fee_ppm) IS DISTINCT FROM (c.fee_base_msat, c.fee_ppm)",
    )
    .fetch_one(&mut **tx)
    .await? as u64;
    r.updates_new = sqlx::query(
        "INSERT INTO channel_updates (scid, direction, timestamp, message_flags, channel_flags, \
         disabled, cltv_delta, htlc_min_msat, htlc_max_msat, fee_base_msat, fee_ppm, received_at, \
         source, import_run_id) \
         SELECT scid, direction, timestamp, message_flags, channel_flags, disabled, cltv_delta, \
         htlc_min_msat, htlc_max_msat, fee_base_msat, fee_ppm, now(), 'import', $1 \
         FROM stage_updates ON CONFLICT (scid, direction, timestamp) DO NOTHING",
    )
    .bind(run_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    r.announcements_new = sqlx::query(
        "INSERT INTO node_announcements (node_id, timestamp, alias, color, addresses, features, \
         received_at, source, import_run_id) \
         SELECT node_id, timestamp, alias, color, addresses, features, now(), 'import', $1 \
         FROM stage_nodes WHERE timestamp IS NOT NULL \
         ON CONFLICT (node_id, timestamp) DO NOTHING",
    )
    .bind(run_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(())
}

async fn count_inserted(tx: &mut Transaction<'_, Postgres>, sql: &str, t: i64) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(sql).bind(t).fetch_one(&mut **tx).await?;
    Ok(n as u64)
}

async fn exec(tx: &mut Transaction<'_, Postgres>, sql: &str, t: i64) -> Result<u64> {
    Ok(sqlx::query(sql)
        .bind(t)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}
