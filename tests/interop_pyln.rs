//! Interop with a second Lightning implementation: `pyln-proto` (Core Lightning's Python wire
//! library) is the remote peer of a running switchyard node, over real TCP. It performs the
//! BOLT 8 Noise_XK handshake, exchanges `init` (each side parses the other's feature bits),
//! pings, receives the `gossip_timestamp_filter` BOLT 7 sends a `gossip_queries` peer, sends
//! gossip it signed itself (checked here in the store byte for byte) and gets the node's
//! gossip back unchanged (`tests/interop/pyln_peer.py`).
//!
//! The venv comes from `scripts/interop-venv.sh` (also run by `scripts/test.sh`). The test
//! skips, saying so, only when the package index cannot be reached; any other failure fails.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::blockdata::constants::ChainHash;
use switchyard_node::{Node, NodeConfig};
use switchyard_store::testing::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The interop venv's directory, or `None` when the package index is unreachable.
fn venv() -> Option<std::path::PathBuf> {
    let out = std::process::Command::new("bash")
        .arg(format!("{ROOT}/scripts/interop-venv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/interop-venv.sh");
    match out.status.code() {
        Some(0) => Some(String::from_utf8_lossy(&out.stdout).trim().into()),
        Some(75) => None,
        _ => panic!(
            "scripts/interop-venv.sh failed ({}); see its output above",
            out.status
        ),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &serde_json::Value) -> Vec<u8> {
    let s = s.as_str().expect("hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyln_proto_peer_handshakes_exchanges_init_and_gossip() {
    let Some(venv) = tokio::task::spawn_blocking(venv).await.unwrap() else {
        eprintln!(
            "SKIPPED pyln_proto_peer_handshakes_exchanges_init_and_gossip: the Python package \
             index is unreachable, so pyln-proto (the second implementation) cannot be installed"
        );
        return;
    };

    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = NodeConfig::new(bitcoin::Network::Regtest, dir.path().join("data"));
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.dns_seeds = Vec::new();
    let metrics = Arc::new(switchyard_node::NodeMetrics::new());
    let node = Node::start(cfg, db.store.clone(), metrics).await.unwrap();
    let addr = node.listening().expect("listening");
    let chain = ChainHash::using_genesis_block(bitcoin::Network::Regtest);

    let mut peer = tokio::process::Command::new(venv.join("bin/python"))
        .arg(format!("{ROOT}/tests/interop/pyln_peer.py"))
        .arg(node.node_id().to_string())
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(hex(chain.as_bytes()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the pyln-proto peer");
    let mut lines = BufReader::new(peer.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .expect("pyln-proto peer answered within 120 s")
        .unwrap()
        .unwrap_or_default();
    let seen: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("pyln-proto peer printed {line:?}: {e}"));
    assert_eq!(seen["ok"], true, "pyln-proto peer: {seen}");
    eprintln!("pyln-proto peer saw: {seen}");
    let received: Vec<&str> = seen["received"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(received.first(), Some(&"init"), "init comes first");
    for t in ["pong", "gossip_timestamp_filter"] {
        assert!(received.contains(&t), "{t} received: {received:?}");
    }
    assert_eq!(
        seen["echoed"],
        serde_json::json!([
            "channel_announcement",
            "channel_update",
            "channel_update",
            "node_announcement"
        ])
    );

    // Our side of the connection: the peer, inbound, with exactly the feature bits it sent.
    let sent = &seen["sent_gossip"];
    let their_id = unhex(&sent["our_node_id"]);
    let peers = node.peer_manager().list_peers();
    let p = peers
        .iter()
        .find(|p| p.counterparty_node_id.serialize().as_slice() == their_id.as_slice())
        .unwrap_or_else(|| panic!("pyln-proto peer connected: {} peers", peers.len()));
    assert!(p.is_inbound_connection);
    assert!(p.init_features.supports_gossip_queries());
    let mut flags = p.init_features.le_flags().to_vec();
    while flags.last() == Some(&0) {
        flags.pop();
    }
    flags.reverse();
    assert_eq!(hex(&flags), seen["sent_features"].as_str().unwrap());

    // Its gossip in the store, byte for byte, attributed to it.
    node.flush_gossip().await;
    let scid: i64 = (700 << 40) | (1 << 16);
    let (raw, peer_id, node_1): (Vec<u8>, Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT raw_announcement, peer, node_1 FROM channels WHERE scid = $1")
            .bind(scid)
            .fetch_one(db.store.pool())
            .await
            .unwrap();
    assert_eq!(raw, unhex(&sent["channel_announcement"]));
    assert_eq!(peer_id, their_id);
    assert_eq!(node_1, unhex(&sent["node_id_1"]));
    let updates: Vec<(i16, i64, i64, i32, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT direction, fee_ppm, fee_base_msat, cltv_delta, timestamp, raw FROM channel_updates \
         WHERE scid = $1 ORDER BY direction",
    )
    .bind(scid)
    .fetch_all(db.store.pool())
    .await
    .unwrap();
    let ts = sent["timestamp"].as_i64().unwrap();
    assert_eq!(updates.len(), 2);
    for (i, (dir, ppm, base, cltv, t, raw)) in updates.into_iter().enumerate() {
        assert_eq!(
            (dir, ppm, base, cltv, t),
            (i as i16, [111, 222][i], 1500, 42, ts)
        );
        assert_eq!(raw, unhex(&sent["channel_updates"][i]));
    }
    let (alias, color, raw): (String, String, Vec<u8>) =
        sqlx::query_as("SELECT alias, color, raw FROM node_announcements WHERE node_id = $1")
            .bind(unhex(&sent["node_id_1"]))
            .fetch_one(db.store.pool())
            .await
            .unwrap();
    assert_eq!((alias.as_str(), color.as_str()), ("pyln-interop", "123456"));
    assert_eq!(raw, unhex(&sent["node_announcement"]));

    drop(peer.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(30), peer.wait())
        .await
        .expect("pyln-proto peer exits")
        .unwrap();
    assert!(status.success(), "pyln-proto peer: {status}");
    node.stop().await;
}
