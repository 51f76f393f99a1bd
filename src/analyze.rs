//! `switchyard analyze`: network analytics of a graph from files or from the store, printed
//! as a table or as the JSON of `GET /v1/analytics/centrality`.

use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::json;
use switchyard_graph::analytics::{
    ActiveGraph, AnalyticsConfig, Metric, NetworkAnalytics, WeightKind, Weighting,
};
use switchyard_graph::{NodeId, Snapshot};

use crate::cli::{AnalyzeArgs, AnalyzeMetric, AnalyzeWeight};
use crate::run::Database;

/// The metric asked for, and a configuration that computes it (and nothing it does not
/// need: one weighting, or fee for the rank, whose centrality component is fee betweenness).
fn plan(args: &AnalyzeArgs) -> Result<(Metric, AnalyticsConfig)> {
    if args.amount_sat == 0 {
        anyhow::bail!("--amount-sat must be at least 1");
    }
    if args.limit == 0 {
        anyhow::bail!("--limit must be at least 1");
    }
    let amount_msat = args
        .amount_sat
        .checked_mul(1000)
        .context("--amount-sat is too large")?;
    let kind = match args.weight {
        AnalyzeWeight::Hops => WeightKind::Hops,
        AnalyzeWeight::Fee => WeightKind::Fee,
        AnalyzeWeight::Probability => WeightKind::Probability,
    };
    let weighting = |k: WeightKind| match k {
        WeightKind::Hops => Weighting::Hops,
        WeightKind::Fee => Weighting::Fee { amount_msat },
        WeightKind::Probability => Weighting::Probability { amount_msat },
    };
    let (metric, weightings) = match args.metric {
        AnalyzeMetric::Betweenness => (Metric::Betweenness(kind), vec![weighting(kind)]),
        AnalyzeMetric::Closeness => (Metric::ClosenessIn(kind), vec![weighting(kind)]),
        AnalyzeMetric::ClosenessOut => (Metric::ClosenessOut(kind), vec![weighting(kind)]),
        AnalyzeMetric::Pagerank => (Metric::PageRank, Vec::new()),
        AnalyzeMetric::PagerankCapacity => (Metric::PageRankCapacity, Vec::new()),
        AnalyzeMetric::Rank => (Metric::Rank, vec![weighting(WeightKind::Fee)]),
    };
    Ok((
        metric,
        AnalyticsConfig {
            weightings,
            ..AnalyticsConfig::for_amount(amount_msat)
        },
    ))
}

/// Each node's uptime from the gossip history (a fraction in `[0, 1]`), for the rank.
type Uptime = std::collections::HashMap<NodeId, f64>;

/// The graph of snapshot files (channels and nodes; CLN or LND JSON, plain, .xz or .gz),
/// read in order on a blocking thread (also `switchyard fees --file`).
pub(crate) async fn read_graph_files(files: Vec<std::path::PathBuf>) -> Result<Snapshot> {
    tracing::info!(files = files.len(), "reading graph files");
    tokio::task::spawn_blocking(move || -> Result<Snapshot> {
        let mut b = switchyard_graph::GraphBuilder::default();
        for f in &files {
            switchyard_graph::load::read_file(f, |r| {
                b.add(r);
                true
            })
            .with_context(|| format!("reading {}", f.display()))?;
        }
        Ok(b.build())
    })
    .await
    .context("graph reader thread")?
}

/// The graph to analyse: from `--file`s, or from the store (now or as of `at`) with its
/// version and each node's uptime (also as of `at`).
async fn load(
    args: &AnalyzeArgs,
    at: Option<switchyard_store::time::Time>,
) -> Result<(Snapshot, Option<i64>, Option<Uptime>)> {
    if !args.files.is_empty() {
        let snapshot = read_graph_files(args.files.clone()).await?;
        return Ok((snapshot, None, None));
    }
    tracing::info!("loading the graph from the database");
    let db = Database::open(&args.db).await?;
    let loaded = async {
        let (snapshot, version) = crate::run::load_graph(&db, at).await?;
        let uptime = switchyard_store::queries::history::node_uptime_until(db.store.pool(), at)
            .await
            .context("reading node uptime from the gossip history")?;
        anyhow::Ok((snapshot, version, uptime))
    }
    .await;
    db.close().await;
    let (snapshot, version, uptime) = loaded?;
    tracing::info!(
        observations = uptime.points.len(),
        nodes = uptime.by_node.len(),
        "uptime from gossip history"
    );
    let uptime = (!uptime.by_node.is_empty()).then_some(uptime.by_node);
    Ok((snapshot, Some(version), uptime))
}

/// Every active node with its value of `metric`, highest first, ties by node id (the order
/// of [`NetworkAnalytics::top`]).
///
/// A betweenness or closeness asks for one kernel: it runs alone on the active graph. Going
/// through [`NetworkAnalytics::compute`] would also run the weighting's other two all-pairs
/// searches (closeness in and out, or betweenness), both PageRanks, the components, the
/// diameter and the core numbers, which the served analytics and the backfill store but this
/// command does not print (on the 2026 graph about as long as the asked kernel again).
fn ranked(
    g: &Snapshot,
    metric: Metric,
    config: &AnalyticsConfig,
    uptime: Option<&Uptime>,
) -> Result<Vec<(NodeId, f64)>> {
    let weighting = |kind: WeightKind| {
        config.weightings.iter().copied().find(|w| {
            kind == match w {
                Weighting::Hops => WeightKind::Hops,
                Weighting::Fee { .. } => WeightKind::Fee,
                Weighting::Probability { .. } => WeightKind::Probability,
            }
        })
    };
    let single = match metric {
        Metric::Betweenness(k) => weighting(k).map(|w| (w, None)),
        Metric::ClosenessIn(k) => weighting(k).map(|w| (w, Some(false))),
        Metric::ClosenessOut(k) => weighting(k).map(|w| (w, Some(true))),
        _ => None,
    };
    let Some((w, closeness)) = single else {
        let analytics = NetworkAnalytics::compute_with_uptime(g, config, uptime)
            .context("analytics configuration")?;
        return Ok(analytics.top(metric, usize::MAX)?);
    };
    let ag = ActiveGraph::new(g);
    let values = match closeness {
        None => ag.betweenness(g, w)?.node,
        Some(outgoing) => ag.closeness(g, w, outgoing)?,
    };
    let mut all: Vec<_> = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (g.node(ag.snapshot_node(i)).id, v))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(all)
}

pub async fn analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    let (metric, config) = plan(&args)?;
    if args.backfill {
        // Every metric of each day, so any series can be read back.
        let config = AnalyticsConfig::for_amount(config.amount_msat);
        return crate::history::backfill(&args, config).await;
    }
    if let Some(node) = &args.history {
        return crate::history::node_history(&args, node, config.amount_msat).await;
    }
    let at = args
        .at
        .as_deref()
        .map(|s| crate::run::parse_time("--at", s))
        .transpose()?;
    let started = Instant::now();
    let (snapshot, version, uptime) = load(&args, at).await?;
    if snapshot.channel_count() == 0 {
        anyhow::bail!("the graph has no channels: nothing to analyse (import a snapshot first, or pass --file)");
    }
    tracing::info!(
        nodes = snapshot.node_count(),
        channels = snapshot.channel_count(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "graph loaded; computing {metric:?}"
    );
    let computing = Instant::now();
    let amount_msat = config.amount_msat;
    let (all, snapshot) = tokio::task::spawn_blocking(move || {
        ranked(&snapshot, metric, &config, uptime.as_ref()).map(|all| (all, snapshot))
    })
    .await
    .context("analytics thread")??;
    let seconds = computing.elapsed().as_secs_f64();
    tracing::info!(
        active_nodes = all.len(),
        seconds = format!("{seconds:.2}"),
        "computed"
    );
    let page = &all[..args.limit.min(all.len())];
    if args.json {
        // The shape of `GET /v1/analytics/centrality`.
        let computed_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let nodes: Vec<_> = page
            .iter()
            .enumerate()
            .map(|(i, (id, value))| json!({"position": i + 1, "node_id": id, "value": value}))
            .collect();
        let (name, weight) = switchyard_api::metric_label(metric);
        let body = json!({
            "graph_version": version,
            "computed_at": computed_at,
            "amount_msat": amount_msat,
            "metric": name,
            "weight": weight,
            "total": all.len(),
            "nodes": nodes,
            "next_cursor": (page.len() < all.len()).then_some(page.len()),
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    let alias = |id: &switchyard_graph::NodeId| {
        snapshot
            .node_idx(id)
            .and_then(|n| snapshot.node(n).alias.as_deref().map(str::to_owned))
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(24)
            .collect::<String>()
    };
    let (name, weight) = switchyard_api::metric_label(metric);
    let heading = match weight {
        Some(w) => format!(
            "{name}({})",
            serde_json::to_value(w)?.as_str().unwrap_or("")
        ),
        None => name.to_owned(),
    };
    println!("{:>5}  {:>16}  {:<24}  node_id", "#", heading, "alias");
    for (i, (id, value)) in page.iter().enumerate() {
        println!("{:>5}  {:>16.6}  {:<24}  {id}", i + 1, value, alias(id));
    }
    println!(
        "{} of {} active nodes; amount {} msat; computed in {seconds:.2}s",
        page.len(),
        all.len(),
        amount_msat
    );
    Ok(ExitCode::SUCCESS)
}
