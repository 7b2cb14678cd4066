//! Thin wrappers over the browser's `fetch` and `WebSocket`: a call answers
//! with its status and body text, and a socket hands its events to a callback.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, CloseEvent, Event, Headers, MessageEvent, RequestInit, Response};

/// The message of a thrown JavaScript value. (Its `Debug` form would pull
/// in the escaping and Unicode tables of `core::fmt`.)
pub fn reason(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.to_string())).or_else(|| e.as_string()).unwrap_or_default()
}

/// Calls `fetch`; the answer's status and body text (`None` when the body
/// could not be read), or why there was no answer.
pub async fn fetch(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, Option<String>), String> {
    let init = RequestInit::new();
    init.set_method(method);
    let list = Headers::new().map_err(|e| reason(&e))?;
    for (name, value) in headers {
        list.set(name, value).map_err(|e| reason(&e))?;
    }
    init.set_headers(&list);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let window = web_sys::window().ok_or("no window")?;
    let answer = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(|e| reason(&e))?;
    let res: Response = answer.unchecked_into();
    let text = match res.text() {
        Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    };
    Ok((res.status(), text))
}

#[wasm_bindgen(module = "/src/web/files.js")]
extern "C" {
    #[wasm_bindgen(js_name = upload)]
    fn upload_js(url: &str, key: &str, token: &str, echo: &str, files: &JsValue, progress: &JsValue)
        -> js_sys::Promise;
    /// Calls `attach` with the files (an array) picked, pasted or dropped in
    /// `root`, their names (comma-separated) and the largest one's size.
    pub fn listen(root: &web_sys::Element, attach: &Closure<dyn FnMut(js_sys::Array, String, f64)>);
}

/// Posts `files` as a multipart message (`echoId`, `attachments[]`) with
/// the website key and session token, calling `progress` with the share
/// sent so far; the answer's status and body text, or why there was none.
pub async fn upload(
    url: &str,
    (key, token): (&str, &str),
    echo: &str,
    files: &JsValue,
    progress: &Closure<dyn FnMut(f64)>,
) -> Result<(u16, Option<String>), String> {
    let answer =
        JsFuture::from(upload_js(url, key, token, echo, files, progress.as_ref())).await.map_err(|e| reason(&e))?;
    let status = js_sys::Reflect::get_u32(&answer, 0).ok().and_then(|s| s.as_f64()).unwrap_or(0.0) as u16;
    if status == 0 {
        return Err("the upload did not reach the server".into());
    }
    Ok((status, js_sys::Reflect::get_u32(&answer, 1).ok().and_then(|t| t.as_string())))
}

/// What happened on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    Open,
    /// A text frame (binary frames are dropped).
    Text(String),
    Error,
    /// Closed, with the close code.
    Close(u16),
}

/// A `WebSocket`, closed and detached from its handlers when dropped.
pub struct Socket {
    ws: web_sys::WebSocket,
    _handler: Closure<dyn FnMut(Event)>,
}

impl Socket {
    /// Opens a socket; `on` hears its events, until the socket is dropped
    /// (which may happen inside `on`: the browser's side of the handler lives
    /// until the call returns).
    pub fn open(url: &str, mut on: impl FnMut(SocketEvent) + 'static) -> Result<Self, JsValue> {
        let ws = web_sys::WebSocket::new(url)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let handler = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let event = match e.type_().as_str() {
                "open" => SocketEvent::Open,
                "message" => match e.unchecked_ref::<MessageEvent>().data().as_string() {
                    Some(text) => SocketEvent::Text(text),
                    None => return,
                },
                "close" => SocketEvent::Close(e.unchecked_ref::<CloseEvent>().code()),
                _ => SocketEvent::Error,
            };
            on(event);
        });
        let f = Some(handler.as_ref().unchecked_ref());
        ws.set_onopen(f);
        ws.set_onmessage(f);
        ws.set_onerror(f);
        ws.set_onclose(f);
        Ok(Self { ws, _handler: handler })
    }

    /// Sends a text frame; `false` when the socket refused it.
    pub fn send(&self, text: &str) -> bool {
        self.ws.send_with_str(text).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onerror(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
