//! The knowledge base (`/knowledge`): admins upload documents (multipart
//! `file`, `title`, `category`; PDF, DOCX, TXT, Markdown and HTML) and
//! delete them; every operator lists them and searches them. A search
//! answers the passages that cover the question best, each with its
//! document and a score in [0, 1], never whole documents.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::operator::{Item, List, ListMeta};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{AdminOperator, AuthOperator};
use crate::error::{AppError, OpError, OpResult};
use crate::extract::JsonBody;
use crate::knowledge::{self, Refused};
use crate::store::KnowledgeDocument;
use crate::time::{iso, now_ms};
use crate::AppState;

/// The largest document taken.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;
/// Documents one account may have.
const MAX_DOCUMENTS: usize = 1000;
/// Passages one document may have (about 700 characters each).
const MAX_PASSAGES: usize = 5000;

#[derive(Serialize, ToSchema)]
pub struct DocumentView {
    id: String,
    title: String,
    category: Option<String>,
    file_name: String,
    /// `pdf`, `docx`, `txt`, `md` or `html`.
    format: String,
    size_bytes: i64,
    /// How many passages search sees in it.
    passages: i64,
    created_at: String,
}

fn view(d: &KnowledgeDocument) -> DocumentView {
    DocumentView {
        id: d.id.clone(),
        title: d.title.clone(),
        category: d.category.clone(),
        file_name: d.file_name.clone(),
        format: d.format.clone(),
        size_bytes: d.size_bytes,
        passages: d.passages,
        created_at: iso(d.created_ms),
    }
}

fn invalid(what: impl Into<String>) -> OpError {
    OpError(AppError::Validation("validation_error", what.into()))
}

#[utoipa::path(get, path = "/api/v1/knowledge/documents", tag = "knowledge", security(("bearer" = [])), responses((status = 200, description = "The account's documents, newest first", body = List<DocumentView>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(State(state): State<AppState>, AuthOperator(op): AuthOperator) -> OpResult<Json<List<DocumentView>>> {
    let documents = state.store.list_documents(&op.account_id).await?;
    let total = i64::try_from(documents.len()).unwrap_or(i64::MAX);
    let data = documents.iter().map(view).collect();
    Ok(Json(List { data, meta: Some(ListMeta { total, page: 1, per_page: total.max(1) }) }))
}

/// A short text field of the form: trimmed, without control characters.
fn short_text(value: &str, field: &str, max: usize) -> OpResult<Option<String>> {
    let value = value.trim();
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(invalid(format!("{field} must be at most {max} characters")));
    }
    Ok(Some(value.to_owned()).filter(|v| !v.is_empty()))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> OpError {
    OpError(crate::files::form_error(e, MAX_DOCUMENT_BYTES as u64))
}

/// Uploads a document: its type is sniffed from the bytes, its text split
/// into passages and indexed; the answer counts the passages.
#[utoipa::path(post, path = "/api/v1/knowledge/documents", tag = "knowledge", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "`file` (at most 5 MB), `title`, `category`"),
    responses(
        (status = 201, description = "The document, indexed", body = Item<DocumentView>),
        (status = 402, description = "Over the plan's storage (PLAN_LIMIT)", body = OperatorError),
        (status = 413, description = "The file is larger than 5 MB", body = OperatorError),
        (status = 415, description = "Not a document that can be read", body = OperatorError),
        (status = "4XX", description = "Refused", body = OperatorError),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    form: Result<Multipart, MultipartRejection>,
) -> OpResult<(StatusCode, Json<Item<DocumentView>>)> {
    let mut form = form.map_err(|e| OpError(AppError::UnsupportedMediaType(e.body_text())))?;
    let (mut file, mut file_name, mut title, mut category) = (None::<Vec<u8>>, String::new(), None, None);
    while let Some(mut field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                file_name = field.file_name().unwrap_or("document").chars().take(200).collect();
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
                    if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                        return Err(OpError(AppError::PayloadTooLarge(MAX_DOCUMENT_BYTES)));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some(bytes);
            }
            "title" => title = short_text(&field.text().await.map_err(|e| multipart_error(&e))?, "title", 200)?,
            "category" => {
                category = short_text(&field.text().await.map_err(|e| multipart_error(&e))?, "category", 100)?;
            }
            _ => {}
        }
    }
    let bytes = file.ok_or_else(|| invalid("send the document as the form field `file`"))?;
    let refused = |r: Refused| match r {
        Refused::Empty | Refused::NoText | Refused::UnreadablePdf | Refused::TooDeep => invalid(r.to_string()),
        Refused::Unknown => OpError(AppError::UnsupportedMediaType(r.to_string())),
    };
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    // Reading a document is CPU work: off the async workers.
    let name = file_name.clone();
    let read = tokio::task::spawn_blocking(move || {
        let format = knowledge::sniff(&bytes, &name)?;
        let text = knowledge::extract(&bytes, format)?;
        Ok::<_, Refused>((format, knowledge::passages(&text)))
    })
    .await
    .map_err(|e| AppError::Internal(format!("reading a document failed: {e}")))?;
    let (format, passages) = read.map_err(refused)?;
    if passages.len() > MAX_PASSAGES {
        return Err(invalid(format!(
            "the document is too long to index ({} passages; at most {MAX_PASSAGES})",
            passages.len()
        )));
    }
    if state.store.list_documents(&op.account_id).await?.len() >= MAX_DOCUMENTS {
        return Err(invalid(format!("an account may have at most {MAX_DOCUMENTS} documents")));
    }
    state.plans.check_storage(state.store.as_ref(), &op.account_id, size, now_ms()).await?;
    let title = title.unwrap_or_else(|| {
        let stem = file_name.rsplit_once('.').map_or(file_name.as_str(), |(stem, _)| stem);
        if stem.trim().is_empty() {
            "Document".to_owned()
        } else {
            stem.to_owned()
        }
    });
    let document = KnowledgeDocument {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: op.account_id.clone(),
        title,
        category,
        file_name,
        format: format.as_str().to_owned(),
        size_bytes: size,
        passages: i64::try_from(passages.len()).unwrap_or(i64::MAX),
        created_ms: now_ms(),
    };
    state.store.add_document(&document, &passages).await?;
    state.plans.forget(&op.account_id);
    tracing::info!(document = %document.id, passages = passages.len(), "knowledge document indexed");
    Ok((StatusCode::CREATED, Json(Item { data: view(&document) })))
}

#[utoipa::path(delete, path = "/api/v1/knowledge/documents/{id}", tag = "knowledge", security(("bearer" = [])), params(("id" = String, Path, description = "The document's id")), responses((status = 204, description = "The document and its passages are gone"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn delete(
    State(state): State<AppState>,
    AdminOperator(op): AdminOperator,
    Path(id): Path<String>,
) -> OpResult<StatusCode> {
    let found = state.store.document_by_id(&id).await?.filter(|d| d.account_id == op.account_id);
    let document = found.ok_or_else(|| OpError(AppError::NotFound(format!("no document {id}"))))?;
    state.store.delete_document(&document.id).await?;
    state.plans.forget(&op.account_id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct SearchRequest {
    query: String,
    /// 1–20; 5 when absent.
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    document_id: String,
    title: String,
    /// The passage that matched, not the whole document.
    content: String,
    /// How well the passage covers the query, from 0 to 1.
    score: f64,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    results: Vec<SearchResult>,
}

/// The best passages for a query, scored in [0, 1].
async fn search_account(state: &AppState, account_id: &str, query: &str, limit: usize) -> OpResult<Vec<SearchResult>> {
    let found = knowledge::best_passages(state.store.as_ref(), account_id, query, limit).await?;
    Ok(found
        .into_iter()
        .map(|(hit, score)| SearchResult {
            document_id: hit.document_id,
            title: hit.title,
            content: hit.content,
            score,
        })
        .collect())
}

#[utoipa::path(post, path = "/api/v1/knowledge/search", tag = "knowledge", security(("bearer" = [])), request_body = SearchRequest, responses((status = 200, description = "The best passages, best first", body = SearchResults), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn search(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    body: Result<JsonBody<SearchRequest>, AppError>,
) -> OpResult<Json<SearchResults>> {
    let JsonBody(req) = body?;
    let query = req.query.trim();
    if query.is_empty() || query.chars().count() > 500 {
        return Err(invalid("query must be 1 to 500 characters"));
    }
    let limit = req.limit.unwrap_or(5);
    if !(1..=20).contains(&limit) {
        return Err(invalid("limit must be between 1 and 20"));
    }
    let results = search_account(&state, &op.account_id, query, usize::try_from(limit).unwrap_or(5)).await?;
    Ok(Json(SearchResults { results }))
}
