//! Gossip ingest: a synthetic, correctly signed network (50,000 channels with both updates,
//! 15,000 node announcements) fed through the node's gossip handler (LDK's checks plus our
//! recording) and committed to Postgres, next to the raw secp256k1 verification rate of the
//! same signatures on the same cores. Prints the resident size with the network loaded.
//!
//! Needs the test Postgres (`scripts/bench.sh gossip` starts it). Scale with
//! `SWITCHYARD_BENCH_GOSSIP_CHANNELS` / `_NODES` (defaults 50000 / 15000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lightning::ln::msgs::RoutingMessageHandler;
use rayon::prelude::*;
use switchyard_node::{Node, NodeConfig};
use switchyard_regtest::synthetic::{network, SyntheticNetwork};
use switchyard_store::testing::TestDb;

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

/// Feeds every message through the handler from two "peers" in parallel, then waits for
/// the store. Returns the wall time and the node (so its memory can be read).
async fn ingest(net: &SyntheticNetwork) -> (Duration, Arc<Node>, TestDb) {
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
    let handler = node.gossip_handler().clone();
    let peers = [
        bitcoin::secp256k1::PublicKey::from_secret_key(
            &bitcoin::secp256k1::Secp256k1::new(),
            &net.node_keys[0],
        ),
        bitcoin::secp256k1::PublicKey::from_secret_key(
            &bitcoin::secp256k1::Secp256k1::new(),
            &net.node_keys[1],
        ),
    ];
    let started = Instant::now();
    let channels = &net.channels;
    let h = handler.clone();
    tokio::task::block_in_place(|| {
        let half = channels.len() / 2;
        [&channels[..half], &channels[half..]]
            .par_iter()
            .enumerate()
            .for_each(|(p, part)| {
                for (a, u1, u2) in part.iter() {
                    h.handle_channel_announcement(Some(peers[p]), a)
                        .expect("announcement");
                    h.handle_channel_update(Some(peers[p]), u1).expect("update");
                    h.handle_channel_update(Some(peers[p]), u2).expect("update");
                }
            });
        net.nodes
            .par_chunks(net.nodes.len().div_ceil(2))
            .enumerate()
            .for_each(|(p, part)| {
                for n in part {
                    h.handle_node_announcement(Some(peers[p]), n)
                        .expect("node announcement");
                }
            });
    });
    node.flush_gossip().await;
    (started.elapsed(), node, db)
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

    let mut g = c.benchmark_group("gossip_ingest");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(60));
    g.throughput(Throughput::Elements(net.message_count() as u64));
    let secp = bitcoin::secp256k1::Secp256k1::verification_only();
    g.bench_function("secp256k1_verify_only", |b| {
        b.iter(|| {
            sigs.par_iter()
                .filter(|(m, s, pk)| secp.verify_ecdsa(m, s, pk).is_ok())
                .count()
        })
    });
    let rss_before = rss_mib();
    let mut last = None;
    g.bench_function("handler_and_store", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (d, node, db) = rt.block_on(ingest(&net));
                total += d;
                let rows: (i64, i64, i64) = rt
                    .block_on(
                        sqlx::query_as(
                            "SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM channel_updates), \
                             (SELECT count(*) FROM node_announcements)",
                        )
                        .fetch_one(db.store.pool()),
                    )
                    .expect("count");
                assert_eq!(
                    rows,
                    (channels as i64, 2 * channels as i64, nodes as i64),
                    "every message in the store"
                );
                if let Some((n, d)) = last.replace((node, db)) {
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
