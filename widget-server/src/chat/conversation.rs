//! A conversation's status, assignee and typing indicators.

use natter_protocol::ws::TypingUser;
use natter_protocol::{Sender, SessionStatus};
use tokio::time::Instant;

use super::throttle::Kind;
use super::{Chat, ChatError, ChatResult};
use crate::hub::{Change, Event};
use crate::store::{NewMessage, Operator, Session};

impl Chat {
    /// Sets a session's status and announces it.
    pub async fn change_status(&self, session: &Session, status: SessionStatus) -> ChatResult<Session> {
        let updated = self
            .store
            .set_session_status(&session.id, status)
            .await?
            .ok_or_else(|| ChatError::NotFound(format!("no conversation {}", session.id)))?;
        let change = Change::Status { from: session.status };
        self.publish(Event::ConversationChanged { session: updated.clone(), change }).await;
        Ok(updated)
    }

    /// An operator closes or reopens a conversation: when the status
    /// changes, a system note in the conversation tells the visitor too.
    pub async fn set_status_by(
        &self,
        session: &Session,
        operator: &Operator,
        status: SessionStatus,
    ) -> ChatResult<Session> {
        if session.status == status {
            return Ok(session.clone());
        }
        let updated = self.change_status(session, status).await?;
        let verb = if status == SessionStatus::Active { "reopened" } else { "closed" };
        let note = format!("{} {verb} the conversation", operator.name);
        let new = NewMessage {
            session_id: &session.id,
            sender: Sender::System,
            body: &note,
            manager_id: Some(&operator.id),
            echo_id: None,
            attachments: &[],
        };
        self.post(&updated, new, "System").await?;
        Ok(updated)
    }

    /// Assigns an operator (or nobody) and announces it.
    pub async fn assign(&self, session: &Session, operator_id: Option<&str>) -> ChatResult<Session> {
        let updated = self
            .store
            .assign_session(&session.id, operator_id)
            .await?
            .ok_or_else(|| ChatError::NotFound(format!("no conversation {}", session.id)))?;
        self.publish(Event::ConversationChanged { session: updated.clone(), change: Change::Assigned }).await;
        Ok(updated)
    }

    /// Shows or hides someone typing.
    pub async fn typing(&self, session: &Session, on: bool, user: TypingUser) {
        self.publish(Event::Typing { session: session.clone(), on, user }).await;
    }

    /// A socket's typing state, relayed at most once a second per session:
    /// `Some(at)` defers it; call again at `at` with the state by then.
    pub async fn typing_throttled(&self, session: &Session, on: bool, user: TypingUser) -> Option<Instant> {
        match self.throttle.admit(&session.id, Kind::Typing, Instant::now()) {
            Ok(()) => {
                self.typing(session, on, user).await;
                None
            }
            Err(at) => Some(at),
        }
    }

    /// Sets how one participant of a room feels about another, records it
    /// in the room's feed and tells the room's graph streams.
    pub async fn set_relationship(
        &self,
        session: &Session,
        edge: &crate::store::RoomEdge,
        event: &crate::store::RoomEvent,
    ) -> ChatResult<()> {
        self.store.set_room_edge(&session.id, edge, event).await?;
        let update = Event::EdgeUpdated {
            session: session.clone(),
            from: edge.from.clone(),
            to: edge.to.clone(),
            sympathy: edge.sympathy,
        };
        self.publish(update).await;
        Ok(())
    }
}
