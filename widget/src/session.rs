//! The visitor's session as remembered between page loads: one record per
//! website token, written only once the visitor has opened the widget or sent.

use serde::{Deserialize, Serialize};

use crate::storage::{KeyValue, StorageError};

/// What is kept between page loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    pub user_session_id: String,
    pub session_id: String,
    pub token: String,
    pub last_seq: i64,
}

/// The session record of one website, over any [`KeyValue`] storage.
#[derive(Debug)]
pub struct SessionStore<S> {
    storage: S,
    key: String,
    /// Whether the visitor has opened or sent; nothing is written before.
    engaged: bool,
    current: Option<StoredSession>,
}

/// The storage key for a website: tokens of different websites never share a record.
pub fn storage_key(website_token: &str) -> String {
    format!("natter:{website_token}")
}

impl<S: KeyValue> SessionStore<S> {
    /// Reads the stored record, if any. A record proves the visitor engaged on
    /// an earlier visit; an unreadable one is ignored.
    pub fn open(storage: S, website_token: &str) -> Self {
        let key = storage_key(website_token);
        let current = read(&storage, &key);
        Self { storage, key, engaged: current.is_some(), current }
    }

    /// Reads the record again when none is held: another tab of the same
    /// visitor may have started the session since this one opened.
    pub fn reload(&mut self) {
        if self.current.is_none() {
            self.current = read(&self.storage, &self.key);
            self.engaged |= self.current.is_some();
        }
    }

    pub fn current(&self) -> Option<&StoredSession> {
        self.current.as_ref()
    }

    pub fn is_engaged(&self) -> bool {
        self.engaged
    }

    /// The visitor opened the widget or sent a message: from now on the record is kept.
    pub fn engage(&mut self) -> Result<(), StorageError> {
        if self.engaged {
            return Ok(());
        }
        self.engaged = true;
        self.write()
    }

    /// Replaces the record (a new or resumed session).
    pub fn set(&mut self, session: StoredSession) -> Result<(), StorageError> {
        self.current = Some(session);
        self.write()
    }

    /// Moves `lastSeq` forward; an older seq changes nothing.
    pub fn advance(&mut self, seq: i64) -> Result<(), StorageError> {
        match &mut self.current {
            Some(s) if seq > s.last_seq => s.last_seq = seq,
            _ => return Ok(()),
        }
        self.write()
    }

    /// Forgets the session (the `reset` command).
    pub fn clear(&mut self) -> Result<(), StorageError> {
        self.current = None;
        self.engaged = false;
        let _ = self.storage.remove(&self.rated_key());
        self.storage.remove(&self.key)
    }

    /// Whether the visitor rated the current session (kept beside the
    /// record, so a reload does not ask again).
    pub fn is_rated(&self) -> bool {
        let rated = self.storage.get(&self.rated_key()).ok().flatten();
        self.current.as_ref().is_some_and(|s| rated.as_deref() == Some(s.session_id.as_str()))
    }

    /// The visitor rated the current session.
    pub fn mark_rated(&mut self) -> Result<(), StorageError> {
        match &self.current {
            Some(s) => self.storage.set(&self.rated_key(), &s.session_id),
            None => Ok(()),
        }
    }

    fn rated_key(&self) -> String {
        format!("{}:rated", self.key)
    }

    fn write(&self) -> Result<(), StorageError> {
        match (&self.current, self.engaged) {
            (Some(s), true) => self.storage.set(&self.key, &encode(s)?),
            _ => Ok(()),
        }
    }
}

/// The stored record, if there is a readable one.
fn read(storage: &impl KeyValue, key: &str) -> Option<StoredSession> {
    storage.get(key).ok().flatten().and_then(|raw| decode(&raw))
}

// In the browser the record goes through the browser's JSON, so no JSON
// library is compiled into the widget; the text is the same either way.
#[cfg(not(target_arch = "wasm32"))]
fn decode(raw: &str) -> Option<StoredSession> {
    serde_json::from_str(raw).ok()
}

#[cfg(not(target_arch = "wasm32"))]
fn encode(s: &StoredSession) -> Result<String, StorageError> {
    serde_json::to_string(s).map_err(|e| StorageError(e.to_string()))
}

#[cfg(target_arch = "wasm32")]
fn decode(raw: &str) -> Option<StoredSession> {
    crate::web::json::read_stored_session(raw)
}

#[cfg(target_arch = "wasm32")]
#[allow(clippy::unnecessary_wraps)]
fn encode(s: &StoredSession) -> Result<String, StorageError> {
    Ok(crate::web::json::stored_session(s))
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::storage::MemoryStorage;

    fn record(seq: i64) -> StoredSession {
        StoredSession { user_session_id: "u1".into(), session_id: "s1".into(), token: "t1".into(), last_seq: seq }
    }

    #[test]
    fn nothing_is_written_before_the_visitor_engages() {
        let storage = Rc::new(MemoryStorage::default());
        let mut store = SessionStore::open(Rc::clone(&storage), "site");
        store.set(record(1)).expect("set");
        store.advance(5).expect("advance");
        assert_eq!(storage.writes(), 0);
        assert_eq!(store.current().map(|s| s.last_seq), Some(5));
    }

    #[test]
    fn engaging_writes_the_record_and_later_changes_follow() {
        let storage = Rc::new(MemoryStorage::default());
        let mut store = SessionStore::open(Rc::clone(&storage), "site");
        store.set(record(1)).expect("set");
        store.engage().expect("engage");
        store.advance(7).expect("advance");
        let again = SessionStore::open(Rc::clone(&storage), "site");
        assert_eq!(again.current(), Some(&record(7)));
        assert!(again.is_engaged());
    }

    #[test]
    fn records_are_namespaced_by_website_token() {
        let storage = Rc::new(MemoryStorage::default());
        let mut store = SessionStore::open(Rc::clone(&storage), "site-a");
        store.engage().expect("engage");
        store.set(record(1)).expect("set");
        assert_eq!(storage.keys(), vec![storage_key("site-a")]);
        assert!(SessionStore::open(Rc::clone(&storage), "site-b").current().is_none());
    }

    #[test]
    fn the_record_keeps_the_wire_field_names() {
        let raw = serde_json::to_string(&record(3)).expect("json");
        assert_eq!(raw, r#"{"userSessionId":"u1","sessionId":"s1","token":"t1","lastSeq":3}"#);
    }

    #[test]
    fn a_session_another_tab_started_is_picked_up_and_a_held_one_kept() {
        let storage = Rc::new(MemoryStorage::default());
        let mut this_tab = SessionStore::open(Rc::clone(&storage), "site");
        let mut other_tab = SessionStore::open(Rc::clone(&storage), "site");
        other_tab.engage().expect("engage");
        other_tab.set(record(4)).expect("set");
        assert_eq!(this_tab.current(), None);
        this_tab.reload();
        assert_eq!(this_tab.current(), Some(&record(4)));
        assert!(this_tab.is_engaged(), "the visitor engaged, in the other tab");
        other_tab.advance(9).expect("advance");
        this_tab.reload();
        assert_eq!(this_tab.current().map(|s| s.last_seq), Some(4), "a held record is not read again");
    }

    #[test]
    fn last_seq_never_moves_backwards() {
        let mut store = SessionStore::open(MemoryStorage::default(), "site");
        store.set(record(9)).expect("set");
        store.advance(4).expect("advance");
        assert_eq!(store.current().map(|s| s.last_seq), Some(9));
    }

    #[test]
    fn a_corrupt_record_is_ignored() {
        let storage = Rc::new(MemoryStorage::default());
        storage.set(&storage_key("site"), "{not json").expect("set");
        let store = SessionStore::open(Rc::clone(&storage), "site");
        assert!(store.current().is_none());
        assert!(!store.is_engaged());
    }

    #[test]
    fn clearing_removes_the_record() {
        let storage = Rc::new(MemoryStorage::default());
        let mut store = SessionStore::open(Rc::clone(&storage), "site");
        store.engage().expect("engage");
        store.set(record(1)).expect("set");
        store.clear().expect("clear");
        assert!(storage.keys().is_empty());
        assert!(store.current().is_none());
    }
}
