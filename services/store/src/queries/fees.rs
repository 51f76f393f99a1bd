//! `fee_changes` (the fee controller's applied changes, kept forever) and the per-channel
//! forwarding activity the controller reads from the books.

use serde::Serialize;
use sqlx::PgExecutor;
use switchyard_graph::{NodeId, Scid};

use crate::error::{Error, Result};
use crate::queries::channels::node_id;

/// How a controller run was started (the `mode` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeeMode {
    /// Plans only: nothing is announced (and, today, nothing is recorded).
    DryRun,
    /// Announces the plan's changes through the node's policy path.
    Apply,
}

impl FeeMode {
    /// The stored spelling: `dry-run` or `apply`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeeMode::DryRun => "dry-run",
            FeeMode::Apply => "apply",
        }
    }
}

/// One change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeeChange {
    /// The channel.
    pub scid: Scid,
    /// The direction's sender: our node.
    pub from: NodeId,
    /// Base fee before the change, msat.
    pub old_base_fee_msat: u32,
    /// Proportional fee before the change, ppm.
    pub old_fee_ppm: u32,
    /// Base fee after the change, msat.
    pub new_base_fee_msat: u32,
    /// Proportional fee after the change, ppm.
    pub new_fee_ppm: u32,
    /// The strategy that proposed it.
    pub strategy: String,
    /// The rules-file section that chose the strategy.
    pub rule: String,
    /// Why, in words.
    pub reason: String,
    /// Revenue the plan expected on this direction over its demand, msat.
    pub expected_revenue_msat: u64,
    /// How the run was started.
    pub mode: FeeMode,
    /// Whether the node accepted the policy.
    pub applied: bool,
}

/// A recorded change (`GET /v1/fees/history`'s rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeChangeRow {
    /// Row id (increasing).
    pub id: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// The channel.
    pub scid: Scid,
    /// The direction's sender: our node.
    pub from: NodeId,
    /// Base fee before the change, msat.
    pub old_base_fee_msat: i64,
    /// Proportional fee before the change, ppm.
    pub old_fee_ppm: i64,
    /// Base fee after the change, msat.
    pub new_base_fee_msat: i64,
    /// Proportional fee after the change, ppm.
    pub new_fee_ppm: i64,
    /// The strategy that proposed it.
    pub strategy: String,
    /// The rules-file section that chose the strategy.
    pub rule: String,
    /// Why, in words.
    pub reason: String,
    /// Revenue the plan expected on this direction over its demand, msat.
    pub expected_revenue_msat: i64,
    /// `apply` (or `dry-run`).
    pub mode: String,
    /// Whether the node accepted the policy.
    pub applied: bool,
}

#[derive(sqlx::FromRow)]
struct StoredFeeChange {
    id: i64,
    at_ms: i64,
    scid: i64,
    from_node: Vec<u8>,
    old_base_fee_msat: i64,
    old_fee_ppm: i64,
    new_base_fee_msat: i64,
    new_fee_ppm: i64,
    strategy: String,
    rule: String,
    reason: String,
    expected_revenue_msat: i64,
    mode: String,
    applied: bool,
}

impl TryFrom<StoredFeeChange> for FeeChangeRow {
    type Error = Error;

    fn try_from(r: StoredFeeChange) -> Result<Self> {
        Ok(FeeChangeRow {
            id: r.id,
            at_ms: r.at_ms,
            scid: Scid::from_i64(r.scid),
            from: node_id("fee_changes", &r.from_node)?,
            old_base_fee_msat: r.old_base_fee_msat,
            old_fee_ppm: r.old_fee_ppm,
            new_base_fee_msat: r.new_base_fee_msat,
            new_fee_ppm: r.new_fee_ppm,
            strategy: r.strategy,
            rule: r.rule,
            reason: r.reason,
            expected_revenue_msat: r.expected_revenue_msat,
            mode: r.mode,
            applied: r.applied,
        })
    }
}

/// Records one change; returns its id.
pub async fn record_change(db: impl PgExecutor<'_>, c: &NewFeeChange) -> Result<i64> {
    let id: (i64,) = sqlx::query_as(
        "INSERT INTO fee_changes (scid, from_node, old_base_fee_msat, old_fee_ppm, \
         new_base_fee_msat, new_fee_ppm, strategy, rule, reason, expected_revenue_msat, mode, \
         applied) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(c.scid.to_i64())
    .bind(c.from.as_bytes().as_slice())
    .bind(i64::from(c.old_base_fee_msat))
    .bind(i64::from(c.old_fee_ppm))
    .bind(i64::from(c.new_base_fee_msat))
    .bind(i64::from(c.new_fee_ppm))
    .bind(&c.strategy)
    .bind(&c.rule)
    .bind(&c.reason)
    .bind(i64::try_from(c.expected_revenue_msat).unwrap_or(i64::MAX))
    .bind(c.mode.as_str())
    .bind(c.applied)
    .fetch_one(db)
    .await?;
    Ok(id.0)
}

/// Which changes `GET /v1/fees/history` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryFilter {
    /// Only this channel.
    pub scid: Option<Scid>,
    /// Unix seconds: only changes at or after it.
    pub since: Option<i64>,
    /// Most rows.
    pub limit: i64,
}

/// Recorded changes, newest first, at most `filter.limit`.
pub async fn history(db: impl PgExecutor<'_>, filter: HistoryFilter) -> Result<Vec<FeeChangeRow>> {
    let rows: Vec<StoredFeeChange> = sqlx::query_as(
        "SELECT id, (extract(epoch FROM at) * 1000)::bigint AS at_ms, scid, from_node, \
         old_base_fee_msat, old_fee_ppm, new_base_fee_msat, new_fee_ppm, strategy, rule, reason, \
         expected_revenue_msat, mode, applied FROM fee_changes \
         WHERE ($1::bigint IS NULL OR scid = $1) \
         AND ($2::double precision IS NULL OR at >= to_timestamp($2)) \
         ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(filter.scid.map(Scid::to_i64))
    .bind(filter.since.map(|s| s as f64))
    .bind(filter.limit.max(0))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(FeeChangeRow::try_from).collect()
}

/// The directions from `from` that had a change applied in the last `within_secs` seconds:
/// the controller changes each at most once per interval (this holds across restarts).
pub async fn recently_changed(
    db: impl PgExecutor<'_>,
    from: &NodeId,
    within_secs: i64,
) -> Result<Vec<Scid>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT scid FROM fee_changes WHERE from_node = $1 AND applied \
         AND at > now() - make_interval(secs => $2::double precision) ORDER BY scid",
    )
    .bind(from.as_bytes().as_slice())
    .bind(within_secs.max(0) as f64)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| Scid::from_i64(r.0)).collect())
}

/// Settled forwards out of one channel over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChannelActivity {
    /// The outgoing channel.
    pub scid: Scid,
    /// Settled forwards out of it.
    pub forwards: u64,
    /// Their outgoing amount, msat.
    pub volume_msat: u64,
}

/// Settled forwards per outgoing channel (by scid) in the last `within_secs` seconds.
pub async fn activity(db: impl PgExecutor<'_>, within_secs: i64) -> Result<Vec<ChannelActivity>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT out_scid, count(*)::bigint, coalesce(sum(amount_out_msat), 0)::bigint \
         FROM forwards WHERE outcome = 'settled' AND out_scid IS NOT NULL \
         AND resolved_at > now() - make_interval(secs => $1::double precision) \
         GROUP BY 1 ORDER BY 1",
    )
    .bind(within_secs.max(0) as f64)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(scid, n, v)| ChannelActivity {
            scid: Scid::from_i64(scid),
            forwards: u64::try_from(n).unwrap_or(0),
            volume_msat: u64::try_from(v).unwrap_or(0),
        })
        .collect())
}
