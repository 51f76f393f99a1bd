-- The operator's books: every forward, payment and invoice of our own node is a row.
-- Written in batches by the node's book-keeper, off the HTLC path.

CREATE TABLE forwards (
    id               bigserial PRIMARY KEY,
    resolved_at      timestamptz NOT NULL DEFAULT now(),
    outcome          text NOT NULL CHECK (outcome IN ('settled', 'failed')),
    -- LDK channel ids (32 bytes) and, when known, short channel ids of both sides.
    in_channel_id    bytea,
    out_channel_id   bytea,
    in_scid          bigint,
    out_scid         bigint,
    in_peer          bytea,
    out_peer         bytea,
    amount_in_msat   bigint,
    amount_out_msat  bigint,
    fee_msat         bigint NOT NULL DEFAULT 0 CHECK (fee_msat >= 0),
    -- Why a failed forward failed (e.g. unknown_next_channel, insufficient_liquidity).
    failure_reason   text,
    -- From the HTLC's arrival to its resolution, when the node saw both.
    duration_ms      bigint
);
CREATE INDEX forwards_resolved_at ON forwards (resolved_at);
CREATE INDEX forwards_out_channel ON forwards (out_channel_id, resolved_at);

CREATE TABLE payments (
    payment_id       bytea PRIMARY KEY,
    payment_hash     bytea NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('bolt11', 'keysend')),
    destination      bytea,
    amount_msat      bigint NOT NULL CHECK (amount_msat > 0),
    fee_msat         bigint,
    status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    failure_reason   text,
    bolt11           text,
    preimage         bytea,
    parts            integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_created_at ON payments (created_at);

CREATE TABLE invoices (
    payment_hash     bytea PRIMARY KEY,
    bolt11           text NOT NULL,
    amount_msat      bigint,
    description      text NOT NULL DEFAULT '',
    status           text NOT NULL CHECK (status IN ('open', 'paid')) DEFAULT 'open',
    received_msat    bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    paid_at          timestamptz
);
CREATE INDEX invoices_created_at ON invoices (created_at);
