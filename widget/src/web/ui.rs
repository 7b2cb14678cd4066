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

use super::controller::Ui;
use crate::config::{Color, Position};
use crate::i18n::{Locale, Strings};

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
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.container.remove();
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
    let attach = Closure::<dyn FnMut(js_sys::Array, String, f64)>::new(|files, names: String, largest| {
        super::exports::dispatch(move |c| {
            if let Err(e) = c.attach(files, &names, largest) {
                c.emit_error("attach", &super::net::reason(&e));
            }
        });
    });
    super::net::listen(&container, &attach);
    let view = leptos::mount::mount_to(container.clone(), move || view! { <app::App ui=ui /> });
    Ok(Mounted { _view: Box::new(view), _attach: attach, host, owns_host, container })
}
