//! Plans and usage: self-registered accounts start on the default plan and
//! others on enterprise; a change emits `subscription.changed`; over a quota
//! operator actions answer 402 `PLAN_LIMIT` while visitors are only counted;
//! over the plan's request rate the operator API answers 429 with `Retry-After`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::{Db, TestApp, PATIENCE};
use crate::webhooks::{admin, call};

/// A webhook receiver: the bodies it was sent.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// A plans file with the given plans, kept while the test runs.
fn plans_file(plans: Value) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), plans.to_string()).expect("write plans");
    file
}

const UNLIMITED: Value = Value::Null;

fn unlimited() -> Value {
    json!({ "messages_per_month": UNLIMITED, "storage_mb": null, "operators": null, "requests_per_minute": null })
}

async fn a_registered_account_starts_free_and_a_change_tells_webhooks(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.allow_registration = true).await;
    let sign_up = json!({
        "email": "owner@example.com", "password": "SecurePassword123",
        "first_name": "Olha", "last_name": "Bondar", "company_name": "Bondar Coffee",
    });
    let registered = app.post_raw("/api/v1/auth/register", &[], sign_up.to_string()).await;
    let token = registered.body["access_token"].as_str().expect("token").to_owned();

    let (status, subscription) = call(&app, Method::GET, "/api/v1/billing/subscription", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{subscription}");
    assert_eq!(subscription["plan"], "free");
    assert_eq!(subscription["limits"]["requests_per_minute"], 100);
    assert_eq!(subscription["available_plans"], json!(["enterprise", "free", "pro"]));
    let (_, usage) = call(&app, Method::GET, "/api/v1/billing/usage", &token, None).await;
    assert_eq!(usage["plan"], "free");
    assert!(usage["period"]["start"].as_str().expect("start").ends_with("-01"), "{usage}");
    assert_eq!(usage["messages"], json!({ "used": 0, "limit": 1000, "over": false }));
    assert_eq!(usage["storage"]["limit_mb"], 100);
    assert_eq!(usage["operators"]["used"], 1);

    let (url, mut deliveries) = receiver().await;
    let hook = json!({ "url": url, "events": ["subscription.changed"] });
    let (status, _) = call(&app, Method::POST, "/api/v1/webhooks", &token, Some(hook)).await;
    assert_eq!(status, StatusCode::CREATED);
    let change = |plan: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            call(app, Method::POST, "/api/v1/billing/subscription/change", &token, Some(json!({ "plan": plan }))).await
        }
    };
    let (status, changed) = change("pro").await;
    assert_eq!((status, changed["plan"].as_str()), (StatusCode::OK, Some("pro")), "{changed}");
    assert!(changed["changed_at"].is_string());
    let delivered = tokio::time::timeout(PATIENCE, deliveries.recv()).await.expect("in time").expect("a delivery");
    assert_eq!(delivered["event"], "subscription.changed");
    assert_eq!((delivered["data"]["from"].as_str(), delivered["data"]["to"].as_str()), (Some("free"), Some("pro")));
    let (_, usage) = call(&app, Method::GET, "/api/v1/billing/usage", &token, None).await;
    assert_eq!(usage["messages"]["limit"], 5000);
    let (status, body) = change("platinum").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("VALIDATION_ERROR")));

    // Accounts made otherwise (here by the CLI) are on enterprise, and agents may not change plans.
    let agent = app.login().await.access_token;
    let (_, theirs) = call(&app, Method::GET, "/api/v1/billing/subscription", &agent, None).await;
    assert_eq!(theirs["plan"], "enterprise");
    assert!(theirs["limits"]["requests_per_minute"].is_null());
    let body = json!({ "plan": "free" });
    let (status, _) = call(&app, Method::POST, "/api/v1/billing/subscription/change", &agent, Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A server whose default plan `tiny` has `limits`, and an admin whose account is on it
/// (the plans file lives as long as the returned guard).
async fn on_a_tiny_plan(db: Db, limits: Value) -> (TestApp, String, tempfile::NamedTempFile) {
    let plans = plans_file(json!({ "tiny": limits, "enterprise": unlimited() }));
    let path = plans.path().to_owned();
    let app = TestApp::spawn_with(db, |c| {
        c.plans = Some(path);
        c.default_plan = "tiny".into();
    })
    .await;
    let token = admin(&app).await;
    let (status, _) =
        call(&app, Method::POST, "/api/v1/billing/subscription/change", &token, Some(json!({ "plan": "tiny" }))).await;
    assert_eq!(status, StatusCode::OK);
    (app, token, plans)
}

async fn over_a_quota_operators_are_refused_and_visitors_counted(db: Db) {
    let (app, token, _plans) = on_a_tiny_plan(
        db,
        json!({ "messages_per_month": 3, "storage_mb": 1, "operators": 2, "requests_per_minute": null }),
    )
    .await;

    let visitor = app.session("quota-visitor").await;
    for text in ["one", "two", "three"] {
        assert_eq!(app.send(&visitor, text, None).await.status, StatusCode::CREATED, "visitors are never refused");
    }
    let reply = app.operator_reply(&token, &visitor.session_id, "We are on it").await;
    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED, "{}", reply.body);
    assert_eq!(reply.body["code"], "PLAN_LIMIT");
    let (_, usage) = call(&app, Method::GET, "/api/v1/billing/usage", &token, None).await;
    assert!(usage["messages"]["used"].as_i64().expect("used") > 3, "{usage}");
    assert_eq!(usage["messages"]["over"], true, "the console can show the overage");

    let invite = json!({ "email": "third@example.com", "role_id": "agent" });
    let (status, body) = call(&app, Method::POST, "/api/v1/team/invite", &token, Some(invite.clone())).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("PLAN_LIMIT")), "{body}");

    let (status, _) =
        call(&app, Method::POST, "/api/v1/billing/subscription/change", &token, Some(json!({ "plan": "enterprise" })))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.operator_reply(&token, &visitor.session_id, "We are on it").await.status, StatusCode::CREATED);
    let (status, _) = call(&app, Method::POST, "/api/v1/team/invite", &token, Some(invite)).await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn the_plan_rate_limits_operator_requests(db: Db) {
    let plans = plans_file(json!({
        "slow": { "messages_per_month": null, "storage_mb": null, "operators": null, "requests_per_minute": 5 },
        "enterprise": unlimited(),
    }));
    let path = plans.path().to_owned();
    let app = TestApp::spawn_with(db, |c| {
        c.plans = Some(path);
        c.default_plan = "slow".into();
    })
    .await;
    let token = admin(&app).await;
    let (status, _) =
        call(&app, Method::POST, "/api/v1/billing/subscription/change", &token, Some(json!({ "plan": "slow" }))).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..5 {
        let (status, body) = call(&app, Method::GET, "/api/v1/conversations", &token, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let res = app.http.get(app.url("/api/v1/conversations")).bearer_auth(&token).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "RATE_LIMITED");
    // The visitor side is not the operator API: it is never held by the plan.
    assert_eq!(app.post_session(json!({ "userSessionId": "still-served" })).await.status, StatusCode::CREATED);
}

/// Knowledge-base files count against the plan's storage: a document that
/// would pass it is refused with 402 and nothing is stored.
async fn storage_over_the_plan_refuses_documents(db: Db) {
    let (app, token, _plans) = on_a_tiny_plan(
        db,
        json!({ "messages_per_month": null, "storage_mb": 1, "operators": null, "requests_per_minute": null }),
    )
    .await;
    let paragraph = "Our beans are roasted every morning in small batches and shipped the same day. ";
    let small = paragraph.repeat(7_000);
    let (status, body) =
        crate::knowledge::upload(&app, &token, crate::knowledge::form("a.txt", small.as_bytes(), &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        crate::knowledge::upload(&app, &token, crate::knowledge::form("b.txt", small.as_bytes(), &[])).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("PLAN_LIMIT")), "{body}");
    let (_, documents) = call(&app, Method::GET, "/api/v1/knowledge/documents", &token, None).await;
    assert_eq!(documents["data"].as_array().map(Vec::len), Some(1), "nothing more was stored");
    let (_, usage) = call(&app, Method::GET, "/api/v1/billing/usage", &token, None).await;
    assert!(usage["storage"]["used_mb"].as_f64().is_some_and(|mb| mb > 0.0), "{usage}");

    // Attachments count too: a file that would pass the plan is refused before it is kept.
    let visitor = app.session("sends-a-big-file").await;
    let res = app
        .http
        .post(app.url(&format!("/api/v1/conversations/{}/attachments", visitor.session_id)))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=natter-test-boundary-7MA4YWxkTrZu0gW")
        .body(crate::knowledge::form("notes.txt", small.as_bytes(), &[]))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "PLAN_LIMIT");
}

crate::on_both_databases!(
    a_registered_account_starts_free_and_a_change_tells_webhooks,
    over_a_quota_operators_are_refused_and_visitors_counted,
    the_plan_rate_limits_operator_requests,
    storage_over_the_plan_refuses_documents,
);
