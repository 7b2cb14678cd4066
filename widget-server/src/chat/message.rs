//! Messages: storing and announcing them, visitor messages (with the bot's
//! replies), operator replies, read receipts, history.

use std::sync::Arc;

use natter_protocol::Sender;

use tokio::time::Instant;

use super::throttle::Kind;
use super::{Chat, ChatError, ChatResult};
use crate::domain::{ClientKey, MessageText};
use crate::hub::{Event, HubEvent};
use crate::store::{
    bot_flags, Cursor, Message, MessagePage, NewMessage, Operator, Session, Store, StoreResult, Website,
};

/// The name shown for a message's author.
pub fn sender_name<'a>(
    website: &'a Website,
    session: &'a Session,
    sender: Sender,
    operator: Option<&'a str>,
) -> &'a str {
    match sender {
        Sender::User => session.user_name.as_deref().unwrap_or("Visitor"),
        Sender::Manager => operator.unwrap_or("Support"),
        Sender::Bot => website.settings.title.as_deref().unwrap_or(&website.name),
        Sender::System => "System",
    }
}

/// The name shown for a stored message's author, its operator looked up.
pub async fn sender_name_of(store: &dyn Store, website: &Website, session: &Session, m: &Message) -> String {
    let operator = match (m.sender, &m.manager_id) {
        (Sender::Manager, Some(id)) => store.operator_by_id(id).await.ok().flatten().map(|o| o.name),
        _ => None,
    };
    sender_name(website, session, m.sender, operator.as_deref()).to_owned()
}

/// Every message of a session, oldest first.
/// The newest messages a resuming client gets, oldest first, with whether
/// older ones exist: a session of any length resumes at the same cost, and
/// older pages are fetched on request.
pub async fn recent(store: &dyn Store, session_id: &str) -> StoreResult<MessagePage> {
    store.list_messages(session_id, Cursor::Latest, RESUME_PAGE).await
}

/// Messages a resume carries at most.
pub const RESUME_PAGE: i64 = 100;

/// The whole conversation, for an administrator's export.
pub async fn history(store: &dyn Store, session_id: &str) -> StoreResult<Vec<Message>> {
    const PAGE: i64 = 500;
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.list_messages(session_id, Cursor::AfterSeq(after), PAGE).await?;
        after = page.messages.last().map_or(after, |m| m.seq);
        all.extend(page.messages);
        if !page.has_more {
            return Ok(all);
        }
    }
}

impl Chat {
    /// Stores a message and, when it is new, announces it. Returns the
    /// message and, when it was new, the event announcing it (an `echo_id`
    /// already stored answers the stored message).
    pub(crate) async fn post(
        &self,
        session: &Session,
        message: NewMessage<'_>,
        author: &str,
    ) -> ChatResult<(Message, Option<Arc<HubEvent>>)> {
        let (stored, created) = self.store.insert_message(message).await?;
        if !created {
            return Ok((stored, None));
        }
        self.metrics.messages_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let event =
            Event::MessageCreated { session: session.clone(), message: stored.clone(), author: author.to_owned() };
        let published = self.publish(event).await;
        Ok((stored, Some(published)))
    }

    /// A visitor's message: stored once per `echo_id`, then reacted to (a
    /// closed conversation reopens, the bot replies if it has something to say).
    pub async fn visitor_message(
        &self,
        website: &Website,
        session: &Session,
        text: &MessageText,
        files: &[String],
        echo_id: Option<&ClientKey>,
    ) -> ChatResult<(Message, bool)> {
        self.check_uploads(session, files).await?;
        let new = NewMessage {
            session_id: &session.id,
            sender: Sender::User,
            body: text.as_str(),
            manager_id: None,
            echo_id: echo_id.map(ClientKey::as_str),
            attachments: files,
        };
        let (message, published) = self.post(session, new, sender_name(website, session, Sender::User, None)).await?;
        let created = published.is_some();
        if let Some(event) = published {
            self.react(website, &event.event).await?;
        }
        Ok((message, created))
    }

    /// An operator's reply.
    pub async fn operator_reply(
        &self,
        session: &Session,
        operator: &Operator,
        text: &MessageText,
        files: &[String],
    ) -> ChatResult<Message> {
        self.check_uploads(session, files).await?;
        let new = NewMessage {
            session_id: &session.id,
            sender: Sender::Manager,
            body: text.as_str(),
            manager_id: Some(&operator.id),
            echo_id: None,
            attachments: files,
        };
        // A person answers: the AI stops in this conversation.
        if session.bot_state & bot_flags::AI_OFF == 0 {
            self.store.set_bot_flags(&session.id, bot_flags::AI_OFF).await?;
        }
        Ok(self.post(session, new, &operator.name).await?.0)
    }

    /// Refuses files that are not uploads of `session` still waiting to be sent.
    async fn check_uploads(&self, session: &Session, files: &[String]) -> ChatResult<()> {
        if files.len() > crate::files::MAX_FILES {
            return Err(ChatError::Attachments(format!("at most {} files a message", crate::files::MAX_FILES)));
        }
        let mut seen = std::collections::HashSet::new();
        for id in files {
            if !seen.insert(id.as_str()) {
                return Err(ChatError::Attachments(format!("the file {id} is named twice")));
            }
            match self.store.attachment_by_id(id).await? {
                Some(a) if a.session_id == session.id && a.message_id.is_none() => {}
                Some(a) if a.session_id == session.id => {
                    return Err(ChatError::Attachments(format!("the file {id} was sent already")));
                }
                _ => return Err(ChatError::Attachments(format!("no upload {id} in this conversation"))),
            }
        }
        Ok(())
    }

    /// Marks messages up to `seq` read (those to the visitor when
    /// `by_visitor`, else the visitor's own) and announces each that changed.
    pub async fn mark_read(
        &self,
        website: &Website,
        session: &Session,
        up_to_seq: i64,
        by_visitor: bool,
    ) -> ChatResult<usize> {
        let changed = self.store.mark_read(&session.id, up_to_seq, by_visitor).await?;
        for m in &changed {
            let author = sender_name(website, session, m.sender, None).to_owned();
            self.publish(Event::MessageUpdated { session: session.clone(), message: m.clone(), author }).await;
        }
        Ok(changed.len())
    }

    /// A socket's read receipt, written at most once a second per session:
    /// `Some(at)` defers it; call again at `at` with the newest seq by then.
    pub async fn seen_throttled(
        &self,
        website: &Website,
        session: &Session,
        up_to_seq: i64,
        by_visitor: bool,
    ) -> ChatResult<Option<Instant>> {
        match self.throttle.admit(&session.id, Kind::Seen, Instant::now()) {
            Ok(()) => self.mark_read(website, session, up_to_seq, by_visitor).await.map(|_| None),
            Err(at) => Ok(Some(at)),
        }
    }
}
