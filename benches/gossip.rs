//! Gossip ingest: a synthetic, correctly signed network (50,000 channels with both updates,
//! 15,000 node announcements) fed through the node's gossip handler (LDK's checks plus our
//! recording) and committed to Postgres, next to the raw secp256k1 verification rate of the
//! same signatures on the same cores. Every run checks that every message is in the store.
//! Prints the resident size with the network loaded.
//!
//! Needs the test Postgres (started by `TestDb` in `SWITCHYARD_TEST_PG_DIR`). Scale with
//! `SWITCHYARD_BENCH_GOSSIP_CHANNELS` / `_NODES` (defaults 50000 / 15000).
//!
//! Two verification baselines: `verify_only` checks each signature against an already parsed
//! key; `verify_from_wire` starts from the key's 33 wire bytes, as a node must (parsing a
//! compressed key costs a field square root, about a tenth of a verification).
//!
//! `SWITCHYARD_BENCH_GOSSIP_RUNS=N` skips criterion and runs N rounds of (verify-only,
//! verify from wire, handler + store) back to back, printing each round's rates, the ratios
//! and where the CPU time went (this process vs the Postgres server), then the medians.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use lightning::ln::msgs::{ChannelAnnouncement, ChannelUpdate, RoutingMessageHandler};
use rayon::prelude::*;
use switchyard_node::{Node, NodeConfig, RecordingGossip};
use switchyard_regtest::synthetic::{network, SyntheticNetwork};
use switchyard_store::testing::TestDb;

type Sig = (
    bitcoin::secp256k1::Message,
    bitcoin::secp256k1::ecdsa::Signature,
    bitcoin::secp256k1::PublicKey,
);

/// Channels (announcement + both updates) per unit of work handed to a feeding thread: small
/// enough that both threads stay busy to the end, large enough to keep scheduling cheap.
const CHUNK: usize = 256;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Fields of `/proc/<pid>/stat` after the command name (index 0 is the state).
fn proc_stat(pid: &str) -> Option<Vec<u64>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|f| f.parse::<i64>().map_or(0, |v| v.max(0) as u64))
            .collect(),
    )
}

/// CPU seconds (user + system) of this process so far.
fn self_cpu() -> f64 {
    // After the state: ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
    proc_stat("self").map_or(0.0, |f| (f[10] + f[11]) as f64 / 100.0)
}

/// CPU seconds of the test cluster's server: the postmaster, its live children and the
/// children it has reaped. `None` when the cluster is not the embedded test cluster.
fn pg_cpu() -> Option<f64> {
    if std::env::var_os("DATABASE_URL").is_some() {
        return None;
    }
    let pid_file = switchyard_store::testing::test_cluster_dir().join("data/postmaster.pid");
    let pm = std::fs::read_to_string(pid_file).ok()?;
    let pm = pm.lines().next()?.trim().to_string();
    let f = proc_stat(&pm)?;
    let mut ticks = f[10] + f[11] + f[12] + f[13];
    let pm_pid: u64 = pm.parse().ok()?;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some(c) = proc_stat(pid).filter(|c| c[0] == pm_pid) {
            ticks += c[10] + c[11];
        }
    }
    Some(ticks as f64 / 100.0)
}

async fn start_node() -> (Arc<Node>, TestDb) {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = NodeConfig::new(bitcoin::Network::Regtest, dir.keep());
    cfg.listen = None;
    cfg.dns_seeds = Vec::new();
    // A full sync is one burst per channel direction: no rate limit in the way.
    cfg.gossip.update_burst = 1_000;
    let metrics = Arc::new(switchyard_node::NodeMetrics::new());
    let node = Node::start(cfg, db.store.clone(), metrics)
        .await
        .expect("node");
    (node, db)
}

/// Every message through the handler from two "peers" on the two rayon threads, channels
/// (each with its updates, in order) first, then node announcements.
fn feed(h: &RecordingGossip, net: &SyntheticNetwork, peers: &[bitcoin::secp256k1::PublicKey; 2]) {
    let channel = |p: usize, (a, u1, u2): &(ChannelAnnouncement, ChannelUpdate, ChannelUpdate)| {
        h.handle_channel_announcement(Some(peers[p]), a)
            .expect("announcement");
        h.handle_channel_update(Some(peers[p]), u1).expect("update");
        h.handle_channel_update(Some(peers[p]), u2).expect("update");
    };
    net.channels
        .par_chunks(CHUNK)
        .enumerate()
        .for_each(|(i, part)| part.iter().for_each(|c| channel(i % 2, c)));
    net.nodes
        .par_chunks(CHUNK)
        .enumerate()
        .for_each(|(i, part)| {
            for n in part {
                h.handle_node_announcement(Some(peers[i % 2]), n)
                    .expect("node announcement");
            }
        });
}

struct Ingest {
    wall: Duration,
    /// CPU seconds of this process (LDK, recorder, writer) and of the Postgres server.
    cpu_self: f64,
    cpu_pg: Option<f64>,
    node: Arc<Node>,
    db: TestDb,
}

/// Feeds the network through a fresh node and waits for the store; checks every message is
/// in it.
async fn ingest(net: &SyntheticNetwork) -> Ingest {
    let (node, db) = start_node().await;
    let handler = node.gossip_handler().clone();
    let secp = bitcoin::secp256k1::Secp256k1::signing_only();
    let peers = [
        bitcoin::secp256k1::PublicKey::from_secret_key(&secp, &net.node_keys[0]),
        bitcoin::secp256k1::PublicKey::from_secret_key(&secp, &net.node_keys[1]),
    ];
    let (cpu0, pg0) = (self_cpu(), pg_cpu());
    let started = Instant::now();
    tokio::task::block_in_place(|| feed(&handler, net, &peers));
    node.flush_gossip().await;
    let wall = started.elapsed();
    let (cpu_self, cpu_pg) = (self_cpu() - cpu0, pg_cpu().zip(pg0).map(|(b, a)| b - a));
    let rows: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM channel_updates), \
         (SELECT count(*) FROM node_announcements)",
    )
    .fetch_one(db.store.pool())
    .await
    .expect("count");
    let n = (net.channels.len() as i64, net.nodes.len() as i64);
    assert_eq!(
        rows,
        (n.0, 2 * n.0, n.1),
        "every message in the store (channels, updates, node announcements)"
    );
    Ingest {
        wall,
        cpu_self,
        cpu_pg,
        node,
        db,
    }
}

fn verify_only(sigs: &[Sig]) -> usize {
    let secp = bitcoin::secp256k1::Secp256k1::verification_only();
    sigs.par_iter()
        .filter(|(m, s, pk)| secp.verify_ecdsa(m, s, pk).is_ok())
        .count()
}

/// The same verifications starting from the keys' wire form (33 compressed bytes), as a
/// gossip message carries them: each key is parsed (a field square root) before its check.
/// A node bound by secp256k1 alone would still pay for that parse.
fn verify_from_wire(sigs: &[Sig], wire_keys: &[[u8; 33]]) -> usize {
    let secp = bitcoin::secp256k1::Secp256k1::verification_only();
    sigs.par_iter()
        .zip(wire_keys.par_iter())
        .filter(|((m, s, _), k)| {
            bitcoin::secp256k1::PublicKey::from_slice(&k[..])
                .is_ok_and(|pk| secp.verify_ecdsa(m, s, &pk).is_ok())
        })
        .count()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rounds of verify-only then handler + store, with rates, ratio and CPU split per round.
fn rounds(
    rt: &tokio::runtime::Runtime,
    net: &SyntheticNetwork,
    (sigs, wire_keys): (&[Sig], &[[u8; 33]]),
    runs: usize,
) {
    let msgs = net.message_count() as f64;
    let (mut ratios, mut verify, mut handler) = (Vec::new(), Vec::new(), Vec::new());
    let (mut wire, mut wire_ratios) = (Vec::new(), Vec::new());
    let mut cpu_ratios = Vec::new();
    let mut keep = None;
    for r in 1..=runs {
        let (t, c) = (Instant::now(), self_cpu());
        assert_eq!(verify_only(sigs), sigs.len(), "every signature verifies");
        let (v, vc) = (t.elapsed().as_secs_f64(), self_cpu() - c);
        let t = Instant::now();
        assert_eq!(
            verify_from_wire(sigs, wire_keys),
            sigs.len(),
            "every signature verifies"
        );
        let w = t.elapsed().as_secs_f64();
        let i = rt.block_on(ingest(net));
        let h = i.wall.as_secs_f64();
        let hc = i.cpu_self + i.cpu_pg.unwrap_or(0.0);
        eprintln!(
            "round {r}: verify-only {v:.2} s ({:.1}k msg/s) | handler+store {h:.2} s ({:.1}k msg/s) \
             = {:.0}% | CPU s: verify-only {vc:.1}, handler+store {hc:.1} (this process {:.1}, \
             postgres {}) = {:.0}% | verify from wire bytes {w:.2} s ({:.1}k msg/s) = {:.0}%",
            msgs / v / 1e3,
            msgs / h / 1e3,
            100.0 * v / h,
            i.cpu_self,
            i.cpu_pg.map_or("n/a".into(), |c| format!("{c:.1}")),
            100.0 * vc / hc,
            msgs / w / 1e3,
            100.0 * w / h,
        );
        ratios.push(100.0 * v / h);
        wire_ratios.push(100.0 * w / h);
        wire.push(w);
        cpu_ratios.push(100.0 * vc / hc);
        verify.push(v);
        handler.push(h);
        if let Some((n, d)) = keep.replace((i.node, i.db)) {
            rt.block_on(async {
                Node::stop(&n).await;
                drop(d);
            });
        }
    }
    let (v, h, w) = (median(verify), median(handler), median(wire));
    eprintln!(
        "median of {runs}: verify-only {v:.2} s ({:.1}k msg/s), handler+store {h:.2} s ({:.1}k msg/s), \
         ratio {:.0}% (median of per-round ratios {:.0}%, of CPU-time ratios {:.0}%); \
         verify from wire bytes {w:.2} s ({:.1}k msg/s), ratio {:.0}% (per-round median {:.0}%); \
         resident size {:.0} MiB with the network loaded",
        msgs / v / 1e3,
        msgs / h / 1e3,
        100.0 * v / h,
        median(ratios),
        median(cpu_ratios),
        msgs / w / 1e3,
        100.0 * w / h,
        median(wire_ratios),
        rss_mib()
    );
    if let Some((n, d)) = keep {
        rt.block_on(async {
            n.stop().await;
            drop(d);
        });
    }
}

fn bench(c: &mut Criterion) {
    let channels = env("SWITCHYARD_BENCH_GOSSIP_CHANNELS", 50_000);
    let nodes = env("SWITCHYARD_BENCH_GOSSIP_NODES", 15_000);
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let t = Instant::now();
    let net = network(nodes, channels, 7, ts);
    let sigs = net.signatures();
    let wire_keys: Vec<[u8; 33]> = sigs.iter().map(|(_, _, pk)| pk.serialize()).collect();
    eprintln!(
        "gossip bench: {} channels, {} nodes, {} messages, {} signatures (generated in {:.1}s)",
        channels,
        nodes,
        net.message_count(),
        sigs.len(),
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let runs = env("SWITCHYARD_BENCH_GOSSIP_RUNS", 0);
    if runs > 0 {
        rounds(&rt, &net, (&sigs, &wire_keys), runs);
        return;
    }

    let mut g = c.benchmark_group("gossip_ingest");
    g.sample_size(10);
    // One iteration is seconds long: ten of each, not criterion's linear ramp of 55.
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(60));
    g.throughput(Throughput::Elements(net.message_count() as u64));
    g.bench_function("secp256k1_verify_only", |b| b.iter(|| verify_only(&sigs)));
    g.bench_function("secp256k1_verify_from_wire", |b| {
        b.iter(|| verify_from_wire(&sigs, &wire_keys))
    });
    let rss_before = rss_mib();
    let mut last = None;
    g.bench_function("handler_and_store", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let i = rt.block_on(ingest(&net));
                total += i.wall;
                if let Some((n, d)) = last.replace((i.node, i.db)) {
                    rt.block_on(async {
                        Node::stop(&n).await;
                        drop(d);
                    });
                }
            }
            total
        })
    });
    g.finish();
    eprintln!(
        "gossip bench: resident size {:.0} MiB with the network loaded (before the first ingest: {:.0} MiB)",
        rss_mib(),
        rss_before
    );
    if let Some((n, d)) = last {
        rt.block_on(async {
            n.stop().await;
            drop(d);
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
