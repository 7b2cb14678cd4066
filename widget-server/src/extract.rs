//! Request extractors that answer bad input in the API's own envelope: JSON
//! bodies, query strings, the website key and the session token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::store::{Session, Website};
use crate::AppState;

/// A JSON body parsed whatever its content type (so `text/plain` beacons work);
/// syntax errors are 400, wrong fields 422, oversize bodies 413.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T>
where
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let limit = AppState::from_ref(state).settings.max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(limit)
            } else {
                AppError::BadRequest("unreadable_body", rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => AppError::Validation("invalid_field", e.to_string()),
            _ => AppError::BadRequest("invalid_json", format!("request body is not valid JSON: {e}")),
        })
    }
}

/// Query parameters; a malformed query is a 400 in the envelope.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(QueryParams)
            .map_err(|e| AppError::BadRequest("invalid_query", format!("bad query string: {e}")))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Compares secrets in time independent of where they differ.
pub fn secrets_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The website named by `X-API-Key`; `X-API-Secret`, when sent, must match.
/// Also applies the per-website rate limit.
pub struct WebsiteAuth(pub Arc<Website>);

impl<S: Send + Sync> FromRequestParts<S> for WebsiteAuth
where
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        let key = header(&parts.headers, "x-api-key")
            .ok_or_else(|| AppError::Unauthorized("missing_api_key", "send the website token as X-API-Key".into()))?;
        let website = state
            .websites
            .get(state.store.as_ref(), key)
            .await?
            .ok_or_else(|| AppError::Unauthorized("invalid_api_key", "X-API-Key does not name a website".into()))?;
        if let Some(secret) = header(&parts.headers, "x-api-secret") {
            if !secrets_match(secret, &website.api_secret) {
                return Err(AppError::Unauthorized("invalid_api_secret", "X-API-Secret does not match".into()));
            }
        }
        state.limiter.check_website(&website.id)?;
        Ok(Self(website))
    }
}

/// A session of the authenticated website, proven by its session token
/// (`X-Session-Token` or `Auth-Widget`) unless the website is in legacy mode.
pub struct SessionAuth {
    pub website: Arc<Website>,
    pub session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for SessionAuth
where
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let WebsiteAuth(website) = WebsiteAuth::from_request_parts(parts, state).await?;
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::BadRequest("invalid_path", e.body_text()))?;
        let session_id = params.into_iter().map(|(_, v)| v).next().unwrap_or_default();
        let app = AppState::from_ref(state);
        let session = app
            .store
            .session_by_id(&session_id)
            .await?
            .filter(|s| s.website_id == website.id)
            .ok_or_else(|| AppError::NotFound(format!("no session {session_id}")))?;
        let token = header(&parts.headers, "x-session-token").or_else(|| header(&parts.headers, "auth-widget"));
        match token {
            Some(t) if secrets_match(t, &session.token) => {}
            Some(_) => {
                return Err(AppError::Forbidden(
                    "invalid_session_token",
                    "the session token is not this session's".into(),
                ))
            }
            None if website.legacy_mode => {}
            None => {
                return Err(AppError::Unauthorized(
                    "missing_session_token",
                    "send the session token from the session response as X-Session-Token".into(),
                ))
            }
        }
        Ok(Self { website, session })
    }
}
