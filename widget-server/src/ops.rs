//! Operations endpoints: `/healthz`, `/readyz` and `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = String, content_type = "text/plain"),
        (status = 503, description = "The database does not answer", body = String, content_type = "text/plain"),
    ))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

/// `/metrics` alone, for the `--metrics-addr` listener: open there unless a
/// metrics token is configured, which it then needs too.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>, headers: axum::http::HeaderMap| async move {
                match state.settings.metrics_token.as_deref() {
                    Some(expected) => scrape(&state, &headers, expected),
                    None => render(&state),
                }
            }),
        )
        .with_state(state)
}

/// The Prometheus text on the main address, for a scraper with
/// `Authorization: Bearer <--metrics-token>`; without a configured token it
/// is not served there at all.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text", body = String, content_type = "text/plain"),
        (status = 401, description = "No or a wrong metrics token", body = String, content_type = "text/plain"),
        (status = 404, description = "No metrics token is configured", body = String, content_type = "text/plain"),
    ))]
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> axum::response::Response {
    let Some(expected) = state.settings.metrics_token.as_deref() else {
        return (StatusCode::NOT_FOUND, "metrics are served only with --metrics-token or on --metrics-addr")
            .into_response();
    };
    scrape(&state, &headers, expected)
}

fn scrape(state: &AppState, headers: &axum::http::HeaderMap, expected: &str) -> axum::response::Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !crate::extract::secrets_match(given.trim(), expected) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send the metrics token as a bearer token",
        )
            .into_response();
    }
    render(state)
}

fn render(state: &AppState) -> axum::response::Response {
    let body = state.metrics.render(state.hub.active_sessions());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
