//! WhatsApp Business numbers (Cloud API): connecting checks the number and
//! access token with the Graph API; Meta verifies the webhook with
//! `GET /hooks/whatsapp/{channel_id}` (the `hub.challenge` handshake) and
//! then posts events signed with the app secret in `X-Hub-Signature-256`.
//! Each customer number is a conversation; replies go to
//! `{api_base_url}/{phone_number_id}/messages`; a `failed` status Meta
//! reports later marks the reply failed with Meta's reason.

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use natter_protocol::operator::OperatorError;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::Sha256;
use utoipa::IntoParams;

use super::{
    checked_base, credential, pieces, same_secret, setting, Adapter, ConnectContext, ConnectError, Connection, Inbound,
    SendFailure,
};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::QueryParams;
use crate::store::{ChannelKind, Session, Website};
use crate::AppState;

pub const DEFAULT_BASE: &str = "https://graph.facebook.com/v21.0";
/// The longest text body one WhatsApp message takes.
const MAX_TEXT: usize = 4096;
/// The prefix of a WhatsApp conversation's key: `wa-<customer number>`.
const CHAT_PREFIX: &str = "wa-";

pub struct WhatsApp;

/// A Graph API answer's error as a send failure.
async fn failure(res: reqwest::Response) -> SendFailure {
    let status = res.status();
    let answer: Value = res.json().await.unwrap_or(Value::Null);
    let reason = match answer["error"]["message"].as_str() {
        Some(m) => format!("WhatsApp: {}", m.chars().take(300).collect::<String>()),
        None => format!("WhatsApp answered {status}"),
    };
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        SendFailure::transient(reason, None)
    } else {
        SendFailure::permanent(reason)
    }
}

#[async_trait]
impl Adapter for WhatsApp {
    async fn connect(
        &self,
        ctx: &ConnectContext<'_>,
        input: &Map<String, Value>,
        current: Option<&Website>,
    ) -> Result<Connection, ConnectError> {
        let required = |value: Option<String>, key: &str| {
            value.ok_or_else(|| ConnectError::Invalid(format!("config.{key} is required")))
        };
        let number = required(setting(input, current, "phone_number_id"), "phone_number_id")?;
        if number.len() > 32 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectError::Invalid("config.phone_number_id must be the number's numeric id".into()));
        }
        let access_token = required(credential(input, current, "access_token"), "access_token")?;
        let app_secret = required(credential(input, current, "app_secret"), "app_secret")?;
        let verify_token = required(credential(input, current, "verify_token"), "verify_token")?;
        for (key, value) in
            [("access_token", &access_token), ("app_secret", &app_secret), ("verify_token", &verify_token)]
        {
            if value.len() > 1024 || value.chars().any(char::is_control) {
                return Err(ConnectError::Invalid(format!("config.{key} must be at most 1024 printable characters")));
            }
        }
        let base = checked_base(ctx, input, current, DEFAULT_BASE).await?;
        let res = ctx
            .client
            .get(format!("{base}/{number}"))
            .query(&[("fields", "display_phone_number,verified_name")])
            .bearer_auth(&access_token)
            .send()
            .await
            .map_err(|e| ConnectError::Refused(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(ConnectError::Refused(failure(res).await.reason));
        }
        let number_info: Value = res.json().await.unwrap_or(Value::Null);
        Ok(Connection {
            config: json!({
                "phone_number_id": number,
                "display_phone_number": number_info["display_phone_number"],
                "verified_name": number_info["verified_name"],
                "api_base_url": base,
                "webhook_url": format!("{}/hooks/whatsapp/{}", ctx.public_url, ctx.channel_id),
            }),
            secrets: json!({ "access_token": access_token, "app_secret": app_secret, "verify_token": verify_token }),
        })
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        channel: &Website,
        session: &Session,
        text: &str,
    ) -> Result<String, SendFailure> {
        let token =
            channel.secrets["access_token"].as_str().ok_or_else(|| SendFailure::permanent("no access token"))?;
        let number = channel.config["phone_number_id"].as_str().unwrap_or_default();
        let to = session
            .user_session_id
            .strip_prefix(CHAT_PREFIX)
            .ok_or_else(|| SendFailure::permanent("the conversation is not a WhatsApp chat"))?;
        let url = format!("{}/{number}/messages", self.api_base(channel).trim_end_matches('/'));
        let mut first = None;
        for piece in pieces(text, MAX_TEXT) {
            let body = json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                "type": "text", "text": { "preview_url": false, "body": piece },
            });
            let res = client.post(&url).bearer_auth(token).json(&body).send().await.map_err(SendFailure::of_request)?;
            if !res.status().is_success() {
                return Err(failure(res).await);
            }
            let answer: Value = res.json().await.unwrap_or(Value::Null);
            let id = answer["messages"][0]["id"].as_str().unwrap_or_default().to_owned();
            first.get_or_insert(id);
        }
        Ok(first.unwrap_or_default())
    }

    fn api_base<'a>(&self, channel: &'a Website) -> &'a str {
        channel.config["api_base_url"].as_str().unwrap_or(DEFAULT_BASE)
    }
}

async fn load(state: &AppState, channel_id: &str) -> OpResult<std::sync::Arc<Website>> {
    state
        .websites
        .get_by_id(state.store.as_ref(), channel_id)
        .await?
        .filter(|w| w.kind == ChannelKind::Whatsapp)
        .ok_or_else(|| OpError(AppError::NotFound(format!("no WhatsApp channel {channel_id}"))))
}

/// The webhook verification request's query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta's webhook verification: answers `hub.challenge` when the verify token matches.
#[utoipa::path(get, path = "/hooks/whatsapp/{channel_id}", tag = "channels", params(("channel_id" = String, Path, description = "The WhatsApp channel's id"), Handshake), responses((status = 200, description = "The challenge, as text", body = String), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn verify(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    q: Result<QueryParams<Handshake>, AppError>,
) -> OpResult<Response> {
    let channel = load(&state, &channel_id).await?;
    let QueryParams(q) = q?;
    let expected = channel.secrets["verify_token"].as_str().unwrap_or("");
    if q.mode.as_deref() != Some("subscribe") || !same_secret(q.verify_token.as_deref().unwrap_or(""), expected) {
        return Err(OpError(AppError::Forbidden("forbidden", "the verify token does not match".into())));
    }
    // Only a plain token is echoed, so the answer can never be markup.
    let challenge = q.challenge.unwrap_or_default();
    if challenge.is_empty()
        || challenge.len() > 128
        || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(OpError(AppError::Validation("validation_error", "hub.challenge must be a plain token".into())));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response())
}

/// Whether `header` is `sha256=<hex HMAC-SHA256(app secret, body)>`.
fn signed(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else { return false };
    let Some(given) = decode_hex(hex) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else { return false };
    mac.update(body);
    !app_secret.is_empty() && mac.verify_slice(&given).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Deserialize, Default)]
struct ChangeValue {
    #[serde(default)]
    metadata: Option<NumberMetadata>,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<WaMessage>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct NumberMetadata {
    phone_number_id: String,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: String,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WaMessage {
    from: String,
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<TextBody>,
}

#[derive(Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A WhatsApp message id as a storable key (ids carry characters keys do not take).
fn message_key(id: &str) -> String {
    use sha2::Digest;
    let digest = Sha256::digest(id.as_bytes());
    format!("wa-{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

/// Events from Meta for a connected number: customer messages and the fate of replies.
#[utoipa::path(post, path = "/hooks/whatsapp/{channel_id}", tag = "channels", request_body = Object, params(("channel_id" = String, Path, description = "The WhatsApp channel's id"), ("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body with the app secret>")), responses((status = 200, description = "The events are stored (or ignored)"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn hook(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> OpResult<StatusCode> {
    let channel = load(&state, &channel_id).await?;
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !signed(channel.secrets["app_secret"].as_str().unwrap_or(""), &body, signature) {
        return Err(OpError(AppError::Unauthorized("unauthorized", "the signature does not match".into())));
    }
    let notification: Notification = serde_json::from_slice(&body)
        .map_err(|e| OpError(AppError::BadRequest("invalid_json", format!("the body is not a notification: {e}"))))?;
    let number = channel.config["phone_number_id"].as_str().unwrap_or_default();
    for value in notification.entry.into_iter().flat_map(|e| e.changes).map(|c| c.value) {
        if value.metadata.as_ref().is_some_and(|m| m.phone_number_id != number) {
            continue;
        }
        for status in &value.statuses {
            record_status(&state, &channel, status).await?;
        }
        for m in value.messages {
            let name = value.contacts.iter().find(|c| c.wa_id == m.from).and_then(|c| c.profile.as_ref()?.name.clone());
            let text = match (m.kind.as_str(), m.text) {
                (_, Some(t)) => t.body,
                (kind, None) => format!("[a {} the chat cannot show]", if kind.is_empty() { "message" } else { kind }),
            };
            if m.from.is_empty() || m.from.len() > 32 || !m.from.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let inbound = Inbound {
                chat_key: format!("{CHAT_PREFIX}{}", m.from),
                person_key: format!("whatsapp:{}", m.from),
                name,
                message_key: message_key(&m.id),
                text,
            };
            super::receive(&state, &channel, inbound).await?;
        }
    }
    Ok(StatusCode::OK)
}

/// A reply Meta reports `failed` after accepting it is marked failed with Meta's reason.
async fn record_status(state: &AppState, channel: &Website, status: &Status) -> OpResult<()> {
    if status.status != "failed" {
        return Ok(());
    }
    let Some(mut send) = state.store.channel_send_by_external_id(&channel.id, &status.id).await? else {
        return Ok(());
    };
    let reason = status.errors.first().and_then(|e| e.message.clone().or_else(|| e.title.clone()));
    send.state = "failed".into();
    send.error = Some(format!("WhatsApp: {}", reason.as_deref().unwrap_or("the message was not delivered")));
    state.store.settle_channel_send(&send).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_against_the_body_and_secret() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").expect("key");
        mac.update(b"{}");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(signed("app-secret", b"{}", &format!("sha256={hex}")));
        assert!(!signed("app-secret", b"{ }", &format!("sha256={hex}")));
        assert!(!signed("other", b"{}", &format!("sha256={hex}")));
        assert!(!signed("app-secret", b"{}", &hex), "the sha256= prefix is required");
        assert!(!signed("app-secret", b"{}", "sha256=zz"));
    }

    #[test]
    fn message_ids_become_keys_the_store_takes() {
        let key = message_key("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=");
        assert!(crate::domain::ClientKey::parse("id", &key).is_ok(), "{key}");
        assert_ne!(key, message_key("wamid.other"));
    }
}
