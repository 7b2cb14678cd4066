//! One message: text (always as text, never HTML), time and, for the
//! visitor's own messages, delivery ticks.

use leptos::either::Either;
use leptos::prelude::*;
use natter_protocol::{ChatAttachment, FileType, MessageStatus, Sender};

use super::tr;
use crate::i18n::{Locale, Strings};
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
    let files = m.attachments;
    let (mark, label): (&str, fn(&'static Strings) -> &'static str) = match (pending, status) {
        (true, _) => ("◷", |s| s.sending),
        (false, MessageStatus::Sent) => ("✓", |s| s.sent),
        (false, MessageStatus::Delivered) => ("✓✓", |s| s.delivered),
        (false, MessageStatus::Read) => ("✓✓", |s| s.read),
    };
    view! {
        <li class="message" data-natter="message" data-sender=m.sender.as_str() data-pending=pending.to_string()>
            <p class="text">{m.message_text}</p>
            {(!files.is_empty()).then(|| view! {
                <ul class="files">{files.into_iter().map(file).collect_view()}</ul>
            })}
            <span class="meta">
                <time datetime=m.created_at>{time}</time>
                {own.then(|| view! {
                    <span class="ticks" data-status=status.as_str() title=tr(locale, label) aria-label=tr(locale, label)>
                        {mark}
                    </span>
                })}
            </span>
        </li>
    }
}

/// A file: an image as its preview, anything else as its name and size;
/// either opens the file (a signed link) in a new tab.
fn file(a: ChatAttachment) -> impl IntoView {
    let shown = match a.thumb_url {
        Some(thumb) if a.file_type == FileType::Image => Either::Left(view! { <img src=thumb alt=a.file_name /> }),
        _ => Either::Right(format!("{} ({} KB)", a.file_name, (a.file_size + 1023) / 1024)),
    };
    view! {
        <li>
            <a data-natter="attachment" href=a.data_url target="_blank" rel="noopener noreferrer">{shown}</a>
        </li>
    }
}
