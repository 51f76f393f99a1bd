//! The commands over time: `analyze --backfill` (analytics of each past day into the
//! database), `analyze --history NODE` (one node's stored series) and `diff` (what changed
//! between two instants). The work is in `switchyard_api::backfill` and the store's queries.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use switchyard_graph::analytics::AnalyticsConfig;
use switchyard_store::queries::analytics::{node_series, SeriesKind};
use switchyard_store::queries::diff::{diff_range, PolicyChange};
use switchyard_store::queries::history::{Day, SeriesRange, Step};

use crate::cli::{AnalyzeArgs, DiffArgs, HistoryKind};
use crate::run::{parse_time, unix_now, Database};

fn parse_day(flag: &str, s: Option<&str>) -> Result<Option<Day>> {
    s.map(|s| s.parse::<Day>().with_context(|| format!("{flag} {s:?}")))
        .transpose()
}

/// `switchyard analyze --backfill`: every metric of each day from `--from` to `--to`,
/// stored; progress on stderr, a summary on stdout.
pub async fn backfill(args: &AnalyzeArgs, config: AnalyticsConfig) -> Result<ExitCode> {
    let from = parse_day("--from", args.from.as_deref())?.unwrap_or(Day(0));
    let to = parse_day("--to", args.to.as_deref())?.unwrap_or(Day(i32::MAX / 2));
    let db = Database::open(&args.db).await?;
    let progress = |d: &switchyard_api::backfill::DayDone| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "[{}/{}] {}: {} active nodes, graph read in {:.2}s, computed in {:.2}s",
            d.done, d.total, d.day, d.active_nodes, d.load_seconds, d.compute_seconds
        );
    };
    let result =
        switchyard_api::backfill::backfill(&db.store, &config, from, to, unix_now(), progress)
            .await;
    db.close().await;
    let report = result.context("backfill stopped (the days stored so far stay stored)")?;
    match (report.from, report.to) {
        (Some(f), Some(t)) => println!(
            "{f}..{t}: {} days computed, {} already stored; {:.1}s ({} msat)",
            report.days_computed, report.days_skipped, report.seconds, config.amount_msat
        ),
        _ => println!("no day with data in the range (days not over yet are left out)"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `switchyard analyze --history NODE`: the node's stored metrics, oldest first.
pub async fn node_history(args: &AnalyzeArgs, node: &str, amount_msat: u64) -> Result<ExitCode> {
    let id: switchyard_graph::NodeId = node
        .parse()
        .with_context(|| format!("--history {node:?}"))?;
    let kind = match args.kind {
        HistoryKind::Day => SeriesKind::Day,
        HistoryKind::Version => SeriesKind::Version,
    };
    let (from, to) = (
        parse_day("--from", args.from.as_deref())?,
        parse_day("--to", args.to.as_deref())?,
    );
    let db = Database::open(&args.db).await?;
    let result = async {
        let to = match to {
            Some(t) => t,
            None => {
                switchyard_store::queries::analytics::newest_run(db.store.pool(), kind, amount_msat)
                    .await?
                    .map(Day::from_unix)
                    .unwrap_or_else(|| Day::from_unix(unix_now()))
            }
        };
        let from = from.unwrap_or(to.plus(-29));
        SeriesRange::new(from, to, Step::Day)?;
        anyhow::Ok(node_series(db.store.pool(), &id, kind, amount_msat, from, to).await?)
    }
    .await;
    db.close().await;
    let series = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&series)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:>6} {:>6} {:>9} {:>16} {:>12} {:>9}",
        "as_of", "rank", "of", "score", "betweenness_fee", "pagerank", "channels"
    );
    for p in &series.points {
        println!(
            "{:<20} {:>6} {:>6} {:>9.4} {:>16.1} {:>12.3e} {:>9}",
            switchyard_store::time::Time(p.as_of).to_string(),
            p.rank.position,
            p.active_nodes,
            p.rank.score,
            p.betweenness.fee.unwrap_or(f64::NAN),
            p.pagerank,
            p.channels
        );
    }
    println!(
        "{} of {} runs ({:?}, {} msat) from {} to {} have {id}",
        series.points.len(),
        series.runs,
        series.kind,
        amount_msat,
        series.from,
        series.to
    );
    Ok(ExitCode::SUCCESS)
}

fn policy_line(p: &PolicyChange) -> String {
    let fees = |s: Option<&switchyard_store::queries::diff::PolicyState>| match s {
        Some(s) => format!(
            "{}+{}ppm{}",
            s.fee_base_msat,
            s.fee_ppm,
            if s.disabled { " (disabled)" } else { "" }
        ),
        None => "none".to_owned(),
    };
    format!(
        "{}/{} ({} sat): {} -> {}",
        p.scid,
        p.direction,
        p.capacity_sat,
        fees(p.from.as_ref()),
        fees(Some(&p.to))
    )
}

/// `switchyard diff`: the network as of `--to` compared with the network as of `--from`.
pub async fn diff(args: DiffArgs) -> Result<ExitCode> {
    let from = args
        .from
        .as_deref()
        .map(|s| parse_time("--from", s))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|s| parse_time("--to", s))
        .transpose()?;
    let db = Database::open(&args.db).await?;
    let result = async {
        let bounds = switchyard_store::queries::asof::bounds(db.store.pool()).await?;
        let (from, to) = diff_range(from, to, unix_now(), bounds)?;
        anyhow::Ok(
            switchyard_store::queries::diff::diff(db.store.pool(), from, to, args.limit).await?,
        )
    }
    .await;
    db.close().await;
    let d = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &d.changes;
    println!("from {} to {}", d.from, d.to);
    println!(
        "channels: {} -> {} (+{} opened, -{} closed)",
        c.channels_at_from, c.channels_at_to, c.channels_opened, c.channels_closed
    );
    println!(
        "capacity: {} -> {} sat (+{} added, -{} removed)",
        c.capacity_at_from_sat, c.capacity_at_to_sat, c.capacity_added_sat, c.capacity_removed_sat
    );
    println!(
        "nodes with channels: {} -> {} (+{} appeared, -{} gone)",
        c.nodes_at_from, c.nodes_at_to, c.nodes_appeared, c.nodes_disappeared
    );
    let p = &d.policies;
    println!(
        "policies changed: {} (fee up {}, fee down {}, disabled {}, enabled {}, limits {}, first policies {})",
        p.changed, p.fee_increased, p.fee_decreased, p.disabled, p.enabled, p.limits_changed, p.first_policies
    );
    for (title, list) in [("largest opened", &c.opened), ("largest closed", &c.closed)] {
        for ch in list {
            println!("  {title}: {} {} sat", ch.scid, ch.capacity_sat);
        }
    }
    for change in &p.largest {
        println!("  policy: {}", policy_line(change));
    }
    Ok(ExitCode::SUCCESS)
}
