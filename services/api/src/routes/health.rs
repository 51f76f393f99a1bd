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

/// How long readiness waits for the database: a database that is down must be reported
/// promptly, not after the pool's connect timeout.
const DATABASE_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers (within [`DATABASE_CHECK`]) and a graph is loaded.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = matches!(
        tokio::time::timeout(DATABASE_CHECK, state.store.ping()).await,
        Ok(Ok(_))
    );
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
