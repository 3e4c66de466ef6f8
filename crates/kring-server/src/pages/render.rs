//! Turning a page into a response, and record errors into readable sentences.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use kring_record::contributions::ContributionRefusal;
use kring_record::medication::MedicationRefusal;
use kring_record::rules::WorkRefusal;
use kring_record::RecordError;

use super::i18n::Lang;

/// Renders a page; remembers the language when it was chosen with `?lang=`.
pub fn page(t: &impl Template, lang: Lang, set_lang: bool) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = Html(html).into_response();
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            res.headers_mut().insert(
                "content-security-policy",
                header::HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"),
            );
            if set_lang {
                if let Ok(v) = format!(
                    "kring_lang={}; Path=/; SameSite=Lax; Max-Age=31536000",
                    lang.code()
                )
                .parse()
                {
                    res.headers_mut().insert(header::SET_COOKIE, v);
                }
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

/// An error's own (English) text as a sentence: capital first letter, closing full stop.
pub fn as_sentence(e: &impl std::fmt::Display) -> String {
    let s = e.to_string();
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str() + ".")
        .unwrap_or_default()
}

/// A sentence for a person about a failed record operation (no internals, no personal data).
pub fn sentence(e: &RecordError, lang: Lang) -> String {
    let outcome = e.outcome();
    let detail = outcome
        .issues
        .first()
        .map(|i| i.diagnostics.clone())
        .unwrap_or_default();
    let t = super::i18n::Texts { lang };
    match (e, lang) {
        (RecordError::Medication(r), _) => t.get(medication_key(r)),
        (RecordError::Work(r), _) => t.get(work_key(r)),
        (RecordError::Contribution(r), _) => t.get(contribution_key(r)),
        (RecordError::Sharing(r), _) => t.get(sharing_key(r)),
        (RecordError::Meldcode(r), _) => t.get(meldcode_key(r)),
        (RecordError::Message(r), _) => t.get(match r {
            kring_record::messages::MessageRefusal::NotInOwnName => "refusal-message-own-name",
            kring_record::messages::MessageRefusal::Incomplete => "messages-incomplete",
            kring_record::messages::MessageRefusal::NotWithTheClient => "refusal-message-client",
            kring_record::messages::MessageRefusal::Kept => "refusal-message-kept",
        }),
        (RecordError::PreconditionFailed(_) | RecordError::Conflict(_), _) => {
            t.get("changed-meanwhile")
        }
        (RecordError::Forbidden(r), _) => {
            let mut s = t.get("refused");
            for rule in &r.rules {
                s.push(' ');
                s.push_str(if lang == Lang::Nl { &rule.nl } else { &rule.en });
            }
            s
        }
        (RecordError::NotFound(_), Lang::Nl) => "Niet gevonden, of u heeft er geen toegang toe.".into(),
        (RecordError::Unavailable(_), _) => t.get("database-down"),
        (RecordError::LogUnavailable, Lang::Nl) => "Het toegangslog kan nu niet worden bijgewerkt, daarom worden geen gegevens getoond. Probeer het later opnieuw.".into(),
        _ => detail,
    }
}

/// The message of a medication rule's refusal.
fn medication_key(r: &MedicationRefusal) -> &'static str {
    match r {
        MedicationRefusal::CheckMissing => "refusal-check-missing",
        MedicationRefusal::SamePerson => "refusal-same-person",
        MedicationRefusal::CheckUntimed => "refusal-check-untimed",
        MedicationRefusal::CheckAfter => "refusal-check-after",
        MedicationRefusal::CheckTooEarly => "refusal-check-too-early",
        MedicationRefusal::CheckForSomeoneElse => "refusal-check-for-someone-else",
        MedicationRefusal::ReasonMissing => "refusal-reason-missing",
    }
}

/// The message of a daily-work rule's refusal.
fn work_key(r: &WorkRefusal) -> &'static str {
    match r {
        WorkRefusal::OnlyOwnAgreements => "refusal-only-own-agreements",
        WorkRefusal::DirectorStartsPlan => "refusal-director-starts-plan",
        WorkRefusal::DirectorKeepsGoals => "refusal-director-keeps-goals",
        WorkRefusal::ReportNotInOwnName => "refusal-report-not-in-own-name",
        WorkRefusal::NotTheAuthor => "refusal-not-the-author",
        WorkRefusal::ReportsAreKept => "refusal-reports-are-kept",
        WorkRefusal::DirectorAnswersRequests => "refusal-director-answers-requests",
    }
}

/// The message of a refusal of what a client writes.
fn contribution_key(r: &ContributionRefusal) -> &'static str {
    match r {
        ContributionRefusal::GoalNotYours => "refusal-goal-not-yours",
        ContributionRefusal::PlanNotYours => "refusal-plan-not-yours",
        ContributionRefusal::RequestNotYours => "refusal-request-not-yours",
        ContributionRefusal::RequestOnlyWithdrawn => "refusal-request-only-withdrawn",
        ContributionRefusal::NotForClients => "refusal-not-for-clients",
        ContributionRefusal::RefuseOnlyProposals => "refusal-refuse-only-proposals",
        ContributionRefusal::ConsentClosed => "refusal-consent-closed",
    }
}

/// The message of a refusal of a sharing decision or grant.
fn sharing_key(r: &kring_record::sharing::SharingRefusal) -> &'static str {
    use kring_record::sharing::SharingRefusal as R;
    match r {
        R::RequestIncomplete => "refusal-sharing-incomplete",
        R::OutcomeDoesNotFollow(_) => "refusal-sharing-outcome",
        R::AnswerKept => "refusal-sharing-answer-kept",
        R::NoAnswer => "refusal-sharing-no-answer",
        R::AnswerSaysOtherwise(_) => "refusal-sharing-answer-otherwise",
        R::BeyondTheAnswer => "refusal-sharing-beyond",
        R::Period(_) => "refusal-sharing-period",
        R::Withholding => "refusal-sharing-withholding",
        R::GrantOnlyWithdrawn => "refusal-sharing-only-withdrawn",
        R::Kept => "refusal-sharing-kept",
        R::NotYoursToShare => "refusal-sharing-not-yours",
        R::RecordSaysOtherwise => "refusal-sharing-record",
        R::NotInOwnName => "refusal-sharing-own-name",
        R::AnswerTooOld => "refusal-sharing-too-old",
        R::NotThatRecipient => "refusal-sharing-recipient",
    }
}

/// The message of a refusal of a meldcode step.
fn meldcode_key(r: &kring_record::sharing::meldcode::CaseRefusal) -> &'static str {
    use kring_record::sharing::meldcode::CaseRefusal as R;
    match r {
        R::StartsWithSignals => "refusal-meldcode-signals",
        R::Incomplete => "meldcode-text-missing",
        R::Kept => "refusal-meldcode-kept",
        R::NotNow(_) => "refusal-meldcode-not-now",
        R::DecisionDoesNotFollow => "refusal-meldcode-decision",
        R::Closed => "refusal-meldcode-closed",
    }
}
