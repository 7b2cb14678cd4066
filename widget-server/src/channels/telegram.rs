//! Telegram bots (Bot API): connecting checks the token with `getMe` and
//! registers `POST /hooks/telegram/{channel_id}` with `setWebhook` and a
//! random secret token, which every update must carry in
//! `X-Telegram-Bot-Api-Secret-Token`. Each chat is a conversation; replies
//! go out with `sendMessage`, split at Telegram's 4,096 characters.

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use natter_protocol::operator::OperatorError;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;
use utoipa::ToSchema;

use super::{
    checked_base, credential, pieces, same_secret, Adapter, ConnectContext, ConnectError, Connection, Inbound,
    SendFailure,
};
use crate::domain::random_token;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::{ChannelKind, Session, Website};
use crate::AppState;

pub const DEFAULT_BASE: &str = "https://api.telegram.org";
/// The longest text one Telegram message takes.
const MAX_TEXT: usize = 4096;
/// The prefix of a Telegram conversation's key: `tg-<chat id>`.
const CHAT_PREFIX: &str = "tg-";

pub struct Telegram;

/// A Bot API call's URL; it holds the token, so it is never logged or shown.
fn method_url(base: &str, token: &str, method: &str) -> String {
    format!("{}/bot{token}/{method}", base.trim_end_matches('/'))
}

/// Calls a Bot API method; the `result` on success.
async fn call(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    method: &str,
    body: &Value,
) -> Result<Value, SendFailure> {
    let res = client.post(method_url(base, token, method)).json(body).send().await.map_err(SendFailure::of_request)?;
    let status = res.status();
    let answer: Value = res.json().await.unwrap_or(Value::Null);
    if status.is_success() && answer["ok"] == true {
        return Ok(answer["result"].clone());
    }
    let reason = match answer["description"].as_str() {
        Some(d) => format!("Telegram: {}", d.chars().take(300).collect::<String>()),
        None => format!("Telegram answered {status}"),
    };
    let retry_after = answer["parameters"]["retry_after"].as_u64().map(Duration::from_secs);
    Err(if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        SendFailure::transient(reason, retry_after)
    } else {
        SendFailure::permanent(reason)
    })
}

/// Whether `token` looks like a bot token: `<bot id>:<secret>`.
fn plausible_token(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.len() <= 20
            && id.bytes().all(|b| b.is_ascii_digit())
            && (20..=100).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

#[async_trait]
impl Adapter for Telegram {
    async fn connect(
        &self,
        ctx: &ConnectContext<'_>,
        input: &Map<String, Value>,
        current: Option<&Website>,
    ) -> Result<Connection, ConnectError> {
        let token = credential(input, current, "bot_token")
            .ok_or_else(|| ConnectError::Invalid("config.bot_token is required".into()))?;
        if !plausible_token(&token) {
            return Err(ConnectError::Invalid("config.bot_token is not a Telegram bot token".into()));
        }
        let base = checked_base(ctx, input, current, DEFAULT_BASE).await?;
        let refused = |f: SendFailure| ConnectError::Refused(f.reason);
        let me = call(ctx.client, &base, &token, "getMe", &json!({})).await.map_err(refused)?;
        let username = me["username"].as_str().unwrap_or_default().to_owned();
        let secret = credential(&Map::new(), current, "secret_token").unwrap_or_else(random_token);
        let webhook_url = format!("{}/hooks/telegram/{}", ctx.public_url, ctx.channel_id);
        let hook = json!({ "url": webhook_url, "secret_token": secret, "allowed_updates": ["message"] });
        call(ctx.client, &base, &token, "setWebhook", &hook).await.map_err(refused)?;
        Ok(Connection {
            config: json!({ "bot_username": format!("@{username}"), "api_base_url": base, "webhook_url": webhook_url }),
            secrets: json!({ "bot_token": token, "secret_token": secret }),
        })
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        channel: &Website,
        session: &Session,
        text: &str,
    ) -> Result<String, SendFailure> {
        let token = channel.secrets["bot_token"].as_str().ok_or_else(|| SendFailure::permanent("no bot token"))?;
        let chat_id: i64 = session
            .user_session_id
            .strip_prefix(CHAT_PREFIX)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| SendFailure::permanent("the conversation is not a Telegram chat"))?;
        let mut first = None;
        for piece in pieces(text, MAX_TEXT) {
            let sent = call(
                client,
                self.api_base(channel),
                token,
                "sendMessage",
                &json!({ "chat_id": chat_id, "text": piece }),
            )
            .await?;
            first.get_or_insert_with(|| sent["message_id"].to_string());
        }
        Ok(first.unwrap_or_default())
    }

    fn api_base<'a>(&self, channel: &'a Website) -> &'a str {
        channel.config["api_base_url"].as_str().unwrap_or(DEFAULT_BASE)
    }
}

/// A Telegram update (only messages are subscribed to).
#[derive(Deserialize, ToSchema)]
pub struct Update {
    update_id: i64,
    #[serde(default)]
    message: Option<TgMessage>,
}

#[derive(Deserialize, ToSchema)]
pub struct TgMessage {
    message_id: i64,
    #[serde(default)]
    from: Option<TgUser>,
    chat: TgChat,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    /// Whatever else the message has (a photo, a sticker, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    rest: Map<String, Value>,
}

#[derive(Deserialize, ToSchema)]
pub struct TgUser {
    id: i64,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct TgChat {
    id: i64,
}

/// What is shown for a message without text: the kind of content it carries.
fn placeholder(rest: &Map<String, Value>) -> String {
    const KINDS: [&str; 10] =
        ["photo", "sticker", "document", "voice", "video", "video_note", "audio", "location", "contact", "poll"];
    let kind = KINDS.iter().find(|k| rest.contains_key(**k)).map_or("message", |k| k);
    format!("[a {} the chat cannot show]", kind.replace('_', " "))
}

/// Updates from Telegram for a connected bot.
#[utoipa::path(post, path = "/hooks/telegram/{channel_id}", tag = "channels", request_body = Update, params(("channel_id" = String, Path, description = "The Telegram channel's id"), ("X-Telegram-Bot-Api-Secret-Token" = String, Header, description = "The secret given to setWebhook")), responses((status = 200, description = "The update is stored (or ignored)"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn hook(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Result<JsonBody<Update>, AppError>,
) -> OpResult<StatusCode> {
    let channel = state
        .websites
        .get_by_id(state.store.as_ref(), &channel_id)
        .await?
        .filter(|w| w.kind == ChannelKind::Telegram)
        .ok_or_else(|| OpError(AppError::NotFound(format!("no Telegram channel {channel_id}"))))?;
    let given = headers.get("x-telegram-bot-api-secret-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !same_secret(given, channel.secrets["secret_token"].as_str().unwrap_or("")) {
        return Err(OpError(AppError::Unauthorized("unauthorized", "the secret token does not match".into())));
    }
    let JsonBody(update) = body?;
    let Some(message) = update.message else { return Ok(StatusCode::OK) };
    let Some(from) = message.from else { return Ok(StatusCode::OK) };
    let name =
        [from.first_name.as_deref(), from.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let name = Some(name).filter(|n| !n.trim().is_empty()).or(from.username);
    let text = message.text.or(message.caption).unwrap_or_else(|| placeholder(&message.rest));
    let inbound = Inbound {
        chat_key: format!("{CHAT_PREFIX}{}", message.chat.id),
        person_key: format!("telegram:{}", from.id),
        name,
        message_key: format!("tg-{}", message.message_id),
        text,
    };
    tracing::debug!(update = update.update_id, channel = %channel.id, "telegram update");
    super::receive(&state, &channel, inbound).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_tokens_are_recognised() {
        assert!(plausible_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
        assert!(!plausible_token("123456789"));
        assert!(!plausible_token("abc:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
        assert!(!plausible_token("1:short"));
        assert!(!plausible_token("1:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/../x"));
    }

    #[test]
    fn messages_without_text_say_what_they_carry() {
        let rest: Map<String, Value> = serde_json::from_str(r#"{"video_note": {}}"#).expect("json");
        assert_eq!(placeholder(&rest), "[a video note the chat cannot show]");
        assert_eq!(placeholder(&Map::new()), "[a message the chat cannot show]");
    }
}
