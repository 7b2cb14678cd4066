//! After an operator closes the conversation: a 1–5 rating (a radio group)
//! with an optional comment, then a thank-you in its place. The form's
//! fields are plain markup read when it is sent, so the five choices cost no
//! reactive code.

use leptos::prelude::*;

use super::{field, text, tr, when};
use super::{Command, Ui, RATING_ASKED, RATING_NONE, RATING_THANKED};

#[component]
pub fn Rating(
    /// Signals of the widget.
    ui: Ui,
) -> impl IntoView {
    view! {
        <form
            class="rating"
            data-natter="rating"
            hidden=when(move || ui.rating.get() == RATING_NONE)
            on:submit=move |ev| {
                ev.prevent_default();
                if let Ok(score @ 1..=5) = field(&ev, "score").parse::<u8>() {
                    let comment = field(&ev, "comment");
                    ui.act(Command::Rate(score, comment));
                }
            }
        >
            <fieldset hidden=when(move || ui.rating.get() != RATING_ASKED)>
                <legend>{tr(ui.locale, |s| s.rate)}</legend>
                <div class="scores">
                    <label><input type="radio" name="score" value="1" /><span>"1"</span></label>
                    <label><input type="radio" name="score" value="2" /><span>"2"</span></label>
                    <label><input type="radio" name="score" value="3" /><span>"3"</span></label>
                    <label><input type="radio" name="score" value="4" /><span>"4"</span></label>
                    <label><input type="radio" name="score" value="5" /><span>"5"</span></label>
                </div>
                <textarea name="comment" rows="2" maxlength="1000" aria-label=tr(ui.locale, |s| s.comment) placeholder=tr(ui.locale, |s| s.comment)></textarea>
                <button type="submit" class="send">{tr(ui.locale, |s| s.send)}</button>
            </fieldset>
            <p role="status">
                {text(move || {
                    if ui.rating.get() == RATING_THANKED { ui.locale.get().strings().rate_thanks.to_owned() } else { String::new() }
                })}
            </p>
        </form>
    }
}
