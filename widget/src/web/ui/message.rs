//! One message: text (always as text, never HTML), time and, for the
//! visitor's own messages, delivery ticks. The list is drawn again when its
//! messages or the locale change, so nothing in one message is reactive:
//! labels are plain strings and parts a message lacks carry `hidden`
//! (cheaper in the wasm than optional or alternative views).

use leptos::prelude::*;
use natter_protocol::{ChatAttachment, FileType, MessageStatus, Sender};

use crate::i18n::Strings;
use crate::timeline::Entry;
use crate::web::dom::local_time;

/// The message `entry` with its labels from `s`.
pub fn message_item(entry: Entry, s: &'static Strings) -> impl IntoView {
    let m = entry.message;
    let time = local_time(&m.created_at);
    let pending = entry.pending;
    let not_own = m.sender != Sender::User;
    let status = m.status;
    let files = m.attachments;
    let no_files = files.is_empty();
    let (mark, label) = match (pending, status) {
        (true, _) => ("◷", s.sending),
        (false, MessageStatus::Sent) => ("✓", s.sent),
        (false, MessageStatus::Delivered) => ("✓✓", s.delivered),
        (false, MessageStatus::Read) => ("✓✓", s.read),
    };
    view! {
        <li class="message" data-natter="message" data-sender=m.sender.as_str() data-pending=pending.to_string()>
            <p class="text">{m.message_text}</p>
            <ul class="files" hidden=no_files>{files.into_iter().map(file).collect_view()}</ul>
            <span class="meta">
                <time datetime=m.created_at>{time}</time>
                <span class="ticks" hidden=not_own data-status=status.as_str() title=label aria-label=label>
                    {mark}
                </span>
            </span>
        </li>
    }
}

/// A file: an image as its preview, anything else as its name and size;
/// either opens the file (a signed link) in a new tab.
fn file(a: ChatAttachment) -> impl IntoView {
    let thumb = a.thumb_url.filter(|_| a.file_type == FileType::Image);
    let label =
        if thumb.is_some() { String::new() } else { format!("{} ({} KB)", a.file_name, (a.file_size + 1023) / 1024) };
    view! {
        <li>
            <a data-natter="attachment" href=a.data_url target="_blank" rel="noopener noreferrer">
                <img hidden=thumb.is_none() src=thumb alt=a.file_name />
                {label}
            </a>
        </li>
    }
}
