//! The outbox of replies to messaging channels on SQL.

use super::*;

const SEND_COLS: &str =
    "message_id, session_id, seq, channel_id, state, attempt, next_ms, error, external_id, created_ms";

#[derive(sqlx::FromRow)]
struct SendRow {
    message_id: String,
    session_id: String,
    seq: i64,
    channel_id: String,
    state: String,
    attempt: i64,
    next_ms: i64,
    error: Option<String>,
    external_id: Option<String>,
    created_ms: i64,
}

impl From<SendRow> for ChannelSend {
    fn from(r: SendRow) -> Self {
        Self {
            message_id: r.message_id,
            session_id: r.session_id,
            seq: r.seq,
            channel_id: r.channel_id,
            state: r.state,
            attempt: r.attempt,
            next_ms: r.next_ms,
            error: r.error,
            external_id: r.external_id,
            created_ms: r.created_ms,
        }
    }
}

#[async_trait]
impl ChannelStore for SqlStore {
    async fn enqueue_channel_send(&self, s: &ChannelSend) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO channel_outbox ({SEND_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (message_id) DO NOTHING"
        );
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&s.message_id).bind(&s.session_id).bind(s.seq).bind(&s.channel_id).bind(&s.state).bind(s.attempt)
            .bind(s.next_ms).bind(&s.error).bind(&s.external_id).bind(s.created_ms)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn claim_channel_sends(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<ChannelSend>> {
        // As with webhooks, the outer condition is checked again on each row
        // after any lock wait, so two instances never claim the same send.
        let sql = format!(
            "UPDATE channel_outbox SET next_ms = $2 WHERE state = 'pending' AND next_ms <= $1 AND message_id IN \
             (SELECT o.message_id FROM channel_outbox o WHERE o.state = 'pending' AND o.next_ms <= $1 \
              AND NOT EXISTS (SELECT 1 FROM channel_outbox p WHERE p.session_id = o.session_id \
                              AND p.state = 'pending' AND p.seq < o.seq) \
              ORDER BY o.next_ms LIMIT $3) RETURNING {SEND_COLS}"
        );
        let rows: Vec<SendRow> = on!(self.write, pool => sqlx::query_as(&sql)
            .bind(now_ms).bind(lease_until_ms).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(ChannelSend::from).collect())
    }

    async fn settle_channel_send(&self, s: &ChannelSend) -> StoreResult<()> {
        let sql = "UPDATE channel_outbox SET state = $2, attempt = $3, next_ms = $4, error = $5, external_id = $6 \
                   WHERE message_id = $1";
        on!(self.write, pool => sqlx::query(sql)
            .bind(&s.message_id).bind(&s.state).bind(s.attempt).bind(s.next_ms).bind(&s.error).bind(&s.external_id)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn channel_sends_of(&self, message_ids: &[&str]) -> StoreResult<Vec<ChannelSend>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=message_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT {SEND_COLS} FROM channel_outbox WHERE message_id IN ({})", marks.join(", "));
        let rows: Vec<SendRow> = on!(self.read, pool => {
            let mut q = sqlx::query_as(&sql);
            for id in message_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(ChannelSend::from).collect())
    }

    async fn channel_send_by_external_id(
        &self,
        channel_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<ChannelSend>> {
        let sql = format!("SELECT {SEND_COLS} FROM channel_outbox WHERE channel_id = $1 AND external_id = $2");
        let row: Option<SendRow> = on!(self.read, pool =>
            sqlx::query_as(&sql).bind(channel_id).bind(external_id).fetch_optional(pool).await?);
        Ok(row.map(ChannelSend::from))
    }
}
