//! The front end: static pages from `www/` (demo page at `/`, console at
//! `/console`) and the widget build from `pkg/`, compressed, with cache headers.

use axum::http::{header, HeaderValue};
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
    let pkg = Router::new()
        .fallback_service(ServeDir::new(&settings.pkg_dir))
        .layer(cache("public, max-age=3600, must-revalidate"));
    let pages = Router::new()
        .route_service("/console", ServeFile::new(www.join("console.html")))
        .fallback_service(ServeDir::new(www).append_index_html_on_directories(true))
        .layer(cache("public, max-age=300, must-revalidate"));
    Router::new().nest("/pkg", pkg).merge(pages).layer(CompressionLayer::new())
}
