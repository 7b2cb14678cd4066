//! The sweep that removes anonymous sessions nobody wrote in: every page
//! view of a site makes a session, and most are never used.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::hub::Hub;
use crate::store::Store;
use crate::time::now_ms;
use crate::SessionCache;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(600);
/// Sessions removed per database round.
const BATCH: i64 = 500;

/// Removes sessions idle for `idle` with nothing but bot messages and no
/// contact details; returns how many. Sessions with a live socket here stay.
pub async fn sweep_once(store: &dyn Store, hub: &Hub, cache: &SessionCache, idle: Duration) -> usize {
    let idle_before = now_ms() - i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
    let mut removed = 0;
    loop {
        match store.delete_empty_sessions(idle_before, &|id| hub.is_live(id), BATCH).await {
            Ok(ids) => {
                for id in &ids {
                    cache.forget(id);
                }
                removed += ids.len();
                if i64::try_from(ids.len()).unwrap_or(0) < BATCH {
                    return removed;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not sweep empty sessions");
                return removed;
            }
        }
    }
}

/// Sweeps every ten minutes until `stop`; `idle` of zero never sweeps.
pub fn start(store: Arc<dyn Store>, hub: Arc<Hub>, cache: Arc<SessionCache>, idle: Duration, stop: CancellationToken) {
    if idle.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {
                    let n = sweep_once(store.as_ref(), &hub, &cache, idle).await;
                    if n > 0 {
                        tracing::info!(sessions = n, "removed empty anonymous sessions");
                    }
                }
            }
        }
    });
}
