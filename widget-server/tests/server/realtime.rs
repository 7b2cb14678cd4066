//! `/ws`: subscription, keepalive, live events, `seen`, resume without gaps
//! or duplicates, and shutdown.

use natter_protocol::ws::{ServerFrame, CLOSE_GOING_AWAY, CLOSE_PRESENCE_TIMEOUT, CLOSE_UNAUTHORIZED};
use natter_protocol::{MessageStatus, Sender};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Db, TestApp, WsEvent};

fn fast_keepalive(c: &mut natter_server::config::ServeConfig) {
    c.keepalive_secs = 0.2;
}

async fn subscribe_is_confirmed_and_a_bad_token_is_closed_with_4001(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("ws-1").await;
    app.subscribed(&s, None).await;

    let mut bad = app.ws().await;
    bad.send(json!({ "event": "subscribe", "data": { "pubsub_token": "forged", "account_id": 1 } })).await;
    match bad.frame().await {
        WsEvent::Frame(ServerFrame::Error(e)) => assert_eq!(e.code, "invalid_token"),
        other => panic!("expected an error event, got {other:?}"),
    }
    assert_eq!(bad.closed().await, Some(CLOSE_UNAUTHORIZED));
}

async fn live_messages_reach_the_subscriber(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("ws-live").await;
    let mut ws = app.subscribed(&s, None).await;
    let sent = app.send_ok(&s, "are you there?").await;
    let got = ws.created().await;
    assert_eq!((got.id, got.sender), (sent.id, Sender::User));
    // The contact request the bot adds after the first message follows it.
    let bot = ws.created().await;
    assert_eq!(bot.sender, Sender::Bot);
    assert!(bot.seq > got.seq);
}

async fn keepalive_answered_keeps_the_socket_and_silence_drops_it(db: Db) {
    let app = TestApp::spawn_with(db, fast_keepalive).await;
    let s = app.session("ws-alive").await;
    let mut talker = app.subscribed(&s, None).await;
    let mut silent = app.subscribed(&s, None).await;
    for _ in 0..5 {
        match talker.frame().await {
            WsEvent::Frame(ServerFrame::PresenceUpdate(_)) => talker.send(json!({ "event": "update_presence" })).await,
            other => panic!("expected presence.update, got {other:?}"),
        }
    }
    assert_eq!(silent.closed().await, Some(CLOSE_PRESENCE_TIMEOUT));
    // The talker outlived several intervals and still receives events.
    app.send_ok(&s, "still here").await;
    assert_eq!(talker.created().await.message_text, "still here");
}

async fn an_operator_reply_reaches_the_visitor_by_socket_and_by_polling(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("ws-op").await;
    let mut ws = app.subscribed(&s, None).await;
    let last_seen = s.messages.last().map(|m| m.seq).unwrap_or_default();
    let tokens = app.login().await;
    let reply = app.operator_reply(&tokens.access_token, &s.session_id, "Hello from support").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let live = ws.created().await;
    assert_eq!((live.sender, live.message_text.as_str()), (Sender::Manager, "Hello from support"));
    assert!(live.manager_id.is_some());
    let polled = app.list_ok(&s, &format!("after={last_seen}")).await.messages;
    assert_eq!(polled.len(), 1);
    assert_eq!(polled[0].id, live.id);
}

/// The next `message.updated` of message `id`, skipping other frames.
async fn updated(ws: &mut crate::support::WsClient, id: &str) -> MessageStatus {
    loop {
        match ws.event().await {
            WsEvent::Frame(ServerFrame::MessageUpdated(m)) if m.message.id == id => return m.status,
            WsEvent::Closed(code) => panic!("closed {code:?} while waiting for message.updated of {id}"),
            WsEvent::Frame(_) => {}
        }
    }
}

async fn a_message_that_reaches_the_other_side_is_marked_delivered(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("ws-delivered").await;
    let mut ws = app.subscribed(&s, None).await;
    let token = app.login().await.access_token;
    // An operator's reply reaches the visitor's socket: delivered.
    let reply = app.operator_reply(&token, &s.session_id, "On its way").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let live = ws.created().await;
    assert_eq!((live.sender, live.status), (Sender::Manager, MessageStatus::Sent));
    assert_eq!(updated(&mut ws, &live.id).await, MessageStatus::Delivered);
    // The visitor's message reaches an operator who lists the conversation: delivered.
    let mine = app.send_ok(&s, "Thanks!").await;
    let path = format!("/api/v1/conversations/{}/messages", s.session_id);
    let listed = app.authed(reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(updated(&mut ws, &mine.id).await, MessageStatus::Delivered);
    // Both stay so for every reader, and a read receipt still moves them on.
    let stored = app.list_ok(&s, "after=0").await.messages;
    let status_of = |id: &str| stored.iter().find(|m| m.id == id).map(|m| m.status);
    assert_eq!(status_of(&live.id), Some(MessageStatus::Delivered));
    assert_eq!(status_of(&mine.id), Some(MessageStatus::Delivered));
    ws.send(json!({ "event": "seen", "data": { "seq": live.seq } })).await;
    assert_eq!(updated(&mut ws, &live.id).await, MessageStatus::Read);
}

async fn a_reply_fetched_by_polling_is_marked_delivered(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("poll-delivered").await;
    let token = app.login().await.access_token;
    let reply = app.operator_reply(&token, &s.session_id, "Polled").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let path = format!("/api/v1/conversations/{}/messages", s.session_id);
    let status = |body: &serde_json::Value| {
        body["data"].as_array().and_then(|m| m.last()).map(|m| m["metadata"]["status"].clone())
    };
    let before = app.authed(reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(status(&before.body), Some(json!("sent")), "no visitor has fetched it yet");
    let seq = s.messages.last().map(|m| m.seq).unwrap_or_default();
    let polled = app.list_ok(&s, &format!("after={seq}")).await.messages;
    assert_eq!(polled.len(), 1);
    app.state.chat.flush_deliveries().await.expect("flush");
    let after = app.authed(reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(status(&after.body), Some(json!("delivered")), "{}", after.body);
}

async fn resume_with_last_seq_replays_without_gap_or_duplicate(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("ws-resume").await;
    let tokens = app.login().await;
    let last_seen = 3;
    // Four writers keep storing messages while the client resumes, so the
    // replay from the database overlaps live events.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (url, token, id) = (app.url(""), tokens.access_token.clone(), s.session_id.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for i in 0..40 {
                    http.post(format!("{url}/api/v1/conversations/{id}/messages"))
                        .bearer_auth(&token)
                        .json(&json!({ "content": format!("writer {w} message {i}") }))
                        .send()
                        .await
                        .expect("send");
                }
            })
        })
        .collect();
    while app.list_ok(&s, "limit=1").await.messages[0].seq < 40 {
        tokio::task::yield_now().await;
    }
    let mut ws = app.subscribed(&s, Some(last_seen)).await;
    for w in writers {
        w.await.expect("writer");
    }
    let total = app.list_ok(&s, "limit=1").await.messages[0].seq;
    assert_eq!(total, 1 + 160, "greeting plus every operator message");
    let mut seqs = Vec::new();
    while seqs.last().copied().unwrap_or(last_seen) < total {
        seqs.push(ws.created().await.seq);
    }
    assert_eq!(seqs, ((last_seen + 1)..=total).collect::<Vec<_>>());
}

async fn seen_marks_messages_read_and_announces_it(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("ws-seen").await;
    let tokens = app.login().await;
    app.operator_reply(&tokens.access_token, &s.session_id, "please read").await;
    let mut ws = app.subscribed(&s, None).await;
    let mine = app.send_ok(&s, "mine stays unread").await;
    let newest = app.list_ok(&s, "limit=1").await.messages[0].seq;
    ws.send(json!({ "event": "seen", "data": { "seq": newest } })).await;
    let mut updated = Vec::new();
    loop {
        match ws.event().await {
            // Polling delivered what it returned; that may be announced first.
            WsEvent::Frame(ServerFrame::MessageUpdated(m)) if m.status == MessageStatus::Delivered => {}
            WsEvent::Frame(ServerFrame::MessageUpdated(m)) => {
                assert_eq!(m.status, MessageStatus::Read);
                updated.push(m.message.id.clone());
                if m.message.message_text == "please read" {
                    break;
                }
            }
            WsEvent::Frame(_) => {}
            WsEvent::Closed(code) => panic!("closed {code:?}"),
        }
    }
    let stored = app.list_ok(&s, "after=0").await.messages;
    for m in &stored {
        let expected = if m.sender == Sender::User { MessageStatus::Sent } else { MessageStatus::Read };
        assert_eq!(m.status, expected, "{m:?}");
    }
    assert!(!updated.contains(&mine.id));
}

async fn unknown_frames_get_an_error_event_and_the_socket_stays_open(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("ws-junk").await;
    let mut ws = app.subscribed(&s, None).await;
    ws.send(json!({ "event": "self_destruct" })).await;
    match ws.event().await {
        WsEvent::Frame(ServerFrame::Error(e)) => assert_eq!(e.code, "bad_frame"),
        other => panic!("expected an error event, got {other:?}"),
    }
    app.send_ok(&s, "after junk").await;
    assert_eq!(ws.created().await.message_text, "after junk");
}

async fn shutdown_closes_sockets_with_1001(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let s = app.session("ws-bye").await;
    let mut ws = app.subscribed(&s, None).await;
    app.shutdown().await;
    assert_eq!(ws.closed().await, Some(CLOSE_GOING_AWAY));
}

crate::on_both_databases!(
    subscribe_is_confirmed_and_a_bad_token_is_closed_with_4001,
    live_messages_reach_the_subscriber,
    keepalive_answered_keeps_the_socket_and_silence_drops_it,
    an_operator_reply_reaches_the_visitor_by_socket_and_by_polling,
    resume_with_last_seq_replays_without_gap_or_duplicate,
    seen_marks_messages_read_and_announces_it,
    a_message_that_reaches_the_other_side_is_marked_delivered,
    a_reply_fetched_by_polling_is_marked_delivered,
    unknown_frames_get_an_error_event_and_the_socket_stays_open,
    shutdown_closes_sockets_with_1001,
);

/// Two instances on one PostgreSQL database see each other's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_postgres_deliver_each_others_messages_in_order() {
    let a = TestApp::spawn(Db::Postgres).await;
    let b = a.spawn_peer().await;
    let s = a.session("two-instances").await;
    let mut on_a = a.subscribed(&s, None).await;
    let mut on_b = b.subscribed(&s, None).await;
    let tokens = b.login().await;
    for i in 0..5 {
        let reply = b.operator_reply(&tokens.access_token, &s.session_id, &format!("from b {i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(on_a.created().await.message_text);
    }
    assert_eq!(got, (0..5).map(|i| format!("from b {i}")).collect::<Vec<_>>());
    let sent = a.send_ok(&s, "visitor on a").await;
    let mut seen_on_b = Vec::new();
    loop {
        let m = on_b.created().await;
        seen_on_b.push(m.seq);
        if m.id == sent.id {
            break;
        }
    }
    assert_eq!(seen_on_b, ((seen_on_b[0])..=sent.seq).collect::<Vec<_>>(), "in order, without gaps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_too_large_for_a_notification_still_reaches_the_other_instance() {
    let a = TestApp::spawn(Db::Postgres).await;
    let b = a.spawn_peer().await;
    let s = a.session("large-relay").await;
    let mut on_a = a.subscribed(&s, None).await;
    let tokens = b.login().await;
    // 3,000 four-byte characters: 12 KB of UTF-8, over PostgreSQL's 8,000-byte notification limit.
    let long = "🙂".repeat(3000);
    let reply = b.operator_reply(&tokens.access_token, &s.session_id, &long).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let got = on_a.created().await;
    assert_eq!(got.message_text, long, "read back from the database on the receiving instance");
}
