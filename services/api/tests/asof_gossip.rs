//! The graph as of an instant on gossip received by the node: a real regtest bitcoind, a real
//! LDK peer over TCP, real Postgres. A policy change signed at T2 is absent as of T1 < T2 and
//! present as of any instant after it reached the store.

use std::time::Duration;

use lightning::ln::msgs::MessageSendEvent;
use switchyard_regtest::{now_timestamp, Direction, GossipPeer, Policy};
use switchyard_store::testing::TestDb;

use crate::http::get;
use crate::node::{chain, node_config, scid_text, start_node, wait_for};

/// Sleeps until the wall clock has passed unix second `t`.
async fn after(t: i64) {
    while i64::from(now_timestamp()) <= t {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gossiped_policy_change_appears_as_of_its_time_and_not_before() {
    let chain = chain().await;
    let ab = &chain.ab;
    let ts0 = now_timestamp();
    let p1 = Policy {
        fee_base_msat: 1_000,
        fee_ppm: 100,
        ..ab.default_policy()
    };
    let peer = GossipPeer::start([0x45; 32]).await.unwrap();
    peer.gossip.add_channel(
        ab.announcement(),
        Some(ab.update(Direction::AToB, p1, ts0)),
        Some(ab.update(Direction::BToA, ab.default_policy(), ts0)),
    );
    let db = TestDb::new().await;
    let data = tempfile::tempdir().unwrap();
    let spec = peer.connect_string().parse().unwrap();
    let run = start_node(&db, node_config(&chain.btc, data.path(), vec![spec])).await;
    let addr = run.addr;
    let ab_id = scid_text(ab.short_channel_id());
    let fwd = if ab.a_is_node_1() {
        "node_1_to_node_2"
    } else {
        "node_2_to_node_1"
    };
    let fee_ppm = |v: &serde_json::Value| v["policies"][fwd]["fee_ppm"].as_u64();
    wait_for("the channel with its policy", 60, async || {
        let r = get(addr, &format!("/v1/channels/{ab_id}")).await;
        r.status == 200 && fee_ppm(&r.json()) == Some(100)
    })
    .await;

    // T1: the channel is stored with policy 1. Then policy 2 is signed at T2 > T1.
    let t1 = i64::from(now_timestamp());
    after(t1).await;
    let ts2 = now_timestamp();
    let p2 = Policy { fee_ppm: 777, ..p1 };
    peer.broadcast(vec![MessageSendEvent::BroadcastChannelUpdate {
        msg: ab.update(Direction::AToB, p2, ts2),
    }]);
    wait_for("policy 2 served", 30, async || {
        fee_ppm(&get(addr, &format!("/v1/channels/{ab_id}")).await.json()) == Some(777)
    })
    .await;
    run.node.flush_gossip().await;
    // Received when? The instant it counts from is the later of its signature and receipt.
    let received: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM received_at)::float8 FROM channel_updates \
         WHERE scid = $1 AND timestamp = $2",
    )
    .bind(ab.short_channel_id() as i64)
    .bind(i64::from(ts2))
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    let t3 = i64::from(ts2).max(received.floor() as i64);
    // More gossip after that, so that T3 is before the newest data (a past instant, answered
    // from history rather than by the current graph).
    after(t3).await;
    let ts4 = now_timestamp();
    let back = Policy {
        fee_ppm: 55,
        ..ab.default_policy()
    };
    peer.broadcast(vec![MessageSendEvent::BroadcastChannelUpdate {
        msg: ab.update(Direction::BToA, back, ts4),
    }]);
    let bwd = if fwd == "node_1_to_node_2" {
        "node_2_to_node_1"
    } else {
        "node_1_to_node_2"
    };
    wait_for("a later update", 30, async || {
        get(addr, &format!("/v1/channels/{ab_id}")).await.json()["policies"][bwd]["fee_ppm"] == 55
    })
    .await;
    run.node.flush_gossip().await;
    run.state.refresh_graph().await.unwrap();

    let at = |t: i64| format!("/v1/channels/{ab_id}?at={t}");
    let before = get(addr, &at(t1)).await.json();
    assert_eq!(fee_ppm(&before), Some(100), "as of T1: {before}");
    assert_eq!(before["as_of"], t1, "answered from history");
    let after_change = get(addr, &at(t3)).await.json();
    assert_eq!(
        fee_ppm(&after_change),
        Some(777),
        "as of T3: {after_change}"
    );
    assert_eq!(after_change["as_of"], t3, "answered from history");
    // The channel is not there before it was first seen.
    assert_eq!(get(addr, &at(i64::from(ts0) - 3600)).await.status, 404);

    // The graph as of each instant agrees: the node's outgoing policy, and a diff names the
    // change.
    assert_node_and_diff(addr, &ab.node_a().to_string(), &ab_id, t1, t3).await;
}

/// As of `t1` node `a`'s channel `ab_id` leaves it at 100 ppm, as of `t3` at 777 ppm, and the
/// diff between them counts that one change.
async fn assert_node_and_diff(addr: std::net::SocketAddr, a: &str, ab_id: &str, t1: i64, t3: i64) {
    let outgoing = |v: &serde_json::Value| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["scid"] == ab_id)
            .map(|c| c["outgoing"]["fee_ppm"].clone())
    };
    let node_t1 = get(addr, &format!("/v1/nodes/{a}?at={t1}")).await.json();
    assert_eq!(
        outgoing(&node_t1),
        Some(serde_json::json!(100)),
        "{node_t1}"
    );
    let node_t3 = get(addr, &format!("/v1/nodes/{a}?at={t3}")).await.json();
    assert_eq!(
        outgoing(&node_t3),
        Some(serde_json::json!(777)),
        "{node_t3}"
    );
    let d = get(addr, &format!("/v1/network/diff?from={t1}&to={t3}"))
        .await
        .json();
    assert_eq!(d["policies"]["changed"], 1, "{d}");
    assert_eq!(d["policies"]["fee_increased"], 1);
    assert_eq!(d["policies"]["largest"][0]["to"]["fee_ppm"], 777);
}
