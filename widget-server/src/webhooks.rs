//! Signed webhooks. `emit` queues an event and returns at once; a worker
//! sends it to every active webhook subscribed to it, retrying failures with
//! exponential backoff and logging every attempt. Each request carries
//! `X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" keyed by the webhook's secret>` (and `X-Webhook-Timestamp`),
//! so receivers can check authenticity and refuse replays.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::store::{Delivery, Store, Webhook};
use crate::time::{iso, now_ms};

/// Every event a webhook may subscribe to.
pub const EVENTS: [&str; 6] = [
    "conversation.created",
    "conversation.closed",
    "conversation.assigned",
    "message.received",
    "message.sent",
    "customer.identified",
];

/// Attempts per event and webhook, the first included.
pub const ATTEMPTS: u32 = 5;
/// Events waiting to be sent before new ones are dropped (and logged).
const QUEUE: usize = 10_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Event {
    id: String,
    account_id: String,
    name: &'static str,
    body: Arc<str>,
}

/// The webhook sender.
#[derive(Debug)]
pub struct Webhooks {
    tx: mpsc::Sender<Event>,
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

impl Webhooks {
    /// Starts the worker. Retries wait `retry_base`, then 4× as long each time.
    pub fn start(store: Arc<dyn Store>, retry_base: Duration) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let client = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap_or_default();
        tokio::spawn(worker(rx, store, client, retry_base));
        Self { tx }
    }

    /// Queues `event` of an account with `data` in the reference payload shape;
    /// only that account's webhooks receive it.
    pub fn emit(&self, account_id: &str, name: &'static str, data: Value) {
        let body = json!({ "event": name, "timestamp": iso(now_ms()), "data": data }).to_string();
        let event =
            Event { id: uuid::Uuid::new_v4().to_string(), account_id: account_id.to_owned(), name, body: body.into() };
        if self.tx.try_send(event).is_err() {
            tracing::warn!(event = name, "webhook queue full; event dropped");
        }
    }
}

async fn worker(mut rx: mpsc::Receiver<Event>, store: Arc<dyn Store>, client: reqwest::Client, retry_base: Duration) {
    while let Some(event) = rx.recv().await {
        let hooks = match store.list_webhooks(&event.account_id).await {
            Ok(hooks) => hooks,
            Err(e) => {
                tracing::error!(error = %e, "could not load webhooks");
                continue;
            }
        };
        for hook in hooks.into_iter().filter(|h| h.active && h.events.iter().any(|e| e == event.name)) {
            tokio::spawn(deliver(Arc::clone(&store), client.clone(), hook, event.clone(), retry_base));
        }
    }
}

async fn deliver(store: Arc<dyn Store>, client: reqwest::Client, hook: Webhook, event: Event, retry_base: Duration) {
    let mut wait = retry_base;
    for attempt in 1..=ATTEMPTS {
        let timestamp = now_ms() / 1000;
        let signature = sign(&hook.secret, timestamp, &event.body);
        let result = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-webhook-event", event.name)
            .header("x-webhook-id", &event.id)
            .header("x-webhook-timestamp", timestamp.to_string())
            .header("x-webhook-signature", format!("t={timestamp},v1={signature}"))
            .body(event.body.to_string())
            .send()
            .await;
        // Errors are logged without the URL, which may carry a receiver's secret.
        let (status_code, success, error) = match result {
            Ok(res) => (Some(i64::from(res.status().as_u16())), res.status().is_success(), None),
            Err(e) => (None, false, Some(e.without_url().to_string())),
        };
        let delivery = Delivery {
            id: uuid::Uuid::new_v4().to_string(),
            webhook_id: hook.id.clone(),
            event: event.name.to_owned(),
            attempt: i64::from(attempt),
            status_code,
            success,
            error,
            created_ms: now_ms(),
        };
        if let Err(e) = store.record_delivery(&delivery).await {
            tracing::error!(error = %e, "could not log a webhook delivery");
        }
        if success {
            return;
        }
        tracing::warn!(webhook = %hook.id, event = event.name, attempt, status = ?status_code, "webhook delivery failed");
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 4;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let a = sign("secret", 1_700_000_000, "{}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, sign("secret", 1_700_000_001, "{}"));
        assert_ne!(a, sign("secret", 1_700_000_000, "{ }"));
        assert_ne!(a, sign("other", 1_700_000_000, "{}"));
    }

    #[test]
    fn the_signature_matches_an_independent_hmac_sha256() {
        // Reference value from an independent HMAC-SHA256 implementation.
        assert_eq!(
            sign("whsec_test", 1_700_000_000, r#"{"event":"message.received"}"#),
            "5618156c98e72a18fa973b562ff44de2eca640beaa2b8e040aab1e5e062859e8"
        );
    }
}
