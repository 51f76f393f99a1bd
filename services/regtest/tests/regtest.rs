//! Everything against a real regtest bitcoind, and every gossip message checked by LDK's own
//! `NetworkGraph`. Each test starts its own bitcoind.

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Amount, Network, ScriptBuf};
use lightning::ln::chan_utils::make_funding_redeemscript;
use lightning::routing::gossip::{NetworkGraph, NodeId};
use lightning::util::logger::{Logger, Record};
use serde_json::json;
use switchyard_regtest::{
    funding_script, node_announcement, now_timestamp, random_secret_key, scid_parts, Bitcoind,
    BitcoindOptions, ChannelFixture, Direction, Policy, RpcAuth, RpcClient, Wallet,
};

struct NoLog;
impl Logger for NoLog {
    fn log(&self, _record: Record) {}
}

fn graph() -> NetworkGraph<&'static NoLog> {
    NetworkGraph::new(Network::Regtest, &NoLog)
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_slice(&[byte; 32]).unwrap()
}

fn node_id(key: &SecretKey) -> NodeId {
    NodeId::from_pubkey(&key.public_key(&Secp256k1::new()))
}

/// Some P2WPKH script nobody in the test spends from.
fn foreign_script() -> ScriptBuf {
    let pk = bitcoin::CompressedPublicKey(random_secret_key().public_key(&Secp256k1::new()));
    ScriptBuf::new_p2wpkh(&pk.wpubkey_hash())
}

#[test]
fn bitcoind_starts_answers_rpc_and_stops_on_drop() {
    let btc = Bitcoind::start().unwrap();
    assert_eq!(btc.tip_height().unwrap(), 0);
    let info = btc.rpc("getblockchaininfo", json!([])).unwrap();
    assert_eq!(info["chain"], "regtest");

    // The node under test gets URL + user/password: a fresh client with them works.
    let (user, password) = btc.rpc_user_pass();
    assert!(btc.rpc_url().starts_with("http://127.0.0.1:"));
    let client = RpcClient::new(btc.rpc_addr(), user.clone(), password);
    assert_eq!(client.call("getblockcount", json!([])).unwrap(), 0);
    let wrong = RpcClient::new(btc.rpc_addr(), user, "wrong");
    assert!(wrong.call("getblockcount", json!([])).is_err());

    let wallet = Wallet::new(&btc).unwrap();
    let hashes = btc.mine(3, wallet.address()).unwrap();
    assert_eq!(hashes.len(), 3);
    assert_eq!(btc.tip_height().unwrap(), 3);
    assert_eq!(btc.block_hash(3).unwrap(), hashes[2]);
    assert_eq!(btc.block_height(&hashes[0]).unwrap(), 1);
    let block = btc.get_block(&hashes[2]).unwrap();
    assert_eq!(block.block_hash(), hashes[2]);
    assert_eq!(
        block.txdata[0].output[0].script_pubkey,
        wallet.script_pubkey()
    );

    // RPC errors come back as `Error::Rpc` with bitcoind's code.
    match btc.rpc("getblockhash", json!([1000])) {
        Err(switchyard_regtest::Error::Rpc { code: -8, .. }) => {}
        other => panic!("expected RPC error -8, got {other:?}"),
    }

    let addr = btc.rpc_addr();
    let datadir = btc.datadir().to_owned();
    drop(btc);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "RPC still listening"
    );
    assert!(!datadir.exists(), "datadir not removed");
}

#[test]
fn cookie_auth_works() {
    let btc = Bitcoind::start_with(BitcoindOptions {
        auth: RpcAuth::Cookie,
        ..BitcoindOptions::default()
    })
    .unwrap();
    let cookie = std::fs::read_to_string(btc.cookie_path()).unwrap();
    let (user, password) = btc.rpc_user_pass();
    assert_eq!(cookie.trim(), format!("{user}:{password}"));
    assert_eq!(btc.tip_height().unwrap(), 0);
}

#[test]
fn startup_failure_reports_the_log() {
    let err = Bitcoind::start_with(BitcoindOptions {
        extra_args: vec!["-nosuchoption=1".to_owned()],
        ..BitcoindOptions::default()
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("nosuchoption"), "{text}");
}

#[test]
fn wallet_funds_spends_and_chains_change() {
    let btc = Bitcoind::start().unwrap();
    let mut wallet = Wallet::new(&btc).unwrap();
    assert!(matches!(
        wallet.spend_to(&foreign_script(), Amount::from_sat(10_000)),
        Err(switchyard_regtest::Error::InsufficientFunds { .. })
    ));

    wallet.fund().unwrap();
    assert_eq!(btc.tip_height().unwrap(), 101);
    // Coinbases of heights 1 and 2 can be spent in block 102.
    assert_eq!(wallet.balance().unwrap(), Amount::from_btc(100.0).unwrap());

    let to = foreign_script();
    let (tx, vout) = wallet.spend_to(&to, Amount::from_sat(123_456)).unwrap();
    assert_eq!(tx.output[vout as usize].script_pubkey, to);
    // Unconfirmed change is spendable right away; spend it too before mining.
    let (tx2, _) = wallet
        .spend_to(&to, Amount::from_btc(60.0).unwrap())
        .unwrap();
    assert_eq!(tx2.input.len(), 2, "needs both coins");
    wallet.mine(1).unwrap();

    let out = btc.get_tx_out(&tx.compute_txid(), vout).unwrap().unwrap();
    assert_eq!(out.value, Amount::from_sat(123_456));
    assert_eq!(out.script_pubkey, to);
    assert!(btc.get_tx_out(&tx2.compute_txid(), 0).unwrap().is_some());
    // Block 102 matured the third coinbase; fees were 2 000 sat (1 input) + 3 000 (2 inputs).
    let expected = Amount::from_btc(150.0).unwrap()
        - Amount::from_sat(123_456)
        - Amount::from_btc(60.0).unwrap()
        - Amount::from_sat(5 * switchyard_regtest::FEE_PER_INPUT_SAT);
    assert_eq!(wallet.balance().unwrap(), expected);
}

#[test]
fn channel_gossip_is_accepted_by_ldk() {
    let btc = Bitcoind::start().unwrap();
    let mut wallet = Wallet::new(&btc).unwrap();
    wallet.fund().unwrap();
    // Key 0x22's public key sorts before 0x11's? Whatever the order, the fixture handles it:
    // open one channel each way round.
    let (a, b, c) = (key(0x11), key(0x22), key(0x33));
    let ab = ChannelFixture::open(&btc, &mut wallet, &a, &b, 1_000_000).unwrap();
    let cb = ChannelFixture::open(&btc, &mut wallet, &c, &b, 250_000).unwrap();
    assert_ne!(ab.a_is_node_1(), ab.node_1() == ab.node_b());
    assert!(ab.node_1().serialize() < ab.node_2().serialize());

    // The funding output is BOLT 3's script, at the place the scid says.
    let (fa, fb) = ab.funding_keys();
    let secp = Secp256k1::new();
    assert_eq!(
        ab.funding_script(),
        make_funding_redeemscript(&fa.public_key(&secp), &fb.public_key(&secp))
    );
    assert_eq!(
        funding_script(&fb.public_key(&secp), &fa.public_key(&secp)),
        ab.funding_script()
    );
    let (height, index, vout) = scid_parts(ab.short_channel_id());
    assert_eq!(height, ab.block_height());
    assert_eq!(cb.block_height(), height + 6, "6 confirmations each");
    assert_eq!(btc.tip_height().unwrap(), cb.block_height() + 5);
    let block = btc.get_block(&btc.block_hash(height).unwrap()).unwrap();
    assert_eq!(
        block.txdata[index as usize].output[usize::from(vout)],
        ab.funding_txout()
    );
    let lookup = btc.utxo_lookup();
    assert_eq!(
        lookup.lookup(ab.short_channel_id()).unwrap(),
        Some(ab.funding_txout())
    );

    let graph = graph();
    for ch in [&ab, &cb] {
        graph
            .update_channel_from_announcement(&ch.announcement(), &Some(&lookup))
            .unwrap();
    }
    let ts = now_timestamp();
    let policy_ab = Policy {
        fee_base_msat: 1_500,
        fee_ppm: 250,
        cltv_expiry_delta: 80,
        htlc_minimum_msat: 1_000,
        htlc_maximum_msat: 500_000_000,
        disabled: false,
    };
    let policy_ba = Policy {
        disabled: true,
        ..ab.default_policy()
    };
    graph
        .update_channel(&ab.update(Direction::AToB, policy_ab, ts))
        .unwrap();
    graph
        .update_channel(&ab.update(Direction::BToA, policy_ba, ts))
        .unwrap();
    graph
        .update_channel(&cb.update(Direction::AToB, cb.default_policy(), ts))
        .unwrap();
    // A newer update replaces the old one.
    let newer = Policy {
        fee_ppm: 999,
        ..policy_ab
    };
    graph
        .update_channel(&ab.update(Direction::AToB, newer, ts + 1))
        .unwrap();

    for (k, alias) in [(&a, "alice"), (&b, "bob"), (&c, "carol")] {
        let addr = "127.0.0.1:9735".parse().unwrap();
        let ann = node_announcement(k, alias, [0xaa, 0xbb, 0xcc], vec![addr], ts);
        graph.update_node_from_announcement(&ann).unwrap();
    }

    let graph = graph.read_only();
    assert_eq!(graph.channels().len(), 2);
    let info = graph.channel(ab.short_channel_id()).unwrap();
    assert_eq!(info.capacity_sats, Some(1_000_000));
    assert_eq!(info.node_one, NodeId::from_pubkey(&ab.node_1()));
    let (from_a, from_b) = if ab.a_is_node_1() {
        (
            info.one_to_two.as_ref().unwrap(),
            info.two_to_one.as_ref().unwrap(),
        )
    } else {
        (
            info.two_to_one.as_ref().unwrap(),
            info.one_to_two.as_ref().unwrap(),
        )
    };
    assert_eq!(from_a.fees.base_msat, 1_500);
    assert_eq!(from_a.fees.proportional_millionths, 999);
    assert_eq!(from_a.cltv_expiry_delta, 80);
    assert_eq!(from_a.htlc_minimum_msat, 1_000);
    assert_eq!(from_a.htlc_maximum_msat, 500_000_000);
    assert_eq!(from_a.last_update, ts + 1);
    assert!(from_a.enabled);
    assert!(!from_b.enabled);
    assert_eq!(from_b.htlc_maximum_msat, 1_000_000_000);
    assert_eq!(
        graph.channel(cb.short_channel_id()).unwrap().capacity_sats,
        Some(250_000)
    );
    let bob = graph.node(&node_id(&b)).unwrap();
    assert_eq!(bob.channels.len(), 2);
    let bob_ann = bob.announcement_info.as_ref().unwrap();
    assert_eq!(bob_ann.alias().to_string(), "bob");
    assert_eq!(bob_ann.rgb(), [0xaa, 0xbb, 0xcc]);
}

#[test]
fn bad_gossip_is_rejected_by_ldk() {
    let btc = Bitcoind::start().unwrap();
    let mut wallet = Wallet::new(&btc).unwrap();
    wallet.fund().unwrap();
    let (a, b) = (key(0x44), key(0x55));
    let ch = ChannelFixture::open(&btc, &mut wallet, &a, &b, 500_000).unwrap();
    let lookup = btc.utxo_lookup();
    let graph = graph();
    let ts = now_timestamp();

    let missing = ch.announcement_for_missing_utxo();
    assert_eq!(
        scid_parts(missing.contents.short_channel_id).0,
        ch.block_height()
    );
    assert_eq!(
        lookup.lookup(missing.contents.short_channel_id).unwrap(),
        None
    );
    let err = graph
        .update_channel_from_announcement(&missing, &Some(&lookup))
        .unwrap_err();
    assert!(
        err.err.contains("without corresponding UTXO"),
        "{}",
        err.err
    );
    // ... although its signatures are fine.
    let secp = Secp256k1::verification_only();
    lightning::routing::gossip::verify_channel_announcement(&missing, &secp).unwrap();

    let err = graph
        .update_channel_from_announcement(&ch.announcement_with_bad_signature(), &Some(&lookup))
        .unwrap_err();
    assert!(err.err.contains("Invalid signature"), "{}", err.err);

    // Nodes without channels cannot announce themselves yet.
    let node_ann = node_announcement(&a, "alice", [0; 3], vec![], ts);
    assert!(graph.update_node_from_announcement(&node_ann).is_err());
    assert!(graph.read_only().channels().is_empty());

    graph
        .update_channel_from_announcement(&ch.announcement(), &Some(&lookup))
        .unwrap();
    let policy = ch.default_policy();
    let err = graph
        .update_channel(&ch.update_with_bad_signature(Direction::AToB, policy, ts))
        .unwrap_err();
    assert!(err.err.contains("Invalid signature"), "{}", err.err);
    // An update signed by the wrong node (A's key, B's direction) fails the same way.
    let mut wrong_signer = ch.update(Direction::AToB, policy, ts);
    wrong_signer.contents.channel_flags ^= 1;
    assert!(graph.update_channel(&wrong_signer).is_err());

    let mut bad_node_ann = node_ann.clone();
    bad_node_ann.signature = switchyard_regtest::gossip::corrupt_signature(&node_ann.signature, &a);
    let err = graph
        .update_node_from_announcement(&bad_node_ann)
        .unwrap_err();
    assert!(err.err.contains("Invalid signature"), "{}", err.err);
    graph.update_node_from_announcement(&node_ann).unwrap();

    let graph = graph.read_only();
    let info = graph.channel(ch.short_channel_id()).unwrap();
    assert!(info.one_to_two.is_none() && info.two_to_one.is_none());
}

#[test]
fn channel_closed_onchain_loses_its_utxo() {
    let btc = Bitcoind::start().unwrap();
    let mut wallet = Wallet::new(&btc).unwrap();
    wallet.fund().unwrap();
    let ch = ChannelFixture::open(&btc, &mut wallet, &key(0x66), &key(0x77), 300_000).unwrap();
    let lookup = btc.utxo_lookup();
    let outpoint = ch.funding_outpoint();
    assert!(btc
        .get_tx_out(&outpoint.txid, outpoint.vout)
        .unwrap()
        .is_some());

    let tip = btc.tip_height().unwrap();
    let close = ch.close_onchain(&mut wallet).unwrap();
    assert_eq!(btc.tip_height().unwrap(), tip + 1);
    assert_eq!(close.input[0].previous_output, outpoint);
    assert_eq!(close.input[0].witness.len(), 4);
    let block = btc.get_block(&btc.block_hash(tip + 1).unwrap()).unwrap();
    assert!(block
        .txdata
        .iter()
        .any(|tx| tx.compute_txid() == close.compute_txid()));

    assert!(btc
        .get_tx_out(&outpoint.txid, outpoint.vout)
        .unwrap()
        .is_none());
    assert_eq!(lookup.lookup(ch.short_channel_id()).unwrap(), None);
    let err = graph()
        .update_channel_from_announcement(&ch.announcement(), &Some(&lookup))
        .unwrap_err();
    assert!(
        err.err.contains("without corresponding UTXO"),
        "{}",
        err.err
    );

    // The closing output went to the wallet and is spendable.
    let close_out = btc.get_tx_out(&close.compute_txid(), 0).unwrap().unwrap();
    assert_eq!(close_out.script_pubkey, wallet.script_pubkey());
    assert_eq!(
        close_out.value,
        Amount::from_sat(300_000 - switchyard_regtest::CLOSE_FEE_SAT)
    );
    assert!(ch.close_onchain(&mut wallet).is_err(), "double spend");
}
