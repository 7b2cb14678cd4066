//! The controller: one per mounted widget. It feeds the [`Engine`] what
//! happens in the page (the visitor, the network, timers, other tabs),
//! performs the effects it returns, and copies its view into the signals
//! the UI renders. Every task, timer, socket and listener lives here.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use natter_protocol::ws::CLOSE_UNAUTHORIZED;
use wasm_bindgen::JsValue;

use super::api::Api;
use super::dom::{self, Listener};
use super::net::{Socket, SocketEvent};
use super::tabs::Tabs;
use super::task::{sleep, Task};
use super::ui::{Command, Ui, FILE_BAD_TYPE, FILE_NOT_SENT, FILE_TOO_LARGE, RATING_ASKED, RATING_NONE, RATING_THANKED};
use crate::config::{Config, ContactForm, StorageKind};
use crate::contact::Details;
use crate::engine::{Effect, Engine, Entropy, Files, Input, Notice, Rating, Slot, View};
use crate::i18n::Locale;
use crate::storage::KeyValue;
use crate::timeline::Entry;

impl Ui {
    fn new(config: &Config, act: Rc<dyn Fn(Command)>) -> Self {
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
            act: StoredValue::new_local(act),
        }
    }

    /// Copies what changed in the engine's view into the signals.
    fn show(&self, view: &View, before: &View, entries: impl FnOnce() -> Vec<Entry>) {
        fn put<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T, old: T) {
            if value != old {
                signal.set(value);
            }
        }
        let files = |f: Files| match f {
            Files::Quiet => 0,
            Files::Sending(percent) => 1 + u32::from(percent),
            Files::TooLarge => FILE_TOO_LARGE,
            Files::BadType => FILE_BAD_TYPE,
            Files::NotSent => FILE_NOT_SENT,
        };
        let rating = |r: Rating| match r {
            Rating::None => RATING_NONE,
            Rating::Asked => RATING_ASKED,
            Rating::Thanked => RATING_THANKED,
        };
        if view.revision != before.revision {
            self.entries.set(entries());
        }
        put(self.open, view.open, before.open);
        put(self.unread, view.unread, before.unread);
        put(self.typing, view.typing, before.typing);
        put(self.contact_form, view.contact_form, before.contact_form);
        put(self.offline, view.offline, before.offline);
        put(self.earlier, view.earlier, before.earlier);
        put(self.files, files(view.files), files(before.files));
        put(self.rating, rating(view.rating), rating(before.rating));
        put(self.away, view.away, before.away);
        if view.open && !before.open {
            self.shown.set(true);
        }
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

/// The browser's randomness for the engine.
struct Browser;

impl Entropy for Browser {
    fn key(&mut self, prefix: &str) -> Option<String> {
        dom::new_key(prefix).ok()
    }

    fn unit(&mut self) -> f64 {
        dom::random_unit()
    }
}

/// What the controller owns in the page.
#[derive(Default)]
struct Io {
    /// The work in each [`Slot`]: pump, poll, socket timer.
    slots: [Option<Task>; 3],
    socket: Option<Socket>,
    tabs: Option<Tabs>,
    listeners: Vec<Listener>,
    /// Files of messages waiting in the outbox, by `echoId`, and those just picked.
    files: Vec<(String, JsValue)>,
    picked: Option<JsValue>,
    config: Option<Task>,
}

pub struct Controller {
    pub ui: Ui,
    api: Api,
    emit: js_sys::Function,
    config: Config,
    engine: RefCell<Engine<Rc<dyn KeyValue>, Browser>>,
    io: RefCell<Io>,
    /// This tab's storage, where an open widget is noted so that it opens
    /// again on the site's next page (nothing with `storage=none`).
    tab_store: Rc<dyn KeyValue>,
}

impl Controller {
    pub fn new(config: Config, emit: js_sys::Function) -> Rc<Self> {
        let base = config.server.clone().unwrap_or_else(dom::origin);
        let api = Api::new(base, config.website_token.clone());
        let engine = Engine::new(config.clone(), dom::storage(config.storage), Browser);
        let tab_store =
            dom::storage(if config.storage == StorageKind::None { StorageKind::None } else { StorageKind::Session });
        Rc::new_cyclic(|weak: &std::rc::Weak<Self>| {
            let weak = weak.clone();
            let act = move |command| {
                if let Some(ctl) = weak.upgrade() {
                    ctl.command(command);
                }
            };
            Self {
                ui: Ui::new(&config, Rc::new(act)),
                api,
                emit,
                config,
                engine: RefCell::new(engine),
                io: RefCell::new(Io::default()),
                tab_store,
            }
        })
    }

    /// What the visitor did in the UI.
    fn command(self: &Rc<Self>, command: Command) {
        self.handle(match command {
            Command::Toggle => {
                if self.ui.open.get_untracked() {
                    Input::Close
                } else {
                    Input::Open
                }
            }
            Command::Close => Input::Close,
            Command::Send(text) => Input::Send { text, at: dom::now_iso() },
            Command::Typing(on) => Input::Typing(on),
            Command::Earlier => Input::LoadEarlier,
            Command::Contact(c) => {
                Input::Identify(Details { name: Some(c.name), phone: Some(c.phone), ..Details::default() })
            }
            Command::Email(email) => Input::LeaveEmail(email),
            Command::Rate(score, comment) => Input::Rate { score, comment },
            Command::Attach(files, names, largest) => return self.attach(files, names, largest),
        });
    }

    /// Starts what runs from the beginning: the website config, listeners and,
    /// when the visitor chatted on an earlier visit, the stored session.
    pub fn start(self: &Rc<Self>) {
        self.load_config();
        self.listen();
        self.handle(Input::Hidden(dom::hidden()));
        self.handle(Input::Start);
        self.emit(Event::Ready, JsValue::UNDEFINED);
    }

    /// Hands `input` to the engine, shows the new view and performs the effects.
    fn handle(self: &Rc<Self>, input: Input) {
        let effects = {
            let mut engine = self.engine.borrow_mut();
            let before = engine.view();
            let effects = engine.handle(dom::now_ms(), input);
            self.ui.show(&engine.view(), &before, || engine.timeline().entries().to_vec());
            effects
        };
        for effect in effects {
            self.perform(effect);
        }
    }

    /// A callback that hands what it is given to the engine while the widget lives.
    fn feed<T>(self: &Rc<Self>, input: impl Fn(T) -> Input + 'static) -> impl Fn(T) + 'static {
        let weak = Rc::downgrade(self);
        move |value| {
            if let Some(ctl) = weak.upgrade() {
                ctl.handle(input(value));
            }
        }
    }

    /// Runs `work` in `slot` (replacing what ran there), handing its result to the engine.
    fn run(self: &Rc<Self>, slot: Slot, work: impl std::future::Future<Output = Input> + 'static) {
        let ctl = Rc::clone(self);
        let task = Task::spawn(async move {
            let input = work.await;
            ctl.io.borrow_mut().slots[slot as usize] = None;
            ctl.handle(input);
        });
        self.io.borrow_mut().slots[slot as usize] = Some(task);
    }

    /// Runs a request of its own (in no slot), handing its answer to the engine.
    fn ask(self: &Rc<Self>, work: impl std::future::Future<Output = Input> + 'static) {
        let ctl = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let input = work.await;
            ctl.handle(input);
        });
    }

    fn perform(self: &Rc<Self>, effect: Effect) {
        let api = self.api.clone();
        match effect {
            Effect::Session { request, held } => {
                self.run(Slot::Pump, async move { Input::Session(api.session(&request, held.as_ref()).await) });
            }
            Effect::Send { live, request } => {
                self.run(Slot::Pump, async move { Input::Sent(api.send(&live, &request).await) });
            }
            Effect::Upload { live, echo_id } => {
                let files = self.io.borrow().files.iter().find(|(e, _)| *e == echo_id).map(|(_, f)| f.clone());
                let report = wasm_bindgen::closure::Closure::<dyn FnMut(f64)>::new(self.feed(Input::Progress));
                self.run(Slot::Pump, async move {
                    Input::Sent(api.upload(&live, &echo_id, &files.unwrap_or_default(), &report).await)
                });
            }
            Effect::Poll { live, after } => {
                self.run(Slot::Poll, async move { Input::Polled(api.after(&live, after).await) });
            }
            Effect::Earlier { live, before } => {
                self.ask(async move { Input::Earlier(api.before(&live, before).await) })
            }
            Effect::Rate { live, score, comment } => {
                self.ask(async move { Input::Rated(api.rate(&live, score, &comment).await) });
            }
            Effect::Wait(slot, ms) => self.run(slot, async move {
                sleep(ms).await;
                Input::Elapsed(slot)
            }),
            Effect::Abort(slot) => self.io.borrow_mut().slots[slot as usize] = None,
            Effect::Connect => self.connect(),
            Effect::Disconnect => self.io.borrow_mut().socket = None,
            Effect::Frame(frame) => self.socket_send(&super::json::client_frame(&frame)),
            Effect::FrameText(text) => self.socket_send(&text),
            Effect::Relay(frame) => self.post(&format!("c{}", super::json::client_frame(&frame))),
            Effect::Join(name) => {
                let weak = Rc::downgrade(self);
                let lead = self.feed(|()| Input::Lead);
                let tabs = Tabs::join(
                    &name,
                    move || lead(()),
                    move |text: String| {
                        let Some(ctl) = weak.upgrade() else { return };
                        // (`strip_prefix` rather than slicing: a slice that could panic brings in
                        // the panic message's formatting and its Unicode tables, 5 KB.)
                        match text.strip_prefix('f') {
                            Some(raw) => {
                                if let Some(frame) = super::json::server_frame(raw) {
                                    ctl.handle(Input::Relayed(frame));
                                }
                            }
                            None => ctl.handle(Input::Tab(text)),
                        }
                    },
                );
                self.io.borrow_mut().tabs = Some(tabs);
            }
            Effect::Leave => self.io.borrow_mut().tabs = None,
            Effect::Post(text) => self.post(&text),
            Effect::Keep(echo_id) => {
                let mut io = self.io.borrow_mut();
                if let Some(files) = io.picked.take() {
                    io.files.push((echo_id, files));
                }
            }
            Effect::Discard(echo_id) => {
                self.io.borrow_mut().files.retain(|(e, _)| echo_id.as_ref().is_some_and(|id| id != e));
            }
            Effect::NoteOpen(open) => {
                let key = format!("natter:open:{}", self.config.website_token);
                let _ = if open { self.tab_store.set(&key, "1") } else { self.tab_store.remove(&key) };
            }
            Effect::Chime => dom::chime(),
            Effect::Notify(notice) => self.notify(notice),
        }
    }

    fn notify(&self, notice: Notice) {
        let message = |m| super::json::message_value(&m);
        let (event, detail) = match notice {
            Notice::Open => (Event::Open, JsValue::UNDEFINED),
            Notice::Close => (Event::Close, JsValue::UNDEFINED),
            Notice::Session(id) => {
                let detail = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&detail, &"sessionId".into(), &id.as_str().into());
                (Event::Session, detail.into())
            }
            Notice::MessageSent(m) => (Event::MessageSent, message(m)),
            Notice::MessageReceived(m) => (Event::MessageReceived, message(m)),
            Notice::Unread(n) => (Event::Unread, n.into()),
            Notice::Error { code, message } => return self.emit_error(&code, &message),
        };
        self.emit(event, detail);
    }

    fn socket_send(&self, text: &str) {
        if let Some(socket) = &self.io.borrow().socket {
            socket.send(text);
        }
    }

    fn post(&self, text: &str) {
        if let Some(tabs) = &self.io.borrow().tabs {
            tabs.post(text);
        }
    }

    /// Opens the socket; its events go to the engine.
    fn connect(self: &Rc<Self>) {
        self.io.borrow_mut().socket = None;
        let weak = Rc::downgrade(self);
        let on = move |event| {
            let Some(ctl) = weak.upgrade() else { return };
            ctl.handle(match event {
                SocketEvent::Open => Input::SocketOpen,
                SocketEvent::Text(raw) => match super::json::server_frame(&raw) {
                    Some(frame) => Input::SocketFrame(frame, raw),
                    None => return,
                },
                SocketEvent::Close(code) => Input::SocketClosed(code == CLOSE_UNAUTHORIZED),
                SocketEvent::Error => Input::SocketClosed(false),
            });
        };
        match Socket::open(&self.api.socket_url(), on) {
            Ok(socket) => self.io.borrow_mut().socket = Some(socket),
            Err(_) => self.handle(Input::SocketClosed(false)),
        }
    }

    fn listen(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else { return };
        let mut io = self.io.borrow_mut();
        io.listeners.extend(Listener::new(&window, "online", self.feed(|_: web_sys::Event| Input::Online)));
        io.listeners.extend(Listener::new(&window, "offline", self.feed(|_: web_sys::Event| Input::Offline)));
        if let Some(document) = window.document() {
            let hidden = self.feed(|_: web_sys::Event| Input::Hidden(dom::hidden()));
            io.listeners.extend(Listener::new(&document, "visibilitychange", hidden));
        }
    }

    fn load_config(self: &Rc<Self>) {
        let ctl = Rc::clone(self);
        let task = Task::spawn(async move {
            let Ok(site) = ctl.api.config().await else { return };
            let host = &ctl.config;
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
            if let Some(color) = host.color.clone().or_else(|| crate::config::Color::parse(&site.color)) {
                super::ui::set_accent(&color);
            }
            let mode = match site.contact_form.as_str() {
                "off" => ContactForm::Off,
                "before-chat" => ContactForm::BeforeChat,
                _ => ContactForm::AfterFirstMessage,
            };
            let contact_form = host.contact_form.is_none().then_some(mode);
            #[allow(clippy::cast_precision_loss)]
            let max_file_bytes = site.max_file_bytes.unwrap_or_default() as f64;
            ctl.handle(Input::Site { contact_form, max_file_bytes, online: site.online });
        });
        self.io.borrow_mut().config = Some(task);
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

    pub fn open(self: &Rc<Self>) {
        self.handle(Input::Open);
    }

    pub fn close(self: &Rc<Self>) {
        self.handle(Input::Close);
    }

    pub fn toggle(self: &Rc<Self>) {
        self.command(Command::Toggle);
    }

    pub fn show(&self) {
        self.ui.shown.set(true);
    }

    pub fn hide(self: &Rc<Self>) {
        self.close();
        self.ui.shown.set(false);
    }

    pub fn set_locale(&self, locale: Locale) {
        self.ui.locale.set(locale);
    }

    /// Queues a visitor message: shown at once, sent when the network allows.
    pub fn send(self: &Rc<Self>, text: &str) {
        self.handle(Input::Send { text: text.into(), at: dom::now_iso() });
    }

    /// Queues files (a JS array of `File`, named `names`) as one message.
    /// Files whose `largest` is over the website's limit are refused before
    /// anything is sent.
    fn attach(self: &Rc<Self>, files: js_sys::Array, names: String, largest: f64) {
        self.io.borrow_mut().picked = Some(files.into());
        self.handle(Input::Attach { names, largest, at: dom::now_iso() });
        self.io.borrow_mut().picked = None;
    }

    /// Records contact details and identity; they go out with the next session call.
    pub fn identify(self: &Rc<Self>, who: Details) {
        self.handle(Input::Identify(who));
    }

    /// Forgets the session and conversation; the next open starts a new one.
    pub fn reset(self: &Rc<Self>) {
        self.handle(Input::Reset);
    }

    /// Stops every task, timer, socket and listener.
    pub fn shutdown(&self) {
        *self.io.borrow_mut() = Io::default();
    }
}
