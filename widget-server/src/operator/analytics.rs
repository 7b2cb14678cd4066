//! Analytics from stored data. `GET /api/v1/analytics/stats?from&to&granularity`:
//! conversation and message counts and average first-response and
//! resolution times, and with `granularity` (hour, day, week, month; UTC) a
//! `series` of the counts per period, empty periods included.
//! `POST /api/v1/analytics/export {from, to, format}` downloads the period's
//! conversations with their counts and times as CSV or JSON.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use natter_protocol::operator::OperatorError;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::auth::AuthOperator;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::{JsonBody, QueryParams};
use crate::store::{ExportRow, SeriesBucket};
use crate::time::{iso, now_ms, parse_iso};
use crate::AppState;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const HOUR_MS: i64 = 60 * 60 * 1000;
/// Periods a series may have.
const MAX_PERIODS: i64 = 1000;
/// Conversations one export may hold.
const MAX_EXPORT: i64 = 100_000;

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

fn invalid(what: &str) -> OpError {
    OpError(AppError::Validation("validation_error", what.to_owned()))
}

/// `[from, to)` of a request: `to` defaults to now, `from` to 30 days before `to`.
fn range(from: Option<&str>, to: Option<&str>) -> OpResult<(i64, i64)> {
    let to = match to {
        Some(v) => instant(v, true).ok_or_else(|| invalid("to must be a date (YYYY-MM-DD) or ISO timestamp"))?,
        None => now_ms() + 1,
    };
    let from = match from {
        Some(v) => instant(v, false).ok_or_else(|| invalid("from must be a date (YYYY-MM-DD) or ISO timestamp"))?,
        None => to - 30 * DAY_MS,
    };
    if from >= to {
        return Err(invalid("from must be before to"));
    }
    Ok((from, to))
}

/// The periods of a granularity covering `[from, to)`: each period's start
/// and end, and how store buckets (`origin`, `width`) map to them.
struct Periods {
    starts: Vec<i64>,
    /// Each period's end (the last one ends at `to`).
    ends: Vec<i64>,
    origin: i64,
    width: i64,
}

fn periods(granularity: &str, from: i64, to: i64) -> OpResult<Periods> {
    let day_start = from - from.rem_euclid(DAY_MS);
    let (origin, width) = match granularity {
        "hour" => (from - from.rem_euclid(HOUR_MS), HOUR_MS),
        "day" | "month" => (day_start, DAY_MS),
        "week" => {
            let weekday =
                Utc.timestamp_millis_opt(day_start).single().map_or(0, |d| d.weekday().num_days_from_monday());
            (day_start - i64::from(weekday) * DAY_MS, 7 * DAY_MS)
        }
        other => return Err(invalid(&format!("granularity {other} is not one of hour, day, week, month"))),
    };
    let starts: Vec<i64> = if granularity == "month" {
        let mut starts = vec![crate::plans::month_of(from).0];
        while let Some(&last) = starts.last().filter(|_| starts.len() as i64 <= MAX_PERIODS) {
            let next = crate::plans::month_of(last).1;
            if next >= to {
                break;
            }
            starts.push(next);
        }
        starts
    } else {
        if (to - origin + width - 1) / width > MAX_PERIODS {
            return Err(invalid(&format!(
                "at most {MAX_PERIODS} periods: choose a coarser granularity or a shorter range"
            )));
        }
        (0..).map(|n| origin + n * width).take_while(|start| *start < to).collect()
    };
    if starts.len() as i64 > MAX_PERIODS {
        return Err(invalid(&format!("at most {MAX_PERIODS} periods: choose a shorter range")));
    }
    let ends = starts.iter().skip(1).copied().chain([to]).collect();
    Ok(Periods { starts, ends, origin, width })
}

/// The series: every period, with the buckets that fall in it added up.
fn series(p: &Periods, buckets: &[SeriesBucket]) -> Vec<Value> {
    let mut sums = vec![SeriesBucket::default(); p.starts.len()];
    for b in buckets {
        let at = p.origin + b.bucket * p.width;
        let Some(i) = p.starts.iter().rposition(|start| *start <= at) else { continue };
        let sum = &mut sums[i];
        sum.conversations += b.conversations;
        sum.closed += b.closed;
        sum.from_customers += b.from_customers;
        sum.from_agents += b.from_agents;
        sum.from_bot += b.from_bot;
        sum.from_ai += b.from_ai;
    }
    p.starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let end = p.ends[i];
            let s = &sums[i];
            json!({
                "start": iso(*start),
                "end": iso(end),
                "conversations": s.conversations,
                "closed": s.closed,
                "messages": {
                    "total": s.from_customers + s.from_agents + s.from_bot,
                    "from_customers": s.from_customers,
                    "from_agents": s.from_agents,
                    "from_bot": s.from_bot,
                    "from_ai": s.from_ai,
                },
            })
        })
        .collect()
}

#[utoipa::path(get, path = "/api/v1/analytics/stats", tag = "analytics", security(("bearer" = [])), params(Period), responses((status = 200, description = "Figures of the period", body = Object), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn stats(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    q: Result<QueryParams<Period>, AppError>,
) -> OpResult<Json<Value>> {
    let QueryParams(q) = q?;
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    let periods = q.granularity.as_deref().filter(|g| !g.is_empty()).map(|g| periods(g, from, to)).transpose()?;
    let s = state.store.stats(&op.account_id, from, to).await?;
    let from_ai = state.store.count_ai_replies(&op.account_id, from, to).await?;
    let count = |sender: &str| s.messages.iter().find(|(k, _)| k == sender).map_or(0, |(_, n)| *n);
    let total: i64 = s.messages.iter().map(|(_, n)| n).sum();
    let series = match &periods {
        Some(p) => {
            let buckets = state.store.stats_series(&op.account_id, from, to, p.origin, p.width).await?;
            Value::Array(series(p, &buckets))
        }
        None => Value::Null,
    };
    Ok(Json(json!({
        "granularity": q.granularity,
        "series": series,
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
            "from_bot": count("bot"),
            "from_ai": from_ai,
        },
        "satisfaction": {
            "average": s.satisfaction.map(|a| (a * 100.0).round() / 100.0),
            "responses": s.ratings,
        },
    })))
}

#[derive(Deserialize, ToSchema)]
pub struct ExportRequest {
    /// `YYYY-MM-DD` (or an ISO timestamp); 30 days before `to` when absent.
    #[serde(default)]
    from: Option<String>,
    /// `YYYY-MM-DD`, included (or an ISO timestamp); now when absent.
    #[serde(default)]
    to: Option<String>,
    /// `csv` (the default) or `json`.
    #[serde(default)]
    format: Option<String>,
}

const COLUMNS: [&str; 14] = [
    "id",
    "channel",
    "status",
    "assigned_to",
    "customer_name",
    "customer_email",
    "customer_phone",
    "created_at",
    "closed_at",
    "messages",
    "from_customer",
    "from_agents",
    "first_response_seconds",
    "resolution_seconds",
];

fn export_values(r: &ExportRow) -> [Value; 14] {
    let status = match (r.status.as_str(), &r.manager_id) {
        ("active", None) => "pending",
        ("active", Some(_)) => "open",
        _ => "closed",
    };
    let first_response = match (r.first_customer_ms, r.first_agent_ms) {
        (Some(c), Some(a)) if a >= c => json!((a - c) / 1000),
        _ => Value::Null,
    };
    [
        json!(r.id),
        json!(r.channel),
        json!(status),
        json!(r.manager_id),
        json!(r.user_name),
        json!(r.user_email),
        json!(r.user_phone),
        json!(iso(r.created_ms)),
        json!(r.closed_ms.map(iso)),
        json!(r.messages),
        json!(r.from_customer),
        json!(r.from_agents),
        first_response,
        json!(r.closed_ms.map(|c| (c - r.created_ms) / 1000)),
    ]
}

/// A CSV cell: quoted when it must be, and never read as a formula by a
/// spreadsheet (text a visitor typed may start with `=`, `+`, `-` or `@`).
fn csv_cell(v: &Value) -> String {
    let text = match v {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => return other.to_string(),
    };
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Downloads the period's conversations with their counts and times.
#[utoipa::path(post, path = "/api/v1/analytics/export", tag = "analytics", security(("bearer" = [])), request_body = ExportRequest, responses((status = 200, description = "The conversations, as `text/csv` or `application/json` (`{data, meta}`), as an attachment", content_type = "text/csv", body = String), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn export(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    body: Result<JsonBody<ExportRequest>, AppError>,
) -> OpResult<Response> {
    let JsonBody(req) = body?;
    let (from, to) = range(req.from.as_deref(), req.to.as_deref())?;
    let format = req.format.as_deref().unwrap_or("csv");
    if !matches!(format, "csv" | "json") {
        return Err(invalid("format must be csv or json"));
    }
    let rows = state.store.export_conversations(&op.account_id, from, to, MAX_EXPORT + 1).await?;
    if rows.len() as i64 > MAX_EXPORT {
        return Err(invalid(&format!("more than {MAX_EXPORT} conversations: export a shorter period")));
    }
    let day = |ms: i64| iso(ms).chars().take(10).collect::<String>();
    let name = format!("conversations-{}-{}.{format}", day(from), day(to - 1));
    let disposition = format!("attachment; filename=\"{name}\"");
    let (content_type, body) = if format == "csv" {
        let mut out = COLUMNS.join(",");
        out.push_str("\r\n");
        for r in &rows {
            let cells: Vec<String> = export_values(r).iter().map(csv_cell).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        ("text/csv; charset=utf-8", out)
    } else {
        let data: Vec<Value> = rows
            .iter()
            .map(|r| Value::Object(COLUMNS.iter().map(|c| (*c).to_owned()).zip(export_values(r)).collect()))
            .collect();
        let total = data.len();
        (
            "application/json",
            json!({ "data": data, "meta": { "total": total, "from": iso(from), "to": iso(to) } }).to_string(),
        )
    };
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell(&json!("plain")), "plain");
        assert_eq!(csv_cell(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_cell(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell(&json!("=HYPERLINK(\"x\")")), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell(&json!("-2+3")), "'-2+3");
        assert_eq!(csv_cell(&Value::Null), "");
        assert_eq!(csv_cell(&json!(42)), "42");
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 15, 30, 0).single().expect("date").timestamp_millis();
        let weeks = periods("week", at(2026, 11, 25), at(2026, 12, 10)).expect("weeks");
        assert_eq!(iso(weeks.starts[0]), "2026-11-23T00:00:00.000Z");
        assert_eq!(weeks.starts.len(), 3);
        let months = periods("month", at(2026, 11, 25), at(2027, 1, 2)).expect("months");
        let starts: Vec<String> = months.starts.iter().map(|s| iso(*s)).collect();
        assert_eq!(starts, ["2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"]);
        assert!(periods("hour", at(2026, 1, 1), at(2026, 3, 1)).is_err(), "too many hours");
        assert!(periods("fortnight", at(2026, 1, 1), at(2026, 3, 1)).is_err());
    }
}
