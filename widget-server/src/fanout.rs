//! Fan-out between server instances that share one PostgreSQL database: each
//! hub event is relayed with `NOTIFY`, and every other instance replays it
//! into its own hub from `LISTEN`. Events travel as they are (typed, JSON);
//! one too large for a notification (PostgreSQL refuses payloads of 8000
//! bytes or more) travels as a reference, and the receiving instance reads
//! it back from the database before publishing it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::chat::sender_name_of;
use crate::domain::random_token;
use crate::hub::{Event, Hub, HubEvent, Relayed, Scope};
use crate::store::{Cursor, Store};

const CHANNEL: &str = "natter_events";
/// Payloads above this are sent as references.
const MAX_PAYLOAD: usize = 7000;
/// Events waiting for `NOTIFY` before new ones are dropped.
const QUEUE: usize = 10_000;

#[derive(Serialize, Deserialize)]
struct Wire {
    /// The instance that published the event.
    origin: String,
    account: String,
    session: String,
    #[serde(flatten)]
    body: Body,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "body", rename_all = "snake_case")]
enum Body {
    Whole {
        event: Box<Event>,
    },
    /// A message event too large to carry: the receiver reads the message.
    Message {
        seq: i64,
        created: bool,
    },
}

/// Starts relaying `hub`'s events through the database at `url` until `shutdown`.
pub async fn start(
    url: &str,
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> Result<(), sqlx::Error> {
    let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    let origin = random_token();
    let (tx, rx) = mpsc::channel(QUEUE);
    hub.set_relay(tx);
    tokio::spawn(notify_loop(pool, rx, origin.clone()));
    tokio::spawn(listen_loop(listener, hub, store, origin, shutdown));
    Ok(())
}

/// The notification payload of an event.
fn payload(origin: &str, scope: &Scope, event: &Event) -> Option<String> {
    let wire = |body| Wire {
        origin: origin.to_owned(),
        account: scope.account_id.to_string(),
        session: scope.session_id.to_string(),
        body,
    };
    let whole = serde_json::to_string(&wire(Body::Whole { event: Box::new(event.clone()) })).ok()?;
    if whole.len() <= MAX_PAYLOAD {
        return Some(whole);
    }
    match event {
        Event::MessageCreated { message, .. } => {
            serde_json::to_string(&wire(Body::Message { seq: message.seq, created: true })).ok()
        }
        Event::MessageUpdated { message, .. } => {
            serde_json::to_string(&wire(Body::Message { seq: message.seq, created: false })).ok()
        }
        _ => None,
    }
}

async fn notify_loop(pool: PgPool, mut rx: mpsc::Receiver<Relayed>, origin: String) {
    while let Some(Relayed { scope, event }) = rx.recv().await {
        let Some(payload) = payload(&origin, &scope, &event.event) else { continue };
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&pool).await {
            tracing::warn!(error = %e, "could not relay an event to other instances");
        }
    }
}

/// The event a relayed reference stands for, read from the database.
async fn load(store: &dyn Store, session_id: &str, seq: i64, created: bool) -> Option<Event> {
    let session = store.session_by_id(session_id).await.ok()??;
    let page = store.list_messages(session_id, Cursor::AfterSeq(seq - 1), 1).await.ok()?;
    let message = page.messages.into_iter().next().filter(|m| m.seq == seq)?;
    let website = store.website_by_id(&session.website_id).await.ok()??;
    let author = sender_name_of(store, &website, &session, &message).await;
    Some(if created {
        Event::MessageCreated { session, message, author }
    } else {
        Event::MessageUpdated { session, message, author }
    })
}

async fn listen_loop(
    mut listener: PgListener,
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    origin: String,
    shutdown: CancellationToken,
) {
    loop {
        let notification = tokio::select! {
            () = shutdown.cancelled() => return,
            n = listener.recv() => n,
        };
        let wire = match notification {
            Ok(n) => match serde_json::from_str::<Wire>(n.payload()) {
                Ok(wire) if wire.origin != origin => wire,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring a malformed relayed event");
                    continue;
                }
            },
            // The listener reconnects by itself on the next `recv`.
            Err(e) => {
                tracing::warn!(error = %e, "event relay connection lost; reconnecting");
                continue;
            }
        };
        let event = match wire.body {
            Body::Whole { event } => Some(*event),
            Body::Message { seq, created } => load(store.as_ref(), &wire.session, seq, created).await,
        };
        if let Some(event) = event {
            let scope = Scope { session_id: Arc::from(wire.session), account_id: Arc::from(wire.account) };
            hub.publish_local(scope, HubEvent::new(event));
        }
    }
}
