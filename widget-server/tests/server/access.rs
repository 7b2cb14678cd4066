//! Who may open a session: every dialect tried with another party's
//! credentials or ids is refused and reveals nothing (docs/access.md).

use natter_protocol::ws::ServerFrame;
use natter_protocol::SessionData;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Db, Reply, TestApp, WsEvent};

/// Asserts a refusal that carries none of the session's data.
fn refused_blind(reply: &Reply, status: StatusCode, code: &str, secrets: &[&str]) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let text = reply.body.to_string();
    assert!(text.to_lowercase().contains(&code.to_lowercase()), "code {code} in {text}");
    for secret in secrets {
        assert!(!text.contains(secret), "the refusal reveals {secret}: {text}");
    }
}

async fn a_user_session_id_alone_neither_resumes_nor_updates_a_session(db: Db) {
    let app = TestApp::spawn(db).await;
    let body = json!({ "userSessionId": "guessable-1", "name": "Olena", "firstMessage": "my order 5521" });
    let owner: SessionData = app.post_session(body).await.data();
    let token = owner.token.clone().unwrap_or_default();

    let stranger = app.post_session(json!({ "userSessionId": "guessable-1" })).await;
    refused_blind(&stranger, StatusCode::UNAUTHORIZED, "session_token_required", &[&token, "Olena", "5521"]);
    let rename = app.post_session(json!({ "userSessionId": "guessable-1", "name": "Mallory" })).await;
    refused_blind(&rename, StatusCode::UNAUTHORIZED, "session_token_required", &[&token, "Olena", "5521"]);
    let headers = [("x-api-key", app.website.token.as_str()), ("x-session-token", "forged-token")];
    let forged = app
        .post_raw("/api/public/chat/sessions", &headers, json!({ "userSessionId": "guessable-1" }).to_string())
        .await;
    refused_blind(&forged, StatusCode::FORBIDDEN, "invalid_session_token", &[&token, "Olena", "5521"]);

    let resumed: SessionData = app.post_session_as(&owner, json!({ "userSessionId": "guessable-1" })).await.data();
    assert_eq!(resumed.session.user_name.as_deref(), Some("Olena"), "the stranger's name was not stored");
    let server = [("x-api-key", app.website.token.as_str()), ("x-api-secret", app.website.api_secret.as_str())];
    let by_secret =
        app.post_raw("/api/public/chat/sessions", &server, json!({ "userSessionId": "guessable-1" }).to_string()).await;
    assert_eq!(by_secret.status, StatusCode::OK, "the website's secret resumes: {}", by_secret.body);
    assert_eq!(by_secret.data::<SessionData>().session_id, owner.session_id);
}

async fn a_session_of_another_website_is_not_found(db: Db) {
    let app = TestApp::spawn(db).await;
    let other =
        natter_server::cli::create_website(app.state.store.as_ref(), "Other", vec![], false).await.expect("website");
    let mine = app.session("mine-1").await;
    let token = mine.token.clone().unwrap_or_default();
    let path = TestApp::messages_path(&mine);
    let headers = [("x-api-key", other.token.as_str()), ("x-session-token", token.as_str())];
    let read = app.get_raw(&path, &headers).await;
    refused_blind(&read, StatusCode::NOT_FOUND, "not_found", &[&token]);
    let write = app.post_raw(&path, &headers, json!({ "message": "cross-site" }).to_string()).await;
    assert_eq!(write.status, StatusCode::NOT_FOUND);

    let q = format!("/widget/conversations/{}/messages?website_token={}", mine.session_id, other.token);
    let novatalks = app.get_raw(&q, &[("auth-widget", &token)]).await;
    assert_eq!(novatalks.status, StatusCode::NOT_FOUND, "{}", novatalks.body);
    assert!(app.list_ok(&mine, "after=0").await.messages.iter().all(|m| m.message_text != "cross-site"));
}

async fn widget_v1_never_reaches_a_session_of_another_dialect(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.website.token.clone();
    let native: SessionData =
        app.post_session(json!({ "userSessionId": "shared-id", "firstMessage": "native secret 7788" })).await.data();
    let native_token = native.token.clone().unwrap_or_default();

    let list = app.get_raw(&format!("/widget/v1/messages?api_key={key}&session_id=shared-id"), &[]).await;
    refused_blind(&list, StatusCode::NOT_FOUND, "NOT_FOUND", &["7788"]);
    let init =
        app.post_raw("/widget/v1/init", &[], json!({ "api_key": key, "session_id": "shared-id" }).to_string()).await;
    assert_eq!(init.status, StatusCode::OK, "{}", init.body);
    assert_ne!(init.body["data"]["conversation_id"], json!(native.session_id), "a conversation of its own");
    assert!(!init.body.to_string().contains("7788"), "{}", init.body);
    let by_token = app
        .post_raw("/widget/v1/init", &[], json!({ "api_key": key, "session_token": native_token }).to_string())
        .await;
    refused_blind(&by_token, StatusCode::FORBIDDEN, "INVALID_SESSION_TOKEN", &["7788"]);
    let none = app.post_raw("/widget/v1/messages", &[], json!({ "api_key": key, "content": "hi" }).to_string()).await;
    refused_blind(&none, StatusCode::UNAUTHORIZED, "SESSION_TOKEN_REQUIRED", &[]);
}

async fn widget_v1_accepts_its_session_token_in_place_of_the_session_id(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.website.token.clone();
    let init = app.post_raw("/widget/v1/init", &[], json!({ "api_key": key, "session_id": "b-42" }).to_string()).await;
    let token = init.body["data"]["session_token"].as_str().expect("session_token").to_owned();
    let sent = app
        .post_raw(
            "/widget/v1/messages",
            &[],
            json!({ "api_key": key, "session_token": token, "content": "by body" }).to_string(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let header = [("x-session-token", token.as_str())];
    let sent = app
        .post_raw("/widget/v1/messages", &header, json!({ "api_key": key, "content": "by header" }).to_string())
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let listed = app.get_raw(&format!("/widget/v1/messages?api_key={key}&session_token={token}"), &[]).await;
    let texts: Vec<&str> =
        listed.body["data"].as_array().expect("list").iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(texts.contains(&"by body") && texts.contains(&"by header"), "{texts:?}");
    let mismatch = json!({ "api_key": key, "session_id": "someone-else", "session_token": token, "content": "x" });
    let mismatch = app.post_raw("/widget/v1/messages", &[], mismatch.to_string()).await;
    assert_eq!(mismatch.status, StatusCode::FORBIDDEN, "{}", mismatch.body);
}

async fn a_socket_subscribes_only_with_a_live_session_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let session = app.session("sock-1").await;
    let mut ws = app.ws().await;
    ws.send(json!({ "event": "subscribe", "data": { "pubsub_token": session.session_id } })).await;
    match ws.frame().await {
        WsEvent::Frame(ServerFrame::Error(e)) => assert_eq!(e.code, "invalid_token"),
        other => panic!("the session id is not its token: {other:?}"),
    }
    assert_eq!(ws.closed().await, Some(4001));
}

crate::on_both_databases!(
    a_user_session_id_alone_neither_resumes_nor_updates_a_session,
    a_session_of_another_website_is_not_found,
    widget_v1_never_reaches_a_session_of_another_dialect,
    widget_v1_accepts_its_session_token_in_place_of_the_session_id,
    a_socket_subscribes_only_with_a_live_session_token,
);
