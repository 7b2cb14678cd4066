//! The team: admins list operators, invite them (the invitee sets a
//! password through a one-time link), change roles and remove members;
//! every operator sets their own availability.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{Item, List, ListMeta};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{AdminOperator, AuthOperator};
use crate::cli::create_operator;
use crate::domain::{random_token, Email};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::Operator;
use crate::time::{iso, now_ms};
use crate::AppState;

/// How long an invitation link works.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// An operator as the team list shows it.
#[derive(Serialize, ToSchema)]
pub struct Member {
    id: String,
    email: String,
    name: String,
    role: String,
    departments: Vec<String>,
    /// `online` when they chose it and a console of theirs is connected, else `away`.
    availability: &'static str,
    /// What they chose: `online` or `away`.
    availability_setting: String,
    created_at: String,
    /// Only in the invite response: the one-time link where the invitee sets a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    invite_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invite_expires_at: Option<String>,
}

pub(crate) fn member(state: &AppState, op: &Operator) -> Member {
    Member {
        id: op.id.clone(),
        email: op.email.clone(),
        name: op.name.clone(),
        role: op.role.clone(),
        departments: op.departments.clone(),
        availability: state.presence.availability(&op.id, &op.availability),
        availability_setting: op.availability.clone(),
        created_at: iso(op.created_ms),
        invite_url: None,
        invite_expires_at: None,
    }
}

/// The roles, with the ids `role_id` takes (their names work too).
const ROLES: [(&str, &str, &str); 2] = [
    ("role-admin", "admin", "Everything, including the team, channels, API keys, webhooks and billing"),
    ("role-agent", "agent", "Conversations and customers"),
];

fn role(role: &str) -> OpResult<&'static str> {
    ROLES
        .iter()
        .find(|(id, name, _)| role == *id || role == *name)
        .map(|(_, name, _)| *name)
        .ok_or_else(|| OpError(AppError::Validation("validation_error", "role_id must be a role's id or name".into())))
}

#[derive(Serialize, ToSchema)]
pub struct RoleView {
    id: &'static str,
    name: &'static str,
    description: &'static str,
}

#[utoipa::path(get, path = "/api/v1/team/roles", tag = "team", security(("bearer" = [])), responses((status = 200, description = "The roles an operator may have", body = List<RoleView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn roles(_operator: AuthOperator) -> Json<List<RoleView>> {
    let data = ROLES.iter().map(|(id, name, description)| RoleView { id, name, description }).collect();
    Json(List { data, meta: None })
}

#[utoipa::path(get, path = "/api/v1/team", tag = "team", security(("bearer" = [])), responses((status = 200, description = "The account's operators", body = List<Member>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(State(state): State<AppState>, AdminOperator(me): AdminOperator) -> OpResult<Json<List<Member>>> {
    let data: Vec<Member> =
        state.store.list_operators(&me.account_id).await?.iter().map(|o| member(&state, o)).collect();
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
    #[serde(default)]
    departments: Vec<String>,
}

/// Up to 20 departments of 1–50 characters, trimmed, without repeats.
fn departments(given: &[String]) -> OpResult<Vec<String>> {
    let invalid = || {
        OpError(AppError::Validation("validation_error", "departments are up to 20 names of 1 to 50 characters".into()))
    };
    if given.len() > 20 {
        return Err(invalid());
    }
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for d in given {
        let d = d.trim();
        if d.is_empty() || d.chars().count() > 50 || d.chars().any(char::is_control) {
            return Err(invalid());
        }
        if !out.iter().any(|o| o == d) {
            out.push(d.to_owned());
        }
    }
    Ok(out)
}

/// Adds an operator who sets their own password through a one-time link
/// (valid seven days); nobody else ever knows it.
#[utoipa::path(post, path = "/api/v1/team/invite", tag = "team", security(("bearer" = [])), request_body = InviteRequest, responses((status = 201, description = "The new member, with the one-time link to pass on", body = Item<Member>), (status = 402, description = "The plan's operators are all taken (PLAN_LIMIT)", body = OperatorError), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn invite(
    State(state): State<AppState>,
    AdminOperator(me): AdminOperator,
    body: Result<JsonBody<InviteRequest>, AppError>,
) -> OpResult<(StatusCode, Json<Item<Member>>)> {
    let JsonBody(req) = body?;
    let email = Email::parse(&req.email)?;
    let departments = departments(&req.departments)?;
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
    // A password nobody knows, until the invitee sets theirs.
    let mut op = create_operator(
        state.store.as_ref(),
        Some(&me.account_id),
        email.as_str(),
        &random_token(),
        role,
        req.name.as_deref(),
    )
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    state.store.set_operator_departments(&op.id, &departments).await?;
    op.departments = departments;
    let token = random_token();
    let now = now_ms();
    let expires = now + INVITATION_TTL_MS;
    state.store.create_invitation(&super::auth::token_hash(&token), &op.id, expires, now).await?;
    let mut data = member(&state, &op);
    // The token travels in the fragment, which browsers never send to a server.
    data.invite_url = Some(format!("{}/console#invite={token}", state.settings.public_url));
    data.invite_expires_at = Some(iso(expires));
    Ok((StatusCode::CREATED, Json(Item { data })))
}

/// Removes a member: their sessions end at once, their conversations are
/// unassigned, their API keys stop working.
#[utoipa::path(delete, path = "/api/v1/team/{user_id}", tag = "team", security(("bearer" = [])), params(("user_id" = String, Path, description = "The operator's id")), responses((status = 204, description = "Removed"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn remove(
    State(state): State<AppState>,
    AdminOperator(me): AdminOperator,
    Path(user_id): Path<String>,
) -> OpResult<StatusCode> {
    if user_id == me.id {
        return Err(OpError(AppError::Validation("validation_error", "admins cannot remove themselves".into())));
    }
    let op = super::of_account(&me, state.store.operator_by_id(&user_id).await?, "operator", &user_id)?;
    state.store.delete_operator(&op.id).await?;
    state.hub.revoke(&op.id);
    tracing::info!(operator = %op.id, by = %me.id, "operator removed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct AvailabilityRequest {
    /// `online` or `away`.
    availability: String,
}

/// Sets the caller's availability; while no console of theirs is connected they show away regardless.
#[utoipa::path(put, path = "/api/v1/team/me/availability", tag = "team", security(("bearer" = [])), request_body = AvailabilityRequest, responses((status = 200, description = "The caller, as the team list shows them", body = Item<Member>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn set_availability(
    State(state): State<AppState>,
    AuthOperator(mut me): AuthOperator,
    body: Result<JsonBody<AvailabilityRequest>, AppError>,
) -> OpResult<Json<Item<Member>>> {
    let JsonBody(req) = body?;
    if !matches!(req.availability.as_str(), "online" | "away") {
        return Err(OpError(AppError::Validation("validation_error", "availability must be online or away".into())));
    }
    state.store.set_operator_availability(&me.id, &req.availability).await?;
    me.availability = req.availability;
    Ok(Json(Item { data: member(&state, &me) }))
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
    Ok(Json(Item { data: member(&state, &op) }))
}
