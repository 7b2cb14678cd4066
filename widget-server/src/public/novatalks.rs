//! The Novatalks widget REST dialect, served beside the native API:
//! `POST /widget/conversations?website_token=` (answering the `pubsubToken`),
//! `GET|POST /widget/conversations/{id}/messages?website_token=` with the
//! token in `Auth-Widget`. Messages come in the `/ws` event shape.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_contact, seq_of};
use crate::chat::sender_name;
use crate::domain::{random_token, ClientKey, MessageText};
use crate::error::{AppError, AppResult};
use crate::extract::{secrets_match, JsonBody, QueryParams};
use crate::hub::message_event;
use crate::store::{Cursor, Session, Website};
use crate::AppState;

/// Messages per page, as the reference says.
const PAGE: i64 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/widget/conversations", post(create))
        .route("/widget/conversations/{id}/messages", get(list).post(send))
}

#[derive(Deserialize)]
struct Query {
    website_token: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

async fn website(state: &AppState, q: &Query) -> AppResult<std::sync::Arc<Website>> {
    let token = q
        .website_token
        .as_deref()
        .ok_or_else(|| AppError::Unauthorized("missing_website_token", "pass website_token in the query".into()))?;
    let website = state
        .websites
        .get(state.store.as_ref(), token)
        .await?
        .ok_or_else(|| AppError::Unauthorized("invalid_api_key", "website_token names no website".into()))?;
    state.limiter.check_website(&website.id)?;
    Ok(website)
}

/// The conversation `id` of the website, proven by `Auth-Widget`.
async fn conversation(state: &AppState, website: &Website, id: &str, headers: &HeaderMap) -> AppResult<Session> {
    let session = state
        .store
        .session_by_id(id)
        .await?
        .filter(|s| s.website_id == website.id)
        .ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
    match headers.get("auth-widget").and_then(|v| v.to_str().ok()) {
        Some(token) if secrets_match(token.trim(), &session.token) => Ok(session),
        Some(_) => {
            Err(AppError::Forbidden("invalid_session_token", "Auth-Widget is not this conversation's token".into()))
        }
        None => Err(AppError::Unauthorized("session_token_required", "send the pubsubToken as Auth-Widget".into())),
    }
}

#[derive(Deserialize)]
struct CreateRequest {
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<Query>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> AppResult<Json<Value>> {
    let website = website(&state, &q).await?;
    let contact = parse_contact(Some(&req.name), req.phone_number.as_deref(), req.email.as_deref())?;
    let user_session_id = ClientKey::parse("userSessionId", &random_token())?;
    let (session, created) = state.chat.open_session(&website, user_session_id.as_str()).await?;
    let session = state.chat.update_contact(&website, session, &contact).await?;
    if created {
        state.chat.announce(&session).await;
    }
    Ok(Json(json!({
        "payload": {
            "contact": {
                "id": session.id,
                "name": session.user_name,
                "email": session.user_email,
                "phone_number": session.user_phone,
                "custom_attributes": {},
            },
            "contactInbox": { "pubsubToken": session.token },
            "account_id": 1,
            "conversation": { "id": session.id },
        }
    })))
}

async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    headers: HeaderMap,
) -> AppResult<Json<Vec<Value>>> {
    let website = website(&state, &q).await?;
    let session = conversation(&state, &website, &id, &headers).await?;
    let cursor = match (q.before.as_deref(), q.after.as_deref()) {
        (None, None) => Cursor::Latest,
        (Some(before), None) => Cursor::BeforeSeq(seq_of(&state, &session.id, "before", before).await?),
        (None, Some(after)) => Cursor::AfterSeq(seq_of(&state, &session.id, "after", after).await?),
        (Some(_), Some(_)) => {
            return Err(AppError::BadRequest("conflicting_cursors", "use before or after, not both".into()))
        }
    };
    let page = state.store.list_messages(&session.id, cursor, PAGE).await?;
    let events = page
        .messages
        .iter()
        .map(|m| {
            let event = message_event(&session, m, sender_name(&website, &session, m.sender, None));
            serde_json::to_value(event).unwrap_or(Value::Null)
        })
        .collect();
    Ok(Json(events))
}

#[derive(Deserialize)]
struct SendRequest {
    message: NewMessage,
}

#[derive(Deserialize)]
struct NewMessage {
    content: String,
    #[serde(default)]
    echo_id: Option<String>,
}

async fn send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    headers: HeaderMap,
    body: Result<JsonBody<SendRequest>, AppError>,
) -> AppResult<StatusCode> {
    let website = website(&state, &q).await?;
    let session = conversation(&state, &website, &id, &headers).await?;
    let multipart =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with("multipart/"));
    if multipart {
        return Err(AppError::Validation("attachments_unsupported", "this server does not accept attachments".into()));
    }
    let JsonBody(req) = body?;
    let text = MessageText::parse(&req.message.content, state.settings.max_message_chars)?;
    let echo = req.message.echo_id.as_deref().map(|e| ClientKey::parse("echo_id", e)).transpose()?;
    state.chat.visitor_message(&website, &session, &text, echo.as_ref()).await?;
    Ok(StatusCode::OK)
}
