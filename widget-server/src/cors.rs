//! CORS for the public API, from each website's allowed origins. Preflights
//! are answered for any origin (they carry no `X-API-Key`); the real request
//! is refused with 403 unless its website allows the origin.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::AppState;

const ALLOW_HEADERS: &str = "content-type, x-api-key, x-api-secret, x-session-token, auth-widget";

fn allow(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("retry-after"));
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}

pub async fn public_cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        allow(h, &origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return res;
    }
    // The native API names the website in `X-API-Key`, the Novatalks dialect in `?website_token=`.
    let key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned).or_else(|| {
        let query = req.uri().query().unwrap_or_default();
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find_map(|(k, v)| (k == "website_token").then_some(v))
    });
    if let (Some(key), Ok(origin_str)) = (key, origin.to_str()) {
        match state.websites.get(state.store.as_ref(), &key).await {
            Ok(Some(website)) if !website.allows_origin(origin_str) => {
                return AppError::Forbidden(
                    "origin_not_allowed",
                    format!("{origin_str} may not use this website's chat"),
                )
                .into_response();
            }
            Err(e) => return AppError::from(e).into_response(),
            _ => {}
        }
    }
    let mut res = next.run(req).await;
    allow(res.headers_mut(), &origin);
    res
}
