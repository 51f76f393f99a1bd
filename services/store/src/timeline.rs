//! The pure half of the history queries ([`crate::queries::history`]): calendar days, and a
//! replay of the channel graph's history evaluated at chosen instants.
//!
//! The replay's model of history, which every history endpoint shares:
//! * a channel is **open at instant `e`** when `first_seen < e` and it was not closed before
//!   `e` (`closed_at` is NULL or `>= e`). `first_seen` and `closed_at` are the gossip /
//!   snapshot times the store recorded (an import's snapshot time is the newest timestamp in
//!   its file), never the time an import ran;
//! * the **policy in force** of a channel direction at `e` is its newest stored
//!   `channel_update` with `timestamp < e` (as `channel_policies_current` does for "now");
//! * a day `D` is evaluated at its end, `e = D.end()` (the next day's 00:00 UTC), so a day's
//!   point includes everything that happened on it.
//!
//! No I/O here: rows come from the store's queries and results go back to them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use switchyard_graph::NodeId;

/// Seconds in a day.
pub const DAY_SECS: i64 = 86_400;

/// A UTC calendar day, counted in days since 1970-01-01. Displays and parses as
/// `YYYY-MM-DD` and serializes as that string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

/// A date that is not a valid `YYYY-MM-DD` between 1970 and 9999.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {0:?}: expected YYYY-MM-DD (UTC), between 1970-01-01 and 9999-12-31")]
pub struct DayParseError(pub String);

impl Day {
    /// The day containing unix time `secs`.
    pub fn from_unix(secs: i64) -> Day {
        Day(secs.div_euclid(DAY_SECS) as i32)
    }

    /// The day of a calendar date, if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1..=12).contains(&month) || day == 0 || day > 31 {
            return None;
        }
        let d = Day(days_from_civil(i64::from(year), month, day) as i32);
        (d.ymd() == (year, month, day)).then_some(d)
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        (y as i32, m, d)
    }

    /// 00:00:00 UTC of this day, unix seconds.
    pub fn start(self) -> i64 {
        i64::from(self.0) * DAY_SECS
    }

    /// 00:00:00 UTC of the next day: the instant a day is evaluated at (exclusive end).
    pub fn end(self) -> i64 {
        self.start() + DAY_SECS
    }

    /// The day `days` later (earlier when negative), saturating.
    pub fn plus(self, days: i32) -> Day {
        Day(self.0.saturating_add(days))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Day({self})")
    }
}

impl FromStr for Day {
    type Err = DayParseError;
    fn from_str(s: &str) -> Result<Day, DayParseError> {
        let err = || DayParseError(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, DayParseError> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if y < 1970 {
            return Err(err());
        }
        Day::from_ymd(y as i32, m, d).ok_or_else(err)
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// Howard Hinnant's civil calendar algorithms (proleptic Gregorian, days since 1970-01-01).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A channel's lifetime as stored.
#[derive(Debug, Clone)]
pub(crate) struct ChannelSpan {
    pub scid: i64,
    /// `[node_1, node_2]`: direction 0 is signed by `node_1`, direction 1 by `node_2`.
    pub nodes: [NodeId; 2],
    pub capacity_sat: i64,
    pub first_seen: i64,
    pub closed_at: Option<i64>,
}

/// One stored `channel_update` version (the fields history needs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PolicyVersion {
    pub scid: i64,
    pub direction: u8,
    pub timestamp: i64,
    pub disabled: bool,
    pub fee_base_msat: i64,
    pub fee_ppm: i64,
}

/// The policy in force of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub timestamp: i64,
    pub disabled: bool,
    pub fee_base_msat: i64,
    pub fee_ppm: i64,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Open(u32),
    Policy(u32, u8, Policy),
    Close(u32),
}

impl Event {
    /// Order of events at the same instant: opens, then policies, then closes.
    fn order(&self) -> u8 {
        match self {
            Event::Open(_) => 0,
            Event::Policy(..) => 1,
            Event::Close(_) => 2,
        }
    }
}

/// A multiset of integers with a nearest-rank median.
#[derive(Debug, Default)]
struct Multiset {
    counts: BTreeMap<i64, u64>,
    len: u64,
}

impl Multiset {
    fn insert(&mut self, v: i64) {
        *self.counts.entry(v).or_insert(0) += 1;
        self.len += 1;
    }

    fn remove(&mut self, v: i64) {
        if let Some(c) = self.counts.get_mut(&v) {
            *c -= 1;
            self.len -= 1;
            if *c == 0 {
                self.counts.remove(&v);
            }
        }
    }

    /// The nearest-rank median (`switchyard_graph::stats::Distribution`'s `p50`: the lower
    /// middle value of an even count).
    fn median(&self) -> Option<i64> {
        if self.len == 0 {
            return None;
        }
        let mut k = (self.len - 1) / 2;
        for (&v, &c) in &self.counts {
            if k < c {
                return Some(v);
            }
            k -= c;
        }
        None
    }
}

/// Replays history forward through increasing instants, keeping the open channels, their
/// policies in force, and running network totals.
pub(crate) struct Replay {
    channels: Vec<ChannelSpan>,
    open: Vec<bool>,
    policy: Vec<[Option<Policy>; 2]>,
    events: Vec<(i64, Event)>,
    next: usize,
    node_channels: HashMap<NodeId, u32>,
    /// Nodes with at least one open channel.
    pub nodes: u64,
    pub channels_open: u64,
    pub capacity_sat: i64,
    /// Directions of open channels whose policy in force is not disabled.
    pub enabled_directions: u64,
    base: Multiset,
    ppm: Multiset,
}

impl Replay {
    /// Versions of channels not in `channels` are ignored; so are channels closed before
    /// they were first seen (they were never open).
    pub fn new(channels: Vec<ChannelSpan>, versions: &[PolicyVersion]) -> Replay {
        let channels: Vec<ChannelSpan> = channels
            .into_iter()
            .filter(|c| c.closed_at.is_none_or(|t| t >= c.first_seen))
            .collect();
        let slot: HashMap<i64, u32> = channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.scid, i as u32))
            .collect();
        let mut events = Vec::with_capacity(channels.len() * 2 + versions.len());
        for (i, c) in channels.iter().enumerate() {
            events.push((c.first_seen, Event::Open(i as u32)));
            if let Some(t) = c.closed_at {
                events.push((t, Event::Close(i as u32)));
            }
        }
        for v in versions {
            if let (Some(&s), true) = (slot.get(&v.scid), v.direction < 2) {
                let p = Policy {
                    timestamp: v.timestamp,
                    disabled: v.disabled,
                    fee_base_msat: v.fee_base_msat,
                    fee_ppm: v.fee_ppm,
                };
                events.push((v.timestamp, Event::Policy(s, v.direction, p)));
            }
        }
        // Same-instant policies of one direction apply in timestamp order (the sort is stable
        // and `versions` come oldest first).
        events.sort_by_key(|(t, e)| (*t, e.order()));
        let n = channels.len();
        Replay {
            channels,
            open: vec![false; n],
            policy: vec![[None; 2]; n],
            events,
            next: 0,
            node_channels: HashMap::new(),
            nodes: 0,
            channels_open: 0,
            capacity_sat: 0,
            enabled_directions: 0,
            base: Multiset::default(),
            ppm: Multiset::default(),
        }
    }

    fn count_policy(&mut self, p: &Policy, sign: bool) {
        if p.disabled {
            return;
        }
        if sign {
            self.enabled_directions += 1;
            self.base.insert(p.fee_base_msat);
            self.ppm.insert(p.fee_ppm);
        } else {
            self.enabled_directions -= 1;
            self.base.remove(p.fee_base_msat);
            self.ppm.remove(p.fee_ppm);
        }
    }

    fn set_open(&mut self, s: usize, open: bool) {
        if self.open[s] == open {
            return;
        }
        self.open[s] = open;
        let nodes = self.channels[s].nodes;
        if open {
            self.channels_open += 1;
            self.capacity_sat += self.channels[s].capacity_sat;
            for n in nodes {
                let c = self.node_channels.entry(n).or_insert(0);
                *c += 1;
                if *c == 1 {
                    self.nodes += 1;
                }
            }
        } else {
            self.channels_open -= 1;
            self.capacity_sat -= self.channels[s].capacity_sat;
            for n in nodes {
                if let Some(c) = self.node_channels.get_mut(&n) {
                    *c -= 1;
                    if *c == 0 {
                        self.node_channels.remove(&n);
                        self.nodes -= 1;
                    }
                }
            }
        }
        for p in self.policy[s].into_iter().flatten() {
            self.count_policy(&p, open);
        }
    }

    /// Applies every event before instant `e` (instants must not decrease between calls).
    /// Returns how many channels opened and closed at instants in `[since, e)`.
    pub fn advance_to(&mut self, e: i64, since: i64) -> (u64, u64) {
        let (mut opened, mut closed) = (0, 0);
        while let Some(&(t, ev)) = self.events.get(self.next) {
            if t >= e {
                break;
            }
            self.next += 1;
            match ev {
                Event::Open(s) => {
                    if !self.open[s as usize] && t >= since {
                        opened += 1;
                    }
                    self.set_open(s as usize, true);
                }
                Event::Close(s) => {
                    if self.open[s as usize] && t >= since {
                        closed += 1;
                    }
                    self.set_open(s as usize, false);
                }
                Event::Policy(s, d, p) => {
                    let s = s as usize;
                    let old = self.policy[s][d as usize].replace(p);
                    if self.open[s] {
                        if let Some(old) = old {
                            self.count_policy(&old, false);
                        }
                        self.count_policy(&p, true);
                    }
                }
            }
        }
        (opened, closed)
    }

    pub fn median_fee_base_msat(&self) -> Option<i64> {
        self.base.median()
    }

    pub fn median_fee_ppm(&self) -> Option<i64> {
        self.ppm.median()
    }

    /// Calls `f(signing node, policy in force)` for both directions of every open channel.
    pub fn for_each_open_direction(&self, mut f: impl FnMut(&NodeId, Option<&Policy>)) {
        for (s, c) in self.channels.iter().enumerate() {
            if self.open[s] {
                for d in 0..2 {
                    f(&c.nodes[d], self.policy[s][d].as_ref());
                }
            }
        }
    }
}

/// How long a `channel_update` keeps a direction alive without a refresh: BOLT 7's prune
/// window (a node that keeps a channel usable re-signs its update well within two weeks).
pub const STALE_AFTER_SECS: i64 = 14 * DAY_SECS;

/// Each node's uptime over observation instants `points` (increasing): the share of its
/// (open channel, observation) pairs, per direction it signs, in which that direction's
/// policy in force was enabled and at most `stale_after` seconds old. Nodes without an open
/// channel at any observation are absent.
pub(crate) fn uptime(
    replay: &mut Replay,
    points: &[i64],
    stale_after: i64,
) -> HashMap<NodeId, f64> {
    let mut tally: HashMap<NodeId, (u64, u64)> = HashMap::new();
    for &e in points {
        replay.advance_to(e, e);
        replay.for_each_open_direction(|node, p| {
            let t = tally.entry(*node).or_insert((0, 0));
            t.1 += 1;
            if p.is_some_and(|p| !p.disabled && e - p.timestamp <= stale_after) {
                t.0 += 1;
            }
        });
    }
    tally
        .into_iter()
        .map(|(n, (up, seen))| (n, up as f64 / seen as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: u8) -> NodeId {
        let mut b = [2u8; 33];
        b[32] = i;
        NodeId::from_bytes_unchecked(b)
    }

    fn span(scid: i64, a: u8, b: u8, cap: i64, first: i64, closed: Option<i64>) -> ChannelSpan {
        ChannelSpan {
            scid,
            nodes: [node(a), node(b)],
            capacity_sat: cap,
            first_seen: first,
            closed_at: closed,
        }
    }

    fn pv(scid: i64, dir: u8, ts: i64, disabled: bool, base: i64, ppm: i64) -> PolicyVersion {
        PolicyVersion {
            scid,
            direction: dir,
            timestamp: ts,
            disabled,
            fee_base_msat: base,
            fee_ppm: ppm,
        }
    }

    #[test]
    fn days_parse_print_and_convert() {
        let d: Day = "2019-01-19".parse().unwrap();
        assert_eq!(d.to_string(), "2019-01-19");
        assert_eq!(d.start(), 1_547_856_000);
        assert_eq!(Day::from_unix(1_547_874_178), d);
        assert_eq!(Day::from_unix(d.end()), d.plus(1));
        assert_eq!("1970-01-01".parse::<Day>().unwrap(), Day(0));
        assert_eq!(
            "2020-02-29".parse::<Day>().unwrap().plus(1).to_string(),
            "2020-03-01"
        );
        for bad in [
            "2019-02-29",
            "2019-13-01",
            "2019-00-10",
            "2019-1-19",
            "19-01-2019",
            "2019-01-19T00:00:00Z",
            "+019-01-19",
            "1969-12-31",
            "",
        ] {
            assert!(bad.parse::<Day>().is_err(), "{bad}");
        }
        // Every day of four centuries round-trips.
        for z in -1000..150_000 {
            let (y, m, dd) = Day(z).ymd();
            assert_eq!(Day::from_ymd(y, m, dd), Some(Day(z)));
        }
    }

    #[test]
    fn replay_counts_open_channels_nodes_and_policies_in_force() {
        let channels = vec![
            span(1, 1, 2, 100, 10, None),
            span(2, 2, 3, 200, 10, Some(50)),
            span(3, 3, 4, 400, 40, None),
            span(4, 5, 6, 800, 60, Some(55)), // closed before first seen: never open
        ];
        let versions = vec![
            pv(1, 0, 5, false, 1000, 1),
            pv(1, 1, 5, false, 0, 100),
            pv(2, 0, 8, true, 5, 5),
            pv(1, 0, 30, false, 2000, 3),
            pv(3, 1, 45, false, 7, 7),
        ];
        let mut r = Replay::new(channels, &versions);
        // Before anything was seen.
        assert_eq!(r.advance_to(10, 0), (0, 0));
        assert_eq!((r.channels_open, r.nodes), (0, 0));
        // At 11: channels 1 and 2 open; 2 enabled directions (channel 2's is disabled).
        assert_eq!(r.advance_to(11, 0), (2, 0));
        assert_eq!((r.channels_open, r.nodes, r.capacity_sat), (2, 3, 300));
        assert_eq!(r.enabled_directions, 2);
        assert_eq!(r.median_fee_base_msat(), Some(0));
        assert_eq!(r.median_fee_ppm(), Some(1));
        // At 46: fee of channel 1 dir 0 changed; channel 3 open with one enabled direction.
        assert_eq!(r.advance_to(46, 11), (1, 0));
        assert_eq!((r.channels_open, r.nodes, r.capacity_sat), (3, 4, 700));
        assert_eq!(r.enabled_directions, 3);
        assert_eq!(r.median_fee_base_msat(), Some(7));
        assert_eq!(r.median_fee_ppm(), Some(7));
        // At 51: channel 2 closed (node 2 keeps channel 1, nothing disappears).
        assert_eq!(r.advance_to(51, 46), (0, 1));
        assert_eq!((r.channels_open, r.nodes, r.capacity_sat), (2, 4, 500));
        // Closing exactly at an instant counts from that instant on.
        let mut r = Replay::new(vec![span(1, 1, 2, 100, 10, Some(20))], &[]);
        r.advance_to(20, 0);
        assert_eq!(r.channels_open, 1);
        r.advance_to(21, 0);
        assert_eq!((r.channels_open, r.nodes, r.capacity_sat), (0, 0, 0));
    }

    #[test]
    fn multiset_median_is_nearest_rank() {
        let mut m = Multiset::default();
        assert_eq!(m.median(), None);
        for v in [5, 1, 3, 3, 9, 7] {
            m.insert(v);
        }
        // Sorted 1 3 3 5 7 9: nearest rank ceil(0.5 * 6) = 3rd value.
        assert_eq!(m.median(), Some(3));
        m.remove(1);
        assert_eq!(m.median(), Some(5));
        m.remove(42);
        assert_eq!(m.len, 5);
    }

    #[test]
    fn uptime_is_the_share_of_fresh_enabled_direction_observations() {
        let day = DAY_SECS;
        let channels = vec![
            span(1, 1, 2, 100, 0, None),
            span(2, 1, 3, 100, 0, Some(20 * day)),
        ];
        let versions = vec![
            // Node 1 on channel 1: fresh at day 1, stale by day 30 (no refresh).
            pv(1, 0, day / 2, false, 0, 0),
            // Node 2 on channel 1: disabled at first, enabled and refreshed later.
            pv(1, 1, day / 2, true, 0, 0),
            pv(1, 1, 25 * day, false, 0, 0),
            // Node 1 on channel 2: fresh; channel 2 closes before day 30.
            pv(2, 0, day / 2, false, 0, 0),
            // Node 3 never signs channel 2's direction 1.
        ];
        let mut r = Replay::new(channels, &versions);
        let u = uptime(&mut r, &[day, 30 * day], STALE_AFTER_SECS);
        // Node 1: day 1: 2 of 2 up; day 30: channel 1 stale (29.5 days old) -> 2 of 3.
        assert!((u[&node(1)] - 2.0 / 3.0).abs() < 1e-12);
        // Node 2: day 1 disabled, day 30 fresh and enabled.
        assert!((u[&node(2)] - 0.5).abs() < 1e-12);
        // Node 3: observed once (day 1), never signed.
        assert_eq!(u[&node(3)], 0.0);
        assert_eq!(u.len(), 3);
    }
}
