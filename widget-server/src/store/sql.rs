//! `SqlStore`: the `Store` on SQLite (a file in WAL mode, one writer
//! connection, several readers) or PostgreSQL. The SQL is portable, so each
//! query is written once and run through whichever pool is configured.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::{MessageStatus, Sender, SessionStatus};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::{
    Account, ConversationFilter, ConversationRow, Cursor, Customer, Delivery, Identity, Message, MessagePage,
    NewMessage, Operator, OutboxItem, Session, Stats, Store, StoreError, StoreResult, Webhook, Website,
};
use crate::time::now_ms;

enum Pools {
    Sqlite { write: SqlitePool, read: SqlitePool },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the read or write pool of whichever database is configured.
macro_rules! on {
    ($self:ident . $which:ident, $pool:ident => $body:expr) => {
        match &$self.pools {
            Pools::Sqlite { $which: $pool, .. } => $body,
            Pools::Postgres($pool) => $body,
        }
    };
}

mod writer;

/// What a committed SQLite transaction survives (PostgreSQL follows its own
/// `synchronous_commit`). Both run in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: the WAL is synced at every commit (once per
    /// group-committed batch), so an acknowledged message survives a power
    /// loss or an operating-system crash too.
    #[default]
    PowerLoss,
    /// `synchronous = NORMAL`: the WAL is synced only at checkpoints; an
    /// acknowledged message survives the server process being killed, but
    /// the newest ones may be lost if the machine loses power.
    ProcessCrash,
}

/// The SQL store.
pub struct SqlStore {
    pools: Pools,
    writer: writer::Writer,
    /// Sessions' committed last seq, where this process is the only writer (SQLite).
    hints: Option<Arc<writer::SeqHints>>,
}

/// Writer tasks on PostgreSQL (SQLite has one writer connection, so one task).
const PG_WRITERS: usize = 4;

const SESSION_COLS: &str =
    "id, website_id, account_id, customer_id, user_session_id, token, user_name, user_phone, user_email, status, \
    manager_id, last_seq, bot_state, away_sent_ms, created_ms, updated_ms";
const MESSAGE_COLS: &str = "id, session_id, seq, sender, body, manager_id, echo_id, status, created_ms";
const WEBSITE_COLS: &str = "id, account_id, name, token, api_secret, origins, settings, legacy_mode, created_ms";
const OPERATOR_COLS: &str = "id, account_id, email, name, password_hash, role, created_ms, token_version";

#[derive(sqlx::FromRow)]
struct WebsiteRow {
    id: String,
    account_id: String,
    name: String,
    token: String,
    api_secret: String,
    origins: String,
    settings: String,
    legacy_mode: bool,
    created_ms: i64,
}

impl TryFrom<WebsiteRow> for Website {
    type Error = StoreError;
    fn try_from(r: WebsiteRow) -> StoreResult<Self> {
        Ok(Self {
            origins: serde_json::from_str(&r.origins).map_err(|e| StoreError::Corrupt(format!("origins: {e}")))?,
            settings: serde_json::from_str(&r.settings).map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?,
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            token: r.token,
            api_secret: r.api_secret,
            legacy_mode: r.legacy_mode,
            created_ms: r.created_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    website_id: String,
    account_id: String,
    customer_id: String,
    user_session_id: String,
    token: String,
    user_name: Option<String>,
    user_phone: Option<String>,
    user_email: Option<String>,
    status: String,
    manager_id: Option<String>,
    last_seq: i64,
    bot_state: i64,
    away_sent_ms: Option<i64>,
    created_ms: i64,
    updated_ms: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> StoreResult<Self> {
        Ok(Self {
            status: SessionStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {}", r.status)))?,
            id: r.id,
            website_id: r.website_id,
            account_id: r.account_id,
            customer_id: r.customer_id,
            user_session_id: r.user_session_id,
            token: r.token,
            user_name: r.user_name,
            user_phone: r.user_phone,
            user_email: r.user_email,
            manager_id: r.manager_id,
            last_seq: r.last_seq,
            bot_state: r.bot_state,
            away_sent_ms: r.away_sent_ms,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    session_id: String,
    seq: i64,
    sender: String,
    body: String,
    manager_id: Option<String>,
    echo_id: Option<String>,
    status: String,
    created_ms: i64,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;
    fn try_from(r: MessageRow) -> StoreResult<Self> {
        Ok(Self {
            sender: Sender::parse(&r.sender).ok_or_else(|| StoreError::Corrupt(format!("sender {}", r.sender)))?,
            status: MessageStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {}", r.status)))?,
            id: r.id,
            session_id: r.session_id,
            seq: r.seq,
            body: r.body,
            manager_id: r.manager_id,
            echo_id: r.echo_id,
            created_ms: r.created_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OperatorRow {
    id: String,
    account_id: String,
    email: String,
    name: String,
    password_hash: String,
    role: String,
    created_ms: i64,
    token_version: i64,
}

impl From<OperatorRow> for Operator {
    fn from(r: OperatorRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            email: r.email,
            name: r.name,
            password_hash: r.password_hash,
            role: r.role,
            created_ms: r.created_ms,
            token_version: r.token_version,
        }
    }
}

const WEBHOOK_COLS: &str = "id, account_id, url, events, secret, active, created_ms";
const DELIVERY_COLS: &str = "id, webhook_id, event, attempt, status_code, success, error, created_ms";

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    account_id: String,
    url: String,
    events: String,
    secret: String,
    active: bool,
    created_ms: i64,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(r: WebhookRow) -> StoreResult<Self> {
        Ok(Self {
            events: serde_json::from_str(&r.events).map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?,
            id: r.id,
            account_id: r.account_id,
            url: r.url,
            secret: r.secret,
            active: r.active,
            created_ms: r.created_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    webhook_id: String,
    event: String,
    attempt: i64,
    status_code: Option<i64>,
    success: bool,
    error: Option<String>,
    created_ms: i64,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Self {
            id: r.id,
            webhook_id: r.webhook_id,
            event: r.event,
            attempt: r.attempt,
            status_code: r.status_code,
            success: r.success,
            error: r.error,
            created_ms: r.created_ms,
        }
    }
}

const CUSTOMER_COLS: &str = "id, account_id, external_id, name, phone, email, metadata, created_ms, updated_ms";

#[derive(sqlx::FromRow)]
struct CustomerRow {
    id: String,
    account_id: String,
    external_id: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    metadata: String,
    created_ms: i64,
    updated_ms: i64,
}

impl TryFrom<CustomerRow> for Customer {
    type Error = StoreError;
    fn try_from(r: CustomerRow) -> StoreResult<Self> {
        Ok(Self {
            metadata: serde_json::from_str(&r.metadata).map_err(|e| StoreError::Corrupt(format!("metadata: {e}")))?,
            id: r.id,
            account_id: r.account_id,
            external_id: r.external_id,
            name: r.name,
            phone: r.phone,
            email: r.email,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        })
    }
}

const OUTBOX_COLS: &str = "id, webhook_id, event, body, attempt, next_ms";

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: String,
    webhook_id: String,
    event: String,
    body: String,
    attempt: i64,
    next_ms: i64,
}

impl From<OutboxRow> for OutboxItem {
    fn from(r: OutboxRow) -> Self {
        Self {
            id: r.id,
            webhook_id: r.webhook_id,
            event: r.event,
            body: r.body,
            attempt: r.attempt,
            next_ms: r.next_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ConversationSqlRow {
    #[sqlx(flatten)]
    session: SessionRow,
    last_body: Option<String>,
    last_ms: Option<i64>,
}

fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

impl SqlStore {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and runs the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, Durability::default()).await
    }

    /// [`SqlStore::connect`] with a chosen SQLite durability.
    pub async fn connect_with(url: &str, durability: Durability) -> StoreResult<Self> {
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool =
                PgPoolOptions::new().max_connections(32).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Pools::Postgres(pool)
        } else {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match durability {
                    Durability::PowerLoss => SqliteSynchronous::Full,
                    Durability::ProcessCrash => SqliteSynchronous::Normal,
                })
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            // An SQLite connection is a file in this process and cannot drop
            // away, so the pools skip the ping sqlx sends before each use.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(opts.clone())
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&write).await?;
            let read_opts = SqliteConnectOptions::from_str(url)?.read_only(true).busy_timeout(Duration::from_secs(10));
            let read =
                SqlitePoolOptions::new().max_connections(8).test_before_acquire(false).connect_with(read_opts).await?;
            Pools::Sqlite { write, read }
        };
        let (pool, tasks, hints) = match &pools {
            Pools::Sqlite { write, .. } => {
                (writer::WritePool::Sqlite(write.clone()), 1, Some(Arc::new(writer::SeqHints::default())))
            }
            Pools::Postgres(pool) => (writer::WritePool::Postgres(pool.clone()), PG_WRITERS, None),
        };
        Ok(Self { pools, writer: writer::Writer::start(pool, tasks, hints.clone()), hints })
    }

    async fn session_where(&self, clause: &str, a: &str, b: Option<&str>) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE {clause}");
        let row: Option<SessionRow> = on!(self.read, pool => {
            let q = sqlx::query_as(&sql).bind(a);
            let q = match b { Some(b) => q.bind(b), None => q };
            q.fetch_optional(pool).await?
        });
        let session = row.map(Session::try_from).transpose()?;
        if let (Some(hints), Some(s)) = (&self.hints, &session) {
            hints.note(&s.id, s.last_seq);
        }
        Ok(session)
    }

    async fn website_where(&self, clause: &str, arg: &str) -> StoreResult<Option<Website>> {
        let sql = format!("SELECT {WEBSITE_COLS} FROM websites WHERE {clause}");
        let row: Option<WebsiteRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(arg).fetch_optional(pool).await?);
        row.map(Website::try_from).transpose()
    }

    async fn operator_where(&self, clause: &str, arg: &str) -> StoreResult<Option<Operator>> {
        let sql = format!("SELECT {OPERATOR_COLS} FROM operators WHERE {clause}");
        let row: Option<OperatorRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(arg).fetch_optional(pool).await?);
        Ok(row.map(Operator::from))
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    fn kind(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite { .. } => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    async fn create_website(&self, w: &Website) -> StoreResult<()> {
        let origins = serde_json::to_string(&w.origins).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let settings = serde_json::to_string(&w.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = format!("INSERT INTO websites ({WEBSITE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&w.id).bind(&w.account_id).bind(&w.name).bind(&w.token).bind(&w.api_secret)
            .bind(&origins).bind(&settings).bind(w.legacy_mode).bind(w.created_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn update_website(&self, w: &Website) -> StoreResult<()> {
        let origins = serde_json::to_string(&w.origins).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let settings = serde_json::to_string(&w.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on!(self.write, pool => sqlx::query("UPDATE websites SET name = $2, origins = $3, settings = $4, legacy_mode = $5 WHERE id = $1")
            .bind(&w.id).bind(&w.name).bind(&origins).bind(&settings).bind(w.legacy_mode)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn website_by_token(&self, token: &str) -> StoreResult<Option<Website>> {
        self.website_where("token = $1", token).await
    }

    async fn website_by_id(&self, id: &str) -> StoreResult<Option<Website>> {
        self.website_where("id = $1", id).await
    }

    async fn list_websites(&self, account_id: Option<&str>) -> StoreResult<Vec<Website>> {
        let sql = format!(
            "SELECT {WEBSITE_COLS} FROM websites WHERE ($1 IS NULL OR account_id = $1) ORDER BY created_ms, id"
        );
        let rows: Vec<WebsiteRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        convert(rows)
    }

    async fn create_account(&self, a: &Account) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3)")
            .bind(&a.id).bind(&a.name).bind(a.created_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let rows: Vec<(String, String, i64)> = on!(self.read, pool =>
            sqlx::query_as("SELECT id, name, created_ms FROM accounts ORDER BY created_ms, id").fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(id, name, created_ms)| Account { id, name, created_ms }).collect())
    }

    async fn create_or_get_session(&self, s: &Session) -> StoreResult<(Session, bool)> {
        let insert_customer =
            format!("INSERT INTO customers ({CUSTOMER_COLS}) VALUES ($1, $2, NULL, $3, $4, $5, '{{}}', $6, $6)");
        let insert_session = format!(
            "INSERT INTO sessions ({SESSION_COLS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (website_id, user_session_id) DO NOTHING"
        );
        let select = format!("SELECT {SESSION_COLS} FROM sessions WHERE website_id = $1 AND user_session_id = $2");
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(&insert_customer)
                .bind(&s.customer_id).bind(&s.account_id).bind(&s.user_name).bind(&s.user_phone).bind(&s.user_email)
                .bind(s.created_ms)
                .execute(&mut *tx).await?;
            let inserted = sqlx::query(&insert_session)
                .bind(&s.id).bind(&s.website_id).bind(&s.account_id).bind(&s.customer_id).bind(&s.user_session_id)
                .bind(&s.token).bind(&s.user_name).bind(&s.user_phone).bind(&s.user_email).bind(s.status.as_str())
                .bind(&s.manager_id).bind(s.last_seq).bind(s.bot_state).bind(s.away_sent_ms)
                .bind(s.created_ms).bind(s.updated_ms)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if inserted {
                let row: SessionRow =
                    sqlx::query_as(&select).bind(&s.website_id).bind(&s.user_session_id).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok((Session::try_from(row)?, true))
            } else {
                tx.rollback().await?;
                let row: SessionRow =
                    sqlx::query_as(&select).bind(&s.website_id).bind(&s.user_session_id).fetch_one(pool).await?;
                Ok((Session::try_from(row)?, false))
            }
        })
    }

    async fn session_by_id(&self, id: &str) -> StoreResult<Option<Session>> {
        self.session_where("id = $1", id, None).await
    }

    async fn session_by_user_session_id(&self, website_id: &str, usid: &str) -> StoreResult<Option<Session>> {
        self.session_where("website_id = $1 AND user_session_id = $2", website_id, Some(usid)).await
    }

    async fn session_by_token(&self, token: &str) -> StoreResult<Option<Session>> {
        self.session_where("token = $1", token, None).await
    }

    async fn update_contact(
        &self,
        session_id: &str,
        name: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> StoreResult<Session> {
        let sql = format!(
            "UPDATE sessions SET user_name = COALESCE($2, user_name), user_phone = COALESCE($3, user_phone), \
             user_email = COALESCE($4, user_email), updated_ms = $5 WHERE id = $1 RETURNING {SESSION_COLS}"
        );
        let row: SessionRow = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let row: SessionRow = sqlx::query_as(&sql)
                .bind(session_id).bind(name).bind(phone).bind(email).bind(now_ms())
                .fetch_one(&mut *tx).await?;
            sqlx::query(
                "UPDATE customers SET name = COALESCE($2, name), phone = COALESCE($3, phone), \
                 email = COALESCE($4, email), updated_ms = $5 WHERE id = $1",
            )
            .bind(&row.customer_id).bind(name).bind(phone).bind(email).bind(now_ms())
            .execute(&mut *tx).await?;
            tx.commit().await?;
            row
        });
        Session::try_from(row)
    }

    async fn set_session_status(&self, session_id: &str, status: SessionStatus) -> StoreResult<Option<Session>> {
        let sql = format!(
            "UPDATE sessions SET status = $2, updated_ms = $3, \
             closed_ms = CASE WHEN $2 = 'active' THEN NULL ELSE $3 END WHERE id = $1 RETURNING {SESSION_COLS}"
        );
        let row: Option<SessionRow> = on!(self.write, pool => sqlx::query_as(&sql)
            .bind(session_id).bind(status.as_str()).bind(now_ms()).fetch_optional(pool).await?);
        row.map(Session::try_from).transpose()
    }

    async fn assign_session(&self, session_id: &str, manager_id: Option<&str>) -> StoreResult<Option<Session>> {
        let sql =
            format!("UPDATE sessions SET manager_id = $2, updated_ms = $3 WHERE id = $1 RETURNING {SESSION_COLS}");
        let row: Option<SessionRow> = on!(self.write, pool => sqlx::query_as(&sql)
            .bind(session_id).bind(manager_id).bind(now_ms()).fetch_optional(pool).await?);
        row.map(Session::try_from).transpose()
    }

    async fn set_bot_flags(&self, session_id: &str, flags: i64) -> StoreResult<i64> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let before: i64 = sqlx::query_scalar("SELECT bot_state FROM sessions WHERE id = $1")
                .bind(session_id).fetch_one(&mut *tx).await?;
            let added = flags & !before;
            if added != 0 {
                sqlx::query("UPDATE sessions SET bot_state = $2 WHERE id = $1")
                    .bind(session_id).bind(before | flags).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    async fn set_away_sent(&self, session_id: &str, at_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE sessions SET away_sent_ms = $2 WHERE id = $1")
            .bind(session_id).bind(at_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn insert_message(&self, m: NewMessage<'_>) -> StoreResult<(Message, bool)> {
        self.writer.insert(m).await
    }

    fn seq_hint(&self, session_id: &str) -> Option<i64> {
        self.hints.as_ref()?.get(session_id)
    }

    async fn list_messages(&self, session_id: &str, cursor: Cursor, limit: i64) -> StoreResult<MessagePage> {
        let (clause, order, arg) = match cursor {
            Cursor::Latest => ("", "DESC", None),
            Cursor::AfterSeq(seq) => ("AND seq > $2", "ASC", Some(seq)),
            Cursor::AfterTime(ms) => ("AND created_ms > $2", "ASC", Some(ms)),
            Cursor::BeforeSeq(seq) => ("AND seq < $2", "DESC", Some(seq)),
            Cursor::BeforeTime(ms) => ("AND created_ms < $2", "DESC", Some(ms)),
        };
        let limit_param = if arg.is_some() { "$3" } else { "$2" };
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE session_id = $1 {clause} ORDER BY seq {order} LIMIT {limit_param}"
        );
        let rows: Vec<MessageRow> = on!(self.read, pool => {
            let q = sqlx::query_as(&sql).bind(session_id);
            let q = match arg { Some(a) => q.bind(a), None => q };
            q.bind(limit + 1).fetch_all(pool).await?
        });
        let mut messages: Vec<Message> = convert(rows)?;
        let has_more = messages.len() as i64 > limit;
        messages.truncate(usize::try_from(limit).unwrap_or(0));
        if order == "DESC" {
            messages.reverse();
        }
        Ok(MessagePage { messages, has_more })
    }

    async fn message_by_id(&self, session_id: &str, id: &str) -> StoreResult<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE session_id = $1 AND id = $2");
        let row: Option<MessageRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(session_id).bind(id).fetch_optional(pool).await?);
        row.map(Message::try_from).transpose()
    }

    async fn mark_read(&self, session_id: &str, up_to_seq: i64, by_visitor: bool) -> StoreResult<Vec<Message>> {
        let whose = if by_visitor { "sender <> 'user'" } else { "sender = 'user'" };
        let sql = format!(
            "UPDATE messages SET status = 'read' WHERE session_id = $1 AND seq <= $2 AND {whose} \
             AND status <> 'read' RETURNING {MESSAGE_COLS}"
        );
        let rows: Vec<MessageRow> =
            on!(self.write, pool => sqlx::query_as(&sql).bind(session_id).bind(up_to_seq).fetch_all(pool).await?);
        let mut messages: Vec<Message> = convert(rows)?;
        messages.sort_by_key(|m| m.seq);
        Ok(messages)
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> StoreResult<(Vec<ConversationRow>, i64)> {
        let mut clauses = vec!["account_id = $1".to_owned()];
        let mut args: Vec<String> = vec![f.account_id.clone()];
        if !f.statuses.is_empty() {
            let marks: Vec<String> = f
                .statuses
                .iter()
                .map(|s| {
                    args.push(s.as_str().to_owned());
                    format!("${}", args.len())
                })
                .collect();
            clauses.push(format!("status IN ({})", marks.join(", ")));
        }
        if let Some(op) = &f.assigned_to {
            args.push(op.clone());
            clauses.push(format!("manager_id = ${}", args.len()));
        }
        let filter = format!("WHERE {}", clauses.join(" AND "));
        let count_sql = format!("SELECT COUNT(*) FROM sessions {filter}");
        let page_sql = format!(
            "SELECT {SESSION_COLS}, \
             (SELECT body FROM messages m WHERE m.session_id = sessions.id ORDER BY seq DESC LIMIT 1) AS last_body, \
             (SELECT created_ms FROM messages m WHERE m.session_id = sessions.id ORDER BY seq DESC LIMIT 1) AS last_ms \
             FROM sessions {filter} ORDER BY updated_ms DESC, id LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let (total, rows): (i64, Vec<ConversationSqlRow>) = on!(self.read, pool => {
            let mut count = sqlx::query_scalar(&count_sql);
            let mut page = sqlx::query_as(&page_sql);
            for a in &args {
                count = count.bind(a);
                page = page.bind(a);
            }
            (count.fetch_one(pool).await?, page.bind(f.limit).bind(f.offset).fetch_all(pool).await?)
        });
        let rows = rows
            .into_iter()
            .map(|r| {
                Ok(ConversationRow {
                    session: Session::try_from(r.session)?,
                    last_body: r.last_body,
                    last_ms: r.last_ms,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rows, total))
    }

    async fn customer_by_id(&self, id: &str) -> StoreResult<Option<Customer>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1");
        let row: Option<CustomerRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(Customer::try_from).transpose()
    }

    async fn list_customers(&self, account_id: &str, offset: i64, limit: i64) -> StoreResult<(Vec<Customer>, i64)> {
        let sql = format!(
            "SELECT {CUSTOMER_COLS} FROM customers WHERE account_id = $1 ORDER BY updated_ms DESC, id LIMIT $2 OFFSET $3"
        );
        let (total, rows): (i64, Vec<CustomerRow>) = on!(self.read, pool => (
            sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE account_id = $1").bind(account_id).fetch_one(pool).await?,
            sqlx::query_as(&sql).bind(account_id).bind(limit).bind(offset).fetch_all(pool).await?,
        ));
        Ok((convert(rows)?, total))
    }

    async fn sessions_of_customer(&self, customer_id: &str) -> StoreResult<Vec<Session>> {
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE customer_id = $1 ORDER BY created_ms, id");
        let rows: Vec<SessionRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(customer_id).fetch_all(pool).await?);
        convert(rows)
    }

    async fn identify(&self, session: &Session, who: &Identity<'_>) -> StoreResult<Customer> {
        let metadata = who.metadata.map(serde_json::Value::to_string);
        let find = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE account_id = $1 AND external_id = $2");
        let update = format!(
            "UPDATE customers SET external_id = $2, name = COALESCE($3, name), email = COALESCE($4, email), \
             metadata = COALESCE($5, metadata), updated_ms = $6 WHERE id = $1 RETURNING {CUSTOMER_COLS}"
        );
        let now = now_ms();
        let row: CustomerRow = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let known: Option<CustomerRow> =
                sqlx::query_as(&find).bind(&session.account_id).bind(who.external_id).fetch_optional(&mut *tx).await?;
            let target = known.map_or_else(|| session.customer_id.clone(), |c| c.id);
            if target != session.customer_id {
                sqlx::query("UPDATE sessions SET customer_id = $2 WHERE id = $1")
                    .bind(&session.id).bind(&target).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM customers WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM sessions WHERE customer_id = $1)")
                    .bind(&session.customer_id).execute(&mut *tx).await?;
            }
            let row: CustomerRow = sqlx::query_as(&update)
                .bind(&target).bind(who.external_id).bind(who.name).bind(who.email).bind(&metadata).bind(now)
                .fetch_one(&mut *tx).await?;
            tx.commit().await?;
            row
        });
        Customer::try_from(row)
    }

    async fn delete_customer(&self, id: &str) -> StoreResult<bool> {
        let n = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE customer_id = $1)")
                .bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM sessions WHERE customer_id = $1").bind(id).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM customers WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }

    async fn stats(&self, account_id: &str, from_ms: i64, to_ms: i64) -> StoreResult<Stats> {
        const COUNTS: &str = "SELECT COUNT(*), \
            COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), \
            COALESCE(SUM(CASE WHEN status = 'active' THEN 0 ELSE 1 END), 0) \
            FROM sessions WHERE account_id = $3 AND created_ms >= $1 AND created_ms < $2";
        const RESPONSE: &str = "SELECT CAST(AVG(fm.t - fu.t) AS DOUBLE PRECISION) FROM \
            (SELECT m.session_id, MIN(m.created_ms) AS t FROM messages m JOIN sessions s ON s.id = m.session_id \
             WHERE s.account_id = $3 AND m.sender = 'user' GROUP BY m.session_id) fu \
            JOIN (SELECT m.session_id, MIN(m.created_ms) AS t FROM messages m \
                  JOIN (SELECT session_id, MIN(created_ms) AS first_user FROM messages WHERE sender = 'user' GROUP BY session_id) u \
                  ON u.session_id = m.session_id \
                  WHERE m.sender = 'manager' AND m.created_ms >= u.first_user GROUP BY m.session_id) fm \
            ON fm.session_id = fu.session_id WHERE fu.t >= $1 AND fu.t < $2";
        const RESOLUTION: &str = "SELECT CAST(AVG(closed_ms - created_ms) AS DOUBLE PRECISION) FROM sessions \
            WHERE account_id = $3 AND closed_ms IS NOT NULL AND closed_ms >= $1 AND closed_ms < $2";
        const MESSAGES: &str = "SELECT m.sender, COUNT(*) FROM messages m JOIN sessions s ON s.id = m.session_id \
            WHERE s.account_id = $3 AND m.created_ms >= $1 AND m.created_ms < $2 GROUP BY m.sender";
        on!(self.read, pool => {
            let (conversations, open, closed): (i64, i64, i64) =
                sqlx::query_as(COUNTS).bind(from_ms).bind(to_ms).bind(account_id).fetch_one(pool).await?;
            let avg_response_ms: Option<f64> =
                sqlx::query_scalar(RESPONSE).bind(from_ms).bind(to_ms).bind(account_id).fetch_one(pool).await?;
            let avg_resolution_ms: Option<f64> =
                sqlx::query_scalar(RESOLUTION).bind(from_ms).bind(to_ms).bind(account_id).fetch_one(pool).await?;
            let messages: Vec<(String, i64)> =
                sqlx::query_as(MESSAGES).bind(from_ms).bind(to_ms).bind(account_id).fetch_all(pool).await?;
            Ok(Stats { conversations, open, closed, avg_response_ms, avg_resolution_ms, messages })
        })
    }

    async fn create_operator(&self, o: &Operator) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO operators ({OPERATOR_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
        );
        let n = on!(self.write, pool => sqlx::query(&sql)
            .bind(&o.id).bind(&o.account_id).bind(&o.email).bind(&o.name).bind(&o.password_hash).bind(&o.role).bind(o.created_ms).bind(o.token_version)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    async fn operator_by_email(&self, email: &str) -> StoreResult<Option<Operator>> {
        self.operator_where("email = $1", email).await
    }

    async fn operator_by_id(&self, id: &str) -> StoreResult<Option<Operator>> {
        self.operator_where("id = $1", id).await
    }

    async fn count_operators(&self) -> StoreResult<i64> {
        Ok(on!(self.read, pool => sqlx::query_scalar("SELECT COUNT(*) FROM operators").fetch_one(pool).await?))
    }

    async fn list_operators(&self, account_id: &str) -> StoreResult<Vec<Operator>> {
        let sql = format!("SELECT {OPERATOR_COLS} FROM operators WHERE account_id = $1 ORDER BY created_ms, id");
        let rows: Vec<OperatorRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Operator::from).collect())
    }

    async fn set_operator_role(&self, id: &str, role: &str) -> StoreResult<Option<Operator>> {
        let sql = format!("UPDATE operators SET role = $2 WHERE id = $1 RETURNING {OPERATOR_COLS}");
        let row: Option<OperatorRow> =
            on!(self.write, pool => sqlx::query_as(&sql).bind(id).bind(role).fetch_optional(pool).await?);
        Ok(row.map(Operator::from))
    }

    async fn revoke_operator_tokens(&self, id: &str) -> StoreResult<()> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE operators SET token_version = token_version + 1 WHERE id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("UPDATE refresh_tokens SET used = TRUE WHERE operator_id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn store_refresh_token(&self, token_hash: &str, operator_id: &str, expires_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("INSERT INTO refresh_tokens (token_hash, operator_id, expires_ms) VALUES ($1, $2, $3)")
            .bind(token_hash).bind(operator_id).bind(expires_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn use_refresh_token(&self, token_hash: &str, now_ms: i64) -> StoreResult<Option<String>> {
        Ok(on!(self.write, pool => sqlx::query_scalar(
            "UPDATE refresh_tokens SET used = TRUE WHERE token_hash = $1 AND used = FALSE AND expires_ms > $2 RETURNING operator_id",
        )
        .bind(token_hash).bind(now_ms).fetch_optional(pool).await?))
    }

    async fn save_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let events = serde_json::to_string(&w.events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = format!(
            "INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
             url = excluded.url, events = excluded.events, secret = excluded.secret, active = excluded.active"
        );
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&w.id).bind(&w.account_id).bind(&w.url).bind(&events).bind(&w.secret).bind(w.active).bind(w.created_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn webhook_by_id(&self, id: &str) -> StoreResult<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = $1");
        let row: Option<WebhookRow> = on!(self.read, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(Webhook::try_from).transpose()
    }

    async fn list_webhooks(&self, account_id: &str) -> StoreResult<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE account_id = $1 ORDER BY created_ms, id");
        let rows: Vec<WebhookRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        convert(rows)
    }

    async fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        let n = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM webhook_outbox WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }

    async fn record_delivery(&self, d: &Delivery) -> StoreResult<()> {
        let sql = format!("INSERT INTO webhook_deliveries ({DELIVERY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&d.id).bind(&d.webhook_id).bind(&d.event).bind(d.attempt).bind(d.status_code)
            .bind(d.success).bind(&d.error).bind(d.created_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn list_deliveries(&self, webhook_id: &str, limit: i64) -> StoreResult<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_ms DESC, attempt DESC LIMIT $2"
        );
        let rows: Vec<DeliveryRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(webhook_id).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Delivery::from).collect())
    }

    async fn prune_deliveries(&self, before_ms: i64) -> StoreResult<u64> {
        Ok(on!(self.write, pool => sqlx::query("DELETE FROM webhook_deliveries WHERE created_ms < $1")
            .bind(before_ms).execute(pool).await?.rows_affected()))
    }

    async fn enqueue_webhook_events(&self, items: &[OutboxItem]) -> StoreResult<()> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            for i in items {
                sqlx::query(&format!("INSERT INTO webhook_outbox ({OUTBOX_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"))
                    .bind(&i.id).bind(&i.webhook_id).bind(&i.event).bind(&i.body).bind(i.attempt).bind(i.next_ms)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn claim_webhook_events(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<OutboxItem>> {
        // The outer `next_ms <= $1` is checked again on each row after any
        // lock wait, so two instances never claim the same row.
        let sql = format!(
            "UPDATE webhook_outbox SET next_ms = $2 WHERE next_ms <= $1 AND id IN \
             (SELECT id FROM webhook_outbox WHERE next_ms <= $1 ORDER BY next_ms LIMIT $3) RETURNING {OUTBOX_COLS}"
        );
        let rows: Vec<OutboxRow> = on!(self.write, pool => sqlx::query_as(&sql)
            .bind(now_ms).bind(lease_until_ms).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(OutboxItem::from).collect())
    }

    async fn reschedule_webhook_event(&self, id: &str, attempt: i64, next_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE webhook_outbox SET attempt = $2, next_ms = $3 WHERE id = $1")
            .bind(id).bind(attempt).bind(next_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn finish_webhook_event(&self, id: &str) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("DELETE FROM webhook_outbox WHERE id = $1")
            .bind(id).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            on!(self.read, pool => sqlx::query_scalar("SELECT value FROM kv WHERE key = $1").bind(key).fetch_optional(pool).await?),
        )
    }

    async fn kv_set_once(&self, key: &str, value: &str) -> StoreResult<String> {
        on!(self.write, pool => {
            sqlx::query("INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(key).bind(value).execute(pool).await?;
            Ok(sqlx::query_scalar("SELECT value FROM kv WHERE key = $1").bind(key).fetch_one(pool).await?)
        })
    }
}
