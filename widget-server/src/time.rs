//! Timestamps: milliseconds since the Unix epoch inside, ISO 8601 (UTC,
//! millisecond precision) on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2024-01-20T10:30:00.000Z`.
pub fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp. A `+` offset decoded from a query string as a
/// space is accepted too.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc3339(&s.replace(' ', "+")))
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_has_millisecond_precision_and_z() {
        assert_eq!(iso(1_705_746_600_123), "2024-01-20T10:30:00.123Z");
    }

    #[test]
    fn parse_iso_reads_back_what_iso_writes() {
        assert_eq!(parse_iso(&iso(1_705_746_600_123)), Some(1_705_746_600_123));
    }

    #[test]
    fn parse_iso_accepts_offsets_and_a_space_for_plus() {
        assert_eq!(parse_iso("2024-01-20T12:30:00.000+02:00"), Some(1_705_746_600_000));
        assert_eq!(parse_iso("2024-01-20T12:30:00.000 02:00"), Some(1_705_746_600_000));
    }

    #[test]
    fn parse_iso_rejects_garbage() {
        assert_eq!(parse_iso("yesterday"), None);
    }
}
