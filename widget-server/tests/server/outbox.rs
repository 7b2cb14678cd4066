//! The webhook outbox under two servers sharing one database: every queued
//! event is claimed by exactly one of them.

use std::collections::HashSet;

use natter_server::seal::Sealer;
use natter_server::store::prelude::*;
use natter_server::store::{Account, OutboxItem, SqlStore, Webhook};

use crate::support::Db;

async fn every_outbox_row_is_claimed_by_exactly_one_instance(db: Db) {
    let dir = tempfile::tempdir().expect("dir");
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("outbox.db").display()),
        Db::Postgres => crate::postgres::fresh_database().await,
    };
    let a = SqlStore::connect(&url).await.expect("first instance");
    let b = SqlStore::connect(&url).await.expect("second instance");
    for store in [&a, &b] {
        let key = Sealer::from_secret("outbox-test-key-outbox-test-key-0").expect("key");
        store.seal_secrets_with(key).await.expect("the same key for both");
    }
    a.create_account(&Account { id: "acc".into(), name: "Acme".into(), created_ms: 0 }).await.expect("account");
    let hook = Webhook {
        id: "hook".into(),
        account_id: "acc".into(),
        url: "https://hooks.example/x".into(),
        events: vec!["message.received".into()],
        secret: "secret-secret-1234".into(),
        active: true,
        created_ms: 0,
    };
    a.save_webhook(&hook).await.expect("webhook");
    let items: Vec<OutboxItem> = (0..200)
        .map(|i| OutboxItem {
            id: format!("event-{i:03}"),
            webhook_id: "hook".into(),
            event: "message.received".into(),
            body: "{}".into(),
            attempt: 0,
            next_ms: 1_000,
        })
        .collect();
    a.enqueue_webhook_events(&items).await.expect("enqueue");

    let (from_a, from_b) = tokio::join!(claim_all(&a), claim_all(&b));
    let total = from_a.len() + from_b.len();
    let distinct: HashSet<&String> = from_a.iter().chain(&from_b).collect();
    assert_eq!(total, 200, "every row claimed once ({} + {})", from_a.len(), from_b.len());
    assert_eq!(distinct.len(), 200, "no row claimed twice");
    assert!(a.claim_webhook_events(50_000, 100_000, 10).await.expect("claim").is_empty(), "claimed rows are leased");
    let expired = b.claim_webhook_events(100_000, 200_000, 500).await.expect("claim");
    assert_eq!(expired.len(), 200, "a lease that ran out makes the row due again");
}

/// Claims due rows in small batches until none is left; returns their ids.
async fn claim_all(store: &SqlStore) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let batch = store.claim_webhook_events(2_000, 100_000, 7).await.expect("claim");
        if batch.is_empty() {
            return got;
        }
        got.extend(batch.into_iter().map(|i| i.id));
    }
}

crate::on_both_databases!(every_outbox_row_is_claimed_by_exactly_one_instance);
