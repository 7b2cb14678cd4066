//! Messages the visitor sent that the server has not confirmed yet. They
//! leave one at a time, in order, always with the `echoId` they were given,
//! so a retry after a lost answer is stored once by the server.

use std::collections::VecDeque;

/// A message waiting for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub echo_id: String,
    pub text: String,
}

/// First in, first out; at most one message in flight.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<Outgoing>,
    in_flight: bool,
}

impl Outbox {
    pub fn push(&mut self, echo_id: impl Into<String>, text: impl Into<String>) {
        self.queue.push_back(Outgoing { echo_id: echo_id.into(), text: text.into() });
    }

    /// The next message to send, unless one is already on its way.
    #[must_use]
    pub fn take_next(&mut self) -> Option<Outgoing> {
        if self.in_flight {
            return None;
        }
        let next = self.queue.front().cloned()?;
        self.in_flight = true;
        Some(next)
    }

    /// The server stored the message with this `echoId`.
    pub fn delivered(&mut self, echo_id: &str) {
        if self.queue.front().is_some_and(|m| m.echo_id == echo_id) {
            self.queue.pop_front();
            self.in_flight = false;
        }
    }

    /// The send failed (offline, server error): the message stays first in line.
    pub fn failed(&mut self) {
        self.in_flight = false;
    }

    /// The server refused the message for good (too long, invalid): drop it.
    pub fn rejected(&mut self, echo_id: &str) {
        self.delivered(echo_id);
    }

    /// The `echoId` of the message on its way, if one is.
    pub fn in_flight(&self) -> Option<String> {
        self.queue.front().filter(|_| self.in_flight).map(|m| m.echo_id.clone())
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn clear(&mut self) {
        self.queue.clear();
        self.in_flight = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(texts: &[&str]) -> Outbox {
        let mut o = Outbox::default();
        for (i, t) in texts.iter().enumerate() {
            o.push(format!("e{i}"), *t);
        }
        o
    }

    #[test]
    fn messages_leave_in_the_order_they_were_written() {
        let mut o = outbox(&["one", "two", "three"]);
        let mut sent = Vec::new();
        while let Some(m) = o.take_next() {
            sent.push(m.text.clone());
            o.delivered(&m.echo_id);
        }
        assert_eq!(sent, ["one", "two", "three"]);
        assert!(o.is_empty());
    }

    #[test]
    fn only_one_message_is_in_flight_at_a_time() {
        let mut o = outbox(&["one", "two"]);
        assert!(o.take_next().is_some());
        assert_eq!(o.take_next(), None);
    }

    #[test]
    fn a_failed_send_is_retried_with_the_same_echo_id() {
        let mut o = outbox(&["one", "two"]);
        let first = o.take_next().expect("first");
        o.failed();
        let retry = o.take_next().expect("retry");
        assert_eq!(retry, first);
        assert_eq!(o.len(), 2);
    }

    #[test]
    fn messages_written_offline_are_all_kept_until_delivered() {
        let mut o = outbox(&["one"]);
        let m = o.take_next().expect("first");
        o.failed();
        o.push("e9", "written offline");
        assert_eq!(o.len(), 2);
        o.delivered(&m.echo_id);
        assert_eq!(o.take_next().map(|m| m.text), Some("written offline".into()));
    }

    #[test]
    fn a_confirmation_for_another_message_removes_nothing() {
        let mut o = outbox(&["one"]);
        let _ = o.take_next();
        o.delivered("someone-else");
        assert_eq!(o.len(), 1);
    }
}
