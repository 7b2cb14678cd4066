//! `SqlStore`: the store traits on SQLite (a file in WAL mode, one writer
//! connection, several readers) or PostgreSQL. The SQL is portable, so each
//! query is written once and run through whichever pool is configured.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::{MessageStatus, Sender, SessionStatus};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::prelude::*;
use super::{
    Account, AccountUsage, AiReply, AiSettingsRecord, ApiKey, ChannelKind, ChannelSend, ConversationFilter,
    ConversationRow, Cursor, Customer, Delivery, DeliveryMark, ExportRow, Identity, KnowledgeDocument, KnowledgeHit,
    Message, MessagePage, NewMessage, Operator, OutboxItem, Rating, RefreshUse, RoomEdge, RoomEvent, SeriesBucket,
    Session, Stats, StoreError, StoreResult, TwoFactor, Webhook, Website,
};
use crate::seal::Sealer;
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

mod accounts;
mod attachments;
mod channels;
mod customers;
mod database;
mod knowledge;
mod messages;
mod operators;
mod sessions;
mod webhooks;
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
    /// Seals third-party secrets; set once by [`SqlStore::seal_secrets_with`].
    sealer: std::sync::OnceLock<Sealer>,
}

/// Writer tasks on PostgreSQL (SQLite has one writer connection, so one task).
const PG_WRITERS: usize = 4;

const SESSION_COLS: &str =
    "id, website_id, account_id, customer_id, channel, user_session_id, token, user_name, user_phone, user_email, status, \
    manager_id, last_seq, bot_state, away_sent_ms, created_ms, updated_ms";
const MESSAGE_COLS: &str = "id, session_id, seq, sender, body, manager_id, echo_id, status, created_ms";
const WEBSITE_COLS: &str =
    "id, account_id, name, token, api_secret, origins, settings, legacy_mode, created_ms, kind, config, secrets";
const OPERATOR_COLS: &str =
    "id, account_id, email, name, password_hash, role, created_ms, token_version, departments, availability";

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
    kind: String,
    config: String,
    secrets: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    website_id: String,
    account_id: String,
    customer_id: String,
    channel: String,
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
            channel: ChannelKind::parse(&r.channel)
                .ok_or_else(|| StoreError::Corrupt(format!("channel {}", r.channel)))?,
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
            attachments: Vec::new(),
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
    departments: String,
    availability: String,
}

const API_KEY_COLS: &str = "id, account_id, operator_id, name, role, prefix, created_ms, last_used_ms";

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: String,
    account_id: String,
    operator_id: String,
    name: String,
    role: String,
    prefix: String,
    created_ms: i64,
    last_used_ms: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            operator_id: r.operator_id,
            name: r.name,
            role: r.role,
            prefix: r.prefix,
            created_ms: r.created_ms,
            last_used_ms: r.last_used_ms,
        }
    }
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
            departments: serde_json::from_str(&r.departments).unwrap_or_default(),
            availability: r.availability,
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
        Ok(Self { pools, writer: writer::Writer::start(pool, tasks, hints.clone()), hints, sealer: OnceLock::new() })
    }

    /// Seals third-party secrets with `sealer` from now on, after checking
    /// that it is the key the database's secrets were sealed with, and seals
    /// any stored before sealing existed.
    pub async fn seal_secrets_with(&self, sealer: Sealer) -> anyhow::Result<()> {
        let probe = self.kv_set_once("secret_key_check", &sealer.probe()).await?;
        anyhow::ensure!(
            sealer.opens_probe(&probe),
            "the secret key does not open this database's secrets: start with the NATTER_SECRET_KEY \
             (or data-directory secret.key) it was first started with"
        );
        let sealer = self.sealer.get_or_init(|| sealer);
        let plain: Vec<(String, String)> = on!(self.write, pool => sqlx::query_as(
            "SELECT id, secret FROM webhooks WHERE secret NOT LIKE 'sealed:%'"
        ).fetch_all(pool).await?);
        for (id, secret) in plain {
            on!(self.write, pool => sqlx::query("UPDATE webhooks SET secret = $1 WHERE id = $2")
                .bind(sealer.seal(&secret)).bind(&id).execute(pool).await.map(drop)?);
        }
        Ok(())
    }

    fn sealer(&self) -> StoreResult<&Sealer> {
        self.sealer.get().ok_or_else(|| StoreError::Corrupt("no key for secrets at rest was set".into()))
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
        row.map(|r| self.website_of(r)).transpose()
    }

    /// A website from its row, its credentials opened.
    fn website_of(&self, r: WebsiteRow) -> StoreResult<Website> {
        let json = |what: &str, text: &str| {
            serde_json::from_str::<serde_json::Value>(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
        };
        let secrets = if r.secrets.is_empty() {
            serde_json::json!({})
        } else {
            json("secrets", &self.sealer()?.open(&r.secrets).map_err(|e| StoreError::Corrupt(e.to_string()))?)?
        };
        Ok(Website {
            origins: serde_json::from_str(&r.origins).map_err(|e| StoreError::Corrupt(format!("origins: {e}")))?,
            settings: serde_json::from_str(&r.settings).map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?,
            kind: ChannelKind::parse(&r.kind).ok_or_else(|| StoreError::Corrupt(format!("kind {}", r.kind)))?,
            config: json("config", &r.config)?,
            secrets,
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            token: r.token,
            api_secret: r.api_secret,
            legacy_mode: r.legacy_mode,
            created_ms: r.created_ms,
        })
    }

    /// A website's credentials as stored: sealed, or empty when it has none.
    fn sealed_secrets(&self, w: &Website) -> StoreResult<String> {
        match w.secrets.as_object() {
            Some(o) if !o.is_empty() => Ok(self.sealer()?.seal(&w.secrets.to_string())),
            _ => Ok(String::new()),
        }
    }

    async fn operator_where(&self, clause: &str, arg: &str) -> StoreResult<Option<Operator>> {
        let sql = format!("SELECT {OPERATOR_COLS} FROM operators WHERE {clause}");
        let row: Option<OperatorRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(arg).fetch_optional(pool).await?);
        Ok(row.map(Operator::from))
    }
}
