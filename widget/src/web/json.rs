//! The wire JSON read and written through the browser's own `JSON` object:
//! typed readers for the answers and frames the widget uses, and writers for
//! the bodies and frames it sends. No JSON parser or printer is compiled in.

use js_sys::{Array, Object, Reflect, JSON};
use natter_protocol::ws::ClientFrame;
use natter_protocol::{
    ChatAttachment, ChatMessage, ChatSession, CreateSessionRequest, ErrorBody, FileType, MessageStatus, MessagesData,
    SendMessageRequest, Sender, SessionData, SessionStatus,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::session::StoredSession;

/// Parses JSON text; `None` when it is not JSON.
pub fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

/// JSON text of a value built here (objects, strings, numbers, booleans).
pub fn stringify(value: &JsValue) -> String {
    JSON::stringify(value).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

/// `value[key]`, `undefined` when absent or when `value` is not an object.
fn get(value: &JsValue, key: &str) -> JsValue {
    if !value.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// A required string.
fn string(value: &JsValue, key: &str) -> Option<String> {
    get(value, key).as_string()
}

/// An optional string: `Some(None)` when absent or null, `None` when of another type.
fn opt_string(value: &JsValue, key: &str) -> Option<Option<String>> {
    let v = get(value, key);
    if absent(&v) {
        return Some(None);
    }
    v.as_string().map(Some)
}

/// A whole number.
fn int(value: &JsValue) -> Option<i64> {
    // Whole numbers inside ±2^63 convert exactly enough for seqs, offsets and lengths.
    #[allow(clippy::cast_possible_truncation)]
    value.as_f64().filter(|n| n.fract() == 0.0 && n.abs() < 9.2e18).map(|n| n as i64)
}

fn boolean(value: &JsValue, key: &str) -> Option<bool> {
    get(value, key).as_bool()
}

/// An array, each item read by `item`.
fn array<T>(v: &JsValue, item: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
    if !Array::is_array(v) {
        return None;
    }
    v.unchecked_ref::<Array>().iter().map(|x| item(&x)).collect()
}

/// A required array field.
fn list<T>(value: &JsValue, key: &str, item: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
    array(&get(value, key), item)
}

/// An optional field read by `read`: absent or null is `None`.
fn optional<T>(value: &JsValue, key: &str, read: impl Fn(&JsValue) -> Option<T>) -> Option<Option<T>> {
    let v = get(value, key);
    if absent(&v) {
        return Some(None);
    }
    read(&v).map(Some)
}

/// A field that defaults when absent or null.
fn or_default<T: Default>(value: &JsValue, key: &str, read: impl Fn(&JsValue) -> Option<T>) -> Option<T> {
    optional(value, key, read).map(Option::unwrap_or_default)
}

fn status(v: &JsValue) -> Option<MessageStatus> {
    MessageStatus::parse(&v.as_string()?)
}

/// A stored message (`ChatMessage`).
pub fn chat_message(v: &JsValue) -> Option<ChatMessage> {
    Some(ChatMessage {
        id: string(v, "id")?,
        seq: or_default(v, "seq", int)?,
        sender: Sender::parse(&string(v, "sender")?)?,
        message_text: string(v, "messageText")?,
        manager_id: opt_string(v, "managerId")?,
        echo_id: opt_string(v, "echoId")?,
        status: or_default(v, "status", status)?,
        created_at: string(v, "createdAt")?,
        attachments: or_default(v, "attachments", |a| array(a, attachment))?,
    })
}

/// A file of a message (`ChatAttachment`): what the widget shows of it.
fn attachment(v: &JsValue) -> Option<ChatAttachment> {
    let file_name = string(v, "fileName")?;
    Some(ChatAttachment {
        id: string(v, "id")?,
        message_id: opt_string(v, "messageId")?,
        account_id: String::new(),
        file_type: FileType::parse(&string(v, "fileType")?)?,
        extension: String::new(),
        fallback_title: file_name.clone(),
        file_name,
        file_size: or_default(v, "fileSize", int)?,
        data_url: string(v, "dataUrl")?,
        thumb_url: opt_string(v, "thumbUrl")?,
    })
}

fn chat_session(v: &JsValue) -> Option<ChatSession> {
    Some(ChatSession {
        id: string(v, "id")?,
        user_name: opt_string(v, "userName")?,
        user_phone: opt_string(v, "userPhone")?,
        user_email: opt_string(v, "userEmail")?,
        status: SessionStatus::parse(&string(v, "status")?)?,
        manager_id: opt_string(v, "managerId")?,
        user_session_id: opt_string(v, "userSessionId")?,
        created_at: string(v, "createdAt")?,
        updated_at: opt_string(v, "updatedAt")?,
    })
}

/// `data` of the session answer.
pub fn session_data(v: &JsValue) -> Option<SessionData> {
    Some(SessionData {
        session_id: string(v, "sessionId")?,
        session: chat_session(&get(v, "session"))?,
        messages: or_default(v, "messages", |m| array(m, chat_message))?,
        has_more: or_default(v, "hasMore", JsValue::as_bool)?,
        token: opt_string(v, "token")?,
    })
}

/// `data` of the send answer: its `message`.
pub fn message_data(v: &JsValue) -> Option<ChatMessage> {
    chat_message(&get(v, "message"))
}

/// `data` of the list answer.
pub fn messages_data(v: &JsValue) -> Option<MessagesData> {
    Some(MessagesData {
        messages: list(v, "messages", chat_message)?,
        has_more: or_default(v, "hasMore", JsValue::as_bool)?,
    })
}

/// What the widget uses of the website's config (`WidgetConfig` on the
/// wire); the rest (business hours, away message, limits it does not
/// enforce) is left unread, as reading it would cost bytes for nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub title: String,
    pub color: String,
    pub greeting: String,
    pub locale: String,
    pub contact_form: String,
    /// The largest file a visitor may send, in bytes, when the server says.
    pub max_file_bytes: Option<u64>,
    /// Whether the website answers now (within business hours, an operator online).
    pub online: bool,
}

/// `data` of the config answer, as far as the widget uses it.
pub fn widget_config(v: &JsValue) -> Option<Site> {
    Some(Site {
        title: string(v, "title")?,
        color: string(v, "color")?,
        greeting: string(v, "greeting")?,
        locale: string(v, "locale")?,
        contact_form: string(v, "contactForm")?,
        max_file_bytes: optional(v, "maxFileBytes", |n| u64::try_from(int(n)?).ok())?,
        online: boolean(v, "online")?,
    })
}

/// The error part of an envelope.
pub fn error_body(v: &JsValue) -> Option<ErrorBody> {
    Some(ErrorBody { code: string(v, "code")?, message: string(v, "message")? })
}

/// `{success, data | error}` read with `data` read by `read`: the data on success,
/// the error body otherwise; `None` when the envelope is malformed.
pub fn envelope<T>(v: &JsValue, read: impl Fn(&JsValue) -> Option<T>) -> Option<Result<T, ErrorBody>> {
    let success = boolean(v, "success")?;
    let data = optional(v, "data", read)?;
    let error = optional(v, "error", error_body)?;
    Some(match (success, data, error) {
        (true, Some(data), _) => Ok(data),
        (_, _, Some(err)) => Err(err),
        _ => Err(ErrorBody { code: "bad_envelope".into(), message: "response carried neither data nor error".into() }),
    })
}

pub use crate::engine::Frame;

/// Reads a server frame; `None` when it is not one.
pub fn server_frame(text: &str) -> Option<Frame> {
    let v = parse(text)?;
    let data = get(&v, "data");
    Some(match string(&v, "event")?.as_str() {
        "confirm_subscription" => Frame::ConfirmSubscription,
        "presence.update" => Frame::PresenceUpdate,
        "message.created" | "message.updated" => Frame::Message(message_data(&data)?),
        "conversation.typing_on" => Frame::TypingOn(string(&get(&data, "user"), "type")? == "agent"),
        "conversation.typing_off" => Frame::TypingOff,
        "conversation.status_changed" => Frame::Closed(string(&data, "status")? != "active"),
        _ => Frame::Other,
    })
}

/// A plain object with the given fields; `None` values are left out.
fn object(fields: &[(&str, Option<JsValue>)]) -> JsValue {
    let o = Object::new();
    for (key, value) in fields {
        if let Some(value) = value {
            let _ = Reflect::set(&o, &JsValue::from_str(key), value);
        }
    }
    o.into()
}

fn js_str(s: &Option<String>) -> Option<JsValue> {
    s.as_deref().map(JsValue::from_str)
}

#[allow(clippy::cast_precision_loss)]
fn js_int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// JSON text of a client frame: `{"event": …, "data": …}`, no `data` for frames without one.
pub fn client_frame(frame: &ClientFrame) -> String {
    let (event, data) = match frame {
        ClientFrame::Subscribe(d) => (
            "subscribe",
            Some(object(&[
                ("pubsub_token", Some(JsValue::from_str(&d.pubsub_token))),
                ("account_id", d.account_id.map(js_int)),
                ("last_seq", d.last_seq.map(js_int)),
            ])),
        ),
        ClientFrame::UpdatePresence => ("update_presence", None),
        ClientFrame::TypingOn => ("typing_on", None),
        ClientFrame::TypingOff => ("typing_off", None),
        ClientFrame::Seen(d) => {
            ("seen", Some(object(&[("message_id", js_str(&d.message_id)), ("seq", d.seq.map(js_int))])))
        }
    };
    stringify(&object(&[("event", Some(JsValue::from_str(event))), ("data", data)]))
}

/// JSON body of the session call.
pub fn session_request(r: &CreateSessionRequest) -> String {
    stringify(&object(&[
        ("name", js_str(&r.name)),
        ("phone", js_str(&r.phone)),
        ("email", js_str(&r.email)),
        ("userSessionId", js_str(&r.user_session_id)),
        ("firstMessage", js_str(&r.first_message)),
        ("echoId", js_str(&r.echo_id)),
        ("userId", js_str(&r.user_id)),
        ("userHash", js_str(&r.user_hash)),
    ]))
}

/// JSON body of the rating call (a blank comment is left out).
pub fn rate_request(score: u8, comment: &str) -> String {
    let comment = comment.trim();
    stringify(&object(&[
        ("score", Some(JsValue::from(score))),
        ("comment", (!comment.is_empty()).then(|| JsValue::from_str(comment))),
    ]))
}

/// JSON body of the send call.
pub fn send_request(r: &SendMessageRequest) -> String {
    stringify(&object(&[("message", Some(JsValue::from_str(&r.message))), ("echoId", js_str(&r.echo_id))]))
}

/// A message as the host page's events carry it (absent optional fields are `undefined`).
pub fn message_value(m: &ChatMessage) -> JsValue {
    let o = Object::new();
    let fields = [
        ("id", JsValue::from_str(&m.id)),
        ("seq", js_int(m.seq)),
        ("sender", JsValue::from_str(m.sender.as_str())),
        ("messageText", JsValue::from_str(&m.message_text)),
        ("managerId", js_str(&m.manager_id).unwrap_or(JsValue::UNDEFINED)),
        ("echoId", js_str(&m.echo_id).unwrap_or(JsValue::UNDEFINED)),
        ("status", JsValue::from_str(m.status.as_str())),
        ("createdAt", JsValue::from_str(&m.created_at)),
    ];
    for (key, value) in &fields {
        let _ = Reflect::set(&o, &JsValue::from_str(key), value);
    }
    o.into()
}

/// The stored session record as JSON text.
pub fn stored_session(s: &StoredSession) -> String {
    stringify(&object(&[
        ("userSessionId", Some(JsValue::from_str(&s.user_session_id))),
        ("sessionId", Some(JsValue::from_str(&s.session_id))),
        ("token", Some(JsValue::from_str(&s.token))),
        ("lastSeq", Some(js_int(s.last_seq))),
    ]))
}

/// Reads a stored session record; `None` when unreadable.
pub fn read_stored_session(text: &str) -> Option<StoredSession> {
    let v = parse(text)?;
    Some(StoredSession {
        user_session_id: string(&v, "userSessionId")?,
        session_id: string(&v, "sessionId")?,
        token: string(&v, "token")?,
        last_seq: int(&get(&v, "lastSeq"))?,
    })
}
