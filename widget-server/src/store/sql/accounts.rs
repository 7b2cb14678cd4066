//! Accounts and their websites on SQL.

use super::*;

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_website(&self, w: &Website) -> StoreResult<()> {
        let origins = serde_json::to_string(&w.origins).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let settings = serde_json::to_string(&w.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let secrets = self.sealed_secrets(w)?;
        let sql =
            format!("INSERT INTO websites ({WEBSITE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&w.id).bind(&w.account_id).bind(&w.name).bind(&w.token).bind(&w.api_secret)
            .bind(&origins).bind(&settings).bind(w.legacy_mode).bind(w.created_ms)
            .bind(w.kind.as_str()).bind(w.config.to_string()).bind(&secrets)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn update_website(&self, w: &Website) -> StoreResult<()> {
        let origins = serde_json::to_string(&w.origins).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let settings = serde_json::to_string(&w.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let secrets = self.sealed_secrets(w)?;
        let sql = "UPDATE websites SET name = $2, origins = $3, settings = $4, legacy_mode = $5, config = $6, \
                   secrets = $7 WHERE id = $1";
        on!(self.write, pool => sqlx::query(sql)
            .bind(&w.id).bind(&w.name).bind(&origins).bind(&settings).bind(w.legacy_mode)
            .bind(w.config.to_string()).bind(&secrets)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn website_by_token(&self, token: &str) -> StoreResult<Option<Website>> {
        self.website_where("token = $1", token).await
    }

    async fn website_by_id(&self, id: &str) -> StoreResult<Option<Website>> {
        self.website_where("id = $1", id).await
    }

    async fn list_websites(&self, account_id: Option<&str>) -> StoreResult<Vec<Website>> {
        let sql = format!(
            "SELECT {WEBSITE_COLS} FROM websites WHERE ($1 IS NULL OR account_id = $1) ORDER BY created_ms, id"
        );
        let rows: Vec<WebsiteRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        rows.into_iter().map(|r| self.website_of(r)).collect()
    }

    async fn account_plan(&self, account_id: &str) -> StoreResult<Option<(String, Option<i64>)>> {
        Ok(on!(self.read, pool => sqlx::query_as("SELECT plan, plan_changed_ms FROM accounts WHERE id = $1")
            .bind(account_id).fetch_optional(pool).await?))
    }

    async fn set_account_plan(&self, account_id: &str, plan: &str, now_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE accounts SET plan = $2, plan_changed_ms = $3 WHERE id = $1")
            .bind(account_id).bind(plan).bind(now_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn account_usage(&self, account_id: &str, since_ms: i64) -> StoreResult<AccountUsage> {
        const MESSAGES: &str = "SELECT COUNT(*) FROM messages m JOIN sessions s ON s.id = m.session_id \
            WHERE s.account_id = $1 AND m.created_ms >= $2 AND m.sender <> 'system'";
        const STORAGE: &str = "SELECT CAST(COALESCE(SUM(LENGTH(m.body)), 0) AS BIGINT) \
            + (SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM knowledge_documents WHERE account_id = $1) \
            + (SELECT CAST(COALESCE(SUM(file_size), 0) AS BIGINT) FROM attachments WHERE account_id = $1) \
            FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.account_id = $1";
        const OPERATORS: &str = "SELECT COUNT(*) FROM operators WHERE account_id = $1";
        on!(self.read, pool => {
            let messages: i64 = sqlx::query_scalar(MESSAGES).bind(account_id).bind(since_ms).fetch_one(pool).await?;
            let storage_bytes: i64 = sqlx::query_scalar(STORAGE).bind(account_id).fetch_one(pool).await?;
            let operators: i64 = sqlx::query_scalar(OPERATORS).bind(account_id).fetch_one(pool).await?;
            Ok(AccountUsage { messages, storage_bytes, operators })
        })
    }

    async fn create_account(&self, a: &Account) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3)")
            .bind(&a.id).bind(&a.name).bind(a.created_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let rows: Vec<(String, String, i64)> = on!(self.read, pool =>
            sqlx::query_as("SELECT id, name, created_ms FROM accounts ORDER BY created_ms, id").fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(id, name, created_ms)| Account { id, name, created_ms }).collect())
    }

    async fn account_by_id(&self, id: &str) -> StoreResult<Option<Account>> {
        let row: Option<(String, String, i64)> = on!(self.read, pool =>
            sqlx::query_as("SELECT id, name, created_ms FROM accounts WHERE id = $1").bind(id).fetch_optional(pool).await?);
        Ok(row.map(|(id, name, created_ms)| Account { id, name, created_ms }))
    }

    async fn retention_days(&self, account_id: &str) -> StoreResult<Option<i64>> {
        let days: Option<Option<i64>> = on!(self.read, pool =>
            sqlx::query_scalar("SELECT retention_days FROM accounts WHERE id = $1").bind(account_id).fetch_optional(pool).await?);
        Ok(days.flatten())
    }

    async fn set_retention_days(&self, account_id: &str, days: Option<i64>) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE accounts SET retention_days = $2 WHERE id = $1")
            .bind(account_id).bind(days).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn expired_sessions(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<String>> {
        let ids: Vec<String> = on!(self.read, pool => sqlx::query_scalar(
            "SELECT s.id FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE a.retention_days IS NOT NULL AND s.updated_ms < $1 - a.retention_days * 86400000 \
             ORDER BY s.updated_ms LIMIT $2"
        ).bind(now_ms).bind(limit).fetch_all(pool).await?);
        Ok(ids)
    }

    async fn delete_sessions(&self, ids: &[&str]) -> StoreResult<u64> {
        let mut deleted = 0;
        for chunk in ids.chunks(200) {
            let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let n = on!(self.write, pool => {
                let mut tx = pool.begin().await?;
                for (table, column) in [
                    ("channel_outbox", "session_id"), ("ai_replies", "session_id"), ("room_edges", "room_id"),
                    ("room_events", "room_id"), ("attachments", "session_id"), ("ratings", "session_id"),
                    ("messages", "session_id"),
                ] {
                    let sql = format!("DELETE FROM {table} WHERE {column} IN ({list})");
                    let mut q = sqlx::query(&sql);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.execute(&mut *tx).await?;
                }
                let customers = format!("SELECT DISTINCT customer_id FROM sessions WHERE id IN ({list})");
                let mut q = sqlx::query_scalar::<_, Option<String>>(&customers);
                for id in chunk {
                    q = q.bind(*id);
                }
                let customers: Vec<String> = q.fetch_all(&mut *tx).await?.into_iter().flatten().collect();
                let sql = format!("DELETE FROM sessions WHERE id IN ({list})");
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                let n = q.execute(&mut *tx).await?.rows_affected();
                for customer in customers {
                    sqlx::query("DELETE FROM customers WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM sessions WHERE customer_id = $1)")
                        .bind(customer).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                n
            });
            deleted += n;
        }
        Ok(deleted)
    }
}
