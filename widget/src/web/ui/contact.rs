//! The contact form: name and phone, checked before they are sent.

use leptos::prelude::*;

use super::{field, text, tr, when};
use super::{Command, Ui};
use crate::contact::{Contact, ContactError};

#[component]
pub fn ContactForm(
    /// Signals of the widget.
    ui: Ui,
) -> impl IntoView {
    let error = RwSignal::new(None::<ContactError>);
    let message = text(move || {
        let s = ui.locale.get().strings();
        match error.get() {
            Some(ContactError::Name) => s.bad_name,
            Some(ContactError::Phone) => s.bad_phone,
            None => "",
        }
        .to_owned()
    });
    view! {
        <form
            class="contact"
            data-natter="contact-form"
            novalidate
            hidden=when(move || !ui.contact_form.get())
            on:submit=move |ev| {
                ev.prevent_default();
                match Contact::parse(&field(&ev, "name"), &field(&ev, "phone")) {
                    Ok(contact) => {
                        error.set(None);
                        ui.act(Command::Contact(contact));
                    }
                    Err(e) => error.set(Some(e)),
                }
            }
        >
            <p>{tr(ui.locale, |s| s.contact_intro)}</p>
            <label>
                <span>{tr(ui.locale, |s| s.name)}</span>
                <input name="name" autocomplete="name" required />
            </label>
            <label>
                <span>{tr(ui.locale, |s| s.phone)}</span>
                <input name="phone" type="tel" autocomplete="tel" required />
            </label>
            <p class="error" role="alert">{message}</p>
            <button type="submit" class="send">{tr(ui.locale, |s| s.submit_contact)}</button>
        </form>
    }
}
