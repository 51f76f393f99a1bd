use std::collections::{HashMap, HashSet};

use switchyard_graph::load::{self, Record};
use switchyard_graph::testing::data_file;
use switchyard_graph::Scid;
use switchyard_store::queries::{channels, nodes};
use switchyard_store::testing::TestDb;

use crate::import::import_files;

/// Per (scid, direction): the newest (timestamp, base, ppm) of a file.
type Policies = HashMap<(Scid, u8), (u32, u32, u32)>;

fn policies(file: &str) -> (HashSet<Scid>, Policies) {
    let mut scids = HashSet::new();
    let mut pol: Policies = HashMap::new();
    for r in load::read_file_to_vec(&data_file(file)).unwrap() {
        match r {
            Record::Channel(c) => {
                scids.insert(c.scid);
            }
            Record::Update(u) => {
                let e = pol.entry((u.scid, u.direction)).or_insert((0, 0, 0));
                if u.timestamp >= e.0 {
                    *e = (u.timestamp, u.fee_base_msat, u.fee_ppm);
                }
            }
            _ => {}
        }
    }
    (scids, pol)
}

#[tokio::test]
async fn january_then_may_records_new_closed_and_changed_fees() {
    let db = TestDb::new().await;
    let jan = import_files(
        &db.store,
        &["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"],
    )
    .await
    .unwrap();
    assert_eq!(jan[0].channels_closed, 0);
    let may = import_files(
        &db.store,
        &["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"],
    )
    .await
    .unwrap();

    let (jan_scids, jan_pol) = policies("channels-2019-01-18.json.xz");
    let (may_scids, may_pol) = policies("channels-2019-05-14.json.xz");
    let new: HashSet<_> = may_scids.difference(&jan_scids).copied().collect();
    let gone: HashSet<_> = jan_scids.difference(&may_scids).copied().collect();
    let changed = may_pol
        .iter()
        .filter(|(k, (ts, base, ppm))| {
            jan_pol
                .get(k)
                .is_some_and(|(jts, jb, jp)| ts > jts && (base, ppm) != (jb, jp))
        })
        .count() as u64;
    assert!(!new.is_empty() && !gone.is_empty() && changed > 0);
    let r = &may[0];
    assert_eq!(r.channels_new, new.len() as u64);
    assert_eq!(r.channels_closed, gone.len() as u64);
    assert_eq!(r.fee_changes, changed);

    // Closed channels stay in the store with their history, and leave the current graph.
    let closed = *gone.iter().next().unwrap();
    let row = channels::get(db.store.pool(), closed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.closed_at, Some(r.snapshot_time));
    assert!(!channels::updates(db.store.pool(), closed)
        .await
        .unwrap()
        .is_empty());
    let (snap, _) = switchyard_store::graph::load_snapshot(&db.store)
        .await
        .unwrap();
    assert!(snap.channel_idx(closed).is_none());
    assert_eq!(snap.channel_count(), may_scids.len());

    // A channel with a fee change has both versions, newest first.
    let ((scid, dir), _) = may_pol
        .iter()
        .find(|(k, (ts, base, ppm))| {
            jan_pol
                .get(k)
                .is_some_and(|(jts, jb, jp)| ts > jts && (base, ppm) != (jb, jp))
        })
        .unwrap();
    let history: Vec<_> = channels::updates(db.store.pool(), *scid)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.direction == i16::from(*dir))
        .collect();
    assert_eq!(history.len(), 2);
    assert!(history[0].timestamp > history[1].timestamp);
    assert_eq!(history[0].fee_ppm, i64::from(may_pol[&(*scid, *dir)].2));
    assert_eq!(history[1].fee_ppm, i64::from(jan_pol[&(*scid, *dir)].2));

    // Importing January again (older) closes nothing and reopens nothing.
    let sources = [switchyard_store::import::ImportSource::File(data_file(
        "channels-2019-01-18.json.xz",
    ))];
    let again = switchyard_store::import::import(
        &db.store,
        &sources,
        switchyard_store::import::ImportOptions { force: true },
        std::sync::Arc::new(|_| {}),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            again[0].channels_closed,
            again[0].channels_reopened,
            again[0].updates_new
        ),
        (0, 0, 0)
    );

    // References hold without declared foreign keys (see the migration): no orphans.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM channel_updates u WHERE NOT EXISTS \
           (SELECT 1 FROM channels c WHERE c.scid = u.scid)) \
         + (SELECT count(*) FROM channels c WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = c.node_1) \
           OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = c.node_2)) \
         + (SELECT count(*) FROM node_announcements a WHERE NOT EXISTS \
           (SELECT 1 FROM nodes n WHERE n.node_id = a.node_id)) \
         + (SELECT count(*) FROM channel_updates u WHERE NOT EXISTS \
           (SELECT 1 FROM import_runs r WHERE r.id = u.import_run_id))",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(orphans, 0);

    // Node announcement history: a node that re-announced between the dates has two rows.
    let renamed = nodes_with_two_versions(&db).await;
    assert!(
        renamed > 0,
        "some node re-announced between January and May"
    );
}

async fn nodes_with_two_versions(db: &TestDb) -> usize {
    let ids: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT node_id FROM node_announcements GROUP BY node_id HAVING count(*) > 1 LIMIT 5",
    )
    .fetch_all(db.store.pool())
    .await
    .unwrap();
    for id in &ids {
        let id = switchyard_graph::NodeId::from_bytes_unchecked(id.as_slice().try_into().unwrap());
        let anns = nodes::announcements(db.store.pool(), &id).await.unwrap();
        assert!(anns.len() >= 2 && anns[0].timestamp > anns[1].timestamp);
    }
    ids.len()
}
