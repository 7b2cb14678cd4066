//! AI replies from the knowledge base. Providers sit behind one trait:
//! `builtin` (the default) answers with the best passage the knowledge base
//! holds, with no network and no key; `openai` speaks any OpenAI-compatible
//! chat-completions endpoint (OpenAI, llama.cpp, Ollama, vLLM); `anthropic`
//! the Messages API. Every reply carries a confidence, the normalised
//! retrieval score of its best passage in [0, 1], and its sources.
//!
//! A per-account `base_url` obeys the webhooks' private-address rule; the
//! server-wide default (`--ai-provider`, `--ai-base-url`, `--ai-model`,
//! `NATTER_AI_API_KEY`) is the operator's own and may point at a local model.

use std::time::Duration;

use serde_json::{json, Value};

use natter_protocol::Sender;

use crate::egress::Egress;
use crate::store::{AiSettingsRecord, Cursor, Store, StoreError};

pub const PROVIDERS: [&str; 3] = ["builtin", "openai", "anthropic"];
pub const DEFAULT_THRESHOLD: f64 = 0.6;
pub const DEFAULT_TEMPERATURE: f64 = 0.3;
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are the support assistant of this company. Answer the customer's \
    question briefly and kindly, only from the knowledge base passages given. If they do not answer it, say so \
    and offer to connect the customer with a person.";
const OPENAI_BASE: &str = "https://api.openai.com/v1";
const ANTHROPIC_BASE: &str = "https://api.anthropic.com";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at a provider call (the first included); 429, 5xx and network errors are retried.
const ATTEMPTS: u32 = 2;

/// The server-wide defaults for accounts that set nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerDefaults {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
}

/// An account's effective settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub provider: String,
    pub model: String,
    pub temperature: f64,
    pub system_prompt: String,
    pub auto_respond: bool,
    pub confidence_threshold: f64,
    /// The account's own endpoint (checked against the egress rule), if any.
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

/// The model a provider uses when none is chosen.
pub fn default_model(provider: &str) -> &'static str {
    match provider {
        "openai" => "gpt-4o-mini",
        "anthropic" => "claude-3-5-sonnet-latest",
        _ => "extractive",
    }
}

impl Settings {
    /// The stored settings, or the server's defaults.
    pub fn resolve(stored: Option<AiSettingsRecord>, defaults: &ServerDefaults) -> Self {
        match stored {
            Some(s) => Self {
                provider: s.provider,
                model: s.model,
                temperature: s.temperature,
                system_prompt: s.system_prompt,
                auto_respond: s.auto_respond,
                confidence_threshold: s.confidence_threshold,
                base_url: s.base_url,
                api_key: s.api_key,
            },
            None => {
                let provider = defaults.provider.clone().unwrap_or_else(|| "builtin".to_owned());
                Self {
                    model: defaults.model.clone().unwrap_or_else(|| default_model(&provider).to_owned()),
                    provider,
                    temperature: DEFAULT_TEMPERATURE,
                    system_prompt: DEFAULT_SYSTEM_PROMPT.to_owned(),
                    auto_respond: false,
                    confidence_threshold: DEFAULT_THRESHOLD,
                    base_url: None,
                    api_key: None,
                }
            }
        }
    }
}

/// A passage given to a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub title: String,
    pub content: String,
}

/// Who said a line of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer,
    Support,
}

/// What a provider is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub system: String,
    pub passages: Vec<Passage>,
    /// The conversation, oldest first, ending with the customer's question.
    pub history: Vec<(Role, String)>,
}

impl Prompt {
    /// The system prompt with the passages appended.
    pub fn system_with_passages(&self) -> String {
        let mut text = self.system.clone();
        text.push_str("\n\nKnowledge base passages:\n");
        if self.passages.is_empty() {
            text.push_str("(none found)\n");
        }
        for (i, p) in self.passages.iter().enumerate() {
            text.push_str(&format!("\n[{}] {}\n{}\n", i + 1, p.title, p.content));
        }
        text
    }

    /// The history as alternating user/assistant turns starting with the
    /// user (consecutive lines of one side joined), as chat APIs want them.
    fn turns(&self) -> Vec<Value> {
        let mut turns: Vec<(&str, String)> = Vec::new();
        for (role, text) in &self.history {
            let role = if *role == Role::Customer { "user" } else { "assistant" };
            if turns.is_empty() && role == "assistant" {
                continue;
            }
            match turns.last_mut() {
                Some((last, joined)) if *last == role => {
                    joined.push('\n');
                    joined.push_str(text);
                }
                _ => turns.push((role, text.clone())),
            }
        }
        turns.into_iter().map(|(role, content)| json!({ "role": role, "content": content })).collect()
    }
}

/// Why a provider gave no reply; the message is safe to show (no key, no URL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

/// The HTTP clients providers use: one obeying the egress rule (account
/// endpoints), one not (the server's own default).
#[derive(Clone)]
pub struct Clients {
    guarded: reqwest::Client,
    trusted: reqwest::Client,
    egress: Egress,
}

impl Clients {
    pub fn new(egress: Egress) -> Self {
        let trusted = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { guarded: egress.client(REQUEST_TIMEOUT), trusted, egress }
    }
}

/// One call to a provider: where, with which key and settings, what prompt.
pub struct Call<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    key: Option<&'a str>,
    settings: &'a Settings,
    prompt: &'a Prompt,
}

/// A model that writes replies. Remote ones are called over HTTP, retried
/// on 429, 5xx and network errors, and obey the private-address rule.
#[async_trait::async_trait]
trait Provider: Sync {
    /// Whether it is called over the network (and so needs an endpoint).
    fn remote(&self) -> bool {
        true
    }

    /// The endpoint used when neither the account nor the server set one.
    fn default_base(&self) -> &'static str;

    /// One attempt; a failure says whether another is worth making.
    async fn complete(&self, call: Call<'_>) -> Attempt;
}

/// The provider named in the settings.
fn provider(name: &str) -> &'static dyn Provider {
    match name {
        "builtin" => &Builtin,
        "anthropic" => &Anthropic,
        _ => &OpenAi,
    }
}

/// The reply of the settings' provider to `prompt`.
pub async fn reply(
    clients: &Clients,
    settings: &Settings,
    defaults: &ServerDefaults,
    prompt: &Prompt,
) -> Result<String, ProviderError> {
    let model = provider(&settings.provider);
    if !model.remote() {
        let call = Call { client: &clients.trusted, base: "", key: None, settings, prompt };
        return model.complete(call).await.map_err(|(e, _)| e);
    }
    // The account's endpoint and key, else the server's for the same provider.
    let server_default = defaults.provider.as_deref() == Some(settings.provider.as_str());
    let (base, client) = match &settings.base_url {
        Some(url) => {
            if !clients.egress.literal_allowed(url) {
                return Err(ProviderError("the AI provider's address is a private address".into()));
            }
            (url.clone(), &clients.guarded)
        }
        None if server_default && defaults.base_url.is_some() => {
            (defaults.base_url.clone().unwrap_or_default(), &clients.trusted)
        }
        None => (model.default_base().to_owned(), &clients.guarded),
    };
    let key = settings.api_key.clone().or_else(|| defaults.api_key.clone().filter(|_| server_default));
    let base = base.trim_end_matches('/');
    let mut last = ProviderError("the AI provider did not answer".into());
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match model.complete(Call { client, base, key: key.as_deref(), settings, prompt }).await {
            Ok(text) => return Ok(text),
            Err((error, retry)) => {
                last = error;
                if !retry {
                    break;
                }
            }
        }
    }
    Err(last)
}

/// The extractive answer: the best passage, as it is written; no network, no key.
struct Builtin;

#[async_trait::async_trait]
impl Provider for Builtin {
    fn remote(&self) -> bool {
        false
    }

    fn default_base(&self) -> &'static str {
        ""
    }

    async fn complete(&self, call: Call<'_>) -> Attempt {
        Ok(match call.prompt.passages.first() {
            Some(p) => p.content.clone(),
            None => "I could not find this in our knowledge base. An operator will help you.".to_owned(),
        })
    }
}

type Attempt = Result<String, (ProviderError, bool)>;

/// A failed HTTP exchange: the provider's message when it gives one, and whether to retry.
async fn failure(res: reqwest::Response, provider: &str) -> (ProviderError, bool) {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let message = body["error"]["message"].as_str().map(|m| m.chars().take(300).collect::<String>());
    let retry = status.as_u16() == 429 || status.is_server_error();
    (
        ProviderError(format!("{provider} answered {status}{}", message.map(|m| format!(": {m}")).unwrap_or_default())),
        retry,
    )
}

fn unreachable_provider(e: reqwest::Error, provider: &str) -> (ProviderError, bool) {
    (ProviderError(format!("{provider} could not be reached: {}", e.without_url())), true)
}

/// Any OpenAI-compatible chat-completions endpoint (OpenAI, llama.cpp, Ollama, vLLM).
struct OpenAi;

#[async_trait::async_trait]
impl Provider for OpenAi {
    fn default_base(&self) -> &'static str {
        OPENAI_BASE
    }

    async fn complete(&self, call: Call<'_>) -> Attempt {
        let Call { client, base, key, settings: s, prompt } = call;
        let mut messages = vec![json!({ "role": "system", "content": prompt.system_with_passages() })];
        messages.extend(prompt.turns());
        let body = json!({ "model": s.model, "temperature": s.temperature, "messages": messages });
        let mut req = client.post(format!("{base}/chat/completions")).json(&body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let res = req.send().await.map_err(|e| unreachable_provider(e, "the AI provider"))?;
        if !res.status().is_success() {
            return Err(failure(res, "the AI provider").await);
        }
        let answer: Value =
            res.json().await.map_err(|_| (ProviderError("the AI provider's answer is not JSON".into()), false))?;
        answer["choices"][0]["message"]["content"]
            .as_str()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| (ProviderError("the AI provider's answer has no text".into()), false))
    }
}

/// Anthropic's Messages API.
struct Anthropic;

#[async_trait::async_trait]
impl Provider for Anthropic {
    fn default_base(&self) -> &'static str {
        ANTHROPIC_BASE
    }

    async fn complete(&self, call: Call<'_>) -> Attempt {
        let Call { client, base, key, settings: s, prompt } = call;
        let body = json!({
            "model": s.model, "max_tokens": 1024, "temperature": s.temperature,
            "system": prompt.system_with_passages(), "messages": prompt.turns(),
        });
        let mut req = client.post(format!("{base}/v1/messages")).header("anthropic-version", "2023-06-01").json(&body);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        let res = req.send().await.map_err(|e| unreachable_provider(e, "Anthropic"))?;
        if !res.status().is_success() {
            return Err(failure(res, "Anthropic").await);
        }
        let answer: Value =
            res.json().await.map_err(|_| (ProviderError("Anthropic's answer is not JSON".into()), false))?;
        let text: String = answer["content"]
            .as_array()
            .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(""))
            .unwrap_or_default();
        Some(text.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| (ProviderError("Anthropic's answer has no text".into()), false))
    }
}

const PASSAGES: usize = 3;

/// A document an answer drew on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Source {
    pub document_id: String,
    pub title: String,
    pub relevance: f64,
}

/// A reply with how sure it is and what it drew on.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub response: String,
    /// The best passage's retrieval score, from 0 to 1.
    pub confidence: f64,
    pub sources: Vec<Source>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the conversation has no customer message to answer")]
    NoQuestion,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// An answer to a conversation's latest customer message: the conversation
/// up to it (its newest `context` messages) and the knowledge base's best
/// passages for it go to the provider of `settings`.
pub async fn answer(
    store: &dyn Store,
    clients: &Clients,
    defaults: &ServerDefaults,
    settings: &Settings,
    account_id: &str,
    session_id: &str,
    context: i64,
) -> Result<Answer, AnswerError> {
    let page = store.list_messages(session_id, Cursor::Latest, context).await?;
    let mut history: Vec<(Role, String)> = page
        .messages
        .iter()
        .filter(|m| m.sender != Sender::System)
        .map(|m| (if m.sender == Sender::User { Role::Customer } else { Role::Support }, m.body.clone()))
        .collect();
    let last = history.iter().rposition(|(role, _)| *role == Role::Customer).ok_or(AnswerError::NoQuestion)?;
    history.truncate(last + 1);
    // The customer's latest message asks the question; when the knowledge
    // base has nothing for it ("and how long does it take?"), what they wrote
    // before in the conversation may name what it is about.
    let mut found = crate::knowledge::best_passages(store, account_id, &history[last].1, PASSAGES).await?;
    if found.is_empty() {
        let said: Vec<&str> =
            history[..=last].iter().filter(|(role, _)| *role == Role::Customer).map(|(_, t)| t.as_str()).collect();
        if said.len() > 1 {
            found = crate::knowledge::best_passages(store, account_id, &said.join("\n"), PASSAGES).await?;
        }
    }
    let confidence = found.first().map_or(0.0, |(_, score)| *score);
    let prompt = Prompt {
        system: settings.system_prompt.clone(),
        passages: found
            .iter()
            .map(|(hit, _)| Passage { title: hit.title.clone(), content: hit.content.clone() })
            .collect(),
        history,
    };
    let response = reply(clients, settings, defaults, &prompt).await?;
    let sources = found
        .into_iter()
        .map(|(hit, score)| Source { document_id: hit.document_id, title: hit.title, relevance: score })
        .collect();
    Ok(Answer { response, confidence, sources })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(history: Vec<(Role, &str)>) -> Prompt {
        Prompt {
            system: "Be kind.".into(),
            passages: vec![Passage { title: "FAQ".into(), content: "Returns within 30 days.".into() }],
            history: history.into_iter().map(|(r, t)| (r, t.to_owned())).collect(),
        }
    }

    #[test]
    fn turns_alternate_and_start_with_the_customer() {
        let p = prompt(vec![
            (Role::Support, "Hi! How can we help?"),
            (Role::Customer, "Hello"),
            (Role::Customer, "Can I return this?"),
            (Role::Support, "Sure"),
            (Role::Customer, "How?"),
        ]);
        let turns = p.turns();
        let roles: Vec<&str> = turns.iter().filter_map(|t| t["role"].as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(turns[0]["content"], "Hello\nCan I return this?");
    }

    #[test]
    fn the_system_prompt_carries_the_passages() {
        let text = prompt(vec![]).system_with_passages();
        assert!(text.starts_with("Be kind."));
        assert!(text.contains("[1] FAQ\nReturns within 30 days."));
    }

    #[tokio::test]
    async fn builtin_answers_with_the_best_passage_or_hands_over() {
        let client = reqwest::Client::new();
        let settings = Settings::resolve(None, &ServerDefaults::default());
        assert!(!provider(&settings.provider).remote(), "the default needs no network");
        let (client, settings) = (&client, &settings);
        let ask = |prompt: Prompt| async move {
            let call = Call { client, base: "", key: None, settings, prompt: &prompt };
            provider(&settings.provider).complete(call).await.expect("answered")
        };
        assert_eq!(ask(prompt(vec![])).await, "Returns within 30 days.");
        let mut empty = prompt(vec![]);
        empty.passages.clear();
        assert!(ask(empty).await.contains("An operator will help you"));
    }

    #[test]
    fn accounts_without_settings_get_the_server_defaults() {
        let s = Settings::resolve(None, &ServerDefaults::default());
        assert_eq!(
            (s.provider.as_str(), s.auto_respond, s.confidence_threshold),
            ("builtin", false, DEFAULT_THRESHOLD)
        );
        let local =
            ServerDefaults { provider: Some("openai".into()), model: Some("llama3".into()), ..Default::default() };
        assert_eq!(Settings::resolve(None, &local).model, "llama3");
    }
}
