//! What every socket shares (the widget socket, the operator socket and the
//! room streams): the keepalive that drops silent peers, sends that give up
//! on peers that stopped reading, and closing with a code.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

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
