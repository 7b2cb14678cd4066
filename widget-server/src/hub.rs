//! In-process fan-out of realtime events: one broadcast channel per session,
//! created when the first socket subscribes and dropped with the last one.
//! Frames are serialised once per event, not once per subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::extract::ws::Utf8Bytes;
use natter_protocol::ws::{ConversationEvent, EventSender, MessageEvent, ServerFrame, TypingEvent, TypingUser};
use natter_protocol::{ChatMessage, Sender};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::files::Links;
use crate::store::{Message, Session};
use crate::time::iso;

/// Events a session channel holds before a slow subscriber lags (it then
/// re-reads from the database). Every session with a socket open allocates
/// this many slots, and a session sees a few events a minute, so it is small.
const CHANNEL_CAPACITY: usize = 16;

/// What happened, as the whole use case left it. Each protocol renders its
/// own frames from this; nothing downstream reads the database to learn it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message was stored; `author` is the name shown for it.
    MessageCreated { session: Session, message: Message, author: String },
    /// A message's status changed (read receipts).
    MessageUpdated { session: Session, message: Message, author: String },
    /// A new conversation, announced once its opening request is done.
    ConversationCreated { session: Session },
    /// A conversation's status, assignee or contact details changed.
    ConversationChanged { session: Session, change: Change },
    /// Someone started or stopped typing.
    Typing { session: Session, on: bool, user: TypingUser },
    /// A relationship in the room's graph changed.
    EdgeUpdated { session: Session, from: String, to: String, sympathy: f64 },
}

/// What changed in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Change {
    /// The status, and what it was before.
    Status {
        from: natter_protocol::SessionStatus,
    },
    Assigned,
    /// The visitor's name, phone or e-mail.
    Contact,
}

impl Event {
    /// The session the event is about.
    pub fn session(&self) -> &Session {
        match self {
            Event::MessageCreated { session, .. }
            | Event::MessageUpdated { session, .. }
            | Event::ConversationCreated { session }
            | Event::ConversationChanged { session, .. }
            | Event::Typing { session, .. }
            | Event::EdgeUpdated { session, .. } => session,
        }
    }
}

/// What an event is, so a subscriber can filter without looking inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    MessageCreated {
        seq: i64,
    },
    MessageUpdated,
    ConversationCreated,
    /// Status or assignee.
    Conversation,
    /// The visitor's contact details.
    Contact,
    Typing {
        from_visitor: bool,
    },
    /// A relationship of the room graph (operators' graph streams only).
    Edge,
}

/// An event on the hub, with its widget frame rendered at most once however
/// many sockets of the session forward it.
#[derive(Debug)]
pub struct HubEvent {
    pub event: Event,
    widget: OnceLock<Option<Utf8Bytes>>,
}

impl HubEvent {
    pub fn new(event: Event) -> Arc<Self> {
        Arc::new(Self { event, widget: OnceLock::new() })
    }

    pub fn kind(&self) -> EventKind {
        match &self.event {
            Event::MessageCreated { message, .. } => EventKind::MessageCreated { seq: message.seq },
            Event::MessageUpdated { .. } => EventKind::MessageUpdated,
            Event::ConversationCreated { .. } => EventKind::ConversationCreated,
            Event::ConversationChanged { change: Change::Contact, .. } => EventKind::Contact,
            Event::ConversationChanged { .. } => EventKind::Conversation,
            Event::Typing { user, .. } => EventKind::Typing { from_visitor: user.kind == "contact" },
            Event::EdgeUpdated { .. } => EventKind::Edge,
        }
    }

    /// The event as the widget's `/ws` frame (Novatalks shapes); `None` for
    /// what the widget is never told (the room graph).
    pub fn widget_frame(&self, links: &Links) -> Option<Utf8Bytes> {
        self.widget
            .get_or_init(|| {
                let frame = match &self.event {
                    Event::MessageCreated { session, message, author } => {
                        ServerFrame::MessageCreated(Box::new(message_event(session, message, author, links)))
                    }
                    Event::MessageUpdated { session, message, author } => {
                        ServerFrame::MessageUpdated(Box::new(message_event(session, message, author, links)))
                    }
                    Event::ConversationCreated { session } => {
                        ServerFrame::ConversationCreated(conversation_event(session))
                    }
                    Event::ConversationChanged { session, .. } => {
                        ServerFrame::ConversationStatusChanged(conversation_event(session))
                    }
                    Event::Typing { session, on, user } => {
                        let data =
                            TypingEvent { conversation_id: session.id.clone(), is_private: false, user: user.clone() };
                        if *on {
                            ServerFrame::TypingOn(data)
                        } else {
                            ServerFrame::TypingOff(data)
                        }
                    }
                    Event::EdgeUpdated { .. } => return None,
                };
                Some(Utf8Bytes::from(frame.to_json()))
            })
            .clone()
    }
}

/// Where an event belongs: its session and that session's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub session_id: Arc<str>,
    pub account_id: Arc<str>,
}

impl Scope {
    pub fn of(session: &Session) -> Self {
        Self { session_id: Arc::from(session.id.as_str()), account_id: Arc::from(session.account_id.as_str()) }
    }
}

/// An event on its way to other server instances.
#[derive(Debug)]
pub struct Relayed {
    pub scope: Scope,
    pub event: Arc<HubEvent>,
}

type Channels = HashMap<String, broadcast::Sender<Arc<HubEvent>>>;

/// Events of every session, for operator streams, with where they belong.
pub type Firehose = broadcast::Receiver<(Scope, Arc<HubEvent>)>;

/// Events the firehose holds before a slow operator stream lags.
const FIREHOSE_CAPACITY: usize = 1024;
/// Revocations held before a socket lags (it then checks its operator again).
const REVOKED_CAPACITY: usize = 64;

/// The registry of session channels, plus one channel carrying every event.
#[derive(Debug)]
pub struct Hub {
    sessions: Mutex<Channels>,
    all: broadcast::Sender<(Scope, Arc<HubEvent>)>,
    /// Operators whose tokens were just revoked, so their sockets end.
    revoked: broadcast::Sender<Arc<str>>,
    relay: OnceLock<mpsc::Sender<Relayed>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            sessions: Mutex::default(),
            all: broadcast::channel(FIREHOSE_CAPACITY).0,
            revoked: broadcast::channel(REVOKED_CAPACITY).0,
            relay: OnceLock::new(),
        }
    }
}

impl Hub {
    fn channels(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes to a session's events; the subscription ends when dropped.
    pub fn subscribe(self: &Arc<Self>, session_id: &str) -> Subscription {
        let rx = self
            .channels()
            .entry(session_id.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe();
        Subscription { rx, hub: Arc::clone(self), session_id: session_id.to_owned() }
    }

    /// Sends events on to other instances as well as to local subscribers.
    pub fn set_relay(&self, relay: mpsc::Sender<Relayed>) {
        let _already_set = self.relay.set(relay);
    }

    /// Sends an event of `session` to its subscribers here and on other instances.
    pub fn publish(&self, session: &Session, event: Arc<HubEvent>) {
        let scope = Scope::of(session);
        if let Some(relay) = self.relay.get() {
            let relayed = Relayed { scope: scope.clone(), event: Arc::clone(&event) };
            if relay.try_send(relayed).is_err() {
                tracing::warn!(session = %session.id, "relay queue full; other instances catch up on the next message");
            }
        }
        self.publish_local(scope, event);
    }

    /// Sends an event to this instance's subscribers of the session, if any.
    pub fn publish_local(&self, scope: Scope, event: Arc<HubEvent>) {
        if let Some(tx) = self.channels().get(&*scope.session_id) {
            let _no_subscribers = tx.send(Arc::clone(&event));
        }
        if self.all.receiver_count() > 0 {
            let _no_operators = self.all.send((scope, event));
        }
    }

    /// Every event of every session from now on (operator streams).
    pub fn firehose(&self) -> Firehose {
        self.all.subscribe()
    }

    /// Tells this instance's sockets of an operator that its tokens were revoked
    /// (logout, a role change, removal). Other instances notice at their next
    /// keepalive, when each operator socket checks its operator again.
    pub fn revoke(&self, operator_id: &str) {
        let _no_sockets = self.revoked.send(Arc::from(operator_id));
    }

    /// Revocations from now on.
    pub fn revocations(&self) -> broadcast::Receiver<Arc<str>> {
        self.revoked.subscribe()
    }

    /// Whether a session has a subscriber on this instance.
    pub fn is_live(&self, session_id: &str) -> bool {
        self.channels().contains_key(session_id)
    }

    /// Number of sessions with at least one subscriber.
    pub fn active_sessions(&self) -> usize {
        self.channels().len()
    }
}

/// A live subscription to one session's events.
#[must_use = "events are only received while the subscription is held"]
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<HubEvent>>,
    hub: Arc<Hub>,
    session_id: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.channels();
        if let Some(tx) = channels.get(&self.session_id) {
            // Our own receiver is still alive here, so "last one" means a count of 1.
            if tx.receiver_count() <= 1 {
                channels.remove(&self.session_id);
            }
        }
    }
}

/// The native message as the public API returns it, its files with fresh links.
pub fn chat_message(m: &Message, links: &Links) -> ChatMessage {
    ChatMessage {
        id: m.id.clone(),
        seq: m.seq,
        sender: m.sender,
        message_text: m.body.clone(),
        manager_id: m.manager_id.clone(),
        echo_id: m.echo_id.clone(),
        status: m.status,
        created_at: iso(m.created_ms),
        attachments: m.attachments.iter().map(|a| links.chat(a)).collect(),
    }
}

/// `message.created` / `message.updated` data for a message of `session`.
pub fn message_event(session: &Session, m: &Message, sender_name: &str, links: &Links) -> MessageEvent {
    let sender_id = match m.sender {
        Sender::User => Some(session.id.clone()),
        Sender::Manager => m.manager_id.clone(),
        Sender::Bot | Sender::System => None,
    };
    MessageEvent {
        account_id: 1,
        id: m.id.clone(),
        content: Some(m.body.clone()),
        message_type: MessageEvent::message_type_for(m.sender).to_owned(),
        content_type: "text".into(),
        private: false,
        content_attributes: serde_json::json!({}),
        source_id: None,
        external_source_ids: serde_json::json!({}),
        inbox_id: session.website_id.clone(),
        sender_id: sender_id.clone(),
        status: m.status,
        pinned: false,
        conversation_id: session.id.clone(),
        echo_id: m.echo_id.clone(),
        dialog_id: session.id.clone(),
        attachments: m.attachments.iter().map(|a| links.event(a)).collect(),
        sender: EventSender { id: sender_id, name: sender_name.to_owned(), display_name: None },
        created_at: m.created_ms.div_euclid(1000),
        seq: m.seq,
        sender_type: m.sender,
        message: chat_message(m, links),
    }
}

/// `conversation.*` data for a session.
pub fn conversation_event(session: &Session) -> ConversationEvent {
    ConversationEvent {
        account_id: 1,
        id: session.id.clone(),
        inbox_id: session.website_id.clone(),
        status: session.status,
        assignee_id: session.manager_id.clone(),
        channel: "WebWidget".into(),
        can_reply: true,
        created_at: session.created_ms.div_euclid(1000),
        timestamp: session.updated_ms.div_euclid(1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Arc<HubEvent> {
        HubEvent::new(Event::ConversationChanged { session: session("any"), change: Change::Assigned })
    }

    fn session(id: &str) -> Session {
        Session {
            id: id.into(),
            website_id: "w".into(),
            account_id: "acc".into(),
            customer_id: format!("customer-{id}"),
            channel: crate::store::ChannelKind::Widget,
            user_session_id: id.into(),
            token: format!("token-{id}"),
            user_name: None,
            user_phone: None,
            user_email: None,
            status: natter_protocol::SessionStatus::Active,
            manager_id: None,
            last_seq: 0,
            bot_state: 0,
            away_sent_ms: None,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[tokio::test]
    async fn subscribers_of_a_session_receive_its_events_only() {
        let hub = Arc::new(Hub::default());
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.publish(&session("a"), frame());
        assert_eq!(a.rx.recv().await.expect("event").kind(), EventKind::Conversation);
        assert!(b.rx.try_recv().is_err());
    }

    #[test]
    fn the_channel_is_dropped_with_its_last_subscriber() {
        let hub = Arc::new(Hub::default());
        let first = hub.subscribe("s");
        let second = hub.subscribe("s");
        drop(first);
        assert_eq!(hub.active_sessions(), 1);
        drop(second);
        assert_eq!(hub.active_sessions(), 0);
    }

    #[tokio::test]
    async fn the_firehose_carries_every_sessions_events() {
        let hub = Arc::new(Hub::default());
        let mut all = hub.firehose();
        hub.publish(&session("a"), frame());
        hub.publish(&session("b"), frame());
        let scopes = [all.recv().await.expect("a").0, all.recv().await.expect("b").0];
        assert!(scopes.iter().all(|s| &*s.account_id == "acc"), "events carry their account");
        assert_eq!(scopes.map(|s| s.session_id.to_string()), ["a", "b"]);
    }

    #[test]
    fn publishing_without_subscribers_is_a_no_op() {
        let hub = Hub::default();
        hub.publish(&session("nobody"), frame());
        assert_eq!(hub.active_sessions(), 0);
    }
}
