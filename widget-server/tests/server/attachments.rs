//! Attachments: multipart uploads on the native, Novatalks and operator
//! write paths; images cleaned and previewed; the real type from the bytes;
//! limits answered with 413 before the body is read; signed links that
//! expire and open only their own file; erasure removing the files.

use std::io::Cursor;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use natter_protocol::SessionData;

use crate::support::{Db, TestApp};
use crate::webhooks::{admin, call};

const BOUNDARY: &str = "natter-attachment-boundary-q3Xk81";

/// One part of a form: a text field, or a file (name, field, bytes).
enum Part<'a> {
    Field(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        match part {
            Part::Field(name, value) => body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            ),
            Part::File(field, file_name, bytes) => {
                body.extend_from_slice(
                    format!(
                        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
                         Content-Type: image/png\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_form(app: &TestApp, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, Value) {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A PNG photo of `w`×`h` with an EXIF chunk carrying a location.
fn photo(w: u32, h: u32) -> Vec<u8> {
    let picture = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([u8::try_from(x % 256).unwrap_or(0), u8::try_from(y % 256).unwrap_or(0), 90])
    }));
    let mut png = Vec::new();
    picture.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).expect("png");
    let exif = b"MM\0*\0\0\0\x08GPS 50.4501N 30.5234E";
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&u32::try_from(exif.len()).expect("len").to_be_bytes());
    chunk.extend_from_slice(b"eXIf");
    chunk.extend_from_slice(exif);
    let mut crc = 0xFFFF_FFFFu32;
    for &b in b"eXIf".iter().chain(exif.iter()) {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    chunk.extend_from_slice(&(!crc).to_be_bytes());
    let split = 8 + 25;
    [&png[..split], &chunk[..], &png[split..]].concat()
}

fn session_headers<'a>(app: &'a TestApp, s: &'a SessionData) -> [(&'a str, &'a str); 2] {
    [("x-api-key", app.website.token.as_str()), ("x-session-token", s.token.as_deref().unwrap_or_default())]
}

/// The path and query of a link (links name the public URL, here port 0).
fn local(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or_else(|| url.to_owned(), |i| after_scheme[i..].to_owned())
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.http.get(app.url(&local(url))).send().await.expect("download")
}

async fn a_visitor_sends_a_photo_and_it_round_trips_with_its_thumbnail(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("photo-sender").await;
    let path = TestApp::messages_path(&s);
    let sent = photo(800, 600);
    let body = multipart(&[
        Part::Field("message", "Here is the damaged cup"),
        Part::Field("echoId", "photo-1"),
        Part::File("attachments[]", "cup.png", &sent),
    ]);
    let (status, reply) = post_form(&app, &path, &session_headers(&app, &s), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let message = &reply["data"]["message"];
    assert_eq!(message["messageText"], "Here is the damaged cup");
    let file = &message["attachments"][0];
    assert_eq!((file["fileType"].as_str(), file["extension"].as_str()), (Some("image"), Some("png")));
    assert_eq!((file["fileName"].as_str(), file["fallbackTitle"].as_str()), (Some("cup.png"), Some("cup.png")));
    assert_eq!(file["messageId"], message["id"]);
    let data_url = file["dataUrl"].as_str().expect("data url");
    assert!(!data_url.contains(s.token.as_deref().unwrap_or("none")), "no session token in the link");

    let got = fetch(&app, data_url).await;
    assert_eq!(got.status(), StatusCode::OK);
    let headers = got.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert!(headers["content-disposition"].to_str().expect("ascii").starts_with("inline;"));
    let bytes = got.bytes().await.expect("bytes");
    assert!(!bytes.windows(4).any(|w| w == b"eXIf") && !bytes.windows(3).any(|w| w == b"GPS"), "metadata is gone");
    let picture = image::load_from_memory(&bytes).expect("a picture");
    assert_eq!((picture.width(), picture.height()), (800, 600));
    assert_eq!(i64::try_from(bytes.len()).expect("len"), file["fileSize"].as_i64().expect("size"));

    let thumb = fetch(&app, file["thumbUrl"].as_str().expect("thumb url")).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&thumb.bytes().await.expect("bytes")).expect("thumbnail");
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // The same echo id again stores nothing new and answers the stored message, files and all.
    let (status, again) = post_form(&app, &path, &session_headers(&app, &s), body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["data"]["message"]["id"], message["id"]);
    assert_eq!(again["data"]["message"]["attachments"][0]["id"], file["id"]);

    // History carries the file with a link of its own.
    let history = app.list_ok(&s, "").await;
    let mine = history.messages.iter().find(|m| m.id == message["id"].as_str().expect("id")).expect("in history");
    assert_eq!(mine.attachments.len(), 1);
    assert_eq!(fetch(&app, &mine.attachments[0].data_url).await.status(), StatusCode::OK);

    // A message of files only.
    let body = multipart(&[
        Part::File("attachments[]", "a.png", &photo(10, 10)),
        Part::File("attachments[]", "b.png", &photo(12, 12)),
    ]);
    let (status, reply) = post_form(&app, &path, &session_headers(&app, &s), body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["data"]["message"]["messageText"], "");
    let names: Vec<&str> = reply["data"]["message"]["attachments"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["fileName"].as_str())
        .collect();
    assert_eq!(names, ["a.png", "b.png"]);
}

async fn markup_renamed_as_an_image_is_only_ever_a_text_download(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.session("sneaky").await;
    let page = b"<!doctype html><html><body><script>fetch('/steal?c='+document.cookie)</script></body></html>";
    let body = multipart(&[Part::File("attachments[]", "cute-cat.png", page)]);
    let (status, reply) = post_form(&app, &TestApp::messages_path(&s), &session_headers(&app, &s), body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let file = &reply["data"]["message"]["attachments"][0];
    assert_eq!((file["fileType"].as_str(), file["extension"].as_str()), (Some("file"), Some("txt")));
    assert_eq!(file["thumbUrl"], Value::Null);
    let got = fetch(&app, file["dataUrl"].as_str().expect("url")).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["content-type"], "text/plain; charset=utf-8", "never served as HTML");
    assert!(got.headers()["content-disposition"].to_str().expect("ascii").starts_with("attachment;"));
    assert_eq!(got.headers()["content-security-policy"], "sandbox");

    // A website that takes only images refuses it: its bytes are not one.
    app.sql(&format!(
        "UPDATE websites SET settings = '{}' WHERE id = '{}'",
        json!({ "attachments": { "maxBytes": 1_048_576, "allowedTypes": ["image/*"] } }),
        app.website.id
    ))
    .await;
    app.state.websites.forget(&app.website).await;
    let body = multipart(&[Part::File("attachments[]", "cute-cat.png", page)]);
    let (status, reply) = post_form(&app, &TestApp::messages_path(&s), &session_headers(&app, &s), body).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{reply}");
    assert_eq!(reply["success"], false);
    assert_eq!(reply["error"]["code"], "unsupported_media_type");

    // Over the website's size: 413 in the envelope, as soon as the file passes the limit.
    let big = vec![7u8; 1_048_577];
    let body = multipart(&[Part::File("attachments[]", "big.png", &big)]);
    let (status, reply) = post_form(&app, &TestApp::messages_path(&s), &session_headers(&app, &s), body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    assert_eq!((reply["success"].as_bool(), reply["error"]["code"].as_str()), (Some(false), Some("payload_too_large")));
    // A body that says it is far too large is refused before it is read.
    let res = app
        .http
        .post(app.url(&TestApp::messages_path(&s)))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("x-api-key", app.website.token.as_str())
        .header("x-session-token", s.token.as_deref().unwrap_or_default())
        .header("content-length", "900000000")
        .body(vec![0u8; 10])
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let history = app.list_ok(&s, "").await;
    assert_eq!(history.messages.iter().filter(|m| !m.attachments.is_empty()).count(), 1, "nothing refused was stored");
}

async fn links_expire_and_open_only_their_own_file(db: Db) {
    let app = TestApp::spawn(db).await;
    let (a, b) = (app.session("link-a").await, app.session("link-b").await);
    let mut urls = Vec::new();
    for s in [&a, &b] {
        let body = multipart(&[Part::File("attachments[]", "p.png", &photo(20, 20))]);
        let (status, reply) = post_form(&app, &TestApp::messages_path(s), &session_headers(&app, s), body).await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        urls.push(reply["data"]["message"]["attachments"][0]["dataUrl"].as_str().expect("url").to_owned());
    }
    let (path_a, query_a) = local(&urls[0]).split_once('?').map(|(p, q)| (p.to_owned(), q.to_owned())).expect("query");
    let (path_b, _) = local(&urls[1]).split_once('?').map(|(p, q)| (p.to_owned(), q.to_owned())).expect("query");
    assert_eq!(
        app.http.get(app.url(&format!("{path_a}?{query_a}"))).send().await.expect("get").status(),
        StatusCode::OK
    );
    // A's signature does not open B's file.
    let swapped = app.http.get(app.url(&format!("{path_b}?{query_a}"))).send().await.expect("get");
    assert_eq!(swapped.status(), StatusCode::FORBIDDEN);
    let body: Value = swapped.json().await.expect("json");
    assert_eq!(body["error"]["code"], "link_invalid");
    // A later expiry with the same signature is a forgery; an unsigned link nothing.
    let expires: i64 =
        query_a.split('&').find_map(|p| p.strip_prefix("expires=")).expect("expires").parse().expect("n");
    let signature = query_a.split('&').find_map(|p| p.strip_prefix("signature=")).expect("signature");
    let later = format!("{path_a}?expires={}&signature={signature}", expires + 86_400);
    assert_eq!(app.http.get(app.url(&later)).send().await.expect("get").status(), StatusCode::FORBIDDEN);
    assert_ne!(app.http.get(app.url(&path_a)).send().await.expect("get").status(), StatusCode::OK);
    // A link past its time is refused, even correctly signed.
    let id = path_a.split('/').nth(2).expect("id");
    let attachment = app.state.store.attachment_by_id(id).await.expect("read").expect("there");
    let old = app.state.files.links.url(&attachment, natter_server::files::Variant::File, 1_000);
    let expired = app.http.get(app.url(&local(&old))).send().await.expect("get");
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    assert_eq!(expired.json::<Value>().await.expect("json")["error"]["code"], "link_expired");
}

async fn a_novatalks_client_sends_the_reference_form(db: Db) {
    let app = TestApp::spawn(db).await;
    let q = format!("?website_token={}", app.website.token);
    let created = app
        .post_raw(&format!("/widget/conversations{q}"), &[], json!({ "name": "widget-contact-39" }).to_string())
        .await;
    let payload = &created.body["payload"];
    let token = payload["contactInbox"]["pubsubToken"].as_str().expect("pubsubToken").to_owned();
    let id = payload["conversation"]["id"].as_str().expect("id").to_owned();
    let path = format!("/widget/conversations/{id}/messages{q}");
    // As the document sends it: the file, the echo id and the ids, no content.
    let body = multipart(&[
        Part::File("attachments[]", "receipt.png", &photo(40, 30)),
        Part::Field("message[echo_id]", "209"),
        Part::Field("conversationId", &id),
        Part::Field("contactId", "39"),
        Part::Field("accountId", "1"),
    ]);
    let (status, reply) = post_form(&app, &path, &[("auth-widget", &token)], body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let all = app.get_raw(&path, &[("auth-widget", &token)]).await;
    let list = all.body.as_array().expect("array").clone();
    let sent = list.iter().find(|m| m["echo_id"] == "209").expect("stored");
    let file = &sent["attachments"][0];
    assert_eq!((file["file_type"].as_str(), file["extension"].as_str()), (Some("image"), Some("png")));
    assert_eq!(file["message_id"], sent["id"]);
    assert_eq!(file["file_name"], "receipt.png");
    assert!(file["thumb_url"].is_string() && file["data_url"].is_string(), "{file}");
    assert_eq!(fetch(&app, file["data_url"].as_str().expect("url")).await.status(), StatusCode::OK);

    // "Get all messages" without a cursor answers the newest 100, oldest first.
    for n in 0..110 {
        let body = json!({ "message": { "content": format!("line {n}") } }).to_string();
        assert_eq!(app.post_raw(&path, &[("auth-widget", &token)], body).await.status, StatusCode::OK);
    }
    let all = app.get_raw(&path, &[("auth-widget", &token)]).await;
    let list = all.body.as_array().expect("array");
    assert_eq!(list.len(), 100);
    assert_eq!(list.last().and_then(|m| m["content"].as_str()), Some("line 109"));
    assert!(list.windows(2).all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()), "oldest first");
}

async fn an_operator_sends_files_as_a_form_or_by_upload_ids(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let s = app.session("needs-a-manual").await;
    app.send_ok(&s, "Do you have the manual?").await;
    let conversation = s.session_id.clone();
    let bearer = format!("Bearer {token}");
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let body = multipart(&[Part::Field("content", "Here it is"), Part::File("attachments[]", "manual.pdf", pdf)]);
    let (status, reply) =
        post_form(&app, &format!("/api/v1/conversations/{conversation}/messages"), &[("authorization", &bearer)], body)
            .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let file = &reply["data"]["attachments"][0];
    assert_eq!((file["file_type"].as_str(), file["extension"].as_str()), (Some("file"), Some("pdf")));
    let got = fetch(&app, file["data_url"].as_str().expect("url")).await;
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert!(got.headers()["content-disposition"].to_str().expect("ascii").starts_with("inline;"));
    assert_eq!(&got.bytes().await.expect("bytes")[..], &pdf[..]);

    // The visitor's side sees it, in the native shape.
    let history = app.list_ok(&s, "").await;
    let from_operator = history.messages.iter().find(|m| m.message_text == "Here it is").expect("reply");
    assert_eq!(from_operator.attachments[0].file_name, "manual.pdf");

    // Upload first, then name the upload in a JSON reply.
    let body = multipart(&[Part::File("attachments[]", "map.png", &photo(30, 30))]);
    let (status, uploaded) = post_form(
        &app,
        &format!("/api/v1/conversations/{conversation}/attachments"),
        &[("authorization", &bearer)],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let upload_id = uploaded["data"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(uploaded["data"][0]["message_id"], Value::Null);
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let (status, reply) =
        call(&app, Method::POST, &path, &token, Some(json!({ "content": "", "attachments": [upload_id] }))).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["data"]["attachments"][0]["id"], upload_id.as_str());
    // Sent once: naming it again, or naming another conversation's, is refused.
    let (status, again) =
        call(&app, Method::POST, &path, &token, Some(json!({ "content": "again", "attachments": [upload_id] }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{again}");
    let other = app.session("someone-else").await;
    let body = multipart(&[Part::File("attachments[]", "x.png", &photo(8, 8))]);
    let (_, theirs) = post_form(
        &app,
        &format!("/api/v1/conversations/{}/attachments", other.session_id),
        &[("authorization", &bearer)],
        body,
    )
    .await;
    let theirs = theirs["data"][0]["id"].as_str().expect("id").to_owned();
    let (status, _) =
        call(&app, Method::POST, &path, &token, Some(json!({ "content": "x", "attachments": [theirs] }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn erasing_a_customer_removes_their_files(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let s = app.session("to-be-forgotten").await;
    let body = multipart(&[Part::File("attachments[]", "passport.png", &photo(64, 64))]);
    let (status, reply) = post_form(&app, &TestApp::messages_path(&s), &session_headers(&app, &s), body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let url = reply["data"]["message"]["attachments"][0]["dataUrl"].as_str().expect("url").to_owned();
    let id = reply["data"]["message"]["attachments"][0]["id"].as_str().expect("id").to_owned();
    let attachment = app.state.store.attachment_by_id(&id).await.expect("read").expect("there");
    assert!(app.state.files.blobs.exists(&attachment.blob).await);
    let (status, conv) =
        call(&app, Method::GET, &format!("/api/v1/conversations/{}", s.session_id), &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let customer = conv["data"]["customer"]["id"].as_str().expect("customer").to_owned();
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/customers/{customer}"), &token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!app.state.files.blobs.exists(&attachment.blob).await, "the file is gone from storage");
    assert!(!app.state.files.blobs.exists(attachment.thumb.as_deref().expect("thumb")).await);
    assert_eq!(fetch(&app, &url).await.status(), StatusCode::NOT_FOUND);
}

/// `maxFileBytes` of the website's widget config.
async fn largest(app: &TestApp) -> Value {
    let res = app.get_raw("/api/public/chat/config", &[("x-api-key", &app.website.token)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["data"]["maxFileBytes"].clone()
}

/// What the widget's config says of the largest file, so the widget can refuse a larger one itself.
async fn the_widget_config_tells_the_largest_file_a_visitor_may_send(db: Db) {
    let app = TestApp::spawn(db).await;
    assert_eq!(largest(&app).await, json!(10 * 1024 * 1024), "the default of 10 MB");
    for (asked, told) in [(1_048_576_u64, 1_048_576_u64), (1 << 40, 25 * 1024 * 1024)] {
        let settings = json!({ "attachments": { "maxBytes": asked, "allowedTypes": ["*"] } }).to_string();
        natter_server::cli::update_website(app.state.store.as_ref(), &app.website.token, Some(&settings), vec![], None)
            .await
            .expect("settings");
        app.state.websites.forget(&app.website).await;
        assert_eq!(largest(&app).await, json!(told), "the website's own, at most the server's --max-upload-mb");
    }
}

crate::on_both_databases!(
    the_widget_config_tells_the_largest_file_a_visitor_may_send,
    a_visitor_sends_a_photo_and_it_round_trips_with_its_thumbnail,
    markup_renamed_as_an_image_is_only_ever_a_text_download,
    links_expire_and_open_only_their_own_file,
    a_novatalks_client_sends_the_reference_form,
    an_operator_sends_files_as_a_form_or_by_upload_ids,
    erasing_a_customer_removes_their_files,
    conversations_past_the_account_retention_go_with_their_files,
    strangers_cannot_put_files_in_a_conversation,
);

/// A local S3 (moto's server, installed by `scripts/test.sh` into
/// `target/s3-venv`), stopped when dropped.
struct LocalS3 {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn local_s3() -> LocalS3 {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let installed = target.join("s3-venv/bin/moto_server");
    let program = if installed.exists() { installed } else { std::path::PathBuf::from("moto_server") };
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let child = std::process::Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{} could not start ({e}): run `bash scripts/test.sh` once to install it", program.display())
        });
    let endpoint = format!("http://127.0.0.1:{port}");
    let s3 = LocalS3 { child, endpoint };
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        // Creating the bucket doubles as the readiness check.
        if let Ok(res) = http.put(format!("{}/natter-files", s3.endpoint)).send().await {
            assert!(res.status().is_success(), "bucket: {}", res.status());
            return s3;
        }
        assert!(tokio::time::Instant::now() < deadline, "the local S3 did not start");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn files_go_to_an_s3_bucket_and_come_back_through_the_server(db: Db) {
    let s3 = local_s3().await;
    let endpoint = s3.endpoint.clone();
    let app = TestApp::spawn_with(db, |c| {
        c.s3_bucket = Some("natter-files".into());
        c.s3_endpoint = Some(endpoint);
        c.s3_access_key_id = Some("testing".into());
        c.s3_secret_access_key = Some("testing".into());
    })
    .await;
    let token = admin(&app).await;
    let s = app.session("s3-visitor").await;
    let sent = photo(50, 40);
    let body = multipart(&[Part::File("attachments[]", "in-the-bucket.png", &sent)]);
    let (status, reply) = post_form(&app, &TestApp::messages_path(&s), &session_headers(&app, &s), body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let file = &reply["data"]["message"]["attachments"][0];
    let attachment =
        app.state.store.attachment_by_id(file["id"].as_str().expect("id")).await.expect("read").expect("there");
    // The bytes are in the bucket under their hash, as a second client of it reads them.
    let bucket = natter_server::files::storage::Blobs::open(&natter_server::files::storage::Place::S3 {
        bucket: "natter-files".into(),
        endpoint: Some(s3.endpoint.clone()),
        region: "us-east-1".into(),
        credentials: Some(("testing".into(), "testing".into())),
    })
    .expect("bucket");
    assert!(bucket.exists(&attachment.blob).await, "in the bucket");
    let mut reading = bucket.get(&attachment.blob).await.expect("read");
    let mut stored = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut reading.bytes).await {
        stored.extend_from_slice(&chunk.expect("chunk"));
    }
    let got = fetch(&app, file["dataUrl"].as_str().expect("url")).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(&got.bytes().await.expect("bytes")[..], &stored[..], "proxied through the server");
    let (_, conv) = call(&app, Method::GET, &format!("/api/v1/conversations/{}", s.session_id), &token, None).await;
    let customer = conv["data"]["customer"]["id"].as_str().expect("customer").to_owned();
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/customers/{customer}"), &token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!bucket.exists(&attachment.blob).await, "erased from the bucket");
}

#[tokio::test]
async fn files_go_to_an_s3_bucket() {
    files_go_to_an_s3_bucket_and_come_back_through_the_server(Db::Sqlite).await;
}

async fn conversations_past_the_account_retention_go_with_their_files(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (status, account) = call(&app, Method::GET, "/api/v1/account", &token, None).await;
    assert_eq!((status, &account["retention_days"]), (StatusCode::OK, &Value::Null), "kept by default: {account}");
    for bad in [json!({ "retention_days": 0 }), json!({ "retention_days": 4000 }), json!({ "retention_days": "soon" })]
    {
        let (status, _) = call(&app, Method::PUT, "/api/v1/account", &token, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let agent = app.login().await.access_token;
    let (status, _) = call(&app, Method::PUT, "/api/v1/account", &agent, Some(json!({ "retention_days": 30 }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, account) =
        call(&app, Method::PUT, "/api/v1/account", &token, Some(json!({ "retention_days": 30 }))).await;
    assert_eq!((status, account["retention_days"].as_i64()), (StatusCode::OK, Some(30)));

    let (old, recent) = (app.session("long-ago").await, app.session("last-week").await);
    for (s, width) in [(&old, 17), (&recent, 18)] {
        let body =
            multipart(&[Part::Field("message", "hello"), Part::File("attachments[]", "p.png", &photo(width, 9))]);
        let (status, reply) = post_form(&app, &TestApp::messages_path(s), &session_headers(&app, s), body).await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
    }
    let now = natter_server::time::now_ms();
    let day = 86_400_000;
    app.sql(&format!("UPDATE sessions SET updated_ms = {} WHERE id = '{}'", now - 31 * day, old.session_id)).await;
    app.sql(&format!("UPDATE sessions SET updated_ms = {} WHERE id = '{}'", now - 7 * day, recent.session_id)).await;
    let page =
        app.state.store.list_messages(&old.session_id, natter_server::store::Cursor::Latest, 10).await.expect("page");
    let blob = page.messages.iter().find_map(|m| m.attachments.first()).expect("a file").blob.clone();

    let removed = app.state.files.expire(app.state.store.as_ref(), &app.state.sessions, now).await.expect("expire");
    assert_eq!(removed, 1);
    let (status, _) = call(&app, Method::GET, &format!("/api/v1/conversations/{}", old.session_id), &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old conversation is gone");
    assert!(!app.state.files.blobs.exists(&blob).await, "and its file");
    let (status, _) =
        call(&app, Method::GET, &format!("/api/v1/conversations/{}", recent.session_id), &token, None).await;
    assert_eq!(status, StatusCode::OK, "a recent one stays");
    assert_eq!(app.list_ok(&recent, "").await.messages.iter().filter(|m| !m.attachments.is_empty()).count(), 1);
    assert_eq!(app.state.files.expire(app.state.store.as_ref(), &app.state.sessions, now).await.expect("again"), 0);
}

/// Files reach a conversation only with its credential: another account's
/// operator, a visitor holding another session's token, and a caller with
/// none are refused, and nothing is kept.
async fn strangers_cannot_put_files_in_a_conversation(db: Db) {
    let app = TestApp::spawn(db).await;
    let (mine, theirs) = (app.session("owner-of-this").await, app.session("someone-next-door").await);
    let rival = crate::access::other_account(&app).await;
    let bearer = format!("Bearer {}", rival.admin_token);
    for path in ["attachments", "messages"] {
        let body = multipart(&[Part::Field("content", "x"), Part::File("attachments[]", "a.png", &photo(8, 8))]);
        let (status, _) = post_form(
            &app,
            &format!("/api/v1/conversations/{}/{path}", mine.session_id),
            &[("authorization", &bearer)],
            body,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another account's operator, {path}");
    }
    let body = || multipart(&[Part::File("attachments[]", "a.png", &photo(8, 8))]);
    let wrong =
        [("x-api-key", app.website.token.as_str()), ("x-session-token", theirs.token.as_deref().unwrap_or_default())];
    let (status, _) = post_form(&app, &TestApp::messages_path(&mine), &wrong, body()).await;
    assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "another session's token: {status}");
    let (status, _) =
        post_form(&app, &TestApp::messages_path(&mine), &[("x-api-key", app.website.token.as_str())], body()).await;
    assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "no token: {status}");
    let q = format!("?website_token={}", app.website.token);
    let path = format!("/widget/conversations/{}/messages{q}", mine.session_id);
    let (status, _) =
        post_form(&app, &path, &[("auth-widget", theirs.token.as_deref().unwrap_or_default())], body()).await;
    assert!(
        matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "Novatalks: {status}"
    );
    let kept = app.state.store.blobs_of_sessions(&[&mine.session_id, &theirs.session_id]).await.expect("read");
    assert!(kept.is_empty(), "nothing was kept: {kept:?}");
}
