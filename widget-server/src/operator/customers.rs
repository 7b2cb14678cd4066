//! Customers: the visitors behind sessions, with name, phone, email, when
//! they were first and last seen, and their conversations (sessions of the
//! same website sharing their phone or email).

use axum::extract::{Path, State};
use axum::Json;
use natter_protocol::operator::{Item, List, ListMeta};
use serde::Serialize;

use super::auth::AuthOperator;
use super::{page_window, PageQuery};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::QueryParams;
use crate::store::{ConversationFilter, Session};
use crate::time::iso;
use crate::AppState;

#[derive(Serialize)]
pub struct ConversationRef {
    id: String,
    status: &'static str,
    created_at: String,
}

#[derive(Serialize)]
pub struct Customer {
    id: String,
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    website_id: String,
    first_seen: String,
    last_seen: String,
    conversations: Vec<ConversationRef>,
}

fn reference(s: &Session) -> ConversationRef {
    ConversationRef { id: s.id.clone(), status: s.status.as_str(), created_at: iso(s.created_ms) }
}

fn customer(s: &Session, others: &[Session]) -> Customer {
    let mut conversations: Vec<ConversationRef> = std::iter::once(s).chain(others).map(reference).collect();
    conversations.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    let first = others.iter().map(|o| o.created_ms).chain([s.created_ms]).min().unwrap_or(s.created_ms);
    let last = others.iter().map(|o| o.updated_ms).chain([s.updated_ms]).max().unwrap_or(s.updated_ms);
    Customer {
        id: s.id.clone(),
        name: s.user_name.clone(),
        phone: s.user_phone.clone(),
        email: s.user_email.clone(),
        website_id: s.website_id.clone(),
        first_seen: iso(first),
        last_seen: iso(last),
        conversations,
    }
}

pub async fn list(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    q: Result<QueryParams<PageQuery>, AppError>,
) -> OpResult<Json<List<Customer>>> {
    let QueryParams(q) = q?;
    let (page, per_page) = page_window(q.page, q.per_page)?;
    let filter = ConversationFilter {
        account_id: op.account_id,
        offset: (page - 1) * per_page,
        limit: per_page,
        ..ConversationFilter::default()
    };
    let (rows, total) = state.store.list_conversations(&filter).await?;
    let data = rows.iter().map(|r| customer(&r.session, &[])).collect();
    Ok(Json(List { data, meta: Some(ListMeta { total, page, per_page }) }))
}

pub async fn get_one(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Item<Customer>>> {
    let session = state
        .store
        .session_by_id(&id)
        .await?
        .filter(|s| s.account_id == op.account_id)
        .ok_or_else(|| OpError(AppError::NotFound(format!("no customer {id}"))))?;
    let others = state.store.sessions_of_contact(&session).await?;
    Ok(Json(Item { data: customer(&session, &others) }))
}
