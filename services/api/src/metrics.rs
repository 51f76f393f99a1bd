//! The Prometheus registry: every metric switchyard exports, named `switchyard_*`.
//!
//! Every metric is registered through [`Metrics::register`], which also records its name, type,
//! help text and labels in a catalog; `METRICS.md` is rendered from that catalog
//! ([`Metrics::markdown`], `switchyard metrics-doc`) and a test fails when it is stale.
//! Metrics of other components (the Lightning node) slot in the same way: build the collectors
//! where they are updated, hand them to `register` once at startup.

use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

mod process;

pub use process::ProcessCollector;

/// Metrics of the service. Labels stay bounded: routes are matched templates, never raw paths.
pub struct Metrics {
    /// The registry every metric is in (what `/metrics` exports).
    pub registry: Registry,
    /// HTTP requests by method, route template and status.
    pub http_requests: IntCounterVec,
    /// HTTP request latency (seconds) by method and route template.
    pub http_duration: HistogramVec,
    /// Requests refused before a handler ran, by reason (an error code from a fixed set).
    pub http_refused: IntCounterVec,
    /// Nodes in the served graph snapshot.
    pub graph_nodes: IntGauge,
    /// Channels in the served graph snapshot.
    pub graph_channels: IntGauge,
    /// Total capacity (sat) of the served graph.
    pub graph_capacity_sat: IntGauge,
    /// Channel directions with an enabled policy in the served graph.
    pub graph_enabled_directions: IntGauge,
    /// Store graph version the served snapshot was built from.
    pub graph_version: IntGauge,
    /// Unix time (seconds) the served snapshot was built.
    pub graph_loaded_timestamp: IntGauge,
    /// Time (seconds) to build a snapshot from the store.
    pub graph_load_duration: Histogram,
    /// File imports by outcome (imported, skipped, failed).
    pub import_runs: IntCounterVec,
    /// History rows added by imports, by kind.
    pub import_rows: IntCounterVec,
    /// Route queries by cost model and outcome (found, no_route, invalid).
    pub route_queries: IntCounterVec,
    /// Route computation time (seconds) by cost model (a batch counts as a whole).
    pub route_duration: HistogramVec,
    /// Time (seconds) the last network analytics computation took.
    pub analytics_duration: prometheus::Gauge,
    /// Graph version the served analytics were computed from.
    pub analytics_version: IntGauge,
    /// Position of the own node by fee-weighted betweenness (1 = most central, 0 = not in
    /// the analysed graph).
    pub own_node_betweenness_rank: IntGauge,
    /// The graph and analytics over time: past views, stored analytics, the own node's rank.
    pub time_travel: TimeTravelMetrics,
    /// Fee rate percentiles of the enabled directions of the served graph (`percentile` label).
    pub graph_fee_rate_ppm: IntGaugeVec,
    /// Base fee percentiles of the enabled directions of the served graph (`percentile` label).
    pub graph_base_fee_msat: IntGaugeVec,
    /// Database connections by state (`idle`, `in_use`), refreshed on each scrape.
    pub db_pool_connections: IntGaugeVec,
    /// Largest number of connections the database pool opens.
    pub db_pool_max_connections: IntGauge,
    /// The Lightning node's metrics (peers, gossip, store writer, chain), exported whether or
    /// not this process runs a node.
    pub node: std::sync::Arc<switchyard_node::NodeMetrics>,
    catalog: Mutex<Vec<MetricDoc>>,
}

/// The type of a metric, as Prometheus names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted in buckets.
    Histogram,
}

impl MetricKind {
    /// The type's name in the Prometheus exposition format.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One entry of the catalog: what `METRICS.md` says about a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDoc {
    /// The metric's name.
    pub name: String,
    /// Its Prometheus type.
    pub kind: MetricKind,
    /// Its help text.
    pub help: String,
    /// Its label names, in order.
    pub labels: Vec<String>,
}

/// Collectors that know the Prometheus type of each metric they describe, in `desc()` order.
pub trait Typed: Collector {
    /// The type of each metric `desc()` returns, in the same order.
    fn kinds(&self) -> Vec<MetricKind>;
}

macro_rules! typed {
    ($kind:ident: $($t:ty),+) => {$(
        impl Typed for $t {
            fn kinds(&self) -> Vec<MetricKind> {
                vec![MetricKind::$kind]
            }
        }
    )+};
}
typed!(Counter: prometheus::Counter, prometheus::IntCounter, prometheus::CounterVec, IntCounterVec);
typed!(Gauge: prometheus::Gauge, IntGauge, prometheus::GaugeVec, IntGaugeVec);
typed!(Histogram: Histogram, HistogramVec);

/// Metrics the dashboards and alert rules already use but no component exports yet: the
/// Lightning node's (name, type, labels, help). They are listed in `METRICS.md` as planned; the
/// dashboard test accepts "no data" only for these. Remove an entry when its metric lands.
pub const PLANNED: &[(&str, MetricKind, &[&str], &str)] = &[];

/// Exported metrics with one series per own channel: they have no series at all until the
/// node has a channel, so dashboards may show "no data" for them on a fresh node.
pub const SERIES_PER_OWN_CHANNEL: &[&str] = &["switchyard_channel_balance_msat"];

/// Percentiles exported for graph-wide distributions, as `percentile` label values. (Not
/// `quantile`: Prometheus reserves that label for summaries, and `promtool check metrics` flags
/// a gauge that carries it.)
const QUANTILES: [&str; 6] = ["0.1", "0.25", "0.5", "0.75", "0.9", "0.99"];

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are static: a failure here is a programming error caught by tests.
    r.expect("static metric definition")
}

/// A labelled counter (definitions are static: see [`must`]).
fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    must(IntCounterVec::new(Opts::new(name, help), labels))
}

/// A labelled gauge.
fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    must(IntGaugeVec::new(Opts::new(name, help), labels))
}

/// A labelled histogram with the given bucket bounds (seconds).
fn histogram_vec(name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]) -> HistogramVec {
    must(HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets),
        labels,
    ))
}

/// A histogram with the given bucket bounds (seconds).
fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    must(Histogram::with_opts(
        HistogramOpts::new(name, help).buckets(buckets),
    ))
}

/// The graph and analytics over time (`?at=`, the analytics history).
pub struct TimeTravelMetrics {
    /// Composite rank position of the own node (1 = best, 0 = not in the analysed graph).
    pub own_node_rank_position: IntGauge,
    /// Analytics runs written to the store's analytics history, by kind and outcome.
    pub analytics_runs_stored: IntCounterVec,
    /// Requests for the graph as of a past instant, by cache result (`hit`, `miss`).
    pub asof_requests: IntCounterVec,
    /// Time to build the graph as of a past instant (store read and view).
    pub asof_build_duration: Histogram,
    /// Past graphs and past analytics held in memory (`kind` label: `graph`, `analytics`).
    pub asof_cache_entries: IntGaugeVec,
    /// Heap bytes of the past graphs and past analytics held in memory (`kind` label).
    pub asof_cache_bytes: IntGaugeVec,
}

impl TimeTravelMetrics {
    fn new() -> TimeTravelMetrics {
        TimeTravelMetrics {
            own_node_rank_position: must(IntGauge::new(
                "switchyard_own_node_rank_position",
                "Position of the configured own node by the composite rank (1 = best, 0 = not in the analysed graph)",
            )),
            analytics_runs_stored: counter_vec(
                "switchyard_analytics_runs_stored_total",
                "Analytics runs written to the store's analytics history, by kind (version, day) and outcome (stored, failed)",
                &["kind", "outcome"],
            ),
            asof_requests: counter_vec(
                "switchyard_asof_requests_total",
                "Requests for the graph as of a past instant, by cache result (hit, miss)",
                &["result"],
            ),
            asof_build_duration: histogram(
                "switchyard_asof_build_duration_seconds",
                "Time to build the graph as of a past instant from history (store read and view)",
                vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            ),
            asof_cache_entries: gauge_vec(
                "switchyard_asof_cache_entries",
                "Past graphs (kind=graph) and past analytics (kind=analytics) held in memory",
                &["kind"],
            ),
            asof_cache_bytes: gauge_vec(
                "switchyard_asof_cache_bytes",
                "Heap bytes of the past graphs (kind=graph) and past analytics (kind=analytics) held in memory",
                &["kind"],
            ),
        }
    }
}

impl Metrics {
    /// Every metric, registered into a fresh registry.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = counter_vec(
            "switchyard_http_requests_total",
            "HTTP requests by method, route template and status",
            &["method", "route", "status"],
        );
        let http_duration = histogram_vec(
            "switchyard_http_request_duration_seconds",
            "HTTP request latency by route template",
            vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0,
            ],
            &["method", "route"],
        );
        let http_refused = counter_vec("switchyard_http_refused_total", "HTTP requests refused before a handler ran, by reason (unauthorized, admin_token_required, auth_not_configured, body_too_large, rate_limited, request_timeout)", &["reason"]);
        let gauge = |name: &str, help: &str| must(IntGauge::new(name, help));
        let graph_nodes = gauge(
            "switchyard_graph_nodes",
            "Nodes in the served graph snapshot",
        );
        let graph_channels = gauge(
            "switchyard_graph_channels",
            "Open channels in the served graph snapshot",
        );
        let graph_capacity_sat = gauge(
            "switchyard_graph_capacity_sat",
            "Total capacity of the served graph, in satoshis",
        );
        let graph_enabled_directions = gauge(
            "switchyard_graph_enabled_directions",
            "Channel directions with an enabled policy in the served graph",
        );
        let graph_version = gauge(
            "switchyard_graph_version",
            "Store graph version the served snapshot was built from",
        );
        let graph_loaded_timestamp = gauge(
            "switchyard_graph_loaded_timestamp_seconds",
            "Unix time the served snapshot was built",
        );
        let graph_load_duration = histogram(
            "switchyard_graph_load_duration_seconds",
            "Time to build a snapshot from the store",
            vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        );
        let import_runs = counter_vec(
            "switchyard_import_runs_total",
            "File imports by outcome (imported, skipped, failed)",
            &["outcome"],
        );
        let import_rows = counter_vec(
            "switchyard_import_rows_total",
            "History rows added by imports, by kind",
            &["kind"],
        );
        let route_queries = counter_vec(
            "switchyard_route_queries_total",
            "Route queries by cost model and outcome (found, no_route, invalid)",
            &["model", "outcome"],
        );
        let route_duration = histogram_vec(
            "switchyard_route_duration_seconds",
            "Route computation time by cost model (batch: whole batch)",
            vec![
                0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                0.025, 0.1, 0.5, 2.5, 10.0,
            ],
            &["model"],
        );
        let analytics_duration = must(prometheus::Gauge::new(
            "switchyard_analytics_duration_seconds",
            "Time the last network analytics computation took",
        ));
        let analytics_version = gauge(
            "switchyard_analytics_graph_version",
            "Graph version the served analytics were computed from",
        );
        let own_node_betweenness_rank = gauge(
            "switchyard_own_node_betweenness_rank",
            "Position of the configured own node by fee-weighted betweenness (1 = most central, 0 = not in the analysed graph)",
        );
        let graph_fee_rate_ppm = gauge_vec("switchyard_graph_fee_rate_ppm", "Fee rate percentiles (parts per million) over the enabled channel directions of the served graph", &["percentile"]);
        let graph_base_fee_msat = gauge_vec("switchyard_graph_base_fee_msat", "Base fee percentiles (millisatoshis) over the enabled channel directions of the served graph", &["percentile"]);
        let db_pool_connections = gauge_vec(
            "switchyard_db_pool_connections",
            "Database pool connections by state (idle, in_use)",
            &["state"],
        );
        let db_pool_max_connections = gauge(
            "switchyard_db_pool_max_connections",
            "Largest number of connections the database pool opens",
        );
        let metrics = Metrics {
            registry,
            http_requests,
            http_duration,
            http_refused,
            graph_nodes,
            graph_channels,
            graph_capacity_sat,
            graph_enabled_directions,
            graph_version,
            graph_loaded_timestamp,
            graph_load_duration,
            import_runs,
            import_rows,
            route_queries,
            route_duration,
            analytics_duration,
            analytics_version,
            own_node_betweenness_rank,
            time_travel: TimeTravelMetrics::new(),
            graph_fee_rate_ppm,
            graph_base_fee_msat,
            db_pool_connections,
            db_pool_max_connections,
            node: std::sync::Arc::new(switchyard_node::NodeMetrics::new()),
            catalog: Mutex::new(Vec::new()),
        };
        metrics.register_all();
        metrics
    }

    /// Registers every collector built by [`Metrics::new`] (the API's, the process's and the
    /// node's) in catalog order, and creates the series that must exist before their first
    /// event.
    fn register_all(&self) {
        let m = self;
        must(m.register(&m.http_requests));
        must(m.register(&m.http_duration));
        must(m.register(&m.http_refused));
        must(m.register(&m.graph_nodes));
        must(m.register(&m.graph_channels));
        must(m.register(&m.graph_capacity_sat));
        must(m.register(&m.graph_enabled_directions));
        must(m.register(&m.graph_version));
        must(m.register(&m.graph_loaded_timestamp));
        must(m.register(&m.graph_load_duration));
        must(m.register(&m.graph_fee_rate_ppm));
        must(m.register(&m.graph_base_fee_msat));
        must(m.register(&m.import_runs));
        must(m.register(&m.import_rows));
        must(m.register(&m.route_queries));
        must(m.register(&m.route_duration));
        must(m.register(&m.analytics_duration));
        must(m.register(&m.analytics_version));
        must(m.register(&m.own_node_betweenness_rank));
        let t = &m.time_travel;
        must(m.register(&t.own_node_rank_position));
        must(m.register(&t.analytics_runs_stored));
        must(m.register(&t.asof_requests));
        must(m.register(&t.asof_build_duration));
        must(m.register(&t.asof_cache_entries));
        must(m.register(&t.asof_cache_bytes));
        must(m.register(&m.db_pool_connections));
        must(m.register(&m.db_pool_max_connections));
        must(m.register(&ProcessCollector::new()));
        let n = &m.node;
        must(m.register(&n.running));
        must(m.register(&n.peers_connected));
        must(m.register(&n.gossip_messages));
        must(m.register(&n.gossip_rejected));
        must(m.register(&n.store_lag_seconds));
        must(m.register(&n.store_batch_size));
        must(m.register(&n.store_queue));
        must(m.register(&n.store_write_errors));
        must(m.register(&n.chain_tip_height));
        must(m.register(&n.chain_tip_timestamp));
        must(m.register(&n.channels_closed_onchain));
        must(m.register(&n.channels_open));
        must(m.register(&n.channels_pending));
        must(m.register(&n.learned_channels));
        must(m.register(&n.fee_plans));
        must(m.register(&n.fee_changes));
        must(m.register(&n.fee_last_plan_timestamp));
        must(m.register(&n.fee_expected_revenue_msat));
        must(m.register(&n.fee_current_revenue_msat));
        must(m.register(&n.channel_balance_msat));
        must(m.register(&n.htlcs_in_flight));
        must(m.register(&n.forwards));
        must(m.register(&n.forward_fees_earned_msat));
        must(m.register(&n.payments_sent));
        must(m.register(&n.payments_received));
        must(m.register(&n.wallet_balance_sat));
        must(m.register(&n.ln_chain_height));
        // Make the outcome series exist from the start, so rate() works before the first import.
        for outcome in ["imported", "skipped", "failed"] {
            m.import_runs.with_label_values(&[outcome]);
        }
        for kind in ["graph", "analytics"] {
            t.asof_cache_entries.with_label_values(&[kind]);
            t.asof_cache_bytes.with_label_values(&[kind]);
        }
        for result in ["hit", "miss"] {
            t.asof_requests.with_label_values(&[result]);
        }
    }

    /// [`Metrics::new`] plus `switchyard_build_info{version,commit}` (always 1).
    pub fn with_build_info(version: &str, commit: &str) -> Metrics {
        let metrics = Metrics::new();
        let info = gauge_vec(
            "switchyard_build_info",
            "Always 1; the labels name the running build (version, git commit)",
            &["version", "commit"],
        );
        info.with_label_values(&[version, commit]).set(1);
        must(metrics.register(&info));
        metrics
    }

    /// Registers a collector and adds its metrics to the catalog (and so to `METRICS.md`).
    /// Names must start with `switchyard_`.
    pub fn register<C: Typed + Clone + 'static>(&self, collector: &C) -> prometheus::Result<()> {
        let descs: Vec<&Desc> = collector.desc();
        let kinds = collector.kinds();
        if descs.len() != kinds.len() {
            return Err(prometheus::Error::Msg(format!(
                "{} descriptions but {} kinds",
                descs.len(),
                kinds.len()
            )));
        }
        if let Some(d) = descs.iter().find(|d| !d.fq_name.starts_with("switchyard_")) {
            return Err(prometheus::Error::Msg(format!(
                "{}: metric names start with switchyard_",
                d.fq_name
            )));
        }
        let docs: Vec<MetricDoc> = descs
            .iter()
            .zip(kinds)
            .map(|(d, kind)| MetricDoc {
                name: d.fq_name.clone(),
                kind,
                help: d.help.clone(),
                labels: d.variable_labels.clone(),
            })
            .collect();
        self.registry.register(Box::new(collector.clone()))?;
        if let Ok(mut catalog) = self.catalog.lock() {
            catalog.extend(docs);
        }
        Ok(())
    }

    /// Every registered metric, sorted by name.
    pub fn catalog(&self) -> Vec<MetricDoc> {
        let mut docs = self.catalog.lock().map(|c| c.clone()).unwrap_or_default();
        docs.sort_by(|a, b| a.name.cmp(&b.name));
        docs
    }

    /// Counts a request refused by the API's own layers (auth, limits); `reason` is the error
    /// code, from a fixed set.
    pub fn refused(&self, reason: &'static str) {
        self.http_refused.with_label_values(&[reason]).inc();
    }

    /// Counts an authorization refusal.
    pub fn auth_refused(&self, e: &crate::ApiError) {
        self.refused(e.status_and_code().1);
    }

    /// `METRICS.md`: every registered metric, then the planned ones.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut out = String::from(
            "# switchyard metrics\n\n\
             Generated from the registry by `switchyard metrics-doc > METRICS.md`; a test fails when \
             this file is stale. Served at `/metrics` in the Prometheus text format. Labels are \
             bounded: routes are templates, never raw paths; nothing is labelled per network node.\n\n\
             | metric | type | labels | meaning |\n|---|---|---|---|\n",
        );
        let row =
            |out: &mut String, name: &str, kind: MetricKind, labels: &[String], help: &str| {
                let labels = labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>();
                let _ = writeln!(
                    out,
                    "| `{name}` | {} | {} | {} |",
                    kind.as_str(),
                    labels.join(", "),
                    help.replace('|', "\\|")
                );
            };
        for d in self.catalog() {
            row(&mut out, &d.name, d.kind, &d.labels, &d.help);
        }
        let mut planned = String::new();
        for (name, kind, labels, help) in PLANNED {
            let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
            row(&mut planned, name, *kind, &labels, help);
        }
        if !planned.is_empty() {
            out.push_str(
                "\n## Planned\n\n\
                 Dashboards and alert rules already use these; a component will export them \
                 under exactly these names, types and labels.\n\n\
                 | metric | type | labels | meaning |\n|---|---|---|---|\n",
            );
            out.push_str(&planned);
        }
        out
    }

    /// Publishes the served graph's fee percentiles.
    pub fn set_fee_percentiles(&self, stats: &switchyard_graph::NetworkStats) {
        let pick =
            |d: &switchyard_graph::stats::Distribution| [d.p10, d.p25, d.p50, d.p75, d.p90, d.p99];
        for (q, (ppm, base)) in QUANTILES.iter().zip(
            pick(&stats.fee_ppm)
                .into_iter()
                .zip(pick(&stats.fee_base_msat)),
        ) {
            self.graph_fee_rate_ppm
                .with_label_values(&[q])
                .set(ppm as i64);
            self.graph_base_fee_msat
                .with_label_values(&[q])
                .set(base as i64);
        }
    }

    /// Publishes the database pool's state (called on each scrape).
    pub fn set_pool(&self, pool: switchyard_store::PoolStatus) {
        let in_use = pool.size.saturating_sub(pool.idle);
        self.db_pool_connections
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle));
        self.db_pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(in_use));
        self.db_pool_max_connections.set(i64::from(pool.max));
    }

    /// Counts the outcome of an import.
    pub fn record_import(&self, result: Result<&[switchyard_store::import::ImportReport], ()>) {
        match result {
            Err(()) => self.import_runs.with_label_values(&["failed"]).inc(),
            Ok(reports) => {
                for r in reports {
                    let outcome = if r.skipped { "skipped" } else { "imported" };
                    self.import_runs.with_label_values(&[outcome]).inc();
                    for (kind, n) in [
                        ("nodes", r.nodes_new),
                        ("channels", r.channels_new),
                        ("channel_updates", r.updates_new),
                        ("node_announcements", r.announcements_new),
                    ] {
                        self.import_rows.with_label_values(&[kind]).inc_by(n);
                    }
                }
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_lists_every_exported_family_and_rejects_foreign_names() {
        let m = Metrics::with_build_info("1.2.3", "abc");
        m.http_requests
            .with_label_values(&["GET", "/healthz", "200"])
            .inc();
        m.set_fee_percentiles(&switchyard_graph::NetworkStats::default());
        m.set_pool(switchyard_store::PoolStatus {
            size: 3,
            idle: 1,
            max: 16,
        });
        let catalog: Vec<String> = m.catalog().into_iter().map(|d| d.name).collect();
        let text = m.render();
        for family in m.registry.gather() {
            assert!(
                catalog.contains(&family.name().to_owned()),
                "{}",
                family.name()
            );
        }
        assert!(text.contains("switchyard_build_info{commit=\"abc\",version=\"1.2.3\"} 1"));
        assert!(text.contains("switchyard_db_pool_connections{state=\"in_use\"} 2"));
        assert!(text.contains("switchyard_graph_fee_rate_ppm{percentile=\"0.99\"} 0"));
        let doc = m.markdown();
        for name in catalog
            .iter()
            .map(String::as_str)
            .chain(PLANNED.iter().map(|p| p.0))
        {
            assert!(doc.contains(&format!("| `{name}` |")), "{name}");
        }
        let foreign = IntGauge::new("other_gauge", "not ours").unwrap();
        assert!(m.register(&foreign).is_err());
        assert!(!m.catalog().iter().any(|d| d.name == "other_gauge"));
    }
}
