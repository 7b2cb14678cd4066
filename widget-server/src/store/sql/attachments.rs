//! Attachments on SQL: uploads, the files of messages, and which blobs are
//! still named. A message claims its uploads in the writer's transaction.

use super::*;
use crate::store::Attachment;

pub(super) const ATTACHMENT_COLS: &str = "id, message_id, session_id, account_id, blob, thumb, thumb_mime, \
    file_type, mime, extension, file_name, file_size, created_ms";

#[derive(sqlx::FromRow)]
pub(super) struct AttachmentRow {
    id: String,
    message_id: Option<String>,
    session_id: String,
    account_id: String,
    blob: String,
    thumb: Option<String>,
    thumb_mime: Option<String>,
    file_type: String,
    mime: String,
    extension: String,
    file_name: String,
    file_size: i64,
    created_ms: i64,
}

impl TryFrom<AttachmentRow> for Attachment {
    type Error = StoreError;
    fn try_from(r: AttachmentRow) -> StoreResult<Self> {
        Ok(Self {
            file_type: natter_protocol::FileType::parse(&r.file_type)
                .ok_or_else(|| StoreError::Corrupt(format!("file type {}", r.file_type)))?,
            id: r.id,
            message_id: r.message_id,
            session_id: r.session_id,
            account_id: r.account_id,
            blob: r.blob,
            thumb: r.thumb,
            thumb_mime: r.thumb_mime,
            mime: r.mime,
            extension: r.extension,
            file_name: r.file_name,
            file_size: r.file_size,
            created_ms: r.created_ms,
        })
    }
}

impl SqlStore {
    /// The attachments whose `column` (`message_id` or `session_id`) is one of `ids`.
    async fn attachments_where(&self, column: &'static str, ids: &[&str]) -> StoreResult<Vec<Attachment>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let marks = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let sql = format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE {column} IN ({marks})");
            let rows: Vec<AttachmentRow> = on!(self.read, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for row in rows {
                out.push(Attachment::try_from(row)?);
            }
        }
        Ok(out)
    }

    /// Gives each message of `messages` its files, in the order they were sent.
    pub(super) async fn with_attachments(&self, messages: &mut [Message]) -> StoreResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        let mut found = self.attachments_of(&ids).await?;
        if found.is_empty() {
            return Ok(());
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        for m in messages.iter_mut() {
            m.attachments = found.iter().filter(|a| a.message_id.as_deref() == Some(m.id.as_str())).cloned().collect();
        }
        Ok(())
    }
}

#[async_trait]
impl AttachmentStore for SqlStore {
    async fn add_attachment(&self, a: &Attachment) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO attachments ({ATTACHMENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&a.id).bind(&a.message_id).bind(&a.session_id).bind(&a.account_id).bind(&a.blob).bind(&a.thumb)
            .bind(&a.thumb_mime).bind(a.file_type.as_str()).bind(&a.mime).bind(&a.extension).bind(&a.file_name)
            .bind(a.file_size).bind(a.created_ms)
            .execute(pool).await.map(|_| ())?);
        Ok(())
    }

    async fn attachments_of(&self, message_ids: &[&str]) -> StoreResult<Vec<Attachment>> {
        self.attachments_where("message_id", message_ids).await
    }

    async fn attachment_by_id(&self, id: &str) -> StoreResult<Option<Attachment>> {
        let sql = format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = $1");
        let row: Option<AttachmentRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(Attachment::try_from).transpose()
    }

    async fn blob_in_use(&self, blob: &str) -> StoreResult<bool> {
        let used: Option<i64> = on!(self.write, pool => sqlx::query_scalar(
            "SELECT 1 FROM attachments WHERE blob = $1 OR thumb = $1 LIMIT 1"
        ).bind(blob).fetch_optional(pool).await?);
        Ok(used.is_some())
    }

    async fn delete_unsent_attachments(&self, before_ms: i64) -> StoreResult<Vec<String>> {
        let rows: Vec<(String, Option<String>)> = on!(self.write, pool => sqlx::query_as(
            "DELETE FROM attachments WHERE message_id IS NULL AND created_ms < $1 RETURNING blob, thumb"
        ).bind(before_ms).fetch_all(pool).await?);
        Ok(rows.into_iter().flat_map(|(blob, thumb)| std::iter::once(blob).chain(thumb)).collect())
    }

    async fn blobs_of_sessions(&self, session_ids: &[&str]) -> StoreResult<Vec<String>> {
        let found = self.attachments_where("session_id", session_ids).await?;
        Ok(found.into_iter().flat_map(|a| std::iter::once(a.blob).chain(a.thumb)).collect())
    }
}
