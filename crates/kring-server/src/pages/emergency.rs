//! Emergency access ("break the glass") for a professional outside the client's circle: find
//! the client by BSN, or by name and date of birth together (one exact match, never a list),
//! state a reason, and see the crisis plan, medication and contacts for four hours. The case
//! director and the client's organisation are told; the privacy officer reviews it.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use kring_fhir::bsn::BsnError;
use kring_record::{EmergencyClient, EmergencyError, MAX_REASON_CHARS, MIN_REASON_CHARS};
use serde::Deserialize;

use super::error::PageError;
use super::form::CsrfForm;
use super::i18n::Texts;
use super::{render, Frame, Person};
use crate::AppState;

#[derive(Template)]
#[template(path = "emergency.html")]
struct EmergencyPage {
    f: Frame,
    bsn: String,
    name: String,
    birth: String,
    reason: String,
    max_reason: usize,
    min_reason: usize,
}

fn page_with(person: &Person, form: EmergencyForm, error: Option<String>) -> Response {
    let mut f = person.frame("emergency");
    f.error = error;
    render::page(
        &EmergencyPage {
            f,
            bsn: form.bsn,
            name: form.name,
            birth: form.birth,
            reason: form.reason,
            max_reason: MAX_REASON_CHARS,
            min_reason: MIN_REASON_CHARS,
        },
        person.lang,
        person.set_lang,
    )
}

/// `GET /noodtoegang`.
pub async fn form(person: Person) -> Result<Response, PageError> {
    if !person.frame("emergency").professional {
        return Err(person.not_for_you());
    }
    Ok(page_with(&person, EmergencyForm::default(), None))
}

#[derive(Deserialize, Default)]
pub struct EmergencyForm {
    #[serde(default)]
    bsn: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birth: String,
    #[serde(default)]
    reason: String,
}

/// The sentence for a refusal, in the page's language.
fn sentence(e: &EmergencyError, t: &Texts) -> String {
    match e {
        EmergencyError::NotAProfessional => t.get("not-for-you"),
        EmergencyError::ReasonTooShort => t.with(
            "emergency-reason-short",
            &[("min", &MIN_REASON_CHARS.to_string())],
        ),
        EmergencyError::ReasonTooLong => t.with(
            "emergency-reason-long",
            &[("max", &MAX_REASON_CHARS.to_string())],
        ),
        EmergencyError::Bsn(BsnError::Length) => t.get("bsn-length"),
        EmergencyError::Bsn(BsnError::NotDigits) => t.get("bsn-digits"),
        EmergencyError::Bsn(BsnError::ElevenTest) => t.get("bsn-eleven-test"),
        EmergencyError::NameOrBirthMissing => t.get("emergency-name-and-birth"),
        EmergencyError::BadBirthDate => t.get("emergency-birth-date"),
        EmergencyError::NotFound => t.get("emergency-not-found"),
        EmergencyError::Ambiguous => t.get("emergency-ambiguous"),
        EmergencyError::Record(e) => render::sentence(e, t.lang),
    }
}

/// `POST /noodtoegang`.
pub async fn declare(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<EmergencyForm>,
) -> Result<Response, PageError> {
    let t = person.texts();
    let who = if !form.bsn.trim().is_empty() {
        EmergencyClient::Bsn(form.bsn.clone())
    } else {
        EmergencyClient::NameAndBirth {
            name: form.name.clone(),
            birth: form.birth.clone(),
        }
    };
    match state
        .record
        .declare_emergency(&person.caller, &who, &form.reason)
        .await
    {
        Ok(client) => Ok(Redirect::to(&format!("/clienten/{client}?noodtoegang")).into_response()),
        Err(e) => {
            let status = match &e {
                EmergencyError::Record(r) => r.status(),
                EmergencyError::NotFound => 404,
                EmergencyError::NotAProfessional => 403,
                _ => 422,
            };
            let mut res = page_with(&person, form, Some(sentence(&e, &t)));
            *res.status_mut() = axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
            Ok(res)
        }
    }
}
