//! How our channels charge for forwarding: the default [`ForwardingPolicy`] (from config, for
//! new channels), LDK's [`UserConfig`] built from it, and the one path that changes fees of
//! open channels ([`Lightning::set_policy`]; LDK then gossips a fresh `channel_update`).
//!
//! Whatever changes fees (the operator through the API, a fee controller planning them) goes
//! through [`Lightning::set_policy`], so the checks below hold for every change. This module
//! must not decide fees by itself.

use lightning::ln::channel_state::ChannelDetails;
use lightning::util::config::{ChannelConfig, ChannelConfigUpdate, UserConfig};
use serde::Serialize;

use super::{ChannelRef, Lightning};
use crate::error::NodeError;

/// How our channels charge for forwarding. Applied to new channels and, through the API, to
/// open ones (LDK then gossips a fresh `channel_update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ForwardingPolicy {
    /// Fixed fee (msat) per forwarded HTLC.
    pub base_fee_msat: u32,
    /// Proportional fee (ppm).
    pub fee_ppm: u32,
    /// Cltv delta (blocks) we add when forwarding.
    pub cltv_expiry_delta: u16,
    /// Smallest HTLC we accept on a new channel (fixed at open by the protocol).
    pub htlc_minimum_msat: u64,
}

impl Default for ForwardingPolicy {
    fn default() -> Self {
        ForwardingPolicy {
            base_fee_msat: 1000,
            fee_ppm: 100,
            cltv_expiry_delta: 72,
            htlc_minimum_msat: 1,
        }
    }
}

/// LDK's configuration for our node: no anchor channels (their fee bumping needs a reserve
/// this wallet does not keep yet), inbound channels accepted by us (refused without bitcoind),
/// and the forwarding policy.
pub fn user_config(policy: &ForwardingPolicy) -> UserConfig {
    let mut c = UserConfig::default();
    c.channel_handshake_config
        .negotiate_anchors_zero_fee_htlc_tx = false;
    c.channel_handshake_config.our_htlc_minimum_msat = policy.htlc_minimum_msat.max(1);
    c.channel_handshake_config
        .max_inbound_htlc_value_in_flight_percent_of_channel = 100;
    c.channel_handshake_config.announce_for_forwarding = true;
    c.channel_handshake_limits
        .force_announced_channel_preference = false;
    c.manually_accept_inbound_channels = true;
    c.accept_forwards_to_priv_channels = true;
    c.channel_config = channel_config(policy, &ChannelConfig::default());
    c
}

fn channel_config(policy: &ForwardingPolicy, base: &ChannelConfig) -> ChannelConfig {
    let mut cfg = *base;
    cfg.forwarding_fee_base_msat = policy.base_fee_msat;
    cfg.forwarding_fee_proportional_millionths = policy.fee_ppm;
    cfg.cltv_expiry_delta = policy.cltv_expiry_delta;
    cfg
}

/// A change to the forwarding policy; absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct PolicyUpdate {
    /// New fixed fee (msat).
    pub base_fee_msat: Option<u32>,
    /// New proportional fee (ppm).
    pub fee_ppm: Option<u32>,
    /// New cltv delta (blocks).
    pub cltv_expiry_delta: Option<u16>,
    /// New smallest HTLC (msat) for channels opened later (fixed at open by the protocol).
    pub htlc_minimum_msat: Option<u64>,
}

impl PolicyUpdate {
    /// Refuses what LDK or the protocol would not take for `channel` (`None`: every channel
    /// and the default for new ones).
    fn check(&self, channel: Option<ChannelRef>) -> Result<(), NodeError> {
        if self.htlc_minimum_msat.is_some() && channel.is_some() {
            return Err(NodeError::Rejected(
                "htlc_minimum_msat is fixed when a channel opens; it applies to new channels only"
                    .into(),
            ));
        }
        if let Some(d) = self.cltv_expiry_delta {
            if d < 18 {
                return Err(NodeError::Rejected(
                    "cltv_expiry_delta must be at least 18".into(),
                ));
            }
        }
        Ok(())
    }
}

impl ForwardingPolicy {
    /// This policy with the fields `update` gives replaced.
    fn updated(mut self, update: &PolicyUpdate) -> ForwardingPolicy {
        if let Some(v) = update.base_fee_msat {
            self.base_fee_msat = v;
        }
        if let Some(v) = update.fee_ppm {
            self.fee_ppm = v;
        }
        if let Some(v) = update.cltv_expiry_delta {
            self.cltv_expiry_delta = v;
        }
        if let Some(v) = update.htlc_minimum_msat {
            self.htlc_minimum_msat = v;
        }
        self
    }
}

impl Lightning {
    /// The default policy (what new channels get).
    pub fn policy(&self) -> ForwardingPolicy {
        self.policy.lock().map(|p| *p).unwrap_or_default()
    }

    /// Changes the forwarding policy of one channel (or all, with `None`); LDK announces the
    /// new fees in a `channel_update`. With `None` the default for new channels changes too.
    /// Returns how many channels were changed.
    pub fn set_policy(
        &self,
        channel: Option<ChannelRef>,
        update: PolicyUpdate,
    ) -> Result<usize, NodeError> {
        let targets: Vec<ChannelDetails> = match channel {
            Some(r) => vec![self.find_channel(r)?],
            None => self.manager.list_channels(),
        };
        update.check(channel)?;
        let cfg = ChannelConfigUpdate {
            forwarding_fee_base_msat: update.base_fee_msat,
            forwarding_fee_proportional_millionths: update.fee_ppm,
            cltv_expiry_delta: update.cltv_expiry_delta,
            ..Default::default()
        };
        for c in &targets {
            self.manager
                .update_partial_channel_config(&c.counterparty.node_id, &[c.channel_id], &cfg)
                .map_err(|e| NodeError::Lightning(format!("{e:?}")))?;
        }
        if channel.is_none() {
            if let Ok(mut p) = self.policy.lock() {
                *p = p.updated(&update);
            }
        }
        tracing::info!(
            channels = targets.len(),
            ?update,
            "forwarding policy changed"
        );
        Ok(targets.len())
    }
}
