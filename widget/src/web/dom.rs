//! Small owned wrappers over browser APIs: web storage behind [`KeyValue`],
//! event listeners removed on drop, randomness, clock and visibility.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

use crate::config::StorageKind;
use crate::storage::{KeyValue, MemoryStorage, StorageError};

fn js_error(e: &JsValue) -> StorageError {
    StorageError(super::net::reason(e))
}

/// `localStorage` or `sessionStorage`.
pub struct WebStorage(web_sys::Storage);

impl KeyValue for WebStorage {
    fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.0.get_item(key).map_err(|e| js_error(&e))
    }

    fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.0.set_item(key, value).map_err(|e| js_error(&e))
    }

    fn remove(&self, key: &str) -> Result<(), StorageError> {
        self.0.remove_item(key).map_err(|e| js_error(&e))
    }
}

/// The storage `kind` names; memory when the browser refuses it (privacy modes).
pub fn storage(kind: StorageKind) -> Rc<dyn KeyValue> {
    let web = web_sys::window().and_then(|w| match kind {
        StorageKind::Local => w.local_storage().ok().flatten(),
        StorageKind::Session => w.session_storage().ok().flatten(),
        StorageKind::None => None,
    });
    match web {
        Some(s) => Rc::new(WebStorage(s)),
        None => Rc::new(MemoryStorage::default()),
    }
}

/// An event listener that is removed when dropped.
#[must_use = "the listener is removed when this handle is dropped"]
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    pub fn new(target: &EventTarget, kind: &'static str, f: impl FnMut(Event) + 'static) -> Result<Self, JsValue> {
        let closure = Closure::<dyn FnMut(Event)>::new(f);
        target.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())?;
        Ok(Self { target: target.clone(), kind, closure })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
    }
}

/// `N` bytes from `crypto.getRandomValues`.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], JsValue> {
    let mut bytes = [0u8; N];
    let crypto = web_sys::window().ok_or("no window")?.crypto()?;
    crypto.get_random_values_with_u8_array(&mut bytes)?;
    Ok(bytes)
}

/// A fresh client key such as `v_3fa2…` (128 random bits).
pub fn new_key(prefix: &str) -> Result<String, JsValue> {
    Ok(crate::ids::client_key(prefix, &random_bytes::<16>()?))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    // Date.now() is a positive integer well inside u64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = js_sys::Date::now() as u64;
    ms
}

/// The current time as ISO 8601.
pub fn now_iso() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

/// `HH:MM` in the visitor's time zone; empty for an unreadable timestamp.
pub fn local_time(iso: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_str(iso));
    if date.get_time().is_nan() {
        return String::new();
    }
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// Whether the tab is in the background.
pub fn hidden() -> bool {
    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden())
}

/// The browser's preferred language tag.
pub fn language() -> String {
    web_sys::window().and_then(|w| w.navigator().language()).unwrap_or_default()
}

/// The page's origin, the default server.
pub fn origin() -> String {
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

/// A uniform number in `[0, 1)` for backoff jitter.
pub fn random_unit() -> f64 {
    js_sys::Math::random()
}

#[wasm_bindgen(module = "/src/web/sound.js")]
extern "C" {
    /// Plays the reply tone.
    pub fn chime();
}
