//! The OmniSupport widget dialect: `POST /widget/v1/init`,
//! `POST /widget/v1/messages` and `GET /widget/v1/messages`, keyed by the
//! website's `api_key` and the browser's `session_id`, answering `{data}` and
//! `{detail, code}` errors.
//!
//! The dialect's design makes `session_id` a bearer secret: whoever knows it
//! opens the session. Its sessions therefore live apart from every other
//! dialect's (stored under [`SESSION_PREFIX`], which no native
//! `userSessionId` can contain), so a `session_id` never reaches a session
//! made elsewhere. `init` also answers a `session_token` that later calls may
//! send instead of the `session_id` (`session_token` in the body or query, or
//! `X-Session-Token`).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use natter_protocol::operator::{Item, List, OperatorError, OperatorMessage};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_contact;
use crate::chat::recent;
use crate::domain::{ClientKey, MessageText};
use crate::error::{AppError, OpResult};
use crate::extract::{secrets_match, session_token, JsonBody, QueryParams};
use crate::operator::conversations::{operator_message, MessagesQuery};
use crate::store::{Session, Website};
use crate::AppState;

/// What this dialect's `session_id`s are stored under; `/` is not allowed in
/// a native `userSessionId`.
pub const SESSION_PREFIX: &str = "omni/";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(init)).routes(routes!(send, list))
}

/// The website of `api_key`, if a browser's `Origin` is one it allows (the
/// key travels in the body or query, out of the CORS layer's sight).
async fn website(state: &AppState, api_key: &str, headers: &HeaderMap) -> Result<std::sync::Arc<Website>, AppError> {
    let website = state
        .websites
        .get(state.store.as_ref(), api_key)
        .await?
        .ok_or_else(|| AppError::Unauthorized("invalid_api_key", "api_key names no website".into()))?;
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !website.allows_origin(origin) {
            return Err(AppError::Forbidden("origin_not_allowed", format!("{origin} may not use this website's chat")));
        }
    }
    state.limiter.check_website(&website.id)?;
    Ok(website)
}

/// How a request names its session: the dialect's `session_id`, or the
/// `session_token` that `init` answered.
struct SessionKey<'a> {
    session_id: Option<&'a str>,
    token: Option<&'a str>,
}

impl SessionKey<'_> {
    /// The visitor's session of this dialect and whether it is new; with
    /// `create`, a new `session_id` starts one.
    async fn open(&self, state: &AppState, website: &Website, create: bool) -> Result<(Session, bool), AppError> {
        if let Some(token) = self.token {
            let session = state
                .store
                .session_by_token(token)
                .await?
                .filter(|s| s.website_id == website.id && s.user_session_id.starts_with(SESSION_PREFIX))
                .ok_or_else(|| {
                    AppError::Forbidden("invalid_session_token", "session_token names no session of this widget".into())
                })?;
            if let Some(id) = self.session_id {
                if !secrets_match(&format!("{SESSION_PREFIX}{id}"), &session.user_session_id) {
                    return Err(AppError::Forbidden(
                        "invalid_session_token",
                        "session_token belongs to another session_id".into(),
                    ));
                }
            }
            return Ok((session, false));
        }
        let id = self.session_id.ok_or_else(|| {
            AppError::Unauthorized("session_token_required", "send session_id or session_token".into())
        })?;
        let key = format!("{SESSION_PREFIX}{}", ClientKey::parse("session_id", id)?.as_str());
        if create {
            return Ok(state.chat.open_session(website, &key).await?);
        }
        let session = state
            .store
            .session_by_user_session_id(&website.id, &key)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no session {id}")))?;
        Ok((session, false))
    }
}

/// The first non-empty of the given tokens.
fn first_token(candidates: [Option<&str>; 2]) -> Option<&str> {
    candidates.into_iter().flatten().map(str::trim).find(|t| !t.is_empty())
}

#[derive(Deserialize, ToSchema)]
pub struct InitRequest {
    api_key: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    session_token: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `data` of `init`.
#[derive(Serialize, ToSchema)]
pub struct InitData {
    conversation_id: String,
    /// Send it back as `session_token` (or `X-Session-Token`) to prove the session is yours.
    session_token: String,
    status: String,
    /// The newest messages (at most 100), oldest first.
    messages: Vec<OperatorMessage>,
    /// Older messages exist: page back with `GET /widget/v1/messages?before=`.
    has_more: bool,
}

#[utoipa::path(post, path = "/widget/v1/init", tag = "omnisupport-widget",
    request_body = InitRequest,
    responses(
        (status = 200, description = "The visitor's conversation, new or resumed", body = Item<InitData>),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
async fn init(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<InitRequest>, AppError>,
) -> OpResult<Json<Item<InitData>>> {
    let JsonBody(req) = body?;
    let contact = parse_contact(req.name.as_deref(), req.phone.as_deref(), req.email.as_deref())?;
    let website = website(&state, &req.api_key, &headers).await?;
    let key = SessionKey {
        session_id: req.session_id.as_deref(),
        token: first_token([req.session_token.as_deref(), session_token(&headers)]),
    };
    let (session, created) = key.open(&state, &website, true).await?;
    let session = state.chat.update_contact(&website, session, &contact).await?;
    if created {
        state.chat.announce(&session).await;
    }
    let page = recent(state.store.as_ref(), &session.id).await?;
    state.chat.delivered_all(&website, &page.messages, true);
    let messages: Vec<OperatorMessage> =
        page.messages.iter().map(|m| operator_message(m, &state.files.links)).collect();
    Ok(Json(Item {
        data: InitData {
            conversation_id: session.id.clone(),
            session_token: session.token.clone(),
            status: session.status.as_str().to_owned(),
            messages,
            has_more: page.has_more,
        },
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct SendRequest {
    api_key: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    session_token: Option<String>,
    content: String,
    #[serde(default)]
    echo_id: Option<String>,
}

#[utoipa::path(post, path = "/widget/v1/messages", tag = "omnisupport-widget",
    request_body = SendRequest,
    responses(
        (status = 201, description = "Stored", body = Item<OperatorMessage>),
        (status = 200, description = "A repeated echo_id: the message stored before", body = Item<OperatorMessage>),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<SendRequest>, AppError>,
) -> OpResult<(StatusCode, Json<Item<OperatorMessage>>)> {
    let JsonBody(req) = body?;
    let text = MessageText::parse(&req.content, state.settings.max_message_chars)?;
    let echo = req.echo_id.as_deref().map(|e| ClientKey::parse("echo_id", e)).transpose()?;
    let website = website(&state, &req.api_key, &headers).await?;
    let key = SessionKey {
        session_id: req.session_id.as_deref(),
        token: first_token([req.session_token.as_deref(), session_token(&headers)]),
    };
    let (session, new_session) = key.open(&state, &website, true).await?;
    let (message, created) = state.chat.visitor_message(&website, &session, &text, &[], echo.as_ref()).await?;
    if new_session {
        state.chat.announce(&session).await;
    }
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Item { data: operator_message(&message, &state.files.links) })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    api_key: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    session_token: Option<String>,
    /// `before` and `limit`, as for an operator's message list.
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/widget/v1/messages", tag = "omnisupport-widget",
    params(ListQuery),
    responses(
        (status = 200, description = "The newest `limit` messages before `before`, oldest first", body = List<OperatorMessage>),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<QueryParams<ListQuery>, AppError>,
) -> OpResult<Json<List<OperatorMessage>>> {
    let QueryParams(q) = q?;
    let website = website(&state, &q.api_key, &headers).await?;
    let key = SessionKey {
        session_id: q.session_id.as_deref(),
        token: first_token([q.session_token.as_deref(), session_token(&headers)]),
    };
    let (session, _) = key.open(&state, &website, false).await?;
    let window = MessagesQuery { before: q.before, limit: q.limit };
    let (messages, views) = window.page(state.store.as_ref(), &state.files.links, &session.id).await?;
    state.chat.delivered_all(&website, &messages, true);
    Ok(Json(List { data: views, meta: None }))
}
