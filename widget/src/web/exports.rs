//! The JavaScript API (`init`, `open`, `close`, `toggle`, `show`, `hide`,
//! `identify`, `setLocale`, `send`, `reset`, `destroy`): one widget per page,
//! kept here until `destroy` releases everything it owns.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::Owner;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use super::controller::Controller;
use super::ui::{self, Mounted};
use crate::config::Config;
use crate::contact::Details;
use crate::i18n::Locale;

/// A mounted widget. Fields drop in order: the UI, then the reactive owner.
struct Widget {
    controller: Rc<Controller>,
    _mounted: Mounted,
    owner: Owner,
}

thread_local! {
    static WIDGET: RefCell<Option<Widget>> = const { RefCell::new(None) };
}

/// Runs `f` with the widget's controller, if a widget is mounted.
pub fn dispatch(f: impl FnOnce(&Rc<Controller>)) {
    let controller = WIDGET.with(|w| w.borrow().as_ref().map(|w| Rc::clone(&w.controller)));
    if let Some(controller) = controller {
        f(&controller);
    }
}

/// `(name, value)` pairs of a plain object; strings, numbers and booleans only.
fn pairs(config: &JsValue) -> Vec<(String, String)> {
    let Some(object) = config.dyn_ref::<js_sys::Object>() else { return Vec::new() };
    js_sys::Object::entries(object)
        .iter()
        .filter_map(|entry| {
            let entry: js_sys::Array = entry.dyn_into().ok()?;
            let name = entry.get(0).as_string()?;
            let value = entry.get(1);
            let value = value
                .as_string()
                .or_else(|| value.as_bool().map(|b| b.to_string()))
                // The number as JavaScript prints it, so no float printing is compiled in.
                .or_else(|| value.dyn_ref::<js_sys::Number>()?.to_string_with_radix(10).ok().map(String::from))?;
            Some((name, value))
        })
        .collect()
}

/// Mounts the widget. `config` takes the `data-*` names or their camelCase
/// forms; `emit(name, detail)` receives every event; `host` is an element to
/// render into (the loader's), else one is added to `<body>`.
#[wasm_bindgen]
pub fn init(config: &JsValue, emit: js_sys::Function, host: Option<HtmlElement>) -> Result<(), JsError> {
    destroy();
    let config = Config::from_pairs(pairs(config)).map_err(|e| JsError::new(&e.to_string()))?;
    let owner = Owner::new();
    let (controller, mounted) = owner
        .with(|| {
            let controller = Controller::new(config.clone(), emit);
            let mounted = ui::mount(controller.ui, config.position, config.color.as_ref(), host);
            mounted.map(|m| (controller, m))
        })
        .map_err(|e| JsError::new(&format!("cannot mount the widget: {}", super::net::reason(&e))))?;
    WIDGET.with(|w| *w.borrow_mut() = Some(Widget { controller: Rc::clone(&controller), _mounted: mounted, owner }));
    controller.start();
    Ok(())
}

#[wasm_bindgen]
pub fn open() {
    dispatch(|c| c.open());
}

#[wasm_bindgen]
pub fn close() {
    dispatch(|c| c.close());
}

#[wasm_bindgen]
pub fn toggle() {
    dispatch(|c| c.toggle());
}

#[wasm_bindgen]
pub fn show() {
    dispatch(|c| c.show());
}

#[wasm_bindgen]
pub fn hide() {
    dispatch(|c| c.hide());
}

/// One optional string field of the `identify` details.
fn detail(details: &JsValue, key: &str) -> Result<Option<String>, JsError> {
    let value = js_sys::Reflect::get(details, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| JsError::new(&format!("`{key}` must be a string")))
}

/// Sets the visitor's contact details and, for a signed-in user, their
/// verified identity (`{name, phone, email, userId, userHash}`, each optional).
#[wasm_bindgen]
pub fn identify(details: JsValue) -> Result<(), JsError> {
    if !details.is_object() {
        return Err(JsError::new("details must be an object"));
    }
    let who = Details {
        name: detail(&details, "name")?,
        phone: detail(&details, "phone")?,
        email: detail(&details, "email")?,
        user_id: detail(&details, "userId")?,
        user_hash: detail(&details, "userHash")?,
    };
    dispatch(|c| c.identify(who));
    Ok(())
}

#[wasm_bindgen(js_name = setLocale)]
pub fn set_locale(locale: &str) -> Result<(), JsError> {
    let locale = Locale::parse(locale).ok_or_else(|| JsError::new("locale must be en, uk or ru"))?;
    dispatch(|c| c.set_locale(locale));
    Ok(())
}

/// Sends a message as the visitor.
#[wasm_bindgen]
pub fn send(text: &str) {
    dispatch(|c| c.send(text));
}

/// Forgets the session: the next message starts a new conversation.
#[wasm_bindgen]
pub fn reset() {
    dispatch(|c| c.reset());
}

/// Removes the widget and stops every timer, socket and listener.
#[wasm_bindgen]
pub fn destroy() {
    let widget = WIDGET.with(|w| w.borrow_mut().take());
    if let Some(widget) = widget {
        widget.controller.shutdown();
        let owner = widget.owner.clone();
        drop(widget);
        owner.cleanup();
    }
}
