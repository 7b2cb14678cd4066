//! The message writer: group commit. Every message goes through a channel to
//! writer tasks that take whatever is waiting (up to [`MAX_BATCH`]) and store
//! it in one transaction of a few statements, whatever the batch size: the
//! echo check, one `UPDATE … FROM (VALUES …)` that allocates seq numbers and
//! timestamps for every session in the batch, and one multi-row `INSERT`.
//! A request is answered only after its transaction committed.
//!
//! SQLite has one writer connection, so one task serves it. PostgreSQL runs
//! a few tasks; each first locks its batch's session rows in id order, so
//! batches touching one session serialise (no seq holes, no duplicate
//! `echo_id`) and batches cannot deadlock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use natter_protocol::{MessageStatus, Sender};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::attachments::{AttachmentRow, ATTACHMENT_COLS};
use super::{MessageRow, MESSAGE_COLS};
use crate::store::{Attachment, Message, NewMessage, StoreError, StoreResult};
use crate::time::now_ms;

/// Messages committed in one transaction at most.
const MAX_BATCH: usize = 256;
/// Messages waiting for a writer before senders wait for room.
const QUEUE: usize = 4096;
/// Sessions whose last seq is remembered before the memory is cleared.
const MAX_HINTS: usize = 200_000;

/// Where the writer writes.
#[derive(Clone)]
pub(super) enum WritePool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A message to store, owned so it can wait in the queue.
struct Owned {
    session_id: String,
    sender: Sender,
    body: String,
    manager_id: Option<String>,
    echo_id: Option<String>,
    /// Uploads of the session it claims.
    attachments: Vec<String>,
}

struct Job {
    message: Owned,
    reply: oneshot::Sender<StoreResult<(Message, bool)>>,
}

/// The committed last seq of sessions this process wrote or read, for
/// answering empty polls without the database. Only kept where this process
/// is the only writer (SQLite).
#[derive(Debug, Default)]
pub(super) struct SeqHints(Mutex<HashMap<String, i64>>);

impl SeqHints {
    /// Notes that `seq` is committed in `session_id` (a lower bound; the highest note wins).
    pub(super) fn note(&self, session_id: &str, seq: i64) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_HINTS && !map.contains_key(session_id) {
            map.clear();
        }
        let entry = map.entry(session_id.to_owned()).or_insert(seq);
        *entry = (*entry).max(seq);
    }

    pub(super) fn get(&self, session_id: &str) -> Option<i64> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(session_id).copied()
    }

    /// Forgets a deleted session.
    pub(super) fn forget(&self, session_id: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(session_id);
    }
}

/// The sending side of the writer.
pub(super) struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts `tasks` writer tasks on `pool`; committed seqs are noted in `hints`.
    pub(super) fn start(pool: WritePool, tasks: usize, hints: Option<Arc<SeqHints>>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            tokio::spawn(run(pool.clone(), Arc::clone(&rx), hints.clone()));
        }
        Self { tx }
    }

    /// Stores a message (see [`crate::store::Store::insert_message`]) once its batch committed.
    pub(super) async fn insert(&self, m: NewMessage<'_>) -> StoreResult<(Message, bool)> {
        let message = Owned {
            session_id: m.session_id.to_owned(),
            sender: m.sender,
            body: m.body.to_owned(),
            manager_id: m.manager_id.map(str::to_owned),
            echo_id: m.echo_id.map(str::to_owned),
            attachments: m.attachments.to_vec(),
        };
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Corrupt("the message writer has stopped".into());
        self.tx.send(Job { message, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(pool: WritePool, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>, hints: Option<Arc<SeqHints>>) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            jobs.push(first);
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        let batch: Vec<&Owned> = jobs.iter().map(|j| &j.message).collect();
        match commit(&pool, &batch).await {
            Ok(stored) => finish(jobs, stored, hints.as_deref()),
            Err(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            // One bad message (say, of a session erased meanwhile) must not fail
            // the others: each is tried on its own.
            Err(_) => {
                for job in jobs {
                    let result = commit(&pool, &[&job.message]).await;
                    match result {
                        Ok(stored) => finish(vec![job], stored, hints.as_deref()),
                        Err(e) => {
                            let _ = job.reply.send(Err(e));
                        }
                    }
                }
            }
        }
    }
}

fn finish(jobs: Vec<Job>, stored: Vec<(Message, bool)>, hints: Option<&SeqHints>) {
    if let Some(hints) = hints {
        for (m, _) in &stored {
            hints.note(&m.session_id, m.seq);
        }
    }
    for (job, result) in jobs.into_iter().zip(stored) {
        let _ = job.reply.send(Ok(result));
    }
}

/// What happens to one message of a batch.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    /// Its `echo_id` is already stored: that message is the answer.
    Existing(Message),
    /// The same `echo_id` appears earlier in the batch: that one's result.
    SameAs(usize),
    /// Store it.
    Insert,
}

/// Decides per message, given the stored messages with the batch's echo ids.
fn plan(batch: &[&Owned], stored: &[Message]) -> Vec<Plan> {
    let mut first: HashMap<(&str, &str), usize> = HashMap::new();
    batch
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let Some(echo) = m.echo_id.as_deref() else { return Plan::Insert };
            let key = (m.session_id.as_str(), echo);
            if let Some(found) = stored.iter().find(|s| s.session_id == key.0 && s.echo_id.as_deref() == Some(echo)) {
                return Plan::Existing(found.clone());
            }
            match first.get(&key) {
                Some(&j) => Plan::SameAs(j),
                None => {
                    first.insert(key, i);
                    Plan::Insert
                }
            }
        })
        .collect()
}

/// How many messages each session of the batch gets, in order of first appearance.
fn counts<'a>(batch: &[&'a Owned], plans: &[Plan]) -> Vec<(&'a str, i64)> {
    let mut out: Vec<(&str, i64)> = Vec::new();
    for (m, p) in batch.iter().zip(plans) {
        if *p != Plan::Insert {
            continue;
        }
        match out.iter_mut().find(|(s, _)| *s == m.session_id) {
            Some((_, n)) => *n += 1,
            None => out.push((m.session_id.as_str(), 1)),
        }
    }
    out
}

/// `$from, $from+1, …` for `n` placeholders.
fn marks(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Seq numbers and timestamps of the inserted messages, from each session's
/// new `(last_seq, last_created_ms)` and the batch's counts.
fn assign(
    batch: &[&Owned],
    plans: &[Plan],
    tops: &HashMap<String, (i64, i64)>,
    ids: &[String],
) -> StoreResult<Vec<Message>> {
    let mut used: HashMap<&str, i64> = HashMap::new();
    let mut counts_left: HashMap<&str, i64> = HashMap::new();
    for (m, p) in batch.iter().zip(plans) {
        if *p == Plan::Insert {
            *counts_left.entry(m.session_id.as_str()).or_insert(0) += 1;
        }
    }
    let mut out = Vec::new();
    for ((m, p), id) in batch.iter().zip(plans).zip(ids) {
        if *p != Plan::Insert {
            continue;
        }
        let &(last_seq, last_created) =
            tops.get(&m.session_id).ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
        let n = counts_left.get(m.session_id.as_str()).copied().unwrap_or(1);
        let k = used.entry(m.session_id.as_str()).or_insert(0);
        out.push(Message {
            id: id.clone(),
            session_id: m.session_id.clone(),
            seq: last_seq - n + 1 + *k,
            sender: m.sender,
            body: m.body.clone(),
            manager_id: m.manager_id.clone(),
            echo_id: m.echo_id.clone(),
            status: MessageStatus::Sent,
            created_ms: last_created - n + 1 + *k,
            attachments: Vec::new(),
        });
        *k += 1;
    }
    Ok(out)
}

/// Stores a batch in one transaction; returns each message's result in order.
async fn commit(pool: &WritePool, batch: &[&Owned]) -> StoreResult<Vec<(Message, bool)>> {
    let now = now_ms();
    // Time-ordered ids keep the id index appending instead of writing all over it.
    let ids: Vec<String> = batch.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let mut sessions: Vec<&str> = batch.iter().map(|m| m.session_id.as_str()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    let echoes: Vec<(&str, &str)> =
        batch.iter().filter_map(|m| Some((m.session_id.as_str(), m.echo_id.as_deref()?))).collect();
    let echo_sql = (!echoes.is_empty()).then(|| {
        let tests: Vec<String> =
            (0..echoes.len()).map(|i| format!("(session_id = ${} AND echo_id = ${})", 2 * i + 1, 2 * i + 2)).collect();
        format!("SELECT {MESSAGE_COLS} FROM messages WHERE {}", tests.join(" OR "))
    });
    let lock_sql = format!("SELECT id FROM sessions WHERE id IN ({}) ORDER BY id FOR UPDATE", marks(1, sessions.len()));

    // The same statements on either database; `$pg` adds the row locks.
    macro_rules! write {
        ($pool:expr, $pg:expr) => {{
            let mut tx = $pool.begin().await?;
            if $pg {
                let mut q = sqlx::query(&lock_sql);
                for s in &sessions {
                    q = q.bind(*s);
                }
                q.fetch_all(&mut *tx).await?;
            }
            let mut stored: Vec<Message> = Vec::new();
            if let Some(sql) = &echo_sql {
                let mut q = sqlx::query_as::<_, MessageRow>(sql);
                for (s, e) in &echoes {
                    q = q.bind(*s).bind(*e);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    stored.push(Message::try_from(row)?);
                }
            }
            let plans = plan(batch, &stored);
            let counts = counts(batch, &plans);
            let mut inserted = Vec::new();
            if !counts.is_empty() {
                let values: Vec<String> = (0..counts.len())
                    .map(|i| format!("(CAST(${} AS TEXT), CAST(${} AS BIGINT))", 2 * i + 2, 2 * i + 3))
                    .collect();
                let update = format!(
                    "UPDATE sessions SET last_seq = sessions.last_seq + v.column2, \
                     last_created_ms = (CASE WHEN CAST($1 AS BIGINT) > sessions.last_created_ms THEN CAST($1 AS BIGINT) \
                     ELSE sessions.last_created_ms + 1 END) + v.column2 - 1, updated_ms = CAST($1 AS BIGINT) \
                     FROM (VALUES {}) AS v WHERE sessions.id = v.column1 \
                     RETURNING sessions.id, sessions.last_seq, sessions.last_created_ms",
                    values.join(", ")
                );
                let mut q = sqlx::query_as::<_, (String, i64, i64)>(&update).bind(now);
                for (s, n) in &counts {
                    q = q.bind(*s).bind(*n);
                }
                let tops: HashMap<String, (i64, i64)> =
                    q.fetch_all(&mut *tx).await?.into_iter().map(|(id, seq, at)| (id, (seq, at))).collect();
                inserted = assign(batch, &plans, &tops, &ids)?;
                let rows: Vec<String> =
                    (0..inserted.len()).map(|i| format!("({}, 'sent', ${})", marks(8 * i + 1, 7), 8 * i + 8)).collect();
                let insert = format!("INSERT INTO messages ({MESSAGE_COLS}) VALUES {}", rows.join(", "));
                let mut q = sqlx::query(&insert);
                for m in &inserted {
                    q = q
                        .bind(&m.id)
                        .bind(&m.session_id)
                        .bind(m.seq)
                        .bind(m.sender.as_str())
                        .bind(&m.body)
                        .bind(&m.manager_id)
                        .bind(&m.echo_id)
                        .bind(m.created_ms);
                }
                q.execute(&mut *tx).await?;
                // Each message claims its uploads; one already sent, of
                // another session or gone fails the batch (then the message alone).
                let claims = batch.iter().zip(&plans).filter(|(_, p)| **p == Plan::Insert).map(|(m, _)| m);
                for (m, owned) in inserted.iter_mut().zip(claims) {
                    if owned.attachments.is_empty() {
                        continue;
                    }
                    let sql = format!(
                        "UPDATE attachments SET message_id = $1 WHERE session_id = $2 AND message_id IS NULL \
                         AND id IN ({}) RETURNING {ATTACHMENT_COLS}",
                        marks(3, owned.attachments.len())
                    );
                    let mut q = sqlx::query_as::<_, AttachmentRow>(&sql).bind(&m.id).bind(&m.session_id);
                    for id in &owned.attachments {
                        q = q.bind(id);
                    }
                    let mut claimed: Vec<Attachment> =
                        q.fetch_all(&mut *tx).await?.into_iter().map(Attachment::try_from).collect::<StoreResult<_>>()?;
                    if claimed.len() != owned.attachments.len() {
                        return Err(StoreError::Corrupt("an attachment of the message is unknown or already sent".into()));
                    }
                    claimed.sort_by(|a, b| a.id.cmp(&b.id));
                    m.attachments = claimed;
                }
            }
            tx.commit().await?;
            let mut fresh = inserted.into_iter();
            let mut results: Vec<(Message, bool)> = Vec::with_capacity(batch.len());
            for p in &plans {
                let result = match p {
                    Plan::Existing(m) => (m.clone(), false),
                    Plan::SameAs(j) => (results[*j].0.clone(), false),
                    Plan::Insert => (fresh.next().ok_or_else(|| StoreError::Corrupt("batch lost a message".into()))?, true),
                };
                results.push(result);
            }
            Ok(results)
        }};
    }
    match pool {
        WritePool::Sqlite(pool) => write!(pool, false),
        WritePool::Postgres(pool) => write!(pool, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(session: &str, echo: Option<&str>) -> Owned {
        Owned {
            session_id: session.into(),
            sender: Sender::User,
            body: "hi".into(),
            manager_id: None,
            echo_id: echo.map(str::to_owned),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_repeated_echo_id_in_one_batch_is_stored_once() {
        let (a, b, c) = (owned("s", Some("e1")), owned("s", Some("e1")), owned("s", None));
        let plans = plan(&[&a, &b, &c], &[]);
        assert_eq!(plans, [Plan::Insert, Plan::SameAs(0), Plan::Insert]);
    }

    #[test]
    fn an_echo_id_already_stored_is_answered_with_the_stored_message() {
        let a = owned("s", Some("e1"));
        let stored = Message {
            id: "m".into(),
            session_id: "s".into(),
            seq: 3,
            sender: Sender::User,
            body: "hi".into(),
            manager_id: None,
            echo_id: Some("e1".into()),
            status: MessageStatus::Sent,
            created_ms: 5,
            attachments: Vec::new(),
        };
        assert_eq!(plan(&[&a], std::slice::from_ref(&stored)), [Plan::Existing(stored)]);
    }

    #[test]
    fn seqs_and_times_of_one_session_follow_each_other_in_arrival_order() {
        let (a, b, c) = (owned("s", None), owned("t", None), owned("s", None));
        let batch = [&a, &b, &c];
        let plans = plan(&batch, &[]);
        assert_eq!(counts(&batch, &plans), [("s", 2), ("t", 1)]);
        let tops = HashMap::from([("s".to_owned(), (12, 1_000)), ("t".to_owned(), (4, 2_000))]);
        let ids: Vec<String> = ["1", "2", "3"].map(String::from).to_vec();
        let out = assign(&batch, &plans, &tops, &ids).expect("assigned");
        let got: Vec<(&str, i64, i64)> = out.iter().map(|m| (m.session_id.as_str(), m.seq, m.created_ms)).collect();
        assert_eq!(got, [("s", 11, 999), ("t", 4, 2_000), ("s", 12, 1_000)]);
    }

    #[test]
    fn a_session_missing_from_the_update_fails_the_batch() {
        let a = owned("gone", None);
        let plans = plan(&[&a], &[]);
        assert!(assign(&[&a], &plans, &HashMap::new(), &["1".to_owned()]).is_err());
    }

    #[test]
    fn hints_keep_the_highest_seq() {
        let hints = SeqHints::default();
        hints.note("s", 5);
        hints.note("s", 3);
        assert_eq!(hints.get("s"), Some(5));
        assert_eq!(hints.get("t"), None, "unknown sessions have no hint");
    }
}
