//! The controller: one per mounted widget. It owns the logic state
//! (session store, outbox, timeline, transport choice), the signals the UI
//! renders and every task, timer and listener, and turns commands from the
//! UI and the JS API into state changes and network work.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use natter_protocol::ws::ClientFrame;
use natter_protocol::{ChatMessage, CreateSessionRequest, Sender};
use wasm_bindgen::JsValue;

use super::api::{Api, Live};
use super::dom::{self, Listener};
use super::task::Task;
use crate::backoff::Backoff;
use crate::config::{Config, ContactForm, StorageKind};
use crate::contact::{Contact, Details};
use crate::i18n::Locale;
use crate::outbox::Outbox;
use crate::session::SessionStore;
use crate::storage::KeyValue;
use crate::timeline::{Change, Entry, Timeline};
use crate::transport::TransportChoice;

/// What the UI shows; every field is a signal, so the struct is `Copy`.
#[derive(Clone, Copy)]
pub struct Ui {
    pub open: RwSignal<bool>,
    pub shown: RwSignal<bool>,
    pub entries: RwSignal<Vec<Entry>>,
    pub unread: RwSignal<u32>,
    pub typing: RwSignal<bool>,
    pub locale: RwSignal<Locale>,
    pub title: RwSignal<Option<String>>,
    pub greeting: RwSignal<Option<String>>,
    pub contact_form: RwSignal<bool>,
    pub offline: RwSignal<bool>,
    /// The server holds messages before the earliest one shown.
    pub earlier: RwSignal<bool>,
    /// What the visitor is told about their files: nothing (0), the percent
    /// uploaded plus one (1 to 101) or why they were not sent (`FILE_*`).
    /// (Signals of the UI hold types it already has: see `ui::text`.)
    pub files: RwSignal<u32>,
    /// The rating prompt: not shown, asking, or thanking (`RATING_*`).
    pub rating: RwSignal<u32>,
    /// The website is away (outside business hours, or no operator online)
    /// and the visitor has not left an e-mail address yet.
    pub away: RwSignal<bool>,
}

/// `rating` while there is nothing to rate, while asking, and once rated.
pub const RATING_NONE: u32 = 0;
pub const RATING_ASKED: u32 = 1;
pub const RATING_THANKED: u32 = 2;

/// `files` when the files were over the size limit, of a refused type, or not sent for another reason.
pub const FILE_TOO_LARGE: u32 = 1001;
pub const FILE_BAD_TYPE: u32 = 1002;
pub const FILE_NOT_SENT: u32 = 1003;

impl Ui {
    fn new(config: &Config) -> Self {
        let locale = config.locale.unwrap_or_else(|| Locale::from_language_tag(&dom::language()));
        Self {
            open: RwSignal::new(false),
            shown: RwSignal::new(!config.hide_launcher),
            entries: RwSignal::new(Vec::new()),
            unread: RwSignal::new(0),
            typing: RwSignal::new(false),
            locale: RwSignal::new(locale),
            title: RwSignal::new(config.title.clone()),
            greeting: RwSignal::new(config.greeting.clone()),
            contact_form: RwSignal::new(false),
            offline: RwSignal::new(false),
            earlier: RwSignal::new(false),
            files: RwSignal::new(0),
            rating: RwSignal::new(RATING_NONE),
            away: RwSignal::new(false),
        }
    }
}

/// Mutable state, borrowed briefly and never across an `await`.
pub(super) struct State {
    pub config: Config,
    pub store: SessionStore<Rc<dyn KeyValue>>,
    pub outbox: Outbox,
    pub timeline: Timeline,
    pub choice: TransportChoice,
    pub backoff: Backoff,
    pub live: Option<Live>,
    /// Contact details to send with the next session call.
    pub contact: Option<CreateSessionRequest>,
    /// Contact form mode: the host's setting, else the website's.
    pub contact_mode: ContactForm,
    pub contact_given: bool,
    pub pump: Option<Task>,
    pub pump_again: bool,
    pub retry: Option<Task>,
    pub socket: Option<Task>,
    pub poll: Option<Task>,
    pub config_task: Option<Task>,
    /// Frames (as text) for this tab's socket, while it is subscribed.
    pub socket_out: Option<UnboundedSender<String>>,
    /// The visitor's other tabs, once this one has a session to share.
    pub tabs: Option<super::tabs::Tabs>,
    /// This tab keeps the socket for all of them.
    pub leader: bool,
    pub listeners: Vec<Listener>,
    /// The files (a JS array) of outbox messages that carry files, by `echoId`.
    pub uploads: Vec<(String, JsValue)>,
    /// The website's largest file, from its config (0: not known yet).
    pub max_file_bytes: f64,
    /// This tab's storage, where an open widget is noted so that it opens
    /// again on the site's next page (nothing with `storage=none`).
    pub tab_store: Rc<dyn KeyValue>,
}

impl State {
    /// Ends live delivery and forgets the session, its stored record and its
    /// messages; what waits in the outbox stays.
    pub(super) fn drop_session(&mut self) {
        let _ = self.store.clear();
        self.live = None;
        self.socket = None;
        self.poll = None;
        self.socket_out = None;
        self.tabs = None;
        self.leader = false;
        self.timeline.clear();
    }
}

/// Events for the host page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Ready,
    Open,
    Close,
    Session,
    MessageSent,
    MessageReceived,
    Unread,
    Error,
}

impl Event {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Open => "open",
            Self::Close => "close",
            Self::Session => "session",
            Self::MessageSent => "message:sent",
            Self::MessageReceived => "message:received",
            Self::Unread => "unread",
            Self::Error => "error",
        }
    }
}

pub struct Controller {
    pub ui: Ui,
    pub(super) api: Api,
    emit: js_sys::Function,
    pub(super) state: RefCell<State>,
}

impl Controller {
    pub fn new(config: Config, emit: js_sys::Function) -> Rc<Self> {
        let base = config.server.clone().unwrap_or_else(dom::origin);
        let api = Api::new(base, config.website_token.clone());
        let store = SessionStore::open(dom::storage(config.storage), &config.website_token);
        let state = State {
            choice: TransportChoice::new(config.transport),
            contact_mode: config.contact_form.unwrap_or_default(),
            config: config.clone(),
            store,
            outbox: Outbox::default(),
            timeline: Timeline::default(),
            backoff: Backoff::default(),
            live: None,
            contact: None,
            contact_given: false,
            pump: None,
            pump_again: false,
            retry: None,
            socket: None,
            poll: None,
            config_task: None,
            socket_out: None,
            tabs: None,
            leader: false,
            listeners: Vec::new(),
            uploads: Vec::new(),
            max_file_bytes: 0.0,
            tab_store: dom::storage(if config.storage == StorageKind::None {
                StorageKind::None
            } else {
                StorageKind::Session
            }),
        };
        Rc::new(Self { ui: Ui::new(&config), api, emit, state: RefCell::new(state) })
    }

    /// Starts what runs from the beginning: the website config, listeners and,
    /// when the visitor chatted on an earlier visit, the stored session.
    pub fn start(self: &Rc<Self>) {
        self.load_config();
        self.listen();
        let (resume, open) = {
            let st = self.state.borrow();
            (st.store.current().is_some(), st.config.open)
        };
        if resume {
            self.kick();
        }
        if open {
            self.open();
        }
        self.emit(Event::Ready, JsValue::UNDEFINED);
    }

    fn listen(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else { return };
        let weak = Rc::downgrade(self);
        let online = Listener::new(&window, "online", move |_| {
            if let Some(ctl) = weak.upgrade() {
                ctl.ui.offline.set(false);
                ctl.kick();
                ctl.reconnect_now();
            }
        });
        let weak = Rc::downgrade(self);
        let offline = Listener::new(&window, "offline", move |_| {
            if let Some(ctl) = weak.upgrade() {
                ctl.ui.offline.set(true);
            }
        });
        let mut st = self.state.borrow_mut();
        st.listeners.extend(online.into_iter().chain(offline));
    }

    fn load_config(self: &Rc<Self>) {
        let ctl = Rc::clone(self);
        let task = Task::spawn(async move {
            let Ok(site) = ctl.api.config().await else { return };
            let host = ctl.state.borrow().config.clone();
            if host.title.is_none() {
                ctl.ui.title.set(Some(site.title));
            }
            if host.greeting.is_none() && !site.greeting.is_empty() {
                ctl.ui.greeting.set(Some(site.greeting));
            }
            if host.locale.is_none() {
                if let Some(locale) = Locale::parse(&site.locale) {
                    ctl.ui.locale.set(locale);
                }
            }
            if host.contact_form.is_none() {
                let mode = match site.contact_form.as_str() {
                    "off" => ContactForm::Off,
                    "before-chat" => ContactForm::BeforeChat,
                    _ => ContactForm::AfterFirstMessage,
                };
                ctl.state.borrow_mut().contact_mode = mode;
                ctl.refresh_contact_form();
            }
            ctl.state.borrow_mut().max_file_bytes = site.max_file_bytes.unwrap_or_default() as f64;
            ctl.ui.away.set(!site.online);
            if let Some(color) = host.color.or_else(|| crate::config::Color::parse(&site.color)) {
                super::ui::set_accent(&color);
            }
        });
        self.state.borrow_mut().config_task = Some(task);
    }

    pub(super) fn emit(&self, event: Event, detail: JsValue) {
        // Handlers run after the current call returns, so they may call the API again.
        let emit = self.emit.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = emit.call2(&JsValue::NULL, &JsValue::from_str(event.name()), &detail);
        });
    }

    pub(super) fn emit_error(&self, code: &str, message: &str) {
        let detail = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&detail, &"code".into(), &code.into());
        let _ = js_sys::Reflect::set(&detail, &"message".into(), &message.into());
        self.emit(Event::Error, detail.into());
    }

    fn engage(&self) {
        if let Err(e) = self.state.borrow_mut().store.engage() {
            self.emit_error("storage", &e.to_string());
        }
    }

    pub fn open(self: &Rc<Self>) {
        if self.ui.open.get_untracked() {
            return;
        }
        self.engage();
        self.ui.open.set(true);
        self.ui.shown.set(true);
        self.ui.unread.set(0);
        self.emit(Event::Unread, 0.into());
        self.emit(Event::Open, JsValue::UNDEFINED);
        self.refresh_contact_form();
        self.kick();
        self.send_seen();
        self.tell_tabs("o1");
        self.note_open(true);
    }

    /// Notes in this tab whether the widget is open (read by the loader on the next page).
    fn note_open(&self, open: bool) {
        let st = self.state.borrow();
        let key = format!("natter:open:{}", st.config.website_token);
        let _ = if open { st.tab_store.set(&key, "1") } else { st.tab_store.remove(&key) };
    }

    pub fn close(&self) {
        if !self.ui.open.get_untracked() {
            return;
        }
        self.ui.open.set(false);
        self.emit(Event::Close, JsValue::UNDEFINED);
        self.tell_tabs("o0");
        self.note_open(false);
    }

    pub fn toggle(self: &Rc<Self>) {
        if self.ui.open.get_untracked() {
            self.close();
        } else {
            self.open();
        }
    }

    pub fn show(&self) {
        self.ui.shown.set(true);
    }

    pub fn hide(&self) {
        self.close();
        self.ui.shown.set(false);
    }

    pub fn set_locale(&self, locale: Locale) {
        self.ui.locale.set(locale);
    }

    /// Queues a visitor message: shown at once, sent when the network allows.
    pub fn send(self: &Rc<Self>, text: &str) -> Result<(), JsValue> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let echo_id = dom::new_key("e_")?;
        self.engage();
        {
            let mut st = self.state.borrow_mut();
            st.outbox.push(echo_id.clone(), text);
            st.timeline.add_pending(&echo_id, text, &dom::now_iso());
            self.ui.entries.set(st.timeline.entries().to_vec());
        }
        self.refresh_contact_form();
        self.kick();
        Ok(())
    }

    /// Queues files (a JS array of `File`, named `names`) as one message:
    /// shown at once by name, uploaded in turn with the outbox. Files whose
    /// `largest` is over the website's limit are refused here, before
    /// anything is sent.
    pub fn attach(self: &Rc<Self>, files: js_sys::Array, names: &str, largest: f64) -> Result<(), JsValue> {
        let max = self.state.borrow().max_file_bytes;
        if max > 0.0 && largest > max {
            self.ui.files.set(FILE_TOO_LARGE);
            return Ok(());
        }
        let echo_id = dom::new_key("e_")?;
        self.engage();
        {
            let mut st = self.state.borrow_mut();
            st.outbox.push(echo_id.clone(), "");
            st.timeline.add_pending(&echo_id, names, &dom::now_iso());
            st.uploads.push((echo_id, files.into()));
            self.ui.entries.set(st.timeline.entries().to_vec());
        }
        self.refresh_contact_form();
        self.kick();
        Ok(())
    }

    /// Records contact details and identity; they go out with the next session call.
    pub fn identify(self: &Rc<Self>, who: Details) {
        {
            let mut st = self.state.borrow_mut();
            let contact = st.contact.get_or_insert_with(CreateSessionRequest::default);
            contact.name = who.name.or(contact.name.take());
            contact.phone = who.phone.or(contact.phone.take());
            contact.email = who.email.or(contact.email.take());
            if who.user_id.is_some() {
                contact.user_id = who.user_id;
                contact.user_hash = who.user_hash;
            }
            st.contact_given = contact.name.is_some() && contact.phone.is_some();
        }
        self.refresh_contact_form();
        self.kick();
    }

    /// The away form was submitted: the address goes out with the next session call.
    pub fn leave_email(self: &Rc<Self>, who: Details) {
        self.ui.away.set(false);
        self.engage();
        self.identify(who);
    }

    /// The visitor rated the closed conversation.
    pub fn rate(self: &Rc<Self>, score: u8, comment: String) {
        let Some(live) = self.state.borrow().live.clone() else { return };
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            match this.api.rate(&live, score, &comment).await {
                Ok(()) => this.ui.rating.set(RATING_THANKED),
                Err(e) => this.emit_error("rating_refused", &e.describe()),
            }
        });
    }

    /// The contact form was submitted.
    pub fn submit_contact(self: &Rc<Self>, contact: Contact) {
        self.identify(Details { name: Some(contact.name), phone: Some(contact.phone), ..Details::default() });
    }

    /// The visitor typed or stopped typing.
    pub fn typing(&self, on: bool) {
        self.push_frame(if on { ClientFrame::TypingOn } else { ClientFrame::TypingOff });
    }

    /// Sends a frame on this tab's socket, or through the tab that has it.
    pub(super) fn push_frame(&self, frame: ClientFrame) {
        let text = super::json::client_frame(&frame);
        if !self.push_raw(&text) {
            self.tell_tabs(&format!("c{text}"));
        }
    }

    /// Sends frame text on this tab's socket; `false` when it has none up.
    pub(super) fn push_raw(&self, text: &str) -> bool {
        self.state.borrow().socket_out.as_ref().is_some_and(|out| out.unbounded_send(text.to_owned()).is_ok())
    }

    /// Tells the visitor's other tabs (`o1` opened, `o0` closed, `o?` asking which).
    pub(super) fn tell_tabs(&self, what: &str) {
        if let Some(tabs) = &self.state.borrow().tabs {
            tabs.post(what);
        }
    }

    fn send_seen(&self) {
        let seq = self.state.borrow().timeline.last_seq();
        if seq > 0 && self.ui.open.get_untracked() {
            self.push_frame(ClientFrame::Seen(natter_protocol::ws::SeenData { message_id: None, seq: Some(seq) }));
        }
    }

    /// Shows or hides the contact form from the mode and what is known.
    pub(super) fn refresh_contact_form(&self) {
        let st = self.state.borrow();
        let wrote = st.timeline.entries().iter().any(|e| e.message.sender == Sender::User);
        let show = !st.contact_given
            && match st.contact_mode {
                ContactForm::Off => false,
                ContactForm::BeforeChat => true,
                ContactForm::AfterFirstMessage => wrote,
            };
        self.ui.contact_form.set(show);
    }

    /// Fetches the page of messages before the earliest one shown (a resume
    /// brings only the newest hundred).
    pub fn load_earlier(self: &Rc<Self>) {
        let (live, first) = {
            let st = self.state.borrow();
            (st.live.clone(), st.timeline.first_seq())
        };
        let (Some(live), Some(first)) = (live, first) else { return };
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            match this.api.before(&live, first).await {
                Ok(page) => {
                    let mut st = this.state.borrow_mut();
                    for m in page.messages {
                        st.timeline.apply(m);
                    }
                    this.ui.entries.set(st.timeline.entries().to_vec());
                    this.ui.earlier.set(page.has_more);
                }
                Err(e) => this.emit_error("history_refused", &e.describe()),
            }
        });
    }

    /// Applies stored messages from any source and updates the UI, unread count and events.
    pub(super) fn receive(&self, messages: impl IntoIterator<Item = ChatMessage>) {
        let mut incoming = 0u32;
        let mut fresh = Vec::new();
        {
            let mut st = self.state.borrow_mut();
            // What the visitor received before (on this visit or an earlier one) is not unread again.
            let known = st.store.current().map_or(0, |s| s.last_seq);
            for m in messages {
                let change = st.timeline.apply(m.clone());
                if change == Change::Added && m.sender != Sender::User && m.seq > known {
                    incoming += 1;
                    fresh.push(m);
                }
            }
            let last = st.timeline.last_seq();
            let _ = st.store.advance(last);
            self.ui.entries.set(st.timeline.entries().to_vec());
        }
        if incoming == 0 {
            return;
        }
        self.ui.typing.set(false);
        for m in &fresh {
            self.emit(Event::MessageReceived, super::json::message_value(m));
        }
        if self.ui.open.get_untracked() {
            self.send_seen();
        } else {
            self.ui.unread.update(|n| *n += incoming);
            self.emit(Event::Unread, self.ui.unread.get_untracked().into());
        }
    }

    /// Forgets the session and conversation; the next open starts a new one.
    pub fn reset(&self) {
        let mut st = self.state.borrow_mut();
        st.drop_session();
        st.outbox.clear();
        st.uploads.clear();
        st.contact = None;
        st.contact_given = false;
        st.pump = None;
        st.retry = None;
        st.choice = TransportChoice::new(st.config.transport);
        self.ui.entries.set(Vec::new());
        self.ui.unread.set(0);
        self.ui.typing.set(false);
        drop(st);
        self.refresh_contact_form();
    }

    /// Stops every task, timer, socket and listener.
    pub fn shutdown(&self) {
        let mut st = self.state.borrow_mut();
        st.pump = None;
        st.retry = None;
        st.socket = None;
        st.poll = None;
        st.config_task = None;
        st.socket_out = None;
        st.tabs = None;
        st.listeners.clear();
    }
}
