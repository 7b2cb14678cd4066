//! Availability at work: with `awayWhenNoOperator` the bot says the away
//! message and the widget shows offline while no operator is available, and
//! with `autoAssign` a new conversation goes to the available operator with
//! the fewest open conversations.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::operator_stream::operator_socket;
use crate::support::{Db, TestApp};

const AWAY: &str = "We are away right now. Leave your message and we will answer as soon as we are back.";

async fn configure(app: &TestApp) {
    let settings = r#"{"awayWhenNoOperator": true, "autoAssign": true, "contactForm": "off"}"#;
    natter_server::cli::update_website(app.state.store.as_ref(), &app.website.token, Some(settings), vec![], None)
        .await
        .expect("settings");
}

async fn online(app: &TestApp) -> bool {
    let res = app.get_raw("/api/public/chat/config", &[("x-api-key", &app.website.token)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["data"]["online"].as_bool().expect("online")
}

async fn bot_texts(app: &TestApp, session_id: &str) -> Vec<String> {
    app.sql_texts(&format!(
        "SELECT body FROM messages WHERE session_id = '{session_id}' AND sender = 'bot' ORDER BY seq"
    ))
    .await
}

async fn conversation(app: &TestApp, token: &str, id: &str) -> Value {
    let res =
        app.http.get(app.url(&format!("/api/v1/conversations/{id}"))).bearer_auth(token).send().await.expect("get");
    res.json::<Value>().await.expect("json")["data"].clone()
}

async fn with_nobody_available_the_bot_says_away_and_nothing_is_assigned(db: Db) {
    let app = TestApp::spawn(db).await;
    configure(&app).await;
    let token = app.login().await.access_token;
    assert!(!online(&app).await, "no console is connected");
    let s = app.session("nobody-there").await;
    app.send_ok(&s, "hello?").await;
    assert!(bot_texts(&app, &s.session_id).await.iter().any(|t| t == AWAY), "the away message");
    assert!(conversation(&app, &token, &s.session_id).await["assigned_to"].is_null());
}

async fn an_available_operator_gets_new_conversations_and_no_away_message(db: Db) {
    let app = TestApp::spawn(db).await;
    configure(&app).await;
    let token = app.login().await.access_token;
    let ann = app.state.store.operator_by_email(crate::support::OPERATOR_EMAIL).await.expect("db").expect("ann").id;
    let _console = operator_socket(&app).await;
    assert!(online(&app).await, "Ann's console is connected");
    let s = app.session("someone-there").await;
    app.send_ok(&s, "hello?").await;
    assert_eq!(conversation(&app, &token, &s.session_id).await["assigned_to"], ann.as_str(), "assigned to Ann");
    assert!(!bot_texts(&app, &s.session_id).await.iter().any(|t| t == AWAY));

    // Ann steps away: she is no longer given conversations, and visitors hear the away message.
    let away = app
        .http
        .put(app.url("/api/v1/team/me/availability"))
        .bearer_auth(&token)
        .json(&json!({ "availability": "away" }))
        .send()
        .await
        .expect("availability");
    assert_eq!(away.status(), StatusCode::OK);
    assert!(!online(&app).await);
    let later = app.session("while-away").await;
    app.send_ok(&later, "anyone?").await;
    assert!(conversation(&app, &token, &later.session_id).await["assigned_to"].is_null());
    assert!(bot_texts(&app, &later.session_id).await.iter().any(|t| t == AWAY));
}

crate::on_both_databases!(
    with_nobody_available_the_bot_says_away_and_nothing_is_assigned,
    an_available_operator_gets_new_conversations_and_no_away_message,
);
