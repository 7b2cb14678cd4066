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
