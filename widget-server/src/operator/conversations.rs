//! The operator inbox: list and read conversations, reply, close, reopen and
//! assign. Status changes reach the visitor's widget live.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{
    Conversation, CustomerRef, Item, LastMessage, List, ListMeta, OperatorMessage, SendOperatorMessage,
};
use natter_protocol::{Sender, SessionStatus};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::AuthOperator;
use crate::domain::MessageText;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::{JsonBody, QueryParams};
use crate::files::Links;
use crate::store::{
    bot_flags, ChannelKind, ChannelSend, ConversationFilter, ConversationRow, Cursor, Message, Operator, Session,
};
use crate::time::{iso, now_ms, parse_iso};
use crate::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// `pending` (not closed, unassigned), `open` (not closed, assigned) or `closed`.
    status: Option<String>,
    /// `widget`, `telegram` or `whatsapp`.
    channel: Option<String>,
    /// `true`: only conversations the AI handed over to a person.
    needs_human: Option<bool>,
    assigned_to: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub(super) fn conversation(row: &ConversationRow) -> Conversation {
    let s = &row.session;
    let status = match s.status {
        SessionStatus::Active if s.manager_id.is_none() => "pending",
        SessionStatus::Active => "open",
        SessionStatus::Closed | SessionStatus::Archived => "closed",
    };
    Conversation {
        id: s.id.clone(),
        customer: CustomerRef {
            id: s.customer_id.clone(),
            name: s.user_name.clone(),
            email: s.user_email.clone(),
            phone: s.user_phone.clone(),
        },
        channel: s.channel.as_str().into(),
        status: status.into(),
        last_message: match (&row.last_body, row.last_ms) {
            (Some(content), Some(ms)) => Some(LastMessage { content: content.clone(), created_at: iso(ms) }),
            _ => None,
        },
        assigned_to: s.manager_id.clone(),
        created_at: iso(s.created_ms),
        updated_at: iso(s.updated_ms),
        website_id: Some(s.website_id.clone()),
        needs_human: s.bot_state & (bot_flags::NEEDS_HUMAN | bot_flags::AI_OFF) != 0,
        ai_enabled: s.bot_state & bot_flags::AI_OFF == 0,
        metadata: None,
        rating: None,
    }
}

#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])), params(ConversationQuery), responses((status = 200, description = "A page of conversations", body = List<Conversation>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    q: Result<QueryParams<ConversationQuery>, AppError>,
) -> OpResult<Json<List<Conversation>>> {
    let QueryParams(q) = q?;
    let invalid = |what: &str| OpError(AppError::Validation("validation_error", what.to_owned()));
    let (page, per_page) = super::page_window(q.page, q.per_page)?;
    // The statuses as operators see them, filtered in the query so totals and pages are right.
    let (statuses, assigned) = match q.status.as_deref() {
        None | Some("") => (vec![], None),
        Some("pending") => (vec![SessionStatus::Active], Some(false)),
        Some("open") => (vec![SessionStatus::Active], Some(true)),
        Some("closed") => (vec![SessionStatus::Closed, SessionStatus::Archived], None),
        Some(_) => return Err(invalid("status must be open, pending or closed")),
    };
    let channel = match q.channel.as_deref() {
        None | Some("") => None,
        Some(c) => Some(ChannelKind::parse(c).ok_or_else(|| invalid("channel must be widget, telegram or whatsapp"))?),
    };
    let filter = ConversationFilter {
        account_id: op.account_id,
        statuses,
        assigned_to: q.assigned_to,
        assigned,
        channel,
        needs_human: q.needs_human.unwrap_or(false),
        offset: (page - 1) * per_page,
        limit: per_page,
    };
    let (rows, total) = state.store.list_conversations(&filter).await?;
    let data: Vec<Conversation> = rows.iter().map(conversation).collect();
    Ok(Json(List { data, meta: Some(ListMeta { total, page, per_page }) }))
}

/// A conversation of the operator's account; another account's is 404, as if it did not exist.
pub(super) async fn load_session(state: &AppState, op: &Operator, id: &str) -> OpResult<Session> {
    super::of_account(op, state.store.session_by_id(id).await?, "conversation", id)
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id")), responses((status = 200, description = "The conversation", body = Item<Conversation>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Item<Conversation>>> {
    get_one_row(&state, &op, &id).await
}

pub(crate) fn operator_message(m: &Message, links: &Links) -> OperatorMessage {
    let sender_type = match m.sender {
        Sender::User => "customer",
        Sender::Manager => "agent",
        Sender::Bot => "bot",
        Sender::System => "system",
    };
    OperatorMessage {
        id: m.id.clone(),
        conversation_id: m.session_id.clone(),
        sender_type: sender_type.into(),
        sender_id: if m.sender == Sender::User { Some(m.session_id.clone()) } else { m.manager_id.clone() },
        content: m.body.clone(),
        attachments: m.attachments.iter().map(|a| links.event(a)).collect(),
        metadata: serde_json::json!({ "seq": m.seq, "status": m.status, "echo_id": m.echo_id }),
        created_at: iso(m.created_ms),
    }
}

/// `before` and `limit` of a message list, as the operator document has them.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    pub(crate) before: Option<String>,
    pub(crate) limit: Option<i64>,
}

impl MessagesQuery {
    /// The newest `limit` (1–100, default 50) messages before `before`, or the newest of all.
    pub(crate) async fn page(
        &self,
        store: &dyn crate::store::Store,
        links: &Links,
        session_id: &str,
    ) -> OpResult<(Vec<crate::store::Message>, Vec<OperatorMessage>)> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(OpError(AppError::Validation("validation_error", "limit must be between 1 and 100".into())));
        }
        let cursor = match self.before.as_deref() {
            None => Cursor::Latest,
            Some(before) => Cursor::BeforeTime(parse_iso(before).ok_or_else(|| {
                OpError(AppError::Validation("validation_error", "before must be an ISO 8601 datetime".into()))
            })?),
        };
        let messages = store.list_messages(session_id, cursor, limit).await?.messages;
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        let sends = store.channel_sends_of(&ids).await?;
        let ai = store.ai_replies_of(&ids).await?;
        let views = messages
            .iter()
            .map(|m| {
                let mut view = operator_message(m, links);
                if let Some(send) = sends.iter().find(|s| s.message_id == m.id) {
                    view.metadata["delivery"] = delivery(send);
                }
                if let Some(reply) = ai.iter().find(|r| r.message_id == m.id) {
                    let sources: serde_json::Value = serde_json::from_str(&reply.sources).unwrap_or_default();
                    view.metadata["ai"] = serde_json::json!({
                        "provider": reply.provider, "confidence": reply.confidence, "sources": sources,
                    });
                }
                view
            })
            .collect();
        Ok((messages, views))
    }
}

/// How a reply to a messaging channel fares: `pending`, `sent` or `failed`, with the reason.
fn delivery(send: &ChannelSend) -> serde_json::Value {
    serde_json::json!({ "status": send.state, "attempts": send.attempt, "error": send.error })
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id"), MessagesQuery), responses((status = 200, description = "The newest `limit` messages before `before`, oldest first", body = List<OperatorMessage>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn messages(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    q: Result<QueryParams<MessagesQuery>, AppError>,
) -> OpResult<Json<List<OperatorMessage>>> {
    let QueryParams(q) = q?;
    let session = load_session(&state, &op, &id).await?;
    let (messages, views) = q.page(state.store.as_ref(), &state.files.links, &id).await?;
    if let Some(website) = state.websites.get_by_id(state.store.as_ref(), &session.website_id).await? {
        state.chat.delivered_all(&website, &messages, false);
    }
    Ok(Json(List { data: views, meta: None }))
}

/// Reads a multipart body for a conversation: its fields, and its files
/// kept as uploads of the conversation.
async fn uploads(
    state: &AppState,
    session: &Session,
    headers: &axum::http::HeaderMap,
    req: axum::extract::Request,
) -> OpResult<(crate::files::Form, Vec<crate::store::Attachment>)> {
    let website = state
        .websites
        .get_by_id(state.store.as_ref(), &session.website_id)
        .await?
        .ok_or_else(|| OpError(AppError::NotFound("the conversation's channel is gone".into())))?;
    Ok(crate::files::upload_form(state, &website, session, headers, req).await?)
}

/// Uploads files to a conversation, to send with a message afterwards
/// (`attachments: [id, …]` of `POST …/messages`).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attachments", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body(content_type = "multipart/form-data", description = "`attachments[]`: one or more files"),
    responses(
        (status = 201, description = "The uploads, not yet sent", body = List<natter_protocol::ws::Attachment>),
        (status = 413, description = "A file is over the website's limit", body = OperatorError),
        (status = 415, description = "A type the website does not take", body = OperatorError),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    req: axum::extract::Request,
) -> OpResult<(StatusCode, Json<List<natter_protocol::ws::Attachment>>)> {
    let session = load_session(&state, &op, &id).await?;
    let (_, kept) = uploads(&state, &session, &headers, req).await?;
    if kept.is_empty() {
        return Err(OpError(AppError::Validation("validation_error", "send files as `attachments[]`".into())));
    }
    let data: Vec<_> = kept.iter().map(|a| state.files.links.event(a)).collect();
    let total = i64::try_from(data.len()).unwrap_or(i64::MAX);
    Ok((StatusCode::CREATED, Json(List { data, meta: Some(ListMeta { total, page: 1, per_page: total }) })))
}

/// An id named in a JSON `attachments` list: the id itself or an object with it.
fn attachment_id(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Object(o) => o.get("id").and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    }
}

/// An operator's reply: JSON (`content`, and `attachments` naming earlier
/// uploads) or a multipart form (`content` and `attachments[]` files).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id")), request_body = SendOperatorMessage, responses((status = 201, description = "Stored and delivered", body = Item<OperatorMessage>), (status = 402, description = "The plan's messages for the month are used (PLAN_LIMIT)", body = OperatorError), (status = 413, description = "A file is over the website's limit", body = OperatorError), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn reply(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    req: axum::extract::Request,
) -> OpResult<(StatusCode, Json<Item<OperatorMessage>>)> {
    let session = load_session(&state, &op, &id).await?;
    let (content, files) = if crate::files::is_multipart(&headers) {
        let (form, kept) = uploads(&state, &session, &headers, req).await?;
        (form.field("content").unwrap_or_default().to_owned(), kept.into_iter().map(|a| a.id).collect())
    } else {
        let req: SendOperatorMessage = crate::extract::json_within(req, state.settings.max_body_bytes).await?;
        let files = req
            .attachments
            .iter()
            .map(|v| {
                attachment_id(v)
                    .ok_or_else(|| AppError::Validation("validation_error", "attachments are ids of uploads".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        (req.content, files)
    };
    let text = MessageText::parse_with_files(&content, state.settings.max_message_chars, files.len())?;
    state.plans.check_messages(state.store.as_ref(), &op.account_id, now_ms()).await?;
    let message = state.chat.operator_reply(&session, &op, &text, &files).await?;
    let mut data = operator_message(&message, &state.files.links);
    if session.channel != ChannelKind::Widget {
        data.metadata["delivery"] = serde_json::json!({ "status": "pending", "attempts": 0, "error": null });
    }
    Ok((StatusCode::CREATED, Json(Item { data })))
}

/// Changes the status (the core leaves a system note the visitor sees).
async fn set_status(
    state: &AppState,
    op: &Operator,
    id: &str,
    status: SessionStatus,
) -> OpResult<Json<Item<Conversation>>> {
    let session = load_session(state, op, id).await?;
    state.chat.set_status_by(&session, op, status).await?;
    get_one_row(state, op, id).await
}

async fn get_one_row(state: &AppState, op: &Operator, id: &str) -> OpResult<Json<Item<Conversation>>> {
    let session = load_session(state, op, id).await?;
    let metadata = state.store.session_metadata(&session.id).await?;
    let rating = state.store.session_rating(&session.id).await?;
    let mut data = conversation_of(state, session).await?;
    data.metadata = Some(metadata);
    data.rating = rating.map(|r| natter_protocol::operator::ConversationRating {
        score: r.score,
        comment: r.comment,
        rated_at: iso(r.updated_ms),
    });
    Ok(Json(Item { data }))
}

#[derive(Deserialize, ToSchema)]
pub struct StartConversation {
    customer_id: String,
    /// `widget` (the default), `telegram` or `whatsapp`.
    #[serde(default)]
    channel: Option<String>,
    /// A JSON object (at most 16 KB) merged into the conversation's metadata.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

/// An operator starts a conversation with a customer on a channel where the
/// customer has written before: their latest conversation there opens again
/// (201), or is answered as it is when already open (200). On the widget the
/// visitor sees it, with what the operator writes, when they next open it.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])), request_body = StartConversation, responses((status = 201, description = "The conversation, opened again", body = Item<Conversation>), (status = 200, description = "The conversation, already open", body = Item<Conversation>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn start(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    body: Result<JsonBody<StartConversation>, AppError>,
) -> OpResult<(StatusCode, Json<Item<Conversation>>)> {
    let JsonBody(req) = body?;
    let invalid = |what: String| OpError(AppError::Validation("validation_error", what));
    let channel = match req.channel.as_deref() {
        None | Some("") => ChannelKind::Widget,
        Some(c) => {
            ChannelKind::parse(c).ok_or_else(|| invalid("channel must be widget, telegram or whatsapp".into()))?
        }
    };
    if let Some(metadata) = &req.metadata {
        if !metadata.is_object() || metadata.to_string().len() > 16 * 1024 {
            return Err(invalid("metadata must be a JSON object of at most 16 KB".into()));
        }
    }
    let customer =
        super::of_account(&op, state.store.customer_by_id(&req.customer_id).await?, "customer", &req.customer_id)?;
    let sessions = state.store.sessions_of_customers(&[&customer.id]).await?;
    let Some(session) =
        sessions.into_iter().filter(|s| s.channel == channel).max_by_key(|s| (s.updated_ms, s.created_ms))
    else {
        return Err(invalid(format!(
            "the customer has no {} conversation yet: it starts when they first write there",
            channel.as_str()
        )));
    };
    let reopened = session.status != SessionStatus::Active;
    let session = state.chat.set_status_by(&session, &op, SessionStatus::Active).await?;
    if let Some(serde_json::Value::Object(patch)) = req.metadata {
        let mut metadata = state.store.session_metadata(&session.id).await?;
        if let Some(fields) = metadata.as_object_mut() {
            fields.extend(patch);
        }
        state.store.set_session_metadata(&session.id, &metadata).await?;
    }
    let Json(item) = get_one_row(&state, &op, &session.id).await?;
    Ok((if reopened { StatusCode::CREATED } else { StatusCode::OK }, Json(item)))
}

/// The inbox view of a session, with its newest message.
pub(super) async fn conversation_of(state: &AppState, session: Session) -> crate::store::StoreResult<Conversation> {
    let page = state.store.list_messages(&session.id, Cursor::Latest, 1).await?;
    let last = page.messages.last();
    let row = ConversationRow { last_body: last.map(|m| m.body.clone()), last_ms: last.map(|m| m.created_ms), session };
    Ok(conversation(&row))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/close", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id")), responses((status = 200, description = "Closed", body = Item<Conversation>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn close(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Item<Conversation>>> {
    set_status(&state, &op, &id, SessionStatus::Closed).await
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/reopen", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id")), responses((status = 200, description = "Open again", body = Item<Conversation>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn reopen(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Item<Conversation>>> {
    set_status(&state, &op, &id, SessionStatus::Active).await
}

#[derive(Deserialize, ToSchema)]
pub struct AiSwitch {
    /// `false` stops the AI answering in this conversation; `true` lets it answer again.
    enabled: bool,
}

/// Turns the AI on or off for one conversation.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/ai", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id")), request_body = AiSwitch, responses((status = 200, description = "The conversation", body = Item<Conversation>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn ai_switch(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    body: Result<JsonBody<AiSwitch>, AppError>,
) -> OpResult<Json<Item<Conversation>>> {
    let JsonBody(req) = body?;
    let session = load_session(&state, &op, &id).await?;
    if req.enabled {
        state.store.clear_bot_flags(&session.id, bot_flags::AI_OFF | bot_flags::NEEDS_HUMAN).await?;
    } else {
        state.store.set_bot_flags(&session.id, bot_flags::AI_OFF).await?;
    }
    get_one_row(&state, &op, &id).await
}

#[derive(Deserialize, ToSchema)]
pub struct AssignRequest {
    /// The operator to assign; `null` unassigns.
    user_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id")), request_body = AssignRequest, responses((status = 200, description = "Assigned", body = Item<Conversation>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn assign(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    body: Result<JsonBody<AssignRequest>, AppError>,
) -> OpResult<Json<Item<Conversation>>> {
    let JsonBody(req) = body?;
    let session = load_session(&state, &op, &id).await?;
    if let Some(user) = &req.user_id {
        if super::of_account(&op, state.store.operator_by_id(user).await?, "operator", user).is_err() {
            return Err(OpError(AppError::Validation("validation_error", format!("no operator {user}"))));
        }
    }
    state.chat.assign(&session, req.user_id.as_deref()).await?;
    get_one_row(&state, &op, &id).await
}

#[derive(Deserialize, ToSchema)]
pub struct TypingRequest {
    /// `true` while the operator types, `false` when they stop.
    #[serde(default = "typing_default")]
    on: bool,
}

fn typing_default() -> bool {
    true
}

/// Shows (or hides) the operator's typing indicator in the visitor's widget.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/typing", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation's id")), request_body = TypingRequest, responses((status = 204, description = "Relayed to the visitor"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn typing(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    body: Result<JsonBody<TypingRequest>, AppError>,
) -> OpResult<StatusCode> {
    let JsonBody(req) = body?;
    let session = load_session(&state, &op, &id).await?;
    let user = natter_protocol::ws::TypingUser { id: Some(op.id.clone()), name: op.name.clone(), kind: "agent".into() };
    state.chat.typing(&session, req.on, user).await;
    Ok(StatusCode::NO_CONTENT)
}
