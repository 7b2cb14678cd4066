//! Two-factor sign-in (TOTP, RFC 6238): `POST /auth/2fa/enable` answers a
//! secret, its `otpauth://` URL and ten single-use backup codes; `verify`
//! with a code turns it on; from then on a login needs `code` too;
//! `disable` needs a code. A code's time step is accepted once.

use axum::extract::State;
use axum::Json;
use natter_protocol::operator::OperatorError;
use rand::Rng;
use serde::{Deserialize, Serialize};
use totp_rs::{Builder, Secret, Totp};
use utoipa::ToSchema;

use super::auth::{key_hash, AuthOperator};
use crate::client::ClientIp;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::{Operator, TwoFactor};
use crate::time::now_ms;
use crate::AppState;

const ISSUER: &str = "Natter";
const BACKUP_CODES: usize = 10;

fn totp(secret: &str, account: &str) -> OpResult<Totp> {
    let secret = Secret::try_from_base32(secret).map_err(|e| AppError::Internal(format!("2FA secret: {e}")))?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| OpError(AppError::Internal(format!("2FA: {e}"))))
}

fn wrong_code() -> OpError {
    OpError(AppError::Unauthorized("invalid_2fa_code", "the code is wrong, expired or already used".into()))
}

/// Accepts a current authenticator code whose time step was not used yet.
async fn check_totp(state: &AppState, op: &Operator, tf: &TwoFactor, code: &str) -> OpResult<()> {
    let step = totp(&tf.secret, &op.email)?.check_current(code).ok_or_else(wrong_code)?;
    let step = i64::try_from(step).map_err(|_| wrong_code())?;
    if state.store.spend_two_factor_step(&op.id, step).await? {
        Ok(())
    } else {
        Err(wrong_code())
    }
}

/// Accepts an authenticator code (six digits) or an unused backup code
/// (eight digits, spent by this).
pub(crate) async fn check_code(state: &AppState, op: &Operator, tf: &TwoFactor, code: &str) -> OpResult<()> {
    let code: String = code.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    match code.len() {
        6 if code.chars().all(|c| c.is_ascii_digit()) => check_totp(state, op, tf, &code).await,
        8 if code.chars().all(|c| c.is_ascii_digit()) => {
            if state.store.spend_backup_code(&op.id, &key_hash(&code)).await? {
                Ok(())
            } else {
                Err(wrong_code())
            }
        }
        _ => Err(wrong_code()),
    }
}

/// The answer to `enable`: everything an authenticator app needs, once.
#[derive(Serialize, ToSchema)]
pub struct Enabling {
    /// Base32, for typing into an app.
    secret: String,
    /// `otpauth://totp/…`, for a QR code.
    qr_code_url: String,
    /// Ten eight-digit codes, each good for one sign-in without the app.
    backup_codes: Vec<String>,
}

/// Whether two-factor sign-in is on.
#[derive(Serialize, ToSchema)]
pub struct TwoFactorState {
    enabled: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// The authenticator's six digits (or, to disable, a backup code).
    code: String,
}

#[utoipa::path(get, path = "/api/v1/auth/2fa", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Whether two-factor sign-in is on for the caller", body = TwoFactorState),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
pub async fn status(State(state): State<AppState>, AuthOperator(op): AuthOperator) -> OpResult<Json<TwoFactorState>> {
    let enabled = state.store.two_factor(&op.id).await?.is_some_and(|tf| tf.active);
    Ok(Json(TwoFactorState { enabled }))
}

#[utoipa::path(post, path = "/api/v1/auth/2fa/enable", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "A new secret and backup codes; on after `verify`", body = Enabling),
        (status = "4XX", description = "Refused: already on (409)", body = OperatorError),
    ))]
pub async fn enable(State(state): State<AppState>, AuthOperator(op): AuthOperator) -> OpResult<Json<Enabling>> {
    if state.store.two_factor(&op.id).await?.is_some_and(|tf| tf.active) {
        return Err(OpError(AppError::Conflict("two-factor sign-in is on; disable it first".into())));
    }
    let (bytes, backup_codes) = {
        let mut rng = rand::thread_rng();
        let bytes: [u8; 20] = rng.gen();
        let codes: Vec<String> =
            (0..BACKUP_CODES).map(|_| format!("{:08}", rng.gen_range(0..100_000_000u32))).collect();
        (bytes, codes)
    };
    let secret = Secret::from(bytes).to_base32();
    let qr_code_url = totp(&secret, &op.email)?.to_url().map_err(|e| AppError::Internal(format!("2FA URL: {e}")))?;
    let hashes: Vec<String> = backup_codes.iter().map(|c| key_hash(c)).collect();
    state.store.begin_two_factor(&op.id, &secret, &hashes, now_ms()).await?;
    Ok(Json(Enabling { secret, qr_code_url, backup_codes }))
}

#[utoipa::path(post, path = "/api/v1/auth/2fa/verify", tag = "auth", security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Two-factor sign-in is on", body = TwoFactorState),
        (status = "4XX", description = "Refused: a wrong code (401), nothing to verify (409)", body = OperatorError),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientIp,
    AuthOperator(op): AuthOperator,
    body: Result<JsonBody<CodeRequest>, AppError>,
) -> OpResult<Json<TwoFactorState>> {
    let JsonBody(req) = body?;
    state.limiter.check_sign_in(client.key(), Some(&op.email))?;
    let tf = state
        .store
        .two_factor(&op.id)
        .await?
        .ok_or_else(|| OpError(AppError::Conflict("start with POST /api/v1/auth/2fa/enable".into())))?;
    check_totp(&state, &op, &tf, req.code.trim()).await?;
    state.store.activate_two_factor(&op.id).await?;
    Ok(Json(TwoFactorState { enabled: true }))
}

#[utoipa::path(post, path = "/api/v1/auth/2fa/disable", tag = "auth", security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Two-factor sign-in is off", body = TwoFactorState),
        (status = "4XX", description = "Refused: a wrong code (401), not on (409)", body = OperatorError),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    client: ClientIp,
    AuthOperator(op): AuthOperator,
    body: Result<JsonBody<CodeRequest>, AppError>,
) -> OpResult<Json<TwoFactorState>> {
    let JsonBody(req) = body?;
    state.limiter.check_sign_in(client.key(), Some(&op.email))?;
    let tf = state
        .store
        .two_factor(&op.id)
        .await?
        .filter(|tf| tf.active)
        .ok_or_else(|| OpError(AppError::Conflict("two-factor sign-in is not on".into())))?;
    check_code(&state, &op, &tf, &req.code).await?;
    state.store.remove_two_factor(&op.id).await?;
    Ok(Json(TwoFactorState { enabled: false }))
}
