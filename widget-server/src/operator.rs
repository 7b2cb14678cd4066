//! The operator API under `/api/v1` in the OmniSupport shapes (`{data, meta}`
//! lists, `{detail, code}` errors): auth, conversations and the team.

mod account;
mod ai;
mod analytics;
mod api_keys;
mod auth;
mod billing;
mod channels;
pub(crate) mod conversations;
mod customers;
mod knowledge;
mod rooms;
pub(crate) mod stream;
mod team;
mod two_factor;
mod webhooks;

use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth::login))
        .routes(routes!(auth::register))
        .routes(routes!(two_factor::status))
        .routes(routes!(two_factor::enable))
        .routes(routes!(two_factor::verify))
        .routes(routes!(two_factor::disable))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(conversations::list, conversations::start))
        .routes(routes!(conversations::get_one))
        .routes({
            // Replies may carry files.
            let (schemas, paths, router) = routes!(conversations::messages, conversations::reply);
            (schemas, paths, router.layer(axum::extract::DefaultBodyLimit::disable()))
        })
        .routes({
            let (schemas, paths, router) = routes!(conversations::upload);
            (schemas, paths, router.layer(axum::extract::DefaultBodyLimit::disable()))
        })
        .routes(routes!(conversations::close))
        .routes(routes!(conversations::reopen))
        .routes(routes!(conversations::assign))
        .routes(routes!(conversations::ai_switch))
        .routes(routes!(conversations::typing))
        .routes(routes!(customers::list))
        .routes(routes!(customers::identify))
        .routes(routes!(customers::get_one, customers::erase))
        .routes(routes!(customers::export))
        .routes(routes!(analytics::stats))
        .routes(routes!(analytics::export))
        .routes(routes!(rooms::login))
        .routes(routes!(rooms::list))
        .routes(routes!(rooms::messages))
        .routes(routes!(rooms::chat))
        .routes({
            // One path, two uses: a WebSocket upgrade is the graph stream, anything else the snapshot.
            let (schemas, paths, _) = routes!(rooms::graph_snapshot);
            (schemas, paths, axum::routing::get(rooms::graph))
        })
        .routes(routes!(rooms::relationships))
        .routes(routes!(rooms::feed))
        .routes(routes!(team::list))
        .routes(routes!(team::invite))
        .routes(routes!(team::set_role))
        .routes(routes!(team::roles))
        .routes(routes!(team::remove))
        .routes(routes!(team::set_availability))
        .routes(routes!(auth::accept_invitation))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get_one, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(channels::list, channels::create))
        .routes(routes!(channels::update))
        .routes(routes!(account::get_account, account::put_account))
        .routes(routes!(billing::get_subscription))
        .routes(routes!(billing::usage))
        .routes(routes!(billing::change))
        .routes({
            // Documents are larger than the API's usual bodies.
            let (schemas, paths, router) = routes!(knowledge::list, knowledge::upload);
            let limit = axum::extract::DefaultBodyLimit::max(knowledge::MAX_DOCUMENT_BYTES + 64 * 1024);
            (schemas, paths, router.layer(limit))
        })
        .routes(routes!(knowledge::delete))
        .routes(routes!(knowledge::search))
        .routes(routes!(ai::get_settings, ai::put_settings))
        .routes(routes!(ai::generate))
}
