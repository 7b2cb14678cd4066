//! The OmniSupport widget dialect: `POST /widget/v1/init`,
//! `POST /widget/v1/messages` and `GET /widget/v1/messages`, keyed by the
//! website's `api_key` and the browser's `session_id` (the native
//! `userSessionId`), answering `{data}` and `{detail, code}` errors.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use natter_protocol::operator::{Item, List, OperatorMessage};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{open_session, visitor_message, Contact};
use crate::chat::history;
use crate::domain::{ClientKey, MessageText};
use crate::error::{AppError, OpResult};
use crate::extract::{JsonBody, QueryParams};
use crate::operator::conversations::operator_message;
use crate::store::{Session, Website};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/widget/v1/init", post(init)).route("/widget/v1/messages", post(send).get(list))
}

async fn website(state: &AppState, api_key: &str) -> Result<std::sync::Arc<Website>, AppError> {
    let website = state
        .websites
        .get(state.store.as_ref(), api_key)
        .await?
        .ok_or_else(|| AppError::Unauthorized("invalid_api_key", "api_key names no website".into()))?;
    state.limiter.check_website(&website.id)?;
    Ok(website)
}

/// The visitor's session, created on first use.
async fn session(
    state: &AppState,
    api_key: &str,
    session_id: &str,
) -> Result<(std::sync::Arc<Website>, Session), AppError> {
    let website = website(state, api_key).await?;
    let key = ClientKey::parse("session_id", session_id)?;
    let (session, _) = open_session(state, &website, key.as_str()).await?;
    Ok((website, session))
}

#[derive(Deserialize)]
pub struct InitRequest {
    api_key: String,
    session_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

async fn init(
    State(state): State<AppState>,
    body: Result<JsonBody<InitRequest>, AppError>,
) -> OpResult<Json<Item<Value>>> {
    let JsonBody(req) = body?;
    let contact = Contact::parse(req.name.as_deref(), req.phone.as_deref(), req.email.as_deref())?;
    let (website, session) = session(&state, &req.api_key, &req.session_id).await?;
    let session = contact.apply(&state, &website, session).await?;
    let messages: Vec<OperatorMessage> =
        history(state.store.as_ref(), &session.id).await?.iter().map(operator_message).collect();
    Ok(Json(Item {
        data: json!({
            "conversation_id": session.id,
            "session_token": session.token,
            "status": session.status.as_str(),
            "messages": messages,
        }),
    }))
}

#[derive(Deserialize)]
pub struct SendRequest {
    api_key: String,
    session_id: String,
    content: String,
    #[serde(default)]
    echo_id: Option<String>,
}

async fn send(
    State(state): State<AppState>,
    body: Result<JsonBody<SendRequest>, AppError>,
) -> OpResult<(StatusCode, Json<Item<OperatorMessage>>)> {
    let JsonBody(req) = body?;
    let text = MessageText::parse(&req.content, state.settings.max_message_chars)?;
    let echo = req.echo_id.as_deref().map(|e| ClientKey::parse("echo_id", e)).transpose()?;
    let (website, session) = session(&state, &req.api_key, &req.session_id).await?;
    let (message, created) = visitor_message(&state, &website, &session, &text, echo.as_ref()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Item { data: operator_message(&message) })))
}

#[derive(Deserialize)]
pub struct ListQuery {
    api_key: String,
    session_id: String,
}

async fn list(
    State(state): State<AppState>,
    q: Result<QueryParams<ListQuery>, AppError>,
) -> OpResult<Json<List<OperatorMessage>>> {
    let QueryParams(q) = q?;
    let website = website(&state, &q.api_key).await?;
    let session = state
        .store
        .session_by_user_session_id(&website.id, &q.session_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no session {}", q.session_id)))?;
    let data = history(state.store.as_ref(), &session.id).await?.iter().map(operator_message).collect();
    Ok(Json(List { data, meta: None }))
}
