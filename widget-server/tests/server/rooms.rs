//! The room stream: login with `token`, room lists and history, and the
//! `{type, payload}` socket with its close codes.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::{Db, TestApp, OPERATOR_EMAIL, OPERATOR_PASSWORD, PATIENCE};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn room_token(app: &TestApp) -> String {
    let body = json!({ "email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD }).to_string();
    let reply = app.post_raw("/api/auth/login", &[], body).await;
    assert_eq!(reply.status, reqwest::StatusCode::OK);
    assert_eq!(reply.body["token"], reply.body["access_token"]);
    reply.body["token"].as_str().expect("token").to_owned()
}

async fn connect(app: &TestApp, room: &str, query: &str) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{}/api/rooms/{room}/chat{query}", app.addr))
        .await
        .expect("connects")
        .0
}

/// The next frame: `Ok(json)` or `Err(close code)`.
async fn next(ws: &mut Socket) -> Result<Value, Option<u16>> {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.expect("in time") {
            Some(Ok(WsMessage::Text(t))) => return Ok(serde_json::from_str(&t).expect("json")),
            Some(Ok(WsMessage::Close(f))) => return Err(f.map(|f| f.code.into())),
            Some(Ok(_)) => {}
            _ => return Err(None),
        }
    }
}

async fn next_of(ws: &mut Socket, kind: &str) -> Value {
    loop {
        let v = next(ws).await.unwrap_or_else(|code| panic!("closed {code:?} waiting for {kind}"));
        if v["type"] == kind {
            return v["payload"].clone();
        }
    }
}

async fn a_room_streams_messages_and_events_to_an_operator(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = room_token(&app).await;
    let s = app.session("room-1").await;
    let rooms = app.http.get(app.url("/api/rooms")).bearer_auth(&token).send().await.expect("rooms");
    let rooms: Value = rooms.json().await.expect("json");
    assert_eq!(rooms["data"][0]["id"], s.session_id.as_str());

    let mut ws = connect(&app, &s.session_id, &format!("?token={token}")).await;
    assert_eq!(next_of(&mut ws, "connected").await["roomId"], s.session_id.as_str());
    app.send_ok(&s, "hello room").await;
    let m = next_of(&mut ws, "message").await;
    assert_eq!((m["text"].as_str(), m["sender"].as_str()), (Some("hello room"), Some("user")));
    assert!(m["agentId"].is_null());
    app.operator_reply(&token, &s.session_id, "operator here").await;
    let reply = loop {
        let m = next_of(&mut ws, "message").await;
        if m["text"] == "operator here" {
            break m;
        }
    };
    assert_eq!(reply["sender"], "Ann");
    assert!(reply["agentId"].is_string());
    app.http
        .post(app.url(&format!("/api/v1/conversations/{}/close", s.session_id)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("close");
    assert_eq!(next_of(&mut ws, "event").await["eventType"], "status_changed");
    ws.send(WsMessage::Text(json!({ "type": "ping" }).to_string().into())).await.expect("ping");
    next_of(&mut ws, "pong").await;

    let history =
        app.http.get(app.url(&format!("/api/rooms/{}/messages", s.session_id))).bearer_auth(&token).send().await;
    let history: Value = history.expect("history").json().await.expect("json");
    let texts: Vec<&str> =
        history["data"].as_array().expect("list").iter().filter_map(|m| m["text"].as_str()).collect();
    let settings = &app.website.settings;
    let expected = [
        settings.greeting.as_str(),
        "hello room",
        settings.contact_request.as_str(),
        "operator here",
        "Ann closed the conversation",
    ];
    assert_eq!(texts, expected);
}

async fn the_token_may_come_in_a_first_frame_instead_of_the_url(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = room_token(&app).await;
    let s = app.session("room-2").await;
    let mut ws = connect(&app, &s.session_id, "").await;
    ws.send(WsMessage::Text(json!({ "type": "auth", "token": token }).to_string().into())).await.expect("auth");
    next_of(&mut ws, "connected").await;
}

async fn bad_tokens_get_4001_and_unknown_rooms_4003(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("room-3").await;
    let mut forged = connect(&app, &s.session_id, "?token=forged").await;
    assert!(next(&mut forged).await.is_ok_and(|v| v["type"] == "error"));
    assert_eq!(next(&mut forged).await.err(), Some(Some(4001)));
    let token = room_token(&app).await;
    let mut missing = connect(&app, "no-such-room", &format!("?token={token}")).await;
    assert!(next(&mut missing).await.is_ok_and(|v| v["type"] == "error"));
    assert_eq!(next(&mut missing).await.err(), Some(Some(4003)));
    let unauthenticated = app.http.get(app.url("/api/rooms")).send().await.expect("rooms");
    assert_eq!(unauthenticated.status(), reqwest::StatusCode::UNAUTHORIZED);
}

async fn a_room_client_that_stops_reading_is_dropped_with_4008(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.keepalive_secs = 0.2).await;
    let token = room_token(&app).await;
    let s = app.session("room-silent").await;
    let mut silent = connect(&app, &s.session_id, &format!("?token={token}")).await;
    assert_eq!(next_of(&mut silent, "connected").await["roomId"], s.session_id.as_str());
    // Silence is what is tested: the client reads nothing (so answers no
    // ping) for four keepalive periods.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let code = loop {
        match next(&mut silent).await {
            Err(code) => break code,
            Ok(frame) => assert_ne!(frame["type"], "message", "{frame}"),
        }
    };
    assert_eq!(code, Some(4008), "a presence timeout");
}

async fn connect_graph(app: &TestApp, room: &str, query: &str) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{}/api/rooms/{room}/graph{query}", app.addr))
        .await
        .expect("connects")
        .0
}

async fn the_relationship_graph_streams_edges_and_the_feed_merges_events(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = room_token(&app).await;
    let s = app.session("graph-room").await;
    app.send_ok(&s, "hello").await;
    app.operator_reply(&token, &s.session_id, "hi, I am Ann").await;
    let get = |path: String| {
        let (app, token) = (&app, token.clone());
        async move {
            let res = app.http.get(app.url(&path)).bearer_auth(token).send().await.expect("request");
            (res.status(), res.json::<Value>().await.expect("json"))
        }
    };
    let (status, graph) = get(format!("/api/rooms/{}/graph", s.session_id)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{graph}");
    let kinds: Vec<&str> =
        graph["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(kinds, ["visitor", "operator", "bot"]);
    assert_eq!(graph["nodes"][1]["name"], "Ann");
    assert_eq!(graph["edges"], json!([]));
    let visitor = graph["nodes"][0]["id"].as_str().expect("id").to_owned();
    let ann = graph["nodes"][1]["id"].as_str().expect("id").to_owned();

    let mut ws = connect_graph(&app, &s.session_id, &format!("?token={token}")).await;
    assert_eq!(next_of(&mut ws, "connected").await["roomId"], s.session_id.as_str());
    let patch = |body: Value| {
        let (app, token, path) = (&app, token.clone(), format!("/api/rooms/{}/relationships", s.session_id));
        async move {
            let res = app.http.patch(app.url(&path)).bearer_auth(token).json(&body).send().await.expect("request");
            (res.status(), res.json::<Value>().await.expect("json"))
        }
    };
    let (status, stored) = patch(json!({ "from": ann, "to": visitor, "sympathyLevel": 0.7 })).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{stored}");
    let update = next_of(&mut ws, "edge_update").await;
    assert_eq!(update, json!({ "roomId": s.session_id, "from": ann, "to": visitor, "sympathyLevel": 0.7 }));
    patch(json!({ "from": ann, "to": visitor, "sympathyLevel": -0.25 })).await;
    assert_eq!(next_of(&mut ws, "edge_update").await["sympathyLevel"], -0.25);
    ws.send(WsMessage::Text(json!({ "type": "ping" }).to_string().into())).await.expect("ping");
    assert_eq!(next_of(&mut ws, "pong").await, json!({}));

    for (body, why) in [
        (json!({ "from": ann, "to": visitor, "sympathyLevel": 1.5 }), "above 1"),
        (json!({ "from": ann, "to": visitor, "sympathyLevel": -1.01 }), "below -1"),
        (json!({ "from": ann, "to": "someone-else", "sympathyLevel": 0.1 }), "not an agent of the room"),
        (json!({ "from": ann, "to": ann, "sympathyLevel": 0.1 }), "the same agent"),
        (json!({ "from": ann, "to": visitor }), "no level"),
    ] {
        let (status, body) = patch(body).await;
        assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{why}: {body}");
    }
    let (_, graph) = get(format!("/api/rooms/{}/graph", s.session_id)).await;
    let edges = graph["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1, "one edge per ordered pair: {edges:?}");
    assert_eq!(edges[0]["sympathyLevel"], -0.25);

    let (status, feed) = get(format!("/api/rooms/{}/feed", s.session_id)).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let items = feed["data"].as_array().expect("feed");
    let types: Vec<&str> = items.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(types.iter().filter(|t| **t == "event").count(), 2, "{types:?}");
    assert_eq!(types.last(), Some(&"event"), "the newest is last");
    let times: Vec<&str> = items.iter().filter_map(|i| i["payload"]["timestamp"].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order: {times:?}");
    assert_eq!(items.last().expect("event")["payload"]["eventType"], "relationship_changed");

    let mut stranger = connect_graph(&app, "no-such-room", &format!("?token={token}")).await;
    assert_eq!(next(&mut stranger).await.ok().map(|v| v["type"].clone()), Some(json!("error")));
    assert_eq!(next(&mut stranger).await, Err(Some(4003)));
    let mut anonymous = connect_graph(&app, &s.session_id, "?token=forged").await;
    assert_eq!(next(&mut anonymous).await.ok().map(|v| v["type"].clone()), Some(json!("error")));
    assert_eq!(next(&mut anonymous).await, Err(Some(4001)));
    let (status, _) = get("/api/rooms/no-such-room/feed".into()).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
}

crate::on_both_databases!(
    the_relationship_graph_streams_edges_and_the_feed_merges_events,
    a_room_client_that_stops_reading_is_dropped_with_4008,
    a_room_streams_messages_and_events_to_an_operator,
    the_token_may_come_in_a_first_frame_instead_of_the_url,
    bad_tokens_get_4001_and_unknown_rooms_4003,
);
