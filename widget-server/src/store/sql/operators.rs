//! Operators, their refresh tokens and API keys on SQL.

use super::*;

#[async_trait]
impl OperatorStore for SqlStore {
    async fn create_operator(&self, o: &Operator) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO operators ({OPERATOR_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
        );
        let n = on!(self.write, pool => sqlx::query(&sql)
            .bind(&o.id).bind(&o.account_id).bind(&o.email).bind(&o.name).bind(&o.password_hash).bind(&o.role).bind(o.created_ms).bind(o.token_version)
            .bind(serde_json::json!(o.departments).to_string()).bind(&o.availability)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    async fn operator_by_email(&self, email: &str) -> StoreResult<Option<Operator>> {
        // Addresses are compared without case: Ann@x.com and ann@x.com are one person.
        self.operator_where("lower(email) = lower($1)", email).await
    }

    async fn operator_by_id(&self, id: &str) -> StoreResult<Option<Operator>> {
        self.operator_where("id = $1", id).await
    }

    async fn count_operators(&self) -> StoreResult<i64> {
        Ok(on!(self.read, pool => sqlx::query_scalar("SELECT COUNT(*) FROM operators").fetch_one(pool).await?))
    }

    async fn list_operators(&self, account_id: &str) -> StoreResult<Vec<Operator>> {
        let sql = format!("SELECT {OPERATOR_COLS} FROM operators WHERE account_id = $1 ORDER BY created_ms, id");
        let rows: Vec<OperatorRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Operator::from).collect())
    }

    async fn set_operator_departments(&self, id: &str, departments: &[String]) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE operators SET departments = $2 WHERE id = $1")
            .bind(id).bind(serde_json::json!(departments).to_string()).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn set_operator_availability(&self, id: &str, availability: &str) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE operators SET availability = $2 WHERE id = $1")
            .bind(id).bind(availability).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn delete_operator(&self, id: &str) -> StoreResult<bool> {
        let n = on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            for sql in [
                "DELETE FROM refresh_tokens WHERE operator_id = $1",
                "DELETE FROM api_keys WHERE operator_id = $1",
                "DELETE FROM two_factor_backup_codes WHERE operator_id = $1",
                "DELETE FROM two_factor WHERE operator_id = $1",
                "DELETE FROM invitations WHERE operator_id = $1",
                "UPDATE sessions SET manager_id = NULL WHERE manager_id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
            let n = sqlx::query("DELETE FROM operators WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }

    async fn create_invitation(
        &self,
        token_hash: &str,
        operator_id: &str,
        expires_ms: i64,
        now_ms: i64,
    ) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query(
            "INSERT INTO invitations (token_hash, operator_id, expires_ms, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(token_hash).bind(operator_id).bind(expires_ms).bind(now_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<String>> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            let found: Option<String> = sqlx::query_scalar(
                "DELETE FROM invitations WHERE token_hash = $1 AND expires_ms > $2 RETURNING operator_id")
                .bind(token_hash).bind(now_ms).fetch_optional(&mut *tx).await?;
            if let Some(id) = &found {
                // Every invitation of the operator ends with the first one used.
                sqlx::query("DELETE FROM invitations WHERE operator_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("UPDATE operators SET password_hash = $2, token_version = token_version + 1 WHERE id = $1")
                    .bind(id).bind(password_hash).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(found)
        })
    }

    async fn set_operator_role(&self, id: &str, role: &str) -> StoreResult<Option<Operator>> {
        let sql = format!("UPDATE operators SET role = $2 WHERE id = $1 RETURNING {OPERATOR_COLS}");
        let row: Option<OperatorRow> =
            on!(self.write, pool => sqlx::query_as(&sql).bind(id).bind(role).fetch_optional(pool).await?);
        Ok(row.map(Operator::from))
    }

    async fn revoke_operator_tokens(&self, id: &str) -> StoreResult<()> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE operators SET token_version = token_version + 1 WHERE id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("UPDATE refresh_tokens SET used = TRUE WHERE operator_id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn store_refresh_token(&self, token_hash: &str, operator_id: &str, expires_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("INSERT INTO refresh_tokens (token_hash, operator_id, expires_ms) VALUES ($1, $2, $3)")
            .bind(token_hash).bind(operator_id).bind(expires_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn use_refresh_token(&self, token_hash: &str, now_ms: i64) -> StoreResult<RefreshUse> {
        let spent: Option<String> = on!(self.write, pool => sqlx::query_scalar(
            "UPDATE refresh_tokens SET used = TRUE, used_ms = $2 \
             WHERE token_hash = $1 AND used = FALSE AND expires_ms > $2 RETURNING operator_id",
        )
        .bind(token_hash).bind(now_ms).fetch_optional(pool).await?);
        if let Some(operator_id) = spent {
            return Ok(RefreshUse::Spent(operator_id));
        }
        let earlier: Option<(String, bool, Option<i64>)> = on!(self.write, pool => sqlx::query_as(
            "SELECT operator_id, used, used_ms FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash).fetch_optional(pool).await?);
        Ok(match earlier {
            Some((operator_id, true, used_ms)) => RefreshUse::Reused { operator_id, used_ms },
            _ => RefreshUse::Unknown,
        })
    }

    async fn create_api_key(&self, k: &ApiKey, key_hash: &str) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO api_keys ({API_KEY_COLS}, key_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        on!(self.write, pool => sqlx::query(&sql)
            .bind(&k.id).bind(&k.account_id).bind(&k.operator_id).bind(&k.name).bind(&k.role).bind(&k.prefix)
            .bind(k.created_ms).bind(k.last_used_ms).bind(key_hash)
            .execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLS} FROM api_keys WHERE key_hash = $1 AND revoked_ms IS NULL");
        let row: Option<ApiKeyRow> =
            on!(self.read, pool => sqlx::query_as(&sql).bind(key_hash).fetch_optional(pool).await?);
        Ok(row.map(ApiKey::from))
    }

    async fn list_api_keys(&self, account_id: &str) -> StoreResult<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLS} FROM api_keys WHERE account_id = $1 AND revoked_ms IS NULL ORDER BY created_ms, id"
        );
        let rows: Vec<ApiKeyRow> = on!(self.read, pool => sqlx::query_as(&sql).bind(account_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    async fn revoke_api_key(&self, account_id: &str, id: &str, now_ms: i64) -> StoreResult<bool> {
        let n = on!(self.write, pool => sqlx::query(
            "UPDATE api_keys SET revoked_ms = $3 WHERE id = $1 AND account_id = $2 AND revoked_ms IS NULL",
        )
        .bind(id).bind(account_id).bind(now_ms).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    async fn touch_api_key(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query(
            "UPDATE api_keys SET last_used_ms = $2 WHERE id = $1 AND (last_used_ms IS NULL OR last_used_ms < $2 - 60000)",
        )
        .bind(id).bind(now_ms).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn begin_two_factor(
        &self,
        operator_id: &str,
        secret: &str,
        backup_hashes: &[String],
        now_ms: i64,
    ) -> StoreResult<()> {
        let sealed = self.sealer()?.seal(secret);
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM two_factor_backup_codes WHERE operator_id = $1").bind(operator_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM two_factor WHERE operator_id = $1").bind(operator_id).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO two_factor (operator_id, secret, active, last_step, created_ms) VALUES ($1, $2, FALSE, 0, $3)")
                .bind(operator_id).bind(&sealed).bind(now_ms).execute(&mut *tx).await?;
            for hash in backup_hashes {
                sqlx::query("INSERT INTO two_factor_backup_codes (operator_id, code_hash) VALUES ($1, $2)")
                    .bind(operator_id).bind(hash).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn two_factor(&self, operator_id: &str) -> StoreResult<Option<TwoFactor>> {
        let row: Option<(String, bool, i64)> = on!(self.read, pool => sqlx::query_as(
            "SELECT secret, active, last_step FROM two_factor WHERE operator_id = $1",
        ).bind(operator_id).fetch_optional(pool).await?);
        row.map(|(sealed, active, last_step)| {
            let secret = self.sealer()?.open(&sealed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(TwoFactor { secret, active, last_step })
        })
        .transpose()
    }

    async fn spend_two_factor_step(&self, operator_id: &str, step: i64) -> StoreResult<bool> {
        let n = on!(self.write, pool => sqlx::query(
            "UPDATE two_factor SET last_step = $2 WHERE operator_id = $1 AND last_step < $2",
        ).bind(operator_id).bind(step).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    async fn activate_two_factor(&self, operator_id: &str) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("UPDATE two_factor SET active = TRUE WHERE operator_id = $1")
            .bind(operator_id).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn spend_backup_code(&self, operator_id: &str, code_hash: &str) -> StoreResult<bool> {
        let n = on!(self.write, pool => sqlx::query(
            "UPDATE two_factor_backup_codes SET used = TRUE WHERE operator_id = $1 AND code_hash = $2 AND used = FALSE",
        ).bind(operator_id).bind(code_hash).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    async fn remove_two_factor(&self, operator_id: &str) -> StoreResult<()> {
        on!(self.write, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM two_factor_backup_codes WHERE operator_id = $1").bind(operator_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM two_factor WHERE operator_id = $1").bind(operator_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
