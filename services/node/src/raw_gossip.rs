//! Stored gossip back to messages: the inverse of the `raw` bytes [`crate::gossip`] records
//! for every message a peer sent (type, then body, as on the wire), and the checks that use
//! it: the stored fields against the decoded message, and the signatures against the exact
//! bytes that were signed.
//!
//! [`decode`] takes any bytes (the store is only as trustworthy as its disk and its writers)
//! and returns a message or a [`RawGossipError`], never panics; for a message LDK accepted,
//! `decode(&msg.encode()) == msg` and the re-encoding is byte-for-byte the stored row (the
//! fuzz target `gossip_raw` checks both). [`verify_store`] runs every check over the store's
//! history tables (`switchyard gossip verify`).

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::secp256k1::{ecdsa::Signature, Message, PublicKey, Secp256k1, Verification};
use lightning::ln::msgs::UnsignedNodeAnnouncement;
use lightning::ln::msgs::{ChannelAnnouncement, ChannelUpdate, NodeAnnouncement};
use lightning::util::ser::{LengthReadable, Writeable};
use switchyard_graph::{NodeId, Scid};
use switchyard_store::gossip::{GossipNode, GossipUpdate};
use switchyard_store::queries::raw_gossip::{self, RawChannel, RawNode, RawUpdate};
use switchyard_store::Store;

use crate::NodeError;

/// Wire type of `channel_announcement` (BOLT 7).
pub const CHANNEL_ANNOUNCEMENT: u16 = 256;
/// Wire type of `node_announcement`.
pub const NODE_ANNOUNCEMENT: u16 = 257;
/// Wire type of `channel_update`.
pub const CHANNEL_UPDATE: u16 = 258;

/// One decoded gossip message.
// Decoded one at a time and dropped at once (never stored in bulk), so the size gap between
// an announcement and an update costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GossipMessage {
    /// A `channel_announcement` (type 256).
    ChannelAnnouncement(ChannelAnnouncement),
    /// A `node_announcement` (type 257).
    NodeAnnouncement(NodeAnnouncement),
    /// A `channel_update` (type 258).
    ChannelUpdate(ChannelUpdate),
}

impl GossipMessage {
    /// `channel_announcement`, `node_announcement` or `channel_update`.
    pub fn kind(&self) -> &'static str {
        match self {
            GossipMessage::ChannelAnnouncement(_) => kind::CHANNEL,
            GossipMessage::NodeAnnouncement(_) => kind::NODE,
            GossipMessage::ChannelUpdate(_) => kind::UPDATE,
        }
    }

    /// The wire bytes, as the recorder stores them.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            GossipMessage::ChannelAnnouncement(m) => wire_bytes(CHANNEL_ANNOUNCEMENT, m),
            GossipMessage::NodeAnnouncement(m) => wire_bytes(NODE_ANNOUNCEMENT, m),
            GossipMessage::ChannelUpdate(m) => wire_bytes(CHANNEL_UPDATE, m),
        }
    }
}

/// Why stored bytes are not a gossip message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawGossipError {
    #[error("{0} bytes: too short to hold a message type")]
    /// Fewer than two bytes (the length is given).
    TooShort(usize),
    #[error("message type {0} is not a gossip message (256, 257 or 258)")]
    /// The message type is not a gossip type.
    NotGossip(u16),
    #[error("malformed {kind}: {reason}")]
    /// The bytes do not decode as the message type says.
    Malformed {
        /// The message type the bytes claim.
        kind: &'static str,
        /// Why they do not decode.
        reason: String,
    },
}

/// The wire message (type, then body), in one allocation of the right size.
pub(crate) fn wire_bytes(wire_type: u16, body: &impl Writeable) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + body.serialized_length());
    v.extend_from_slice(&wire_type.to_be_bytes());
    // Writing to a Vec cannot fail.
    let _ = body.write(&mut v);
    v
}

fn read<T: LengthReadable>(what: &'static str, mut body: &[u8]) -> Result<T, RawGossipError> {
    let msg =
        T::read_from_fixed_length_buffer(&mut body).map_err(|e| RawGossipError::Malformed {
            kind: what,
            reason: e.to_string(),
        })?;
    // Every body reader ends by taking the rest as excess data; anything left is a bug there.
    if !body.is_empty() {
        return Err(RawGossipError::Malformed {
            kind: what,
            reason: format!("{} bytes left over", body.len()),
        });
    }
    Ok(msg)
}

/// Decodes stored wire bytes into the message they hold.
pub fn decode(raw: &[u8]) -> Result<GossipMessage, RawGossipError> {
    let (Some(t), Some(body)) = (raw.get(..2), raw.get(2..)) else {
        return Err(RawGossipError::TooShort(raw.len()));
    };
    match u16::from_be_bytes([t[0], t[1]]) {
        CHANNEL_ANNOUNCEMENT => read(kind::CHANNEL, body).map(GossipMessage::ChannelAnnouncement),
        NODE_ANNOUNCEMENT => read(kind::NODE, body).map(GossipMessage::NodeAnnouncement),
        CHANNEL_UPDATE => read(kind::UPDATE, body).map(GossipMessage::ChannelUpdate),
        other => Err(RawGossipError::NotGossip(other)),
    }
}

/// The message kinds, as [`GossipMessage::kind`] names them.
mod kind {
    pub const CHANNEL: &str = "channel_announcement";
    pub const NODE: &str = "node_announcement";
    pub const UPDATE: &str = "channel_update";
}

/// The fields the store keeps of a `node_announcement`, derived as the recorder derives them.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFields {
    /// The alias up to its first NUL, invalid UTF-8 replaced.
    pub alias: String,
    /// `rrggbb`.
    pub color: String,
    /// Feature bits, big-endian as on the wire.
    pub features: Vec<u8>,
    /// `[{"type", "address", "port"}]`, as [`crate::gossip::addresses_json`] writes them.
    pub addresses: serde_json::Value,
}

impl NodeFields {
    /// The fields of `c` as the store keeps them.
    pub fn of(c: &UnsignedNodeAnnouncement) -> NodeFields {
        let alias: Vec<u8> = c.alias.0.iter().copied().take_while(|b| *b != 0).collect();
        let mut features = c.features.le_flags().to_vec();
        features.reverse();
        NodeFields {
            alias: String::from_utf8_lossy(&alias).into_owned(),
            color: format!("{:02x}{:02x}{:02x}", c.rgb[0], c.rgb[1], c.rgb[2]),
            features,
            addresses: crate::gossip::addresses_json(&c.addresses),
        }
    }
}

/// The `channel_updates` row the recorder stores for `msg`.
pub fn update_row(msg: &ChannelUpdate, peer: Option<NodeId>, received_at: i64) -> GossipUpdate {
    let c = &msg.contents;
    GossipUpdate {
        scid: Scid(c.short_channel_id),
        direction: c.channel_flags & 1,
        timestamp: c.timestamp,
        message_flags: c.message_flags,
        channel_flags: c.channel_flags,
        cltv_delta: c.cltv_expiry_delta,
        htlc_min_msat: c.htlc_minimum_msat,
        htlc_max_msat: c.htlc_maximum_msat,
        fee_base_msat: c.fee_base_msat,
        fee_ppm: c.fee_proportional_millionths,
        raw: wire_bytes(CHANNEL_UPDATE, msg),
        peer,
        received_at,
    }
}

/// The `node_announcements` row the recorder stores for `msg` (`None` only for a node id that
/// is not 33 bytes, which LDK's type rules out).
pub fn node_row(
    msg: &NodeAnnouncement,
    peer: Option<NodeId>,
    received_at: i64,
) -> Option<GossipNode> {
    let c = &msg.contents;
    let f = NodeFields::of(c);
    Some(GossipNode {
        node_id: ours(&c.node_id)?,
        timestamp: c.timestamp,
        alias: f.alias,
        color: f.color,
        addresses: f.addresses,
        features: f.features,
        raw: wire_bytes(NODE_ANNOUNCEMENT, msg),
        peer,
        received_at,
    })
}

/// A stored field that disagrees with the message its row holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The field's name.
    pub field: &'static str,
    /// What the row stores.
    pub stored: String,
    /// What the message says.
    pub decoded: String,
}

#[derive(Default)]
struct Diff(Vec<Mismatch>);

impl Diff {
    fn field<S: PartialEq<D> + std::fmt::Debug, D: std::fmt::Debug>(
        &mut self,
        field: &'static str,
        stored: S,
        decoded: D,
    ) -> &mut Self {
        if stored != decoded {
            self.0.push(Mismatch {
                field,
                stored: format!("{stored:?}"),
                decoded: format!("{decoded:?}"),
            });
        }
        self
    }
}

fn ours(id: &lightning::routing::gossip::NodeId) -> Option<NodeId> {
    <[u8; 33]>::try_from(id.as_slice())
        .ok()
        .map(NodeId::from_bytes_unchecked)
}

/// The stored fields of a channel against its announcement.
pub fn check_channel(row: &RawChannel, msg: &ChannelAnnouncement) -> Vec<Mismatch> {
    let c = &msg.contents;
    let mut d = Diff::default();
    d.field("scid", row.scid, Scid(c.short_channel_id))
        .field("node_1", Some(row.node_1), ours(&c.node_id_1))
        .field("node_2", Some(row.node_2), ours(&c.node_id_2));
    d.0
}

/// The stored fields of a `channel_updates` row against its message.
pub fn check_update(row: &RawUpdate, msg: &ChannelUpdate) -> Vec<Mismatch> {
    let c = &msg.contents;
    let mut d = Diff::default();
    d.field("scid", row.scid, Scid(c.short_channel_id))
        .field("direction", row.direction, i16::from(c.channel_flags & 1))
        .field("timestamp", row.timestamp, i64::from(c.timestamp))
        .field(
            "message_flags",
            row.message_flags,
            i16::from(c.message_flags),
        )
        .field(
            "channel_flags",
            row.channel_flags,
            i16::from(c.channel_flags),
        )
        .field("disabled", row.disabled, c.channel_flags & 2 != 0)
        .field("cltv_delta", row.cltv_delta, i32::from(c.cltv_expiry_delta))
        .field(
            "htlc_min_msat",
            row.htlc_min_msat as u64,
            c.htlc_minimum_msat,
        )
        .field(
            "htlc_max_msat",
            row.htlc_max_msat.map(|m| m as u64),
            Some(c.htlc_maximum_msat),
        )
        .field(
            "fee_base_msat",
            row.fee_base_msat,
            i64::from(c.fee_base_msat),
        )
        .field(
            "fee_ppm",
            row.fee_ppm,
            i64::from(c.fee_proportional_millionths),
        );
    d.0
}

/// The stored fields of a `node_announcements` row against its message.
pub fn check_node(row: &RawNode, msg: &NodeAnnouncement) -> Vec<Mismatch> {
    let c = &msg.contents;
    let f = NodeFields::of(c);
    let mut d = Diff::default();
    d.field("node_id", Some(row.node_id), ours(&c.node_id))
        .field("timestamp", row.timestamp, i64::from(c.timestamp))
        .field("alias", &row.alias, &f.alias)
        .field("color", &row.color, &f.color)
        .field("features", &row.features, &f.features)
        .field("addresses", &row.addresses, &f.addresses);
    d.0
}

/// Checks `sig` by `key` over the double SHA-256 of `signed`, the bytes after the signatures.
fn check_sig<C: Verification>(
    secp: &Secp256k1<C>,
    signed: &[u8],
    sig: &Signature,
    key: Option<PublicKey>,
) -> bool {
    let digest = Message::from_digest(sha256d::Hash::hash(signed).to_byte_array());
    key.is_some_and(|k| secp.verify_ecdsa(&digest, sig, &k).is_ok())
}

fn key(id: &lightning::routing::gossip::NodeId) -> Option<PublicKey> {
    id.as_pubkey().ok()
}

/// Verifies the signatures of `msg` over `raw`, the stored bytes it was decoded from (BOLT 7:
/// each signature covers the double SHA-256 of the message after the signatures). A
/// `channel_update` is signed by the node of its direction: give the channel's endpoints
/// (`None` when the store does not have the channel: not verifiable, `false`).
pub fn signatures_valid<C: Verification>(
    secp: &Secp256k1<C>,
    raw: &[u8],
    msg: &GossipMessage,
    channel_endpoints: Option<(NodeId, NodeId)>,
) -> bool {
    match msg {
        GossipMessage::ChannelAnnouncement(m) => {
            let signed = raw.get(2 + 4 * 64..).unwrap_or_default();
            let c = &m.contents;
            [
                (&m.node_signature_1, &c.node_id_1),
                (&m.node_signature_2, &c.node_id_2),
                (&m.bitcoin_signature_1, &c.bitcoin_key_1),
                (&m.bitcoin_signature_2, &c.bitcoin_key_2),
            ]
            .iter()
            .all(|(sig, id)| check_sig(secp, signed, sig, key(id)))
        }
        GossipMessage::NodeAnnouncement(m) => {
            let signed = raw.get(2 + 64..).unwrap_or_default();
            check_sig(secp, signed, &m.signature, key(&m.contents.node_id))
        }
        GossipMessage::ChannelUpdate(m) => {
            let signed = raw.get(2 + 64..).unwrap_or_default();
            let signer = channel_endpoints.map(|(a, b)| match m.contents.channel_flags & 1 {
                0 => a,
                _ => b,
            });
            let signer = signer.and_then(|n| PublicKey::from_slice(n.as_bytes()).ok());
            check_sig(secp, signed, &m.signature, signer)
        }
    }
}

/// What [`verify_store`] found for one message type.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindReport {
    /// Rows with raw bytes.
    pub rows: u64,
    /// Rows whose bytes decode, whose signatures verify and whose fields agree.
    pub ok: u64,
    /// Rows whose bytes do not decode.
    pub undecodable: u64,
    /// Rows whose signature does not verify.
    pub bad_signature: u64,
    /// Rows whose stored fields disagree with the decoded message.
    pub mismatched: u64,
    /// `channel_update`s whose channel is not in the store (no key to verify against).
    pub unverifiable: u64,
}

/// One row that failed a check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// `channel_announcement`, `channel_update` or `node_announcement`.
    pub kind: &'static str,
    /// The row's key: scid, `scid/direction/timestamp` or `node_id/timestamp`.
    pub row: String,
    /// What is wrong.
    pub problem: String,
}

/// The outcome of [`verify_store`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// The channel announcements checked.
    pub channel_announcements: KindReport,
    /// The channel updates checked.
    pub channel_updates: KindReport,
    /// The node announcements checked.
    pub node_announcements: KindReport,
    /// The first problems found (at most [`MAX_PROBLEMS`]); the counts are complete.
    pub problems: Vec<Problem>,
}

/// The most problems a report lists.
pub const MAX_PROBLEMS: usize = 100;

impl VerifyReport {
    /// Whether every stored message passed.
    pub fn all_ok(&self) -> bool {
        [
            &self.channel_announcements,
            &self.channel_updates,
            &self.node_announcements,
        ]
        .iter()
        .all(|k| k.ok == k.rows)
    }

    fn judge(
        &mut self,
        what: &'static str,
        row: impl FnOnce() -> String,
        outcome: Result<Vec<Mismatch>, Failure>,
    ) {
        let report = match what {
            kind::CHANNEL => &mut self.channel_announcements,
            kind::NODE => &mut self.node_announcements,
            _ => &mut self.channel_updates,
        };
        report.rows += 1;
        let problem = match outcome {
            Ok(m) if m.is_empty() => {
                report.ok += 1;
                return;
            }
            Ok(m) => {
                report.mismatched += 1;
                m.iter()
                    .map(|m| format!("{}: stored {}, message {}", m.field, m.stored, m.decoded))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            Err(Failure::Undecodable(e)) => {
                report.undecodable += 1;
                e.to_string()
            }
            Err(Failure::BadSignature) => {
                report.bad_signature += 1;
                "a signature does not verify".into()
            }
            Err(Failure::Unverifiable) => {
                report.unverifiable += 1;
                "the channel is not in the store: no key to verify the signature".into()
            }
        };
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                kind: what,
                row: row(),
                problem,
            });
        }
    }
}

enum Failure {
    Undecodable(RawGossipError),
    BadSignature,
    Unverifiable,
}

/// Decodes a row, checks its signatures and then its fields.
fn check_row<C: Verification, M>(
    secp: &Secp256k1<C>,
    raw: &[u8],
    endpoints: Option<(NodeId, NodeId)>,
    pick: impl FnOnce(&GossipMessage) -> Option<&M>,
    fields: impl FnOnce(&M) -> Vec<Mismatch>,
) -> Result<Vec<Mismatch>, Failure> {
    let msg = decode(raw).map_err(Failure::Undecodable)?;
    let Some(inner) = pick(&msg) else {
        let e = RawGossipError::Malformed {
            kind: msg.kind(),
            reason: "stored in the wrong table".into(),
        };
        return Err(Failure::Undecodable(e));
    };
    let is_update = matches!(msg, GossipMessage::ChannelUpdate(_));
    if is_update && endpoints.is_none() {
        return Err(Failure::Unverifiable);
    }
    if !signatures_valid(secp, raw, &msg, endpoints) {
        return Err(Failure::BadSignature);
    }
    Ok(fields(inner))
}

/// Re-checks every stored gossip message that kept its bytes: decodes it, verifies its
/// signatures over the stored bytes and compares the row's fields with the message. Reads
/// `page` rows per query.
pub async fn verify_store(store: &Store, page: i64) -> Result<VerifyReport, NodeError> {
    let secp = Secp256k1::verification_only();
    let mut report = VerifyReport::default();
    let pool = store.pool();
    let mut after = None;
    loop {
        let rows = raw_gossip::channels(pool, after, page).await?;
        for r in &rows {
            let outcome = check_row(&secp, &r.raw, None, channel_of, |m| check_channel(r, m));
            report.judge(kind::CHANNEL, || r.scid.to_string(), outcome);
        }
        match rows.last() {
            Some(r) => after = Some(r.scid),
            None => break,
        }
    }
    let mut after = None;
    loop {
        let rows = raw_gossip::updates(pool, after, page).await?;
        for r in &rows {
            let outcome = check_row(&secp, &r.raw, r.endpoints, update_of, |m| {
                check_update(r, m)
            });
            let key = || format!("{}/{}/{}", r.scid, r.direction, r.timestamp);
            report.judge(kind::UPDATE, key, outcome);
        }
        match rows.last() {
            Some(r) => after = Some((r.scid, r.direction, r.timestamp)),
            None => break,
        }
    }
    let mut after = None;
    loop {
        let rows = raw_gossip::nodes(pool, after, page).await?;
        for r in &rows {
            let outcome = check_row(&secp, &r.raw, None, node_of, |m| check_node(r, m));
            let key = || format!("{}/{}", r.node_id, r.timestamp);
            report.judge(kind::NODE, key, outcome);
        }
        match rows.last() {
            Some(r) => after = Some((r.node_id, r.timestamp)),
            None => break,
        }
    }
    Ok(report)
}

fn channel_of(m: &GossipMessage) -> Option<&ChannelAnnouncement> {
    match m {
        GossipMessage::ChannelAnnouncement(c) => Some(c),
        _ => None,
    }
}

fn update_of(m: &GossipMessage) -> Option<&ChannelUpdate> {
    match m {
        GossipMessage::ChannelUpdate(u) => Some(u),
        _ => None,
    }
}

fn node_of(m: &GossipMessage) -> Option<&NodeAnnouncement> {
    match m {
        GossipMessage::NodeAnnouncement(n) => Some(n),
        _ => None,
    }
}
