//! Customers on SQL: lookup, verified identity, erasure.

use super::*;

#[async_trait]
impl CustomerStore for SqlStore {
    async fn customer_by_id(&self, id: &str) -> StoreResult<Option<Customer>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1");
        let row: Option<CustomerRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(Customer::try_from).transpose()
    }

    async fn list_customers(&self, account_id: &str, offset: i64, limit: i64) -> StoreResult<(Vec<Customer>, i64)> {
        let sql = format!(
            "SELECT {CUSTOMER_COLS} FROM customers WHERE account_id = $1 ORDER BY updated_ms DESC, id LIMIT $2 OFFSET $3"
        );
        let (total, rows): (i64, Vec<CustomerRow>) = on!(self.read, pool => (
            sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE account_id = $1").bind(account_id).fetch_one(pool).await?,
            sqlx::query_as(&sql).bind(account_id).bind(limit).bind(offset).fetch_all(pool).await?,
        ));
        Ok((convert(rows)?, total))
    }

    async fn sessions_of_customers(&self, customer_ids: &[&str]) -> StoreResult<Vec<Session>> {
        if customer_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=customer_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE customer_id IN ({}) ORDER BY created_ms, id",
            marks.join(", ")
        );
        let rows: Vec<SessionRow> = on!(self.read, pool => {
            let mut q = sqlx::query_as(&sql);
            for id in customer_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        convert(rows)
    }

    async fn identify(&self, session: &Session, who: &Identity<'_>) -> StoreResult<Customer> {
        let metadata = who.metadata.map(serde_json::Value::to_string);
        let find = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE account_id = $1 AND external_id = $2");
        let update = format!(
            "UPDATE customers SET external_id = $2, name = COALESCE($3, name), email = COALESCE($4, email), \
             metadata = COALESCE($5, metadata), updated_ms = $6 WHERE id = $1 RETURNING {CUSTOMER_COLS}"
        );
        let now = now_ms();
        let row: CustomerRow = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let known: Option<CustomerRow> =
                sqlx::query_as(&find).bind(&session.account_id).bind(who.external_id).fetch_optional(&mut *tx).await?;
            let target = known.map_or_else(|| session.customer_id.clone(), |c| c.id);
            if target != session.customer_id {
                sqlx::query("UPDATE sessions SET customer_id = $2 WHERE id = $1")
                    .bind(&session.id).bind(&target).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM customers WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM sessions WHERE customer_id = $1)")
                    .bind(&session.customer_id).execute(&mut *tx).await?;
            }
            let row: CustomerRow = sqlx::query_as(&update)
                .bind(&target).bind(who.external_id).bind(who.name).bind(who.email).bind(&metadata).bind(now)
                .fetch_one(&mut *tx).await?;
            tx.commit().await?;
            row
        });
        Customer::try_from(row)
    }

    async fn delete_customer(&self, id: &str) -> StoreResult<bool> {
        let n = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            for table in ["channel_outbox", "ai_replies", "room_edges", "room_events", "attachments", "ratings"] {
                let column = if table.starts_with("room_") { "room_id" } else { "session_id" };
                let sql = format!("DELETE FROM {table} WHERE {column} IN (SELECT id FROM sessions WHERE customer_id = $1)");
                sqlx::query(&sql).bind(id).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE customer_id = $1)")
                .bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM sessions WHERE customer_id = $1").bind(id).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM customers WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }
}
