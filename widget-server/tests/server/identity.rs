//! Identity verification: `userId` with `userHash` (the hex HMAC-SHA256 of
//! it under the website's identity secret) joins a signed-in user's
//! conversations across devices; a wrong hash is refused and links nothing;
//! a website can chat with signed-in users only.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{Db, TestApp};
use crate::webhooks::admin;

/// The website's identity secret, as an admin reads it in the channel settings.
async fn identity_secret(app: &TestApp) -> String {
    let token = admin(app).await;
    let res = app.http.get(app.url("/api/v1/channels")).bearer_auth(&token).send().await.expect("channels");
    let body: Value = res.json().await.expect("json");
    let widget = body["data"].as_array().expect("list").iter().find(|c| c["id"] == app.website.id.as_str()).cloned();
    widget.expect("the widget channel")["config"]["identity_secret"].as_str().expect("secret").to_owned()
}

/// What the site's backend computes.
fn user_hash(secret: &str, user_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(user_id.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

async fn customer_of(app: &TestApp, session_id: &str) -> (String, Option<String>) {
    let sql = format!(
        "SELECT c.id || ' ' || COALESCE(c.external_id, '-') FROM sessions s JOIN customers c ON c.id = s.customer_id \
         WHERE s.id = '{session_id}'"
    );
    let row = app.sql_texts(&sql).await.pop().expect("a customer");
    let (id, external) = row.split_once(' ').expect("two parts");
    (id.to_owned(), (external != "-").then(|| external.to_owned()))
}

async fn a_signed_user_is_one_verified_customer_on_every_device(db: Db) {
    let app = TestApp::spawn(db).await;
    let secret = identity_secret(&app).await;
    assert_eq!(secret.len(), 64);
    let hash = user_hash(&secret, "user-42");
    let mut sessions = Vec::new();
    for device in ["laptop", "phone"] {
        let body = json!({ "userSessionId": device, "userId": "user-42", "userHash": hash, "name": "Olena" });
        let reply = app.post_session(body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        sessions.push(reply.body["data"]["sessionId"].as_str().expect("id").to_owned());
    }
    let (laptop, phone) = (customer_of(&app, &sessions[0]).await, customer_of(&app, &sessions[1]).await);
    assert_eq!(laptop, phone, "both conversations belong to one customer");
    assert_eq!(laptop.1.as_deref(), Some("user-42"), "verified as the site's user");
}

async fn a_forged_hash_is_refused_and_links_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let secret = identity_secret(&app).await;
    let victim = app
        .post_session(
            json!({ "userSessionId": "victim", "userId": "user-42", "userHash": user_hash(&secret, "user-42") }),
        )
        .await;
    assert_eq!(victim.status, StatusCode::CREATED, "{}", victim.body);
    for forged in [user_hash(&secret, "user-43"), user_hash("a guess", "user-42"), "00".repeat(32), "not hex".into()] {
        let reply =
            app.post_session(json!({ "userSessionId": "attacker", "userId": "user-42", "userHash": forged })).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert_eq!(
            (reply.body["success"].clone(), reply.body["error"]["code"].clone()),
            (json!(false), json!("identity_not_verified"))
        );
    }
    let without = app.post_session(json!({ "userSessionId": "attacker", "userId": "user-42" })).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "a userId without its hash");
    let attacker = app.sql_texts("SELECT id FROM sessions WHERE user_session_id = 'attacker'").await;
    assert!(attacker.is_empty(), "no session was made for the forged identity: {attacker:?}");
    let long = app.post_session(json!({ "userSessionId": "x", "userId": "u".repeat(300), "userHash": "00" })).await;
    assert_eq!(
        (long.status, long.body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_user_id"))
    );
}

async fn a_website_can_require_signed_in_users(db: Db) {
    let app = TestApp::spawn(db).await;
    let secret = identity_secret(&app).await;
    natter_server::cli::update_website(
        app.state.store.as_ref(),
        &app.website.token,
        Some(r#"{"identityRequired": true}"#),
        vec![],
        None,
    )
    .await
    .expect("settings");
    app.state.websites.forget(&app.website).await;
    let anonymous = app.post_session(json!({ "userSessionId": "guest" })).await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN, "{}", anonymous.body);
    assert_eq!(anonymous.body["error"]["code"], "identity_required");
    let signed = app
        .post_session(json!({ "userSessionId": "member", "userId": "m-1", "userHash": user_hash(&secret, "m-1") }))
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.body);
}

crate::on_both_databases!(
    a_signed_user_is_one_verified_customer_on_every_device,
    a_forged_hash_is_refused_and_links_nothing,
    a_website_can_require_signed_in_users,
);
