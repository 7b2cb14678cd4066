//! The operator WebSocket: auth, subscriptions, live inbox events, typing
//! both ways and read receipts that reach the widget.

use futures_util::{SinkExt, StreamExt};
use natter_protocol::ws::{ServerFrame, CLOSE_UNAUTHORIZED};
use natter_protocol::MessageStatus;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::{Db, TestApp, WsEvent, PATIENCE};

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr)).await.expect("connects").0
}

async fn send(ws: &mut Socket, v: Value) {
    ws.send(WsMessage::Text(v.to_string().into())).await.expect("send");
}

/// The next JSON frame whose `type` is `kind`, skipping others.
pub(crate) async fn next_of(ws: &mut Socket, kind: &str) -> Value {
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next()).await.expect("in time").expect("open").expect("frame");
        if let WsMessage::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).expect("json");
            if v["type"] == kind {
                return v;
            }
        }
    }
}

pub(crate) async fn operator_socket(app: &TestApp) -> Socket {
    let token = app.login().await.access_token;
    let mut ws = connect(app).await;
    send(&mut ws, json!({ "type": "auth", "token": format!("Bearer {token}") })).await;
    assert_eq!(next_of(&mut ws, "auth.ok").await["operator"]["name"], "Ann");
    send(&mut ws, json!({ "type": "subscribe", "channels": ["conversations", "messages"] })).await;
    assert_eq!(next_of(&mut ws, "subscribed").await["channels"], json!(["conversations", "messages"]));
    ws
}

async fn a_bad_operator_token_is_closed_with_4001(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ws = connect(&app).await;
    send(&mut ws, json!({ "type": "auth", "token": "Bearer forged" })).await;
    assert!(next_of(&mut ws, "error").await["message"].is_string());
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.expect("in time") {
            Some(Ok(WsMessage::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), CLOSE_UNAUTHORIZED);
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn operators_see_new_conversations_messages_and_typing_live(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut op = operator_socket(&app).await;
    let s = app.session("stream-1").await;
    let created = next_of(&mut op, "conversation.created").await;
    assert_eq!(created["conversation"]["id"], s.session_id.as_str());
    let sent = app.send_ok(&s, "is anyone there?").await;
    let new = loop {
        let m = next_of(&mut op, "message.new").await;
        if m["message"]["id"] == sent.id.as_str() {
            break m;
        }
    };
    assert_eq!(new["message"]["sender_type"], "customer");
    assert_eq!(new["conversation_id"], s.session_id.as_str());

    // The message reached the operator's stream: its delivery receipt is
    // written now, before the visitor's socket opens, not among the frames below.
    app.state.chat.flush_deliveries().await.expect("delivery receipts");
    let mut visitor = app.subscribed(&s, None).await;
    visitor.send(json!({ "event": "typing_on" })).await;
    assert_eq!(next_of(&mut op, "typing.start").await["conversation_id"], s.session_id.as_str());

    send(&mut op, json!({ "type": "typing", "conversation_id": s.session_id })).await;
    match visitor.event().await {
        WsEvent::Frame(ServerFrame::TypingOn(t)) => assert_eq!(t.user.kind, "agent"),
        other => panic!("expected typing_on, got {other:?}"),
    }

    send(&mut op, json!({ "type": "read", "conversation_id": s.session_id, "message_id": sent.id })).await;
    let read = loop {
        if let WsEvent::Frame(ServerFrame::MessageUpdated(m)) = visitor.event().await {
            break m;
        }
    };
    assert_eq!((read.message.id.as_str(), read.status), (sent.id.as_str(), MessageStatus::Read));

    let token = app.login().await.access_token;
    let closed = app
        .http
        .post(app.url(&format!("/api/v1/conversations/{}/close", s.session_id)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("close");
    assert!(closed.status().is_success());
    let updated = loop {
        let u = next_of(&mut op, "conversation.updated").await;
        if u["conversation"]["status"] == "closed" {
            break u;
        }
    };
    assert_eq!(updated["conversation"]["id"], s.session_id.as_str());
    send(&mut op, json!({ "type": "ping" })).await;
    next_of(&mut op, "pong").await;
}

async fn a_new_conversation_is_announced_with_its_contact_details(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ws = operator_socket(&app).await;
    let body = json!({ "userSessionId": "named-1", "name": "Olha", "firstMessage": "Hello there" });
    let created: natter_protocol::SessionData = app.post_session(body).await.data();
    let announced = next_of(&mut ws, "conversation.created").await;
    assert_eq!(announced["conversation"]["id"], created.session_id.as_str());
    assert_eq!(announced["conversation"]["customer"]["name"], "Olha", "{announced}");
}

crate::on_both_databases!(
    a_new_conversation_is_announced_with_its_contact_details,
    a_bad_operator_token_is_closed_with_4001,
    operators_see_new_conversations_messages_and_typing_live,
);
