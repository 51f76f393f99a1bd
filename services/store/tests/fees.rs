//! `fee_changes` and the books' per-channel activity, on a real Postgres.

use switchyard_graph::{NodeId, Scid};
use switchyard_store::queries::books::{self, BookEntry, ForwardRecord};
use switchyard_store::queries::fees::{self, FeeMode, HistoryFilter, NewFeeChange};
use switchyard_store::testing::TestDb;

fn change(scid: Scid, from: NodeId, ppm: u32) -> NewFeeChange {
    NewFeeChange {
        scid,
        from,
        old_base_fee_msat: 1000,
        old_fee_ppm: 100,
        new_base_fee_msat: u32::MAX,
        new_fee_ppm: ppm,
        strategy: "static".into(),
        rule: "default".into(),
        reason: "test".into(),
        expected_revenue_msat: u64::MAX,
        mode: FeeMode::Apply,
        applied: true,
    }
}

fn forward(out_scid: i64, amount: i64, settled: bool) -> BookEntry {
    BookEntry::Forward(ForwardRecord {
        resolved_at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
        settled,
        in_channel_id: None,
        out_channel_id: None,
        in_scid: None,
        out_scid: Some(out_scid),
        in_peer: None,
        out_peer: None,
        amount_in_msat: Some(amount + 1),
        amount_out_msat: Some(amount),
        fee_msat: 1,
        failure_reason: None,
        duration_ms: None,
    })
}

#[tokio::test]
async fn fee_changes_round_trip_filter_and_mark_recent_channels() {
    let db = TestDb::new().await;
    let pool = db.store.pool();
    let me = NodeId::from_bytes_unchecked([2; 33]);
    let other = NodeId::from_bytes_unchecked([3; 33]);
    let a = Scid::new(800_000, 1, 0).unwrap();
    let b = Scid::new(800_001, 2, 1).unwrap();
    let id1 = fees::record_change(pool, &change(a, me, u32::MAX))
        .await
        .unwrap();
    let id2 = fees::record_change(pool, &change(b, me, 7)).await.unwrap();
    let mut refused = change(b, other, 9);
    refused.applied = false;
    fees::record_change(pool, &refused).await.unwrap();
    assert!(id2 > id1);

    // Newest first; fees near u32::MAX and revenue beyond i64 survive (clamped to i64::MAX).
    let all = fees::history(
        pool,
        HistoryFilter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].id, id1);
    assert_eq!(all[2].new_fee_ppm, i64::from(u32::MAX));
    assert_eq!(all[2].new_base_fee_msat, i64::from(u32::MAX));
    assert_eq!(all[2].expected_revenue_msat, i64::MAX);
    assert_eq!(all[2].from, me);
    assert_eq!(all[2].mode, "apply");
    let only_a = fees::history(
        pool,
        HistoryFilter {
            scid: Some(a),
            limit: 10,
            since: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(only_a.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id1]);
    let one = fees::history(
        pool,
        HistoryFilter {
            limit: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(one.len(), 1);
    let future = fees::history(
        pool,
        HistoryFilter {
            since: Some(i64::from(u32::MAX)),
            limit: 10,
            scid: None,
        },
    )
    .await
    .unwrap();
    assert!(future.is_empty());

    // Only applied changes of our node, inside the window.
    assert_eq!(
        fees::recently_changed(pool, &me, 3600).await.unwrap(),
        vec![a, b]
    );
    assert!(fees::recently_changed(pool, &other, 3600)
        .await
        .unwrap()
        .is_empty());
    sqlx::query("UPDATE fee_changes SET at = now() - interval '2 hours' WHERE id = $1")
        .bind(id1)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        fees::recently_changed(pool, &me, 3600).await.unwrap(),
        vec![b]
    );

    // A bad mode or an out-of-range fee is refused by the schema.
    let bad = sqlx::query(
        "INSERT INTO fee_changes (scid, from_node, old_base_fee_msat, old_fee_ppm, \
         new_base_fee_msat, new_fee_ppm, strategy, reason, mode, applied) \
         VALUES (1, $1, 0, 0, 0, 4294967296, 's', 'r', 'apply', true)",
    )
    .bind(me.as_bytes().as_slice())
    .execute(pool)
    .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn activity_counts_settled_forwards_per_outgoing_channel() {
    let db = TestDb::new().await;
    let mut tx = db.store.pool().begin().await.unwrap();
    let entries = [
        forward(7, 1_000, true),
        forward(7, 2_500, true),
        forward(7, 9_999, false),
        forward(9, 40, true),
    ];
    books::record(&mut tx, &entries).await.unwrap();
    tx.commit().await.unwrap();
    let act = fees::activity(db.store.pool(), 3600).await.unwrap();
    assert_eq!(act.len(), 2);
    assert_eq!(act[0].scid, Scid::from_i64(7));
    assert_eq!((act[0].forwards, act[0].volume_msat), (2, 3_500));
    assert_eq!((act[1].forwards, act[1].volume_msat), (1, 40));
}
