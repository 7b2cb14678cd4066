//! Delivery receipts, written in batches: a message that reaches the other
//! side's socket or poll is noted here (the highest seq per session and side
//! wins), and every [`FLUSH_EVERY`] one transaction marks what was noted
//! `delivered`. A conversation busy with a thousand messages a second costs
//! one statement per flush, not one per message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::store::{DeliveryMark, Website};

/// How often what was noted is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Sessions noted before a flush starts early.
const MAX_PENDING: usize = 10_000;

/// What one session's sides received since the last flush.
#[derive(Debug, Clone)]
pub struct Noted {
    pub session_id: String,
    pub website: Arc<Website>,
    /// Highest seq of a message to the visitor that reached them (0: none).
    pub to_visitor: i64,
    /// Highest seq of the visitor's own messages that reached an operator (0: none).
    pub from_visitor: i64,
}

impl Noted {
    /// The marks to write for this session.
    pub fn marks(&self) -> impl Iterator<Item = DeliveryMark> + '_ {
        [(self.to_visitor, true), (self.from_visitor, false)]
            .into_iter()
            .filter(|(seq, _)| *seq > 0)
            .map(|(up_to_seq, to_visitor)| DeliveryMark { session_id: self.session_id.clone(), up_to_seq, to_visitor })
    }
}

/// Receipts noted and not yet written.
#[derive(Debug, Default)]
pub struct Batch {
    noted: Mutex<HashMap<String, Noted>>,
    full: Notify,
    /// Held by a flush from taking the batch until its events are out, so a
    /// flush that returns has nothing of an earlier one still on its way.
    pub flushing: tokio::sync::Mutex<()>,
}

impl Batch {
    /// Notes that messages of a session up to `seq` reached the visitor
    /// (`to_visitor`) or an operator.
    pub fn note(&self, website: &Arc<Website>, session_id: &str, seq: i64, to_visitor: bool) {
        let mut noted = self.noted.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = noted.entry(session_id.to_owned()).or_insert_with(|| Noted {
            session_id: session_id.to_owned(),
            website: Arc::clone(website),
            to_visitor: 0,
            from_visitor: 0,
        });
        let side = if to_visitor { &mut entry.to_visitor } else { &mut entry.from_visitor };
        *side = (*side).max(seq);
        if noted.len() >= MAX_PENDING {
            self.full.notify_one();
        }
    }

    /// Everything noted so far, leaving the batch empty.
    pub fn take(&self) -> HashMap<String, Noted> {
        std::mem::take(&mut *self.noted.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Resolves when the batch is full enough to write before its time.
    pub async fn filled(&self) {
        self.full.notified().await;
    }
}
