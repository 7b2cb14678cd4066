//! The knowledge base: uploads sniffed from their bytes and split into
//! passages, full-text search that answers the fragment covering the
//! question (English, Ukrainian and Russian), limits, and accounts kept apart.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{Db, TestApp};
use crate::webhooks::{admin, call};

/// A DOCX with a heading and a paragraph, zipped as word processors do.
fn docx(heading: &str, text: &str) -> Vec<u8> {
    use std::io::Write;
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body><w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>{heading}</w:t></w:r></w:p>\
         <w:p><w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p></w:body></w:document>"
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("word/document.xml", options).expect("entry");
    zip.write_all(xml.as_bytes()).expect("write");
    zip.finish().expect("zip").into_inner()
}

/// A one-page PDF with a line of text, as lopdf writes one.
fn pdf(line: &str) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let content = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("Td", vec![72.into(), 760.into()]),
            Operation::new("Tj", vec![Object::string_literal(line)]),
            Operation::new("ET", vec![]),
        ],
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().expect("content")));
    let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id });
    let pages = dictionary! {
        "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1, "Resources" => resources_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    };
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("pdf");
    out
}

const BOUNDARY: &str = "natter-test-boundary-7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body with a file and text fields.
pub(crate) fn form(file_name: &str, bytes: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) async fn upload(app: &TestApp, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .http
        .post(app.url("/api/v1/knowledge/documents"))
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) const FAQ: &str = "# Shipping\n\nWe ship every weekday from our Kyiv roastery. Orders placed before noon leave the same day.\n\n\
# Returns\n\nA damaged or wrong item can be returned within 30 days for a full refund: write to us with your order number \
and a photo, and we send a prepaid label.\n\n# Coffee\n\nOur items are roasted in small batches; every bag shows its roast date.";

async fn search(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, body) =
        call(app, Method::POST, "/api/v1/knowledge/search", token, Some(json!({ "query": query, "limit": 3 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().cloned().unwrap_or_default()
}

async fn documents_are_indexed_and_the_answering_passage_comes_first(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let (status, created) =
        upload(&app, &token, form("faq.md", FAQ.as_bytes(), &[("title", "FAQ"), ("category", "general")])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let doc = &created["data"];
    assert_eq!(
        (doc["title"].as_str(), doc["format"].as_str(), doc["category"].as_str()),
        (Some("FAQ"), Some("md"), Some("general"))
    );
    assert!(doc["passages"].as_i64().is_some_and(|n| n >= 1));
    let id = doc["id"].as_str().expect("id").to_owned();

    let results = search(&app, &token, "How do I return a damaged item?").await;
    let best = results.first().expect("a result");
    assert_eq!(best["document_id"], id.as_str());
    assert_eq!(best["title"], "FAQ");
    assert!(best["content"].as_str().expect("content").contains("returned within 30 days"), "{best}");
    assert!(!best["content"].as_str().expect("content").contains("roast date"), "a fragment, not the whole document");
    let score = best["score"].as_f64().expect("score");
    assert!((0.0..=1.0).contains(&score) && score >= 0.99, "{score}");
    assert!(results.iter().skip(1).all(|r| r["score"].as_f64() < Some(score)), "{results:?}");
    assert!(search(&app, &token, "quantum chromodynamics").await.is_empty());

    // Ukrainian and Russian, in HTML and plain text.
    let html = "<html><body><h2>Повернення</h2><p>Пошкоджений товар можна повернути протягом 30 днів.</p>\
                <script>document.title='x'</script></body></html>";
    let (status, _) = upload(&app, &token, form("povernennia.html", html.as_bytes(), &[])).await;
    assert_eq!(status, StatusCode::CREATED);
    let uk = search(&app, &token, "Як повернути пошкоджений товар?").await;
    assert!(uk.first().expect("uk")["content"].as_str().expect("c").contains("протягом 30 днів"), "{uk:?}");
    assert_eq!(uk[0]["title"], "povernennia", "the title defaults to the file's name");
    let (status, _) =
        upload(&app, &token, form("dostavka.txt", "Доставка по Москве занимает два дня.".as_bytes(), &[])).await;
    assert_eq!(status, StatusCode::CREATED);
    let ru = search(&app, &token, "Сколько занимает доставка?").await;
    assert!(ru.first().expect("ru")["content"].as_str().expect("c").contains("два дня"), "{ru:?}");

    // A Word document.
    let (status, body) =
        upload(&app, &token, form("policy.docx", &docx("Warranty", "Grinders carry a two-year warranty."), &[])).await;
    assert_eq!((status, body["data"]["format"].as_str()), (StatusCode::CREATED, Some("docx")), "{body}");
    let warranty = search(&app, &token, "Is there a warranty on grinders?").await;
    assert_eq!(warranty.first().expect("docx")["content"], "Warranty\nGrinders carry a two-year warranty.");

    // And a PDF.
    let (status, body) =
        upload(&app, &token, form("refunds.pdf", &pdf("Refunds reach your card within five days."), &[])).await;
    assert_eq!((status, body["data"]["format"].as_str()), (StatusCode::CREATED, Some("pdf")), "{body}");
    let refunds = search(&app, &token, "When do refunds reach my card?").await;
    assert!(refunds.first().expect("pdf")["content"].as_str().expect("c").contains("within five days"), "{refunds:?}");

    let (_, list) = call(&app, Method::GET, "/api/v1/knowledge/documents", &token, None).await;
    assert_eq!(list["meta"]["total"], 5);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/knowledge/documents/{id}"), &token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        search(&app, &token, "damaged item refund").await.iter().all(|r| r["document_id"] != id.as_str()),
        "gone from search"
    );
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/knowledge/documents/{id}"), &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn uploads_are_checked_and_accounts_kept_apart(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = admin(&app).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let (status, body) = upload(&app, &token, form("faq.txt", &png, &[])).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("UNSUPPORTED_MEDIA_TYPE")),
        "{body}"
    );
    let (status, body) = upload(&app, &token, form("faq.pdf", b"%PDF-1.4\n...", &[])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a broken PDF");
    assert!(body["detail"].as_str().expect("detail").contains("PDF could not be read"), "{body}");
    let (status, _) = upload(&app, &token, form("empty.txt", b"", &[])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = upload(&app, &token, form("blank.html", b"<p>   </p>", &[])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = vec![b'a'; 5 * 1024 * 1024 + 1];
    let (status, body) = upload(&app, &token, form("huge.txt", &huge, &[])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let res = app
        .http
        .post(app.url("/api/v1/knowledge/documents"))
        .bearer_auth(&token)
        .json(&json!({ "file": "not a form" }))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let agent = app.login().await.access_token;
    let (status, _) = upload(&app, &agent, form("faq.md", FAQ.as_bytes(), &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins upload");
    for bad in [json!({ "query": "" }), json!({ "query": "x", "limit": 0 }), json!({ "query": "x".repeat(501) })] {
        let (status, _) = call(&app, Method::POST, "/api/v1/knowledge/search", &agent, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // Another account's documents never appear.
    let (status, _) = upload(&app, &token, form("faq.md", FAQ.as_bytes(), &[])).await;
    assert_eq!(status, StatusCode::CREATED);
    let other = crate::access::other_account(&app).await;
    let (status, theirs) = call(
        &app,
        Method::POST,
        "/api/v1/knowledge/search",
        &other.admin_token,
        Some(json!({ "query": "return damaged item" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(theirs["results"], json!([]));
    let (_, list) = call(&app, Method::GET, "/api/v1/knowledge/documents", &other.admin_token, None).await;
    assert_eq!(list["meta"]["total"], 0);
    let (_, mine) = call(&app, Method::GET, "/api/v1/knowledge/documents", &token, None).await;
    let id = mine["data"][0]["id"].as_str().expect("id");
    let (status, _) =
        call(&app, Method::DELETE, &format!("/api/v1/knowledge/documents/{id}"), &other.admin_token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, usage) = call(&app, Method::GET, "/api/v1/billing/usage", &token, None).await;
    assert!(usage["storage"]["used_mb"].as_i64().is_some_and(|mb| mb >= 1), "documents count as storage: {usage}");
}

crate::on_both_databases!(
    documents_are_indexed_and_the_answering_passage_comes_first,
    uploads_are_checked_and_accounts_kept_apart,
);
