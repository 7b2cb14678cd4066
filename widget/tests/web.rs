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
    exports::send("<b>bold</b><img src=x>").expect("send");
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
