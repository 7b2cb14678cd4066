//! Parsed input: newtypes that can only hold valid values.

use crate::error::AppError;

fn validation(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::Validation(code, message.into())
}

/// Message text: not blank, within the configured length, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(text: &str, max_chars: usize) -> Result<Self, AppError> {
        if text.trim().is_empty() {
            return Err(validation("message_empty", "message must not be empty"));
        }
        let chars = text.chars().count();
        if chars > max_chars {
            return Err(validation(
                "message_too_long",
                format!("message is {chars} characters; the limit is {max_chars}"),
            ));
        }
        if text.contains('\0') {
            return Err(validation("message_invalid", "message must not contain NUL characters"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The text of a message that may be files only: with files, blank text is no text.
    pub fn parse_with_files(text: &str, max_chars: usize, files: usize) -> Result<Self, AppError> {
        if files > 0 && text.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(text, max_chars)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Invisible formatting characters that change how text around them is
/// shown: bidi embeddings, overrides and isolates, zero-width characters,
/// the byte-order mark. In a name they only serve to disguise it.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}')
}

/// A person's name: 1–100 characters after trimming, without control or
/// invisible formatting characters (those are dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(name: &str) -> Result<Self, AppError> {
        if name.len() > 1024 {
            return Err(validation("invalid_name", "name must be 1 to 100 characters"));
        }
        let visible: String = name.chars().filter(|&c| !is_invisible_format(c)).collect();
        let name = visible.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
            return Err(validation("invalid_name", "name must be 1 to 100 characters"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number: digits with optional `+`, spaces, dashes, dots and
/// brackets; 7–15 digits, 32 characters at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(phone: &str) -> Result<Self, AppError> {
        let phone = phone.trim();
        if phone.len() > Self::MAX_CHARS {
            return Err(validation("invalid_phone", "phone must be at most 32 characters"));
        }
        let allowed = |c: char| c.is_ascii_digit() || " -().".contains(c);
        let shape_ok = match phone.strip_prefix('+') {
            Some(rest) => rest.chars().all(allowed),
            None => phone.chars().all(allowed),
        };
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !shape_ok || !(7..=15).contains(&digits) {
            return Err(validation("invalid_phone", "phone must be 7 to 15 digits, optionally starting with +"));
        }
        Ok(Self(phone.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address in the plain `local@domain.tld` shape: the local part
/// of letters, digits and the RFC 5322 `atext` signs (no quotes, brackets,
/// angle brackets, colons or spaces), the domain of dot-separated labels of
/// letters, digits and hyphens. Markup cannot hide in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(email: &str) -> Result<Self, AppError> {
        let email = email.trim();
        let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok =
            |local: &str| local.len() <= 64 && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext));
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        let valid = email.len() <= 254
            && matches!(email.split_once('@'), Some((local, domain))
                if local_ok(local) && domain.contains('.') && domain.split('.').all(label_ok));
        if !valid {
            return Err(validation("invalid_email", "email must look like name@example.com"));
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client-chosen key (`userSessionId`, `echoId`): 1–128 characters of
/// letters, digits and `-_.:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn parse(field: &'static str, key: &str) -> Result<Self, AppError> {
        let ok =
            !key.is_empty() && key.len() <= 128 && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !ok {
            return Err(validation(
                "invalid_key",
                format!("{field} must be 1 to 128 characters of letters, digits and -_.:"),
            ));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh random secret token (192 bits, URL-safe base64).
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_rejects_blank_text() {
        assert!(MessageText::parse("   \n", 10).is_err());
    }

    #[test]
    fn message_text_counts_characters_not_bytes() {
        assert!(MessageText::parse("привіт", 6).is_ok());
        assert!(MessageText::parse("привіт!", 6).is_err());
    }

    #[test]
    fn message_text_keeps_markup_as_it_was_written() {
        let text = MessageText::parse("<b>hi</b>", 100).expect("valid");
        assert_eq!(text.as_str(), "<b>hi</b>");
    }

    #[test]
    fn phone_accepts_international_formats() {
        assert!(Phone::parse("+380 (12) 345-67-89").is_ok());
        assert!(Phone::parse("0123456789").is_ok());
    }

    #[test]
    fn phone_rejects_letters_and_short_numbers() {
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("+12").is_err());
        assert!(Phone::parse("12+345678").is_err());
    }

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Olena ").expect("valid").as_str(), "Olena");
        assert!(PersonName::parse(" ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn names_lose_bidi_overrides_and_invisible_characters() {
        let spoof = "\u{202E}gnp.exe\u{202C} Bob\u{200B}";
        assert_eq!(PersonName::parse(spoof).expect("valid").as_str(), "gnp.exe Bob");
        assert!(PersonName::parse("\u{2066}\u{200D}\u{FEFF}").is_err(), "nothing visible is left");
        assert_eq!(PersonName::parse("Ольга Шевченко").expect("valid").as_str(), "Ольга Шевченко");
        assert_eq!(PersonName::parse("مريم").expect("valid").as_str(), "مريم", "right-to-left names stay");
    }

    #[test]
    fn phones_are_short() {
        let padded = format!("+1 {}555 123 4567", "-".repeat(40));
        assert!(Phone::parse(&padded).is_err());
        assert!(Phone::parse("+1 (555) 123-4567").is_ok());
    }

    #[test]
    fn email_needs_a_domain_with_a_dot() {
        assert!(Email::parse("a@example.com").is_ok());
        assert!(Email::parse("a@localhost").is_err());
        assert!(Email::parse("a b@example.com").is_err());
    }

    #[test]
    fn email_takes_the_usual_addresses_and_no_markup() {
        for good in ["ann.lee+chat@shop.example", "o'brien@example.ie", "олена@приклад.укр", "x_y-z@sub.example-1.com"]
        {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "\"><svg/onload=alert(1)>@evil.example.com",
            "<img src=x>@example.com",
            "javascript:alert(1)//@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a@exa_mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_key_rejects_spaces_and_overlong_keys() {
        assert!(ClientKey::parse("echoId", "user_17_abc-9").is_ok());
        assert!(ClientKey::parse("echoId", "has space").is_err());
        assert!(ClientKey::parse("echoId", &"k".repeat(129)).is_err());
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
