//! The one error type at the FHIR edge. Every error leaves as an `OperationOutcome` with the
//! right status; internal details go to the server log, never to the caller.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kring_fhir::{Issue, IssueCode, OperationOutcome};
use kring_record::RecordError;

#[derive(Debug)]
pub struct FhirError {
    pub status: StatusCode,
    pub outcome: OperationOutcome,
    /// The `WWW-Authenticate` challenge of a 401.
    pub challenge: Option<String>,
}

impl FhirError {
    pub fn new(status: StatusCode, code: IssueCode, msg: impl Into<String>) -> Self {
        FhirError {
            status,
            outcome: OperationOutcome::single(Issue::error(code, msg)),
            challenge: None,
        }
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, IssueCode::Invalid, msg)
    }
    /// 401: no or no valid credentials. Says how to sign in, nothing about the data asked for.
    pub fn unauthenticated(e: crate::auth::AuthError) -> Self {
        let error = match e {
            crate::auth::AuthError::Missing => "",
            crate::auth::AuthError::Invalid => ", error=\"invalid_token\"",
        };
        FhirError {
            challenge: Some(format!("Bearer realm=\"kring\"{error}")),
            ..Self::new(StatusCode::UNAUTHORIZED, IssueCode::Login, e.to_string())
        }
    }

    pub fn unsupported_media(msg: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IssueCode::NotSupported,
            msg,
        )
    }
}

impl From<RecordError> for FhirError {
    fn from(e: RecordError) -> Self {
        if let RecordError::Internal(detail) = &e {
            tracing::error!(%detail, "internal error");
        }
        FhirError {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            outcome: e.outcome(),
            challenge: None,
        }
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.outcome.to_json()).unwrap_or_default();
        let mut res = (
            self.status,
            [(header::CONTENT_TYPE, super::response::FHIR_JSON)],
            body,
        )
            .into_response();
        if let Some(c) = self.challenge.and_then(|c| c.parse().ok()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        res
    }
}

pub async fn unknown_route() -> FhirError {
    FhirError::new(
        StatusCode::NOT_FOUND,
        IssueCode::NotSupported,
        "this FHIR endpoint does not exist; see /fhir/metadata for what is supported",
    )
}
