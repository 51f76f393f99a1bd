//! Route queries: single, batch, many-to-many matrix and multi-part, on the current graph or
//! (`?at=`) on the graph as of an instant. The searches are CPU work, so they run on the
//! blocking pool, never on the async workers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_graph::route::{CostModel, MppRequest, RouteError, RouteRequest};
use switchyard_graph::NodeId;

use crate::asof::AtQuery;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, GraphView};

/// Most queries in one batch.
pub const MAX_BATCH: usize = 10_000;
/// Most cells (sources x destinations) in one matrix.
pub const MAX_MATRIX_CELLS: usize = 40_000;

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge(format!(
                "the request body is over the API's limit (--max-body-bytes): {}",
                r.body_text()
            ))
        } else {
            ApiError::bad_request("invalid_body", r.body_text())
        }
    }
}

fn route_error(e: RouteError) -> ApiError {
    if e.is_invalid_request() {
        ApiError::bad_request(e.code(), e.to_string())
    } else {
        ApiError::Unprocessable {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

fn model_name(m: CostModel) -> &'static str {
    match m {
        CostModel::Fee => "fee",
        CostModel::Probability => "probability",
        CostModel::Balanced => "balanced",
    }
}

/// Runs `work` on the blocking pool over the graph asked for: the current one, or the graph
/// as of `at`.
async fn on_graph<T: Send + 'static>(
    state: &AppState,
    at: Result<Query<AtQuery>, QueryRejection>,
    work: impl FnOnce(&GraphView) -> T + Send + 'static,
) -> ApiResult<T> {
    let Query(at) = at?;
    let g: Arc<GraphView> = state.view_at(at.at.as_deref()).await?;
    tokio::task::spawn_blocking(move || work(&g))
        .await
        .map_err(|e| ApiError::Internal(format!("route worker: {e}")))
}

fn record(state: &AppState, model: CostModel, outcome: &str, started: Instant, n: u64) {
    let m = &state.metrics;
    m.route_queries
        .with_label_values(&[model_name(model), outcome])
        .inc_by(n);
    m.route_duration
        .with_label_values(&[model_name(model)])
        .observe(started.elapsed().as_secs_f64());
}

fn outcome(r: &Result<impl Sized, RouteError>) -> &'static str {
    match r {
        Ok(_) => "found",
        Err(e) if e.is_invalid_request() => "invalid",
        Err(_) => "no_route",
    }
}

/// `POST /v1/routes`: one route, or 422 with the reason there is none.
pub async fn route(
    State(state): State<AppState>,
    at: Result<Query<AtQuery>, QueryRejection>,
    body: Result<Json<RouteRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(req) = body?;
    let started = Instant::now();
    let model = req.cost_model;
    let result = on_graph(&state, at, move |g| g.routing.find_route(&req)).await?;
    record(&state, model, outcome(&result), started, 1);
    Ok(Json(json!(result.map_err(route_error)?)))
}

#[derive(Deserialize)]
pub struct BatchRequest {
    queries: Vec<RouteRequest>,
}

/// `POST /v1/routes/batch`: up to 10,000 queries, answered in parallel, in input order.
pub async fn batch(
    State(state): State<AppState>,
    at: Result<Query<AtQuery>, QueryRejection>,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(req) = body?;
    if req.queries.is_empty() || req.queries.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "invalid_batch",
            format!("a batch holds 1 to {MAX_BATCH} queries"),
        ));
    }
    let started = Instant::now();
    let queries = req.queries;
    let results = on_graph(&state, at, move |g| {
        let results = g.routing.find_routes(&queries);
        (
            queries
                .into_iter()
                .map(|q| q.cost_model)
                .collect::<Vec<_>>(),
            results,
        )
    })
    .await?;
    let (models, results) = results;
    let mut found = 0;
    let items: Vec<Value> = results
        .into_iter()
        .zip(&models)
        .map(|(r, model)| {
            state
                .metrics
                .route_queries
                .with_label_values(&[model_name(*model), outcome(&r)])
                .inc();
            match r {
                Ok(route) => {
                    found += 1;
                    json!({"route": route})
                }
                Err(e) => json!({"error": {"code": e.code(), "message": e.to_string()}}),
            }
        })
        .collect();
    state
        .metrics
        .route_duration
        .with_label_values(&["batch"])
        .observe(started.elapsed().as_secs_f64());
    Ok(Json(json!({"found": found, "results": items})))
}

#[derive(Deserialize)]
pub struct MatrixRequest {
    sources: Vec<NodeId>,
    destinations: Vec<NodeId>,
    amount_msat: u64,
    #[serde(default)]
    cost_model: CostModel,
}

/// `POST /v1/routes/matrix`: fee and probability from every source to every destination.
pub async fn matrix(
    State(state): State<AppState>,
    at: Result<Query<AtQuery>, QueryRejection>,
    body: Result<Json<MatrixRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(req) = body?;
    let cells = req.sources.len() * req.destinations.len();
    if cells == 0 || cells > MAX_MATRIX_CELLS {
        return Err(ApiError::bad_request(
            "invalid_matrix",
            format!("sources x destinations must be 1 to {MAX_MATRIX_CELLS} cells, got {cells}"),
        ));
    }
    if req.amount_msat == 0 {
        return Err(ApiError::bad_request(
            "invalid_request",
            "amount_msat must be > 0",
        ));
    }
    let started = Instant::now();
    let model = req.cost_model;
    let m = on_graph(&state, at, move |g| {
        g.routing.matrix(
            &req.sources,
            &req.destinations,
            req.amount_msat,
            req.cost_model,
        )
    })
    .await?;
    let found = m
        .cells
        .iter()
        .flatten()
        .filter(|c| c.error.is_none())
        .count() as u64;
    record(&state, model, "found", started, found);
    state
        .metrics
        .route_queries
        .with_label_values(&[model_name(model), "no_route"])
        .inc_by(cells as u64 - found);
    Ok(Json(json!(m)))
}

/// `POST /v1/routes/mpp`: a payment split across paths by min-cost flow.
pub async fn mpp(
    State(state): State<AppState>,
    at: Result<Query<AtQuery>, QueryRejection>,
    body: Result<Json<MppRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(req) = body?;
    let started = Instant::now();
    let model = req.request.cost_model;
    let result = on_graph(&state, at, move |g| g.routing.find_mpp(&req)).await?;
    record(&state, model, outcome(&result), started, 1);
    Ok(Json(json!(result.map_err(route_error)?)))
}
