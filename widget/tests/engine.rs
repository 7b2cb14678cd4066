//! The engine driven through whole scenarios natively: each test plays the
//! browser side, answering the effects the engine asks for, with a fake clock.
#![cfg(not(target_arch = "wasm32"))]

use std::rc::Rc;

use natter_protocol::ws::ClientFrame;
use natter_protocol::{ChatMessage, ChatSession, MessageStatus, MessagesData, Sender, SessionData, SessionStatus};
use natter_widget::config::{Config, StorageKind, TransportMode};
use natter_widget::contact::Details;
use natter_widget::engine::{
    ApiError, Effect, Engine, Entropy, Files, Frame, Input, Live, Notice, Rating, Slot, FOLLOWER_POLL_MS,
    OPEN_TIMEOUT_MS, RETRY_MS,
};
use natter_widget::session::storage_key;
use natter_widget::storage::{KeyValue, MemoryStorage};

const TOKEN: &str = "site-token";

/// Keys numbered in order; jitter always half.
struct Counter(u32);

impl Entropy for Counter {
    fn key(&mut self, prefix: &str) -> Option<String> {
        self.0 += 1;
        Some(format!("{prefix}{}", self.0))
    }

    fn unit(&mut self) -> f64 {
        0.5
    }
}

/// An engine, its storage and a clock.
struct Sim {
    engine: Engine<Rc<MemoryStorage>, Counter>,
    storage: Rc<MemoryStorage>,
    now: u64,
}

impl Sim {
    fn new(config: Config) -> Self {
        Self::with_storage(config, Rc::new(MemoryStorage::default()))
    }

    fn with_storage(config: Config, storage: Rc<MemoryStorage>) -> Self {
        let engine = Engine::new(config, Rc::clone(&storage), Counter(0));
        Self { engine, storage, now: 1_000 }
    }

    fn go(&mut self, input: Input) -> Vec<Effect> {
        self.engine.handle(self.now, input)
    }

    fn later(&mut self, ms: u32, slot: Slot) -> Vec<Effect> {
        self.now += u64::from(ms);
        self.go(Input::Elapsed(slot))
    }

    fn send(&mut self, text: &str) -> Vec<Effect> {
        self.go(Input::Send { text: text.into(), at: "2026-12-07T10:00:00Z".into() })
    }

    /// Bootstraps a session: the visitor sends `text`, the session call and the send succeed.
    fn chatting(&mut self, text: &str) -> Vec<Effect> {
        let fx = self.send(text);
        assert!(session_call(&fx).is_some(), "a first message creates the session: {fx:?}");
        let mut fx = self.go(Input::Session(Ok(session("s1", "tok1", vec![]))));
        let echo = sent_echo(&fx).expect("then the message goes out");
        fx.extend(self.go(Input::Sent(Ok(message(1, Sender::User, text, Some(&echo))))));
        fx
    }
}

/// Storage holding a session record from an earlier visit.
fn remembering(record: &str) -> Rc<MemoryStorage> {
    let storage = Rc::new(MemoryStorage::default());
    storage.set(&storage_key(TOKEN), record).expect("memory storage");
    storage
}

fn config() -> Config {
    Config { storage: StorageKind::Session, ..Config::new(TOKEN) }
}

fn message(seq: i64, sender: Sender, text: &str, echo: Option<&str>) -> ChatMessage {
    ChatMessage {
        id: format!("m{seq}"),
        seq,
        sender,
        message_text: text.into(),
        manager_id: None,
        echo_id: echo.map(Into::into),
        status: MessageStatus::Sent,
        created_at: "2026-12-07T10:00:00Z".into(),
        attachments: vec![],
    }
}

fn session(id: &str, token: &str, messages: Vec<ChatMessage>) -> SessionData {
    SessionData {
        session_id: id.into(),
        session: ChatSession {
            id: id.into(),
            user_name: None,
            user_phone: None,
            user_email: None,
            status: SessionStatus::Active,
            manager_id: None,
            user_session_id: None,
            created_at: "2026-12-07T10:00:00Z".into(),
            updated_at: None,
        },
        messages,
        has_more: false,
        token: Some(token.into()),
    }
}

fn page(messages: Vec<ChatMessage>) -> MessagesData {
    MessagesData { messages, has_more: false }
}

fn network() -> ApiError {
    ApiError::Network("Failed to fetch".into())
}

fn refused(status: u16, code: &str) -> ApiError {
    ApiError::Refused { status, code: code.into(), message: "no".into() }
}

fn session_call(fx: &[Effect]) -> Option<(&natter_protocol::CreateSessionRequest, &Option<Live>)> {
    fx.iter().find_map(|e| match e {
        Effect::Session { request, held } => Some((request, held)),
        _ => None,
    })
}

fn sent_echo(fx: &[Effect]) -> Option<String> {
    fx.iter().find_map(|e| match e {
        Effect::Send { request, .. } => request.echo_id.clone(),
        _ => None,
    })
}

fn sends(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send { request, .. } => Some(request.message.clone()),
            _ => None,
        })
        .collect()
}

fn has(fx: &[Effect], wanted: &Effect) -> bool {
    fx.iter().any(|e| e == wanted)
}

fn waits(fx: &[Effect], slot: Slot) -> Option<u32> {
    fx.iter().find_map(|e| match e {
        Effect::Wait(s, ms) if *s == slot => Some(*ms),
        _ => None,
    })
}

fn polls(fx: &[Effect]) -> Option<i64> {
    fx.iter().find_map(|e| match e {
        Effect::Poll { after, .. } => Some(*after),
        _ => None,
    })
}

fn notices(fx: &[Effect]) -> Vec<&Notice> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Notify(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn texts(sim: &Sim) -> Vec<String> {
    sim.engine.timeline().entries().iter().map(|e| e.message.message_text.clone()).collect()
}

/// Brings the socket up: it opens, subscribes from `last_seq` and is confirmed.
fn socket_up(sim: &mut Sim, last_seq: i64) -> Vec<Effect> {
    let fx = sim.go(Input::SocketOpen);
    let Some(Effect::Frame(ClientFrame::Subscribe(data))) = fx.iter().find(|e| matches!(e, Effect::Frame(_))) else {
        panic!("an open socket subscribes: {fx:?}");
    };
    assert_eq!(data.pubsub_token, "tok1");
    assert_eq!(data.last_seq, Some(last_seq), "the subscription resumes from the last seq seen");
    sim.go(Input::SocketFrame(Frame::ConfirmSubscription, String::new()))
}

#[test]
fn a_first_visitor_costs_nothing_until_they_interact() {
    let mut sim = Sim::new(Config::new(TOKEN));
    let fx = sim.go(Input::Start);
    assert!(fx.is_empty(), "nothing is sent or started: {fx:?}");
    assert_eq!(sim.storage.writes(), 0);
    sim.go(Input::Identify(Details { name: Some("Ann".into()), ..Details::default() }));
    assert_eq!(sim.storage.writes(), 0, "details from the page do not engage the visitor");
    let fx = sim.go(Input::Open);
    let (request, held) = session_call(&fx).expect("opening starts the session");
    assert!(held.is_none());
    assert_eq!(request.user_session_id.as_deref(), Some("v_1"));
    assert_eq!(request.name.as_deref(), Some("Ann"), "the details ride along");
    assert!(has(&fx, &Effect::NoteOpen(true)));
}

#[test]
fn bootstrap_then_send_in_order_with_echo_ids_and_a_socket() {
    let mut sim = Sim::new(config());
    sim.go(Input::Open);
    let fx = sim.send("hello");
    assert!(fx.is_empty(), "the session call is on its way, so the message waits: {fx:?}");
    sim.send("second");
    assert_eq!(texts(&sim), ["hello", "second"], "both are shown at once");
    let fx = sim.go(Input::Session(Ok(session("s1", "tok1", vec![]))));
    assert_eq!(sends(&fx), ["hello"], "one message in flight at a time");
    assert!(has(&fx, &Effect::Connect), "a new session opens the socket");
    assert_eq!(waits(&fx, Slot::Socket), Some(OPEN_TIMEOUT_MS));
    assert!(notices(&fx).contains(&&Notice::Session("s1".into())));
    let echo = sent_echo(&fx).expect("as the scenario expects");
    let fx = sim.go(Input::Sent(Ok(message(1, Sender::User, "hello", Some(&echo)))));
    assert_eq!(sends(&fx), ["second"]);
    assert!(notices(&fx).iter().any(|n| matches!(n, Notice::MessageSent(m) if m.seq == 1)));
    let stored = sim.engine.stored().expect("as the scenario expects");
    assert_eq!((stored.session_id.as_str(), stored.last_seq), ("s1", 1));
}

#[test]
fn the_socket_dies_mid_send_and_nothing_is_lost_or_doubled() {
    let mut sim = Sim::new(config());
    sim.chatting("first");
    socket_up(&mut sim, 1);
    let fx = sim.send("in flight");
    let echo = sent_echo(&fx).expect("as the scenario expects");
    // The socket drops and the send's answer is lost with the network.
    let fx = sim.go(Input::SocketClosed(false));
    let backoff = waits(&fx, Slot::Socket).expect("a reconnect is planned");
    assert!(polls(&fx).is_some(), "polling covers while the socket is down");
    let fx = sim.go(Input::Sent(Err(network())));
    assert_eq!(waits(&fx, Slot::Pump), Some(RETRY_MS));
    assert!(sim.engine.view().offline);
    assert_eq!(texts(&sim), ["first", "in flight"], "the message is still shown, pending");
    // The retry sends the same echoId: the server stores it once.
    let fx = sim.later(RETRY_MS, Slot::Pump);
    assert_eq!(sent_echo(&fx), Some(echo.clone()));
    sim.go(Input::Sent(Ok(message(2, Sender::User, "in flight", Some(&echo)))));
    // The same message arrives again by polling: still one line.
    sim.go(Input::Polled(Ok(page(vec![message(2, Sender::User, "in flight", Some(&echo))]))));
    assert_eq!(texts(&sim), ["first", "in flight"]);
    assert!(!sim.engine.view().offline);
    // The socket comes back and resumes after seq 2; polling stops.
    let fx = sim.later(backoff, Slot::Socket);
    assert!(has(&fx, &Effect::Connect));
    let fx = socket_up(&mut sim, 2);
    assert!(has(&fx, &Effect::Abort(Slot::Poll)), "polling stops once the socket is back: {fx:?}");
}

#[test]
fn duplicate_and_out_of_order_delivery_shows_each_message_once() {
    let mut sim = Sim::new(config());
    sim.chatting("hi");
    socket_up(&mut sim, 1);
    sim.go(Input::Close);
    let reply = message(2, Sender::Manager, "hello there", None);
    let fx = sim.go(Input::SocketFrame(Frame::Message(reply.clone()), String::new()));
    assert!(notices(&fx).contains(&&Notice::Unread(1)));
    // The same reply by polling, and again by the socket.
    let fx = sim.go(Input::Polled(Ok(page(vec![reply.clone()]))));
    assert!(notices(&fx).is_empty(), "a duplicate is not news: {fx:?}");
    sim.go(Input::SocketFrame(Frame::Message(reply), String::new()));
    sim.go(Input::SocketFrame(Frame::Message(message(4, Sender::Manager, "four", None)), String::new()));
    sim.go(Input::SocketFrame(Frame::Message(message(3, Sender::Manager, "three", None)), String::new()));
    assert_eq!(texts(&sim), ["hi", "hello there", "three", "four"], "ordered by seq");
    assert_eq!(sim.engine.view().unread, 3);
    let fx = sim.go(Input::Open);
    assert_eq!(sim.engine.view().unread, 0);
    assert!(fx.iter().any(|e| matches!(e, Effect::Frame(ClientFrame::Seen(s)) if s.seq == Some(4))), "{fx:?}");
}

#[test]
fn a_restarted_server_is_reached_again_with_growing_backoff() {
    let mut sim = Sim::new(config());
    sim.chatting("hi");
    socket_up(&mut sim, 1);
    let mut delays = Vec::new();
    let mut fx = sim.go(Input::SocketClosed(false));
    for _ in 0..5 {
        let delay = waits(&fx, Slot::Socket).expect("as the scenario expects");
        delays.push(delay);
        assert!(has(&sim.later(delay, Slot::Socket), &Effect::Connect));
        fx = sim.go(Input::SocketClosed(false));
    }
    assert!(delays.windows(2).all(|w| w[1] > w[0]), "each failure waits longer: {delays:?}");
    // Coming back online skips the wait.
    let fx = sim.go(Input::Online);
    assert!(has(&fx, &Effect::Connect));
    // A socket that never opens is given up after the timeout.
    let fx = sim.later(OPEN_TIMEOUT_MS, Slot::Socket);
    assert!(has(&fx, &Effect::Disconnect));
    assert!(waits(&fx, Slot::Socket).is_some());
    // The server is back: the socket resumes and the backoff starts over once it stayed up.
    sim.later(waits(&fx, Slot::Socket).expect("as the scenario expects"), Slot::Socket);
    socket_up(&mut sim, 1);
    sim.now += 60_000;
    let fx = sim.go(Input::SocketClosed(false));
    assert_eq!(waits(&fx, Slot::Socket), Some(delays[0]));
}

#[test]
fn a_refused_token_makes_a_fresh_session_call() {
    let mut sim = Sim::new(config());
    sim.chatting("hi");
    sim.go(Input::SocketOpen);
    let fx = sim.go(Input::SocketClosed(true));
    let (_, held) = session_call(&fx).expect("the session is asked for again");
    assert_eq!(held.as_ref().map(|l| l.id.as_str()), Some("s1"), "resuming the stored session");
}

#[test]
fn a_hidden_tab_polls_slower_and_polling_mode_never_opens_a_socket() {
    let mut sim = Sim::new(Config { transport: TransportMode::Polling, ..config() });
    let fx = sim.chatting("hi");
    assert!(!has(&fx, &Effect::Connect));
    assert_eq!(polls(&fx), Some(0), "polling starts with the session");
    let fx = sim.go(Input::Polled(Ok(page(vec![]))));
    assert_eq!(waits(&fx, Slot::Poll), Some(2_000));
    sim.go(Input::Hidden(true));
    let fx = sim.later(2_000, Slot::Poll);
    assert_eq!(polls(&fx), Some(1));
    let fx = sim.go(Input::Polled(Ok(page(vec![message(2, Sender::Bot, "bot", None)]))));
    assert_eq!(waits(&fx, Slot::Poll), Some(10_000), "five times slower while hidden");
    sim.go(Input::Hidden(false));
    let fx = sim.later(10_000, Slot::Poll);
    assert_eq!(polls(&fx), Some(2), "polling goes on from the newest seq");
    let fx = sim.go(Input::Polled(Err(network())));
    assert!(sim.engine.view().offline);
    assert_eq!(waits(&fx, Slot::Poll), Some(2_000), "a failed poll tries again");
}

#[test]
fn a_stored_session_resumes_and_counts_only_new_replies_as_unread() {
    let storage = remembering(r#"{"userSessionId":"v_9","sessionId":"s1","token":"tok1","lastSeq":2}"#);
    let mut sim = Sim::with_storage(config(), storage);
    let fx = sim.go(Input::Start);
    let (request, held) = session_call(&fx).expect("a returning visitor reconnects");
    assert_eq!(request.user_session_id.as_deref(), Some("v_9"));
    assert_eq!(held.as_ref().map(|l| l.token.as_str()), Some("tok1"));
    let history = vec![
        message(1, Sender::User, "hi", None),
        message(2, Sender::Manager, "seen before", None),
        message(3, Sender::Manager, "new", None),
    ];
    let fx = sim.go(Input::Session(Ok(session("s1", "tok1", history))));
    assert!(notices(&fx).contains(&&Notice::Unread(1)), "only the reply after lastSeq: {fx:?}");
    assert_eq!(sim.engine.stored().expect("as the scenario expects").last_seq, 3);
}

#[test]
fn a_session_the_server_forgot_is_dropped_and_a_new_one_starts_when_chatting() {
    let storage = remembering(r#"{"userSessionId":"v_9","sessionId":"gone","token":"t","lastSeq":5}"#);
    let mut sim = Sim::with_storage(config(), storage);
    sim.go(Input::Start);
    let fx = sim.go(Input::Session(Err(refused(404, "not_found"))));
    assert!(session_call(&fx).is_none(), "not chatting: nothing starts");
    assert!(sim.engine.stored().is_none());
    assert_eq!(sim.storage.get(&storage_key(TOKEN)).expect("as the scenario expects"), None, "the record is erased");
    let fx = sim.send("anyone?");
    let (request, held) = session_call(&fx).expect("the next message starts a new session");
    assert!(held.is_none());
    assert_ne!(request.user_session_id.as_deref(), Some("v_9"));
}

#[test]
fn refused_details_are_dropped_and_the_chat_goes_on() {
    let mut sim = Sim::new(config());
    sim.go(Input::Identify(Details {
        user_id: Some("u1".into()),
        user_hash: Some("forged".into()),
        ..Details::default()
    }));
    let fx = sim.send("hi");
    assert_eq!(session_call(&fx).expect("as the scenario expects").0.user_hash.as_deref(), Some("forged"));
    let fx = sim.go(Input::Session(Err(refused(403, "identity_not_verified"))));
    assert!(notices(&fx).iter().any(|n| matches!(n, Notice::Error { code, .. } if code == "identity_not_verified")));
    let (request, _) = session_call(&fx).expect("asked again without the details");
    assert_eq!(request.user_id, None);
    let fx = sim.go(Input::Session(Ok(session("s1", "tok1", vec![]))));
    assert_eq!(sends(&fx), ["hi"], "the visitor's message still goes out");
}

#[test]
fn details_given_during_a_session_call_wait_for_the_next_one() {
    let mut sim = Sim::new(config());
    sim.send("hi");
    sim.go(Input::Identify(Details { name: Some("Ann".into()), phone: Some("+1 555".into()), ..Details::default() }));
    let fx = sim.go(Input::Session(Ok(session("s1", "tok1", vec![]))));
    let (request, held) = session_call(&fx).expect("the details go out in a second call");
    assert_eq!(request.name.as_deref(), Some("Ann"));
    assert!(held.is_some());
    assert!(!sim.engine.view().contact_form, "given details hide the form");
    let fx = sim.go(Input::Session(Ok(session("s1", "tok1", vec![]))));
    assert_eq!(sends(&fx), ["hi"]);
    assert!(!has(&fx, &Effect::Connect), "the same session does not open a second socket");
}

#[test]
fn a_refused_message_is_dropped_with_an_error_and_the_next_goes_on() {
    let mut sim = Sim::new(config());
    sim.chatting("ok");
    sim.send("too long");
    sim.send("after");
    let fx = sim.go(Input::Sent(Err(refused(422, "message_too_long"))));
    assert!(notices(&fx).iter().any(|n| matches!(n, Notice::Error { code, .. } if code == "send_refused")));
    assert_eq!(sends(&fx), ["after"]);
}

#[test]
fn files_over_the_limit_are_refused_before_sending_and_uploads_report_progress() {
    let mut sim = Sim::new(config());
    sim.chatting("hi");
    sim.go(Input::Site { contact_form: None, max_file_bytes: 1_000.0, online: true });
    let fx = sim.go(Input::Attach { names: "big.png".into(), largest: 5_000.0, at: String::new() });
    assert!(fx.is_empty());
    assert_eq!(sim.engine.view().files, Files::TooLarge);
    let fx = sim.go(Input::Attach { names: "a.png".into(), largest: 10.0, at: String::new() });
    let Some(Effect::Keep(echo)) = fx.first() else { panic!("the files are kept: {fx:?}") };
    let echo = echo.clone();
    assert!(fx.iter().any(|e| matches!(e, Effect::Upload { echo_id, .. } if *echo_id == echo)));
    sim.go(Input::Progress(0.5));
    assert_eq!(sim.engine.view().files, Files::Sending(50));
    let fx = sim.go(Input::Sent(Err(refused(415, "unsupported_type"))));
    assert!(has(&fx, &Effect::Discard(Some(echo))));
    assert_eq!(sim.engine.view().files, Files::BadType);
    assert_eq!(texts(&sim), ["hi"], "the refused files' line goes");
}

#[test]
fn typing_and_rating_follow_the_operator() {
    let mut sim = Sim::new(config());
    sim.chatting("hi");
    socket_up(&mut sim, 1);
    sim.go(Input::SocketFrame(Frame::TypingOn(true), String::new()));
    assert!(sim.engine.view().typing);
    sim.go(Input::SocketFrame(Frame::Message(message(2, Sender::Manager, "done", None)), String::new()));
    assert!(!sim.engine.view().typing, "a reply ends the typing note");
    let fx = sim.go(Input::Typing(true));
    assert!(has(&fx, &Effect::Frame(ClientFrame::TypingOn)));
    sim.go(Input::SocketFrame(Frame::Closed(true), String::new()));
    assert_eq!(sim.engine.view().rating, Rating::Asked);
    let fx = sim.go(Input::Rate { score: 5, comment: String::new() });
    assert!(fx.iter().any(|e| matches!(e, Effect::Rate { score: 5, .. })));
    sim.go(Input::Rated(Ok(())));
    assert_eq!(sim.engine.view().rating, Rating::Thanked);
    let fx = sim.go(Input::SocketFrame(Frame::PresenceUpdate, String::new()));
    assert!(has(&fx, &Effect::Frame(ClientFrame::UpdatePresence)));
}

#[test]
fn tabs_share_one_socket_and_a_follower_takes_over() {
    let mut sim = Sim::new(Config::new(TOKEN));
    let fx = sim.chatting("hi");
    assert!(has(&fx, &Effect::Join(format!("natter:{TOKEN}:s1"))), "{fx:?}");
    assert!(has(&fx, &Effect::Post("o?".into())));
    assert!(!has(&fx, &Effect::Connect), "a tab waits for the lock before opening a socket");
    assert!(polls(&fx).is_some(), "and polls meanwhile");
    let fx = sim.go(Input::Polled(Ok(page(vec![]))));
    assert_eq!(waits(&fx, Slot::Poll), Some(FOLLOWER_POLL_MS));
    // A follower hears the leader's frames, opens and closes with the other tabs, and types through the leader.
    sim.go(Input::Relayed(Frame::Message(message(2, Sender::Manager, "relayed", None))));
    assert_eq!(texts(&sim), ["hi", "relayed"]);
    let fx = sim.go(Input::Tab("o1".into()));
    assert!(sim.engine.view().open);
    assert!(fx.iter().any(|e| matches!(e, Effect::Relay(ClientFrame::Seen(_)))), "{fx:?}");
    let fx = sim.go(Input::Typing(true));
    assert!(has(&fx, &Effect::Relay(ClientFrame::TypingOn)));
    let fx = sim.go(Input::Tab("o?".into()));
    assert!(has(&fx, &Effect::Post("o1".into())), "an open tab answers a new one");
    // The leader closed: this tab gets the lock and the socket.
    let fx = sim.go(Input::Lead);
    assert!(has(&fx, &Effect::Connect));
    sim.go(Input::SocketOpen);
    let fx = sim.go(Input::SocketFrame(Frame::Message(message(3, Sender::Manager, "x", None)), "RAW".into()));
    assert!(has(&fx, &Effect::Post("fRAW".into())), "the leader relays what it hears");
    sim.go(Input::SocketFrame(Frame::ConfirmSubscription, String::new()));
    let fx = sim.go(Input::Tab("c{\"event\":\"typing_on\"}".into()));
    assert!(has(&fx, &Effect::FrameText("{\"event\":\"typing_on\"}".into())), "and sends what followers ask");
    let fx = sim.later(FOLLOWER_POLL_MS, Slot::Poll);
    assert!(polls(&fx).is_none(), "a leader with its socket up stops polling");
}

#[test]
fn reset_forgets_everything_and_late_answers_change_nothing() {
    let mut sim = Sim::new(config());
    sim.chatting("hi");
    socket_up(&mut sim, 1);
    sim.send("pending");
    let fx = sim.go(Input::Reset);
    assert!(has(&fx, &Effect::Disconnect) && has(&fx, &Effect::Abort(Slot::Pump)), "{fx:?}");
    assert!(texts(&sim).is_empty());
    assert!(sim.engine.stored().is_none());
    let fx = sim.go(Input::Sent(Ok(message(2, Sender::User, "pending", None))));
    assert!(fx.is_empty() && texts(&sim).is_empty(), "{fx:?}");
    let fx = sim.go(Input::SocketFrame(Frame::Message(message(3, Sender::Manager, "old", None)), String::new()));
    assert!(fx.is_empty() && texts(&sim).is_empty());
    let fx = sim.send("new start");
    assert!(session_call(&fx).expect("as the scenario expects").1.is_none(), "a new conversation");
}

#[test]
fn away_form_and_contact_form_modes() {
    let mut sim = Sim::new(config());
    sim.go(Input::Site {
        contact_form: Some(natter_widget::config::ContactForm::BeforeChat),
        max_file_bytes: 0.0,
        online: false,
    });
    assert!(sim.engine.view().away);
    assert!(sim.engine.view().contact_form);
    let fx = sim.go(Input::LeaveEmail("ann@example.com".into()));
    assert!(!sim.engine.view().away);
    assert_eq!(
        session_call(&fx).expect("as the scenario expects").0.email.as_deref(),
        Some("ann@example.com"),
        "the address goes out at once"
    );
}

#[test]
fn a_conversation_closed_before_a_reload_asks_for_a_rating_once() {
    let storage = remembering(r#"{"userSessionId":"v_9","sessionId":"s1","token":"tok1","lastSeq":1}"#);
    let closed = || SessionData {
        session: ChatSession { status: SessionStatus::Closed, ..session("s1", "tok1", vec![]).session },
        ..session("s1", "tok1", vec![])
    };
    let mut sim = Sim::with_storage(config(), Rc::clone(&storage));
    sim.go(Input::Start);
    sim.go(Input::Session(Ok(closed())));
    assert_eq!(sim.engine.view().rating, Rating::Asked, "closed while the visitor was away");
    sim.go(Input::Rate { score: 4, comment: "quick".into() });
    sim.go(Input::Rated(Ok(())));
    // The next page: the same closed conversation, already rated.
    let mut sim = Sim::with_storage(config(), storage);
    sim.go(Input::Start);
    sim.go(Input::Session(Ok(closed())));
    assert_eq!(sim.engine.view().rating, Rating::None, "a rated conversation does not ask again");
    sim.go(Input::SocketOpen);
    sim.go(Input::SocketFrame(Frame::Closed(true), String::new()));
    assert_eq!(sim.engine.view().rating, Rating::None, "nor when it is closed again");
    sim.go(Input::Reset);
    assert!(sim.storage.keys().is_empty(), "reset forgets the rating note too: {:?}", sim.storage.keys());
}

#[test]
fn the_reply_tone_plays_once_in_one_tab_and_only_when_asked_for() {
    let reply = |seq| Frame::Message(message(seq, Sender::Manager, "reply", None));
    let chimes = |fx: &[Effect]| fx.iter().filter(|e| **e == Effect::Chime).count();
    let mut quiet = Sim::new(config());
    quiet.chatting("hi");
    assert_eq!(chimes(&quiet.go(Input::Relayed(reply(2)))), 0, "no tone unless data-sound asks for it");

    let mut sim = Sim::new(Config { sound: true, ..config() });
    sim.chatting("hi");
    socket_up(&mut sim, 1);
    assert_eq!(chimes(&sim.go(Input::SocketFrame(reply(2), String::new()))), 1, "closed: a reply plays the tone");
    assert_eq!(chimes(&sim.go(Input::Polled(Ok(page(vec![message(2, Sender::Manager, "reply", None)]))))), 0);
    sim.go(Input::Open);
    assert_eq!(chimes(&sim.go(Input::SocketFrame(reply(3), String::new()))), 0, "open and in view: no tone");
    sim.go(Input::Hidden(true));
    assert_eq!(chimes(&sim.go(Input::SocketFrame(reply(4), String::new()))), 1, "open in a hidden tab: a tone");
    assert_eq!(chimes(&sim.send("mine")), 0);

    // Tabs sharing the session: the follower hears the reply from the leader, which plays it.
    let mut follower = Sim::new(Config { sound: true, ..Config::new(TOKEN) });
    follower.chatting("hi");
    assert_eq!(chimes(&follower.go(Input::Relayed(reply(2)))), 0);
    follower.go(Input::Lead);
    assert_eq!(chimes(&follower.go(Input::Polled(Ok(page(vec![message(3, Sender::Manager, "x", None)]))))), 1);
}
