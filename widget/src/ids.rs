//! Client-chosen identifiers (`userSessionId`, `echoId`) made from random
//! bytes, in the characters the server accepts.

/// `prefix` followed by the bytes in lowercase hex.
pub fn client_key(prefix: &str, bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(prefix.len() + bytes.len() * 2);
    out.push_str(prefix);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_prefix_and_hex_of_the_bytes() {
        assert_eq!(client_key("v_", &[0, 15, 255]), "v_000fff");
    }

    #[test]
    fn keys_use_only_characters_the_server_accepts() {
        let key = client_key("e_", &[7; 16]);
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)));
        assert_eq!(key.len(), 34);
    }
}
