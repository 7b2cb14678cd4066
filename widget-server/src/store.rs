//! Storage behind the `Store` trait: the records it deals in and the one SQL
//! implementation, which runs on SQLite and PostgreSQL alike.

mod sql;

use async_trait::async_trait;
use natter_protocol::{MessageStatus, Sender, SessionStatus};
use serde::{Deserialize, Serialize};

pub use sql::{Durability, SqlStore};

/// Storage failures. Callers answer them with a generic 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Widget settings a site owner controls; stored as JSON on the website.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebsiteSettings {
    pub title: Option<String>,
    pub color: String,
    pub greeting: String,
    pub locale: String,
    pub position: String,
    /// `off`, `after-first-message` or `before-chat`.
    pub contact_form: String,
    pub contact_request: String,
    pub connecting_message: String,
    pub away_message: String,
    pub business_hours: Option<natter_protocol::BusinessHours>,
    /// Say the away message, and show the widget offline, while no operator is available.
    pub away_when_no_operator: bool,
    /// Assign each new conversation, at its first visitor message, to the
    /// available operator with the fewest open conversations.
    pub auto_assign: bool,
    /// Only visitors with a verified identity (`userId` with its `userHash`) may chat.
    pub identity_required: bool,
    /// What visitors and operators may attach.
    pub attachments: crate::files::Rules,
}

impl Default for WebsiteSettings {
    fn default() -> Self {
        Self {
            title: None,
            color: "#2563eb".into(),
            greeting: "Hi there! How can we help you today?".into(),
            locale: "en".into(),
            position: "right".into(),
            contact_form: "after-first-message".into(),
            contact_request: "Thank you for your message! To continue, please leave your name and phone number.".into(),
            connecting_message: "Thank you for your contact details! A manager is joining the chat…".into(),
            away_message: "We are away right now. Leave your message and we will answer as soon as we are back.".into(),
            business_hours: None,
            away_when_no_operator: false,
            auto_assign: false,
            identity_required: false,
            attachments: crate::files::Rules::default(),
        }
    }
}

/// An account (a company, a tenant): it owns websites, operators and
/// webhooks, and nothing of one account is visible to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
}

/// What an account uses, for its plan's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountUsage {
    pub messages: i64,
    pub storage_bytes: i64,
    pub operators: i64,
}

/// What kind of channel a website row is, and so where its conversations happen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// The chat widget on a website.
    #[default]
    Widget,
    /// A Telegram bot.
    Telegram,
    /// A WhatsApp Business number (Cloud API).
    Whatsapp,
}

impl ChannelKind {
    pub const ALL: [Self; 3] = [Self::Widget, Self::Telegram, Self::Whatsapp];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Widget => "widget",
            Self::Telegram => "telegram",
            Self::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A website (inbox): a channel of its account. The `widget` kind is the chat
/// widget; other kinds are messaging platforms, with their settings in
/// `config` and their credentials in `secrets` (sealed at rest).
#[derive(Debug, Clone, PartialEq)]
pub struct Website {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub token: String,
    pub api_secret: String,
    /// Allowed browser origins; empty means any.
    pub origins: Vec<String>,
    pub settings: WebsiteSettings,
    pub legacy_mode: bool,
    pub created_ms: i64,
    pub kind: ChannelKind,
    /// The platform settings of a messaging channel (a JSON object; `{}` for a widget).
    pub config: serde_json::Value,
    /// The platform credentials of a messaging channel (a JSON object of strings).
    pub secrets: serde_json::Value,
}

impl Website {
    /// Whether a browser on `origin` may call the API for this website.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.is_empty() || self.origins.iter().any(|o| o == "*" || o.trim_end_matches('/') == origin)
    }
}

/// Bot replies already given in a session (bit flags).
pub mod bot_flags {
    pub const GREETED: i64 = 1;
    pub const CONTACT_ASKED: i64 = 2;
    pub const CONNECTING_SENT: i64 = 4;
    /// The AI answers no more in this conversation (an operator replied, it handed over, or it was switched off).
    pub const AI_OFF: i64 = 8;
    /// The AI handed the conversation over: it needs a person.
    pub const NEEDS_HUMAN: i64 = 16;
    /// A widget socket of the conversation was sent its `conversation.created`.
    pub const WIDGET_ANNOUNCED: i64 = 32;
}

/// A chat session (conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub website_id: String,
    /// The website's account, kept on the session so operator queries scope by one column.
    pub account_id: String,
    /// The person behind the session.
    pub customer_id: String,
    /// Where the conversation happens (the website's kind).
    pub channel: ChannelKind,
    pub user_session_id: String,
    pub token: String,
    pub user_name: Option<String>,
    pub user_phone: Option<String>,
    pub user_email: Option<String>,
    pub status: SessionStatus,
    pub manager_id: Option<String>,
    pub last_seq: i64,
    pub bot_state: i64,
    pub away_sent_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A customer (contact): the person behind one or more sessions of an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: String,
    pub account_id: String,
    /// The verified identity that joins sessions (the operator `identify` API's `user_id`).
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// JSON object given through `identify`.
    pub metadata: serde_json::Value,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What `identify` records about a session's person.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity<'a> {
    pub external_id: &'a str,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub metadata: Option<&'a serde_json::Value>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub seq: i64,
    pub sender: Sender,
    pub body: String,
    pub manager_id: Option<String>,
    pub echo_id: Option<String>,
    pub status: MessageStatus,
    pub created_ms: i64,
    /// Its files, in the order they were sent.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A file uploaded to a session: sent with `message_id`, or waiting for a
/// message to claim it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub message_id: Option<String>,
    pub session_id: String,
    pub account_id: String,
    /// The blob of the bytes (their SHA-256).
    pub blob: String,
    /// The blob of the thumbnail, for images.
    pub thumb: Option<String>,
    pub thumb_mime: Option<String>,
    pub file_type: natter_protocol::FileType,
    /// The sniffed type it is served with.
    pub mime: String,
    pub extension: String,
    pub file_name: String,
    pub file_size: i64,
    pub created_ms: i64,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub session_id: &'a str,
    pub sender: Sender,
    pub body: &'a str,
    pub manager_id: Option<&'a str>,
    pub echo_id: Option<&'a str>,
    /// Uploads of the session the message claims (their ids).
    pub attachments: &'a [String],
}

/// Where a page of messages starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages.
    Latest,
    /// Messages with a higher seq, oldest first.
    AfterSeq(i64),
    /// Messages created strictly after this instant, oldest first.
    AfterTime(i64),
    /// Messages with a lower seq, the newest of them.
    BeforeSeq(i64),
    /// Messages created strictly before this instant, the newest of them.
    BeforeTime(i64),
}

/// A page of messages in ascending seq order.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

/// An operator account.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub created_ms: i64,
    /// Access tokens carry this; raising it revokes them all.
    pub token_version: i64,
    /// The departments the operator works in (`support`, `sales`, …).
    pub departments: Vec<String>,
    /// What the operator chose: `online` or `away`.
    pub availability: String,
}

/// A key for scripts and SDKs (its secret is kept only as a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    /// The operator who made it; the key acts on their behalf.
    pub operator_id: String,
    pub name: String,
    /// `admin` or `agent`.
    pub role: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
}

/// An operator's second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactor {
    /// The TOTP secret, base32 (opened from its sealed form).
    pub secret: String,
    /// Confirmed with a code: sign-in needs one.
    pub active: bool,
    /// The last time step a code was accepted for.
    pub last_step: i64,
}

/// A session with what the operator inbox shows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub session: Session,
    pub last_body: Option<String>,
    pub last_ms: Option<i64>,
}

/// Filters of the operator conversation list.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub account_id: String,
    pub statuses: Vec<SessionStatus>,
    pub assigned_to: Option<String>,
    /// Only assigned (`Some(true)`) or only unassigned (`Some(false)`) conversations.
    pub assigned: Option<bool>,
    pub channel: Option<ChannelKind>,
    /// Only conversations that need a person: handed over by the AI, or where it is off.
    pub needs_human: bool,
    pub offset: i64,
    pub limit: i64,
}

/// Counts and averages for the analytics endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub conversations: i64,
    pub open: i64,
    pub closed: i64,
    /// Mean time from a conversation's first visitor message to the first operator reply.
    pub avg_response_ms: Option<f64>,
    /// Mean time from creation to closing, over conversations closed in the period.
    pub avg_resolution_ms: Option<f64>,
    /// Messages per sender.
    pub messages: Vec<(String, i64)>,
    /// Mean score of the ratings given in the period, and how many there were.
    pub satisfaction: Option<f64>,
    pub ratings: i64,
}

/// A visitor's rating of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Rating {
    pub session_id: String,
    /// 1 (bad) to 5 (very good).
    pub score: i64,
    pub comment: Option<String>,
    pub created_ms: i64,
    /// When it was last given: rating again replaces score and comment.
    pub updated_ms: i64,
}

/// One bucket of an analytics series (buckets with nothing are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesBucket {
    pub bucket: i64,
    pub conversations: i64,
    pub closed: i64,
    pub from_customers: i64,
    pub from_agents: i64,
    pub from_bot: i64,
    /// Bot messages written by an AI provider.
    pub from_ai: i64,
}

/// A conversation as analytics exports it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExportRow {
    pub id: String,
    pub channel: String,
    pub status: String,
    pub manager_id: Option<String>,
    pub user_name: Option<String>,
    pub user_email: Option<String>,
    pub user_phone: Option<String>,
    pub created_ms: i64,
    pub closed_ms: Option<i64>,
    pub messages: i64,
    pub from_customer: i64,
    pub from_agents: i64,
    pub first_customer_ms: Option<i64>,
    pub first_agent_ms: Option<i64>,
}

/// How one participant of a room feels about another (`sympathy` in −1…1).
#[derive(Debug, Clone, PartialEq)]
pub struct RoomEdge {
    pub from: String,
    pub to: String,
    pub sympathy: f64,
    pub updated_ms: i64,
}

/// Something that happened in a room, for its feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEvent {
    pub id: String,
    pub room_id: String,
    pub event_type: String,
    pub agent_ids: Vec<String>,
    pub description: String,
    pub created_ms: i64,
}

/// A document of an account's knowledge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeDocument {
    pub id: String,
    pub account_id: String,
    pub title: String,
    pub category: Option<String>,
    pub file_name: String,
    /// `txt`, `md`, `html`, `pdf` or `docx`.
    pub format: String,
    pub size_bytes: i64,
    pub passages: i64,
    pub created_ms: i64,
}

/// A passage full-text search found, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeHit {
    pub document_id: String,
    pub title: String,
    pub content: String,
}

/// An account's AI settings as stored (the API key opened).
#[derive(Debug, Clone, PartialEq)]
pub struct AiSettingsRecord {
    pub account_id: String,
    pub provider: String,
    pub model: String,
    pub temperature: f64,
    pub system_prompt: String,
    pub auto_respond: bool,
    pub confidence_threshold: f64,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub updated_ms: i64,
}

/// A message written by an AI provider.
#[derive(Debug, Clone, PartialEq)]
pub struct AiReply {
    pub message_id: String,
    pub session_id: String,
    pub account_id: String,
    pub provider: String,
    pub confidence: f64,
    /// `[{document_id, title, relevance}]` as JSON.
    pub sources: String,
    pub created_ms: i64,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub created_ms: i64,
}

/// One attempt to deliver an event to a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub success: bool,
    pub error: Option<String>,
    pub created_ms: i64,
}

/// A record that belongs to one account.
pub trait Owned {
    fn account_id(&self) -> &str;
}

macro_rules! owned {
    ($($t:ty),*) => {$(
        impl Owned for $t {
            fn account_id(&self) -> &str {
                &self.account_id
            }
        }
    )*};
}
owned!(Session, Customer, Webhook, Operator, Website);

/// A webhook event waiting in the outbox for one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub body: String,
    /// Attempts made so far.
    pub attempt: i64,
    /// When it is next due.
    pub next_ms: i64,
}

/// A reply on its way to a messaging channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSend {
    pub message_id: String,
    pub session_id: String,
    /// The message's place in its conversation: sends go out in this order.
    pub seq: i64,
    pub channel_id: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    /// Attempts made so far.
    pub attempt: i64,
    /// When it is next due (while pending).
    pub next_ms: i64,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// The platform's id of the sent message.
    pub external_id: Option<String>,
    pub created_ms: i64,
}

/// The database itself: health, kind, and a small key-value table for server secrets.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Which database this is, for logs and metrics.
    fn kind(&self) -> &'static str;
    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets `key` unless it exists; returns the stored value.
    async fn kv_set_once(&self, key: &str, value: &str) -> StoreResult<String>;
}

/// Accounts and their websites.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn create_account(&self, account: &Account) -> StoreResult<()>;
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    async fn account_by_id(&self, id: &str) -> StoreResult<Option<Account>>;
    async fn create_website(&self, website: &Website) -> StoreResult<()>;
    async fn website_by_token(&self, token: &str) -> StoreResult<Option<Website>>;
    async fn website_by_id(&self, id: &str) -> StoreResult<Option<Website>>;
    /// Every website, or those of one account.
    async fn list_websites(&self, account_id: Option<&str>) -> StoreResult<Vec<Website>>;
    /// Saves a website's name, origins, settings and legacy mode.
    async fn update_website(&self, website: &Website) -> StoreResult<()>;
    /// An account's plan and when it last changed; `None` when there is no such account.
    async fn account_plan(&self, account_id: &str) -> StoreResult<Option<(String, Option<i64>)>>;
    async fn set_account_plan(&self, account_id: &str, plan: &str, now_ms: i64) -> StoreResult<()>;
    /// What an account uses: messages (all but system notes) created since
    /// `since_ms`, bytes of message text kept, and operators.
    async fn account_usage(&self, account_id: &str, since_ms: i64) -> StoreResult<AccountUsage>;
    /// Days an account keeps conversations without activity; `None` keeps them.
    async fn retention_days(&self, account_id: &str) -> StoreResult<Option<i64>>;
    async fn set_retention_days(&self, account_id: &str, days: Option<i64>) -> StoreResult<()>;
    /// Up to `limit` conversations, of any account, quiet for longer than
    /// their account keeps them at `now_ms`.
    async fn expired_sessions(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<String>>;
    /// Deletes conversations with everything in them (messages, files'
    /// rows, outbox, AI and room records), and customers left with none.
    async fn delete_sessions(&self, ids: &[&str]) -> StoreResult<u64>;
}

/// Sessions (conversations): creation, lookup, contact details, status, the inbox and its statistics.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts the session, and a customer of its own (`customer_id`), unless a
    /// session with its `(website_id, user_session_id)` exists; returns the
    /// stored one and whether it was created.
    async fn create_or_get_session(&self, session: &Session) -> StoreResult<(Session, bool)>;
    async fn session_by_id(&self, id: &str) -> StoreResult<Option<Session>>;
    async fn session_by_user_session_id(&self, website_id: &str, user_session_id: &str)
        -> StoreResult<Option<Session>>;
    async fn session_by_token(&self, token: &str) -> StoreResult<Option<Session>>;
    /// Sets the given contact fields (others unchanged) and returns the session.
    async fn update_contact(
        &self,
        session_id: &str,
        name: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> StoreResult<Session>;
    /// Sets the status; `None` when there is no such session.
    async fn set_session_status(&self, session_id: &str, status: SessionStatus) -> StoreResult<Option<Session>>;
    /// Sets (or clears) the assigned operator; `None` when there is no such session.
    async fn assign_session(&self, session_id: &str, manager_id: Option<&str>) -> StoreResult<Option<Session>>;
    /// Adds `flags` to the session's bot state; returns the flags that were newly set.
    async fn set_bot_flags(&self, session_id: &str, flags: i64) -> StoreResult<i64>;
    /// Removes `flags` from the session's bot state.
    async fn clear_bot_flags(&self, session_id: &str, flags: i64) -> StoreResult<()>;
    async fn set_away_sent(&self, session_id: &str, at_ms: i64) -> StoreResult<()>;
    /// Records (or replaces) the visitor's rating of a session.
    async fn rate_session(
        &self,
        session: &Session,
        score: i64,
        comment: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Rating>;
    async fn session_rating(&self, session_id: &str) -> StoreResult<Option<Rating>>;
    /// Deletes up to `limit` sessions nobody wrote in (bot messages only, no
    /// contact details, no identified customer) and untouched since
    /// `idle_before_ms`, except those `keep` says to; returns their ids.
    async fn delete_empty_sessions(
        &self,
        idle_before_ms: i64,
        keep: &(dyn for<'k> Fn(&'k str) -> bool + Send + Sync),
        limit: i64,
    ) -> StoreResult<Vec<String>>;
    /// Sets the edge `from` → `to` of a room and records `event`, together.
    async fn set_room_edge(&self, room_id: &str, edge: &RoomEdge, event: &RoomEvent) -> StoreResult<()>;
    async fn room_edges(&self, room_id: &str) -> StoreResult<Vec<RoomEdge>>;
    /// The newest `limit` events of a room, oldest first.
    async fn room_events(&self, room_id: &str, limit: i64) -> StoreResult<Vec<RoomEvent>>;
    /// The operators who wrote in a session (or acted on it), in the order they first did.
    async fn session_operator_ids(&self, session_id: &str) -> StoreResult<Vec<String>>;
    /// A conversation's metadata (a JSON object; `{}` when none was attached).
    async fn session_metadata(&self, session_id: &str) -> StoreResult<serde_json::Value>;
    async fn set_session_metadata(&self, session_id: &str, metadata: &serde_json::Value) -> StoreResult<()>;
    async fn list_conversations(&self, filter: &ConversationFilter) -> StoreResult<(Vec<ConversationRow>, i64)>;
    /// Statistics of an account over `[from_ms, to_ms)`.
    async fn stats(&self, account_id: &str, from_ms: i64, to_ms: i64) -> StoreResult<Stats>;
    /// Counts over `[from_ms, to_ms)` in buckets `width_ms` wide counted
    /// from `origin_ms` (bucket `n` starts at `origin_ms + n * width_ms`).
    async fn stats_series(
        &self,
        account_id: &str,
        from_ms: i64,
        to_ms: i64,
        origin_ms: i64,
        width_ms: i64,
    ) -> StoreResult<Vec<SeriesBucket>>;
    /// Open (not closed) assigned conversations per operator of an account.
    async fn open_assignments(&self, account_id: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Conversations created in `[from_ms, to_ms)`, oldest first, at most `limit`, with their counts and times.
    async fn export_conversations(
        &self,
        account_id: &str,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ExportRow>>;
}

/// Messages: the group-committed insert, pages, read receipts.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Stores a message with the next seq and a `created_ms` strictly above the
    /// session's previous one. With an `echo_id` already stored, returns that
    /// message and `false`.
    async fn insert_message(&self, message: NewMessage<'_>) -> StoreResult<(Message, bool)>;
    /// A session's committed last seq when this store knows it without the
    /// database (only where it is the database's only writer). It trails a
    /// commit only until that commit's request is answered, so a poll after a
    /// seq at or above it has nothing acknowledged to miss.
    fn seq_hint(&self, session_id: &str) -> Option<i64>;
    async fn list_messages(&self, session_id: &str, cursor: Cursor, limit: i64) -> StoreResult<MessagePage>;
    async fn message_by_id(&self, session_id: &str, id: &str) -> StoreResult<Option<Message>>;
    /// Marks messages up to `seq` read, those to the visitor when `by_visitor`,
    /// else those from the visitor; returns those that changed.
    async fn mark_read(&self, session_id: &str, up_to_seq: i64, by_visitor: bool) -> StoreResult<Vec<Message>>;
    /// Marks messages still `sent` up to each mark's seq delivered, in one
    /// transaction; returns those that changed, in seq order per session.
    async fn mark_delivered(&self, marks: &[DeliveryMark]) -> StoreResult<Vec<Message>>;
}

/// Messages of a session that reached the other side, up to `up_to_seq`:
/// those to the visitor when `to_visitor`, else those from the visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryMark {
    pub session_id: String,
    pub up_to_seq: i64,
    pub to_visitor: bool,
}

/// Attachments: uploads, the files of messages, blob references.
#[async_trait]
pub trait AttachmentStore: Send + Sync + 'static {
    async fn add_attachment(&self, attachment: &Attachment) -> StoreResult<()>;
    async fn attachments_of(&self, message_ids: &[&str]) -> StoreResult<Vec<Attachment>>;
    async fn attachment_by_id(&self, id: &str) -> StoreResult<Option<Attachment>>;
    /// Whether any attachment names the blob (as its file or thumbnail).
    async fn blob_in_use(&self, blob: &str) -> StoreResult<bool>;
    /// Removes uploads no message claimed before `before_ms`; returns their blobs.
    async fn delete_unsent_attachments(&self, before_ms: i64) -> StoreResult<Vec<String>>;
    /// The blobs the sessions' attachments name.
    async fn blobs_of_sessions(&self, session_ids: &[&str]) -> StoreResult<Vec<String>>;
}

/// Customers: lookup, verified identity, erasure.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    async fn customer_by_id(&self, id: &str) -> StoreResult<Option<Customer>>;
    /// An account's customers, most recently active first, and how many there are.
    async fn list_customers(&self, account_id: &str, offset: i64, limit: i64) -> StoreResult<(Vec<Customer>, i64)>;
    /// The sessions of these customers, oldest first (one query for a page of them).
    async fn sessions_of_customers(&self, customer_ids: &[&str]) -> StoreResult<Vec<Session>>;
    /// Links a session to the customer of a verified identity in its account:
    /// the account's customer with that `external_id` when there is one (the
    /// session moves to it, and its former customer goes when it has no
    /// session left), else the session's own customer takes the identity.
    /// Returns the customer.
    async fn identify(&self, session: &Session, identity: &Identity<'_>) -> StoreResult<Customer>;
    /// Erases a customer with every session and message; `false` when there was none.
    async fn delete_customer(&self, id: &str) -> StoreResult<bool>;
}

/// What spending a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Unused and unexpired: now spent, for this operator.
    Spent(String),
    /// Spent before (at `used_ms`, unknown for tokens ended by logout).
    Reused { operator_id: String, used_ms: Option<i64> },
    /// Never issued, or expired.
    Unknown,
}

/// Operators and their refresh tokens.
#[async_trait]
pub trait OperatorStore: Send + Sync + 'static {
    async fn create_operator(&self, operator: &Operator) -> StoreResult<bool>;
    async fn operator_by_email(&self, email: &str) -> StoreResult<Option<Operator>>;
    async fn operator_by_id(&self, id: &str) -> StoreResult<Option<Operator>>;
    async fn count_operators(&self) -> StoreResult<i64>;
    async fn list_operators(&self, account_id: &str) -> StoreResult<Vec<Operator>>;
    async fn set_operator_role(&self, id: &str, role: &str) -> StoreResult<Option<Operator>>;
    async fn set_operator_departments(&self, id: &str, departments: &[String]) -> StoreResult<()>;
    async fn set_operator_availability(&self, id: &str, availability: &str) -> StoreResult<()>;
    /// Removes an operator with their tokens, keys, second factor and
    /// invitations; their conversations are unassigned. `false` when there was none.
    async fn delete_operator(&self, id: &str) -> StoreResult<bool>;
    async fn create_invitation(
        &self,
        token_hash: &str,
        operator_id: &str,
        expires_ms: i64,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Spends an unexpired invitation, setting its operator's password hash;
    /// returns the operator's id, or `None` for an unknown, spent or expired one.
    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<String>>;
    /// Invalidates every access and refresh token of the operator.
    async fn revoke_operator_tokens(&self, id: &str) -> StoreResult<()>;
    async fn store_refresh_token(&self, token_hash: &str, operator_id: &str, expires_ms: i64) -> StoreResult<()>;
    /// Spends an unused, unexpired refresh token, or says why it cannot be spent.
    async fn use_refresh_token(&self, token_hash: &str, now_ms: i64) -> StoreResult<RefreshUse>;
    async fn create_api_key(&self, key: &ApiKey, key_hash: &str) -> StoreResult<()>;
    /// The unrevoked key with this hash.
    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// An account's unrevoked keys, oldest first.
    async fn list_api_keys(&self, account_id: &str) -> StoreResult<Vec<ApiKey>>;
    /// Revokes a key of the account; `false` when it had none such.
    async fn revoke_api_key(&self, account_id: &str, id: &str, now_ms: i64) -> StoreResult<bool>;
    /// Notes a use, at most once a minute per key.
    async fn touch_api_key(&self, id: &str, now_ms: i64) -> StoreResult<()>;
    /// Starts (or restarts) setting up a second factor: inactive until confirmed.
    async fn begin_two_factor(
        &self,
        operator_id: &str,
        secret: &str,
        backup_hashes: &[String],
        now_ms: i64,
    ) -> StoreResult<()>;
    async fn two_factor(&self, operator_id: &str) -> StoreResult<Option<TwoFactor>>;
    /// Accepts a code's time step once: `false` if it (or a later one) was used.
    async fn spend_two_factor_step(&self, operator_id: &str, step: i64) -> StoreResult<bool>;
    async fn activate_two_factor(&self, operator_id: &str) -> StoreResult<()>;
    /// Spends an unused backup code: `false` if there is none such.
    async fn spend_backup_code(&self, operator_id: &str, code_hash: &str) -> StoreResult<bool>;
    async fn remove_two_factor(&self, operator_id: &str) -> StoreResult<()>;
}

/// Webhooks, their delivery log and the outbox of events to deliver.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn save_webhook(&self, webhook: &Webhook) -> StoreResult<()>;
    async fn webhook_by_id(&self, id: &str) -> StoreResult<Option<Webhook>>;
    async fn list_webhooks(&self, account_id: &str) -> StoreResult<Vec<Webhook>>;
    async fn delete_webhook(&self, id: &str) -> StoreResult<bool>;
    async fn record_delivery(&self, delivery: &Delivery) -> StoreResult<()>;
    /// The newest deliveries of a webhook first.
    async fn list_deliveries(&self, webhook_id: &str, limit: i64) -> StoreResult<Vec<Delivery>>;
    /// Deletes delivery log rows older than `before_ms`; returns how many.
    async fn prune_deliveries(&self, before_ms: i64) -> StoreResult<u64>;
    /// Stores webhook events for delivery, all or none.
    async fn enqueue_webhook_events(&self, items: &[OutboxItem]) -> StoreResult<()>;
    /// Takes up to `limit` events due at `now_ms`, hiding them from other
    /// workers until `lease_until_ms`.
    async fn claim_webhook_events(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<OutboxItem>>;
    /// Records a failed attempt and when to try again.
    async fn reschedule_webhook_event(&self, id: &str, attempt: i64, next_ms: i64) -> StoreResult<()>;
    /// Removes a delivered (or given up) event.
    async fn finish_webhook_event(&self, id: &str) -> StoreResult<()>;
}

/// The outbox of replies to messaging channels.
#[async_trait]
pub trait ChannelStore: Send + Sync + 'static {
    async fn enqueue_channel_send(&self, send: &ChannelSend) -> StoreResult<()>;
    /// Takes up to `limit` pending sends due at `now_ms`, each the first
    /// pending one of its conversation (so a conversation's replies go out
    /// one at a time, in order), hiding them from other workers until
    /// `lease_until_ms`.
    async fn claim_channel_sends(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<ChannelSend>>;
    /// Records an attempt's outcome (state, attempts, next try, error, platform id).
    async fn settle_channel_send(&self, send: &ChannelSend) -> StoreResult<()>;
    /// The sends of these messages (those not sent to a channel have none).
    async fn channel_sends_of(&self, message_ids: &[&str]) -> StoreResult<Vec<ChannelSend>>;
    /// The send a platform knows by `external_id`, on a channel.
    async fn channel_send_by_external_id(
        &self,
        channel_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<ChannelSend>>;
}

/// The knowledge base: documents, their passages and full-text search.
#[async_trait]
pub trait KnowledgeStore: Send + Sync + 'static {
    /// Stores a document with its passages, together.
    async fn add_document(&self, document: &KnowledgeDocument, passages: &[String]) -> StoreResult<()>;
    /// An account's documents, newest first.
    async fn list_documents(&self, account_id: &str) -> StoreResult<Vec<KnowledgeDocument>>;
    async fn document_by_id(&self, id: &str) -> StoreResult<Option<KnowledgeDocument>>;
    /// Deletes a document with its passages; `false` when there was none.
    async fn delete_document(&self, id: &str) -> StoreResult<bool>;
    /// Passages of the account's documents matching any of `terms`, best
    /// ranked first by the database's full-text search, at most `limit`.
    async fn search_passages(&self, account_id: &str, terms: &[String], limit: i64) -> StoreResult<Vec<KnowledgeHit>>;
    async fn ai_settings(&self, account_id: &str) -> StoreResult<Option<AiSettingsRecord>>;
    /// Records that a message was written by an AI provider, with its confidence and sources (JSON).
    async fn record_ai_reply(&self, reply: &AiReply) -> StoreResult<()>;
    /// The AI records of these messages (those written by people have none).
    async fn ai_replies_of(&self, message_ids: &[&str]) -> StoreResult<Vec<AiReply>>;
    /// AI-written messages of an account created in `[from_ms, to_ms)`.
    async fn count_ai_replies(&self, account_id: &str, from_ms: i64, to_ms: i64) -> StoreResult<i64>;
    async fn save_ai_settings(&self, settings: &AiSettingsRecord) -> StoreResult<()>;
}

/// Everything the server keeps: one implementation per database, used as
/// `Arc<dyn Store>`. Callers bring the traits they use into scope with
/// `use crate::store::prelude::*`.
pub trait Store:
    Database
    + AccountStore
    + SessionStore
    + MessageStore
    + CustomerStore
    + OperatorStore
    + WebhookStore
    + ChannelStore
    + KnowledgeStore
    + AttachmentStore
{
}

impl<T> Store for T where
    T: Database
        + AccountStore
        + SessionStore
        + MessageStore
        + CustomerStore
        + OperatorStore
        + WebhookStore
        + ChannelStore
        + KnowledgeStore
        + AttachmentStore
{
}

/// The store traits, for `use crate::store::prelude::*`.
pub mod prelude {
    pub use super::{
        AccountStore, AttachmentStore, ChannelStore, CustomerStore, Database, KnowledgeStore, MessageStore,
        OperatorStore, SessionStore, Store, WebhookStore,
    };
}
