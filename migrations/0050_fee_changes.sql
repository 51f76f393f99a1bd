-- The fee controller's decisions: one row per fee change it applied to one of our channel
-- directions (issue 18). Kept forever; never updated. Dry runs write nothing here (they
-- return and log their plan), so every row is a policy the node announced.

CREATE TABLE fee_changes (
    id                    bigserial PRIMARY KEY,
    at                    timestamptz NOT NULL DEFAULT now(),
    -- The channel (short channel id as a bigint) and the direction: the node it leaves
    -- (ours; 33-byte public key).
    scid                  bigint NOT NULL,
    from_node             bytea NOT NULL CHECK (length(from_node) = 33),
    old_base_fee_msat     bigint NOT NULL CHECK (old_base_fee_msat BETWEEN 0 AND 4294967295),
    old_fee_ppm           bigint NOT NULL CHECK (old_fee_ppm BETWEEN 0 AND 4294967295),
    new_base_fee_msat     bigint NOT NULL CHECK (new_base_fee_msat BETWEEN 0 AND 4294967295),
    new_fee_ppm           bigint NOT NULL CHECK (new_fee_ppm BETWEEN 0 AND 4294967295),
    -- The fees strategy that proposed it (static, proportional, competitive, cost_floor,
    -- flow) and the rule section that chose the strategy.
    strategy              text NOT NULL,
    rule                  text NOT NULL DEFAULT '',
    reason                text NOT NULL,
    -- Revenue the plan expected on this direction, msat over the plan's demand.
    expected_revenue_msat bigint NOT NULL DEFAULT 0 CHECK (expected_revenue_msat >= 0),
    -- How the run was started: 'apply' (the controller's mode) ; 'dry-run' is reserved for a
    -- future recorded dry run and is not written today.
    mode                  text NOT NULL CHECK (mode IN ('apply', 'dry-run')),
    -- Whether the node accepted the policy (a refused update is recorded with false).
    applied               boolean NOT NULL
);
CREATE INDEX fee_changes_at ON fee_changes (at);
CREATE INDEX fee_changes_channel ON fee_changes (scid, from_node, at);
