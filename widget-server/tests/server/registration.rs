//! Self-registration: closed unless the server allows it; it makes an
//! account with the caller as its admin and signs them in.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{Db, TestApp};
use crate::webhooks::call;

fn sign_up(email: &str) -> Value {
    json!({
        "email": email,
        "password": "SecurePassword123",
        "first_name": "Іван",
        "last_name": "Петренко",
        "company_name": "ТОВ Компанія",
    })
}

async fn registration_is_closed_unless_allowed(db: Db) {
    let app = TestApp::spawn(db).await;
    let r = app.post_raw("/api/v1/auth/register", &[], sign_up("ivan@example.com").to_string()).await;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("REGISTRATION_CLOSED")), "{}", r.body);
    let login = json!({ "email": "ivan@example.com", "password": "SecurePassword123" }).to_string();
    assert_eq!(
        app.post_raw("/api/v1/auth/login", &[], login).await.status,
        StatusCode::UNAUTHORIZED,
        "nothing was made"
    );
}

async fn a_registration_makes_an_account_of_its_own(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.allow_registration = true).await;
    app.session("someone-elses-visitor").await;
    let r = app.post_raw("/api/v1/auth/register", &[], sign_up("ivan@example.com").to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.body["token_type"].as_str(), r.body["expires_in"].as_i64()), (Some("bearer"), Some(1800)));
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    assert!(r.body["refresh_token"].is_string());

    let (status, team) = call(&app, Method::GET, "/api/v1/team", &token, None).await;
    assert_eq!(status, StatusCode::OK, "the new operator is an admin: {team}");
    let members = team["data"].as_array().expect("members");
    assert_eq!(members.len(), 1, "alone in a new account: {team}");
    assert_eq!((members[0]["name"].as_str(), members[0]["role"].as_str()), (Some("Іван Петренко"), Some("admin")));
    let (_, inbox) = call(&app, Method::GET, "/api/v1/conversations", &token, None).await;
    assert_eq!(inbox["data"].as_array().map(Vec::len), Some(0), "another account's conversations stay apart");
    let login = json!({ "email": "ivan@example.com", "password": "SecurePassword123" }).to_string();
    assert_eq!(app.post_raw("/api/v1/auth/login", &[], login).await.status, StatusCode::OK);

    let again = app.post_raw("/api/v1/auth/register", &[], sign_up("IVAN@example.com ").to_string()).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let mut short = sign_up("short@example.com");
    short["password"] = json!("short");
    for bad in [
        sign_up("not an email"),
        short,
        json!({ "email": "x@example.com", "password": "SecurePassword123", "first_name": "", "company_name": "X" }),
        json!({ "email": "x@example.com", "password": "SecurePassword123", "first_name": "X", "company_name": " " }),
    ] {
        let r = app.post_raw("/api/v1/auth/register", &[], bad.to_string()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    }
}

async fn registrations_share_the_sign_in_limits(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.allow_registration = true;
        c.auth_rate_per_ip = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = app.post_raw("/api/v1/auth/register", &[], sign_up(&format!("u{i}@example.com")).to_string()).await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
}

crate::on_both_databases!(
    registration_is_closed_unless_allowed,
    a_registration_makes_an_account_of_its_own,
    registrations_share_the_sign_in_limits,
);
