//! The database itself on SQL: health, kind, and the key-value table for
//! server secrets.

use super::*;

#[async_trait]
impl Database for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        on!(self.write, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    fn kind(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite { .. } => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            on!(self.read, pool => sqlx::query_scalar("SELECT value FROM kv WHERE key = $1").bind(key).fetch_optional(pool).await?),
        )
    }

    async fn kv_set_once(&self, key: &str, value: &str) -> StoreResult<String> {
        on!(self.write, pool => {
            sqlx::query("INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(key).bind(value).execute(pool).await?;
            Ok(sqlx::query_scalar("SELECT value FROM kv WHERE key = $1").bind(key).fetch_one(pool).await?)
        })
    }
}
