//! Sessions on SQL: creation (with the session's own customer), lookup,
//! contact details, status, the inbox and its statistics.

use super::*;

/// What makes a session empty: nobody but the bot wrote, no contact
/// details, no identified customer, no rating.
const EMPTY: &str = "s.user_name IS NULL AND s.user_phone IS NULL AND s.user_email IS NULL \
    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.sender <> 'bot') \
    AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id AND c.external_id IS NOT NULL) \
    AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.session_id = s.id)";

#[async_trait]
impl SessionStore for SqlStore {
    async fn delete_empty_sessions(
        &self,
        idle_before_ms: i64,
        keep: &(dyn for<'k> Fn(&'k str) -> bool + Send + Sync),
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        let candidates = format!(
            "SELECT s.id, s.customer_id FROM sessions s WHERE s.updated_ms < $1 AND {EMPTY} ORDER BY s.updated_ms LIMIT $2"
        );
        let found: Vec<(String, Option<String>)> =
            on!(self.read, pool => sqlx::query_as(&candidates).bind(idle_before_ms).bind(limit).fetch_all(pool).await?);
        // Each one is checked again as it is deleted, in one transaction with
        // its messages: a visitor who writes meanwhile keeps the session.
        let recheck = format!("DELETE FROM sessions WHERE id = $1 AND updated_ms < $2 AND id IN (SELECT s.id FROM sessions s WHERE s.id = $1 AND {EMPTY})");
        let mut deleted = Vec::new();
        for (id, customer) in found {
            if keep(id.as_str()) {
                continue;
            }
            let gone = on!(self.write, pool => {
                let mut tx = pool.begin().await?;
                sqlx::query("DELETE FROM messages WHERE session_id = $1 AND sender = 'bot'")
                    .bind(&id).execute(&mut *tx).await?;
                let n = sqlx::query(&recheck).bind(&id).bind(idle_before_ms).execute(&mut *tx).await?.rows_affected();
                if n == 1 {
                    sqlx::query("DELETE FROM customers WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM sessions WHERE customer_id = $1)")
                        .bind(&customer).execute(&mut *tx).await?;
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                n == 1
            });
            if gone {
                if let Some(hints) = &self.hints {
                    hints.forget(&id);
                }
                deleted.push(id);
            }
        }
        Ok(deleted)
    }

    async fn create_or_get_session(&self, s: &Session) -> StoreResult<(Session, bool)> {
        let insert_customer =
            format!("INSERT INTO customers ({CUSTOMER_COLS}) VALUES ($1, $2, NULL, $3, $4, $5, '{{}}', $6, $6)");
        let insert_session = format!(
            "INSERT INTO sessions ({SESSION_COLS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (website_id, user_session_id) DO NOTHING"
        );
        let select = format!("SELECT {SESSION_COLS} FROM sessions WHERE website_id = $1 AND user_session_id = $2");
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(&insert_customer)
                .bind(&s.customer_id).bind(&s.account_id).bind(&s.user_name).bind(&s.user_phone).bind(&s.user_email)
                .bind(s.created_ms)
                .execute(&mut *tx).await?;
            let inserted = sqlx::query(&insert_session)
                .bind(&s.id).bind(&s.website_id).bind(&s.account_id).bind(&s.customer_id).bind(s.channel.as_str())
                .bind(&s.user_session_id)
                .bind(&s.token).bind(&s.user_name).bind(&s.user_phone).bind(&s.user_email).bind(s.status.as_str())
                .bind(&s.manager_id).bind(s.last_seq).bind(s.bot_state).bind(s.away_sent_ms)
                .bind(s.created_ms).bind(s.updated_ms)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if inserted {
                let row: SessionRow =
                    sqlx::query_as(&select).bind(&s.website_id).bind(&s.user_session_id).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok((Session::try_from(row)?, true))
            } else {
                tx.rollback().await?;
                let row: SessionRow =
                    sqlx::query_as(&select).bind(&s.website_id).bind(&s.user_session_id).fetch_one(pool).await?;
                Ok((Session::try_from(row)?, false))
            }
        })
    }

    async fn session_by_id(&self, id: &str) -> StoreResult<Option<Session>> {
        self.session_where("id = $1", id, None).await
    }

    async fn session_by_user_session_id(&self, website_id: &str, usid: &str) -> StoreResult<Option<Session>> {
        self.session_where("website_id = $1 AND user_session_id = $2", website_id, Some(usid)).await
    }

    async fn session_by_token(&self, token: &str) -> StoreResult<Option<Session>> {
        self.session_where("token = $1", token, None).await
    }

    async fn update_contact(
        &self,
        session_id: &str,
        name: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> StoreResult<Session> {
        let sql = format!(
            "UPDATE sessions SET user_name = COALESCE($2, user_name), user_phone = COALESCE($3, user_phone), \
             user_email = COALESCE($4, user_email), updated_ms = $5 WHERE id = $1 RETURNING {SESSION_COLS}"
        );
        let row: SessionRow = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let row: SessionRow = sqlx::query_as(&sql)
                .bind(session_id).bind(name).bind(phone).bind(email).bind(now_ms())
                .fetch_one(&mut *tx).await?;
            sqlx::query(
                "UPDATE customers SET name = COALESCE($2, name), phone = COALESCE($3, phone), \
                 email = COALESCE($4, email), updated_ms = $5 WHERE id = $1",
            )
            .bind(&row.customer_id).bind(name).bind(phone).bind(email).bind(now_ms())
            .execute(&mut *tx).await?;
            tx.commit().await?;
            row
        });
        Session::try_from(row)
    }

    async fn set_session_status(&self, session_id: &str, status: SessionStatus) -> StoreResult<Option<Session>> {
        let sql = format!(
            "UPDATE sessions SET status = $2, updated_ms = $3, \
             closed_ms = CASE WHEN $2 = 'active' THEN NULL ELSE $3 END WHERE id = $1 RETURNING {SESSION_COLS}"
        );
        let row: Option<SessionRow> = on!(self.write, pool => sqlx::query_as(&sql)
            .bind(session_id).bind(status.as_str()).bind(now_ms()).fetch_optional(pool).await?);
        row.map(Session::try_from).transpose()
    }

    async fn assign_session(&self, session_id: &str, manager_id: Option<&str>) -> StoreResult<Option<Session>> {
        let sql =
            format!("UPDATE sessions SET manager_id = $2, updated_ms = $3 WHERE id = $1 RETURNING {SESSION_COLS}");
        let row: Option<SessionRow> = on!(self.write, pool => sqlx::query_as(&sql)
            .bind(session_id).bind(manager_id).bind(now_ms()).fetch_optional(pool).await?);
        row.map(Session::try_from).transpose()
    }

    async fn set_bot_flags(&self, session_id: &str, flags: i64) -> StoreResult<i64> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let before: i64 = sqlx::query_scalar("SELECT bot_state FROM sessions WHERE id = $1")
                .bind(session_id).fetch_one(&mut *tx).await?;
            let added = flags & !before;
            if added != 0 {
                sqlx::query("UPDATE sessions SET bot_state = $2 WHERE id = $1")
                    .bind(session_id).bind(before | flags).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    async fn clear_bot_flags(&self, session_id: &str, flags: i64) -> StoreResult<()> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let before: Option<i64> = sqlx::query_scalar("SELECT bot_state FROM sessions WHERE id = $1")
                .bind(session_id).fetch_optional(&mut *tx).await?;
            if let Some(before) = before.filter(|b| b & flags != 0) {
                sqlx::query("UPDATE sessions SET bot_state = $2 WHERE id = $1")
                    .bind(session_id).bind(before & !flags).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn set_away_sent(&self, session_id: &str, at_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE sessions SET away_sent_ms = $2 WHERE id = $1")
            .bind(session_id).bind(at_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> StoreResult<(Vec<ConversationRow>, i64)> {
        let mut clauses = vec!["account_id = $1".to_owned()];
        let mut args: Vec<String> = vec![f.account_id.clone()];
        if !f.statuses.is_empty() {
            let marks: Vec<String> = f
                .statuses
                .iter()
                .map(|s| {
                    args.push(s.as_str().to_owned());
                    format!("${}", args.len())
                })
                .collect();
            clauses.push(format!("status IN ({})", marks.join(", ")));
        }
        if let Some(op) = &f.assigned_to {
            args.push(op.clone());
            clauses.push(format!("manager_id = ${}", args.len()));
        }
        if f.needs_human {
            let waiting = crate::store::bot_flags::NEEDS_HUMAN | crate::store::bot_flags::AI_OFF;
            clauses.push(format!("(bot_state & {waiting}) <> 0"));
        }
        if let Some(channel) = f.channel {
            args.push(channel.as_str().to_owned());
            clauses.push(format!("channel = ${}", args.len()));
        }
        match f.assigned {
            Some(true) => clauses.push("manager_id IS NOT NULL".to_owned()),
            Some(false) => clauses.push("manager_id IS NULL".to_owned()),
            None => {}
        }
        let filter = format!("WHERE {}", clauses.join(" AND "));
        let count_sql = format!("SELECT COUNT(*) FROM sessions {filter}");
        let page_sql = format!(
            "SELECT {SESSION_COLS}, \
             (SELECT body FROM messages m WHERE m.session_id = sessions.id ORDER BY seq DESC LIMIT 1) AS last_body, \
             (SELECT created_ms FROM messages m WHERE m.session_id = sessions.id ORDER BY seq DESC LIMIT 1) AS last_ms \
             FROM sessions {filter} ORDER BY updated_ms DESC, id LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let (total, rows): (i64, Vec<ConversationSqlRow>) = on!(self.read, pool => {
            let mut count = sqlx::query_scalar(&count_sql);
            let mut page = sqlx::query_as(&page_sql);
            for a in &args {
                count = count.bind(a);
                page = page.bind(a);
            }
            (count.fetch_one(pool).await?, page.bind(f.limit).bind(f.offset).fetch_all(pool).await?)
        });
        let rows = rows
            .into_iter()
            .map(|r| {
                Ok(ConversationRow {
                    session: Session::try_from(r.session)?,
                    last_body: r.last_body,
                    last_ms: r.last_ms,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rows, total))
    }

    async fn stats_series(
        &self,
        account_id: &str,
        from_ms: i64,
        to_ms: i64,
        origin_ms: i64,
        width_ms: i64,
    ) -> StoreResult<Vec<SeriesBucket>> {
        const CREATED: &str = "SELECT (created_ms - $4) / $5 AS b, COUNT(*) FROM sessions \
            WHERE account_id = $1 AND created_ms >= $2 AND created_ms < $3 GROUP BY 1";
        const CLOSED: &str = "SELECT (closed_ms - $4) / $5 AS b, COUNT(*) FROM sessions \
            WHERE account_id = $1 AND closed_ms >= $2 AND closed_ms < $3 GROUP BY 1";
        const MESSAGES: &str = "SELECT (m.created_ms - $4) / $5 AS b, m.sender, COUNT(*) FROM messages m \
            JOIN sessions s ON s.id = m.session_id \
            WHERE s.account_id = $1 AND m.created_ms >= $2 AND m.created_ms < $3 \
            GROUP BY 1, 2";
        const AI: &str = "SELECT (created_ms - $4) / $5 AS b, COUNT(*) FROM ai_replies \
            WHERE account_id = $1 AND created_ms >= $2 AND created_ms < $3 GROUP BY 1";
        type Counts = Vec<(i64, i64)>;
        let (created, closed, ai, messages): (Counts, Counts, Counts, Vec<(i64, String, i64)>) = on!(self.read, pool => {
            let bind = |sql| sqlx::query_as(sql).bind(account_id).bind(from_ms).bind(to_ms).bind(origin_ms).bind(width_ms);
            let created = bind(CREATED).fetch_all(pool).await?;
            let closed = bind(CLOSED).fetch_all(pool).await?;
            let ai = bind(AI).fetch_all(pool).await?;
            let messages = sqlx::query_as(MESSAGES)
                .bind(account_id).bind(from_ms).bind(to_ms).bind(origin_ms).bind(width_ms)
                .fetch_all(pool).await?;
            (created, closed, ai, messages)
        });
        let mut buckets: std::collections::BTreeMap<i64, SeriesBucket> = std::collections::BTreeMap::new();
        fn at(buckets: &mut std::collections::BTreeMap<i64, SeriesBucket>, b: i64) -> &mut SeriesBucket {
            buckets.entry(b).or_insert_with(|| SeriesBucket { bucket: b, ..SeriesBucket::default() })
        }
        for (b, n) in created {
            at(&mut buckets, b).conversations += n;
        }
        for (b, n) in closed {
            at(&mut buckets, b).closed += n;
        }
        for (b, n) in ai {
            at(&mut buckets, b).from_ai += n;
        }
        for (b, sender, n) in messages {
            let bucket = at(&mut buckets, b);
            match sender.as_str() {
                "user" => bucket.from_customers += n,
                "manager" => bucket.from_agents += n,
                "bot" => bucket.from_bot += n,
                _ => {}
            }
        }
        Ok(buckets.into_values().collect())
    }

    async fn open_assignments(&self, account_id: &str) -> StoreResult<Vec<(String, i64)>> {
        Ok(on!(self.read, pool => sqlx::query_as(
            "SELECT manager_id, COUNT(*) FROM sessions WHERE account_id = $1 AND status = 'active' \
             AND manager_id IS NOT NULL GROUP BY manager_id")
            .bind(account_id).fetch_all(pool).await?))
    }

    async fn export_conversations(
        &self,
        account_id: &str,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ExportRow>> {
        const EXPORT: &str = "SELECT s.id, s.channel, s.status, s.manager_id, s.user_name, s.user_email, s.user_phone, \
            s.created_ms, s.closed_ms, \
            (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id AND m.sender <> 'system') AS messages, \
            (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id AND m.sender = 'user') AS from_customer, \
            (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id AND m.sender = 'manager') AS from_agents, \
            (SELECT MIN(m.created_ms) FROM messages m WHERE m.session_id = s.id AND m.sender = 'user') AS first_customer_ms, \
            (SELECT MIN(m.created_ms) FROM messages m WHERE m.session_id = s.id AND m.sender = 'manager') AS first_agent_ms \
            FROM sessions s WHERE s.account_id = $1 AND s.created_ms >= $2 AND s.created_ms < $3 \
            ORDER BY s.created_ms, s.id LIMIT $4";
        Ok(on!(self.read, pool => sqlx::query_as(EXPORT)
            .bind(account_id).bind(from_ms).bind(to_ms).bind(limit).fetch_all(pool).await?))
    }

    async fn set_room_edge(&self, room_id: &str, edge: &RoomEdge, event: &RoomEvent) -> StoreResult<()> {
        let agents = serde_json::json!(event.agent_ids).to_string();
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO room_edges (room_id, from_id, to_id, sympathy, updated_ms) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (room_id, from_id, to_id) DO UPDATE SET sympathy = excluded.sympathy, updated_ms = excluded.updated_ms")
                .bind(room_id).bind(&edge.from).bind(&edge.to).bind(edge.sympathy).bind(edge.updated_ms)
                .execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO room_events (id, room_id, event_type, agent_ids, description, created_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&event.id).bind(room_id).bind(&event.event_type).bind(&agents).bind(&event.description).bind(event.created_ms)
                .execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn room_edges(&self, room_id: &str) -> StoreResult<Vec<RoomEdge>> {
        let rows: Vec<(String, String, f64, i64)> = on!(self.read, pool => sqlx::query_as(
            "SELECT from_id, to_id, sympathy, updated_ms FROM room_edges WHERE room_id = $1 ORDER BY from_id, to_id")
            .bind(room_id).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(from, to, sympathy, updated_ms)| RoomEdge { from, to, sympathy, updated_ms })
            .collect())
    }

    async fn room_events(&self, room_id: &str, limit: i64) -> StoreResult<Vec<RoomEvent>> {
        let rows: Vec<(String, String, String, String, String, i64)> = on!(self.read, pool => sqlx::query_as(
            "SELECT id, room_id, event_type, agent_ids, description, created_ms FROM room_events \
             WHERE room_id = $1 ORDER BY created_ms DESC, id DESC LIMIT $2")
            .bind(room_id).bind(limit).fetch_all(pool).await?);
        let mut events: Vec<RoomEvent> = rows
            .into_iter()
            .map(|(id, room_id, event_type, agents, description, created_ms)| RoomEvent {
                id,
                room_id,
                event_type,
                agent_ids: serde_json::from_str(&agents).unwrap_or_default(),
                description,
                created_ms,
            })
            .collect();
        events.reverse();
        Ok(events)
    }

    async fn session_operator_ids(&self, session_id: &str) -> StoreResult<Vec<String>> {
        let rows: Vec<(String, i64)> = on!(self.read, pool => sqlx::query_as(
            "SELECT manager_id, MIN(seq) FROM messages WHERE session_id = $1 AND manager_id IS NOT NULL \
             GROUP BY manager_id ORDER BY 2")
            .bind(session_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(id, _)| id).collect())
    }

    async fn session_metadata(&self, session_id: &str) -> StoreResult<serde_json::Value> {
        let text: Option<String> = on!(self.read, pool => sqlx::query_scalar("SELECT metadata FROM sessions WHERE id = $1")
            .bind(session_id).fetch_optional(pool).await?);
        text.map_or(Ok(serde_json::json!({})), |t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("metadata: {e}")))
        })
    }

    async fn set_session_metadata(&self, session_id: &str, metadata: &serde_json::Value) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE sessions SET metadata = $2 WHERE id = $1")
            .bind(session_id).bind(metadata.to_string()).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn rate_session(
        &self,
        session: &Session,
        score: i64,
        comment: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Rating> {
        const UPSERT: &str = "INSERT INTO ratings (session_id, account_id, score, comment, created_ms, updated_ms) \
            VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (session_id) \
            DO UPDATE SET score = excluded.score, comment = excluded.comment, updated_ms = excluded.updated_ms \
            RETURNING session_id, score, comment, created_ms, updated_ms";
        Ok(on!(self.write, pool => sqlx::query_as(UPSERT)
            .bind(&session.id).bind(&session.account_id).bind(score).bind(comment).bind(now_ms)
            .fetch_one(pool).await?))
    }

    async fn session_rating(&self, session_id: &str) -> StoreResult<Option<Rating>> {
        Ok(on!(self.read, pool => sqlx::query_as(
            "SELECT session_id, score, comment, created_ms, updated_ms FROM ratings WHERE session_id = $1")
            .bind(session_id).fetch_optional(pool).await?))
    }

    async fn stats(&self, account_id: &str, from_ms: i64, to_ms: i64) -> StoreResult<Stats> {
        const COUNTS: &str = "SELECT COUNT(*), \
            COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), \
            COALESCE(SUM(CASE WHEN status = 'active' THEN 0 ELSE 1 END), 0) \
            FROM sessions WHERE account_id = $3 AND created_ms >= $1 AND created_ms < $2";
        const RESPONSE: &str = "SELECT CAST(AVG(fm.t - fu.t) AS DOUBLE PRECISION) FROM \
            (SELECT m.session_id, MIN(m.created_ms) AS t FROM messages m JOIN sessions s ON s.id = m.session_id \
             WHERE s.account_id = $3 AND m.sender = 'user' GROUP BY m.session_id) fu \
            JOIN (SELECT m.session_id, MIN(m.created_ms) AS t FROM messages m \
                  JOIN (SELECT session_id, MIN(created_ms) AS first_user FROM messages WHERE sender = 'user' GROUP BY session_id) u \
                  ON u.session_id = m.session_id \
                  WHERE m.sender = 'manager' AND m.created_ms >= u.first_user GROUP BY m.session_id) fm \
            ON fm.session_id = fu.session_id WHERE fu.t >= $1 AND fu.t < $2";
        const RESOLUTION: &str = "SELECT CAST(AVG(closed_ms - created_ms) AS DOUBLE PRECISION) FROM sessions \
            WHERE account_id = $3 AND closed_ms IS NOT NULL AND closed_ms >= $1 AND closed_ms < $2";
        const MESSAGES: &str = "SELECT m.sender, COUNT(*) FROM messages m JOIN sessions s ON s.id = m.session_id \
            WHERE s.account_id = $3 AND m.created_ms >= $1 AND m.created_ms < $2 GROUP BY m.sender";
        const RATINGS: &str = "SELECT CAST(AVG(score) AS DOUBLE PRECISION), COUNT(*) FROM ratings \
            WHERE account_id = $3 AND updated_ms >= $1 AND updated_ms < $2";
        on!(self.read, pool => {
            let (conversations, open, closed): (i64, i64, i64) =
                sqlx::query_as(COUNTS).bind(from_ms).bind(to_ms).bind(account_id).fetch_one(pool).await?;
            let avg_response_ms: Option<f64> =
                sqlx::query_scalar(RESPONSE).bind(from_ms).bind(to_ms).bind(account_id).fetch_one(pool).await?;
            let avg_resolution_ms: Option<f64> =
                sqlx::query_scalar(RESOLUTION).bind(from_ms).bind(to_ms).bind(account_id).fetch_one(pool).await?;
            let messages: Vec<(String, i64)> =
                sqlx::query_as(MESSAGES).bind(from_ms).bind(to_ms).bind(account_id).fetch_all(pool).await?;
            let (satisfaction, ratings): (Option<f64>, i64) =
                sqlx::query_as(RATINGS).bind(from_ms).bind(to_ms).bind(account_id).fetch_one(pool).await?;
            Ok(Stats { conversations, open, closed, avg_response_ms, avg_resolution_ms, messages, satisfaction, ratings })
        })
    }
}
