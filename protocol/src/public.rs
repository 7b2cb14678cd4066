//! The public widget API (`/api/public/chat/...`): sessions, messages, the
//! `{success, data}` envelope and its error form.

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    User,
    Manager,
    Bot,
    System,
}

impl Sender {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Manager => "manager",
            Self::Bot => "bot",
            Self::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "manager" => Some(Self::Manager),
            "bot" => Some(Self::Bot),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// Lifecycle of a chat session (a conversation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    #[default]
    Active,
    Closed,
    Archived,
}

impl SessionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Closed => "closed",
            Self::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "closed" => Some(Self::Closed),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }
}

/// Delivery state of a message, as shown by the widget's ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    #[default]
    Sent,
    Delivered,
    Read,
}

impl MessageStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// A chat session as the public API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatSession {
    pub id: String,
    pub user_name: Option<String>,
    pub user_phone: Option<String>,
    #[serde(default)]
    pub user_email: Option<String>,
    pub status: SessionStatus,
    #[serde(default)]
    pub manager_id: Option<String>,
    #[serde(default)]
    pub user_session_id: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A stored message. `seq` is monotonic within its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub id: String,
    #[serde(default)]
    pub seq: i64,
    pub sender: Sender,
    pub message_text: String,
    #[serde(default)]
    pub manager_id: Option<String>,
    #[serde(default)]
    pub echo_id: Option<String>,
    #[serde(default)]
    pub status: MessageStatus,
    pub created_at: String,
    /// Files sent with the message (a message may be files only).
    #[serde(default)]
    pub attachments: Vec<ChatAttachment>,
}

/// What kind of file an attachment is, from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Image,
    Audio,
    Video,
    File,
}

impl FileType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::File => "file",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(Self::Image),
            "audio" => Some(Self::Audio),
            "video" => Some(Self::Video),
            "file" => Some(Self::File),
            _ => None,
        }
    }
}

/// A file of a message in the native API. `dataUrl` and `thumbUrl` are
/// signed links, valid for days, that need no session token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatAttachment {
    pub id: String,
    pub message_id: Option<String>,
    pub account_id: String,
    pub file_type: FileType,
    pub extension: String,
    pub file_name: String,
    /// Bytes.
    pub file_size: i64,
    pub data_url: String,
    /// A small preview of an image; `None` for other files.
    pub thumb_url: Option<String>,
    /// What to show when the file cannot be: its name.
    pub fallback_title: String,
}

/// `POST /api/public/chat/sessions`: create, resume or update a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    /// Idempotency key for `firstMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_id: Option<String>,
    /// The site's own id of its signed-in user, with `userHash`, the hex
    /// HMAC-SHA256 of it under the website's identity secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_hash: Option<String>,
}

/// `data` of the session response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionData {
    pub session_id: String,
    pub session: ChatSession,
    /// The newest messages (at most 100), oldest first.
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// Older messages exist: page back with `GET …/messages?before=<oldest id>`.
    #[serde(default)]
    pub has_more: bool,
    /// Session token: send it as `X-Session-Token` and as the `/ws` `pubsub_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `POST /api/public/chat/sessions/:id/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_id: Option<String>,
}

/// `data` of the send response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageData {
    pub message: ChatMessage,
}

/// `POST /api/public/chat/sessions/:id/rating`: the visitor rates the
/// conversation after it was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateRequest {
    /// 1 (bad) to 5 (very good).
    pub score: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A conversation's rating as the visitor gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    pub score: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `data` of the rating response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatingData {
    pub rating: Rating,
}

/// `data` of the list response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessagesData {
    pub messages: Vec<ChatMessage>,
    /// More messages lie beyond this page in the direction asked for.
    #[serde(default)]
    pub has_more: bool,
}

/// Query of `GET /api/public/chat/sessions/:id/messages`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct MessagesQuery {
    /// ISO timestamp, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Message id or seq, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Message id or seq, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `POST /api/public/chat/notify` (legacy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NotifyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_session_id: Option<String>,
}

/// `data` of the notify response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NotifyData {
    pub session_id: String,
    pub message: ChatMessage,
}

/// Opening hours in the website's fixed UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BusinessHours {
    /// Minutes east of UTC, e.g. 120 for UTC+2.
    pub utc_offset_minutes: i32,
    /// ISO weekdays that are open, 1 = Monday … 7 = Sunday.
    pub days: Vec<u8>,
    /// "HH:MM", inclusive.
    pub open: String,
    /// "HH:MM", exclusive.
    pub close: String,
}

/// `data` of `GET /api/public/chat/config`: what the widget needs to draw itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WidgetConfig {
    pub name: String,
    pub title: String,
    pub color: String,
    pub greeting: String,
    pub locale: String,
    pub position: String,
    pub contact_form: String,
    pub away_message: String,
    #[serde(default)]
    pub business_hours: Option<BusinessHours>,
    /// Whether the website is inside business hours right now.
    pub online: bool,
    pub max_message_length: usize,
    pub legacy_mode: bool,
    /// The largest file a visitor may send, in bytes.
    #[serde(default)]
    pub max_file_bytes: Option<u64>,
}

/// Error part of the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// `{ "success": true, "data": … }` or `{ "success": false, "error": … }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Envelope<T> {
    pub success: bool,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self { success: true, data: Some(data), error: None }
    }

    pub fn err(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { success: false, data: None, error: Some(ErrorBody { code: code.into(), message: message.into() }) }
    }

    /// The data on success, the error body otherwise.
    pub fn into_result(self) -> Result<T, ErrorBody> {
        match (self.success, self.data, self.error) {
            (true, Some(data), _) => Ok(data),
            (_, _, Some(err)) => Err(err),
            _ => Err(ErrorBody {
                code: "bad_envelope".into(),
                message: "response carried neither data nor error".into(),
            }),
        }
    }
}
