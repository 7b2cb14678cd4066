//! Hostile frames on all three sockets (the widget's `/ws`, the operator
//! socket, a room stream): malformed, oversized, binary, invalid UTF-8,
//! deeply nested and out of order, then a seeded stream of mutated frames.
//! Each socket ends cleanly or keeps answering in its protocol; the server
//! stays up and every task it started for them ends.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::{Db, TestApp, OPERATOR_EMAIL, OPERATOR_PASSWORD, PATIENCE};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Which socket, and how to get past its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Widget,
    Operator,
    Room,
}

struct Target {
    kind: Kind,
    path: String,
    /// The frame that authenticates, sent first in "after auth" cases.
    auth: Value,
}

/// How a socket took a hostile frame.
#[derive(Debug)]
enum Outcome {
    /// The server closed with this code (`None`: a close frame without one).
    Closed(Option<u16>),
    /// The connection ended without a close frame (a protocol error).
    Dropped,
    /// Still open and answering: it sent these frames, all JSON.
    Answered(usize),
}

/// Close codes a hostile frame may earn: protocol error, not UTF-8, policy,
/// too large, unauthorised, no access.
const CLEAN: [u16; 6] = [1002, 1007, 1008, 1009, 4001, 4003];

fn hostile_frames() -> Vec<(&'static str, WsMessage)> {
    let text = |s: String| WsMessage::Text(s.into());
    vec![
        ("malformed JSON", text("{\"event\": \"subscribe\", \"data\": {".into())),
        ("wrong types", text(json!({ "event": 7, "type": ["x"], "data": "no" }).to_string())),
        ("unknown event", text(json!({ "event": "drop_tables", "data": {} }).to_string())),
        ("nulls", text(json!({ "event": null, "type": null, "token": null }).to_string())),
        ("deep nesting", text(format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)))),
        (
            "huge number",
            text(json!({ "event": "seen", "data": { "seq": 1e308 } }).to_string().replace("1e308", &"9".repeat(400))),
        ),
        ("oversized", text(format!("{{\"event\":\"seen\",\"data\":{{\"pad\":\"{}\"}}}}", "x".repeat(64 * 1024)))),
        ("binary", WsMessage::Binary(vec![0u8, 159, 146, 150, 255].into())),
        (
            "invalid UTF-8",
            WsMessage::Frame(Frame::message(vec![0x7b, 0xff, 0xfe, 0x7d], OpCode::Data(Data::Text), true)),
        ),
        (
            "a continuation out of nowhere",
            WsMessage::Frame(Frame::message(b"}".to_vec(), OpCode::Data(Data::Continue), true)),
        ),
        ("a reserved opcode", WsMessage::Frame(Frame::message(b"x".to_vec(), OpCode::Data(Data::Reserved(3)), true))),
        ("out of order: seen first", text(json!({ "event": "seen", "data": {} }).to_string())),
        (
            "out of order: subscribe twice",
            text(json!({ "type": "subscribe", "channels": ["conversations"] }).to_string()),
        ),
    ]
}

async fn connect(app: &TestApp, path: &str) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{}{path}", app.addr)).await.expect("connects").0
}

/// Reads what the server does with the socket for a short while.
async fn outcome(socket: &mut Socket) -> Outcome {
    let mut answered = 0;
    let quiet = Duration::from_millis(150);
    loop {
        match tokio::time::timeout(
            if answered == 0 { PATIENCE.min(Duration::from_secs(3)) } else { quiet },
            socket.next(),
        )
        .await
        {
            Err(_) => return Outcome::Answered(answered),
            Ok(Some(Ok(WsMessage::Text(text)))) => {
                serde_json::from_str::<Value>(&text)
                    .unwrap_or_else(|e| panic!("a frame that is not JSON ({e}): {text}"));
                answered += 1;
            }
            Ok(Some(Ok(WsMessage::Close(frame)))) => return Outcome::Closed(frame.map(|f| u16::from(f.code))),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return Outcome::Dropped,
        }
    }
}

async fn targets(app: &TestApp) -> Vec<Target> {
    let s = app.session("fuzzed").await;
    let token = app.login().await.access_token;
    vec![
        Target {
            kind: Kind::Widget,
            path: "/ws".into(),
            auth: json!({ "event": "subscribe", "data": { "pubsub_token": s.token } }),
        },
        Target {
            kind: Kind::Operator,
            path: "/ws".into(),
            auth: json!({ "type": "auth", "token": format!("Bearer {token}") }),
        },
        Target {
            kind: Kind::Room,
            path: format!("/api/rooms/{}/chat", s.session_id),
            auth: json!({ "type": "auth", "token": token }),
        },
    ]
}

async fn hostile_frames_end_sockets_cleanly_and_leak_nothing(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.auth_rate_per_ip = 10_000).await;
    let targets = targets(&app).await;
    // Everything the server runs while idle, with one socket of each kind
    // opened and closed, so lazily started tasks are counted.
    for target in &targets {
        let mut socket = connect(&app, &target.path).await;
        socket.send(WsMessage::Text(target.auth.to_string().into())).await.expect("auth");
        outcome(&mut socket).await;
    }
    let runtime = tokio::runtime::Handle::current().metrics();
    let baseline = runtime.num_alive_tasks();

    let mut seen = Vec::new();
    for target in &targets {
        for after_auth in [false, true] {
            for (name, frame) in hostile_frames() {
                let mut socket = connect(&app, &target.path).await;
                if after_auth {
                    socket.send(WsMessage::Text(target.auth.to_string().into())).await.expect("auth");
                    assert!(
                        matches!(outcome(&mut socket).await, Outcome::Answered(n) if n >= 1),
                        "{:?} authenticates",
                        target.kind
                    );
                }
                let sent = socket.send(frame).await;
                let got = if sent.is_err() { Outcome::Dropped } else { outcome(&mut socket).await };
                match got {
                    Outcome::Closed(Some(code)) if CLEAN.contains(&code) => {}
                    Outcome::Answered(_) => {}
                    _ => panic!("{:?} {name} (after auth: {after_auth}): {got:?}, not a clean close", target.kind),
                }
                seen.push(format!("{:?}/{}/{name}: {got:?}", target.kind, if after_auth { "authed" } else { "fresh" }));
            }
        }
        // A client of its own, dropped at once, so no pooled connection outlives the check.
        let health = reqwest::get(app.url("/healthz")).await.expect("health").status();
        assert_eq!(health, reqwest::StatusCode::OK, "the server is up after {:?} fuzzing", target.kind);
    }
    println!("{}", seen.join("\n"));

    // Sockets that were refused or are still open end when the client goes:
    // every task the fuzzing started ends.
    let deadline = Instant::now() + PATIENCE;
    while runtime.num_alive_tasks() > baseline {
        assert!(Instant::now() < deadline, "{} tasks alive, {baseline} before the fuzzing", runtime.num_alive_tasks());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The server still serves all three sockets.
    for target in &targets {
        let mut socket = connect(&app, &target.path).await;
        socket.send(WsMessage::Text(target.auth.to_string().into())).await.expect("auth");
        assert!(matches!(outcome(&mut socket).await, Outcome::Answered(n) if n >= 1), "{:?} still works", target.kind);
    }
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.next() % items.len() as u64).unwrap_or(0)]
    }
}

/// A valid frame of either protocol with one field mutated.
fn mutated(rng: &mut Rng) -> String {
    let valid = [
        json!({ "event": "seen", "data": { "seq": 1 } }),
        json!({ "event": "typing_on", "data": {} }),
        json!({ "event": "update_presence", "data": {} }),
        json!({ "event": "subscribe", "data": { "pubsub_token": "x", "last_seq": 0 } }),
        json!({ "type": "subscribe", "channels": ["conversations", "messages"] }),
        json!({ "type": "typing", "conversation_id": "c" }),
        json!({ "type": "ping" }),
        json!({ "type": "message", "content": "hi" }),
    ];
    let odd = [
        json!(null),
        json!(-1),
        json!(i64::MAX),
        json!(1.5e300),
        json!(""),
        json!("\u{202e}\u{0000}"),
        json!([]),
        json!({}),
        json!("x".repeat(3000)),
        json!({ "$where": "1" }),
    ];
    let mut frame = rng.pick(&valid).clone();
    let fields = ["event", "type", "data", "seq", "channels", "content", "conversation_id", "last_seq", "pubsub_token"];
    match rng.next() % 3 {
        0 => frame[*rng.pick(&fields)] = rng.pick(&odd).clone(),
        1 => {
            if let Some(data) = frame.get_mut("data").and_then(Value::as_object_mut) {
                data.insert((*rng.pick(&fields)).into(), rng.pick(&odd).clone());
            }
        }
        _ => {
            let text = frame.to_string();
            let cut = usize::try_from(rng.next() % text.len() as u64).unwrap_or(0);
            return text[..cut].to_owned();
        }
    }
    frame.to_string()
}

async fn a_seeded_stream_of_mutated_frames_is_answered_in_protocol(db: Db) {
    let app = TestApp::spawn(db).await;
    let targets = targets(&app).await;
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    for target in &targets {
        let mut socket = connect(&app, &target.path).await;
        socket.send(WsMessage::Text(target.auth.to_string().into())).await.expect("auth");
        assert!(matches!(outcome(&mut socket).await, Outcome::Answered(n) if n >= 1));
        // 40 frames, under the frame budget of 50 a second.
        for _ in 0..40 {
            if socket.send(WsMessage::Text(mutated(&mut rng).into())).await.is_err() {
                break;
            }
        }
        match outcome(&mut socket).await {
            Outcome::Closed(Some(code)) => assert!(CLEAN.contains(&code), "{:?}: close {code}", target.kind),
            Outcome::Closed(None) | Outcome::Dropped => {
                panic!("{:?}: valid frames with bad fields end the socket", target.kind)
            }
            Outcome::Answered(_) => {}
        }
    }
    assert_eq!(app.get_raw("/healthz", &[]).await.status, reqwest::StatusCode::OK);
    let login = json!({ "email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD }).to_string();
    assert_eq!(app.post_raw("/api/v1/auth/login", &[], login).await.status, reqwest::StatusCode::OK);
}

crate::on_both_databases!(
    hostile_frames_end_sockets_cleanly_and_leak_nothing,
    a_seeded_stream_of_mutated_frames_is_answered_in_protocol,
);
