//! Webhook subscriptions (admin only): create, list, read, change, delete,
//! and each webhook's delivery log. Secrets are shown once, on creation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{Item, List};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::AdminOperator;
use crate::domain::random_token;
use crate::egress::Refused;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::{Delivery, Operator, Webhook};
use crate::time::{iso, now_ms};
use crate::webhooks::EVENTS;
use crate::AppState;

/// Deliveries listed per webhook.
const LOG_LIMIT: i64 = 100;

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    id: String,
    url: String,
    events: Vec<String>,
    active: bool,
    created_at: String,
    /// Only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

fn view(w: &Webhook) -> WebhookView {
    WebhookView {
        id: w.id.clone(),
        url: w.url.clone(),
        events: w.events.clone(),
        active: w.active,
        created_at: iso(w.created_ms),
        secret: None,
    }
}

fn invalid(what: String) -> OpError {
    OpError(AppError::Validation("validation_error", what))
}

/// A target URL: http(s), at most 2 KB, and outside the private network
/// unless the server allows that ([`crate::egress`]).
async fn check_url(state: &AppState, url: &str) -> OpResult<String> {
    if url.len() > 2048 || url.contains(char::is_whitespace) {
        return Err(invalid("url must be an http:// or https:// address of at most 2048 characters".into()));
    }
    match state.settings.egress.check_url(url).await {
        Ok(_) => Ok(url.to_owned()),
        Err(refused @ Refused::NotHttp) => Err(invalid(refused.to_string())),
        Err(refused) => Err(OpError(AppError::Validation("webhook_target_not_allowed", refused.to_string()))),
    }
}

fn check_events(events: Vec<String>) -> OpResult<Vec<String>> {
    if events.is_empty() {
        return Err(invalid(format!("events must name at least one of {}", EVENTS.join(", "))));
    }
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(invalid(format!("unknown event {bad}; known events: {}", EVENTS.join(", "))));
    }
    Ok(events)
}

/// Webhooks one account may have, so every list of them is short.
const MAX_WEBHOOKS: usize = 50;

fn check_secret(secret: String) -> OpResult<String> {
    if secret.len() < 16 {
        return Err(invalid("secret must be at least 16 characters".into()));
    }
    Ok(secret)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateRequest {
    url: String,
    events: Vec<String>,
    /// Generated when absent.
    #[serde(default)]
    secret: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = CreateRequest, responses((status = 201, description = "The webhook; a generated secret is shown this once", body = Item<WebhookView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn create(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    body: Result<JsonBody<CreateRequest>, AppError>,
) -> OpResult<(StatusCode, Json<Item<WebhookView>>)> {
    let JsonBody(req) = body?;
    if state.store.list_webhooks(&op.account_id).await?.len() >= MAX_WEBHOOKS {
        return Err(invalid(format!("an account may have at most {MAX_WEBHOOKS} webhooks")));
    }
    let generated = req.secret.is_none();
    let hook = Webhook {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: op.account_id,
        url: check_url(&state, &req.url).await?,
        events: check_events(req.events)?,
        secret: match req.secret {
            Some(secret) => check_secret(secret)?,
            None => format!("whsec_{}", random_token()),
        },
        active: true,
        created_ms: now_ms(),
    };
    state.store.save_webhook(&hook).await?;
    state.webhooks.invalidate(&hook.account_id).await;
    let mut data = view(&hook);
    // A generated secret is shown this once, or the receiver could never
    // check a signature; one the caller chose is never sent back.
    data.secret = generated.then_some(hook.secret);
    Ok((StatusCode::CREATED, Json(Item { data })))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])), responses((status = 200, description = "The account's webhooks", body = List<WebhookView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
) -> OpResult<Json<List<WebhookView>>> {
    let data = state.store.list_webhooks(&op.account_id).await?.iter().map(view).collect();
    Ok(Json(List { data, meta: None }))
}

/// A webhook of the admin's account; another account's is 404.
async fn load(state: &AppState, op: &Operator, id: &str) -> OpResult<Webhook> {
    super::of_account(op, state.store.webhook_by_id(id).await?, "webhook", id)
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path, description = "The webhook's id")), responses((status = 200, description = "The webhook", body = Item<WebhookView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn get_one(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Item<WebhookView>>> {
    Ok(Json(Item { data: view(&load(&state, &op, &id).await?) }))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateRequest {
    url: Option<String>,
    events: Option<Vec<String>>,
    secret: Option<String>,
    active: Option<bool>,
}

#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path, description = "The webhook's id")), request_body = UpdateRequest, responses((status = 200, description = "The changed webhook", body = Item<WebhookView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn update(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
    body: Result<JsonBody<UpdateRequest>, AppError>,
) -> OpResult<Json<Item<WebhookView>>> {
    let JsonBody(req) = body?;
    let mut hook = load(&state, &op, &id).await?;
    if let Some(url) = req.url {
        hook.url = check_url(&state, &url).await?;
    }
    if let Some(events) = req.events {
        hook.events = check_events(events)?;
    }
    if let Some(secret) = req.secret {
        hook.secret = check_secret(secret)?;
    }
    if let Some(active) = req.active {
        hook.active = active;
    }
    state.store.save_webhook(&hook).await?;
    state.webhooks.invalidate(&hook.account_id).await;
    Ok(Json(Item { data: view(&hook) }))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path, description = "The webhook's id")), responses((status = 204, description = "Deleted with its queue and log"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn delete(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
) -> OpResult<StatusCode> {
    load(&state, &op, &id).await?;
    state.webhooks.invalidate(&op.account_id).await;
    if state.store.delete_webhook(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(OpError(AppError::NotFound(format!("no webhook {id}"))))
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    id: String,
    event: String,
    attempt: i64,
    status_code: Option<i64>,
    success: bool,
    error: Option<String>,
    created_at: String,
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path, description = "The webhook's id")), responses((status = 200, description = "The newest delivery attempts", body = List<DeliveryView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn deliveries(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
) -> OpResult<Json<List<DeliveryView>>> {
    load(&state, &op, &id).await?;
    let data = state
        .store
        .list_deliveries(&id, LOG_LIMIT)
        .await?
        .into_iter()
        .map(|d: Delivery| DeliveryView {
            id: d.id,
            event: d.event,
            attempt: d.attempt,
            status_code: d.status_code,
            success: d.success,
            error: d.error,
            created_at: iso(d.created_ms),
        })
        .collect();
    Ok(Json(List { data, meta: None }))
}
