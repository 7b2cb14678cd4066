//! Channels: a Telegram bot and a WhatsApp number connected through
//! `/api/v1/channels` against local fakes of both platforms' APIs, their
//! webhooks refused without the platform's secret, customers' messages
//! landing in the inbox, replies going out (in order, retried, or failed with
//! the platform's reason), and widget channels configured live.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode as AxumStatus, Uri};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::support::{Db, TestApp, PATIENCE};
use crate::webhooks::{admin, call};

const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const WA_NUMBER: &str = "106540352242922";
const WA_TOKEN: &str = "wa-access-token-0123456789";
const WA_APP_SECRET: &str = "wa-app-secret-0123456789";
const WA_VERIFY: &str = "wa-verify-token";

/// A request the fake platform received.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    auth: Option<String>,
    body: Value,
}

/// A local stand-in for the Telegram Bot API and the WhatsApp Cloud API:
/// it records every call and answers as the platform does; answers to
/// message sends can be scripted.
#[derive(Clone)]
struct Fake {
    base: String,
    calls: Arc<Mutex<Vec<Call>>>,
    arrived: Arc<Notify>,
    scripted: Arc<Mutex<VecDeque<(u16, Value)>>>,
}

impl Fake {
    async fn start() -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let scripted: Arc<Mutex<VecDeque<(u16, Value)>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let fake = Self { base, calls, arrived, scripted };
        let answering = fake.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let fake = answering.clone();
            async move { fake.answer(&method, &uri, &headers, &body) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn answer(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> axum::response::Response {
        let path = uri.path().to_owned();
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let n = {
            let mut calls = self.calls.lock().expect("calls");
            calls.push(Call { path: path.clone(), auth: auth.clone(), body });
            calls.len()
        };
        self.arrived.notify_waiters();
        let reply = |status: u16, body: Value| {
            (AxumStatus::from_u16(status).expect("status"), axum::Json(body)).into_response()
        };
        let is_send = path.ends_with("/sendMessage") || path.ends_with("/messages");
        if is_send {
            if let Some((status, body)) = self.scripted.lock().expect("script").pop_front() {
                return reply(status, body);
            }
        }
        if path.ends_with("/getMe") {
            if !path.contains(BOT_TOKEN) {
                return reply(401, json!({ "ok": false, "error_code": 401, "description": "Unauthorized" }));
            }
            return reply(
                200,
                json!({ "ok": true, "result": { "id": 123456789, "is_bot": true, "username": "natter_test_bot" } }),
            );
        }
        if path.ends_with("/setWebhook") {
            return reply(200, json!({ "ok": true, "result": true, "description": "Webhook was set" }));
        }
        if path.ends_with("/sendMessage") {
            return reply(200, json!({ "ok": true, "result": { "message_id": 1000 + n, "text": "" } }));
        }
        if auth.as_deref() != Some(&format!("Bearer {WA_TOKEN}")) {
            return reply(401, json!({ "error": { "message": "Invalid OAuth access token.", "code": 190 } }));
        }
        if *method == Method::GET && path.ends_with(WA_NUMBER) {
            return reply(
                200,
                json!({ "display_phone_number": "+1 555 0100", "verified_name": "Natter Test", "id": WA_NUMBER }),
            );
        }
        if path.ends_with("/messages") {
            let id = format!("wamid.out{}", self.calls_to("/messages").len());
            return reply(200, json!({ "messaging_product": "whatsapp", "messages": [{ "id": id }] }));
        }
        reply(404, json!({ "error": { "message": "unknown path" } }))
    }

    /// Scripts the next answers to message sends.
    fn script(&self, answers: impl IntoIterator<Item = (u16, Value)>) {
        self.scripted.lock().expect("script").extend(answers);
    }

    fn calls_to(&self, suffix: &str) -> Vec<Call> {
        self.calls.lock().expect("calls").iter().filter(|c| c.path.ends_with(suffix)).cloned().collect()
    }

    /// Waits until `count` calls to paths ending in `suffix` have arrived.
    async fn wait_for(&self, suffix: &str, count: usize) -> Vec<Call> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let arrived = self.arrived.notified();
                let calls = self.calls_to(suffix);
                if calls.len() >= count {
                    return calls;
                }
                arrived.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{count} calls to …{suffix} in time; got {:?}", self.calls_to(suffix)))
    }
}

async fn connect_telegram(app: &TestApp, token: &str, fake: &Fake) -> Value {
    let body = json!({ "type": "telegram", "name": "Support bot", "config": { "bot_token": BOT_TOKEN, "api_base_url": fake.base } });
    let (status, created) = call(app, reqwest::Method::POST, "/api/v1/channels", token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["data"].clone()
}

fn telegram_update(update_id: i64, message_id: i64, chat: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id, "date": 1_760_000_000,
            "from": { "id": chat, "is_bot": false, "first_name": "Olena", "last_name": "Koval", "username": "olenak" },
            "chat": { "id": chat, "type": "private", "first_name": "Olena" },
            "text": text,
        }
    })
}

async fn post_update(app: &TestApp, channel_id: &str, secret: Option<&str>, update: &Value) -> StatusCode {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(secret) = secret {
        headers.push(("x-telegram-bot-api-secret-token", secret));
    }
    app.post_raw(&format!("/hooks/telegram/{channel_id}"), &headers, update.to_string()).await.status
}

/// The conversations of a channel kind, through the inbox filter.
async fn inbox(app: &TestApp, token: &str, channel: &str) -> Value {
    let path = format!("/api/v1/conversations?channel={channel}");
    let (status, list) = call(app, reqwest::Method::GET, &path, token, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

/// Polls a conversation's messages until `done` holds for them.
async fn messages_until(app: &TestApp, token: &str, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let path = format!("/api/v1/conversations/{id}/messages");
    tokio::time::timeout(PATIENCE, async {
        loop {
            let (_, list) = call(app, reqwest::Method::GET, &path, token, None).await;
            let messages = list["data"].as_array().cloned().unwrap_or_default();
            if done(&messages) {
                return messages;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("the messages reach the expected state in time")
}

fn delivery_of<'a>(messages: &'a [Value], content: &str) -> &'a Value {
    &messages.iter().find(|m| m["content"] == content).expect("the reply")["metadata"]["delivery"]
}

async fn a_telegram_bot_is_connected_and_answered_from_the_inbox(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let fake = Fake::start().await;
    let channel = connect_telegram(&app, &token, &fake).await;
    let id = channel["id"].as_str().expect("id");
    assert_eq!(channel["type"], "telegram");
    assert_eq!(channel["config"]["bot_username"], "@natter_test_bot");
    assert!(!channel.to_string().contains(BOT_TOKEN), "the token is never shown: {channel}");

    let hook = fake.wait_for("/setWebhook", 1).await.remove(0);
    assert!(hook.path.contains(BOT_TOKEN));
    assert!(hook.body["url"].as_str().expect("url").ends_with(&format!("/hooks/telegram/{id}")), "{:?}", hook.body);
    let secret = hook.body["secret_token"].as_str().expect("secret").to_owned();
    assert!(secret.len() >= 32);
    let stored = app.sql_texts(&format!("SELECT secrets FROM websites WHERE id = '{id}'")).await;
    assert!(!stored[0].contains(BOT_TOKEN) && !stored[0].contains(&secret), "credentials are sealed at rest");

    let (_, channels) = call(&app, reqwest::Method::GET, "/api/v1/channels", &token, None).await;
    let kinds: Vec<&str> =
        channels["data"].as_array().expect("list").iter().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(kinds, ["widget", "telegram"]);
    assert_eq!(channels["data"][0]["config"]["website_token"], app.website.token.as_str());

    let update = telegram_update(1, 10, 4242, "Привіт! Where is my order?");
    assert_eq!(post_update(&app, id, None, &update).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post_update(&app, id, Some("wrong"), &update).await, StatusCode::UNAUTHORIZED);
    assert!(inbox(&app, &token, "telegram").await["data"].as_array().expect("list").is_empty());
    assert_eq!(post_update(&app, id, Some(&secret), &update).await, StatusCode::OK);
    assert_eq!(post_update(&app, id, Some(&secret), &update).await, StatusCode::OK, "a redelivery is fine");
    let ghost = "/hooks/telegram/00000000-0000-0000-0000-000000000000";
    assert_eq!(
        app.post_raw(ghost, &[("x-telegram-bot-api-secret-token", &secret)], update.to_string()).await.status,
        StatusCode::NOT_FOUND
    );

    let list = inbox(&app, &token, "telegram").await;
    assert_eq!(list["meta"]["total"], 1, "{list}");
    let conversation = &list["data"][0];
    assert_eq!(conversation["channel"], "telegram");
    assert_eq!(conversation["customer"]["name"], "Olena Koval");
    assert_eq!(conversation["last_message"]["content"], "Привіт! Where is my order?");
    let widget = inbox(&app, &token, "widget").await;
    assert!(widget["data"].as_array().expect("list").iter().all(|c| c["channel"] == "widget"));
    let conversation_id = conversation["id"].as_str().expect("id").to_owned();
    let messages = messages_until(&app, &token, &conversation_id, |_| true).await;
    assert_eq!(messages.len(), 1, "stored once, and no widget greeting: {messages:?}");

    for text in ["It ships today.", "Tracking follows."] {
        let path = format!("/api/v1/conversations/{conversation_id}/messages");
        let (status, sent) = call(&app, reqwest::Method::POST, &path, &token, Some(json!({ "content": text }))).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(sent["data"]["metadata"]["delivery"]["status"], "pending");
    }
    let sends = fake.wait_for("/sendMessage", 2).await;
    let texts: Vec<&Value> = sends.iter().map(|c| &c.body["text"]).collect();
    assert_eq!(texts, [&json!("It ships today."), &json!("Tracking follows.")], "in order");
    assert!(sends.iter().all(|c| c.body["chat_id"] == 4242));
    let messages = messages_until(&app, &token, &conversation_id, |m| {
        m.iter().filter(|m| m["metadata"]["delivery"]["status"] == "sent").count() == 2
    })
    .await;
    assert!(delivery_of(&messages, "It ships today.")["error"].is_null());

    // The same person in a second message thread is the same customer.
    let later = telegram_update(2, 11, 4242, "Thanks!");
    assert_eq!(post_update(&app, id, Some(&secret), &later).await, StatusCode::OK);
    assert_eq!(inbox(&app, &token, "telegram").await["meta"]["total"], 1);
}

async fn telegram_refusals_and_outages_show_on_the_reply(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let fake = Fake::start().await;
    let channel = connect_telegram(&app, &token, &fake).await;
    let id = channel["id"].as_str().expect("id");
    let secret = fake.wait_for("/setWebhook", 1).await[0].body["secret_token"].as_str().expect("secret").to_owned();
    assert_eq!(post_update(&app, id, Some(&secret), &telegram_update(1, 1, 77, "hello")).await, StatusCode::OK);
    let conversation_id = inbox(&app, &token, "telegram").await["data"][0]["id"].as_str().expect("id").to_owned();
    let reply = |text: &'static str| {
        let (app, token, path) = (&app, token.clone(), format!("/api/v1/conversations/{conversation_id}/messages"));
        async move { call(app, reqwest::Method::POST, &path, &token, Some(json!({ "content": text }))).await }
    };

    // An outage: retried until Telegram takes it; the next reply waits behind it.
    let outage = json!({ "ok": false, "error_code": 502, "description": "Bad Gateway" });
    fake.script([(502, outage.clone()), (502, outage)]);
    reply("first").await;
    reply("second").await;
    let sends = fake.wait_for("/sendMessage", 4).await;
    let texts: Vec<&str> = sends.iter().filter_map(|c| c.body["text"].as_str()).collect();
    assert_eq!(texts, ["first", "first", "first", "second"]);
    let messages = messages_until(&app, &token, &conversation_id, |m| {
        m.iter().filter(|m| m["metadata"]["delivery"]["status"] == "sent").count() == 2
    })
    .await;
    assert_eq!(delivery_of(&messages, "first")["attempts"], 3);

    // A refusal for good: failed at once, with Telegram's reason.
    fake.script([(
        403,
        json!({ "ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user" }),
    )]);
    reply("third").await;
    let messages = messages_until(&app, &token, &conversation_id, |m| {
        m.iter().any(|m| m["metadata"]["delivery"]["status"] == "failed")
    })
    .await;
    let failed = delivery_of(&messages, "third");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["error"], "Telegram: Forbidden: bot was blocked by the user");
}

async fn connecting_refuses_what_cannot_work(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let fake = Fake::start().await;
    let create = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move { call(app, reqwest::Method::POST, "/api/v1/channels", &token, Some(body)).await }
    };
    let (status, body) = create(json!({ "type": "telegram", "name": "Bot", "config": {} })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("VALIDATION_ERROR")));
    let (status, _) = create(json!({ "type": "telegram", "name": "Bot", "config": { "bot_token": "nonsense" } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (status, body) = create(
        json!({ "type": "telegram", "name": "Bot", "config": { "bot_token": wrong, "api_base_url": fake.base } }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "CHANNEL_CONNECT_FAILED");
    assert_eq!(body["detail"], "Telegram: Unauthorized");
    let (status, _) = create(json!({ "type": "fax", "name": "Fax", "config": {} })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = create(json!({ "type": "telegram", "name": "", "config": { "bot_token": BOT_TOKEN } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let agent = app.login().await.access_token;
    let body =
        json!({ "type": "telegram", "name": "Bot", "config": { "bot_token": BOT_TOKEN, "api_base_url": fake.base } });
    let (status, _) = call(&app, reqwest::Method::POST, "/api/v1/channels", &agent, Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, channels) = call(&app, reqwest::Method::GET, "/api/v1/channels", &agent, None).await;
    assert_eq!(channels["data"].as_array().map(Vec::len), Some(1), "nothing was connected");

    // Without --allow-private-webhooks a platform address inside the network is refused.
    let strict = TestApp::spawn_with(db, |c| c.allow_private_webhooks = false).await;
    let token = admin(&strict).await;
    let body =
        json!({ "type": "telegram", "name": "Bot", "config": { "bot_token": BOT_TOKEN, "api_base_url": fake.base } });
    let (status, body) = call(&strict, reqwest::Method::POST, "/api/v1/channels", &token, Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().expect("detail").contains("private"), "{body}");
}

fn wa_signature(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WA_APP_SECRET.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn wa_notification(value: Value) -> String {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": value }] }] })
        .to_string()
}

async fn a_whatsapp_number_verifies_its_webhook_and_answers_customers(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let fake = Fake::start().await;
    let config = json!({
        "phone_number_id": WA_NUMBER, "access_token": WA_TOKEN, "app_secret": WA_APP_SECRET,
        "verify_token": WA_VERIFY, "api_base_url": fake.base,
    });
    let mut wrong = config.clone();
    wrong["access_token"] = json!("expired");
    let body = json!({ "type": "whatsapp", "name": "WhatsApp", "config": wrong });
    let (status, refused) = call(&app, reqwest::Method::POST, "/api/v1/channels", &token, Some(body)).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("CHANNEL_CONNECT_FAILED")));
    assert_eq!(refused["detail"], "WhatsApp: Invalid OAuth access token.");

    let body = json!({ "type": "whatsapp", "name": "WhatsApp", "config": config });
    let (status, created) = call(&app, reqwest::Method::POST, "/api/v1/channels", &token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let channel = &created["data"];
    assert_eq!(channel["config"]["display_phone_number"], "+1 555 0100");
    for secret in [WA_TOKEN, WA_APP_SECRET, WA_VERIFY] {
        assert!(!created.to_string().contains(secret), "credentials are never shown");
    }
    let id = channel["id"].as_str().expect("id");
    let hook = format!("/hooks/whatsapp/{id}");

    let handshake = |token: &str, challenge: &str| {
        format!("{hook}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge={challenge}")
    };
    let ok = app.get_raw(&handshake(WA_VERIFY, "ch4llenge_1158201444"), &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, "ch4llenge_1158201444");
    assert!(ok.headers["content-type"].to_str().expect("type").starts_with("text/plain"));
    assert_eq!(app.get_raw(&handshake("guess", "1158201444"), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get_raw(&handshake(WA_VERIFY, "%3Cscript%3E"), &[]).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    let inbound = wa_notification(json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100", "phone_number_id": WA_NUMBER },
        "contacts": [{ "profile": { "name": "Taras" }, "wa_id": "380501234567" }],
        "messages": [{ "from": "380501234567", "id": "wamid.HBgMMzgwNTAxMjM0NTY3FQIAEhgUM0E=", "timestamp": "1760000000", "type": "text", "text": { "body": "Добрий день" } }],
    }));
    let unsigned = app.post_raw(&hook, &[("content-type", "application/json")], inbound.clone()).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let forged = app.post_raw(&hook, &[("x-hub-signature-256", &wa_signature("{}"))], inbound.clone()).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let signature = wa_signature(&inbound);
    for _ in 0..2 {
        let res = app
            .post_raw(
                &hook,
                &[("x-hub-signature-256", &signature), ("content-type", "application/json")],
                inbound.clone(),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let list = inbox(&app, &token, "whatsapp").await;
    assert_eq!(list["meta"]["total"], 1, "{list}");
    assert_eq!(list["data"][0]["customer"]["name"], "Taras");
    let conversation_id = list["data"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(messages_until(&app, &token, &conversation_id, |_| true).await.len(), 1, "stored once");

    let path = format!("/api/v1/conversations/{conversation_id}/messages");
    call(&app, reqwest::Method::POST, &path, &token, Some(json!({ "content": "Вітаю! Чим допомогти?" }))).await;
    let sent = fake.wait_for("/messages", 1).await.remove(0);
    assert_eq!(sent.path, format!("/{WA_NUMBER}/messages"));
    assert_eq!(sent.auth.as_deref(), Some(format!("Bearer {WA_TOKEN}").as_str()));
    assert_eq!(sent.body["to"], "380501234567");
    assert_eq!(sent.body["text"]["body"], "Вітаю! Чим допомогти?");
    messages_until(&app, &token, &conversation_id, |m| m.iter().any(|m| m["metadata"]["delivery"]["status"] == "sent"))
        .await;

    // Meta reports later that the reply could not be delivered.
    let wamid = "wamid.out".to_owned() + &fake.calls_to("/messages").len().to_string();
    let status = wa_notification(json!({
        "metadata": { "phone_number_id": WA_NUMBER },
        "statuses": [{ "id": wamid, "status": "failed", "recipient_id": "380501234567",
                       "errors": [{ "code": 131047, "title": "Re-engagement message", "message": "More than 24 hours have passed since the customer last replied" }] }],
    }));
    let res = app.post_raw(&hook, &[("x-hub-signature-256", &wa_signature(&status))], status.clone()).await;
    assert_eq!(res.status, StatusCode::OK);
    let messages = messages_until(&app, &token, &conversation_id, |m| {
        m.iter().any(|m| m["metadata"]["delivery"]["status"] == "failed")
    })
    .await;
    let failed = delivery_of(&messages, "Вітаю! Чим допомогти?");
    assert_eq!(failed["error"], "WhatsApp: More than 24 hours have passed since the customer last replied");
}

async fn a_widget_channel_is_configured_live(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let path = format!("/api/v1/channels/{}", app.website.id);
    let body = json!({ "name": "Main site", "config": { "greeting": "Вітаємо! Чим допомогти?", "color": "#0f766e" } });
    let (status, updated) = call(&app, reqwest::Method::PUT, &path, &token, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["name"], "Main site");
    assert_eq!(updated["data"]["config"]["color"], "#0f766e");
    let session = app.session("live-config").await;
    assert_eq!(session.messages[0].message_text, "Вітаємо! Чим допомогти?", "the next visitor is greeted with it");

    for bad in [json!({ "color": "red;background:url(x)" }), json!({ "greting": "typo" }), json!({ "position": "top" })]
    {
        let (status, body) = call(&app, reqwest::Method::PUT, &path, &token, Some(json!({ "config": bad }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (status, created) = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/channels",
        &token,
        Some(json!({ "type": "widget", "name": "Docs site", "config": { "origins": ["https://docs.example.com"] } })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["data"]["config"]["website_token"].as_str().expect("token").starts_with("pk_live_"));
    assert_eq!(created["data"]["config"]["origins"], json!(["https://docs.example.com"]));

    // A messaging channel's row is no widget: its token opens no session.
    let fake = Fake::start().await;
    connect_telegram(&app, &token, &fake).await;
    let bot_token = app.sql_texts("SELECT token FROM websites WHERE kind = 'telegram'").await.remove(0);
    let res = app
        .post_raw("/api/public/chat/sessions", &[("x-api-key", &bot_token), ("content-type", "application/json")], "{}")
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    let other = "/api/v1/channels/00000000-0000-0000-0000-000000000000";
    let (status, _) = call(&app, reqwest::Method::PUT, other, &token, Some(json!({ "name": "x" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A messaging channel is renamed, and its settings checked again on change:
/// a bad token is refused and the channel keeps working as it was; a
/// WhatsApp address inside the network is refused like a Telegram one.
async fn a_messaging_channel_is_renamed_and_reconfigured_with_the_same_checks(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let fake = Fake::start().await;
    let channel = connect_telegram(&app, &token, &fake).await;
    let path = format!("/api/v1/channels/{}", channel["id"].as_str().expect("id"));
    let (status, renamed) =
        call(&app, reqwest::Method::PUT, &path, &token, Some(json!({ "name": "Orders bot" }))).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        (renamed["data"]["name"].as_str(), renamed["data"]["type"].as_str()),
        (Some("Orders bot"), Some("telegram"))
    );
    let bad = json!({ "config": { "bot_token": "1:not-the-right-token-at-all-xx", "api_base_url": fake.base } });
    let (status, refused) = call(&app, reqwest::Method::PUT, &path, &token, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (_, channels) = call(&app, reqwest::Method::GET, "/api/v1/channels", &token, None).await;
    let kept =
        channels["data"].as_array().expect("list").iter().find(|c| c["id"] == channel["id"]).cloned().expect("kept");
    assert_eq!(kept["name"], "Orders bot");
    assert_eq!(kept["config"]["bot_username"], channel["config"]["bot_username"], "still the same bot");
    assert!(!kept.to_string().contains(BOT_TOKEN), "the token is never shown");

    let strict = TestApp::spawn_with(db, |c| c.allow_private_webhooks = false).await;
    let token = admin(&strict).await;
    let config = json!({
        "phone_number_id": WA_NUMBER, "access_token": WA_TOKEN, "app_secret": WA_APP_SECRET,
        "verify_token": WA_VERIFY, "api_base_url": fake.base,
    });
    let body = json!({ "type": "whatsapp", "name": "WhatsApp", "config": config });
    let (status, body) = call(&strict, reqwest::Method::POST, "/api/v1/channels", &token, Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().expect("detail").contains("private"), "{body}");
    assert!(fake.calls_to(WA_NUMBER).is_empty(), "nothing was asked of that address");
}

crate::on_both_databases!(
    a_telegram_bot_is_connected_and_answered_from_the_inbox,
    telegram_refusals_and_outages_show_on_the_reply,
    connecting_refuses_what_cannot_work,
    a_whatsapp_number_verifies_its_webhook_and_answers_customers,
    a_widget_channel_is_configured_live,
    a_messaging_channel_is_renamed_and_reconfigured_with_the_same_checks,
);
