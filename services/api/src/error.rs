//! The one error type of every handler, rendered as `{"error": {"code", "message"}}`.

use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
/// Why a request failed; each variant maps to one HTTP status (see
/// [`ApiError::status_and_code`]).
pub enum ApiError {
    /// The request is malformed: 400 with a machine-readable code.
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code (`error.code` in the body).
        code: &'static str,
        /// Human-readable message (`error.message` in the body).
        message: String,
    },
    /// The thing asked for does not exist: 404.
    #[error("{message}")]
    NotFound {
        /// Machine-readable code (`error.code` in the body).
        code: &'static str,
        /// Human-readable message (`error.message` in the body).
        message: String,
    },
    /// Well-formed but cannot be done: 422.
    #[error("{message}")]
    Unprocessable {
        /// Machine-readable code (`error.code` in the body).
        code: &'static str,
        /// Human-readable message (`error.message` in the body).
        message: String,
    },
    /// An instant before the store's first graph data: 404 `before_first_data`, with the
    /// first available time in the error object (`first_available`, unix seconds, and
    /// `first_available_time`, RFC 3339).
    #[error("{message}")]
    BeforeData {
        /// Human-readable message (`error.message` in the body).
        message: String,
        /// The first instant with graph data.
        first_available: switchyard_store::time::Time,
    },
    /// Temporarily unavailable (e.g. still computing): 503 with a code.
    #[error("{message}")]
    Unavailable {
        /// Machine-readable code (`error.code` in the body).
        code: &'static str,
        /// Human-readable message (`error.message` in the body).
        message: String,
    },
    /// The request body is over the API's limit: 413.
    #[error("{0}")]
    BodyTooLarge(String),
    /// Missing or wrong bearer token: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// The action is refused whatever the credentials: 403.
    #[error("{message}")]
    Forbidden {
        /// Machine-readable code (`error.code` in the body).
        code: &'static str,
        /// Human-readable message (`error.message` in the body).
        message: String,
    },
    /// No graph is loaded yet: 503.
    #[error("the graph is not loaded yet")]
    NotReady,
    #[error(transparent)]
    /// A store failure: 503 when the database is unreachable, else 500.
    Store(#[from] switchyard_store::Error),
    #[error("{0}")]
    /// A fault inside the service: 500 (the message is logged, not returned).
    Internal(String),
}

impl ApiError {
    /// A 400 with `code` and `message`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
    /// A 404 with `code` and `message`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status and the machine-readable code of the error body.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            ApiError::BeforeData { .. } => (StatusCode::NOT_FOUND, "before_first_data"),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            ApiError::Store(e) if e.is_unavailable() => {
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store_error"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed");
            "internal error".to_owned()
        } else if let ApiError::Store(e) = &self {
            // Unavailable: say so, without the connection details.
            tracing::warn!(error = %e, "database unavailable");
            "the database is unavailable; retry later".to_owned()
        } else {
            self.to_string()
        };
        let mut error = json!({"code": code, "message": message});
        if let ApiError::BeforeData {
            first_available, ..
        } = &self
        {
            error["first_available"] = json!(first_available.0);
            error["first_available_time"] = json!(first_available.to_string());
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
