//! API keys: made by an admin and shown once, listed by prefix and last use,
//! accepted as a bearer token with the key's account and role, revoked.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Db, TestApp};
use crate::webhooks::{admin, call};

async fn a_key_works_as_a_bearer_token_until_it_is_revoked(db: Db) {
    let app = TestApp::spawn(db).await;
    let admin = admin(&app).await;
    let s = app.session("keyed").await;

    let (status, created) =
        call(&app, Method::POST, "/api/v1/api-keys", &admin, Some(json!({ "name": "CRM sync", "role": "admin" })))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["data"]["key"].as_str().expect("the key, once").to_owned();
    assert!(key.starts_with("sk_live_") && key.len() >= 40, "{key}");
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(created["data"]["prefix"], &key[..12]);

    let (status, list) = call(&app, Method::GET, "/api/v1/conversations", &key, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list["data"].as_array().expect("list").iter().any(|c| c["id"] == s.session_id.as_str()));
    let reply = app.operator_reply(&key, &s.session_id, "answered by a script").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let (status, _) = call(&app, Method::GET, "/api/v1/team", &key, None).await;
    assert_eq!(status, StatusCode::OK, "an admin key reaches admin endpoints");

    let (_, keys) = call(&app, Method::GET, "/api/v1/api-keys", &admin, None).await;
    let listed = &keys["data"][0];
    assert_eq!((listed["name"].as_str(), listed["role"].as_str()), (Some("CRM sync"), Some("admin")));
    assert!(listed["last_used_at"].is_string(), "last use is shown: {listed}");
    assert!(listed.get("key").is_none() && !keys.to_string().contains(&key[12..]), "the key is never shown again");

    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/api-keys/{id}"), &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, refused) = call(&app, Method::GET, "/api/v1/conversations", &key, None).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("NOT_AUTHENTICATED")));
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/api-keys/{id}"), &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked once");
}

async fn keys_carry_their_role_and_account_and_are_made_by_admins_only(db: Db) {
    let app = TestApp::spawn(db).await;
    let admin = admin(&app).await;
    let (_, created) = call(&app, Method::POST, "/api/v1/api-keys", &admin, Some(json!({ "name": "reports" }))).await;
    let agent_key = created["data"]["key"].as_str().expect("key").to_owned();
    assert_eq!(created["data"]["role"], "agent", "agent is the default");
    let (status, _) = call(&app, Method::GET, "/api/v1/conversations", &agent_key, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, Method::GET, "/api/v1/team", &agent_key, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an agent key is an agent");
    let (status, _) = call(&app, Method::POST, "/api/v1/api-keys", &agent_key, Some(json!({ "name": "x" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "and cannot make keys");
    let agent = app.login().await.access_token;
    let (status, _) = call(&app, Method::POST, "/api/v1/api-keys", &agent, Some(json!({ "name": "x" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "agents cannot make keys");

    for bad in [json!({ "name": "" }), json!({ "name": "x", "role": "owner" }), json!({ "name": "x".repeat(101) })] {
        let (status, body) = call(&app, Method::POST, "/api/v1/api-keys", &admin, Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    for forged in ["sk_live_", "sk_live_not-a-key", "sk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let (status, _) = call(&app, Method::GET, "/api/v1/conversations", forged, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{forged}");
    }

    // Another account's admin sees none of this account's keys or data.
    let other = natter_server::cli::create_account(app.state.store.as_ref(), "Other").await.expect("account");
    natter_server::cli::create_operator(
        app.state.store.as_ref(),
        Some(&other.id),
        "boss@other.example",
        "other admin password",
        "admin",
        None,
    )
    .await
    .expect("admin");
    let body = json!({ "email": "boss@other.example", "password": "other admin password" }).to_string();
    let other_admin =
        app.post_raw("/api/v1/auth/login", &[], body).await.body["access_token"].as_str().expect("token").to_owned();
    let (_, theirs) = call(&app, Method::GET, "/api/v1/api-keys", &other_admin, None).await;
    assert_eq!(theirs["data"].as_array().map(Vec::len), Some(0));
    let id = created["data"]["id"].as_str().expect("id");
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/api-keys/{id}"), &other_admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another account's key is not found");
    let (status, _) = call(&app, Method::GET, "/api/v1/conversations", &agent_key, None).await;
    assert_eq!(status, StatusCode::OK, "and still works");
}

crate::on_both_databases!(
    a_key_works_as_a_bearer_token_until_it_is_revoked,
    keys_carry_their_role_and_account_and_are_made_by_admins_only,
);
