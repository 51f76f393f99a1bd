//! The API under load while a hostile peer floods gossip: a real load generator (`wrk`, 64
//! connections, `SWITCHYARD_LOAD_SECS`, default 60 s) over stats, node lists, single routes
//! and batches against `switchyard up` (bundled 2019 graph, a Lightning node on regtest
//! with two peers). One peer floods the node with channel updates (valid signatures,
//! fresh timestamps, plus forged ones) for the whole run; the other only stays connected.
//!
//! Asserts: every request answered 2xx (no 5xx, no socket error, no timeout), the flood
//! reached the node (accepted and rejected updates counted), the quiet peer is still
//! connected, the process is still up. Prints throughput, p50/p99 and peak memory.
//!
//! `scripts/test.sh` installs `wrk` (Debian) when missing. The per-client rate limit is
//! turned off: a load generator is one client, and this measures capacity.

#[path = "support/gossip_peer.rs"]
mod gossip_peer;
#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lightning::ln::msgs::MessageSendEvent;
use process::{call, free_port, spawn_logged, wait_ready};
use serde_json::{json, Value};
use switchyard_regtest::gossip::{corrupt_signature, sign_channel_update};
use switchyard_regtest::synthetic::network;
use switchyard_regtest::GossipPeer;
use switchyard_store::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const CONNECTIONS: u32 = 64;

/// A Prometheus counter's value summed over series whose labels contain all of `labels`.
fn counter(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `VmHWM` and `VmRSS` of `pid`, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The wrk script: each thread cycles through `requests` (method, path, body).
fn wrk_script(requests: &[(String, String, String)]) -> String {
    let mut lua = String::from("local reqs = {}\n");
    for (m, p, b) in requests {
        lua.push_str(&format!(
            "reqs[#reqs + 1] = wrk.format({m:?}, {p:?}, {{[\"Content-Type\"] = \"application/json\"}}, {b:?})\n"
        ));
    }
    lua.push_str("local i = 0\nrequest = function()\n  i = i % #reqs + 1\n  return reqs[i]\nend\n");
    lua
}

/// wrk's latency percentile `p` ("50%", "99%") from `--latency` output, in milliseconds.
fn percentile_ms(out: &str, p: &str) -> f64 {
    let v = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(p))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("nan");
    let (num, scale) = if let Some(x) = v.strip_suffix("us") {
        (x, 1e-3)
    } else if let Some(x) = v.strip_suffix("ms") {
        (x, 1.0)
    } else if let Some(x) = v.strip_suffix('s') {
        (x, 1e3)
    } else {
        (v, f64::NAN)
    };
    num.parse::<f64>().map_or(f64::NAN, |n| n * scale)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_every_request_under_load_while_a_peer_floods_gossip() {
    let secs: u64 = std::env::var("SWITCHYARD_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    assert!(
        std::process::Command::new("wrk")
            .arg("--version")
            .output()
            .is_ok(),
        "wrk is not installed (scripts/test.sh installs Debian's wrk)"
    );

    // The flooder serves a synthetic network at sync, then keeps re-signing its updates.
    let ts = switchyard_regtest::now_timestamp();
    let net = tokio::task::spawn_blocking(move || network(300, 1_000, 21, ts))
        .await
        .unwrap();
    let flooder = gossip_peer::serving([0x66; 32], &net).await;
    let quiet = GossipPeer::start([0x55; 32]).await.unwrap();

    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("switchyard.log");
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut child = spawn_logged(
        tokio::process::Command::new(BIN)
            .args(["up", "--network", "regtest", "--no-dns-bootstrap"])
            .args(["--p2p-listen", "127.0.0.1:0", "--refresh-secs", "1"])
            .args(["--rate-limit-per-minute", "0"])
            .args(["--connect", &flooder.connect_string()])
            .args(["--connect", &quiet.connect_string()])
            .arg("--listen")
            .arg(api.to_string())
            .arg("--database-url")
            .arg(db.url())
            .arg("--data-dir")
            .arg(&data)
            .env("RUST_LOG", "warn"),
        &log,
    );
    let pid = child.id().expect("child pid");
    wait_ready(&mut child, &log, Duration::from_secs(180), || async {
        call(api, "GET", "/readyz", "", "").await.0 == 200
    })
    .await;
    let token = std::fs::read_to_string(data.join("api_read_token"))
        .unwrap()
        .trim()
        .to_owned();
    let peer_ids = [flooder.node_id().to_string(), quiet.node_id().to_string()];
    let both_connected = || async {
        let (status, body) = call(api, "GET", "/v1/peers", &token, "").await;
        let peers: Value = serde_json::from_str(&body).unwrap_or_default();
        status == 200
            && peer_ids.iter().all(|id| {
                peers["peers"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["node_id"] == id.as_str() && p["connected"] == true)
                })
            })
    };
    wait_ready(&mut child, &log, Duration::from_secs(60), both_connected).await;

    // Requests a user makes: pairs among the largest nodes that have a route.
    let (_, body) = call(api, "GET", "/v1/nodes?limit=12", "", "").await;
    let ids: Vec<String> = serde_json::from_str::<Value>(&body).unwrap()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap().to_owned())
        .collect();
    let mut routes = Vec::new();
    for (i, a) in ids.iter().enumerate() {
        let b = &ids[(i + 1) % ids.len()];
        let q = json!({"source": a, "destination": b, "amount_msat": 50_000_000u64});
        if call(api, "POST", "/v1/routes", "", &q.to_string()).await.0 == 200 {
            routes.push(q);
        }
    }
    assert!(routes.len() >= 4, "only {} routable pairs", routes.len());
    let batch = json!({"queries": routes}).to_string();
    let mut requests: Vec<(String, String, String)> = vec![
        ("GET".into(), "/v1/network/stats".into(), String::new()),
        ("GET".into(), "/v1/nodes?limit=50".into(), String::new()),
        ("POST".into(), "/v1/routes/batch".into(), batch),
    ];
    for q in &routes {
        requests.push(("POST".into(), "/v1/routes".into(), q.to_string()));
    }
    for (m, p, b) in &requests {
        let (status, body) = call(api, m, p, "", b).await;
        assert_eq!(status, 200, "{m} {p} before the load: {body}");
    }
    let script = dir.path().join("requests.lua");
    std::fs::write(&script, wrk_script(&requests)).unwrap();
    let (_, before) = call(api, "GET", "/metrics", "", "").await;

    // The flood: channels' updates of node_1 re-signed with a new fee and timestamp, 100
    // every 50 ms (every tenth with a forged signature), until the load ends.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flood = {
        let (stop, sent) = (stop.clone(), sent.clone());
        let updates = gossip_peer::node_1_updates(&net);
        tokio::spawn(async move {
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let events: Vec<_> = updates
                    .iter()
                    .cycle()
                    .skip((round as usize * 100) % updates.len())
                    .take(100)
                    .enumerate()
                    .map(|(i, (contents, key))| {
                        let mut c = contents.clone();
                        c.timestamp = ts + round;
                        c.fee_proportional_millionths = round % 5_000;
                        let mut msg = sign_channel_update(c, key);
                        if i % 10 == 0 {
                            msg.signature = corrupt_signature(&msg.signature, key);
                        }
                        MessageSendEvent::BroadcastChannelUpdate { msg }
                    })
                    .collect();
                sent.fetch_add(events.len() as u64, Ordering::Relaxed);
                flooder.broadcast(events);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            flooder
        })
    };

    let url = format!("http://{api}");
    let wrk = tokio::task::spawn_blocking({
        let script = script.clone();
        move || {
            std::process::Command::new("wrk")
                .args(["-t", "2", "-c", &CONNECTIONS.to_string()])
                .args([
                    "-d",
                    &format!("{secs}s"),
                    "--timeout",
                    "30s",
                    "--latency",
                    "-s",
                ])
                .arg(&script)
                .arg(&url)
                .output()
                .expect("run wrk")
        }
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let flooder = flood.await.unwrap();
    let out = String::from_utf8_lossy(&wrk.stdout).into_owned();
    println!("{out}");
    assert!(
        wrk.status.success(),
        "wrk failed: {out}\n{}",
        String::from_utf8_lossy(&wrk.stderr)
    );

    // Every request answered 2xx, none dropped or timed out.
    assert!(!out.contains("Non-2xx or 3xx responses"), "{out}");
    assert!(!out.contains("Socket errors"), "{out}");
    let total: u64 = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect("wrk's request count");
    assert!(total > 0, "{out}");

    // Still up, the quiet peer still connected, and the flood reached the node.
    assert!(
        child.try_wait().unwrap().is_none(),
        "switchyard exited under load"
    );
    assert!(both_connected().await, "a peer was dropped under the flood");
    let (_, after) = call(api, "GET", "/metrics", "", "").await;
    let seen = |m: &str| {
        counter(m, "switchyard_gossip_messages_total{", &["channel_update"])
            + counter(m, "switchyard_gossip_rejected_total{", &["channel_update"])
    };
    let handled = seen(&after) - seen(&before);
    let (_, body) = call(api, "GET", "/v1/network/stats", "", "").await;
    assert!(body.contains("\"stats\""), "stats after the load: {body}");
    let (peak, rss) = memory_mib(pid);
    println!(
        "| measure | value |\n|---|---|\n\
         | duration, connections | {secs} s, {CONNECTIONS} |\n\
         | requests (stats, nodes, batch of {n}, single routes) | {total} ({rate:.0}/s) |\n\
         | latency p50 / p99 | {p50:.2} ms / {p99:.2} ms |\n\
         | non-2xx, socket errors | 0, 0 |\n\
         | flood: updates sent / counted by the node | {sent} / {handled} |\n\
         | switchyard memory: peak (VmHWM) / now (VmRSS) | {peak:.0} MiB / {rss:.0} MiB |",
        n = routes.len(),
        rate = total as f64 / secs as f64,
        p50 = percentile_ms(&out, "50%"),
        p99 = percentile_ms(&out, "99%"),
        sent = sent.load(Ordering::Relaxed),
    );
    assert!(handled > 0.0, "the flood never reached the node");
    drop(flooder);
}
