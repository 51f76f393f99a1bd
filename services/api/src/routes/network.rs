use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use switchyard_store::queries::diff::{diff_range, Diff, DiffRangeError};

use crate::asof::{parse_time, AtQuery};
use crate::error::{ApiError, ApiResult};
use crate::state::{unix_now, AppState};

/// Network-wide statistics of the served snapshot (serialized once per snapshot), or of the
/// graph as of `at`.
pub async fn stats(
    State(state): State<AppState>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    let Query(q) = query?;
    let graph = state.view_at(q.at.as_deref()).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        graph.stats_json.clone(),
    ))
}

const DEFAULT_DIFF_LIMIT: usize = 100;
const MAX_DIFF_LIMIT: usize = 100_000;

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/network/diff?from=&to=&limit=`: the network as of `to` compared with the network
/// as of `from` (default: the last day of data).
pub async fn diff(
    State(state): State<AppState>,
    query: Result<Query<DiffQuery>, QueryRejection>,
) -> ApiResult<Json<Diff>> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(DEFAULT_DIFF_LIMIT);
    if limit > MAX_DIFF_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be at most {MAX_DIFF_LIMIT}"),
        ));
    }
    let from = q
        .from
        .as_deref()
        .map(|s| parse_time("from", s))
        .transpose()?;
    let to = q.to.as_deref().map(|s| parse_time("to", s)).transpose()?;
    let bounds = switchyard_store::queries::asof::bounds(state.store.pool()).await?;
    let (from, to) = match diff_range(from, to, unix_now() as i64, bounds) {
        Ok(r) => r,
        Err(DiffRangeError::Resolve(e)) => return Err(e.into()),
        Err(e @ DiffRangeError::Reversed { .. }) => {
            return Err(ApiError::bad_request("invalid_range", e.to_string()))
        }
    };
    Ok(Json(
        switchyard_store::queries::diff::diff(state.store.pool(), from, to, limit).await?,
    ))
}
