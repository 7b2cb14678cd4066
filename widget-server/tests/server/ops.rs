//! Health, readiness, metrics, the OpenAPI document and static files.

use reqwest::StatusCode;

use crate::support::{Db, TestApp};

async fn health_and_readiness_answer(db: Db) {
    let app = TestApp::spawn(db).await;
    assert_eq!(app.get_raw("/healthz", &[]).await.status, StatusCode::OK);
    assert_eq!(app.get_raw("/readyz", &[]).await.status, StatusCode::OK);
}

async fn metrics_count_sockets_and_stored_messages(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("metrics-1").await;
    let _ws = app.subscribed(&s, None).await;
    app.send_ok(&s, "count me").await;
    let scrape = app.http.get(app.url("/metrics")).bearer_auth("test-metrics-token").send().await.expect("metrics");
    let text = scrape.text().await.expect("text");
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} missing in {text}"))
    };
    assert_eq!(value("natter_websockets_open "), 1.0);
    // Greeting, the visitor's message and the contact request.
    assert_eq!(value("natter_messages_stored_total "), 3.0);
    assert!(value("natter_http_request_duration_seconds_count ") >= 2.0);
}

async fn openapi_describes_the_public_and_operator_endpoints(db: Db) {
    let app = TestApp::spawn(db).await;
    let doc = app.get_raw("/api/openapi.json", &[]).await.body;
    std::fs::write(std::env::temp_dir().join("natter-openapi.json"), doc.to_string()).expect("keep a copy");
    let paths = doc["paths"].as_object().expect("paths");
    let operations: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().into_iter().flatten().map(move |(method, _)| (method.clone(), path.clone()))
        })
        .collect();
    for (method, path) in [
        ("post", "/api/public/chat/sessions"),
        ("get", "/api/public/chat/sessions/{session_id}/messages"),
        ("post", "/api/public/chat/sessions/{session_id}/messages"),
        ("post", "/api/public/chat/notify"),
        ("get", "/api/public/chat/config"),
        ("post", "/widget/conversations"),
        ("post", "/widget/conversations/{id}/messages"),
        ("post", "/widget/v1/init"),
        ("get", "/widget/v1/messages"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("get", "/api/v1/conversations"),
        ("post", "/api/v1/conversations/{id}/assign"),
        ("delete", "/api/v1/customers/{id}"),
        ("post", "/api/v1/customers/identify"),
        ("put", "/api/v1/team/{user_id}/role"),
        ("delete", "/api/v1/webhooks/{id}"),
        ("get", "/api/rooms/{id}/messages"),
        ("get", "/healthz"),
    ] {
        assert!(operations.contains(&(method.into(), path.into())), "{method} {path} is not described");
    }
    assert!(operations.len() >= 44, "every operation: {}", operations.len());
    for (method, path) in &operations {
        let op = &doc["paths"][path][method];
        let responses = op["responses"].as_object().expect("responses");
        assert!(responses.keys().any(|k| k.starts_with('2') || k == "101"), "{method} {path} names its success");
        if path.starts_with("/api") || path.starts_with("/widget") {
            let error = &responses["4XX"]["content"]["application/json"]["schema"]["$ref"];
            assert!(error.is_string(), "{method} {path} describes its error shape");
        }
    }
    for schema in ["PublicError", "OperatorError", "ChatMessage", "SessionData", "Conversation", "OperatorMessage"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} is described");
    }

    let viewer = app.http.get(app.url("/api/docs/")).send().await.expect("viewer");
    assert_eq!(viewer.status(), StatusCode::OK);
    let page = viewer.text().await.expect("page");
    assert!(page.contains("swagger-ui"), "the viewer is served");
    assert!(!page.contains("https://"), "and fetches nothing from elsewhere");
}

async fn the_demo_page_carries_the_demo_website_token(db: Db) {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("index.html"), "<script data-website-token=\"__NATTER_DEMO_TOKEN__\"></script>")
        .expect("page");
    let www = dir.path().to_path_buf();
    let app = TestApp::spawn_with(db, move |c| c.static_dir = www).await;
    app.state.store.kv_set_once("demo_website_token", &app.website.token).await.expect("kv");
    let page = app.http.get(app.url("/")).send().await.expect("page");
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && csp.contains("style-src 'self'"), "{csp}");
    let html = page.text().await.expect("html");
    assert_eq!(html, format!("<script data-website-token=\"{}\"></script>", app.website.token));
}

async fn static_files_are_served_compressed_with_the_right_types(db: Db) {
    let dir = tempfile::tempdir().expect("dir");
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    std::fs::write(pkg.join("natter_widget_bg.wasm"), [0u8, 97, 115, 109, 1, 0, 0, 0].repeat(200)).expect("wasm");
    let app = TestApp::spawn_with(db, move |c| c.pkg_dir = pkg).await;
    let res = app
        .http
        .get(app.url("/pkg/natter_widget_bg.wasm"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("wasm");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/wasm");
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert!(res.headers()["cache-control"].to_str().expect("ascii").contains("max-age"));
    assert_eq!(app.get_raw("/pkg/missing.js", &[]).await.status, StatusCode::NOT_FOUND);
}

/// The widget build goes out as the files `scripts/build-widget.sh` compressed
/// (brotli 11), not compressed again per request.
async fn the_widget_build_is_sent_as_its_precompressed_files(db: Db) {
    let dir = tempfile::tempdir().expect("dir");
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    let wasm = [0u8, 97, 115, 109, 1, 0, 0, 0].repeat(200);
    std::fs::write(pkg.join("natter_widget_bg.wasm"), &wasm).expect("wasm");
    // Not real brotli: the bytes prove the file itself is what was sent.
    std::fs::write(pkg.join("natter_widget_bg.wasm.br"), b"compressed at build time").expect("br");
    let app = TestApp::spawn_with(db, move |c| c.pkg_dir = pkg).await;
    let get = |encoding: &'static str| {
        app.http.get(app.url("/pkg/natter_widget_bg.wasm")).header("accept-encoding", encoding).send()
    };
    let br = get("gzip, deflate, br").await.expect("br");
    assert_eq!(br.status(), StatusCode::OK);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["content-type"], "application/wasm");
    assert_eq!(br.bytes().await.expect("body").as_ref(), b"compressed at build time");
    let plain = get("identity").await.expect("identity");
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.bytes().await.expect("body").as_ref(), wasm.as_slice());
}

async fn unknown_api_paths_and_methods_answer_in_each_apis_shape(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let auth = format!("Bearer {token}");
    for path in ["/api/public/chat/nope", "/widget/conversations/x/y/z", "/ws/extra", "/api/nope"] {
        let r = app.get_raw(path, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        if path.starts_with("/api/public") || path.starts_with("/widget/conversations") || path.starts_with("/ws") {
            assert_eq!(
                (r.body["success"].as_bool(), r.body["error"]["code"].as_str()),
                (Some(false), Some("not_found")),
                "{path}"
            );
        }
    }
    for path in ["/api/v1/nope", "/api/rooms/x/nope", "/widget/v1/nope", "/api/nope"] {
        let r = app.get_raw(path, &[("authorization", &auth)]).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
            "{path}: {}",
            r.body
        );
        assert!(r.body["detail"].is_string(), "{path}: {}", r.body);
    }
    let wrong = app.http.delete(app.url("/api/public/chat/sessions")).send().await.expect("delete");
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: serde_json::Value = wrong.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let wrong = app.http.put(app.url("/api/v1/conversations")).bearer_auth(&token).send().await.expect("put");
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: serde_json::Value = wrong.json().await.expect("operator error");
    assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
    let deep = app.get_raw("/api/v1/conversations?page=9223372036854775807", &[("authorization", &auth)]).await;
    assert_eq!(deep.status, StatusCode::UNPROCESSABLE_ENTITY, "a huge page is refused, not overflowed: {}", deep.body);
}

async fn the_console_may_not_be_framed_and_nothing_is_sniffed(db: Db) {
    let dir = tempfile::tempdir().expect("dir");
    let www = dir.path().to_path_buf();
    std::fs::write(www.join("console.html"), "<!doctype html><title>Console</title>").expect("page");
    let app = TestApp::spawn_with(db, move |c| c.static_dir = www).await;
    let console = app.http.get(app.url("/console")).send().await.expect("console");
    assert_eq!(console.status(), StatusCode::OK);
    let csp = console.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(console.headers()["x-frame-options"], "DENY");
    for path in ["/console", "/healthz", "/api/public/chat/config"] {
        let res = app.http.get(app.url(path)).send().await.expect("response");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(res.headers()["referrer-policy"], "strict-origin-when-cross-origin", "{path}");
    }
}

async fn metrics_need_the_metrics_token_and_are_hidden_without_one(db: Db) {
    let app = TestApp::spawn(db).await;
    assert_eq!(app.get_raw("/metrics", &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_raw("/metrics", &[("authorization", "Bearer wrong")]).await.status, StatusCode::UNAUTHORIZED);
    let hidden = TestApp::spawn_with(db, |c| c.metrics_token = None).await;
    assert_eq!(
        hidden.get_raw("/metrics", &[("authorization", "Bearer test-metrics-token")]).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn metrics_may_be_served_on_their_own_address_only(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.metrics_token = None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics_addr = listener.local_addr().expect("addr");
    tokio::spawn(natter_server::serve_metrics(listener, app.state.clone()));
    let r = app.http.get(format!("http://{metrics_addr}/metrics")).send().await.expect("scrape");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("body").contains("natter_"), "Prometheus text");
    let other = app.http.get(format!("http://{metrics_addr}/healthz")).send().await.expect("request");
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "nothing else is served there");
    assert_eq!(app.get_raw("/metrics", &[]).await.status, StatusCode::NOT_FOUND, "nor /metrics on the main address");
}

crate::on_both_databases!(
    metrics_may_be_served_on_their_own_address_only,
    metrics_need_the_metrics_token_and_are_hidden_without_one,
    the_console_may_not_be_framed_and_nothing_is_sniffed,
    unknown_api_paths_and_methods_answer_in_each_apis_shape,
    the_demo_page_carries_the_demo_website_token,
    static_files_are_served_compressed_with_the_right_types,
    the_widget_build_is_sent_as_its_precompressed_files,
    health_and_readiness_answer,
    metrics_count_sockets_and_stored_messages,
    openapi_describes_the_public_and_operator_endpoints,
);
