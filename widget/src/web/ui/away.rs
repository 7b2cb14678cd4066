//! Outside business hours, or with no operator online: the visitor leaves an
//! e-mail address to be answered at later.

use leptos::prelude::*;

use super::{field, text, tr, when};
use super::{Command, Ui};

#[component]
pub fn Away(
    /// Signals of the widget.
    ui: Ui,
) -> impl IntoView {
    let wrong = RwSignal::new(false);
    view! {
        <form
            class="contact"
            data-natter="away"
            novalidate
            hidden=when(move || !ui.away.get())
            on:submit=move |ev| {
                ev.prevent_default();
                let email = crate::contact::email(&field(&ev, "email"));
                wrong.set(email.is_none());
                if let Some(email) = email {
                    ui.act(Command::Email(email));
                }
            }
        >
            <p>{tr(ui.locale, |s| s.away_intro)}</p>
            <label>
                <span>{tr(ui.locale, |s| s.email)}</span>
                <input name="email" type="email" autocomplete="email" required />
            </label>
            <p class="error" role="alert">
                {text(move || if wrong.get() { ui.locale.get().strings().bad_email.to_owned() } else { String::new() })}
            </p>
            <button type="submit" class="send">{tr(ui.locale, |s| s.submit_contact)}</button>
        </form>
    }
}
