//! Webhooks: CRUD, signed deliveries a real receiver verifies, retries after
//! a failure, and the delivery log.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::support::{Db, TestApp, PATIENCE};

const SECRET: &str = "receiver-secret-0123456789";

/// What the receiver saw: event name, delivery id, whether the signature held, body.
type Seen = (String, String, bool, Value);

fn verify(headers: &HeaderMap, body: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signature = header("x-webhook-signature");
    let Some((t, v1)) = signature.split_once(',') else { return false };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
    let Ok(ts) = t.parse::<i64>() else { return false };
    let fresh = (chrono::Utc::now().timestamp() - ts).abs() < 300;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    fresh && expected == v1 && header("x-webhook-timestamp") == t
}

/// A receiver that answers 500 to the first `message.received` delivery.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let failed_once = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            let failed_once = Arc::clone(&failed_once);
            async move {
                let event = headers["x-webhook-event"].to_str().unwrap_or_default().to_owned();
                let id = headers["x-webhook-id"].to_str().unwrap_or_default().to_owned();
                let valid = verify(&headers, &body);
                let _ = tx.send((event.clone(), id, valid, serde_json::from_str(&body).unwrap_or(Value::Null)));
                if event == "message.received" && failed_once.fetch_add(1, Ordering::SeqCst) == 0 {
                    AxumStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxumStatus::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<Seen>, name: &str) -> Seen {
    loop {
        let seen = tokio::time::timeout(PATIENCE, rx.recv()).await.expect("a delivery in time").expect("open");
        if seen.0 == name {
            return seen;
        }
    }
}

pub(crate) async fn admin(app: &TestApp) -> String {
    natter_server::cli::create_operator(
        app.state.store.as_ref(),
        None,
        "hooks@example.com",
        "admin password",
        "admin",
        None,
    )
    .await
    .expect("admin");
    let body = json!({ "email": "hooks@example.com", "password": "admin password" }).to_string();
    app.post_raw("/api/v1/auth/login", &[], body).await.body["access_token"].as_str().expect("token").to_owned()
}

pub(crate) async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn signed_events_reach_the_receiver_and_failures_are_retried(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (url, mut seen) = receiver().await;
    let all =
        ["conversation.created", "message.received", "message.sent", "customer.identified", "conversation.closed"];
    let (status, created) = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        &token,
        Some(json!({ "url": url, "events": all, "secret": SECRET })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["data"].get("secret").is_none(), "a chosen secret is not echoed: {created}");
    let hook_id = created["data"]["id"].as_str().expect("id").to_owned();

    let s = app.session("hooked").await;
    let (_, _, valid, body) = next_event(&mut seen, "conversation.created").await;
    assert!(valid, "signature verifies");
    assert_eq!(body["data"]["conversation_id"], s.session_id.as_str());

    let sent = app.send_ok(&s, "hello hooks").await;
    let (_, first_id, valid, body) = next_event(&mut seen, "message.received").await;
    assert!(valid);
    assert_eq!(body["event"], "message.received");
    assert!(body["timestamp"].is_string());
    assert_eq!(body["data"]["message"]["id"], sent.id.as_str());
    assert_eq!(body["data"]["message"]["content"], "hello hooks");
    let (_, retry_id, valid, _) = next_event(&mut seen, "message.received").await;
    assert!(valid, "the retry is signed afresh");
    assert_eq!(first_id, retry_id, "a retry carries the same delivery id");

    app.post_session_as(&s, json!({ "userSessionId": "hooked", "name": "Oksana", "phone": "+380441234567" })).await;
    let (_, _, _, body) = next_event(&mut seen, "customer.identified").await;
    assert_eq!(body["data"]["customer"]["name"], "Oksana");
    let operator = app.login().await.access_token;
    app.operator_reply(&operator, &s.session_id, "hi from support").await;
    next_event(&mut seen, "message.sent").await;
    call(&app, reqwest::Method::POST, &format!("/api/v1/conversations/{}/close", s.session_id), &operator, None).await;
    next_event(&mut seen, "conversation.closed").await;

    let (_, log) =
        call(&app, reqwest::Method::GET, &format!("/api/v1/webhooks/{hook_id}/deliveries"), &token, None).await;
    let received: Vec<&Value> =
        log["data"].as_array().expect("log").iter().filter(|d| d["event"] == "message.received").collect();
    let mut attempts: Vec<(i64, Option<i64>, bool)> = received
        .iter()
        .map(|d| {
            (d["attempt"].as_i64().unwrap_or(0), d["status_code"].as_i64(), d["success"].as_bool().unwrap_or(false))
        })
        .collect();
    attempts.sort();
    assert_eq!(attempts, [(1, Some(500), false), (2, Some(200), true)]);
}

async fn webhook_management_is_validated_and_admin_only(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let agent = app.login().await.access_token;
    let body = json!({ "url": "https://example.com/hook", "events": ["message.received"] });
    let (status, _) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &agent, Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(created["data"]["secret"].as_str().is_some_and(|s| s.starts_with("whsec_")), "a secret is generated");
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    let (_, listed) = call(&app, reqwest::Method::GET, "/api/v1/webhooks", &token, None).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    assert!(listed["data"][0].get("secret").is_none(), "secrets are shown only once");
    for bad in [
        json!({ "url": "ftp://example.com", "events": ["message.received"] }),
        json!({ "url": "https://example.com", "events": ["message.exploded"] }),
        json!({ "url": "https://example.com", "events": [] }),
        json!({ "url": "https://example.com", "events": ["message.sent"], "secret": "short" }),
    ] {
        let (status, body) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "VALIDATION_ERROR");
    }
    let (status, updated) =
        call(&app, reqwest::Method::PUT, &format!("/api/v1/webhooks/{id}"), &token, Some(json!({ "active": false })))
            .await;
    assert_eq!((status, updated["data"]["active"].clone()), (StatusCode::OK, json!(false)));
    let (status, _) = call(&app, reqwest::Method::DELETE, &format!("/api/v1/webhooks/{id}"), &token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, reqwest::Method::GET, &format!("/api/v1/webhooks/{id}"), &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn targets_inside_the_network_are_refused(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.allow_private_webhooks = false).await;
    let token = admin(&app).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:9/hook",
    ] {
        let body = json!({ "url": url, "events": ["message.received"] });
        let (status, reply) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {reply}");
        assert_eq!(reply["code"], "WEBHOOK_TARGET_NOT_ALLOWED", "{url}: {reply}");
    }
    let public = json!({ "url": "https://93.184.216.34/hook", "events": ["message.received"] });
    let (status, created) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(public)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["data"]["id"].as_str().expect("id");
    let moved = json!({ "url": "http://127.0.0.1:9/hook" });
    let (status, _) = call(&app, reqwest::Method::PUT, &format!("/api/v1/webhooks/{id}"), &token, Some(moved)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an update cannot point inside either");
}

/// A receiver whose `/hook` redirects to `/elsewhere`; counts hits on `/elsewhere`.
async fn redirecting_receiver() -> (String, Arc<AtomicUsize>) {
    let followed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&followed);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(|| async { axum::response::Redirect::temporary("/elsewhere") }))
        .route(
            "/elsewhere",
            axum::routing::post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { AxumStatus::OK }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, followed)
}

async fn redirects_are_not_followed(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (url, followed) = redirecting_receiver().await;
    let body = json!({ "url": url, "events": ["conversation.created"] });
    let (_, created) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(body)).await;
    let hook_id = created["data"]["id"].as_str().expect("id").to_owned();
    app.session("redirected").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let first = loop {
        let path = format!("/api/v1/webhooks/{hook_id}/deliveries");
        let (_, log) = call(&app, reqwest::Method::GET, &path, &token, None).await;
        if let Some(first) = log["data"].as_array().and_then(|l| l.first()).cloned() {
            break first;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery was attempted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!((first["status_code"].as_i64(), first["success"].as_bool()), (Some(307), Some(false)), "{first}");
    assert_eq!(followed.load(Ordering::SeqCst), 0, "the redirect was not followed");
}

async fn events_not_yet_delivered_survive_a_restart(db: Db) {
    let mut app = TestApp::spawn_with(db, |c| c.webhook_workers = 0).await;
    let token = admin(&app).await;
    let (url, mut seen) = receiver().await;
    let body = json!({ "url": url, "events": ["conversation.created"], "secret": SECRET });
    let (status, _) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let s = app.session("before-restart").await;
    app.shutdown().await;

    let _restarted = app.spawn_peer().await;
    let (_, _, valid, body) = next_event(&mut seen, "conversation.created").await;
    assert!(valid);
    assert_eq!(body["data"]["conversation_id"], s.session_id.as_str(), "the event recorded before the restart");
}

async fn secrets_are_sealed_at_rest_and_only_the_right_key_opens_them(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (url, mut seen) = receiver().await;
    let body = json!({ "url": url, "events": ["conversation.created"], "secret": SECRET });
    let (status, _) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let stored = app.sql_texts("SELECT secret FROM webhooks").await;
    assert!(stored[0].starts_with("sealed:v1:") && !stored[0].contains(SECRET), "{stored:?}");

    // A secret stored before sealing existed is sealed at the next start.
    app.sql(&format!("UPDATE webhooks SET secret = '{SECRET}'")).await;
    app.shutdown().await;
    let mut wrong = natter_server::config::ServeConfig::for_tests(app.database_url.clone());
    wrong.secret_key = Some("another-key-another-key-another-key".into());
    let refused = natter_server::AppState::new(&wrong).await.err().expect("a wrong key stops the start");
    assert!(refused.to_string().contains("does not open"), "{refused}");
    let restarted = app.spawn_peer().await;
    let stored = restarted.sql_texts("SELECT secret FROM webhooks").await;
    assert!(stored[0].starts_with("sealed:v1:"), "resealed: {stored:?}");
    restarted.session("sealed").await;
    let (_, _, valid, _) = next_event(&mut seen, "conversation.created").await;
    assert!(valid, "deliveries are signed with the opened secret");
}

async fn an_account_has_at_most_fifty_webhooks(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let body = json!({ "url": "https://example.com/hook", "events": ["message.received"] });
    for _ in 0..50 {
        let (status, _) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, refused) = call(&app, reqwest::Method::POST, "/api/v1/webhooks", &token, Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (_, listed) = call(&app, reqwest::Method::GET, "/api/v1/webhooks", &token, None).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(50));
}

crate::on_both_databases!(
    an_account_has_at_most_fifty_webhooks,
    secrets_are_sealed_at_rest_and_only_the_right_key_opens_them,
    targets_inside_the_network_are_refused,
    redirects_are_not_followed,
    events_not_yet_delivered_survive_a_restart,
    signed_events_reach_the_receiver_and_failures_are_retried,
    webhook_management_is_validated_and_admin_only,
);
