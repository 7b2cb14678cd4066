//! Analytics: a `series` per hour, day, week or month that adds up to the
//! period's totals with empty periods kept, and exports of the period's
//! conversations as CSV (safe to open in a spreadsheet) and JSON.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{Db, TestApp};
use crate::webhooks::call;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Moves a conversation and its messages `days` into the past.
async fn age(app: &TestApp, session_id: &str, days: i64) {
    let shift = days * DAY_MS;
    app.sql(&format!("UPDATE sessions SET created_ms = created_ms - {shift}, updated_ms = updated_ms - {shift} WHERE id = '{session_id}'"))
        .await;
    app.sql(&format!("UPDATE messages SET created_ms = created_ms - {shift} WHERE session_id = '{session_id}'")).await;
}

fn day(offset_days: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::days(offset_days);
    at.format("%Y-%m-%d").to_string()
}

async fn a_series_counts_each_period_and_keeps_empty_ones(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let old = app.session("series-old").await;
    app.send_ok(&old, "two days ago").await;
    age(&app, &old.session_id, 2).await;
    let new = app.session("series-new").await;
    app.send_ok(&new, "today").await;
    app.operator_reply(&token, &new.session_id, "answered today").await;

    let path = format!("/api/v1/analytics/stats?from={}&to={}&granularity=day", day(-3), day(0));
    let (status, stats) = call(&app, Method::GET, &path, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let series = stats["series"].as_array().expect("series");
    assert_eq!(series.len(), 4, "every day from three days ago to today: {series:?}");
    let conversations: Vec<i64> = series.iter().map(|p| p["conversations"].as_i64().expect("count")).collect();
    assert_eq!(conversations, [0, 1, 0, 1]);
    assert_eq!(series[1]["messages"]["from_customers"], 1);
    assert_eq!(series[3]["messages"]["from_agents"], 1);
    assert!(series[0]["start"].as_str().expect("start").starts_with(&day(-3)));
    assert_eq!(series[0]["end"], series[1]["start"], "periods follow each other");
    let total_messages: i64 = series.iter().map(|p| p["messages"]["total"].as_i64().expect("n")).sum();
    assert_eq!(total_messages, stats["messages"]["total"].as_i64().expect("total"), "the series adds up");

    for granularity in ["hour", "week", "month"] {
        let path = format!("/api/v1/analytics/stats?from={}&to={}&granularity={granularity}", day(-3), day(0));
        let (status, stats) = call(&app, Method::GET, &path, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{granularity}: {stats}");
        let series = stats["series"].as_array().expect("series");
        let sum: i64 = series.iter().map(|p| p["conversations"].as_i64().expect("n")).sum();
        assert_eq!(sum, 2, "{granularity}");
        if granularity == "hour" {
            assert_eq!(series.len(), 4 * 24);
        }
    }
    let (status, _) = call(&app, Method::GET, "/api/v1/analytics/stats", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/api/v1/analytics/stats?from={}&to={}&granularity=hour", day(-90), day(0));
    let (status, body) = call(&app, Method::GET, &path, &token, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "too many periods: {body}");
}

async fn an_export_downloads_conversations_with_counts_and_times(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let s = app.session("export-me").await;
    app.send_ok(&s, "Hello, is anyone there?").await;
    app.operator_reply(&token, &s.session_id, "Yes, hello!").await;
    app.sql(&format!(
        "UPDATE sessions SET user_name = '=HYPERLINK(\"http://evil\",\"click\")' WHERE id = '{}'",
        s.session_id
    ))
    .await;

    let export = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.http
                .post(app.url("/api/v1/analytics/export"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("request")
        }
    };
    let res = export(json!({ "from": day(-1), "to": day(0), "format": "csv" })).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = res.headers()["content-disposition"].to_str().expect("header").to_owned();
    assert_eq!(disposition, format!("attachment; filename=\"conversations-{}-{}.csv\"", day(-1), day(0)));
    let text = res.text().await.expect("body");
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("id,channel,status,assigned_to,customer_name,customer_email,customer_phone,created_at,closed_at,messages,from_customer,from_agents,first_response_seconds,resolution_seconds")
    );
    let row = lines.next().expect("a row");
    assert!(row.starts_with(&format!("{},widget,pending,", s.session_id)), "{row}");
    assert!(row.contains(r#""'=HYPERLINK(""http://evil"",""click"")""#), "a formula stays text: {row}");
    let cells: Vec<&str> = row.rsplitn(6, ',').collect();
    assert_eq!((cells[3], cells[2]), ("1", "1"), "one from the customer, one from an agent: {row}");
    assert!(cells[1].parse::<i64>().is_ok_and(|s| s >= 0), "a first response time: {row}");

    let res = export(json!({ "from": day(-1), "to": day(0), "format": "json" })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["meta"]["total"], 1);
    assert_eq!(body["data"][0]["id"], s.session_id.as_str());
    assert_eq!(
        body["data"][0]["customer_name"], "=HYPERLINK(\"http://evil\",\"click\")",
        "JSON keeps the text as it is"
    );
    assert!(body["data"][0]["messages"].as_i64().is_some_and(|n| n >= 2));

    let empty = export(json!({ "from": "2020-01-01", "to": "2020-01-31" })).await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(empty.text().await.expect("body").lines().count(), 1, "only the header");
    for bad in [json!({ "format": "xml" }), json!({ "from": day(0), "to": day(-5) }), json!({ "from": "soon" })] {
        let res = export(bad.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

crate::on_both_databases!(
    a_series_counts_each_period_and_keeps_empty_ones,
    an_export_downloads_conversations_with_counts_and_times,
);
