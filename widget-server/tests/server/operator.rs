//! The minimal operator path: login, refresh, the inbox and replies.

use natter_protocol::operator::{Conversation, Item, List, OperatorMessage, TokenResponse};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Db, TestApp, OPERATOR_EMAIL};

async fn login_returns_a_bearer_token_pair_and_wrong_passwords_are_401(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = app.login().await;
    assert_eq!(tokens.token_type, "bearer");
    assert_eq!(tokens.expires_in, 1800);
    let wrong = app
        .post_raw("/api/v1/auth/login", &[], json!({ "email": OPERATOR_EMAIL, "password": "nope" }).to_string())
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["code"], "INVALID_CREDENTIALS");
    assert!(wrong.body["detail"].is_string());
    let unknown = app
        .post_raw("/api/v1/auth/login", &[], json!({ "email": "who@example.com", "password": "x" }).to_string())
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let malformed = app.post_raw("/api/v1/auth/login", &[], "{").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["code"], "INVALID_JSON");
}

async fn a_refresh_token_works_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = app.login().await;
    let body = json!({ "refresh_token": tokens.refresh_token }).to_string();
    let first = app.post_raw("/api/v1/auth/refresh", &[], body.clone()).await;
    assert_eq!(first.status, StatusCode::OK);
    let rotated: TokenResponse = serde_json::from_value(first.body).expect("tokens");
    assert_ne!(rotated.refresh_token, tokens.refresh_token);
    let reused = app.post_raw("/api/v1/auth/refresh", &[], body).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
}

async fn the_inbox_lists_conversations_with_their_last_message(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.session("inbox-a").await;
    app.send_ok(&a, "question from a").await;
    let b = app.session("inbox-b").await;
    let tokens = app.login().await;
    let auth = format!("Bearer {}", tokens.access_token);
    let reply = app.get_raw("/api/v1/conversations?per_page=1", &[("authorization", &auth)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let page: List<Conversation> = serde_json::from_value(reply.body).expect("list");
    let meta = page.meta.expect("meta");
    assert_eq!((meta.total, meta.page, meta.per_page), (2, 1, 1));
    assert_eq!(page.data.len(), 1);
    let all: List<Conversation> =
        serde_json::from_value(app.get_raw("/api/v1/conversations", &[("authorization", &auth)]).await.body)
            .expect("list");
    let conv_a = all.data.iter().find(|c| c.id == a.session_id).expect("a listed");
    assert!(conv_a.last_message.is_some());
    assert!(all.data.iter().any(|c| c.id == b.session_id));
    let one = app.get_raw(&format!("/api/v1/conversations/{}", a.session_id), &[("authorization", &auth)]).await;
    let item: Item<Conversation> = serde_json::from_value(one.body).expect("item");
    assert_eq!(item.data.status, "pending");
    let bad = app.get_raw("/api/v1/conversations?per_page=1000", &[("authorization", &auth)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app.get_raw("/api/v1/conversations?status=sleeping", &[("authorization", &auth)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn operator_endpoints_refuse_missing_and_forged_tokens(db: Db) {
    let app = TestApp::spawn(db).await;
    let none = app.get_raw("/api/v1/conversations", &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["code"], "NOT_AUTHENTICATED");
    let forged = app.get_raw("/api/v1/conversations", &[("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")]).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let s = app.session("op-auth").await;
    let session_token = format!("Bearer {}", s.token.clone().unwrap_or_default());
    let reply = app
        .post_raw(
            &format!("/api/v1/conversations/{}/messages", s.session_id),
            &[("authorization", &session_token)],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "a visitor's session token is no operator token");
}

async fn operator_messages_are_listed_with_sender_types(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("op-msgs").await;
    app.send_ok(&s, "hi").await;
    let tokens = app.login().await;
    let sent = app.operator_reply(&tokens.access_token, &s.session_id, "hello, how can I help?").await;
    assert_eq!(sent.status, StatusCode::CREATED);
    let auth = format!("Bearer {}", tokens.access_token);
    let reply = app
        .get_raw(&format!("/api/v1/conversations/{}/messages?limit=2", s.session_id), &[("authorization", &auth)])
        .await;
    let list: List<OperatorMessage> = serde_json::from_value(reply.body).expect("list");
    let types: Vec<&str> = list.data.iter().map(|m| m.sender_type.as_str()).collect();
    assert_eq!(types, ["bot", "agent"], "the newest two, oldest first");
    let empty = app.operator_reply(&tokens.access_token, &s.session_id, " ").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app.operator_reply(&tokens.access_token, "no-such-conversation", "hello").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["code"], "NOT_FOUND");
}

crate::on_both_databases!(
    login_returns_a_bearer_token_pair_and_wrong_passwords_are_401,
    a_refresh_token_works_once,
    the_inbox_lists_conversations_with_their_last_message,
    operator_endpoints_refuse_missing_and_forged_tokens,
    operator_messages_are_listed_with_sender_types,
);
