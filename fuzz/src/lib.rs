//! # switchyard-fuzz: the fuzz targets of switchyard's parsers
//!
//! Each target is a function from arbitrary bytes to nothing that panics when the code under
//! test misbehaves (a panic inside it, or a broken property checked here). The AFL++ binaries
//! in `src/bin/` call them (built with `cargo afl build --features afl`, see `fuzz/README.md`);
//! `tests/corpus.rs` calls them on every committed corpus and regression input, as plain
//! tests. This crate must not hold product logic: it only drives the crates' public APIs.
//!
//! | target | drives |
//! |---|---|
//! | [`graph_file`] | `switchyard_graph::load` (CLN/LND JSON; plain, xz, gzip), then a snapshot |
//! | [`rules_file`] | `switchyard_fees::rules::Rules::parse` (TOML), then matching |
//! | [`gossip_raw`] | `switchyard_node::raw_gossip` (stored wire bytes back to messages) |
//! | [`api::Harness::request`] | the real axum router, one request per input |

#![warn(missing_docs)]

pub mod api;

use std::sync::OnceLock;

use bitcoin::secp256k1::{All, Secp256k1};
use lightning::routing::gossip::NodeId as LdkNodeId;
use switchyard_fees::rules::{ChannelState, ErrorKind, Rules};
use switchyard_graph::{load, NetworkStats, Record, Scid, Snapshot};
use switchyard_node::raw_gossip::{self, GossipMessage};
use switchyard_store::queries::raw_gossip::{RawChannel, RawNode, RawUpdate};

/// Records beyond this many are counted but not kept (a fuzz input is small anyway).
const MAX_KEPT_RECORDS: usize = 10_000;

/// Graph files: any bytes give records and a summary that agree, or an error naming the
/// file; the records then build a snapshot and its statistics without a panic.
pub fn graph_file(data: &[u8]) {
    let Ok(reader) = load::decompress(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    let mut records: Vec<Record> = Vec::new();
    let mut seen = 0u64;
    let result = load::read_records(reader, "fuzz.json", |r| {
        seen += 1;
        if records.len() < MAX_KEPT_RECORDS {
            records.push(r);
        }
        true
    });
    match result {
        Ok(summary) => {
            assert_eq!(summary.records, seen, "summary disagrees with the sink");
            assert!(
                summary.format.is_some(),
                "a successful read names its format"
            );
            let snapshot = Snapshot::from_records(records);
            let stats = NetworkStats::compute(&snapshot);
            assert!(stats.channels <= snapshot.channel_count() as u64);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.starts_with("fuzz.json"),
                "error without the file: {message}"
            );
        }
    }
}

/// A few channels to match parsed rules against.
fn channel_states() -> Vec<ChannelState> {
    let peer = "0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c24"
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid node id"));
    [
        (0u64, 0u64, 0u32, 0u64),
        (1_000_000_000, 0, 3, 1),
        (1, u64::MAX, u32::MAX, u64::MAX),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(local, remote, age, n))| ChannelState {
        scid: Scid::new(800_000, i as u32, 0).unwrap_or(Scid(0)),
        peer,
        capacity_sat: local / 1000 + remote / 1000,
        local_msat: local,
        remote_msat: remote,
        age_days: age,
        forwards: n,
        forward_volume_msat: n,
        public: i % 2 == 0,
    })
    .collect()
}

/// Rules files: any text gives rules (which then match channels) or an error that names its
/// section, and its key where a key is at fault.
pub fn rules_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Rules::parse(text) {
        Ok(rules) => {
            for c in channel_states() {
                let section = rules.match_channel(&c);
                assert!(section.pin || section.strategy.is_some(), "{section:?}");
            }
        }
        Err(e) => {
            let message = e.to_string();
            match &e.kind {
                ErrorKind::Syntax(_) => assert!(e.section.is_empty(), "{message}"),
                kind => {
                    assert!(!e.section.is_empty(), "no section named: {message}");
                    let about_a_key = matches!(
                        kind,
                        ErrorKind::UnknownKey
                            | ErrorKind::BadRange(_)
                            | ErrorKind::MissingParameter { .. }
                            | ErrorKind::UnknownStrategy(_)
                    );
                    assert!(!about_a_key || e.key.is_some(), "no key named: {message}");
                }
            }
        }
    }
}

fn secp() -> &'static Secp256k1<All> {
    static SECP: OnceLock<Secp256k1<All>> = OnceLock::new();
    SECP.get_or_init(Secp256k1::new)
}

/// Stored gossip bytes: any bytes decode to a message or an error; a decoded message
/// re-encodes to the same bytes and decodes to itself, its signatures can be checked, and
/// the row the recorder would store for it passes the field checks.
pub fn gossip_raw(data: &[u8]) {
    let msg = match raw_gossip::decode(data) {
        Ok(msg) => msg,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let bytes = msg.encode();
    assert_eq!(
        bytes,
        data,
        "re-encoding a decoded {} changed it",
        msg.kind()
    );
    assert_eq!(raw_gossip::decode(&bytes).as_ref(), Ok(&msg), "round trip");
    let ids = stored_row_checks(&msg, data);
    // Whatever the bytes, checking signatures answers (mostly "invalid") without a panic.
    let _ = raw_gossip::signatures_valid(secp(), data, &msg, ids);
}

/// Builds the row the store keeps for `msg` (as the recorder and the store write it) and
/// checks that the stored-field comparison finds no difference. Returns the channel's
/// endpoints when the message names them.
fn stored_row_checks(
    msg: &GossipMessage,
    raw: &[u8],
) -> Option<(switchyard_graph::NodeId, switchyard_graph::NodeId)> {
    let id = |n: &LdkNodeId| {
        <[u8; 33]>::try_from(n.as_slice())
            .ok()
            .map(switchyard_graph::NodeId::from_bytes_unchecked)
    };
    match msg {
        GossipMessage::ChannelAnnouncement(m) => {
            let (a, b) = (id(&m.contents.node_id_1)?, id(&m.contents.node_id_2)?);
            let row = RawChannel {
                scid: Scid(m.contents.short_channel_id),
                node_1: a,
                node_2: b,
                raw: raw.to_vec(),
            };
            let diff = raw_gossip::check_channel(&row, m);
            assert!(diff.is_empty(), "{diff:?}");
            Some((a, b))
        }
        GossipMessage::ChannelUpdate(m) => {
            // The recorder's row, through the store's column types.
            let u = raw_gossip::update_row(m, None, 0);
            let row = RawUpdate {
                scid: u.scid,
                direction: i16::from(u.direction),
                timestamp: i64::from(u.timestamp),
                message_flags: i16::from(u.message_flags),
                channel_flags: i16::from(u.channel_flags),
                disabled: u.channel_flags & 2 != 0,
                cltv_delta: i32::from(u.cltv_delta),
                htlc_min_msat: u.htlc_min_msat as i64,
                htlc_max_msat: Some(u.htlc_max_msat as i64),
                fee_base_msat: i64::from(u.fee_base_msat),
                fee_ppm: i64::from(u.fee_ppm),
                raw: u.raw,
                endpoints: None,
            };
            let diff = raw_gossip::check_update(&row, m);
            assert!(diff.is_empty(), "{diff:?}");
            None
        }
        GossipMessage::NodeAnnouncement(m) => {
            let n = raw_gossip::node_row(m, None, 0)?;
            let row = RawNode {
                node_id: n.node_id,
                timestamp: i64::from(n.timestamp),
                alias: n.alias,
                color: n.color,
                // The store keeps addresses as JSONB: what comes back is what went in.
                addresses: serde_json::from_str(&n.addresses.to_string()).ok()?,
                features: n.features,
                raw: n.raw,
            };
            let diff = raw_gossip::check_node(&row, m);
            assert!(diff.is_empty(), "{diff:?}");
            None
        }
    }
}
