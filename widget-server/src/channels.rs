//! Messaging channels: Telegram bots and WhatsApp numbers answered from the
//! same inbox as the widget. A channel is a row of `websites` of its kind;
//! each platform is a module behind [`Adapter`], which connects a channel
//! (checks its credentials, registers the webhook), sends replies, and turns
//! the platform's webhook calls into visitor messages through [`receive`].
//!
//! Replies (operator and bot messages in a channel's conversation) wait in
//! an outbox committed before the reply is answered, and are sent in the
//! background, in order within a conversation. Failures are retried with the
//! webhooks' backoff; a reply the platform refuses for good, or that fails
//! every attempt, stays `failed` with the platform's reason, which operators
//! see on the message.

mod telegram;
mod whatsapp;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{ClientKey, MessageText, PersonName};
use crate::egress::Egress;
use crate::error::{AppError, AppResult};
use crate::store::{ChannelKind, ChannelSend, Identity, Message, Session, Store, Website};
use crate::time::now_ms;
use crate::AppState;

/// Attempts at one reply before it is marked failed.
pub const ATTEMPTS: i64 = 5;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claimed send stays hidden from other workers.
const LEASE_MS: i64 = 60_000;
const CLAIM_BATCH: i64 = 64;

/// How the sender runs.
#[derive(Debug, Clone, Copy)]
pub struct ChannelConfig {
    /// First retry wait; each later one is 4× longer.
    pub retry_base: Duration,
    /// Conversations sent to at once; 0 leaves sending to other instances.
    pub workers: usize,
    pub egress: Egress,
}

/// What connecting a channel stores: its settings and its credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub config: Value,
    pub secrets: Value,
}

/// What an adapter may use to connect a channel.
pub struct ConnectContext<'a> {
    pub client: &'a reqwest::Client,
    pub egress: Egress,
    /// The server's external base URL, for the webhook the platform calls.
    pub public_url: &'a str,
    pub channel_id: &'a str,
}

/// Why a channel could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The configuration is incomplete or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The platform refused the credentials or the webhook.
    #[error("{0}")]
    Refused(String),
}

impl From<ConnectError> for AppError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Invalid(m) => Self::Validation("validation_error", m),
            ConnectError::Refused(m) => Self::Validation("channel_connect_failed", m),
        }
    }
}

/// Why a reply was not sent, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// The platform's reason (never a URL or a credential).
    pub reason: String,
    /// `None`: refused for good; `Some(wait)`: retry, not before `wait` if given.
    pub retry: Option<Option<Duration>>,
}

impl SendFailure {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), retry: None }
    }

    pub fn transient(reason: impl Into<String>, after: Option<Duration>) -> Self {
        Self { reason: reason.into(), retry: Some(after) }
    }

    /// A failure of the request itself (connect, timeout, TLS), described without its URL.
    fn of_request(e: reqwest::Error) -> Self {
        Self::transient(e.without_url().to_string(), None)
    }
}

/// One messaging platform.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// Checks `input` (merged over the channel's current settings, if it has
    /// some) and connects the channel with the platform.
    async fn connect(
        &self,
        ctx: &ConnectContext<'_>,
        input: &Map<String, Value>,
        current: Option<&Website>,
    ) -> Result<Connection, ConnectError>;

    /// Sends `text` to the chat of `session`; returns the platform's message id.
    async fn send(
        &self,
        client: &reqwest::Client,
        channel: &Website,
        session: &Session,
        text: &str,
    ) -> Result<String, SendFailure>;

    /// The platform's API base URL a channel uses.
    fn api_base<'a>(&self, channel: &'a Website) -> &'a str;
}

/// The adapter of a messaging channel kind (the widget has none).
pub fn adapter(kind: ChannelKind) -> Option<&'static dyn Adapter> {
    match kind {
        ChannelKind::Widget => None,
        ChannelKind::Telegram => Some(&telegram::Telegram),
        ChannelKind::Whatsapp => Some(&whatsapp::WhatsApp),
    }
}

/// The platforms' webhook endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(telegram::hook)).routes(routes!(whatsapp::verify, whatsapp::hook))
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    !expected.is_empty() && Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

/// A string field of a JSON object, trimmed, if present and not empty.
fn text_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A setting from `input`, else the channel's current one.
fn setting(input: &Map<String, Value>, current: Option<&Website>, key: &str) -> Option<String> {
    text_field(input, key)
        .or_else(|| current.and_then(|w| w.config.as_object()).and_then(|c| text_field(c, key)))
        .map(str::to_owned)
}

/// A credential from `input`, else the channel's current one.
fn credential(input: &Map<String, Value>, current: Option<&Website>, key: &str) -> Option<String> {
    text_field(input, key)
        .or_else(|| current.and_then(|w| w.secrets.as_object()).and_then(|c| text_field(c, key)))
        .map(str::to_owned)
}

/// The API base URL to use: given, current, or the platform's; checked against the egress rule.
async fn checked_base(
    ctx: &ConnectContext<'_>,
    input: &Map<String, Value>,
    current: Option<&Website>,
    default: &str,
) -> Result<String, ConnectError> {
    let base = setting(input, current, "api_base_url").unwrap_or_else(|| default.to_owned());
    ctx.egress.check_url(&base).await.map_err(|e| ConnectError::Invalid(format!("api_base_url: {e}")))?;
    Ok(base.trim_end_matches('/').to_owned())
}

/// `text` in pieces of at most `max` characters, for platforms with a limit.
fn pieces(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(max.max(1)).map(|c| c.iter().collect()).collect()
}

/// A message that arrived on a messaging channel.
pub struct Inbound {
    /// The conversation it belongs to, unique within the channel (`tg-<chat id>`).
    pub chat_key: String,
    /// The person who wrote it, unique within the account (`telegram:<user id>`).
    pub person_key: String,
    pub name: Option<String>,
    /// The platform's id of the message, so a redelivery is stored once.
    pub message_key: String,
    pub text: String,
}

/// Stores an inbound message as the visitor's message of its chat's
/// conversation: the first one opens the conversation, with the sender as
/// its customer (one customer per platform user across the account's
/// channels), and tells operators about it.
pub async fn receive(state: &AppState, channel: &Website, inbound: Inbound) -> AppResult<()> {
    let (mut session, created) = state.chat.open_session(channel, &inbound.chat_key).await?;
    if created {
        let name = inbound.name.as_deref().and_then(|n| PersonName::parse(n).ok());
        let name = name.as_ref().map(PersonName::as_str);
        let identity = Identity { external_id: &inbound.person_key, name, email: None, metadata: None };
        state.store.identify(&session, &identity).await?;
        session = state.store.update_contact(&session.id, name, None, None).await?;
        state.chat.announce(&session).await;
    }
    let max = state.settings.max_message_chars;
    let mut text: String = inbound.text.chars().filter(|c| *c != '\0').take(max).collect();
    if text.trim().is_empty() {
        text = "[an empty message]".to_owned();
    }
    let text = MessageText::parse(&text, max)?;
    let key = ClientKey::parse("message_id", &inbound.message_key)?;
    state.chat.visitor_message(channel, &session, &text, &[], Some(&key)).await?;
    Ok(())
}

/// The outbox of replies and its background sender.
pub struct Channels {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
}

/// The wait before attempt `attempt + 1` after `attempt` failed ones.
fn backoff(base: Duration, attempt: i64) -> Duration {
    base.saturating_mul(4u32.saturating_pow(u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX)))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Channels {
    /// Starts the sender (unless `config.workers` is 0); it stops with `shutdown`.
    pub fn start(store: Arc<dyn Store>, config: ChannelConfig, shutdown: CancellationToken) -> Self {
        let wake = Arc::new(Notify::new());
        if config.workers > 0 {
            let sender = Sender {
                store: Arc::clone(&store),
                client: config.egress.client(REQUEST_TIMEOUT),
                egress: config.egress,
                retry_base: config.retry_base,
                slots: Arc::new(Semaphore::new(config.workers)),
            };
            tokio::spawn(sender.run(Arc::clone(&wake), shutdown));
        }
        Self { store, wake }
    }

    /// Queues a reply in a messaging channel's conversation; committed when this returns.
    pub async fn enqueue(&self, session: &Session, message: &Message) {
        let now = now_ms();
        let send = ChannelSend {
            message_id: message.id.clone(),
            session_id: session.id.clone(),
            seq: message.seq,
            channel_id: session.website_id.clone(),
            state: "pending".into(),
            attempt: 0,
            next_ms: now,
            error: None,
            external_id: None,
            created_ms: now,
        };
        match self.store.enqueue_channel_send(&send).await {
            Ok(()) => self.wake.notify_one(),
            Err(e) => tracing::error!(error = %e, message = %message.id, "could not queue a channel reply"),
        }
    }
}

/// The sending side: claims due replies, the first pending one of each
/// conversation, and sends them; a conversation's next reply waits until the
/// one before it is sent or has failed for good, so the chat reads in order.
struct Sender {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    egress: Egress,
    retry_base: Duration,
    slots: Arc<Semaphore>,
}

impl Sender {
    async fn run(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let poll = this.retry_base.clamp(Duration::from_millis(20), Duration::from_secs(1));
        loop {
            let now = now_ms();
            let claimed = match this.store.claim_channel_sends(now, now + LEASE_MS, CLAIM_BATCH).await {
                Ok(sends) => sends,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the channel outbox");
                    Vec::new()
                }
            };
            let full = claimed.len() as i64 == CLAIM_BATCH;
            for mut send in claimed {
                let Ok(slot) = Arc::clone(&this.slots).acquire_owned().await else { return };
                let (sender, wake) = (Arc::clone(&this), Arc::clone(&wake));
                tokio::spawn(async move {
                    sender.attempt(&mut send).await;
                    sender.settle(&send).await;
                    drop(slot);
                    if send.state != "pending" {
                        // The conversation's next reply, if any, may go now.
                        wake.notify_one();
                    }
                });
            }
            if full {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One attempt at one reply; `send` is updated with the outcome.
    async fn attempt(&self, send: &mut ChannelSend) {
        send.attempt += 1;
        let outcome = match self.load(send).await {
            Ok((channel, session, message)) => self.deliver(&channel, &session, &message).await,
            Err(failure) => Err(failure),
        };
        match outcome {
            Ok(external_id) => {
                send.state = "sent".into();
                send.external_id = Some(external_id);
                send.error = None;
            }
            Err(failure) => {
                send.error = Some(failure.reason.chars().take(500).collect());
                match failure.retry {
                    Some(after) if send.attempt < ATTEMPTS => {
                        let wait = backoff(self.retry_base, send.attempt).max(after.unwrap_or_default());
                        send.next_ms = now_ms() + millis(wait);
                        tracing::warn!(message = %send.message_id, attempt = send.attempt, "channel reply failed; will retry");
                    }
                    _ => {
                        send.state = "failed".into();
                        tracing::warn!(message = %send.message_id, attempt = send.attempt, "channel reply failed");
                    }
                }
            }
        }
    }

    async fn load(&self, send: &ChannelSend) -> Result<(Website, Session, Message), SendFailure> {
        let gone = || SendFailure::permanent("the conversation no longer exists");
        let store_error = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "could not load a channel reply");
            SendFailure::transient("the reply could not be read", None)
        };
        let channel = self.store.website_by_id(&send.channel_id).await.map_err(store_error)?.ok_or_else(gone)?;
        let session = self.store.session_by_id(&send.session_id).await.map_err(store_error)?.ok_or_else(gone)?;
        let message = self
            .store
            .message_by_id(&send.session_id, &send.message_id)
            .await
            .map_err(store_error)?
            .ok_or_else(gone)?;
        Ok((channel, session, message))
    }

    async fn deliver(&self, channel: &Website, session: &Session, message: &Message) -> Result<String, SendFailure> {
        let adapter =
            adapter(channel.kind).ok_or_else(|| SendFailure::permanent("the channel cannot send messages"))?;
        if !self.egress.literal_allowed(adapter.api_base(channel)) {
            return Err(SendFailure::permanent("the channel's API address is a private address"));
        }
        adapter.send(&self.client, channel, session, &message.body).await
    }

    async fn settle(&self, send: &ChannelSend) {
        if let Err(e) = self.store.settle_channel_send(send).await {
            tracing::error!(error = %e, message = %send.message_id, "could not record a channel reply's outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal_and_set() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("", ""), "an unset secret matches nothing");
    }

    #[test]
    fn long_replies_are_split_on_character_boundaries() {
        let parts = pieces(&"ж".repeat(9), 4);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), vec![4, 4, 1]);
        assert_eq!(pieces("hi", 4096), vec!["hi".to_owned()]);
    }

    #[test]
    fn settings_fall_back_to_the_current_channel() {
        let mut current = crate::store::Website {
            id: "c".into(),
            account_id: "a".into(),
            name: "Bot".into(),
            token: "t".into(),
            api_secret: "s".into(),
            origins: vec![],
            settings: crate::store::WebsiteSettings::default(),
            legacy_mode: false,
            created_ms: 0,
            kind: ChannelKind::Telegram,
            config: serde_json::json!({ "api_base_url": "http://old" }),
            secrets: serde_json::json!({ "bot_token": "1:old" }),
        };
        let input: Map<String, Value> = serde_json::from_str(r#"{"bot_token": " 1:new "}"#).expect("json");
        assert_eq!(credential(&input, Some(&current), "bot_token").as_deref(), Some("1:new"));
        assert_eq!(setting(&input, Some(&current), "api_base_url").as_deref(), Some("http://old"));
        current.config = serde_json::json!({});
        assert_eq!(setting(&input, Some(&current), "api_base_url"), None);
    }
}
