//! Analytics of past days, kept in the store's analytics history: what
//! `switchyard analyze --backfill` runs.
//!
//! Each day `D` is the graph as of its last second (`D.end() - 1`, the as-of rules of
//! `switchyard_store::queries::asof`) with the node uptime known by then, analysed by the
//! same [`NetworkAnalytics::compute_with_uptime`] the served analytics use, and stored as a day
//! run. Days one after another (each computation is parallel inside, on rayon: on two cores
//! that beats two days at once, which would only split the cores and double the memory), the
//! next day's graph read from the store while the current day computes. A day already stored
//! is skipped, so an interrupted backfill resumes where it stopped.

use std::collections::HashSet;
use std::time::Instant;

use switchyard_graph::analytics::{AnalyticsConfig, AnalyticsError, NetworkAnalytics};
use switchyard_graph::Snapshot;
use switchyard_store::queries::analytics::{self, RunInfo, RunKind};
use switchyard_store::queries::asof::ResolveError;
use switchyard_store::queries::history::{node_uptime_until, Day};
use switchyard_store::time::Time;
use switchyard_store::Store;

/// Why a backfill stopped. Days stored before the error stay stored.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// Reading a day's graph or writing its metrics failed.
    #[error(transparent)]
    Store(#[from] switchyard_store::Error),
    /// The analytics configuration is invalid.
    #[error("analytics configuration: {0}")]
    Analytics(#[from] AnalyticsError),
    /// The range is reversed.
    #[error("from ({from}) is after to ({to})")]
    Reversed {
        /// The first day asked for.
        from: Day,
        /// The last day asked for.
        to: Day,
    },
    /// The blocking computation thread failed (panicked or was cancelled).
    #[error("analytics worker: {0}")]
    Worker(String),
}

/// One day done.
#[derive(Debug, Clone, Copy)]
pub struct DayDone {
    /// The day computed.
    pub day: Day,
    /// Reading the day's graph and uptime from the store (overlapped with the previous
    /// day's computation).
    pub load_seconds: f64,
    /// The analytics computation.
    pub compute_seconds: f64,
    /// Active nodes of the day's graph.
    pub active_nodes: usize,
    /// Days computed so far in this backfill, and how many it computes in all.
    pub done: usize,
    /// Days to compute in all.
    pub total: usize,
}

/// What a backfill did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BackfillReport {
    /// The days asked for, cut to the days with data that are over (yesterday at the latest).
    pub from: Option<Day>,
    /// The last day backfilled (`None`: no day has ended with data).
    pub to: Option<Day>,
    /// Days computed.
    pub days_computed: usize,
    /// Days already stored (an earlier, interrupted or overlapping backfill).
    pub days_skipped: usize,
    /// Wall time (seconds) of the whole backfill.
    pub seconds: f64,
}

/// The instant a day run describes: the last second of the day.
pub fn day_instant(day: Day) -> Time {
    Time(day.end() - 1)
}

/// A day's graph and the uptime known by its end.
struct Prepared {
    day: Day,
    snapshot: Snapshot,
    uptime: Option<std::collections::HashMap<switchyard_graph::NodeId, f64>>,
    load_seconds: f64,
}

async fn prepare(store: &Store, day: Day, now: i64) -> Result<Prepared, BackfillError> {
    let started = Instant::now();
    let at = day_instant(day);
    let (snapshot, _, _) = switchyard_store::graph::load_resolved(store, at, now).await?;
    let uptime = node_uptime_until(store.pool(), Some(at)).await?;
    Ok(Prepared {
        day,
        snapshot,
        uptime: (!uptime.by_node.is_empty()).then_some(uptime.by_node),
        load_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Computes and stores the analytics of each day of `from..=to` not stored yet at the
/// configuration's amount (days before the first data, or not over yet at `now`, are left
/// out); calls `progress` after each day.
pub async fn backfill(
    store: &Store,
    config: &AnalyticsConfig,
    from: Day,
    to: Day,
    now: i64,
    progress: impl Fn(&DayDone),
) -> Result<BackfillReport, BackfillError> {
    if from > to {
        return Err(BackfillError::Reversed { from, to });
    }
    let started = Instant::now();
    let bounds = switchyard_store::queries::asof::bounds(store.pool())
        .await?
        .ok_or(switchyard_store::Error::AsOf(ResolveError::NoData))?;
    let first = from.max(Day::from_unix(bounds.first));
    let last = to
        .min(Day::from_unix(bounds.newest))
        .min(Day::from_unix(now).plus(-1));
    let mut report = BackfillReport::default();
    if first > last {
        return Ok(report);
    }
    (report.from, report.to) = (Some(first), Some(last));
    let stored: HashSet<Day> =
        analytics::stored_days(store.pool(), config.amount_msat, first, last)
            .await?
            .into_iter()
            .collect();
    let todo: Vec<Day> = (first.0..=last.0)
        .map(Day)
        .filter(|d| !stored.contains(d))
        .collect();
    report.days_skipped = (last.0 - first.0 + 1) as usize - todo.len();
    let mut next = match todo.first() {
        Some(&d) => Some(prepare(store, d, now).await?),
        None => None,
    };
    for (i, _) in todo.iter().enumerate() {
        let Some(day) = next.take() else { break };
        let config = config.clone();
        let job = tokio::task::spawn_blocking(move || {
            let computing = Instant::now();
            NetworkAnalytics::compute_with_uptime(&day.snapshot, &config, day.uptime.as_ref()).map(
                |a| {
                    (
                        a,
                        day.day,
                        day.load_seconds,
                        computing.elapsed().as_secs_f64(),
                    )
                },
            )
        });
        // Read the next day while this one computes.
        let following = async {
            match todo.get(i + 1) {
                Some(&d) => prepare(store, d, now).await.map(Some),
                None => Ok(None),
            }
        };
        let (computed, following) = tokio::join!(job, following);
        let (analytics, d, load_seconds, compute_seconds) =
            computed.map_err(|e| BackfillError::Worker(e.to_string()))??;
        let run = RunInfo {
            kind: RunKind::Day { day: d },
            as_of: day_instant(d).0,
            seconds: compute_seconds,
        };
        analytics::store_run(store.pool(), &run, &analytics).await?;
        report.days_computed += 1;
        progress(&DayDone {
            day: d,
            load_seconds,
            compute_seconds,
            active_nodes: analytics.nodes.len(),
            done: i + 1,
            total: todo.len(),
        });
        next = following?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
