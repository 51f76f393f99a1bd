//! Our own node's money: channels, forwarding policy, the on-chain wallet, invoices, payments,
//! and the books (forwards, earnings). Everything that moves funds or changes fees needs the
//! bearer token; listings are read-only. The node is reached through its `NodeHandle` only;
//! the books are read from the store.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_node::handle::{
    ChannelRef, InvoiceRequest as NewInvoice, Keysend, OpenChannel, PayInvoice, PeerSpec,
    PeerTarget, PolicyUpdate, SendOnchain,
};
use switchyard_node::NodeError;

use super::node::node;
use crate::auth::require_token;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn node_error(e: NodeError) -> ApiError {
    match e {
        NodeError::Rejected(m) => ApiError::Unprocessable {
            code: "rejected",
            message: m,
        },
        NodeError::Lightning(m) => ApiError::Unprocessable {
            code: "lightning_error",
            message: m,
        },
        NodeError::Wallet(m) => ApiError::Unprocessable {
            code: "wallet_error",
            message: m,
        },
        NodeError::NotFound(m) => ApiError::not_found("not_found", m),
        NodeError::Unavailable(m) => ApiError::Unavailable {
            code: "unavailable",
            message: m,
        },
        NodeError::InvalidPeer(m) => ApiError::bad_request("invalid_peer", m),
        e @ NodeError::Connect { .. } => ApiError::Unprocessable {
            code: "connect_failed",
            message: e.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

fn channel_ref(s: &str) -> ApiResult<ChannelRef> {
    s.parse()
        .map_err(|e: NodeError| ApiError::bad_request("invalid_channel", e.to_string()))
}

/// Our channels with balances, HTLCs in flight and policy.
pub async fn list_channels(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(node(&state)?.channels())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// `pubkey` of a connected peer, or `pubkey@host:port` to connect first.
    peer: String,
    amount_sat: u64,
    #[serde(default)]
    push_msat: u64,
    /// Announce the channel to the network (default true: a routing node wants forwards).
    #[serde(default = "yes")]
    announce: bool,
}

fn yes() -> bool {
    true
}

/// Opens a channel funded from the wallet.
pub async fn open_channel(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<OpenRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let Json(req) = body?;
    let node = node(&state)?;
    let target =
        if req.peer.contains('@') {
            let spec: PeerSpec = req
                .peer
                .parse()
                .map_err(|e: NodeError| ApiError::bad_request("invalid_peer", e.to_string()))?;
            PeerTarget::Connect(spec)
        } else {
            PeerTarget::Connected(req.peer.parse().map_err(|e| {
                ApiError::bad_request("invalid_peer", format!("{:?}: {e}", req.peer))
            })?)
        };
    let peer = target.node_id();
    let id = node
        .open_channel(OpenChannel {
            peer: target,
            amount_sat: req.amount_sat,
            push_msat: req.push_msat,
            announce: req.announce,
        })
        .await
        .map_err(node_error)?;
    Ok(Json(json!({
        "channel_id": id,
        "peer": peer.to_string(),
        "amount_sat": req.amount_sat,
        "push_msat": req.push_msat,
        "announce": req.announce,
        "state": "opening"
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    #[serde(default)]
    force: bool,
}

/// Cooperative close, or force close with `{"force": true}`.
pub async fn close_channel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(channel): Path<String>,
    body: Option<Json<CloseRequest>>,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let req = body.map(|b| b.0).unwrap_or_default();
    let node = node(&state)?;
    node.close_channel(channel_ref(&channel)?, req.force)
        .map_err(node_error)?;
    Ok(Json(
        json!({"channel": channel, "force": req.force, "state": "closing"}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// A channel id or short channel id; absent: every channel and the default for new ones.
    channel: Option<String>,
    #[serde(flatten)]
    update: PolicyUpdate,
}

/// Changes the forwarding policy; LDK announces it in a `channel_update`.
pub async fn set_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PolicyRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let Json(req) = body?;
    if req.update == PolicyUpdate::default() {
        return Err(ApiError::bad_request(
            "empty_policy",
            "give at least one of base_fee_msat, fee_ppm, cltv_expiry_delta, htlc_minimum_msat",
        ));
    }
    let node = node(&state)?;
    let target = req.channel.as_deref().map(channel_ref).transpose()?;
    let changed = node.set_policy(target, req.update).map_err(node_error)?;
    Ok(Json(json!(changed)))
}

/// On-chain balance.
pub async fn wallet(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let balance = node(&state)?.wallet_balance().await.map_err(node_error)?;
    Ok(Json(json!(balance)))
}

/// A fresh receive address.
pub async fn wallet_address(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let address = node(&state)?.new_address().await.map_err(node_error)?;
    Ok(Json(json!({"address": address.to_string()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    address: String,
    /// Absent: send everything.
    amount_sat: Option<u64>,
}

/// Sends on-chain funds from the wallet.
pub async fn wallet_send(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SendRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let Json(req) = body?;
    let node = node(&state)?;
    let network = node.wallet_network().map_err(node_error)?;
    let address = req
        .address
        .parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
        .map_err(|e| ApiError::bad_request("invalid_address", e.to_string()))?
        .require_network(network)
        .map_err(|e| ApiError::bad_request("invalid_address", e.to_string()))?;
    let txid = node
        .send_onchain(SendOnchain {
            address,
            amount_sat: req.amount_sat,
        })
        .await
        .map_err(node_error)?;
    Ok(Json(json!({"txid": txid.to_string()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRequest {
    amount_msat: Option<u64>,
    #[serde(default)]
    description: String,
    #[serde(default = "default_expiry")]
    expiry_secs: u32,
}

fn default_expiry() -> u32 {
    3600
}

/// A BOLT 11 invoice.
pub async fn create_invoice(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<InvoiceRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let Json(req) = body?;
    if req.amount_msat == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_amount",
            "amount_msat must be positive",
        ));
    }
    if req.expiry_secs == 0 || req.expiry_secs > 31 * 24 * 3600 {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            "expiry_secs must be between 1 and 2678400",
        ));
    }
    let invoice = node(&state)?
        .create_invoice(NewInvoice {
            amount_msat: req.amount_msat,
            description: req.description,
            expiry_secs: req.expiry_secs,
        })
        .map_err(node_error)?;
    Ok(Json(json!({
        "bolt11": invoice.bolt11,
        "payment_hash": invoice.payment_hash,
        "amount_msat": req.amount_msat,
        "expiry_secs": req.expiry_secs,
    })))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
}

pub async fn list_invoices(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let rows = switchyard_store::queries::books::invoices(
        state.store.pool(),
        q.limit.unwrap_or(100).clamp(1, 10_000),
    )
    .await?;
    Ok(Json(json!({"invoices": rows})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// A BOLT 11 invoice; or give `destination` for a keysend.
    invoice: Option<String>,
    destination: Option<String>,
    amount_msat: Option<u64>,
    max_fee_msat: Option<u64>,
}

/// Pays an invoice or sends a keysend. Returns at once with the payment id; the outcome is at
/// `GET /v1/payments/{id}`.
pub async fn pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PayRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let Json(req) = body?;
    let node = node(&state)?;
    let started = match (&req.invoice, &req.destination) {
        (Some(inv), None) => {
            let invoice = inv
                .trim()
                .parse()
                .map_err(|e| ApiError::bad_request("invalid_invoice", format!("{e}")))?;
            node.pay_invoice(PayInvoice {
                invoice,
                amount_msat: req.amount_msat,
                max_fee_msat: req.max_fee_msat,
            })
            .map_err(node_error)?
        }
        (None, Some(dest)) => {
            let dest = dest
                .parse()
                .map_err(|e| ApiError::bad_request("invalid_destination", format!("{e}")))?;
            let amount = req.amount_msat.ok_or_else(|| {
                ApiError::bad_request("missing_amount", "keysend needs amount_msat")
            })?;
            node.keysend(Keysend {
                destination: dest,
                amount_msat: amount,
                max_fee_msat: req.max_fee_msat,
            })
            .map_err(node_error)?
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_payment",
                "give exactly one of invoice (BOLT 11) or destination (keysend)",
            ))
        }
    };
    Ok(Json(
        json!({"payment_id": started.payment_id, "status": "pending"}),
    ))
}

pub async fn list_payments(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let rows = switchyard_store::queries::books::payments(
        state.store.pool(),
        q.limit.unwrap_or(100).clamp(1, 10_000),
    )
    .await?;
    Ok(Json(json!({"payments": rows})))
}

pub async fn get_payment(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let bytes = parse_hex32(&id).ok_or_else(|| {
        ApiError::bad_request("invalid_payment_id", "a payment id is 64 hex digits")
    })?;
    match switchyard_store::queries::books::payment(state.store.pool(), &bytes).await? {
        Some(p) => Ok(Json(json!(p))),
        None => Err(ApiError::not_found(
            "payment_not_found",
            format!("no payment {id}"),
        )),
    }
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, c) in s.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok()?;
    }
    Some(out)
}

#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    /// Unix seconds; default: 30 days ago.
    from: Option<i64>,
    /// Unix seconds; default: now.
    to: Option<i64>,
    limit: Option<i64>,
    group_by: Option<String>,
}

fn range(q: &RangeQuery) -> ApiResult<(i64, i64)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let to = q.to.unwrap_or(now.saturating_add(1));
    // Saturating: `to` is the caller's, anywhere in i64 (fuzz/regressions/api_request).
    let from = q.from.unwrap_or(to.saturating_sub(30 * 86_400));
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_range",
            "from must be before to",
        ));
    }
    Ok((from, to))
}

/// Forwards resolved in a time range.
pub async fn forwards(
    State(state): State<AppState>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let (from, to) = range(&q)?;
    let rows = switchyard_store::queries::books::forwards(
        state.store.pool(),
        from,
        to,
        q.limit.unwrap_or(1000).clamp(1, 100_000),
    )
    .await?;
    Ok(Json(json!({"from": from, "to": to, "forwards": rows})))
}

/// Fees earned, grouped by channel, peer or day.
pub async fn earnings(
    State(state): State<AppState>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let (from, to) = range(&q)?;
    let group: switchyard_store::queries::books::EarningsGroup =
        q.group_by.as_deref().unwrap_or("channel").parse().map_err(
            |e: switchyard_store::Error| ApiError::bad_request("invalid_group_by", e.to_string()),
        )?;
    let rows =
        switchyard_store::queries::books::earnings(state.store.pool(), group, from, to).await?;
    let total: i64 = rows.iter().map(|r| r.fees_earned_msat).sum();
    Ok(Json(json!({
        "from": from,
        "to": to,
        "group_by": q.group_by.as_deref().unwrap_or("channel"),
        "total_fees_earned_msat": total,
        "groups": rows
    })))
}
