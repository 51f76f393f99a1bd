//! `analytics_runs` and `analytics_node_metrics`: network analytics kept over time, per
//! computed graph version and per day of history, and one node's series read back.
//!
//! The store does not compute analytics: it takes a finished
//! [`NetworkAnalytics`](switchyard_graph::analytics::NetworkAnalytics) and keeps each active
//! node's headline metrics. A run and its rows are written in one transaction.

use serde::Serialize;
use sqlx::{PgExecutor, PgPool};
use switchyard_graph::analytics::{NetworkAnalytics, Weighting};
use switchyard_graph::NodeId;

use crate::error::{Error, Result};
use crate::timeline::Day;

/// What a run describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RunKind {
    /// The served graph of this store graph version.
    Version {
        /// The store's graph version.
        graph_version: i64,
    },
    /// The graph as of the last second of this day.
    Day {
        /// The day.
        day: Day,
    },
}

/// Which runs a series reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// One point per day of history (backfilled).
    #[default]
    Day,
    /// One point per computed graph version (recent ones; older versions are pruned).
    Version,
}

impl SeriesKind {
    fn as_str(self) -> &'static str {
        match self {
            SeriesKind::Day => "day",
            SeriesKind::Version => "version",
        }
    }
}

/// One computation to store.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo {
    /// Which graph was analysed.
    pub kind: RunKind,
    /// The instant the graph describes (unix seconds).
    pub as_of: i64,
    /// Wall time of the computation.
    pub seconds: f64,
}

fn weighting_slot(w: &Weighting) -> usize {
    match w {
        Weighting::Hops => 0,
        Weighting::Fee { .. } => 1,
        Weighting::Probability { .. } => 2,
    }
}

/// Stores `analytics` as one run; returns its id, or `None` when a run for the same day or
/// graph version and amount is already stored (that one is kept).
pub async fn store_run(
    db: &PgPool,
    run: &RunInfo,
    analytics: &NetworkAnalytics,
) -> Result<Option<i64>> {
    let a = analytics;
    let n = a.nodes.len();
    // Betweenness and closeness by weighting slot (hops, fee, probability); None: not computed.
    let mut betweenness: [Option<&[f64]>; 3] = [None; 3];
    let mut closeness: [Option<&[f64]>; 3] = [None; 3];
    for m in &a.weighted {
        let s = weighting_slot(&m.weighting);
        betweenness[s] = Some(&m.betweenness);
        closeness[s] = Some(&m.closeness_in);
    }
    let column = |v: Option<&[f64]>| -> Vec<Option<f64>> {
        (0..n).map(|i| v.and_then(|v| v.get(i).copied())).collect()
    };
    let (kind, graph_version, day) = match run.kind {
        RunKind::Version { graph_version } => ("version", Some(graph_version), None),
        RunKind::Day { day } => ("day", None, Some(day.0)),
    };
    let mut tx = db.begin().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO analytics_runs (kind, graph_version, day, as_of, amount_msat, seconds, \
         nodes, channels) VALUES ($1, $2, DATE '1970-01-01' + $3::integer, $4, $5, $6, $7, $8) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(kind)
    .bind(graph_version)
    .bind(day)
    .bind(run.as_of)
    .bind(i64::try_from(a.config.amount_msat).unwrap_or(i64::MAX))
    .bind(run.seconds)
    .bind(n as i32)
    .bind(a.channels.len() as i32)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(run_id) = inserted else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO analytics_node_metrics (node_id, run_id, betweenness_hops, betweenness_fee, \
         betweenness_probability, closeness_hops, closeness_fee, closeness_probability, pagerank, \
         pagerank_capacity, rank_score, rank_position, rank_percentile, capacity_sat, channels) \
         SELECT id, $2, bh, bf, bp, ch, cf, cp, pr, prc, rs, rp, rpc, cap, chans FROM UNNEST( \
         $1::bytea[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], \
         $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::integer[], $13::float8[], \
         $14::bigint[], $15::integer[]) \
         AS t(id, bh, bf, bp, ch, cf, cp, pr, prc, rs, rp, rpc, cap, chans)",
    )
    .bind(a.nodes.iter().map(|id| id.0.to_vec()).collect::<Vec<_>>())
    .bind(run_id)
    .bind(column(betweenness[0]))
    .bind(column(betweenness[1]))
    .bind(column(betweenness[2]))
    .bind(column(closeness[0]))
    .bind(column(closeness[1]))
    .bind(column(closeness[2]))
    .bind(&a.pagerank)
    .bind(&a.pagerank_capacity)
    .bind(a.rank.iter().map(|r| r.score).collect::<Vec<_>>())
    .bind(
        a.rank
            .iter()
            .map(|r| i32::try_from(r.position).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(a.rank.iter().map(|r| r.percentile).collect::<Vec<_>>())
    .bind(
        a.node_capacity_sat
            .iter()
            .map(|&c| i64::try_from(c).unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(
        a.node_channels
            .iter()
            .map(|&c| i32::try_from(c).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(run_id))
}

/// Deletes all but the newest `keep` version runs at `amount_msat` (their rows go with
/// them); day runs are kept. Returns how many runs were deleted.
pub async fn prune_versions(db: impl PgExecutor<'_>, amount_msat: u64, keep: u32) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM analytics_runs WHERE kind = 'version' AND amount_msat = $1 AND id NOT IN \
         (SELECT id FROM analytics_runs WHERE kind = 'version' AND amount_msat = $1 \
          ORDER BY graph_version DESC LIMIT $2)",
    )
    .bind(i64::try_from(amount_msat).unwrap_or(i64::MAX))
    .bind(i64::from(keep))
    .execute(db)
    .await?
    .rows_affected())
}

/// The days of `from..=to` with a stored day run at `amount_msat`.
pub async fn stored_days(db: &PgPool, amount_msat: u64, from: Day, to: Day) -> Result<Vec<Day>> {
    let days: Vec<i32> = sqlx::query_scalar(
        "SELECT (day - DATE '1970-01-01')::integer FROM analytics_runs WHERE kind = 'day' \
         AND amount_msat = $1 AND day BETWEEN DATE '1970-01-01' + $2::integer \
         AND DATE '1970-01-01' + $3::integer ORDER BY day",
    )
    .bind(i64::try_from(amount_msat).unwrap_or(i64::MAX))
    .bind(from.0)
    .bind(to.0)
    .fetch_all(db)
    .await?;
    Ok(days.into_iter().map(Day).collect())
}

/// The instant (`as_of`) of the newest stored run of `kind` at `amount_msat`.
pub async fn newest_run(db: &PgPool, kind: SeriesKind, amount_msat: u64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT max(as_of) FROM analytics_runs WHERE kind = $1 AND amount_msat = $2",
    )
    .bind(kind.as_str())
    .bind(i64::try_from(amount_msat).unwrap_or(i64::MAX))
    .fetch_one(db)
    .await?)
}

/// A metric under each weighting (`null` where the run did not compute it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ByWeighting {
    /// Hop-count weighting.
    pub hops: Option<f64>,
    /// Fee weighting.
    pub fee: Option<f64>,
    /// Success-probability weighting.
    pub probability: Option<f64>,
}

/// The composite rank of a node in a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankPoint {
    /// Weighted mean of the components, in `[0, 1]`.
    pub score: f64,
    /// 1 = best.
    pub position: i32,
    /// Percentile of the score among active nodes.
    pub percentile: f64,
}

/// One node's metrics in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePoint {
    #[serde(flatten)]
    /// Which graph the point is of.
    pub kind: RunKind,
    /// Unix seconds: the instant the analysed graph describes.
    pub as_of: i64,
    /// Unix seconds.
    pub computed_at: i64,
    /// Active nodes of the run (positions are out of this many).
    pub active_nodes: i32,
    /// Unnormalized betweenness.
    pub betweenness: ByWeighting,
    /// Incoming closeness.
    pub closeness: ByWeighting,
    /// PageRank.
    pub pagerank: f64,
    /// Capacity-weighted PageRank.
    pub pagerank_capacity: f64,
    /// The composite rank.
    pub rank: RankPoint,
    /// Capacity (sat) of its enabled channels.
    pub capacity_sat: i64,
    /// Its enabled channels.
    pub channels: i32,
}

/// A node's series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSeries {
    /// The node.
    pub node_id: NodeId,
    /// Day or version points.
    pub kind: SeriesKind,
    /// The payment amount (msat) of the runs read.
    pub amount_msat: u64,
    /// The first day (or version time) included.
    pub from: Day,
    /// The last day (or version time) included.
    pub to: Day,
    /// Runs of this kind and amount in the range; a run without a point for the node did not
    /// have it as an active node.
    pub runs: i64,
    /// Oldest first.
    pub points: Vec<NodePoint>,
}

/// A row of [`node_series`]'s query.
#[derive(sqlx::FromRow)]
struct PointRow {
    kind: String,
    graph_version: Option<i64>,
    day: Option<i32>,
    as_of: i64,
    computed_at: i64,
    nodes: i32,
    betweenness_hops: Option<f64>,
    betweenness_fee: Option<f64>,
    betweenness_probability: Option<f64>,
    closeness_hops: Option<f64>,
    closeness_fee: Option<f64>,
    closeness_probability: Option<f64>,
    pagerank: f64,
    pagerank_capacity: f64,
    rank_score: f64,
    rank_position: i32,
    rank_percentile: f64,
    capacity_sat: i64,
    channels: i32,
}

/// The metrics of node `id` in the runs of `kind` at `amount_msat` whose graph describes an
/// instant of days `from..=to` (UTC), oldest first.
pub async fn node_series(
    db: &PgPool,
    id: &NodeId,
    kind: SeriesKind,
    amount_msat: u64,
    from: Day,
    to: Day,
) -> Result<NodeSeries> {
    let amount = i64::try_from(amount_msat).unwrap_or(i64::MAX);
    let (since, until) = (from.start(), to.end());
    let runs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM analytics_runs \
         WHERE kind = $1 AND amount_msat = $2 AND as_of >= $3 AND as_of < $4",
    )
    .bind(kind.as_str())
    .bind(amount)
    .bind(since)
    .bind(until)
    .fetch_one(db)
    .await?;
    let rows: Vec<PointRow> = sqlx::query_as(
        "SELECT r.kind, r.graph_version, (r.day - DATE '1970-01-01')::integer AS day, r.as_of, \
         extract(epoch FROM r.computed_at)::bigint AS computed_at, r.nodes, m.betweenness_hops, \
         m.betweenness_fee, m.betweenness_probability, m.closeness_hops, m.closeness_fee, \
         m.closeness_probability, m.pagerank, m.pagerank_capacity, m.rank_score, \
         m.rank_position, m.rank_percentile, m.capacity_sat, m.channels \
         FROM analytics_node_metrics m JOIN analytics_runs r ON r.id = m.run_id \
         WHERE m.node_id = $1 AND r.kind = $2 AND r.amount_msat = $3 AND r.as_of >= $4 \
         AND r.as_of < $5 ORDER BY r.as_of, r.id",
    )
    .bind(&id.0[..])
    .bind(kind.as_str())
    .bind(amount)
    .bind(since)
    .bind(until)
    .fetch_all(db)
    .await?;
    let points = rows.into_iter().map(point).collect::<Result<Vec<_>>>()?;
    Ok(NodeSeries {
        node_id: *id,
        kind,
        amount_msat,
        from,
        to,
        runs,
        points,
    })
}

fn point(r: PointRow) -> Result<NodePoint> {
    let kind = match (r.kind.as_str(), r.graph_version, r.day) {
        ("version", Some(graph_version), _) => RunKind::Version { graph_version },
        ("day", _, Some(day)) => RunKind::Day { day: Day(day) },
        _ => {
            return Err(Error::CorruptRow {
                table: "analytics_runs",
                detail: format!("kind {:?} without its key", r.kind),
            })
        }
    };
    Ok(NodePoint {
        kind,
        as_of: r.as_of,
        computed_at: r.computed_at,
        active_nodes: r.nodes,
        betweenness: ByWeighting {
            hops: r.betweenness_hops,
            fee: r.betweenness_fee,
            probability: r.betweenness_probability,
        },
        closeness: ByWeighting {
            hops: r.closeness_hops,
            fee: r.closeness_fee,
            probability: r.closeness_probability,
        },
        pagerank: r.pagerank,
        pagerank_capacity: r.pagerank_capacity,
        rank: RankPoint {
            score: r.rank_score,
            position: r.rank_position,
            percentile: r.rank_percentile,
        },
        capacity_sat: r.capacity_sat,
        channels: r.channels,
    })
}
