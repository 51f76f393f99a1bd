use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};
use switchyard_store::queries::asof::Resolution;

use super::parse_scid;
use crate::asof::{parse_time, AtQuery};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A channel (open or closed): both directions' current policy and their full history; with
/// `at`, as they stood then (not closed yet if it closed later, policies and history up to
/// then). Accepts `505149x622x0` and the u64 form.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let scid = parse_scid(&id)?;
    let pool = state.store.pool();
    let at = match q.at.as_deref() {
        None => None,
        Some(s) => match state.resolve_at(parse_time("at", s)?).await?.0 {
            Resolution::Current => None,
            Resolution::At(t) => Some(t),
        },
    };
    let found = match at {
        None => match switchyard_store::queries::channels::get(pool, scid).await? {
            Some(row) => Some((
                row,
                switchyard_store::queries::channels::updates(pool, scid).await?,
            )),
            None => None,
        },
        Some(t) => switchyard_store::queries::asof::channel_at(pool, scid, t).await?,
    };
    let (row, history) = found.ok_or_else(|| {
        let when = at.map(|t| format!(" as of {t}")).unwrap_or_default();
        ApiError::not_found("channel_not_found", format!("no channel {scid}{when}"))
    })?;
    // History is newest first, so the first row of a direction is its current policy.
    let current = |dir: i16| history.iter().find(|u| u.direction == dir);
    let mut body = json!({
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
    });
    if let Some(t) = at {
        body["as_of"] = json!(t.0);
    }
    Ok(Json(body))
}
