//! The graph as of an instant, and diffs, on January's and May's 2019 snapshots imported one
//! after the other, against databases holding each snapshot alone and against the files.

use std::collections::{HashMap, HashSet};

use switchyard_graph::load;
use switchyard_graph::{NetworkStats, NodeId, Scid, Snapshot};
use switchyard_store::graph::{load_resolved, load_snapshot, load_snapshot_at};
use switchyard_store::queries::asof::{self, Resolution, ResolveError};
use switchyard_store::queries::history::{self, Day, SeriesRange, Step};
use switchyard_store::testing::{announcements_differing, TestDb};
use switchyard_store::time::Time;
use switchyard_store::Error;

use crate::import::import_files;
use crate::series::Facts;

const JAN: [&str; 2] = ["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"];
const MAY: [&str; 2] = ["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"];
/// Far in the future for these tests' data.
const NOW: i64 = 4_000_000_000;

async fn db_of(runs: &[&[&str]]) -> TestDb {
    let db = TestDb::new().await;
    for files in runs {
        import_files(&db.store, files).await.unwrap();
    }
    db
}

/// Two snapshots are the same graph: nodes (id, alias, announcement time) and channels
/// (ends, capacity, both policies), in the same order; the nodes of `differing` show the
/// announcement given there instead (see `announcements_differing`), and `a` has a policy
/// where `b` has none for the directions of `kept` (see `directions_dropped`).
fn assert_same_graph(
    a: &Snapshot,
    b: &Snapshot,
    differing: &HashMap<NodeId, Option<(u32, String)>>,
    kept: &HashSet<(Scid, u8)>,
    what: &str,
) {
    assert_eq!(a.node_count(), b.node_count(), "{what}: nodes");
    assert_eq!(a.channel_count(), b.channel_count(), "{what}: channels");
    for (x, y) in a.nodes().iter().zip(b.nodes()) {
        match differing.get(&x.id) {
            Some(ann) => {
                assert_eq!(x.id, y.id, "{what}");
                let shown = x.announced_at.zip(x.alias.as_deref().map(str::to_owned));
                assert_eq!(&shown, ann, "{what}: node {}", x.id);
            }
            None => assert_eq!(x, y, "{what}: node"),
        }
    }
    for (x, y) in a.channels().iter().zip(b.channels()) {
        let mut x = x.clone();
        for d in 0..2u8 {
            if kept.contains(&(x.scid, d)) {
                assert!(x.policies[d as usize].is_some() && y.policies[d as usize].is_none());
                x.policies[d as usize] = None;
            }
        }
        assert_eq!(&x, y, "{what}: channel {}", x.scid);
    }
}

/// Directions of channels `newer` lists that `older` has a policy for and `newer` has none:
/// a store holding both keeps `older`'s policy for them. Checks they are all over 14 days
/// old at `newer`'s time (stale by BOLT 7, which is why `newer`'s node left them out).
fn directions_dropped(older: &Facts, newer: &Facts) -> HashSet<(Scid, u8)> {
    let has = |f: &Facts| -> HashSet<(Scid, u8)> {
        f.updates.iter().map(|u| (u.scid, u.direction)).collect()
    };
    let (old, new) = (has(older), has(newer));
    let dropped: HashSet<(Scid, u8)> = old
        .into_iter()
        .filter(|k| newer.capacity.contains_key(&k.0) && !new.contains(k))
        .collect();
    for u in &older.updates {
        if dropped.contains(&(u.scid, u.direction)) {
            assert!(
                i64::from(u.timestamp) < newer.time - 14 * 86_400,
                "{}",
                u.scid
            );
        }
    }
    dropped
}

#[tokio::test]
async fn the_graph_as_of_a_snapshot_equals_that_snapshot_alone() {
    let both = db_of(&[&JAN, &MAY]).await;
    let jan_db = db_of(&[&JAN]).await;
    let may_db = db_of(&[&MAY]).await;
    let (jan, may) = (Facts::read(JAN[0]), Facts::read(MAY[0]));

    // January: the history of the combined store, as of January's snapshot time, is the
    // January-only store's current graph, field for field; only a few nodes show an
    // announcement signed before January's snapshot that January's file did not have yet
    // (May's file has it), as the history rules say they must.
    let (at_jan, _) = load_snapshot_at(&both.store, Time(jan.time)).await.unwrap();
    let (jan_alone, _) = load_snapshot(&jan_db.store).await.unwrap();
    assert_eq!(jan_alone.channel_count(), jan.capacity.len());
    let differing = announcements_differing(&[JAN[1], MAY[1]], JAN[1], jan.time);
    assert!(differing.len() < 10, "{} nodes", differing.len());
    assert_same_graph(
        &at_jan,
        &jan_alone,
        &differing,
        &HashSet::new(),
        "as of January",
    );

    // May (the newest data: the current graph) and now: the May-only store's graph, except
    // where May's snapshot is silent and January's is not: nodes it lists without an
    // announcement keep January's, and channel directions it lists no policy for keep
    // January's policy (all over 14 days old by May: a snapshot leaves out what its node
    // pruned, and the store keeps every policy until a newer one).
    let (may_alone, _) = load_snapshot(&may_db.store).await.unwrap();
    let differing = announcements_differing(&[JAN[1], MAY[1]], MAY[1], i64::MAX);
    assert!(!differing.is_empty(), "the files have such nodes");
    let kept = directions_dropped(&jan, &may);
    assert!(kept.len() > 1000, "{} directions", kept.len());
    for at in [Time(may.time), Time(NOW - 1)] {
        let (g, _, resolution) = load_resolved(&both.store, at, NOW).await.unwrap();
        assert_eq!(resolution, Resolution::Current);
        assert_same_graph(&g, &may_alone, &differing, &kept, &format!("as of {at}"));
    }
    // A second before May's snapshot: January's channels and policies, and none of May's.
    let (before_may, _) = load_snapshot_at(&both.store, Time(may.time - 1))
        .await
        .unwrap();
    assert_eq!(before_may.channel_count(), jan_alone.channel_count());
    assert!(before_may
        .channels()
        .iter()
        .zip(jan_alone.channels())
        .all(|(x, y)| x.scid == y.scid));

    // Before the first data: refused with the first available time.
    match load_resolved(&both.store, Time(jan.time - 1), NOW).await {
        Err(Error::AsOf(ResolveError::BeforeData { first, .. })) => {
            assert_eq!(first, Time(jan.time))
        }
        other => panic!("expected BeforeData, got {:?}", other.map(|r| r.2)),
    }
    assert_eq!(
        asof::bounds(both.store.pool())
            .await
            .unwrap()
            .map(|b| b.first),
        Some(jan.time)
    );
}

#[tokio::test]
async fn the_graph_as_of_a_day_agrees_with_the_history_series_and_forgets_stale_nodes() {
    let db = db_of(&[&JAN, &MAY]).await;
    let (jan, may) = (Facts::read(JAN[0]), Facts::read(MAY[0]));
    let march: Day = "2019-03-01".parse().unwrap();
    let days = [jan.day(), march, may.day().plus(-1)];
    let series = history::network_series(
        db.store.pool(),
        &SeriesRange::new(jan.day(), may.day(), Step::Day).unwrap(),
    )
    .await
    .unwrap();
    for day in days {
        let (g, _) = load_snapshot_at(&db.store, Time(day.end() - 1))
            .await
            .unwrap();
        let stats = NetworkStats::compute(&g);
        let point = series.points.iter().find(|p| p.date == day).unwrap();
        assert_eq!(stats.channels, point.channels, "{day}");
        assert_eq!(stats.capacity_sat as i64, point.capacity_sat, "{day}");
        assert_eq!(stats.enabled_directions, point.enabled_directions, "{day}");
        assert_eq!(
            Some(stats.fee_ppm.p50 as i64),
            point.median_fee_ppm,
            "{day}"
        );
    }
    // In March, January's nodes without a channel were last seen over 14 days before: gone;
    // every node left is an end of an open channel.
    let (g, _) = load_snapshot_at(&db.store, Time(march.end() - 1))
        .await
        .unwrap();
    let ends: HashSet<NodeId> = jan.nodes();
    assert_eq!(g.nodes().iter().map(|n| n.id).collect::<HashSet<_>>(), ends);
    let (g, _) = load_snapshot_at(&db.store, Time(jan.time)).await.unwrap();
    assert!(
        g.node_count() > ends.len(),
        "January's lone nodes count in January"
    );
}

#[tokio::test]
async fn a_channel_and_a_node_as_of_an_instant() {
    let db = db_of(&[&JAN, &MAY]).await;
    let pool = db.store.pool();
    let (jan, may) = (Facts::read(JAN[0]), Facts::read(MAY[0]));
    let closed: Scid = *jan
        .capacity
        .keys()
        .filter(|s| !may.capacity.contains_key(s))
        .min()
        .unwrap();
    let opened: Scid = *may
        .capacity
        .keys()
        .filter(|s| !jan.capacity.contains_key(s))
        .min()
        .unwrap();
    let (row, updates) = asof::channel_at(pool, closed, Time(jan.time))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.closed_at, row.last_seen), (None, jan.time));
    assert!(!updates.is_empty());
    assert!(updates.iter().all(|u| u.timestamp <= jan.time));
    let (row, _) = asof::channel_at(pool, closed, Time(may.time))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.closed_at, Some(may.time));
    assert!(asof::channel_at(pool, opened, Time(jan.time))
        .await
        .unwrap()
        .is_none());
    let (row, updates) = asof::channel_at(pool, opened, Time(may.time))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.first_seen, may.time);
    assert_eq!(
        updates.len(),
        may.updates.iter().filter(|u| u.scid == opened).count()
    );

    // A node of both snapshots: as of January, last seen then, only January's announcements.
    let [a, _] = jan.ends[&closed];
    let (node, anns) = asof::node_at(pool, &a, Time(jan.time))
        .await
        .unwrap()
        .unwrap();
    assert!(node.last_seen <= jan.time && node.first_seen <= jan.time);
    assert!(anns.iter().all(|x| x.timestamp <= jan.time));
    let [b, _] = may.ends[&opened];
    if !jan.nodes().contains(&b) {
        assert!(asof::node_at(pool, &b, Time(jan.time))
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn a_diff_between_the_snapshots_is_the_difference_of_the_files() {
    let db = db_of(&[&JAN, &MAY]).await;
    let pool = db.store.pool();
    let (jan, may) = (Facts::read(JAN[0]), Facts::read(MAY[0]));
    let d = switchyard_store::queries::diff::diff(pool, Time(jan.time), Time(may.time), 100_000)
        .await
        .unwrap();
    // The channel and node part is churn's between the snapshots' days.
    let churn = history::churn(pool, jan.day(), may.day(), 100_000)
        .await
        .unwrap();
    assert_eq!(d.changes, churn.changes);
    assert_eq!(
        d.changes.channels_opened as usize,
        may.capacity
            .keys()
            .filter(|s| !jan.capacity.contains_key(s))
            .count()
    );

    // Policies: directions of channels in both files whose policy differs in anything but
    // its timestamp, and directions May has and January had not.
    fn latest(f: &Facts) -> HashMap<(Scid, u8), &load::UpdateRecord> {
        let mut m: HashMap<(Scid, u8), &load::UpdateRecord> = HashMap::new();
        for u in &f.updates {
            let e = m.entry((u.scid, u.direction)).or_insert(u);
            if u.timestamp > e.timestamp {
                *e = u;
            }
        }
        m
    }
    let (j, m) = (latest(&jan), latest(&may));
    let fields = |u: &load::UpdateRecord| {
        (
            u.disabled,
            u.fee_base_msat,
            u.fee_ppm,
            u.cltv_delta,
            u.htlc_min_msat,
            u.htlc_max_msat,
        )
    };
    let mut changed = 0u64;
    let mut first = 0u64;
    let mut up = 0u64;
    for (k, q) in &m {
        if !jan.capacity.contains_key(&k.0) {
            continue;
        }
        match j.get(k) {
            None => first += 1,
            Some(p) if fields(p) != fields(q) => {
                changed += 1;
                up += u64::from((q.fee_ppm, q.fee_base_msat) > (p.fee_ppm, p.fee_base_msat));
            }
            Some(_) => {}
        }
    }
    let p = &d.policies;
    assert_eq!(p.first_policies, first);
    assert_eq!(p.changed, changed + first);
    assert_eq!(p.fee_increased, up);
    assert!(p.largest.len() as u64 == p.changed.min(100_000));
    // Largest fee rate change first; first policies (nothing to compare with) last.
    let changes: Vec<u64> = p
        .largest
        .iter()
        .map_while(|c| c.from.map(|f| f.fee_ppm.abs_diff(c.to.fee_ppm)))
        .collect();
    assert_eq!(changes.len() as u64, changed);
    assert!(changes.windows(2).all(|w| w[0] >= w[1]));
    assert!(p.largest[changes.len()..].iter().all(|c| c.from.is_none()));

    // Nothing changes between two instants with no data in between.
    let quiet = switchyard_store::queries::diff::diff(
        pool,
        Time(jan.time + 86_400),
        Time(jan.time + 2 * 86_400),
        10,
    )
    .await
    .unwrap();
    assert_eq!(
        quiet.changes.channels_opened + quiet.changes.channels_closed,
        0
    );
    assert_eq!(quiet.policies.changed, 0);
}
