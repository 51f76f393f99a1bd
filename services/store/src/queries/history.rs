//! History of the graph over time: the per-day network series, one channel's and one node's
//! history, churn between two dates, and each node's uptime from gossip history.
//!
//! Every date here comes from gossip / snapshot time as stored (`channels.first_seen`,
//! `closed_at`, `channel_updates.timestamp`; an import's snapshot time is the newest
//! timestamp in its file), never from when an import ran. The model (when a channel counts
//! as open, which policy is in force) is described in [`crate::timeline`]; in short, a day is
//! the state at its end (00:00 UTC of the next day), and between two observations the last
//! known state holds.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use switchyard_graph::{NodeId, Scid};

use crate::error::Result;
use crate::queries::channels::{node_id, ChannelRow, UpdateRow};
pub use crate::queries::diff::{churn, Churn, ChurnChannel, NetworkChanges};
use crate::queries::nodes::{AnnouncementRow, NodeRow};
use crate::queries::read_only;
use crate::timeline::{self, ChannelSpan, PolicyVersion, Replay};
pub use crate::timeline::{Day, DayParseError, DAY_SECS, STALE_AFTER_SECS};

/// The most points one series may have.
pub const MAX_STEPS: usize = 366;

/// The spacing of a series' points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    #[default]
    /// One point per day.
    Day,
    /// One point per seven days.
    Week,
}

impl Step {
    /// Days between two points (1 or 7).
    pub fn days(self) -> i32 {
        match self {
            Step::Day => 1,
            Step::Week => 7,
        }
    }
}

/// A series range that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("from ({from}) is after to ({to})")]
    /// `from` is after `to`.
    Reversed {
        /// The first day asked.
        from: Day,
        /// The last day asked.
        to: Day,
    },
    #[error(
        "{from}..{to} by {step:?} has {steps} points; at most {max} are served \
         (narrow the range or use step=week)",
        max = MAX_STEPS
    )]
    /// The range has more than [`MAX_STEPS`] points.
    TooManySteps {
        /// The first day asked.
        from: Day,
        /// The last day asked.
        to: Day,
        /// The step asked.
        step: Step,
        /// Points the range would have.
        steps: usize,
    },
}

/// A checked series range: `from`, `from + step`, ... up to `to`, at most [`MAX_STEPS`] points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRange {
    /// First day (inclusive).
    pub from: Day,
    /// Last day (inclusive; the last point may fall before it).
    pub to: Day,
    /// Spacing of the points.
    pub step: Step,
}

impl SeriesRange {
    /// Checks a range: `from <= to` and at most [`MAX_STEPS`] points.
    pub fn new(from: Day, to: Day, step: Step) -> Result<SeriesRange, RangeError> {
        if from > to {
            return Err(RangeError::Reversed { from, to });
        }
        let steps = ((i64::from(to.0) - i64::from(from.0)) / i64::from(step.days()) + 1) as usize;
        if steps > MAX_STEPS {
            return Err(RangeError::TooManySteps {
                from,
                to,
                step,
                steps,
            });
        }
        Ok(SeriesRange { from, to, step })
    }

    /// The days of the points.
    pub fn days(&self) -> impl Iterator<Item = Day> + '_ {
        (self.from.0..=self.to.0)
            .step_by(self.step.days() as usize)
            .map(Day)
    }
}

/// The first and last day the store has graph data for: from the day the first channel was
/// seen to the newest day a channel was seen or closed. `None` for an empty store.
pub async fn data_range(db: &PgPool) -> Result<Option<(Day, Day)>> {
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT extract(epoch FROM min(first_seen))::bigint, \
         extract(epoch FROM greatest(max(last_seen), max(closed_at)))::bigint FROM channels",
    )
    .fetch_one(db)
    .await?;
    Ok(match row {
        (Some(a), Some(b)) => Some((Day::from_unix(a), Day::from_unix(b))),
        _ => None,
    })
}

/// Channels open at some instant of `[since, until)`, and the policy versions that can be
/// in force then, oldest first.
async fn timeline_rows(
    tx: &mut Transaction<'_, Postgres>,
    since: i64,
    until: i64,
) -> Result<(Vec<ChannelSpan>, Vec<PolicyVersion>)> {
    type ChannelTuple = (i64, Vec<u8>, Vec<u8>, i64, i64, Option<i64>);
    let rows: Vec<ChannelTuple> = sqlx::query_as(
        "SELECT scid, node_1, node_2, capacity_sat, extract(epoch FROM first_seen)::bigint, \
         extract(epoch FROM closed_at)::bigint FROM channels \
         WHERE first_seen < to_timestamp($2) AND (closed_at IS NULL OR closed_at >= to_timestamp($1))",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&mut **tx)
    .await?;
    let channels = rows
        .into_iter()
        .map(|(scid, n1, n2, cap, first, closed)| {
            Ok(ChannelSpan {
                scid,
                nodes: [node_id("channels", &n1)?, node_id("channels", &n2)?],
                capacity_sat: cap,
                first_seen: first,
                closed_at: closed,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    type VersionTuple = (i64, i16, i64, bool, i64, i64);
    let rows: Vec<VersionTuple> = sqlx::query_as(
        "SELECT scid, direction, timestamp, disabled, fee_base_msat, fee_ppm FROM ( \
           SELECT u.scid, u.direction, u.timestamp, u.disabled, u.fee_base_msat, u.fee_ppm, \
                  lead(u.timestamp) OVER (PARTITION BY u.scid, u.direction ORDER BY u.timestamp) AS next \
           FROM channel_updates u JOIN channels c USING (scid) \
           WHERE u.timestamp < $2 AND c.first_seen < to_timestamp($2) \
             AND (c.closed_at IS NULL OR c.closed_at >= to_timestamp($1)) \
         ) v WHERE next IS NULL OR next >= $1 ORDER BY timestamp, scid, direction",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&mut **tx)
    .await?;
    let versions = rows
        .into_iter()
        .map(
            |(scid, direction, timestamp, disabled, fee_base_msat, fee_ppm)| PolicyVersion {
                scid,
                direction: u8::try_from(direction).unwrap_or(u8::MAX),
                timestamp,
                disabled,
                fee_base_msat,
                fee_ppm,
            },
        )
        .collect();
    Ok((channels, versions))
}

/// The network at the end of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkPoint {
    /// The day (the state at its end, 24:00 UTC).
    pub date: Day,
    /// Nodes with at least one open channel.
    pub nodes: u64,
    /// Open channels.
    pub channels: u64,
    /// Summed capacity of the open channels.
    pub capacity_sat: i64,
    /// Directions of open channels whose policy in force is enabled.
    pub enabled_directions: u64,
    /// Nearest-rank medians over those enabled directions' policies (`null` with none).
    pub median_fee_base_msat: Option<i64>,
    /// Nearest-rank median ppm over the enabled directions (`null` with none).
    pub median_fee_ppm: Option<i64>,
    /// Channels first seen / closed during the step ending with this day.
    pub channels_opened: u64,
    /// Channels closed during the step ending with this day.
    pub channels_closed: u64,
    /// Whether an imported snapshot was taken on this day (the other days carry the last
    /// observed state forward, or reflect gossip received that day).
    pub snapshot: bool,
}

/// A network series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSeries {
    /// First day asked.
    pub from: Day,
    /// Last day asked.
    pub to: Day,
    /// Spacing of the points.
    pub step: Step,
    /// The days the store has data for ([`data_range`]); points outside it are left out.
    pub data_from: Option<Day>,
    /// Last day with data; `None` when the store is empty.
    pub data_to: Option<Day>,
    /// One point per step within both the range and the data.
    pub points: Vec<NetworkPoint>,
}

/// The network at the end of each day of `range` that lies within the stored data.
pub async fn network_series(db: &PgPool, range: &SeriesRange) -> Result<NetworkSeries> {
    let data = data_range(db).await?;
    let mut series = NetworkSeries {
        from: range.from,
        to: range.to,
        step: range.step,
        data_from: data.map(|d| d.0),
        data_to: data.map(|d| d.1),
        points: Vec::new(),
    };
    let Some((data_from, data_to)) = data else {
        return Ok(series);
    };
    let days: Vec<Day> = range
        .days()
        .filter(|d| *d >= data_from && *d <= data_to)
        .collect();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(series);
    };
    let step_secs = i64::from(range.step.days()) * DAY_SECS;
    let mut tx = read_only(db).await?;
    let (channels, versions) = timeline_rows(&mut tx, first.end() - step_secs, last.end()).await?;
    let snapshot_days: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT extract(epoch FROM snapshot_time)::bigint / 86400 FROM import_runs",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut replay = Replay::new(channels, &versions);
    for day in days {
        let (opened, closed) = replay.advance_to(day.end(), day.end() - step_secs);
        series.points.push(NetworkPoint {
            date: day,
            nodes: replay.nodes,
            channels: replay.channels_open,
            capacity_sat: replay.capacity_sat,
            enabled_directions: replay.enabled_directions,
            median_fee_base_msat: replay.median_fee_base_msat(),
            median_fee_ppm: replay.median_fee_ppm(),
            channels_opened: opened,
            channels_closed: closed,
            snapshot: snapshot_days.contains(&i64::from(day.0)),
        });
    }
    Ok(series)
}

/// Fees of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fees {
    /// Fixed fee (msat).
    pub fee_base_msat: i64,
    /// Proportional fee (ppm).
    pub fee_ppm: i64,
}

/// What happened to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelEventKind {
    /// First seen by the store (in a snapshot or in gossip). Its first policies may carry
    /// earlier timestamps: they were signed before the store saw the channel.
    Opened {
        /// Funding amount (sat).
        capacity_sat: i64,
    },
    /// The first stored policy of a direction (all its fields, `direction` included).
    Policy(UpdateRow),
    /// A direction's fee (base or ppm) changed.
    FeeChanged {
        /// 0: from `node_1`; 1: from `node_2`.
        direction: i16,
        /// The fees before.
        from: Fees,
        /// The fees after.
        to: Fees,
    },
    /// A direction became disabled.
    Disabled {
        /// 0: from `node_1`; 1: from `node_2`.
        direction: i16,
    },
    /// A direction became enabled again.
    Enabled {
        /// 0: from `node_1`; 1: from `node_2`.
        direction: i16,
    },
    /// cltv delta or HTLC limits changed (the new values).
    PolicyChanged {
        /// 0: from `node_1`; 1: from `node_2`.
        direction: i16,
        /// Cltv delta (blocks).
        cltv_delta: i32,
        /// Smallest HTLC (msat).
        htlc_min_msat: i64,
        /// Largest HTLC (msat); `None` when not announced.
        htlc_max_msat: Option<i64>,
    },
    /// Left the graph: no longer listed by a newer snapshot, or its funding output was spent.
    Closed {
        /// Block height of the spend, when known.
        close_height: Option<i32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// One event in a channel's history.
pub struct ChannelEvent {
    /// Unix seconds: an update's own timestamp, or the time the channel was first seen /
    /// closed.
    pub time: i64,
    #[serde(flatten)]
    /// What happened.
    pub kind: ChannelEventKind,
}

/// A channel with its history of state and policy changes, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelHistory {
    /// The channel's row.
    pub channel: ChannelRow,
    /// Stored `channel_update` versions, both directions.
    pub updates: usize,
    /// Versions that changed nothing but the timestamp (keep-alive re-signing).
    pub refreshes: usize,
    /// The events, oldest first.
    pub events: Vec<ChannelEvent>,
}

/// The events of a channel from its row and its updates (any order).
pub fn channel_events(row: &ChannelRow, updates: &[UpdateRow]) -> ChannelHistory {
    let mut ups: Vec<&UpdateRow> = updates.iter().collect();
    ups.sort_by_key(|u| (u.timestamp, u.direction));
    let mut events = vec![ChannelEvent {
        time: row.first_seen,
        kind: ChannelEventKind::Opened {
            capacity_sat: row.capacity_sat,
        },
    }];
    let mut refreshes = 0;
    let mut last: [Option<&UpdateRow>; 2] = [None, None];
    for u in ups {
        let d = u.direction;
        let slot = &mut last[usize::from(d == 1)];
        let time = u.timestamp;
        let before = events.len();
        match slot {
            None => events.push(ChannelEvent {
                time,
                kind: ChannelEventKind::Policy(u.clone()),
            }),
            Some(p) => {
                if (p.fee_base_msat, p.fee_ppm) != (u.fee_base_msat, u.fee_ppm) {
                    events.push(ChannelEvent {
                        time,
                        kind: ChannelEventKind::FeeChanged {
                            direction: d,
                            from: Fees {
                                fee_base_msat: p.fee_base_msat,
                                fee_ppm: p.fee_ppm,
                            },
                            to: Fees {
                                fee_base_msat: u.fee_base_msat,
                                fee_ppm: u.fee_ppm,
                            },
                        },
                    });
                }
                if p.disabled != u.disabled {
                    events.push(ChannelEvent {
                        time,
                        kind: if u.disabled {
                            ChannelEventKind::Disabled { direction: d }
                        } else {
                            ChannelEventKind::Enabled { direction: d }
                        },
                    });
                }
                if (p.cltv_delta, p.htlc_min_msat, p.htlc_max_msat)
                    != (u.cltv_delta, u.htlc_min_msat, u.htlc_max_msat)
                {
                    events.push(ChannelEvent {
                        time,
                        kind: ChannelEventKind::PolicyChanged {
                            direction: d,
                            cltv_delta: u.cltv_delta,
                            htlc_min_msat: u.htlc_min_msat,
                            htlc_max_msat: u.htlc_max_msat,
                        },
                    });
                }
                if events.len() == before {
                    refreshes += 1;
                }
            }
        }
        *slot = Some(u);
    }
    if let Some(t) = row.closed_at {
        events.push(ChannelEvent {
            time: t,
            kind: ChannelEventKind::Closed {
                close_height: row.close_height,
            },
        });
    }
    // Time order; at one instant, opened first and closed last (the sort is stable).
    events.sort_by_key(|e| {
        let rank = match e.kind {
            ChannelEventKind::Opened { .. } => 0,
            ChannelEventKind::Closed { .. } => 2,
            _ => 1,
        };
        (e.time, rank)
    });
    ChannelHistory {
        channel: row.clone(),
        updates: updates.len(),
        refreshes,
        events,
    }
}

/// A channel's history; `None` for an unknown channel.
pub async fn channel_history(db: &PgPool, scid: Scid) -> Result<Option<ChannelHistory>> {
    let mut tx = read_only(db).await?;
    let Some(row) = crate::queries::channels::get(&mut *tx, scid).await? else {
        return Ok(None);
    };
    let updates = crate::queries::channels::updates(&mut *tx, scid).await?;
    tx.commit().await?;
    Ok(Some(channel_events(&row, &updates)))
}

/// An announcement field that changed: `[before, after]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change<T> {
    /// The value before.
    pub from: T,
    /// The value after.
    pub to: T,
}

/// What happened to a node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeEventKind {
    /// A channel of the node was first seen.
    ChannelOpened {
        /// The channel.
        scid: Scid,
        /// The node at the other end.
        peer: NodeId,
        /// Funding amount (sat).
        capacity_sat: i64,
    },
    /// A channel of the node was closed.
    ChannelClosed {
        /// The channel.
        scid: Scid,
        /// The node at the other end.
        peer: NodeId,
        /// Funding amount (sat).
        capacity_sat: i64,
        /// Block height of the spend, when known.
        close_height: Option<i32>,
    },
    /// The first stored announcement.
    Announced {
        /// The alias.
        alias: String,
        /// `rrggbb`.
        color: String,
        /// Addresses, as `[{"type", "address", "port"}]`.
        addresses: serde_json::Value,
        /// Feature bits (hex).
        features: String,
    },
    /// A later announcement that changed something; only the changed fields are present.
    AnnouncementChanged {
        #[serde(skip_serializing_if = "Option::is_none")]
        /// When the alias changed.
        alias: Option<Change<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        /// When the color changed.
        color: Option<Change<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        /// When the addresses changed.
        addresses: Option<Change<serde_json::Value>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        /// When the feature bits (hex) changed.
        features: Option<Change<String>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
/// One event in a node's history.
pub struct NodeEvent {
    /// Unix seconds: when the channel was first seen / closed, or the announcement's own
    /// timestamp (its `received_at` when the source gave none).
    pub time: i64,
    #[serde(flatten)]
    /// What happened.
    pub kind: NodeEventKind,
}

/// A node's history: channels opened and closed, announcement changes, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeHistory {
    /// The node's row.
    pub node: NodeRow,
    /// Its channels open now.
    pub channels_open: u64,
    /// Its channels ever first seen (open or since closed).
    pub channels_opened: u64,
    /// Its channels closed.
    pub channels_closed: u64,
    /// Stored announcement versions.
    pub announcements: usize,
    /// The events, oldest first.
    pub events: Vec<NodeEvent>,
}

/// A channel of a node, for [`node_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChannel {
    /// The channel.
    pub scid: Scid,
    /// The node at the other end.
    pub peer: NodeId,
    /// Funding amount (sat).
    pub capacity_sat: i64,
    /// When the store first saw it (unix seconds).
    pub first_seen: i64,
    /// When it was marked closed (unix seconds); `None` while open.
    pub closed_at: Option<i64>,
    /// Block height of the spend that closed it, when known.
    pub close_height: Option<i32>,
}

/// The events of a node from its row, channels and announcements (any order).
pub fn node_events(
    node: NodeRow,
    channels: &[NodeChannel],
    announcements: &[AnnouncementRow],
) -> NodeHistory {
    let mut events = Vec::new();
    for c in channels {
        events.push(NodeEvent {
            time: c.first_seen,
            kind: NodeEventKind::ChannelOpened {
                scid: c.scid,
                peer: c.peer,
                capacity_sat: c.capacity_sat,
            },
        });
        if let Some(t) = c.closed_at {
            events.push(NodeEvent {
                time: t,
                kind: NodeEventKind::ChannelClosed {
                    scid: c.scid,
                    peer: c.peer,
                    capacity_sat: c.capacity_sat,
                    close_height: c.close_height,
                },
            });
        }
    }
    let time = |a: &AnnouncementRow| {
        if a.timestamp > 0 {
            a.timestamp
        } else {
            a.received_at
        }
    };
    let mut anns: Vec<&AnnouncementRow> = announcements.iter().collect();
    anns.sort_by_key(|a| (time(a), a.timestamp));
    let mut prev: Option<&AnnouncementRow> = None;
    for a in anns {
        let kind = match prev {
            None => Some(NodeEventKind::Announced {
                alias: a.alias.clone(),
                color: a.color.clone(),
                addresses: a.addresses.clone(),
                features: a.features.clone(),
            }),
            Some(p) => {
                fn change<T: PartialEq + Clone>(from: &T, to: &T) -> Option<Change<T>> {
                    (from != to).then(|| Change {
                        from: from.clone(),
                        to: to.clone(),
                    })
                }
                let (alias, color, addresses, features) = (
                    change(&p.alias, &a.alias),
                    change(&p.color, &a.color),
                    change(&p.addresses, &a.addresses),
                    change(&p.features, &a.features),
                );
                (alias.is_some() || color.is_some() || addresses.is_some() || features.is_some())
                    .then_some(NodeEventKind::AnnouncementChanged {
                        alias,
                        color,
                        addresses,
                        features,
                    })
            }
        };
        if let Some(kind) = kind {
            events.push(NodeEvent {
                time: time(a),
                kind,
            });
        }
        prev = Some(a);
    }
    events.sort_by_key(|e| e.time);
    NodeHistory {
        node,
        channels_open: channels.iter().filter(|c| c.closed_at.is_none()).count() as u64,
        channels_opened: channels.len() as u64,
        channels_closed: channels.iter().filter(|c| c.closed_at.is_some()).count() as u64,
        announcements: announcements.len(),
        events,
    }
}

/// A node's history; `None` for a node the store never saw.
pub async fn node_history(db: &PgPool, id: &NodeId) -> Result<Option<NodeHistory>> {
    let mut tx = read_only(db).await?;
    let Some(node) = crate::queries::nodes::get(&mut *tx, id).await? else {
        return Ok(None);
    };
    type Row = (i64, Vec<u8>, Vec<u8>, i64, i64, Option<i64>, Option<i32>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT scid, node_1, node_2, capacity_sat, extract(epoch FROM first_seen)::bigint, \
         extract(epoch FROM closed_at)::bigint, close_height FROM channels \
         WHERE node_1 = $1 OR node_2 = $1 ORDER BY scid",
    )
    .bind(&id.0[..])
    .fetch_all(&mut *tx)
    .await?;
    let announcements = crate::queries::nodes::announcements(&mut *tx, id).await?;
    tx.commit().await?;
    let channels = rows
        .into_iter()
        .map(|(scid, n1, n2, cap, first, closed, height)| {
            let (n1, n2) = (node_id("channels", &n1)?, node_id("channels", &n2)?);
            Ok(NodeChannel {
                scid: Scid::from_i64(scid),
                peer: if n1 == *id { n2 } else { n1 },
                capacity_sat: cap,
                first_seen: first,
                closed_at: closed,
                close_height: height,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(node_events(node, &channels, &announcements)))
}

/// An instant after any data (10000-01-01): "no limit" for queries bounded by an instant.
const FAR_FUTURE: i64 = 253_402_300_800;

/// How far back uptime looks from the newest observation.
pub const UPTIME_WINDOW_SECS: i64 = 180 * DAY_SECS;

/// Each node's uptime from gossip history, for the composite rank.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeUptime {
    /// The observation instants used (unix seconds), oldest first.
    pub points: Vec<i64>,
    /// Uptime in `[0, 1]` of every node with an open channel at some observation.
    pub by_node: HashMap<NodeId, f64>,
}

/// Each node's **uptime**: the share of observations of its channel directions in which the
/// direction was usable, i.e. its policy in force was enabled and had been signed (or
/// re-signed) within the last 14 days ([`STALE_AFTER_SECS`], BOLT 7's prune window).
///
/// Observations are made, for every channel open at that instant and each direction the node
/// signs, at:
/// * the snapshot time of each imported channel file (the file's newest timestamp), and
/// * the end of each UTC day on which gossip was received from peers (capped at the newest
///   receipt),
///
/// within [`UPTIME_WINDOW_SECS`] before the newest observation. A node that is offline stops
/// re-signing its updates and its peers' disabling shows on their side, so both staleness and
/// disabled flags count against it. Nodes never observed with an open channel are absent (the
/// rank then leaves the component out).
pub async fn node_uptime(db: &PgPool) -> Result<NodeUptime> {
    node_uptime_until(db, None).await
}

/// [`node_uptime`] as of `at`: only the observations made by then (imports of snapshots
/// taken by `at`, gossip received by `at`), so the rank of the graph as of `at` uses what
/// was known then.
pub async fn node_uptime_until(db: &PgPool, at: Option<crate::time::Time>) -> Result<NodeUptime> {
    // Observations at instants up to `e` (the as-of rules' end of second `at`).
    let e = at.map_or(FAR_FUTURE, |t| t.0 + 1);
    let mut tx = read_only(db).await?;
    let mut points: Vec<i64> = sqlx::query_scalar(
        "WITH g AS (SELECT extract(epoch FROM max(received_at))::bigint AS newest \
           FROM channel_updates WHERE source = 'gossip' AND received_at < to_timestamp($1)) \
         SELECT DISTINCT t FROM ( \
           SELECT extract(epoch FROM snapshot_time)::bigint + 1 AS t FROM import_runs \
             WHERE channel_entries > 0 AND snapshot_time < to_timestamp($1) \
           UNION ALL \
           SELECT least((extract(epoch FROM u.received_at)::bigint / 86400 + 1) * 86400, g.newest + 1) \
             FROM channel_updates u, g WHERE u.source = 'gossip' AND u.received_at < to_timestamp($1) \
         ) p ORDER BY t",
    )
    .bind(e)
    .fetch_all(&mut *tx)
    .await?;
    let Some(&newest) = points.last() else {
        tx.commit().await?;
        return Ok(NodeUptime::default());
    };
    points.retain(|&t| t > newest - UPTIME_WINDOW_SECS);
    let first = points.first().copied().unwrap_or(newest);
    let (channels, versions) = timeline_rows(&mut tx, first, newest).await?;
    tx.commit().await?;
    let mut replay = Replay::new(channels, &versions);
    let by_node = timeline::uptime(&mut replay, &points, STALE_AFTER_SECS);
    Ok(NodeUptime { points, by_node })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: u8) -> NodeId {
        let mut b = [3u8; 33];
        b[32] = i;
        NodeId::from_bytes_unchecked(b)
    }

    fn update(dir: i16, ts: i64, disabled: bool, base: i64, ppm: i64, cltv: i32) -> UpdateRow {
        UpdateRow {
            direction: dir,
            timestamp: ts,
            message_flags: 1,
            channel_flags: dir,
            disabled,
            cltv_delta: cltv,
            htlc_min_msat: 1000,
            htlc_max_msat: None,
            fee_base_msat: base,
            fee_ppm: ppm,
            received_at: ts,
            source: "import".into(),
        }
    }

    #[test]
    fn ranges_are_bounded_and_ordered() {
        let d = |s: &str| s.parse::<Day>().unwrap();
        let r = SeriesRange::new(d("2019-01-19"), d("2019-05-14"), Step::Day).unwrap();
        assert_eq!(r.days().count(), 116);
        let r = SeriesRange::new(d("2019-01-01"), d("2019-01-15"), Step::Week).unwrap();
        assert_eq!(
            r.days().map(|d| d.to_string()).collect::<Vec<_>>(),
            ["2019-01-01", "2019-01-08", "2019-01-15"]
        );
        assert!(SeriesRange::new(d("2019-01-01"), d("2020-01-01"), Step::Day).is_ok());
        assert!(matches!(
            SeriesRange::new(d("2019-01-01"), d("2020-01-02"), Step::Day),
            Err(RangeError::TooManySteps { steps: 367, .. })
        ));
        assert!(SeriesRange::new(d("2019-01-01"), d("2025-12-31"), Step::Week).is_ok());
        assert!(matches!(
            SeriesRange::new(d("2019-01-02"), d("2019-01-01"), Step::Day),
            Err(RangeError::Reversed { .. })
        ));
    }

    #[test]
    fn channel_events_name_each_change_in_time_order() {
        let row = ChannelRow {
            scid: Scid::from_i64(1 << 40),
            node_1: node(1),
            node_2: node(2),
            capacity_sat: 5000,
            funding_outpoint: None,
            first_seen: 100,
            last_seen: 400,
            closed_at: Some(500),
            close_height: None,
        };
        let updates = vec![
            update(0, 300, true, 1000, 5, 40),
            update(0, 90, false, 1000, 1, 40),
            update(1, 95, false, 0, 10, 40),
            update(1, 200, false, 0, 10, 40), // refresh only
            update(1, 250, false, 0, 10, 144),
        ];
        let h = channel_events(&row, &updates);
        let kinds: Vec<(i64, String)> = h
            .events
            .iter()
            .map(|e| {
                let v = serde_json::to_value(e).unwrap();
                (e.time, v["kind"].as_str().unwrap().to_owned())
            })
            .collect();
        let expect = [
            (90, "policy"),
            (95, "policy"),
            (100, "opened"),
            (250, "policy_changed"),
            (300, "fee_changed"),
            (300, "disabled"),
            (500, "closed"),
        ];
        assert_eq!(
            kinds,
            expect
                .iter()
                .map(|(t, k)| (*t, k.to_string()))
                .collect::<Vec<_>>()
        );
        assert_eq!((h.updates, h.refreshes), (5, 1));
        let fee = serde_json::to_value(&h.events[4]).unwrap();
        assert_eq!(fee["direction"], 0);
        assert_eq!(fee["from"]["fee_ppm"], 1);
        assert_eq!(fee["to"]["fee_ppm"], 5);
        let first = serde_json::to_value(&h.events[0]).unwrap();
        assert_eq!(first["fee_ppm"], 1, "the first policy is flattened in");
    }

    #[test]
    fn node_events_list_channels_and_announcement_changes() {
        let row = NodeRow {
            node_id: node(1).to_hex(),
            first_seen: 100,
            last_seen: 300,
        };
        let ch = |scid: i64, first: i64, closed: Option<i64>| NodeChannel {
            scid: Scid::from_i64(scid << 40),
            peer: node(2),
            capacity_sat: 10,
            first_seen: first,
            closed_at: closed,
            close_height: None,
        };
        let ann = |ts: i64, alias: &str| AnnouncementRow {
            timestamp: ts,
            alias: alias.into(),
            color: "ffffff".into(),
            addresses: serde_json::json!([]),
            features: String::new(),
            received_at: 1000,
            source: "import".into(),
        };
        let h = node_events(
            row,
            &[ch(1, 100, Some(300)), ch(2, 300, None)],
            &[ann(250, "new"), ann(50, "old"), ann(120, "old")],
        );
        let v = serde_json::to_value(&h).unwrap();
        let kinds: Vec<&str> = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "announced",
                "channel_opened",
                "announcement_changed",
                "channel_closed",
                "channel_opened"
            ]
        );
        let changed = &v["events"][2];
        assert_eq!(changed["alias"]["from"], "old");
        assert_eq!(changed["alias"]["to"], "new");
        assert!(changed.get("color").is_none());
        assert_eq!(
            (h.channels_open, h.channels_opened, h.channels_closed),
            (1, 2, 1)
        );
    }
}
