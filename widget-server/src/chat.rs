//! The chat core: the use cases every dialect and the operator side run
//! (open or resume a session, contact details, visitor message, operator
//! reply, status, assign, read receipts, typing, and the bot's replies
//! through [`crate::bot`]) and the typed events they publish. It knows no HTTP
//! framework and no database driver: the edges call it with parsed input,
//! and it works through the [`Store`] trait and the [`Hub`]. What reacts to
//! an event outside the chat (webhooks) is decided in one place,
//! [`Chat::publish`].

mod assistant;
mod conversation;
mod delivery;
mod message;
mod session;
mod throttle;

use std::sync::Arc;

use natter_protocol::{MessageStatus, Sender, SessionStatus};
use serde_json::{json, Value};

pub use assistant::{wants_a_person, HANDOVER};
pub use message::{history, recent, sender_name, sender_name_of, RESUME_PAGE};
pub use session::Contact;

use crate::bot;
use crate::channels::Channels;
use crate::hub::{Change, Event, Hub, HubEvent};
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::store::{ChannelKind, Message, Session, Store, StoreError, StoreResult, Website};
use crate::time::iso;
use crate::webhooks::Webhooks;

/// What a use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    NotFound(String),
    /// Files a message names that are not uploads of its session waiting to be sent.
    #[error("{0}")]
    Attachments(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type ChatResult<T> = Result<T, ChatError>;

/// The chat core, shared by every request.
pub struct Chat {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    webhooks: Arc<Webhooks>,
    channels: Arc<Channels>,
    presence: Arc<Presence>,
    metrics: Arc<Metrics>,
    throttle: throttle::Throttle,
    /// Delivery receipts waiting for their batch to be written.
    deliveries: delivery::Batch,
    /// Set by [`Chat::enable_ai`]: what auto-respond needs.
    ai: std::sync::OnceLock<assistant::AiRuntime>,
    /// Set by [`Chat::enable_files`]: the signer of the links webhooks carry.
    links: std::sync::OnceLock<crate::files::Links>,
}

impl Chat {
    pub fn new(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        webhooks: Arc<Webhooks>,
        channels: Arc<Channels>,
        presence: Arc<Presence>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            hub,
            webhooks,
            channels,
            presence,
            metrics,
            throttle: throttle::Throttle::default(),
            deliveries: delivery::Batch::default(),
            ai: std::sync::OnceLock::new(),
            links: std::sync::OnceLock::new(),
        }
    }

    /// The account's operators who are available: `online` by choice, with a console connected.
    pub async fn available_operators(&self, account_id: &str) -> StoreResult<Vec<crate::store::Operator>> {
        let operators = self.store.list_operators(account_id).await?;
        Ok(operators.into_iter().filter(|o| self.presence.availability(&o.id, &o.availability) == "online").collect())
    }

    /// Whether a website is answering now: within its business hours, and,
    /// when it asks for it, with an operator available.
    pub async fn website_online(&self, website: &Website) -> StoreResult<bool> {
        if !bot::website_online(website) {
            return Ok(false);
        }
        if !website.settings.away_when_no_operator {
            return Ok(true);
        }
        Ok(!self.available_operators(&website.account_id).await?.is_empty())
    }

    /// Assigns an unassigned conversation to the available operator with the
    /// fewest open conversations (the earliest member on a tie), if any is available.
    async fn auto_assign(&self, session: &crate::store::Session) -> ChatResult<()> {
        let available = self.available_operators(&session.account_id).await?;
        if available.is_empty() {
            return Ok(());
        }
        let load = self.store.open_assignments(&session.account_id).await?;
        let open = |id: &str| load.iter().find(|(op, _)| op == id).map_or(0, |(_, n)| *n);
        if let Some(chosen) = available.iter().min_by_key(|o| open(&o.id)) {
            self.assign(session, Some(&chosen.id)).await?;
        }
        Ok(())
    }

    /// Notes that `message` reached the other side of its conversation: the
    /// visitor (`to_visitor`) or an operator. Only a message still `sent` and
    /// written by the other side counts; the receipt is written with the next
    /// batch ([`Chat::start_deliveries`]).
    pub fn delivered(&self, website: &Arc<Website>, message: &Message, to_visitor: bool) {
        self.delivered_all(website, std::slice::from_ref(message), to_visitor);
    }

    /// [`Chat::delivered`] for each message of a page one side read.
    /// The newest such message is noted once: the receipt covers every seq up to it.
    pub fn delivered_all(&self, website: &Arc<Website>, messages: &[Message], to_visitor: bool) {
        let counts = |m: &&Message| m.status == MessageStatus::Sent && (m.sender != Sender::User) == to_visitor;
        if let Some(newest) = messages.iter().filter(counts).max_by_key(|m| m.seq) {
            self.deliveries.note(website, &newest.session_id, newest.seq, to_visitor);
        }
    }

    /// Writes the receipts noted since the last batch and announces each
    /// message that changed as `message.updated`.
    pub async fn flush_deliveries(&self) -> ChatResult<usize> {
        let _one_at_a_time = self.deliveries.flushing.lock().await;
        let noted = self.deliveries.take();
        let marks: Vec<_> = noted.values().flat_map(delivery::Noted::marks).collect();
        let changed = self.store.mark_delivered(&marks).await?;
        // In session order: each session is read once, for the events of its messages.
        let mut current: Option<Session> = None;
        for m in &changed {
            if current.as_ref().is_none_or(|s| s.id != m.session_id) {
                current = self.store.session_by_id(&m.session_id).await?;
            }
            let (Some(session), Some(n)) = (&current, noted.get(&m.session_id)) else {
                continue;
            };
            let author = sender_name(&n.website, session, m.sender, None).to_owned();
            self.publish(Event::MessageUpdated { session: session.clone(), message: m.clone(), author }).await;
        }
        Ok(changed.len())
    }

    /// Writes delivery receipts every [`delivery::FLUSH_EVERY`] (sooner when
    /// many are waiting) until `stop`, and once more then.
    pub fn start_deliveries(self: &Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(delivery::FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let stopping = tokio::select! {
                    () = stop.cancelled() => true,
                    _ = tick.tick() => false,
                    () = this.deliveries.filled() => false,
                };
                if let Err(e) = this.flush_deliveries().await {
                    tracing::warn!(error = %e, "delivery receipts not written");
                }
                if stopping {
                    break;
                }
            }
        });
    }

    /// Lets webhook payloads carry attachments with their links.
    pub fn enable_files(&self, links: crate::files::Links) {
        let _ = self.links.set(links);
    }

    /// The store the core writes through.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Publishes what happened to every socket and instance, and records the
    /// webhook event it makes, if any, and a reply to send to a messaging
    /// channel, before returning.
    async fn publish(&self, event: Event) -> Arc<HubEvent> {
        if let Event::MessageCreated { session, message, .. } = &event {
            if session.channel != ChannelKind::Widget && matches!(message.sender, Sender::Manager | Sender::Bot) {
                self.channels.enqueue(session, message).await;
            }
        }
        let hook = webhook_of(&event, self.links.get());
        let published = HubEvent::new(event);
        let session = published.event.session();
        self.hub.publish(session, Arc::clone(&published));
        if let Some((name, data)) = hook {
            self.webhooks.emit(&session.account_id, name, data).await;
        }
        published
    }

    /// What the chat itself does in answer to an event on a visitor's
    /// website: a visitor writing into a closed conversation reopens it, and
    /// the bot answers visitor messages and new contact details. It runs
    /// within the request, so its replies are stored in order after what
    /// they answer.
    async fn react(&self, website: &Website, event: &Event) -> ChatResult<()> {
        match event {
            Event::MessageCreated { session, message, .. } if message.sender == Sender::User => {
                if session.status != SessionStatus::Active {
                    self.change_status(session, SessionStatus::Active).await?;
                }
                if website.settings.auto_assign && session.manager_id.is_none() {
                    self.auto_assign(session).await?;
                }
                bot::after_visitor_message(self, website, session).await?;
                self.spawn_auto_respond(session, &message.body).await
            }
            Event::ConversationChanged { session, change: Change::Contact } => {
                bot::after_contact(self, website, session).await
            }
            _ => Ok(()),
        }
    }
}

/// The webhook an event makes: its name and its `data`.
fn webhook_of(event: &Event, links: Option<&crate::files::Links>) -> Option<(&'static str, Value)> {
    match event {
        Event::MessageCreated { session, message, .. } => {
            let name = match message.sender {
                Sender::User => "message.received",
                Sender::Manager => "message.sent",
                Sender::Bot | Sender::System => return None,
            };
            let attachments: Vec<Value> = match links {
                Some(links) => message.attachments.iter().map(|a| json!(links.event(a))).collect(),
                None => Vec::new(),
            };
            let message = json!({
                "id": message.id, "content": message.body, "sender": message.sender,
                "sender_id": message.manager_id, "created_at": iso(message.created_ms), "attachments": attachments,
            });
            Some((name, json!({ "conversation_id": session.id, "message": message })))
        }
        Event::ConversationCreated { session } => Some((
            "conversation.created",
            json!({ "conversation_id": session.id, "website_id": session.website_id, "channel": "widget" }),
        )),
        Event::ConversationChanged { session, change: Change::Status { from } } => {
            let closed = *from == SessionStatus::Active && session.status != SessionStatus::Active;
            closed.then(|| ("conversation.closed", json!({ "conversation_id": session.id, "status": session.status })))
        }
        Event::ConversationChanged { session, change: Change::Assigned } => {
            let user = session.manager_id.as_ref()?;
            Some(("conversation.assigned", json!({ "conversation_id": session.id, "assigned_to": user })))
        }
        Event::ConversationChanged { session, change: Change::Contact } => {
            let customer = json!({
                "id": session.customer_id, "name": session.user_name,
                "phone": session.user_phone, "email": session.user_email,
            });
            Some(("customer.identified", json!({ "conversation_id": session.id, "customer": customer })))
        }
        Event::MessageUpdated { .. } | Event::Typing { .. } | Event::EdgeUpdated { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageText;
    use crate::egress::Egress;
    use crate::hub::EventKind;
    use crate::store::{Account, SqlStore, Website, WebsiteSettings};
    use crate::webhooks::WebhookConfig;

    /// The core over a fresh SQLite file, with no server around it.
    async fn core() -> (Chat, Arc<Hub>, Website, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("core.db").display());
        let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&url).await.expect("store"));
        let account = Account { id: "acc".into(), name: "Acme".into(), created_ms: 0 };
        store.create_account(&account).await.expect("account");
        let website = Website {
            id: "w".into(),
            account_id: "acc".into(),
            name: "Shop".into(),
            token: "pk_live_test".into(),
            api_secret: "secret".into(),
            origins: vec![],
            settings: WebsiteSettings::default(),
            legacy_mode: false,
            created_ms: 0,
            kind: crate::store::ChannelKind::Widget,
            config: json!({}),
            secrets: json!({}),
        };
        store.create_website(&website).await.expect("website");
        let config = WebhookConfig {
            retry_base: std::time::Duration::from_secs(1),
            workers: 0,
            egress: Egress { allow_private: false },
        };
        let webhooks = Arc::new(Webhooks::start(Arc::clone(&store), config, Default::default()));
        let channel_config =
            crate::channels::ChannelConfig { retry_base: config.retry_base, workers: 0, egress: config.egress };
        let channels = Arc::new(Channels::start(Arc::clone(&store), channel_config, Default::default()));
        let hub = Arc::new(Hub::default());
        let chat = Chat::new(store, Arc::clone(&hub), webhooks, channels, Arc::default(), Arc::default());
        (chat, hub, website, dir)
    }

    #[tokio::test]
    async fn a_visitor_message_is_stored_announced_and_answered_by_the_bot() {
        let (chat, hub, website, _dir) = core().await;
        let mut all = hub.firehose();
        let (session, created) = chat.open_session(&website, "visitor-1").await.expect("open");
        assert!(created);
        let text = MessageText::parse("Hello", 100).expect("text");
        let (message, stored) = chat.visitor_message(&website, &session, &text, &[], None).await.expect("send");
        assert!(stored);
        assert_eq!(message.body, "Hello");
        let mut kinds = Vec::new();
        while let Ok((_, event)) = all.try_recv() {
            kinds.push(event.kind());
        }
        // The greeting, the visitor's message, then the request for contact details.
        assert_eq!(
            kinds,
            [
                EventKind::MessageCreated { seq: 1 },
                EventKind::MessageCreated { seq: 2 },
                EventKind::MessageCreated { seq: 3 }
            ]
        );
    }

    #[tokio::test]
    async fn receipts_noted_are_written_in_one_batch_and_announced_once() {
        let (chat, hub, website, _dir) = core().await;
        let website = Arc::new(website);
        let (session, _) = chat.open_session(&website, "visitor-3").await.expect("open");
        let text = |t| MessageText::parse(t, 100).expect("text");
        let (first, _) = chat.visitor_message(&website, &session, &text("one"), &[], None).await.expect("send");
        let (second, _) = chat.visitor_message(&website, &session, &text("two"), &[], None).await.expect("send");
        let page = chat.store.list_messages(&session.id, crate::store::Cursor::Latest, 50).await.expect("page");
        let greeting = page.messages.iter().find(|m| m.sender == Sender::Bot).expect("the greeting").clone();
        let mut all = hub.firehose();
        // Reaching an operator: the visitor's own messages only, the highest seq wins.
        chat.delivered_all(&website, &page.messages, false);
        chat.delivered(&website, &first, false);
        assert_eq!(chat.flush_deliveries().await.expect("flush"), 2);
        let mut updated = Vec::new();
        while let Ok((_, event)) = all.try_recv() {
            if let Event::MessageUpdated { message, .. } = &event.event {
                updated.push((message.id.clone(), message.status));
            }
        }
        let delivered = MessageStatus::Delivered;
        assert_eq!(updated, [(first.id.clone(), delivered), (second.id.clone(), delivered)]);
        let status = |id: &str| {
            let (store, session, id) = (Arc::clone(&chat.store), session.id.clone(), id.to_owned());
            async move { store.message_by_id(&session, &id).await.expect("read").expect("stored").status }
        };
        assert_eq!(status(&greeting.id).await, MessageStatus::Sent, "the bot's greeting has not reached the visitor");
        // Noted again, or after a read receipt: nothing changes, nothing is announced.
        chat.delivered(&website, &second, false);
        chat.mark_read(&website, &session, greeting.seq, true).await.expect("read");
        chat.delivered(&website, &greeting, true);
        assert_eq!(chat.flush_deliveries().await.expect("flush"), 0);
        assert_eq!(status(&greeting.id).await, MessageStatus::Read, "a read message stays read");
    }

    #[tokio::test]
    async fn contact_details_change_the_conversation_once() {
        let (chat, hub, website, _dir) = core().await;
        let (session, _) = chat.open_session(&website, "visitor-2").await.expect("open");
        let mut all = hub.firehose();
        let contact =
            Contact { name: Some(crate::domain::PersonName::parse("Olha").expect("name")), ..Contact::default() };
        let updated = chat.update_contact(&website, session, &contact).await.expect("update");
        assert_eq!(updated.user_name.as_deref(), Some("Olha"));
        let again = chat.update_contact(&website, updated, &contact).await.expect("same again");
        assert_eq!(again.user_name.as_deref(), Some("Olha"));
        let (_, event) = all.try_recv().expect("one event");
        assert_eq!(event.kind(), EventKind::Contact);
        assert!(all.try_recv().is_err(), "details given again change nothing");
    }

    #[test]
    fn events_make_the_webhooks_of_the_reference() {
        let session = |status| crate::store::Session {
            id: "s".into(),
            website_id: "w".into(),
            account_id: "a".into(),
            customer_id: "c".into(),
            channel: crate::store::ChannelKind::Widget,
            user_session_id: "u".into(),
            token: "t".into(),
            user_name: None,
            user_phone: None,
            user_email: None,
            status,
            manager_id: Some("op".into()),
            last_seq: 0,
            bot_state: 0,
            away_sent_ms: None,
            created_ms: 0,
            updated_ms: 0,
        };
        let closed = Event::ConversationChanged {
            session: session(SessionStatus::Closed),
            change: Change::Status { from: SessionStatus::Active },
        };
        assert_eq!(webhook_of(&closed, None).map(|w| w.0), Some("conversation.closed"));
        let reopened = Event::ConversationChanged {
            session: session(SessionStatus::Active),
            change: Change::Status { from: SessionStatus::Closed },
        };
        assert!(webhook_of(&reopened, None).is_none(), "reopening is not a close");
        let assigned = Event::ConversationChanged { session: session(SessionStatus::Active), change: Change::Assigned };
        assert_eq!(webhook_of(&assigned, None).map(|w| w.0), Some("conversation.assigned"));
        let created = Event::ConversationCreated { session: session(SessionStatus::Active) };
        assert_eq!(webhook_of(&created, None).map(|w| w.0), Some("conversation.created"));
    }
}
