//! The node: status, peers, and connecting to a peer (token-protected). Every handler here
//! and in `own` reaches the node through its [`NodeHandle`] only.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_node::handle::PeerSpec;
use switchyard_node::{NodeError, NodeHandle};

use crate::auth::require_token;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The node's handle, or 503 when this instance runs without a node.
pub(crate) fn node(state: &AppState) -> ApiResult<&NodeHandle> {
    state.node.as_ref().ok_or_else(|| ApiError::Unavailable {
        code: "node_not_running",
        message: "this instance runs without the Lightning node (start it with `switchyard up` or `switchyard node`)".into(),
    })
}

/// Identity, addresses, peers, gossip and chain sync state.
pub async fn status(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(node(&state)?.status())))
}

/// Connected and remembered peers.
pub async fn peers(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let peers = node(&state)?
        .peers()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({ "peers": peers })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// `pubkey@host:port`.
    peer: String,
}

/// Connects to a peer now and keeps it connected; remembered across restarts.
pub async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ConnectRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let Json(req) = body?;
    let spec: PeerSpec = req
        .peer
        .parse()
        .map_err(|e: NodeError| ApiError::bad_request("invalid_peer", e.to_string()))?;
    let n = node(&state)?;
    match n.connect(spec.clone()).await {
        Ok(()) => Ok(Json(json!({"peer": spec.to_string(), "connected": true}))),
        Err(NodeError::InvalidPeer(m)) => Err(ApiError::bad_request("invalid_peer", m)),
        Err(e @ NodeError::Connect { .. }) => Err(ApiError::Unprocessable {
            code: "connect_failed",
            message: format!("{e}; the peer is remembered and will be retried"),
        }),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}
