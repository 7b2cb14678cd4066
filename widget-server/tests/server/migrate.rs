//! Migrations carry an existing database forward: data made before accounts
//! existed lands in one account.

use natter_server::store::prelude::*;
use natter_server::store::SqlStore;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// Runs the SQLite migrations numbered below `before` on a fresh file.
async fn database_before(dir: &std::path::Path, before: &str) -> (String, SqlitePool) {
    let old = dir.join("old-migrations");
    std::fs::create_dir_all(&old).expect("dir");
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(all).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.as_str() < before {
            std::fs::copy(&path, old.join(&name)).expect("copy");
        }
    }
    let url = format!("sqlite://{}", dir.join("old.db").display());
    let opts: SqliteConnectOptions = url.parse::<SqliteConnectOptions>().expect("url").create_if_missing(true);
    let pool = SqlitePool::connect_with(opts).await.expect("pool");
    Migrator::new(old).await.expect("migrator").run(&pool).await.expect("old migrations");
    (url, pool)
}

#[tokio::test]
async fn a_database_from_before_accounts_moves_into_one_account() {
    let dir = tempfile::tempdir().expect("dir");
    let (url, pool) = database_before(dir.path(), "0004").await;
    for sql in [
        "INSERT INTO websites (id, name, token, api_secret, created_ms) VALUES ('w1', 'Shop', 'tok', 'sec', 1)",
        "INSERT INTO operators (id, email, name, password_hash, role, created_ms) VALUES ('o1', 'a@b.example', 'A', 'x', 'admin', 1)",
        "INSERT INTO sessions (id, website_id, user_session_id, token, created_ms, updated_ms) VALUES ('s1', 'w1', 'u1', 'st', 1, 1)",
        "INSERT INTO webhooks (id, url, events, secret, created_ms) VALUES ('h1', 'https://hooks.example/x', '[]', 'secret-secret-123', 1)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;

    let store = SqlStore::connect(&url).await.expect("migrates");
    let key = natter_server::seal::Sealer::from_secret("migrate-test-key-migrate-test-key").expect("key");
    store.seal_secrets_with(key).await.expect("seals the old secrets");
    let accounts = store.list_accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let account = &accounts[0].id;
    let website = store.website_by_id("w1").await.expect("read").expect("website");
    assert_eq!(&website.account_id, account);
    assert_eq!(&store.session_by_id("s1").await.expect("read").expect("session").account_id, account);
    assert_eq!(&store.operator_by_id("o1").await.expect("read").expect("operator").account_id, account);
    let hooks = store.list_webhooks(account).await.expect("hooks");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].secret, "secret-secret-123", "the old plain secret opens as it was");
}

#[tokio::test]
async fn an_empty_database_gets_no_account_until_one_is_needed() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let store = SqlStore::connect(&url).await.expect("migrates");
    assert!(store.list_accounts().await.expect("accounts").is_empty());
}
