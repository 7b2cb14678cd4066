//! The knowledge base on SQL: SQLite FTS5 (`bm25`) or PostgreSQL `tsvector` (`ts_rank_cd`).

use super::*;

const DOCUMENT_COLS: &str = "id, account_id, title, category, file_name, format, size_bytes, passages, created_ms";

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: String,
    account_id: String,
    title: String,
    category: Option<String>,
    file_name: String,
    format: String,
    size_bytes: i64,
    passages: i64,
    created_ms: i64,
}

impl From<DocumentRow> for KnowledgeDocument {
    fn from(r: DocumentRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            title: r.title,
            category: r.category,
            file_name: r.file_name,
            format: r.format,
            size_bytes: r.size_bytes,
            passages: r.passages,
            created_ms: r.created_ms,
        }
    }
}

/// `"term1" OR "term2" …` for FTS5: each term quoted, so nothing in it is syntax.
fn fts5_query(terms: &[String]) -> String {
    terms.iter().map(|t| format!("\"{}\"", t.replace('"', ""))).collect::<Vec<_>>().join(" OR ")
}

/// `term1 | term2 …` for `to_tsquery`: terms are letters and digits only.
fn tsquery(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| t.chars().filter(|c| c.is_alphanumeric()).collect::<String>())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[async_trait]
impl KnowledgeStore for SqlStore {
    async fn add_document(&self, d: &KnowledgeDocument, passages: &[String]) -> StoreResult<()> {
        let insert =
            format!("INSERT INTO knowledge_documents ({DOCUMENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(&insert)
                .bind(&d.id).bind(&d.account_id).bind(&d.title).bind(&d.category).bind(&d.file_name).bind(&d.format)
                .bind(d.size_bytes).bind(d.passages).bind(d.created_ms)
                .execute(&mut *tx).await?;
            for (position, content) in passages.iter().enumerate() {
                sqlx::query("INSERT INTO knowledge_passages (document_id, account_id, position, content) VALUES ($1, $2, $3, $4)")
                    .bind(&d.id).bind(&d.account_id).bind(i64::try_from(position).unwrap_or(i64::MAX)).bind(content)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn list_documents(&self, account_id: &str) -> StoreResult<Vec<KnowledgeDocument>> {
        let sql = format!(
            "SELECT {DOCUMENT_COLS} FROM knowledge_documents WHERE account_id = $1 ORDER BY created_ms DESC, id"
        );
        let rows: Vec<DocumentRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(KnowledgeDocument::from).collect())
    }

    async fn document_by_id(&self, id: &str) -> StoreResult<Option<KnowledgeDocument>> {
        let sql = format!("SELECT {DOCUMENT_COLS} FROM knowledge_documents WHERE id = $1");
        let row: Option<DocumentRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(KnowledgeDocument::from))
    }

    async fn delete_document(&self, id: &str) -> StoreResult<bool> {
        let n = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM knowledge_passages WHERE document_id = $1").bind(id).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM knowledge_documents WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }

    async fn search_passages(&self, account_id: &str, terms: &[String], limit: i64) -> StoreResult<Vec<KnowledgeHit>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, String)> = match &self.pools {
            Pools::Sqlite { read, .. } => {
                sqlx::query_as(
                    "SELECT p.document_id, d.title, p.content FROM knowledge_fts \
                     JOIN knowledge_passages p ON p.id = knowledge_fts.rowid \
                     JOIN knowledge_documents d ON d.id = p.document_id \
                     WHERE knowledge_fts MATCH $1 AND p.account_id = $2 ORDER BY bm25(knowledge_fts) LIMIT $3",
                )
                .bind(fts5_query(terms))
                .bind(account_id)
                .bind(limit)
                .fetch_all(read)
                .await?
            }
            Pools::Postgres(pool) => {
                let query = tsquery(terms);
                if query.is_empty() {
                    return Ok(Vec::new());
                }
                sqlx::query_as(
                    "SELECT p.document_id, d.title, p.content FROM knowledge_passages p \
                     JOIN knowledge_documents d ON d.id = p.document_id, \
                     (SELECT to_tsquery('english', $1) || to_tsquery('russian', $1) || to_tsquery('simple', $1)) AS x(q) \
                     WHERE p.account_id = $2 AND p.search @@ x.q ORDER BY ts_rank_cd(p.search, x.q) DESC, p.id LIMIT $3",
                )
                .bind(query)
                .bind(account_id)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(rows.into_iter().map(|(document_id, title, content)| KnowledgeHit { document_id, title, content }).collect())
    }

    async fn ai_settings(&self, account_id: &str) -> StoreResult<Option<AiSettingsRecord>> {
        type Row = (String, String, String, f64, String, bool, f64, Option<String>, Option<String>, i64);
        let row: Option<Row> = on!(self.read, pool => sqlx::query_as(
            "SELECT account_id, provider, model, temperature, system_prompt, auto_respond, confidence_threshold, \
             base_url, api_key, updated_ms FROM ai_settings WHERE account_id = $1")
            .bind(account_id).fetch_optional(pool).await?);
        let Some((
            account_id,
            provider,
            model,
            temperature,
            system_prompt,
            auto_respond,
            confidence_threshold,
            base_url,
            key,
            updated_ms,
        )) = row
        else {
            return Ok(None);
        };
        let api_key =
            key.map(|k| self.sealer()?.open(&k).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()?;
        Ok(Some(AiSettingsRecord {
            account_id,
            provider,
            model,
            temperature,
            system_prompt,
            auto_respond,
            confidence_threshold,
            base_url,
            api_key,
            updated_ms,
        }))
    }

    async fn save_ai_settings(&self, s: &AiSettingsRecord) -> StoreResult<()> {
        let key = s.api_key.as_deref().map(|k| self.sealer().map(|sealer| sealer.seal(k))).transpose()?;
        on!(self.write, pool => sqlx::query(
            "INSERT INTO ai_settings (account_id, provider, model, temperature, system_prompt, auto_respond, \
             confidence_threshold, base_url, api_key, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (account_id) DO UPDATE SET provider = excluded.provider, model = excluded.model, \
             temperature = excluded.temperature, system_prompt = excluded.system_prompt, \
             auto_respond = excluded.auto_respond, confidence_threshold = excluded.confidence_threshold, \
             base_url = excluded.base_url, api_key = excluded.api_key, updated_ms = excluded.updated_ms")
            .bind(&s.account_id).bind(&s.provider).bind(&s.model).bind(s.temperature).bind(&s.system_prompt)
            .bind(s.auto_respond).bind(s.confidence_threshold).bind(&s.base_url).bind(&key).bind(s.updated_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn record_ai_reply(&self, r: &AiReply) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query(
            "INSERT INTO ai_replies (message_id, session_id, account_id, provider, confidence, sources, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO NOTHING")
            .bind(&r.message_id).bind(&r.session_id).bind(&r.account_id).bind(&r.provider).bind(r.confidence)
            .bind(&r.sources).bind(r.created_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn ai_replies_of(&self, message_ids: &[&str]) -> StoreResult<Vec<AiReply>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=message_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT message_id, session_id, account_id, provider, confidence, sources, created_ms FROM ai_replies \
             WHERE message_id IN ({})",
            marks.join(", ")
        );
        let rows: Vec<(String, String, String, String, f64, String, i64)> = on!(self.read, pool => {
            let mut q = sqlx::query_as(&sql);
            for id in message_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(message_id, session_id, account_id, provider, confidence, sources, created_ms)| AiReply {
                message_id,
                session_id,
                account_id,
                provider,
                confidence,
                sources,
                created_ms,
            })
            .collect())
    }

    async fn count_ai_replies(&self, account_id: &str, from_ms: i64, to_ms: i64) -> StoreResult<i64> {
        Ok(on!(self.read, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM ai_replies WHERE account_id = $1 AND created_ms >= $2 AND created_ms < $3")
            .bind(account_id).bind(from_ms).bind(to_ms).fetch_one(pool).await?))
    }
}
