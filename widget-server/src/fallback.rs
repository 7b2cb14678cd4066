//! Answers for API paths no route serves and for methods a route does not
//! take, in the error shape of the API the path belongs to: the envelope
//! `{success: false, error}` for the native and Novatalks APIs and `/ws`,
//! `{detail, code}` for the operator API, the room stream and `/widget/v1`.
//! Static files are served only outside these prefixes.

use axum::http::Uri;
use axum::response::Response;
use axum::routing::any;
use axum::Router;

use crate::error::AppError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .route("/widget", any(not_found))
        .route("/widget/{*rest}", any(not_found))
        .route("/ws/{*rest}", any(not_found))
}

/// Whether a path belongs to an API that answers `{detail, code}`.
fn operator_shaped(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    !under("/api/public") && (under("/api") || under("/widget/v1"))
}

fn render(uri: &Uri, error: AppError) -> Response {
    if operator_shaped(uri.path()) {
        error.into_operator_response()
    } else {
        axum::response::IntoResponse::into_response(error)
    }
}

async fn not_found(uri: Uri) -> Response {
    render(&uri, AppError::NotFound(format!("no endpoint {}", uri.path())))
}

/// For a route that exists but not with this method.
pub async fn method_not_allowed(uri: Uri) -> Response {
    render(&uri, AppError::MethodNotAllowed(uri.path().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_keeps_its_error_shape() {
        assert!(operator_shaped("/api/v1/nope"));
        assert!(operator_shaped("/api/rooms/x/nope"));
        assert!(operator_shaped("/widget/v1/nope"));
        assert!(!operator_shaped("/api/public/chat/nope"));
        assert!(!operator_shaped("/widget/conversations/x"));
        assert!(!operator_shaped("/ws/x"));
        assert!(!operator_shaped("/widget/v10"));
    }
}
