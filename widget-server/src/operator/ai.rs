//! AI (`/ai`): the account's settings (admins change them; the API key is
//! write-only and sealed at rest) and `POST /ai/generate`, a suggested reply
//! to a conversation from the knowledge base through the account's provider.

use axum::extract::State;
use axum::Json;
use natter_protocol::operator::OperatorError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{AdminOperator, AuthOperator};
use super::conversations::load_session;
use crate::ai::{self, Settings, PROVIDERS};
use crate::egress::Refused;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::store::AiSettingsRecord;
use crate::time::now_ms;
use crate::AppState;

fn invalid(what: impl Into<String>) -> OpError {
    OpError(AppError::Validation("validation_error", what.into()))
}

/// The account's effective settings.
pub(crate) async fn settings_of(state: &AppState, account_id: &str) -> OpResult<Settings> {
    let stored = state.store.ai_settings(account_id).await?;
    Ok(Settings::resolve(stored, &state.settings.ai))
}

#[derive(Serialize, ToSchema)]
pub struct AiSettingsView {
    /// `builtin`, `openai` or `anthropic`.
    provider: String,
    model: String,
    temperature: f64,
    system_prompt: String,
    auto_respond: bool,
    confidence_threshold: f64,
    /// The account's own endpoint; `null` uses the provider's (or the server's).
    base_url: Option<String>,
    /// Whether an API key is stored (the key itself is never shown).
    api_key_set: bool,
}

fn view(s: &Settings) -> AiSettingsView {
    AiSettingsView {
        provider: s.provider.clone(),
        model: s.model.clone(),
        temperature: s.temperature,
        system_prompt: s.system_prompt.clone(),
        auto_respond: s.auto_respond,
        confidence_threshold: s.confidence_threshold,
        base_url: s.base_url.clone(),
        api_key_set: s.api_key.is_some(),
    }
}

#[utoipa::path(get, path = "/api/v1/ai/settings", tag = "ai", security(("bearer" = [])), responses((status = 200, description = "The account's AI settings", body = AiSettingsView), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn get_settings(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
) -> OpResult<Json<AiSettingsView>> {
    Ok(Json(view(&settings_of(&state, &op.account_id).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct AiSettingsChange {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    system_prompt: Option<String>,
    #[serde(default)]
    auto_respond: Option<bool>,
    #[serde(default)]
    confidence_threshold: Option<f64>,
    /// An OpenAI-compatible or Anthropic endpoint; `""` goes back to the default.
    #[serde(default)]
    base_url: Option<String>,
    /// Stored sealed and never shown; `""` removes it.
    #[serde(default)]
    api_key: Option<String>,
}

/// Changes the fields given; the others keep their values.
#[utoipa::path(put, path = "/api/v1/ai/settings", tag = "ai", security(("bearer" = [])), request_body = AiSettingsChange, responses((status = 200, description = "The account's AI settings", body = AiSettingsView), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn put_settings(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    body: Result<JsonBody<AiSettingsChange>, AppError>,
) -> OpResult<Json<AiSettingsView>> {
    let JsonBody(req) = body?;
    let mut s = settings_of(&state, &op.account_id).await?;
    if let Some(provider) = req.provider {
        if !PROVIDERS.contains(&provider.as_str()) {
            return Err(invalid("provider must be builtin, openai or anthropic"));
        }
        if provider != s.provider && req.model.is_none() {
            s.model = ai::default_model(&provider).to_owned();
        }
        s.provider = provider;
    }
    if let Some(model) = req.model {
        let model = model.trim();
        if model.is_empty() || model.chars().count() > 100 || model.chars().any(char::is_control) {
            return Err(invalid("model must be 1 to 100 characters"));
        }
        s.model = model.to_owned();
    }
    if let Some(t) = req.temperature {
        if !t.is_finite() || !(0.0..=2.0).contains(&t) {
            return Err(invalid("temperature must be between 0 and 2"));
        }
        s.temperature = t;
    }
    if let Some(prompt) = req.system_prompt {
        if prompt.trim().is_empty() || prompt.chars().count() > 4000 {
            return Err(invalid("system_prompt must be 1 to 4000 characters"));
        }
        s.system_prompt = prompt;
    }
    if let Some(on) = req.auto_respond {
        s.auto_respond = on;
    }
    if let Some(c) = req.confidence_threshold {
        if !c.is_finite() || !(0.0..=1.0).contains(&c) {
            return Err(invalid("confidence_threshold must be between 0 and 1"));
        }
        s.confidence_threshold = c;
    }
    if let Some(url) = req.base_url {
        let url = url.trim();
        s.base_url = if url.is_empty() {
            None
        } else {
            if url.len() > 2048 {
                return Err(invalid("base_url must be at most 2048 characters"));
            }
            match state.settings.egress.check_url(url).await {
                Ok(_) => Some(url.trim_end_matches('/').to_owned()),
                Err(refused @ Refused::NotHttp) => return Err(invalid(format!("base_url: {refused}"))),
                Err(refused) => {
                    return Err(OpError(AppError::Validation("ai_target_not_allowed", format!("base_url: {refused}"))))
                }
            }
        };
    }
    if let Some(key) = req.api_key {
        let key = key.trim();
        if key.len() > 1024 || key.chars().any(char::is_control) {
            return Err(invalid("api_key must be at most 1024 printable characters"));
        }
        s.api_key = Some(key.to_owned()).filter(|k| !k.is_empty());
    }
    let record = AiSettingsRecord {
        account_id: op.account_id.clone(),
        provider: s.provider.clone(),
        model: s.model.clone(),
        temperature: s.temperature,
        system_prompt: s.system_prompt.clone(),
        auto_respond: s.auto_respond,
        confidence_threshold: s.confidence_threshold,
        base_url: s.base_url.clone(),
        api_key: s.api_key.clone(),
        updated_ms: now_ms(),
    };
    state.store.save_ai_settings(&record).await?;
    state.chat.forget_ai_settings(&op.account_id);
    Ok(Json(view(&s)))
}

#[derive(Deserialize, ToSchema)]
pub struct GenerateRequest {
    conversation_id: String,
    /// How many of the newest messages the provider sees (1–50; 10 when absent).
    #[serde(default)]
    context_messages: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Generated {
    response: String,
    /// The best passage's retrieval score, from 0 to 1.
    confidence: f64,
    sources: Vec<ai::Source>,
}

#[utoipa::path(post, path = "/api/v1/ai/generate", tag = "ai", security(("bearer" = [])), request_body = GenerateRequest, responses((status = 200, description = "A suggested reply with its confidence and sources", body = Generated), (status = 502, description = "The AI provider failed (AI_PROVIDER_ERROR)", body = OperatorError), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn generate(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    body: Result<JsonBody<GenerateRequest>, AppError>,
) -> OpResult<Json<Generated>> {
    let JsonBody(req) = body?;
    let context = req.context_messages.unwrap_or(10);
    if !(1..=50).contains(&context) {
        return Err(invalid("context_messages must be between 1 and 50"));
    }
    let session = load_session(&state, &op, &req.conversation_id).await?;
    let settings = settings_of(&state, &op.account_id).await?;
    let answer = ai::answer(
        state.store.as_ref(),
        &state.ai_clients,
        &state.settings.ai,
        &settings,
        &op.account_id,
        &session.id,
        context,
    )
    .await
    .map_err(|e| match e {
        ai::AnswerError::NoQuestion => invalid(e.to_string()),
        ai::AnswerError::Store(e) => OpError(AppError::Store(e)),
        ai::AnswerError::Provider(e) => OpError(AppError::Upstream("ai_provider_error", e.0)),
    })?;
    Ok(Json(Generated { response: answer.response, confidence: answer.confidence, sources: answer.sources }))
}
