//! Live delivery: the `/ws` socket (subscribe, keepalive answers, resume by
//! `last_seq`, reconnect with backoff) and `GET …/messages?after=` polling
//! while the socket is down or when polling was asked for.

use std::rc::Rc;

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::Set;
use natter_protocol::ws::{ClientFrame, SubscribeData, CLOSE_UNAUTHORIZED};

use super::api::Live;
use super::controller::{Controller, RATING_ASKED, RATING_NONE};
use super::dom;
use super::json::{self, Frame};
use super::net::{Socket, SocketEvent};
use super::task::{sleep, Task};
use crate::transport::poll_delay;

/// How a socket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Could not connect, or the connection dropped.
    Lost,
    /// The server refused the session token.
    Unauthorized,
}

/// A socket that has not opened this long after it was created is given up
/// (one closed before opening would otherwise keep the session waiting for ever).
const OPEN_TIMEOUT_MS: u32 = 5_000;

impl Controller {
    /// Starts the transports the choice asks for.
    pub(super) fn start_live(self: &Rc<Self>) {
        let (socket, polling) = {
            let st = self.state.borrow();
            (st.choice.wants_socket(), st.choice.wants_polling())
        };
        if socket {
            let ctl = Rc::clone(self);
            self.state.borrow_mut().socket = Some(Task::spawn(async move { ctl.socket_loop().await }));
        }
        if polling {
            self.start_polling();
        }
    }

    /// Skips the backoff wait (the browser came back online).
    pub(super) fn reconnect_now(self: &Rc<Self>) {
        let idle = {
            let st = self.state.borrow();
            st.live.is_some() && st.choice.wants_socket() && !st.choice.is_socket_up()
        };
        if idle {
            let ctl = Rc::clone(self);
            self.state.borrow_mut().socket = Some(Task::spawn(async move { ctl.socket_loop().await }));
        }
    }

    async fn socket_loop(self: Rc<Self>) {
        loop {
            let (live, last_seq) = {
                let st = self.state.borrow();
                (st.live.clone(), st.timeline.last_seq())
            };
            let Some(live) = live else { return };
            let end = self.socket_session(&live, last_seq).await;
            let delay = {
                let mut st = self.state.borrow_mut();
                st.socket_out = None;
                st.choice.socket_down();
                if end == End::Unauthorized {
                    st.live = None;
                }
                st.backoff.next_delay(dom::now_ms(), &mut dom::random_unit)
            };
            if end == End::Unauthorized {
                // A fresh session call returns a valid token and restarts the socket.
                self.kick();
                return;
            }
            if self.state.borrow().choice.wants_polling() {
                self.start_polling();
            }
            sleep(delay).await;
        }
    }

    async fn socket_session(&self, live: &Live, last_seq: i64) -> End {
        let Ok((socket, mut events)) = Socket::open(&self.api.socket_url()) else { return End::Lost };
        match select(events.next(), TimeoutFuture::new(OPEN_TIMEOUT_MS)).await {
            Either::Left((Some(SocketEvent::Open), _)) => {}
            Either::Left((Some(SocketEvent::Close(CLOSE_UNAUTHORIZED)), _)) => return End::Unauthorized,
            _ => return End::Lost,
        }
        let subscribe = ClientFrame::Subscribe(SubscribeData {
            pubsub_token: live.token.clone(),
            account_id: None,
            last_seq: Some(last_seq),
        });
        if !socket.send(&json::client_frame(&subscribe)) {
            return End::Lost;
        }
        let (out, mut outgoing) = mpsc::unbounded::<ClientFrame>();
        loop {
            let frame = match select(events.next(), outgoing.next()).await {
                Either::Left((Some(SocketEvent::Text(raw)), _)) => {
                    let Some(reply) = json::server_frame(&raw).and_then(|frame| self.on_frame(frame, &out)) else {
                        continue;
                    };
                    reply
                }
                Either::Left((Some(SocketEvent::Open), _)) => continue,
                Either::Left((Some(SocketEvent::Close(CLOSE_UNAUTHORIZED)), _)) => return End::Unauthorized,
                Either::Left((Some(SocketEvent::Close(_) | SocketEvent::Error) | None, _)) => return End::Lost,
                Either::Right((Some(frame), _)) => frame,
                Either::Right((None, _)) => return End::Lost,
            };
            if !socket.send(&json::client_frame(&frame)) {
                return End::Lost;
            }
        }
    }

    /// Handles one server frame; returns the frame to answer with, if any.
    fn on_frame(&self, frame: Frame, out: &mpsc::UnboundedSender<ClientFrame>) -> Option<ClientFrame> {
        match frame {
            Frame::ConfirmSubscription => {
                let mut st = self.state.borrow_mut();
                st.choice.socket_up();
                st.backoff.opened(dom::now_ms());
                st.poll = None;
                st.socket_out = Some(out.clone());
                self.ui.offline.set(false);
                None
            }
            Frame::PresenceUpdate => Some(ClientFrame::UpdatePresence),
            Frame::Message(message) => {
                self.receive([message]);
                None
            }
            Frame::TypingOn(agent) => {
                self.ui.typing.set(agent);
                None
            }
            Frame::TypingOff => {
                self.ui.typing.set(false);
                None
            }
            Frame::Closed(closed) => {
                self.ui.rating.set(if closed { RATING_ASKED } else { RATING_NONE });
                None
            }
            Frame::Other => None,
        }
    }

    pub(super) fn start_polling(self: &Rc<Self>) {
        if self.state.borrow().poll.is_some() {
            return;
        }
        let ctl = Rc::clone(self);
        self.state.borrow_mut().poll = Some(Task::spawn(async move { ctl.poll_loop().await }));
    }

    async fn poll_loop(self: Rc<Self>) {
        loop {
            let (live, after, interval) = {
                let mut st = self.state.borrow_mut();
                if !st.choice.wants_polling() {
                    st.poll = None;
                    return;
                }
                (st.live.clone(), st.timeline.last_seq(), st.config.poll_interval_ms)
            };
            if let Some(live) = live {
                match self.api.after(&live, after).await {
                    Ok(page) => {
                        self.ui.offline.set(false);
                        let more = page.has_more;
                        self.receive(page.messages);
                        if more {
                            continue;
                        }
                    }
                    Err(e) if !e.is_permanent() => self.ui.offline.set(true),
                    Err(e) => self.emit_error("poll_refused", &e.describe()),
                }
            }
            sleep(poll_delay(interval, dom::hidden())).await;
        }
    }
}
