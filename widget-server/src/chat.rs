//! Chat operations shared by the public API, `/ws` and the operator API:
//! storing a message and announcing it, marking messages read, history.

use natter_protocol::{Sender, SessionStatus};

use crate::error::{AppError, AppResult};
use crate::hub::{Event, HubEvent};
use crate::store::{Cursor, Message, NewMessage, Session, Store, StoreResult, Website};
use crate::AppState;

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

/// Stores a message and, when it is new, sends `message.created` to the
/// session's subscribers. Returns the message and whether it was new.
pub async fn post_message(
    state: &AppState,
    session: &Session,
    message: NewMessage<'_>,
    sender_name: &str,
) -> AppResult<(Message, bool)> {
    let (stored, created) = state.store.insert_message(message).await?;
    if created {
        state.metrics.messages_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let event = match stored.sender {
            Sender::User => Some("message.received"),
            Sender::Manager => Some("message.sent"),
            Sender::Bot | Sender::System => None,
        };
        if let Some(event) = event {
            let message = serde_json::json!({
                "id": stored.id, "content": stored.body, "sender": stored.sender,
                "sender_id": stored.manager_id, "created_at": crate::time::iso(stored.created_ms),
            });
            state
                .webhooks
                .emit(
                    &session.account_id,
                    event,
                    serde_json::json!({ "conversation_id": session.id, "message": message }),
                )
                .await;
        }
        let event =
            Event::MessageCreated { session: session.clone(), message: stored.clone(), author: sender_name.to_owned() };
        state.hub.publish(session, HubEvent::new(event));
    }
    Ok((stored, created))
}

/// Marks messages up to `seq` read (those to the visitor when `by_visitor`,
/// else the visitor's own) and sends `message.updated` for each that changed.
pub async fn mark_read(
    state: &AppState,
    website: &Website,
    session: &Session,
    up_to_seq: i64,
    by_visitor: bool,
) -> AppResult<usize> {
    let changed = state.store.mark_read(&session.id, up_to_seq, by_visitor).await?;
    for m in &changed {
        let name = sender_name(website, session, m.sender, None);
        let event = Event::MessageUpdated { session: session.clone(), message: m.clone(), author: name.to_owned() };
        state.hub.publish(session, HubEvent::new(event));
    }
    Ok(changed.len())
}

/// Sets a session's status and sends `conversation.status_changed`.
pub async fn change_status(state: &AppState, session: &Session, status: SessionStatus) -> AppResult<Session> {
    let updated = state
        .store
        .set_session_status(&session.id, status)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no conversation {}", session.id)))?;
    state.hub.publish(&updated, HubEvent::new(Event::ConversationChanged { session: updated.clone() }));
    if status != SessionStatus::Active && session.status == SessionStatus::Active {
        state
            .webhooks
            .emit(
                &updated.account_id,
                "conversation.closed",
                serde_json::json!({ "conversation_id": updated.id, "status": status }),
            )
            .await;
    }
    Ok(updated)
}

/// Every message of a session, oldest first.
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
