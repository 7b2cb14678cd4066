//! The visitor rates a closed conversation: 1 to 5 with an optional comment,
//! kept on the conversation (rating again replaces it) and counted in the
//! analytics' `satisfaction`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use natter_protocol::{Envelope, RateRequest, Rating, RatingData, SessionStatus};

use crate::error::{AppError, AppResult};
use crate::extract::{JsonBody, SessionAuth};
use crate::openapi::PublicError;
use crate::time::{iso, now_ms};
use crate::AppState;

/// The longest comment, in characters.
pub const MAX_COMMENT: usize = 1_000;

#[utoipa::path(post, path = "/api/public/chat/sessions/{session_id}/rating", tag = "public",
    security(("api_key" = [], "session_token" = []), ("api_key" = [], "api_secret" = [])),
    params(("session_id" = String, Path, description = "The session's id")),
    request_body = RateRequest,
    responses(
        (status = 201, description = "Rated", body = Envelope<RatingData>),
        (status = 200, description = "The earlier rating, replaced", body = Envelope<RatingData>),
        (status = 409, description = "The conversation is still open", body = PublicError),
        (status = "4XX", description = "Refused", body = PublicError),
    ))]
pub async fn rate(
    State(state): State<AppState>,
    SessionAuth { session, .. }: SessionAuth,
    JsonBody(req): JsonBody<RateRequest>,
) -> AppResult<(StatusCode, Json<Envelope<RatingData>>)> {
    if !(1..=5).contains(&req.score) {
        return Err(AppError::Validation("invalid_score", "score must be a whole number from 1 to 5".into()));
    }
    let comment = req.comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = comment {
        let chars = c.chars().count();
        if chars > MAX_COMMENT {
            return Err(AppError::Validation(
                "comment_too_long",
                format!("comment is {chars} characters; the limit is {MAX_COMMENT}"),
            ));
        }
        if c.contains('\0') {
            return Err(AppError::Validation("invalid_comment", "comment must not contain NUL characters".into()));
        }
    }
    if session.status == SessionStatus::Active {
        return Err(AppError::Conflict("the conversation is still open: it can be rated once it is closed".into()));
    }
    let r = state.store.rate_session(&session, req.score, comment, now_ms()).await?;
    let created = r.created_ms == r.updated_ms;
    let rating =
        Rating { score: r.score, comment: r.comment, created_at: iso(r.created_ms), updated_at: iso(r.updated_ms) };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Envelope::ok(RatingData { rating }))))
}
