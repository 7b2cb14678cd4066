//! `/ws` frames: `{ "event": …, "data": … }` in the shape of the Novatalks
//! widget WebSocket, plus Natter's `last_seq` resume and typing/seen frames.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::public::{ChatMessage, MessageStatus, Sender, SessionStatus};

/// Close code sent when `subscribe` carries a bad token.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// Close code sent when the client stops answering `presence.update`.
pub const CLOSE_PRESENCE_TIMEOUT: u16 = 4008;
/// Close code sent when the server shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code sent to a client that breaks a limit: too many frames for
/// too long, too many sockets, an origin the website does not allow.
pub const CLOSE_POLICY: u16 = 1008;

/// `data` of `subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeData {
    pub pubsub_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<i64>,
    /// Resume point: the server first replays every message with a higher `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}

/// `data` of `seen`: everything up to and including this message was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SeenData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
}

/// A frame from the widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", content = "data")]
pub enum ClientFrame {
    #[serde(rename = "subscribe")]
    Subscribe(SubscribeData),
    #[serde(rename = "update_presence")]
    UpdatePresence,
    #[serde(rename = "typing_on")]
    TypingOn,
    #[serde(rename = "typing_off")]
    TypingOff,
    #[serde(rename = "seen")]
    Seen(SeenData),
}

/// Why a client frame could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FrameError {}

#[derive(Deserialize)]
struct RawFrame {
    event: String,
    #[serde(default)]
    data: Value,
}

impl ClientFrame {
    /// Parses a text frame. `data` may be absent or `{}` for frames that carry nothing.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let raw: RawFrame = serde_json::from_str(text).map_err(|e| FrameError(format!("not a frame: {e}")))?;
        let data = |v: Value| if v.is_null() { Value::Object(Default::default()) } else { v };
        match raw.event.as_str() {
            "subscribe" => serde_json::from_value(raw.data)
                .map(Self::Subscribe)
                .map_err(|e| FrameError(format!("bad subscribe data: {e}"))),
            "update_presence" => Ok(Self::UpdatePresence),
            "typing_on" => Ok(Self::TypingOn),
            "typing_off" => Ok(Self::TypingOff),
            "seen" => serde_json::from_value(data(raw.data))
                .map(Self::Seen)
                .map_err(|e| FrameError(format!("bad seen data: {e}"))),
            other => Err(FrameError(format!("unknown event `{other}`"))),
        }
    }
}

/// Who sent a message, in the Novatalks event shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventSender {
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `data` of `message.created` and `message.updated`: the Novatalks fields,
/// plus `seq`, `sender_type` and the native `message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageEvent {
    pub account_id: i64,
    pub id: String,
    pub content: Option<String>,
    /// `incoming` (from the visitor), `outgoing` (manager, bot) or `activity` (system).
    pub message_type: String,
    pub content_type: String,
    pub private: bool,
    #[serde(default)]
    pub content_attributes: Value,
    #[serde(default)]
    pub source_id: Option<String>,
    #[serde(default)]
    pub external_source_ids: Value,
    pub inbox_id: String,
    pub sender_id: Option<String>,
    pub status: MessageStatus,
    pub pinned: bool,
    pub conversation_id: String,
    pub echo_id: Option<String>,
    pub dialog_id: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub sender: EventSender,
    /// Unix seconds.
    pub created_at: i64,
    pub seq: i64,
    pub sender_type: Sender,
    pub message: ChatMessage,
}

impl MessageEvent {
    pub fn message_type_for(sender: Sender) -> &'static str {
        match sender {
            Sender::User => "incoming",
            Sender::Manager | Sender::Bot => "outgoing",
            Sender::System => "activity",
        }
    }
}

/// `data` of `conversation.created` and `conversation.status_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationEvent {
    pub account_id: i64,
    pub id: String,
    pub inbox_id: String,
    pub status: SessionStatus,
    pub assignee_id: Option<String>,
    pub channel: String,
    pub can_reply: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub timestamp: i64,
}

/// `data` of `conversation.typing_on` / `conversation.typing_off`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypingEvent {
    pub conversation_id: String,
    pub is_private: bool,
    pub user: TypingUser,
}

/// Who is typing: `type` is `agent` or `contact`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypingUser {
    pub id: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `data` of `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub code: String,
    pub message: String,
}

/// Empty `data` object, as in `presence.update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Empty {}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data")]
pub enum ServerFrame {
    #[serde(rename = "confirm_subscription")]
    ConfirmSubscription(String),
    #[serde(rename = "presence.update")]
    PresenceUpdate(Empty),
    #[serde(rename = "message.created")]
    MessageCreated(Box<MessageEvent>),
    #[serde(rename = "message.updated")]
    MessageUpdated(Box<MessageEvent>),
    #[serde(rename = "conversation.created")]
    ConversationCreated(ConversationEvent),
    #[serde(rename = "conversation.status_changed")]
    ConversationStatusChanged(ConversationEvent),
    #[serde(rename = "conversation.typing_on")]
    TypingOn(TypingEvent),
    #[serde(rename = "conversation.typing_off")]
    TypingOff(TypingEvent),
    #[serde(rename = "error")]
    Error(ErrorEvent),
}

impl ServerFrame {
    /// The frame as JSON text. Serialising these types cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"event\":\"error\",\"data\":{}}"))
    }
}

/// A file of a message, in the Novatalks (Chatwoot) shape of message events;
/// the operator API uses the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    pub id: String,
    pub message_id: Option<String>,
    pub account_id: String,
    pub file_type: crate::public::FileType,
    pub extension: String,
    pub file_name: String,
    pub file_size: i64,
    pub data_url: String,
    pub thumb_url: Option<String>,
    pub fallback_title: String,
}

impl From<crate::public::ChatAttachment> for Attachment {
    fn from(a: crate::public::ChatAttachment) -> Self {
        Self {
            id: a.id,
            message_id: a.message_id,
            account_id: a.account_id,
            file_type: a.file_type,
            extension: a.extension,
            file_name: a.file_name,
            file_size: a.file_size,
            data_url: a.data_url,
            thumb_url: a.thumb_url,
            fallback_title: a.fallback_title,
        }
    }
}
