//! Hand-built LDK graphs and first hops for the router's tests.
//!
//! Shared by the unit tests in this crate and by `tests/router_vs_ldk.rs` (which includes this
//! file by path), so it names only external crates. Test code: not part of the node.

use lightning::bitcoin::constants::ChainHash;
use lightning::bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lightning::bitcoin::Network;
use lightning::ln::channel_state::{ChannelCounterparty, ChannelDetails};
use lightning::ln::msgs::UnsignedChannelUpdate;
use lightning::ln::types::ChannelId;
use lightning::routing::gossip::{NetworkGraph, NodeId as LdkNodeId};
use lightning::types::features::{ChannelFeatures, InitFeatures};
use lightning::util::logger::Logger;

/// The public key of test node `i` (secret key `[i; 32]`).
pub fn pk(i: u8) -> PublicKey {
    let sk = SecretKey::from_slice(&[i; 32]).expect("valid secret key");
    PublicKey::from_secret_key(&Secp256k1::new(), &sk)
}

/// Adds channel `scid` between `a` and `b` to `g`, announced a minute ago, with the policy
/// `(base_msat, ppm, cltv)` in both directions and `htlc_maximum` = capacity.
pub fn add_channel<L: std::ops::Deref>(
    g: &NetworkGraph<L>,
    scid: u64,
    a: &PublicKey,
    b: &PublicKey,
    cap_sat: u64,
    fee: (u32, u32, u16),
) where
    L::Target: Logger,
{
    let (x, y) = (LdkNodeId::from_pubkey(a), LdkNodeId::from_pubkey(b));
    let (n1, n2) = if x < y { (x, y) } else { (y, x) };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    g.add_channel_from_partial_announcement(
        scid,
        Some(cap_sat),
        now - 60,
        ChannelFeatures::empty(),
        n1,
        n2,
    )
    .expect("channel added");
    for dir in 0..2u8 {
        g.update_channel_unsigned(&UnsignedChannelUpdate {
            chain_hash: ChainHash::using_genesis_block(Network::Bitcoin),
            short_channel_id: scid,
            timestamp: (now - 60) as u32,
            message_flags: 1,
            channel_flags: dir,
            cltv_expiry_delta: fee.2,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: cap_sat * 1000,
            fee_base_msat: fee.0,
            fee_proportional_millionths: fee.1,
            excess_data: Vec::new(),
        })
        .expect("update applied");
    }
}

/// How a first hop is known to the router.
pub struct FirstHop {
    /// The channel id is this byte 32 times.
    pub id: u8,
    /// The peer at the other end.
    pub peer: PublicKey,
    /// The public short channel id, if the channel is announced.
    pub scid: Option<u64>,
    /// The outbound alias, for a private channel.
    pub alias: Option<u64>,
    /// What the next HTLC may carry (and the outbound capacity).
    pub limit_msat: u64,
    /// The smallest HTLC the peer accepts.
    pub min_msat: u64,
    /// The channel's value.
    pub value_sat: u64,
}

/// The channel manager's view of an outbound, ready, usable channel.
pub fn first_hop(h: FirstHop) -> ChannelDetails {
    ChannelDetails {
        channel_id: ChannelId([h.id; 32]),
        counterparty: ChannelCounterparty {
            node_id: h.peer,
            features: InitFeatures::empty(),
            unspendable_punishment_reserve: 0,
            forwarding_info: None,
            outbound_htlc_minimum_msat: None,
            outbound_htlc_maximum_msat: None,
        },
        funding_txo: None,
        channel_type: None,
        short_channel_id: h.scid,
        outbound_scid_alias: h.alias,
        inbound_scid_alias: None,
        channel_value_satoshis: h.value_sat,
        unspendable_punishment_reserve: None,
        user_channel_id: 0,
        outbound_capacity_msat: h.limit_msat,
        next_outbound_htlc_limit_msat: h.limit_msat,
        next_outbound_htlc_minimum_msat: h.min_msat,
        inbound_capacity_msat: 0,
        confirmations_required: None,
        confirmations: None,
        force_close_spend_delay: None,
        is_outbound: true,
        is_channel_ready: true,
        channel_shutdown_state: None,
        is_usable: true,
        is_announced: h.scid.is_some(),
        inbound_htlc_minimum_msat: None,
        inbound_htlc_maximum_msat: None,
        config: None,
        pending_inbound_htlcs: Vec::new(),
        pending_outbound_htlcs: Vec::new(),
        funding_redeem_script: None,
        feerate_sat_per_1000_weight: None,
    }
}
