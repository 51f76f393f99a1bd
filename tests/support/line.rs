//! A line of switchyard nodes on a real regtest bitcoind, shared by `tests/forward_crash.rs`
//! and `benches/forwarding.rs`: in-process nodes, each with its own Postgres database and
//! BDK wallet, funded by mining to them and joined by private channels (invoices carry route
//! hints, so nothing waits for gossip).

#![allow(dead_code)] // each user takes what it needs

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::PublicKey;
use bitcoin::Address;
use switchyard_node::metrics::NodeMetrics;
use switchyard_node::{BitcoindConfig, MonitorCommit, Node, NodeConfig, RpcAuth};
use switchyard_regtest::Bitcoind;
use switchyard_store::testing::TestDb;

pub fn config(btc: &Bitcoind, dir: &Path) -> NodeConfig {
    let mut cfg = NodeConfig::new(bitcoin::Network::Regtest, dir.to_path_buf());
    cfg.listen = Some("127.0.0.1:0".parse().expect("address"));
    let (user, password) = btc.rpc_user_pass();
    cfg.bitcoind = Some(BitcoindConfig {
        rpc_address: btc.rpc_addr().to_string(),
        auth: RpcAuth::UserPass { user, password },
    });
    cfg.dns_seeds = Vec::new();
    cfg.chain_poll_interval = Duration::from_millis(200);
    cfg
}

pub async fn start(btc: &Bitcoind, db: &TestDb, dir: &Path) -> Arc<Node> {
    start_with(btc, db, dir, MonitorCommit::default()).await
}

/// A node whose channel monitors are committed as `commit` says.
pub async fn start_with(
    btc: &Bitcoind,
    db: &TestDb,
    dir: &Path,
    commit: MonitorCommit,
) -> Arc<Node> {
    let mut cfg = config(btc, dir);
    cfg.monitor_commit = commit;
    Node::start(cfg, db.store.clone(), Arc::new(NodeMetrics::new()))
        .await
        .expect("node")
}

/// Polls `ok` every 100 ms; panics after `secs` with `what` and whatever `diagnose` says.
pub async fn wait_for_or(
    what: &str,
    secs: u64,
    mut ok: impl AsyncFnMut() -> bool,
    diagnose: impl Fn() -> String,
) {
    let started = Instant::now();
    while !ok().await {
        if started.elapsed() > Duration::from_secs(secs) {
            panic!("timed out after {secs}s waiting for {what}\n{}", diagnose());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_for(what: &str, secs: u64, ok: impl AsyncFnMut() -> bool) {
    wait_for_or(what, secs, ok, String::new).await
}

pub fn mine(btc: &Bitcoind, n: u32, to: &Address) {
    tokio::task::block_in_place(|| btc.mine(n, to).expect("mining"));
}

pub fn address(node: &Node) -> Address {
    let ln = node.lightning().clone();
    tokio::task::block_in_place(|| ln.wallet().expect("wallet").new_address().expect("address"))
}

pub fn confirmed_sat(node: &Node) -> u64 {
    let ln = node.lightning().clone();
    tokio::task::block_in_place(|| {
        ln.wallet()
            .expect("wallet")
            .balance()
            .map(|b| b.confirmed_sat)
            .unwrap_or(0)
    })
}

/// A coinbase (50 BTC) to each node's wallet, matured by 100 blocks mined to `burn` (so no
/// more coinbases mature into the nodes' wallets later).
pub async fn fund(btc: &Bitcoind, nodes: &[&Node], burn: &Address) {
    for n in nodes {
        mine(btc, 1, &address(n));
    }
    mine(btc, 100, burn);
    wait_for("the wallets to see a mature coinbase", 60, async || {
        nodes.iter().all(|n| confirmed_sat(n) > 0)
    })
    .await;
}

/// Waits for the openers' funding transactions, then mines the 6 blocks channels need.
pub async fn confirm_channels(btc: &Bitcoind, openers: &[&Node], burn: &Address) {
    wait_for("the funding transactions", 60, async || {
        openers.iter().all(|n| {
            n.lightning()
                .channels()
                .iter()
                .all(|c| !c.is_outbound || c.funding_txo.is_some())
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    mine(btc, 6, burn);
}

pub fn usable_with(node: &Node, peer: &PublicKey) -> bool {
    let peer = peer.to_string();
    node.lightning()
        .channels()
        .iter()
        .any(|c| c.counterparty == peer && c.is_usable)
}

/// Whether `node` knows the forwarding policy its peers set on their side of its channels:
/// its invoices need it for their route hints.
pub fn knows_peer_policies(node: &Node) -> bool {
    node.lightning()
        .manager()
        .list_channels()
        .iter()
        .all(|c| c.counterparty.forwarding_info.is_some())
}

pub fn htlcs_in_flight(node: &Node) -> usize {
    node.lightning()
        .channels()
        .iter()
        .map(|c| c.pending_htlcs_in + c.pending_htlcs_out)
        .sum()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
