//! The contact form: name and phone, checked before they are sent.

use leptos::prelude::*;

use crate::contact::{Contact, ContactError};
use crate::web::controller::Ui;
use crate::web::exports::dispatch;

#[component]
pub fn ContactForm(
    /// Signals of the widget.
    ui: Ui,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let phone = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ContactError>);
    let strings = move || ui.locale.get().strings();
    let message = move || {
        error.get().map(|e| match e {
            ContactError::Name => strings().bad_name,
            ContactError::Phone => strings().bad_phone,
        })
    };
    view! {
        <form
            class="contact"
            data-natter="contact-form"
            novalidate
            on:submit=move |ev| {
                ev.prevent_default();
                match Contact::parse(&name.get_untracked(), &phone.get_untracked()) {
                    Ok(contact) => {
                        error.set(None);
                        dispatch(move |c| c.submit_contact(contact));
                    }
                    Err(e) => error.set(Some(e)),
                }
            }
        >
            <p>{move || strings().contact_intro}</p>
            <label>
                <span>{move || strings().name}</span>
                <input name="name" autocomplete="name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label>
                <span>{move || strings().phone}</span>
                <input name="phone" type="tel" autocomplete="tel" required prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev)) />
            </label>
            <p class="error" role="alert">{message}</p>
            <button type="submit" class="send">{move || strings().submit_contact}</button>
        </form>
    }
}
