//! Builds the in-memory graph snapshot from the store: the current view (open channels, the
//! newest policy of each direction, the newest announcement of each node), or the view as of
//! an instant ([`load_snapshot_at`], rules in [`crate::queries::asof`]).

use sqlx::{Postgres, Transaction};
use switchyard_graph::load::{ChannelRecord, NodeAnnouncement, NodeRecord, UpdateRecord};
use switchyard_graph::{GraphBuilder, Scid, Snapshot};

use crate::error::{Error, Result};
use crate::queries::asof::{Resolution, OPEN_AT};
use crate::queries::channels::node_id;
use crate::queries::read_only;
use crate::time::Time;
use crate::Store;

fn narrow<T: TryFrom<i64>>(table: &'static str, field: &str, v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| Error::CorruptRow {
        table,
        detail: format!("{field} = {v} out of range"),
    })
}

type ChannelTuple = (i64, Vec<u8>, Vec<u8>, i64, Option<String>);
type PolicyTuple = (
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
type NodeTuple = (Vec<u8>, Option<i64>, Option<String>);

const CHANNEL_COLUMNS: &str = "scid, node_1, node_2, capacity_sat, funding_outpoint";
/// [`PolicyTuple`]'s columns, from a `channel_updates` row aliased `p`.
const POLICY_COLUMNS: &str =
    "p.scid, p.direction, p.timestamp, p.message_flags, p.channel_flags, p.disabled, \
     p.cltv_delta, p.htlc_min_msat, p.htlc_max_msat, p.fee_base_msat, p.fee_ppm";

fn add_channels(b: &mut GraphBuilder, rows: Vec<ChannelTuple>) -> Result<()> {
    for (scid, n1, n2, cap, outpoint) in rows {
        b.add_channel(ChannelRecord {
            scid: Scid::from_i64(scid),
            node_1: node_id("channels", &n1)?,
            node_2: node_id("channels", &n2)?,
            capacity_sat: narrow("channels", "capacity_sat", cap)?,
            funding_outpoint: outpoint,
        });
    }
    Ok(())
}

fn add_policies(b: &mut GraphBuilder, rows: Vec<PolicyTuple>) -> Result<()> {
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
    Ok(())
}

fn add_nodes(b: &mut GraphBuilder, rows: Vec<NodeTuple>) -> Result<()> {
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
    Ok(())
}

/// Reads the current graph. Runs in one repeatable-read transaction so the three reads agree.
pub async fn load_snapshot(store: &Store) -> Result<(Snapshot, i64)> {
    let mut tx = read_only(store.pool()).await?;
    let version = crate::queries::meta::graph_version(&mut *tx).await?;
    let mut b = GraphBuilder::default();
    let rows = sqlx::query_as::<_, ChannelTuple>(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels WHERE closed_at IS NULL"
    ))
    .fetch_all(&mut *tx)
    .await?;
    add_channels(&mut b, rows)?;
    let rows = sqlx::query_as::<_, PolicyTuple>(&format!(
        "SELECT {POLICY_COLUMNS} FROM channel_policies_current p JOIN channels c USING (scid) \
         WHERE c.closed_at IS NULL"
    ))
    .fetch_all(&mut *tx)
    .await?;
    add_policies(&mut b, rows)?;
    // Nodes on an open channel, and nodes seen within BOLT 7's two-week prune window of the
    // newest data: the others have left the network.
    let rows = sqlx::query_as::<_, NodeTuple>(
        "SELECT n.node_id, a.timestamp, a.alias FROM nodes n \
         LEFT JOIN node_announcements_current a USING (node_id) \
         WHERE n.last_seen >= (SELECT max(last_seen) FROM nodes) - interval '14 days' \
         OR EXISTS (SELECT 1 FROM channels c WHERE c.closed_at IS NULL \
                    AND (c.node_1 = n.node_id OR c.node_2 = n.node_id))",
    )
    .fetch_all(&mut *tx)
    .await?;
    add_nodes(&mut b, rows)?;
    tx.commit().await?;
    Ok((b.build(), version))
}

/// Reads the graph as of `at` (the rules are in [`crate::queries::asof`]): one statement per
/// history table, each version in force found by one index probe per channel direction /
/// node. The channel-direction probes (most of the work) are split by scid at the open
/// channels' median over two connections that share one exported snapshot, so both cores
/// of the server probe and the answer is one consistent repeatable-read view (a pool of
/// one connection probes on it alone). Returns the snapshot and the store's current graph
/// version (what the answer may change with).
pub async fn load_snapshot_at(store: &Store, at: Time) -> Result<(Snapshot, i64)> {
    let e = at.0 + 1;
    let mut tx = read_only(store.pool()).await?;
    without_jit(&mut tx).await?;
    let version = crate::queries::meta::graph_version(&mut *tx).await?;
    let mut b = GraphBuilder::default();
    let rows = sqlx::query_as::<_, ChannelTuple>(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels WHERE {OPEN_AT}"
    ))
    .bind(e)
    .fetch_all(&mut *tx)
    .await?;
    let pivot = median_scid(&rows);
    add_channels(&mut b, rows)?;
    if store.pool().options().get_max_connections() >= 2 {
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await?;
        let upper = async {
            let mut other = read_only_at_snapshot(store, &id).await?;
            let rows = policies_at(&mut other, e, pivot, None).await?;
            other.commit().await?;
            Ok::<_, Error>(rows)
        };
        let lower = policies_at(&mut tx, e, None, pivot);
        let (lower, upper) = tokio::try_join!(lower, upper)?;
        add_policies(&mut b, lower)?;
        add_policies(&mut b, upper)?;
    } else {
        add_policies(&mut b, policies_at(&mut tx, e, None, None).await?)?;
    }
    add_nodes(&mut b, nodes_at(&mut tx, e).await?)?;
    tx.commit().await?;
    Ok((b.build(), version))
}

/// JIT compilation costs tens of milliseconds per statement and saves nothing on index
/// probes: off for this transaction (a `SET LOCAL`, allowed on a hot standby).
async fn without_jit(tx: &mut Transaction<'static, Postgres>) -> Result<()> {
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A read-only repeatable-read transaction on another connection that sees the snapshot
/// `id` exported by [`load_snapshot_at`]'s first transaction (which stays open meanwhile).
async fn read_only_at_snapshot(store: &Store, id: &str) -> Result<Transaction<'static, Postgres>> {
    // The id comes from the server (`0000000A-0000001B-1`); SET cannot take a parameter.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(Error::CorruptRow {
            table: "pg_export_snapshot",
            detail: format!("unexpected snapshot id {id:?}"),
        });
    }
    let mut tx = store.pool().begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{id}'"))
        .execute(&mut *tx)
        .await?;
    without_jit(&mut tx).await?;
    Ok(tx)
}

/// The median scid of `rows` (the first of the upper half), `None` without rows.
fn median_scid(rows: &[ChannelTuple]) -> Option<i64> {
    let mut scids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mid = scids.len() / 2;
    (!scids.is_empty()).then(|| *scids.select_nth_unstable(mid).1)
}

/// The policy in force as of `e` of each direction of the channels open then with
/// `from <= scid < to` (either bound open when `None`).
async fn policies_at(
    tx: &mut Transaction<'static, Postgres>,
    e: i64,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<PolicyTuple>> {
    Ok(sqlx::query_as::<_, PolicyTuple>(&format!(
        "SELECT {POLICY_COLUMNS} FROM channels c \
         CROSS JOIN (VALUES (0::smallint), (1::smallint)) AS d(direction) \
         CROSS JOIN LATERAL (SELECT * FROM channel_updates u \
             WHERE u.scid = c.scid AND u.direction = d.direction AND u.timestamp < $1 \
             ORDER BY u.timestamp DESC LIMIT 1) p \
         WHERE {OPEN_AT} AND ($2::bigint IS NULL OR c.scid >= $2) \
             AND ($3::bigint IS NULL OR c.scid < $3)"
    ))
    .bind(e)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?)
}

/// The nodes as of `e` with their announcement in force: the ends of the open channels (a
/// hashed semi-join), and nodes seen within the 14 days before `e`.
async fn nodes_at(tx: &mut Transaction<'static, Postgres>, e: i64) -> Result<Vec<NodeTuple>> {
    Ok(sqlx::query_as::<_, NodeTuple>(&format!(
        "SELECT n.node_id, a.timestamp, a.alias FROM nodes n \
         LEFT JOIN LATERAL (SELECT a.timestamp, a.alias FROM node_announcements a \
             WHERE a.node_id = n.node_id AND a.timestamp < $1 \
             ORDER BY a.timestamp DESC LIMIT 1) a ON true \
         WHERE (n.first_seen < to_timestamp($1) \
             AND greatest(n.first_seen, CASE WHEN n.last_seen < to_timestamp($1) THEN n.last_seen END) \
                 >= to_timestamp($1 - 1) - interval '14 days') \
            OR n.node_id IN (SELECT node_1 FROM channels WHERE {OPEN_AT} \
                             UNION ALL SELECT node_2 FROM channels WHERE {OPEN_AT})"
    ))
    .bind(e)
    .fetch_all(&mut **tx)
    .await?)
}

/// The graph to answer "as of `at`" with, resolved against the store's data and the wall
/// clock `now` (unix seconds; see [`crate::queries::asof::resolve`]): the current graph when
/// `at` is at or after the newest data, else the graph as of `at`. Errors with
/// [`Error::AsOf`] before the first data.
pub async fn load_resolved(
    store: &Store,
    at: Time,
    now: i64,
) -> Result<(Snapshot, i64, Resolution)> {
    let bounds = crate::queries::asof::bounds(store.pool()).await?;
    let resolution = crate::queries::asof::resolve(at, now, bounds)?;
    let (snapshot, version) = match resolution {
        Resolution::Current => load_snapshot(store).await?,
        Resolution::At(t) => load_snapshot_at(store, t).await?,
    };
    Ok((snapshot, version, resolution))
}
