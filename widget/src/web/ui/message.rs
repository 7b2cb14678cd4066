//! One message: text (always as text, never HTML), time and, for the
//! visitor's own messages, delivery ticks.

use leptos::prelude::*;
use natter_protocol::{MessageStatus, Sender};

use crate::i18n::Locale;
use crate::timeline::Entry;
use crate::web::dom::local_time;

#[component]
pub fn MessageItem(
    /// The message to show.
    entry: Entry,
    /// Language of the tick labels.
    locale: RwSignal<Locale>,
) -> impl IntoView {
    let m = entry.message;
    let time = local_time(&m.created_at);
    let pending = entry.pending;
    let status = m.status;
    let own = m.sender == Sender::User;
    let ticks = move || {
        let s = locale.get().strings();
        match (pending, status) {
            (true, _) => ("◷", s.sending),
            (false, MessageStatus::Sent) => ("✓", s.sent),
            (false, MessageStatus::Delivered) => ("✓✓", s.delivered),
            (false, MessageStatus::Read) => ("✓✓", s.read),
        }
    };
    view! {
        <li class="message" data-natter="message" data-sender=m.sender.as_str() data-pending=pending.to_string()>
            <p class="text">{m.message_text}</p>
            <span class="meta">
                <time datetime=m.created_at>{time}</time>
                <Show when=move || own>
                    <span class="ticks" data-status=status.as_str() title=move || ticks().1 aria-label=move || ticks().1>
                        {move || ticks().0}
                    </span>
                </Show>
            </span>
        </li>
    }
}
