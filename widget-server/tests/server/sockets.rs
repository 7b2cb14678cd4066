//! Socket limits under hostile clients: caps per client and per session,
//! the frame budget, throttled typing and read receipts, origins at
//! `subscribe`. Floods are bounded in count and time.

use std::time::{Duration, Instant};

use futures_util::{stream, SinkExt, StreamExt};
use natter_protocol::ws::CLOSE_POLICY;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use crate::abuse::percentile_ms;
use crate::operator_stream::{next_of, operator_socket};
use crate::support::{Db, TestApp, WsEvent, PATIENCE};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws` with an optional `Origin`; the HTTP status when refused.
async fn open(app: &TestApp, origin: Option<&str>) -> Result<Socket, StatusCode> {
    let mut request = format!("ws://{}/ws", app.addr).into_client_request().expect("request");
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(StatusCode::from_u16(response.status().as_u16()).expect("status")),
        Err(e) => panic!("connect failed: {e}"),
    }
}

async fn subscribe(socket: &mut Socket, token: &str) -> Value {
    let frame = json!({ "event": "subscribe", "data": { "pubsub_token": token } });
    socket.send(WsMessage::Text(frame.to_string().into())).await.expect("send");
    next_json(socket).await
}

/// The next text frame as JSON, or `{"closed": code}`.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.expect("a frame in time") {
            Some(Ok(WsMessage::Text(text))) => return serde_json::from_str(&text).expect("json"),
            Some(Ok(WsMessage::Close(frame))) => return json!({ "closed": frame.map(|f| u16::from(f.code)) }),
            Some(Ok(_)) => {}
            other => return json!({ "closed": null, "ended": format!("{other:?}") }),
        }
    }
}

async fn five_hundred_sockets_from_one_client_meet_the_cap(db: Db) {
    let app = TestApp::spawn(db).await;
    let started = Instant::now();
    let attempts: Vec<Result<Socket, StatusCode>> =
        stream::iter(0..500).map(|_| open(&app, None)).buffer_unordered(32).collect().await;
    let (open_sockets, refused): (Vec<_>, Vec<_>) = attempts.into_iter().partition(Result::is_ok);
    assert_eq!(open_sockets.len(), 256, "the default cap per client");
    assert!(refused.iter().all(|r| r.as_ref().err() == Some(&StatusCode::TOO_MANY_REQUESTS)));
    let health = app.get_raw("/healthz", &[]).await;
    assert_eq!(health.status, StatusCode::OK, "the server stays responsive");
    println!("500 sockets from one client: 256 open, 244 refused with 429 in {:?}", started.elapsed());

    drop(open_sockets);
    let deadline = Instant::now() + PATIENCE;
    loop {
        match open(&app, None).await {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
                assert!(Instant::now() < deadline, "closed sockets give their slots back");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn a_session_holds_at_most_ten_sockets(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("many-tabs").await;
    let token = s.token.clone().expect("token");
    let mut tabs = Vec::new();
    for _ in 0..10 {
        let mut socket = open(&app, None).await.expect("open");
        assert_eq!(subscribe(&mut socket, &token).await["event"], "confirm_subscription");
        tabs.push(socket);
    }
    let mut eleventh = open(&app, None).await.expect("open");
    let refused = subscribe(&mut eleventh, &token).await;
    assert_eq!(refused["data"]["code"], "too_many_sockets", "{refused}");
    assert_eq!(next_json(&mut eleventh).await["closed"], CLOSE_POLICY);

    let other = app.session("one-tab").await;
    let mut socket = open(&app, None).await.expect("open");
    let confirmed = subscribe(&mut socket, other.token.as_deref().expect("token")).await;
    assert_eq!(confirmed["event"], "confirm_subscription", "other sessions are not affected");
}

async fn a_frame_flood_is_dropped_then_closed_while_others_still_send(db: Db) {
    let app = TestApp::spawn(db).await;
    let flooder = app.session("flooder").await;
    let bystander = app.session("bystander").await;
    let mut socket = open(&app, None).await.expect("open");
    subscribe(&mut socket, flooder.token.as_deref().expect("token")).await;
    let (mut sink, mut frames) = socket.split();

    let flood = async move {
        let seen = WsMessage::Text(json!({ "event": "seen", "data": {} }).to_string().into());
        let started = Instant::now();
        let mut sent = 0u32;
        // A thousand a second, for at most eight seconds.
        let mut pace = tokio::time::interval(Duration::from_millis(1));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        while started.elapsed() < Duration::from_secs(8) {
            pace.tick().await;
            if sink.send(seen.clone()).await.is_err() {
                break;
            }
            sent += 1;
        }
        (sent, started.elapsed())
    };
    let closed = async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(12), frames.next()).await.expect("closed in time") {
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    };
    let others = async {
        let mut latencies = Vec::new();
        for i in 0..40 {
            let started = Instant::now();
            let r = app.send(&bystander, &format!("still here {i}"), None).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            latencies.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        latencies
    };
    let ((sent, lasted), code, mut latencies) = tokio::join!(flood, closed, others);
    assert_eq!(code, Some(CLOSE_POLICY), "a sustained flood is closed with 1008");
    assert!(lasted >= Duration::from_secs(5), "not before five seconds over the limit: {lasted:?}");
    println!(
        "frame flood: {sent} frames in {lasted:?} before 1008; other sessions' sends p50 {:.1} ms, p99 {:.1} ms",
        percentile_ms(&mut latencies, 0.5),
        percentile_ms(&mut latencies, 0.99)
    );
}

async fn typing_is_relayed_at_most_once_a_second_and_the_last_state_wins(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("typist").await;
    let mut operator = operator_socket(&app).await;
    let mut visitor = app.subscribed(&s, None).await;
    // Forty toggles at once, ending with typing_off: within the frame budget,
    // but far more than one relay a second.
    for i in 0..40 {
        visitor.send(json!({ "event": if i % 2 == 0 { "typing_on" } else { "typing_off" } })).await;
    }
    let mut relayed = Vec::new();
    let watch_until = Instant::now() + Duration::from_millis(2500);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(watch_until.into(), operator.next()).await {
        if let WsMessage::Text(text) = frame {
            let v: Value = serde_json::from_str(&text).expect("json");
            if v["type"].as_str().is_some_and(|t| t.starts_with("typing.")) {
                relayed.push(v["type"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    assert!((1..=3).contains(&relayed.len()), "one relay a second, not forty: {relayed:?}");
    assert_eq!(relayed.last().map(String::as_str), Some("typing.stop"), "the last state arrives");
    // The socket still works.
    visitor.send(json!({ "event": "update_presence" })).await;
    app.send_ok(&s, "done typing").await;
    assert!(matches!(visitor.frame().await, WsEvent::Frame(_)));
    next_of(&mut operator, "message.new").await;
}

async fn origins_are_checked_at_subscribe_and_on_the_omnisupport_widget(db: Db) {
    let app = TestApp::spawn(db).await;
    natter_server::cli::update_website(
        app.state.store.as_ref(),
        &app.website.token,
        None,
        vec!["https://shop.example".into()],
        None,
    )
    .await
    .expect("origins");
    let s = app.session("origin").await;
    let token = s.token.clone().expect("token");

    let mut foreign = open(&app, Some("https://evil.example")).await.expect("open");
    let refused = subscribe(&mut foreign, &token).await;
    assert_eq!(refused["data"]["code"], "origin_not_allowed", "{refused}");
    assert_eq!(next_json(&mut foreign).await["closed"], CLOSE_POLICY);
    let mut own = open(&app, Some("https://shop.example")).await.expect("open");
    assert_eq!(subscribe(&mut own, &token).await["event"], "confirm_subscription");
    let mut no_browser = open(&app, None).await.expect("open");
    assert_eq!(subscribe(&mut no_browser, &token).await["event"], "confirm_subscription", "no Origin, no browser");

    let body = json!({ "api_key": app.website.token, "session_id": "omni-origin" }).to_string();
    let r = app.post_raw("/widget/v1/init", &[("origin", "https://evil.example")], body.clone()).await;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("ORIGIN_NOT_ALLOWED")), "{}", r.body);
    let r = app.post_raw("/widget/v1/init", &[("origin", "https://shop.example")], body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

crate::on_both_databases!(
    five_hundred_sockets_from_one_client_meet_the_cap,
    a_session_holds_at_most_ten_sockets,
    a_frame_flood_is_dropped_then_closed_while_others_still_send,
    typing_is_relayed_at_most_once_a_second_and_the_last_state_wins,
    origins_are_checked_at_subscribe_and_on_the_omnisupport_widget,
);
