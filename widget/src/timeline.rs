//! The conversation as the widget shows it: stored messages in `seq` order,
//! then the visitor's messages still on their way. Every message is kept
//! once, whether it arrives by the send answer, the socket or polling.

use natter_protocol::{ChatMessage, MessageStatus, Sender};

/// One line of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub message: ChatMessage,
    /// Written here, not yet stored by the server.
    pub pending: bool,
}

/// What applying a message changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A message not seen before.
    Added,
    /// A known message changed (confirmed, or its status moved on).
    Updated,
    /// Nothing new.
    Unchanged,
}

#[derive(Debug, Default)]
pub struct Timeline {
    entries: Vec<Entry>,
    last_seq: i64,
}

impl Timeline {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Lowest stored `seq` held: where earlier messages are fetched from.
    pub fn first_seq(&self) -> Option<i64> {
        self.entries.iter().find(|e| !e.pending).map(|e| e.message.seq)
    }

    /// Highest stored `seq` seen: the resume point for the socket and polling.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Shows a message the visitor just wrote, before the server has it.
    pub fn add_pending(&mut self, echo_id: &str, text: &str, created_at: &str) {
        let message = ChatMessage {
            id: format!("pending:{echo_id}"),
            seq: 0,
            sender: Sender::User,
            message_text: text.to_owned(),
            manager_id: None,
            echo_id: Some(echo_id.to_owned()),
            status: MessageStatus::Sent,
            created_at: created_at.to_owned(),
            attachments: Vec::new(),
        };
        self.entries.push(Entry { message, pending: true });
    }

    /// Applies a stored message from any source.
    pub fn apply(&mut self, message: ChatMessage) -> Change {
        self.last_seq = self.last_seq.max(message.seq);
        if let Some(known) = self.entries.iter_mut().find(|e| !e.pending && e.message.id == message.id) {
            if message.status > known.message.status {
                known.message.status = message.status;
                return Change::Updated;
            }
            return Change::Unchanged;
        }
        let echo = message.echo_id.as_deref();
        if let Some(i) =
            self.entries.iter().position(|e| e.pending && echo.is_some() && e.message.echo_id.as_deref() == echo)
        {
            self.entries.remove(i);
            self.insert_stored(message);
            return Change::Updated;
        }
        self.insert_stored(message);
        Change::Added
    }

    /// Marks the visitor's messages up to `seq` as read or delivered.
    pub fn mark_user_messages(&mut self, up_to_seq: i64, status: MessageStatus) {
        for e in &mut self.entries {
            if !e.pending && e.message.sender == Sender::User && e.message.seq <= up_to_seq && e.message.status < status
            {
                e.message.status = status;
            }
        }
    }

    /// Removes a message the visitor wrote that the server refused for good.
    pub fn drop_pending(&mut self, echo_id: &str) {
        if let Some(i) = self.entries.iter().position(|e| e.pending && e.message.echo_id.as_deref() == Some(echo_id)) {
            self.entries.remove(i);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.last_seq = 0;
    }

    /// Stored messages stay sorted by seq, ahead of every pending one.
    fn insert_stored(&mut self, message: ChatMessage) {
        let at =
            self.entries.iter().position(|e| e.pending || e.message.seq > message.seq).unwrap_or(self.entries.len());
        self.entries.insert(at, Entry { message, pending: false });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_messages_go_before_the_ones_held() {
        let mut t = Timeline::default();
        t.add_pending("e1", "typing", "2026-01-01T00:00:00Z");
        assert_eq!(t.first_seq(), None, "nothing stored yet");
        t.apply(stored("c", 120, Sender::Manager, None));
        t.apply(stored("d", 121, Sender::User, None));
        assert_eq!(t.first_seq(), Some(120));
        t.apply(stored("a", 20, Sender::User, None));
        t.apply(stored("b", 21, Sender::Bot, None));
        let ids: Vec<&str> = t.entries().iter().map(|e| e.message.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "pending:e1"]);
        assert_eq!((t.first_seq(), t.last_seq()), (Some(20), 121));
    }

    fn stored(id: &str, seq: i64, sender: Sender, echo: Option<&str>) -> ChatMessage {
        ChatMessage {
            id: id.into(),
            seq,
            sender,
            message_text: format!("text {id}"),
            manager_id: None,
            echo_id: echo.map(Into::into),
            status: MessageStatus::Sent,
            created_at: "2024-01-20T10:30:00.000Z".into(),
            attachments: Vec::new(),
        }
    }

    fn ids(t: &Timeline) -> Vec<String> {
        t.entries().iter().map(|e| e.message.id.clone()).collect()
    }

    #[test]
    fn a_message_arriving_twice_is_shown_once() {
        let mut t = Timeline::default();
        assert_eq!(t.apply(stored("a", 1, Sender::Bot, None)), Change::Added);
        assert_eq!(t.apply(stored("a", 1, Sender::Bot, None)), Change::Unchanged);
        assert_eq!(ids(&t), ["a"]);
    }

    #[test]
    fn the_stored_copy_of_a_pending_message_replaces_it_by_echo_id() {
        let mut t = Timeline::default();
        t.add_pending("e1", "hello", "2024-01-20T10:30:00.000Z");
        assert_eq!(t.apply(stored("m1", 2, Sender::User, Some("e1"))), Change::Updated);
        assert_eq!(ids(&t), ["m1"]);
        assert!(!t.entries()[0].pending);
        assert_eq!(t.apply(stored("m1", 2, Sender::User, Some("e1"))), Change::Unchanged);
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn messages_are_ordered_by_seq_whatever_the_arrival_order() {
        let mut t = Timeline::default();
        t.apply(stored("c", 3, Sender::Manager, None));
        t.apply(stored("a", 1, Sender::Bot, None));
        t.apply(stored("b", 2, Sender::User, None));
        assert_eq!(ids(&t), ["a", "b", "c"]);
        assert_eq!(t.last_seq(), 3);
    }

    #[test]
    fn pending_messages_stay_below_stored_ones() {
        let mut t = Timeline::default();
        t.add_pending("e1", "hello", "2024-01-20T10:30:00.000Z");
        t.apply(stored("r", 5, Sender::Manager, None));
        assert_eq!(ids(&t), ["r", "pending:e1"]);
    }

    #[test]
    fn a_refused_pending_message_is_dropped_and_the_others_stay() {
        let mut t = Timeline::default();
        t.apply(stored("a", 1, Sender::Bot, None));
        t.add_pending("e1", "photo.png", "");
        t.add_pending("e2", "hello", "");
        t.drop_pending("e1");
        assert_eq!(ids(&t), ["a", "pending:e2"]);
        t.drop_pending("a");
        assert_eq!(ids(&t), ["a", "pending:e2"], "a stored message is never dropped");
    }

    #[test]
    fn a_status_only_moves_forward() {
        let mut t = Timeline::default();
        t.apply(stored("a", 1, Sender::User, None));
        let mut read = stored("a", 1, Sender::User, None);
        read.status = MessageStatus::Read;
        assert_eq!(t.apply(read), Change::Updated);
        assert_eq!(t.apply(stored("a", 1, Sender::User, None)), Change::Unchanged);
        assert_eq!(t.entries()[0].message.status, MessageStatus::Read);
    }

    #[test]
    fn marking_read_touches_only_the_visitors_messages_up_to_the_seq() {
        let mut t = Timeline::default();
        t.apply(stored("a", 1, Sender::User, None));
        t.apply(stored("b", 2, Sender::Manager, None));
        t.apply(stored("c", 3, Sender::User, None));
        t.mark_user_messages(2, MessageStatus::Read);
        let statuses: Vec<_> = t.entries().iter().map(|e| e.message.status).collect();
        assert_eq!(statuses, [MessageStatus::Read, MessageStatus::Sent, MessageStatus::Sent]);
    }
}
