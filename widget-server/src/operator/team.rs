//! The team (admin only): list operators, invite an agent, change a role.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{Item, List, ListMeta};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::AdminOperator;
use crate::cli::create_operator;
use crate::domain::{random_token, Email};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::Operator;
use crate::time::{iso, now_ms};
use crate::AppState;

/// An operator as the team list shows it.
#[derive(Serialize, ToSchema)]
pub struct Member {
    id: String,
    email: String,
    name: String,
    role: String,
    created_at: String,
    /// Only in the invite response: the new agent's first password.
    #[serde(skip_serializing_if = "Option::is_none")]
    temporary_password: Option<String>,
}

fn member(op: &Operator) -> Member {
    Member {
        id: op.id.clone(),
        email: op.email.clone(),
        name: op.name.clone(),
        role: op.role.clone(),
        created_at: iso(op.created_ms),
        temporary_password: None,
    }
}

fn role(role: &str) -> OpResult<&str> {
    match role {
        "admin" | "agent" => Ok(role),
        _ => Err(OpError(AppError::Validation("validation_error", "role_id must be admin or agent".into()))),
    }
}

#[utoipa::path(get, path = "/api/v1/team", tag = "team", security(("bearer" = [])), responses((status = 200, description = "The account's operators", body = List<Member>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(State(state): State<AppState>, AdminOperator(me): AdminOperator) -> OpResult<Json<List<Member>>> {
    let data: Vec<Member> = state.store.list_operators(&me.account_id).await?.iter().map(member).collect();
    let total = i64::try_from(data.len()).unwrap_or(i64::MAX);
    Ok(Json(List { data, meta: Some(ListMeta { total, page: 1, per_page: total.max(1) }) }))
}

/// Operators one account may have, so the team list is bounded.
const MAX_MEMBERS: usize = 500;

#[derive(Deserialize, ToSchema)]
pub struct InviteRequest {
    email: String,
    #[serde(default)]
    role_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/team/invite", tag = "team", security(("bearer" = [])), request_body = InviteRequest, responses((status = 201, description = "The new member", body = Item<Member>), (status = 402, description = "The plan's operators are all taken (PLAN_LIMIT)", body = OperatorError), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn invite(
    State(state): State<AppState>,
    AdminOperator(me): AdminOperator,
    body: Result<JsonBody<InviteRequest>, AppError>,
) -> OpResult<(StatusCode, Json<Item<Member>>)> {
    let JsonBody(req) = body?;
    let email = Email::parse(&req.email)?;
    if state.store.list_operators(&me.account_id).await?.len() >= MAX_MEMBERS {
        return Err(OpError(AppError::Validation(
            "validation_error",
            format!("an account may have at most {MAX_MEMBERS} operators"),
        )));
    }
    let role = role(req.role_id.as_deref().unwrap_or("agent"))?;
    state.plans.check_operators(state.store.as_ref(), &me.account_id, now_ms()).await?;
    if state.store.operator_by_email(email.as_str()).await?.is_some() {
        return Err(OpError(AppError::Conflict(format!("{} is already on the team", email.as_str()))));
    }
    let password = random_token();
    let op = create_operator(
        state.store.as_ref(),
        Some(&me.account_id),
        email.as_str(),
        &password,
        role,
        req.name.as_deref(),
    )
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut data = member(&op);
    data.temporary_password = Some(password);
    Ok((StatusCode::CREATED, Json(Item { data })))
}

#[derive(Deserialize, ToSchema)]
pub struct RoleRequest {
    role_id: String,
}

#[utoipa::path(put, path = "/api/v1/team/{user_id}/role", tag = "team", security(("bearer" = [])), params(("user_id" = String, Path, description = "The operator's id")), request_body = RoleRequest, responses((status = 200, description = "The member with the new role", body = Item<Member>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn set_role(
    State(state): State<AppState>,
    AdminOperator(me): AdminOperator,
    Path(user_id): Path<String>,
    body: Result<JsonBody<RoleRequest>, AppError>,
) -> OpResult<Json<Item<Member>>> {
    let JsonBody(req) = body?;
    let role = role(&req.role_id)?;
    if user_id == me.id && role != "admin" {
        return Err(OpError(AppError::Validation("validation_error", "admins cannot demote themselves".into())));
    }
    super::of_account(&me, state.store.operator_by_id(&user_id).await?, "operator", &user_id)?;
    let op = state
        .store
        .set_operator_role(&user_id, role)
        .await?
        .ok_or_else(|| OpError(AppError::NotFound(format!("no operator {user_id}"))))?;
    // Tokens carry the role: make the operator log in again.
    state.store.revoke_operator_tokens(&op.id).await?;
    state.hub.revoke(&op.id);
    Ok(Json(Item { data: member(&op) }))
}
