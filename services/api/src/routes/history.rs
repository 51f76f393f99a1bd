//! History of the network, a channel and a node, from the store (dates are gossip / snapshot
//! time; see `switchyard_store::queries::history`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use switchyard_store::queries::history::{
    self, Churn, Day, NetworkSeries, RangeError, SeriesRange, Step,
};

use super::{parse_node_id, parse_scid};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Points of a series by default (the last 30 days of data).
const DEFAULT_DAYS: i32 = 30;
const DEFAULT_CHURN_LIMIT: usize = 100;
const MAX_CHURN_LIMIT: usize = 100_000;

pub(crate) fn parse_day(name: &str, s: Option<&str>) -> ApiResult<Option<Day>> {
    s.map(|s| {
        s.parse::<Day>()
            .map_err(|e| ApiError::bad_request("invalid_date", format!("{name}: {e}")))
    })
    .transpose()
}

impl From<RangeError> for ApiError {
    fn from(e: RangeError) -> Self {
        let code = match e {
            RangeError::Reversed { .. } => "invalid_range",
            RangeError::TooManySteps { .. } => "range_too_large",
        };
        ApiError::bad_request(code, e.to_string())
    }
}

/// `to` defaults to the newest day with data (today for an empty store), `from` to
/// `DEFAULT_DAYS` days before `to`.
async fn resolve(state: &AppState, from: Option<&str>, to: Option<&str>) -> ApiResult<(Day, Day)> {
    let (from, to) = (parse_day("from", from)?, parse_day("to", to)?);
    let to = match to {
        Some(t) => t,
        None => {
            let newest = history::data_range(state.store.pool())
                .await?
                .map(|(_, last)| last)
                .unwrap_or_else(|| Day::from_unix(crate::state::unix_now() as i64));
            // A `from` after the data still gets a (one-point) answer.
            from.map_or(newest, |f| newest.max(f))
        }
    };
    Ok((from.unwrap_or(to.plus(1 - DEFAULT_DAYS)), to))
}

#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    step: Step,
}

/// `GET /v1/network/history?from=&to=&step=day|week`: the network at the end of each day.
pub async fn network(
    State(state): State<AppState>,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> ApiResult<Json<NetworkSeries>> {
    let Query(q) = query?;
    let (from, to) = resolve(&state, q.from.as_deref(), q.to.as_deref()).await?;
    let range = SeriesRange::new(from, to, q.step)?;
    Ok(Json(
        history::network_series(state.store.pool(), &range).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ChurnQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/network/churn?from=&to=&limit=`: what changed between the end of two days.
pub async fn churn(
    State(state): State<AppState>,
    query: Result<Query<ChurnQuery>, QueryRejection>,
) -> ApiResult<Json<Churn>> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(DEFAULT_CHURN_LIMIT);
    if limit > MAX_CHURN_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be at most {MAX_CHURN_LIMIT}"),
        ));
    }
    let (from, to) = resolve(&state, q.from.as_deref(), q.to.as_deref()).await?;
    if from > to {
        return Err(RangeError::Reversed { from, to }.into());
    }
    Ok(Json(
        history::churn(state.store.pool(), from, to, limit).await?,
    ))
}

/// `GET /v1/channels/{scid}/history`: state and policy changes of a channel, oldest first.
pub async fn channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<history::ChannelHistory>> {
    let scid = parse_scid(&id)?;
    history::channel_history(state.store.pool(), scid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("channel_not_found", format!("no channel {scid}")))
}

/// `GET /v1/nodes/{pubkey}/history`: channels opened and closed, announcement changes.
pub async fn node(
    State(state): State<AppState>,
    Path(pubkey): Path<String>,
) -> ApiResult<Json<history::NodeHistory>> {
    let id = parse_node_id(&pubkey)?;
    history::node_history(state.store.pool(), &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("node_not_found", format!("no node {id}")))
}
