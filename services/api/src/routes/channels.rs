use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::parse_scid;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A channel (open or closed): both directions' current policy and their full history.
/// Accepts `505149x622x0` and the u64 form.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let scid = parse_scid(&id)?;
    let pool = state.store.pool();
    let row = switchyard_store::queries::channels::get(pool, scid)
        .await?
        .ok_or_else(|| ApiError::not_found("channel_not_found", format!("no channel {scid}")))?;
    let history = switchyard_store::queries::channels::updates(pool, scid).await?;
    // History is newest first, so the first row of a direction is its current policy.
    let current = |dir: i16| history.iter().find(|u| u.direction == dir);
    Ok(Json(json!({
        "scid": row.scid,
        "scid_u64": row.scid.0,
        "node_1": row.node_1,
        "node_2": row.node_2,
        "capacity_sat": row.capacity_sat,
        "funding_outpoint": row.funding_outpoint,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "open": row.closed_at.is_none(),
        "closed_at": row.closed_at,
        "close_height": row.close_height,
        "policies": {
            "node_1_to_node_2": current(0),
            "node_2_to_node_1": current(1),
        },
        "history": history,
    })))
}
