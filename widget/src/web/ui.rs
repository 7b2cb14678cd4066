//! Mounting the UI: a host element with an open shadow root (host CSS can
//! neither reach in nor leak out), the style sheet adopted as constructed
//! sheets (no inline styles, so a strict CSP holds), and the leptos app.

mod app;
mod away;
mod composer;
mod contact;
mod message;
mod rating;

use std::any::Any;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CssStyleSheet, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};

use std::rc::Rc;

use crate::config::{Color, Position};
use crate::contact::Contact;
use crate::i18n::{Locale, Strings};
use crate::timeline::Entry;

/// What the UI shows; every field is a signal, so the struct is `Copy`.
#[derive(Clone, Copy)]
pub struct Ui {
    pub open: RwSignal<bool>,
    pub shown: RwSignal<bool>,
    pub entries: RwSignal<Vec<Entry>>,
    pub unread: RwSignal<u32>,
    pub typing: RwSignal<bool>,
    pub locale: RwSignal<Locale>,
    pub title: RwSignal<Option<String>>,
    pub greeting: RwSignal<Option<String>>,
    pub contact_form: RwSignal<bool>,
    pub offline: RwSignal<bool>,
    /// The server holds messages before the earliest one shown.
    pub earlier: RwSignal<bool>,
    /// What the visitor is told about their files: nothing (0), the percent
    /// uploaded plus one (1 to 101) or why they were not sent (`FILE_*`).
    /// (Signals of the UI hold types it already has: see `ui::text`.)
    pub files: RwSignal<u32>,
    /// The rating prompt: not shown, asking, or thanking (`RATING_*`).
    pub rating: RwSignal<u32>,
    /// The website is away (outside business hours, or no operator online)
    /// and the visitor has not left an e-mail address yet.
    pub away: RwSignal<bool>,
    /// Where the UI sends what the visitor does.
    pub act: StoredValue<Rc<dyn Fn(Command)>, LocalStorage>,
}

/// What the visitor did in the UI.
pub enum Command {
    Toggle,
    Close,
    Send(String),
    Typing(bool),
    Earlier,
    Contact(Contact),
    Email(String),
    Rate(u8, String),
    /// Files picked, pasted or dropped (a JS array), their names and the largest size.
    Attach(js_sys::Array, String, f64),
}

impl Ui {
    /// Hands a command to the widget.
    pub fn act(&self, command: Command) {
        (self.act.get_value())(command);
    }
}

/// `rating` while there is nothing to rate, while asking, and once rated.
pub const RATING_NONE: u32 = 0;
pub const RATING_ASKED: u32 = 1;
pub const RATING_THANKED: u32 = 2;

/// `files` when the files were over the size limit, of a refused type, or not sent for another reason.
pub const FILE_TOO_LARGE: u32 = 1001;
pub const FILE_BAD_TYPE: u32 = 1002;
pub const FILE_NOT_SENT: u32 = 1003;

/// A text that follows the current locale. Every reactive text and flag of
/// the UI is a `Signal<String>` or a `Signal<bool>`, so the code that renders
/// them is compiled once for each type rather than once for every binding.
fn tr(locale: RwSignal<Locale>, pick: fn(&'static Strings) -> &'static str) -> Signal<String> {
    Signal::derive(move || pick(locale.get().strings()).to_owned())
}

/// A reactive text.
fn text(f: impl Fn() -> String + Send + Sync + 'static) -> Signal<String> {
    Signal::derive(f)
}

/// A reactive flag, such as the `hidden` of a part that comes and goes.
fn when(f: impl Fn() -> bool + Send + Sync + 'static) -> Signal<bool> {
    Signal::derive(f)
}

/// The `value` of the control named `name` in the form an event came from
/// (forms whose fields are plain markup, read only when sent).
fn field(ev: &web_sys::Event, name: &str) -> String {
    let form = ev.target().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
    let control = js_sys::Reflect::get(&form, &name.into()).unwrap_or(JsValue::UNDEFINED);
    js_sys::Reflect::get(&control, &"value".into()).ok().and_then(|v| v.as_string()).unwrap_or_default()
}

#[wasm_bindgen(module = "/src/web/viewport.js")]
extern "C" {
    /// Keeps `host`'s `--natter-vh` and `--natter-vt` on the visual viewport
    /// (what a virtual keyboard leaves visible); the returned function stops.
    #[wasm_bindgen(js_name = followViewport)]
    fn follow_viewport(host: &HtmlElement) -> js_sys::Function;
}

/// The widget's style sheet, compacted by `build.rs`.
pub const CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/natter.css"));

/// A mounted UI; unmounted and removed when dropped.
#[must_use = "the UI is removed when this handle is dropped"]
pub struct Mounted {
    _view: Box<dyn Any>,
    /// Takes the files picked, pasted or dropped in the UI.
    _attach: Closure<dyn FnMut(js_sys::Array, String, f64)>,
    host: HtmlElement,
    owns_host: bool,
    container: HtmlElement,
    unfollow: js_sys::Function,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.container.remove();
        let _ = self.unfollow.call0(&JsValue::NULL);
        if self.owns_host {
            self.host.remove();
        }
    }
}

fn sheet(css: &str) -> Result<CssStyleSheet, JsValue> {
    let sheet = CssStyleSheet::new()?;
    sheet.replace_sync(css)?;
    Ok(sheet)
}

/// The accent colour rule.
fn accent_css(color: &Color) -> String {
    format!(":host{{--natter-accent:{}}}", color.as_str())
}

thread_local! {
    static ACCENT: std::cell::RefCell<Option<CssStyleSheet>> = const { std::cell::RefCell::new(None) };
}

/// Changes the accent colour of the mounted widget.
pub fn set_accent(color: &Color) {
    ACCENT.with(|a| {
        if let Some(sheet) = a.borrow().as_ref() {
            let _ = sheet.replace_sync(&accent_css(color));
        }
    });
}

fn shadow_of(host: &HtmlElement) -> Result<ShadowRoot, JsValue> {
    if let Some(root) = host.shadow_root() {
        while let Some(child) = root.first_child() {
            root.remove_child(&child)?;
        }
        return Ok(root);
    }
    host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
}

/// Mounts the UI into `host` (the loader's element) or a new element at the end of `<body>`.
pub fn mount(ui: Ui, position: Position, color: Option<&Color>, host: Option<HtmlElement>) -> Result<Mounted, JsValue> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let owns_host = host.is_none();
    let host = match host {
        Some(host) => host,
        None => {
            let host: HtmlElement = document.create_element("div")?.unchecked_into();
            host.set_attribute("data-natter-host", "")?;
            document.body().ok_or("no body")?.append_child(&host)?;
            host
        }
    };
    let root = shadow_of(&host)?;
    let accent = sheet(&color.map(accent_css).unwrap_or_default())?;
    let base: JsValue = sheet(CSS)?.into();
    root.set_adopted_style_sheets(&js_sys::Array::of2(&base, &accent));
    ACCENT.with(|a| *a.borrow_mut() = Some(accent));
    let container: HtmlElement = document.create_element("div")?.unchecked_into();
    container.set_class_name(if position == Position::Left { "natter left" } else { "natter" });
    root.append_child(&container)?;
    let attach = Closure::<dyn FnMut(js_sys::Array, String, f64)>::new(move |files, names: String, largest| {
        ui.act(Command::Attach(files, names, largest));
    });
    super::net::listen(&container, &attach);
    let view = leptos::mount::mount_to(container.clone(), move || view! { <app::App ui=ui /> });
    let unfollow = follow_viewport(&host);
    Ok(Mounted { _view: Box::new(view), _attach: attach, host, owns_host, container, unfollow })
}
