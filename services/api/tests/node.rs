//! The node end to end: a real regtest bitcoind, real LDK peers over TCP, real Postgres, and the
//! API over HTTP. Reaching peers through DNS seeds, SOCKS5 and Tor is in `reach.rs`.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::SecretKey;
use lightning::ln::msgs::MessageSendEvent;
use switchyard_api::metrics::Metrics;
use switchyard_api::AppState;
use switchyard_node::{BitcoindConfig, Node, NodeConfig, PeerSpec, RpcAuth};
use switchyard_regtest::{
    node_announcement, now_timestamp, Bitcoind, ChannelFixture, Direction, GossipPeer, Policy,
    Wallet,
};
use switchyard_store::testing::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::{self, get};
use crate::prom;

fn secret(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

pub(crate) struct Chain {
    pub btc: Bitcoind,
    pub wallet: Wallet,
    pub ab: ChannelFixture,
    pub bc: ChannelFixture,
    pub ac: ChannelFixture,
}

/// Three channels funded and confirmed on a fresh regtest chain.
pub(crate) async fn chain() -> Chain {
    tokio::task::spawn_blocking(|| {
        let btc = Bitcoind::start().expect("regtest bitcoind (scripts/build-bitcoind.sh)");
        let mut wallet = Wallet::new(&btc).unwrap();
        wallet.fund().unwrap();
        let (a, b, c) = (secret(0x11), secret(0x22), secret(0x33));
        let ab = ChannelFixture::open(&btc, &mut wallet, &a, &b, 1_000_000).unwrap();
        let bc = ChannelFixture::open(&btc, &mut wallet, &b, &c, 500_000).unwrap();
        let ac = ChannelFixture::open(&btc, &mut wallet, &a, &c, 200_000).unwrap();
        Chain {
            btc,
            wallet,
            ab,
            bc,
            ac,
        }
    })
    .await
    .unwrap()
}

pub(crate) fn node_config(
    btc: &Bitcoind,
    dir: &std::path::Path,
    peers: Vec<PeerSpec>,
) -> NodeConfig {
    let mut cfg = NodeConfig::new(bitcoin::Network::Regtest, dir.to_path_buf());
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    let (user, password) = btc.rpc_user_pass();
    cfg.bitcoind = Some(BitcoindConfig {
        rpc_address: btc.rpc_addr().to_string(),
        auth: RpcAuth::UserPass { user, password },
    });
    cfg.peers = peers;
    cfg.dns_seeds = Vec::new();
    cfg.chain_poll_interval = Duration::from_millis(200);
    cfg
}

pub(crate) struct Running {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub node: Arc<Node>,
    pub metrics: Arc<Metrics>,
    /// The admin token.
    pub token: String,
    pub read_token: String,
}

pub(crate) async fn start_node(db: &TestDb, cfg: NodeConfig) -> Running {
    let metrics = Arc::new(Metrics::new());
    let node = Node::start(cfg, db.store.clone(), metrics.node.clone())
        .await
        .unwrap();
    let mut state = AppState::new(db.store.clone(), metrics.clone());
    let token = "t".repeat(64);
    let read_token = "r".repeat(64);
    state.auth = Arc::new(switchyard_api::auth::Auth::fixed(
        Some(&read_token),
        Some(&token),
    ));
    state.node = Some(node.handle());
    state.refresh_graph().await.unwrap();
    let _refresher = state.spawn_graph_refresher(Duration::from_millis(200));
    let addr = crate::serve_on_loopback(state.clone()).await;
    Running {
        addr,
        state,
        node,
        metrics,
        token,
        read_token,
    }
}

pub(crate) fn metric(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    let samples = prom::parse(&m.render()).unwrap();
    prom::find(&samples, name, labels).unwrap_or(0.0)
}

pub(crate) async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    for _ in 0..secs * 10 {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {secs}s waiting for {what}");
}

pub(crate) fn scid_text(scid: u64) -> String {
    format!(
        "{}x{}x{}",
        scid >> 40,
        (scid >> 16) & 0xFF_FFFF,
        scid & 0xFFFF
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_syncs_checked_gossip_from_a_peer_into_the_store_and_api() {
    let mut chain = chain().await;
    let ts = now_timestamp();
    let (ab, bc, ac) = (&chain.ab, &chain.bc, &chain.ac);
    let ab_fwd = Policy {
        fee_base_msat: 1_000,
        fee_ppm: 100,
        ..ab.default_policy()
    };
    let ab_back = Policy {
        fee_base_msat: 0,
        fee_ppm: 7,
        cltv_expiry_delta: 144,
        ..ab.default_policy()
    };
    let peer = GossipPeer::start([0x44; 32]).await.unwrap();
    peer.gossip.add_channel(
        ab.announcement(),
        Some(ab.update(Direction::AToB, ab_fwd, ts)),
        Some(ab.update(Direction::BToA, ab_back, ts)),
    );
    peer.gossip.add_channel(
        bc.announcement(),
        Some(bc.update(Direction::AToB, bc.default_policy(), ts)),
        Some(bc.update(Direction::BToA, bc.default_policy(), ts)),
    );
    // Hostile: a channel whose funding output does not exist, one with a forged signature.
    let missing = ab.announcement_for_missing_utxo();
    peer.gossip.add_channel(missing.clone(), None, None);
    peer.gossip
        .add_channel(ac.announcement_with_bad_signature(), None, None);
    for (k, alias) in [(0x11, "alice"), (0x22, "bob"), (0x33, "carol")] {
        peer.gossip
            .add_node(node_announcement(&secret(k), alias, [1, 2, 3], vec![], ts));
    }

    let db = TestDb::new().await;
    let data = tempfile::tempdir().unwrap();
    let spec: PeerSpec = peer.connect_string().parse().unwrap();
    let run = start_node(&db, node_config(&chain.btc, data.path(), vec![spec])).await;
    let ab_id = scid_text(ab.short_channel_id());
    let bc_id = scid_text(bc.short_channel_id());

    // Both good channels arrive with their capacity and both policies, within seconds.
    let addr = run.addr;
    wait_for(
        "both channels with both policies in the API",
        60,
        async || {
            for id in [&ab_id, &bc_id] {
                let r = get(addr, &format!("/v1/channels/{id}")).await;
                if r.status != 200 || r.json()["policies"]["node_2_to_node_1"].is_null() {
                    return false;
                }
            }
            true
        },
    )
    .await;
    let ch = get(addr, &format!("/v1/channels/{ab_id}")).await.json();
    assert_eq!(ch["capacity_sat"], 1_000_000);
    assert_eq!(ch["funding_outpoint"], ab.funding_outpoint().to_string());
    assert_eq!(ch["open"], true);
    let dir_fwd = if ab.a_is_node_1() {
        "node_1_to_node_2"
    } else {
        "node_2_to_node_1"
    };
    let dir_back = if ab.a_is_node_1() {
        "node_2_to_node_1"
    } else {
        "node_1_to_node_2"
    };
    assert_eq!(ch["policies"][dir_fwd]["fee_ppm"], 100);
    assert_eq!(ch["policies"][dir_fwd]["fee_base_msat"], 1_000);
    assert_eq!(ch["policies"][dir_back]["fee_ppm"], 7);
    assert_eq!(ch["policies"][dir_back]["cltv_delta"], 144);
    let ch = get(addr, &format!("/v1/channels/{bc_id}")).await.json();
    assert_eq!(ch["capacity_sat"], 500_000);

    // The raw wire messages and the peer they came from are on record.
    let (raw, from): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT raw_announcement, peer FROM channels WHERE scid = $1")
            .bind(ab.short_channel_id() as i64)
            .fetch_one(db.store.pool())
            .await
            .unwrap();
    assert_eq!(
        &raw[..2],
        &256u16.to_be_bytes(),
        "channel_announcement type"
    );
    assert_eq!(from, peer.node_id().serialize().to_vec());

    // Node announcements too (they arrive after the channels they need).
    let alice = ab.node_a().to_string();
    wait_for("alice's announcement", 30, async || {
        get(addr, &format!("/v1/nodes/{alice}")).await.json()["announcement"]["alias"] == "alice"
    })
    .await;

    // Rejected and counted, nothing of them stored.
    let m = &run.metrics;
    wait_for("rejections counted", 30, async || {
        metric(
            m,
            "switchyard_gossip_rejected_total",
            &[
                ("type", "channel_announcement"),
                ("reason", "bad_signature"),
            ],
        ) >= 1.0
            && metric(
                m,
                "switchyard_gossip_rejected_total",
                &[("type", "channel_announcement"), ("reason", "unknown_utxo")],
            ) >= 1.0
    })
    .await;
    for scid in [missing.contents.short_channel_id, ac.short_channel_id()] {
        let r = get(addr, &format!("/v1/channels/{}", scid_text(scid))).await;
        assert_eq!(
            r.status,
            404,
            "rejected channel {} must not be stored",
            scid_text(scid)
        );
    }

    // Node status, peers, metrics.
    let status = http::get_token(addr, "/v1/node", &run.read_token)
        .await
        .json();
    assert_eq!(status["network"], "regtest");
    assert_eq!(status["peers_connected"], 1);
    assert_eq!(status["gossip_channels"], 2);
    let tip = chain.btc.tip_height().unwrap() as i64;
    wait_for("chain tip", 10, async || {
        http::get_token(addr, "/v1/node", &run.read_token)
            .await
            .json()["chain"]["height"]
            == tip
    })
    .await;
    let peers = http::get_token(addr, "/v1/peers", &run.read_token)
        .await
        .json();
    assert_eq!(peers["peers"][0]["node_id"], peer.node_id().to_string());
    assert_eq!(peers["peers"][0]["connected"], true);
    assert_eq!(metric(m, "switchyard_node_peers_connected", &[]), 1.0);
    assert_eq!(metric(m, "switchyard_chain_tip_height", &[]), tip as f64);
    assert!(
        metric(
            m,
            "switchyard_gossip_messages_total",
            &[("type", "channel_update"), ("outcome", "accepted")]
        ) >= 4.0
    );
    assert!(metric(m, "switchyard_gossip_store_batch_size_count", &[]) >= 1.0);

    // A flood of updates for one direction: the first few pass, the rest are rate limited.
    let dir_bit = ab.direction_bit(Direction::AToB);
    for chunk in 0..6u32 {
        let events = (0..10u32)
            .map(|i| MessageSendEvent::BroadcastChannelUpdate {
                msg: ab.update(
                    Direction::AToB,
                    Policy {
                        fee_ppm: 200 + chunk * 10 + i,
                        ..ab_fwd
                    },
                    ts + 1 + chunk * 10 + i,
                ),
            })
            .collect();
        peer.broadcast(events);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And an update with a forged signature.
    peer.broadcast(vec![MessageSendEvent::BroadcastChannelUpdate {
        msg: bc.update_with_bad_signature(Direction::AToB, bc.default_policy(), ts + 500),
    }]);
    wait_for(
        "flood rate-limited and forged update rejected",
        30,
        async || {
            metric(
                m,
                "switchyard_gossip_rejected_total",
                &[("type", "channel_update"), ("reason", "rate_limited")],
            ) >= 20.0
                && metric(
                    m,
                    "switchyard_gossip_rejected_total",
                    &[("type", "channel_update"), ("reason", "bad_signature")],
                ) >= 1.0
        },
    )
    .await;
    run.node.flush_gossip().await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM channel_updates WHERE scid = $1 AND direction = $2",
    )
    .bind(ab.short_channel_id() as i64)
    .bind(dir_bit as i16)
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    let burst = switchyard_node::GossipLimits::default().update_burst as i64;
    assert!(
        stored >= 2 && stored <= burst + 1,
        "{stored} versions stored"
    );
    assert_eq!(get(addr, "/healthz").await.status, 200, "the node stays up");

    // Changing the node needs the token.
    let body = serde_json::json!({"peer": peer.connect_string()});
    let r = http::post_json(addr, "/v1/peers", &body).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = http::send_with(
        addr,
        "POST",
        "/v1/peers",
        &body.to_string(),
        &[("Authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(r.status, 401);
    let auth = format!("Bearer {}", run.token);
    let r = http::send_with(
        addr,
        "POST",
        "/v1/peers",
        "{\"peer\": \"nope\"}",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = http::send_with(
        addr,
        "POST",
        "/v1/peers",
        &body.to_string(),
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let dead = format!("{}@127.0.0.1:1", ab.node_b());
    let r = http::send_with(
        addr,
        "POST",
        "/v1/peers",
        &serde_json::json!({"peer": dead}).to_string(),
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // The funding output of b-c is spent on chain: the channel is closed at that height.
    let wallet = &mut chain.wallet;
    let bc_fixture = &chain.bc;
    tokio::task::block_in_place(|| bc_fixture.close_onchain(wallet)).unwrap();
    let close_height = chain.btc.tip_height().unwrap() as i64;
    wait_for("b-c closed in the store", 30, async || {
        get(addr, &format!("/v1/channels/{bc_id}")).await.json()["open"] == false
    })
    .await;
    let ch = get(addr, &format!("/v1/channels/{bc_id}")).await.json();
    assert!(ch["close_height"].as_i64().unwrap() <= close_height);
    assert!(ch["close_height"].as_i64().unwrap() > ab.block_height() as i64);
    assert_eq!(
        metric(m, "switchyard_channels_closed_onchain_total", &[]),
        1.0
    );
    wait_for("served graph drops the closed channel", 10, async || {
        run.state
            .graph()
            .is_some_and(|g| g.snapshot.channel_count() == 1)
    })
    .await;

    // Restart: the store is consistent and LDK's graph comes back from the store.
    let before: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM channel_updates)",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    run.node.stop().await;
    drop(peer);
    let again = start_node(&db, node_config(&chain.btc, data.path(), vec![])).await;
    assert_eq!(
        again.node.node_id(),
        run.node.node_id(),
        "same seed, same identity"
    );
    assert_eq!(
        again.node.status().gossip_channels,
        1,
        "graph restored from the store"
    );
    let after: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM channel_updates)",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(before, after);
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM channel_updates u WHERE NOT EXISTS (SELECT 1 FROM channels c WHERE c.scid = u.scid)",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    again.node.stop().await;
}

/// A peer that sends garbage (before or after a real handshake) loses its connection; the node
/// and its honest peer stay. The SOCKS5 and Tor paths are in `reach.rs`, with real daemons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_a_peer_drops_only_its_connection() {
    let peer = GossipPeer::start([0x55; 32]).await.unwrap();
    let db = TestDb::new().await;
    let data = tempfile::tempdir().unwrap();
    let mut cfg = NodeConfig::new(bitcoin::Network::Regtest, data.path().to_path_buf());
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.dns_seeds = Vec::new();
    let mut no_proxy = cfg.clone();
    cfg.peers = vec![peer.connect_string().parse().unwrap()];
    let run = start_node(&db, cfg).await;
    let addr = run.addr;
    wait_for("connected to the peer", 30, async || {
        http::get_token(addr, "/v1/node", &run.read_token)
            .await
            .json()["peers_connected"]
            == 1
    })
    .await;

    // Garbage instead of a handshake, and garbage after a real handshake: those connections
    // drop, the node and its other peer stay.
    let p2p = run.node.listening().unwrap();
    let mut junk = tokio::net::TcpStream::connect(p2p).await.unwrap();
    junk.write_all(&[0xAB; 4096]).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), junk.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "the node hangs up on garbage"
    );

    let second = GossipPeer::start([0x66; 32]).await.unwrap();
    // A relay that passes the handshake through, then injects noise into the encrypted stream.
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut from_peer, _) = relay.accept().await.unwrap();
        let mut to_node = tokio::net::TcpStream::connect(p2p).await.unwrap();
        let (mut pr, mut pw) = from_peer.split();
        let (mut nr, mut nw) = to_node.split();
        let forward = async {
            let mut buf = vec![0u8; 65536];
            let started = std::time::Instant::now();
            let mut injected = false;
            loop {
                if !injected && started.elapsed() > Duration::from_secs(2) {
                    injected = true;
                    let _ = nw.write_all(&[0x5A; 2048]).await;
                }
                match tokio::time::timeout(Duration::from_millis(100), pr.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        if nw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    Err(_) => {}
                }
            }
        };
        let back = tokio::io::copy(&mut nr, &mut pw);
        tokio::select! { _ = forward => {}, _ = back => {} }
    });
    assert!(second.connect_to(run.node.node_id(), relay_addr).await);
    wait_for("second peer connected", 10, async || {
        run.node.peer_manager().list_peers().len() == 2
    })
    .await;
    wait_for("corrupted connection dropped", 20, async || {
        run.node.peer_manager().list_peers().len() == 1
    })
    .await;
    assert_eq!(
        run.node.peer_manager().list_peers()[0].counterparty_node_id,
        peer.node_id(),
        "the honest peer stays connected"
    );
    assert_eq!(get(addr, "/healthz").await.status, 200);
    run.node.stop().await;

    // An onion peer without a proxy is refused with a clear reason. (Another node id than
    // `peer`'s: the restarted node reconnects to `peer` from the store, and adding a connected
    // peer succeeds without dialling.)
    let onion = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion";
    let unknown = bitcoin::secp256k1::PublicKey::from_secret_key(
        &bitcoin::secp256k1::Secp256k1::new(),
        &secret(0x56),
    );
    no_proxy.listen = None;
    let failing = start_node(&db, no_proxy).await;
    let err = failing
        .node
        .add_peer(format!("{unknown}@{onion}:9735").parse().unwrap(), "api")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("--tor-proxy"), "{err}");
    failing.node.stop().await;
}
