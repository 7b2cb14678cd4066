//! Signed webhooks through a durable outbox. `emit` writes one outbox row per
//! subscribed webhook of the event's account before it returns; a bounded
//! pool of workers claims due rows, sends them, logs every attempt and
//! retries failures with exponential backoff. Rows stay until they are
//! delivered or given up, so a restart (or a crash) loses nothing: any
//! instance sharing the database picks them up. Each request carries
//! `X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" keyed by the webhook's secret>` (and `X-Webhook-Timestamp`),
//! so receivers can check authenticity and refuse replays. Targets obey the
//! egress rule ([`crate::egress`]) and redirects are not followed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{Notify, RwLock, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::egress::Egress;
use crate::store::{Delivery, OutboxItem, Store, StoreResult, Webhook};
use crate::time::{iso, now_ms};

/// Every event a webhook may subscribe to.
pub const EVENTS: [&str; 7] = [
    "conversation.created",
    "conversation.closed",
    "conversation.assigned",
    "message.received",
    "message.sent",
    "customer.identified",
    "subscription.changed",
];

/// Attempts per event and webhook, the first included.
pub const ATTEMPTS: i64 = 5;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed row is left alone by other workers for this long.
const LEASE_MS: i64 = 60_000;
/// Rows claimed per pass.
const CLAIM_BATCH: i64 = 64;
/// Delivery log rows are kept this long.
const LOG_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long an account's webhook list is cached (changes through the API
/// clear it at once on this instance).
const CACHE_TTL: Duration = Duration::from_secs(30);

/// How the sender runs.
#[derive(Debug, Clone, Copy)]
pub struct WebhookConfig {
    /// First retry wait; each later one is 4× longer.
    pub retry_base: Duration,
    /// Deliveries in flight at once; 0 leaves delivery to other instances.
    pub workers: usize,
    pub egress: Egress,
}

/// The webhook sender.
pub struct Webhooks {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    hooks: RwLock<HashMap<String, CachedHooks>>,
}

/// An account's webhooks and when they were read.
type CachedHooks = (Instant, Arc<Vec<Webhook>>);

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The wait before attempt `attempt + 1` after `attempt` failed ones.
fn backoff(base: Duration, attempt: i64) -> Duration {
    base.saturating_mul(4u32.saturating_pow(u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX)))
}

impl Webhooks {
    /// Starts the delivery workers (unless `config.workers` is 0); they stop with `shutdown`.
    pub fn start(store: Arc<dyn Store>, config: WebhookConfig, shutdown: CancellationToken) -> Self {
        let wake = Arc::new(Notify::new());
        if config.workers > 0 {
            let sender = Sender {
                store: Arc::clone(&store),
                client: config.egress.client(REQUEST_TIMEOUT),
                egress: config.egress,
                retry_base: config.retry_base,
                slots: Arc::new(Semaphore::new(config.workers)),
            };
            tokio::spawn(sender.run(Arc::clone(&wake), shutdown));
        }
        Self { store, wake, hooks: RwLock::default() }
    }

    /// The account's webhooks, cached for a while.
    async fn hooks_of(&self, account_id: &str) -> StoreResult<Arc<Vec<Webhook>>> {
        if let Some((at, hooks)) = self.hooks.read().await.get(account_id) {
            if at.elapsed() < CACHE_TTL {
                return Ok(Arc::clone(hooks));
            }
        }
        let hooks = Arc::new(self.store.list_webhooks(account_id).await?);
        self.hooks.write().await.insert(account_id.to_owned(), (Instant::now(), Arc::clone(&hooks)));
        Ok(hooks)
    }

    /// Forgets the cached webhooks of an account after a change.
    pub async fn invalidate(&self, account_id: &str) {
        self.hooks.write().await.remove(account_id);
    }

    /// Records `event` of an account, with `data` in the reference payload
    /// shape, for every active webhook of that account subscribed to it. The
    /// rows are committed when this returns; sending happens in the background.
    pub async fn emit(&self, account_id: &str, name: &'static str, data: Value) {
        if let Err(e) = self.enqueue(account_id, name, data).await {
            tracing::error!(error = %e, event = name, "could not record a webhook event");
        }
    }

    async fn enqueue(&self, account_id: &str, name: &'static str, data: Value) -> StoreResult<()> {
        let hooks = self.hooks_of(account_id).await?;
        let subscribed: Vec<&Webhook> =
            hooks.iter().filter(|h| h.active && h.events.iter().any(|e| e == name)).collect();
        if subscribed.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let body: Arc<str> = json!({ "event": name, "timestamp": iso(now), "data": data }).to_string().into();
        let items: Vec<OutboxItem> = subscribed
            .into_iter()
            .map(|h| OutboxItem {
                id: uuid::Uuid::new_v4().to_string(),
                webhook_id: h.id.clone(),
                event: name.to_owned(),
                body: body.to_string(),
                attempt: 0,
                next_ms: now,
            })
            .collect();
        self.store.enqueue_webhook_events(&items).await?;
        self.wake.notify_one();
        Ok(())
    }
}

/// The delivery side: claims due rows and sends them, a bounded number at once.
struct Sender {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    egress: Egress,
    retry_base: Duration,
    slots: Arc<Semaphore>,
}

impl Sender {
    async fn run(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let this = Arc::new(self);
        // Due retries are looked for at least this often.
        let poll = this.retry_base.clamp(Duration::from_millis(20), Duration::from_secs(1));
        let mut last_prune: Option<Instant> = None;
        loop {
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                match this.store.prune_deliveries(now_ms() - LOG_RETENTION_MS).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "pruned old webhook delivery logs"),
                    Err(e) => tracing::warn!(error = %e, "could not prune webhook delivery logs"),
                }
            }
            let now = now_ms();
            let claimed = match this.store.claim_webhook_events(now, now + LEASE_MS, CLAIM_BATCH).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the webhook outbox");
                    Vec::new()
                }
            };
            let full = claimed.len() as i64 == CLAIM_BATCH;
            for item in claimed {
                let Ok(slot) = Arc::clone(&this.slots).acquire_owned().await else { return };
                let sender = Arc::clone(&this);
                tokio::spawn(async move {
                    sender.attempt(item).await;
                    drop(slot);
                });
            }
            if full {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One attempt at one outbox row: logged, then deleted or rescheduled.
    async fn attempt(&self, item: OutboxItem) {
        let hook = match self.store.webhook_by_id(&item.webhook_id).await {
            Ok(Some(hook)) if hook.active => hook,
            Ok(_) => return self.finish(&item).await,
            Err(e) => return tracing::error!(error = %e, "could not load a webhook"),
        };
        let attempt = item.attempt + 1;
        let (status_code, success, error) = self.send(&hook, &item).await;
        let delivery = Delivery {
            id: uuid::Uuid::new_v4().to_string(),
            webhook_id: hook.id.clone(),
            event: item.event.clone(),
            attempt,
            status_code,
            success,
            error,
            created_ms: now_ms(),
        };
        if let Err(e) = self.store.record_delivery(&delivery).await {
            tracing::error!(error = %e, "could not log a webhook delivery");
        }
        if success || attempt >= ATTEMPTS {
            if !success {
                tracing::warn!(webhook = %hook.id, event = %item.event, "webhook delivery given up");
            }
            return self.finish(&item).await;
        }
        tracing::warn!(webhook = %hook.id, event = %item.event, attempt, status = ?status_code, "webhook delivery failed");
        let next = now_ms() + i64::try_from(backoff(self.retry_base, attempt).as_millis()).unwrap_or(i64::MAX / 2);
        if let Err(e) = self.store.reschedule_webhook_event(&item.id, attempt, next).await {
            tracing::error!(error = %e, "could not reschedule a webhook delivery");
        }
    }

    async fn finish(&self, item: &OutboxItem) {
        if let Err(e) = self.store.finish_webhook_event(&item.id).await {
            tracing::error!(error = %e, "could not clear a webhook outbox row");
        }
    }

    /// Sends one request; errors are described without the URL, which may carry a receiver's secret.
    async fn send(&self, hook: &Webhook, item: &OutboxItem) -> (Option<i64>, bool, Option<String>) {
        if !self.egress.literal_allowed(&hook.url) {
            return (None, false, Some("the target is a private address".into()));
        }
        let timestamp = now_ms() / 1000;
        let signature = sign(&hook.secret, timestamp, &item.body);
        let result = self
            .client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-webhook-event", &item.event)
            .header("x-webhook-id", &item.id)
            .header("x-webhook-timestamp", timestamp.to_string())
            .header("x-webhook-signature", format!("t={timestamp},v1={signature}"))
            .body(item.body.clone())
            .send()
            .await;
        match result {
            Ok(res) => (Some(i64::from(res.status().as_u16())), res.status().is_success(), None),
            Err(e) => (None, false, Some(e.without_url().to_string())),
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

    #[test]
    fn retries_wait_four_times_longer_each_time() {
        let base = Duration::from_millis(1000);
        let waits: Vec<u128> = (1..=4).map(|a| backoff(base, a).as_millis()).collect();
        assert_eq!(waits, [1000, 4000, 16_000, 64_000]);
    }
}
