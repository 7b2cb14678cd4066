//! The operator API under `/api/v1` in the OmniSupport shapes (`{data, meta}`
//! lists, `{detail, code}` errors): auth, conversations and the team.

mod analytics;
mod auth;
pub(crate) mod conversations;
mod customers;
mod rooms;
pub(crate) mod stream;
mod team;
mod webhooks;

use axum::routing::{get, post, put};
use axum::Router;
use serde::Deserialize;

pub use auth::JwtKeys;

use crate::error::{AppError, OpError, OpResult};
use crate::store::{Operator, Owned};
use crate::AppState;

/// `found` when it belongs to the operator's account. Another account's
/// record gets the same 404 as an id that does not exist, never a 403.
fn of_account<T: Owned>(op: &Operator, found: Option<T>, what: &str, id: &str) -> OpResult<T> {
    found
        .filter(|r| r.account_id() == op.account_id)
        .ok_or_else(|| OpError(AppError::NotFound(format!("no {what} {id}"))))
}

/// `page` and `per_page` of a list request.
#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
    per_page: Option<i64>,
}

/// The deepest page a list serves; beyond it the offset would be meaningless.
const MAX_PAGE: i64 = 100_000;

/// The `(page, per_page)` of a list: `page` 1–100,000, `per_page` 1–100 (20
/// when absent); anything else is refused with 422.
fn page_window(page: Option<i64>, per_page: Option<i64>) -> Result<(i64, i64), OpError> {
    let invalid = |what: &str| OpError(AppError::Validation("validation_error", what.to_owned()));
    let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(20));
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(invalid("page must be between 1 and 100000"));
    }
    if !(1..=100).contains(&per_page) {
        return Err(invalid("per_page must be between 1 and 100"));
    }
    Ok((page, per_page))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/conversations", get(conversations::list))
        .route("/api/v1/conversations/{id}", get(conversations::get_one))
        .route("/api/v1/conversations/{id}/messages", get(conversations::messages).post(conversations::reply))
        .route("/api/v1/conversations/{id}/close", post(conversations::close))
        .route("/api/v1/conversations/{id}/reopen", post(conversations::reopen))
        .route("/api/v1/conversations/{id}/assign", post(conversations::assign))
        .route("/api/v1/conversations/{id}/typing", post(conversations::typing))
        .route("/api/v1/customers", get(customers::list))
        .route("/api/v1/customers/identify", post(customers::identify))
        .route("/api/v1/customers/{id}", get(customers::get_one).delete(customers::erase))
        .route("/api/v1/customers/{id}/export", get(customers::export))
        .route("/api/v1/analytics/stats", get(analytics::stats))
        .route("/api/auth/login", post(rooms::login))
        .route("/api/rooms", get(rooms::list))
        .route("/api/rooms/{id}/messages", get(rooms::messages))
        .route("/api/rooms/{id}/chat", get(rooms::chat))
        .route("/api/v1/team", get(team::list))
        .route("/api/v1/team/invite", post(team::invite))
        .route("/api/v1/team/{user_id}/role", put(team::set_role))
        .route("/api/v1/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/api/v1/webhooks/{id}", get(webhooks::get_one).put(webhooks::update).delete(webhooks::delete))
        .route("/api/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
}
