//! Errors of the dashboard, and how they become responses: an HTML page for pages, JSON for
//! the API. A missing study, trial or file is a 404, a bad query a 400, a storage failure a
//! 500 whose text names the storage; no request can make the server panic.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use nascent_core::storage::StorageError;

/// What went wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum DashError {
    /// The study, trial or file does not exist (or is not shown).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be answered as asked (a bad query parameter).
    #[error("{0}")]
    BadRequest(String),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Anything else (a background task failed).
    #[error("{0}")]
    Internal(String),
}

impl DashError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            DashError::NotFound(_) => StatusCode::NOT_FOUND,
            DashError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DashError::Storage(StorageError::NoStudy { .. })
            | DashError::Storage(StorageError::NoTrial { .. }) => StatusCode::NOT_FOUND,
            DashError::Storage(_) | DashError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answered as a page.
#[derive(Debug)]
pub struct PageError(pub DashError);

impl From<DashError> for PageError {
    fn from(e: DashError) -> Self {
        PageError(e)
    }
}

impl From<StorageError> for PageError {
    fn from(e: StorageError) -> Self {
        PageError(e.into())
    }
}

impl From<tokio::task::JoinError> for PageError {
    fn from(e: tokio::task::JoinError) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            log::error!("{}", self.0);
        }
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Bad request",
            _ => "Error",
        };
        let body = format!(
            "<h1>{title}</h1><p class=\"error\">{}</p><p><a href=\"/\">All studies</a></p>",
            nascent_report::escape(&self.0.to_string())
        );
        (
            status,
            crate::pages::html_response(title, "error", "", &body),
        )
            .into_response()
    }
}

/// An error answered as JSON: `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub DashError);

impl From<DashError> for ApiError {
    fn from(e: DashError) -> Self {
        ApiError(e)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        ApiError(e.into())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            log::error!("{}", self.0);
        }
        let body = serde_json::json!({ "error": self.0.to_string() }).to_string();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

impl From<tokio::task::JoinError> for DashError {
    fn from(e: tokio::task::JoinError) -> Self {
        DashError::Internal(format!("request task failed: {e}"))
    }
}
