//! Channels (`/channels`): the account's websites as `widget` channels, and
//! its Telegram bots and WhatsApp numbers ([`crate::channels`]). Everyone
//! may list them; admins create and change them. Credentials are write-only:
//! they are sealed at rest and never shown again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{Item, List};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::time::Duration;
use utoipa::ToSchema;

use super::auth::{AdminOperator, AuthOperator};
use crate::channels::{adapter, ConnectContext};
use crate::cli::{merge_settings, parse_origins};
use crate::domain::random_token;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::{ChannelKind, Operator, Website, WebsiteSettings};
use crate::time::{iso, now_ms};
use crate::AppState;

/// Channels an account may have.
const MAX_CHANNELS: usize = 100;
/// How long connecting a channel may wait for its platform.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Serialize, ToSchema)]
pub struct ChannelView {
    id: String,
    /// `widget`, `telegram` or `whatsapp`.
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    status: &'static str,
    /// A widget's token, origins and settings; a bot's or number's public
    /// settings (never its credentials).
    #[schema(value_type = Object)]
    config: Value,
    created_at: String,
}

/// A channel as the API shows it; `admin` also sees a widget's identity
/// secret (the key the site's backend signs its users' ids with).
fn view(w: &Website, admin: bool) -> ChannelView {
    let config = match w.kind {
        ChannelKind::Widget => {
            let mut config = serde_json::to_value(&w.settings).unwrap_or_else(|_| json!({}));
            config["website_token"] = json!(w.token);
            config["origins"] = json!(w.origins);
            if admin {
                config["identity_secret"] = json!(crate::identity::secret(w));
            }
            config
        }
        ChannelKind::Telegram | ChannelKind::Whatsapp => w.config.clone(),
    };
    ChannelView {
        id: w.id.clone(),
        kind: w.kind.as_str(),
        name: w.name.clone(),
        status: "active",
        config,
        created_at: iso(w.created_ms),
    }
}

fn invalid(what: impl Into<String>) -> OpError {
    OpError(AppError::Validation("validation_error", what.into()))
}

/// A channel name: 1–100 characters, no control characters.
fn channel_name(name: &str) -> OpResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// A channel of the operator's account; another account's is 404.
async fn load(state: &AppState, op: &Operator, id: &str) -> OpResult<Website> {
    super::of_account(op, state.store.website_by_id(id).await?, "channel", id)
}

/// Applies a widget's `config`: `origins` replaces its allowed origins, the
/// rest are settings merged over the current ones.
fn configure_widget(website: &mut Website, mut config: Map<String, Value>) -> OpResult<()> {
    if let Some(origins) = config.remove("origins") {
        let origins: Vec<String> =
            serde_json::from_value(origins).map_err(|_| invalid("config.origins must be a list of origins"))?;
        website.origins = parse_origins(origins).map_err(|e| invalid(format!("config.origins: {e}")))?;
    }
    website.settings = merge_settings(&website.settings, config).map_err(|e| invalid(format!("config: {e}")))?;
    Ok(())
}

/// Connects a messaging channel with its platform, storing what it answers.
async fn connect(state: &AppState, website: &mut Website, config: &Map<String, Value>, fresh: bool) -> OpResult<()> {
    let Some(adapter) = adapter(website.kind) else { return Ok(()) };
    let client = state.settings.egress.client(CONNECT_TIMEOUT);
    let ctx = ConnectContext {
        client: &client,
        egress: state.settings.egress,
        public_url: &state.settings.public_url,
        channel_id: &website.id,
    };
    let connection = adapter.connect(&ctx, config, (!fresh).then_some(&*website)).await?;
    website.config = connection.config;
    website.secrets = connection.secrets;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", security(("bearer" = [])), responses((status = 200, description = "The account's channels", body = List<ChannelView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(State(state): State<AppState>, AuthOperator(op): AuthOperator) -> OpResult<Json<List<ChannelView>>> {
    let websites = state.store.list_websites(Some(&op.account_id)).await?;
    Ok(Json(List { data: websites.iter().map(|w| view(w, op.role == "admin")).collect(), meta: None }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateChannel {
    /// `widget`, `telegram` or `whatsapp`.
    #[serde(rename = "type")]
    kind: String,
    name: String,
    /// Telegram: `bot_token`, `api_base_url`; WhatsApp: `phone_number_id`,
    /// `access_token`, `app_secret`, `verify_token`, `api_base_url`; widget:
    /// `origins` and settings (`greeting`, `color`, …).
    #[serde(default)]
    #[schema(value_type = Object)]
    config: Map<String, Value>,
}

/// Connects a channel: a new widget website, a Telegram bot (its webhook is
/// registered with Telegram) or a WhatsApp number (checked with Meta).
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", security(("bearer" = [])), request_body = CreateChannel, responses((status = 201, description = "The channel", body = Item<ChannelView>), (status = "4XX", description = "Refused; CHANNEL_CONNECT_FAILED when the platform refused", body = OperatorError)))]
pub async fn create(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    body: Result<JsonBody<CreateChannel>, AppError>,
) -> OpResult<(StatusCode, Json<Item<ChannelView>>)> {
    let JsonBody(req) = body?;
    let kind = ChannelKind::parse(&req.kind).ok_or_else(|| invalid("type must be widget, telegram or whatsapp"))?;
    let name = channel_name(&req.name)?;
    if state.store.list_websites(Some(&op.account_id)).await?.len() >= MAX_CHANNELS {
        return Err(invalid(format!("an account may have at most {MAX_CHANNELS} channels")));
    }
    let mut website = Website {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: op.account_id.clone(),
        name: name.clone(),
        token: format!("pk_live_{}", random_token()),
        api_secret: random_token(),
        origins: vec![],
        settings: WebsiteSettings { title: Some(name), ..WebsiteSettings::default() },
        legacy_mode: false,
        created_ms: now_ms(),
        kind,
        config: json!({}),
        secrets: json!({}),
    };
    match kind {
        ChannelKind::Widget => configure_widget(&mut website, req.config)?,
        ChannelKind::Telegram | ChannelKind::Whatsapp => connect(&state, &mut website, &req.config, true).await?,
    }
    state.store.create_website(&website).await?;
    tracing::info!(channel = %website.id, kind = kind.as_str(), "channel connected");
    Ok((StatusCode::CREATED, Json(Item { data: view(&website, true) })))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateChannel {
    #[serde(default)]
    name: Option<String>,
    /// Fields to change, as on creation; credentials left out are kept.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    config: Option<Map<String, Value>>,
}

/// Renames a channel or changes its settings; a widget's take effect within seconds.
#[utoipa::path(put, path = "/api/v1/channels/{id}", tag = "channels", security(("bearer" = [])), params(("id" = String, Path, description = "The channel's id")), request_body = UpdateChannel, responses((status = 200, description = "The channel", body = Item<ChannelView>), (status = "4XX", description = "Refused; CHANNEL_CONNECT_FAILED when the platform refused", body = OperatorError)))]
pub async fn update(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
    body: Result<JsonBody<UpdateChannel>, AppError>,
) -> OpResult<Json<Item<ChannelView>>> {
    let JsonBody(req) = body?;
    let mut website = load(&state, &op, &id).await?;
    if let Some(name) = &req.name {
        website.name = channel_name(name)?;
    }
    if let Some(config) = req.config {
        match website.kind {
            ChannelKind::Widget => configure_widget(&mut website, config)?,
            ChannelKind::Telegram | ChannelKind::Whatsapp => connect(&state, &mut website, &config, false).await?,
        }
    }
    state.store.update_website(&website).await?;
    state.websites.forget(&website).await;
    Ok(Json(Item { data: view(&website, true) }))
}
