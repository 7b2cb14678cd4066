//! The launcher with its unread badge and the chat panel.

use leptos::html;
use leptos::prelude::*;

use super::composer::Composer;
use super::contact::ContactForm;
use super::message::MessageItem;
use crate::web::controller::Ui;
use crate::web::exports::dispatch;

#[component]
pub fn App(
    /// Signals of the widget.
    ui: Ui,
) -> impl IntoView {
    let launcher = NodeRef::<html::Button>::new();
    // Focus returns to the launcher when the panel closes.
    Effect::new(move |was_open: Option<bool>| {
        let open = ui.open.get();
        if was_open == Some(true) && !open {
            if let Some(button) = launcher.get() {
                let _ = button.focus();
            }
        }
        open
    });
    let strings = move || ui.locale.get().strings();
    let has_unread = move || ui.unread.get() > 0;
    view! {
        <Show when=move || ui.open.get()>
            <Panel ui=ui />
        </Show>
        <Show when=move || ui.shown.get()>
            <button
                type="button"
                class="launcher"
                data-natter="launcher"
                node_ref=launcher
                aria-label=move || if ui.open.get() { strings().close_chat } else { strings().open_chat }
                aria-expanded=move || ui.open.get().to_string()
                on:click=move |_| dispatch(|c| c.toggle())
            >
                <svg viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M4 4h16v11H8l-4 4z" />
                </svg>
                <Show when=has_unread>
                    <span class="badge" data-natter="unread" aria-label=move || format!("{} {}", ui.unread.get(), strings().unread)>
                        {move || ui.unread.get()}
                    </span>
                </Show>
            </button>
        </Show>
    }
}

#[component]
fn Panel(
    /// Signals of the widget.
    ui: Ui,
) -> impl IntoView {
    let strings = move || ui.locale.get().strings();
    let list = NodeRef::<html::Ol>::new();
    // Keep the newest message in view.
    Effect::new(move |_| {
        ui.entries.track();
        ui.typing.track();
        if let Some(list) = list.get() {
            list.set_scroll_top(list.scroll_height());
        }
    });
    view! {
        <section
            class="panel"
            data-natter="panel"
            role="dialog"
            aria-labelledby="natter-title"
            lang=move || ui.locale.get().code()
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    dispatch(|c| c.close());
                }
            }
        >
            <header>
                <div>
                    <h2 id="natter-title">{move || ui.title.get().unwrap_or_else(|| strings().default_title.to_owned())}</h2>
                    <Show when=move || ui.greeting.with(Option::is_some)>
                        <p class="greeting">{move || ui.greeting.get()}</p>
                    </Show>
                </div>
                <button type="button" class="close" aria-label=move || strings().close_chat on:click=move |_| dispatch(|c| c.close())>
                    "×"
                </button>
            </header>
            <Show when=move || ui.offline.get()>
                <p class="offline" role="status">{move || strings().offline}</p>
            </Show>
            <ol class="messages" node_ref=list role="log" aria-live="polite" aria-label=move || strings().messages tabindex="0">
                <For
                    each=move || ui.entries.get()
                    key=|e| format!("{}:{}", e.message.id, e.message.status.as_str())
                    children=move |entry| view! { <MessageItem entry=entry locale=ui.locale /> }
                />
            </ol>
            <Show when=move || ui.typing.get()>
                <p class="typing" aria-live="polite">{move || strings().typing}</p>
            </Show>
            <Show when=move || ui.contact_form.get()>
                <ContactForm ui=ui />
            </Show>
            <Composer ui=ui />
        </section>
    }
}
