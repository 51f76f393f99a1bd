//! Signing BOLT 7 gossip with keys the test holds, independent of any chain: the building
//! blocks of [`crate::ChannelFixture`], also usable on their own (e.g. for a synthetic
//! network in a benchmark).
//!
//! Every signature is over the double-SHA256 of the serialized unsigned message
//! ([`Writeable::encode`]), as BOLT 7 requires and LDK verifies.

use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::constants::ChainHash;
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey, Signing};
use bitcoin::Network;
use lightning::ln::msgs::{
    ChannelAnnouncement, ChannelUpdate, NodeAnnouncement, SocketAddress,
    UnsignedChannelAnnouncement, UnsignedChannelUpdate, UnsignedNodeAnnouncement,
};
use lightning::routing::gossip::{NodeAlias, NodeId};
use lightning::types::features::NodeFeatures;
use lightning::util::ser::Writeable;

/// The regtest chain hash that goes into every message.
pub fn regtest_chain_hash() -> ChainHash {
    ChainHash::using_genesis_block(Network::Regtest)
}

/// Seconds since the Unix epoch, as gossip timestamps want it. LDK rejects channel updates
/// more than two weeks old or a day in the future, so tests should start from this.
pub fn now_timestamp() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// Packs a `short_channel_id` (BOLT 7): 3 bytes block height, 3 bytes transaction index,
/// 2 bytes output index. Height and index are truncated to 24 bits.
pub fn scid(block_height: u32, tx_index: u32, output_index: u16) -> u64 {
    (u64::from(block_height & 0xff_ffff) << 40)
        | (u64::from(tx_index & 0xff_ffff) << 16)
        | u64::from(output_index)
}

/// Splits a `short_channel_id` into (block height, transaction index, output index).
pub fn scid_parts(short_channel_id: u64) -> (u32, u32, u16) {
    (
        (short_channel_id >> 40) as u32 & 0xff_ffff,
        (short_channel_id >> 16) as u32 & 0xff_ffff,
        short_channel_id as u16,
    )
}

/// The message BOLT 7 signatures commit to: double-SHA256 of the serialized unsigned part.
pub fn gossip_message_hash<M: Writeable>(unsigned: &M) -> Message {
    let hash = sha256d::Hash::hash(&unsigned.encode());
    Message::from_digest(hash.to_byte_array())
}

fn sign<C: Signing, M: Writeable>(secp: &Secp256k1<C>, unsigned: &M, key: &SecretKey) -> Signature {
    secp.sign_ecdsa(&gossip_message_hash(unsigned), key)
}

/// The four secret keys behind a `channel_announcement`, already in node_1/node_2 order
/// (`node_1` has the lexicographically smaller public key).
#[derive(Clone, Copy, Debug)]
pub struct AnnouncementKeys<'a> {
    /// Secret of `node_id_1`.
    pub node_1: &'a SecretKey,
    /// Secret of `node_id_2`.
    pub node_2: &'a SecretKey,
    /// Secret of `bitcoin_key_1` (node 1's funding key).
    pub bitcoin_1: &'a SecretKey,
    /// Secret of `bitcoin_key_2` (node 2's funding key).
    pub bitcoin_2: &'a SecretKey,
}

/// Signs `contents` with all four keys. The caller is responsible for `contents` naming
/// the public keys of those secrets in the right order.
pub fn sign_channel_announcement(
    contents: UnsignedChannelAnnouncement,
    keys: AnnouncementKeys<'_>,
) -> ChannelAnnouncement {
    let secp = Secp256k1::signing_only();
    ChannelAnnouncement {
        node_signature_1: sign(&secp, &contents, keys.node_1),
        node_signature_2: sign(&secp, &contents, keys.node_2),
        bitcoin_signature_1: sign(&secp, &contents, keys.bitcoin_1),
        bitcoin_signature_2: sign(&secp, &contents, keys.bitcoin_2),
        contents,
    }
}

/// Signs a `channel_update` with the key of the node it originates from (node_1 if
/// `channel_flags & 1 == 0`, else node_2).
pub fn sign_channel_update(contents: UnsignedChannelUpdate, node: &SecretKey) -> ChannelUpdate {
    let secp = Secp256k1::signing_only();
    ChannelUpdate {
        signature: sign(&secp, &contents, node),
        contents,
    }
}

/// Signs a `node_announcement` with the announced node's key.
pub fn sign_node_announcement(
    contents: UnsignedNodeAnnouncement,
    node: &SecretKey,
) -> NodeAnnouncement {
    let secp = Secp256k1::signing_only();
    NodeAnnouncement {
        signature: sign(&secp, &contents, node),
        contents,
    }
}

/// A `node_announcement` for `node` with empty features. `alias` is truncated to 32 bytes
/// and zero-padded; `timestamp` must grow for each newer announcement of the node.
pub fn node_announcement(
    node: &SecretKey,
    alias: &str,
    rgb: [u8; 3],
    addresses: Vec<SocketAddress>,
    timestamp: u32,
) -> NodeAnnouncement {
    let secp = Secp256k1::signing_only();
    let mut alias_bytes = [0u8; 32];
    let len = alias.len().min(32);
    alias_bytes[..len].copy_from_slice(&alias.as_bytes()[..len]);
    let contents = UnsignedNodeAnnouncement {
        features: NodeFeatures::empty(),
        timestamp,
        node_id: NodeId::from_pubkey(&node.public_key(&secp)),
        rgb,
        alias: NodeAlias(alias_bytes),
        addresses,
        excess_address_data: Vec::new(),
        excess_data: Vec::new(),
    };
    sign_node_announcement(contents, node)
}

/// One direction's routing policy, the variable part of a `channel_update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Base fee per forwarded HTLC.
    pub fee_base_msat: u32,
    /// Proportional fee in millionths of the amount.
    pub fee_ppm: u32,
    /// `cltv_expiry_delta` in blocks.
    pub cltv_expiry_delta: u16,
    /// Smallest HTLC forwarded.
    pub htlc_minimum_msat: u64,
    /// Largest HTLC forwarded; LDK rejects updates where this exceeds the capacity.
    pub htlc_maximum_msat: u64,
    /// Sets the `disable` bit (`channel_flags` bit 1).
    pub disabled: bool,
}

impl Policy {
    /// A typical enabled policy for a channel of `capacity_sat`: 1000 msat + 1 ppm,
    /// CLTV delta 40, HTLCs from 1 msat up to the full capacity.
    pub fn default_for_capacity(capacity_sat: u64) -> Policy {
        Policy {
            fee_base_msat: 1_000,
            fee_ppm: 1,
            cltv_expiry_delta: 40,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: capacity_sat.saturating_mul(1_000),
            disabled: false,
        }
    }

    /// The unsigned `channel_update` for `short_channel_id` in the direction whose BOLT 7
    /// direction bit is `direction_bit` (0: from node_1, 1: from node_2).
    pub fn to_unsigned_update(
        &self,
        short_channel_id: u64,
        direction_bit: u8,
        timestamp: u32,
    ) -> UnsignedChannelUpdate {
        UnsignedChannelUpdate {
            chain_hash: regtest_chain_hash(),
            short_channel_id,
            timestamp,
            // Bit 0 (`must_be_one`): htlc_maximum_msat is present, as BOLT 7 now requires.
            message_flags: 1,
            channel_flags: (direction_bit & 1) | if self.disabled { 2 } else { 0 },
            cltv_expiry_delta: self.cltv_expiry_delta,
            htlc_minimum_msat: self.htlc_minimum_msat,
            htlc_maximum_msat: self.htlc_maximum_msat,
            fee_base_msat: self.fee_base_msat,
            fee_proportional_millionths: self.fee_ppm,
            excess_data: Vec::new(),
        }
    }
}

/// Returns `signature` with one bit of its compact encoding flipped (or, if that no longer
/// parses as a signature, a signature over a different message): a well-formed signature
/// that does not verify.
pub fn corrupt_signature(signature: &Signature, key: &SecretKey) -> Signature {
    let mut bytes = signature.serialize_compact();
    bytes[40] ^= 0x01;
    match Signature::from_compact(&bytes) {
        Ok(sig) if sig != *signature => sig,
        _ => Secp256k1::signing_only().sign_ecdsa(&Message::from_digest([0x42; 32]), key),
    }
}

/// One channel's gossip, signed: its announcement, an update of each direction and both
/// ends' node announcements (every address kind). Everything derives from `seed` and
/// `timestamp`, and signatures are deterministic (RFC 6979), so the bytes are the same on
/// every run: usable as committed fuzz seeds and in store round-trip tests.
#[derive(Clone, Debug)]
pub struct SignedGossip {
    /// The `channel_announcement`, signed by all four keys.
    pub announcement: ChannelAnnouncement,
    /// Direction 0 (from `node_id_1`), then direction 1.
    pub updates: [ChannelUpdate; 2],
    /// `node_id_1`'s, then `node_id_2`'s.
    pub nodes: [NodeAnnouncement; 2],
}

impl SignedGossip {
    /// The gossip of channel `short_channel_id`, every message at `timestamp`; `seed` below 63
    /// picks the four keys.
    pub fn new(seed: u8, short_channel_id: u64, timestamp: u32) -> SignedGossip {
        let secp = Secp256k1::signing_only();
        // Keys [4s+1; 32] .. [4s+4; 32]: valid secp256k1 secrets for every seed below 63.
        let key = |i: u8| {
            SecretKey::from_slice(&[seed.wrapping_mul(4).wrapping_add(i + 1); 32])
                .unwrap_or_else(|e| panic!("seed {seed} gives no valid key: {e}"))
        };
        let keys: Vec<SecretKey> = (0..4).map(key).collect();
        let id = |k: &SecretKey| NodeId::from_pubkey(&k.public_key(&secp));
        let (mut n1, mut n2) = (keys[0], keys[1]);
        if id(&n1) > id(&n2) {
            std::mem::swap(&mut n1, &mut n2);
        }
        let contents = UnsignedChannelAnnouncement {
            features: lightning::types::features::ChannelFeatures::empty(),
            chain_hash: regtest_chain_hash(),
            short_channel_id,
            node_id_1: id(&n1),
            node_id_2: id(&n2),
            bitcoin_key_1: id(&keys[2]),
            bitcoin_key_2: id(&keys[3]),
            excess_data: Vec::new(),
        };
        let announcement = sign_channel_announcement(
            contents,
            AnnouncementKeys {
                node_1: &n1,
                node_2: &n2,
                bitcoin_1: &keys[2],
                bitcoin_2: &keys[3],
            },
        );
        let policy = Policy::default_for_capacity(1_000_000);
        let disabled = Policy {
            disabled: true,
            fee_ppm: 4_000_000_000,
            htlc_maximum_msat: u64::MAX,
            ..policy
        };
        let updates = [
            sign_channel_update(
                policy.to_unsigned_update(short_channel_id, 0, timestamp),
                &n1,
            ),
            sign_channel_update(
                disabled.to_unsigned_update(short_channel_id, 1, timestamp),
                &n2,
            ),
        ];
        let addresses = vec![
            SocketAddress::TcpIpV4 {
                addr: [203, 0, 113, seed],
                port: 9735,
            },
            SocketAddress::TcpIpV6 {
                addr: [
                    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, seed,
                ],
                port: 9736,
            },
            SocketAddress::OnionV3 {
                ed25519_pubkey: [seed; 32],
                checksum: 0x1234,
                version: 3,
                port: 9737,
            },
        ];
        let nodes = [
            node_announcement(&n1, "switchyard-1", [1, 2, 3], addresses, timestamp),
            node_announcement(
                &n2,
                "\u{e9}l\u{e9}phant",
                [0xff, 0, 0x80],
                Vec::new(),
                timestamp,
            ),
        ];
        SignedGossip {
            announcement,
            updates,
            nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scid_round_trips_and_matches_ldk() {
        let id = scid(700_123, 1_234, 3);
        assert_eq!(scid_parts(id), (700_123, 1_234, 3));
        assert_eq!(
            lightning::util::scid_utils::scid_from_parts(700_123, 1_234, 3).unwrap(),
            id
        );
    }

    #[test]
    fn node_announcement_verifies_with_ldk() {
        let key = SecretKey::from_slice(&[7; 32]).unwrap();
        let ann = node_announcement(&key, "alias", [1, 2, 3], Vec::new(), 1);
        let secp = Secp256k1::verification_only();
        lightning::routing::gossip::verify_node_announcement(&ann, &secp).unwrap();
        assert_eq!(&ann.contents.alias.0[..5], b"alias");

        let mut bad = ann.clone();
        bad.signature = corrupt_signature(&bad.signature, &key);
        assert!(lightning::routing::gossip::verify_node_announcement(&bad, &secp).is_err());
    }
}
