//! The public chat API over `fetch` (gloo-net): sessions, messages, polling
//! and the widget config, with the `{success, data | error}` envelope read
//! into typed results.

use gloo_net::http::{Request, RequestBuilder};
use natter_protocol::{ChatMessage, CreateSessionRequest, MessagesData, SendMessageRequest, SessionData, WidgetConfig};
use wasm_bindgen::JsValue;

use super::json;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No answer: offline, DNS, refused connection, CORS.
    Network(String),
    /// The server answered with its error envelope.
    Refused { status: u16, code: String, message: String },
    /// The answer was not the expected JSON.
    Decode(String),
}

impl ApiError {
    /// A request that will fail the same way if repeated (bad input, unknown session).
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused { status, .. } if (400..500).contains(status) && !matches!(status, 408 | 429))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Network(m) | Self::Decode(m) => m.clone(),
            Self::Refused { code, message, .. } => format!("{code}: {message}"),
        }
    }
}

/// Where the server is and which website this is.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    website_token: String,
}

/// A session the widget can act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub id: String,
    pub token: String,
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

    fn with_key(&self, req: RequestBuilder) -> RequestBuilder {
        req.header("X-API-Key", &self.website_token)
    }

    fn with_session(&self, req: RequestBuilder, live: &Live) -> RequestBuilder {
        self.with_key(req).header("X-Session-Token", &live.token)
    }

    /// Creates, resumes or updates the session of `req.user_session_id`.
    pub async fn session(&self, req: &CreateSessionRequest) -> Result<SessionData, ApiError> {
        let builder = self.with_key(Request::post(&self.url("/sessions")));
        call(with_json(builder, json::session_request(req))?, json::session_data).await
    }

    /// Sends one visitor message; a repeated `echoId` returns the stored copy.
    pub async fn send(&self, live: &Live, req: &SendMessageRequest) -> Result<ChatMessage, ApiError> {
        let path = format!("/sessions/{}/messages", live.id);
        let builder = self.with_session(Request::post(&self.url(&path)), live);
        call(with_json(builder, json::send_request(req))?, json::message_data).await
    }

    /// Messages with a higher seq than `after`, oldest first.
    pub async fn after(&self, live: &Live, after: i64) -> Result<MessagesData, ApiError> {
        let path = format!("/sessions/{}/messages", live.id);
        let after = after.to_string();
        let builder = self.with_session(Request::get(&self.url(&path)), live).query([("after", after.as_str())]);
        call(builder.build().map_err(|e| ApiError::Decode(e.to_string()))?, json::messages_data).await
    }

    /// The website's widget settings.
    pub async fn config(&self) -> Result<WidgetConfig, ApiError> {
        let builder = self.with_key(Request::get(&self.url("/config")));
        call(builder.build().map_err(|e| ApiError::Decode(e.to_string()))?, json::widget_config).await
    }
}

/// A request with a JSON body.
fn with_json(builder: RequestBuilder, body: String) -> Result<Request, ApiError> {
    builder
        .header("Content-Type", "application/json")
        .body(JsValue::from(body))
        .map_err(|e| ApiError::Decode(e.to_string()))
}

async fn call<T>(req: Request, read: fn(&JsValue) -> Option<T>) -> Result<T, ApiError> {
    let res = req.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    let status = res.status();
    let text = res.text().await;
    let envelope = text.ok().and_then(|t| json::parse(&t)).and_then(|v| json::envelope(&v, read));
    let message = "the answer was not the expected JSON";
    match envelope {
        Some(envelope) => envelope.map_err(|e| ApiError::Refused { status, code: e.code, message: e.message }),
        None if status >= 500 => {
            Err(ApiError::Refused { status, code: "server_error".into(), message: message.into() })
        }
        None => Err(ApiError::Decode(message.into())),
    }
}
