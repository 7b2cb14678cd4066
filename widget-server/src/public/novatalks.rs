//! The Novatalks widget REST dialect, served beside the native API:
//! `POST /widget/conversations?website_token=` (answering the `pubsubToken`),
//! `GET|POST /widget/conversations/{id}/messages?website_token=` with the
//! token in `Auth-Widget`. Messages come in the `/ws` event shape.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use natter_protocol::ws::MessageEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{parse_contact, seq_of};
use crate::chat::sender_name;
use crate::domain::{random_token, ClientKey, MessageText};
use crate::error::{AppError, AppResult};
use crate::extract::{secrets_match, JsonBody, QueryParams};
use crate::hub::message_event;
use crate::openapi::PublicError;
use crate::store::{Cursor, Session, Website};
use crate::AppState;

/// Messages per page, as the reference says.
const PAGE: i64 = 20;
/// Messages "get all messages" (no cursor) answers at most.
const ALL_PAGE: i64 = 100;

pub fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, messages) = routes!(list, send);
    // Messages may carry files: `read_form` bounds them, `json_within` the JSON.
    OpenApiRouter::new().routes(routes!(create)).routes((
        schemas,
        paths,
        messages.layer(axum::extract::DefaultBodyLimit::disable()),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Query {
    /// The website's public token.
    website_token: Option<String>,
    /// Messages before this one (id or seq), newest 20.
    before: Option<String>,
    /// Messages after this one (id or seq), oldest 20.
    after: Option<String>,
}

/// The answer to a new conversation, in the reference's shape.
#[derive(Serialize, ToSchema)]
struct Created {
    payload: CreatedPayload,
}

#[derive(Serialize, ToSchema)]
struct CreatedPayload {
    contact: CreatedContact,
    #[serde(rename = "contactInbox")]
    contact_inbox: ContactInbox,
    account_id: i64,
    conversation: ConversationRef,
}

#[derive(Serialize, ToSchema)]
struct CreatedContact {
    id: String,
    name: Option<String>,
    email: Option<String>,
    phone_number: Option<String>,
    custom_attributes: Value,
}

#[derive(Serialize, ToSchema)]
struct ContactInbox {
    /// The conversation's token: send it as `Auth-Widget` and as the `/ws` `pubsub_token`.
    #[serde(rename = "pubsubToken")]
    pubsub_token: String,
}

#[derive(Serialize, ToSchema)]
struct ConversationRef {
    id: String,
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

#[derive(Deserialize, ToSchema)]
struct CreateRequest {
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
}

#[utoipa::path(post, path = "/widget/conversations", tag = "novatalks",
    params(Query), request_body = CreateRequest,
    responses(
        (status = 200, description = "The new conversation and its token", body = Created),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn create(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<Query>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> AppResult<Json<Created>> {
    let website = website(&state, &q).await?;
    let contact = parse_contact(Some(&req.name), req.phone_number.as_deref(), req.email.as_deref())?;
    let user_session_id = ClientKey::parse("userSessionId", &random_token())?;
    let (session, created) = state.chat.open_session(&website, user_session_id.as_str()).await?;
    let session = state.chat.update_contact(&website, session, &contact).await?;
    if created {
        state.chat.announce(&session).await;
    }
    Ok(Json(Created {
        payload: CreatedPayload {
            contact: CreatedContact {
                id: session.id.clone(),
                name: session.user_name,
                email: session.user_email,
                phone_number: session.user_phone,
                custom_attributes: json!({}),
            },
            contact_inbox: ContactInbox { pubsub_token: session.token },
            account_id: 1,
            conversation: ConversationRef { id: session.id },
        },
    }))
}

#[utoipa::path(get, path = "/widget/conversations/{id}/messages", tag = "novatalks",
    security(("widget_token" = [])),
    params(("id" = String, Path, description = "The conversation's id"), Query),
    responses(
        (status = 200, description = "Without a cursor the newest 100 messages, else a page of 20, oldest first, in the `/ws` event shape", body = Vec<MessageEvent>),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    headers: HeaderMap,
) -> AppResult<Json<Vec<MessageEvent>>> {
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
    // Without a cursor, "all messages" (as pollers use it): the newest 100.
    let limit = if cursor == Cursor::Latest { ALL_PAGE } else { PAGE };
    let page = state.store.list_messages(&session.id, cursor, limit).await?;
    state.chat.delivered_all(&website, &page.messages, true);
    let events = page
        .messages
        .iter()
        .map(|m| message_event(&session, m, sender_name(&website, &session, m.sender, None), &state.files.links))
        .collect();
    Ok(Json(events))
}

#[derive(Deserialize, ToSchema)]
struct SendRequest {
    message: NewMessage,
}

#[derive(Deserialize, ToSchema)]
struct NewMessage {
    #[serde(default)]
    content: String,
    #[serde(default)]
    echo_id: Option<String>,
}

#[utoipa::path(post, path = "/widget/conversations/{id}/messages", tag = "novatalks",
    security(("widget_token" = [])),
    params(("id" = String, Path, description = "The conversation's id"), Query),
    request_body = SendRequest,
    responses(
        (status = 200, description = "Stored; it arrives on `/ws` as `message.created`"),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> AppResult<StatusCode> {
    let website = website(&state, &q).await?;
    let session = conversation(&state, &website, &id, &headers).await?;
    // The reference's form: `attachments[]`, `message[content]` (optional
    // with files), `message[echo_id]`, and `conversationId`, `contactId`,
    // `accountId`, which the path and the token already say.
    let (content, echo, files) = if crate::files::is_multipart(&headers) {
        let (form, kept) = crate::files::upload_form(&state, &website, &session, &headers, req).await?;
        let field = |name: &str| form.field(name).map(str::to_owned);
        (
            field("message[content]").unwrap_or_default(),
            field("message[echo_id]"),
            kept.into_iter().map(|a| a.id).collect(),
        )
    } else {
        let req: SendRequest = crate::extract::json_within(req, state.settings.max_body_bytes).await?;
        (req.message.content, req.message.echo_id, Vec::new())
    };
    let text = MessageText::parse_with_files(&content, state.settings.max_message_chars, files.len())?;
    let echo = echo.as_deref().map(|e| ClientKey::parse("echo_id", e)).transpose()?;
    state.chat.visitor_message(&website, &session, &text, &files, echo.as_ref()).await?;
    Ok(StatusCode::OK)
}
