//! Channels, forwarding and payments end to end: three switchyard nodes A -> S -> C, each with
//! its own Postgres database, BDK wallet funded by mining to it on a real regtest bitcoind,
//! LDK channels opened over real TCP; S's books, API and metrics are checked.

use std::time::Duration;

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use serde_json::{json, Value};
use switchyard_node::PeerSpec;
use switchyard_regtest::Bitcoind;
use switchyard_store::queries::books;
use switchyard_store::testing::TestDb;

use crate::http::{get_token, send_with};
use crate::line::{address, confirm_channels, confirmed_sat, fund, mine, usable_with};
use crate::node::{metric, node_config, start_node, wait_for, Running};

/// `RUST_LOG=switchyard_node=debug` shows what the nodes did when a test fails.
fn log_to_test_output() {
    let _ = tracing_subscriber::fmt()
        // Shown only for a failing test: the node's own story of what happened.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,switchyard_node=info")
            }),
        )
        .with_test_writer()
        .try_init();
}

fn spec(r: &Running) -> PeerSpec {
    format!(
        "{}@{}",
        r.node.node_id(),
        r.node.listening().expect("listening")
    )
    .parse()
    .expect("peer spec")
}

async fn post_auth(r: &Running, path: &str, body: &Value) -> (u16, Value) {
    let auth = format!("Bearer {}", r.token);
    let reply = send_with(
        r.addr,
        "POST",
        path,
        &body.to_string(),
        &[("Authorization", auth.as_str())],
    )
    .await;
    (reply.status, reply.json())
}

/// `N` switchyard nodes with their APIs on `btc`, each with its own database and data
/// directory (kept alive by the caller with the node).
async fn start_nodes<const N: usize>(btc: &Bitcoind) -> [(TestDb, tempfile::TempDir, Running); N] {
    let mut nodes = Vec::with_capacity(N);
    for _ in 0..N {
        let db = TestDb::new().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let node = start_node(&db, node_config(btc, dir.path(), vec![])).await;
        nodes.push((db, dir, node));
    }
    nodes
        .try_into()
        .unwrap_or_else(|_| unreachable!("exactly N nodes"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pays_c_through_s_which_books_the_fee_its_policy_sets() {
    log_to_test_output();
    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let [(db_a, _dir_a, a), (_db_s, _dir_s, s), (db_c, _dir_c, c)] = start_nodes(&btc).await;

    // Fund A directly and S through its API (the token is required for an address).
    let denied = send_with(s.addr, "POST", "/v1/wallet/address", "", &[]).await;
    assert_eq!(denied.status, 401, "{}", denied.body);
    let (status, addr) = post_auth(&s, "/v1/wallet/address", &json!({})).await;
    assert_eq!(status, 200, "{addr}");
    let addr_s: Address = addr["address"]
        .as_str()
        .unwrap()
        .parse::<Address<NetworkUnchecked>>()
        .unwrap()
        .require_network(bitcoin::Network::Regtest)
        .unwrap();
    let addr_a = address(&a.node);
    let burn = address(&c.node);
    mine(&btc, 1, &addr_a);
    mine(&btc, 1, &addr_s);
    mine(&btc, 100, &burn);
    wait_for("both wallets to see a mature coinbase", 60, async || {
        confirmed_sat(&a.node) > 0 && confirmed_sat(&s.node) > 0
    })
    .await;
    let wallet = get_token(s.addr, "/v1/wallet", &s.read_token).await.json();
    assert!(
        wallet["confirmed_sat"].as_u64().unwrap() >= 1_000_000_000,
        "{wallet}"
    );

    // Connect A-S and S-C, then open A->S (directly) and S->C (through S's API).
    a.node.add_peer(spec(&s), "test").await.unwrap();
    s.node.add_peer(spec(&c), "test").await.unwrap();
    a.node
        .lightning()
        .open_channel(s.node.node_id(), 1_000_000, 0, true)
        .unwrap();
    let unauth = send_with(
        s.addr,
        "POST",
        "/v1/channels/own",
        &json!({"peer": c.node.node_id().to_string(), "amount_sat": 500_000}).to_string(),
        &[],
    )
    .await;
    assert_eq!(unauth.status, 401);
    let too_big = post_auth(
        &s,
        "/v1/channels/own",
        &json!({"peer": c.node.node_id().to_string(), "amount_sat": 100_000_000_000u64}),
    )
    .await;
    assert_eq!(too_big.0, 422, "{}", too_big.1);
    let (status, opened) = post_auth(
        &s,
        "/v1/channels/own",
        &json!({"peer": c.node.node_id().to_string(), "amount_sat": 500_000}),
    )
    .await;
    assert_eq!(status, 200, "{opened}");
    wait_for(
        "both funding transactions to be broadcast",
        30,
        async || {
            let a_ok = a
                .node
                .lightning()
                .channels()
                .iter()
                .any(|c| c.funding_txo.is_some());
            let s_ok = s
                .node
                .lightning()
                .channels()
                .iter()
                .filter(|c| c.funding_txo.is_some())
                .count()
                == 2;
            a_ok && s_ok
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    mine(&btc, 7, &burn);
    wait_for("both channels usable", 60, async || {
        usable_with(&a.node, &s.node.node_id())
            && usable_with(&s.node, &c.node.node_id())
            && usable_with(&c.node, &s.node.node_id())
    })
    .await;
    let listed = get_token(s.addr, "/v1/channels/own", &s.read_token)
        .await
        .json();
    assert_eq!(listed["channels"].as_array().unwrap().len(), 2, "{listed}");
    let sc = listed["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["counterparty"] == c.node.node_id().to_string())
        .unwrap()
        .clone();
    assert_eq!(sc["capacity_sat"], 500_000);
    assert!(
        sc["local_balance_msat"].as_u64().unwrap() > 490_000_000,
        "{sc}"
    );

    // S sets its fees through the API; A must learn them from gossip before paying.
    let (status, set) = post_auth(
        &s,
        "/v1/channels/own/policy",
        &json!({"base_fee_msat": 1000, "fee_ppm": 1000}),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["channels_updated"], 2);
    let sc_scid = s
        .node
        .lightning()
        .channels()
        .iter()
        .find(|ch| ch.counterparty == c.node.node_id().to_string())
        .and_then(|ch| ch.short_channel_id.clone())
        .expect("S-C has a short channel id");
    let sc_scid = switchyard_node::ln::parse_channel_ref(&sc_scid).unwrap();
    let switchyard_node::ln::ChannelRef::Scid(sc_scid) = sc_scid else {
        panic!("scid expected")
    };
    let s_node = lightning::routing::gossip::NodeId::from_pubkey(&s.node.node_id());
    // Routers (LDK's and ours) use a channel only once both of its directions have an
    // update, so A must also have C's own update for S-C, which reaches A through S. Gossip
    // is lossy by design: an update that reaches S before S has checked the announcement's
    // funding output is dropped, and LDK announces a channel again only every 6 blocks. As
    // on mainnet, blocks repair it: mine 6 whenever 15 s pass without the update.
    let mut waited = 0;
    wait_for(
        "A to learn S's new fee on S->C and C's update for C->S",
        90,
        async || {
            waited += 1;
            if waited % 150 == 0 {
                mine(&btc, 6, &burn);
            }
            let ro = a.node.graph().read_only();
            ro.channel(sc_scid).is_some_and(|ch| {
                let (from_s, from_c) = if ch.node_one == s_node {
                    (&ch.one_to_two, &ch.two_to_one)
                } else {
                    (&ch.two_to_one, &ch.one_to_two)
                };
                from_c.is_some()
                    && from_s.as_ref().is_some_and(|d| {
                        d.fees.proportional_millionths == 1000 && d.fees.base_msat == 1000
                    })
            })
        },
    )
    .await;

    // S announced itself once its channels were public: A has S's node announcement.
    wait_for("S's node announcement at A", 30, async || {
        a.node
            .graph()
            .read_only()
            .node(&s_node)
            .and_then(|n| n.announcement_info.as_ref())
            .is_some_and(|info| info.alias().to_string() == "switchyard")
    })
    .await;

    // Every node at bitcoind's tip before paying: the blocks just mined for gossip must not
    // leave A pricing the route's cltv from a lower height than C checks it against.
    let tip = tokio::task::block_in_place(|| btc.tip_height()).unwrap();
    wait_for("every node at bitcoind's tip", 30, async || {
        [&a, &s, &c]
            .iter()
            .all(|n| n.node.lightning().manager().current_best_block().height == tip)
    })
    .await;

    // C invoices 50,000 sat; A pays; S earns 1000 + 50,000,000 * 1000 / 1e6 = 51,000 msat.
    let invoice = c
        .node
        .lightning()
        .create_invoice(Some(50_000_000), "switchyard test", 3600)
        .unwrap();
    let payment_id = a
        .node
        .lightning()
        .pay_invoice(&invoice, None, None)
        .unwrap();
    let id_bytes: [u8; 32] = *invoice.payment_hash().as_ref();
    assert_eq!(payment_id.len(), 64);
    // On a slow run, say what state the payment is in rather than only that time ran out.
    let mut succeeded = false;
    for _ in 0..1200 {
        succeeded = books::payment(db_a.store.pool(), &id_bytes)
            .await
            .unwrap()
            .is_some_and(|p| p.status == "succeeded");
        if succeeded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        succeeded,
        "A's payment did not succeed in 120 s: books {:?}; LDK {:?}; A's channels {:?}; S's channels {:?}",
        books::payment(db_a.store.pool(), &id_bytes).await,
        a.node.lightning().manager().list_recent_payments(),
        a.node.lightning().channels(),
        s.node.lightning().channels(),
    );
    let paid = books::payment(db_a.store.pool(), &id_bytes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paid.fee_msat, Some(51_000), "{paid:?}");
    assert_eq!(paid.amount_msat, 50_000_000);

    wait_for("S to book the forward", 30, async || {
        get_token(s.addr, "/v1/forwards", &s.read_token)
            .await
            .json()["forwards"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    })
    .await;
    let forwards = get_token(s.addr, "/v1/forwards", &s.read_token)
        .await
        .json();
    let f = &forwards["forwards"][0];
    assert_eq!(f["outcome"], "settled", "{forwards}");
    assert_eq!(f["fee_msat"], 51_000);
    assert_eq!(f["amount_out_msat"], 50_000_000);
    assert_eq!(f["amount_in_msat"], 50_051_000);
    assert_eq!(f["out_peer"], c.node.node_id().to_string());
    let earnings = get_token(s.addr, "/v1/earnings?group_by=peer", &s.read_token)
        .await
        .json();
    assert_eq!(earnings["total_fees_earned_msat"], 51_000, "{earnings}");
    assert_eq!(earnings["groups"][0]["key"], c.node.node_id().to_string());
    let by_day = get_token(s.addr, "/v1/earnings?group_by=day", &s.read_token)
        .await
        .json();
    assert_eq!(by_day["groups"].as_array().unwrap().len(), 1, "{by_day}");
    let bad = get_token(s.addr, "/v1/earnings?group_by=moon", &s.read_token).await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        metric(
            &s.metrics,
            "switchyard_forwards_total",
            &[("outcome", "settled")]
        ),
        1.0
    );
    assert_eq!(
        metric(&s.metrics, "switchyard_forward_fees_earned_msat_total", &[]),
        51_000.0
    );
    wait_for("C to book the invoice as paid", 30, async || {
        books::invoices(db_c.store.pool(), 10)
            .await
            .unwrap()
            .iter()
            .any(|i| i.status == "paid" && i.received_msat == Some(50_000_000))
    })
    .await;

    // Keysend from S to C over their direct channel.
    let (status, ks) = post_auth(
        &s,
        "/v1/payments",
        &json!({"destination": c.node.node_id().to_string(), "amount_msat": 1_234_000}),
    )
    .await;
    assert_eq!(status, 200, "{ks}");
    let ks_id = ks["payment_id"].as_str().unwrap().to_string();
    wait_for("the keysend to succeed", 60, async || {
        get_token(s.addr, &format!("/v1/payments/{ks_id}"), &s.read_token)
            .await
            .json()["status"]
            == "succeeded"
    })
    .await;

    // C goes away: the next forward fails at S, is failed back to A, and is booked with why.
    c.node.stop().await;
    let invoice2 = c
        .node
        .lightning()
        .create_invoice(Some(10_000_000), "after C left", 3600)
        .unwrap();
    let hash2: [u8; 32] = *invoice2.payment_hash().as_ref();
    a.node
        .lightning()
        .pay_invoice(&invoice2, None, None)
        .unwrap();
    wait_for("A's second payment to fail", 120, async || {
        books::payment(db_a.store.pool(), &hash2)
            .await
            .unwrap()
            .is_some_and(|p| p.status == "failed")
    })
    .await;
    wait_for("S to book the failed forward", 30, async || {
        get_token(s.addr, "/v1/forwards", &s.read_token)
            .await
            .json()["forwards"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["outcome"] == "failed"))
    })
    .await;
    let forwards = get_token(s.addr, "/v1/forwards", &s.read_token)
        .await
        .json();
    let failed = forwards["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["outcome"] == "failed")
        .unwrap();
    assert!(
        failed["failure_reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{failed}"
    );
    assert_eq!(failed["fee_msat"], 0);
    assert!(
        metric(
            &s.metrics,
            "switchyard_forwards_total",
            &[("outcome", "failed")]
        ) >= 1.0
    );
    // The HTLC went back to A: nothing stuck in flight on A's channel.
    wait_for("A's HTLC to be failed back", 30, async || {
        a.node
            .lightning()
            .channels()
            .iter()
            .all(|ch| ch.pending_htlcs_out == 0)
    })
    .await;

    // A learned from that failure that S -> C cannot carry the amount, and kept it: the
    // estimates are in A's store after shutdown and bound that direction when read back.
    assert!(a.node.lightning().learned_channels() >= 1);
    a.node.stop().await;
    let stored = switchyard_store::queries::kv::read(db_a.store.pool(), "", "", "scorer")
        .await
        .unwrap()
        .expect("A's liquidity estimates written at shutdown");
    let learned = switchyard_node::learn::LearnedLiquidity::load(
        a.node.graph().clone(),
        std::sync::Arc::new(switchyard_node::LdkLogger),
        Some(&stored),
    );
    let c_id = c.node.node_id().serialize();
    let limits = switchyard_node::router::LiquidityLimits::known_max_liquidity(&learned);
    assert!(
        limits
            .iter()
            .any(|l| l.towards.as_slice() == c_id && l.max_msat <= 10_000_000),
        "{limits:?}"
    );
    s.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_no_single_channel_carries_is_split_over_two() {
    log_to_test_output();
    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let [(db_a, _dir_a, a), (_db_s, _dir_s, s), (db_c, _dir_c, c)] = start_nodes(&btc).await;
    let burn = address(&s.node);
    fund(&btc, &[&a.node, &c.node], &burn).await;

    // Private channels (C's invoice carries the S->C hint): A->S twice 300k sat, and C->S
    // 2M sat of which C pushes 1M to S. 400k sat fits neither of A's channels.
    a.node.add_peer(spec(&s), "test").await.unwrap();
    c.node.add_peer(spec(&s), "test").await.unwrap();
    let ln_a = a.node.lightning();
    ln_a.open_channel(s.node.node_id(), 300_000, 0, false)
        .unwrap();
    ln_a.open_channel(s.node.node_id(), 300_000, 0, false)
        .unwrap();
    c.node
        .lightning()
        .open_channel(s.node.node_id(), 2_000_000, 1_000_000_000, false)
        .unwrap();
    confirm_channels(&btc, &[&a.node, &c.node], &burn).await;
    wait_for(
        "all three channels usable, S's fee known to C",
        60,
        async || {
            ln_a.channels().iter().filter(|ch| ch.is_usable).count() == 2
                && usable_with(&c.node, &s.node.node_id())
                && c.node
                    .lightning()
                    .manager()
                    .list_channels()
                    .iter()
                    .any(|ch| ch.counterparty.forwarding_info.is_some())
        },
    )
    .await;
    assert!(ln_a
        .channels()
        .iter()
        .all(|ch| ch.outbound_capacity_msat < 400_000_000));

    let invoice = c
        .node
        .lightning()
        .create_invoice(Some(400_000_000), "split me", 3600)
        .unwrap();
    let hash: [u8; 32] = *invoice.payment_hash().as_ref();
    ln_a.pay_invoice(&invoice, None, None).unwrap();
    wait_for("the split payment to succeed", 60, async || {
        books::payment(db_a.store.pool(), &hash)
            .await
            .unwrap()
            .is_some_and(|p| p.status == "succeeded")
    })
    .await;
    // Each part is booked as its path resolves, after the payment itself succeeded.
    wait_for("both parts booked at A", 30, async || {
        books::payment(db_a.store.pool(), &hash)
            .await
            .unwrap()
            .is_some_and(|p| p.parts.is_some_and(|n| n >= 2))
    })
    .await;
    let paid = books::payment(db_a.store.pool(), &hash)
        .await
        .unwrap()
        .unwrap();
    let parts = paid.parts.expect("parts recorded");
    // S's default policy (1000 msat + 100 ppm) on each part: the parts' fees add up.
    let policy = s.node.lightning().policy();
    wait_for("S to book every part", 30, async || {
        get_token(s.addr, "/v1/forwards", &s.read_token)
            .await
            .json()["forwards"]
            .as_array()
            .is_some_and(|f| f.len() == parts as usize)
    })
    .await;
    let forwards = get_token(s.addr, "/v1/forwards", &s.read_token)
        .await
        .json();
    let forwards = forwards["forwards"].as_array().unwrap();
    let out: u64 = forwards
        .iter()
        .map(|f| f["amount_out_msat"].as_u64().unwrap())
        .sum();
    assert_eq!(
        out, 400_000_000,
        "the parts sum to the amount: {forwards:?}"
    );
    let fees: u64 = forwards
        .iter()
        .map(|f| {
            let amount = f["amount_out_msat"].as_u64().unwrap();
            let fee = f["fee_msat"].as_u64().unwrap();
            assert_eq!(
                fee,
                u64::from(policy.base_fee_msat) + amount * u64::from(policy.fee_ppm) / 1_000_000,
                "{f}"
            );
            fee
        })
        .sum();
    assert_eq!(paid.fee_msat, Some(fees as i64));
    let in_ids: std::collections::HashSet<_> = forwards
        .iter()
        .map(|f| f["in_channel_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        in_ids.len(),
        2,
        "the parts came in over both of A's channels"
    );
    wait_for("C to book the invoice as paid", 30, async || {
        books::invoices(db_c.store.pool(), 10)
            .await
            .unwrap()
            .iter()
            .any(|i| i.status == "paid" && i.received_msat == Some(400_000_000))
    })
    .await;
    for n in [&a, &s, &c] {
        n.node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_close_sweeps_back_to_the_wallet_across_a_bitcoind_outage() {
    log_to_test_output();
    let mut btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let [(_db_a, _dir_a, a), (_db_s, _dir_s, s)] = start_nodes(&btc).await;
    let burn = address(&s.node);
    fund(&btc, &[&a.node], &burn).await;
    a.node.add_peer(spec(&s), "test").await.unwrap();
    let ln_a = a.node.lightning();
    ln_a.open_channel(s.node.node_id(), 1_000_000, 0, false)
        .unwrap();
    confirm_channels(&btc, &[&a.node], &burn).await;
    wait_for("the channel usable", 60, async || {
        usable_with(&a.node, &s.node.node_id())
    })
    .await;
    let before_close = confirmed_sat(&a.node);

    let (status, closed) = post_auth(
        &a,
        &format!("/v1/channels/own/{}/close", ln_a.channels()[0].channel_id),
        &json!({"force": true}),
    )
    .await;
    assert_eq!(status, 200, "{closed}");
    wait_for(
        "the commitment transaction in the mempool",
        30,
        async || {
            let pool = tokio::task::block_in_place(|| btc.rpc("getrawmempool", json!([])).unwrap());
            pool.as_array().is_some_and(|p| !p.is_empty())
        },
    )
    .await;
    mine(&btc, 1, &burn);

    // bitcoind goes away while the output waits out its CSV delay: the nodes stay up and
    // answer, and catch up on every block once it is back.
    let height = tokio::task::block_in_place(|| btc.tip_height()).unwrap();
    tokio::task::block_in_place(|| btc.stop()).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = get_token(a.addr, "/v1/node", &a.read_token).await;
    assert_eq!(status.status, 200, "{}", status.body);
    tokio::task::block_in_place(|| btc.start_again()).expect("bitcoind restarts");
    assert_eq!(
        tokio::task::block_in_place(|| btc.tip_height()).unwrap(),
        height
    );

    // S (the counterparty) set A's to_self_delay; LDK's default is 144 blocks.
    mine(&btc, 150, &burn);
    wait_for("the sweep to be broadcast", 60, async || {
        let pool = tokio::task::block_in_place(|| btc.rpc("getrawmempool", json!([])).unwrap());
        pool.as_array().is_some_and(|p| !p.is_empty())
    })
    .await;
    mine(&btc, 1, &burn);
    wait_for("the swept funds confirmed in A's wallet", 60, async || {
        confirmed_sat(&a.node) > before_close + 950_000
    })
    .await;
    let after = confirmed_sat(&a.node);
    assert!(
        after <= before_close + 1_000_000,
        "no more than the channel came back: {before_close} -> {after}"
    );
    a.node.stop().await;
    s.node.stop().await;
}
