//! The privacy officer's warnings as the professional sees them: on their start page until
//! they mark them read.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use kring_access::Subject;

use super::super::form::CsrfForm;
use super::super::signin::Nothing;
use super::super::Person;
use crate::AppState;

/// Unread warnings of a professional, for their home page: (id, text, sent).
pub async fn warnings_for(
    state: &AppState,
    practitioner: &str,
    lang: super::super::i18n::Lang,
) -> Vec<(i64, String, String)> {
    let Some(review) = state.review.as_deref() else {
        return Vec::new();
    };
    match review
        .unread_warnings(&format!("Practitioner/{practitioner}"))
        .await
    {
        Ok(w) => w
            .into_iter()
            .map(|w| (w.id, w.text, super::super::dates::moment(w.sent_ms, lang)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "warnings could not be read");
            Vec::new()
        }
    }
}

/// `POST /meldingen/{id}/gelezen`: a professional marks a warning as read.
pub async fn warning_read(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<i64>,
    CsrfForm(Nothing {}): CsrfForm<Nothing>,
) -> Response {
    if let (Subject::Professional { practitioner, .. }, Some(review)) =
        (&person.caller.subject, state.review.as_deref())
    {
        let _ = review
            .mark_read(
                &format!("Practitioner/{practitioner}"),
                id,
                kring_fhir::datetime::now_ms(),
            )
            .await;
    }
    Redirect::to("/clienten").into_response()
}
