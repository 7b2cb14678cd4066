//! `TestApp`: the real server on port 0 over a fresh database, with typed
//! helpers for the public API, `/ws` and the operator API.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter_protocol::operator::TokenResponse;
use natter_protocol::ws::ServerFrame;
use natter_protocol::{ChatMessage, Envelope, MessageData, MessagesData, SessionData};
use natter_server::config::ServeConfig;
use natter_server::store::Website;
use natter_server::{cli, AppState};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub const OPERATOR_EMAIL: &str = "agent@example.com";
pub const OPERATOR_PASSWORD: &str = "correct horse battery";

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub addr: SocketAddr,
    pub database_url: String,
    pub http: reqwest::Client,
    pub website: Website,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Response status and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> T {
        let env: Envelope<T> =
            serde_json::from_value(self.body.clone()).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        env.into_result().unwrap_or_else(|e| panic!("expected success, got {e:?}"))
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_else(|| panic!("no error envelope: {}", self.body))
    }
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match db {
            Db::Sqlite => format!("sqlite://{}", dir.path().join("natter.db").display()),
            Db::Postgres => crate::postgres::fresh_database().await,
        };
        let mut config = ServeConfig::for_tests(url);
        config.files_dir = Some(dir.path().join("files"));
        tweak(&mut config);
        let state = AppState::new(&config).await.expect("state");
        let website =
            cli::create_website(state.store.as_ref(), None, "Test site", vec![], false).await.expect("website");
        cli::create_operator(state.store.as_ref(), None, OPERATOR_EMAIL, OPERATOR_PASSWORD, "agent", Some("Ann"))
            .await
            .expect("operator");
        Self::start(config, state, website, dir).await
    }

    async fn start(config: ServeConfig, state: AppState, website: Website, dir: tempfile::TempDir) -> Self {
        let listener = tokio::net::TcpListener::bind(config.addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(natter_server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        let database_url = config.db.url();
        Self {
            addr,
            database_url,
            http: reqwest::Client::new(),
            website,
            state,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// A second server instance on the same database.
    pub async fn spawn_peer(&self) -> Self {
        let mut config = ServeConfig::for_tests(self.database_url.clone());
        // Instances sharing a database share their file store too.
        config.files_dir = Some(self._dir.path().join("files"));
        let state = AppState::new(&config).await.expect("peer state");
        Self::start(config, state, self.website.clone(), tempfile::tempdir().expect("dir")).await
    }

    /// Runs one SQL statement on the app's database, behind the server's back.
    pub async fn sql(&self, statement: &str) {
        if self.database_url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database_url).await.expect("connect");
            sqlx::query(statement).execute(&pool).await.expect(statement);
        } else {
            let pool = sqlx::SqlitePool::connect(&self.database_url).await.expect("connect");
            sqlx::query(statement).execute(&pool).await.expect(statement);
        }
    }

    /// The first column of a query's rows, as text, read behind the server's back.
    pub async fn sql_texts(&self, query: &str) -> Vec<String> {
        if self.database_url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database_url).await.expect("connect");
            sqlx::query_scalar(query).fetch_all(&pool).await.expect(query)
        } else {
            let pool = sqlx::SqlitePool::connect(&self.database_url).await.expect("connect");
            sqlx::query_scalar(query).fetch_all(&pool).await.expect(query)
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Begins a graceful shutdown and waits until the server has stopped.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(PATIENCE, server)
                .await
                .expect("server stops in time")
                .expect("joins")
                .expect("serves");
        }
    }

    async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body, headers }
    }

    pub async fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Reply {
        let mut req = self.http.post(self.url(path)).header("content-type", "application/json").body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    pub async fn get_raw(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.http.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    /// `POST /api/public/chat/sessions` with this app's website key.
    pub async fn post_session(&self, body: Value) -> Reply {
        self.post_raw("/api/public/chat/sessions", &[("x-api-key", &self.website.token)], body.to_string()).await
    }

    /// `POST /api/public/chat/sessions` for a session the caller holds (its token sent).
    pub async fn post_session_as(&self, held: &SessionData, body: Value) -> Reply {
        let headers = self.session_headers(held);
        self.post_raw("/api/public/chat/sessions", &headers, body.to_string()).await
    }

    /// Creates (or resumes) a session and returns its data.
    pub async fn session(&self, user_session_id: &str) -> SessionData {
        let reply = self.post_session(json!({ "userSessionId": user_session_id })).await;
        assert!(reply.status.is_success(), "{}", reply.body);
        // The greeting the visitor just received is marked delivered now,
        // not in the middle of what a test reads from a socket next.
        self.state.chat.flush_deliveries().await.expect("delivery receipts");
        reply.data()
    }

    pub fn messages_path(session: &SessionData) -> String {
        format!("/api/public/chat/sessions/{}/messages", session.session_id)
    }

    fn session_headers<'a>(&'a self, session: &'a SessionData) -> [(&'a str, &'a str); 2] {
        [("x-api-key", &self.website.token), ("x-session-token", session.token.as_deref().unwrap_or_default())]
    }

    pub async fn send(&self, session: &SessionData, text: &str, echo_id: Option<&str>) -> Reply {
        let body = json!({ "message": text, "echoId": echo_id });
        self.post_raw(&Self::messages_path(session), &self.session_headers(session), body.to_string()).await
    }

    /// Sends and returns the stored message.
    pub async fn send_ok(&self, session: &SessionData, text: &str) -> ChatMessage {
        let reply = self.send(session, text, None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.data::<MessageData>().message
    }

    /// `POST …/sessions/{id}/rating` with the session's token.
    pub async fn rate(&self, session: &SessionData, body: Value) -> Reply {
        let path = format!("/api/public/chat/sessions/{}/rating", session.session_id);
        self.post_raw(&path, &self.session_headers(session), body.to_string()).await
    }

    pub async fn list(&self, session: &SessionData, query: &str) -> Reply {
        self.get_raw(&format!("{}?{query}", Self::messages_path(session)), &self.session_headers(session)).await
    }

    pub async fn list_ok(&self, session: &SessionData, query: &str) -> MessagesData {
        let reply = self.list(session, query).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.data()
    }

    pub async fn login(&self) -> TokenResponse {
        let body = json!({ "email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD });
        let reply = self.post_raw("/api/v1/auth/login", &[], body.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        serde_json::from_value(reply.body).expect("token response")
    }

    /// An operator reply through `POST /api/v1/conversations/{id}/messages`.
    pub async fn operator_reply(&self, access_token: &str, session_id: &str, text: &str) -> Reply {
        let auth = format!("Bearer {access_token}");
        let body = json!({ "content": text });
        self.post_raw(
            &format!("/api/v1/conversations/{session_id}/messages"),
            &[("authorization", &auth)],
            body.to_string(),
        )
        .await
    }

    pub async fn ws(&self) -> WsClient {
        let (stream, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws", self.addr)).await.expect("ws connects");
        WsClient { stream }
    }

    /// A socket subscribed to `session`, optionally resuming after `last_seq`.
    pub async fn subscribed(&self, session: &SessionData, last_seq: Option<i64>) -> WsClient {
        // A conversation's first subscriber is told of it after the confirmation.
        let stored = self.state.store.session_by_id(&session.session_id).await.expect("read").expect("session");
        let first = stored.bot_state & natter_server::store::bot_flags::WIDGET_ANNOUNCED == 0;
        let mut ws = self.ws().await;
        let token = session.token.clone().unwrap_or_default();
        ws.send(
            json!({ "event": "subscribe", "data": { "pubsub_token": token, "account_id": 1, "last_seq": last_seq } }),
        )
        .await;
        match ws.frame().await {
            WsEvent::Frame(ServerFrame::ConfirmSubscription(c)) => assert_eq!(c, "confirmed"),
            other => panic!("expected confirm_subscription, got {other:?}"),
        }
        if first {
            match ws.frame().await {
                WsEvent::Frame(ServerFrame::ConversationCreated(c)) => assert_eq!(c.id, session.session_id),
                other => panic!("expected conversation.created for a first subscriber, got {other:?}"),
            }
        }
        ws
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What a test socket saw next.
#[derive(Debug)]
pub enum WsEvent {
    Frame(ServerFrame),
    Closed(Option<u16>),
}

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    pub async fn send(&mut self, frame: Value) {
        self.stream.send(WsMessage::Text(frame.to_string().into())).await.expect("ws send");
    }

    /// The next frame or close, failing the test after `PATIENCE`.
    pub async fn frame(&mut self) -> WsEvent {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("a frame arrives in time");
            match next {
                Some(Ok(WsMessage::Text(text))) => {
                    return WsEvent::Frame(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
                }
                Some(Ok(WsMessage::Close(frame))) => return WsEvent::Closed(frame.map(|f| f.code.into())),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return WsEvent::Closed(None),
            }
        }
    }

    /// The next frame that is not a keepalive.
    pub async fn event(&mut self) -> WsEvent {
        loop {
            match self.frame().await {
                WsEvent::Frame(ServerFrame::PresenceUpdate(_)) => {}
                other => return other,
            }
        }
    }

    /// The next `message.created`, skipping keepalives and other events.
    pub async fn created(&mut self) -> ChatMessage {
        loop {
            match self.event().await {
                WsEvent::Frame(ServerFrame::MessageCreated(m)) => return m.message,
                WsEvent::Closed(code) => panic!("socket closed ({code:?}) while waiting for a message"),
                WsEvent::Frame(_) => {}
            }
        }
    }

    /// Waits for the close frame, answering nothing.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let WsEvent::Closed(code) = self.frame().await {
                return code;
            }
        }
    }
}

/// Runs each listed test function once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Db::Postgres).await
                }
            )*
        }
    };
}

/// A socket speaking JSON text frames of any shape (operator and room streams).
pub struct JsonSocket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl JsonSocket {
    pub async fn connect(app: &TestApp, path: &str) -> Self {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{}{path}", app.addr)).await.expect("connects");
        Self { stream }
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream.send(WsMessage::Text(frame.to_string().into())).await.expect("ws send");
    }

    /// The next text frame as JSON, failing the test if the socket closes first.
    pub async fn json(&mut self) -> Value {
        loop {
            match tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("a frame arrives in time") {
                Some(Ok(WsMessage::Text(text))) => return serde_json::from_str(&text).expect("json frame"),
                Some(Ok(WsMessage::Close(frame))) => panic!("closed ({frame:?}) while waiting for a frame"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("socket error {e}"),
                None => panic!("socket ended while waiting for a frame"),
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("the close arrives in time") {
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}
