//! The operator API under `/api/v1`: JWT login and refresh, the conversation
//! inbox, a conversation's messages and replies that reach the visitor live.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
use natter_protocol::operator::{
    Conversation, CustomerRef, Item, LastMessage, List, ListMeta, LoginRequest, OperatorMessage, SendOperatorMessage,
    TokenResponse,
};
use natter_protocol::{Sender, SessionStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chat::post_message;
use crate::domain::{random_token, MessageText};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::{JsonBody, QueryParams};
use crate::store::{ConversationFilter, ConversationRow, Cursor, Message, NewMessage, Operator, Session};
use crate::time::{iso, now_ms, parse_iso};
use crate::AppState;

/// Refresh tokens live this long.
const REFRESH_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Keys for signing operator access tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    exp: i64,
    iat: i64,
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The operator behind a valid `Authorization: Bearer` access token.
pub struct AuthOperator(pub Operator);

impl<S: Send + Sync> FromRequestParts<S> for AuthOperator
where
    AppState: FromRef<S>,
{
    type Rejection = OpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, OpError> {
        let state = AppState::from_ref(state);
        let unauthorized = |why: &str| OpError(AppError::Unauthorized("not_authenticated", why.to_owned()));
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or_else(|| unauthorized("send Authorization: Bearer <access_token>"))?;
        let claims = decode::<Claims>(token.trim(), &state.jwt.decoding, &Validation::default())
            .map_err(|_| unauthorized("the access token is invalid or expired"))?
            .claims;
        let operator = state
            .store
            .operator_by_id(&claims.sub)
            .await?
            .ok_or_else(|| unauthorized("the operator no longer exists"))?;
        Ok(Self(operator))
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/conversations", get(list_conversations))
        .route("/api/v1/conversations/{id}", get(get_conversation))
        .route("/api/v1/conversations/{id}/messages", get(list_messages).post(send_message))
}

async fn issue_tokens(state: &AppState, operator: &Operator) -> OpResult<TokenResponse> {
    let now = now_ms() / 1000;
    let claims = Claims {
        sub: operator.id.clone(),
        role: operator.role.clone(),
        iat: now,
        exp: now + state.settings.access_token_secs,
    };
    let access_token = encode(&Header::default(), &claims, &state.jwt.encoding)
        .map_err(|e| AppError::Internal(format!("signing failed: {e}")))?;
    let refresh_token = random_token();
    state.store.store_refresh_token(&token_hash(&refresh_token), &operator.id, now_ms() + REFRESH_TTL_MS).await?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        token_type: "bearer".into(),
        expires_in: state.settings.access_token_secs,
    })
}

async fn login(
    State(state): State<AppState>,
    body: Result<JsonBody<LoginRequest>, AppError>,
) -> OpResult<Json<TokenResponse>> {
    let JsonBody(req) = body?;
    let operator = state.store.operator_by_email(req.email.trim()).await?;
    // Verify against a dummy hash when the email is unknown, so timing does not reveal accounts.
    let hash: &str = match &operator {
        Some(o) => &o.password_hash,
        None => dummy_hash(),
    };
    let valid = verify_password(&req.password, hash);
    match operator {
        Some(op) if valid => Ok(Json(issue_tokens(&state, &op).await?)),
        _ => Err(AppError::Unauthorized("invalid_credentials", "wrong email or password".into()).into()),
    }
}

/// A real hash of a random password, so unknown emails cost a full verification.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    body: Result<JsonBody<RefreshRequest>, AppError>,
) -> OpResult<Json<TokenResponse>> {
    let JsonBody(req) = body?;
    let refused = || {
        OpError(AppError::Unauthorized("invalid_refresh_token", "the refresh token is invalid, used or expired".into()))
    };
    let operator_id =
        state.store.use_refresh_token(&token_hash(&req.refresh_token), now_ms()).await?.ok_or_else(refused)?;
    let operator = state.store.operator_by_id(&operator_id).await?.ok_or_else(refused)?;
    Ok(Json(issue_tokens(&state, &operator).await?))
}

#[derive(Deserialize)]
struct ConversationQuery {
    status: Option<String>,
    assigned_to: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

fn conversation(row: &ConversationRow) -> Conversation {
    let s = &row.session;
    let status = match s.status {
        SessionStatus::Active if s.manager_id.is_none() => "pending",
        SessionStatus::Active => "open",
        SessionStatus::Closed | SessionStatus::Archived => "closed",
    };
    Conversation {
        id: s.id.clone(),
        customer: CustomerRef {
            id: s.id.clone(),
            name: s.user_name.clone(),
            email: s.user_email.clone(),
            phone: s.user_phone.clone(),
        },
        channel: "widget".into(),
        status: status.into(),
        last_message: match (&row.last_body, row.last_ms) {
            (Some(content), Some(ms)) => Some(LastMessage { content: content.clone(), created_at: iso(ms) }),
            _ => None,
        },
        assigned_to: s.manager_id.clone(),
        created_at: iso(s.created_ms),
        updated_at: iso(s.updated_ms),
        website_id: Some(s.website_id.clone()),
    }
}

async fn list_conversations(
    State(state): State<AppState>,
    _: AuthOperator,
    q: Result<QueryParams<ConversationQuery>, AppError>,
) -> OpResult<Json<List<Conversation>>> {
    let QueryParams(q) = q?;
    let invalid = |what: &str| OpError(AppError::Validation("validation_error", what.to_owned()));
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(20);
    if page < 1 {
        return Err(invalid("page must be at least 1"));
    }
    if !(1..=100).contains(&per_page) {
        return Err(invalid("per_page must be between 1 and 100"));
    }
    let statuses = match q.status.as_deref() {
        None | Some("") => vec![],
        Some("open" | "pending") => vec![SessionStatus::Active],
        Some("closed") => vec![SessionStatus::Closed, SessionStatus::Archived],
        Some(_) => return Err(invalid("status must be open, pending or closed")),
    };
    let filter =
        ConversationFilter { statuses, assigned_to: q.assigned_to, offset: (page - 1) * per_page, limit: per_page };
    let (rows, total) = state.store.list_conversations(&filter).await?;
    let mut data: Vec<Conversation> = rows.iter().map(conversation).collect();
    if q.status.as_deref() == Some("pending") {
        data.retain(|c| c.status == "pending");
    }
    Ok(Json(List { data, meta: Some(ListMeta { total, page, per_page }) }))
}

async fn load_session(state: &AppState, id: &str) -> OpResult<Session> {
    state.store.session_by_id(id).await?.ok_or_else(|| OpError(AppError::NotFound(format!("no conversation {id}"))))
}

async fn get_conversation(
    State(state): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Item<Conversation>>> {
    let session = load_session(&state, &id).await?;
    let page = state.store.list_messages(&id, Cursor::Latest, 1).await?;
    let last = page.messages.last();
    let row = ConversationRow { last_body: last.map(|m| m.body.clone()), last_ms: last.map(|m| m.created_ms), session };
    Ok(Json(Item { data: conversation(&row) }))
}

fn operator_message(m: &Message) -> OperatorMessage {
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
        attachments: vec![],
        metadata: serde_json::json!({ "seq": m.seq, "status": m.status, "echo_id": m.echo_id }),
        created_at: iso(m.created_ms),
    }
}

#[derive(Deserialize)]
struct MessagesQuery {
    before: Option<String>,
    limit: Option<i64>,
}

async fn list_messages(
    State(state): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
    q: Result<QueryParams<MessagesQuery>, AppError>,
) -> OpResult<Json<List<OperatorMessage>>> {
    let QueryParams(q) = q?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(OpError(AppError::Validation("validation_error", "limit must be between 1 and 100".into())));
    }
    load_session(&state, &id).await?;
    let messages = match q.before.as_deref() {
        None => state.store.list_messages(&id, Cursor::Latest, limit).await?.messages,
        Some(before) => {
            let ms = parse_iso(before).ok_or_else(|| {
                OpError(AppError::Validation("validation_error", "before must be an ISO 8601 datetime".into()))
            })?;
            state.store.list_messages(&id, Cursor::BeforeTime(ms), limit).await?.messages
        }
    };
    Ok(Json(List { data: messages.iter().map(operator_message).collect(), meta: None }))
}

async fn send_message(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    body: Result<JsonBody<SendOperatorMessage>, AppError>,
) -> OpResult<(StatusCode, Json<Item<OperatorMessage>>)> {
    let JsonBody(req) = body?;
    let text = MessageText::parse(&req.content, state.settings.max_message_chars)?;
    let session = load_session(&state, &id).await?;
    let new = NewMessage {
        session_id: &id,
        sender: Sender::Manager,
        body: text.as_str(),
        manager_id: Some(&op.id),
        echo_id: None,
    };
    let (message, _) = post_message(&state, &session, new, &op.name).await?;
    Ok((StatusCode::CREATED, Json(Item { data: operator_message(&message) })))
}
