//! `GET /api/v1/analytics/stats?from&to`: conversation and message counts and
//! average first-response and resolution times, computed from stored data.

use axum::extract::State;
use axum::Json;
use chrono::NaiveDate;
use natter_protocol::operator::OperatorError;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::auth::AuthOperator;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::QueryParams;
use crate::time::{now_ms, parse_iso};
use crate::AppState;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Period {
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
}

/// A `YYYY-MM-DD` date (its start; `inclusive_end` moves to its end) or an ISO timestamp.
fn instant(value: &str, inclusive_end: bool) -> Option<i64> {
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
        return Some(if inclusive_end { start + DAY_MS } else { start });
    }
    parse_iso(value)
}

fn seconds(ms: Option<f64>) -> Value {
    ms.map_or(Value::Null, |ms| json!((ms / 1000.0).round() as i64))
}

#[utoipa::path(get, path = "/api/v1/analytics/stats", tag = "analytics", security(("bearer" = [])), params(Period), responses((status = 200, description = "Figures of the period", body = Object), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn stats(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    q: Result<QueryParams<Period>, AppError>,
) -> OpResult<Json<Value>> {
    let QueryParams(q) = q?;
    let invalid = |what: &str| OpError(AppError::Validation("validation_error", what.to_owned()));
    let to = match &q.to {
        Some(v) => instant(v, true).ok_or_else(|| invalid("to must be a date (YYYY-MM-DD) or ISO timestamp"))?,
        None => now_ms() + 1,
    };
    let from = match &q.from {
        Some(v) => instant(v, false).ok_or_else(|| invalid("from must be a date (YYYY-MM-DD) or ISO timestamp"))?,
        None => to - 30 * DAY_MS,
    };
    if from >= to {
        return Err(invalid("from must be before to"));
    }
    if let Some(g) = q.granularity.as_deref().filter(|g| !matches!(*g, "hour" | "day" | "week" | "month")) {
        return Err(invalid(&format!("granularity {g} is not one of hour, day, week, month")));
    }
    let s = state.store.stats(&op.account_id, from, to).await?;
    let count = |sender: &str| s.messages.iter().find(|(k, _)| k == sender).map_or(0, |(_, n)| *n);
    let total: i64 = s.messages.iter().map(|(_, n)| n).sum();
    Ok(Json(json!({
        "period": { "from": crate::time::iso(from), "to": crate::time::iso(to) },
        "conversations": {
            "total": s.conversations,
            "open": s.open,
            "closed": s.closed,
            "avg_response_time": seconds(s.avg_response_ms),
            "avg_resolution_time": seconds(s.avg_resolution_ms),
        },
        "messages": {
            "total": total,
            "from_customers": count("user"),
            "from_agents": count("manager"),
            "from_ai": count("bot"),
        },
        "satisfaction": { "average": null, "responses": 0 },
    })))
}
