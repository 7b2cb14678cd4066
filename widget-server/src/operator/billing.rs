//! Billing (`/billing`): the account's plan, what it uses of it this month,
//! and changing the plan (admins), which emits `subscription.changed` so an
//! external billing system can act. Shapes as the operator document's usage
//! example: `{plan, period: {start, end}, messages: {used, limit},
//! storage: {used_mb, limit_mb}}`; a `null` limit is unlimited.

use axum::extract::State;
use axum::Json;
use chrono::{TimeZone, Utc};
use natter_protocol::operator::OperatorError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::auth::{AdminOperator, AuthOperator};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::plans::{month_of, AccountPlan, PlanLimits};
use crate::store::Operator;
use crate::time::{iso, now_ms};
use crate::AppState;

const MB: i64 = 1024 * 1024;

/// The current billing period: the calendar month (UTC), both days included.
#[derive(Serialize, ToSchema)]
pub struct Period {
    start: String,
    end: String,
}

fn period(now: i64) -> Period {
    let (start, next) = month_of(now);
    let day =
        |ms: i64| Utc.timestamp_millis_opt(ms).single().map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    Period { start: day(start), end: day(next - 1) }
}

#[derive(Serialize, ToSchema)]
pub struct Subscription {
    plan: String,
    status: &'static str,
    period: Period,
    limits: PlanLimits,
    /// When the plan last changed; `null` if it never did.
    changed_at: Option<String>,
    /// The plans this server offers.
    available_plans: Vec<String>,
}

fn subscription(state: &AppState, plan: AccountPlan) -> Subscription {
    Subscription {
        plan: plan.name,
        status: "active",
        period: period(now_ms()),
        limits: plan.limits,
        changed_at: plan.changed_ms.map(iso),
        available_plans: state.plans.names().map(str::to_owned).collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/billing/subscription", tag = "billing", security(("bearer" = [])), responses((status = 200, description = "The account's plan", body = Subscription), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn get_subscription(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
) -> OpResult<Json<Subscription>> {
    let plan = state.plans.plan_of(state.store.as_ref(), &op.account_id).await?;
    Ok(Json(subscription(&state, plan)))
}

/// Used and allowed; `over` when the use passed the limit (visitor messages are never refused).
#[derive(Serialize, ToSchema)]
pub struct Quota {
    used: i64,
    limit: Option<i64>,
    over: bool,
}

#[derive(Serialize, ToSchema)]
pub struct StorageQuota {
    used_mb: i64,
    limit_mb: Option<i64>,
    over: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Usage {
    plan: String,
    period: Period,
    messages: Quota,
    storage: StorageQuota,
    operators: Quota,
    /// Operator-API requests a minute; `null` is unlimited.
    requests_per_minute: Option<u32>,
}

fn quota(used: i64, limit: Option<i64>) -> Quota {
    Quota { used, limit, over: limit.is_some_and(|l| used > l) }
}

/// Usage of the account's plan, from stored data: this month's messages
/// (visitors', operators' and the bot's), the data kept, the operators.
pub(crate) async fn usage_of(state: &AppState, op: &Operator) -> OpResult<Usage> {
    let now = now_ms();
    let plan = state.plans.plan_of(state.store.as_ref(), &op.account_id).await?;
    let used = state.plans.usage(state.store.as_ref(), &op.account_id, now).await?;
    let used_mb = (used.storage_bytes + MB - 1) / MB;
    Ok(Usage {
        period: period(now),
        messages: quota(used.messages, plan.limits.messages_per_month),
        storage: StorageQuota {
            used_mb,
            limit_mb: plan.limits.storage_mb,
            over: plan.limits.storage_mb.is_some_and(|l| used_mb > l),
        },
        operators: quota(used.operators, plan.limits.operators),
        requests_per_minute: plan.limits.requests_per_minute,
        plan: plan.name,
    })
}

#[utoipa::path(get, path = "/api/v1/billing/usage", tag = "billing", security(("bearer" = [])), responses((status = 200, description = "What the account uses of its plan this month", body = Usage), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn usage(State(state): State<AppState>, AuthOperator(op): AuthOperator) -> OpResult<Json<Usage>> {
    Ok(Json(usage_of(&state, &op).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePlan {
    plan: String,
}

/// Moves the account to another plan at once; `subscription.changed` tells webhooks.
#[utoipa::path(post, path = "/api/v1/billing/subscription/change", tag = "billing", security(("bearer" = [])), request_body = ChangePlan, responses((status = 200, description = "The account's new plan", body = Subscription), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn change(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    body: Result<JsonBody<ChangePlan>, AppError>,
) -> OpResult<Json<Subscription>> {
    let JsonBody(req) = body?;
    if state.plans.limits(&req.plan).is_none() {
        let names: Vec<&str> = state.plans.names().collect();
        return Err(OpError(AppError::Validation(
            "validation_error",
            format!("plan must be one of {}", names.join(", ")),
        )));
    }
    let before = state.plans.plan_of(state.store.as_ref(), &op.account_id).await?;
    let now = now_ms();
    state.store.set_account_plan(&op.account_id, &req.plan, now).await?;
    state.plans.forget(&op.account_id);
    let after = state.plans.plan_of(state.store.as_ref(), &op.account_id).await?;
    let data = json!({ "account_id": op.account_id, "from": before.name, "to": after.name, "changed_at": iso(now), "changed_by": op.id });
    state.webhooks.emit(&op.account_id, "subscription.changed", data).await;
    tracing::info!(account = %op.account_id, from = %before.name, to = %after.name, "plan changed");
    Ok(Json(subscription(&state, after)))
}
