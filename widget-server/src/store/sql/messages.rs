//! Messages on SQL: the insert goes through the group-commit writer; pages
//! and read receipts.

use super::*;

#[async_trait]
impl MessageStore for SqlStore {
    async fn insert_message(&self, m: NewMessage<'_>) -> StoreResult<(Message, bool)> {
        let (mut message, created) = self.writer.insert(m).await?;
        if !created {
            // A repeated echo id: the stored message, with the files it was sent with.
            self.with_attachments(std::slice::from_mut(&mut message)).await?;
        }
        Ok((message, created))
    }

    fn seq_hint(&self, session_id: &str) -> Option<i64> {
        self.hints.as_ref()?.get(session_id)
    }

    async fn list_messages(&self, session_id: &str, cursor: Cursor, limit: i64) -> StoreResult<MessagePage> {
        let (clause, order, arg) = match cursor {
            Cursor::Latest => ("", "DESC", None),
            Cursor::AfterSeq(seq) => ("AND seq > $2", "ASC", Some(seq)),
            Cursor::AfterTime(ms) => ("AND created_ms > $2", "ASC", Some(ms)),
            Cursor::BeforeSeq(seq) => ("AND seq < $2", "DESC", Some(seq)),
            Cursor::BeforeTime(ms) => ("AND created_ms < $2", "DESC", Some(ms)),
        };
        let limit_param = if arg.is_some() { "$3" } else { "$2" };
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE session_id = $1 {clause} ORDER BY seq {order} LIMIT {limit_param}"
        );
        let rows: Vec<MessageRow> = on!(self.read, pool => {
            let q = sqlx::query_as(&sql).bind(session_id);
            let q = match arg { Some(a) => q.bind(a), None => q };
            q.bind(limit + 1).fetch_all(pool).await?
        });
        let mut messages: Vec<Message> = convert(rows)?;
        let has_more = messages.len() as i64 > limit;
        messages.truncate(usize::try_from(limit).unwrap_or(0));
        if order == "DESC" {
            messages.reverse();
        }
        self.with_attachments(&mut messages).await?;
        Ok(MessagePage { messages, has_more })
    }

    async fn message_by_id(&self, session_id: &str, id: &str) -> StoreResult<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE session_id = $1 AND id = $2");
        let row: Option<MessageRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(session_id).bind(id).fetch_optional(pool).await?);
        let mut message = row.map(Message::try_from).transpose()?;
        if let Some(m) = message.as_mut() {
            self.with_attachments(std::slice::from_mut(m)).await?;
        }
        Ok(message)
    }

    async fn mark_read(&self, session_id: &str, up_to_seq: i64, by_visitor: bool) -> StoreResult<Vec<Message>> {
        let whose = whose(by_visitor);
        let sql = format!(
            "UPDATE messages SET status = 'read' WHERE session_id = $1 AND seq <= $2 AND {whose} \
             AND status <> 'read' RETURNING {MESSAGE_COLS}"
        );
        let rows: Vec<MessageRow> =
            on!(self.write, pool => sqlx::query_as(&sql).bind(session_id).bind(up_to_seq).fetch_all(pool).await?);
        let mut messages: Vec<Message> = convert(rows)?;
        messages.sort_by_key(|m| m.seq);
        self.with_attachments(&mut messages).await?;
        Ok(messages)
    }

    async fn mark_delivered(&self, marks: &[DeliveryMark]) -> StoreResult<Vec<Message>> {
        if marks.is_empty() {
            return Ok(Vec::new());
        }
        let sql = |to_visitor| {
            format!(
                "UPDATE messages SET status = 'delivered' WHERE session_id = $1 AND seq <= $2 AND {} \
                 AND status = 'sent' RETURNING {MESSAGE_COLS}",
                whose(to_visitor)
            )
        };
        let (to_visitor, from_visitor) = (sql(true), sql(false));
        let rows: Vec<MessageRow> = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let mut rows = Vec::new();
            for mark in marks {
                let sql = if mark.to_visitor { &to_visitor } else { &from_visitor };
                let changed: Vec<MessageRow> =
                    sqlx::query_as(sql).bind(&mark.session_id).bind(mark.up_to_seq).fetch_all(&mut *tx).await?;
                rows.extend(changed);
            }
            tx.commit().await?;
            rows
        });
        let mut messages: Vec<Message> = convert(rows)?;
        messages.sort_by(|a, b| (&a.session_id, a.seq).cmp(&(&b.session_id, b.seq)));
        self.with_attachments(&mut messages).await?;
        Ok(messages)
    }
}

/// The messages one side receives: the visitor's (`to_visitor`: everyone else's) or the visitor's own.
const fn whose(to_visitor: bool) -> &'static str {
    if to_visitor {
        "sender <> 'user'"
    } else {
        "sender = 'user'"
    }
}
