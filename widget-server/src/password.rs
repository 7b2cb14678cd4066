//! Operator passwords: argon2id hashes with a random salt, and a dummy hash
//! so that a login for an unknown e-mail costs a full verification too.
//! Requests hash on the blocking pool, a few at a time, so sign-in attempts
//! never hold the async workers that answer everything else.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::domain::random_token;

/// Hashes a password with argon2id and a random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

/// Whether `password` matches a stored hash.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// At most this many hashes at once: half the cores, so the other half
/// keeps serving while someone guesses passwords.
fn hashing() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cores.div_ceil(2))
    })
}

/// Runs `work` on the blocking pool once a hashing slot is free.
async fn off_the_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let _slot = hashing().acquire().await?;
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// [`hash`] off the async workers.
pub async fn hash_off_workers(password: String) -> anyhow::Result<String> {
    off_the_workers(move || hash(&password)).await?
}

/// [`verify`] off the async workers; `None` as the hash checks against
/// [`dummy_hash`] and fails, at the same cost.
pub async fn verify_off_workers(password: String, hash: Option<String>) -> bool {
    off_the_workers(move || match hash {
        Some(hash) => verify(&password, &hash),
        None => {
            let _ = verify(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// A real hash of a random password, so unknown emails cost a full verification.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash(&random_token()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse").expect("hash");
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong horse", &stored));
        assert!(!verify("correct horse", dummy_hash()));
        assert!(!verify("anything", "not a hash"));
    }
}
