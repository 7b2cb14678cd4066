//! The account's own settings (`/account`): its name and how long it keeps
//! conversations. With a retention set, conversations without activity for
//! that many days are deleted with their messages and files, hourly.

use axum::extract::State;
use axum::Json;
use natter_protocol::operator::OperatorError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{AdminOperator, AuthOperator};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::AppState;

/// Longest retention that can be set: ten years.
const MAX_RETENTION_DAYS: i64 = 3650;

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    id: String,
    name: String,
    /// Days conversations are kept after their last activity; `null` keeps them.
    retention_days: Option<i64>,
}

async fn view(state: &AppState, account_id: &str) -> OpResult<AccountView> {
    let account = state
        .store
        .account_by_id(account_id)
        .await?
        .ok_or_else(|| OpError(AppError::NotFound("no such account".into())))?;
    let retention_days = state.store.retention_days(account_id).await?;
    Ok(AccountView { id: account.id, name: account.name, retention_days })
}

#[utoipa::path(get, path = "/api/v1/account", tag = "account", security(("bearer" = [])), responses((status = 200, description = "The operator's account", body = AccountView), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn get_account(State(state): State<AppState>, AuthOperator(op): AuthOperator) -> OpResult<Json<AccountView>> {
    Ok(Json(view(&state, &op.account_id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// 1–3650, or `null` to keep conversations.
    retention_days: Option<i64>,
}

/// Sets how long conversations are kept (admins only).
#[utoipa::path(put, path = "/api/v1/account", tag = "account", security(("bearer" = [])), request_body = AccountChange, responses((status = 200, description = "Changed", body = AccountView), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn put_account(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    body: Result<JsonBody<AccountChange>, AppError>,
) -> OpResult<Json<AccountView>> {
    let JsonBody(change) = body?;
    if let Some(days) = change.retention_days {
        if !(1..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(OpError(AppError::Validation(
                "validation_error",
                format!("retention_days must be between 1 and {MAX_RETENTION_DAYS}, or null"),
            )));
        }
    }
    state.store.set_retention_days(&op.account_id, change.retention_days).await?;
    tracing::info!(account = %op.account_id, days = ?change.retention_days, "retention changed");
    Ok(Json(view(&state, &op.account_id).await?))
}
