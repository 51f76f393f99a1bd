//! A gossip peer serving a synthetic network, for tests that run `switchyard` against one.

#![allow(dead_code)] // each user takes what it needs

use std::collections::HashMap;

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use lightning::ln::msgs::UnsignedChannelUpdate;
use switchyard_regtest::synthetic::SyntheticNetwork;
use switchyard_regtest::GossipPeer;

/// A peer (node key `secret`) that answers a gossip sync with every channel and node of
/// `net`.
pub async fn serving(secret: [u8; 32], net: &SyntheticNetwork) -> GossipPeer {
    let peer = GossipPeer::start(secret)
        .await
        .expect("start the gossip peer");
    for (a, u1, u2) in &net.channels {
        peer.gossip
            .add_channel(a.clone(), Some(u1.clone()), Some(u2.clone()));
    }
    for n in &net.nodes {
        peer.gossip.add_node(n.clone());
    }
    peer
}

/// Each channel's update from its `node_1` with that node's signing key: what a test re-signs
/// with a new fee and timestamp to send as fresh gossip.
pub fn node_1_updates(net: &SyntheticNetwork) -> Vec<(UnsignedChannelUpdate, SecretKey)> {
    let secp = Secp256k1::signing_only();
    let keys: HashMap<_, _> = net
        .node_keys
        .iter()
        .map(|k| (k.public_key(&secp), *k))
        .collect();
    net.channels
        .iter()
        .filter_map(|(a, u1, _)| {
            let key = *keys.get(&a.contents.node_id_1.as_pubkey().ok()?)?;
            Some((u1.contents.clone(), key))
        })
        .collect()
}
