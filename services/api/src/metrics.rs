//! The Prometheus registry: every metric switchyard exports, named `switchyard_*`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Metrics of the service. Labels stay bounded: routes are matched templates, never raw paths.
pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub graph_nodes: IntGauge,
    pub graph_channels: IntGauge,
    pub graph_capacity_sat: IntGauge,
    pub graph_enabled_directions: IntGauge,
    pub graph_version: IntGauge,
    pub graph_loaded_timestamp: IntGauge,
    pub graph_load_duration: Histogram,
    pub import_runs: IntCounterVec,
    pub import_rows: IntCounterVec,
    pub route_queries: IntCounterVec,
    pub route_duration: HistogramVec,
    pub analytics_duration: prometheus::Gauge,
    pub analytics_version: IntGauge,
    pub own_node_betweenness_rank: IntGauge,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are static: a failure here is a programming error caught by tests.
    r.expect("static metric definition")
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = must(IntCounterVec::new(
            Opts::new(
                "switchyard_http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "route", "status"],
        ));
        let http_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "switchyard_http_request_duration_seconds",
                "HTTP request latency by route template",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        ));
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
        let graph_load_duration = must(Histogram::with_opts(
            HistogramOpts::new(
                "switchyard_graph_load_duration_seconds",
                "Time to build a snapshot from the store",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        ));
        let import_runs = must(IntCounterVec::new(
            Opts::new(
                "switchyard_import_runs_total",
                "File imports by outcome (imported, skipped, failed)",
            ),
            &["outcome"],
        ));
        let import_rows = must(IntCounterVec::new(
            Opts::new(
                "switchyard_import_rows_total",
                "History rows added by imports, by kind",
            ),
            &["kind"],
        ));
        let route_queries = must(IntCounterVec::new(
            Opts::new(
                "switchyard_route_queries_total",
                "Route queries by cost model and outcome (found, no_route, invalid)",
            ),
            &["model", "outcome"],
        ));
        let route_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "switchyard_route_duration_seconds",
                "Route computation time by cost model (batch: whole batch)",
            )
            .buckets(vec![
                0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                0.025, 0.1, 0.5, 2.5, 10.0,
            ]),
            &["model"],
        ));
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
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(graph_nodes.clone()),
            Box::new(graph_channels.clone()),
            Box::new(graph_capacity_sat.clone()),
            Box::new(graph_enabled_directions.clone()),
            Box::new(graph_version.clone()),
            Box::new(graph_loaded_timestamp.clone()),
            Box::new(graph_load_duration.clone()),
            Box::new(import_runs.clone()),
            Box::new(import_rows.clone()),
            Box::new(route_queries.clone()),
            Box::new(route_duration.clone()),
            Box::new(analytics_duration.clone()),
            Box::new(analytics_version.clone()),
            Box::new(own_node_betweenness_rank.clone()),
        ] {
            must(registry.register(c));
        }
        // Make the outcome series exist from the start, so rate() works before the first import.
        for outcome in ["imported", "skipped", "failed"] {
            import_runs.with_label_values(&[outcome]);
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
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
        }
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
