//! Signed download links. A link names one attachment (and whether it is
//! the file or its thumbnail), the conversation it belongs to and when it
//! stops working, under an HMAC of the server's secret: it needs no session
//! token, cannot be turned into a link to another file or conversation, and
//! is renewed whenever a message is rendered again (history, webhooks).

use std::time::Duration;

use hmac::{Hmac, Mac};
use natter_protocol::ChatAttachment;
use sha2::Sha256;

use crate::store::Attachment;

/// Links are valid this long by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Expiry times are rounded up to this, so one message renders to the same
/// links for a while (frames rendered once serve every socket).
const ROUNDING_SECS: i64 = 3600;

/// What a link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    File,
    Thumb,
}

impl Variant {
    fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Thumb => "thumb",
        }
    }
}

/// Why a link is not honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link has expired: open the conversation again for a fresh one")]
    Expired,
    #[error("the link is not valid")]
    Forged,
}

/// Makes and checks links.
#[derive(Clone)]
pub struct Links {
    key: [u8; 32],
    base: String,
    ttl: Duration,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links").field("base", &self.base).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

impl Links {
    /// Links under `base` (the public URL), keyed from the server's `secret`.
    pub fn new(secret: &[u8], base: &str, ttl: Duration) -> Self {
        let mut m = mac(secret);
        m.update(b"natter attachment links v1");
        Self { key: m.finalize().into_bytes().into(), base: base.trim_end_matches('/').to_owned(), ttl }
    }

    fn signature(&self, a: &Attachment, variant: Variant, expires: i64) -> String {
        let mut m = mac(&self.key);
        for part in [a.id.as_str(), a.session_id.as_str(), variant.as_str(), &expires.to_string()] {
            m.update(part.as_bytes());
            m.update(b"\n");
        }
        m.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn expiry(&self, now_s: i64) -> i64 {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 4);
        (now_s.saturating_add(ttl)).div_euclid(ROUNDING_SECS).saturating_add(1).saturating_mul(ROUNDING_SECS)
    }

    /// The link to `a` (or its thumbnail), valid from `now_s` (Unix seconds).
    pub fn url(&self, a: &Attachment, variant: Variant, now_s: i64) -> String {
        let expires = self.expiry(now_s);
        let name: String = url::form_urlencoded::byte_serialize(a.file_name.as_bytes()).collect();
        let thumb = if variant == Variant::Thumb { "thumb=1&" } else { "" };
        format!(
            "{}/files/{}/{}?{thumb}expires={expires}&signature={}",
            self.base,
            a.id,
            name.replace('+', "%20"),
            self.signature(a, variant, expires)
        )
    }

    /// Whether a request for `a` with these query values may be answered at `now_s`.
    pub fn check(
        &self,
        a: &Attachment,
        variant: Variant,
        expires: i64,
        signature: &str,
        now_s: i64,
    ) -> Result<(), LinkError> {
        let expected = self.signature(a, variant, expires);
        if !crate::extract::secrets_match(&expected, signature) {
            return Err(LinkError::Forged);
        }
        if expires <= now_s {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// `a` as the native API shows it, with links fresh from now.
    pub fn chat(&self, a: &Attachment) -> ChatAttachment {
        self.chat_at(a, crate::time::now_ms() / 1000)
    }

    fn chat_at(&self, a: &Attachment, now_s: i64) -> ChatAttachment {
        ChatAttachment {
            id: a.id.clone(),
            message_id: a.message_id.clone(),
            account_id: a.account_id.clone(),
            file_type: a.file_type,
            extension: a.extension.clone(),
            file_name: a.file_name.clone(),
            file_size: a.file_size,
            data_url: self.url(a, Variant::File, now_s),
            thumb_url: a.thumb.as_ref().map(|_| self.url(a, Variant::Thumb, now_s)),
            fallback_title: a.file_name.clone(),
        }
    }

    /// `a` in the Novatalks and operator shape.
    pub fn event(&self, a: &Attachment) -> natter_protocol::ws::Attachment {
        self.chat(a).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::FileType;

    fn attachment(id: &str, session: &str) -> Attachment {
        Attachment {
            id: id.into(),
            message_id: Some("m".into()),
            session_id: session.into(),
            account_id: "acc".into(),
            blob: "ab".repeat(32),
            thumb: Some("cd".repeat(32)),
            thumb_mime: Some("image/jpeg".into()),
            file_type: FileType::Image,
            mime: "image/png".into(),
            extension: "png".into(),
            file_name: "a photo #1.png".into(),
            file_size: 10,
            created_ms: 0,
        }
    }

    fn query(url: &str) -> (i64, String) {
        let q = url.split_once('?').expect("query").1;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).expect("field");
        (get("expires").parse().expect("number"), get("signature"))
    }

    #[test]
    fn a_link_opens_its_own_file_until_it_expires() {
        let links = Links::new(b"server secret of some length", "https://chat.example/", DEFAULT_TTL);
        let a = attachment("att-1", "session-1");
        let url = links.url(&a, Variant::File, 1_000_000);
        assert!(url.starts_with("https://chat.example/files/att-1/a%20photo%20%231.png?expires="), "{url}");
        let (expires, signature) = query(&url);
        assert!(expires >= 1_000_000 + 7 * 24 * 3600);
        assert_eq!(links.check(&a, Variant::File, expires, &signature, 1_000_001), Ok(()));
        assert_eq!(links.check(&a, Variant::File, expires, &signature, expires), Err(LinkError::Expired));
        assert_eq!(
            links.check(&a, Variant::File, expires + 3600, &signature, 0),
            Err(LinkError::Forged),
            "a later expiry is a forgery"
        );
        assert_eq!(links.check(&a, Variant::Thumb, expires, &signature, 0), Err(LinkError::Forged));
    }

    #[test]
    fn a_link_does_not_open_another_file_or_conversation() {
        let links = Links::new(b"server secret of some length", "", DEFAULT_TTL);
        let a = attachment("att-1", "session-1");
        let (expires, signature) = query(&links.url(&a, Variant::File, 0));
        assert_eq!(
            links.check(&attachment("att-2", "session-1"), Variant::File, expires, &signature, 0),
            Err(LinkError::Forged)
        );
        assert_eq!(
            links.check(&attachment("att-1", "session-2"), Variant::File, expires, &signature, 0),
            Err(LinkError::Forged)
        );
        let other_server = Links::new(b"another secret", "", DEFAULT_TTL);
        assert_eq!(other_server.check(&a, Variant::File, expires, &signature, 0), Err(LinkError::Forged));
    }

    #[test]
    fn renders_within_the_hour_give_the_same_links() {
        let links = Links::new(b"k", "", DEFAULT_TTL);
        let a = attachment("att-1", "s");
        assert_eq!(links.url(&a, Variant::File, 7_200), links.url(&a, Variant::File, 7_200 + 1_000));
    }
}
