//! Builds the in-memory graph snapshot from the store's current view: open channels, the
//! newest policy of each direction, the newest announcement of each node.

use switchyard_graph::load::{ChannelRecord, NodeAnnouncement, NodeRecord, UpdateRecord};
use switchyard_graph::{GraphBuilder, Scid, Snapshot};

use crate::error::{Error, Result};
use crate::queries::channels::node_id;
use crate::Store;

fn narrow<T: TryFrom<i64>>(table: &'static str, field: &str, v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| Error::CorruptRow {
        table,
        detail: format!("{field} = {v} out of range"),
    })
}

/// Reads the current graph. Runs in one repeatable-read transaction so the three reads agree.
pub async fn load_snapshot(store: &Store) -> Result<(Snapshot, i64)> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let version = crate::queries::meta::graph_version(&mut *tx).await?;
    let mut b = GraphBuilder::default();
    {
        let rows = sqlx::query_as::<_, (i64, Vec<u8>, Vec<u8>, i64, Option<String>)>(
            "SELECT scid, node_1, node_2, capacity_sat, funding_outpoint FROM channels \
             WHERE closed_at IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (scid, n1, n2, cap, outpoint) in rows {
            b.add_channel(ChannelRecord {
                scid: Scid::from_i64(scid),
                node_1: node_id("channels", &n1)?,
                node_2: node_id("channels", &n2)?,
                capacity_sat: narrow("channels", "capacity_sat", cap)?,
                funding_outpoint: outpoint,
            });
        }
    }
    {
        type Row = (
            i64,
            i16,
            i64,
            i16,
            i16,
            bool,
            i32,
            i64,
            Option<i64>,
            i64,
            i64,
        );
        let rows = sqlx::query_as::<_, Row>(
            "SELECT p.scid, p.direction, p.timestamp, p.message_flags, p.channel_flags, p.disabled, \
             p.cltv_delta, p.htlc_min_msat, p.htlc_max_msat, p.fee_base_msat, p.fee_ppm \
             FROM channel_policies_current p JOIN channels c USING (scid) WHERE c.closed_at IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            const T: &str = "channel_updates";
            b.add_update(UpdateRecord {
                scid: Scid::from_i64(r.0),
                direction: narrow(T, "direction", r.1.into())?,
                timestamp: narrow(T, "timestamp", r.2)?,
                message_flags: narrow(T, "message_flags", r.3.into())?,
                channel_flags: narrow(T, "channel_flags", r.4.into())?,
                disabled: r.5,
                cltv_delta: narrow(T, "cltv_delta", r.6.into())?,
                htlc_min_msat: narrow(T, "htlc_min_msat", r.7)?,
                htlc_max_msat: r.8.map(|m| narrow(T, "htlc_max_msat", m)).transpose()?,
                fee_base_msat: narrow(T, "fee_base_msat", r.9)?,
                fee_ppm: narrow(T, "fee_ppm", r.10)?,
            });
        }
    }
    {
        // Nodes on an open channel, and nodes seen within BOLT 7's two-week prune window of
        // the newest data: the others have left the network.
        let rows = sqlx::query_as::<_, (Vec<u8>, Option<i64>, Option<String>)>(
            "SELECT n.node_id, a.timestamp, a.alias FROM nodes n \
             LEFT JOIN node_announcements_current a USING (node_id) \
             WHERE n.last_seen >= (SELECT max(last_seen) FROM nodes) - interval '14 days' \
             OR EXISTS (SELECT 1 FROM channels c WHERE c.closed_at IS NULL \
                        AND (c.node_1 = n.node_id OR c.node_2 = n.node_id))",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, ts, alias) in rows {
            let announcement = match (ts, alias) {
                (Some(ts), Some(alias)) => Some(NodeAnnouncement {
                    timestamp: narrow("node_announcements", "timestamp", ts)?,
                    alias,
                    color: String::new(),
                    addresses: Vec::new(),
                    features_hex: String::new(),
                }),
                _ => None,
            };
            b.add_node(NodeRecord {
                node_id: node_id("nodes", &id)?,
                announcement,
            });
        }
    }
    tx.commit().await?;
    Ok((b.build(), version))
}
