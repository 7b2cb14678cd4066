//! The composer: Enter sends, Shift+Enter starts a new line, the send
//! button is disabled while the text is empty.

use leptos::html;
use leptos::prelude::*;

use super::{tr, when};
use crate::web::controller::Ui;
use crate::web::exports::dispatch;

#[component]
pub fn Composer(
    /// Signals of the widget.
    ui: Ui,
    /// The text area, for the panel's focus handling.
    area: NodeRef<html::Textarea>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let submit = move || {
        let value = text.get_untracked();
        if value.trim().is_empty() {
            return;
        }
        dispatch(move |c| {
            c.typing(false);
            if let Err(e) = c.send(&value) {
                c.emit_error("send", &format!("{e:?}"));
            }
        });
        text.set(String::new());
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
                prop:value=text
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    let was_empty = text.with_untracked(|t| t.is_empty());
                    if was_empty != value.is_empty() {
                        dispatch(|c| c.typing(!value.is_empty()));
                    }
                    text.set(value);
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" class="send" data-natter="send" disabled=when(move || text.with(|t| t.trim().is_empty()))>
                {tr(ui.locale, |s| s.send)}
            </button>
        </form>
    }
}
