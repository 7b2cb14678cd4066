//! Two-factor sign-in: enable, verify, log in with a code or a backup code
//! (each good once), disable.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use totp_rs::{Builder, Secret};

use crate::support::{Db, TestApp, OPERATOR_EMAIL, OPERATOR_PASSWORD};
use crate::webhooks::call;

/// The authenticator's code for `secret`, `ahead` steps from now.
fn code(secret: &str, ahead: u64) -> String {
    let totp = Builder::new()
        .with_secret(Secret::try_from_base32(secret).expect("base32"))
        .with_account_name("x")
        .build()
        .expect("totp");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    totp.generate(now + 30 * ahead).to_string()
}

async fn login(app: &TestApp, code: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({ "email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    let r = app.post_raw("/api/v1/auth/login", &[], body.to_string()).await;
    (r.status, r.body)
}

async fn two_factor_sign_in_takes_a_code_or_a_backup_code_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let (status, enabling) = call(&app, Method::POST, "/api/v1/auth/2fa/enable", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{enabling}");
    let secret = enabling["secret"].as_str().expect("secret").to_owned();
    let url = enabling["qr_code_url"].as_str().expect("url");
    assert!(url.starts_with("otpauth://totp/Natter:agent%40example.com?") && url.contains(&secret), "{url}");
    let backup: Vec<String> = enabling["backup_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(backup.len(), 10);
    assert!(backup.iter().all(|c| c.len() == 8 && c.chars().all(|d| d.is_ascii_digit())));
    assert_eq!(login(&app, None).await.0, StatusCode::OK, "not on until verified");
    let state = call(&app, Method::GET, "/api/v1/auth/2fa", &token, None).await;
    assert_eq!(state.1["enabled"], false, "set up, not yet on");

    let current = code(&secret, 0);
    let wrong = format!("{:06}", (current.parse::<u32>().expect("digits") + 500_000) % 1_000_000);
    let (status, _) = call(&app, Method::POST, "/api/v1/auth/2fa/verify", &token, Some(json!({ "code": wrong }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, on) =
        call(&app, Method::POST, "/api/v1/auth/2fa/verify", &token, Some(json!({ "code": current }))).await;
    assert_eq!((status, on["enabled"].as_bool()), (StatusCode::OK, Some(true)), "{on}");
    let (status, _) = call(&app, Method::POST, "/api/v1/auth/2fa/enable", &token, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "on already");
    assert_eq!(call(&app, Method::GET, "/api/v1/auth/2fa", &token, None).await.1["enabled"], true);

    let (status, body) = login(&app, None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("2FA_REQUIRED")), "{body}");
    assert!(body.get("access_token").is_none());
    let (status, body) = login(&app, Some(&current)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("INVALID_2FA_CODE")),
        "a code works once"
    );
    let (status, body) = login(&app, Some(&code(&secret, 1))).await;
    assert_eq!(status, StatusCode::OK, "the next code: {body}");
    let (status, _) = login(&app, Some(&backup[0])).await;
    assert_eq!(status, StatusCode::OK, "a backup code");
    let (status, _) = login(&app, Some(&backup[0])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a backup code works once");
    let (status, _) = login(&app, Some("12-34")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let token = app
        .post_raw(
            "/api/v1/auth/login",
            &[],
            json!({ "email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD, "code": backup[1] }).to_string(),
        )
        .await
        .body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (status, _) =
        call(&app, Method::POST, "/api/v1/auth/2fa/disable", &token, Some(json!({ "code": "00000000" }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "disabling needs a real code");
    let (status, off) =
        call(&app, Method::POST, "/api/v1/auth/2fa/disable", &token, Some(json!({ "code": backup[2] }))).await;
    assert_eq!((status, off["enabled"].as_bool()), (StatusCode::OK, Some(false)), "{off}");
    assert_eq!(login(&app, None).await.0, StatusCode::OK, "off again");
    let stored = app.sql_texts("SELECT secret FROM two_factor").await;
    assert!(stored.is_empty(), "nothing is kept after disabling");
}

async fn the_secret_is_sealed_at_rest(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let (_, enabling) = call(&app, Method::POST, "/api/v1/auth/2fa/enable", &token, None).await;
    let secret = enabling["secret"].as_str().expect("secret");
    let stored = app.sql_texts("SELECT secret FROM two_factor").await;
    assert!(stored[0].starts_with("sealed:v1:") && !stored[0].contains(secret), "{stored:?}");
}

/// Steps out of order are refused with 409 and change nothing.
async fn steps_out_of_order_are_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await.access_token;
    let verify = Some(json!({ "code": "123456" }));
    let (status, body) = call(&app, Method::POST, "/api/v1/auth/2fa/verify", &token, verify.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing to verify: {body}");
    let (status, body) = call(&app, Method::POST, "/api/v1/auth/2fa/disable", &token, verify).await;
    assert_eq!(status, StatusCode::CONFLICT, "not on: {body}");
    let (status, enabling) = call(&app, Method::POST, "/api/v1/auth/2fa/enable", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let secret = enabling["secret"].as_str().expect("secret").to_owned();
    let (status, _) =
        call(&app, Method::POST, "/api/v1/auth/2fa/verify", &token, Some(json!({ "code": "000000x" }))).await;
    assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    let (status, _) =
        call(&app, Method::POST, "/api/v1/auth/2fa/verify", &token, Some(json!({ "code": code(&secret, 0) }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, Method::POST, "/api/v1/auth/2fa/enable", &token, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "already on: {body}");
    assert_eq!(login(&app, None).await.1["code"], "2FA_REQUIRED", "still on");
}

crate::on_both_databases!(
    two_factor_sign_in_takes_a_code_or_a_backup_code_once,
    the_secret_is_sealed_at_rest,
    steps_out_of_order_are_refused,
);
