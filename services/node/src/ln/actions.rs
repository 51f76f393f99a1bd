//! Operator actions on the channel layer: open and close channels, create invoices, pay them,
//! keysend, send on-chain. Each checks what it can before LDK does, books what it starts
//! (payments, invoices; written with the next manager write, see `persist`), and returns at
//! once: outcomes arrive as events (`events`).
//!
//! Changing fees is `policy`'s. Actions that drive the channel manager towards a peer (close,
//! pay, keysend) are refused with `Unavailable` until the restored channels are watched (see
//! `chain_feed`).

use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use bitcoin::{Amount, FeeRate};
use lightning::chain::chaininterface::ConfirmationTarget;
use lightning::ln::channelmanager::{self, PaymentId};
use switchyard_store::queries::books::BookEntry;

use super::channels::hex;
use super::{user_config, ChannelRef, Lightning};
use crate::error::NodeError;

impl Lightning {
    /// Opens a channel to a connected peer. The funding transaction is built from the wallet
    /// when the peer accepts; this returns the channel id LDK assigned for now.
    pub fn open_channel(
        &self,
        peer: PublicKey,
        amount_sat: u64,
        push_msat: u64,
        announce: bool,
    ) -> Result<String, NodeError> {
        let wallet = self.wallet()?;
        if amount_sat < 20_000 {
            return Err(NodeError::Rejected(
                "a channel needs at least 20,000 sat".into(),
            ));
        }
        if push_msat > amount_sat.saturating_mul(1000) {
            return Err(NodeError::Rejected(
                "push_msat is larger than the channel".into(),
            ));
        }
        let balance = wallet.balance()?;
        let spendable = balance.confirmed_sat + balance.trusted_pending_sat;
        if spendable < amount_sat {
            return Err(NodeError::Rejected(format!(
                "the wallet has {spendable} sat spendable; the channel needs {amount_sat} sat plus fees"
            )));
        }
        let policy = *self
            .policy
            .lock()
            .map_err(|_| NodeError::Lightning("lock poisoned".into()))?;
        let mut cfg = user_config(&policy);
        cfg.channel_handshake_config.announce_for_forwarding = announce;
        let user_id = self.random_user_id();
        let id = self
            .manager
            .create_channel(peer, amount_sat, push_msat, user_id, None, Some(cfg))
            .map_err(|e| NodeError::Lightning(format!("{e:?}")))?;
        tracing::info!(%peer, amount_sat, push_msat, announce, "opening a channel");
        Ok(hex(&id.0))
    }

    /// Cooperative close (or force close with `force`).
    pub fn close_channel(&self, r: ChannelRef, force: bool) -> Result<(), NodeError> {
        self.ensure_channels_watched()?;
        let c = self.find_channel(r)?;
        let peer = c.counterparty.node_id;
        let result = if force {
            self.manager.force_close_broadcasting_latest_txn(
                &c.channel_id,
                &peer,
                "closed by the operator".into(),
            )
        } else {
            self.manager.close_channel(&c.channel_id, &peer)
        };
        result.map_err(|e| NodeError::Lightning(format!("{e:?}")))?;
        tracing::info!(channel = %c.channel_id, force, "closing a channel");
        Ok(())
    }

    /// A BOLT 11 invoice for `amount_msat` (any amount with `None`).
    pub fn create_invoice(
        &self,
        amount_msat: Option<u64>,
        description: &str,
        expiry_secs: u32,
    ) -> Result<lightning_invoice::Bolt11Invoice, NodeError> {
        let desc = lightning_invoice::Description::new(description.to_string())
            .map_err(|e| NodeError::Rejected(format!("description: {e}")))?;
        let params = channelmanager::Bolt11InvoiceParameters {
            amount_msats: amount_msat,
            description: lightning_invoice::Bolt11InvoiceDescription::Direct(desc),
            invoice_expiry_delta_secs: Some(expiry_secs),
            ..Default::default()
        };
        let invoice = self
            .manager
            .create_bolt11_invoice(params)
            .map_err(|e| NodeError::Lightning(format!("creating the invoice: {e:?}")))?;
        let created = invoice.duration_since_epoch().as_secs() as i64;
        self.book(BookEntry::InvoiceCreated {
            payment_hash: *invoice.payment_hash().as_ref(),
            bolt11: invoice.to_string(),
            amount_msat: amount_msat.map(|a| a as i64),
            description: description.to_string(),
            expires_at: created + expiry_secs as i64,
        });
        Ok(invoice)
    }

    /// Pays a BOLT 11 invoice; returns the payment id (hex). The outcome arrives as an event
    /// and lands in the books; `GET /v1/payments/{id}` shows it.
    pub fn pay_invoice(
        &self,
        invoice: &lightning_invoice::Bolt11Invoice,
        amount_msat: Option<u64>,
        max_fee_msat: Option<u64>,
    ) -> Result<String, NodeError> {
        self.ensure_channels_watched()?;
        let amount = match (invoice.amount_milli_satoshis(), amount_msat) {
            (Some(a), None) => a,
            (None, Some(a)) => a,
            (Some(a), Some(b)) if a == b => a,
            (Some(_), Some(_)) => {
                return Err(NodeError::Rejected(
                    "the invoice names an amount; do not give another".into(),
                ))
            }
            (None, None) => {
                return Err(NodeError::Rejected(
                    "the invoice has no amount; give amount_msat".into(),
                ))
            }
        };
        let payment_id = PaymentId(*invoice.payment_hash().as_ref());
        let mut route_cfg = lightning::routing::router::RouteParametersConfig::default();
        if let Some(f) = max_fee_msat {
            route_cfg.max_total_routing_fee_msat = Some(f);
        }
        self.book(BookEntry::PaymentStarted {
            payment_id: payment_id.0,
            payment_hash: *invoice.payment_hash().as_ref(),
            kind: "bolt11",
            destination: Some(invoice.get_payee_pub_key().serialize()),
            amount_msat: amount as i64,
            bolt11: Some(invoice.to_string()),
        });
        self.manager
            .pay_for_bolt11_invoice(
                invoice,
                payment_id,
                if invoice.amount_milli_satoshis().is_some() {
                    None
                } else {
                    Some(amount)
                },
                route_cfg,
                channelmanager::Retry::Timeout(Duration::from_secs(60)),
            )
            .map_err(|e| self.refused(payment_id, "paying the invoice", e))?;
        Ok(hex(&payment_id.0))
    }

    /// A payment LDK refused to start: booked as failed, returned as the error.
    fn refused(&self, payment_id: PaymentId, what: &str, e: impl std::fmt::Debug) -> NodeError {
        let reason = format!("{e:?}");
        self.book(BookEntry::PaymentFailed {
            payment_id: payment_id.0,
            reason: reason.clone(),
        });
        NodeError::Lightning(format!("{what}: {reason}"))
    }

    /// Spontaneous payment (keysend) of `amount_msat` to `destination`.
    pub fn keysend(
        &self,
        destination: PublicKey,
        amount_msat: u64,
        max_fee_msat: Option<u64>,
    ) -> Result<String, NodeError> {
        self.ensure_channels_watched()?;
        if amount_msat == 0 {
            return Err(NodeError::Rejected("amount_msat must be positive".into()));
        }
        let preimage = lightning::types::payment::PaymentPreimage(
            lightning::sign::EntropySource::get_secure_random_bytes(&*self.keys),
        );
        let hash: lightning::types::payment::PaymentHash = preimage.into();
        let payment_id = PaymentId(hash.0);
        let mut params = lightning::routing::router::RouteParameters::from_payment_params_and_value(
            lightning::routing::router::PaymentParameters::for_keysend(destination, 40, false),
            amount_msat,
        );
        params.max_total_routing_fee_msat = max_fee_msat;
        self.book(BookEntry::PaymentStarted {
            payment_id: payment_id.0,
            payment_hash: hash.0,
            kind: "keysend",
            destination: Some(destination.serialize()),
            amount_msat: amount_msat as i64,
            bolt11: None,
        });
        self.manager
            .send_spontaneous_payment(
                Some(preimage),
                channelmanager::RecipientOnionFields::spontaneous_empty(),
                payment_id,
                params,
                channelmanager::Retry::Timeout(Duration::from_secs(60)),
            )
            .map_err(|e| self.refused(payment_id, "keysend", e))?;
        Ok(hex(&payment_id.0))
    }

    /// Sends on-chain funds from the wallet.
    pub async fn send_onchain(
        &self,
        address: &bitcoin::Address,
        amount_sat: Option<u64>,
    ) -> Result<bitcoin::Txid, NodeError> {
        let w = self.wallet()?;
        let rate = self.fees.rate(ConfirmationTarget::OutputSpendingFee);
        let tx = w.build_send(
            address,
            amount_sat.map(Amount::from_sat),
            FeeRate::from_sat_per_kwu(rate as u64),
        )?;
        match self.broadcaster.send(&tx).await {
            Ok(txid) => Ok(txid),
            Err(e) => {
                w.cancel(&tx);
                Err(e)
            }
        }
    }
}
