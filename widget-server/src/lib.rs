//! Natter's server: the public widget API, the realtime `/ws`, the operator
//! API and the static front end, over SQLite or PostgreSQL.

/// AI replies from the knowledge base, behind one provider trait.
pub mod ai;
/// The server's own replies: greeting, contact request, "connecting", away.
pub mod bot;
/// Where the server may send requests of its own (no private addresses).
pub mod channels;
/// Chat operations every dialect shares: store and announce a message,
/// status changes, read receipts, history.
pub mod chat;
/// Admin commands (`account`, `website`, `operator`) and the demo data.
pub mod cli;
/// The client's address behind trusted proxies, and the key limits count it under.
pub mod client;
/// Typed configuration from flags and environment variables.
pub mod config;
/// CORS for the public API, by each website's allowed origins.
mod cors;
/// Parsed input: message text, names, phones, e-mails, client keys.
pub mod domain;
pub mod egress;
/// The error type and how each API renders it.
pub mod error;
/// Extractors: JSON bodies, queries, website and session authorisation.
mod extract;
/// Answers for unknown API paths and wrong methods, in each API's shape.
mod fallback;
/// The relay of hub events between instances sharing PostgreSQL.
mod fanout;
/// Attachments: uploads, storage, signed links, downloads.
pub mod files;
/// Typed events and per-session channels.
pub mod hub;
/// Identity verification: the site's HMAC of its user's id.
pub mod identity;
/// The knowledge base's text: sniffing, extraction, passages, query terms.
pub mod knowledge;
/// Prometheus counters and latency.
pub mod metrics;
/// `/healthz`, `/readyz`, `/metrics`.
/// The OpenAPI description generated from the handlers, and its viewer.
pub mod openapi;
/// The operator API, the operator socket and the room streams, by feature.
mod operator;
mod ops;
/// Operator password hashing.
mod password;
/// Plans, their quotas and request rates, and accounts' usage.
pub mod plans;
/// Which operators have a console connected.
pub mod presence;
/// The visitor dialects: native, Novatalks and OmniSupport.
mod public;
/// Per-IP and per-website request limits.
pub mod ratelimit;
/// Third-party secrets encrypted at rest.
pub mod seal;
/// What every socket shares: keepalive and closing.
pub mod socket;
/// Records, the `Store` trait and its SQL implementation (with the
/// group-commit message writer).
pub mod store;
/// The sweep of empty anonymous sessions.
pub mod sweep;
/// Timestamps.
pub mod time;
/// Static pages: demo, loader, console, widget build.
mod web;
/// Signed webhooks through a durable outbox.
pub mod webhooks;
/// The widget's realtime socket `/ws`.
pub(crate) mod ws;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::operator::JwtKeys;
use crate::ratelimit::RateLimiter;
use crate::store::{SqlStore, Store, StoreResult, Website};

/// Runtime settings taken from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub keepalive: Duration,
    pub max_body_bytes: usize,
    pub max_message_chars: usize,
    pub access_token_secs: i64,
    pub static_dir: PathBuf,
    pub pkg_dir: PathBuf,
    /// Whether `POST /api/v1/auth/register` is open.
    pub allow_registration: bool,
    /// Whose `X-Forwarded-For` is believed.
    pub proxies: client::TrustedProxies,
    /// Where the server may send requests of its own.
    pub egress: egress::Egress,
    /// The external base URL for absolute links, without a trailing slash.
    pub public_url: String,
    /// What a scraper must send for `/metrics`; `None` hides it.
    pub metrics_token: Option<String>,
    /// The AI provider of accounts that chose none.
    pub ai: ai::ServerDefaults,
}

/// How long a cached website is trusted before it is read again, so changes
/// made with `natter-server website update`, or through another instance,
/// reach a running server within seconds.
const WEBSITE_CACHE_TTL: Duration = Duration::from_secs(5);

/// Websites by public token (and by id), loaded on first use and refreshed after a while.
#[derive(Debug, Default)]
pub struct WebsiteCache {
    by_token: WebsiteMap,
    by_id: WebsiteMap,
}

/// Cached websites by one key, with when each was read.
type WebsiteMap = RwLock<HashMap<String, (Instant, Arc<Website>)>>;

/// The website under `key` in `map`, read with `load` when missing or stale.
async fn cached<F, L>(map: &WebsiteMap, key: &str, load: L) -> StoreResult<Option<Arc<Website>>>
where
    L: FnOnce() -> F,
    F: Future<Output = StoreResult<Option<Website>>>,
{
    if let Some((at, w)) = map.read().await.get(key) {
        if at.elapsed() < WEBSITE_CACHE_TTL {
            return Ok(Some(Arc::clone(w)));
        }
    }
    let Some(website) = load().await? else {
        map.write().await.remove(key);
        return Ok(None);
    };
    let website = Arc::new(website);
    map.write().await.insert(key.to_owned(), (Instant::now(), Arc::clone(&website)));
    Ok(Some(website))
}

impl WebsiteCache {
    /// The widget website with this public token (a messaging channel's row
    /// has a token too, but no widget may open sessions on it).
    pub async fn get(&self, store: &dyn Store, token: &str) -> StoreResult<Option<Arc<Website>>> {
        let load =
            || async move { Ok(store.website_by_token(token).await?.filter(|w| w.kind == store::ChannelKind::Widget)) };
        cached(&self.by_token, token, load).await
    }

    /// Drops a changed website, so this instance reads it again at once.
    pub async fn forget(&self, website: &Website) {
        self.by_token.write().await.remove(&website.token);
        self.by_id.write().await.remove(&website.id);
    }

    /// The website with this id; sockets share one copy rather than each keeping its own.
    pub async fn get_by_id(&self, store: &dyn Store, id: &str) -> StoreResult<Option<Arc<Website>>> {
        cached(&self.by_id, id, || store.website_by_id(id)).await
    }
}

/// Sessions bound to the website.
const MAX_CACHED_SESSIONS: usize = 200_000;

/// What proves a request's right to a session, by session id. It never
/// changes while the session exists, so it is kept until the session is
/// erased (or the cache is full and starts over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub id: String,
    pub website_id: String,
    pub token: String,
}

/// Session keys by session id, so authorising a poll needs no database read.
#[derive(Debug, Default)]
pub struct SessionCache {
    by_id: std::sync::RwLock<HashMap<String, Arc<SessionKey>>>,
}

impl SessionCache {
    pub async fn get(&self, store: &dyn Store, id: &str) -> StoreResult<Option<Arc<SessionKey>>> {
        let cached = self.by_id.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(id).cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        let Some(s) = store.session_by_id(id).await? else { return Ok(None) };
        let key = Arc::new(SessionKey { id: s.id, website_id: s.website_id, token: s.token });
        let mut map = self.by_id.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_CACHED_SESSIONS {
            map.clear();
        }
        map.insert(id.to_owned(), Arc::clone(&key));
        Ok(Some(key))
    }

    /// Drops an erased session.
    pub fn forget(&self, id: &str) {
        self.by_id.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }
}

/// The shortest operator-token signing secret accepted: 256 bits for HS256.
const MIN_JWT_SECRET_BYTES: usize = 32;

/// Everything a handler may need, behind one `Arc`: extractors clone the
/// state on every request, so a clone is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<Settings>,
    pub limiter: Arc<RateLimiter>,
    /// Plans and what accounts use of them.
    pub plans: Arc<plans::Plans>,
    /// Operators' connected consoles.
    pub presence: Arc<presence::Presence>,
    /// Open sockets per client and per session.
    pub sockets: socket::limits::SocketCaps,
    pub websites: Arc<WebsiteCache>,
    pub sessions: Arc<SessionCache>,
    pub jwt: Arc<JwtKeys>,
    pub webhooks: Arc<webhooks::Webhooks>,
    /// The HTTP clients of AI providers.
    pub ai_clients: ai::Clients,
    /// Replies on their way to Telegram and WhatsApp.
    pub channels: Arc<channels::Channels>,
    /// Attachments: their bytes and signed links.
    pub files: Arc<files::Files>,
    /// The chat core: every use case goes through it.
    pub chat: Arc<chat::Chat>,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Connects to the database, runs migrations and prepares shared state.
    pub async fn new(config: &ServeConfig) -> anyhow::Result<Self> {
        let url = config.db.url();
        if let Some(path) = url.strip_prefix("sqlite://") {
            let file = PathBuf::from(path.split('?').next().unwrap_or(path));
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
        }
        let durability = match config.sqlite_synchronous.as_str() {
            "normal" => store::Durability::ProcessCrash,
            _ => store::Durability::PowerLoss,
        };
        let sql = SqlStore::connect_with(&url, durability).await?;
        sql.seal_secrets_with(seal::Sealer::load_or_create(config.secret_key.as_deref(), &config.db.data_dir)?).await?;
        let store: Arc<dyn Store> = Arc::new(sql);
        let secret = match &config.jwt_secret {
            Some(s) if s.len() < MIN_JWT_SECRET_BYTES => {
                anyhow::bail!("NATTER_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (it is {})", s.len())
            }
            Some(s) => s.clone(),
            None => store.kv_set_once("jwt_secret", &domain::random_token()).await?,
        };
        let shutdown = CancellationToken::new();
        let egress = egress::Egress { allow_private: config.allow_private_webhooks };
        let webhook_config = webhooks::WebhookConfig {
            retry_base: Duration::from_millis(config.webhook_retry_base_ms),
            workers: config.webhook_workers,
            egress,
        };
        let webhooks = Arc::new(webhooks::Webhooks::start(Arc::clone(&store), webhook_config, shutdown.clone()));
        let channel_config =
            channels::ChannelConfig { retry_base: webhook_config.retry_base, workers: config.webhook_workers, egress };
        let channels = Arc::new(channels::Channels::start(Arc::clone(&store), channel_config, shutdown.clone()));
        let hub = Arc::new(Hub::default());
        if store.kind() == "postgres" {
            fanout::start(&url, Arc::clone(&hub), Arc::clone(&store), shutdown.clone()).await?;
        }
        let metrics = Arc::new(Metrics::default());
        let presence: Arc<presence::Presence> = Arc::default();
        let chat = Arc::new(chat::Chat::new(
            Arc::clone(&store),
            Arc::clone(&hub),
            Arc::clone(&webhooks),
            Arc::clone(&channels),
            Arc::clone(&presence),
            Arc::clone(&metrics),
        ));
        let ai_defaults = ai::ServerDefaults {
            provider: config.ai_provider.clone(),
            base_url: config.ai_base_url.clone(),
            model: config.ai_model.clone(),
            api_key: config.ai_api_key.clone(),
        };
        chat.enable_ai(ai::Clients::new(egress), ai_defaults.clone());
        let place = match &config.s3_bucket {
            Some(bucket) => files::storage::Place::S3 {
                bucket: bucket.clone(),
                endpoint: config.s3_endpoint.clone(),
                region: config.s3_region.clone(),
                credentials: config.s3_access_key_id.clone().zip(config.s3_secret_access_key.clone()),
            },
            None => files::storage::Place::Directory(
                config.files_dir.clone().unwrap_or_else(|| config.db.data_dir.join("files")),
            ),
        };
        let links = files::Links::new(
            secret.as_bytes(),
            &config.public_url(),
            Duration::from_secs(config.file_link_days.max(1).saturating_mul(24 * 3600)),
        );
        let files = Arc::new(files::Files::new(
            files::storage::Blobs::open(&place)?,
            links,
            config.max_upload_mb.max(1).saturating_mul(1024 * 1024),
        ));
        chat.enable_files(files.links.clone());
        chat.start_deliveries(shutdown.clone());
        let sessions = Arc::new(SessionCache::default());
        files.start_janitor(Arc::clone(&store), Arc::clone(&sessions), shutdown.clone());
        let idle = Duration::from_secs(config.empty_session_hours.saturating_mul(3600));
        sweep::start(Arc::clone(&store), Arc::clone(&hub), Arc::clone(&sessions), idle, shutdown.clone());
        let limiter = Arc::new(RateLimiter::new(config.rates()));
        limiter.start_janitor(shutdown.clone());
        let plans = Arc::new(plans::Plans::load(config.plans.as_deref(), &config.default_plan)?);
        plans.start_janitor(shutdown.clone());
        Ok(Self(Arc::new(Shared {
            store,
            hub,
            chat,
            metrics,
            settings: Arc::new(Settings {
                keepalive: Duration::from_secs_f64(config.keepalive_secs.max(0.05)),
                max_body_bytes: config.max_body_bytes,
                max_message_chars: config.max_message_chars,
                access_token_secs: config.access_token_secs,
                static_dir: config.static_dir.clone(),
                pkg_dir: config.pkg_dir.clone(),
                allow_registration: config.allow_registration,
                proxies: client::TrustedProxies::new(config.trusted_proxies.clone(), config.trust_proxy),
                egress,
                public_url: config.public_url(),
                metrics_token: config.metrics_token.clone().filter(|t| !t.trim().is_empty()),
                ai: ai_defaults,
            }),
            ai_clients: ai::Clients::new(egress),
            limiter,
            plans,
            presence,
            sockets: socket::limits::SocketCaps::new(config.max_sockets_per_ip, config.max_sockets_per_session),
            websites: Arc::new(WebsiteCache::default()),
            sessions,
            jwt: Arc::new(JwtKeys::new(secret.as_bytes())),
            webhooks,
            channels,
            files,
            shutdown,
        })))
    }
}

async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let res = next.run(req).await;
    state.metrics.observe_request(started.elapsed());
    res
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    // The public API installs its own 405 answer under its CORS layer, so
    // preflights still reach that layer.
    let (public, public_doc) = public::router(state.clone());
    let (operator, operator_doc) = operator::router().split_for_parts();
    let (ops, ops_doc) = ops::router().split_for_parts();
    let (hooks, hooks_doc) = channels::router().split_for_parts();
    let mut paths = public_doc;
    paths.merge(operator_doc);
    paths.merge(ops_doc);
    paths.merge(hooks_doc);
    let others = Router::new()
        .merge(operator)
        .merge(hooks)
        .merge(ws::router())
        .merge(files::router())
        .merge(ops)
        .merge(openapi::viewer(openapi::document(paths)))
        .merge(fallback::router())
        .method_not_allowed_fallback(fallback::method_not_allowed);
    let api = Router::new().merge(public).merge(others).layer(DefaultBodyLimit::max(state.settings.max_body_bytes));
    let all = Router::new().merge(api).merge(web::router(&state.settings));
    web::safety_headers(all)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(
            |req: &Request| tracing::info_span!("http", method = %req.method(), path = %req.uri().path()),
        ))
        .with_state(state)
}

/// Serves `/metrics` alone on `listener` until the server shuts down.
pub async fn serve_metrics(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let stop = state.shutdown.clone();
    axum::serve(listener, ops::metrics_router(state)).with_graceful_shutdown(stop.cancelled_owned()).await
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish and
/// closes every socket with 1001.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let router = app(state);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            token.cancel();
        })
        .await
}
