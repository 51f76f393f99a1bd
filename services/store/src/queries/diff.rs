//! What changed in the network between two instants: channels opened and closed, capacity
//! added and removed, nodes appeared and gone, and policy changes, with totals and
//! largest-first lists.
//!
//! [`diff`] compares the graph as of `T1` with the graph as of `T2` under the as-of rules
//! ([`crate::queries::asof`]). [`churn`] (`/v1/network/churn`, older) is the same comparison
//! between the ends of two UTC days without the policy part: it calls the same code with the
//! days' ends, so the two agree wherever they overlap (`churn(D1, D2)` equals the network part
//! of `diff(end of D1, end of D2)`).

use std::cmp::Reverse;

use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use switchyard_graph::{NodeId, Scid};

use crate::error::Result;
use crate::queries::asof::{Bounds, ResolveError};
use crate::queries::channels::node_id;
use crate::queries::read_only;
use crate::time::Time;
use crate::timeline::{Day, DAY_SECS};

/// One channel, as churn lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChurnChannel {
    /// The channel.
    pub scid: Scid,
    /// Its lesser endpoint.
    pub node_1: NodeId,
    /// Its greater endpoint.
    pub node_2: NodeId,
    /// Funding amount (sat).
    pub capacity_sat: i64,
    /// Unix seconds.
    pub first_seen: i64,
    /// When it was closed (unix seconds); `None` while open.
    pub closed_at: Option<i64>,
}

/// How the channels and nodes of the network changed between two instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkChanges {
    /// Open channels at `from`.
    pub channels_at_from: u64,
    /// Open channels at `to`.
    pub channels_at_to: u64,
    /// Capacity (sat) open at `from`.
    pub capacity_at_from_sat: i64,
    /// Capacity (sat) open at `to`.
    pub capacity_at_to_sat: i64,
    /// Nodes with an open channel.
    pub nodes_at_from: u64,
    /// Nodes with an open channel at `to`.
    pub nodes_at_to: u64,
    /// Channels first seen in the interval (`channels_at_to - channels_at_from =
    /// channels_opened - channels_closed`; a channel opened and closed inside counts in both).
    pub channels_opened: u64,
    /// Channels closed in the interval.
    pub channels_closed: u64,
    /// Capacity (sat) of the channels opened in the interval.
    pub capacity_added_sat: i64,
    /// Capacity (sat) of the channels closed in the interval.
    pub capacity_removed_sat: i64,
    /// Nodes with an open channel at `to` but none at `from`, and the reverse.
    pub nodes_appeared: u64,
    /// Nodes with an open channel at `from` but none at `to`.
    pub nodes_disappeared: u64,
    /// The largest channels opened / closed (capacity descending, then scid), at most `limit`.
    pub opened: Vec<ChurnChannel>,
    /// The largest channels closed, at most `limit`.
    pub closed: Vec<ChurnChannel>,
    /// Node ids in id order, at most `limit` each.
    pub appeared: Vec<NodeId>,
    /// Nodes gone, in id order, at most `limit`.
    pub disappeared: Vec<NodeId>,
}

/// How the network changed from the end of day `from` to the end of day `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Churn {
    /// The first day (state at its end).
    pub from: Day,
    /// The last day (state at its end).
    pub to: Day,
    #[serde(flatten)]
    /// What changed.
    pub changes: NetworkChanges,
}

/// A direction's policy in force, as a diff shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PolicyState {
    /// The `channel_update` timestamp (unix seconds).
    pub timestamp: i64,
    /// Whether the direction is disabled.
    pub disabled: bool,
    /// Base fee (msat).
    pub fee_base_msat: i64,
    /// Proportional fee (ppm).
    pub fee_ppm: i64,
    /// CLTV expiry delta.
    pub cltv_delta: i32,
    /// Smallest HTLC (msat).
    pub htlc_min_msat: i64,
    /// Largest HTLC (msat), if set.
    pub htlc_max_msat: Option<i64>,
}

/// One direction whose policy in force changed; `from` is `null` when it had none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyChange {
    /// The channel.
    pub scid: Scid,
    /// 0: node_1 -> node_2, 1: node_2 -> node_1.
    pub direction: i16,
    /// The channel's capacity (sat).
    pub capacity_sat: i64,
    /// The policy in force at `from`.
    pub from: Option<PolicyState>,
    /// The policy in force at `to`.
    pub to: PolicyState,
}

/// Policy changes of the channel directions open at both instants. A change is a difference
/// in anything but the timestamp (a re-signed, unchanged policy is no change). One change can
/// count in several of the kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyChanges {
    /// Directions whose policy changed, first policies included.
    pub changed: u64,
    /// Directions that had no policy at `from` and one at `to`.
    pub first_policies: u64,
    /// The fee rate rose (or stayed and the base fee rose), or fell.
    pub fee_increased: u64,
    /// The fee fell.
    pub fee_decreased: u64,
    /// Directions disabled.
    pub disabled: u64,
    /// Directions enabled.
    pub enabled: u64,
    /// cltv delta or HTLC limits changed.
    pub limits_changed: u64,
    /// The largest changes first (fee rate change, then base fee change, by absolute value;
    /// then capacity, scid, direction), at most `limit`; first policies come after them.
    pub largest: Vec<PolicyChange>,
}

/// The network as of `to` compared with the network as of `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// The first instant.
    pub from: Time,
    /// The second instant.
    pub to: Time,
    #[serde(flatten)]
    /// Channels and nodes.
    pub changes: NetworkChanges,
    /// Policy changes.
    pub policies: PolicyChanges,
}

/// A diff range the store cannot answer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DiffRangeError {
    /// An instant the store cannot answer for.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// `from` after `to`.
    #[error("from ({from}) is after to ({to})")]
    Reversed {
        /// The first instant given.
        from: Time,
        /// The second instant given.
        to: Time,
    },
}

/// The instants a diff compares, from what the user gave: `to` defaults to the newest data,
/// `from` to a day before `to` (not before the first data); the future is `now`; an explicit
/// `from` before the first data is an error naming the first available time.
pub fn diff_range(
    from: Option<Time>,
    to: Option<Time>,
    now: i64,
    bounds: Option<Bounds>,
) -> Result<(Time, Time), DiffRangeError> {
    let b = bounds.ok_or(ResolveError::NoData)?;
    let to = Time(to.map_or(b.newest, |t| t.0).min(now));
    let from = match from {
        Some(t) if t.0 < b.first => {
            return Err(ResolveError::BeforeData {
                at: t,
                first: Time(b.first),
            }
            .into())
        }
        Some(t) => Time(t.0.min(now)),
        None => Time((to.0 - DAY_SECS).max(b.first)),
    };
    if from > to {
        return Err(DiffRangeError::Reversed { from, to });
    }
    Ok((from, to))
}

/// Channels opened and closed, capacity added and removed, nodes appeared and disappeared
/// between the end of day `from` and the end of day `to` (`from <= to`); lists hold at most
/// `limit` entries each, counts are complete.
pub async fn churn(db: &PgPool, from: Day, to: Day, limit: usize) -> Result<Churn> {
    let mut tx = read_only(db).await?;
    let changes = network_changes(&mut tx, from.end(), to.end(), limit).await?;
    tx.commit().await?;
    Ok(Churn { from, to, changes })
}

/// The network as of `to` compared with the network as of `from` (`from <= to`, both
/// resolved by the caller); lists hold at most `limit` entries each, counts are complete.
pub async fn diff(db: &PgPool, from: Time, to: Time, limit: usize) -> Result<Diff> {
    let (a, b) = (from.0 + 1, to.0 + 1);
    let mut tx = read_only(db).await?;
    let changes = network_changes(&mut tx, a, b, limit).await?;
    let mut rows = policy_rows(&mut tx, a, b).await?;
    tx.commit().await?;
    let policies = classify(&mut rows, limit);
    Ok(Diff {
        from,
        to,
        changes,
        policies,
    })
}

type ChurnTuple = (i64, Vec<u8>, Vec<u8>, i64, i64, Option<i64>);

fn churn_channel(r: ChurnTuple) -> Result<ChurnChannel> {
    Ok(ChurnChannel {
        scid: Scid::from_i64(r.0),
        node_1: node_id("channels", &r.1)?,
        node_2: node_id("channels", &r.2)?,
        capacity_sat: r.3,
        first_seen: r.4,
        closed_at: r.5,
    })
}

/// The channel and node part of a comparison of the instants `a <= b` (the `e` of the as-of
/// rules: `T + 1`, or a day's end).
async fn network_changes(
    tx: &mut Transaction<'_, Postgres>,
    a: i64,
    b: i64,
    limit: usize,
) -> Result<NetworkChanges> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    const OPEN_AT: &str =
        "first_seen < to_timestamp($1) AND (closed_at IS NULL OR closed_at >= to_timestamp($1))";
    let mut at = [(0i64, 0i64); 2];
    for (i, e) in [a, b].into_iter().enumerate() {
        at[i] = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(sum(capacity_sat), 0)::bigint FROM channels WHERE {OPEN_AT}"
        ))
        .bind(e)
        .fetch_one(&mut **tx)
        .await?;
    }
    const COLUMNS: &str =
        "scid, node_1, node_2, capacity_sat, extract(epoch FROM first_seen)::bigint, \
                           extract(epoch FROM closed_at)::bigint";
    let mut moved = Vec::new();
    for column in ["first_seen", "closed_at"] {
        let window = format!("{column} >= to_timestamp($1) AND {column} < to_timestamp($2)");
        let (count, capacity): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(sum(capacity_sat), 0)::bigint FROM channels WHERE {window}"
        ))
        .bind(a)
        .bind(b)
        .fetch_one(&mut **tx)
        .await?;
        let rows: Vec<ChurnTuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM channels WHERE {window} ORDER BY capacity_sat DESC, scid LIMIT $3"
        ))
        .bind(a)
        .bind(b)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
        let list = rows
            .into_iter()
            .map(churn_channel)
            .collect::<Result<Vec<_>>>()?;
        moved.push((count, capacity, list));
    }
    let nodes_at = |param: &str| {
        let open = OPEN_AT.replace("$1", param);
        format!("SELECT node_1 AS id FROM channels WHERE {open} UNION SELECT node_2 FROM channels WHERE {open}")
    };
    let node_sets = format!(
        "WITH a AS ({}), b AS ({}), appeared AS (SELECT id FROM b EXCEPT SELECT id FROM a), \
         gone AS (SELECT id FROM a EXCEPT SELECT id FROM b)",
        nodes_at("$1"),
        nodes_at("$2")
    );
    let counts: (i64, i64, i64, i64) = sqlx::query_as(&format!(
        "{node_sets} SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), \
         (SELECT count(*) FROM appeared), (SELECT count(*) FROM gone)"
    ))
    .bind(a)
    .bind(b)
    .fetch_one(&mut **tx)
    .await?;
    let mut lists = Vec::new();
    for set in ["appeared", "gone"] {
        let ids: Vec<Vec<u8>> = sqlx::query_scalar(&format!(
            "{node_sets} SELECT id FROM {set} ORDER BY id LIMIT $3"
        ))
        .bind(a)
        .bind(b)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
        lists.push(
            ids.iter()
                .map(|id| node_id("channels", id))
                .collect::<Result<Vec<_>>>()?,
        );
    }
    let disappeared = lists.pop().unwrap_or_default();
    let appeared = lists.pop().unwrap_or_default();
    let (closed_count, closed_capacity, closed) = moved.pop().unwrap_or_default();
    let (opened_count, opened_capacity, opened) = moved.pop().unwrap_or_default();
    Ok(NetworkChanges {
        channels_at_from: at[0].0 as u64,
        channels_at_to: at[1].0 as u64,
        capacity_at_from_sat: at[0].1,
        capacity_at_to_sat: at[1].1,
        nodes_at_from: counts.0 as u64,
        nodes_at_to: counts.1 as u64,
        channels_opened: opened_count as u64,
        channels_closed: closed_count as u64,
        capacity_added_sat: opened_capacity,
        capacity_removed_sat: closed_capacity,
        nodes_appeared: counts.2 as u64,
        nodes_disappeared: counts.3 as u64,
        opened,
        closed,
        appeared,
        disappeared,
    })
}

/// A direction whose policy in force differs between `a` and `b`, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PolicyRow {
    scid: i64,
    direction: i16,
    capacity_sat: i64,
    from: Option<PolicyState>,
    to: PolicyState,
}

/// A row of [`policy_rows`]' query: `p_*` the policy at `a` (all NULL without one), `q_*` at `b`.
#[derive(sqlx::FromRow)]
struct PolicyPair {
    scid: i64,
    direction: i16,
    capacity_sat: i64,
    p_timestamp: Option<i64>,
    p_disabled: Option<bool>,
    p_fee_base_msat: Option<i64>,
    p_fee_ppm: Option<i64>,
    p_cltv_delta: Option<i32>,
    p_htlc_min_msat: Option<i64>,
    p_htlc_max_msat: Option<i64>,
    q_timestamp: i64,
    q_disabled: bool,
    q_fee_base_msat: i64,
    q_fee_ppm: i64,
    q_cltv_delta: i32,
    q_htlc_min_msat: i64,
    q_htlc_max_msat: Option<i64>,
}

impl PolicyPair {
    fn into_row(self) -> PolicyRow {
        let from = match (
            self.p_timestamp,
            self.p_disabled,
            self.p_fee_base_msat,
            self.p_fee_ppm,
            self.p_cltv_delta,
            self.p_htlc_min_msat,
        ) {
            (Some(timestamp), Some(disabled), Some(base), Some(ppm), Some(cltv), Some(min)) => {
                Some(PolicyState {
                    timestamp,
                    disabled,
                    fee_base_msat: base,
                    fee_ppm: ppm,
                    cltv_delta: cltv,
                    htlc_min_msat: min,
                    htlc_max_msat: self.p_htlc_max_msat,
                })
            }
            _ => None,
        };
        PolicyRow {
            scid: self.scid,
            direction: self.direction,
            capacity_sat: self.capacity_sat,
            from,
            to: PolicyState {
                timestamp: self.q_timestamp,
                disabled: self.q_disabled,
                fee_base_msat: self.q_fee_base_msat,
                fee_ppm: self.q_fee_ppm,
                cltv_delta: self.q_cltv_delta,
                htlc_min_msat: self.q_htlc_min_msat,
                htlc_max_msat: self.q_htlc_max_msat,
            },
        }
    }
}

/// The directions of channels open at both instants whose policy in force at `b` differs
/// from the one at `a` in anything but its timestamp: one index probe per direction and
/// instant, as the as-of snapshot does.
async fn policy_rows(tx: &mut Transaction<'_, Postgres>, a: i64, b: i64) -> Result<Vec<PolicyRow>> {
    let lateral = |e: &str| {
        format!(
            "SELECT u.timestamp, u.disabled, u.fee_base_msat, u.fee_ppm, u.cltv_delta, \
             u.htlc_min_msat, u.htlc_max_msat FROM channel_updates u \
             WHERE u.scid = c.scid AND u.direction = d.direction AND u.timestamp < {e} \
             ORDER BY u.timestamp DESC LIMIT 1"
        )
    };
    let fields = |t: &str| {
        [
            "disabled",
            "fee_base_msat",
            "fee_ppm",
            "cltv_delta",
            "htlc_min_msat",
            "htlc_max_msat",
        ]
        .map(|f| format!("{t}.{f}"))
        .join(", ")
    };
    let columns = |t: &str| {
        [
            "timestamp",
            "disabled",
            "fee_base_msat",
            "fee_ppm",
            "cltv_delta",
            "htlc_min_msat",
            "htlc_max_msat",
        ]
        .map(|f| format!("{t}.{f} AS {t}_{f}"))
        .join(", ")
    };
    let sql = format!(
        "SELECT c.scid, d.direction, c.capacity_sat, {}, {} \
         FROM channels c CROSS JOIN (VALUES (0::smallint), (1::smallint)) AS d(direction) \
         LEFT JOIN LATERAL ({}) p ON true \
         CROSS JOIN LATERAL ({}) q \
         WHERE c.first_seen < to_timestamp($1) \
           AND (c.closed_at IS NULL OR c.closed_at >= to_timestamp($2)) \
           AND (p.timestamp IS NULL OR ({}) IS DISTINCT FROM ({}))",
        columns("p"),
        columns("q"),
        lateral("$1"),
        lateral("$2"),
        fields("p"),
        fields("q"),
    );
    let rows: Vec<PolicyPair> = sqlx::query_as(&sql)
        .bind(a)
        .bind(b)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(PolicyPair::into_row).collect())
}

/// Counts the changes by kind and keeps the `limit` largest (see [`PolicyChanges`]).
fn classify(rows: &mut [PolicyRow], limit: usize) -> PolicyChanges {
    let mut c = PolicyChanges {
        changed: rows.len() as u64,
        ..PolicyChanges::default()
    };
    for r in rows.iter() {
        let Some(p) = &r.from else {
            c.first_policies += 1;
            continue;
        };
        let q = &r.to;
        match (q.fee_ppm, q.fee_base_msat).cmp(&(p.fee_ppm, p.fee_base_msat)) {
            std::cmp::Ordering::Greater => c.fee_increased += 1,
            std::cmp::Ordering::Less => c.fee_decreased += 1,
            std::cmp::Ordering::Equal => {}
        }
        match (p.disabled, q.disabled) {
            (false, true) => c.disabled += 1,
            (true, false) => c.enabled += 1,
            _ => {}
        }
        if (p.cltv_delta, p.htlc_min_msat, p.htlc_max_msat)
            != (q.cltv_delta, q.htlc_min_msat, q.htlc_max_msat)
        {
            c.limits_changed += 1;
        }
    }
    // Largest first: fee rate change, then base fee change (absolute), capacity; first
    // policies (nothing to compare with) after every change.
    let key = |r: &PolicyRow| {
        let (ppm, base) = r.from.map_or((None, None), |p| {
            (
                Some(p.fee_ppm.abs_diff(r.to.fee_ppm)),
                Some(p.fee_base_msat.abs_diff(r.to.fee_base_msat)),
            )
        });
        (
            Reverse(ppm),
            Reverse(base),
            Reverse(r.capacity_sat),
            r.scid,
            r.direction,
        )
    };
    rows.sort_unstable_by_key(key);
    c.largest = rows
        .iter()
        .take(limit)
        .map(|r| PolicyChange {
            scid: Scid::from_i64(r.scid),
            direction: r.direction,
            capacity_sat: r.capacity_sat,
            from: r.from,
            to: r.to,
        })
        .collect();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_ranges_default_to_the_last_day_of_data_and_clamp_the_future() {
        let b = Some(Bounds {
            first: 1_000_000,
            newest: 2_000_000,
        });
        let now = 3_000_000;
        let r = |f: Option<i64>, t: Option<i64>| diff_range(f.map(Time), t.map(Time), now, b);
        assert_eq!(
            r(None, None),
            Ok((Time(2_000_000 - DAY_SECS), Time(2_000_000)))
        );
        assert_eq!(
            r(None, Some(1_050_000)),
            Ok((Time(1_000_000), Time(1_050_000)))
        );
        assert_eq!(
            r(Some(1_500_000), Some(9_999_999)),
            Ok((Time(1_500_000), Time(now)))
        );
        assert_eq!(
            r(Some(9_000_000), None),
            Err(DiffRangeError::Reversed {
                from: Time(now),
                to: Time(2_000_000)
            })
        );
        assert_eq!(
            r(Some(999_999), None),
            Err(DiffRangeError::Resolve(ResolveError::BeforeData {
                at: Time(999_999),
                first: Time(1_000_000)
            }))
        );
        assert_eq!(
            diff_range(None, None, now, None),
            Err(DiffRangeError::Resolve(ResolveError::NoData))
        );
    }

    fn state(ts: i64, disabled: bool, base: i64, ppm: i64, cltv: i32) -> PolicyState {
        PolicyState {
            timestamp: ts,
            disabled,
            fee_base_msat: base,
            fee_ppm: ppm,
            cltv_delta: cltv,
            htlc_min_msat: 1,
            htlc_max_msat: None,
        }
    }

    fn row(scid: i64, cap: i64, from: Option<PolicyState>, to: PolicyState) -> PolicyRow {
        PolicyRow {
            scid,
            direction: 0,
            capacity_sat: cap,
            from,
            to,
        }
    }

    #[test]
    fn policy_changes_are_counted_by_kind_and_listed_largest_first() {
        let mut rows = vec![
            // base fee up only
            row(
                1,
                10,
                Some(state(1, false, 1000, 10, 40)),
                state(2, false, 2000, 10, 40),
            ),
            // rate down a lot, and disabled
            row(
                2,
                10,
                Some(state(1, false, 0, 500, 40)),
                state(2, true, 0, 1, 40),
            ),
            // a first policy
            row(3, 99, None, state(2, false, 0, 1, 40)),
            // cltv only, re-enabled
            row(
                4,
                50,
                Some(state(1, true, 0, 1, 40)),
                state(2, false, 0, 1, 144),
            ),
            // rate up a little
            row(
                5,
                10,
                Some(state(1, false, 0, 1, 40)),
                state(2, false, 0, 2, 40),
            ),
        ];
        let c = classify(&mut rows, 4);
        assert_eq!(c.changed, 5);
        assert_eq!(c.first_policies, 1);
        assert_eq!((c.fee_increased, c.fee_decreased), (2, 1));
        assert_eq!((c.disabled, c.enabled), (1, 1));
        assert_eq!(c.limits_changed, 1);
        let order: Vec<u64> = c.largest.iter().map(|p| p.scid.0).collect();
        let scid = |i: i64| Scid::from_i64(i).0;
        assert_eq!(order, [scid(2), scid(5), scid(1), scid(4)]);
        assert_eq!(
            classify(&mut rows, 100).largest.last().unwrap().scid,
            Scid::from_i64(3)
        );
    }
}
