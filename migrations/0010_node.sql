-- The Lightning node's own state: gossip provenance, peers, and LDK's key-value store.

-- Which peer sent a gossip message (NULL for imports and for messages of our own).
ALTER TABLE channels ADD COLUMN peer BYTEA;
ALTER TABLE channel_updates ADD COLUMN peer BYTEA;
ALTER TABLE node_announcements ADD COLUMN peer BYTEA;

-- Peers the node connects to: configured, added over the API, or found by DNS bootstrap.
CREATE TABLE peers (
    node_id           BYTEA PRIMARY KEY CHECK (length(node_id) = 33),
    -- host:port, or an .onion address with port.
    address           TEXT NOT NULL,
    -- 'config', 'api' or 'dns'.
    source            TEXT NOT NULL,
    added_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_connected_at TIMESTAMPTZ,
    last_error        TEXT,
    last_error_at     TIMESTAMPTZ
);

-- LDK's persisted state (network graph, scorer, later channel manager and monitors), through
-- its KVStore trait. A write is durable when the statement commits.
CREATE TABLE kv_store (
    primary_namespace   TEXT NOT NULL,
    secondary_namespace TEXT NOT NULL,
    key                 TEXT NOT NULL,
    value               BYTEA NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (primary_namespace, secondary_namespace, key)
);
