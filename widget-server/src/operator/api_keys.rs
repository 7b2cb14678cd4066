//! API keys for scripts and SDKs: `POST /api/v1/api-keys` makes one and shows
//! it once, `GET` lists them by prefix and last use, `DELETE` revokes one.
//! `Authorization: Bearer sk_live_…` then works on every operator endpoint,
//! with the key's account and role, on behalf of the admin who made it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::{Item, List, OperatorError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{key_hash, AdminOperator, API_KEY_PREFIX};
use crate::domain::random_token;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::ApiKey;
use crate::time::{iso, now_ms};
use crate::AppState;

/// Keys one account may have.
const MAX_KEYS: usize = 100;
/// Characters of a key kept to tell it apart: `sk_live_` and four more.
const PREFIX_CHARS: usize = API_KEY_PREFIX.len() + 4;

/// A key as the API shows it; `key` only in the answer that creates it.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    id: String,
    name: String,
    role: String,
    /// The key's first characters.
    prefix: String,
    created_at: String,
    last_used_at: Option<String>,
    /// The key itself: shown this once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn view(k: &ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: k.id.clone(),
        name: k.name.clone(),
        role: k.role.clone(),
        prefix: k.prefix.clone(),
        created_at: iso(k.created_ms),
        last_used_at: k.last_used_ms.map(iso),
        key: None,
    }
}

fn invalid(what: impl Into<String>) -> OpError {
    OpError(AppError::Validation("validation_error", what.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateRequest {
    /// What the key is for, 1–100 characters.
    name: String,
    /// `admin` or `agent` (the default).
    #[serde(default)]
    role: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateRequest,
    responses(
        (status = 201, description = "The key, shown this once", body = Item<ApiKeyView>),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
pub async fn create(
    State(state): State<AppState>,
    AdminOperator(me): AdminOperator,
    body: Result<JsonBody<CreateRequest>, AppError>,
) -> OpResult<(StatusCode, Json<Item<ApiKeyView>>)> {
    let JsonBody(req) = body?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name must be 1 to 100 characters"));
    }
    let role = match req.role.as_deref().unwrap_or("agent") {
        r @ ("admin" | "agent") => r,
        _ => return Err(invalid("role must be admin or agent")),
    };
    if state.store.list_api_keys(&me.account_id).await?.len() >= MAX_KEYS {
        return Err(invalid(format!("an account may have at most {MAX_KEYS} API keys")));
    }
    let secret = format!("{API_KEY_PREFIX}{}", random_token());
    let key = ApiKey {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: me.account_id.clone(),
        operator_id: me.id.clone(),
        name: name.to_owned(),
        role: role.to_owned(),
        prefix: secret.chars().take(PREFIX_CHARS).collect(),
        created_ms: now_ms(),
        last_used_ms: None,
    };
    state.store.create_api_key(&key, &key_hash(&secret)).await?;
    let mut data = view(&key);
    data.key = Some(secret);
    Ok((StatusCode::CREATED, Json(Item { data })))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's keys, by prefix and last use", body = List<ApiKeyView>),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
pub async fn list(State(state): State<AppState>, AdminOperator(me): AdminOperator) -> OpResult<Json<List<ApiKeyView>>> {
    let data = state.store.list_api_keys(&me.account_id).await?.iter().map(view).collect();
    Ok(Json(List { data, meta: None }))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked: the key works no more"),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    AdminOperator(me): AdminOperator,
    Path(id): Path<String>,
) -> OpResult<StatusCode> {
    if state.store.revoke_api_key(&me.account_id, &id, now_ms()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(OpError(AppError::NotFound(format!("no API key {id}"))))
    }
}
