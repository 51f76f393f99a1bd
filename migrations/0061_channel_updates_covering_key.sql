-- The graph as of an instant finds each channel direction's policy in force with one
-- backward probe of the (scid, direction, timestamp) key. With the policy columns INCLUDEd
-- in the key's index the probe is answered from the index alone (an index-only scan on
-- all-visible pages): no heap page per direction. Measured on the 2026 graph with 3M
-- channel_updates: 99,166 probes in 748 ms instead of 1,015 ms (psql, loaded host); the
-- index grows from 197 MiB to 276 MiB and replaces the old one, so a write still maintains
-- one index. It stays the conflict arbiter of `ON CONFLICT (scid, direction, timestamp)` and
-- works unchanged on a table partitioned by timestamp (the key includes it).

CREATE UNIQUE INDEX channel_updates_key_covering ON channel_updates (scid, direction, timestamp)
    INCLUDE (message_flags, channel_flags, disabled, cltv_delta, htlc_min_msat, htlc_max_msat,
             fee_base_msat, fee_ppm);
ALTER TABLE channel_updates DROP CONSTRAINT channel_updates_scid_direction_timestamp_key;
