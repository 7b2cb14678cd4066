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
        parse_json(&bytes).map(JsonBody)
    }
}

/// Syntax errors are 400, wrong fields 422.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AppError::Validation("invalid_field", e.to_string()),
        _ => AppError::BadRequest("invalid_json", format!("request body is not valid JSON: {e}")),
    })
}

/// A JSON body of at most `limit` bytes, for routes that lift the default
/// body limit because they also take files.
pub async fn json_within<T: DeserializeOwned>(req: Request, limit: usize) -> Result<T, AppError> {
    let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| AppError::PayloadTooLarge(limit))?;
    parse_json(&bytes)
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
pub struct WebsiteAuth {
    pub website: Arc<Website>,
    /// Whether the request proved the website's `apiSecret` (server to server).
    pub secret: bool,
}

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
        let secret = match header(&parts.headers, "x-api-secret") {
            Some(secret) if secrets_match(secret, &website.api_secret) => true,
            Some(_) => return Err(AppError::Unauthorized("invalid_api_secret", "X-API-Secret does not match".into())),
            None => false,
        };
        state.limiter.check_website(&website.id)?;
        Ok(Self { website, secret })
    }
}

/// The session token a request carries: `X-Session-Token`, or `Auth-Widget`.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    header(headers, "x-session-token").or_else(|| header(headers, "auth-widget"))
}

/// What a request offers as the right to act in one session.
#[derive(Debug, Clone, Copy)]
pub struct Credential<'a> {
    /// A session token, from a header, the body or the query.
    pub token: Option<&'a str>,
    /// Whether the website's `apiSecret` was proven.
    pub secret: bool,
}

impl Credential<'_> {
    /// Lets the request into `session` of `website`, or says why not: a token
    /// that is not the session's is 403, no credential at all is 401. The
    /// website's secret or its legacy mode stand in for the token.
    pub fn admits(&self, website: &Website, session: &Session) -> Result<(), AppError> {
        self.admits_token(website, &session.token)
    }

    /// [`Credential::admits`] for a session whose token is `session_token`.
    pub fn admits_token(&self, website: &Website, session_token: &str) -> Result<(), AppError> {
        match self.token {
            Some(t) if secrets_match(t, session_token) => Ok(()),
            Some(_) => {
                Err(AppError::Forbidden("invalid_session_token", "the session token is not this session's".into()))
            }
            None if self.secret || website.legacy_mode => Ok(()),
            None => Err(AppError::Unauthorized(
                "session_token_required",
                "send the session token from the session response as X-Session-Token".into(),
            )),
        }
    }
}

/// The session named in the path of the website in `X-API-Key`, proven by
/// its session token (`X-Session-Token` or `Auth-Widget`), the website's
/// secret, or legacy mode; another website's session is 404. It is checked
/// against the session cache, without reading the session itself: for
/// requests that need only its id.
pub struct SessionKeyAuth {
    pub website: Arc<Website>,
    pub key: Arc<crate::SessionKey>,
}

impl<S: Send + Sync> FromRequestParts<S> for SessionKeyAuth
where
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let WebsiteAuth { website, secret } = WebsiteAuth::from_request_parts(parts, state).await?;
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::BadRequest("invalid_path", e.body_text()))?;
        let session_id = params.into_iter().map(|(_, v)| v).next().unwrap_or_default();
        let app = AppState::from_ref(state);
        let key = app
            .sessions
            .get(app.store.as_ref(), &session_id)
            .await?
            .filter(|k| k.website_id == website.id)
            .ok_or_else(|| AppError::NotFound(format!("no session {session_id}")))?;
        let credential = Credential { token: session_token(&parts.headers), secret };
        credential.admits_token(&website, &key.token)?;
        Ok(Self { website, key })
    }
}

/// [`SessionKeyAuth`] with the session as it is now, for requests that act on it.
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
        let SessionKeyAuth { website, key } = SessionKeyAuth::from_request_parts(parts, state).await?;
        let app = AppState::from_ref(state);
        let session = app
            .store
            .session_by_id(&key.id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no session {}", key.id)))?;
        Ok(Self { website, session })
    }
}
