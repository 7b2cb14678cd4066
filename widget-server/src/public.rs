//! The public widget API under `/api/public/chat`: sessions, messages,
//! polling, the legacy `notify` and the widget config; and the Novatalks
//! and OmniSupport dialects of the same operations.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use natter_protocol::{
    ChatSession, CreateSessionRequest, Envelope, MessageData, MessagesData, MessagesQuery, NotifyData, NotifyRequest,
    SendMessageRequest, SessionData, WidgetConfig,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::chat::{recent, Contact};
use crate::client::ClientIp;
use crate::domain::{random_token, ClientKey, Email, MessageText, PersonName, Phone};
use crate::error::{AppError, AppResult};
use crate::extract::{session_token, Credential, JsonBody, QueryParams, SessionAuth, SessionKeyAuth, WebsiteAuth};
use crate::hub::chat_message;
use crate::identity;
use crate::openapi::PublicError;
use crate::store::{Cursor, Session};
use crate::time::{iso, parse_iso};
use crate::AppState;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 100;

mod novatalks;
mod omnisupport;
mod rating;

/// The public API and its dialects, with their OpenAPI description.
pub fn router(state: AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::new()
        .merge(novatalks::router())
        .merge(omnisupport::router())
        .routes(routes!(create_session))
        .routes({
            // Messages may carry files: `read_form` bounds them, `json_within` the JSON.
            let (schemas, paths, router) = routes!(send_message, list_messages);
            (schemas, paths, router.layer(axum::extract::DefaultBodyLimit::disable()))
        })
        .routes(routes!(rating::rate))
        .routes(routes!(notify))
        .routes(routes!(config))
        .split_for_parts();
    let router = router
        .method_not_allowed_fallback(crate::fallback::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), crate::cors::public_cors))
        .layer(middleware::from_fn_with_state(state, limit_ip));
    (router, doc)
}

async fn limit_ip(State(state): State<AppState>, client: ClientIp, req: Request, next: Next) -> Response {
    match state.limiter.check_ip(client.key()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// The session as the API shows it.
pub fn chat_session(s: &Session) -> ChatSession {
    ChatSession {
        id: s.id.clone(),
        user_name: s.user_name.clone(),
        user_phone: s.user_phone.clone(),
        user_email: s.user_email.clone(),
        status: s.status,
        manager_id: s.manager_id.clone(),
        user_session_id: Some(s.user_session_id.clone()),
        created_at: iso(s.created_ms),
        updated_at: Some(iso(s.updated_ms)),
    }
}

/// Contact fields of a request, parsed; empty ones count as absent.
pub(crate) fn parse_contact(name: Option<&str>, phone: Option<&str>, email: Option<&str>) -> AppResult<Contact> {
    fn present(v: Option<&str>) -> Option<&str> {
        v.filter(|v| !v.trim().is_empty())
    }
    Ok(Contact {
        name: present(name).map(PersonName::parse).transpose()?,
        phone: present(phone).map(Phone::parse).transpose()?,
        email: present(email).map(Email::parse).transpose()?,
    })
}

/// Creates the session of a `userSessionId`, or resumes it for a caller that
/// proves the right to it (its token, the website's secret, legacy mode):
/// knowing the `userSessionId` alone reveals nothing and changes nothing.
#[utoipa::path(post, path = "/api/public/chat/sessions", tag = "public",
    security(("api_key" = []), ("api_key" = [], "session_token" = []), ("api_key" = [], "api_secret" = [])),
    request_body = CreateSessionRequest,
    responses(
        (status = 201, description = "A new session, with its token", body = Envelope<SessionData>),
        (status = 200, description = "The resumed session: its newest messages", body = Envelope<SessionData>),
        (status = 404, description = "The session of the token sent no longer exists", body = PublicError),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn create_session(
    State(state): State<AppState>,
    WebsiteAuth { website, secret }: WebsiteAuth,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateSessionRequest>,
) -> AppResult<(StatusCode, Json<Envelope<SessionData>>)> {
    let contact = parse_contact(req.name.as_deref(), req.phone.as_deref(), req.email.as_deref())?;
    let user_session_id = match req.user_session_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => ClientKey::parse("userSessionId", id)?,
        None => ClientKey::parse("userSessionId", &random_token())?,
    };
    let first =
        req.first_message.as_deref().map(|t| MessageText::parse(t, state.settings.max_message_chars)).transpose()?;
    let echo = req.echo_id.as_deref().map(|e| ClientKey::parse("echoId", e)).transpose()?;
    // Checked before anything is created, so a forged identity leaves nothing behind.
    let verified =
        identity::verify(&website, req.user_id.as_deref(), req.user_hash.as_deref()).map_err(|why| match why {
            identity::Refused::Required => AppError::Forbidden(
                "identity_required",
                "this website chats only with signed-in users: send userId and userHash".into(),
            ),
            identity::Refused::Forged => AppError::Forbidden(
                "identity_not_verified",
                "userHash is not the HMAC of userId under this website's identity secret".into(),
            ),
            identity::Refused::BadId => AppError::Validation(
                "invalid_user_id",
                format!("userId must be 1 to {} characters, without control characters", identity::MAX_USER_ID),
            ),
        })?;

    // A caller holding a token resumes: when its session is gone (expired or
    // erased) it is told so, rather than given a new session it did not ask for.
    let (mut session, created) =
        match state.store.session_by_user_session_id(&website.id, user_session_id.as_str()).await? {
            Some(existing) => (existing, false),
            None if session_token(&headers).is_some() => {
                return Err(AppError::NotFound(
                    "this session no longer exists (it expired or was erased): start a new one without X-Session-Token"
                        .into(),
                ))
            }
            None => state.chat.open_session(&website, user_session_id.as_str()).await?,
        };
    if !created {
        Credential { token: session_token(&headers), secret }.admits(&website, &session)?;
    }
    if let Some(user_id) = verified {
        let who = crate::store::Identity {
            external_id: user_id,
            name: contact.name.as_ref().map(|n| n.as_str()),
            email: contact.email.as_ref().map(|e| e.as_str()),
            metadata: None,
        };
        session.customer_id = state.store.identify(&session, &who).await?.id;
    }
    if !contact.is_empty() {
        session = state.chat.update_contact(&website, session, &contact).await?;
    }
    if let Some(text) = &first {
        state.chat.visitor_message(&website, &session, text, &[], echo.as_ref()).await?;
    }
    if created {
        state.chat.announce(&session).await;
    }
    let page = recent(state.store.as_ref(), &session.id).await?;
    state.chat.delivered_all(&website, &page.messages, true);
    let data = SessionData {
        session_id: session.id.clone(),
        session: chat_session(&session),
        messages: page.messages.iter().map(|m| chat_message(m, &state.files.links)).collect(),
        has_more: page.has_more,
        token: Some(session.token.clone()),
    };
    Ok((created_or_ok(created), Json(Envelope::ok(data))))
}

#[utoipa::path(post, path = "/api/public/chat/sessions/{session_id}/messages", tag = "public",
    security(("api_key" = [], "session_token" = []), ("api_key" = [], "api_secret" = [])),
    params(("session_id" = String, Path, description = "The session's id")),
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "Stored", body = Envelope<MessageData>),
        (status = 200, description = "A repeated echoId: the message stored before", body = Envelope<MessageData>),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn send_message(
    State(state): State<AppState>,
    SessionAuth { website, session }: SessionAuth,
    headers: axum::http::HeaderMap,
    req: axum::extract::Request,
) -> AppResult<(StatusCode, Json<Envelope<MessageData>>)> {
    let (text, echo, files) = if crate::files::is_multipart(&headers) {
        let (form, kept) = crate::files::upload_form(&state, &website, &session, &headers, req).await?;
        let field = |name: &str| form.field(name).map(str::to_owned);
        (field("message").unwrap_or_default(), field("echoId"), kept.into_iter().map(|a| a.id).collect())
    } else {
        let req: SendMessageRequest = crate::extract::json_within(req, state.settings.max_body_bytes).await?;
        (req.message, req.echo_id, Vec::new())
    };
    let text = MessageText::parse_with_files(&text, state.settings.max_message_chars, files.len())?;
    let echo = echo.as_deref().map(|e| ClientKey::parse("echoId", e)).transpose()?;
    let (message, created) = state.chat.visitor_message(&website, &session, &text, &files, echo.as_ref()).await?;
    Ok((
        created_or_ok(created),
        Json(Envelope::ok(MessageData { message: chat_message(&message, &state.files.links) })),
    ))
}

/// Reads `after`/`before` as a seq number or a message id of this session.
pub(crate) async fn seq_of(state: &AppState, session_id: &str, field: &str, value: &str) -> AppResult<i64> {
    if let Ok(seq) = value.parse::<i64>() {
        return Ok(seq);
    }
    state
        .store
        .message_by_id(session_id, value)
        .await?
        .map(|m| m.seq)
        .ok_or_else(|| AppError::Validation("unknown_cursor", format!("`{field}` names no message of this session")))
}

/// A page of messages. A poll after the last seq this server committed for
/// the session is answered without reading the database.
#[utoipa::path(get, path = "/api/public/chat/sessions/{session_id}/messages", tag = "public",
    security(("api_key" = [], "session_token" = []), ("api_key" = [], "api_secret" = [])),
    params(("session_id" = String, Path, description = "The session's id"), MessagesQuery),
    responses(
        (status = 200, description = "A page of messages, oldest first", body = Envelope<MessagesData>),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn list_messages(
    State(state): State<AppState>,
    SessionKeyAuth { key, website }: SessionKeyAuth,
    QueryParams(q): QueryParams<MessagesQuery>,
) -> AppResult<Json<Envelope<MessagesData>>> {
    let limit = match q.limit {
        Some(0) => return Err(AppError::Validation("invalid_limit", "limit must be at least 1".into())),
        Some(n) => n.min(MAX_LIMIT),
        None => DEFAULT_LIMIT,
    };
    let cursor = match (q.after.as_deref(), q.since.as_deref(), q.before.as_deref()) {
        (None, None, None) => Cursor::Latest,
        (Some(after), None, None) => Cursor::AfterSeq(seq_of(&state, &key.id, "after", after).await?),
        (None, Some(since), None) => Cursor::AfterTime(
            parse_iso(since)
                .ok_or_else(|| AppError::Validation("invalid_since", "`since` must be an ISO 8601 timestamp".into()))?,
        ),
        (None, None, Some(before)) => Cursor::BeforeSeq(seq_of(&state, &key.id, "before", before).await?),
        _ => return Err(AppError::BadRequest("conflicting_cursors", "use only one of since, after and before".into())),
    };
    if let Cursor::AfterSeq(after) = cursor {
        if state.store.seq_hint(&key.id).is_some_and(|last| last <= after) {
            return Ok(Json(Envelope::ok(MessagesData { messages: Vec::new(), has_more: false })));
        }
    }
    let page = state.store.list_messages(&key.id, cursor, i64::from(limit)).await?;
    state.chat.delivered_all(&website, &page.messages, true);
    Ok(Json(Envelope::ok(MessagesData {
        messages: page.messages.iter().map(|m| chat_message(m, &state.files.links)).collect(),
        has_more: page.has_more,
    })))
}

/// The legacy `notify`: without a `userSessionId` every call starts a new
/// session; with one it writes into that session only for a caller with the
/// website's secret, the session's token, or on a website in legacy mode.
#[utoipa::path(post, path = "/api/public/chat/notify", tag = "public",
    security(("api_key" = []), ("api_key" = [], "api_secret" = [])),
    request_body = NotifyRequest,
    responses(
        (status = 201, description = "Stored", body = Envelope<NotifyData>),
        (status = 200, description = "Stored in an existing session", body = Envelope<NotifyData>),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn notify(
    State(state): State<AppState>,
    WebsiteAuth { website, secret }: WebsiteAuth,
    headers: HeaderMap,
    JsonBody(req): JsonBody<NotifyRequest>,
) -> AppResult<(StatusCode, Json<Envelope<NotifyData>>)> {
    let contact = parse_contact(req.name.as_deref(), req.phone.as_deref(), None)?;
    let text = MessageText::parse(&req.message, state.settings.max_message_chars)?;
    let credential = Credential { token: session_token(&headers), secret };
    let (session, created) = match req.user_session_id.as_deref() {
        Some(id) => {
            let key = ClientKey::parse("userSessionId", id)?;
            match state.store.session_by_user_session_id(&website.id, key.as_str()).await? {
                Some(existing) => {
                    credential.admits(&website, &existing)?;
                    (existing, false)
                }
                None if secret || website.legacy_mode => state.chat.open_session(&website, key.as_str()).await?,
                None => {
                    return Err(AppError::Unauthorized(
                        "session_token_required",
                        "notify with a userSessionId needs X-API-Secret (or the website's legacy mode)".into(),
                    ))
                }
            }
        }
        None => state.chat.open_session(&website, ClientKey::parse("userSessionId", &random_token())?.as_str()).await?,
    };
    let session = state.chat.update_contact(&website, session, &contact).await?;
    let (message, stored) = state.chat.visitor_message(&website, &session, &text, &[], None).await?;
    if created {
        state.chat.announce(&session).await;
    }
    let data = NotifyData { session_id: session.id.clone(), message: chat_message(&message, &state.files.links) };
    Ok((created_or_ok(stored), Json(Envelope::ok(data))))
}

#[utoipa::path(get, path = "/api/public/chat/config", tag = "public",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The widget's settings", body = Envelope<WidgetConfig>),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
async fn config(
    State(state): State<AppState>,
    WebsiteAuth { website, .. }: WebsiteAuth,
) -> AppResult<Json<Envelope<WidgetConfig>>> {
    let online = state.chat.website_online(&website).await?;
    let s = &website.settings;
    Ok(Json(Envelope::ok(WidgetConfig {
        name: website.name.clone(),
        title: s.title.clone().unwrap_or_else(|| website.name.clone()),
        color: s.color.clone(),
        greeting: s.greeting.clone(),
        locale: s.locale.clone(),
        position: s.position.clone(),
        contact_form: s.contact_form.clone(),
        away_message: s.away_message.clone(),
        business_hours: s.business_hours.clone(),
        online,
        max_message_length: state.settings.max_message_chars,
        legacy_mode: website.legacy_mode,
        max_file_bytes: Some(state.files.max_bytes(&s.attachments)),
    })))
}
