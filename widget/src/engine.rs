//! The engine: the session and transport state machine as plain Rust. It
//! takes [`Input`]s (what the visitor did, what the network answered, a
//! timer that ran out, what another tab said) with the time, and returns
//! [`Effect`]s for the browser side to perform; what the UI shows is read
//! from [`Engine::view`]. Nothing here touches the browser, so whole
//! scenarios run natively with a fake clock.

use natter_protocol::ws::{ClientFrame, SeenData, SubscribeData};
use natter_protocol::{
    ChatMessage, CreateSessionRequest, MessagesData, SendMessageRequest, Sender, SessionData, SessionStatus,
};

use crate::backoff::Backoff;
use crate::config::{Config, ContactForm, StorageKind};
use crate::contact::Details;
use crate::outbox::Outbox;
use crate::session::{SessionStore, StoredSession};
use crate::storage::KeyValue;
use crate::timeline::{Change, Timeline};
use crate::transport::{poll_delay, TransportChoice};

/// A session the widget can act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub id: String,
    pub token: String,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No answer: offline, DNS, refused connection, CORS.
    Network(String),
    /// The server answered with its error envelope.
    Refused { status: u16, code: String, message: String },
    /// The answer was not the expected JSON.
    Decode(String),
}

impl ApiError {
    /// A request that will fail the same way if repeated (bad input, unknown session).
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused { status, .. } if (400..500).contains(status) && !matches!(status, 408 | 429))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Network(m) | Self::Decode(m) => m.clone(),
            Self::Refused { code, message, .. } => format!("{code}: {message}"),
        }
    }

    fn status(&self) -> u16 {
        match self {
            Self::Refused { status, .. } => *status,
            _ => 0,
        }
    }
}

/// A server frame, as far as the widget acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    ConfirmSubscription,
    PresenceUpdate,
    /// `message.created` or `message.updated`.
    Message(ChatMessage),
    /// `conversation.typing_on`: whether an agent is typing.
    TypingOn(bool),
    TypingOff,
    /// `conversation.status_changed`: whether the conversation is now closed.
    Closed(bool),
    /// Frames the widget ignores.
    Other,
}

/// Where the browser side keeps one piece of work at a time: starting a new
/// one there (a request or a wait) replaces what was there, and
/// [`Effect::Abort`] drops it, so no answer to it ever arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Session calls and sends, and the wait before retrying them.
    Pump,
    /// Polling requests and the waits between them.
    Poll,
    /// The socket's open timeout and the wait before reconnecting.
    Socket,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The widget was mounted.
    Start,
    Open,
    Close,
    /// The visitor sent a message, at this ISO time.
    Send {
        text: String,
        at: String,
    },
    /// The visitor picked files (shown by `names`; the largest is `largest` bytes).
    Attach {
        names: String,
        largest: f64,
        at: String,
    },
    /// Contact details or an identity, from the page or the contact form.
    Identify(Details),
    /// The away form's address.
    LeaveEmail(String),
    Typing(bool),
    Rate {
        score: u8,
        comment: String,
    },
    LoadEarlier,
    Reset,
    /// The website's settings arrived: its contact form mode (unless the
    /// page set one), largest file and whether anyone answers now.
    Site {
        contact_form: Option<ContactForm>,
        max_file_bytes: f64,
        online: bool,
    },
    Online,
    Offline,
    /// The page was hidden or shown again.
    Hidden(bool),
    /// The wait in this slot ran out.
    Elapsed(Slot),
    /// Answers to the requests of [`Effect`]s.
    Session(Result<SessionData, ApiError>),
    Sent(Result<ChatMessage, ApiError>),
    /// The share of an upload sent so far (0 to 1).
    Progress(f64),
    Polled(Result<MessagesData, ApiError>),
    Earlier(Result<MessagesData, ApiError>),
    Rated(Result<(), ApiError>),
    SocketOpen,
    /// A frame on this tab's socket, with its text for the other tabs.
    SocketFrame(Frame, String),
    /// The socket closed or could not connect; `true` when the server refused the token.
    SocketClosed(bool),
    /// This tab now keeps the socket for the visitor's tabs.
    Lead,
    /// A frame the leading tab relayed.
    Relayed(Frame),
    /// Another tab's note (see [`Effect::Post`]), other than a relayed frame.
    Tab(String),
}

/// For the host page.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Open,
    Close,
    Session(String),
    MessageSent(ChatMessage),
    MessageReceived(ChatMessage),
    Unread(u32),
    Error { code: String, message: String },
}

/// What the browser side is to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// `POST /sessions` (in the pump slot), resuming `held` if given.
    Session {
        request: CreateSessionRequest,
        held: Option<Live>,
    },
    /// `POST …/messages` (pump slot).
    Send {
        live: Live,
        request: SendMessageRequest,
    },
    /// Uploads the files kept for this `echoId` (pump slot).
    Upload {
        live: Live,
        echo_id: String,
    },
    /// `GET …/messages?after=` (poll slot).
    Poll {
        live: Live,
        after: i64,
    },
    /// `GET …/messages?before=` (on its own).
    Earlier {
        live: Live,
        before: i64,
    },
    /// `POST …/rating` (on its own).
    Rate {
        live: Live,
        score: u8,
        comment: String,
    },
    /// Waits this many milliseconds in the slot, then reports [`Input::Elapsed`].
    Wait(Slot, u32),
    Abort(Slot),
    /// Opens the socket (a socket already open is closed first).
    Connect,
    Disconnect,
    /// A frame on this tab's socket.
    Frame(ClientFrame),
    /// A frame's text from another tab, for this tab's socket.
    FrameText(String),
    /// A frame for the tab that keeps the socket: posted as `c` and its text.
    Relay(ClientFrame),
    /// Joins the visitor's tabs of this name (a Web Lock and a BroadcastChannel).
    Join(String),
    Leave,
    /// Tells the other tabs: `f` and a server frame, `c` and a client frame,
    /// `o1` / `o0` opened or closed, `o?` which is it.
    Post(String),
    /// Keeps the files just attached under this `echoId`.
    Keep(String),
    /// Lets go of the files of this `echoId`, or of all.
    Discard(Option<String>),
    /// Notes in this tab that the widget is open, or no longer.
    NoteOpen(bool),
    /// Plays the reply tone (`data-sound`).
    Chime,
    Notify(Notice),
}

/// The rating prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rating {
    #[default]
    None,
    Asked,
    Thanked,
}

/// What the visitor is told about their files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Files {
    #[default]
    Quiet,
    /// Uploading: the percent sent.
    Sending(u8),
    TooLarge,
    BadType,
    NotSent,
}

/// What the UI shows, apart from the messages ([`Engine::timeline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    pub open: bool,
    pub unread: u32,
    pub typing: bool,
    pub contact_form: bool,
    pub offline: bool,
    /// The server holds messages before the earliest one shown.
    pub earlier: bool,
    pub files: Files,
    pub rating: Rating,
    /// The website is away and the visitor has not left an address yet.
    pub away: bool,
    /// Counts changes to the timeline, so the UI copies it only when it changed.
    pub revision: u32,
}

/// Randomness from the browser (tests pass their own).
pub trait Entropy {
    /// A fresh client key with this prefix; `None` when there is no randomness.
    fn key(&mut self, prefix: &str) -> Option<String>;
    /// A number in `[0, 1)` for backoff jitter.
    fn unit(&mut self) -> f64;
}

/// Pause before the pump retries after a network failure.
pub const RETRY_MS: u32 = 3_000;
/// A socket that has not opened this long after it was created is given up.
pub const OPEN_TIMEOUT_MS: u32 = 5_000;
/// How often a tab that leaves the socket to another polls, in case a relay was missed.
pub const FOLLOWER_POLL_MS: u32 = 15_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pump {
    Idle,
    /// A session call or a send is on its way.
    Busy,
    /// Waiting to retry after a network failure.
    Retrying,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    Off,
    /// Created, not open yet.
    Connecting,
    /// Open, subscription asked for.
    Subscribing,
    Up,
    /// Waiting to reconnect.
    Waiting,
}

/// The widget's whole logic state.
pub struct Engine<S, E> {
    config: Config,
    store: SessionStore<S>,
    entropy: E,
    outbox: Outbox,
    timeline: Timeline,
    choice: TransportChoice,
    backoff: Backoff,
    live: Option<Live>,
    view: View,
    /// Contact details to send with the next session call.
    contact: Option<CreateSessionRequest>,
    /// The session call on its way, and whether it resumes the stored session.
    asked: Option<(CreateSessionRequest, bool)>,
    contact_mode: ContactForm,
    contact_given: bool,
    /// The `echoId`s of outbox messages that carry files, in order.
    uploads: Vec<String>,
    max_file_bytes: f64,
    /// The last seq the visitor had received before this page adopted the
    /// session (on an earlier visit or in another tab): not unread again.
    known: i64,
    pump: Pump,
    socket: Socket,
    polling: bool,
    hidden: bool,
    /// This tab has joined the visitor's other tabs.
    tabs: bool,
    leader: bool,
    now: u64,
    out: Vec<Effect>,
}

impl<S: KeyValue, E: Entropy> Engine<S, E> {
    /// An engine for `config`, with the session record in `storage`.
    pub fn new(config: Config, storage: S, entropy: E) -> Self {
        Self {
            store: SessionStore::open(storage, &config.website_token),
            choice: TransportChoice::new(config.transport),
            contact_mode: config.contact_form.unwrap_or_default(),
            config,
            entropy,
            outbox: Outbox::default(),
            timeline: Timeline::default(),
            backoff: Backoff::default(),
            live: None,
            view: View::default(),
            contact: None,
            asked: None,
            contact_given: false,
            uploads: Vec::new(),
            max_file_bytes: 0.0,
            known: 0,
            pump: Pump::Idle,
            socket: Socket::Off,
            polling: false,
            hidden: false,
            tabs: false,
            leader: false,
            now: 0,
            out: Vec::new(),
        }
    }

    pub fn view(&self) -> View {
        self.view
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The stored session record, if any.
    pub fn stored(&self) -> Option<&StoredSession> {
        self.store.current()
    }

    /// Handles one input at `now` (milliseconds) and returns what to do, in order.
    pub fn handle(&mut self, now: u64, input: Input) -> Vec<Effect> {
        self.now = now;
        match input {
            Input::Start => {
                if self.store.current().is_some() {
                    self.kick();
                }
                if self.config.open {
                    self.open();
                }
            }
            Input::Open => self.open(),
            Input::Close => self.close(),
            Input::Send { text, at } => self.queue(text.trim(), &at, None),
            Input::Attach { names, largest, at } => {
                if self.max_file_bytes > 0.0 && largest > self.max_file_bytes {
                    self.view.files = Files::TooLarge;
                } else {
                    self.queue("", &at, Some(&names));
                }
            }
            Input::Identify(who) => self.identify(who),
            Input::LeaveEmail(email) => {
                self.view.away = false;
                self.engage();
                self.identify(Details { email: Some(email), ..Details::default() });
            }
            Input::Typing(on) => self.frame(if on { ClientFrame::TypingOn } else { ClientFrame::TypingOff }),
            Input::Rate { score, comment } => {
                if let Some(live) = self.live.clone() {
                    self.out.push(Effect::Rate { live, score, comment });
                }
            }
            Input::Rated(Ok(())) => {
                self.view.rating = Rating::Thanked;
                let _ = self.store.mark_rated();
            }
            Input::Rated(Err(e)) => self.error("rating_refused", &e.describe()),
            Input::LoadEarlier => {
                if let (Some(live), Some(before)) = (self.live.clone(), self.timeline.first_seq()) {
                    self.out.push(Effect::Earlier { live, before });
                }
            }
            Input::Earlier(Ok(page)) => {
                if self.live.is_some() {
                    for m in page.messages {
                        self.timeline.apply(m);
                    }
                    self.view.earlier = page.has_more;
                    self.changed();
                }
            }
            Input::Earlier(Err(e)) => self.error("history_refused", &e.describe()),
            Input::Reset => self.reset(),
            Input::Site { contact_form, max_file_bytes, online } => {
                if let Some(mode) = contact_form {
                    self.contact_mode = mode;
                }
                self.max_file_bytes = max_file_bytes;
                self.view.away = !online;
                self.refresh_contact_form();
            }
            Input::Online => {
                self.view.offline = false;
                self.kick();
                if self.socket == Socket::Waiting && !self.follows() {
                    self.connect();
                }
            }
            Input::Offline => self.view.offline = true,
            Input::Hidden(hidden) => self.hidden = hidden,
            Input::Elapsed(Slot::Pump) => {
                if self.pump == Pump::Retrying {
                    self.pump = Pump::Idle;
                    self.kick();
                }
            }
            Input::Elapsed(Slot::Poll) => self.poll_now(),
            Input::Elapsed(Slot::Socket) => match self.socket {
                Socket::Connecting | Socket::Subscribing => {
                    self.out.push(Effect::Disconnect);
                    self.socket_lost(false);
                }
                Socket::Waiting => self.connect(),
                Socket::Off | Socket::Up => {}
            },
            Input::Session(answer) => self.session_answer(answer),
            Input::Sent(answer) => self.sent(answer),
            Input::Progress(share) => {
                // A share in [0, 1] is a percent in [0, 100].
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let percent = (share.clamp(0.0, 1.0) * 100.0) as u8;
                self.view.files = Files::Sending(percent);
            }
            Input::Polled(answer) => self.polled(answer),
            Input::SocketOpen => self.subscribe(),
            Input::SocketFrame(frame, text) => {
                if self.socket == Socket::Off || self.socket == Socket::Waiting {
                    return self.take();
                }
                if self.tabs {
                    self.out.push(Effect::Post(format!("f{text}")));
                }
                self.on_frame(frame);
            }
            Input::SocketClosed(unauthorized) => {
                if !matches!(self.socket, Socket::Off | Socket::Waiting) {
                    self.socket_lost(unauthorized);
                }
            }
            Input::Lead => {
                if self.tabs && !self.leader {
                    self.leader = true;
                    self.start_transports();
                }
            }
            Input::Relayed(frame) => {
                if !matches!(frame, Frame::ConfirmSubscription | Frame::PresenceUpdate) {
                    self.on_frame(frame);
                }
            }
            Input::Tab(note) => self.hear(&note),
        }
        self.take()
    }

    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    fn notify(&mut self, notice: Notice) {
        self.out.push(Effect::Notify(notice));
    }

    fn error(&mut self, code: &str, message: &str) {
        self.notify(Notice::Error { code: code.into(), message: message.into() });
    }

    fn changed(&mut self) {
        self.view.revision = self.view.revision.wrapping_add(1);
    }

    fn engage(&mut self) {
        if let Err(e) = self.store.engage() {
            self.error("storage", &e.to_string());
        }
    }

    fn open(&mut self) {
        if self.view.open {
            return;
        }
        self.engage();
        self.view.open = true;
        self.view.unread = 0;
        self.notify(Notice::Unread(0));
        self.notify(Notice::Open);
        self.refresh_contact_form();
        self.kick();
        self.send_seen();
        self.post("o1");
        self.out.push(Effect::NoteOpen(true));
    }

    fn close(&mut self) {
        if !self.view.open {
            return;
        }
        self.view.open = false;
        self.notify(Notice::Close);
        self.post("o0");
        self.out.push(Effect::NoteOpen(false));
    }

    fn post(&mut self, note: &str) {
        if self.tabs {
            self.out.push(Effect::Post(note.into()));
        }
    }

    /// A visitor message (text, or files shown by `names`): shown at once, sent when the network allows.
    fn queue(&mut self, text: &str, at: &str, names: Option<&str>) {
        if text.is_empty() && names.is_none() {
            return;
        }
        let Some(echo_id) = self.entropy.key("e_") else {
            return self.error("random", "the browser gave no randomness");
        };
        self.engage();
        self.outbox.push(echo_id.clone(), text);
        self.timeline.add_pending(&echo_id, names.unwrap_or(text), at);
        if names.is_some() {
            self.uploads.push(echo_id.clone());
            self.out.push(Effect::Keep(echo_id));
        }
        self.changed();
        self.refresh_contact_form();
        self.kick();
    }

    fn identify(&mut self, who: Details) {
        let contact = self.contact.get_or_insert_with(CreateSessionRequest::default);
        contact.name = who.name.or(contact.name.take());
        contact.phone = who.phone.or(contact.phone.take());
        contact.email = who.email.or(contact.email.take());
        if who.user_id.is_some() {
            contact.user_id = who.user_id;
            contact.user_hash = who.user_hash;
        }
        self.contact_given = contact.name.is_some() && contact.phone.is_some();
        self.refresh_contact_form();
        self.kick();
    }

    fn refresh_contact_form(&mut self) {
        let wrote = self.timeline.entries().iter().any(|e| e.message.sender == Sender::User);
        self.view.contact_form = !self.contact_given
            && match self.contact_mode {
                ContactForm::Off => false,
                ContactForm::BeforeChat => true,
                ContactForm::AfterFirstMessage => wrote,
            };
    }

    /// A frame for the server: on this tab's socket, or through the tab that keeps it.
    fn frame(&mut self, frame: ClientFrame) {
        if self.socket == Socket::Up {
            self.out.push(Effect::Frame(frame));
        } else if self.tabs {
            self.out.push(Effect::Relay(frame));
        }
    }

    fn send_seen(&mut self) {
        let seq = self.timeline.last_seq();
        if seq > 0 && self.view.open {
            self.frame(ClientFrame::Seen(SeenData { message_id: None, seq: Some(seq) }));
        }
    }

    /// Applies stored messages from any source: the timeline, unread count and notices.
    fn receive(&mut self, messages: Vec<ChatMessage>) {
        let mut incoming = 0u32;
        for m in messages {
            let fresh = m.sender != Sender::User && m.seq > self.known;
            let change = self.timeline.apply(m.clone());
            if change == Change::Added && fresh {
                incoming += 1;
                self.notify(Notice::MessageReceived(m));
            }
        }
        let _ = self.store.advance(self.timeline.last_seq());
        self.changed();
        if incoming == 0 {
            return;
        }
        self.view.typing = false;
        // One tab plays the tone: a follower hears the reply from the leader, which plays it.
        if self.config.sound && (!self.view.open || self.hidden) && !self.follows() {
            self.out.push(Effect::Chime);
        }
        if self.view.open {
            self.send_seen();
        } else {
            self.view.unread += incoming;
            self.notify(Notice::Unread(self.view.unread));
        }
    }

    // The pump: one request at a time that makes sure a session exists
    // (creating, resuming or updating it), then empties the outbox in order.

    /// Runs the pump now unless it is busy (it looks again when its request ends).
    fn kick(&mut self) {
        match self.pump {
            Pump::Busy => {}
            Pump::Retrying => {
                self.out.push(Effect::Abort(Slot::Pump));
                self.pump = Pump::Idle;
                self.step();
            }
            Pump::Idle => self.step(),
        }
    }

    /// Starts the next request of the pump, if one is due.
    fn step(&mut self) {
        self.pump = Pump::Idle;
        // Another tab of this visitor may have started the session meanwhile.
        self.store.reload();
        if self.store.is_engaged() && (self.live.is_none() || self.contact.is_some()) {
            let (visitor, held) = match self.store.current() {
                Some(s) => {
                    (Some(s.user_session_id.clone()), Some(Live { id: s.session_id.clone(), token: s.token.clone() }))
                }
                None => (self.entropy.key("v_"), None),
            };
            let Some(visitor) = visitor else {
                return self.error("random", "the browser gave no randomness");
            };
            let mut request = self.contact.clone().unwrap_or_default();
            request.user_session_id = Some(visitor);
            self.asked = Some((request.clone(), held.is_some()));
            self.pump = Pump::Busy;
            return self.out.push(Effect::Session { request, held });
        }
        let Some(live) = self.live.clone() else { return };
        let Some(next) = self.outbox.take_next() else { return };
        self.pump = Pump::Busy;
        // Files wait in outbox order, so the first waiting belong to this message if any do.
        if self.uploads.first() == Some(&next.echo_id) {
            self.view.files = Files::Sending(0);
            self.out.push(Effect::Upload { live, echo_id: next.echo_id });
        } else {
            let request = SendMessageRequest { message: next.text, echo_id: Some(next.echo_id) };
            self.out.push(Effect::Send { live, request });
        }
    }

    /// A request failed for now: everything stays queued and the pump tries again later.
    fn retry(&mut self) {
        self.view.offline = true;
        self.pump = Pump::Retrying;
        self.out.push(Effect::Wait(Slot::Pump, RETRY_MS));
    }

    fn session_answer(&mut self, answer: Result<SessionData, ApiError>) {
        let Some((request, held)) = self.asked.take() else { return };
        match answer {
            Ok(data) => self.adopt(request, data),
            Err(ApiError::Refused { status: 404, .. }) if held => self.forget(),
            Err(ApiError::Refused { status: 403 | 422, code, message }) if self.contact.is_some() => {
                // Details the server refused (a userHash that does not verify, a
                // malformed address) are dropped, linking nothing: the visitor chats
                // on as who they were, and the page hears why.
                self.error(&code, &message);
                self.contact = None;
            }
            Err(e) if e.is_permanent() => {
                self.pump = Pump::Idle;
                return self.error("request_refused", &e.describe());
            }
            Err(_) => return self.retry(),
        }
        self.step();
    }

    fn adopt(&mut self, mut request: CreateSessionRequest, data: SessionData) {
        let first = self.live.as_ref().is_none_or(|l| l.id != data.session_id);
        let live = Live { id: data.session_id.clone(), token: data.token.clone().unwrap_or_default() };
        let last_seq = self.store.current().filter(|s| s.session_id == live.id).map_or(0, |s| s.last_seq);
        if first {
            self.known = last_seq;
        }
        let stored = StoredSession {
            user_session_id: request.user_session_id.take().unwrap_or_default(),
            session_id: live.id.clone(),
            token: live.token.clone(),
            last_seq,
        };
        if let Err(e) = self.store.set(stored) {
            self.error("storage", &e.to_string());
        }
        self.live = Some(live);
        // The details went out; ones given since then wait for the next call.
        if self.contact.as_ref() == Some(&request) {
            self.contact = None;
        }
        self.contact_given |= data.session.user_name.is_some() && data.session.user_phone.is_some();
        self.view.offline = false;
        self.view.earlier = data.has_more;
        // A conversation closed while the visitor was away (or before a reload) asks too.
        self.ask_rating(data.session.status != SessionStatus::Active);
        self.receive(data.messages);
        self.refresh_contact_form();
        if first {
            self.notify(Notice::Session(data.session_id));
            self.start_live();
        }
    }

    /// The server no longer knows the stored session (it expired or was
    /// erased): it is forgotten with its messages, and a new one starts at
    /// once if the visitor is chatting, else when they next open or send.
    fn forget(&mut self) {
        self.drop_session();
        if self.view.open || !self.outbox.is_empty() {
            self.engage();
        }
    }

    /// Ends live delivery and forgets the session, its record and its messages.
    fn drop_session(&mut self) {
        let _ = self.store.clear();
        self.live = None;
        if self.socket != Socket::Off {
            self.out.push(Effect::Disconnect);
            self.out.push(Effect::Abort(Slot::Socket));
            self.socket = Socket::Off;
        }
        if self.polling {
            self.out.push(Effect::Abort(Slot::Poll));
            self.polling = false;
        }
        if self.tabs {
            self.out.push(Effect::Leave);
            self.tabs = false;
        }
        self.leader = false;
        self.known = 0;
        self.timeline.clear();
        self.changed();
    }

    fn sent(&mut self, answer: Result<ChatMessage, ApiError>) {
        if self.pump != Pump::Busy {
            return;
        }
        let Some(next) = self.outbox.in_flight() else { return self.step() };
        let upload = self.uploads.first() == Some(&next);
        if upload {
            self.view.files = Files::Quiet;
        }
        match answer {
            Ok(message) => {
                self.outbox.delivered(&next);
                if upload {
                    self.finish_upload(&next);
                }
                self.receive(vec![message.clone()]);
                self.notify(Notice::MessageSent(message));
            }
            Err(e) if e.is_permanent() => {
                self.outbox.rejected(&next);
                if upload {
                    self.finish_upload(&next);
                    // The visitor is told why; their files' line goes.
                    self.timeline.drop_pending(&next);
                    self.changed();
                    self.view.files = match e.status() {
                        413 => Files::TooLarge,
                        415 => Files::BadType,
                        _ => Files::NotSent,
                    };
                }
                self.error("send_refused", &e.describe());
            }
            Err(_) => {
                self.outbox.failed();
                return self.retry();
            }
        }
        self.step();
    }

    fn finish_upload(&mut self, echo_id: &str) {
        self.uploads.remove(0);
        self.out.push(Effect::Discard(Some(echo_id.into())));
    }

    fn reset(&mut self) {
        self.drop_session();
        self.outbox.clear();
        self.uploads.clear();
        self.out.push(Effect::Discard(None));
        self.contact = None;
        self.contact_given = false;
        if self.pump != Pump::Idle {
            self.out.push(Effect::Abort(Slot::Pump));
            self.pump = Pump::Idle;
            self.asked = None;
        }
        self.choice = TransportChoice::new(self.config.transport);
        self.view.unread = 0;
        self.view.typing = false;
        self.view.rating = Rating::None;
        self.refresh_contact_form();
    }

    // Live delivery: the socket (subscribe, keepalive answers, resume by
    // `last_seq`, reconnect with backoff) and polling while it is down or
    // when polling was asked for. With `storage=local` the visitor's tabs
    // share the session, so they share one socket: the leading tab keeps it.

    fn follows(&self) -> bool {
        self.tabs && !self.leader
    }

    fn start_live(&mut self) {
        if self.config.storage != StorageKind::Local || self.tabs {
            return self.start_transports();
        }
        // Named by the session too: a tab that was reset (a new session) never hears another's.
        let id = self.live.as_ref().map_or("", |l| l.id.as_str());
        self.out.push(Effect::Join(format!("natter:{}:{id}", self.config.website_token)));
        self.tabs = true;
        self.post("o?");
        self.start_polling();
    }

    fn start_transports(&mut self) {
        if self.choice.wants_socket() && self.socket == Socket::Off {
            self.connect();
        }
        if self.choice.wants_polling() {
            self.start_polling();
        }
    }

    fn connect(&mut self) {
        if self.live.is_none() {
            self.socket = Socket::Off;
            return;
        }
        self.socket = Socket::Connecting;
        // The timeout first: a socket that fails at once plans its reconnect in the same slot.
        self.out.push(Effect::Wait(Slot::Socket, OPEN_TIMEOUT_MS));
        self.out.push(Effect::Connect);
    }

    fn subscribe(&mut self) {
        if self.socket != Socket::Connecting {
            return;
        }
        let Some(live) = &self.live else { return };
        self.socket = Socket::Subscribing;
        let data = SubscribeData {
            pubsub_token: live.token.clone(),
            account_id: None,
            last_seq: Some(self.timeline.last_seq()),
        };
        self.out.push(Effect::Frame(ClientFrame::Subscribe(data)));
    }

    fn socket_lost(&mut self, unauthorized: bool) {
        self.socket = Socket::Off;
        self.choice.socket_down();
        self.out.push(Effect::Abort(Slot::Socket));
        if unauthorized {
            // A fresh session call returns a valid token and restarts the socket.
            self.live = None;
            return self.kick();
        }
        if self.choice.wants_polling() {
            self.start_polling();
        }
        let delay = self.backoff.next_delay(self.now, &mut || self.entropy.unit());
        self.socket = Socket::Waiting;
        self.out.push(Effect::Wait(Slot::Socket, delay));
    }

    fn on_frame(&mut self, frame: Frame) {
        match frame {
            Frame::ConfirmSubscription => {
                if self.socket != Socket::Subscribing {
                    return;
                }
                self.socket = Socket::Up;
                self.out.push(Effect::Abort(Slot::Socket));
                self.choice.socket_up();
                self.backoff.opened(self.now);
                if self.polling && !self.follows() {
                    self.out.push(Effect::Abort(Slot::Poll));
                    self.polling = false;
                }
                self.view.offline = false;
            }
            Frame::PresenceUpdate => self.frame(ClientFrame::UpdatePresence),
            Frame::Message(message) => self.receive(vec![message]),
            Frame::TypingOn(agent) => self.view.typing = agent,
            Frame::TypingOff => self.view.typing = false,
            Frame::Closed(closed) => self.ask_rating(closed),
            Frame::Other => {}
        }
    }

    /// Asks for a rating when the conversation is closed and not rated yet;
    /// a reopened one asks nothing.
    fn ask_rating(&mut self, closed: bool) {
        if !closed {
            self.view.rating = Rating::None;
        } else if self.view.rating == Rating::None && !self.store.is_rated() {
            self.view.rating = Rating::Asked;
        }
    }

    /// What another tab of this visitor posted.
    fn hear(&mut self, note: &str) {
        if let Some(text) = note.strip_prefix('c') {
            // Only the leader has the socket; nobody relays a frame on.
            if self.socket == Socket::Up {
                self.out.push(Effect::FrameText(text.into()));
            }
        } else if note == "o1" {
            self.open();
        } else if note == "o0" {
            self.close();
        } else if note == "o?" && self.view.open {
            // A tab that just joined asks how the others are: open, here.
            self.post("o1");
        }
    }

    fn start_polling(&mut self) {
        if !self.polling {
            self.polling = true;
            self.poll_now();
        }
    }

    /// Polls now, or stops polling when it is no longer wanted.
    fn poll_now(&mut self) {
        if !self.polling {
            return;
        }
        if !self.choice.wants_polling() && !self.follows() {
            self.polling = false;
            return;
        }
        match self.live.clone() {
            Some(live) => self.out.push(Effect::Poll { live, after: self.timeline.last_seq() }),
            None => self.wait_poll(),
        }
    }

    fn wait_poll(&mut self) {
        let interval = if self.follows() { FOLLOWER_POLL_MS } else { self.config.poll_interval_ms };
        self.out.push(Effect::Wait(Slot::Poll, poll_delay(interval, self.hidden)));
    }

    fn polled(&mut self, answer: Result<MessagesData, ApiError>) {
        match answer {
            Ok(page) => {
                self.view.offline = false;
                let more = page.has_more;
                self.receive(page.messages);
                if more {
                    return self.poll_now();
                }
            }
            Err(e) if !e.is_permanent() => self.view.offline = true,
            Err(e) => self.error("poll_refused", &e.describe()),
        }
        if self.polling {
            self.wait_poll();
        }
    }
}
