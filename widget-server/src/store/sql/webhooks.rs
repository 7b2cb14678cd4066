//! Webhooks on SQL: subscriptions, the delivery log and the outbox.

use super::*;

impl SqlStore {
    fn unsealed(&self, row: WebhookRow) -> StoreResult<Webhook> {
        let mut hook = Webhook::try_from(row)?;
        hook.secret = self.sealer()?.open(&hook.secret).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(hook)
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn save_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let events = serde_json::to_string(&w.events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = self.sealer()?.seal(&w.secret);
        let sql = format!(
            "INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
             url = excluded.url, events = excluded.events, secret = excluded.secret, active = excluded.active"
        );
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&w.id).bind(&w.account_id).bind(&w.url).bind(&events).bind(&sealed).bind(w.active).bind(w.created_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn webhook_by_id(&self, id: &str) -> StoreResult<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = $1");
        let row: Option<WebhookRow> = on!(self.read, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(|r| self.unsealed(r)).transpose()
    }

    async fn list_webhooks(&self, account_id: &str) -> StoreResult<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE account_id = $1 ORDER BY created_ms, id");
        let rows: Vec<WebhookRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        rows.into_iter().map(|r| self.unsealed(r)).collect()
    }

    async fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        let n = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM webhook_outbox WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }

    async fn record_delivery(&self, d: &Delivery) -> StoreResult<()> {
        let sql = format!("INSERT INTO webhook_deliveries ({DELIVERY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&d.id).bind(&d.webhook_id).bind(&d.event).bind(d.attempt).bind(d.status_code)
            .bind(d.success).bind(&d.error).bind(d.created_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn list_deliveries(&self, webhook_id: &str, limit: i64) -> StoreResult<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_ms DESC, attempt DESC LIMIT $2"
        );
        let rows: Vec<DeliveryRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(webhook_id).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Delivery::from).collect())
    }

    async fn prune_deliveries(&self, before_ms: i64) -> StoreResult<u64> {
        Ok(on!(self.write, pool => sqlx::query("DELETE FROM webhook_deliveries WHERE created_ms < $1")
            .bind(before_ms).execute(pool).await?.rows_affected()))
    }

    async fn enqueue_webhook_events(&self, items: &[OutboxItem]) -> StoreResult<()> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            for i in items {
                sqlx::query(&format!("INSERT INTO webhook_outbox ({OUTBOX_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"))
                    .bind(&i.id).bind(&i.webhook_id).bind(&i.event).bind(&i.body).bind(i.attempt).bind(i.next_ms)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn claim_webhook_events(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<OutboxItem>> {
        // The outer `next_ms <= $1` is checked again on each row after any
        // lock wait, so two instances never claim the same row.
        let sql = format!(
            "UPDATE webhook_outbox SET next_ms = $2 WHERE next_ms <= $1 AND id IN \
             (SELECT id FROM webhook_outbox WHERE next_ms <= $1 ORDER BY next_ms LIMIT $3) RETURNING {OUTBOX_COLS}"
        );
        let rows: Vec<OutboxRow> = on!(self.write, pool => sqlx::query_as(&sql)
            .bind(now_ms).bind(lease_until_ms).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(OutboxItem::from).collect())
    }

    async fn reschedule_webhook_event(&self, id: &str, attempt: i64, next_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE webhook_outbox SET attempt = $2, next_ms = $3 WHERE id = $1")
            .bind(id).bind(attempt).bind(next_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn finish_webhook_event(&self, id: &str) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("DELETE FROM webhook_outbox WHERE id = $1")
            .bind(id).execute(pool).await.map(drop)?);
        Ok(())
    }
}
