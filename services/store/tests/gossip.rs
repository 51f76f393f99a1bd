//! `store::gossip::record`: batches written with binary COPY, merged with INSERT ... ON CONFLICT
//! when they overlap what is stored; one transaction per batch either way.

use switchyard_graph::{NodeId, Scid};
use switchyard_store::gossip::{record, GossipBatch, GossipChannel, GossipNode, GossipUpdate};
use switchyard_store::queries::meta;
use switchyard_store::testing::TestDb;

const T0: i64 = 1_700_000_000;

fn node(i: u8) -> NodeId {
    let mut b = [i; 33];
    b[0] = 2;
    NodeId::from_bytes_unchecked(b)
}

fn channel(scid: i64, at: i64) -> GossipChannel {
    GossipChannel {
        scid: Scid::from_i64(scid),
        node_1: node(1),
        node_2: node(2),
        capacity_sat: 1_000_000,
        funding_outpoint: (scid % 2 == 0).then(|| format!("{:064x}:0", scid)),
        raw: vec![1, 0, scid as u8, 0xff],
        peer: Some(node(9)),
        received_at: at,
    }
}

fn update(scid: i64, direction: u8, timestamp: u32, at: i64) -> GossipUpdate {
    GossipUpdate {
        scid: Scid::from_i64(scid),
        direction,
        timestamp,
        message_flags: 1,
        channel_flags: direction | 2,
        cltv_delta: 40,
        htlc_min_msat: 1_000,
        htlc_max_msat: 990_000_000,
        fee_base_msat: 1_000,
        fee_ppm: 100 + direction as u32,
        raw: vec![1, 2, direction],
        peer: None,
        received_at: at,
    }
}

fn announcement(id: NodeId, timestamp: u32, at: i64) -> GossipNode {
    GossipNode {
        node_id: id,
        timestamp,
        alias: "ünïcode alias".into(),
        color: "ff8000".into(),
        addresses: serde_json::json!([{"type": "ipv4", "address": "1.2.3.4", "port": 9735}]),
        features: vec![0x08, 0x00],
        raw: vec![1, 1, 7],
        peer: Some(node(9)),
        received_at: at,
    }
}

async fn counts(db: &TestDb) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM channels), \
         (SELECT count(*) FROM channel_updates), (SELECT count(*) FROM node_announcements)",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap()
}

/// A `channel_updates` row as the test reads it back.
type UpdateRow = (
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
    Vec<u8>,
    i64,
    String,
    Option<Vec<u8>>,
);

#[tokio::test]
async fn a_fresh_batch_is_copied_with_every_field() {
    let db = TestDb::new().await;
    let v0 = meta::graph_version(db.store.pool()).await.unwrap();
    let batch = GossipBatch {
        channels: vec![channel(10, T0), channel(11, T0)],
        // Channel 10's updates arrive a little later: its last_seen follows them.
        updates: vec![
            update(10, 0, 5, T0 + 3),
            update(10, 1, 5, T0 + 1),
            update(11, 0, 5, T0),
            // The same update twice in one batch is one row.
            update(11, 0, 5, T0),
        ],
        nodes: vec![announcement(node(1), 7, T0)],
    };
    let r = record(&db.store, &batch).await.unwrap();
    assert_eq!(
        (
            r.channels_new,
            r.updates_new,
            r.announcements_new,
            r.updates_orphaned
        ),
        (2, 3, 1, 0)
    );
    assert_eq!(r.graph_version, v0 + 1);
    assert_eq!(counts(&db).await, (2, 2, 3, 1));

    let row: (i64, i64, i64, Option<String>, Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT capacity_sat, extract(epoch FROM first_seen)::bigint, \
         extract(epoch FROM last_seen)::bigint, funding_outpoint, raw_announcement, peer \
         FROM channels WHERE scid = 10",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            1_000_000,
            T0,
            T0 + 3,
            Some(format!("{:064x}:0", 10)),
            vec![1, 0, 10, 0xff],
            node(9).as_bytes().to_vec()
        )
    );
    let odd: (Option<String>, i64) = sqlx::query_as(
        "SELECT funding_outpoint, extract(epoch FROM last_seen)::bigint FROM channels WHERE scid = 11",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(odd, (None, T0));

    let u: UpdateRow = sqlx::query_as(
        "SELECT direction, timestamp, message_flags, channel_flags, disabled, cltv_delta, \
             htlc_min_msat, htlc_max_msat, fee_base_msat, fee_ppm, raw, \
             extract(epoch FROM received_at)::bigint, source, peer \
             FROM channel_updates WHERE scid = 10 AND direction = 1",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    let (head, tail) = (
        (u.0, u.1, u.2, u.3, u.4, u.5, u.6),
        (u.7, u.8, u.9, u.10, u.11, u.12, u.13),
    );
    assert_eq!(head, (1, 5, 1, 3, true, 40, 1_000));
    assert_eq!(
        tail,
        (
            Some(990_000_000),
            1_000,
            101,
            vec![1, 2, 1],
            T0 + 1,
            "gossip".to_string(),
            None
        )
    );

    let n: (
        i64,
        String,
        String,
        serde_json::Value,
        Vec<u8>,
        Vec<u8>,
        String,
    ) = sqlx::query_as(
        "SELECT timestamp, alias, color, addresses, features, raw, source \
         FROM node_announcements WHERE node_id = $1",
    )
    .bind(node(1).as_bytes().to_vec())
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(
        n,
        (
            7,
            "ünïcode alias".into(),
            "ff8000".into(),
            serde_json::json!([{"type": "ipv4", "address": "1.2.3.4", "port": 9735}]),
            vec![0x08, 0x00],
            vec![1, 1, 7],
            "gossip".into()
        )
    );
}

#[tokio::test]
async fn overlapping_batches_merge_and_orphans_are_skipped() {
    let db = TestDb::new().await;
    record(
        &db.store,
        &GossipBatch {
            channels: vec![channel(20, T0)],
            updates: vec![update(20, 0, 5, T0)],
            nodes: vec![announcement(node(1), 7, T0)],
        },
    )
    .await
    .unwrap();
    sqlx::query("UPDATE channels SET closed_at = now(), close_height = 1 WHERE scid = 20")
        .execute(db.store.pool())
        .await
        .unwrap();

    // Everything again (a restart re-learning gossip), plus new rows: the copy fails on the
    // unique constraints, the merge keeps one row per version and adds the new ones.
    let v = meta::graph_version(db.store.pool()).await.unwrap();
    let r = record(
        &db.store,
        &GossipBatch {
            channels: vec![channel(20, T0 + 10), channel(21, T0 + 10)],
            updates: vec![
                update(20, 0, 5, T0 + 10),
                update(20, 0, 6, T0 + 10),
                update(21, 1, 6, T0 + 10),
                update(99, 0, 6, T0 + 10),
            ],
            nodes: vec![
                announcement(node(1), 7, T0 + 10),
                announcement(node(1), 8, T0 + 10),
            ],
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (
            r.channels_new,
            r.updates_new,
            r.announcements_new,
            r.updates_orphaned
        ),
        (1, 2, 1, 1)
    );
    assert_eq!(r.graph_version, v + 1);
    assert_eq!(counts(&db).await, (2, 2, 3, 2));
    let reopened: (Option<i64>, i64, i64) = sqlx::query_as(
        "SELECT close_height::bigint, extract(epoch FROM first_seen)::bigint, \
         extract(epoch FROM last_seen)::bigint FROM channels WHERE scid = 20",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(reopened, (None, T0, T0 + 10), "re-announced: open again");

    // Updates only, for a stored channel and for one that is nowhere: copied, orphan counted;
    // the stored channel's last_seen follows its update, the nodes' last_seen their sightings.
    let r = record(
        &db.store,
        &GossipBatch {
            channels: vec![],
            updates: vec![update(21, 0, 9, T0 + 20), update(98, 0, 9, T0 + 20)],
            nodes: vec![],
        },
    )
    .await
    .unwrap();
    assert_eq!((r.updates_new, r.updates_orphaned), (1, 1));
    assert_eq!(counts(&db).await, (2, 2, 4, 2));
    let seen: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT extract(epoch FROM last_seen)::bigint FROM channels WHERE scid = 21), \
                (SELECT extract(epoch FROM last_seen)::bigint FROM nodes WHERE node_id = $1)",
    )
    .bind(node(1).as_bytes().to_vec())
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(seen, (T0 + 20, T0 + 10));
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM channel_updates u WHERE NOT EXISTS \
         (SELECT 1 FROM channels c WHERE c.scid = u.scid)",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(orphans, 0);
}
