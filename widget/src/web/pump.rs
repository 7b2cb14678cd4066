//! The pump: one task at a time that makes sure a session exists (creating,
//! resuming or updating it) and then empties the outbox in order. A failure
//! leaves everything queued and tries again after a pause or when the
//! browser comes back online.

use std::rc::Rc;

use leptos::prelude::{GetUntracked, Set};
use natter_protocol::{CreateSessionRequest, SendMessageRequest, SessionData};
use wasm_bindgen::JsValue;

use super::api::{ApiError, Live};
use super::controller::{self, Controller, Event};
use super::dom;
use super::task::{sleep, Task};
use crate::session::StoredSession;

/// Pause before retrying after a network failure.
const RETRY_MS: u32 = 3_000;

impl Controller {
    /// Makes sure the pump runs (again) soon.
    pub(super) fn kick(self: &Rc<Self>) {
        let mut st = self.state.borrow_mut();
        if st.pump.is_some() {
            st.pump_again = true;
            return;
        }
        st.retry = None;
        let ctl = Rc::clone(self);
        st.pump = Some(Task::spawn(async move { ctl.pump().await }));
    }

    async fn pump(self: Rc<Self>) {
        loop {
            let done = self.pump_once().await;
            let mut st = self.state.borrow_mut();
            if done && std::mem::take(&mut st.pump_again) {
                continue;
            }
            st.pump_again = false;
            if !done {
                let ctl = Rc::clone(&self);
                st.retry = Some(Task::spawn(async move {
                    sleep(RETRY_MS).await;
                    ctl.kick();
                }));
            }
            st.pump = None;
            return;
        }
    }

    /// One pass; `false` when the network failed and a retry is due.
    async fn pump_once(self: &Rc<Self>) -> bool {
        let request = match self.session_request() {
            Ok(request) => request,
            Err(e) => {
                self.emit_error("random", &super::net::reason(&e));
                return true;
            }
        };
        if let Some((request, held)) = request {
            match self.api.session(&request, held.as_ref()).await {
                Ok(data) => self.adopt(&request, data),
                Err(ApiError::Refused { status: 404, .. }) if held.is_some() => return self.forget(),
                Err(ApiError::Refused { status: 403 | 422, code, message })
                    if self.state.borrow().contact.is_some() =>
                {
                    // Details the server refused (a userHash that does not verify, a
                    // malformed address) are dropped, linking nothing: the visitor chats
                    // on as who they were, and the page hears why.
                    self.emit_error(&code, &message);
                    let mut st = self.state.borrow_mut();
                    st.contact = None;
                    st.pump_again = true;
                    return true;
                }
                Err(e) => return self.failed(&e),
            }
        }
        loop {
            let (next, live) = {
                let mut st = self.state.borrow_mut();
                let Some(live) = st.live.clone() else { return true };
                (st.outbox.take_next(), live)
            };
            let Some(next) = next else { return true };
            // Files wait in outbox order, so the first waiting belong to this message if any do.
            let files = self.state.borrow().uploads.first().filter(|(e, _)| *e == next.echo_id).map(|(_, f)| f.clone());
            let sent = match &files {
                Some(files) => self.upload(&live, &next.echo_id, files).await,
                None => {
                    let request =
                        SendMessageRequest { message: next.text.clone(), echo_id: Some(next.echo_id.clone()) };
                    self.api.send(&live, &request).await
                }
            };
            if files.is_some() && !matches!(&sent, Err(e) if !e.is_permanent()) {
                self.state.borrow_mut().uploads.remove(0);
            }
            match sent {
                Ok(message) => {
                    self.state.borrow_mut().outbox.delivered(&next.echo_id);
                    let detail = super::json::message_value(&message);
                    self.receive([message]);
                    self.emit(Event::MessageSent, detail);
                }
                Err(e) if e.is_permanent() => {
                    let mut st = self.state.borrow_mut();
                    st.outbox.rejected(&next.echo_id);
                    if files.is_some() {
                        // The visitor is told why; their files' line goes.
                        st.timeline.drop_pending(&next.echo_id);
                        self.ui.entries.set(st.timeline.entries().to_vec());
                        self.ui.files.set(match &e {
                            ApiError::Refused { status: 413, .. } => controller::FILE_TOO_LARGE,
                            ApiError::Refused { status: 415, .. } => controller::FILE_BAD_TYPE,
                            _ => controller::FILE_NOT_SENT,
                        });
                    }
                    drop(st);
                    self.emit_error("send_refused", &e.describe());
                }
                Err(e) => {
                    self.state.borrow_mut().outbox.failed();
                    return self.failed(&e);
                }
            }
        }
    }

    /// Uploads one message's files, showing the share sent in `progress`.
    async fn upload(
        &self,
        live: &Live,
        echo_id: &str,
        files: &JsValue,
    ) -> Result<natter_protocol::ChatMessage, ApiError> {
        let note = self.ui.files;
        note.set(1);
        let report = wasm_bindgen::closure::Closure::<dyn FnMut(f64)>::new(move |share: f64| {
            note.set(1 + (share * 100.0) as u32);
        });
        let sent = self.api.upload(live, echo_id, files, &report).await;
        note.set(0);
        sent
    }

    /// The session call to make now, if any, with the stored session it
    /// resumes: none before the visitor engages, none when the session is
    /// live and no contact details wait.
    fn session_request(&self) -> Result<Option<(CreateSessionRequest, Option<Live>)>, JsValue> {
        let mut st = self.state.borrow_mut();
        // Another tab of this visitor may have started the session meanwhile.
        st.store.reload();
        if !st.store.is_engaged() || (st.live.is_some() && st.contact.is_none()) {
            return Ok(None);
        }
        let (user_session_id, held) = match st.store.current() {
            Some(s) => (s.user_session_id.clone(), Some(Live { id: s.session_id.clone(), token: s.token.clone() })),
            None => (dom::new_key("v_")?, None),
        };
        let mut request = st.contact.clone().unwrap_or_default();
        request.user_session_id = Some(user_session_id);
        Ok(Some((request, held)))
    }

    fn adopt(self: &Rc<Self>, request: &CreateSessionRequest, data: SessionData) {
        let first = {
            let mut st = self.state.borrow_mut();
            let first = st.live.as_ref().is_none_or(|l| l.id != data.session_id);
            let live = Live { id: data.session_id.clone(), token: data.token.clone().unwrap_or_default() };
            let last_seq = st.store.current().filter(|s| s.session_id == live.id).map_or(0, |s| s.last_seq);
            let stored = StoredSession {
                user_session_id: request.user_session_id.clone().unwrap_or_default(),
                session_id: live.id.clone(),
                token: live.token.clone(),
                last_seq,
            };
            if let Err(e) = st.store.set(stored) {
                self.emit_error("storage", &e.to_string());
            }
            st.live = Some(live);
            if st.contact.as_ref() == Some(&strip_id(request)) {
                st.contact = None;
            }
            st.contact_given |= data.session.user_name.is_some() && data.session.user_phone.is_some();
            first
        };
        self.ui.offline.set(false);
        self.ui.earlier.set(data.has_more);
        self.receive(data.messages);
        self.refresh_contact_form();
        if first {
            let detail = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&detail, &"sessionId".into(), &data.session_id.as_str().into());
            self.emit(Event::Session, detail.into());
            self.start_live();
        }
    }

    /// The server no longer knows the stored session (it expired or was
    /// erased): it is forgotten with its messages, and a new one starts at
    /// once if the visitor is chatting, else when they next open or send.
    fn forget(&self) -> bool {
        let mut st = self.state.borrow_mut();
        st.drop_session();
        self.ui.entries.set(Vec::new());
        if self.ui.open.get_untracked() || !st.outbox.is_empty() {
            let _ = st.store.engage();
            st.pump_again = true;
        }
        true
    }

    fn failed(&self, e: &ApiError) -> bool {
        if e.is_permanent() {
            self.emit_error("request_refused", &e.describe());
            return true;
        }
        self.ui.offline.set(true);
        false
    }
}

/// The contact part of a session request, as kept while it waits.
fn strip_id(request: &CreateSessionRequest) -> CreateSessionRequest {
    CreateSessionRequest { user_session_id: None, ..request.clone() }
}
