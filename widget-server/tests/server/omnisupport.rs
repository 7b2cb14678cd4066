//! The OmniSupport widget dialect: init, send and history by `api_key` and
//! `session_id`, in `{data}` and `{detail, code}` shapes.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Db, TestApp};

async fn an_omnisupport_client_inits_sends_and_reads_history(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.website.token.clone();
    let init = app
        .post_raw("/widget/v1/init", &[], json!({ "api_key": key, "session_id": "browser_session_123" }).to_string())
        .await;
    assert_eq!(init.status, StatusCode::OK, "{}", init.body);
    let conversation = init.body["data"]["conversation_id"].as_str().expect("id").to_owned();
    assert_eq!(init.body["data"]["messages"][0]["sender_type"], "bot", "the greeting");

    let body = json!({ "api_key": key, "session_id": "browser_session_123", "content": "Привет!", "echo_id": "e1" });
    let sent = app.post_raw("/widget/v1/messages", &[], body.to_string()).await;
    assert_eq!(sent.status, StatusCode::CREATED);
    assert_eq!(
        (sent.body["data"]["content"].as_str(), sent.body["data"]["sender_type"].as_str()),
        (Some("Привет!"), Some("customer"))
    );
    assert_eq!(sent.body["data"]["conversation_id"], conversation.as_str());
    let again = app.post_raw("/widget/v1/messages", &[], body.to_string()).await;
    assert_eq!(again.status, StatusCode::OK, "a repeated echo_id stores nothing");

    let token = app.login().await.access_token;
    app.operator_reply(&token, &conversation, "Здравствуйте!").await;
    let history = app.get_raw(&format!("/widget/v1/messages?api_key={key}&session_id=browser_session_123"), &[]).await;
    let contents: Vec<&str> =
        history.body["data"].as_array().expect("list").iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(contents.ends_with(&["Здравствуйте!"]), "{contents:?}");
    assert_eq!(contents.iter().filter(|c| **c == "Привет!").count(), 1);

    let unknown = app.get_raw(&format!("/widget/v1/messages?api_key={key}&session_id=never_seen"), &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "reading does not create sessions");
    let bad_key =
        app.post_raw("/widget/v1/init", &[], json!({ "api_key": "nope", "session_id": "x1" }).to_string()).await;
    assert_eq!((bad_key.status, bad_key.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("INVALID_API_KEY")));
    let empty = app
        .post_raw("/widget/v1/messages", &[], json!({ "api_key": key, "session_id": "x1", "content": "" }).to_string())
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
}

crate::on_both_databases!(an_omnisupport_client_inits_sends_and_reads_history);
