//! The public chat API over `fetch`: sessions, messages, polling
//! and the widget config, with the `{success, data | error}` envelope read
//! into typed results.

use natter_protocol::{ChatMessage, CreateSessionRequest, MessagesData, SendMessageRequest, SessionData};
use wasm_bindgen::JsValue;

use super::{json, net};

pub use crate::engine::{ApiError, Live};

/// Where the server is and which website this is.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    website_token: String,
}

impl Api {
    pub fn new(base: impl Into<String>, website_token: impl Into<String>) -> Self {
        Self { base: base.into(), website_token: website_token.into() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/public/chat{path}", self.base)
    }

    /// `ws://` or `wss://` address of `/ws` on the same server.
    pub fn socket_url(&self) -> String {
        let rest = self.base.strip_prefix("https://").map(|r| format!("wss://{r}"));
        let url = rest.or_else(|| self.base.strip_prefix("http://").map(|r| format!("ws://{r}")));
        format!("{}/ws", url.unwrap_or_else(|| self.base.clone()))
    }

    /// Calls `path` with the website key and, when given, the session token,
    /// and reads the `data` of the answer's envelope with `read`.
    async fn call<T>(
        &self,
        method: &str,
        path: &str,
        live: Option<&Live>,
        body: Option<String>,
        read: fn(&JsValue) -> Option<T>,
    ) -> Result<T, ApiError> {
        let message = "the answer was not the expected JSON";
        self.call_json(method, path, live, body)
            .await
            .and_then(|data| read(&data).ok_or_else(|| ApiError::Decode(message.into())))
    }

    /// The untyped part of [`Api::call`], compiled once: the request, and the
    /// `data` of a successful envelope as a JS value.
    async fn call_json(
        &self,
        method: &str,
        path: &str,
        live: Option<&Live>,
        body: Option<String>,
    ) -> Result<JsValue, ApiError> {
        let mut headers = vec![("X-API-Key", self.website_token.as_str())];
        if let Some(live) = live {
            headers.push(("X-Session-Token", live.token.as_str()));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        envelope(net::fetch(method, &self.url(path), &headers, body.as_deref()).await)
    }

    /// Creates, resumes or updates the session of `req.user_session_id`;
    /// resuming needs the session's token, `held`.
    pub async fn session(&self, req: &CreateSessionRequest, held: Option<&Live>) -> Result<SessionData, ApiError> {
        self.call("POST", "/sessions", held, Some(json::session_request(req)), json::session_data).await
    }

    /// Rates the closed conversation (1–5, with an optional comment).
    pub async fn rate(&self, live: &Live, score: u8, comment: &str) -> Result<(), ApiError> {
        let path = format!("/sessions/{}/rating", live.id);
        self.call("POST", &path, Some(live), Some(json::rate_request(score, comment)), |_| Some(())).await
    }

    /// Sends one visitor message; a repeated `echoId` returns the stored copy.
    pub async fn send(&self, live: &Live, req: &SendMessageRequest) -> Result<ChatMessage, ApiError> {
        let path = format!("/sessions/{}/messages", live.id);
        self.call("POST", &path, Some(live), Some(json::send_request(req)), json::message_data).await
    }

    /// Messages with a higher seq than `after`, oldest first.
    pub async fn after(&self, live: &Live, after: i64) -> Result<MessagesData, ApiError> {
        let path = format!("/sessions/{}/messages?after={after}", live.id);
        self.call("GET", &path, Some(live), None, json::messages_data).await
    }

    /// The newest page of messages with a lower seq than `before`, oldest first.
    pub async fn before(&self, live: &Live, before: i64) -> Result<MessagesData, ApiError> {
        let path = format!("/sessions/{}/messages?before={before}&limit=100", live.id);
        self.call("GET", &path, Some(live), None, json::messages_data).await
    }

    /// Sends files (the JS array `files`) as one visitor message, reporting
    /// the share uploaded to `progress`.
    pub async fn upload(
        &self,
        live: &Live,
        echo_id: &str,
        files: &JsValue,
        progress: &wasm_bindgen::closure::Closure<dyn FnMut(f64)>,
    ) -> Result<ChatMessage, ApiError> {
        let url = self.url(&format!("/sessions/{}/messages", live.id));
        let answer = net::upload(&url, (&self.website_token, &live.token), echo_id, files, progress).await;
        let message = "the answer was not the expected JSON";
        envelope(answer).and_then(|data| json::message_data(&data).ok_or_else(|| ApiError::Decode(message.into())))
    }

    /// The website's widget settings.
    pub async fn config(&self) -> Result<json::Site, ApiError> {
        self.call("GET", "/config", None, None, json::widget_config).await
    }
}

/// The `data` of a successful envelope in an answer, or why there is none.
fn envelope(answer: Result<(u16, Option<String>), String>) -> Result<JsValue, ApiError> {
    let (status, text) = answer.map_err(ApiError::Network)?;
    let envelope = text.and_then(|t| json::parse(&t)).and_then(|v| json::envelope(&v, |d| Some(d.clone())));
    let message = "the answer was not the expected JSON";
    match envelope {
        Some(envelope) => envelope.map_err(|e| ApiError::Refused { status, code: e.code, message: e.message }),
        None if status >= 500 => {
            Err(ApiError::Refused { status, code: "server_error".into(), message: message.into() })
        }
        None => Err(ApiError::Decode(message.into())),
    }
}
