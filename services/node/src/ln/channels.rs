//! Our own channels as the operator sees them: [`OwnChannel`] (balances, HTLCs in flight,
//! policy, state), channel references as typed by people ([`ChannelRef`]: a channel id or a
//! short channel id), lookups, and the per-channel gauges.

use std::str::FromStr;

use lightning::ln::channel_state::ChannelDetails;
use lightning::ln::types::ChannelId;
use serde::Serialize;

use super::Lightning;
use crate::error::NodeError;

/// A channel as `GET /v1/channels/own` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OwnChannel {
    /// LDK's channel id (hex, 64 digits).
    pub channel_id: String,
    /// `BLOCKxTXxOUT`; `None` until the funding confirms.
    pub short_channel_id: Option<String>,
    /// The peer's node id (hex).
    pub counterparty: String,
    /// The funding outpoint (`txid:vout`), once known.
    pub funding_txo: Option<String>,
    /// Funding amount (sat).
    pub capacity_sat: u64,
    /// Our balance (msat), our channel reserve included.
    pub local_balance_msat: u64,
    /// The peer's balance (msat), HTLCs in flight excluded.
    pub remote_balance_msat: u64,
    /// What we can send now (msat).
    pub outbound_capacity_msat: u64,
    /// What we can receive now (msat).
    pub inbound_capacity_msat: u64,
    /// What we must keep on our side (the counterparty's reserve requirement for us).
    pub reserve_sat: Option<u64>,
    /// HTLCs offered to us and not yet resolved.
    pub pending_htlcs_in: usize,
    /// HTLCs we offered and not yet resolved.
    pub pending_htlcs_out: usize,
    /// Amount (msat) of the HTLCs in flight, both ways.
    pub in_flight_msat: u64,
    /// Whether we opened the channel.
    pub is_outbound: bool,
    /// Whether the channel is announced to the network.
    pub is_announced: bool,
    /// Whether both sides consider the funding locked.
    pub is_ready: bool,
    /// Whether it is ready and the peer is connected (payments can use it).
    pub is_usable: bool,
    /// Confirmations of the funding transaction, when known.
    pub confirmations: Option<u32>,
    /// Confirmations needed before it is ready, when known.
    pub confirmations_required: Option<u32>,
    /// Our forwarding policy on it; `None` when LDK has no config for it yet.
    pub policy: Option<ChannelPolicyView>,
    /// `pending`, `active`, `inactive` (ready, peer offline) or `closing`.
    pub state: &'static str,
}

#[derive(Debug, Clone, Serialize)]
/// Our forwarding policy on one channel.
pub struct ChannelPolicyView {
    /// Fixed fee (msat) per forwarded HTLC.
    pub base_fee_msat: u32,
    /// Proportional fee (ppm).
    pub fee_ppm: u32,
    /// Cltv delta (blocks) we add when forwarding.
    pub cltv_expiry_delta: u16,
    /// Smallest HTLC (msat) we accept on it, when known.
    pub htlc_minimum_msat: Option<u64>,
    /// Largest HTLC (msat) we accept on it, when known.
    pub htlc_maximum_msat: Option<u64>,
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn own_channel(c: &ChannelDetails) -> OwnChannel {
    let in_flight_out: u64 = c.pending_outbound_htlcs.iter().map(|h| h.amount_msat).sum();
    let in_flight_in: u64 = c.pending_inbound_htlcs.iter().map(|h| h.amount_msat).sum();
    let reserve = c.unspendable_punishment_reserve;
    let local = c.outbound_capacity_msat + reserve.unwrap_or(0) * 1000;
    let value_msat = c.channel_value_satoshis * 1000;
    let state = if c
        .channel_shutdown_state
        .is_some_and(|s| s != lightning::ln::channel_state::ChannelShutdownState::NotShuttingDown)
    {
        "closing"
    } else if c.is_usable {
        "active"
    } else if c.is_channel_ready {
        "inactive"
    } else {
        "pending"
    };
    OwnChannel {
        channel_id: hex(&c.channel_id.0),
        short_channel_id: c
            .short_channel_id
            .map(|s| switchyard_graph::Scid::from_i64(s as i64).to_string()),
        counterparty: c.counterparty.node_id.to_string(),
        funding_txo: c.funding_txo.map(|o| o.to_string()),
        capacity_sat: c.channel_value_satoshis,
        local_balance_msat: local.min(value_msat),
        remote_balance_msat: value_msat
            .saturating_sub(local)
            .saturating_sub(in_flight_in + in_flight_out),
        outbound_capacity_msat: c.outbound_capacity_msat,
        inbound_capacity_msat: c.inbound_capacity_msat,
        reserve_sat: reserve,
        pending_htlcs_in: c.pending_inbound_htlcs.len(),
        pending_htlcs_out: c.pending_outbound_htlcs.len(),
        in_flight_msat: in_flight_in + in_flight_out,
        is_outbound: c.is_outbound,
        is_announced: c.is_announced,
        is_ready: c.is_channel_ready,
        is_usable: c.is_usable,
        confirmations: c.confirmations,
        confirmations_required: c.confirmations_required,
        policy: c.config.map(|cfg| ChannelPolicyView {
            base_fee_msat: cfg.forwarding_fee_base_msat,
            fee_ppm: cfg.forwarding_fee_proportional_millionths,
            cltv_expiry_delta: cfg.cltv_expiry_delta,
            htlc_minimum_msat: c.inbound_htlc_minimum_msat,
            htlc_maximum_msat: c.inbound_htlc_maximum_msat,
        }),
        state,
    }
}

/// Parses a channel id (64 hex digits) or a short channel id (`BLOCKxTXxOUT`).
pub fn parse_channel_ref(s: &str) -> Result<ChannelRef, NodeError> {
    let s = s.trim();
    if s.len() == 64 {
        let mut id = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let byte = std::str::from_utf8(chunk)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| NodeError::Rejected(format!("channel id {s:?} is not hex")))?;
            id[i] = byte;
        }
        return Ok(ChannelRef::Id(ChannelId(id)));
    }
    let parts: Vec<&str> = s.split('x').collect();
    if let [b, t, o] = parts[..] {
        if let (Ok(b), Ok(t), Ok(o)) = (b.parse::<u64>(), t.parse::<u64>(), o.parse::<u64>()) {
            if b < 1 << 24 && t < 1 << 24 && o < 1 << 16 {
                return Ok(ChannelRef::Scid(b << 40 | t << 16 | o));
            }
        }
    }
    Err(NodeError::Rejected(format!(
        "{s:?} is neither a channel id (64 hex digits) nor a short channel id (BLOCKxTXxOUT)"
    )))
}

/// One of our channels, as a person names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelRef {
    /// The 32-byte channel id.
    Id(ChannelId),
    /// The short channel id (or our outbound alias of it).
    Scid(u64),
}

impl FromStr for ChannelRef {
    type Err = NodeError;

    /// As [`parse_channel_ref`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_channel_ref(s)
    }
}

impl Lightning {
    /// Whether an announced channel of ours is usable (LDK then lets us announce the node).
    pub fn has_public_channel(&self) -> bool {
        self.manager
            .list_channels()
            .iter()
            .any(|c| c.is_announced && c.is_usable)
    }

    fn channel(&self, id: &ChannelId) -> Option<ChannelDetails> {
        self.manager
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id == *id)
    }

    pub(super) fn scid_of(&self, id: &ChannelId) -> Option<i64> {
        self.channel(id)
            .and_then(|c| c.short_channel_id)
            .map(|s| s as i64)
    }

    pub(super) fn peer_of(&self, id: &ChannelId) -> Option<[u8; 33]> {
        self.channel(id).map(|c| c.counterparty.node_id.serialize())
    }

    /// The channel `r` names, or `NotFound`.
    pub fn find_channel(&self, r: ChannelRef) -> Result<ChannelDetails, NodeError> {
        self.manager
            .list_channels()
            .into_iter()
            .find(|c| match r {
                ChannelRef::Id(id) => c.channel_id == id,
                ChannelRef::Scid(s) => {
                    c.short_channel_id == Some(s) || c.outbound_scid_alias == Some(s)
                }
            })
            .ok_or_else(|| NodeError::NotFound("no such channel of ours".into()))
    }

    /// Every channel of ours, ordered by channel id.
    pub fn channels(&self) -> Vec<OwnChannel> {
        let mut v: Vec<OwnChannel> = self
            .manager
            .list_channels()
            .iter()
            .map(own_channel)
            .collect();
        v.sort_by(|a, b| a.channel_id.cmp(&b.channel_id));
        v
    }

    /// The channel and wallet gauges (after every round of the event loop).
    pub(super) fn update_channel_metrics(&self) {
        let channels = self.manager.list_channels();
        let m = &self.metrics;
        m.channels_open
            .set(channels.iter().filter(|c| c.is_channel_ready).count() as i64);
        m.channels_pending
            .set(channels.iter().filter(|c| !c.is_channel_ready).count() as i64);
        let mut in_flight = 0usize;
        m.channel_balance_msat.reset();
        for c in &channels {
            in_flight += c.pending_inbound_htlcs.len() + c.pending_outbound_htlcs.len();
            let id = hex(&c.channel_id.0);
            let view = own_channel(c);
            m.channel_balance_msat
                .with_label_values(&[&id, "local"])
                .set(view.local_balance_msat as i64);
            m.channel_balance_msat
                .with_label_values(&[&id, "remote"])
                .set(view.remote_balance_msat as i64);
        }
        m.htlcs_in_flight.set(in_flight as i64);
        if let Some(w) = &self.wallet {
            if let Some(b) = w.try_balance() {
                m.wallet_balance_sat
                    .with_label_values(&["confirmed"])
                    .set(b.confirmed_sat as i64);
                m.wallet_balance_sat
                    .with_label_values(&["pending"])
                    .set((b.trusted_pending_sat + b.untrusted_pending_sat) as i64);
                m.wallet_balance_sat
                    .with_label_values(&["immature"])
                    .set(b.immature_sat as i64);
            }
        }
    }
}
