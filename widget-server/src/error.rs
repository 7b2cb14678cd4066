//! The server's error type and how each API renders it: the public API as
//! `{success: false, error: {code, message}}`, the operator API as `{detail, code}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use natter_protocol::operator::OperatorError;
use natter_protocol::Envelope;

use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{1}")]
    Unauthorized(&'static str, String),
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} does not take this method")]
    MethodNotAllowed(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A service the server calls failed (502).
    #[error("{1}")]
    Upstream(&'static str, String),
    #[error("{1}")]
    Validation(&'static str, String),
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
    /// Over a quota of the account's plan.
    #[error("{0}")]
    PlanLimit(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(..) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(..) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Upstream(..) => StatusCode::BAD_GATEWAY,
            Self::Validation(..) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::PlanLimit(_) => StatusCode::PAYMENT_REQUIRED,
            Self::Store(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Machine-readable code, snake_case.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(code, _)
            | Self::Unauthorized(code, _)
            | Self::Forbidden(code, _)
            | Self::Validation(code, _)
            | Self::Upstream(code, _) => code,
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited(_) => "rate_limited",
            Self::PlanLimit(_) => "plan_limit",
            Self::Store(_) | Self::Internal(_) => "internal_error",
        }
    }

    /// Text for the client: internal details are logged, not sent.
    fn public_message(&self) -> String {
        match self {
            Self::Store(_) | Self::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                "Something went wrong on our side. Please try again.".to_owned()
            }
            other => other.to_string(),
        }
    }

    fn finish(&self, mut response: Response) -> Response {
        *response.status_mut() = self.status_code();
        if let Self::RateLimited(secs) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*secs));
        }
        response
    }

    /// Renders in the operator API's `{detail, code}` shape.
    pub fn into_operator_response(self) -> Response {
        let body = OperatorError { detail: self.public_message(), code: self.code().to_uppercase() };
        self.finish(Json(body).into_response())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body: Envelope<()> = Envelope::err(self.code(), self.public_message());
        self.finish(Json(body).into_response())
    }
}

impl From<crate::chat::ChatError> for AppError {
    fn from(e: crate::chat::ChatError) -> Self {
        match e {
            crate::chat::ChatError::NotFound(what) => Self::NotFound(what),
            crate::chat::ChatError::Attachments(why) => Self::Validation("attachment_invalid", why),
            crate::chat::ChatError::Store(e) => Self::Store(e),
        }
    }
}

/// An `AppError` rendered for the operator API.
#[derive(Debug)]
pub struct OpError(pub AppError);

impl<E: Into<AppError>> From<E> for OpError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for OpError {
    fn into_response(self) -> Response {
        self.0.into_operator_response()
    }
}

pub type OpResult<T> = Result<T, OpError>;
