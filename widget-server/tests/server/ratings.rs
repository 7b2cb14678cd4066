//! Ratings: once an operator closes a conversation its visitor rates it 1–5
//! with an optional comment; the rating is kept on the conversation (rating
//! again replaces it), shown to operators and counted in the analytics'
//! `satisfaction`. Anything else is refused in the public envelope.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{Db, TestApp};
use crate::webhooks::call;

/// A session whose visitor wrote and whose conversation an operator closed.
async fn closed(app: &TestApp, token: &str, user_session_id: &str) -> natter_protocol::SessionData {
    let session = app.session(user_session_id).await;
    app.send_ok(&session, "thanks, that helped").await;
    let path = format!("/api/v1/conversations/{}/close", session.session_id);
    let (status, body) = call(app, Method::POST, &path, token, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    session
}

async fn satisfaction(app: &TestApp, token: &str) -> Value {
    let (status, body) = call(app, Method::GET, "/api/v1/analytics/stats", token, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["satisfaction"].clone()
}

async fn a_closed_conversation_is_rated_and_counted_in_satisfaction(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let open = app.session("still-open").await;
    app.send_ok(&open, "hello?").await;
    let early = app.rate(&open, json!({ "score": 5 })).await;
    assert_eq!((early.status, early.error_code()), (StatusCode::CONFLICT, "conflict"), "{}", early.body);
    assert_eq!(satisfaction(&app, &token).await, json!({ "average": null, "responses": 0 }));

    let first = closed(&app, &token, "rates-twice").await;
    let rated = app.rate(&first, json!({ "score": 2, "comment": "slow" })).await;
    assert_eq!(rated.status, StatusCode::CREATED, "{}", rated.body);
    assert_eq!(
        (rated.body["data"]["rating"]["score"].clone(), rated.body["data"]["rating"]["comment"].clone()),
        (json!(2), json!("slow"))
    );
    let again = app.rate(&first, json!({ "score": 5, "comment": "  solved after all  " })).await;
    assert_eq!(again.status, StatusCode::OK, "rating again replaces the rating: {}", again.body);
    let second = closed(&app, &token, "rates-once").await;
    assert_eq!(app.rate(&second, json!({ "score": 4 })).await.status, StatusCode::CREATED);

    assert_eq!(satisfaction(&app, &token).await, json!({ "average": 4.5, "responses": 2 }));
    let (status, body) =
        call(&app, Method::GET, &format!("/api/v1/conversations/{}", first.session_id), &token, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["data"]["rating"]["score"].clone(), body["data"]["rating"]["comment"].clone()),
        (json!(5), json!("solved after all"))
    );
    assert!(body["data"]["rating"]["rated_at"].is_string(), "{body}");
}

async fn a_rating_is_bounded_and_only_for_the_sessions_holder(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let session = closed(&app, &token, "hostile").await;
    for (body, status, code) in [
        (json!({ "score": 0 }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_score"),
        (json!({ "score": 6 }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_score"),
        (json!({ "score": -9_223_372_036_854_775_807_i64 }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_score"),
        (json!({ "score": 3, "comment": "x".repeat(1_001) }), StatusCode::UNPROCESSABLE_ENTITY, "comment_too_long"),
        (json!({ "score": 3, "comment": "a\u{0}b" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_comment"),
    ] {
        let reply = app.rate(&session, body.clone()).await;
        assert_eq!((reply.status, reply.error_code()), (status, code), "{body}: {}", reply.body);
        assert_eq!(reply.body["success"], json!(false));
    }
    for body in [json!({ "score": 4.5 }), json!({ "score": "five" }), json!({}), json!([]), json!(null)] {
        let reply = app.rate(&session, body.clone()).await;
        assert!(reply.status.is_client_error(), "{body}: {}", reply.body);
        assert_eq!(reply.body["success"], json!(false), "{body}: in the envelope");
    }
    let path = format!("/api/public/chat/sessions/{}/rating", session.session_id);
    let stranger = app.post_raw(&path, &[("x-api-key", &app.website.token)], json!({ "score": 1 }).to_string()).await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED, "{}", stranger.body);
    // Another visitor's own token opens only their own session.
    let other = closed(&app, &token, "another-visitor").await;
    let headers =
        [("x-api-key", app.website.token.as_str()), ("x-session-token", other.token.as_deref().expect("token"))];
    let crossed = app.post_raw(&path, &headers, json!({ "score": 1 }).to_string()).await;
    assert!(crossed.status.is_client_error(), "{}", crossed.body);
    assert_eq!(crossed.body["success"], json!(false));
    assert!(app.sql_texts("SELECT session_id FROM ratings").await.is_empty(), "nothing was stored");
    let comment = "y".repeat(1_000);
    let fits = app.rate(&session, json!({ "score": 3, "comment": comment })).await;
    assert_eq!(fits.status, StatusCode::CREATED, "{}", fits.body);
}

crate::on_both_databases!(
    a_closed_conversation_is_rated_and_counted_in_satisfaction,
    a_rating_is_bounded_and_only_for_the_sessions_holder,
);
