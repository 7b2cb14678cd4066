//! Browser tests (`wasm-pack test --headless --chrome widget`): web storage,
//! data-attribute parsing from a real script tag, mounting in a shadow root,
//! and message text rendered as text.
#![cfg(target_arch = "wasm32")]

use natter_widget::config::{Config, StorageKind, TransportMode};
use natter_widget::storage::KeyValue;
use natter_widget::web::{dom, exports};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().and_then(|w| w.document()).expect("a document")
}

async fn tick() {
    gloo_timers::future::TimeoutFuture::new(20).await;
}

fn shadow() -> web_sys::ShadowRoot {
    document()
        .query_selector("[data-natter-host]")
        .ok()
        .flatten()
        .and_then(|host| host.shadow_root())
        .expect("the widget's shadow root")
}

fn config() -> js_sys::Object {
    let config = js_sys::Object::new();
    js_sys::Reflect::set(&config, &"websiteToken".into(), &"browser-test".into()).expect("set");
    js_sys::Reflect::set(&config, &"server".into(), &"http://127.0.0.1:9".into()).expect("set");
    js_sys::Reflect::set(&config, &"storage".into(), &"none".into()).expect("set");
    config
}

#[wasm_bindgen_test]
fn local_storage_keeps_what_is_written_and_forgets_what_is_removed() {
    let storage = dom::storage(StorageKind::Local);
    storage.set("natter:test", "value").expect("set");
    assert_eq!(storage.get("natter:test").expect("get").as_deref(), Some("value"));
    storage.remove("natter:test").expect("remove");
    assert_eq!(storage.get("natter:test").expect("get"), None);
}

#[wasm_bindgen_test]
fn a_script_tags_data_attributes_configure_the_widget() {
    let script = document().create_element("script").expect("script");
    script.set_attribute("src", "/natter.js").expect("attr");
    script.set_attribute("data-website-token", "tok").expect("attr");
    script.set_attribute("data-transport", "polling").expect("attr");
    script.set_attribute("data-hide-launcher", "").expect("attr");
    let names = script.get_attribute_names();
    let pairs: Vec<(String, String)> = names
        .iter()
        .filter_map(|n| n.as_string())
        .filter(|n| n.starts_with("data-"))
        .map(|n| (n.clone(), script.get_attribute(&n).unwrap_or_default()))
        .collect();
    let config = Config::from_pairs(pairs).expect("valid");
    assert_eq!(config.website_token, "tok");
    assert_eq!(config.transport, TransportMode::Polling);
    assert!(config.hide_launcher);
}

#[wasm_bindgen_test]
async fn init_mounts_the_launcher_inside_an_open_shadow_root_and_destroy_removes_it() {
    let emit = js_sys::Function::new_no_args("");
    exports::init(&config(), emit, None).expect("init");
    tick().await;
    assert!(shadow().query_selector("[data-natter=\"launcher\"]").expect("query").is_some());
    assert!(document().query_selector("[data-natter=\"launcher\"]").expect("query").is_none());
    exports::destroy();
    assert!(document().query_selector("[data-natter-host]").expect("query").is_none());
}

#[wasm_bindgen_test]
async fn message_text_is_rendered_as_text_not_html() {
    let emit = js_sys::Function::new_no_args("");
    exports::init(&config(), emit, None).expect("init");
    exports::open();
    exports::send("<b>bold</b><img src=x>");
    tick().await;
    let root = shadow();
    let text = root.query_selector("[data-natter=\"message\"] .text").expect("query").expect("a message");
    assert_eq!(text.text_content().as_deref(), Some("<b>bold</b><img src=x>"));
    assert!(root
        .query_selector("[data-natter=\"message\"] b, [data-natter=\"message\"] img")
        .expect("query")
        .is_none());
    let panel = root.query_selector("[data-natter=\"panel\"]").expect("query").expect("panel");
    assert_eq!(panel.get_attribute("role").as_deref(), Some("dialog"));
    assert!(panel.dyn_ref::<web_sys::HtmlElement>().is_some());
    exports::destroy();
}

#[wasm_bindgen_test]
fn the_stored_session_record_keeps_its_json_shape() {
    use natter_widget::session::StoredSession;
    use natter_widget::web::json;
    let raw = r#"{"userSessionId":"v_1","sessionId":"s1","token":"t\"1","lastSeq":42}"#;
    let session = json::read_stored_session(raw).expect("readable");
    assert_eq!(
        session,
        StoredSession { user_session_id: "v_1".into(), session_id: "s1".into(), token: "t\"1".into(), last_seq: 42 }
    );
    assert_eq!(json::stored_session(&session), raw);
    assert!(json::read_stored_session("{\"sessionId\":1}").is_none());
}

#[wasm_bindgen_test]
fn server_frames_and_answers_are_read_from_the_wire_shape() {
    use natter_widget::web::json::{self, Frame};
    let message = r#"{"id":"m1","seq":3,"sender":"manager","messageText":"hi","managerId":null,"status":"read","createdAt":"2024-01-01T00:00:00Z"}"#;
    let frame = format!(r#"{{"event":"message.created","data":{{"id":"x","message":{message}}}}}"#);
    let Some(Frame::Message(m)) = json::server_frame(&frame) else { panic!("a message frame") };
    assert_eq!((m.id.as_str(), m.seq, m.echo_id), ("m1", 3, None));
    assert_eq!(m.status, natter_protocol::MessageStatus::Read);
    let typing = r#"{"event":"conversation.typing_on","data":{"user":{"id":null,"name":"A","type":"agent"}}}"#;
    assert!(matches!(json::server_frame(typing), Some(Frame::TypingOn(true))));
    let page =
        json::parse(&format!(r#"{{"success":true,"data":{{"messages":[{message}],"hasMore":true}}}}"#)).expect("json");
    let data = json::envelope(&page, json::messages_data).expect("an envelope").expect("data");
    assert!(data.has_more);
    assert_eq!(data.messages.len(), 1);
    let refused = json::parse(r#"{"success":false,"error":{"code":"bad","message":"no"}}"#).expect("json");
    assert_eq!(json::envelope(&refused, json::messages_data).expect("an envelope").expect_err("refused").code, "bad");
    let frame = natter_protocol::ws::ClientFrame::TypingOn;
    assert_eq!(json::client_frame(&frame), r#"{"event":"typing_on"}"#);
}

/// JSON text of a protocol value, as the server writes it, read by the browser.
fn wire(value: &impl serde::Serialize) -> wasm_bindgen::JsValue {
    let text = serde_json::to_string(value).expect("serialisable");
    natter_widget::web::json::parse(&text).expect("JSON")
}

/// Our text, compared as JSON with what the protocol types serialise to.
fn same_json(ours: &str, theirs: &impl serde::Serialize) {
    let ours: serde_json::Value = serde_json::from_str(ours).expect("our JSON");
    assert_eq!(ours, serde_json::to_value(theirs).expect("serialisable"));
}

#[wasm_bindgen_test]
fn the_hand_written_json_agrees_with_the_protocol_types_field_for_field() {
    use natter_protocol::ws::{
        ClientFrame, ConversationEvent, Empty, SeenData, ServerFrame, SubscribeData, TypingEvent, TypingUser,
    };
    use natter_protocol::{
        ChatAttachment, ChatMessage, ChatSession, CreateSessionRequest, ErrorBody, FileType, MessageStatus,
        MessagesData, SendMessageRequest, Sender, SessionData, SessionStatus,
    };
    use natter_widget::session::StoredSession;
    use natter_widget::web::json::{self, Frame};

    // Every field the widget reads is set, so a name that differs from the protocol's fails here.
    let attachment = ChatAttachment {
        id: "a1".into(),
        message_id: Some("m1".into()),
        // (Not read by the widget: left at what the reader fills in.)
        account_id: String::new(),
        file_type: FileType::Image,
        extension: String::new(),
        file_name: "cat.png".into(),
        file_size: 2048,
        data_url: "/files/a1".into(),
        thumb_url: Some("/files/a1/thumb".into()),
        fallback_title: "cat.png".into(),
    };
    let message = ChatMessage {
        id: "m1".into(),
        seq: 7,
        sender: Sender::Manager,
        message_text: "Hello".into(),
        manager_id: Some("op1".into()),
        echo_id: Some("e_1".into()),
        status: MessageStatus::Read,
        created_at: "2026-12-07T10:00:00Z".into(),
        attachments: vec![attachment],
    };
    let session = SessionData {
        session_id: "s1".into(),
        session: ChatSession {
            id: "s1".into(),
            user_name: Some("Ann".into()),
            user_phone: Some("+380 44 123 4567".into()),
            user_email: Some("ann@example.com".into()),
            status: SessionStatus::Closed,
            manager_id: Some("op1".into()),
            user_session_id: Some("v_1".into()),
            created_at: "2026-12-07T09:00:00Z".into(),
            updated_at: Some("2026-12-07T10:00:00Z".into()),
        },
        messages: vec![message.clone()],
        has_more: true,
        token: Some("tok".into()),
    };
    assert_eq!(json::session_data(&wire(&session)).as_ref(), Some(&session));
    let page = MessagesData { messages: vec![message.clone()], has_more: true };
    assert_eq!(json::messages_data(&wire(&page)).as_ref(), Some(&page));
    let error = ErrorBody { code: "invalid_score".into(), message: "score must be 1 to 5".into() };
    assert_eq!(json::error_body(&wire(&error)).as_ref(), Some(&error));

    // What the widget writes reads back as the protocol type.
    let request = CreateSessionRequest {
        name: Some("Ann".into()),
        phone: Some("+380 44 123 4567".into()),
        email: Some("ann@example.com".into()),
        user_session_id: Some("v_1".into()),
        first_message: None,
        echo_id: None,
        user_id: Some("u-42".into()),
        user_hash: Some("ab12".into()),
    };
    same_json(&json::session_request(&request), &request);
    let send = SendMessageRequest { message: "Hello".into(), echo_id: Some("e_2".into()) };
    same_json(&json::send_request(&send), &send);
    let frames = [
        ClientFrame::Subscribe(SubscribeData { pubsub_token: "tok".into(), account_id: None, last_seq: Some(7) }),
        ClientFrame::Seen(SeenData { message_id: None, seq: Some(7) }),
        ClientFrame::TypingOn,
        ClientFrame::TypingOff,
        ClientFrame::UpdatePresence,
    ];
    for frame in &frames {
        same_json(&json::client_frame(frame), frame);
    }
    let stored =
        StoredSession { user_session_id: "v_1".into(), session_id: "s1".into(), token: "tok".into(), last_seq: 7 };
    same_json(&json::stored_session(&stored), &stored);

    // Server frames as the server writes them.
    let closed = ServerFrame::ConversationStatusChanged(ConversationEvent {
        account_id: 1,
        id: "s1".into(),
        inbox_id: "i1".into(),
        status: SessionStatus::Closed,
        assignee_id: None,
        channel: "widget".into(),
        can_reply: true,
        created_at: 0,
        timestamp: 0,
    });
    assert_eq!(json::server_frame(&closed.to_json()), Some(Frame::Closed(true)));
    let typing = TypingEvent {
        conversation_id: "s1".into(),
        is_private: false,
        user: TypingUser { id: None, name: "Olha".into(), kind: "agent".into() },
    };
    assert_eq!(json::server_frame(&ServerFrame::TypingOn(typing.clone()).to_json()), Some(Frame::TypingOn(true)));
    assert_eq!(json::server_frame(&ServerFrame::TypingOff(typing).to_json()), Some(Frame::TypingOff));
    assert_eq!(
        json::server_frame(&ServerFrame::ConfirmSubscription("s1".into()).to_json()),
        Some(Frame::ConfirmSubscription)
    );
    assert_eq!(json::server_frame(&ServerFrame::PresenceUpdate(Empty {}).to_json()), Some(Frame::PresenceUpdate));
}
