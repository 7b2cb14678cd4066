//! The widget's realtime socket `/ws`: subscribe with the session token,
//! `presence.update` keepalive, live events, typing and `seen`, and resume
//! from `last_seq` with no gap and no duplicate.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use natter_protocol::ws::{
    ClientFrame, ErrorEvent, ServerFrame, SubscribeData, TypingUser, CLOSE_POLICY, CLOSE_UNAUTHORIZED,
};
use tokio::time::Instant;

use crate::chat::sender_name;
use crate::client::ClientIp;
use crate::error::AppError;
use crate::hub::{message_event, Event, EventKind, HubEvent, Subscription};
use crate::socket::limits::Slot;
use crate::socket::{close, drive, Flow, Protocol, Step, WsResult};
use crate::store::{bot_flags, Cursor, Session, Website};
use crate::AppState;

/// Socket buffers are kept small: most sockets are idle and frames are short.
const READ_BUFFER: usize = 1024;
const MAX_WRITE_BUFFER: usize = 256 * 1024;
const MAX_MESSAGE: usize = 16 * 1024;
/// Messages replayed per database read during resume.
const REPLAY_PAGE: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade)).route("/api/v1/ws", get(upgrade))
}

/// Upgrades within the client's socket cap (429 beyond it); the widget
/// socket checks the handshake's `Origin` against its website at `subscribe`.
async fn upgrade(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(slot) = state.sockets.per_client.take(client.key()) else {
        return too_many_sockets();
    };
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            state.metrics.sockets_open.fetch_add(1, Relaxed);
            // What every open socket costs is the state of this future, so the
            // setting up (database reads, operator sessions) runs boxed and is
            // freed before the long live loop starts.
            if let Ok(Some((conn, socket, subscription))) = Box::pin(open(socket, &state, origin)).await {
                let _ = drive(socket, conn, subscription, state.settings.keepalive, state.shutdown.clone()).await;
            }
            state.metrics.sockets_open.fetch_sub(1, Relaxed);
        })
}

/// The answer to a client holding its cap of sockets, in the public API's envelope.
pub fn too_many_sockets() -> Response {
    AppError::RateLimited(1).into_response()
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> WsResult {
    crate::socket::send(socket, WsMessage::Text(frame.to_json().into())).await
}

async fn refuse(socket: &mut WebSocket, code: &str, message: &str) -> WsResult {
    refuse_with(socket, code, message, CLOSE_UNAUTHORIZED, "unauthorized").await
}

async fn refuse_with(
    socket: &mut WebSocket,
    code: &str,
    message: &str,
    close_code: u16,
    reason: &'static str,
) -> WsResult {
    let frame = ServerFrame::Error(ErrorEvent { code: code.into(), message: message.into() });
    send(socket, &frame).await?;
    close(socket, close_code, reason).await
}

/// Waits for the first text frame; `Err` when none arrives in time.
async fn first_frame(socket: &mut WebSocket, wait: Duration) -> Option<Result<Utf8Bytes, String>> {
    let deadline = tokio::time::sleep(wait);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Some(Err("no subscribe frame arrived in time".into())),
            msg = socket.next() => match msg? {
                Ok(WsMessage::Text(text)) => return Some(Ok(text)),
                Ok(WsMessage::Close(_)) => return None,
                Err(e) => {
                    crate::socket::end_unreadable(socket, e).await;
                    return None;
                }
                Ok(_) => {}
            },
        }
    }
}

fn subscribe_data(text: &str) -> Result<SubscribeData, String> {
    match ClientFrame::parse(text) {
        Ok(ClientFrame::Subscribe(data)) => Ok(data),
        Ok(_) => Err("subscribe first".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A subscribed visitor socket, ready for [`Connection::live`].
type Subscribed<'a> = (Connection<'a>, WebSocket, Subscription);

/// Reads the subscribe frame, checks the token, confirms and replays what the
/// client misses. `None` when the socket was refused or closed, or was an
/// operator's (served to its end here).
async fn open(
    mut socket: WebSocket,
    state: &AppState,
    origin: Option<String>,
) -> Result<Option<Subscribed<'_>>, axum::Error> {
    let keepalive = state.settings.keepalive;
    let Some(first) = first_frame(&mut socket, keepalive * 2).await else {
        return Ok(None);
    };
    // Operators speak the `{"type": …}` protocol on the same path.
    if let Ok(text) = &first {
        if crate::operator::stream::is_operator_frame(text) {
            return crate::operator::stream::run(socket, state, text).await.map(|()| None);
        }
    }
    let data = match first.and_then(|text| subscribe_data(&text)) {
        Ok(data) => data,
        Err(why) => return refuse(&mut socket, "bad_subscribe", &why).await.map(|()| None),
    };
    let session = match state.store.session_by_token(&data.pubsub_token).await {
        Ok(Some(s)) => s,
        Ok(None) => return refuse(&mut socket, "invalid_token", "pubsub_token names no session").await.map(|()| None),
        Err(e) => {
            tracing::error!(error = %e, "subscribe lookup failed");
            return close(&mut socket, 1011, "server error").await.map(|()| None);
        }
    };
    let website = match state.websites.get_by_id(state.store.as_ref(), &session.website_id).await {
        Ok(Some(w)) => w,
        _ => return close(&mut socket, 1011, "server error").await.map(|()| None),
    };
    if let Some(origin) = origin.filter(|o| !website.allows_origin(o)) {
        let why = format!("{origin} may not use this website's chat");
        return refuse_with(&mut socket, "origin_not_allowed", &why, CLOSE_POLICY, "origin not allowed")
            .await
            .map(|()| None);
    }
    let Some(session_slot) = state.sockets.per_session.take(session.id.clone()) else {
        let why = "this session has too many sockets open";
        return refuse_with(&mut socket, "too_many_sockets", why, CLOSE_POLICY, "too many sockets")
            .await
            .map(|()| None);
    };
    // Subscribe before reading the session again, so nothing stored in between is missed.
    let subscription = state.hub.subscribe(&session.id);
    let current = match state.store.session_by_id(&session.id).await {
        Ok(Some(s)) => s,
        _ => return close(&mut socket, 1011, "server error").await.map(|()| None),
    };
    send(&mut socket, &ServerFrame::ConfirmSubscription("confirmed".into())).await?;
    // The conversation was created before any socket could hear of it: its
    // first subscriber is told now, once (the flag is set atomically).
    if current.bot_state & bot_flags::WIDGET_ANNOUNCED == 0 {
        match state.store.set_bot_flags(&current.id, bot_flags::WIDGET_ANNOUNCED).await {
            Ok(added) if added & bot_flags::WIDGET_ANNOUNCED != 0 => {
                send(&mut socket, &ServerFrame::ConversationCreated(crate::hub::conversation_event(&current))).await?;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not note the conversation as announced"),
        }
    }
    let mut conn = Connection {
        state,
        website,
        sent_seq: data.last_seq.unwrap_or(current.last_seq),
        session: current,
        pending: Pending::default(),
        _slot: session_slot,
    };
    if let Flow::Close(code, reason) = conn.replay(&mut socket).await? {
        return close(&mut socket, code, reason).await.map(|()| None);
    }
    Ok(Some((conn, socket, subscription)))
}

struct Connection<'a> {
    state: &'a AppState,
    website: std::sync::Arc<Website>,
    session: Session,
    /// Highest message seq the client has: from `last_seq`, or the session's
    /// seq at subscription. Messages go out in seq order from here.
    sent_seq: i64,
    /// Read receipts and typing held back by the session's throttle.
    pending: Pending,
    _slot: Slot<String>,
}

/// What a socket was asked to do that the throttle deferred; only the latest counts.
#[derive(Debug, Default)]
struct Pending {
    seen: Option<i64>,
    typing: Option<bool>,
    due: Option<Instant>,
}

/// What to do with a live `message.created` given the last seq sent.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    /// Already sent (by the replay, or the client had it).
    Duplicate,
    /// The next one: forward it.
    Next,
    /// Messages in between were published later than this one (requests
    /// finish out of order); read them from the database, where they are
    /// already committed because seq is allocated under the session's row lock.
    Gap,
}

fn delivery(sent_seq: i64, seq: i64) -> Delivery {
    if seq <= sent_seq {
        Delivery::Duplicate
    } else if seq == sent_seq + 1 {
        Delivery::Next
    } else {
        Delivery::Gap
    }
}

impl Connection<'_> {
    /// Sends every stored message after `sent_seq`.
    async fn replay(&mut self, socket: &mut WebSocket) -> Step {
        loop {
            let after = self.sent_seq;
            let page =
                match self.state.store.list_messages(&self.session.id, Cursor::AfterSeq(after), REPLAY_PAGE).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::error!(error = %e, "replay failed");
                        return Ok(Flow::Close(1011, "server error"));
                    }
                };
            for m in &page.messages {
                let name = sender_name(&self.website, &self.session, m.sender, None);
                send(
                    socket,
                    &ServerFrame::MessageCreated(Box::new(message_event(
                        &self.session,
                        m,
                        name,
                        &self.state.files.links,
                    ))),
                )
                .await?;
                self.sent_seq = m.seq;
                self.state.chat.delivered(&self.website, m, true);
            }
            if !page.has_more {
                return Ok(Flow::Continue);
            }
        }
    }

    async fn on_frame(&mut self, text: &str) -> Result<(), String> {
        let frame = ClientFrame::parse(text).map_err(|e| e.to_string())?;
        match frame {
            ClientFrame::UpdatePresence | ClientFrame::Subscribe(_) => Ok(()),
            ClientFrame::TypingOn | ClientFrame::TypingOff => {
                self.pending.typing = Some(matches!(frame, ClientFrame::TypingOn));
                self.flush().await
            }
            ClientFrame::Seen(seen) => {
                let seq = match (seen.seq, seen.message_id) {
                    (Some(seq), _) => seq,
                    (None, Some(id)) => match self.state.store.message_by_id(&self.session.id, &id).await {
                        Ok(Some(m)) => m.seq,
                        Ok(None) => return Err(format!("no message {id} in this session")),
                        Err(e) => return Err(internal(&e)),
                    },
                    (None, None) => i64::MAX,
                };
                self.pending.seen = Some(self.pending.seen.map_or(seq, |s| s.max(seq)));
                self.flush().await
            }
        }
    }

    /// Does what is pending, as far as the session's throttle lets it now.
    async fn flush(&mut self) -> Result<(), String> {
        let chat = &self.state.chat;
        self.pending.due = None;
        if let Some(on) = self.pending.typing.take() {
            let name = self.session.user_name.clone().unwrap_or_else(|| "Visitor".into());
            let user = TypingUser { id: Some(self.session.id.clone()), name, kind: "contact".into() };
            if let Some(at) = chat.typing_throttled(&self.session, on, user).await {
                self.pending.typing = Some(on);
                self.pending.due = Some(at);
            }
        }
        if let Some(seq) = self.pending.seen.take() {
            match chat.seen_throttled(&self.website, &self.session, seq, true).await {
                Ok(None) => {}
                Ok(Some(at)) => {
                    self.pending.seen = Some(seq);
                    self.pending.due = Some(self.pending.due.map_or(at, |due| due.min(at)));
                }
                Err(e) => return Err(internal(&e)),
            }
        }
        Ok(())
    }
}

impl Protocol for Connection<'_> {
    type Item = Arc<HubEvent>;

    async fn on_event(&mut self, socket: &mut WebSocket, event: Arc<HubEvent>) -> Step {
        match event.kind() {
            EventKind::MessageCreated { seq } => match delivery(self.sent_seq, seq) {
                Delivery::Duplicate => {}
                Delivery::Next => {
                    if let Some(frame) = event.widget_frame(&self.state.files.links) {
                        crate::socket::send(socket, WsMessage::Text(frame)).await?;
                    }
                    self.sent_seq = seq;
                    if let Event::MessageCreated { message, .. } = &event.event {
                        self.state.chat.delivered(&self.website, message, true);
                    }
                }
                Delivery::Gap => return self.replay(socket).await,
            },
            // The visitor's own typing and contact details need no echo.
            EventKind::Typing { from_visitor: true } | EventKind::Contact | EventKind::Edge => {}
            _ => {
                if let Some(frame) = event.widget_frame(&self.state.files.links) {
                    crate::socket::send(socket, WsMessage::Text(frame)).await?;
                }
            }
        }
        Ok(Flow::Continue)
    }

    async fn on_lagged(&mut self, socket: &mut WebSocket) -> Step {
        tracing::warn!(session = %self.session.id, "subscriber lagged; re-reading from the database");
        self.replay(socket).await
    }

    async fn on_text(&mut self, socket: &mut WebSocket, text: Utf8Bytes) -> Step {
        if let Err(reason) = self.on_frame(&text).await {
            send(socket, &ServerFrame::Error(ErrorEvent { code: "bad_frame".into(), message: reason })).await?;
        }
        Ok(Flow::Continue)
    }

    async fn on_tick(&mut self, socket: &mut WebSocket) -> Step {
        send(socket, &ServerFrame::PresenceUpdate(Default::default())).await?;
        Ok(Flow::Continue)
    }

    fn deadline(&self) -> Option<Instant> {
        self.pending.due
    }

    async fn on_deadline(&mut self, socket: &mut WebSocket) -> Step {
        if let Err(reason) = self.flush().await {
            send(socket, &ServerFrame::Error(ErrorEvent { code: "bad_frame".into(), message: reason })).await?;
        }
        Ok(Flow::Continue)
    }
}

fn internal(e: &dyn std::fmt::Display) -> String {
    tracing::error!(error = %e, "socket request failed");
    "server error".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seq_already_sent_is_a_duplicate() {
        assert_eq!(delivery(7, 7), Delivery::Duplicate);
        assert_eq!(delivery(7, 3), Delivery::Duplicate);
    }

    #[test]
    fn the_next_seq_is_forwarded() {
        assert_eq!(delivery(7, 8), Delivery::Next);
        assert_eq!(delivery(0, 1), Delivery::Next);
    }

    #[test]
    fn a_jump_past_the_next_seq_is_a_gap_to_fill() {
        assert_eq!(delivery(7, 9), Delivery::Gap);
    }
}
