//! Hostile clients: floods of sign-ins, frames and sockets, bounded in count
//! and time. They assert behaviour and print latencies; tight figures are
//! the benchmark's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use natter_protocol::operator::TokenResponse;
use natter_protocol::{MessagesData, SessionData};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Db, TestApp, OPERATOR_EMAIL, OPERATOR_PASSWORD};

/// The `p`-th percentile of `samples`, in milliseconds.
pub fn percentile_ms(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn wrong_login(app: &TestApp, email: &str, forwarded_for: Option<&str>) -> crate::support::Reply {
    let body = json!({ "email": email, "password": "not the password" }).to_string();
    match forwarded_for {
        Some(ip) => app.post_raw("/api/v1/auth/login", &[("x-forwarded-for", ip)], body).await,
        None => app.post_raw("/api/v1/auth/login", &[], body).await,
    }
}

async fn a_login_flood_gets_429s_while_the_server_keeps_answering(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.auth_rate_per_ip = 10;
        c.auth_rate_per_email = 1_000;
    })
    .await;
    let flooding = AtomicBool::new(true);
    let flood = async {
        let replies: Vec<_> = stream::iter(0..200)
            .map(|i| {
                let app = &app;
                async move { wrong_login(app, &format!("guess{i}@example.com"), None).await }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        flooding.store(false, Ordering::SeqCst);
        replies
    };
    let probe = async {
        let mut latencies = Vec::new();
        while flooding.load(Ordering::SeqCst) {
            let started = Instant::now();
            let r = tokio::time::timeout(Duration::from_secs(5), app.get_raw("/healthz", &[]))
                .await
                .expect("/healthz answers during the flood");
            assert_eq!(r.status, StatusCode::OK);
            latencies.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies
    };
    let (replies, mut latencies) = tokio::join!(flood, probe);
    let limited: Vec<_> = replies.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).collect();
    let refused = replies.iter().filter(|r| r.status == StatusCode::UNAUTHORIZED).count();
    assert_eq!(limited.len() + refused, 200, "only 401s and 429s");
    assert!(refused <= 12, "the client's limit lets about ten guesses through, not {refused}");
    for r in &limited {
        assert_eq!(r.body["code"], "RATE_LIMITED", "{}", r.body);
        let retry: u64 = r.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=60).contains(&retry), "retry after {retry} s");
    }
    assert!(!latencies.is_empty());
    println!(
        "login flood: {} refused, {} limited; /healthz p50 {:.1} ms, p99 {:.1} ms over {} probes",
        refused,
        limited.len(),
        percentile_ms(&mut latencies, 0.5),
        percentile_ms(&mut latencies, 0.99),
        latencies.len()
    );
}

async fn logins_for_one_email_are_limited_across_clients(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.auth_rate_per_ip = 1_000;
        c.auth_rate_per_email = 3;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
    })
    .await;
    for i in 0..3 {
        let r = wrong_login(&app, OPERATOR_EMAIL, Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let r = wrong_login(&app, &OPERATOR_EMAIL.to_uppercase(), Some("198.51.100.1")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the e-mail's limit holds from a new address: {}", r.body);
    // Another account's operator is not locked out by it.
    natter_server::cli::create_operator(
        app.state.store.as_ref(),
        None,
        "boss@example.com",
        OPERATOR_PASSWORD,
        "admin",
        None,
    )
    .await
    .expect("operator");
    let body = json!({ "email": "boss@example.com", "password": OPERATOR_PASSWORD }).to_string();
    let r = app.post_raw("/api/v1/auth/login", &[("x-forwarded-for", "198.51.100.1")], body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn refresh_attempts_are_limited_per_client(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.auth_rate_per_ip = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let body = json!({ "refresh_token": "guessed" }).to_string();
        statuses.push(app.post_raw("/api/v1/auth/refresh", &[], body).await.status);
    }
    assert_eq!(
        statuses,
        [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS]
    );
}

async fn forwarded_addresses_count_only_behind_a_trusted_proxy(db: Db) {
    let untrusted = TestApp::spawn_with(db, |c| c.rate_per_ip = 1).await;
    let key = [("x-api-key", untrusted.website.token.as_str())];
    let mut last = StatusCode::OK;
    for i in 0..5 {
        let forwarded = format!("203.0.113.{i}");
        let headers = [key[0], ("x-forwarded-for", forwarded.as_str())];
        last = untrusted.get_raw("/api/public/chat/config", &headers).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "a client cannot pick a new address per request");

    let behind_proxy = TestApp::spawn_with(db, |c| {
        c.rate_per_ip = 1;
        c.trust_proxy = true;
    })
    .await;
    for i in 0..5 {
        let forwarded = format!("198.51.100.7, 203.0.113.{i}");
        let headers = [("x-api-key", behind_proxy.website.token.as_str()), ("x-forwarded-for", forwarded.as_str())];
        let r = behind_proxy.get_raw("/api/public/chat/config", &headers).await;
        assert_eq!(r.status, StatusCode::OK, "each forwarded client has its own limit: {}", r.body);
    }
}

async fn refresh(app: &TestApp, token: &str) -> crate::support::Reply {
    app.post_raw("/api/v1/auth/refresh", &[], json!({ "refresh_token": token }).to_string()).await
}

async fn a_copied_refresh_token_spent_late_revokes_every_session(db: Db) {
    let app = TestApp::spawn(db).await;
    let first = app.login().await;
    let r = refresh(&app, &first.refresh_token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second: TokenResponse = serde_json::from_value(r.body).expect("tokens");

    // Spent twice at once (two tabs): refused, nothing else happens.
    assert_eq!(refresh(&app, &first.refresh_token).await.status, StatusCode::UNAUTHORIZED);
    let r = refresh(&app, &second.refresh_token).await;
    assert_eq!(r.status, StatusCode::OK, "a race between tabs revokes nothing: {}", r.body);
    let third: TokenResponse = serde_json::from_value(r.body).expect("tokens");

    // Spent again a minute later: the token was copied.
    app.sql("UPDATE refresh_tokens SET used_ms = used_ms - 60000").await;
    assert_eq!(refresh(&app, &first.refresh_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, &third.refresh_token).await.status, StatusCode::UNAUTHORIZED, "the chain is revoked");
    let auth = format!("Bearer {}", third.access_token);
    let r = app.get_raw("/api/v1/conversations", &[("authorization", &auth)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "and so are the access tokens: {}", r.body);
    app.login().await;
}

async fn a_long_session_resumes_with_its_newest_page(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("long-one").await;
    for i in 0..130 {
        app.send_ok(&s, &format!("message {i}")).await;
    }
    let resumed: SessionData = app.post_session_as(&s, json!({ "userSessionId": "long-one" })).await.data();
    assert_eq!(resumed.messages.len(), 100, "the newest page only");
    assert!(resumed.has_more);
    assert_eq!(resumed.messages.last().map(|m| m.message_text.as_str()), Some("message 129"));
    let mut seen: Vec<String> = resumed.messages.iter().map(|m| m.message_text.clone()).collect();
    let mut oldest = resumed.messages[0].id.clone();
    loop {
        let page = app.list_ok(&s, &format!("before={oldest}&limit=100")).await;
        let mut older: Vec<String> = page.messages.iter().map(|m| m.message_text.clone()).collect();
        older.append(&mut seen);
        seen = older;
        if !page.has_more {
            break;
        }
        oldest = page.messages[0].id.clone();
    }
    let sent: Vec<String> = seen.iter().filter(|m| m.starts_with("message ")).cloned().collect();
    assert_eq!(
        sent,
        (0..130).map(|i| format!("message {i}")).collect::<Vec<_>>(),
        "paging back finds every message once"
    );

    let too_many = app.list(&s, "limit=100000").await;
    assert_eq!(too_many.status, StatusCode::OK, "a large limit is cut to the maximum");
    assert!(too_many.data::<MessagesData>().messages.len() <= 100);
    for query in ["since=not-a-date", "since=99999-01-01T00:00:00Z", "after=99999999999999999999999", "before=nope"] {
        let r = app.list(&s, query).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", r.body);
    }
    for query in ["limit=-1", "limit=abc", "limit=99999999999"] {
        let r = app.list(&s, query).await;
        assert_eq!((r.status, r.error_code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{query}: {}", r.body);
    }
}

async fn the_omnisupport_widget_resumes_with_a_page_and_pages_back(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.website.token.clone();
    let init = || {
        let body = json!({ "api_key": key, "session_id": "omni-long" }).to_string();
        let app = &app;
        async move { app.post_raw("/widget/v1/init", &[], body).await }
    };
    init().await;
    for i in 0..105 {
        let body = json!({ "api_key": key, "session_id": "omni-long", "content": format!("m{i}") });
        let r = app.post_raw("/widget/v1/messages", &[], body.to_string()).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let resumed = init().await;
    assert_eq!(resumed.body["data"]["messages"].as_array().map(Vec::len), Some(100));
    assert_eq!(resumed.body["data"]["has_more"], true);
    let list = |query: &str| {
        let path = format!("/widget/v1/messages?api_key={key}&session_id=omni-long&{query}");
        let app = &app;
        async move { app.get_raw(&path, &[]).await }
    };
    let page = list("limit=10").await;
    let contents: Vec<&str> =
        page.body["data"].as_array().expect("list").iter().filter_map(|m| m["content"].as_str()).collect();
    assert_eq!(contents.len(), 10);
    assert_eq!(contents.last(), Some(&"m104"));
    for query in ["limit=0", "limit=101", "limit=-5", "before=yesterday"] {
        let r = list(query).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", r.body);
        assert!(r.body["code"].is_string(), "the operator document's error shape: {}", r.body);
    }
    assert_eq!(list("limit=x").await.status, StatusCode::BAD_REQUEST, "not a number at all");
}

async fn contact_fields_are_bounded_and_names_cleaned(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("contact").await;
    let spoofed = "\u{202E}nimda\u{202C} Olena\u{200B}";
    let r = app.post_session_as(&s, json!({ "userSessionId": "contact", "name": spoofed })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data::<SessionData>().session.user_name.as_deref(), Some("nimda Olena"));
    let padded = format!("+1{}5551234567", " -".repeat(2000));
    for body in [
        json!({ "userSessionId": "contact", "phone": padded }),
        json!({ "userSessionId": "contact", "name": "x".repeat(101) }),
        json!({ "userSessionId": "contact", "email": format!("{}@example.com", "a".repeat(300)) }),
        json!({ "userSessionId": "contact", "name": "\u{2066}\u{2069}" }),
    ] {
        let r = app.post_session_as(&s, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    }
}

async fn empty_anonymous_sessions_are_swept_and_others_kept(db: Db) {
    let app = TestApp::spawn(db).await;
    let empty = app.session("empty").await;
    let written = app.session("written").await;
    app.send_ok(&written, "hello?").await;
    let named = app.session("named").await;
    app.post_session_as(&named, json!({ "userSessionId": "named", "name": "Olena" })).await;
    let watched = app.session("watched").await;
    let _socket = app.subscribed(&watched, None).await;
    let day = natter_server::sweep::sweep_once;
    let idle = Duration::from_secs(24 * 3600);
    let state = &app.state;

    assert_eq!(day(state.store.as_ref(), &state.hub, &state.sessions, idle).await, 0, "nothing is a day old yet");
    app.sql("UPDATE sessions SET updated_ms = updated_ms - 90000000").await;
    assert_eq!(day(state.store.as_ref(), &state.hub, &state.sessions, idle).await, 1, "only the empty one goes");

    assert_eq!(app.list(&empty, "").await.status, StatusCode::NOT_FOUND, "the empty session is gone");
    for kept in [&written, &named, &watched] {
        assert_eq!(app.list(kept, "").await.status, StatusCode::OK);
    }
    let again: SessionData = app.session("empty").await;
    assert_ne!(again.session_id, empty.session_id, "its visitor starts afresh");
    let customers = app.sql_texts("SELECT id FROM customers").await;
    assert_eq!(customers.len(), 4, "the swept session's customer went with it: {customers:?}");
}

crate::on_both_databases!(
    empty_anonymous_sessions_are_swept_and_others_kept,
    a_long_session_resumes_with_its_newest_page,
    the_omnisupport_widget_resumes_with_a_page_and_pages_back,
    contact_fields_are_bounded_and_names_cleaned,
    a_copied_refresh_token_spent_late_revokes_every_session,
    a_login_flood_gets_429s_while_the_server_keeps_answering,
    logins_for_one_email_are_limited_across_clients,
    refresh_attempts_are_limited_per_client,
    forwarded_addresses_count_only_behind_a_trusted_proxy,
);
