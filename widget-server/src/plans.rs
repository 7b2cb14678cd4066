//! Plans and usage. A plan caps an account's messages a month, its stored
//! data, its operators and its operator-API requests a minute; `None` is no
//! cap. The plans are `free`, `pro` and `enterprise` unless `--plans` names a
//! JSON file of others. Over a quota, operator-side actions answer 402
//! `PLAN_LIMIT`; over the request rate, 429 with `Retry-After`. Visitor
//! messages are never refused: they are counted, and usage shows the overage.
//!
//! Usage is counted from stored data and cached for a few seconds per
//! account, so a quota may be passed by what a few seconds bring.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::ratelimit::Limit;
use crate::store::{AccountUsage, Store, StoreResult};

/// How long an account's plan and usage are trusted before they are read again.
const CACHE_TTL: Duration = Duration::from_secs(5);
const JANITOR_EVERY: Duration = Duration::from_secs(30);

/// What a plan allows; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    /// Messages a calendar month (UTC), visitors' included.
    pub messages_per_month: Option<i64>,
    /// Stored data in megabytes.
    pub storage_mb: Option<i64>,
    /// Operators in the account.
    pub operators: Option<i64>,
    /// Operator-API requests a minute.
    pub requests_per_minute: Option<u32>,
}

/// The plans of the reference: Free 100 requests a minute, Pro 1,000, Enterprise unlimited.
pub fn builtin() -> BTreeMap<String, PlanLimits> {
    let plan = |messages, storage, operators, rate| PlanLimits {
        messages_per_month: messages,
        storage_mb: storage,
        operators,
        requests_per_minute: rate,
    };
    BTreeMap::from([
        ("free".to_owned(), plan(Some(1_000), Some(100), Some(2), Some(100))),
        ("pro".to_owned(), plan(Some(5_000), Some(1_000), Some(20), Some(1_000))),
        ("enterprise".to_owned(), plan(None, None, None, None)),
    ])
}

/// An account's plan by name, with its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPlan {
    pub name: String,
    pub limits: PlanLimits,
    pub changed_ms: Option<i64>,
}

/// The first instant of the calendar month (UTC) holding `now_ms`, and of the next one.
pub fn month_of(now_ms: i64) -> (i64, i64) {
    let now = Utc.timestamp_millis_opt(now_ms).single().unwrap_or_else(Utc::now);
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(now);
    (start.timestamp_millis(), end.timestamp_millis())
}

type Cached<T> = RwLock<HashMap<String, (Instant, T)>>;

/// The configured plans, each account's plan and usage, and the request limits.
pub struct Plans {
    plans: BTreeMap<String, PlanLimits>,
    default_plan: String,
    rates: HashMap<String, Limit<String>>,
    account_plans: Cached<AccountPlan>,
    usage: Cached<AccountUsage>,
}

fn fresh<T: Clone>(cache: &Cached<T>, key: &str) -> Option<T> {
    let map = cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, v)| v.clone())
}

fn remember<T>(cache: &Cached<T>, key: &str, value: T) {
    let mut map = cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
    map.insert(key.to_owned(), (Instant::now(), value));
}

impl Plans {
    /// The plans of `file` (a JSON object of plan name → limits), or the
    /// built-in ones; `default_plan` must be one of them.
    pub fn load(file: Option<&Path>, default_plan: &str) -> anyhow::Result<Self> {
        let plans = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read --plans {}: {e}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("--plans {} is not valid: {e}", path.display()))?
            }
            None => builtin(),
        };
        Self::new(plans, default_plan)
    }

    pub fn new(plans: BTreeMap<String, PlanLimits>, default_plan: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(plans.contains_key(default_plan), "the default plan {default_plan} is not among the plans");
        let rates = plans
            .iter()
            .filter_map(|(name, p)| Some((name.clone(), Limit::new(p.requests_per_minute?, Duration::from_secs(60)))))
            .collect();
        Ok(Self {
            plans,
            default_plan: default_plan.to_owned(),
            rates,
            account_plans: RwLock::default(),
            usage: RwLock::default(),
        })
    }

    /// The plan self-registered accounts get.
    pub fn default_plan(&self) -> &str {
        &self.default_plan
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plans.keys().map(String::as_str)
    }

    pub fn limits(&self, name: &str) -> Option<&PlanLimits> {
        self.plans.get(name)
    }

    /// An account's plan (a plan no longer configured counts as the default one).
    pub async fn plan_of(&self, store: &dyn Store, account_id: &str) -> StoreResult<AccountPlan> {
        if let Some(plan) = fresh(&self.account_plans, account_id) {
            return Ok(plan);
        }
        let (name, changed_ms) =
            store.account_plan(account_id).await?.unwrap_or_else(|| (self.default_plan.clone(), None));
        let (name, limits) = match self.plans.get(&name) {
            Some(limits) => (name, limits.clone()),
            None => {
                tracing::warn!(account = account_id, plan = %name, "the account's plan is not configured; using the default");
                (self.default_plan.clone(), self.plans[&self.default_plan].clone())
            }
        };
        let plan = AccountPlan { name, limits, changed_ms };
        remember(&self.account_plans, account_id, plan.clone());
        Ok(plan)
    }

    /// Forgets what is cached about an account after its plan changed.
    pub fn forget(&self, account_id: &str) {
        self.account_plans.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(account_id);
        self.usage.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(account_id);
    }

    /// What the account uses this month, from stored data.
    pub async fn usage(&self, store: &dyn Store, account_id: &str, now_ms: i64) -> StoreResult<AccountUsage> {
        if let Some(usage) = fresh(&self.usage, account_id) {
            return Ok(usage);
        }
        let usage = store.account_usage(account_id, month_of(now_ms).0).await?;
        remember(&self.usage, account_id, usage);
        Ok(usage)
    }

    /// Counts one operator-API request of the account against its plan's rate.
    pub async fn check_rate(&self, store: &dyn Store, account_id: &str) -> Result<(), AppError> {
        let plan = self.plan_of(store, account_id).await?;
        match self.rates.get(&plan.name) {
            Some(limit) => limit.check(&account_id.to_owned()),
            None => Ok(()),
        }
    }

    /// Refuses (402) when the account has used its messages for the month.
    pub async fn check_messages(&self, store: &dyn Store, account_id: &str, now_ms: i64) -> Result<(), AppError> {
        let plan = self.plan_of(store, account_id).await?;
        let Some(limit) = plan.limits.messages_per_month else { return Ok(()) };
        let used = self.usage(store, account_id, now_ms).await?.messages;
        if used >= limit {
            return Err(AppError::PlanLimit(format!(
                "the {} plan allows {limit} messages a month and {used} were used; change the plan to reply",
                plan.name
            )));
        }
        Ok(())
    }

    /// Refuses (402) when `adding` bytes would take the account past its plan's storage.
    pub async fn check_storage(
        &self,
        store: &dyn Store,
        account_id: &str,
        adding: i64,
        now_ms: i64,
    ) -> Result<(), AppError> {
        let plan = self.plan_of(store, account_id).await?;
        let Some(limit_mb) = plan.limits.storage_mb else { return Ok(()) };
        self.usage.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(account_id);
        let used = self.usage(store, account_id, now_ms).await?.storage_bytes;
        if used + adding > limit_mb.saturating_mul(1024 * 1024) {
            return Err(AppError::PlanLimit(format!(
                "the {} plan stores {limit_mb} MB and this would pass it",
                plan.name
            )));
        }
        Ok(())
    }

    /// Refuses (402) when the account has as many operators as its plan allows.
    pub async fn check_operators(&self, store: &dyn Store, account_id: &str, now_ms: i64) -> Result<(), AppError> {
        let plan = self.plan_of(store, account_id).await?;
        let Some(limit) = plan.limits.operators else { return Ok(()) };
        self.usage.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(account_id);
        let used = self.usage(store, account_id, now_ms).await?.operators;
        if used >= limit {
            return Err(AppError::PlanLimit(format!("the {} plan allows {limit} operators", plan.name)));
        }
        Ok(())
    }

    /// Forgets recovered rate keys every half minute until `stop`.
    pub fn start_janitor(self: &Arc<Self>, stop: CancellationToken) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(JANITOR_EVERY);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => this.rates.values().for_each(Limit::forget_idle),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_plans_have_the_reference_rates() {
        let plans = builtin();
        assert_eq!(plans["free"].requests_per_minute, Some(100));
        assert_eq!(plans["pro"].requests_per_minute, Some(1_000));
        assert_eq!(
            plans["enterprise"],
            PlanLimits { messages_per_month: None, storage_mb: None, operators: None, requests_per_minute: None }
        );
    }

    #[test]
    fn months_run_from_the_first_to_the_first() {
        let mid_december = Utc.with_ymd_and_hms(2026, 12, 15, 13, 0, 0).single().expect("date").timestamp_millis();
        let (start, end) = month_of(mid_december);
        assert_eq!(Utc.timestamp_millis_opt(start).single().expect("start").to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(Utc.timestamp_millis_opt(end).single().expect("end").to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }

    #[test]
    fn a_default_plan_must_exist() {
        assert!(Plans::new(builtin(), "gold").is_err());
        assert!(Plans::new(builtin(), "free").is_ok());
        let bad: Result<BTreeMap<String, PlanLimits>, _> = serde_json::from_str(r#"{"x": {"messages": 1}}"#);
        assert!(bad.is_err(), "unknown limits are refused, not ignored");
    }
}
