//! Live delivery: the `/ws` socket (subscribe, keepalive answers, resume by
//! `last_seq`, reconnect with backoff) and `GET …/messages?after=` polling
//! while the socket is down or when polling was asked for.

use std::rc::Rc;

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::{GetUntracked, Set};
use natter_protocol::ws::{ClientFrame, SubscribeData, CLOSE_UNAUTHORIZED};

use super::api::Live;
use super::controller::{Controller, RATING_ASKED, RATING_NONE};
use super::dom;
use super::json::{self, Frame};
use super::net::{Socket, SocketEvent};
use super::tabs::Tabs;
use super::task::{sleep, Task};
use crate::config::StorageKind;
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

/// How often a tab that leaves the socket to another polls, in case a relay
/// was missed.
const FOLLOWER_POLL_MS: u32 = 15_000;

impl Controller {
    /// Starts live delivery. With `storage=local` the visitor's tabs share
    /// the session, so they share one socket too: this tab joins them and
    /// starts its transports when it leads; until then it hears what the
    /// leader relays, and polls now and then in case a relay is missed.
    pub(super) fn start_live(self: &Rc<Self>) {
        let shared = {
            let st = self.state.borrow();
            st.config.storage == StorageKind::Local && st.tabs.is_none()
        };
        if !shared {
            return self.start_transports();
        }
        // Named by the session too: a tab that was reset (a new session) never hears another's.
        let name = {
            let st = self.state.borrow();
            format!("natter:{}:{}", st.config.website_token, st.live.as_ref().map_or("", |l| l.id.as_str()))
        };
        let (weak, weak2) = (Rc::downgrade(self), Rc::downgrade(self));
        let tabs = Tabs::join(
            &name,
            move || {
                if let Some(ctl) = weak.upgrade() {
                    ctl.state.borrow_mut().leader = true;
                    ctl.start_transports();
                }
            },
            move |text| {
                if let Some(ctl) = weak2.upgrade() {
                    ctl.hear(&text);
                }
            },
        );
        self.state.borrow_mut().tabs = Some(tabs);
        self.tell_tabs("o?");
        self.start_polling();
    }

    /// A follower leaves the socket to the leader.
    fn follows(&self) -> bool {
        let st = self.state.borrow();
        st.tabs.is_some() && !st.leader
    }

    /// What another tab of this visitor posted (see `tabs`).
    fn hear(self: &Rc<Self>, text: &str) {
        // (`strip_prefix` rather than slicing: a slice that could panic brings in
        // the panic message's formatting and its Unicode tables, 5 KB.)
        if let Some(raw) = text.strip_prefix('f') {
            match json::server_frame(raw) {
                Some(Frame::ConfirmSubscription | Frame::PresenceUpdate) | None => {}
                Some(frame) => drop(self.on_frame(frame, None)),
            }
        } else if let Some(raw) = text.strip_prefix('c') {
            // Only the leader has the socket; nobody relays a frame on.
            self.push_raw(raw);
        } else if text == "o1" {
            self.open();
        } else if text == "o0" {
            self.close();
        } else if text == "o?" && self.ui.open.get_untracked() {
            // A tab that just joined asks how the others are: open, here.
            self.tell_tabs("o1");
        }
    }

    /// Starts the transports the choice asks for.
    fn start_transports(self: &Rc<Self>) {
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
        } && !self.follows();
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
        let (out, mut outgoing) = mpsc::unbounded::<String>();
        loop {
            let frame = match select(events.next(), outgoing.next()).await {
                Either::Left((Some(SocketEvent::Text(raw)), _)) => {
                    if let Some(tabs) = &self.state.borrow().tabs {
                        tabs.post(&format!("f{raw}"));
                    }
                    let Some(reply) = json::server_frame(&raw).and_then(|frame| self.on_frame(frame, Some(&out)))
                    else {
                        continue;
                    };
                    json::client_frame(&reply)
                }
                Either::Left((Some(SocketEvent::Open), _)) => continue,
                Either::Left((Some(SocketEvent::Close(CLOSE_UNAUTHORIZED)), _)) => return End::Unauthorized,
                Either::Left((Some(SocketEvent::Close(_) | SocketEvent::Error) | None, _)) => return End::Lost,
                Either::Right((Some(frame), _)) => frame,
                Either::Right((None, _)) => return End::Lost,
            };
            if !socket.send(&frame) {
                return End::Lost;
            }
        }
    }

    /// Handles one server frame (from this tab's socket, `out`, or relayed
    /// by the leader); returns the frame to answer with, if any.
    fn on_frame(&self, frame: Frame, out: Option<&mpsc::UnboundedSender<String>>) -> Option<ClientFrame> {
        match frame {
            Frame::ConfirmSubscription => {
                let mut st = self.state.borrow_mut();
                st.choice.socket_up();
                st.backoff.opened(dom::now_ms());
                st.poll = None;
                st.socket_out = out.cloned();
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
            let follower = self.follows();
            let (live, after, interval) = {
                let mut st = self.state.borrow_mut();
                if !st.choice.wants_polling() && !follower {
                    st.poll = None;
                    return;
                }
                let interval = if follower { FOLLOWER_POLL_MS } else { st.config.poll_interval_ms };
                (st.live.clone(), st.timeline.last_seq(), interval)
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
