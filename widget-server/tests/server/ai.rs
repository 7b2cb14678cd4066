//! AI: settings with a write-only key, the builtin provider answering from
//! the knowledge base with no network, an OpenAI-compatible and an
//! Anthropic fake receiving the system prompt, the passages and the
//! question, and a provider that is down answering 502 `AI_PROVIDER_ERROR`.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::knowledge::{form, upload, FAQ};
use crate::support::{Db, TestApp};
use crate::webhooks::{admin, call};

/// A fake model server: records each request (headers of interest and body) and answers `reply`.
async fn fake_model(reply: &'static str) -> (String, Arc<Mutex<Vec<(HeaderMap, Value)>>>) {
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
        let record = Arc::clone(&record);
        async move {
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            record.lock().expect("lock").push((headers, body));
            if uri.path().ends_with("/chat/completions") {
                axum::Json(json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": reply } }] }))
            } else {
                axum::Json(json!({ "content": [{ "type": "text", "text": reply }], "role": "assistant" }))
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

/// A conversation whose visitor asked `question`.
async fn asked(app: &TestApp, question: &str) -> String {
    let s = app.session(&format!("asks-{}", question.len())).await;
    app.send_ok(&s, question).await;
    s.session_id
}

async fn generate(app: &TestApp, token: &str, conversation: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/v1/ai/generate",
        token,
        Some(json!({ "conversation_id": conversation, "context_messages": 10 })),
    )
    .await
}

async fn settings_keep_the_key_to_themselves(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (status, s) = call(&app, Method::GET, "/api/v1/ai/settings", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(
        (s["provider"].as_str(), s["auto_respond"].as_bool(), s["confidence_threshold"].as_f64()),
        (Some("builtin"), Some(false), Some(0.6))
    );
    assert_eq!(s["api_key_set"], false);
    let change = json!({ "provider": "openai", "model": "gpt-4o-mini", "api_key": "sk-secret-key-0123456789", "base_url": "http://127.0.0.1:9/v1", "temperature": 0.2 });
    let (status, s) = call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!((s["provider"].as_str(), s["api_key_set"].as_bool()), (Some("openai"), Some(true)));
    assert!(!s.to_string().contains("sk-secret"), "the key is never shown");
    let stored = app.sql_texts("SELECT api_key FROM ai_settings").await;
    assert!(!stored[0].contains("sk-secret"), "sealed at rest");
    for bad in [
        json!({ "provider": "yandex" }),
        json!({ "temperature": 3 }),
        json!({ "confidence_threshold": 1.5 }),
        json!({ "system_prompt": "" }),
        json!({ "base_url": "ftp://x" }),
    ] {
        let (status, body) = call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let agent = app.login().await.access_token;
    let (status, _) =
        call(&app, Method::PUT, "/api/v1/ai/settings", &agent, Some(json!({ "auto_respond": true }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, s) = call(&app, Method::GET, "/api/v1/ai/settings", &agent, None).await;
    assert_eq!((status, s["model"].as_str()), (StatusCode::OK, Some("gpt-4o-mini")));
}

async fn the_builtin_provider_answers_from_the_knowledge_base(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (status, doc) = upload(&app, &token, form("faq.md", FAQ.as_bytes(), &[("title", "FAQ")])).await;
    assert_eq!(status, StatusCode::CREATED);
    let conversation = asked(&app, "How do I return a damaged item?").await;
    let (status, answer) = generate(&app, &token, &conversation).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["response"].as_str().expect("response").contains("returned within 30 days"), "{answer}");
    assert!(answer["confidence"].as_f64().is_some_and(|c| c >= 0.6), "{answer}");
    assert_eq!(answer["sources"][0]["document_id"], doc["data"]["id"]);
    assert_eq!(answer["sources"][0]["title"], "FAQ");

    let unrelated = asked(&app, "Can you sing a song about penguins?").await;
    let (_, answer) = generate(&app, &token, &unrelated).await;
    assert_eq!(answer["confidence"], 0.0);
    assert!(answer["response"].as_str().expect("response").contains("operator"), "hands over: {answer}");
    let (status, _) = generate(&app, &token, "no-such-conversation").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/ai/generate",
        &token,
        Some(json!({ "conversation_id": conversation, "context_messages": 0 })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn an_openai_compatible_model_gets_the_prompt_passages_and_question(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    upload(&app, &token, form("faq.md", FAQ.as_bytes(), &[("title", "FAQ")])).await;
    let (base, seen) = fake_model("Send it back within 30 days with a photo; we will refund you.").await;
    let change = json!({ "provider": "openai", "model": "local-llama", "base_url": format!("{base}/v1"), "api_key": "sk-local", "system_prompt": "You are Kava's helper." });
    let (status, _) = call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(change)).await;
    assert_eq!(status, StatusCode::OK);
    let conversation = asked(&app, "How do I return a damaged item?").await;
    let (status, answer) = generate(&app, &token, &conversation).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["response"], "Send it back within 30 days with a photo; we will refund you.");
    assert_eq!(answer["sources"][0]["title"], "FAQ");
    let (headers, body) = seen.lock().expect("lock").first().cloned().expect("a request");
    assert_eq!(headers["authorization"], "Bearer sk-local");
    assert_eq!(body["model"], "local-llama");
    let system = body["messages"][0]["content"].as_str().expect("system");
    assert!(system.starts_with("You are Kava's helper.") && system.contains("returned within 30 days"), "{system}");
    let last = body["messages"].as_array().expect("messages").last().cloned().expect("last");
    assert_eq!(
        (last["role"].as_str(), last["content"].as_str()),
        (Some("user"), Some("How do I return a damaged item?"))
    );

    // The same model writes the auto-respond reply the visitor gets.
    let (status, _) =
        call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(json!({ "auto_respond": true }))).await;
    assert_eq!(status, StatusCode::OK);
    let visitor = app.session("asks-the-model").await;
    app.send_ok(&visitor, "Can I return a damaged item?").await;
    let messages =
        messages_until(&app, &token, &visitor.session_id, |m| m.iter().any(|m| m["metadata"]["ai"].is_object())).await;
    let reply = messages.iter().find(|m| m["metadata"]["ai"].is_object()).expect("the AI reply");
    assert_eq!(reply["content"], "Send it back within 30 days with a photo; we will refund you.");
    assert_eq!(reply["metadata"]["ai"]["provider"], "openai");
    let (status, _) =
        call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(json!({ "auto_respond": false }))).await;
    assert_eq!(status, StatusCode::OK);

    // Anthropic's Messages API.
    let (base, seen) = fake_model("Claude says: within 30 days.").await;
    let change = json!({ "provider": "anthropic", "base_url": base, "api_key": "ak-test" });
    call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(change)).await;
    let (status, answer) = generate(&app, &token, &conversation).await;
    assert_eq!(
        (status, answer["response"].as_str()),
        (StatusCode::OK, Some("Claude says: within 30 days.")),
        "{answer}"
    );
    let (headers, body) = seen.lock().expect("lock").first().cloned().expect("a request");
    assert_eq!(headers["x-api-key"], "ak-test");
    assert!(headers.contains_key("anthropic-version"));
    assert!(body["system"].as_str().expect("system").contains("returned within 30 days"));
    assert_eq!(body["messages"][0]["role"], "user");

    // A provider that is down: a clear error, nothing hangs.
    let change = json!({ "provider": "openai", "base_url": "http://127.0.0.1:9/v1" });
    call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(change)).await;
    let (status, body) = generate(&app, &token, &conversation).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_GATEWAY, Some("AI_PROVIDER_ERROR")), "{body}");
    assert!(!body.to_string().contains("sk-local"));
}

/// Polls a conversation's messages (operator view) until `done` holds.
async fn messages_until(app: &TestApp, token: &str, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let path = format!("/api/v1/conversations/{id}/messages");
    tokio::time::timeout(crate::support::PATIENCE, async {
        loop {
            let (_, list) = call(app, Method::GET, &path, token, None).await;
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

fn handed_over(messages: &[Value]) -> bool {
    messages.iter().any(|m| m["content"] == natter_server::chat::HANDOVER)
}

async fn auto_respond_answers_from_the_faq_and_hands_over_otherwise(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    upload(&app, &token, form("faq.md", FAQ.as_bytes(), &[("title", "FAQ")])).await;
    let (status, _) =
        call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(json!({ "auto_respond": true }))).await;
    assert_eq!(status, StatusCode::OK);

    let answered = asked(&app, "How do I return a damaged item?").await;
    let messages = messages_until(&app, &token, &answered, |m| m.iter().any(|m| m["metadata"]["ai"].is_object())).await;
    let reply = messages.iter().find(|m| m["metadata"]["ai"].is_object()).expect("an AI reply");
    assert_eq!(reply["sender_type"], "bot");
    assert!(reply["content"].as_str().expect("content").contains("returned within 30 days"), "{reply}");
    assert_eq!(reply["metadata"]["ai"]["sources"][0]["title"], "FAQ");
    assert!(reply["metadata"]["ai"]["confidence"].as_f64().is_some_and(|c| c >= 0.6));
    let (_, stats) = call(&app, Method::GET, "/api/v1/analytics/stats", &token, None).await;
    assert_eq!(stats["messages"]["from_ai"], 1, "{stats}");

    // A question the knowledge base cannot answer: the bot hands over once and stays quiet after.
    let unanswered = asked(&app, "Can you sing a song about penguins?").await;
    messages_until(&app, &token, &unanswered, handed_over).await;
    let (_, conversation) = call(&app, Method::GET, &format!("/api/v1/conversations/{unanswered}"), &token, None).await;
    assert_eq!(
        (conversation["data"]["needs_human"].as_bool(), conversation["data"]["ai_enabled"].as_bool()),
        (Some(true), Some(false))
    );
    let (_, waiting) = call(&app, Method::GET, "/api/v1/conversations?needs_human=true", &token, None).await;
    let ids: Vec<&str> = waiting["data"].as_array().expect("list").iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, [unanswered.as_str()], "the console's filter finds it");

    // A visitor asking for a person is handed over at once, even with an answer at hand.
    let person = app.session("wants-a-person").await;
    app.send_ok(&person, "I want to talk to a human about returns").await;
    let messages = messages_until(&app, &token, &person.session_id, handed_over).await;
    assert!(messages.iter().all(|m| !m["metadata"]["ai"].is_object()));

    // An operator's reply takes a conversation from the AI: it is in the people's queue.
    let (_, before) = call(&app, Method::GET, &format!("/api/v1/conversations/{answered}"), &token, None).await;
    assert_eq!(
        (before["data"]["needs_human"].as_bool(), before["data"]["ai_enabled"].as_bool()),
        (Some(false), Some(true))
    );
    let reply = app.operator_reply(&token, &answered, "Hi, Ann here. Anything else?").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let (_, after) = call(&app, Method::GET, &format!("/api/v1/conversations/{answered}"), &token, None).await;
    assert_eq!(
        (after["data"]["needs_human"].as_bool(), after["data"]["ai_enabled"].as_bool()),
        (Some(true), Some(false))
    );
    // The switch gives it back to the AI.
    let path = format!("/api/v1/conversations/{unanswered}/ai");
    let (status, switched) = call(&app, Method::POST, &path, &token, Some(json!({ "enabled": true }))).await;
    assert_eq!((status, switched["data"]["ai_enabled"].as_bool()), (StatusCode::OK, Some(true)));
}

async fn a_provider_that_is_down_still_brings_the_visitor_to_a_person(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    upload(&app, &token, form("faq.md", FAQ.as_bytes(), &[("title", "FAQ")])).await;
    let change = json!({ "auto_respond": true, "provider": "openai", "base_url": "http://127.0.0.1:9/v1" });
    let (status, _) = call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(change)).await;
    assert_eq!(status, StatusCode::OK);
    let conversation = asked(&app, "How do I return a damaged item?").await;
    let messages = messages_until(&app, &token, &conversation, handed_over).await;
    assert!(messages.iter().all(|m| !m["metadata"]["ai"].is_object()), "no AI reply: {messages:?}");
}

/// A follow-up that names nothing ("Any advice?") is answered from what the
/// customer wrote before it in the conversation.
async fn a_follow_up_is_answered_from_the_conversation_before_it(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (status, doc) = upload(&app, &token, form("faq.md", FAQ.as_bytes(), &[("title", "FAQ")])).await;
    assert_eq!(status, StatusCode::CREATED);
    let alone = asked(&app, "Any advice?").await;
    let (_, answer) = generate(&app, &token, &alone).await;
    assert_eq!(answer["sources"], json!([]), "on its own it matches nothing: {answer}");

    let s = app.session("follows-up").await;
    app.send_ok(&s, "The item I got is damaged.").await;
    app.send_ok(&s, "Any advice?").await;
    let (status, answer) = generate(&app, &token, &s.session_id).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["response"].as_str().expect("response").contains("returned within 30 days"), "{answer}");
    assert_eq!(answer["sources"][0]["document_id"], doc["data"]["id"]);
}

/// An account's model endpoint obeys the webhooks' private-address rule.
async fn an_account_cannot_point_the_ai_at_a_private_address(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.allow_private_webhooks = false).await;
    let token = admin(&app).await;
    for url in ["http://127.0.0.1:11434/v1", "http://10.0.0.8/v1", "http://[::1]:8080/v1"] {
        let change = json!({ "provider": "openai", "base_url": url });
        let (status, body) = call(&app, Method::PUT, "/api/v1/ai/settings", &token, Some(change)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["code"], "AI_TARGET_NOT_ALLOWED", "{body}");
    }
    let (_, s) = call(&app, Method::GET, "/api/v1/ai/settings", &token, None).await;
    assert_eq!((s["provider"].as_str(), &s["base_url"]), (Some("builtin"), &Value::Null), "nothing changed");
}

crate::on_both_databases!(
    auto_respond_answers_from_the_faq_and_hands_over_otherwise,
    a_provider_that_is_down_still_brings_the_visitor_to_a_person,
    settings_keep_the_key_to_themselves,
    the_builtin_provider_answers_from_the_knowledge_base,
    an_openai_compatible_model_gets_the_prompt_passages_and_question,
    a_follow_up_is_answered_from_the_conversation_before_it,
    an_account_cannot_point_the_ai_at_a_private_address,
);
