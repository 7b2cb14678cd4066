//! Server-side bot replies from website settings: the greeting, the request
//! for contact details after the first visitor message, the "manager is
//! connecting" reply once details arrive, and the away message outside
//! business hours. They are stored messages, so every tab and device sees them.

use chrono::{Datelike, Timelike};
use natter_protocol::{BusinessHours, Sender};

use crate::chat::{sender_name, Chat, ChatResult};
use crate::store::{bot_flags, ChannelKind, NewMessage, Session, Website};
use crate::time::now_ms;

/// An away message is repeated at most this often within one session.
const AWAY_REPEAT_MS: i64 = 12 * 60 * 60 * 1000;

fn minutes_of(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60).then_some(h * 60 + m)
}

/// Whether `at_ms` falls inside the opening hours. Unparseable hours count as open.
pub fn is_open(hours: &BusinessHours, at_ms: i64) -> bool {
    let (Some(open), Some(close)) = (minutes_of(&hours.open), minutes_of(&hours.close)) else {
        return true;
    };
    let Some(local) = chrono::DateTime::from_timestamp_millis(at_ms + i64::from(hours.utc_offset_minutes) * 60_000)
    else {
        return true;
    };
    let weekday = u8::try_from(local.weekday().number_from_monday()).unwrap_or(0);
    let minute = local.hour() * 60 + local.minute();
    hours.days.contains(&weekday) && (open..close).contains(&minute)
}

/// Whether the website is open now (always, without business hours).
pub fn website_online(website: &Website) -> bool {
    website.settings.business_hours.as_ref().is_none_or(|h| is_open(h, now_ms()))
}

async fn say(chat: &Chat, website: &Website, session: &Session, sender: Sender, text: &str) -> ChatResult<()> {
    if text.trim().is_empty() {
        return Ok(());
    }
    let name = sender_name(website, session, sender, None);
    let message =
        NewMessage { session_id: &session.id, sender, body: text, manager_id: None, echo_id: None, attachments: &[] };
    chat.post(session, message, name).await?;
    Ok(())
}

/// A new widget session gets the greeting (on a messaging channel the
/// customer wrote first, so a greeting would answer nothing).
pub async fn on_session_created(chat: &Chat, website: &Website, session: &Session) -> ChatResult<()> {
    if website.kind == ChannelKind::Widget && chat.store().set_bot_flags(&session.id, bot_flags::GREETED).await? != 0 {
        say(chat, website, session, Sender::Bot, &website.settings.greeting).await?;
    }
    Ok(())
}

/// After a visitor message: ask for contact details once (on the widget: a
/// messaging channel knows who wrote), and say we are away when outside
/// business hours.
pub async fn after_visitor_message(chat: &Chat, website: &Website, session: &Session) -> ChatResult<()> {
    let settings = &website.settings;
    let has_contact = session.user_name.is_some() && session.user_phone.is_some();
    // The flag as loaded with the session spares the writer a transaction on
    // every later message; the store still decides atomically the first time.
    if settings.contact_form == "after-first-message"
        && website.kind == ChannelKind::Widget
        && !has_contact
        && session.bot_state & bot_flags::CONTACT_ASKED == 0
        && chat.store().set_bot_flags(&session.id, bot_flags::CONTACT_ASKED).await? != 0
    {
        say(chat, website, session, Sender::Bot, &settings.contact_request).await?;
    }
    let now = now_ms();
    let away = settings.business_hours.as_ref().is_some_and(|h| !is_open(h, now))
        || (settings.away_when_no_operator && chat.available_operators(&website.account_id).await?.is_empty());
    if away && session.away_sent_ms.is_none_or(|at| now - at >= AWAY_REPEAT_MS) {
        chat.store().set_away_sent(&session.id, now).await?;
        say(chat, website, session, Sender::Bot, &settings.away_message).await?;
    }
    Ok(())
}

/// When the visitor's name and phone are both known for the first time: a
/// system note with the details, then the "manager is connecting" reply.
pub async fn after_contact(chat: &Chat, website: &Website, session: &Session) -> ChatResult<()> {
    let (Some(name), Some(phone)) = (&session.user_name, &session.user_phone) else {
        return Ok(());
    };
    if chat.store().set_bot_flags(&session.id, bot_flags::CONNECTING_SENT).await? != 0 {
        say(chat, website, session, Sender::System, &format!("Contact details: {name}, {phone}")).await?;
        say(chat, website, session, Sender::Bot, &website.settings.connecting_message).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekdays_nine_to_six(offset: i32) -> BusinessHours {
        BusinessHours {
            utc_offset_minutes: offset,
            days: vec![1, 2, 3, 4, 5],
            open: "09:00".into(),
            close: "18:00".into(),
        }
    }

    /// 2024-01-22 was a Monday.
    fn monday_utc(h: u32, m: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(2024, 1, 22)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .map(|t| t.and_utc().timestamp_millis())
            .expect("valid time")
    }

    #[test]
    fn open_inside_the_hours_on_a_working_day() {
        assert!(is_open(&weekdays_nine_to_six(0), monday_utc(9, 0)));
        assert!(is_open(&weekdays_nine_to_six(0), monday_utc(17, 59)));
    }

    #[test]
    fn closed_at_the_closing_minute_and_before_opening() {
        assert!(!is_open(&weekdays_nine_to_six(0), monday_utc(18, 0)));
        assert!(!is_open(&weekdays_nine_to_six(0), monday_utc(8, 59)));
    }

    #[test]
    fn the_utc_offset_moves_the_hours() {
        // 07:30 UTC is 09:30 at UTC+2.
        assert!(is_open(&weekdays_nine_to_six(120), monday_utc(7, 30)));
        assert!(!is_open(&weekdays_nine_to_six(0), monday_utc(7, 30)));
    }

    #[test]
    fn closed_on_days_not_listed() {
        let sunday = monday_utc(12, 0) - 24 * 60 * 60 * 1000;
        assert!(!is_open(&weekdays_nine_to_six(0), sunday));
    }
}
