//! Typed configuration from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The Natter chat server and its admin commands.
#[derive(Debug, Parser)]
#[command(name = "natter-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage accounts (companies).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage websites (inboxes).
    #[command(subcommand)]
    Website(WebsiteCommand),
    /// Manage operators.
    #[command(subcommand)]
    Operator(OperatorCommand),
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints its id.
    Create {
        /// The company's name.
        #[arg(long)]
        name: String,
    },
    /// List accounts.
    List,
}

#[derive(Debug, Subcommand)]
pub enum WebsiteCommand {
    /// Create a website; prints its public token and API secret.
    Create {
        /// The account that owns it; may be left out while there is only one.
        #[arg(long)]
        account: Option<String>,
        /// Display name, also the widget title.
        #[arg(long)]
        name: String,
        /// Allowed origin for browser requests (repeatable); none means any.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Accept session requests without a session token (old clients).
        #[arg(long)]
        legacy_mode: bool,
    },
    /// List websites.
    List {
        /// Only this account's websites.
        #[arg(long)]
        account: Option<String>,
    },
    /// Change a website's settings, origins or legacy mode.
    Update {
        /// The website's public token.
        #[arg(long)]
        token: String,
        /// Settings to merge, as JSON, e.g. '{"greeting": "Hi!", "businessHours": {"utcOffsetMinutes": 120,
        /// "days": [1,2,3,4,5], "open": "09:00", "close": "18:00"}}'.
        #[arg(long)]
        settings: Option<String>,
        /// Replace the allowed origins (repeatable); `*` allows any.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Turn legacy mode on or off.
        #[arg(long)]
        legacy_mode: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator.
    Create {
        /// The account the operator works for; may be left out while there is only one.
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input (best), or
        /// set `NATTER_OPERATOR_PASSWORD`.
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password on the command line, where other users of the machine
        /// can see it; prefer `--password-stdin`.
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "agent", value_parser = ["admin", "agent"])]
        role: String,
        /// Display name; defaults to the part of the email before `@`.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Where the data lives; shared by every command.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// `sqlite://path/to/file.db` or `postgres://…`; defaults to a SQLite file in `--data-dir`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the default SQLite database.
    #[arg(long, env = "NATTER_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
}

impl DbConfig {
    /// The database URL to connect to.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("natter.db").display()),
        }
    }
}

/// Settings of the running server.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "NATTER_ADDR", default_value = "127.0.0.1:8080", global = true)]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub db: DbConfig,
    /// Directory of static pages (demo page, loader, console).
    #[arg(long, env = "NATTER_STATIC_DIR", default_value = "www", global = true)]
    pub static_dir: PathBuf,
    /// Directory of the widget build (`wasm-pack` output), served at `/pkg`.
    #[arg(long, env = "NATTER_PKG_DIR", default_value = "pkg", global = true)]
    pub pkg_dir: PathBuf,
    /// Seconds between `presence.update` keepalives on `/ws` (fractions allowed).
    #[arg(long, env = "NATTER_KEEPALIVE_SECS", default_value_t = 20.0, global = true)]
    pub keepalive_secs: f64,
    /// Largest request body in bytes.
    #[arg(long, env = "NATTER_MAX_BODY_BYTES", default_value_t = 64 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Longest message text in characters.
    #[arg(long, env = "NATTER_MAX_MESSAGE_CHARS", default_value_t = 4000, global = true)]
    pub max_message_chars: usize,
    /// Public API requests per second allowed per client IP (burst is 4×).
    #[arg(long, env = "NATTER_RATE_PER_IP", default_value_t = 20, global = true)]
    pub rate_per_ip: u32,
    /// Public API requests per second allowed per website (burst is 4×).
    #[arg(long, env = "NATTER_RATE_PER_WEBSITE", default_value_t = 500, global = true)]
    pub rate_per_website: u32,
    /// Sockets one client (IPv4 address or IPv6 /64) may hold open at once.
    #[arg(long, env = "NATTER_MAX_SOCKETS_PER_IP", default_value_t = 256, global = true)]
    pub max_sockets_per_ip: usize,
    /// Widget sockets one session may hold open at once (its tabs).
    #[arg(long, env = "NATTER_MAX_SOCKETS_PER_SESSION", default_value_t = 10, global = true)]
    pub max_sockets_per_session: usize,
    /// Sign-in attempts (login, token refresh) per minute per client IP.
    #[arg(long, env = "NATTER_AUTH_RATE_PER_IP", default_value_t = 20, global = true)]
    pub auth_rate_per_ip: u32,
    /// Login attempts per minute per e-mail address, from any number of clients.
    #[arg(long, env = "NATTER_AUTH_RATE_PER_EMAIL", default_value_t = 10, global = true)]
    pub auth_rate_per_email: u32,
    /// Reverse proxies (CIDR, comma-separated or repeated) whose `X-Forwarded-For`
    /// entries are believed: the client is the rightmost address not in them.
    #[arg(long, env = "NATTER_TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Trust a reverse proxy on loopback (the same as `--trusted-proxies 127.0.0.0/8,::1/128`).
    #[arg(long, env = "NATTER_TRUST_PROXY", global = true)]
    pub trust_proxy: bool,
    /// The server's external base URL for the absolute links it makes; `http://<addr>` when unset.
    #[arg(long, env = "NATTER_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// SQLite durability: `full` syncs every commit (an acknowledged message
    /// survives power loss), `normal` only at checkpoints (it survives the
    /// process being killed).
    #[arg(long, env = "NATTER_SQLITE_SYNCHRONOUS", default_value = "full", value_parser = ["full", "normal"], global = true)]
    pub sqlite_synchronous: String,
    /// A second address serving `/metrics` only (e.g. a private interface), so
    /// the main address need not serve it.
    #[arg(long, env = "NATTER_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,
    /// Bearer token a Prometheus scraper sends for `/metrics`; unset, the main
    /// address does not serve `/metrics`.
    #[arg(long, env = "NATTER_METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,
    /// Secret for signing operator tokens; generated and stored in the database when unset.
    #[arg(long, env = "NATTER_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Key (at least 32 bytes) sealing third-party secrets at rest; a key file
    /// is generated in `--data-dir` when unset. Instances sharing a database
    /// need the same key.
    #[arg(long, env = "NATTER_SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<String>,
    /// Lifetime of operator access tokens in seconds.
    #[arg(long, env = "NATTER_ACCESS_TOKEN_SECS", default_value_t = 1800, global = true)]
    pub access_token_secs: i64,
    /// First wait before retrying a failed webhook delivery, in milliseconds (then 4× each time).
    #[arg(long, env = "NATTER_WEBHOOK_RETRY_BASE_MS", default_value_t = 1000, global = true)]
    pub webhook_retry_base_ms: u64,
    /// Webhook deliveries in flight at once; 0 leaves delivery to other instances on the same database.
    #[arg(long, env = "NATTER_WEBHOOK_WORKERS", default_value_t = 8, global = true)]
    pub webhook_workers: usize,
    /// Let webhooks target loopback, private and link-local addresses (local development only).
    #[arg(long, env = "NATTER_ALLOW_PRIVATE_WEBHOOKS", global = true)]
    pub allow_private_webhooks: bool,
    /// Hours after which an anonymous session nobody wrote in (only bot
    /// messages, no contact details) is removed; 0 keeps them.
    #[arg(long, env = "NATTER_EMPTY_SESSION_HOURS", default_value_t = 24, global = true)]
    pub empty_session_hours: u64,
    /// A JSON file of plans (name → `messages_per_month`, `storage_mb`,
    /// `operators`, `requests_per_minute`; null is unlimited) replacing the
    /// built-in free, pro and enterprise.
    #[arg(long, env = "NATTER_PLANS", global = true)]
    pub plans: Option<PathBuf>,
    /// The plan self-registered accounts get (accounts made otherwise are on enterprise).
    #[arg(long, env = "NATTER_DEFAULT_PLAN", default_value = "free", global = true)]
    pub default_plan: String,
    /// The AI provider of accounts that chose none: `builtin` (answers from
    /// the knowledge base, no network), `openai` (any OpenAI-compatible
    /// endpoint, e.g. a local llama.cpp or Ollama) or `anthropic`.
    #[arg(long, env = "NATTER_AI_PROVIDER", value_parser = ["builtin", "openai", "anthropic"], global = true)]
    pub ai_provider: Option<String>,
    /// The default provider's base URL (e.g. `http://127.0.0.1:11434/v1` for Ollama); it may be local.
    #[arg(long, env = "NATTER_AI_BASE_URL", global = true)]
    pub ai_base_url: Option<String>,
    /// The default provider's model.
    #[arg(long, env = "NATTER_AI_MODEL", global = true)]
    pub ai_model: Option<String>,
    /// The default provider's API key.
    #[arg(long, env = "NATTER_AI_API_KEY", hide_env_values = true, global = true)]
    pub ai_api_key: Option<String>,
    /// Where attachments are kept when no S3 bucket is set (default `<data-dir>/files`).
    #[arg(long, env = "NATTER_FILES_DIR", global = true)]
    pub files_dir: Option<PathBuf>,
    /// Keep attachments in this S3-compatible bucket instead (credentials
    /// from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`).
    #[arg(long, env = "NATTER_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// The S3-compatible endpoint (MinIO, R2, …); unset is AWS.
    #[arg(long, env = "NATTER_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "NATTER_S3_REGION", default_value = "us-east-1", global = true)]
    pub s3_region: String,
    /// The bucket's access key id (prefer the variable).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true, global = true)]
    pub s3_access_key_id: Option<String>,
    /// The bucket's secret key (prefer the variable: flags show in process lists).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true, global = true)]
    pub s3_secret_access_key: Option<String>,
    /// The largest attachment any website may take, in MB (a website's own limit is at most this).
    #[arg(long, env = "NATTER_MAX_UPLOAD_MB", default_value_t = 25, global = true)]
    pub max_upload_mb: u64,
    /// Days a signed attachment link stays valid.
    #[arg(long, env = "NATTER_FILE_LINK_DAYS", default_value_t = 7, global = true)]
    pub file_link_days: u64,
    /// Let anyone create an account with `POST /api/v1/auth/register`.
    #[arg(long, env = "NATTER_ALLOW_REGISTRATION", global = true)]
    pub allow_registration: bool,
    /// Do not create the demo website and admin on an empty database.
    #[arg(long, env = "NATTER_NO_DEMO", global = true)]
    pub no_demo: bool,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "NATTER_LOG_JSON", global = true)]
    pub log_json: bool,
}

impl ServeConfig {
    /// The external base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            // A wildcard address is no place to send a browser: name the host itself.
            None if self.addr.ip().is_unspecified() => format!("http://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// The limits' figures.
    pub fn rates(&self) -> crate::ratelimit::Rates {
        crate::ratelimit::Rates {
            per_ip: self.rate_per_ip,
            per_website: self.rate_per_website,
            auth_per_ip: self.auth_rate_per_ip,
            auth_per_email: self.auth_rate_per_email,
        }
    }

    /// Defaults suitable for tests: port 0, no demo data, generous rate limits.
    pub fn for_tests(database_url: String) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: DbConfig { database_url: Some(database_url), data_dir: PathBuf::from("data") },
            static_dir: PathBuf::from("www"),
            pkg_dir: PathBuf::from("pkg"),
            keepalive_secs: 20.0,
            max_body_bytes: 64 * 1024,
            max_message_chars: 4000,
            rate_per_ip: 10_000,
            rate_per_website: 10_000,
            max_sockets_per_ip: 256,
            max_sockets_per_session: 10,
            auth_rate_per_ip: 10_000,
            auth_rate_per_email: 10_000,
            trusted_proxies: Vec::new(),
            trust_proxy: false,
            public_url: None,
            metrics_addr: None,
            metrics_token: Some("test-metrics-token".into()),
            sqlite_synchronous: "full".into(),
            jwt_secret: Some("test-secret-test-secret-test-secret".into()),
            secret_key: Some("test-secret-key-test-secret-key-test".into()),
            access_token_secs: 1800,
            webhook_retry_base_ms: 50,
            webhook_workers: 8,
            allow_private_webhooks: true,
            empty_session_hours: 24,
            allow_registration: false,
            ai_provider: None,
            ai_base_url: None,
            ai_model: None,
            ai_api_key: None,
            plans: None,
            default_plan: "free".into(),
            files_dir: None,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_upload_mb: 25,
            file_link_days: 7,
            no_demo: true,
            log_json: false,
        }
    }
}
