//! Who may open a session: every dialect tried with another party's
//! credentials or ids is refused and reveals nothing (docs/access.md).

use natter_protocol::ws::ServerFrame;
use natter_protocol::SessionData;
use reqwest::StatusCode;
use serde_json::json;

use natter_server::cli;
use serde_json::Value;

use crate::support::{Db, JsonSocket, Reply, TestApp, WsEvent};

/// Asserts a refusal that carries none of the session's data.
fn refused_blind(reply: &Reply, status: StatusCode, code: &str, secrets: &[&str]) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let text = reply.body.to_string();
    assert!(text.to_lowercase().contains(&code.to_lowercase()), "code {code} in {text}");
    for secret in secrets {
        assert!(!text.contains(secret), "the refusal reveals {secret}: {text}");
    }
}

async fn a_user_session_id_alone_neither_resumes_nor_updates_a_session(db: Db) {
    let app = TestApp::spawn(db).await;
    let body = json!({ "userSessionId": "guessable-1", "name": "Olena", "firstMessage": "my order 5521" });
    let owner: SessionData = app.post_session(body).await.data();
    let token = owner.token.clone().unwrap_or_default();

    let stranger = app.post_session(json!({ "userSessionId": "guessable-1" })).await;
    refused_blind(&stranger, StatusCode::UNAUTHORIZED, "session_token_required", &[&token, "Olena", "5521"]);
    let rename = app.post_session(json!({ "userSessionId": "guessable-1", "name": "Mallory" })).await;
    refused_blind(&rename, StatusCode::UNAUTHORIZED, "session_token_required", &[&token, "Olena", "5521"]);
    let headers = [("x-api-key", app.website.token.as_str()), ("x-session-token", "forged-token")];
    let forged = app
        .post_raw("/api/public/chat/sessions", &headers, json!({ "userSessionId": "guessable-1" }).to_string())
        .await;
    refused_blind(&forged, StatusCode::FORBIDDEN, "invalid_session_token", &[&token, "Olena", "5521"]);

    let resumed: SessionData = app.post_session_as(&owner, json!({ "userSessionId": "guessable-1" })).await.data();
    assert_eq!(resumed.session.user_name.as_deref(), Some("Olena"), "the stranger's name was not stored");
    let server = [("x-api-key", app.website.token.as_str()), ("x-api-secret", app.website.api_secret.as_str())];
    let by_secret =
        app.post_raw("/api/public/chat/sessions", &server, json!({ "userSessionId": "guessable-1" }).to_string()).await;
    assert_eq!(by_secret.status, StatusCode::OK, "the website's secret resumes: {}", by_secret.body);
    assert_eq!(by_secret.data::<SessionData>().session_id, owner.session_id);
}

async fn a_session_of_another_website_is_not_found(db: Db) {
    let app = TestApp::spawn(db).await;
    let other = cli::create_website(app.state.store.as_ref(), None, "Other", vec![], false).await.expect("website");
    let mine = app.session("mine-1").await;
    let token = mine.token.clone().unwrap_or_default();
    let path = TestApp::messages_path(&mine);
    let headers = [("x-api-key", other.token.as_str()), ("x-session-token", token.as_str())];
    let read = app.get_raw(&path, &headers).await;
    refused_blind(&read, StatusCode::NOT_FOUND, "not_found", &[&token]);
    let write = app.post_raw(&path, &headers, json!({ "message": "cross-site" }).to_string()).await;
    assert_eq!(write.status, StatusCode::NOT_FOUND);

    let q = format!("/widget/conversations/{}/messages?website_token={}", mine.session_id, other.token);
    let novatalks = app.get_raw(&q, &[("auth-widget", &token)]).await;
    assert_eq!(novatalks.status, StatusCode::NOT_FOUND, "{}", novatalks.body);
    assert!(app.list_ok(&mine, "after=0").await.messages.iter().all(|m| m.message_text != "cross-site"));
}

async fn widget_v1_never_reaches_a_session_of_another_dialect(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.website.token.clone();
    let native: SessionData =
        app.post_session(json!({ "userSessionId": "shared-id", "firstMessage": "native secret 7788" })).await.data();
    let native_token = native.token.clone().unwrap_or_default();

    let list = app.get_raw(&format!("/widget/v1/messages?api_key={key}&session_id=shared-id"), &[]).await;
    refused_blind(&list, StatusCode::NOT_FOUND, "NOT_FOUND", &["7788"]);
    let init =
        app.post_raw("/widget/v1/init", &[], json!({ "api_key": key, "session_id": "shared-id" }).to_string()).await;
    assert_eq!(init.status, StatusCode::OK, "{}", init.body);
    assert_ne!(init.body["data"]["conversation_id"], json!(native.session_id), "a conversation of its own");
    assert!(!init.body.to_string().contains("7788"), "{}", init.body);
    let by_token = app
        .post_raw("/widget/v1/init", &[], json!({ "api_key": key, "session_token": native_token }).to_string())
        .await;
    refused_blind(&by_token, StatusCode::FORBIDDEN, "INVALID_SESSION_TOKEN", &["7788"]);
    let none = app.post_raw("/widget/v1/messages", &[], json!({ "api_key": key, "content": "hi" }).to_string()).await;
    refused_blind(&none, StatusCode::UNAUTHORIZED, "SESSION_TOKEN_REQUIRED", &[]);
}

async fn widget_v1_accepts_its_session_token_in_place_of_the_session_id(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.website.token.clone();
    let init = app.post_raw("/widget/v1/init", &[], json!({ "api_key": key, "session_id": "b-42" }).to_string()).await;
    let token = init.body["data"]["session_token"].as_str().expect("session_token").to_owned();
    let sent = app
        .post_raw(
            "/widget/v1/messages",
            &[],
            json!({ "api_key": key, "session_token": token, "content": "by body" }).to_string(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let header = [("x-session-token", token.as_str())];
    let sent = app
        .post_raw("/widget/v1/messages", &header, json!({ "api_key": key, "content": "by header" }).to_string())
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let listed = app.get_raw(&format!("/widget/v1/messages?api_key={key}&session_token={token}"), &[]).await;
    let texts: Vec<&str> =
        listed.body["data"].as_array().expect("list").iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(texts.contains(&"by body") && texts.contains(&"by header"), "{texts:?}");
    let mismatch = json!({ "api_key": key, "session_id": "someone-else", "session_token": token, "content": "x" });
    let mismatch = app.post_raw("/widget/v1/messages", &[], mismatch.to_string()).await;
    assert_eq!(mismatch.status, StatusCode::FORBIDDEN, "{}", mismatch.body);
}

async fn a_socket_subscribes_only_with_a_live_session_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let session = app.session("sock-1").await;
    let mut ws = app.ws().await;
    ws.send(json!({ "event": "subscribe", "data": { "pubsub_token": session.session_id } })).await;
    match ws.frame().await {
        WsEvent::Frame(ServerFrame::Error(e)) => assert_eq!(e.code, "invalid_token"),
        other => panic!("the session id is not its token: {other:?}"),
    }
    assert_eq!(ws.closed().await, Some(4001));
}

/// A second account with its own website and admin, beside the test app's.
pub(crate) struct OtherAccount {
    pub(crate) website: natter_server::store::Website,
    pub(crate) admin_token: String,
}

pub(crate) async fn other_account(app: &TestApp) -> OtherAccount {
    let store = app.state.store.as_ref();
    let account = cli::create_account(store, "Rival Ltd").await.expect("account");
    let website = cli::create_website(store, Some(&account.id), "Rival shop", vec![], false).await.expect("website");
    cli::create_operator(store, Some(&account.id), "boss@rival.example", "rival password", "admin", Some("Rex"))
        .await
        .expect("admin");
    let body = json!({ "email": "boss@rival.example", "password": "rival password" }).to_string();
    let login = app.post_raw("/api/v1/auth/login", &[], body).await;
    let admin_token = login.body["access_token"].as_str().expect("token").to_owned();
    OtherAccount { website, admin_token }
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body.to_string());
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), headers }
}

async fn another_accounts_operator_reaches_nothing_of_this_account(db: Db) {
    use reqwest::Method;
    let app = TestApp::spawn(db).await;
    let rival = other_account(&app).await;
    let visitor: SessionData = app
        .post_session(json!({ "userSessionId": "private-1", "name": "Olena", "firstMessage": "secret 4411" }))
        .await
        .data();
    let id = visitor.session_id.clone();
    let agent = app.login().await;
    let me = call(&app, Method::GET, "/api/v1/conversations", &agent.access_token, None).await;
    assert_eq!(me.body["data"][0]["id"], id.as_str(), "this account's operator sees the conversation");
    let customer = me.body["data"][0]["customer"]["id"].as_str().expect("customer").to_owned();
    let rival_token = rival.admin_token.as_str();

    let listed = call(&app, Method::GET, "/api/v1/conversations", rival_token, None).await;
    assert_eq!((listed.status, listed.body["meta"]["total"].as_i64()), (StatusCode::OK, Some(0)), "{}", listed.body);
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/conversations/{id}"), None),
        (Method::GET, format!("/api/v1/conversations/{id}/messages"), None),
        (Method::POST, format!("/api/v1/conversations/{id}/messages"), Some(json!({ "content": "hijack" }))),
        (Method::POST, format!("/api/v1/conversations/{id}/close"), None),
        (Method::POST, format!("/api/v1/conversations/{id}/reopen"), None),
        (Method::POST, format!("/api/v1/conversations/{id}/assign"), Some(json!({ "user_id": null }))),
        (Method::POST, format!("/api/v1/conversations/{id}/typing"), Some(json!({ "on": true }))),
        (Method::GET, format!("/api/v1/customers/{customer}"), None),
        (Method::GET, format!("/api/v1/customers/{customer}/export"), None),
        (Method::DELETE, format!("/api/v1/customers/{customer}"), None),
        (Method::POST, "/api/v1/customers/identify".to_owned(), Some(json!({ "session_id": id, "user_id": "u-1" }))),
        (Method::GET, format!("/api/rooms/{id}/messages"), None),
    ];
    for (method, path, body) in cases {
        let reply = call(&app, method.clone(), &path, rival_token, body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.body);
        let text = reply.body.to_string();
        assert!(!text.contains("4411") && !text.contains("Olena"), "{method} {path} reveals data: {text}");
    }
    for path in ["/api/v1/customers", "/api/rooms"] {
        let reply = call(&app, Method::GET, path, rival_token, None).await;
        assert_eq!(reply.body["data"], json!([]), "{path}: {}", reply.body);
    }
    let stats = call(&app, Method::GET, "/api/v1/analytics/stats", rival_token, None).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    let counted = (stats.body["conversations"]["total"].as_i64(), stats.body["messages"]["total"].as_i64());
    assert_eq!(counted, (Some(0), Some(0)), "nothing of another account is counted: {}", stats.body);
    let team = call(&app, Method::GET, "/api/v1/team", rival_token, None).await;
    let emails: Vec<&str> =
        team.body["data"].as_array().expect("team").iter().filter_map(|m| m["email"].as_str()).collect();
    assert_eq!(emails, ["boss@rival.example"]);

    let history = app.list_ok(&visitor, "after=0").await.messages;
    assert!(history.iter().all(|m| m.message_text != "hijack"), "nothing was written");
    let resumed: SessionData = app.post_session_as(&visitor, json!({ "userSessionId": "private-1" })).await.data();
    assert_eq!(resumed.session.status, natter_protocol::SessionStatus::Active, "nothing was closed");
}

async fn another_accounts_operator_cannot_touch_this_accounts_team_or_webhooks(db: Db) {
    use reqwest::Method;
    let app = TestApp::spawn(db).await;
    let rival = other_account(&app).await;
    let store = app.state.store.as_ref();
    let boss =
        cli::create_operator(store, Some(&app.website.account_id), "boss@example.com", "admin password", "admin", None)
            .await
            .expect("admin");
    let body = json!({ "email": "boss@example.com", "password": "admin password" }).to_string();
    let boss_token =
        app.post_raw("/api/v1/auth/login", &[], body).await.body["access_token"].as_str().expect("t").to_owned();
    let hook = json!({ "url": "http://127.0.0.1:9/hook", "events": ["message.received"] });
    let hook = call(&app, Method::POST, "/api/v1/webhooks", &boss_token, Some(hook)).await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let hook_id = hook.body["data"]["id"].as_str().expect("id").to_owned();

    let rival_token = rival.admin_token.as_str();
    let listed = call(&app, Method::GET, "/api/v1/webhooks", rival_token, None).await;
    assert_eq!(listed.body["data"], json!([]));
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/webhooks/{hook_id}"), None),
        (Method::PUT, format!("/api/v1/webhooks/{hook_id}"), Some(json!({ "active": false }))),
        (Method::GET, format!("/api/v1/webhooks/{hook_id}/deliveries"), None),
        (Method::DELETE, format!("/api/v1/webhooks/{hook_id}"), None),
        (Method::PUT, format!("/api/v1/team/{}/role", boss.id), Some(json!({ "role_id": "agent" }))),
    ] {
        let reply = call(&app, method.clone(), &path, rival_token, body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.body);
    }
    let mine = call(&app, Method::GET, &format!("/api/v1/webhooks/{hook_id}"), &boss_token, None).await;
    assert_eq!(mine.body["data"]["active"], json!(true), "the webhook is untouched: {}", mine.body);
    let team = call(&app, Method::GET, "/api/v1/team", &boss_token, None).await;
    assert!(team.body.to_string().contains("boss@example.com") && !team.body.to_string().contains("rival"));
}

async fn another_accounts_sockets_receive_nothing_of_this_account(db: Db) {
    let app = TestApp::spawn(db).await;
    let rival = other_account(&app).await;
    let mine = app.session("mine-live").await;
    let mut stream = JsonSocket::connect(&app, "/ws").await;
    stream.send(json!({ "type": "auth", "token": format!("Bearer {}", rival.admin_token) })).await;
    assert_eq!(stream.json().await["type"], "auth.ok");
    stream.send(json!({ "type": "subscribe", "channels": ["conversations", "messages"] })).await;
    assert_eq!(stream.json().await["type"], "subscribed");
    let room_path = format!("/api/rooms/{}/chat?token={}", mine.session_id, rival.admin_token);
    let mut room = JsonSocket::connect(&app, &room_path).await;
    assert_eq!(room.json().await["type"], "error");
    assert_eq!(room.closed().await, Some(4003), "another account's room is refused");

    app.send_ok(&mine, "private words").await;
    let theirs: SessionData = app
        .post_raw(
            "/api/public/chat/sessions",
            &[("x-api-key", rival.website.token.as_str())],
            json!({ "userSessionId": "t-1", "firstMessage": "their own" }).to_string(),
        )
        .await
        .data();
    loop {
        let frame = stream.json().await;
        if frame["type"] == "error" {
            panic!("{frame}");
        }
        if frame["type"] == "message.new" {
            assert_eq!(frame["conversation_id"], theirs.session_id.as_str(), "only the account's own events: {frame}");
            break;
        }
        assert_ne!(frame["conversation"]["id"], mine.session_id.as_str(), "{frame}");
    }
}

async fn an_operators_sockets_end_when_they_log_out_or_lose_their_role(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("watched").await;
    let token = app.login().await.access_token;
    let mut stream = JsonSocket::connect(&app, "/ws").await;
    stream.send(json!({ "type": "auth", "token": format!("Bearer {token}") })).await;
    assert_eq!(stream.json().await["type"], "auth.ok");
    let mut room = JsonSocket::connect(&app, &format!("/api/rooms/{}/chat?token={token}", s.session_id)).await;
    assert_eq!(room.json().await["type"], "connected");

    let out = call(&app, reqwest::Method::POST, "/api/v1/auth/logout", &token, None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(stream.json().await["type"], "error");
    assert_eq!(stream.closed().await, Some(4001), "the operator socket ends with the session");
    assert_eq!(room.json().await["type"], "error");
    assert_eq!(room.closed().await, Some(4001), "so does the room stream");

    let store = app.state.store.as_ref();
    cli::create_operator(store, None, "boss@example.com", "admin password", "admin", None).await.expect("admin");
    let body = json!({ "email": "boss@example.com", "password": "admin password" }).to_string();
    let boss_token =
        app.post_raw("/api/v1/auth/login", &[], body).await.body["access_token"].as_str().expect("t").to_owned();
    let mut boss_stream = JsonSocket::connect(&app, "/ws").await;
    boss_stream.send(json!({ "type": "auth", "token": format!("Bearer {boss_token}") })).await;
    assert_eq!(boss_stream.json().await["type"], "auth.ok");
    let colleague =
        cli::create_operator(store, None, "second@example.com", "admin password", "admin", None).await.expect("admin");
    let body = json!({ "email": "second@example.com", "password": "admin password" }).to_string();
    let second_token =
        app.post_raw("/api/v1/auth/login", &[], body).await.body["access_token"].as_str().expect("t").to_owned();
    let mut second = JsonSocket::connect(&app, "/ws").await;
    second.send(json!({ "type": "auth", "token": format!("Bearer {second_token}") })).await;
    assert_eq!(second.json().await["type"], "auth.ok");
    let demoted = call(
        &app,
        reqwest::Method::PUT,
        &format!("/api/v1/team/{}/role", colleague.id),
        &boss_token,
        Some(json!({ "role_id": "agent" })),
    )
    .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    assert_eq!(second.json().await["type"], "error");
    assert_eq!(second.closed().await, Some(4001), "a demoted operator's socket ends");
    boss_stream.send(json!({ "type": "ping" })).await;
    assert_eq!(boss_stream.json().await["type"], "pong", "other operators' sockets stay open");
}

crate::on_both_databases!(
    an_operators_sockets_end_when_they_log_out_or_lose_their_role,
    another_accounts_operator_reaches_nothing_of_this_account,
    another_accounts_operator_cannot_touch_this_accounts_team_or_webhooks,
    another_accounts_sockets_receive_nothing_of_this_account,
    a_user_session_id_alone_neither_resumes_nor_updates_a_session,
    a_session_of_another_website_is_not_found,
    widget_v1_never_reaches_a_session_of_another_dialect,
    widget_v1_accepts_its_session_token_in_place_of_the_session_id,
    a_socket_subscribes_only_with_a_live_session_token,
);
