//! Bearer-token check for endpoints that change the node. Read-only endpoints stay open.

use axum::http::{header, HeaderMap};

use crate::error::ApiError;
use crate::state::AppState;

/// Compares without an early exit, so response time does not reveal a token prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Passes when `Authorization: Bearer <token>` matches the configured token.
pub fn require_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.api_token.as_deref() else {
        return Err(ApiError::Forbidden {
            code: "auth_not_configured",
            message: "no API token is configured, so changes are refused".into(),
        });
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("invalid API token".into())),
        None => Err(ApiError::Unauthorized(
            "this endpoint needs `Authorization: Bearer <token>` (the token is in the data directory's api_token file)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
