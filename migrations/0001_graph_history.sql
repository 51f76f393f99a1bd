-- The channel graph with its full history.
--
-- Append-only history tables (node_announcements, channel_updates) hold every version ever
-- seen, from file imports and (later) from peers' gossip. "Current" is derived from them.
-- Node ids are 33-byte compressed public keys; short channel ids are the BOLT 7 u64 stored
-- bit-for-bit in a BIGINT (block heights below 2^23 keep it positive in practice).
--
-- References between these tables (channel -> nodes, update -> channel, row -> import run)
-- are kept by the store's writers, which insert parents before children in the same
-- transaction; they are not declared as foreign keys because per-row trigger checks would
-- triple the cost of a full-network import. Tests check that no orphan rows exist.

-- One row per import of a file (or of the bundled snapshot).
CREATE TABLE import_runs (
    id              BIGSERIAL PRIMARY KEY,
    file            TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    format          TEXT NOT NULL,
    -- Newest gossip timestamp in the file: the moment the snapshot describes.
    snapshot_time   TIMESTAMPTZ NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ NOT NULL,
    channel_entries BIGINT NOT NULL,
    node_entries    BIGINT NOT NULL,
    nodes_new       BIGINT NOT NULL,
    channels_new    BIGINT NOT NULL,
    channels_closed BIGINT NOT NULL,
    channels_reopened BIGINT NOT NULL,
    updates_new     BIGINT NOT NULL,
    fee_changes     BIGINT NOT NULL,
    announcements_new BIGINT NOT NULL
);
CREATE INDEX import_runs_sha256 ON import_runs (sha256);

CREATE TABLE nodes (
    node_id     BYTEA PRIMARY KEY CHECK (length(node_id) = 33),
    first_seen  TIMESTAMPTZ NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL
);

-- Every node_announcement version.
CREATE TABLE node_announcements (
    id            BIGSERIAL PRIMARY KEY,
    node_id       BYTEA NOT NULL,
    -- The announcement's own timestamp (unix seconds); 0 when the source gave none.
    timestamp     BIGINT NOT NULL,
    alias         TEXT NOT NULL,
    color         TEXT NOT NULL,
    -- [{"type": "ipv4", "address": "1.2.3.4", "port": 9735}, ...]
    addresses     JSONB NOT NULL,
    features      BYTEA NOT NULL,
    -- The wire message, when it came from a peer.
    raw           BYTEA,
    received_at   TIMESTAMPTZ NOT NULL,
    -- 'import' or 'gossip'.
    source        TEXT NOT NULL,
    import_run_id BIGINT,
    UNIQUE (node_id, timestamp)
);

CREATE TABLE channels (
    scid             BIGINT PRIMARY KEY,
    -- BOLT 7 order: node_1 < node_2 bytewise.
    node_1           BYTEA NOT NULL,
    node_2           BYTEA NOT NULL,
    capacity_sat     BIGINT NOT NULL CHECK (capacity_sat >= 0),
    -- 'txid:vout' when known.
    funding_outpoint TEXT,
    raw_announcement BYTEA,
    first_seen       TIMESTAMPTZ NOT NULL,
    last_seen        TIMESTAMPTZ NOT NULL,
    -- Set when the channel left the graph: by a snapshot that no longer lists it, or by the
    -- spend of its funding output (then close_height too). Rows are never deleted.
    closed_at        TIMESTAMPTZ,
    close_height     INTEGER,
    CHECK (node_1 < node_2)
);
CREATE INDEX channels_node_1 ON channels (node_1);
CREATE INDEX channels_node_2 ON channels (node_2);
CREATE INDEX channels_open ON channels (scid) WHERE closed_at IS NULL;

-- Every channel_update version, per direction.
CREATE TABLE channel_updates (
    id            BIGSERIAL PRIMARY KEY,
    scid          BIGINT NOT NULL,
    -- 0: node_1 -> node_2, 1: node_2 -> node_1.
    direction     SMALLINT NOT NULL CHECK (direction IN (0, 1)),
    timestamp     BIGINT NOT NULL,
    message_flags SMALLINT NOT NULL,
    channel_flags SMALLINT NOT NULL,
    disabled      BOOLEAN NOT NULL,
    cltv_delta    INTEGER NOT NULL,
    htlc_min_msat BIGINT NOT NULL,
    -- NULL when the update did not carry one (old gossip): the capacity applies.
    htlc_max_msat BIGINT,
    fee_base_msat BIGINT NOT NULL,
    fee_ppm       BIGINT NOT NULL,
    raw           BYTEA,
    received_at   TIMESTAMPTZ NOT NULL,
    source        TEXT NOT NULL,
    import_run_id BIGINT,
    UNIQUE (scid, direction, timestamp)
);

-- The newest policy of each channel direction.
CREATE VIEW channel_policies_current AS
SELECT DISTINCT ON (scid, direction) *
FROM channel_updates
ORDER BY scid, direction, timestamp DESC;

-- The newest announcement of each node.
CREATE VIEW node_announcements_current AS
SELECT DISTINCT ON (node_id) *
FROM node_announcements
ORDER BY node_id, timestamp DESC;

-- A counter bumped by every transaction that changes the graph, so readers can tell cheaply
-- whether their in-memory snapshot is stale.
CREATE TABLE graph_version (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    version   BIGINT NOT NULL
);
INSERT INTO graph_version (version) VALUES (0);
