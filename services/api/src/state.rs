//! Shared state of the handlers: the store, the served graph (swapped atomically, so readers
//! never wait for a rebuild) and the metrics.

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use axum::body::Bytes;
use switchyard_graph::analytics::{AnalyticsConfig, Metric, NetworkAnalytics, WeightKind};
use switchyard_graph::route::RoutingIndex;
use switchyard_graph::{NetworkStats, NodeId, NodeIdx, Snapshot};
use switchyard_store::queries::analytics::{RunInfo, RunKind};
use switchyard_store::time::Time;
use switchyard_store::Store;

use crate::metrics::Metrics;

/// Version runs of the analytics history kept by default (see
/// [`AppState::analytics_versions_kept`]).
pub const DEFAULT_ANALYTICS_VERSIONS_KEPT: u32 = 48;

/// A graph snapshot plus what the handlers derive from it once, not per request.
pub struct GraphView {
    /// The graph.
    pub snapshot: Arc<Snapshot>,
    /// The store's graph version it was built from.
    pub version: i64,
    /// Unix seconds.
    pub loaded_at: u64,
    /// Network statistics of the graph.
    pub stats: NetworkStats,
    /// `GET /v1/network/stats`, serialized once.
    pub stats_json: Bytes,
    /// Node capacity (sat), by node index.
    pub node_capacity_sat: Vec<u64>,
    /// Node indices by capacity, descending, ties by node id.
    pub by_capacity: Vec<NodeIdx>,
    /// Node indices by channel count, descending, ties by node id.
    pub by_channels: Vec<NodeIdx>,
    /// The pathfinding index over this snapshot.
    pub routing: RoutingIndex,
    /// The instant a past view describes (the graph as of `at`); `None` for the current graph.
    pub as_of: Option<Time>,
}

impl GraphView {
    /// Derives everything from `snapshot` (statistics, orderings, routing index) for graph
    /// version `version`: the view of the current graph.
    pub fn new(snapshot: Snapshot, version: i64) -> GraphView {
        GraphView::new_at(snapshot, version, None)
    }

    /// The view of `snapshot`, the graph as of `as_of` (`None`: the current graph).
    pub fn new_at(snapshot: Snapshot, version: i64, as_of: Option<Time>) -> GraphView {
        let stats = NetworkStats::compute(&snapshot);
        let loaded_at = unix_now();
        let mut body = serde_json::json!({
            "graph_version": version,
            "loaded_at": loaded_at,
            "stats": &stats,
        });
        if let Some(t) = as_of {
            body["as_of"] = serde_json::json!(t.0);
        }
        let stats_json = serde_json::to_vec(&body)
            .map(Bytes::from)
            .unwrap_or_default();
        let n = snapshot.node_count() as NodeIdx;
        let node_capacity_sat: Vec<u64> = (0..n).map(|i| snapshot.node_capacity_sat(i)).collect();
        // Node indices already follow node id order, so a stable sort keeps ties by id.
        let mut by_capacity: Vec<NodeIdx> = (0..n).collect();
        by_capacity
            .sort_by(|&a, &b| node_capacity_sat[b as usize].cmp(&node_capacity_sat[a as usize]));
        let mut by_channels: Vec<NodeIdx> = (0..n).collect();
        by_channels.sort_by_key(|&i| std::cmp::Reverse(snapshot.channels_of(i).len()));
        let snapshot = Arc::new(snapshot);
        let routing = RoutingIndex::build(snapshot.clone());
        GraphView {
            snapshot,
            routing,
            version,
            loaded_at,
            stats,
            stats_json,
            node_capacity_sat,
            by_capacity,
            by_channels,
            as_of,
        }
    }

    /// Bytes held by the view: snapshot, routing index, sort orders, serialized stats (an
    /// estimate: allocator overhead excluded).
    pub fn heap_bytes(&self) -> usize {
        self.snapshot.heap_bytes()
            + self.routing.heap_bytes()
            + self.node_capacity_sat.capacity() * 8
            + (self.by_capacity.capacity() + self.by_channels.capacity()) * 4
            + self.stats_json.len()
    }
}

/// Analytics of one snapshot, computed in the background.
pub struct AnalyticsView {
    /// The graph version the results belong to.
    pub version: i64,
    /// Unix seconds.
    pub computed_at: u64,
    /// Wall time (seconds) the computation took.
    pub seconds: f64,
    /// The results.
    pub analytics: NetworkAnalytics,
    /// The instant of the graph analysed, for analytics of a past graph; `None`: current.
    pub as_of: Option<Time>,
}

/// Handler state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The graph being served; `None` until the first load.
    pub graph: Arc<ArcSwapOption<GraphView>>,
    /// The analytics of the served graph; `None` until the first computation finishes.
    pub analytics: Arc<ArcSwapOption<AnalyticsView>>,
    /// Wakes the analytics worker when a new snapshot is swapped in.
    analytics_wanted: Arc<tokio::sync::Notify>,
    /// The service's metrics.
    pub metrics: Arc<Metrics>,
    /// The operator's own node, whose betweenness rank is exported as a metric.
    pub own_node: Option<NodeId>,
    /// The Lightning node, when this process runs one: the API's one handle to it.
    pub node: Option<switchyard_node::NodeHandle>,
    /// The read and admin tokens (see [`crate::auth`]); none refuses private routes.
    pub auth: Arc<crate::auth::Auth>,
    /// Body size, rate and time limits (see [`crate::limits`]); set before [`crate::router`].
    pub limits: crate::limits::Limits,
    /// The per-client buckets of [`crate::limits::RATE_LIMITED`] endpoints.
    pub rate_limiter: Arc<crate::limits::RateLimiter>,
    /// Past views and analytics (`at`).
    pub asof: Arc<crate::asof::AsOf>,
    /// What the analytics worker computes (set when it starts).
    pub(crate) analytics_config: Arc<OnceLock<AnalyticsConfig>>,
    /// Version runs of the analytics history kept in the store (older ones are pruned);
    /// 0 keeps none in the history (the analytics published for replicas are written anyway,
    /// newest [`crate::replica::PUBLISHED_VERSIONS_KEPT`] versions).
    pub analytics_versions_kept: u32,
    /// A read-only replica: serves the graph and the analytics the writer published, writes
    /// nothing, and refuses admin routes (see [`crate::replica`]).
    pub read_only: bool,
}

impl AppState {
    /// State with no graph, no analytics, no node and no API token yet.
    pub fn new(store: Store, metrics: Arc<Metrics>) -> AppState {
        AppState {
            store,
            graph: Arc::new(ArcSwapOption::empty()),
            analytics: Arc::new(ArcSwapOption::empty()),
            analytics_wanted: Arc::new(tokio::sync::Notify::new()),
            metrics,
            own_node: None,
            node: None,
            auth: Arc::new(crate::auth::Auth::none()),
            limits: crate::limits::Limits::default(),
            rate_limiter: Arc::new(crate::limits::RateLimiter::new(
                crate::limits::Limits::default().rate,
            )),
            asof: Arc::new(crate::asof::AsOf::default()),
            analytics_config: Arc::new(OnceLock::new()),
            analytics_versions_kept: DEFAULT_ANALYTICS_VERSIONS_KEPT,
            read_only: false,
        }
    }

    /// Replaces the limits (and starts fresh rate buckets with the new rate).
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> AppState {
        self.limits = limits;
        self.rate_limiter = Arc::new(crate::limits::RateLimiter::new(limits.rate));
        self
    }

    /// The served graph, if one is loaded.
    pub fn graph(&self) -> Option<Arc<GraphView>> {
        self.graph.load_full()
    }

    /// Rebuilds the served graph when the store's graph version moved (or none is loaded).
    /// Returns whether a new snapshot was swapped in.
    pub async fn refresh_graph(&self) -> switchyard_store::Result<bool> {
        let version = switchyard_store::queries::meta::graph_version(self.store.pool()).await?;
        if self.graph().is_some_and(|g| g.version == version) {
            return Ok(false);
        }
        let started = Instant::now();
        let (snapshot, version) = switchyard_store::graph::load_snapshot(&self.store).await?;
        let view = tokio::task::spawn_blocking(move || GraphView::new(snapshot, version))
            .await
            .map_err(|e| switchyard_store::Error::Interrupted(e.to_string()))?;
        let m = &self.metrics;
        m.graph_nodes.set(view.stats.nodes as i64);
        m.graph_channels.set(view.stats.channels as i64);
        m.graph_capacity_sat.set(view.stats.capacity_sat as i64);
        m.graph_enabled_directions
            .set(view.stats.enabled_directions as i64);
        m.graph_version.set(view.version);
        m.graph_loaded_timestamp.set(view.loaded_at as i64);
        m.set_fee_percentiles(&view.stats);
        m.graph_load_duration
            .observe(started.elapsed().as_secs_f64());
        tracing::info!(
            nodes = view.stats.nodes,
            channels = view.stats.channels,
            version = view.version,
            seconds = started.elapsed().as_secs_f64(),
            "graph snapshot loaded"
        );
        self.graph.store(Some(Arc::new(view)));
        self.analytics_wanted.notify_one();
        Ok(true)
    }

    /// The served analytics, if computed for some snapshot (possibly an older one).
    pub fn analytics(&self) -> Option<Arc<AnalyticsView>> {
        self.analytics.load_full()
    }

    /// Computes analytics for every new snapshot, one computation at a time, and swaps the
    /// results in; requests keep reading the previous results meanwhile. Each result is also
    /// kept in the store's analytics history (a version run; the newest
    /// [`AppState::analytics_versions_kept`] are kept).
    pub fn spawn_analytics_worker(&self, config: AnalyticsConfig) -> tokio::task::JoinHandle<()> {
        let _ = self.analytics_config.set(config.clone());
        let state = self.clone();
        tokio::spawn(async move {
            loop {
                state.analytics_wanted.notified().await;
                let Some(graph) = state.graph() else { continue };
                if state
                    .analytics()
                    .is_some_and(|a| a.version == graph.version)
                {
                    continue;
                }
                let config = config.clone();
                let started = Instant::now();
                let uptime = state.uptime().await;
                let loaded_at = graph.loaded_at;
                let result = tokio::task::spawn_blocking(move || {
                    NetworkAnalytics::compute_with_uptime(&graph.snapshot, &config, uptime.as_ref())
                        .map(|a| (graph.version, a))
                })
                .await;
                let seconds = started.elapsed().as_secs_f64();
                match result {
                    Ok(Ok((version, analytics))) => {
                        tracing::info!(version, seconds, "network analytics computed");
                        let view = Arc::new(AnalyticsView {
                            version,
                            computed_at: unix_now(),
                            seconds,
                            analytics,
                            as_of: None,
                        });
                        // Into the store first: replicas serve what the writer serves.
                        state.publish_to_replicas(&view).await;
                        state.publish_analytics(view.clone());
                        state.keep_analytics(&view, loaded_at).await;
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "analytics configuration rejected"),
                    Err(e) => tracing::error!(error = %e, "analytics computation panicked"),
                }
            }
        })
    }

    /// Serves `view` and sets the gauges that mirror it.
    pub(crate) fn publish_analytics(&self, view: Arc<AnalyticsView>) {
        let m = &self.metrics;
        m.analytics_duration.set(view.seconds);
        m.analytics_version.set(view.version);
        if let Some(own) = &self.own_node {
            let a = &view.analytics;
            m.own_node_betweenness_rank
                .set(betweenness_rank(a, own).unwrap_or(0) as i64);
            let position = a.node_position(own).map_or(0, |i| a.rank[i].position);
            m.time_travel
                .own_node_rank_position
                .set(i64::from(position));
        }
        self.analytics.store(Some(view));
    }

    /// Keeps `view` in the store's analytics history as a version run and prunes old ones.
    async fn keep_analytics(&self, view: &AnalyticsView, loaded_at: u64) {
        if self.analytics_versions_kept == 0 {
            return;
        }
        let run = RunInfo {
            kind: RunKind::Version {
                graph_version: view.version,
            },
            as_of: loaded_at as i64,
            seconds: view.seconds,
        };
        let pool = self.store.pool();
        let stored = async {
            // A version already stored (computed again after a restart) keeps its run.
            switchyard_store::queries::analytics::store_run(pool, &run, &view.analytics).await?;
            switchyard_store::queries::analytics::prune_versions(
                pool,
                view.analytics.config.amount_msat,
                self.analytics_versions_kept,
            )
            .await
        }
        .await;
        let outcome = match stored {
            Ok(pruned) => {
                tracing::debug!(
                    version = view.version,
                    pruned,
                    "analytics kept in the store"
                );
                "stored"
            }
            Err(e) => {
                tracing::warn!(error = %e, "keeping analytics in the store failed");
                "failed"
            }
        };
        self.metrics
            .time_travel
            .analytics_runs_stored
            .with_label_values(&["version", outcome])
            .inc();
    }

    /// Each node's uptime from the store's gossip history (the rank's uptime component; see
    /// `switchyard_store::queries::history::node_uptime`). `None`, and the rank goes without
    /// the component, when the store has no observations or cannot answer.
    async fn uptime(&self) -> Option<std::collections::HashMap<NodeId, f64>> {
        match switchyard_store::queries::history::node_uptime(self.store.pool()).await {
            Ok(u) if !u.by_node.is_empty() => {
                tracing::debug!(
                    observations = u.points.len(),
                    nodes = u.by_node.len(),
                    "node uptime from gossip history"
                );
                Some(u.by_node)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "node uptime unavailable; ranking without it");
                None
            }
        }
    }

    /// Keeps the served graph in step with the store: checks the version every `every`.
    pub fn spawn_graph_refresher(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        spawn_every(every, move || {
            let state = state.clone();
            async move {
                if let Err(e) = state.refresh_graph().await {
                    tracing::warn!(error = %e, "graph refresh failed; serving the previous snapshot");
                }
            }
        })
    }
}

/// Runs `step` every `every` until the task is aborted (a slow step delays the next tick).
pub(crate) fn spawn_every<F, Fut>(
    every: std::time::Duration,
    mut step: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            step().await;
        }
    })
}

/// 1-based position of `id` by fee-weighted betweenness (ties share the better position).
pub fn betweenness_rank(a: &NetworkAnalytics, id: &NodeId) -> Option<usize> {
    let metric = Metric::Betweenness(WeightKind::Fee);
    let values = a.metric_values(metric).ok()?;
    let own = values[a.node_position(id)?];
    Some(1 + values.iter().filter(|&&v| v > own).count())
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
