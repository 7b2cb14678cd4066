//! The Novatalks widget dialect: create a conversation, post with `echo_id`,
//! page with `before`/`after`, all authorised by `Auth-Widget`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Db, TestApp};

async fn a_novatalks_client_creates_posts_and_pages(db: Db) {
    let app = TestApp::spawn(db).await;
    let q = format!("?website_token={}", app.website.token);
    let created = app
        .post_raw(&format!("/widget/conversations{q}"), &[], json!({ "name": "widget-contact-494" }).to_string())
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let payload = &created.body["payload"];
    assert_eq!(payload["contact"]["name"], "widget-contact-494");
    assert_eq!(payload["account_id"], 1);
    let token = payload["contactInbox"]["pubsubToken"].as_str().expect("pubsubToken").to_owned();
    let id = payload["conversation"]["id"].as_str().expect("id").to_owned();
    let path = format!("/widget/conversations/{id}/messages{q}");

    let body = json!({ "message": { "content": "hello", "echo_id": "724" }, "conversationId": id }).to_string();
    let sent = app.post_raw(&path, &[("auth-widget", &token)], body.clone()).await;
    assert_eq!(sent.status, StatusCode::OK);
    app.post_raw(&path, &[("auth-widget", &token)], body).await;
    let all = app.get_raw(&path, &[("auth-widget", &token)]).await;
    let list: Vec<Value> = serde_json::from_value(all.body).expect("array");
    let mine: Vec<&Value> = list.iter().filter(|m| m["message_type"] == "incoming").collect();
    assert_eq!(mine.len(), 1, "the repeated echo_id stored nothing");
    assert_eq!((mine[0]["content"].as_str(), mine[0]["echo_id"].as_str()), (Some("hello"), Some("724")));
    assert_eq!(mine[0]["conversation_id"], id.as_str());

    let first_seq = list[0]["seq"].as_i64().expect("seq");
    let after = app.get_raw(&format!("{path}&after={first_seq}"), &[("auth-widget", &token)]).await;
    assert_eq!(after.body.as_array().map(Vec::len), Some(list.len() - 1));
    let before = app.get_raw(&format!("{path}&before={first_seq}"), &[("auth-widget", &token)]).await;
    assert_eq!(before.body, json!([]));

    assert_eq!(app.get_raw(&path, &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_raw(&path, &[("auth-widget", "forged")]).await.status, StatusCode::FORBIDDEN);
    let no_site = app.get_raw(&format!("/widget/conversations/{id}/messages"), &[("auth-widget", &token)]).await;
    assert_eq!(no_site.status, StatusCode::UNAUTHORIZED);
    let nameless = app.post_raw(&format!("/widget/conversations{q}"), &[], "{}").await;
    assert_eq!(nameless.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A conversation is created before any socket can listen: its first
/// subscriber hears `conversation.created` right after the confirmation
/// (the helper checks it), later ones do not hear it again.
async fn the_first_subscriber_hears_of_its_new_conversation_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("first-to-listen").await;
    let mut first = app.subscribed(&s, None).await;
    let mut second = app.subscribed(&s, None).await;
    app.send_ok(&s, "hello there").await;
    for ws in [&mut first, &mut second] {
        match ws.event().await {
            crate::support::WsEvent::Frame(natter_protocol::ws::ServerFrame::MessageCreated(m)) => {
                assert_eq!(m.message.message_text, "hello there");
            }
            other => panic!("expected the message and no second conversation.created, got {other:?}"),
        }
    }
    let stored = app.state.store.session_by_id(&s.session_id).await.expect("read").expect("there");
    assert_ne!(stored.bot_state & natter_server::store::bot_flags::WIDGET_ANNOUNCED, 0);
}

crate::on_both_databases!(
    a_novatalks_client_creates_posts_and_pages,
    the_first_subscriber_hears_of_its_new_conversation_once
);
