//! Customers: the people behind sessions, per account. A customer has the
//! contact details last given, when they were first and last seen, and their
//! conversations. Sessions join one customer only through verified identity
//! (`POST /customers/identify`), never because a phone or e-mail matches.
//! Admins can export a customer's data and erase it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{Item, List, ListMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{AdminOperator, AuthOperator};
use super::conversations::{load_session, operator_message};
use super::{page_window, PageQuery};
use crate::chat::history;
use crate::domain::{Email, PersonName};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::{JsonBody, QueryParams};
use crate::store::{Customer, Identity, Operator, Session};
use crate::time::iso;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct ConversationRef {
    id: String,
    website_id: String,
    /// `widget`, `telegram` or `whatsapp`.
    channel: &'static str,
    status: &'static str,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerView {
    id: String,
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    /// The verified external identity (`identify`'s `user_id`), if any.
    user_id: Option<String>,
    verified: bool,
    metadata: Value,
    first_seen: String,
    last_seen: String,
    conversations: Vec<ConversationRef>,
}

fn view(c: &Customer, sessions: &[Session]) -> CustomerView {
    let first = sessions.iter().map(|s| s.created_ms).chain([c.created_ms]).min().unwrap_or(c.created_ms);
    let last = sessions.iter().map(|s| s.updated_ms).chain([c.updated_ms]).max().unwrap_or(c.updated_ms);
    CustomerView {
        id: c.id.clone(),
        name: c.name.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        user_id: c.external_id.clone(),
        verified: c.external_id.is_some(),
        metadata: c.metadata.clone(),
        first_seen: iso(first),
        last_seen: iso(last),
        conversations: sessions
            .iter()
            .map(|s| ConversationRef {
                id: s.id.clone(),
                website_id: s.website_id.clone(),
                channel: s.channel.as_str(),
                status: s.status.as_str(),
                created_at: iso(s.created_ms),
            })
            .collect(),
    }
}

/// A customer of the operator's account; another account's is 404.
async fn load(state: &AppState, op: &Operator, id: &str) -> OpResult<Customer> {
    super::of_account(op, state.store.customer_by_id(id).await?, "customer", id)
}

#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])), params(PageQuery), responses((status = 200, description = "A page of customers", body = List<CustomerView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    q: Result<QueryParams<PageQuery>, AppError>,
) -> OpResult<Json<List<CustomerView>>> {
    let QueryParams(q) = q?;
    let (page, per_page) = page_window(q.page, q.per_page)?;
    let (customers, total) = state.store.list_customers(&op.account_id, (page - 1) * per_page, per_page).await?;
    let ids: Vec<&str> = customers.iter().map(|c| c.id.as_str()).collect();
    let sessions = state.store.sessions_of_customers(&ids).await?;
    let data = customers
        .iter()
        .map(|c| {
            let own: Vec<Session> = sessions.iter().filter(|s| s.customer_id == c.id).cloned().collect();
            view(c, &own)
        })
        .collect();
    Ok(Json(List { data, meta: Some(ListMeta { total, page, per_page }) }))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer's id")), responses((status = 200, description = "The customer", body = Item<CustomerView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Item<CustomerView>>> {
    let customer = load(&state, &op, &id).await?;
    let sessions = state.store.sessions_of_customers(&[&customer.id]).await?;
    Ok(Json(Item { data: view(&customer, &sessions) }))
}

#[derive(Deserialize, ToSchema)]
pub struct IdentifyRequest {
    session_id: String,
    user_id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

/// Links a session to an external user: later sessions identified with the
/// same `user_id` belong to the same customer.
#[utoipa::path(post, path = "/api/v1/customers/identify", tag = "customers", security(("bearer" = [])), request_body = IdentifyRequest, responses((status = 200, description = "The customer the session now belongs to", body = Item<CustomerView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn identify(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    body: Result<JsonBody<IdentifyRequest>, AppError>,
) -> OpResult<Json<Item<CustomerView>>> {
    let JsonBody(req) = body?;
    let invalid = |what: &str| OpError(AppError::Validation("validation_error", what.to_owned()));
    let user_id = req.user_id.trim();
    if user_id.is_empty() || user_id.chars().count() > 256 || user_id.chars().any(char::is_control) {
        return Err(invalid("user_id must be 1 to 256 characters"));
    }
    let name = req.name.as_deref().filter(|n| !n.trim().is_empty()).map(PersonName::parse).transpose()?;
    let email = req.email.as_deref().filter(|e| !e.trim().is_empty()).map(Email::parse).transpose()?;
    if let Some(metadata) = &req.metadata {
        if !metadata.is_object() || metadata.to_string().len() > 16 * 1024 {
            return Err(invalid("metadata must be a JSON object of at most 16 KB"));
        }
    }
    let session = load_session(&state, &op, &req.session_id).await?;
    let identity = Identity {
        external_id: user_id,
        name: name.as_ref().map(PersonName::as_str),
        email: email.as_ref().map(Email::as_str),
        metadata: req.metadata.as_ref(),
    };
    let customer = state.store.identify(&session, &identity).await?;
    let sessions = state.store.sessions_of_customers(&[&customer.id]).await?;
    let data = serde_json::json!({ "conversation_id": session.id, "customer_id": customer.id, "user_id": user_id });
    state.webhooks.emit(&session.account_id, "customer.identified", data).await;
    Ok(Json(Item { data: view(&customer, &sessions) }))
}

/// Everything kept about a customer, for a data access request.
#[utoipa::path(get, path = "/api/v1/customers/{id}/export", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer's id")), responses((status = 200, description = "Everything stored about the customer", body = Object), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn export(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Value>> {
    let customer = load(&state, &op, &id).await?;
    let sessions = state.store.sessions_of_customers(&[&customer.id]).await?;
    let mut conversations = Vec::with_capacity(sessions.len());
    for s in &sessions {
        let messages: Vec<_> = history(state.store.as_ref(), &s.id)
            .await?
            .iter()
            .map(|m| operator_message(m, &state.files.links))
            .collect();
        conversations.push(serde_json::json!({
            "id": s.id, "website_id": s.website_id, "status": s.status.as_str(), "created_at": iso(s.created_ms),
            "name": s.user_name, "phone": s.user_phone, "email": s.user_email, "messages": messages,
        }));
    }
    let mut data = serde_json::to_value(view(&customer, &sessions)).map_err(|e| AppError::Internal(e.to_string()))?;
    data["conversations"] = Value::Array(conversations);
    Ok(Json(serde_json::json!({ "data": data })))
}

/// Erases a customer with every conversation and message (an erasure request).
#[utoipa::path(delete, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer's id")), responses((status = 204, description = "The customer, their sessions, messages and files are erased"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn erase(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
) -> OpResult<StatusCode> {
    let customer = load(&state, &op, &id).await?;
    let sessions = state.store.sessions_of_customers(&[&customer.id]).await?;
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let blobs = state.store.blobs_of_sessions(&ids).await?;
    state.store.delete_customer(&customer.id).await?;
    for s in &sessions {
        state.sessions.forget(&s.id);
    }
    // Their files go from the store too, unless another conversation sent the same bytes.
    state.files.release(state.store.as_ref(), blobs).await;
    tracing::info!(customer = %customer.id, "customer erased");
    Ok(StatusCode::NO_CONTENT)
}
