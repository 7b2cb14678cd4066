//! Opening, announcing and identifying a visitor's session.

use natter_protocol::SessionStatus;

use super::{Chat, ChatResult};
use crate::bot;
use crate::domain::{random_token, Email, PersonName, Phone};
use crate::hub::{Change, Event};
use crate::store::{Session, Website};
use crate::time::now_ms;

/// Contact details a visitor gave, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contact {
    pub name: Option<PersonName>,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.email.is_none()
    }

    /// Whether storing these details would change `session`.
    fn changes(&self, session: &Session) -> bool {
        self.name.as_ref().is_some_and(|n| session.user_name.as_deref() != Some(n.as_str()))
            || self.phone.as_ref().is_some_and(|p| session.user_phone.as_deref() != Some(p.as_str()))
            || self.email.as_ref().is_some_and(|e| session.user_email.as_deref() != Some(e.as_str()))
    }
}

impl Chat {
    /// The session of `user_session_id`, created (with its greeting) when
    /// there is none; `true` when it was created. A new session is announced
    /// with [`Chat::announce`] once the caller's whole use case is done, so
    /// the announcement carries what the visitor gave with it.
    pub async fn open_session(&self, website: &Website, user_session_id: &str) -> ChatResult<(Session, bool)> {
        if let Some(s) = self.store.session_by_user_session_id(&website.id, user_session_id).await? {
            return Ok((s, false));
        }
        let now = now_ms();
        let fresh = Session {
            id: uuid::Uuid::new_v4().to_string(),
            website_id: website.id.clone(),
            account_id: website.account_id.clone(),
            customer_id: uuid::Uuid::new_v4().to_string(),
            channel: website.kind,
            user_session_id: user_session_id.to_owned(),
            token: random_token(),
            user_name: None,
            user_phone: None,
            user_email: None,
            status: SessionStatus::Active,
            manager_id: None,
            last_seq: 0,
            bot_state: 0,
            away_sent_ms: None,
            created_ms: now,
            updated_ms: now,
        };
        let (session, created) = self.store.create_or_get_session(&fresh).await?;
        if created {
            tracing::info!(session = %session.id, website = %website.id, "session created");
            bot::on_session_created(self, website, &session).await?;
        }
        Ok((session, created))
    }

    /// Tells operators and webhooks about a new conversation, as it stands.
    pub async fn announce(&self, session: &Session) {
        self.publish(Event::ConversationCreated { session: session.clone() }).await;
    }

    /// Stores the contact details that change the session, announces them,
    /// and reacts to them (the bot's "connecting" reply).
    pub async fn update_contact(&self, website: &Website, session: Session, contact: &Contact) -> ChatResult<Session> {
        if !contact.changes(&session) {
            return Ok(session);
        }
        let session = self
            .store
            .update_contact(
                &session.id,
                contact.name.as_ref().map(PersonName::as_str),
                contact.phone.as_ref().map(Phone::as_str),
                contact.email.as_ref().map(Email::as_str),
            )
            .await?;
        let event =
            self.publish(Event::ConversationChanged { session: session.clone(), change: Change::Contact }).await;
        self.react(website, &event.event).await?;
        Ok(session)
    }
}
