//! The public widget API, as the reference client and the widget use it.

use natter_protocol::{MessageData, NotifyData, Sender, SessionData, WidgetConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Db, TestApp};

async fn creating_then_resuming_a_session_returns_the_same_session_with_its_history(db: Db) {
    let app = TestApp::spawn(db).await;
    let created = app.post_session(json!({ "userSessionId": "visitor-1" })).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let first: SessionData = created.data();
    assert!(first.token.as_ref().is_some_and(|t| t.len() >= 22), "a session token of at least 128 bits");
    app.send_ok(&first, "hello").await;

    let resumed = app.post_session_as(&first, json!({ "userSessionId": "visitor-1" })).await;
    assert_eq!(resumed.status, StatusCode::OK);
    let again: SessionData = resumed.data();
    assert_eq!(again.session_id, first.session_id);
    assert_eq!(again.token, first.token);
    let texts: Vec<_> = again.messages.iter().map(|m| (m.sender, m.message_text.as_str())).collect();
    assert_eq!(texts.first().map(|t| t.0), Some(Sender::Bot), "the greeting comes first: {texts:?}");
    assert!(texts.contains(&(Sender::User, "hello")), "{texts:?}");
    let seqs: Vec<i64> = again.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "history is in seq order without holes");
}

async fn resuming_a_session_that_is_gone_is_404_and_starts_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let held: SessionData = app.post_session(json!({ "userSessionId": "erased-visitor" })).await.data();
    app.send_ok(&held, "please forget me").await;
    let token = crate::webhooks::admin(&app).await;
    let customer = app.sql_texts(&format!("SELECT customer_id FROM sessions WHERE id = '{}'", held.session_id)).await;
    let res = app
        .http
        .delete(app.url(&format!("/api/v1/customers/{}", customer[0])))
        .bearer_auth(&token)
        .send()
        .await
        .expect("erase");
    assert!(res.status().is_success(), "{}", res.status());

    let resumed = app.post_session_as(&held, json!({ "userSessionId": "erased-visitor" })).await;
    assert_eq!((resumed.status, resumed.error_code()), (StatusCode::NOT_FOUND, "not_found"), "{}", resumed.body);
    let left = app.sql_texts("SELECT id FROM sessions WHERE user_session_id = 'erased-visitor'").await;
    assert!(left.is_empty(), "no session was started for the stale token: {left:?}");
    // Without the token it is a new visitor's new session.
    let fresh = app.post_session(json!({ "userSessionId": "erased-visitor" })).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    assert_ne!(fresh.data::<SessionData>().session_id, held.session_id);
}

async fn another_visitor_gets_another_session(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.session("visitor-a").await;
    let b = app.session("visitor-b").await;
    assert_ne!(a.session_id, b.session_id);
    assert_ne!(a.token, b.token);
}

async fn first_message_is_stored_with_the_new_session(db: Db) {
    let app = TestApp::spawn(db).await;
    let reply =
        app.post_session(json!({ "userSessionId": "fm-1", "firstMessage": "I need help", "echoId": "e-1" })).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let data: SessionData = reply.data();
    let user: Vec<_> = data.messages.iter().filter(|m| m.sender == Sender::User).collect();
    assert_eq!(user.len(), 1);
    assert_eq!(user[0].message_text, "I need help");
    assert_eq!(user[0].echo_id.as_deref(), Some("e-1"));
}

async fn contact_details_update_the_session_through_the_same_call(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("contact-1").await;
    let reply = app
        .post_session_as(&s, json!({ "userSessionId": "contact-1", "name": "Olena", "phone": "+380 12 345 6789", "email": "o@example.com" }))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let updated: SessionData = reply.data();
    assert_eq!(updated.session_id, s.session_id);
    assert_eq!(updated.session.user_name.as_deref(), Some("Olena"));
    assert_eq!(updated.session.user_phone.as_deref(), Some("+380 12 345 6789"));
    assert_eq!(updated.session.user_email.as_deref(), Some("o@example.com"));

    let bad = app.post_session_as(&s, json!({ "userSessionId": "contact-1", "phone": "call me maybe" })).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_code(), "invalid_phone");
}

async fn bot_replies_follow_the_visitor_in_order(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("bot-1").await;
    app.send_ok(&s, "first question").await;
    app.send_ok(&s, "second question").await;
    app.post_session_as(&s, json!({ "userSessionId": "bot-1", "name": "Taras", "phone": "+380501234567" })).await;
    let all = app.list_ok(&s, "after=0").await.messages;
    let got: Vec<(Sender, &str)> = all.iter().map(|m| (m.sender, m.message_text.as_str())).collect();
    let settings = &app.website.settings;
    let expected = vec![
        (Sender::Bot, settings.greeting.as_str()),
        (Sender::User, "first question"),
        (Sender::Bot, settings.contact_request.as_str()),
        (Sender::User, "second question"),
        (Sender::System, "Contact details: Taras, +380501234567"),
        (Sender::Bot, settings.connecting_message.as_str()),
    ];
    assert_eq!(got, expected);
    // Details given again do not repeat the "connecting" reply.
    app.post_session_as(&s, json!({ "userSessionId": "bot-1", "name": "Taras", "phone": "+380501234567" })).await;
    assert_eq!(app.list_ok(&s, "after=0").await.messages.len(), expected.len());
}

async fn outside_business_hours_the_bot_says_it_is_away_once(db: Db) {
    let app = TestApp::spawn(db).await;
    // A website that is never open.
    let hours = r#"{"businessHours": {"utcOffsetMinutes": 0, "days": [], "open": "09:00", "close": "18:00"}, "contactForm": "off"}"#;
    let away =
        natter_server::cli::update_website(app.state.store.as_ref(), &app.website.token, Some(hours), vec![], None)
            .await
            .expect("update")
            .settings
            .away_message;
    let s = app.session("away-1").await;
    app.send_ok(&s, "anyone?").await;
    app.send_ok(&s, "hello?").await;
    let got: Vec<(Sender, String)> =
        app.list_ok(&s, "after=0").await.messages.into_iter().map(|m| (m.sender, m.message_text)).collect();
    let greeting = app.website.settings.greeting.clone();
    assert_eq!(
        got,
        vec![
            (Sender::Bot, greeting),
            (Sender::User, "anyone?".to_owned()),
            (Sender::Bot, away),
            (Sender::User, "hello?".to_owned()),
        ]
    );
    let config: WidgetConfig =
        app.get_raw("/api/public/chat/config", &[("x-api-key", &app.website.token)]).await.data();
    assert!(!config.online);
}

async fn a_repeated_echo_id_returns_the_stored_message_and_stores_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("echo-1").await;
    let first = app.send(&s, "once", Some("echo-abc")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.send(&s, "once", Some("echo-abc")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(first.data::<MessageData>().message.id, again.data::<MessageData>().message.id);
}

async fn twenty_concurrent_retries_of_one_echo_id_store_one_row(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("echo-race").await;
    let sends = (0..20).map(|_| app.send(&s, "retry me", Some("same-echo")));
    let replies = futures_util::future::join_all(sends).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let repeated = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!((created, repeated), (1, 19));
    let ids: std::collections::HashSet<String> = replies.iter().map(|r| r.data::<MessageData>().message.id).collect();
    assert_eq!(ids.len(), 1, "every retry saw the same message");
    let stored = app.list_ok(&s, "after=0").await.messages;
    assert_eq!(stored.iter().filter(|m| m.message_text == "retry me").count(), 1);
}

async fn polling_with_since_sees_every_message_even_within_one_millisecond(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("since-1").await;
    let mut since = s.messages.last().map(|m| m.created_at.clone()).expect("greeting");
    let mut seen = Vec::new();
    for round in 0..5 {
        // A burst of concurrent sends lands within a few milliseconds.
        let texts: Vec<String> = (0..8).map(|i| format!("m{round}-{i}")).collect();
        futures_util::future::join_all(texts.iter().map(|t| app.send(&s, t, None))).await;
        loop {
            let page = app.list_ok(&s, &format!("since={}&limit=3", urlencode(&since))).await;
            let Some(last) = page.messages.last() else { break };
            since = last.created_at.clone();
            seen.extend(page.messages.into_iter().filter(|m| m.sender == Sender::User).map(|m| m.message_text));
        }
    }
    assert_eq!(seen.len(), 40, "no message skipped or repeated: {seen:?}");
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 40);
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

async fn after_and_before_page_through_history_by_seq_and_id(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("pages-1").await;
    for i in 0..7 {
        app.send_ok(&s, &format!("n{i}")).await;
    }
    let all = app.list_ok(&s, "after=0&limit=100").await.messages;
    let total = all.len();
    let first_page = app.list_ok(&s, "after=0&limit=4").await;
    assert!(first_page.has_more);
    assert_eq!(first_page.messages, all[..4]);
    let by_id = app.list_ok(&s, &format!("after={}&limit=100", all[3].id)).await;
    assert_eq!(by_id.messages, all[4..]);
    assert!(!by_id.has_more);
    let older = app.list_ok(&s, &format!("before={}&limit=2", all[total - 1].seq)).await;
    assert_eq!(older.messages, all[total - 3..total - 1]);
    let latest = app.list_ok(&s, "limit=2").await;
    assert_eq!(latest.messages, all[total - 2..]);
}

async fn bad_list_queries_are_refused_in_the_envelope(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("q-1").await;
    let r = app.list(&s, "since=yesterday").await;
    assert_eq!((r.status, r.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_since"));
    let r = app.list(&s, "limit=lots").await;
    assert_eq!((r.status, r.error_code()), (StatusCode::BAD_REQUEST, "invalid_query"));
    let r = app.list(&s, "after=1&before=3").await;
    assert_eq!((r.status, r.error_code()), (StatusCode::BAD_REQUEST, "conflicting_cursors"));
    let r = app.list(&s, "after=not-a-message").await;
    assert_eq!((r.status, r.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_cursor"));
    let capped = app.list_ok(&s, "limit=1000").await;
    assert!(capped.messages.len() <= 100);
}

async fn a_session_token_opens_only_its_own_session(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.session("owner-a").await;
    let b = app.session("owner-b").await;
    let path = TestApp::messages_path(&b);
    let a_token = a.token.clone().unwrap_or_default();
    let headers = [("x-api-key", app.website.token.as_str()), ("x-session-token", a_token.as_str())];
    let read = app.get_raw(&path, &headers).await;
    assert_eq!((read.status, read.error_code()), (StatusCode::FORBIDDEN, "invalid_session_token"));
    let write = app.post_raw(&path, &headers, json!({ "message": "intrusion" }).to_string()).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let missing = app.get_raw(&path, &[("x-api-key", app.website.token.as_str())]).await;
    assert_eq!((missing.status, missing.error_code()), (StatusCode::UNAUTHORIZED, "session_token_required"));
    let b_token = b.token.clone().unwrap_or_default();
    let widget_header =
        app.get_raw(&path, &[("x-api-key", app.website.token.as_str()), ("auth-widget", &b_token)]).await;
    assert_eq!(widget_header.status, StatusCode::OK, "Auth-Widget carries the token too");
    assert!(app.list_ok(&b, "after=0").await.messages.iter().all(|m| m.message_text != "intrusion"));
}

async fn legacy_mode_accepts_requests_without_a_session_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let legacy = natter_server::cli::create_website(app.state.store.as_ref(), None, "Old site", vec![], true)
        .await
        .expect("site");
    let reply = app
        .post_raw(
            "/api/public/chat/sessions",
            &[("x-api-key", &legacy.token)],
            json!({"userSessionId": "l-1"}).to_string(),
        )
        .await;
    let s: SessionData = reply.data();
    let path = format!("/api/public/chat/sessions/{}/messages", s.session_id);
    let sent = app.post_raw(&path, &[("x-api-key", &legacy.token)], json!({ "message": "no token" }).to_string()).await;
    assert_eq!(sent.status, StatusCode::CREATED);
    let wrong = app.get_raw(&path, &[("x-api-key", &legacy.token), ("x-session-token", "wrong")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "a wrong token is still refused");
}

async fn a_missing_or_wrong_api_key_is_401(db: Db) {
    let app = TestApp::spawn(db).await;
    let body = json!({ "userSessionId": "k-1" }).to_string();
    let none = app.post_raw("/api/public/chat/sessions", &[], body.clone()).await;
    assert_eq!((none.status, none.error_code()), (StatusCode::UNAUTHORIZED, "missing_api_key"));
    let wrong = app.post_raw("/api/public/chat/sessions", &[("x-api-key", "nope")], body.clone()).await;
    assert_eq!((wrong.status, wrong.error_code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    let headers = [("x-api-key", app.website.token.as_str()), ("x-api-secret", "not-the-secret")];
    let secret = app.post_raw("/api/public/chat/sessions", &headers, body.clone()).await;
    assert_eq!((secret.status, secret.error_code()), (StatusCode::UNAUTHORIZED, "invalid_api_secret"));
    let headers = [("x-api-key", app.website.token.as_str()), ("x-api-secret", app.website.api_secret.as_str())];
    assert_eq!(app.post_raw("/api/public/chat/sessions", &headers, body).await.status, StatusCode::CREATED);
}

async fn malformed_json_is_a_400_in_the_envelope(db: Db) {
    let app = TestApp::spawn(db).await;
    let r =
        app.post_raw("/api/public/chat/sessions", &[("x-api-key", &app.website.token)], "{\"userSessionId\": ").await;
    assert_eq!((r.status, r.error_code()), (StatusCode::BAD_REQUEST, "invalid_json"));
    assert_eq!(r.body["success"], json!(false));
    let s = app.session("json-1").await;
    let wrong_type = app.send_raw_body(&s, json!({ "message": 42 }).to_string()).await;
    assert_eq!((wrong_type.status, wrong_type.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"));
}

async fn oversize_bodies_are_413_and_overlong_messages_422(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("size-1").await;
    let huge = json!({ "message": "x".repeat(100 * 1024) }).to_string();
    let r = app.send_raw_body(&s, huge).await;
    assert_eq!((r.status, r.error_code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    let long = app.send(&s, &"y".repeat(4001), None).await;
    assert_eq!((long.status, long.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "message_too_long"));
    let blank = app.send(&s, "   ", None).await;
    assert_eq!((blank.status, blank.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "message_empty"));
    assert!(app.list_ok(&s, "after=0").await.messages.iter().all(|m| m.sender != Sender::User));
}

async fn notify_starts_a_new_session_unless_the_caller_holds_one(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = [("x-api-key", app.website.token.as_str())];
    let body = json!({ "name": "Iryna", "phone": "+380671112233", "message": "Call me back", "timestamp": "2024-01-20T10:30:00.000Z" });
    let first = app.post_raw("/api/public/chat/notify", &key, body.to_string()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let a: NotifyData = first.data();
    assert_eq!(a.message.message_text, "Call me back");
    let again = json!({ "phone": "+380671112233", "message": "Again" }).to_string();
    let b: NotifyData = app.post_raw("/api/public/chat/notify", &key, again).await.data();
    assert_ne!(a.session_id, b.session_id, "the same phone number never opens the earlier session");

    let visitor = app.session("notify-owner").await;
    let into = json!({ "userSessionId": "notify-owner", "message": "Written by a stranger" }).to_string();
    let refused = app.post_raw("/api/public/chat/notify", &key, into.clone()).await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::UNAUTHORIZED, "session_token_required"));
    let unknown = json!({ "userSessionId": "nobody-yet", "message": "hi" }).to_string();
    let unknown = app.post_raw("/api/public/chat/notify", &key, unknown).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "a userSessionId needs the secret even for a new session");
    let server = [("x-api-key", app.website.token.as_str()), ("x-api-secret", app.website.api_secret.as_str())];
    let by_server: NotifyData = app.post_raw("/api/public/chat/notify", &server, into).await.data();
    assert_eq!(by_server.session_id, visitor.session_id, "the website's secret opens the session");
    let texts: Vec<String> =
        app.list_ok(&visitor, "after=0").await.messages.into_iter().map(|m| m.message_text).collect();
    assert_eq!(texts.iter().filter(|t| *t == "Written by a stranger").count(), 1, "{texts:?}");

    let missing = app.post_raw("/api/public/chat/notify", &key, json!({ "name": "x" }).to_string()).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn config_returns_the_widget_settings(db: Db) {
    let app = TestApp::spawn(db).await;
    let r = app.get_raw("/api/public/chat/config", &[("x-api-key", &app.website.token)]).await;
    let config: WidgetConfig = r.data();
    assert_eq!(config.title, "Test site");
    assert_eq!(config.greeting, app.website.settings.greeting);
    assert!(config.online, "no business hours means always online");
    assert_eq!(config.max_message_length, 4000);
    let unauth = app.get_raw("/api/public/chat/config", &[]).await;
    assert_eq!(unauth.status, StatusCode::UNAUTHORIZED);
}

async fn rate_limits_answer_429_with_retry_after(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.rate_per_ip = 2).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = app.get_raw("/api/public/chat/config", &[("x-api-key", &app.website.token)]).await;
        statuses.push(r.status);
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.error_code(), "rate_limited");
            let retry: u64 = r.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
            assert!(retry >= 1);
            return;
        }
    }
    panic!("never limited: {statuses:?}");
}

async fn cors_allows_only_the_websites_origins(db: Db) {
    let app = TestApp::spawn(db).await;
    let shop = natter_server::cli::create_website(
        app.state.store.as_ref(),
        None,
        "Shop",
        vec!["https://shop.example".into()],
        false,
    )
    .await
    .expect("site");
    let body = json!({ "userSessionId": "cors-1" }).to_string();
    let ok = app
        .post_raw(
            "/api/public/chat/sessions",
            &[("x-api-key", &shop.token), ("origin", "https://shop.example")],
            body.clone(),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(ok.headers["access-control-allow-origin"], "https://shop.example");
    let evil = app
        .post_raw("/api/public/chat/sessions", &[("x-api-key", &shop.token), ("origin", "https://evil.example")], body)
        .await;
    assert_eq!((evil.status, evil.error_code()), (StatusCode::FORBIDDEN, "origin_not_allowed"));
    assert!(evil.headers.get("access-control-allow-origin").is_none());
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/api/public/chat/sessions"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, x-api-key, x-session-token")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().expect("ascii");
    assert!(allowed.contains("x-session-token"), "{allowed}");
}

impl TestApp {
    async fn send_raw_body(&self, s: &SessionData, body: String) -> crate::support::Reply {
        let token = s.token.clone().unwrap_or_default();
        self.post_raw(&Self::messages_path(s), &[("x-api-key", &self.website.token), ("x-session-token", &token)], body)
            .await
    }
}

async fn a_poll_right_after_an_acknowledged_send_sees_it(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("poll-after-send").await;
    let mut last = app.list_ok(&s, "after=0").await.messages.last().map_or(0, |m| m.seq);
    assert!(app.list_ok(&s, &format!("after={last}")).await.messages.is_empty(), "nothing after the newest");
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let (http, url, headers) = (app.http.clone(), app.url(&TestApp::messages_path(&s)), s.token.clone());
            let key = app.website.token.clone();
            tokio::spawn(async move {
                for n in 0..10 {
                    let body = json!({ "message": format!("noise {i}-{n}") }).to_string();
                    let res = http
                        .post(&url)
                        .header("x-api-key", &key)
                        .header("x-session-token", headers.as_deref().unwrap_or_default())
                        .body(body)
                        .send()
                        .await
                        .expect("send");
                    assert_eq!(res.status(), StatusCode::CREATED);
                }
            })
        })
        .collect();
    for n in 0..20 {
        let sent = app.send_ok(&s, &format!("mine {n}")).await;
        let page = app.list_ok(&s, &format!("after={last}&limit=100")).await.messages;
        assert!(page.iter().any(|m| m.id == sent.id), "acknowledged message {} missing after seq {last}", sent.seq);
        last = page.last().map_or(last, |m| m.seq);
    }
    for s in senders {
        s.await.expect("sender");
    }
}

crate::on_both_databases!(
    a_poll_right_after_an_acknowledged_send_sees_it,
    creating_then_resuming_a_session_returns_the_same_session_with_its_history,
    another_visitor_gets_another_session,
    resuming_a_session_that_is_gone_is_404_and_starts_nothing,
    first_message_is_stored_with_the_new_session,
    contact_details_update_the_session_through_the_same_call,
    bot_replies_follow_the_visitor_in_order,
    outside_business_hours_the_bot_says_it_is_away_once,
    a_repeated_echo_id_returns_the_stored_message_and_stores_nothing,
    twenty_concurrent_retries_of_one_echo_id_store_one_row,
    polling_with_since_sees_every_message_even_within_one_millisecond,
    after_and_before_page_through_history_by_seq_and_id,
    bad_list_queries_are_refused_in_the_envelope,
    a_session_token_opens_only_its_own_session,
    legacy_mode_accepts_requests_without_a_session_token,
    a_missing_or_wrong_api_key_is_401,
    malformed_json_is_a_400_in_the_envelope,
    oversize_bodies_are_413_and_overlong_messages_422,
    notify_starts_a_new_session_unless_the_caller_holds_one,
    config_returns_the_widget_settings,
    rate_limits_answer_429_with_retry_after,
    cors_allows_only_the_websites_origins,
);
