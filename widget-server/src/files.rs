//! Attachments: files sent with messages on every write path. An upload is
//! sniffed (its real type, from its bytes), checked against the website's
//! rules, cleaned (images lose their metadata) and previewed (images get a
//! thumbnail), then kept content-addressed in the blob store before the
//! message that carries it commits, so a stored message never points at a
//! missing file. Files are fetched through signed links (see [`links`]) and
//! served so that no upload can run as a page of this origin.

pub mod kind;
pub mod links;
pub mod storage;

use std::time::Duration;

use axum::body::Body;
use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, AppResult};
use crate::extract::QueryParams;
use crate::store::{Attachment, Session, Store};
use crate::time::now_ms;
use crate::AppState;
use kind::{Kind, Refused};
pub use links::{Links, Variant};
use storage::Blobs;

/// Files one message may carry.
pub const MAX_FILES: usize = 10;
/// The default largest file a website takes.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Text a form field other than a file may hold.
const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Uploads not sent with a message within this long are removed.
const PENDING_FOR: Duration = Duration::from_secs(24 * 3600);

/// What a website takes as attachments (`attachments` in its settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rules {
    /// The largest file, in bytes (at most the server's `--max-upload-mb`).
    pub max_bytes: u64,
    /// Types taken, as sniffed from the bytes: `image/*`, `application/pdf`, … (`*`: any).
    pub allowed_types: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            allowed_types: [
                "image/*",
                "audio/*",
                "video/*",
                "text/plain",
                "application/pdf",
                "application/zip",
                "application/gzip",
                "application/x-7z-compressed",
                "application/vnd.rar",
                "application/rtf",
                "application/msword",
                "application/vnd.ms-excel",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.oasis.opendocument.spreadsheet",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The attachment service: the blob store and the link signer.
#[derive(Debug)]
pub struct Files {
    pub blobs: Blobs,
    pub links: Links,
    /// The most any website may take per file.
    pub ceiling: u64,
    /// Keeping a blob and removing one no longer named never interleave, so
    /// a file sent again while its last reference goes is not lost.
    lifecycle: tokio::sync::Mutex<()>,
}

/// A file as read from a form.
#[derive(Debug)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

fn refused(r: Refused) -> AppError {
    match r {
        Refused::Type(_) => AppError::UnsupportedMediaType(r.to_string()),
        Refused::Empty | Refused::Damaged => AppError::Validation("attachment_invalid", r.to_string()),
    }
}

fn storage_error(e: &object_store::Error) -> AppError {
    tracing::error!(error = %e, "file store");
    AppError::Internal("the file store is not available".into())
}

/// A file name fit to show and to send back: the last path part, without
/// control or invisible characters, at most 200 characters.
pub fn clean_name(name: &str, kind: &Kind) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String =
        last.chars().filter(|c| !c.is_control() && !crate::domain::is_invisible_format(*c)).take(200).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        format!("file.{}", kind.extension)
    } else {
        cleaned
    }
}

impl Files {
    pub fn new(blobs: Blobs, links: Links, ceiling: u64) -> Self {
        Self { blobs, links, ceiling, lifecycle: tokio::sync::Mutex::new(()) }
    }

    /// The largest file `rules` let through here.
    pub fn max_bytes(&self, rules: &Rules) -> u64 {
        rules.max_bytes.min(self.ceiling)
    }

    /// Keeps an upload of `session` as an attachment not yet sent with a
    /// message (a message claims it when it commits).
    pub async fn keep(
        &self,
        store: &dyn Store,
        session: &Session,
        upload: Upload,
        rules: &Rules,
    ) -> AppResult<Attachment> {
        let allowed = rules.allowed_types.clone();
        let Upload { name, bytes } = upload;
        let prepared = tokio::task::spawn_blocking(move || kind::prepare(bytes, &allowed))
            .await
            .map_err(|e| AppError::Internal(format!("reading a file failed: {e}")))?
            .map_err(refused)?;
        let file_name = clean_name(&name, &prepared.kind);
        let size = i64::try_from(prepared.bytes.len()).unwrap_or(i64::MAX);
        let _kept = self.lifecycle.lock().await;
        let blob = self.blobs.put(prepared.bytes).await.map_err(|e| storage_error(&e))?;
        let (thumb, thumb_mime) = match prepared.thumb {
            Some((bytes, mime)) => {
                (Some(self.blobs.put(bytes).await.map_err(|e| storage_error(&e))?), Some(mime.to_owned()))
            }
            None => (None, None),
        };
        let attachment = Attachment {
            id: uuid::Uuid::now_v7().to_string(),
            message_id: None,
            session_id: session.id.clone(),
            account_id: session.account_id.clone(),
            blob,
            thumb,
            thumb_mime,
            file_type: prepared.kind.file_type,
            mime: prepared.kind.mime,
            extension: prepared.kind.extension,
            file_name,
            file_size: size,
            created_ms: now_ms(),
        };
        store.add_attachment(&attachment).await?;
        Ok(attachment)
    }

    /// Removes the blobs among `blobs` that no attachment names any more.
    pub async fn release(&self, store: &dyn Store, mut blobs: Vec<String>) {
        blobs.sort_unstable();
        blobs.dedup();
        let _released = self.lifecycle.lock().await;
        for blob in blobs {
            match store.blob_in_use(&blob).await {
                Ok(false) => {
                    if let Err(e) = self.blobs.delete(&blob).await {
                        tracing::warn!(error = %e, "could not remove a file no longer used");
                    }
                }
                Ok(true) => {}
                Err(e) => tracing::warn!(error = %e, "could not check whether a file is used"),
            }
        }
    }

    /// Deletes, with their files, conversations quiet for longer than their
    /// account keeps them (its retention setting); returns how many.
    pub async fn expire(
        &self,
        store: &dyn Store,
        cache: &crate::SessionCache,
        now_ms: i64,
    ) -> crate::store::StoreResult<u64> {
        let mut total = 0;
        loop {
            let ids = store.expired_sessions(now_ms, 200).await?;
            if ids.is_empty() {
                return Ok(total);
            }
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let blobs = store.blobs_of_sessions(&refs).await?;
            total += store.delete_sessions(&refs).await?;
            for id in &ids {
                cache.forget(id);
            }
            self.release(store, blobs).await;
        }
    }

    /// Every hour: removes uploads never sent with a message, and
    /// conversations past their account's retention, with their files.
    pub fn start_janitor(
        self: &std::sync::Arc<Self>,
        store: std::sync::Arc<dyn Store>,
        cache: std::sync::Arc<crate::SessionCache>,
        stop: CancellationToken,
    ) {
        let files = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = every.tick() => {}
                }
                let before = now_ms() - i64::try_from(PENDING_FOR.as_millis()).unwrap_or(i64::MAX / 2);
                match store.delete_unsent_attachments(before).await {
                    Ok(blobs) if !blobs.is_empty() => files.release(store.as_ref(), blobs).await,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not remove unsent uploads"),
                }
                match files.expire(store.as_ref(), &cache, now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(conversations = n, "removed conversations past their retention"),
                    Err(e) => tracing::warn!(error = %e, "could not apply retention"),
                }
            }
        });
    }
}

/// A form of text fields and files.
#[derive(Debug, Default)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

impl Form {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A form that could not be read: 413 past `max` bytes, else 400.
pub(crate) fn form_error(e: &MultipartError, max: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge(usize::try_from(max).unwrap_or(usize::MAX))
    } else {
        AppError::BadRequest("invalid_multipart", format!("the form could not be read: {}", e.body_text()))
    }
}

/// Refuses at once a body that says it is larger than `MAX_FILES` files of
/// `max_bytes` and their fields, before any of it is read.
pub fn check_length(headers: &HeaderMap, max_bytes: u64) -> AppResult<()> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let most = max_bytes.saturating_mul(MAX_FILES as u64).saturating_add(256 * 1024);
    match declared {
        Some(length) if length > most => {
            Err(AppError::PayloadTooLarge(usize::try_from(max_bytes).unwrap_or(usize::MAX)))
        }
        _ => Ok(()),
    }
}

/// Reads a multipart form: fields named in `file_fields` (or sent with a
/// file name) are files of at most `max_bytes` each, at most [`MAX_FILES`];
/// a larger one is refused with 413 as soon as its bytes pass the limit.
pub async fn read_form(mut form: Multipart, file_fields: &[&str], max_bytes: u64) -> AppResult<Form> {
    let mut out = Form::default();
    let too_large = || AppError::PayloadTooLarge(usize::try_from(max_bytes).unwrap_or(usize::MAX));
    while let Some(mut field) = form.next_field().await.map_err(|e| form_error(&e, max_bytes))? {
        let name = field.name().unwrap_or_default().to_owned();
        if file_fields.contains(&name.as_str()) || field.file_name().is_some() {
            if out.files.len() >= MAX_FILES {
                return Err(AppError::Validation(
                    "too_many_attachments",
                    format!("at most {MAX_FILES} files a message"),
                ));
            }
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| form_error(&e, max_bytes))? {
                if (bytes.len() + chunk.len()) as u64 > max_bytes {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            out.files.push(Upload { name: file_name, bytes });
        } else {
            if out.fields.len() >= 50 {
                return Err(AppError::BadRequest("invalid_multipart", "the form has too many fields".into()));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| form_error(&e, max_bytes))? {
                if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
                    return Err(AppError::PayloadTooLarge(MAX_FIELD_BYTES));
                }
                bytes.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(bytes).map_err(|_| {
                AppError::BadRequest("invalid_multipart", format!("the field {name} is not UTF-8 text"))
            })?;
            out.fields.push((name, text));
        }
    }
    Ok(out)
}

/// Form fields that carry files.
pub const FILE_FIELDS: [&str; 4] = ["attachments[]", "attachments", "files[]", "file"];

/// Reads a multipart message form for `session` of `website`: its fields,
/// and its files kept as uploads of the session (in order), refused
/// by the website's rules as they arrive.
pub async fn upload_form(
    state: &AppState,
    website: &crate::store::Website,
    session: &Session,
    headers: &HeaderMap,
    req: axum::extract::Request,
) -> AppResult<(Form, Vec<Attachment>)> {
    use axum::extract::FromRequest;
    let rules = &website.settings.attachments;
    let max = state.files.max_bytes(rules);
    check_length(headers, max)?;
    let form = Multipart::from_request(req, state).await.map_err(|e| AppError::UnsupportedMediaType(e.body_text()))?;
    let mut form = read_form(form, &FILE_FIELDS, max).await?;
    let adding: usize = form.files.iter().map(|f| f.bytes.len()).sum();
    if adding > 0 {
        // Files count against the account's plan storage.
        let adding = i64::try_from(adding).unwrap_or(i64::MAX);
        state.plans.check_storage(state.store.as_ref(), &session.account_id, adding, now_ms()).await?;
    }
    let mut kept = Vec::new();
    for upload in std::mem::take(&mut form.files) {
        kept.push(state.files.keep(state.store.as_ref(), session, upload, rules).await?);
    }
    if !kept.is_empty() {
        state.plans.forget(&session.account_id);
    }
    Ok((form, kept))
}

/// Whether a request carries a multipart form.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    expires: i64,
    signature: String,
    #[serde(default)]
    thumb: Option<String>,
}

/// `Content-Disposition` for `name`: shown in place or only downloaded.
fn disposition(inline: bool, name: &str) -> HeaderValue {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || " .-_()".contains(c) { c } else { '_' }).collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>().replace('+', "%20");
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// `GET /files/{id}/{name}?expires=&signature=[&thumb=1]`: the file (or its
/// thumbnail) a signed link names. Only raster images, PDF, audio and video
/// are shown in place; everything else is a download, and nothing is ever
/// sniffed or run as a page (`nosniff`, `Content-Security-Policy: sandbox`).
async fn download(
    State(state): State<AppState>,
    Path((id, _name)): Path<(String, String)>,
    query: Result<QueryParams<LinkQuery>, AppError>,
) -> AppResult<Response> {
    let QueryParams(q) = query?;
    let attachment =
        state.store.attachment_by_id(&id).await?.ok_or_else(|| AppError::NotFound("no such file".into()))?;
    let variant = if q.thumb.is_some() { Variant::Thumb } else { Variant::File };
    state.files.links.check(&attachment, variant, q.expires, &q.signature, now_ms() / 1000).map_err(|e| {
        AppError::Forbidden(if e == links::LinkError::Expired { "link_expired" } else { "link_invalid" }, e.to_string())
    })?;
    let (blob, mime) = match variant {
        Variant::File => (attachment.blob.clone(), attachment.mime.clone()),
        Variant::Thumb => match (&attachment.thumb, &attachment.thumb_mime) {
            (Some(blob), Some(mime)) => (blob.clone(), mime.clone()),
            _ => return Err(AppError::NotFound("this file has no thumbnail".into())),
        },
    };
    let reading = state.files.blobs.get(&blob).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => AppError::NotFound("the file is gone".into()),
        e => storage_error(&e),
    })?;
    let inline = Kind::inline(&mime);
    let served = if mime == "text/plain" { "text/plain; charset=utf-8".to_owned() } else { mime };
    let mut res = Response::new(Body::from_stream(reading.bytes));
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&served).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(reading.size));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    headers.insert(header::CONTENT_DISPOSITION, disposition(inline, &attachment.file_name));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    Ok(res)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/files/{id}/{name}", get(download))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_hidden_characters() {
        let kind = kind::sniff(b"plain text");
        assert_eq!(clean_name("../../etc/passwd", &kind), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\report.pdf", &kind), "report.pdf");
        assert_eq!(clean_name("invoice\u{202e}fdp.exe", &kind), "invoicefdp.exe");
        assert_eq!(clean_name("", &kind), "file.txt");
        assert_eq!(clean_name(".htaccess", &kind), "htaccess");
    }

    #[test]
    fn only_files_shown_in_place_say_inline() {
        assert!(disposition(true, "a.png").to_str().expect("ascii").starts_with("inline;"));
        let header = disposition(false, "звіт 1.pdf");
        let text = header.to_str().expect("ascii");
        assert!(text.starts_with("attachment; filename=\"____ 1.pdf\"; filename*=UTF-8''%D0%B7"), "{text}");
    }
}
