//! Fan-out between server instances that share one PostgreSQL database: each
//! hub event is relayed with `NOTIFY`, and every other instance replays it
//! into its own hub from `LISTEN`. A relayed `message.created` carries only
//! its seq (payloads are limited to 8000 bytes); sockets read the message
//! from the database, in order.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::random_token;
use crate::hub::{EventKind, Hub, HubEvent, Relayed, Scope};

const CHANNEL: &str = "natter_events";
/// Frames above this are not relayed whole (PostgreSQL refuses payloads of 8000 bytes or more).
const MAX_FRAME: usize = 7000;
/// Events waiting for `NOTIFY` before new ones are dropped.
const QUEUE: usize = 10_000;

#[derive(Serialize, Deserialize)]
struct Wire {
    /// The instance that published the event.
    origin: String,
    session: String,
    account: String,
    kind: EventKind,
    frame: Option<String>,
}

/// Starts relaying `hub`'s events through the database at `url` until `shutdown`.
pub async fn start(url: &str, hub: Arc<Hub>, shutdown: CancellationToken) -> Result<(), sqlx::Error> {
    let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    let origin = random_token();
    let (tx, rx) = mpsc::channel(QUEUE);
    hub.set_relay(tx);
    tokio::spawn(notify_loop(pool, rx, origin.clone()));
    tokio::spawn(listen_loop(listener, hub, origin, shutdown));
    Ok(())
}

async fn notify_loop(pool: PgPool, mut rx: mpsc::Receiver<Relayed>, origin: String) {
    while let Some(Relayed { scope, event }) = rx.recv().await {
        let frame = match (event.kind, &event.frame) {
            (EventKind::MessageCreated { .. }, _) => None,
            (_, Some(frame)) if frame.len() <= MAX_FRAME => Some(frame.to_string()),
            _ => continue,
        };
        let wire = Wire {
            origin: origin.clone(),
            session: scope.session_id.to_string(),
            account: scope.account_id.to_string(),
            kind: event.kind,
            frame,
        };
        let Ok(payload) = serde_json::to_string(&wire) else { continue };
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&pool).await {
            tracing::warn!(error = %e, "could not relay an event to other instances");
        }
    }
}

async fn listen_loop(mut listener: PgListener, hub: Arc<Hub>, origin: String, shutdown: CancellationToken) {
    loop {
        let notification = tokio::select! {
            () = shutdown.cancelled() => return,
            n = listener.recv() => n,
        };
        match notification {
            Ok(n) => match serde_json::from_str::<Wire>(n.payload()) {
                Ok(wire) if wire.origin != origin => {
                    let event = HubEvent { kind: wire.kind, frame: wire.frame.map(Utf8Bytes::from) };
                    let scope = Scope { session_id: Arc::from(wire.session), account_id: Arc::from(wire.account) };
                    hub.publish_local(scope, Arc::new(event));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed relayed event"),
            },
            // The listener reconnects by itself on the next `recv`.
            Err(e) => tracing::warn!(error = %e, "event relay connection lost; reconnecting"),
        }
    }
}
