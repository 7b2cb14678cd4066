//! Identity verification, as Intercom and Chatwoot do it: the site's own
//! backend signs its user's id, `userHash = hex(HMAC-SHA256(identity secret,
//! userId))`, and the widget sends both. A verified id marks the visitor's
//! customer verified and joins the user's conversations across devices; a
//! wrong hash is refused and links nothing.
//!
//! Each website's identity secret is derived from its API secret (an HMAC of
//! a fixed label under it), so it needs no storage of its own, cannot be
//! turned back into the API secret, and changes when the API secret does.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::store::Website;

type HmacSha256 = Hmac<Sha256>;

/// The longest `userId` taken (bytes).
pub const MAX_USER_ID: usize = 256;

fn mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// The website's identity secret (64 hex digits), for the site's backend.
pub fn secret(website: &Website) -> String {
    let mut m = mac(website.api_secret.as_bytes());
    m.update(b"natter identity verification");
    hex::encode(m.finalize().into_bytes())
}

/// The HMAC of `user_id` under the website's identity secret.
fn signed(website: &Website, user_id: &str) -> HmacSha256 {
    let mut m = mac(secret(website).as_bytes());
    m.update(user_id.as_bytes());
    m
}

/// The `userHash` the site's backend computes for `user_id`.
pub fn user_hash(website: &Website, user_id: &str) -> String {
    hex::encode(signed(website, user_id).finalize().into_bytes())
}

/// Why an identity was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `userId` where the website requires one.
    Required,
    /// A `userId` without a `userHash`, or one that is not its HMAC.
    Forged,
    /// An empty or over-long `userId`.
    BadId,
}

/// The verified user id of a request, `None` when it names none (and the
/// website does not require one).
pub fn verify<'a>(website: &Website, user_id: Option<&'a str>, hash: Option<&str>) -> Result<Option<&'a str>, Refused> {
    let Some(user_id) = user_id else {
        return if website.settings.identity_required { Err(Refused::Required) } else { Ok(None) };
    };
    if user_id.trim().is_empty() || user_id.len() > MAX_USER_ID || user_id.chars().any(char::is_control) {
        return Err(Refused::BadId);
    }
    let given = hash.and_then(|h| hex::decode(h.trim()).ok()).ok_or(Refused::Forged)?;
    // Constant time: the comparison tells nothing of how much of a guess was right.
    signed(website, user_id).verify_slice(&given).map_err(|_| Refused::Forged)?;
    Ok(Some(user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn website(api_secret: &str, required: bool) -> Website {
        let mut w = crate::store::Website {
            id: "w".into(),
            account_id: "a".into(),
            name: "Shop".into(),
            token: "pk".into(),
            api_secret: api_secret.into(),
            origins: vec![],
            settings: Default::default(),
            legacy_mode: false,
            created_ms: 0,
            kind: crate::store::ChannelKind::Widget,
            config: serde_json::json!({}),
            secrets: serde_json::json!({}),
        };
        w.settings.identity_required = required;
        w
    }

    #[test]
    fn the_hash_is_the_hmac_of_the_user_id_under_the_identity_secret() {
        let w = website("s3cret", false);
        let mut m = mac(secret(&w).as_bytes());
        m.update(b"user-42");
        assert_eq!(user_hash(&w, "user-42"), hex::encode(m.finalize().into_bytes()));
        assert_eq!(secret(&w).len(), 64);
        assert_ne!(secret(&w), secret(&website("other", false)), "each website has its own");
    }

    #[test]
    fn only_the_right_hash_verifies() {
        let w = website("s3cret", false);
        let good = user_hash(&w, "user-42");
        assert_eq!(verify(&w, Some("user-42"), Some(&good)), Ok(Some("user-42")));
        assert_eq!(verify(&w, Some("user-42"), Some(&good.to_uppercase())), Ok(Some("user-42")), "hex in any case");
        assert_eq!(verify(&w, Some("user-43"), Some(&good)), Err(Refused::Forged));
        assert_eq!(verify(&w, Some("user-42"), None), Err(Refused::Forged));
        assert_eq!(verify(&w, Some("user-42"), Some("zz")), Err(Refused::Forged));
        let other = user_hash(&website("other", false), "user-42");
        assert_eq!(verify(&w, Some("user-42"), Some(&other)), Err(Refused::Forged), "another website's hash");
        assert_eq!(verify(&w, Some(" "), Some(&good)), Err(Refused::BadId));
        assert_eq!(verify(&w, Some(&"x".repeat(MAX_USER_ID + 1)), Some(&good)), Err(Refused::BadId));
        assert_eq!(verify(&w, None, None), Ok(None), "anonymous visitors are welcome");
        assert_eq!(verify(&website("s3cret", true), None, None), Err(Refused::Required));
    }
}
