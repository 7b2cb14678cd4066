//! Widget configuration from `data-*` attribute names (`website-token`) or
//! `init({...})` keys (`websiteToken`): parsed once into typed values.

use std::fmt;

use crate::i18n::Locale;

/// Which side of the page the launcher sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Position {
    #[default]
    Right,
    Left,
}

/// Which realtime transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportMode {
    /// WebSocket first, polling while the socket is down.
    #[default]
    Auto,
    WebSocket,
    Polling,
}

/// When to ask for the visitor's name and phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContactForm {
    Off,
    #[default]
    AfterFirstMessage,
    BeforeChat,
}

/// Where the session is remembered between page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    #[default]
    Local,
    Session,
    None,
}

/// A CSS colour that is safe to put in a style sheet: `#rgb` or `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub fn parse(value: &str) -> Option<Self> {
        let hex = value.trim().strip_prefix('#')?;
        let ok = matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit());
        ok.then(|| Self(format!("#{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything the host page can set.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub website_token: String,
    /// Origin of the Natter server, e.g. `https://chat.example.com`; the page's own origin when absent.
    pub server: Option<String>,
    pub position: Position,
    pub color: Option<Color>,
    pub title: Option<String>,
    pub greeting: Option<String>,
    /// The browser's language decides when absent.
    pub locale: Option<Locale>,
    pub transport: TransportMode,
    pub poll_interval_ms: u32,
    pub open: bool,
    pub hide_launcher: bool,
    /// A short tone when a reply comes while the widget is closed or the tab hidden.
    pub sound: bool,
    /// The website's setting on the server decides when absent.
    pub contact_form: Option<ContactForm>,
    pub storage: StorageKind,
}

/// Default polling interval.
pub const DEFAULT_POLL_MS: u32 = 2_000;
/// Polling faster than this would only load the server.
pub const MIN_POLL_MS: u32 = 500;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    MissingWebsiteToken,
    Invalid { name: String, value: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingWebsiteToken => f.write_str("website-token is required"),
            Self::Invalid { name, value } => write!(f, "`{value}` is not a valid value for {name}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `websiteToken` → `website-token`; names already in kebab case are kept.
pub fn kebab_name(name: &str) -> String {
    let name = name.strip_prefix("data-").unwrap_or(name);
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn flag(value: &str) -> Option<bool> {
    match value.trim() {
        "" | "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Reads `2000`, `2000ms` or `2s`, no less than [`MIN_POLL_MS`].
fn poll_interval(value: &str) -> Option<u32> {
    let value = value.trim();
    let ms = match value.strip_suffix("ms") {
        Some(ms) => ms.trim().parse::<u32>().ok()?,
        None => match value.strip_suffix('s') {
            Some(secs) => seconds_to_ms(secs.trim())?,
            None => value.parse::<u32>().ok()?,
        },
    };
    Some(ms.max(MIN_POLL_MS))
}

/// `2`, `2.5` or `.25` seconds in whole milliseconds (digits past the third
/// decimal place are dropped), without floating point.
fn seconds_to_ms(secs: &str) -> Option<u32> {
    let (whole, fraction) = secs.split_once('.').unwrap_or((secs, ""));
    if whole.is_empty() && fraction.is_empty() || !(whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())) {
        return None;
    }
    let whole: u32 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let millis = fraction.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0, |n, b| n * 10 + u32::from(b - b'0'));
    whole.checked_mul(1000)?.checked_add(millis)
}

impl Config {
    /// A configuration with defaults for everything but the token.
    pub fn new(website_token: impl Into<String>) -> Self {
        Self {
            website_token: website_token.into(),
            server: None,
            position: Position::Right,
            color: None,
            title: None,
            greeting: None,
            locale: None,
            transport: TransportMode::Auto,
            poll_interval_ms: DEFAULT_POLL_MS,
            open: false,
            hide_launcher: false,
            sound: false,
            contact_form: None,
            storage: StorageKind::Local,
        }
    }

    /// Builds a configuration from `(name, value)` pairs. Unknown names are
    /// ignored (a script tag carries other attributes); known names with bad
    /// values are refused.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::new(String::new());
        for (name, value) in pairs {
            config.set(&kebab_name(name.as_ref()), value.as_ref())?;
        }
        if config.website_token.trim().is_empty() {
            return Err(ConfigError::MissingWebsiteToken);
        }
        Ok(config)
    }

    /// Sets one option by its kebab-case name.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let invalid = || ConfigError::Invalid { name: name.to_owned(), value: value.to_owned() };
        let v = value.trim();
        match name {
            "website-token" => self.website_token = v.to_owned(),
            "server" => self.server = non_empty(v).map(|s| s.trim_end_matches('/').to_owned()),
            "position" => {
                self.position = match v {
                    "right" => Position::Right,
                    "left" => Position::Left,
                    _ => return Err(invalid()),
                }
            }
            "color" => self.color = Some(Color::parse(v).ok_or_else(invalid)?),
            "title" => self.title = non_empty(v),
            "greeting" => self.greeting = non_empty(v),
            "locale" => self.locale = Some(Locale::parse(v).ok_or_else(invalid)?),
            "transport" => {
                self.transport = match v {
                    "auto" => TransportMode::Auto,
                    "websocket" => TransportMode::WebSocket,
                    "polling" => TransportMode::Polling,
                    _ => return Err(invalid()),
                }
            }
            "poll-interval" => self.poll_interval_ms = poll_interval(v).ok_or_else(invalid)?,
            "open" => self.open = flag(v).ok_or_else(invalid)?,
            "hide-launcher" => self.hide_launcher = flag(v).ok_or_else(invalid)?,
            "sound" => self.sound = flag(v).ok_or_else(invalid)?,
            "contact-form" => {
                self.contact_form = Some(match v {
                    "off" => ContactForm::Off,
                    "after-first-message" => ContactForm::AfterFirstMessage,
                    "before-chat" => ContactForm::BeforeChat,
                    _ => return Err(invalid()),
                })
            }
            "storage" => {
                self.storage = match v {
                    "local" => StorageKind::Local,
                    "session" => StorageKind::Session,
                    "none" => StorageKind::None,
                    _ => return Err(invalid()),
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn data_attribute_names_set_every_option() {
        let c = parse(&[
            ("data-website-token", "tok"),
            ("data-server", "https://chat.example.com/"),
            ("data-position", "left"),
            ("data-color", "#0A7"),
            ("data-title", "Support"),
            ("data-greeting", "Hi!"),
            ("data-locale", "uk"),
            ("data-transport", "polling"),
            ("data-poll-interval", "3s"),
            ("data-open", ""),
            ("data-hide-launcher", "true"),
            ("data-sound", "true"),
            ("data-contact-form", "before-chat"),
            ("data-storage", "session"),
        ])
        .expect("valid config");
        assert_eq!(c.website_token, "tok");
        assert_eq!(c.server.as_deref(), Some("https://chat.example.com"));
        assert_eq!(c.position, Position::Left);
        assert_eq!(c.color.as_ref().map(Color::as_str), Some("#0a7"));
        assert_eq!(c.title.as_deref(), Some("Support"));
        assert_eq!(c.greeting.as_deref(), Some("Hi!"));
        assert_eq!(c.locale, Some(Locale::Uk));
        assert_eq!(c.transport, TransportMode::Polling);
        assert_eq!(c.poll_interval_ms, 3000);
        assert!(c.open && c.hide_launcher && c.sound);
        assert_eq!(c.contact_form, Some(ContactForm::BeforeChat));
        assert_eq!(c.storage, StorageKind::Session);
    }

    #[test]
    fn camel_case_init_keys_mean_the_same_as_attribute_names() {
        let c = parse(&[("websiteToken", "tok"), ("pollInterval", "2500"), ("hideLauncher", "false")])
            .expect("valid config");
        assert_eq!(c.website_token, "tok");
        assert_eq!(c.poll_interval_ms, 2500);
        assert!(!c.hide_launcher);
    }

    #[test]
    fn defaults_apply_when_only_the_token_is_given() {
        let c = parse(&[("website-token", "tok")]).expect("valid config");
        assert_eq!(c, Config::new("tok"));
        assert_eq!(c.poll_interval_ms, DEFAULT_POLL_MS);
        assert_eq!(c.transport, TransportMode::Auto);
        assert_eq!(c.storage, StorageKind::Local);
    }

    #[test]
    fn a_missing_token_is_refused() {
        assert_eq!(parse(&[("title", "x")]), Err(ConfigError::MissingWebsiteToken));
        assert_eq!(parse(&[("website-token", "  ")]), Err(ConfigError::MissingWebsiteToken));
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        for (name, value) in [
            ("position", "top"),
            ("transport", "carrier-pigeon"),
            ("storage", "cookie"),
            ("contact-form", "maybe"),
            ("locale", "de"),
            ("open", "perhaps"),
            ("poll-interval", "soon"),
        ] {
            let err = parse(&[("website-token", "tok"), (name, value)]).expect_err(name);
            assert_eq!(err, ConfigError::Invalid { name: name.into(), value: value.into() });
        }
    }

    #[test]
    fn colours_that_could_escape_a_style_sheet_are_refused() {
        assert!(Color::parse("#12345g").is_none());
        assert!(Color::parse("red;} body{display:none").is_none());
        assert!(Color::parse("#abcd").is_none());
        assert_eq!(Color::parse(" #ABCDEF ").map(|c| c.0), Some("#abcdef".into()));
    }

    #[test]
    fn poll_intervals_in_seconds_may_have_a_fraction() {
        for (value, ms) in
            [("2.5s", 2500), ("1.25 s", 1250), (".75s", 750), ("3.s", 3000), ("1.0005s", 1000), ("4s", 4000)]
        {
            let c = parse(&[("website-token", "tok"), ("poll-interval", value)]).expect(value);
            assert_eq!(c.poll_interval_ms, ms, "{value}");
        }
        for value in [".s", "1.2.3s", "-1s", "1e3s", "s", "99999999s"] {
            assert!(parse(&[("website-token", "tok"), ("poll-interval", value)]).is_err(), "{value}");
        }
    }

    #[test]
    fn poll_intervals_below_the_floor_are_raised() {
        let c = parse(&[("website-token", "tok"), ("poll-interval", "10ms")]).expect("valid config");
        assert_eq!(c.poll_interval_ms, MIN_POLL_MS);
    }

    #[test]
    fn unknown_attributes_are_ignored() {
        assert!(parse(&[("website-token", "tok"), ("data-foo", "bar"), ("load", "idle")]).is_ok());
    }
}
