//! Replays every committed input of every fuzz target as a plain test: the seed corpus
//! (`fuzz/corpus/<target>/`) and the inputs that once crashed a target
//! (`fuzz/regressions/<target>/`, named for the bug; each has a test below too). A property a
//! target checks fails here as it would under AFL++.
//!
//! The `gossip_raw` seeds are real signed messages built here (deterministic keys and
//! timestamps; RFC 6979 signatures): `gossip_seeds_are_committed` fails when the committed
//! files differ, and rewrites them with `SWITCHYARD_FUZZ_WRITE_SEEDS=1`.

use std::path::{Path, PathBuf};

use bitcoin::secp256k1::Secp256k1;
use lightning::routing::gossip::NodeId as LdkNodeId;
use switchyard_graph::NodeId;
use switchyard_node::raw_gossip::{self, GossipMessage};
use switchyard_regtest::gossip::{self, SignedGossip};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `fuzz/<kind>/<target>/`, sorted.
fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// Runs `target` on each input of `kind`, naming the file that fails.
fn replay(kind: &str, name: &str, target: impl Fn(&[u8])) -> usize {
    let all = inputs(kind, name);
    for (path, bytes) in &all {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(bytes)));
        assert!(outcome.is_ok(), "{} fails its target", path.display());
    }
    all.len()
}

#[test]
fn graph_file_corpus_replays() {
    assert!(replay("corpus", "graph_file", switchyard_fuzz::graph_file) >= 5);
    replay("regressions", "graph_file", switchyard_fuzz::graph_file);
}

#[test]
fn rules_file_corpus_replays() {
    assert!(replay("corpus", "rules_file", switchyard_fuzz::rules_file) >= 3);
    replay("regressions", "rules_file", switchyard_fuzz::rules_file);
}

#[test]
fn gossip_raw_corpus_replays() {
    assert!(replay("corpus", "gossip_raw", switchyard_fuzz::gossip_raw) >= 3);
    replay("regressions", "gossip_raw", switchyard_fuzz::gossip_raw);
}

#[test]
fn api_request_corpus_replays() {
    let harness = switchyard_fuzz::api::Harness::new();
    let n = replay("corpus", "api_request", |d| {
        harness.request(d);
    });
    assert!(n >= switchyard_api::ROUTES.len() / 2, "{n} seeds");
    replay("regressions", "api_request", |d| {
        harness.request(d);
    });
}

#[test]
fn api_seeds_reach_their_handlers() {
    // Each seed is a valid request: the graph routes answer it, the others say what they miss
    // (not a 400 or 404 that would mean the seed never reached its handler's logic).
    let harness = switchyard_fuzz::api::Harness::new();
    for (path, bytes) in inputs("corpus", "api_request") {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let answer = harness.request(&bytes).expect("a request");
        let expected: &[Option<&str>] = match name {
            "routes" | "routes_batch" | "routes_matrix" | "routes_mpp" | "nodes" | "centrality"
            | "analytics_node" | "analytics_channel" => &[None],
            "peers"
            | "channels_own"
            | "channels_own_close"
            | "channels_own_policy"
            | "wallet_address"
            | "wallet_send"
            | "invoices_post"
            | "payments_post" => &[Some("node_not_running")],
            _ => &[Some("store_unavailable")],
        };
        assert!(
            expected.contains(&answer.1.as_deref()),
            "{name}: {answer:?}, expected {expected:?}"
        );
    }
}

/// Real signed gossip, one message of each type.
fn signed_samples() -> (SignedGossip, Vec<(&'static str, GossipMessage)>) {
    let g = SignedGossip::new(1, gossip::scid(800_000, 17, 1), 1_700_000_000);
    let samples = vec![
        (
            "channel_announcement",
            GossipMessage::ChannelAnnouncement(g.announcement.clone()),
        ),
        (
            "channel_update",
            GossipMessage::ChannelUpdate(g.updates[1].clone()),
        ),
        (
            "node_announcement",
            GossipMessage::NodeAnnouncement(g.nodes[0].clone()),
        ),
    ];
    (g, samples)
}

#[test]
fn gossip_seeds_are_committed() {
    let dir = fuzz_dir().join("corpus").join("gossip_raw");
    let write = std::env::var_os("SWITCHYARD_FUZZ_WRITE_SEEDS").is_some();
    for (name, msg) in signed_samples().1 {
        let path: &Path = &dir.join(name);
        let bytes = msg.encode();
        if write {
            std::fs::create_dir_all(&dir).expect("corpus dir");
            std::fs::write(path, &bytes).expect("write seed");
        }
        let committed = std::fs::read(path).unwrap_or_default();
        assert_eq!(
            committed,
            bytes,
            "{} is stale: rerun with SWITCHYARD_FUZZ_WRITE_SEEDS=1",
            path.display()
        );
    }
}

#[test]
fn signed_samples_verify_and_survive_the_target() {
    let secp = Secp256k1::verification_only();
    let (g, samples) = signed_samples();
    let id =
        |n: &LdkNodeId| NodeId::from_bytes_unchecked(n.as_slice().try_into().expect("33 bytes"));
    let c = &g.announcement.contents;
    let endpoints = Some((id(&c.node_id_1), id(&c.node_id_2)));
    for (name, msg) in samples {
        let raw = msg.encode();
        switchyard_fuzz::gossip_raw(&raw);
        assert!(
            raw_gossip::signatures_valid(&secp, &raw, &msg, endpoints),
            "{name}"
        );
        // One flipped bit in the signed part breaks the signature (or the decoding).
        let mut bad = raw.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        if let Ok(decoded) = raw_gossip::decode(&bad) {
            assert!(
                !raw_gossip::signatures_valid(&secp, &bad, &decoded, endpoints),
                "{name}: a modified message still verifies"
            );
        }
    }
}

/// Replays one committed crash input of `target` (`fuzz/regressions/<target>/<name>`).
fn regression(target: &str, name: &str, run: impl Fn(&[u8])) {
    let path = fuzz_dir().join("regressions").join(target).join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    run(&bytes);
}

fn api(name: &str) {
    let harness = switchyard_fuzz::api::Harness::new();
    regression("api_request", name, |d| {
        harness.request(d);
    });
}

#[test]
fn forwards_with_to_at_i64_min_is_a_range_error_not_an_overflow() {
    api("forwards_to_i64_min");
}

#[test]
fn earnings_with_to_near_i64_min_is_a_range_error_not_an_overflow() {
    api("earnings_to_i64_min");
}

#[test]
fn centrality_cursor_at_usize_max_gives_an_empty_page_not_an_overflow() {
    api("centrality_cursor_usize_max");
}

#[test]
fn a_path_segment_that_is_not_utf8_gets_a_json_error() {
    api("node_path_not_utf8");
}

#[test]
fn an_optional_json_body_that_does_not_parse_gets_a_json_error() {
    api("close_body_not_json");
}
