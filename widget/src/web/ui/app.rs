//! The launcher with its unread badge and the chat panel. Both stay mounted;
//! what is closed or empty carries `hidden`.

use leptos::html;
use leptos::prelude::*;

use super::composer::Composer;
use super::contact::ContactForm;
use super::message::message_item;
use super::{text, tr, when};
use super::{Command, Ui};

#[component]
pub fn App(
    /// Signals of the widget.
    ui: Ui,
) -> impl IntoView {
    let launcher = NodeRef::<html::Button>::new();
    let list = NodeRef::<html::Ol>::new();
    let area = NodeRef::<html::Textarea>::new();
    // One effect for focus and scrolling: the text area takes the focus when
    // the panel opens and the launcher gets it back when it closes; the
    // newest message stays in view.
    Effect::new(move |was_open: Option<bool>| {
        let open = ui.open.get();
        ui.entries.track();
        ui.typing.track();
        if open {
            if was_open != Some(true) {
                if let Some(area) = area.get() {
                    let _ = area.focus();
                }
            }
            if let Some(list) = list.get() {
                list.set_scroll_top(list.scroll_height());
            }
        } else if was_open == Some(true) {
            if let Some(button) = launcher.get() {
                let _ = button.focus();
            }
        }
        open
    });
    let strings = move || ui.locale.get().strings();
    view! {
        <Panel ui=ui list=list area=area />
        <button
            type="button"
            class="launcher"
            data-natter="launcher"
            node_ref=launcher
            hidden=when(move || !ui.shown.get())
            aria-label=text(move || if ui.open.get() { strings().close_chat } else { strings().open_chat }.to_owned())
            aria-expanded=text(move || ui.open.get().to_string())
            on:click=move |_| ui.act(Command::Toggle)
        >
            <svg viewBox="0 0 24 24" aria-hidden="true">
                <path d="M4 4h16v11H8l-4 4z" />
            </svg>
            <span
                class="badge"
                data-natter="unread"
                hidden=when(move || ui.unread.get() == 0)
                aria-label=text(move || format!("{} {}", ui.unread.get(), strings().unread))
            >
                {text(move || ui.unread.get().to_string())}
            </span>
        </button>
    }
}

#[component]
fn Panel(
    /// Signals of the widget.
    ui: Ui,
    /// The message list, kept scrolled to the newest message.
    list: NodeRef<html::Ol>,
    /// The composer's text area, focused when the panel opens.
    area: NodeRef<html::Textarea>,
) -> impl IntoView {
    view! {
        <section
            class="panel"
            data-natter="panel"
            role="dialog"
            aria-labelledby="natter-title"
            hidden=when(move || !ui.open.get())
            lang=text(move || ui.locale.get().code().to_owned())
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    ui.act(Command::Close);
                }
            }
        >
            <div class="head">
                <div>
                    <h2 id="natter-title">
                        {text(move || ui.title.get().unwrap_or_else(|| ui.locale.get().strings().default_title.to_owned()))}
                    </h2>
                    <p class="greeting" hidden=when(move || ui.greeting.with(Option::is_none))>
                        {text(move || ui.greeting.get().unwrap_or_default())}
                    </p>
                </div>
                <button type="button" class="close" aria-label=tr(ui.locale, |s| s.close_chat) on:click=move |_| ui.act(Command::Close)>
                    "×"
                </button>
            </div>
            <p class="offline" role="status" hidden=when(move || !ui.offline.get())>
                {tr(ui.locale, |s| s.offline)}
            </p>
            <button
                type="button"
                class="earlier"
                data-natter="earlier"
                hidden=when(move || !ui.earlier.get())
                on:click=move |_| ui.act(Command::Earlier)
            >
                {tr(ui.locale, |s| s.earlier)}
            </button>
            <ol class="messages" node_ref=list aria-live="polite" aria-label=tr(ui.locale, |s| s.messages) tabindex="0">
                {move || {
                    let s = ui.locale.get().strings();
                    ui.entries.get().into_iter().map(|entry| message_item(entry, s)).collect_view()
                }}
            </ol>
            <p class="typing" aria-live="polite" hidden=when(move || !ui.typing.get())>
                {tr(ui.locale, |s| s.typing)}
            </p>
            <super::rating::Rating ui=ui />
            <super::away::Away ui=ui />
            <ContactForm ui=ui />
            <Composer ui=ui area=area />
        </section>
    }
}
