//! Stored gossip back to messages, against a real Postgres: rows written by the store's gossip
//! writer decode, verify and agree with their fields; each kind of damage to a stored row is
//! reported as what it is.

use lightning::routing::gossip::NodeId as LdkNodeId;
use switchyard_graph::{NodeId, Scid};
use switchyard_node::raw_gossip::{self, GossipMessage, VerifyReport};
use switchyard_regtest::gossip::{scid, SignedGossip};
use switchyard_store::gossip::{GossipBatch, GossipChannel};
use switchyard_store::testing::TestDb;

fn ours(id: &LdkNodeId) -> NodeId {
    NodeId::from_bytes_unchecked(id.as_slice().try_into().expect("33 bytes"))
}

/// Two channels' gossip as the node's recorder stores it.
fn batch() -> (GossipBatch, Vec<SignedGossip>) {
    let gossip: Vec<SignedGossip> = (1..=2)
        .map(|i| SignedGossip::new(i, scid(800_000 + u32::from(i), 1, 0), 1_700_000_000))
        .collect();
    let mut batch = GossipBatch::default();
    for g in &gossip {
        let c = &g.announcement.contents;
        batch.channels.push(GossipChannel {
            scid: Scid(c.short_channel_id),
            node_1: ours(&c.node_id_1),
            node_2: ours(&c.node_id_2),
            capacity_sat: 1_000_000,
            funding_outpoint: None,
            raw: GossipMessage::ChannelAnnouncement(g.announcement.clone()).encode(),
            peer: None,
            received_at: 1_700_000_100,
        });
        let at = 1_700_000_100;
        batch.updates.extend(
            g.updates
                .iter()
                .map(|u| raw_gossip::update_row(u, None, at)),
        );
        batch.nodes.extend(
            g.nodes
                .iter()
                .filter_map(|n| raw_gossip::node_row(n, None, at)),
        );
    }
    (batch, gossip)
}

async fn verify(db: &TestDb) -> VerifyReport {
    // A page of 1 row exercises the keyset pagination across every table.
    raw_gossip::verify_store(&db.store, 1)
        .await
        .expect("verify")
}

#[tokio::test]
async fn stored_gossip_decodes_verifies_and_matches_its_rows() {
    let db = TestDb::new().await;
    let (batch, _) = batch();
    switchyard_store::gossip::record(&db.store, &batch)
        .await
        .expect("record");
    let r = verify(&db).await;
    assert!(r.all_ok(), "{r:#?}");
    assert_eq!(
        (
            r.channel_announcements.rows,
            r.channel_updates.rows,
            r.node_announcements.rows
        ),
        (2, 4, 4)
    );
    assert!(r.problems.is_empty());
}

#[tokio::test]
async fn each_kind_of_damage_is_reported_as_what_it_is() {
    let db = TestDb::new().await;
    let (batch, gossip) = batch();
    switchyard_store::gossip::record(&db.store, &batch)
        .await
        .expect("record");
    let pool = db.store.pool();
    let first = Scid(gossip[0].announcement.contents.short_channel_id).to_i64();
    // A stored field no longer what the message says.
    sqlx::query(
        "UPDATE channel_updates SET fee_ppm = fee_ppm + 1 WHERE scid = $1 AND direction = 0",
    )
    .bind(first)
    .execute(pool)
    .await
    .expect("edit a field");
    // Bytes cut short.
    let node = ours(&gossip[1].nodes[0].contents.node_id);
    sqlx::query(
        "UPDATE node_announcements SET raw = substring(raw from 1 for 40) WHERE node_id = $1",
    )
    .bind(&node.as_bytes()[..])
    .execute(pool)
    .await
    .expect("truncate raw");
    // One byte of the signed part changed (the scid's last byte, at 2 + 4 * 64 + 2 + 32 + 8):
    // the message decodes but no longer verifies.
    sqlx::query(
        "UPDATE channels SET raw_announcement = \
         overlay(raw_announcement placing '\\xff'::bytea from 300) WHERE scid = $1",
    )
    .bind(first)
    .execute(pool)
    .await
    .expect("flip a byte");

    let r = verify(&db).await;
    assert!(!r.all_ok());
    assert_eq!(
        (r.channel_updates.mismatched, r.channel_updates.ok),
        (1, 3),
        "{r:#?}"
    );
    assert_eq!(
        (r.node_announcements.undecodable, r.node_announcements.ok),
        (1, 3)
    );
    assert_eq!(
        (
            r.channel_announcements.bad_signature,
            r.channel_announcements.ok
        ),
        (1, 1)
    );
    let about = |kind: &str| {
        r.problems
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.problem.clone())
            .unwrap_or_default()
    };
    assert!(
        about("channel_update").starts_with("fee_ppm: stored"),
        "{r:#?}"
    );
    assert!(
        about("node_announcement").contains("malformed node_announcement"),
        "{r:#?}"
    );
    assert!(
        about("channel_announcement").contains("signature"),
        "{r:#?}"
    );
}

#[test]
fn decode_names_what_is_wrong() {
    use raw_gossip::{decode, RawGossipError};
    assert_eq!(decode(&[1]), Err(RawGossipError::TooShort(1)));
    assert_eq!(decode(&[0, 18, 0]), Err(RawGossipError::NotGossip(18)));
    assert!(matches!(
        decode(&[1, 2, 0]),
        Err(RawGossipError::Malformed {
            kind: "channel_update",
            ..
        })
    ));
}
