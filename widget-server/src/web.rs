//! The front end: static pages from `www/` (demo page at `/`, console at
//! `/console`) and the widget build from `pkg/` (precompressed at build
//! time), compressed, with cache headers.
//! The demo page gets the demo website's token in place of its placeholder.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{AppState, Settings};

fn cache(value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static(value))
}

pub fn router(settings: &Settings) -> Router<AppState> {
    let www = &settings.static_dir;
    // The widget build is not content-hashed, so it is revalidated hourly rather than cached forever.
    // `scripts/build-widget.sh` compresses it at build time (`.br`, `.gz`), so
    // it goes out as those files; anything else is compressed on the fly.
    let pkg = Router::new()
        .fallback_service(ServeDir::new(&settings.pkg_dir).precompressed_br().precompressed_gzip())
        .layer(cache("public, max-age=3600, must-revalidate"));
    let pages = Router::new()
        .route("/", get(demo_page))
        .route("/index.html", get(demo_page))
        .route_service(
            "/console",
            tower::ServiceBuilder::new()
                .layer(header_layer(header::CONTENT_SECURITY_POLICY, CONSOLE_CSP))
                .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
                .service(ServeFile::new(www.join("console.html"))),
        )
        .fallback_service(ServeDir::new(www).append_index_html_on_directories(true))
        .layer(cache("public, max-age=300, must-revalidate"));
    Router::new().nest("/pkg", pkg).merge(pages).layer(CompressionLayer::new())
}

/// The console's policy: its own script, style and API only, and never in a frame.
const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; \
    img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn header_layer(name: header::HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// Headers every response carries: no content sniffing, and no full URLs
/// (which may carry tokens) sent to other sites as referrers.
pub fn safety_headers<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
}

/// Placeholder in `www/index.html` for the demo website's token.
const DEMO_TOKEN_PLACEHOLDER: &str = "__NATTER_DEMO_TOKEN__";

/// The strict policy the demo host page runs under, to show the widget needs no more.
const DEMO_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:";

async fn demo_page(State(state): State<AppState>) -> Response {
    let page = match tokio::fs::read_to_string(state.settings.static_dir.join("index.html")).await {
        Ok(page) => page,
        Err(_) => return (StatusCode::NOT_FOUND, "no demo page in the static directory").into_response(),
    };
    let token = match state.store.kv_get("demo_website_token").await {
        Ok(token) => token.unwrap_or_default(),
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let mut res = Html(page.replace(DEMO_TOKEN_PLACEHOLDER, &token)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEMO_CSP));
    res
}
