//! The node's Prometheus metrics, registered into the service's registry. Labels are bounded:
//! message types and fixed reason sets, never peers' or channels' ids.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

/// The node's Prometheus metrics (see METRICS.md for names and help texts).
pub struct NodeMetrics {
    /// 1 while this process runs a Lightning node (alert rules about peers key on it).
    pub running: IntGauge,
    /// Lightning peers with a completed handshake.
    pub peers_connected: IntGauge,
    /// `{type, outcome}`: outcome is accepted, duplicate, rejected or pending.
    pub gossip_messages: IntCounterVec,
    /// `{type, reason}`.
    pub gossip_rejected: IntCounterVec,
    /// Age of the oldest message in the last gossip batch written to the store (seconds).
    pub store_lag_seconds: prometheus::Gauge,
    /// Gossip messages per store transaction.
    pub store_batch_size: Histogram,
    /// Accepted gossip messages waiting to be written to the store.
    pub store_queue: IntGauge,
    /// Failed gossip batch writes (retried; nothing is dropped).
    pub store_write_errors: IntCounter,
    /// bitcoind's best block height.
    pub chain_tip_height: IntGauge,
    /// Header time of bitcoind's best block (unix seconds).
    pub chain_tip_timestamp: IntGauge,
    /// Channels marked closed because their funding output was spent.
    pub channels_closed_onchain: IntCounter,
    /// Our own channels: bounded by what the operator opens.
    pub channels_open: IntGauge,
    /// Our own channels waiting for their funding to confirm.
    pub channels_pending: IntGauge,
    /// `{channel, side}` for our own channels only.
    pub channel_balance_msat: IntGaugeVec,
    /// HTLCs offered or received and not yet resolved.
    pub htlcs_in_flight: IntGauge,
    /// `{outcome}`: settled or failed.
    pub forwards: IntCounterVec,
    /// Fees earned by settled forwards (msat).
    pub forward_fees_earned_msat: IntCounter,
    /// `{outcome}`: succeeded or failed.
    pub payments_sent: IntCounterVec,
    /// Inbound payments claimed.
    pub payments_received: IntCounter,
    /// `{state}`: confirmed, pending, immature.
    pub wallet_balance_sat: IntGaugeVec,
    /// The height the channel manager has processed.
    pub ln_chain_height: IntGauge,
    /// Channels the router holds liquidity estimates for (learned from our payments).
    pub learned_channels: IntGauge,
    /// `{mode, outcome}`: the fee controller's runs (dry-run/apply; ok/failed).
    pub fee_plans: IntCounterVec,
    /// `{outcome}`: per channel direction and run (see `fees_ctl::OUTCOMES`).
    pub fee_changes: IntCounterVec,
    /// When the fee controller last completed a plan (unix seconds).
    pub fee_last_plan_timestamp: IntGauge,
    /// The last plan's expected revenue over its demand, msat.
    pub fee_expected_revenue_msat: IntGauge,
    /// Revenue at the current fees over the last plan's demand, msat.
    pub fee_current_revenue_msat: IntGauge,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Static definitions: a failure is a programming error that every test run would hit.
    r.expect("static metric definition")
}

fn gauge(name: &str, help: &str) -> IntGauge {
    must(IntGauge::new(name, help))
}

fn counter(name: &str, help: &str) -> IntCounter {
    must(IntCounter::new(name, help))
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    must(IntCounterVec::new(Opts::new(name, help), labels))
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    must(IntGaugeVec::new(Opts::new(name, help), labels))
}

impl NodeMetrics {
    /// Creates the metrics; the service registers them (see the API's `Metrics`), so they
    /// are exported (and documented in METRICS.md) whether or not a node runs.
    pub fn new() -> NodeMetrics {
        NodeMetrics {
            running: gauge(
                "switchyard_node_running",
                "1 while this process runs the Lightning node, else 0",
            ),
            peers_connected: gauge(
                "switchyard_node_peers_connected",
                "Lightning peers with a completed handshake",
            ),
            gossip_messages: counter_vec(
                "switchyard_gossip_messages_total",
                "Gossip messages received, by type and outcome (accepted, duplicate, rejected, pending)",
                &["type", "outcome"],
            ),
            gossip_rejected: counter_vec(
                "switchyard_gossip_rejected_total",
                "Gossip messages rejected, by type and reason",
                &["type", "reason"],
            ),
            store_lag_seconds: must(prometheus::Gauge::new(
                "switchyard_gossip_store_lag_seconds",
                "Age of the oldest message in the last batch written to the store",
            )),
            store_batch_size: must(Histogram::with_opts(
                HistogramOpts::new(
                    "switchyard_gossip_store_batch_size",
                    "Gossip messages per store transaction",
                )
                .buckets(vec![1.0, 10.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0]),
            )),
            store_queue: gauge(
                "switchyard_gossip_store_queue",
                "Accepted gossip messages waiting to be written to the store",
            ),
            store_write_errors: counter(
                "switchyard_gossip_store_write_errors_total",
                "Failed gossip batch writes (retried; nothing is dropped)",
            ),
            chain_tip_height: gauge("switchyard_chain_tip_height", "bitcoind's best block height"),
            chain_tip_timestamp: gauge(
                "switchyard_chain_tip_timestamp_seconds",
                "Header time of bitcoind's best block",
            ),
            channels_closed_onchain: counter(
                "switchyard_channels_closed_onchain_total",
                "Channels marked closed because their funding output was spent",
            ),
            channels_open: gauge(
                "switchyard_own_channels_open",
                "Our own channels that are open (funding confirmed)",
            ),
            channels_pending: gauge(
                "switchyard_own_channels_pending",
                "Our own channels waiting for their funding to confirm",
            ),
            channel_balance_msat: gauge_vec(
                "switchyard_channel_balance_msat",
                "Balance of each own channel by side (local, remote), in millisatoshis",
                &["channel", "side"],
            ),
            htlcs_in_flight: gauge(
                "switchyard_htlcs_in_flight",
                "HTLCs offered or received and not yet resolved",
            ),
            forwards: counter_vec(
                "switchyard_forwards_total",
                "HTLC forwards by outcome (settled, failed)",
                &["outcome"],
            ),
            forward_fees_earned_msat: counter(
                "switchyard_forward_fees_earned_msat_total",
                "Fees earned by settled forwards, in millisatoshis",
            ),
            payments_sent: counter_vec(
                "switchyard_payments_sent_total",
                "Outbound payments by outcome (succeeded, failed)",
                &["outcome"],
            ),
            payments_received: counter(
                "switchyard_payments_received_total",
                "Inbound payments claimed",
            ),
            wallet_balance_sat: gauge_vec(
                "switchyard_wallet_balance_sat",
                "On-chain wallet balance by state (confirmed, pending, immature), in satoshis",
                &["state"],
            ),
            ln_chain_height: gauge(
                "switchyard_lightning_chain_height",
                "Block height the channel manager and monitors have processed",
            ),
            learned_channels: gauge(
                "switchyard_router_learned_channels",
                "Channels with a liquidity estimate learned from our payments",
            ),
            fee_plans: counter_vec(
                "switchyard_fee_plans_total",
                "Fee controller runs by mode (dry-run, apply) and outcome (ok, failed)",
                &["mode", "outcome"],
            ),
            fee_changes: counter_vec(
                "switchyard_fee_channel_decisions_total",
                "Fee controller decisions per channel direction and run, by outcome (applied, planned, refused, pinned, unchanged, interval, not_selected)",
                &["outcome"],
            ),
            fee_last_plan_timestamp: gauge(
                "switchyard_fee_last_plan_timestamp_seconds",
                "When the fee controller last completed a plan (unix seconds)",
            ),
            fee_expected_revenue_msat: gauge(
                "switchyard_fee_expected_revenue_msat",
                "Revenue the last fee plan expects over its simulated demand, in millisatoshis",
            ),
            fee_current_revenue_msat: gauge(
                "switchyard_fee_current_revenue_msat",
                "Revenue at the current fees over the last plan's simulated demand, in millisatoshis",
            ),
        }
        .with_initial_series()
    }

    /// Series that exist before the first event, so dashboards and alerts have data.
    fn with_initial_series(self) -> NodeMetrics {
        for o in ["settled", "failed"] {
            self.forwards.with_label_values(&[o]);
        }
        for o in ["succeeded", "failed"] {
            self.payments_sent.with_label_values(&[o]);
        }
        for m in ["dry-run", "apply"] {
            for o in ["ok", "failed"] {
                self.fee_plans.with_label_values(&[m, o]);
            }
        }
        for o in crate::fees_ctl::OUTCOMES {
            self.fee_changes.with_label_values(&[o]);
        }
        for s in ["confirmed", "pending", "immature"] {
            self.wallet_balance_sat.with_label_values(&[s]);
        }
        for t in [
            "channel_announcement",
            "channel_update",
            "node_announcement",
        ] {
            for o in ["accepted", "duplicate", "rejected", "pending"] {
                self.gossip_messages.with_label_values(&[t, o]);
            }
        }
        for t in [
            "channel_announcement",
            "channel_update",
            "node_announcement",
        ] {
            for r in REJECT_REASONS {
                self.gossip_rejected.with_label_values(&[t, r]);
            }
        }
        self
    }
}

/// Every reason a gossip message is rejected for (the `reason` label's whole value set).
pub const REJECT_REASONS: [&str; 12] = [
    "bad_signature",
    "bad_utxo",
    "unknown_utxo",
    "spent_utxo",
    "lookup_failed",
    "lookup_timeout",
    "stale",
    "unknown_channel",
    "rate_limited",
    "malformed",
    "recently_closed",
    "other",
];

impl Default for NodeMetrics {
    fn default() -> Self {
        NodeMetrics::new()
    }
}
