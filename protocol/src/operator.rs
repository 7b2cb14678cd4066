//! Operator API (`/api/v1`) in the shapes of the OmniSupport reference:
//! JWT login, `{data, meta}` lists and `{detail, code}` errors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// With two-factor sign-in on: the authenticator's code, or a backup code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Token pair returned by login and refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

/// `{detail, code}` error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorError {
    pub detail: String,
    pub code: String,
}

/// Pagination block of list responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListMeta {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// `{data, meta}` list envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ListMeta>,
}

/// `{data}` single-item envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Item<T> {
    pub data: T,
}

/// The visitor behind a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerRef {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// Preview of a conversation's newest message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastMessage {
    pub content: String,
    pub created_at: String,
}

/// A conversation as operators see it. `status` is `open`, `closed` or `pending`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: String,
    pub customer: CustomerRef,
    pub channel: String,
    pub status: String,
    pub last_message: Option<LastMessage>,
    pub assigned_to: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub website_id: Option<String>,
    /// A person should answer: the AI handed the conversation over, or it is off here.
    #[serde(default)]
    pub needs_human: bool,
    /// Whether the AI may still answer in it (auto-respond on, not handed over, not switched off).
    #[serde(default)]
    pub ai_enabled: bool,
    /// What was attached when the conversation was started (single conversation reads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The visitor's rating after it was closed (single conversation reads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<ConversationRating>,
}

/// How the visitor rated a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationRating {
    /// 1 (bad) to 5 (very good).
    pub score: i64,
    pub comment: Option<String>,
    pub rated_at: String,
}

/// A message as operators see it. `sender_type` is `customer`, `agent`, `bot` or `system`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorMessage {
    pub id: String,
    pub conversation_id: String,
    pub sender_type: String,
    pub sender_id: Option<String>,
    pub content: String,
    #[serde(default)]
    pub attachments: Vec<crate::ws::Attachment>,
    #[serde(default)]
    pub metadata: Value,
    pub created_at: String,
}

/// `POST /api/v1/conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendOperatorMessage {
    #[serde(default)]
    pub content: String,
    /// Files uploaded to the conversation before
    /// (`POST /conversations/{id}/attachments`) to send with the message:
    /// their ids, or the attachment objects that upload answered.
    #[serde(default)]
    pub attachments: Vec<Value>,
}
