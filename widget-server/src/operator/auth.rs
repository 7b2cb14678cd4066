//! Operator authentication: argon2 passwords, JWT access tokens carrying the
//! operator's token version (logout raises it), single-use refresh tokens.

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket};
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{LoginRequest, TokenResponse};
use natter_protocol::ws::CLOSE_UNAUTHORIZED;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::cli;
use crate::client::ClientIp;
use crate::domain::{random_token, Email, PersonName};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::password;
use crate::socket::{Flow, Protocol, Step};
use crate::store::{Operator, RefreshUse};
use crate::time::now_ms;
use crate::AppState;

/// A refresh token spent twice within this long is a race between two
/// tabs, not a copy.
const REUSE_GRACE_MS: i64 = 10_000;
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
    ver: i64,
    exp: i64,
    iat: i64,
}

/// What every API key starts with.
pub const API_KEY_PREFIX: &str = "sk_live_";

/// How an API key is stored and looked up: SHA-256, hex (a key is 192 random bits).
pub fn key_hash(key: &str) -> String {
    token_hash(key)
}

pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn unauthorized(why: &str) -> OpError {
    OpError(AppError::Unauthorized("not_authenticated", why.to_owned()))
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
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized("send Authorization: Bearer <access_token>"))?;
        let op = operator_from_token(&state, token).await?;
        state.plans.check_rate(state.store.as_ref(), &op.account_id).await?;
        Ok(Self(op))
    }
}

/// Watches an operator's access on a socket: it ends when their tokens are
/// revoked here, and is re-checked against the database at every keepalive.
pub struct Watch {
    operator: Operator,
    revocations: tokio::sync::broadcast::Receiver<std::sync::Arc<str>>,
}

impl Watch {
    pub fn new(state: &AppState, operator: Operator) -> Self {
        Self { revocations: state.hub.revocations(), operator }
    }

    /// Resolves when this operator's tokens may have been revoked (a
    /// revocation of them, or missed revocations); confirm with [`Watch::holds`].
    pub async fn revoked(&mut self) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match self.revocations.recv().await {
                Ok(id) if *id == self.operator.id => return,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return,
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// Whether the operator still exists with the same tokens and role.
    pub async fn holds(&self, state: &AppState) -> bool {
        match state.store.operator_by_id(&self.operator.id).await {
            Ok(Some(now)) => now.token_version == self.operator.token_version && now.role == self.operator.role,
            Ok(None) => false,
            // A database hiccup is not a revocation.
            Err(_) => true,
        }
    }
}

/// An operator's socket protocol that ends (4001, after `farewell`) as soon
/// as the operator's access does: at a revocation on this instance, or at
/// the keepalive tick that finds it gone.
pub struct Watched<'a, P> {
    pub inner: P,
    pub watch: Watch,
    pub state: &'a AppState,
    /// The frame telling the client why its socket ends, in its protocol's shape.
    pub farewell: String,
}

/// Tells the client its access ended and closes with 4001.
async fn end(socket: &mut WebSocket, farewell: String) -> Step {
    crate::socket::send(socket, WsMessage::Text(farewell.into())).await?;
    Ok(Flow::Close(CLOSE_UNAUTHORIZED, "session ended"))
}

impl<P: Protocol> Protocol for Watched<'_, P> {
    type Item = P::Item;

    async fn on_event(&mut self, socket: &mut WebSocket, item: P::Item) -> Step {
        self.inner.on_event(socket, item).await
    }

    async fn on_lagged(&mut self, socket: &mut WebSocket) -> Step {
        self.inner.on_lagged(socket).await
    }

    async fn on_text(&mut self, socket: &mut WebSocket, text: Utf8Bytes) -> Step {
        self.inner.on_text(socket, text).await
    }

    async fn on_tick(&mut self, socket: &mut WebSocket) -> Step {
        if !self.watch.holds(self.state).await {
            return end(socket, self.farewell.clone()).await;
        }
        self.inner.on_tick(socket).await
    }

    async fn revoked(&mut self) {
        self.watch.revoked().await;
    }

    async fn on_revoked(&mut self, socket: &mut WebSocket) -> Step {
        if self.watch.holds(self.state).await {
            Ok(Flow::Continue)
        } else {
            end(socket, self.farewell.clone()).await
        }
    }
}

/// The operator an access token or API key (with or without `Bearer `) acts for.
pub async fn operator_from_token(state: &AppState, token: &str) -> OpResult<Operator> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").or_else(|| token.strip_prefix("bearer ")).unwrap_or(token);
    if token.starts_with(API_KEY_PREFIX) {
        return operator_from_api_key(state, token.trim()).await;
    }
    let claims = decode::<Claims>(token.trim(), &state.jwt.decoding, &Validation::default())
        .map_err(|_| unauthorized("the access token is invalid or expired"))?
        .claims;
    state
        .store
        .operator_by_id(&claims.sub)
        .await?
        .filter(|op| op.token_version == claims.ver)
        .ok_or_else(|| unauthorized("the access token was revoked"))
}

/// The admin who made an API key, acting with the key's role (never more
/// than the admin has now) in the key's account.
async fn operator_from_api_key(state: &AppState, key: &str) -> OpResult<Operator> {
    let refused = || unauthorized("the API key is invalid or revoked");
    let found = state.store.api_key_by_hash(&key_hash(key)).await?.ok_or_else(refused)?;
    let maker = state
        .store
        .operator_by_id(&found.operator_id)
        .await?
        .filter(|op| op.account_id == found.account_id)
        .ok_or_else(refused)?;
    let now = now_ms();
    if found.last_used_ms.is_none_or(|at| now - at > 60_000) {
        state.store.touch_api_key(&found.id, now).await?;
    }
    let role = if maker.role == "admin" { found.role } else { "agent".to_owned() };
    Ok(Operator { role, ..maker })
}

/// An authenticated operator with the `admin` role; agents get 403.
pub struct AdminOperator(pub Operator);

impl<S: Send + Sync> FromRequestParts<S> for AdminOperator
where
    AppState: FromRef<S>,
{
    type Rejection = OpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, OpError> {
        let AuthOperator(op) = AuthOperator::from_request_parts(parts, state).await?;
        if op.role != "admin" {
            return Err(OpError(AppError::Forbidden("forbidden", "only admins may do this".into())));
        }
        Ok(Self(op))
    }
}

async fn issue_tokens(state: &AppState, operator: &Operator) -> OpResult<TokenResponse> {
    let now = now_ms() / 1000;
    let expires_in = state.settings.access_token_secs;
    let claims = Claims {
        sub: operator.id.clone(),
        role: operator.role.clone(),
        ver: operator.token_version,
        iat: now,
        exp: now + expires_in,
    };
    let access_token = encode(&Header::default(), &claims, &state.jwt.encoding)
        .map_err(|e| AppError::Internal(format!("signing failed: {e}")))?;
    let refresh_token = random_token();
    state.store.store_refresh_token(&token_hash(&refresh_token), &operator.id, now_ms() + REFRESH_TTL_MS).await?;
    Ok(TokenResponse { access_token, refresh_token, token_type: "bearer".into(), expires_in })
}

/// Signs in with e-mail and password, within the sign-in limits of the
/// client and of the e-mail address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses((status = 200, description = "The token pair", body = TokenResponse), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    body: Result<JsonBody<LoginRequest>, AppError>,
) -> OpResult<Json<TokenResponse>> {
    let JsonBody(req) = body?;
    state.limiter.check_sign_in(client.key(), Some(&req.email))?;
    let operator = state.store.operator_by_email(req.email.trim()).await?;
    let hash = operator.as_ref().map(|o| o.password_hash.clone());
    let valid = password::verify_off_workers(req.password, hash).await;
    match operator {
        Some(op) if valid => {
            if let Some(tf) = state.store.two_factor(&op.id).await?.filter(|tf| tf.active) {
                match req.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                    Some(code) => super::two_factor::check_code(&state, &op, &tf, code).await?,
                    None => {
                        return Err(AppError::Unauthorized(
                            "2fa_required",
                            "send the authenticator's code (or a backup code) as `code`".into(),
                        )
                        .into())
                    }
                }
            }
            Ok(Json(issue_tokens(&state, &op).await?))
        }
        _ => Err(AppError::Unauthorized("invalid_credentials", "wrong email or password".into()).into()),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptInvitation {
    /// The token of the invitation link (after `#invite=`).
    token: String,
    password: String,
}

/// An invited operator sets their password with the link's token (once,
/// within seven days) and is signed in.
#[utoipa::path(post, path = "/api/v1/auth/invitations/accept", tag = "auth", request_body = AcceptInvitation, responses((status = 200, description = "The token pair", body = TokenResponse), (status = "4XX", description = "Refused: an unknown, used or expired invitation (401)", body = OperatorError)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    client: ClientIp,
    body: Result<JsonBody<AcceptInvitation>, AppError>,
) -> OpResult<Json<TokenResponse>> {
    let JsonBody(req) = body?;
    state.limiter.check_sign_in(client.key(), None)?;
    let chars = req.password.chars().count();
    if !(8..=256).contains(&chars) {
        return Err(AppError::Validation("validation_error", "password must be 8 to 256 characters".into()).into());
    }
    let hash = password::hash_off_workers(req.password).await.map_err(|e| AppError::Internal(e.to_string()))?;
    let refused = || AppError::Unauthorized("invalid_invitation", "the invitation is unknown, used or expired".into());
    let id =
        state.store.accept_invitation(&token_hash(req.token.trim()), &hash, now_ms()).await?.ok_or_else(refused)?;
    let operator = state.store.operator_by_id(&id).await?.ok_or_else(refused)?;
    Ok(Json(issue_tokens(&state, &operator).await?))
}

/// `POST /api/v1/auth/register`.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    email: String,
    /// At least 8 characters.
    password: String,
    first_name: String,
    #[serde(default)]
    last_name: Option<String>,
    company_name: String,
}

/// Creates an account with the caller as its admin, when the server allows
/// registration, and signs them in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 200, description = "The new admin's token pair", body = TokenResponse),
        (status = "4XX", description = "Refused: registration closed (403), e-mail taken (409), invalid (422)", body = OperatorError),
    ))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientIp,
    body: Result<JsonBody<RegisterRequest>, AppError>,
) -> OpResult<Json<TokenResponse>> {
    if !state.settings.allow_registration {
        return Err(AppError::Forbidden("registration_closed", "this server does not take registrations".into()).into());
    }
    let JsonBody(req) = body?;
    state.limiter.check_sign_in(client.key(), Some(&req.email))?;
    let email = Email::parse(&req.email)?;
    let name = match req.last_name.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(last) => format!("{} {last}", req.first_name.trim()),
        None => req.first_name.trim().to_owned(),
    };
    let name = PersonName::parse(&name)?;
    let company = req.company_name.trim();
    if company.is_empty() || company.chars().count() > 100 || company.chars().any(char::is_control) {
        return Err(AppError::Validation("validation_error", "company_name must be 1 to 100 characters".into()).into());
    }
    let chars = req.password.chars().count();
    if !(8..=256).contains(&chars) {
        return Err(AppError::Validation("validation_error", "password must be 8 to 256 characters".into()).into());
    }
    let taken = || AppError::Conflict(format!("{} already has an account", email.as_str()));
    if state.store.operator_by_email(email.as_str()).await?.is_some() {
        return Err(taken().into());
    }
    let store = state.store.as_ref();
    let account = cli::create_account(store, company).await.map_err(|e| AppError::Internal(e.to_string()))?;
    store.set_account_plan(&account.id, state.plans.default_plan(), now_ms()).await?;
    let operator =
        cli::create_operator(store, Some(&account.id), email.as_str(), &req.password, "admin", Some(name.as_str()))
            .await
            .map_err(|_| taken())?;
    Ok(Json(issue_tokens(&state, &operator).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses((status = 200, description = "A new token pair; the refresh token is spent", body = TokenResponse), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientIp,
    body: Result<JsonBody<RefreshRequest>, AppError>,
) -> OpResult<Json<TokenResponse>> {
    let JsonBody(req) = body?;
    state.limiter.check_sign_in(client.key(), None)?;
    let refused = || {
        OpError(AppError::Unauthorized("invalid_refresh_token", "the refresh token is invalid, used or expired".into()))
    };
    let now = now_ms();
    let operator_id = match state.store.use_refresh_token(&token_hash(&req.refresh_token), now).await? {
        RefreshUse::Spent(operator_id) => operator_id,
        RefreshUse::Reused { operator_id, used_ms } => {
            // Two tabs refreshing at once spend the same token twice; a
            // token spent again later was copied, so nothing issued to
            // that operator can be trusted any more.
            if used_ms.is_none_or(|at| now - at > REUSE_GRACE_MS) {
                tracing::warn!(operator = %operator_id, "refresh token reused; revoking every session of the operator");
                state.store.revoke_operator_tokens(&operator_id).await?;
                state.hub.revoke(&operator_id);
            }
            return Err(refused());
        }
        RefreshUse::Unknown => return Err(refused()),
    };
    let operator = state.store.operator_by_id(&operator_id).await?.ok_or_else(refused)?;
    Ok(Json(issue_tokens(&state, &operator).await?))
}

/// Revokes every access and refresh token of the operator.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses((status = 204, description = "Every token of the operator is revoked"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn logout(State(state): State<AppState>, AuthOperator(op): AuthOperator) -> OpResult<StatusCode> {
    state.store.revoke_operator_tokens(&op.id).await?;
    state.hub.revoke(&op.id);
    Ok(StatusCode::NO_CONTENT)
}
