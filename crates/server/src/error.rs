//! API errors: every failure becomes JSON `{"detail": "...", "code": "..."}` with one HTTP
//! status per kind (the `detail` key keeps the reference's shape; `code` is stable API).
//!
//! Mapping: invalid input → 400 (422 for a body that parsed but did not fit the schema),
//! unknown ids → 404, state conflicts → 409, not allowed → 403 (governance denials carry their
//! deny code), rate limited → 429 with `Retry-After`, storage failures → 503, anything else →
//! 500 with a generic body (the cause goes to the log only).

use std::time::Duration;

use ahv_core::engine::EngineError;
use ahv_runtime::RuntimeError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to an API caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable message.
    pub detail: String,
    /// Seconds to wait before retrying (429 only).
    pub retry_after: Option<u64>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Human-readable message.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
}

impl ApiError {
    /// An error with the given status, code and detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid_input`.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 401 `unauthorized` (sent with `WWW-Authenticate: Bearer`).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 409 `conflict`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 500 with a generic body; `cause` is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal server error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(detail: impl Into<String>, retry_after: Duration) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail);
        e.retry_after = Some(retry_secs(retry_after));
        e
    }
}

/// Whole seconds to wait, rounded up, at least 1.
fn retry_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        match e {
            EngineError::Invalid(_) => Self::new(StatusCode::BAD_REQUEST, code, detail),
            EngineError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, code, detail),
            EngineError::Conflict(_) => Self::new(StatusCode::CONFLICT, code, detail),
            EngineError::Forbidden(_) | EngineError::Denied(_) => {
                Self::new(StatusCode::FORBIDDEN, code, detail)
            }
            EngineError::RateLimited { retry_after, .. } => {
                let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail);
                e.retry_after = Some(retry_secs(retry_after));
                e
            }
            _ => Self::internal(detail),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Engine(e) => e.into(),
            RuntimeError::Storage(m) => {
                tracing::error!(error = %m, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "storage is unavailable; the hypervisor refuses changes",
                )
            }
            RuntimeError::Unavailable(m) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            detail: self.detail,
            code: self.code,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use ahv_core::engine::DenyCode;

    #[test]
    fn engine_errors_map_to_statuses_and_codes() {
        let e: ApiError = EngineError::denied(DenyCode::RingInsufficient, "no").into();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::FORBIDDEN, "ring_insufficient")
        );
        let e: ApiError = EngineError::not_found("saga", "x").into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: ApiError = EngineError::Conflict("c".into()).into();
        assert_eq!(e.status, StatusCode::CONFLICT);
        let e: ApiError = EngineError::RateLimited {
            retry_after: Duration::from_millis(1200),
            reason: "slow".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.retry_after),
            (StatusCode::TOO_MANY_REQUESTS, Some(2))
        );
        let e: ApiError = RuntimeError::Storage("disk".into()).into();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
