//! The composer: Enter sends, Shift+Enter starts a new line, the send
//! button is disabled while the text is empty. Files come from the attach
//! picker, a paste or a drop on the panel (listened to where the UI is
//! mounted); an upload shows its progress and a refused file says why.

use leptos::html;
use leptos::prelude::*;

use super::{text, tr, when};
use super::{Command, Ui, FILE_BAD_TYPE, FILE_NOT_SENT, FILE_TOO_LARGE};

#[component]
pub fn Composer(
    /// Signals of the widget.
    ui: Ui,
    /// The text area, for the panel's focus handling.
    area: NodeRef<html::Textarea>,
) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let submit = move || {
        let value = draft.get_untracked();
        if value.trim().is_empty() {
            return;
        }
        ui.act(Command::Typing(false));
        ui.act(Command::Send(value));
        draft.set(String::new());
    };
    view! {
        <form
            class="composer"
            data-natter="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                node_ref=area
                rows="1"
                aria-label=tr(ui.locale, |s| s.placeholder)
                placeholder=tr(ui.locale, |s| s.placeholder)
                prop:value=draft
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    let was_empty = draft.with_untracked(|t| t.is_empty());
                    if was_empty != value.is_empty() {
                        ui.act(Command::Typing(!value.is_empty()));
                    }
                    draft.set(value);
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <label class="attach">
                <input type="file" multiple data-natter="attach" aria-label=tr(ui.locale, |s| s.attach) />
                <svg viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M16 6v10a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10a1 1 0 0 1-2 0V6" />
                </svg>
            </label>
            <p class="file-note" role="status" data-natter="files" hidden=when(move || ui.files.get() == 0)>
                {text(move || {
                    let s = ui.locale.get().strings();
                    match ui.files.get() {
                        FILE_TOO_LARGE => s.too_large.to_owned(),
                        FILE_BAD_TYPE => s.bad_type.to_owned(),
                        FILE_NOT_SENT => s.not_sent.to_owned(),
                        percent => format!("{} {}%", s.sending, percent.saturating_sub(1)),
                    }
                })}
            </p>
            <button type="submit" class="send" data-natter="send" disabled=when(move || draft.with(|t| t.trim().is_empty()))>
                {tr(ui.locale, |s| s.send)}
            </button>
        </form>
    }
}
