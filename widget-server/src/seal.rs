//! Third-party secrets at rest (webhook signing secrets today; channel
//! tokens, AI keys and identity secrets use the same): sealed with
//! ChaCha20-Poly1305 under a key from `NATTER_SECRET_KEY`, or from a key file
//! generated in the data directory. A database copied without the key gives
//! none of them away.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

/// What a sealed value starts with; anything else is an old plain value.
const PREFIX: &str = "sealed:v1:";
const NONCE_BYTES: usize = 12;
/// The shortest configured key accepted.
pub const MIN_KEY_BYTES: usize = 32;
/// The key file's name in the data directory.
const KEY_FILE: &str = "secret.key";
/// The value whose sealed form in the database tells whether a key is the right one.
const PROBE: &str = "natter secret key check";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("a sealed secret does not open with this key (is NATTER_SECRET_KEY the one it was sealed with?)")]
    WrongKey,
    #[error("a sealed secret is damaged")]
    Damaged,
}

/// Seals and opens secrets with one key.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer keyed by any secret text of at least [`MIN_KEY_BYTES`].
    pub fn from_secret(secret: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_KEY_BYTES,
            "NATTER_SECRET_KEY must be at least {MIN_KEY_BYTES} bytes (it is {})",
            secret.len()
        );
        let key = Sha256::new_with_prefix(b"natter secret key v1\0").chain_update(secret.as_bytes()).finalize();
        Ok(Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) })
    }

    /// The configured key, or the data directory's key file, created with
    /// a random key (readable by this user only) the first time.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(secret) = configured {
            return Self::from_secret(secret);
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(secret) => Self::from_secret(secret.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir)?;
                let secret = crate::domain::random_token() + &crate::domain::random_token();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        file.write_all(secret.as_bytes())?;
                        file.sync_all()?;
                        tracing::info!(path = %path.display(), "generated the key for secrets at rest; back it up with the database");
                        Self::from_secret(&secret)
                    }
                    // Another process made it first.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::from_secret(std::fs::read_to_string(&path)?.trim())
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    /// The sealed form of `plain`: a fresh nonce each time.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs of gigabytes.
        let sealed = self.cipher.encrypt(&nonce, plain.as_bytes()).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(bytes))
    }

    /// The plain value of a stored one; values stored before sealing existed
    /// come back as they are.
    pub fn open(&self, stored: &str) -> Result<String, SealError> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
        let bytes = B64.decode(encoded).map_err(|_| SealError::Damaged)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), sealed).map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SealError::Damaged)
    }

    /// Whether a stored value is sealed.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// A value to keep beside the secrets, and the check that this key
    /// opens it: a server started with the wrong key stops at once instead
    /// of failing at the first webhook.
    pub fn probe(&self) -> String {
        self.seal(PROBE)
    }

    pub fn opens_probe(&self, stored: &str) -> bool {
        Self::is_sealed(stored) && self.open(stored).is_ok_and(|p| p == PROBE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let sealer = Sealer::from_secret(KEY).expect("key");
        let sealed = sealer.seal("whsec_receiver secret");
        assert!(Sealer::is_sealed(&sealed) && !sealed.contains("receiver"), "{sealed}");
        assert_ne!(sealed, sealer.seal("whsec_receiver secret"), "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed).expect("opens"), "whsec_receiver secret");
        let other = Sealer::from_secret("another key another key another key").expect("key");
        assert!(matches!(other.open(&sealed), Err(SealError::WrongKey)));
        assert!(matches!(sealer.open("sealed:v1:!!"), Err(SealError::Damaged)));
        assert_eq!(sealer.open("an old plain value").expect("plain"), "an old plain value");
        assert!(sealer.opens_probe(&sealer.probe()) && !other.opens_probe(&sealer.probe()));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(Sealer::from_secret("short").is_err());
    }

    #[test]
    fn the_key_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().expect("dir");
        let first = Sealer::load_or_create(None, dir.path()).expect("created");
        let sealed = first.seal("x");
        let again = Sealer::load_or_create(None, dir.path()).expect("read back");
        assert_eq!(again.open(&sealed).expect("same key"), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).expect("file").permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read it: {mode:o}");
        }
    }
}
