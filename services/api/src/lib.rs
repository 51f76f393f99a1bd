//! # switchyard-api: the HTTP API
//!
//! Owns the axum router (`/healthz`, `/readyz`, `/metrics`, `/v1/*`), the one error type
//! ([`ApiError`], rendered as `{"error": {"code", "message"}}`), the OpenAPI document and the
//! Prometheus registry ([`metrics::Metrics`]).
//!
//! Handlers stay thin: extract, call the store or the graph, map. This crate must not write
//! SQL and must not compute anything a graph or store function could.
//!
//! # Brief overview
//! ```no_run
//! # async fn demo(store: switchyard_store::Store) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use switchyard_api::{metrics::Metrics, AppState};
//! let state = AppState::new(store, Arc::new(Metrics::new()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! switchyard_api::serve(listener, state, std::future::pending()).await
//! # }
//! ```

#![warn(missing_docs)]

pub mod asof;
pub mod auth;
pub mod backfill;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod replica;
mod routes;
pub mod state;
pub mod tls;

use std::future::Future;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use auth::Access;
use auth::Access::{Admin, Open, Public, Read};
pub use error::ApiError;
pub use routes::analytics::metric_label;
pub use state::{AnalyticsView, AppState, GraphView};

/// The OpenAPI 3.1 document describing every route below.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Every route: (method, path template, who may call it). New routes go at the end: the
/// fuzz corpus (`fuzz/corpus/api_request`) picks a route by its index here. The OpenAPI document must list
/// exactly these, with a matching `security` (a test checks it); the authorization middleware
/// reads the class from here, and a route missing from this table needs the admin token.
///
/// Classes: [`Access::Open`] probes; [`Access::Public`] network data and computations on it
/// (graph, routes, analytics); [`Access::Read`] anything showing the node's own data;
/// [`Access::Admin`] anything that moves money or changes the node or its policy.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("get", "/healthz", Open),
    ("get", "/readyz", Open),
    ("get", "/metrics", Public),
    ("get", "/v1/openapi.json", Open),
    ("get", "/v1/network/stats", Public),
    ("get", "/v1/nodes", Public),
    ("get", "/v1/nodes/{pubkey}", Public),
    ("get", "/v1/channels/{scid}", Public),
    ("post", "/v1/routes", Public),
    ("post", "/v1/routes/batch", Public),
    ("post", "/v1/routes/matrix", Public),
    ("post", "/v1/routes/mpp", Public),
    ("get", "/v1/analytics/centrality", Public),
    ("get", "/v1/analytics/nodes/{pubkey}", Public),
    ("get", "/v1/analytics/channels/{scid}", Public),
    ("get", "/v1/node", Read),
    ("get", "/v1/peers", Read),
    ("post", "/v1/peers", Admin),
    ("get", "/v1/network/history", Public),
    ("get", "/v1/network/churn", Public),
    ("get", "/v1/channels/{scid}/history", Public),
    ("get", "/v1/nodes/{pubkey}/history", Public),
    ("get", "/v1/channels/own", Read),
    ("post", "/v1/channels/own", Admin),
    ("post", "/v1/channels/own/{channel}/close", Admin),
    ("post", "/v1/channels/own/policy", Admin),
    ("get", "/v1/wallet", Read),
    ("post", "/v1/wallet/address", Admin),
    ("post", "/v1/wallet/send", Admin),
    ("get", "/v1/invoices", Read),
    ("post", "/v1/invoices", Admin),
    ("get", "/v1/payments", Read),
    ("post", "/v1/payments", Admin),
    ("get", "/v1/payments/{id}", Read),
    ("get", "/v1/forwards", Read),
    ("get", "/v1/earnings", Read),
    ("get", "/v1/fees/plan", Read),
    ("post", "/v1/fees/simulate", Read),
    ("post", "/v1/fees/apply", Admin),
    ("get", "/v1/fees/history", Read),
    ("get", "/v1/analytics/nodes/{pubkey}/history", Public),
    ("get", "/v1/network/diff", Public),
];

/// The routes that answer as of an instant with the `at` query parameter (the OpenAPI
/// document must list it on exactly these; a test checks it).
pub const AT_ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/network/stats"),
    ("get", "/v1/nodes"),
    ("get", "/v1/nodes/{pubkey}"),
    ("get", "/v1/channels/{scid}"),
    ("post", "/v1/routes"),
    ("post", "/v1/routes/batch"),
    ("post", "/v1/routes/matrix"),
    ("post", "/v1/routes/mpp"),
    ("get", "/v1/analytics/centrality"),
    ("get", "/v1/analytics/nodes/{pubkey}"),
    ("get", "/v1/analytics/channels/{scid}"),
];

/// The application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", get(metrics_text))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/network/stats", get(routes::network::stats))
        .route("/v1/nodes", get(routes::nodes::list))
        .route("/v1/nodes/{pubkey}", get(routes::nodes::get))
        .route("/v1/channels/{scid}", get(routes::channels::get))
        .route("/v1/routes", post(routes::routing::route))
        .route("/v1/routes/batch", post(routes::routing::batch))
        .route("/v1/routes/matrix", post(routes::routing::matrix))
        .route("/v1/routes/mpp", post(routes::routing::mpp))
        .route(
            "/v1/analytics/centrality",
            get(routes::analytics::centrality),
        )
        .route("/v1/analytics/nodes/{pubkey}", get(routes::analytics::node))
        .route(
            "/v1/analytics/nodes/{pubkey}/history",
            get(routes::analytics::node_history),
        )
        .route(
            "/v1/analytics/channels/{scid}",
            get(routes::analytics::channel),
        )
        .route("/v1/node", get(routes::node::status))
        .route(
            "/v1/peers",
            get(routes::node::peers).post(routes::node::connect),
        )
        .route("/v1/network/history", get(routes::history::network))
        .route("/v1/network/churn", get(routes::history::churn))
        .route("/v1/network/diff", get(routes::network::diff))
        .route("/v1/channels/{scid}/history", get(routes::history::channel))
        .route("/v1/nodes/{pubkey}/history", get(routes::history::node))
        .route(
            "/v1/channels/own",
            get(routes::own::list_channels).post(routes::own::open_channel),
        )
        .route(
            "/v1/channels/own/{channel}/close",
            post(routes::own::close_channel),
        )
        .route("/v1/channels/own/policy", post(routes::own::set_policy))
        .route("/v1/wallet", get(routes::own::wallet))
        .route("/v1/wallet/address", post(routes::own::wallet_address))
        .route("/v1/wallet/send", post(routes::own::wallet_send))
        .route(
            "/v1/invoices",
            get(routes::own::list_invoices).post(routes::own::create_invoice),
        )
        .route(
            "/v1/payments",
            get(routes::own::list_payments).post(routes::own::pay),
        )
        .route("/v1/payments/{id}", get(routes::own::get_payment))
        .route("/v1/forwards", get(routes::own::forwards))
        .route("/v1/earnings", get(routes::own::earnings))
        .route("/v1/fees/plan", get(routes::fees::plan))
        .route("/v1/fees/simulate", post(routes::fees::simulate))
        .route("/v1/fees/apply", post(routes::fees::apply))
        .route("/v1/fees/history", get(routes::fees::history))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), limits::guard))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.limits.max_body_bytes,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::map_response(json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), track_metrics))
        .with_state(state)
}

/// Serves `router(state)` on `listener` over plain HTTP until `shutdown` resolves, then
/// drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given ([`tls::server_config`]). Both go through one
/// connection loop ([`tls::serve`]) with the header-read timeout of `state.limits`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.limits.header_read_timeout;
    let app = router(state);
    tls::serve(listener, tls, header_read_timeout, app, shutdown).await
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.set_pool(state.store.pool_status());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

async fn not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such route; see /v1/openapi.json")
}

async fn method_not_allowed() -> Response {
    let body = axum::Json(serde_json::json!({
        "error": {"code": "method_not_allowed", "message": "method not allowed on this route"}
    }));
    (StatusCode::METHOD_NOT_ALLOWED, body).into_response()
}

/// The most of a rejection's text kept in its JSON error.
const MAX_REJECTION_TEXT: usize = 4096;

/// axum's own rejections (a path segment that is not UTF-8, a body that is not JSON where a
/// JSON body is optional, ...) answer in plain text: give them the API's JSON error object,
/// keeping their status (fuzz/regressions/api_request).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), MAX_REJECTION_TEXT)
        .await
        .unwrap_or_default();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid_request",
    };
    let body = axum::Json(serde_json::json!({
        "error": {"code": code, "message": String::from_utf8_lossy(&text)}
    }));
    (status, body).into_response()
}

/// Counts requests and their latency per route template (bounded label values).
async fn track_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let m = &state.metrics;
    m.http_duration
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    response
}
