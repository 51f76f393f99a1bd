-- The history tables' surrogate `id` columns were never read: a channel_update is identified
-- by (scid, direction, timestamp) and a node_announcement by (node_id, timestamp), both
-- already unique. Each id cost every stored gossip message a sequence call and a second
-- btree insert, paid 165k times by a full network sync.
-- The views were created with `*`, which froze the old column list: recreate them.

DROP VIEW channel_policies_current;
DROP VIEW node_announcements_current;

ALTER TABLE channel_updates DROP COLUMN id;
ALTER TABLE node_announcements DROP COLUMN id;

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
