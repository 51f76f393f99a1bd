use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Network-wide statistics of the served snapshot (serialized once per snapshot).
pub async fn stats(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let graph = state.graph().ok_or(ApiError::NotReady)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        graph.stats_json.clone(),
    ))
}
