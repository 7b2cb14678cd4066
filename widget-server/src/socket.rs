//! The one socket driver under every socket (the widget socket, the operator
//! socket and the room streams): the loop with shutdown, the keepalive that
//! drops silent peers, sends that give up on peers that stopped reading, the
//! frame budget that drops a flood and closes a sustained one, deferred
//! work, and closing with a code. Each socket only says what its protocol does.

pub mod limits;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use natter_protocol::ws::{CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_PRESENCE_TIMEOUT};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::hub::{HubEvent, Subscription};
use limits::{Admit, FrameBudget};

/// The result of writing to a socket.
pub type WsResult = Result<(), axum::Error>;

/// The keepalive of a socket: a tick every period, at which a peer silent for
/// two periods is given up and a live one is pinged.
pub struct Keepalive {
    ticker: Interval,
    period: Duration,
    last_heard: Instant,
}

impl Keepalive {
    pub fn new(period: Duration) -> Self {
        let mut ticker = interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { ticker, period, last_heard: Instant::now() }
    }

    /// Waits for the next tick; `false` when the peer has been silent too long.
    pub async fn tick(&mut self) -> bool {
        self.ticker.tick().await;
        self.last_heard.elapsed() <= self.period * 2
    }

    /// Notes that the peer sent something.
    pub fn heard(&mut self) {
        self.last_heard = Instant::now();
    }
}

/// How long one frame may take to go out before the peer counts as gone.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends a frame, giving up on a peer that does not take it within
/// [`SEND_TIMEOUT`]: a stalled client must not hold its socket, and what is
/// queued for it, forever.
pub async fn send(socket: &mut WebSocket, message: WsMessage) -> WsResult {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(sent) => sent,
        Err(_) => Err(axum::Error::new(std::io::Error::new(std::io::ErrorKind::TimedOut, "the peer stopped reading"))),
    }
}

/// Sends a close frame with `code` and `reason`.
pub async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) -> WsResult {
    send(socket, WsMessage::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))).await
}

/// The close code for a frame the socket could not read: 1009 for one over
/// the size limit, 1007 for text that is not UTF-8, 1002 for a broken frame;
/// `None` when the connection itself failed.
fn close_code_of(error: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::Error;
    match error.into_inner().downcast_ref::<Error>()? {
        Error::Capacity(_) => Some((1009, "frame too large")),
        Error::Utf8(_) => Some((1007, "text is not UTF-8")),
        Error::Protocol(_) => Some((1002, "protocol error")),
        _ => None,
    }
}

/// Ends a socket whose last frame could not be read, with the close code
/// that says why when there is one.
pub async fn end_unreadable(socket: &mut WebSocket, error: axum::Error) {
    if let Some((code, reason)) = close_code_of(error) {
        let _ = close(socket, code, reason).await;
    }
}

/// How a protocol step leaves the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// What a socket's event source gave.
#[derive(Debug)]
pub enum Received<T> {
    Event(T),
    /// Events were missed (the socket fell behind).
    Lagged,
    /// The source is gone.
    Closed,
}

/// Where a socket's hub events come from: a session's channel or the firehose.
pub trait Source: Send {
    type Item: Send;
    fn recv(&mut self) -> impl Future<Output = Received<Self::Item>> + Send;
}

impl<T: Clone + Send> Source for broadcast::Receiver<T> {
    type Item = T;

    async fn recv(&mut self) -> Received<T> {
        match broadcast::Receiver::recv(self).await {
            Ok(item) => Received::Event(item),
            Err(RecvError::Lagged(_)) => Received::Lagged,
            Err(RecvError::Closed) => Received::Closed,
        }
    }
}

impl Source for Subscription {
    type Item = Arc<HubEvent>;

    async fn recv(&mut self) -> Received<Arc<HubEvent>> {
        Source::recv(&mut self.rx).await
    }
}

/// One socket's protocol. [`drive`] owns the loop around it: shutdown (1001),
/// the keepalive (silent peers get 4008), sends that time out, closing; the
/// protocol renders its frames and answers the client's.
pub trait Protocol: Send {
    /// What its event source yields.
    type Item: Send;
    /// A hub event arrived.
    fn on_event(&mut self, socket: &mut WebSocket, item: Self::Item) -> impl Future<Output = Step> + Send;
    /// Events were missed; catch up (from the database) or tell the client.
    fn on_lagged(&mut self, socket: &mut WebSocket) -> impl Future<Output = Step> + Send;
    /// The client sent a text frame.
    fn on_text(&mut self, socket: &mut WebSocket, text: Utf8Bytes) -> impl Future<Output = Step> + Send;
    /// A keepalive tick, the peer alive: ping it (and check its access).
    fn on_tick(&mut self, socket: &mut WebSocket) -> impl Future<Output = Step> + Send;
    /// Resolves when the socket's access may have ended (an operator's
    /// revocation); never, by default.
    fn revoked(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
    /// After [`Protocol::revoked`]: check, and close if the access is gone.
    fn on_revoked(&mut self, _socket: &mut WebSocket) -> impl Future<Output = Step> + Send {
        std::future::ready(Ok(Flow::Continue))
    }
    /// When deferred work is due ([`Protocol::on_deadline`]); none, by default.
    fn deadline(&self) -> Option<Instant> {
        None
    }
    /// Deferred work is due.
    fn on_deadline(&mut self, _socket: &mut WebSocket) -> impl Future<Output = Step> + Send {
        std::future::ready(Ok(Flow::Continue))
    }
}

async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The outcome of a protocol step.
pub type Step = Result<Flow, axum::Error>;

/// Runs a socket until either side ends it. Each protocol step runs boxed, so
/// an idle socket holds only this loop's small state.
pub async fn drive<P, S>(
    mut socket: WebSocket,
    mut protocol: P,
    mut source: S,
    keepalive: Duration,
    shutdown: CancellationToken,
) -> WsResult
where
    P: Protocol,
    S: Source<Item = P::Item>,
{
    let mut keepalive = Keepalive::new(keepalive);
    let mut budget = FrameBudget::new(Instant::now());
    loop {
        let deadline = protocol.deadline();
        let flow = tokio::select! {
            () = shutdown.cancelled() => Flow::Close(CLOSE_GOING_AWAY, "server shutting down"),
            () = until(deadline) => Box::pin(protocol.on_deadline(&mut socket)).await?,
            () = protocol.revoked() => Box::pin(protocol.on_revoked(&mut socket)).await?,
            alive = keepalive.tick() => {
                if alive {
                    Box::pin(protocol.on_tick(&mut socket)).await?
                } else {
                    Flow::Close(CLOSE_PRESENCE_TIMEOUT, "presence timeout")
                }
            }
            received = source.recv() => match received {
                Received::Event(item) => Box::pin(protocol.on_event(&mut socket, item)).await?,
                Received::Lagged => Box::pin(protocol.on_lagged(&mut socket)).await?,
                Received::Closed => Flow::Close(CLOSE_GOING_AWAY, "closing"),
            },
            msg = socket.next() => match msg {
                Some(Ok(WsMessage::Close(_))) | None => return Ok(()),
                Some(Err(e)) => {
                    end_unreadable(&mut socket, e).await;
                    return Ok(());
                }
                Some(Ok(frame)) => {
                    keepalive.heard();
                    match (budget.admit(Instant::now()), frame) {
                        (Admit::Close, _) => Flow::Close(CLOSE_POLICY, "too many frames"),
                        (Admit::Read, WsMessage::Text(text)) => Box::pin(protocol.on_text(&mut socket, text)).await?,
                        _ => Flow::Continue,
                    }
                }
            },
        };
        if let Flow::Close(code, reason) = flow {
            return close(&mut socket, code, reason).await;
        }
    }
}
