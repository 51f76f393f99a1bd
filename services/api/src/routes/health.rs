use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers and a graph is loaded.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.store.ping().await.is_ok();
    let graph = state.graph();
    let ready = database && graph.is_some();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "database": database,
            "graph_loaded": graph.is_some(),
            "graph_version": graph.map(|g| g.version),
        })),
    )
}
