//! The one error type of the application, shared by server functions and the
//! REST API. Internals are logged on the server (with where they arose) and
//! never sent to the client.
//!
//! Feature `server-fn`: the error type of server functions. Feature
//! `server`: an axum response in the SPEC's error shape, and logging.

use serde::{Deserialize, Serialize};

/// What went wrong, as much as the client may know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AppError {
    /// The named thing does not exist.
    #[error("{message}")]
    NotFound { message: String },
    /// The request is malformed; `field` is the JSON path (or parameter name) to blame.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// The request is well-formed but lacks what it needs to be applied:
    /// an adapter's mapping key, or a flow for a release (422).
    #[error("{message}")]
    Unprocessable { field: String, message: String },
    /// No credentials, or unknown ones.
    #[error("authentication required")]
    Unauthorized,
    /// Valid credentials without the required role, or a cross-origin write.
    #[error("{message}")]
    Forbidden { message: String },
    /// The request conflicts with the current state.
    #[error("{message}")]
    Conflict { message: String },
    /// The body is larger than allowed.
    #[error("{message}")]
    PayloadTooLarge { message: String },
    /// Something failed on the server; details are in its log only.
    #[error("{message}")]
    Internal { message: String },
    /// A dependency (the database) does not answer, or the server is at a
    /// limit for everyone; try again later.
    #[error("{message}")]
    Unavailable { message: String },
    /// This client is at a limit (its open live streams); try again later.
    #[error("{message}")]
    TooManyRequests { message: String },
}

impl AppError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    /// An internal failure: logs `cause` with the place in the code that
    /// called this (on the server) and returns an error that tells the
    /// client nothing about it.
    #[track_caller]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        #[cfg(feature = "server")]
        {
            let at = std::panic::Location::caller();
            tracing::error!(error = %cause, at = %at, "internal error");
        }
        #[cfg(not(feature = "server"))]
        let _ = cause;
        Self::Internal {
            message: "internal server error".into(),
        }
    }

    /// A dependency does not answer (503).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
        }
    }

    /// This client is at a limit (429).
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::TooManyRequests {
            message: message.into(),
        }
    }

    /// The machine-readable code of the SPEC's error shape.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Invalid { .. } => "invalid",
            Self::Unprocessable { .. } => "unprocessable",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::Conflict { .. } => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Internal { .. } => "internal",
            Self::Unavailable { .. } => "unavailable",
            Self::TooManyRequests { .. } => "too_many_requests",
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::Invalid { .. } => 400,
            Self::Unprocessable { .. } => 422,
            Self::Unauthorized => 401,
            Self::Forbidden { .. } => 403,
            Self::Conflict { .. } => 409,
            Self::PayloadTooLarge { .. } => 413,
            Self::Internal { .. } => 500,
            Self::Unavailable { .. } => 503,
            Self::TooManyRequests { .. } => 429,
        }
    }

    /// The body of the SPEC's error shape:
    /// `{"error": {"code", "message", "field"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code(),
            "message": self.to_string(),
        });
        match self {
            Self::Invalid {
                field: Some(field), ..
            }
            | Self::Unprocessable { field, .. } => {
                error["field"] = serde_json::Value::String(field.clone());
            }
            _ => {}
        }
        serde_json::json!({ "error": error })
    }
}

#[cfg(feature = "server-fn")]
impl server_fn::error::FromServerFnError for AppError {
    type Encoder = server_fn::codec::JsonEncoding;

    #[track_caller]
    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr;
        match value {
            ServerFnErrorErr::Args(message)
            | ServerFnErrorErr::MissingArg(message)
            | ServerFnErrorErr::Deserialization(message) => Self::Invalid {
                field: None,
                message,
            },
            ServerFnErrorErr::Request(message) => Self::Internal {
                message: format!("the server could not be reached: {message}"),
            },
            other => Self::internal(other),
        }
    }
}

#[cfg(feature = "server")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.to_json())).into_response();
        if matches!(
            self,
            Self::Unavailable { .. } | Self::TooManyRequests { .. }
        ) {
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_error_names_the_field() {
        let body =
            AppError::invalid("events[3].data.run.status", "unknown status \"done\"").to_json();
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(body["error"]["field"], "events[3].data.run.status");
        assert_eq!(body["error"]["message"], "unknown status \"done\"");
    }

    #[test]
    fn internal_error_hides_its_cause() {
        let error = AppError::internal("disk on fire at /var/lib/secret");
        assert_eq!(error.to_string(), "internal server error");
        assert_eq!(error.status(), 500);
    }
}
