//! The graph **as of an instant T**: which instants the store can answer for, and one
//! channel's or one node's state at T. The whole graph at T is built by
//! [`crate::graph::load_snapshot_at`] with the same rules.
//!
//! # The rules (shared with the history series, [`crate::timeline`])
//! As of `T` (whole unix seconds) the store answers for the instant `e = T + 1`, the end of
//! second `T`, exactly as a history day is evaluated at its end:
//! * a channel is **open** when `first_seen < e` and it was not closed before (`closed_at` is
//!   NULL or `>= e`); `first_seen` and `closed_at` are gossip / snapshot times;
//! * the **policy in force** of a direction is its newest stored `channel_update` with
//!   timestamp `< e` (signed by `T`), whichever source brought it and when; a node's
//!   **announcement** likewise its newest `node_announcement` signed by `T`. So a database fed
//!   January's and then May's snapshot answers for January as one fed January's alone, except
//!   where May's file carries a version signed before January's snapshot that January's did
//!   not have yet (then the history knows better than the snapshot did);
//! * **nodes**: the ends of the open channels, plus nodes first seen by `T` whose last
//!   sighting by `T` is within BOLT 7's 14 days of `T` (the rule of the current graph, with
//!   `T` for the newest data). The store keeps a node's first and last sighting only: when it
//!   was seen again after `T` its sighting by `T` is `T` itself if it had an open channel then,
//!   else its first sighting.
//!
//! `T` at or after the newest data (or in the future) is the current graph; `T` before the
//! first channel is refused ([`Resolution`]).
//!
//! # Indexes, cost, and what this must keep working on
//! Each history table is read in one statement: the open channels by a scan of `channels`,
//! the version in force per channel direction (and per node) by one `LATERAL ... ORDER BY
//! timestamp DESC LIMIT 1` probe of the `(scid, direction, timestamp)` (and `(node_id,
//! timestamp)`) unique index, which reads one index descent per direction however long the
//! history. The channel key's index INCLUDEs the policy columns (migration 0061), so on
//! all-visible pages (what autovacuum leaves behind) a probe never visits the heap.
//!
//! The cost is the probes: one per open channel direction (99,166 on the 2026 graph), about
//! 7.5 us each on a loaded 2-core host with the covering index (10 us with a heap fetch).
//! [`crate::graph::load_snapshot_at`] therefore splits them by scid over two connections
//! that share one exported snapshot (`pg_export_snapshot` / `SET TRANSACTION SNAPSHOT`), so
//! two server processes probe at once and the answer is still one repeatable-read view; and
//! it turns JIT off for its transaction (30-40 ms of compilation per statement, nothing
//! saved on index probes). Nothing relies on surrogate ids or on insertion order, and
//! nothing is written (exporting a snapshot, since PostgreSQL 10, and `SET LOCAL` are
//! allowed on a hot standby), so the queries run unchanged on a read-only standby and on
//! history tables partitioned by message timestamp (the partitioned index keeps the unique
//! key, which includes the timestamp, and may INCLUDE columns).

use sqlx::PgExecutor;
use switchyard_graph::{NodeId, Scid};

use crate::error::Result;
use crate::queries::channels::{ChannelRow, UpdateRow, UPDATE_COLUMNS};
use crate::queries::nodes::{
    announcement_row, AnnouncementRow, AnnouncementTuple, NodeRow, ANNOUNCEMENT_COLUMNS,
};
use crate::queries::read_only;
use crate::time::Time;

/// `channels` row open as of `$1` (= `e`, unix seconds).
pub(crate) const OPEN_AT: &str = "first_seen < to_timestamp($1) \
     AND (closed_at IS NULL OR closed_at >= to_timestamp($1))";

/// The span of time the store holds graph data for, in whole unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The first second with a channel (the oldest `first_seen`).
    pub first: i64,
    /// The newest sighting, opening or closing of anything: from this second on, the graph
    /// as of T is the current graph.
    pub newest: i64,
}

/// [`Bounds`] of the stored graph; `None` for a store without channels.
pub async fn bounds(db: impl PgExecutor<'_>) -> Result<Option<Bounds>> {
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT floor(extract(epoch FROM min(c.first_seen)))::bigint, \
         floor(extract(epoch FROM greatest(max(c.last_seen), max(c.closed_at), \
               (SELECT max(last_seen) FROM nodes))))::bigint FROM channels c",
    )
    .fetch_one(db)
    .await?;
    Ok(match row {
        (Some(first), Some(newest)) => Some(Bounds { first, newest }),
        _ => None,
    })
}

/// Which graph answers "as of T".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The current graph: T is at or after the newest data, or in the future.
    Current,
    /// The graph as of this second, before the newest data.
    At(Time),
}

/// Why the store cannot answer as of T.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// `at` is before the first graph data, `first`.
    #[error("{at} is before the first graph data; the first available time is {first}")]
    BeforeData {
        /// The instant asked for.
        at: Time,
        /// The first available instant.
        first: Time,
    },
    /// The store holds no graph data.
    #[error("the store holds no graph data yet")]
    NoData,
}

/// Resolves `at` against the store's `bounds` and the wall clock `now` (unix seconds): the
/// future is now, the newest data onwards is the current graph, before the first channel is
/// an error that names the first available time.
pub fn resolve(at: Time, now: i64, bounds: Option<Bounds>) -> Result<Resolution, ResolveError> {
    if at.0 >= now {
        return Ok(Resolution::Current);
    }
    let b = bounds.ok_or(ResolveError::NoData)?;
    if at.0 < b.first {
        return Err(ResolveError::BeforeData {
            at,
            first: Time(b.first),
        });
    }
    Ok(if at.0 >= b.newest {
        Resolution::Current
    } else {
        Resolution::At(at)
    })
}

/// A channel as of `at`: its row as it stood then (not closed yet if it closed later,
/// `last_seen` at most `at`) and its policy versions signed by then, newest first.
/// `None` when the channel was not seen by `at`.
pub async fn channel_at(
    db: &sqlx::PgPool,
    scid: Scid,
    at: Time,
) -> Result<Option<(ChannelRow, Vec<UpdateRow>)>> {
    let e = at.0 + 1;
    let mut tx = read_only(db).await?;
    let Some(mut row) = crate::queries::channels::get(&mut *tx, scid).await? else {
        return Ok(None);
    };
    if row.first_seen >= e {
        return Ok(None);
    }
    if row.closed_at.is_some_and(|c| c >= e) {
        row.closed_at = None;
        row.close_height = None;
    }
    row.last_seen = row.last_seen.min(at.0);
    let updates: Vec<UpdateRow> = sqlx::query_as(&format!(
        "SELECT {UPDATE_COLUMNS} FROM channel_updates \
         WHERE scid = $2 AND timestamp < $1 ORDER BY timestamp DESC, direction"
    ))
    .bind(e)
    .bind(scid.to_i64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((row, updates)))
}

/// A node as of `at`: first seen, last sighting by `at` (see the module rules) and its
/// announcements signed by then, newest first. `None` when it was not seen by `at`.
pub async fn node_at(
    db: &sqlx::PgPool,
    id: &NodeId,
    at: Time,
) -> Result<Option<(NodeRow, Vec<AnnouncementRow>)>> {
    let e = at.0 + 1;
    let mut tx = read_only(db).await?;
    let row: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT extract(epoch FROM n.first_seen)::bigint, \
         CASE WHEN n.last_seen < to_timestamp($1) THEN extract(epoch FROM n.last_seen)::bigint \
              WHEN EXISTS (SELECT 1 FROM channels c WHERE (c.node_1 = n.node_id OR c.node_2 = n.node_id) \
                           AND {OPEN_AT}) THEN $1 - 1 \
              ELSE extract(epoch FROM n.first_seen)::bigint END \
         FROM nodes n WHERE n.node_id = $2 AND n.first_seen < to_timestamp($1)"
    ))
    .bind(e)
    .bind(&id.0[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some((first_seen, last_seen)) = row else {
        return Ok(None);
    };
    let rows: Vec<AnnouncementTuple> = sqlx::query_as(&format!(
        "SELECT {ANNOUNCEMENT_COLUMNS} FROM node_announcements \
         WHERE node_id = $2 AND timestamp < $1 ORDER BY timestamp DESC"
    ))
    .bind(e)
    .bind(&id.0[..])
    .fetch_all(&mut *tx)
    .await?;
    let announcements = rows.into_iter().map(announcement_row).collect();
    tx.commit().await?;
    Ok(Some((
        NodeRow {
            node_id: id.to_hex(),
            first_seen,
            last_seen,
        },
        announcements,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_follows_the_data() {
        let b = Some(Bounds {
            first: 1000,
            newest: 5000,
        });
        let now = 10_000;
        assert_eq!(resolve(Time(3000), now, b), Ok(Resolution::At(Time(3000))));
        assert_eq!(resolve(Time(1000), now, b), Ok(Resolution::At(Time(1000))));
        assert_eq!(resolve(Time(4999), now, b), Ok(Resolution::At(Time(4999))));
        assert_eq!(resolve(Time(5000), now, b), Ok(Resolution::Current));
        assert_eq!(resolve(Time(9999), now, b), Ok(Resolution::Current));
        assert_eq!(resolve(Time(20_000), now, b), Ok(Resolution::Current));
        assert_eq!(
            resolve(Time(999), now, b),
            Err(ResolveError::BeforeData {
                at: Time(999),
                first: Time(1000)
            })
        );
        assert_eq!(resolve(Time(5), now, None), Err(ResolveError::NoData));
        assert_eq!(resolve(Time(20_000), now, None), Ok(Resolution::Current));
        let msg = resolve(Time(999), now, b).unwrap_err().to_string();
        assert!(msg.contains("1970-01-01T00:16:40Z"), "{msg}");
    }
}
