//! Extractors whose rejections are JSON [`ApiError`]s, never axum's plain-text bodies.
//!
//! - [`ApiJson`]: body as JSON regardless of `Content-Type`; syntax errors → 400
//!   `malformed_json`, well-formed JSON that does not fit (wrong type, missing field, unknown
//!   key, out-of-range value) → 422 `validation_error`, too large → 413 `payload_too_large`.
//! - [`ApiPath`] / [`ApiQuery`]: bad path or query parameters → 400 `invalid_input`.
//! - [`Principal`]: set by the auth middleware; absent → 401.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::auth::Principal;
use crate::error::ApiError;

/// A JSON body.
#[derive(Debug, Clone)]
pub(crate) struct ApiJson<T>(pub T);

/// Reads the body, mapping an over-limit body to 413 and other failures to 400.
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body is larger than the limit",
            )
        } else {
            ApiError::invalid(format!("cannot read request body: {}", r.body_text()))
        }
    })
}

/// Parses JSON bytes into `T` with the error mapping described in the module docs.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                format!("invalid request body: {e}"),
            ),
            Category::Eof | Category::Syntax | Category::Io => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("malformed JSON: {e}"),
            ),
        }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Path parameters.
#[derive(Debug, Clone)]
pub(crate) struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|r| ApiError::invalid(format!("invalid path parameter: {}", r.body_text())))
    }
}

/// Query parameters.
#[derive(Debug, Clone)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| ApiQuery(t))
            .map_err(|r| ApiError::invalid(format!("invalid query: {}", r.body_text())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))
    }
}

/// A JSON body that may be absent: an empty body is `T::default()`.
#[derive(Debug, Clone)]
pub(crate) struct ApiOptJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for ApiOptJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiOptJson(T::default()));
        }
        parse_json(&bytes).map(ApiOptJson)
    }
}
