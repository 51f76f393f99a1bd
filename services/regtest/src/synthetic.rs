//! A synthetic, correctly signed gossip network of any size (no chain needed): for the
//! gossip-ingest benchmark and for load tests. Same seed, same network.

use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use lightning::ln::msgs::{
    ChannelAnnouncement, ChannelUpdate, NodeAnnouncement, UnsignedChannelAnnouncement,
    UnsignedChannelUpdate, UnsignedNodeAnnouncement,
};
use lightning::routing::gossip::{NodeAlias, NodeId};
use lightning::types::features::{ChannelFeatures, NodeFeatures};

use crate::gossip::{gossip_message_hash, regtest_chain_hash, scid};

/// Announcements, both updates of each channel, and every node's announcement.
pub struct SyntheticNetwork {
    /// Node secrets, index = node number.
    pub node_keys: Vec<SecretKey>,
    /// `(announcement, update from node_1, update from node_2)`.
    pub channels: Vec<(ChannelAnnouncement, ChannelUpdate, ChannelUpdate)>,
    /// One per node, after its channels.
    pub nodes: Vec<NodeAnnouncement>,
}

impl SyntheticNetwork {
    /// Every signature in the network with the key and message it must verify against:
    /// the work a gossip handler cannot avoid.
    pub fn signatures(
        &self,
    ) -> Vec<(
        bitcoin::secp256k1::Message,
        bitcoin::secp256k1::ecdsa::Signature,
        PublicKey,
    )> {
        let mut out = Vec::with_capacity(self.channels.len() * 6 + self.nodes.len());
        let pk = |id: &NodeId| id.as_pubkey().expect("valid synthetic key");
        for (a, u1, u2) in &self.channels {
            let m = gossip_message_hash(&a.contents);
            out.push((m, a.node_signature_1, pk(&a.contents.node_id_1)));
            out.push((m, a.node_signature_2, pk(&a.contents.node_id_2)));
            out.push((m, a.bitcoin_signature_1, pk(&a.contents.bitcoin_key_1)));
            out.push((m, a.bitcoin_signature_2, pk(&a.contents.bitcoin_key_2)));
            out.push((
                gossip_message_hash(&u1.contents),
                u1.signature,
                pk(&a.contents.node_id_1),
            ));
            out.push((
                gossip_message_hash(&u2.contents),
                u2.signature,
                pk(&a.contents.node_id_2),
            ));
        }
        for n in &self.nodes {
            out.push((
                gossip_message_hash(&n.contents),
                n.signature,
                pk(&n.contents.node_id),
            ));
        }
        out
    }

    /// Messages in the network.
    pub fn message_count(&self) -> usize {
        self.channels.len() * 3 + self.nodes.len()
    }
}

/// xorshift64*: deterministic from its seed (not 0), good enough for synthetic data (channel
/// endpoints here, gossip history in the time-travel bench). Not for anything secret.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`0` for `n == 0`; slightly biased, fine for test data).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

fn key(seed: u64, i: u64, kind: u8) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = 1;
    b[1] = kind;
    b[8..16].copy_from_slice(&seed.to_be_bytes());
    b[16..24].copy_from_slice(&i.to_be_bytes());
    SecretKey::from_slice(&b).expect("in range")
}

/// `channels` channels between `nodes` nodes (preferential-ish attachment: low node numbers
/// get more channels, like the real network), all timestamps `timestamp`.
pub fn network(nodes: usize, channels: usize, seed: u64, timestamp: u32) -> SyntheticNetwork {
    assert!(nodes >= 2, "a network needs two nodes");
    let secp: Secp256k1<All> = Secp256k1::new();
    let node_keys: Vec<SecretKey> = (0..nodes as u64).map(|i| key(seed, i, 1)).collect();
    let btc_keys: Vec<SecretKey> = (0..nodes as u64).map(|i| key(seed, i, 2)).collect();
    let node_pks: Vec<PublicKey> = node_keys.iter().map(|k| k.public_key(&secp)).collect();
    let btc_pks: Vec<PublicKey> = btc_keys.iter().map(|k| k.public_key(&secp)).collect();
    let mut rng = Rng(seed | 1);
    let pick = |rng: &mut Rng| {
        // Square of a uniform: skewed toward small indices.
        let u = (rng.next_u64() % 1_000_000) as f64 / 1_000_000.0;
        ((u * u) * nodes as f64) as usize % nodes
    };
    let sign = |m: &UnsignedChannelAnnouncement, k: &SecretKey| {
        secp.sign_ecdsa(&gossip_message_hash(m), k)
    };
    let mut out = Vec::with_capacity(channels);
    for c in 0..channels {
        // Every node gets a channel (its announcement needs one), then skewed picks.
        let a = if c < nodes { c } else { pick(&mut rng) };
        let mut b = rng.next_u64() as usize % nodes;
        if b == a {
            b = (a + 1) % nodes;
        }
        let (n1, n2) = if node_pks[a].serialize() < node_pks[b].serialize() {
            (a, b)
        } else {
            (b, a)
        };
        let short_channel_id = scid(500_000 + (c / 1000) as u32, (c % 1000) as u32, 0);
        let contents = UnsignedChannelAnnouncement {
            features: ChannelFeatures::empty(),
            chain_hash: regtest_chain_hash(),
            short_channel_id,
            node_id_1: NodeId::from_pubkey(&node_pks[n1]),
            node_id_2: NodeId::from_pubkey(&node_pks[n2]),
            bitcoin_key_1: NodeId::from_pubkey(&btc_pks[n1]),
            bitcoin_key_2: NodeId::from_pubkey(&btc_pks[n2]),
            excess_data: Vec::new(),
        };
        let ann = ChannelAnnouncement {
            node_signature_1: sign(&contents, &node_keys[n1]),
            node_signature_2: sign(&contents, &node_keys[n2]),
            bitcoin_signature_1: sign(&contents, &btc_keys[n1]),
            bitcoin_signature_2: sign(&contents, &btc_keys[n2]),
            contents,
        };
        let capacity_msat = (100_000 + rng.next_u64() % 10_000_000) * 1000;
        let update = |dir: u8, k: &SecretKey, fee: u32| {
            let contents = UnsignedChannelUpdate {
                chain_hash: regtest_chain_hash(),
                short_channel_id,
                timestamp,
                message_flags: 1,
                channel_flags: dir,
                cltv_expiry_delta: 40,
                htlc_minimum_msat: 1_000,
                htlc_maximum_msat: capacity_msat,
                fee_base_msat: 1_000,
                fee_proportional_millionths: fee,
                excess_data: Vec::new(),
            };
            ChannelUpdate {
                signature: secp.sign_ecdsa(&gossip_message_hash(&contents), k),
                contents,
            }
        };
        let u1 = update(0, &node_keys[n1], (rng.next_u64() % 2000) as u32);
        let u2 = update(1, &node_keys[n2], (rng.next_u64() % 2000) as u32);
        out.push((ann, u1, u2));
    }
    let nodes_ann = (0..nodes)
        .map(|i| {
            let mut alias = [0u8; 32];
            let name = format!("synthetic-{i}");
            alias[..name.len()].copy_from_slice(name.as_bytes());
            let contents = UnsignedNodeAnnouncement {
                features: NodeFeatures::empty(),
                timestamp,
                node_id: NodeId::from_pubkey(&node_pks[i]),
                rgb: [(i % 256) as u8, 0x80, 0x40],
                alias: NodeAlias(alias),
                addresses: Vec::new(),
                excess_address_data: Vec::new(),
                excess_data: Vec::new(),
            };
            NodeAnnouncement {
                signature: secp.sign_ecdsa(&gossip_message_hash(&contents), &node_keys[i]),
                contents,
            }
        })
        .collect();
    SyntheticNetwork {
        node_keys,
        channels: out,
        nodes: nodes_ann,
    }
}
