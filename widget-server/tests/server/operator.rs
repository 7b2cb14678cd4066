//! The minimal operator path: login, refresh, the inbox and replies.

use natter_protocol::operator::{Conversation, Item, List, OperatorMessage, TokenResponse};
use reqwest::StatusCode;
use serde_json::json;

use natter_protocol::ws::ServerFrame;
use natter_protocol::SessionStatus;

use crate::support::{Db, TestApp, WsEvent, OPERATOR_EMAIL};

impl TestApp {
    /// An admin's access token (the default test operator is an agent).
    async fn admin_token(&self) -> String {
        natter_server::cli::create_operator(
            self.state.store.as_ref(),
            None,
            "boss@example.com",
            "admin password",
            "admin",
            None,
        )
        .await
        .expect("admin");
        let body = json!({ "email": "boss@example.com", "password": "admin password" });
        let reply = self.post_raw("/api/v1/auth/login", &[], body.to_string()).await;
        reply.body["access_token"].as_str().expect("token").to_owned()
    }

    pub(crate) async fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> crate::support::Reply {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        crate::support::Reply { status, body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), headers }
    }
}

async fn login_returns_a_bearer_token_pair_and_wrong_passwords_are_401(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = app.login().await;
    assert_eq!(tokens.token_type, "bearer");
    assert_eq!(tokens.expires_in, 1800);
    let wrong = app
        .post_raw("/api/v1/auth/login", &[], json!({ "email": OPERATOR_EMAIL, "password": "nope" }).to_string())
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["code"], "INVALID_CREDENTIALS");
    assert!(wrong.body["detail"].is_string());
    let unknown = app
        .post_raw("/api/v1/auth/login", &[], json!({ "email": "who@example.com", "password": "x" }).to_string())
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let malformed = app.post_raw("/api/v1/auth/login", &[], "{").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["code"], "INVALID_JSON");
}

async fn a_refresh_token_works_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = app.login().await;
    let body = json!({ "refresh_token": tokens.refresh_token }).to_string();
    let first = app.post_raw("/api/v1/auth/refresh", &[], body.clone()).await;
    assert_eq!(first.status, StatusCode::OK);
    let rotated: TokenResponse = serde_json::from_value(first.body).expect("tokens");
    assert_ne!(rotated.refresh_token, tokens.refresh_token);
    let reused = app.post_raw("/api/v1/auth/refresh", &[], body).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
}

async fn the_inbox_lists_conversations_with_their_last_message(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.session("inbox-a").await;
    app.send_ok(&a, "question from a").await;
    let b = app.session("inbox-b").await;
    let tokens = app.login().await;
    let auth = format!("Bearer {}", tokens.access_token);
    let reply = app.get_raw("/api/v1/conversations?per_page=1", &[("authorization", &auth)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let page: List<Conversation> = serde_json::from_value(reply.body).expect("list");
    let meta = page.meta.expect("meta");
    assert_eq!((meta.total, meta.page, meta.per_page), (2, 1, 1));
    assert_eq!(page.data.len(), 1);
    let all: List<Conversation> =
        serde_json::from_value(app.get_raw("/api/v1/conversations", &[("authorization", &auth)]).await.body)
            .expect("list");
    let conv_a = all.data.iter().find(|c| c.id == a.session_id).expect("a listed");
    assert!(conv_a.last_message.is_some());
    assert!(all.data.iter().any(|c| c.id == b.session_id));
    let one = app.get_raw(&format!("/api/v1/conversations/{}", a.session_id), &[("authorization", &auth)]).await;
    let item: Item<Conversation> = serde_json::from_value(one.body).expect("item");
    assert_eq!(item.data.status, "pending");
    let bad = app.get_raw("/api/v1/conversations?per_page=1000", &[("authorization", &auth)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app.get_raw("/api/v1/conversations?status=sleeping", &[("authorization", &auth)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn operator_endpoints_refuse_missing_and_forged_tokens(db: Db) {
    let app = TestApp::spawn(db).await;
    let none = app.get_raw("/api/v1/conversations", &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["code"], "NOT_AUTHENTICATED");
    let forged = app.get_raw("/api/v1/conversations", &[("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")]).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let s = app.session("op-auth").await;
    let session_token = format!("Bearer {}", s.token.clone().unwrap_or_default());
    let reply = app
        .post_raw(
            &format!("/api/v1/conversations/{}/messages", s.session_id),
            &[("authorization", &session_token)],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "a visitor's session token is no operator token");
}

async fn operator_messages_are_listed_with_sender_types(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("op-msgs").await;
    app.send_ok(&s, "hi").await;
    let tokens = app.login().await;
    let sent = app.operator_reply(&tokens.access_token, &s.session_id, "hello, how can I help?").await;
    assert_eq!(sent.status, StatusCode::CREATED);
    let auth = format!("Bearer {}", tokens.access_token);
    let reply = app
        .get_raw(&format!("/api/v1/conversations/{}/messages?limit=2", s.session_id), &[("authorization", &auth)])
        .await;
    let list: List<OperatorMessage> = serde_json::from_value(reply.body).expect("list");
    let types: Vec<&str> = list.data.iter().map(|m| m.sender_type.as_str()).collect();
    assert_eq!(types, ["bot", "agent"], "the newest two, oldest first");
    let empty = app.operator_reply(&tokens.access_token, &s.session_id, " ").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app.operator_reply(&tokens.access_token, "no-such-conversation", "hello").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["code"], "NOT_FOUND");
}

async fn logout_revokes_the_access_and_refresh_tokens(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = app.login().await;
    let auth = format!("Bearer {}", tokens.access_token);
    assert_eq!(app.get_raw("/api/v1/conversations", &[("authorization", &auth)]).await.status, StatusCode::OK);
    let out = app.authed(reqwest::Method::POST, "/api/v1/auth/logout", &tokens.access_token, None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_raw("/api/v1/conversations", &[("authorization", &auth)]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refresh =
        app.post_raw("/api/v1/auth/refresh", &[], json!({ "refresh_token": tokens.refresh_token }).to_string()).await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login().await.token_type, "bearer", "logging in again works");
}

async fn closing_reaches_the_widget_and_a_visitor_message_reopens(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("close-1").await;
    let mut ws = app.subscribed(&s, None).await;
    let token = app.login().await.access_token;
    let closed =
        app.authed(reqwest::Method::POST, &format!("/api/v1/conversations/{}/close", s.session_id), &token, None).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(closed.body["data"]["status"], "closed");
    let status_on_socket = |ev: WsEvent| match ev {
        WsEvent::Frame(ServerFrame::ConversationStatusChanged(c)) => c.status,
        other => panic!("expected conversation.status_changed, got {other:?}"),
    };
    assert_eq!(status_on_socket(ws.event().await), SessionStatus::Closed);
    let note = ws.created().await;
    assert_eq!(
        (note.sender, note.message_text.as_str()),
        (natter_protocol::Sender::System, "Ann closed the conversation")
    );
    let list = app.authed(reqwest::Method::GET, "/api/v1/conversations?status=closed", &token, None).await;
    assert_eq!(list.body["meta"]["total"], 1);
    app.send_ok(&s, "one more thing").await;
    let mut reopened = None;
    while reopened.is_none() {
        match ws.event().await {
            WsEvent::Frame(ServerFrame::ConversationStatusChanged(c)) => reopened = Some(c.status),
            WsEvent::Frame(_) => {}
            WsEvent::Closed(code) => panic!("closed {code:?}"),
        }
    }
    assert_eq!(reopened, Some(SessionStatus::Active));
    let again =
        app.authed(reqwest::Method::POST, &format!("/api/v1/conversations/{}/close", s.session_id), &token, None).await;
    assert_eq!(again.status, StatusCode::OK);
    let reopen = app
        .authed(reqwest::Method::POST, &format!("/api/v1/conversations/{}/reopen", s.session_id), &token, None)
        .await;
    assert_eq!(reopen.body["data"]["status"], "pending", "open but nobody assigned yet");
    let missing = app.authed(reqwest::Method::POST, "/api/v1/conversations/nope/close", &token, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn assigning_sets_the_operator_and_filters_by_it(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("assign-1").await;
    app.session("assign-2").await;
    let tokens = app.login().await;
    let me = app.state.store.operator_by_email(OPERATOR_EMAIL).await.expect("db").expect("operator");
    let path = format!("/api/v1/conversations/{}/assign", s.session_id);
    let assigned =
        app.authed(reqwest::Method::POST, &path, &tokens.access_token, Some(json!({ "user_id": me.id }))).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert_eq!(assigned.body["data"]["assigned_to"], me.id.as_str());
    assert_eq!(assigned.body["data"]["status"], "open");
    let mine = app
        .authed(
            reqwest::Method::GET,
            &format!("/api/v1/conversations?assigned_to={}", me.id),
            &tokens.access_token,
            None,
        )
        .await;
    assert_eq!(mine.body["meta"]["total"], 1);
    assert_eq!(mine.body["data"][0]["id"], s.session_id.as_str());
    let unknown =
        app.authed(reqwest::Method::POST, &path, &tokens.access_token, Some(json!({ "user_id": "ghost" }))).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let cleared =
        app.authed(reqwest::Method::POST, &path, &tokens.access_token, Some(json!({ "user_id": null }))).await;
    assert!(cleared.body["data"]["assigned_to"].is_null());
}

async fn pending_and_open_are_filtered_in_the_query_so_pages_and_totals_agree(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = app.login().await;
    let me = app.state.store.operator_by_email(OPERATOR_EMAIL).await.expect("db").expect("operator");
    let mut sessions = Vec::new();
    for i in 0..5 {
        sessions.push(app.session(&format!("filter-{i}")).await);
    }
    for s in &sessions[..2] {
        let path = format!("/api/v1/conversations/{}/assign", s.session_id);
        let r = app.authed(reqwest::Method::POST, &path, &tokens.access_token, Some(json!({ "user_id": me.id }))).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let list = |query: &'static str| {
        let (app, token) = (&app, tokens.access_token.clone());
        async move { app.authed(reqwest::Method::GET, &format!("/api/v1/conversations?{query}"), &token, None).await }
    };
    let pending = list("status=pending&per_page=2").await;
    assert_eq!(pending.body["meta"]["total"], 3, "{}", pending.body);
    assert_eq!(pending.body["data"].as_array().map(Vec::len), Some(2), "a full page of pending ones");
    assert!(pending.body["data"].as_array().expect("list").iter().all(|c| c["status"] == "pending"));
    let open = list("status=open").await;
    assert_eq!(open.body["meta"]["total"], 2);
    assert!(open.body["data"].as_array().expect("list").iter().all(|c| c["status"] == "open"));
    assert_eq!(list("channel=widget").await.body["meta"]["total"], 5);
    assert_eq!(list("channel=telegram").await.body["meta"]["total"], 0);
    assert_eq!(list("channel=fax").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn an_operator_starts_a_conversation_the_visitor_sees_on_next_open(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let visitor = app.session("returning-visitor").await;
    app.send_ok(&visitor, "Is the blue one in stock?").await;
    let id = visitor.session_id.clone();
    let call = |method: reqwest::Method, path: String, body: Option<serde_json::Value>| {
        let (app, token) = (&app, token.clone());
        async move { app.authed(method, &path, &token, body).await }
    };
    let seen = call(reqwest::Method::GET, format!("/api/v1/conversations/{id}"), None).await;
    let customer = seen.body["data"]["customer"]["id"].as_str().expect("customer").to_owned();
    assert_eq!(seen.body["data"]["metadata"], json!({}));
    call(reqwest::Method::POST, format!("/api/v1/conversations/{id}/close"), None).await;

    let start = json!({ "customer_id": customer, "channel": "widget", "metadata": { "order": "A-17" } });
    let started = call(reqwest::Method::POST, "/api/v1/conversations".into(), Some(start.clone())).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    assert_eq!(started.body["data"]["id"], id.as_str(), "the visitor's own conversation opens again");
    assert_eq!(started.body["data"]["status"], "pending");
    assert_eq!(started.body["data"]["metadata"]["order"], "A-17");
    let again =
        call(reqwest::Method::POST, "/api/v1/conversations".into(), Some(json!({ "customer_id": customer }))).await;
    assert_eq!(again.status, StatusCode::OK, "already open");
    assert_eq!(again.body["data"]["metadata"]["order"], "A-17", "kept");
    let reply = app.operator_reply(&token, &id, "The blue one is back in stock.").await;
    assert_eq!(reply.status, StatusCode::CREATED);

    let reopened: natter_protocol::SessionData =
        app.post_session_as(&visitor, json!({ "userSessionId": "returning-visitor" })).await.data();
    assert_eq!(reopened.session_id, id);
    assert_eq!(reopened.session.status, natter_protocol::SessionStatus::Active);
    let last = reopened.messages.last().expect("messages");
    assert_eq!(last.message_text, "The blue one is back in stock.");

    for (body, status) in [
        (json!({ "customer_id": customer, "channel": "telegram" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "customer_id": customer, "channel": "fax" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "customer_id": customer, "metadata": [1] }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "customer_id": "no-such-customer" }), StatusCode::NOT_FOUND),
        (json!({ "channel": "widget" }), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let refused = call(reqwest::Method::POST, "/api/v1/conversations".into(), Some(body.clone())).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
    }
}

async fn the_team_is_managed_by_admins_only(db: Db) {
    let app = TestApp::spawn(db).await;
    let agent = app.login().await.access_token;
    let refused = app.authed(reqwest::Method::GET, "/api/v1/team", &agent, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["code"], "FORBIDDEN");
    let admin = app.admin_token().await;
    let team = app.authed(reqwest::Method::GET, "/api/v1/team", &admin, None).await;
    assert_eq!(team.body["meta"]["total"], 2);
    let invite =
        json!({ "email": "new@example.com", "name": "Newcomer", "departments": ["support", " sales ", "support"] });
    let invited = app.authed(reqwest::Method::POST, "/api/v1/team/invite", &admin, Some(invite.clone())).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    assert_eq!(invited.body["data"]["role"], "agent");
    assert_eq!(invited.body["data"]["departments"], json!(["support", "sales"]));
    assert!(invited.body["data"].get("temporary_password").is_none(), "no password is handed around");
    let link = invited.body["data"]["invite_url"].as_str().expect("link").to_owned();
    assert!(link.starts_with("http://127.0.0.1:") && link.contains("/console#invite="), "{link}");
    let invitation = link.rsplit('=').next().expect("token").to_owned();
    let accept = |token: &str, password: &str| {
        let body = json!({ "token": token, "password": password }).to_string();
        app.post_raw("/api/v1/auth/invitations/accept", &[], body)
    };
    assert_eq!(accept(&invitation, "short").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(accept("made-up", "a long new password").await.status, StatusCode::UNAUTHORIZED);
    let accepted = accept(&invitation, "a long new password").await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert!(accepted.body["access_token"].is_string(), "signed in");
    assert_eq!(accept(&invitation, "another password").await.status, StatusCode::UNAUTHORIZED, "the link works once");
    let login = app
        .post_raw(
            "/api/v1/auth/login",
            &[],
            json!({ "email": "new@example.com", "password": "a long new password" }).to_string(),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "the invited agent logs in with the password they set");
    let team = app.authed(reqwest::Method::GET, "/api/v1/team", &admin, None).await;
    let listed = team.body["data"].as_array().expect("team").iter().find(|m| m["email"] == "new@example.com").cloned();
    assert_eq!(listed.expect("listed")["departments"], json!(["support", "sales"]));
    let duplicate = app.authed(reqwest::Method::POST, "/api/v1/team/invite", &admin, Some(invite)).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let id = invited.body["data"]["id"].as_str().expect("id").to_owned();
    let bad = app
        .authed(reqwest::Method::PUT, &format!("/api/v1/team/{id}/role"), &admin, Some(json!({ "role_id": "owner" })))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let roles = app.authed(reqwest::Method::GET, "/api/v1/team/roles", &agent, None).await;
    let admin_role = roles.body["data"].as_array().expect("roles").iter().find(|r| r["name"] == "admin").cloned();
    let admin_role_id = admin_role.expect("the admin role")["id"].as_str().expect("id").to_owned();
    let promoted = app
        .authed(
            reqwest::Method::PUT,
            &format!("/api/v1/team/{id}/role"),
            &admin,
            Some(json!({ "role_id": admin_role_id })),
        )
        .await;
    assert_eq!(promoted.body["data"]["role"], "admin", "a role's id from /team/roles works");
    let by_agent = app
        .authed(reqwest::Method::PUT, &format!("/api/v1/team/{id}/role"), &agent, Some(json!({ "role_id": "agent" })))
        .await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
}

async fn removing_a_member_ends_their_sessions_and_availability_follows_their_console(db: Db) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_token().await;
    let agent = app.login().await.access_token;
    let agent_id = app.state.store.operator_by_email(OPERATOR_EMAIL).await.expect("db").expect("agent").id;
    let availability = |team: &serde_json::Value| {
        let me = team["data"].as_array().expect("team").iter().find(|m| m["id"] == agent_id.as_str()).cloned();
        let me = me.expect("the agent");
        (me["availability"].as_str().map(str::to_owned), me["availability_setting"].as_str().map(str::to_owned))
    };
    let team = app.authed(reqwest::Method::GET, "/api/v1/team", &admin, None).await;
    assert_eq!(availability(&team.body), (Some("away".into()), Some("online".into())), "no console connected");
    let mut console = crate::operator_stream::operator_socket(&app).await;
    let team = app.authed(reqwest::Method::GET, "/api/v1/team", &admin, None).await;
    assert_eq!(availability(&team.body).0.as_deref(), Some("online"));
    let away = app
        .authed(reqwest::Method::PUT, "/api/v1/team/me/availability", &agent, Some(json!({ "availability": "away" })))
        .await;
    assert_eq!(away.status, StatusCode::OK, "{}", away.body);
    assert_eq!(away.body["data"]["availability"], "away");
    let bad = app
        .authed(reqwest::Method::PUT, "/api/v1/team/me/availability", &agent, Some(json!({ "availability": "busy" })))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.authed(reqwest::Method::PUT, "/api/v1/team/me/availability", &agent, Some(json!({ "availability": "online" })))
        .await;

    let s = app.session("assigned-to-leaver").await;
    let path = format!("/api/v1/conversations/{}/assign", s.session_id);
    app.authed(reqwest::Method::POST, &path, &admin, Some(json!({ "user_id": agent_id }))).await;
    let by_agent = app.authed(reqwest::Method::DELETE, &format!("/api/v1/team/{agent_id}"), &agent, None).await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
    let removed = app.authed(reqwest::Method::DELETE, &format!("/api/v1/team/{agent_id}"), &admin, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(
        app.authed(reqwest::Method::GET, "/api/v1/conversations", &agent, None).await.status,
        StatusCode::UNAUTHORIZED,
        "their tokens no longer work"
    );
    assert_eq!(crate::operator_stream::next_of(&mut console, "error").await["type"], "error", "their console is told");
    let conversation =
        app.authed(reqwest::Method::GET, &format!("/api/v1/conversations/{}", s.session_id), &admin, None).await;
    assert!(conversation.body["data"]["assigned_to"].is_null(), "their conversations are unassigned");
    let team = app.authed(reqwest::Method::GET, "/api/v1/team", &admin, None).await;
    assert_eq!(team.body["meta"]["total"], 1);
    let again = app.authed(reqwest::Method::DELETE, &format!("/api/v1/team/{agent_id}"), &admin, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let me = app.state.store.operator_by_email("boss@example.com").await.expect("db").expect("admin").id;
    let myself = app.authed(reqwest::Method::DELETE, &format!("/api/v1/team/{me}"), &admin, None).await;
    assert_eq!(myself.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn operator_typing_shows_in_the_widget(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("typing-1").await;
    let mut ws = app.subscribed(&s, None).await;
    let token = app.login().await.access_token;
    let path = format!("/api/v1/conversations/{}/typing", s.session_id);
    for on in [true, false] {
        let reply = app.authed(reqwest::Method::POST, &path, &token, Some(json!({ "on": on }))).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        match (on, ws.event().await) {
            (true, WsEvent::Frame(ServerFrame::TypingOn(t))) | (false, WsEvent::Frame(ServerFrame::TypingOff(t))) => {
                assert_eq!((t.user.kind.as_str(), t.user.name.as_str()), ("agent", "Ann"));
            }
            (_, other) => panic!("expected typing {on}, got {other:?}"),
        }
    }
}

async fn customers_join_only_through_verified_identity(db: Db) {
    let app = TestApp::spawn(db).await;
    let first = app.post_session(json!({ "userSessionId": "laptop", "name": "Ira", "phone": "+380931112233" })).await;
    let first: natter_protocol::SessionData = first.data();
    let second = app.post_session(json!({ "userSessionId": "phone", "phone": "+380931112233" })).await;
    let second: natter_protocol::SessionData = second.data();
    app.session("stranger").await;
    let token = app.login().await.access_token;
    let listed = app.authed(reqwest::Method::GET, "/api/v1/customers?per_page=2", &token, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["meta"]["total"], 3, "a shared phone number joins nothing: {}", listed.body);
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(2));

    let conversation =
        app.authed(reqwest::Method::GET, &format!("/api/v1/conversations/{}", first.session_id), &token, None).await;
    let ira = conversation.body["data"]["customer"]["id"].as_str().expect("customer id").to_owned();
    let one = app.authed(reqwest::Method::GET, &format!("/api/v1/customers/{ira}"), &token, None).await;
    assert_eq!(
        (one.body["data"]["name"].as_str(), one.body["data"]["phone"].as_str()),
        (Some("Ira"), Some("+380931112233"))
    );
    assert_eq!(one.body["data"]["verified"], false);
    assert_eq!(one.body["data"]["conversations"].as_array().map(Vec::len), Some(1));

    for s in [&first, &second] {
        let body = json!({ "session_id": s.session_id, "user_id": "crm-42", "email": "ira@example.com", "metadata": { "plan": "pro" } });
        let r = app.authed(reqwest::Method::POST, "/api/v1/customers/identify", &token, Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["data"]["user_id"], "crm-42");
    }
    let joined = app.authed(reqwest::Method::GET, &format!("/api/v1/customers/{ira}"), &token, None).await;
    let ids: Vec<&str> = joined.body["data"]["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [first.session_id.as_str(), second.session_id.as_str()], "{}", joined.body);
    assert_eq!(
        (joined.body["data"]["verified"].as_bool(), joined.body["data"]["metadata"]["plan"].as_str()),
        (Some(true), Some("pro"))
    );
    assert!(joined.body["data"]["first_seen"].as_str() <= joined.body["data"]["last_seen"].as_str());
    let listed = app.authed(reqwest::Method::GET, "/api/v1/customers", &token, None).await;
    assert_eq!(listed.body["meta"]["total"], 2, "the second session's own customer is gone");

    let bad = json!({ "session_id": first.session_id, "user_id": "  " });
    let r = app.authed(reqwest::Method::POST, "/api/v1/customers/identify", &token, Some(bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app.authed(reqwest::Method::GET, "/api/v1/customers/nobody", &token, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn an_admin_exports_and_erases_a_customer(db: Db) {
    let app = TestApp::spawn(db).await;
    let s: natter_protocol::SessionData = app
        .post_session(
            json!({ "userSessionId": "erase-me", "name": "Petro", "firstMessage": "my address is 5 Main St" }),
        )
        .await
        .data();
    let other = app.session("keep-me").await;
    let agent = app.login().await.access_token;
    let admin = app.admin_token().await;
    let conversation =
        app.authed(reqwest::Method::GET, &format!("/api/v1/conversations/{}", s.session_id), &agent, None).await;
    let customer = conversation.body["data"]["customer"]["id"].as_str().expect("id").to_owned();

    let denied = app.authed(reqwest::Method::DELETE, &format!("/api/v1/customers/{customer}"), &agent, None).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "agents cannot erase");
    let export = app.authed(reqwest::Method::GET, &format!("/api/v1/customers/{customer}/export"), &admin, None).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let texts: Vec<&str> = export.body["data"]["conversations"][0]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(texts.contains(&"my address is 5 Main St"), "{texts:?}");

    let erased = app.authed(reqwest::Method::DELETE, &format!("/api/v1/customers/{customer}"), &admin, None).await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
    for path in [format!("/api/v1/customers/{customer}"), format!("/api/v1/conversations/{}", s.session_id)] {
        assert_eq!(app.authed(reqwest::Method::GET, &path, &admin, None).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let visitor = app.list(&s, "after=0").await;
    assert_eq!(visitor.status, StatusCode::NOT_FOUND, "the session is gone for its visitor too");
    assert!(!app.list_ok(&other, "after=0").await.messages.is_empty(), "other customers are untouched");
}

async fn analytics_count_conversations_and_messages_and_time_replies(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let a = app.session("stats-a").await;
    let asked = app.send_ok(&a, "question").await;
    let answer = app.operator_reply(&token, &a.session_id, "answer").await;
    let answered_at = answer.body["data"]["created_at"].as_str().expect("time").to_owned();
    app.authed(reqwest::Method::POST, &format!("/api/v1/conversations/{}/close", a.session_id), &token, None).await;
    let b = app.session("stats-b").await;
    app.send_ok(&b, "another question").await;

    let stats = app.authed(reqwest::Method::GET, "/api/v1/analytics/stats", &token, None).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    let c = &stats.body["conversations"];
    assert_eq!((c["total"].as_i64(), c["open"].as_i64(), c["closed"].as_i64()), (Some(2), Some(1), Some(1)));
    let ms = |iso: &str| chrono::DateTime::parse_from_rfc3339(iso).expect("iso").timestamp_millis();
    let expected_response = ((ms(&answered_at) - ms(&asked.created_at)) as f64 / 1000.0).round() as i64;
    assert_eq!(c["avg_response_time"].as_i64(), Some(expected_response));
    assert!(c["avg_resolution_time"].as_i64().is_some_and(|s| s >= 0));
    let m = &stats.body["messages"];
    // Each session: greeting and contact request from the bot, one visitor message; one operator
    // reply and the system note of the close. No message was written by an AI provider.
    assert_eq!(
        (m["total"].as_i64(), m["from_customers"].as_i64(), m["from_agents"].as_i64(), m["from_ai"].as_i64()),
        (Some(8), Some(2), Some(1), Some(0))
    );
    let past =
        app.authed(reqwest::Method::GET, "/api/v1/analytics/stats?from=2020-01-01&to=2020-01-31", &token, None).await;
    assert_eq!(past.body["conversations"]["total"], 0);
    assert!(past.body["conversations"]["avg_response_time"].is_null());
    for bad in ["from=yesterday", "from=2024-02-01&to=2024-01-01", "granularity=fortnight"] {
        let r = app.authed(reqwest::Method::GET, &format!("/api/v1/analytics/stats?{bad}"), &token, None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

crate::on_both_databases!(
    removing_a_member_ends_their_sessions_and_availability_follows_their_console,
    an_operator_starts_a_conversation_the_visitor_sees_on_next_open,
    pending_and_open_are_filtered_in_the_query_so_pages_and_totals_agree,
    customers_join_only_through_verified_identity,
    an_admin_exports_and_erases_a_customer,
    analytics_count_conversations_and_messages_and_time_replies,
    operator_typing_shows_in_the_widget,
    logout_revokes_the_access_and_refresh_tokens,
    closing_reaches_the_widget_and_a_visitor_message_reopens,
    assigning_sets_the_operator_and_filters_by_it,
    the_team_is_managed_by_admins_only,
    login_returns_a_bearer_token_pair_and_wrong_passwords_are_401,
    a_refresh_token_works_once,
    the_inbox_lists_conversations_with_their_last_message,
    operator_endpoints_refuse_missing_and_forged_tokens,
    operator_messages_are_listed_with_sender_types,
);
