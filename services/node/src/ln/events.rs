//! LDK's events, one function per family: funding (from the wallet), the channel lifecycle
//! (inbound requests, pending, ready, closed), payments received, payments sent, forwards, and
//! closed-channel outputs (to the sweeper). Forwards, payments and invoices become book
//! entries, written with the channel manager that handled their events (`persist`).
//!
//! Also the event loop's round ([`Lightning::process`]) and LDK's minute timer. Handlers must
//! not block on I/O: they queue book entries and hand transactions to the broadcaster.

use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::{Amount, FeeRate};
use lightning::chain::chaininterface::ConfirmationTarget;
use lightning::events::{
    ClosureReason, Event, EventsProvider, HTLCHandlingFailureReason, HTLCHandlingFailureType,
    ReplayEvent,
};
use switchyard_store::queries::books::{BookEntry, ForwardRecord};

use super::Lightning;
use crate::error::NodeError;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Lightning {
    /// One round of background work: forward pending HTLCs, handle events, persist.
    pub async fn process(&self, peer_manager: &crate::PeerManager) {
        if self.manager.needs_pending_htlc_processing() {
            self.manager.process_pending_htlc_forwards();
        }
        {
            // The group commit does not take the books and the manager meanwhile.
            let _round = self.event_round.lock().unwrap_or_else(|p| p.into_inner());
            self.manager
                .process_pending_events(&|e| self.handle_event(e, peer_manager));
            self.chain_monitor
                .process_pending_events(&|e| self.handle_event(e, peer_manager));
        }
        // The manager may need writing, or books are queued: the writer checks.
        self.commits.kick();
        self.update_channel_metrics();
    }

    /// Resolves when the chain monitor has news for the channel manager (a monitor write
    /// completed, so a held channel can go on).
    pub(crate) fn monitor_news(&self) -> lightning::util::wakers::Future {
        self.chain_monitor.get_update_future()
    }

    /// Once a minute: LDK's timers, rebroadcast of pending claims, and the sweeper.
    pub fn timer_tick(&self) {
        self.manager.timer_tick_occurred();
        self.learned.decay();
        self.chain_monitor.rebroadcast_pending_claims();
        if let Some(s) = &self.sweeper {
            if let Err(e) = s.regenerate_and_broadcast_spend_if_necessary() {
                tracing::debug!(?e, "sweeper");
            }
        }
    }

    fn handle_event(&self, event: Event, _pm: &crate::PeerManager) -> Result<(), ReplayEvent> {
        self.learned.learn(&event);
        match event {
            Event::FundingGenerationReady { .. } | Event::DiscardFunding { .. } => {
                self.on_funding(event)
            }
            Event::OpenChannelRequest { .. }
            | Event::ChannelPending { .. }
            | Event::ChannelReady { .. }
            | Event::ChannelClosed { .. } => self.on_channel(event),
            Event::PaymentClaimable { .. } | Event::PaymentClaimed { .. } => {
                self.on_payment_received(event)
            }
            Event::PaymentSent { .. }
            | Event::PaymentPathSuccessful { .. }
            | Event::PaymentFailed { .. } => self.on_payment_sent(event),
            Event::PaymentForwarded { .. } => self.on_forwarded(event),
            Event::HTLCHandlingFailed { .. } => self.on_forward_failed(event),
            Event::SpendableOutputs {
                outputs,
                channel_id,
            } => match &self.sweeper {
                Some(s) => {
                    if s.track_spendable_outputs(outputs, channel_id, false, None)
                        .is_err()
                    {
                        // Persisting the sweeper failed: ask LDK to hand the event again.
                        return Err(ReplayEvent());
                    }
                    tracing::info!(channel = ?channel_id, "sweeping closed-channel outputs to the wallet");
                }
                None => {
                    tracing::error!(channel = ?channel_id, "spendable outputs but no wallet to sweep them to")
                }
            },
            Event::ConnectionNeeded { node_id, addresses } => {
                tracing::debug!(peer = %node_id, addresses = addresses.len(), "LDK needs a connection");
            }
            other => tracing::debug!(event = ?other, "event"),
        }
        Ok(())
    }

    /// Funding transactions: built and signed by the wallet when LDK asks, given back to it
    /// when LDK discards them.
    fn on_funding(&self, event: Event) {
        match event {
            Event::FundingGenerationReady {
                temporary_channel_id,
                counterparty_node_id,
                channel_value_satoshis,
                output_script,
                ..
            } => {
                let result = self.wallet().and_then(|w| {
                    let rate = self.fees.rate(ConfirmationTarget::NonAnchorChannelFee);
                    let tx = w.build_payment(
                        output_script,
                        Amount::from_sat(channel_value_satoshis),
                        FeeRate::from_sat_per_kwu(rate as u64),
                    )?;
                    match self.manager.funding_transaction_generated(
                        temporary_channel_id,
                        counterparty_node_id,
                        tx.clone(),
                    ) {
                        Ok(()) => Ok(tx.compute_txid()),
                        Err(e) => {
                            w.cancel(&tx);
                            Err(NodeError::Lightning(format!("{e:?}")))
                        }
                    }
                });
                match result {
                    Ok(txid) => {
                        tracing::info!(%txid, peer = %counterparty_node_id, "channel funding transaction signed")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, peer = %counterparty_node_id, "cannot fund the channel; abandoning it");
                        let _ = self.manager.force_close_broadcasting_latest_txn(
                            &temporary_channel_id,
                            &counterparty_node_id,
                            format!("funding failed: {e}"),
                        );
                    }
                }
            }
            Event::DiscardFunding {
                channel_id,
                funding_info,
            } => {
                if let (Ok(w), lightning::events::FundingInfo::Tx { transaction }) =
                    (self.wallet(), &funding_info)
                {
                    w.cancel(transaction);
                }
                tracing::info!(channel = %channel_id, "funding discarded");
            }
            _ => {}
        }
    }

    /// The channel lifecycle: inbound requests (accepted only with bitcoind to watch the
    /// channel), then pending, ready and closed, which are logged.
    fn on_channel(&self, event: Event) {
        match event {
            Event::OpenChannelRequest {
                temporary_channel_id,
                counterparty_node_id,
                funding_satoshis,
                ..
            } => {
                if self.rpc.is_none() {
                    tracing::warn!(peer = %counterparty_node_id, "refusing an inbound channel: no bitcoind to watch it");
                    let _ = self.manager.force_close_broadcasting_latest_txn(
                        &temporary_channel_id,
                        &counterparty_node_id,
                        "this node runs without bitcoind and cannot watch channels".into(),
                    );
                    return;
                }
                match self.manager.accept_inbound_channel(
                    &temporary_channel_id,
                    &counterparty_node_id,
                    self.random_user_id(),
                    None,
                ) {
                    Ok(()) => {
                        tracing::info!(peer = %counterparty_node_id, sat = funding_satoshis, "accepted an inbound channel")
                    }
                    Err(e) => tracing::warn!(error = ?e, "accepting an inbound channel"),
                }
            }
            Event::ChannelPending {
                channel_id,
                counterparty_node_id,
                funding_txo,
                ..
            } => {
                tracing::info!(channel = %channel_id, peer = %counterparty_node_id, %funding_txo, "channel pending confirmation");
            }
            Event::ChannelReady {
                channel_id,
                counterparty_node_id,
                ..
            } => {
                tracing::info!(channel = %channel_id, peer = %counterparty_node_id, "channel ready");
            }
            Event::ChannelClosed {
                channel_id,
                reason,
                counterparty_node_id,
                ..
            } => {
                let reason_text = match &reason {
                    ClosureReason::HolderForceClosed { .. } => "force closed by us".to_string(),
                    ClosureReason::LegacyCooperativeClosure
                    | ClosureReason::CounterpartyInitiatedCooperativeClosure
                    | ClosureReason::LocallyInitiatedCooperativeClosure => {
                        "cooperative".to_string()
                    }
                    other => other.to_string(),
                };
                tracing::info!(channel = %channel_id, peer = ?counterparty_node_id, reason = %reason_text, "channel closed");
            }
            _ => {}
        }
    }

    /// Payments to us: claimed when we know the preimage (our invoices, keysends), booked
    /// once claimed.
    fn on_payment_received(&self, event: Event) {
        match event {
            Event::PaymentClaimable {
                payment_hash,
                purpose,
                amount_msat,
                ..
            } => {
                match purpose.preimage() {
                    Some(preimage) => self.manager.claim_funds(preimage),
                    None => {
                        tracing::warn!(hash = %payment_hash, "payment without a known preimage; failing it back");
                        self.manager.fail_htlc_backwards(&payment_hash);
                    }
                }
                tracing::debug!(hash = %payment_hash, amount_msat, "payment claimable");
            }
            Event::PaymentClaimed {
                payment_hash,
                amount_msat,
                ..
            } => {
                tracing::info!(hash = %payment_hash, amount_msat, "payment received");
                self.metrics.payments_received.inc();
                self.book(BookEntry::InvoicePaid {
                    payment_hash: payment_hash.0,
                    received_msat: amount_msat as i64,
                });
            }
            _ => {}
        }
    }

    /// Outcomes of our payments (and of each successful path), booked and counted.
    fn on_payment_sent(&self, event: Event) {
        match event {
            Event::PaymentSent {
                payment_id,
                payment_preimage,
                payment_hash,
                fee_paid_msat,
                ..
            } => {
                tracing::info!(hash = %payment_hash, fee_msat = ?fee_paid_msat, "payment sent");
                self.metrics
                    .payments_sent
                    .with_label_values(&["succeeded"])
                    .inc();
                if let Some(id) = payment_id {
                    self.book(BookEntry::PaymentSucceeded {
                        payment_id: id.0,
                        fee_msat: fee_paid_msat.map(|f| f as i64),
                        preimage: payment_preimage.0,
                    });
                }
            }
            Event::PaymentPathSuccessful { payment_id, .. } => {
                self.book(BookEntry::PathSucceeded {
                    payment_id: payment_id.0,
                });
            }
            Event::PaymentFailed {
                payment_id,
                payment_hash,
                reason,
            } => {
                let why = reason.map_or("unknown".to_string(), |r| format!("{r:?}"));
                tracing::warn!(hash = ?payment_hash, reason = %why, "payment failed");
                self.metrics
                    .payments_sent
                    .with_label_values(&["failed"])
                    .inc();
                self.book(BookEntry::PaymentFailed {
                    payment_id: payment_id.0,
                    reason: why,
                });
            }
            _ => {}
        }
    }

    /// A forward we settled: booked with the fee it earned.
    fn on_forwarded(&self, event: Event) {
        let Event::PaymentForwarded {
            prev_channel_id,
            next_channel_id,
            prev_node_id,
            next_node_id,
            total_fee_earned_msat,
            outbound_amount_forwarded_msat,
            ..
        } = event
        else {
            return;
        };
        let fee = total_fee_earned_msat.unwrap_or(0);
        let out = outbound_amount_forwarded_msat;
        self.metrics.forwards.with_label_values(&["settled"]).inc();
        self.metrics.forward_fees_earned_msat.inc_by(fee);
        self.book(BookEntry::Forward(ForwardRecord {
            resolved_at_ms: now_ms(),
            settled: true,
            in_channel_id: prev_channel_id.map(|c| c.0),
            out_channel_id: next_channel_id.map(|c| c.0),
            in_scid: prev_channel_id.and_then(|c| self.scid_of(&c)),
            out_scid: next_channel_id.and_then(|c| self.scid_of(&c)),
            in_peer: prev_node_id.map(|p| p.serialize()),
            out_peer: next_node_id.map(|p| p.serialize()),
            amount_in_msat: out.map(|o| (o + fee) as i64),
            amount_out_msat: out.map(|o| o as i64),
            fee_msat: fee as i64,
            failure_reason: None,
            duration_ms: None,
        }));
    }

    /// A forward that failed (not a payment to us): booked with the reason.
    fn on_forward_failed(&self, event: Event) {
        let Event::HTLCHandlingFailed {
            prev_channel_id,
            failure_type,
            failure_reason,
        } = event
        else {
            return;
        };
        let (out_channel, out_peer, out_scid) = match &failure_type {
            HTLCHandlingFailureType::Forward {
                node_id,
                channel_id,
            } => (
                Some(channel_id.0),
                node_id.map(|n| n.serialize()),
                self.scid_of(channel_id),
            ),
            HTLCHandlingFailureType::UnknownNextHop {
                requested_forward_scid,
            }
            | HTLCHandlingFailureType::InvalidForward {
                requested_forward_scid,
            } => (None, None, Some(*requested_forward_scid as i64)),
            HTLCHandlingFailureType::InvalidOnion => (None, None, None),
            HTLCHandlingFailureType::Receive { .. } => return,
        };
        let reason = match (&failure_type, &failure_reason) {
            (_, Some(HTLCHandlingFailureReason::Local { reason })) => format!("{reason:?}"),
            (_, Some(HTLCHandlingFailureReason::Downstream)) => "downstream".to_string(),
            (HTLCHandlingFailureType::UnknownNextHop { .. }, None) => "unknown_next_channel".into(),
            (HTLCHandlingFailureType::InvalidForward { .. }, None) => "invalid_forward".into(),
            (HTLCHandlingFailureType::InvalidOnion, None) => "invalid_onion".into(),
            _ => "unknown".into(),
        };
        self.metrics.forwards.with_label_values(&["failed"]).inc();
        self.book(BookEntry::Forward(ForwardRecord {
            resolved_at_ms: now_ms(),
            settled: false,
            in_channel_id: Some(prev_channel_id.0),
            out_channel_id: out_channel,
            in_scid: self.scid_of(&prev_channel_id),
            out_scid,
            in_peer: self.peer_of(&prev_channel_id),
            out_peer,
            amount_in_msat: None,
            amount_out_msat: None,
            fee_msat: 0,
            failure_reason: Some(reason),
            duration_ms: None,
        }));
    }
}
