-- Network analytics kept over time: per-node metrics of every computed graph version (the
-- served graph, computed by the analytics worker) and of the graph as of the end of each day
-- of history (`switchyard analyze --backfill`).
--
-- Written by the one writer; read-only replicas only read these tables. A run and its node
-- rows are written in one transaction, so a run that exists is complete (the backfill skips
-- days whose run exists, which is what makes it resumable).

CREATE TABLE analytics_runs (
    id            BIGSERIAL PRIMARY KEY,
    -- 'version': the served graph of `graph_version`; 'day': the graph as of the last second
    -- of `day` (UTC), built from history.
    kind          TEXT NOT NULL CHECK (kind IN ('version', 'day')),
    graph_version BIGINT,
    day           DATE,
    -- The instant the graph describes (unix seconds): the last second of `day`, or the time
    -- the served graph of `graph_version` was loaded.
    as_of         BIGINT NOT NULL,
    -- The payment amount of the fee and probability weightings and of the rank's fee component.
    amount_msat   BIGINT NOT NULL CHECK (amount_msat > 0),
    computed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Wall time of the computation (graph loading excluded).
    seconds       DOUBLE PRECISION NOT NULL,
    -- Active nodes (with an enabled direction) and channels of the analysed graph.
    nodes         INTEGER NOT NULL,
    channels      INTEGER NOT NULL,
    CHECK ((kind = 'version') = (graph_version IS NOT NULL)),
    CHECK ((kind = 'day') = (day IS NOT NULL))
);
CREATE UNIQUE INDEX analytics_runs_day ON analytics_runs (amount_msat, day) WHERE kind = 'day';
CREATE UNIQUE INDEX analytics_runs_version ON analytics_runs (amount_msat, graph_version)
    WHERE kind = 'version';

-- One active node's metrics in one run. Betweenness is unnormalized (see the analytics
-- module's conventions); closeness is incoming closeness. A weighting the run did not compute
-- is NULL.
CREATE TABLE analytics_node_metrics (
    node_id                 BYTEA NOT NULL,
    run_id                  BIGINT NOT NULL REFERENCES analytics_runs (id) ON DELETE CASCADE,
    betweenness_hops        DOUBLE PRECISION,
    betweenness_fee         DOUBLE PRECISION,
    betweenness_probability DOUBLE PRECISION,
    closeness_hops          DOUBLE PRECISION,
    closeness_fee           DOUBLE PRECISION,
    closeness_probability   DOUBLE PRECISION,
    pagerank                DOUBLE PRECISION NOT NULL,
    pagerank_capacity       DOUBLE PRECISION NOT NULL,
    -- The composite rank: score in [0, 1], position (1 = best) and percentile.
    rank_score              DOUBLE PRECISION NOT NULL,
    rank_position           INTEGER NOT NULL,
    rank_percentile         DOUBLE PRECISION NOT NULL,
    -- Capacity and channel count over the node's channels with an enabled direction.
    capacity_sat            BIGINT NOT NULL,
    channels                INTEGER NOT NULL,
    -- A node's series is read by node: (node_id, run_id) serves it.
    PRIMARY KEY (node_id, run_id)
);
CREATE INDEX analytics_node_metrics_run ON analytics_node_metrics (run_id);
