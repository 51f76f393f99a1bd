//! History queries on the two 2019 snapshots imported one after the other, checked against
//! what the files say (read with the graph loader, independently of the store's SQL).

use std::collections::{HashMap, HashSet};

use switchyard_graph::load::{self, Record, UpdateRecord};
use switchyard_graph::stats::Distribution;
use switchyard_graph::testing::data_file;
use switchyard_graph::{NodeId, Scid};
use switchyard_store::queries::history::{self, ChannelEventKind, Day, SeriesRange, Step};
use switchyard_store::testing::TestDb;

use crate::import::import_files;

/// What a channels file says.
pub struct Facts {
    /// Its newest timestamp: the moment the snapshot describes.
    pub time: i64,
    pub capacity: HashMap<Scid, u64>,
    pub ends: HashMap<Scid, [NodeId; 2]>,
    pub updates: Vec<UpdateRecord>,
}

impl Facts {
    pub fn read(file: &str) -> Facts {
        let mut f = Facts {
            time: 0,
            capacity: HashMap::new(),
            ends: HashMap::new(),
            updates: Vec::new(),
        };
        for r in load::read_file_to_vec(&data_file(file)).unwrap() {
            match r {
                Record::Channel(c) => {
                    f.capacity.insert(c.scid, c.capacity_sat);
                    f.ends.insert(c.scid, [c.node_1, c.node_2]);
                }
                Record::Update(u) => {
                    f.time = f.time.max(i64::from(u.timestamp));
                    f.updates.push(u);
                }
                Record::Node(_) => {}
            }
        }
        f
    }

    pub fn day(&self) -> Day {
        Day::from_unix(self.time)
    }

    pub fn nodes(&self) -> HashSet<NodeId> {
        self.ends.values().flatten().copied().collect()
    }

    pub fn capacity_sat(&self) -> i64 {
        self.capacity.values().sum::<u64>() as i64
    }
}

/// The policy in force at instant `e` of each direction of `open`'s channels: the newest
/// update before `e` among everything `known`.
fn in_force<'a>(
    open: &Facts,
    known: &[&'a Facts],
    e: i64,
) -> HashMap<(Scid, u8), &'a UpdateRecord> {
    let mut m: HashMap<(Scid, u8), &UpdateRecord> = HashMap::new();
    for u in known.iter().flat_map(|f| &f.updates) {
        if !open.ends.contains_key(&u.scid) || i64::from(u.timestamp) >= e {
            continue;
        }
        let slot = m.entry((u.scid, u.direction)).or_insert(u);
        if u.timestamp > slot.timestamp {
            *slot = u;
        }
    }
    m
}

/// Churn between the two snapshot dates is the difference of the files; returns it (complete
/// lists).
async fn assert_churn_is_the_difference_of_the_files(
    pool: &sqlx::PgPool,
    jan: &Facts,
    may: &Facts,
) -> history::Churn {
    let jan_scids: HashSet<Scid> = jan.ends.keys().copied().collect();
    let may_scids: HashSet<Scid> = may.ends.keys().copied().collect();
    let churn = history::churn(pool, jan.day(), may.day(), 100_000)
        .await
        .unwrap();
    let opened: HashSet<Scid> = may_scids.difference(&jan_scids).copied().collect();
    let closed: HashSet<Scid> = jan_scids.difference(&may_scids).copied().collect();
    assert_eq!(churn.changes.channels_opened, opened.len() as u64);
    assert_eq!(churn.changes.channels_closed, closed.len() as u64);
    assert_eq!(
        churn
            .changes
            .opened
            .iter()
            .map(|c| c.scid)
            .collect::<HashSet<_>>(),
        opened
    );
    assert_eq!(
        churn
            .changes
            .closed
            .iter()
            .map(|c| c.scid)
            .collect::<HashSet<_>>(),
        closed
    );
    assert_eq!(
        churn.changes.capacity_added_sat,
        opened.iter().map(|s| may.capacity[s] as i64).sum::<i64>()
    );
    assert_eq!(
        churn.changes.capacity_removed_sat,
        closed.iter().map(|s| jan.capacity[s] as i64).sum::<i64>()
    );
    assert_eq!(
        (churn.changes.channels_at_from, churn.changes.channels_at_to),
        (jan_scids.len() as u64, may_scids.len() as u64)
    );
    assert_eq!(
        (
            churn.changes.capacity_at_from_sat,
            churn.changes.capacity_at_to_sat
        ),
        (jan.capacity_sat(), may.capacity_sat())
    );
    let (jan_nodes, may_nodes) = (jan.nodes(), may.nodes());
    let appeared: HashSet<NodeId> = may_nodes.difference(&jan_nodes).copied().collect();
    let gone: HashSet<NodeId> = jan_nodes.difference(&may_nodes).copied().collect();
    assert_eq!(
        (
            churn.changes.nodes_appeared,
            churn.changes.nodes_disappeared
        ),
        (appeared.len() as u64, gone.len() as u64)
    );
    assert_eq!(
        churn
            .changes
            .appeared
            .iter()
            .copied()
            .collect::<HashSet<_>>(),
        appeared
    );
    assert_eq!(
        churn
            .changes
            .disappeared
            .iter()
            .copied()
            .collect::<HashSet<_>>(),
        gone
    );
    assert!(churn
        .changes
        .closed
        .windows(2)
        .all(|w| w[0].capacity_sat >= w[1].capacity_sat));
    let small = history::churn(pool, jan.day(), may.day(), 3).await.unwrap();
    assert_eq!(small.changes.closed, churn.changes.closed[..3]);
    assert_eq!(small.changes.channels_closed, churn.changes.channels_closed);
    // Nothing happens between two days without data.
    let quiet = history::churn(pool, jan.day().plus(1), may.day().plus(-1), 10)
        .await
        .unwrap();
    assert_eq!(
        (quiet.changes.channels_opened, quiet.changes.channels_closed),
        (0, 0)
    );
    churn
}

#[tokio::test]
async fn history_of_january_then_may_matches_the_files() {
    let db = TestDb::new().await;
    let pool = db.store.pool();
    import_files(
        &db.store,
        &["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"],
    )
    .await
    .unwrap();
    import_files(
        &db.store,
        &["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"],
    )
    .await
    .unwrap();
    let jan = Facts::read("channels-2019-01-18.json.xz");
    let may = Facts::read("channels-2019-05-14.json.xz");
    assert_eq!(
        jan.day().to_string(),
        "2019-01-19",
        "the newest timestamp is UTC Jan 19"
    );
    assert_eq!(may.day().to_string(), "2019-05-14");

    // The data range is the snapshots' gossip time, not the time of the imports (today).
    assert_eq!(
        history::data_range(pool).await.unwrap(),
        Some((jan.day(), may.day()))
    );

    // A daily series over January..May, asked from before the first data.
    let range = SeriesRange::new(jan.day().plus(-10), may.day(), Step::Day).unwrap();
    let series = history::network_series(pool, &range).await.unwrap();
    let days = (may.day().0 - jan.day().0 + 1) as usize;
    assert_eq!(
        series.points.len(),
        days,
        "days before the data are left out"
    );
    assert_eq!(series.points[0].date, jan.day());
    assert_eq!(series.points[days - 1].date, may.day());
    let snapshot_days: Vec<Day> = series
        .points
        .iter()
        .filter(|p| p.snapshot)
        .map(|p| p.date)
        .collect();
    assert_eq!(snapshot_days, [jan.day(), may.day()]);

    // On each snapshot date the counts are the file's, and the median fees are those of the
    // enabled policies in force (the newest update of each direction known by then).
    for (facts, known, point) in [
        (&jan, vec![&jan], &series.points[0]),
        (&may, vec![&jan, &may], &series.points[days - 1]),
    ] {
        assert_eq!(
            point.channels,
            facts.capacity.len() as u64,
            "{}",
            point.date
        );
        assert_eq!(point.nodes, facts.nodes().len() as u64, "{}", point.date);
        assert_eq!(point.capacity_sat, facts.capacity_sat(), "{}", point.date);
        let policies = in_force(facts, &known, point.date.end());
        let enabled: Vec<_> = policies.values().filter(|u| !u.disabled).collect();
        assert_eq!(point.enabled_directions, enabled.len() as u64);
        let mut base: Vec<u64> = enabled.iter().map(|u| u64::from(u.fee_base_msat)).collect();
        let mut ppm: Vec<u64> = enabled.iter().map(|u| u64::from(u.fee_ppm)).collect();
        assert_eq!(
            point.median_fee_base_msat,
            Some(Distribution::of(&mut base).p50 as i64)
        );
        assert_eq!(
            point.median_fee_ppm,
            Some(Distribution::of(&mut ppm).p50 as i64)
        );
    }
    // Between the snapshots the January state holds; May brings the opens and closes.
    let jan_scids: HashSet<Scid> = jan.ends.keys().copied().collect();
    let may_scids: HashSet<Scid> = may.ends.keys().copied().collect();
    let mid = &series.points[days / 2];
    assert!(!mid.snapshot);
    assert_eq!(
        (mid.channels, mid.nodes, mid.capacity_sat),
        (
            series.points[0].channels,
            series.points[0].nodes,
            series.points[0].capacity_sat
        )
    );
    assert_eq!((mid.channels_opened, mid.channels_closed), (0, 0));
    let last = &series.points[days - 1];
    assert_eq!(
        last.channels_opened,
        may_scids.difference(&jan_scids).count() as u64
    );
    assert_eq!(
        last.channels_closed,
        jan_scids.difference(&may_scids).count() as u64
    );
    // Weekly points are the daily points of those days.
    let weekly = history::network_series(
        pool,
        &SeriesRange::new(jan.day(), may.day(), Step::Week).unwrap(),
    )
    .await
    .unwrap();
    for p in &weekly.points {
        let daily = &series.points[(p.date.0 - jan.day().0) as usize];
        assert_eq!(
            (p.channels, p.median_fee_ppm),
            (daily.channels, daily.median_fee_ppm)
        );
    }
    // After the data: nothing (the state there is unknown).
    let after = history::network_series(
        pool,
        &SeriesRange::new(may.day().plus(1), may.day().plus(30), Step::Day).unwrap(),
    )
    .await
    .unwrap();
    assert!(after.points.is_empty());

    let churn = assert_churn_is_the_difference_of_the_files(pool, &jan, &may).await;

    // A channel of January gone in May: closed at the May snapshot time.
    let gone_scid = churn.changes.closed[0].scid;
    let h = history::channel_history(pool, gone_scid)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        h.events.first().map(|e| &e.kind),
        Some(ChannelEventKind::Policy(_) | ChannelEventKind::Opened { .. })
    ));
    let last_event = h.events.last().unwrap();
    assert_eq!(last_event.time, may.time);
    assert!(matches!(last_event.kind, ChannelEventKind::Closed { .. }));
    assert!(h.events.windows(2).all(|w| w[0].time <= w[1].time));

    // A fee change between the snapshots shows in the channel's history.
    let jan_pol = in_force(&jan, &[&jan], i64::MAX);
    let may_pol = in_force(&may, &[&may], i64::MAX);
    let (&(scid, dir), new) = may_pol
        .iter()
        .filter(|(k, u)| {
            jan_pol.get(k).is_some_and(|o| {
                o.timestamp < u.timestamp
                    && (o.fee_base_msat, o.fee_ppm) != (u.fee_base_msat, u.fee_ppm)
            })
        })
        .min_by_key(|(k, _)| **k)
        .unwrap();
    let old = jan_pol[&(scid, dir)];
    let h = history::channel_history(pool, scid).await.unwrap().unwrap();
    let fee_changes: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            ChannelEventKind::FeeChanged {
                direction,
                from,
                to,
            } if *direction == i16::from(dir) => Some((
                e.time,
                from.fee_base_msat,
                from.fee_ppm,
                to.fee_base_msat,
                to.fee_ppm,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        fee_changes,
        [(
            i64::from(new.timestamp),
            i64::from(old.fee_base_msat),
            i64::from(old.fee_ppm),
            i64::from(new.fee_base_msat),
            i64::from(new.fee_ppm)
        )]
    );
    assert!(history::channel_history(pool, Scid::new(1, 1, 1).unwrap())
        .await
        .unwrap()
        .is_none());

    // The closed channel's endpoints list it in their history.
    let node = churn.changes.closed[0].node_1;
    let nh = history::node_history(pool, &node).await.unwrap().unwrap();
    assert!(nh.events.iter().any(|e| matches!(
        &e.kind,
        history::NodeEventKind::ChannelClosed { scid, .. } if *scid == gone_scid
    )));
    assert_eq!(
        nh.channels_opened,
        jan.ends
            .iter()
            .chain(may.ends.iter())
            .filter(|(_, ends)| ends.contains(&node))
            .map(|(s, _)| *s)
            .collect::<HashSet<_>>()
            .len() as u64
    );

    // Uptime: observed at both snapshot times, per direction a node signs.
    let uptime = history::node_uptime(pool).await.unwrap();
    assert_eq!(uptime.points, [jan.time + 1, may.time + 1]);
    let mut tally: HashMap<NodeId, (u64, u64)> = HashMap::new();
    for (facts, known) in [(&jan, vec![&jan]), (&may, vec![&jan, &may])] {
        let e = facts.time + 1;
        let policies = in_force(facts, &known, e);
        for (scid, ends) in &facts.ends {
            for dir in 0..2u8 {
                let t = tally.entry(ends[dir as usize]).or_insert((0, 0));
                t.1 += 1;
                if policies.get(&(*scid, dir)).is_some_and(|u| {
                    !u.disabled && e - i64::from(u.timestamp) <= history::STALE_AFTER_SECS
                }) {
                    t.0 += 1;
                }
            }
        }
    }
    assert_eq!(uptime.by_node.len(), tally.len());
    for (node, (up, seen)) in &tally {
        let expected = *up as f64 / *seen as f64;
        assert!(
            (uptime.by_node[node] - expected).abs() < 1e-12,
            "{node}: {} vs {expected}",
            uptime.by_node[node]
        );
    }
    let mean = uptime.by_node.values().sum::<f64>() / uptime.by_node.len() as f64;
    assert!(mean > 0.3 && mean < 1.0, "mean uptime {mean}");
}
