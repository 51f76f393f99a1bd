-- Analytics published through the store: the one writer computes the network analytics of
-- each graph version once and keeps the whole result here; read-only replicas (on hot
-- standbys) serve it as is instead of computing their own. Only the newest few versions are
-- kept (the per-node history lives in analytics_runs / analytics_node_metrics).
CREATE TABLE analytics_published (
    graph_version BIGINT NOT NULL,
    -- The payment amount of the fee and probability weightings.
    amount_msat   BIGINT NOT NULL CHECK (amount_msat > 0),
    -- When the writer finished computing it (unix seconds) and how long it took.
    computed_at   BIGINT NOT NULL,
    seconds       DOUBLE PRECISION NOT NULL,
    -- The analytics as JSON (switchyard_graph::analytics::NetworkAnalytics); TOAST compresses it.
    body          BYTEA NOT NULL,
    PRIMARY KEY (amount_msat, graph_version)
);
