//! Auto-respond: when an account turns it on, a visitor message gets a bot
//! reply written from the knowledge base if the answer's confidence reaches
//! the threshold; otherwise, when the provider fails, or when the visitor
//! asks for a person, the bot hands over once ("connecting you with a
//! person") and the conversation shows as needing a human. An operator's
//! reply or the per-conversation switch turns the AI off for that
//! conversation. Provider calls run beside message handling, never in it.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use natter_protocol::Sender;

use super::message::sender_name;
use super::{Chat, ChatResult};
use crate::ai;
use crate::store::{bot_flags, AiReply, NewMessage, Session, StoreResult, Website};
use crate::time::now_ms;

/// What the bot says when it hands a conversation over.
pub const HANDOVER: &str = "Let me connect you with a person: an operator will answer here shortly.";
/// How long an answer may take before the bot hands over instead.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest reply the bot posts.
const MAX_REPLY_CHARS: usize = 4000;
/// How long an account's AI settings are trusted before they are read again
/// (changes through this instance apply at once).
const SETTINGS_TTL: Duration = Duration::from_secs(5);

/// What auto-respond needs besides the chat core.
pub struct AiRuntime {
    me: Weak<Chat>,
    clients: ai::Clients,
    defaults: ai::ServerDefaults,
    /// Accounts' settings, so a visitor message costs no read to learn auto-respond is off.
    settings: RwLock<HashMap<String, (Instant, Arc<ai::Settings>)>>,
}

impl AiRuntime {
    async fn settings(&self, store: &dyn crate::store::Store, account_id: &str) -> StoreResult<Arc<ai::Settings>> {
        let cached = self.settings.read().unwrap_or_else(PoisonError::into_inner).get(account_id).cloned();
        if let Some((_, settings)) = cached.filter(|(at, _)| at.elapsed() < SETTINGS_TTL) {
            return Ok(settings);
        }
        let settings = Arc::new(ai::Settings::resolve(store.ai_settings(account_id).await?, &self.defaults));
        let mut map = self.settings.write().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, (at, _)| at.elapsed() < SETTINGS_TTL);
        map.insert(account_id.to_owned(), (Instant::now(), Arc::clone(&settings)));
        Ok(settings)
    }
}

/// Whether a visitor asks for a person, in English, Ukrainian or Russian.
pub fn wants_a_person(text: &str) -> bool {
    const ASKS: [&str; 13] = [
        "operator",
        "human",
        "a person",
        "real person",
        "live agent",
        "talk to someone",
        "speak to someone",
        "оператор",
        "людин",
        "живу людину",
        "живого",
        "менеджер",
        "консультант",
    ];
    let text = text.to_lowercase();
    ASKS.iter().any(|ask| text.contains(ask))
}

impl Chat {
    /// Lets the chat answer visitors with AI (once, at start).
    pub fn enable_ai(self: &Arc<Self>, clients: ai::Clients, defaults: ai::ServerDefaults) {
        let runtime = AiRuntime { me: Arc::downgrade(self), clients, defaults, settings: RwLock::default() };
        let _already = self.ai.set(runtime);
    }

    /// Forgets an account's cached AI settings after they changed.
    pub fn forget_ai_settings(&self, account_id: &str) {
        if let Some(rt) = self.ai.get() {
            rt.settings.write().unwrap_or_else(PoisonError::into_inner).remove(account_id);
        }
    }

    /// Starts answering a visitor message in the background when the account has auto-respond on.
    pub(super) async fn spawn_auto_respond(&self, session: &Session, text: &str) -> ChatResult<()> {
        let Some(rt) = self.ai.get() else { return Ok(()) };
        let settings = rt.settings(self.store.as_ref(), &session.account_id).await?;
        if !settings.auto_respond {
            return Ok(());
        }
        let Some(chat) = rt.me.upgrade() else { return Ok(()) };
        let (session, text) = (session.clone(), text.to_owned());
        tokio::spawn(async move {
            if let Err(e) = chat.auto_respond(&session, &text, &settings).await {
                tracing::warn!(error = %e, session = %session.id, "auto-respond failed");
            }
        });
        Ok(())
    }

    async fn auto_respond(&self, session: &Session, text: &str, settings: &ai::Settings) -> ChatResult<()> {
        let Some(rt) = self.ai.get() else { return Ok(()) };
        let Some(current) = self.store.session_by_id(&session.id).await? else { return Ok(()) };
        if current.bot_state & bot_flags::AI_OFF != 0 {
            return Ok(());
        }
        let Some(website) = self.store.website_by_id(&current.website_id).await? else { return Ok(()) };
        if wants_a_person(text) {
            return self.hand_over(&website, &current).await;
        }
        let store = self.store.as_ref();
        let answering = ai::answer(store, &rt.clients, &rt.defaults, settings, &current.account_id, &current.id, 10);
        let answer = match tokio::time::timeout(ANSWER_TIMEOUT, answering).await {
            Ok(Ok(a)) if a.confidence >= settings.confidence_threshold && !a.response.trim().is_empty() => a,
            Ok(Ok(_)) => return self.hand_over(&website, &current).await,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, session = %current.id, "the AI could not answer; handing over");
                return self.hand_over(&website, &current).await;
            }
            Err(_) => {
                tracing::warn!(session = %current.id, "the AI took too long; handing over");
                return self.hand_over(&website, &current).await;
            }
        };
        // An operator may have stepped in while the provider was thinking.
        let Some(current) = self.store.session_by_id(&session.id).await? else { return Ok(()) };
        if current.bot_state & bot_flags::AI_OFF != 0 {
            return Ok(());
        }
        let body: String = answer.response.trim().chars().take(MAX_REPLY_CHARS).collect();
        let new = NewMessage {
            session_id: &current.id,
            sender: Sender::Bot,
            body: &body,
            manager_id: None,
            echo_id: None,
            attachments: &[],
        };
        let name = sender_name(&website, &current, Sender::Bot, None).to_owned();
        let (message, _) = self.post(&current, new, &name).await?;
        let reply = AiReply {
            message_id: message.id,
            session_id: current.id.clone(),
            account_id: current.account_id.clone(),
            provider: settings.provider.clone(),
            confidence: answer.confidence,
            sources: serde_json::to_string(&answer.sources).unwrap_or_else(|_| "[]".into()),
            created_ms: now_ms(),
        };
        self.store.record_ai_reply(&reply).await?;
        Ok(())
    }

    /// Stops the AI in the conversation and, the first time, says a person will answer.
    async fn hand_over(&self, website: &Website, session: &Session) -> ChatResult<()> {
        let added = self.store.set_bot_flags(&session.id, bot_flags::AI_OFF | bot_flags::NEEDS_HUMAN).await?;
        if added & bot_flags::NEEDS_HUMAN != 0 {
            let new = NewMessage {
                session_id: &session.id,
                sender: Sender::Bot,
                body: HANDOVER,
                manager_id: None,
                echo_id: None,
                attachments: &[],
            };
            let name = sender_name(website, session, Sender::Bot, None).to_owned();
            self.post(session, new, &name).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitors_asking_for_a_person_are_heard_in_three_languages() {
        assert!(wants_a_person("Can I talk to a human please?"));
        assert!(wants_a_person("З'єднайте з оператором"));
        assert!(wants_a_person("Позовите живого менеджера"));
        assert!(!wants_a_person("How do I return an item?"));
    }
}
