//! Sharing decisions: the aid "Mag ik dit delen?" (after *Kiezen en Delen*) and the grants it
//! creates, as the record keeps them.
//!
//! - the **aid** ([`aid`]): the rule tree, one question at a time, skipping what the record
//!   already answers; its words in a versioned `Questionnaire` ([`questionnaire`]);
//! - the **answer**: a `QuestionnaireResponse` in the client's file with what was asked (who,
//!   what, why), every answer (marked where the record gave it) and the outcome; the record
//!   re-walks the tree on every stored answer and refuses one whose outcome does not follow;
//! - the **grant**: a `Consent` coded `sharing-grant` (read by the decision point, see
//!   `kring_access::sharing`) whose `sourceReference` is such an answer with a share outcome on
//!   the same ground, for the same client and recipient, for at most the categories asked, and
//!   for at most the period the ground allows. A grant is only ever withdrawn or shortened; an
//!   answer is never changed; neither is deleted. No grant exists without its answer.
//!
//! - the **meldcode** ([`meldcode`]): the five steps for domestic violence and child abuse as a
//!   guided case (a `QuestionnaireResponse` in the category `safety`), append-only.
//!
//! Must never: decide who may touch the record (the decision point does, first).

pub mod aid;
pub mod cases;
pub mod meldcode;
pub mod questionnaire;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use kring_access::category::CATEGORY_SYSTEM;
use kring_access::sharing::{
    is_aid_answer, is_grant, withheld_until, Ground, AID_QUESTIONNAIRE, GRANT_CODE, GRANT_SYSTEM,
    GROUND_SYSTEM, MAX_WITHHELD_DAYS, WITHHELD_EXTENSION,
};
use kring_access::Category;
use serde_json::{json, Value};

use aid::{Answer, Answers, Known, Outcome, Question, Step};
use questionnaire::{answer_display, Texts, ANSWER_SYSTEM};

/// The extension naming the questionnaire version an answer was given under.
pub const VERSION_EXTENSION: &str =
    "https://kring.example/fhir/StructureDefinition/questionnaire-version";
/// The extension marking an answer the record gave (not the professional).
pub const FROM_RECORD_EXTENSION: &str =
    "https://kring.example/fhir/StructureDefinition/answered-from-record";
/// The code system of the outcomes (share, share-minimum, do-not-share, ask-consent, consult).
pub const OUTCOME_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/sharing-outcome";
/// The code system of what an outcome names (a ground, a reason, whom to ask or consult).
pub const DETAIL_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/sharing-outcome-detail";

/// What a professional wants to share, with whom and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `Organization/…`, `Practitioner/…` or `PractitionerRole/…`.
    pub recipient: String,
    pub categories: Vec<Category>,
    /// Specific items (`Type/id`) when only those are to be shared, of those categories.
    pub items: Vec<String>,
    pub purpose: String,
}

/// Why a sharing decision or grant cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharingRefusal {
    #[error("a sharing decision names a recipient (Organization, Practitioner or PractitionerRole), at least one data category and a purpose")]
    RequestIncomplete,
    #[error(
        "the outcome stored does not follow from the answers given (the aid's rule tree gives {0})"
    )]
    OutcomeDoesNotFollow(String),
    #[error("an answer of the sharing aid is kept as it was given: record a new one instead")]
    AnswerKept,
    #[error("a sharing grant rests on an answer of the sharing aid (Consent.sourceReference to a QuestionnaireResponse of the questionnaire Kiezen en Delen) about the same client")]
    NoAnswer,
    #[error("the answer behind this grant does not end in sharing on ground {0}")]
    AnswerSaysOtherwise(String),
    #[error("a grant is for the recipient and at most the data categories the answer names")]
    BeyondTheAnswer,
    #[error("a grant has a start and an end, at most {0} days apart on its ground")]
    Period(i64),
    #[error("a grant is withheld from the client only when the answer says telling would endanger someone, and for at most {MAX_WITHHELD_DAYS} days")]
    Withholding,
    #[error("a grant can only be withdrawn (status inactive) or shortened; record a new decision for anything else")]
    GrantOnlyWithdrawn,
    #[error(
        "sharing decisions and grants are kept in the record: they are withdrawn, not deleted"
    )]
    Kept,
    #[error("you can only share what you may see yourself")]
    NotYoursToShare,
    #[error("the answers marked as the record's (answered-from-record, client-age) are not what the record says")]
    RecordSaysOtherwise,
    #[error("a grant is made by you, for your own organisation (Consent.performer, Consent.organization)")]
    NotInOwnName,
    #[error("a grant is made from a recent answer (the same or the previous day); answer the questions again")]
    AnswerTooOld,
    #[error("this ground is for one kind of recipient only: a report to Veilig Thuis goes to Veilig Thuis, a child protection order's data to the certified institution carrying it out (Organization.type, organisation-kind)")]
    NotThatRecipient,
}

/// The professional's answers in a request (form fields named after the questions).
pub fn answers_from<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Answers {
    fields
        .into_iter()
        .filter_map(|(k, v)| {
            let q = Question::from_link_id(k)?;
            let a = Answer::from_code(v).filter(|a| q.answers().contains(a))?;
            Some((q, a))
        })
        .collect()
}

/// The stored answer: what was asked, the answers in the order they mattered, the outcome.
#[allow(clippy::too_many_arguments)]
pub fn answer_resource(
    client: &str,
    author: &str,
    request: &Request,
    texts: &Texts,
    known: &Known,
    given: &Answers,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Value {
    let mut items = vec![json!({
        "linkId": "request",
        "text": "Wat wilt u delen, met wie en waarom?",
        "item": [
            {"linkId": "recipient", "text": "Ontvanger",
             "answer": [{"valueReference": {"reference": request.recipient}}]},
            {"linkId": "categories", "text": "Gegevens",
             "answer": request.categories.iter().map(|c| json!({"valueCoding": {
                 "system": CATEGORY_SYSTEM, "code": c.code(), "display": c.dutch()}})).collect::<Vec<_>>()},
            {"linkId": "purpose", "text": "Doel", "answer": [{"valueString": request.purpose}]}
        ]
    })];
    if let Some(kind) = known.recipient_kind {
        items[0]["item"].as_array_mut().expect("the request's items").push(json!({
            "linkId": "recipient-kind", "text": "Soort ontvanger",
            "answer": [{"valueCoding": {"system": kring_access::sharing::ORGANISATION_KIND_SYSTEM, "code": kind.code()}}]
        }));
    }
    if !request.items.is_empty() {
        items[0]["item"].as_array_mut().expect("the request's items").push(json!({
            "linkId": "items", "text": "Alleen deze stukken",
            "answer": request.items.iter().map(|i| json!({"valueReference": {"reference": i}})).collect::<Vec<_>>()
        }));
    }
    if let Some(age) = known.age {
        items.push(
            json!({"linkId": "client-age", "text": "Leeftijd van de cliënt",
                          "answer": [{"valueInteger": age}]}),
        );
    }
    for (q, a, from_record) in aid::path(known, given) {
        let mut item = json!({
            "linkId": q.link_id(),
            "text": texts.question(q).text,
            "answer": [{"valueCoding": {"system": ANSWER_SYSTEM, "code": a.code(),
                                        "display": answer_display(a)}}]
        });
        if from_record {
            item["extension"] = json!([{"url": FROM_RECORD_EXTENSION, "valueBoolean": true}]);
        }
        items.push(item);
    }
    let withhold = aid::withholds(given, outcome);
    items.push(json!({
        "linkId": "outcome",
        "text": "Uitkomst",
        "item": [
            {"linkId": "outcome.kind", "answer": [{"valueCoding": {"system": OUTCOME_SYSTEM, "code": outcome.code()}}]},
            {"linkId": "outcome.detail", "answer": [{"valueCoding": {"system": DETAIL_SYSTEM, "code": outcome.detail()}}]},
            {"linkId": "outcome.withhold", "answer": [{"valueBoolean": withhold}]}
        ]
    }));
    let mut extension = vec![json!({"url": VERSION_EXTENSION, "valueString": texts.version})];
    if withhold {
        let until = now.date_naive() + Duration::days(MAX_WITHHELD_DAYS);
        extension.push(json!({"url": WITHHELD_EXTENSION, "valueDate": until.to_string()}));
    }
    json!({
        "resourceType": "QuestionnaireResponse",
        "extension": extension,
        "questionnaire": AID_QUESTIONNAIRE,
        "status": "completed",
        "subject": {"reference": format!("Patient/{client}")},
        "authored": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "author": {"reference": author},
        "item": items
    })
}

/// A stored answer, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub client: String,
    pub author: Option<String>,
    pub authored: Option<String>,
    pub request: Request,
    pub known: Known,
    pub given: Answers,
    /// (question, answer, from the record) in the stored order.
    pub answers: Vec<(String, String, Answer, bool)>,
    pub outcome: String,
    pub detail: String,
    pub withhold: bool,
    pub version: Option<String>,
}

impl StoredAnswer {
    pub fn from_json(v: &Value) -> Option<StoredAnswer> {
        if !is_aid_answer(v) {
            return None;
        }
        let client = v["subject"]["reference"]
            .as_str()?
            .strip_prefix("Patient/")?
            .to_string();
        let items = v["item"].as_array()?;
        let item = |id: &str| items.iter().find(|i| i["linkId"] == id);
        let request = item("request")?;
        let sub = |id: &str| {
            request["item"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|i| i["linkId"] == id)
                .cloned()
                .unwrap_or(Value::Null)
        };
        let recipient = sub("recipient")["answer"][0]["valueReference"]["reference"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let categories = sub("categories")["answer"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["valueCoding"]["code"].as_str())
            .filter_map(Category::from_code)
            .collect();
        let purpose = sub("purpose")["answer"][0]["valueString"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let request_items = sub("items")["answer"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["valueReference"]["reference"].as_str())
            .map(str::to_string)
            .collect();
        let mut known = Known {
            recipient_kind: sub("recipient-kind")["answer"][0]["valueCoding"]["code"]
                .as_str()
                .and_then(kring_access::sharing::RecipientKind::from_code),
            age: item("client-age")
                .and_then(|i| i["answer"][0]["valueInteger"].as_u64())
                .and_then(|a| u32::try_from(a).ok()),
            ..Known::default()
        };
        let mut given = Answers::new();
        let mut answers = Vec::new();
        for i in items {
            let Some(q) = i["linkId"].as_str().and_then(Question::from_link_id) else {
                continue;
            };
            let Some(a) = i["answer"][0]["valueCoding"]["code"]
                .as_str()
                .and_then(Answer::from_code)
            else {
                continue;
            };
            let from_record = i["extension"].as_array().is_some_and(|es| {
                es.iter()
                    .any(|e| e["url"] == FROM_RECORD_EXTENSION && e["valueBoolean"] == true)
            });
            if from_record {
                match q {
                    Question::InCircle => known.in_circle = Some(a == Answer::Yes),
                    Question::Consent => known.consent = Some(a),
                    Question::ProtectionOrder => known.protection_order = Some(a == Answer::Yes),
                    _ => {}
                }
            } else {
                given.insert(q, a);
            }
            answers.push((
                q.link_id().to_string(),
                i["text"].as_str().unwrap_or_default().to_string(),
                a,
                from_record,
            ));
        }
        let outcome = item("outcome")?;
        let part = |id: &str| {
            outcome["item"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|i| i["linkId"] == id)
                .map(|i| i["answer"][0].clone())
                .unwrap_or(Value::Null)
        };
        Some(StoredAnswer {
            client,
            author: v["author"]["reference"].as_str().map(str::to_string),
            authored: v["authored"].as_str().map(str::to_string),
            request: Request {
                recipient,
                categories,
                items: request_items,
                purpose,
            },
            known,
            given,
            answers,
            outcome: part("outcome.kind")["valueCoding"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            detail: part("outcome.detail")["valueCoding"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            withhold: part("outcome.withhold")["valueBoolean"] == true,
            version: v["extension"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["url"] == VERSION_EXTENSION)
                .and_then(|e| e["valueString"].as_str())
                .map(str::to_string),
        })
    }

    /// The outcome the tree gives for the stored answers.
    pub fn walked(&self) -> Step {
        aid::walk(&self.known, &self.given)
    }

    /// The ground, when the answer ends in sharing.
    pub fn ground(&self) -> Option<Ground> {
        matches!(self.outcome.as_str(), "share" | "share-minimum")
            .then(|| Ground::from_code(&self.detail))
            .flatten()
    }
}

/// The grant a share outcome creates: from the custodian (the sharer's organisation) to the
/// answer's recipient, for `categories` (at most the answer's), `days` from today.
pub fn grant_resource(
    answer_id: &str,
    answer: &StoredAnswer,
    custodian: &str,
    performer: &str,
    categories: &[Category],
    days: i64,
    now: DateTime<Utc>,
) -> Result<Value, SharingRefusal> {
    let ground = answer
        .ground()
        .ok_or_else(|| SharingRefusal::AnswerSaysOtherwise(answer.detail.clone()))?;
    if !(1..=ground.max_days()).contains(&days) {
        return Err(SharingRefusal::Period(ground.max_days()));
    }
    let today = now.date_naive();
    let mut grant = json!({
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": GRANT_SYSTEM, "code": GRANT_CODE,
                                  "display": "Deelbesluit"}]}],
        "patient": {"reference": format!("Patient/{}", answer.client)},
        "dateTime": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "performer": [{"reference": performer}],
        "organization": [{"reference": format!("Organization/{custodian}")}],
        "sourceReference": {"reference": format!("QuestionnaireResponse/{answer_id}")},
        "policyRule": {"coding": [{"system": GROUND_SYSTEM, "code": ground.code()}],
                       "text": format!("{}; {}", ground.anchor(), ground.avg())},
        "provision": {
            "type": "permit",
            "period": {"start": today.to_string(),
                       "end": (today + Duration::days(days - 1)).to_string()},
            "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                            "code": "IRCP", "display": "information recipient"}]},
                       "reference": {"reference": answer.request.recipient}}],
            "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                         "code": "TREAT", "display": answer.request.purpose}],
            "class": categories.iter().map(|c| json!({"system": CATEGORY_SYSTEM, "code": c.code()}))
                .collect::<Vec<_>>()
        }
    });
    if !answer.request.items.is_empty() {
        grant["provision"]["data"] = answer
            .request
            .items
            .iter()
            .map(|i| json!({"meaning": "instance", "reference": {"reference": i}}))
            .collect();
    }
    if answer.withhold {
        let until = (today + Duration::days(MAX_WITHHELD_DAYS)).min(today + Duration::days(days));
        grant["extension"] = json!([{"url": WITHHELD_EXTENSION, "valueDate": until.to_string()}]);
    }
    check_grant(&grant, None, Some(answer), today)?;
    Ok(grant)
}

/// The rules for a stored aid answer: complete, and its outcome follows from its answers.
pub fn check_answer(new: &Value, old: Option<&Value>) -> Result<(), SharingRefusal> {
    if old.is_some() {
        return Err(SharingRefusal::AnswerKept);
    }
    let a = StoredAnswer::from_json(new).ok_or(SharingRefusal::RequestIncomplete)?;
    let r = &a.request;
    let recipient_ok = ["Organization/", "Practitioner/", "PractitionerRole/"]
        .iter()
        .any(|t| r.recipient.strip_prefix(t).is_some_and(|id| !id.is_empty()));
    let items_ok = r.items.iter().all(|i| {
        i.split_once('/')
            .is_some_and(|(t, id)| !t.is_empty() && kring_fhir::reference::is_valid_id(id))
    });
    if !recipient_ok || r.categories.is_empty() || r.purpose.trim().is_empty() || !items_ok {
        return Err(SharingRefusal::RequestIncomplete);
    }
    let expected = match a.walked() {
        Step::Done(o) => o,
        Step::Ask(q) => {
            return Err(SharingRefusal::OutcomeDoesNotFollow(format!(
                "no outcome yet: '{}' is unanswered",
                q.link_id()
            )))
        }
    };
    let withhold = aid::withholds(&a.given, expected);
    if expected.code() != a.outcome || expected.detail() != a.detail || withhold != a.withhold {
        return Err(SharingRefusal::OutcomeDoesNotFollow(format!(
            "{} ({})",
            expected.code(),
            expected.detail()
        )));
    }
    // Withheld from the client only when the answer says so, and for at most 90 days.
    let authored = a
        .authored
        .as_deref()
        .and_then(|d| d.get(..10))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match (withheld_until(new), a.withhold, authored) {
        (None, false, _) => {}
        (Some(until), true, Some(day)) if (until - day).num_days() <= MAX_WITHHELD_DAYS => {}
        _ => return Err(SharingRefusal::Withholding),
    }
    Ok(())
}

/// The rules for a grant: see the module. `answer` is the answer its `sourceReference` names
/// (`None` when there is none).
pub fn check_grant(
    new: &Value,
    old: Option<&Value>,
    answer: Option<&StoredAnswer>,
    today: NaiveDate,
) -> Result<(), SharingRefusal> {
    if let Some(old) = old.filter(|o| is_grant(o)) {
        return check_withdrawal(new, old);
    }
    let grant = kring_access::sharing::Grant::from_json("new", new)
        .ok_or(SharingRefusal::RequestIncomplete)?;
    let answer = answer
        .filter(|a| a.client == grant.client)
        .ok_or(SharingRefusal::NoAnswer)?;
    let ground = answer
        .ground()
        .ok_or_else(|| SharingRefusal::AnswerSaysOtherwise(grant.ground.code().into()))?;
    if ground != grant.ground {
        return Err(SharingRefusal::AnswerSaysOtherwise(
            grant.ground.code().into(),
        ));
    }
    // The grounds the law gives one kind of recipient are for that kind only.
    use kring_access::sharing::RecipientKind;
    let kind_ok = match ground {
        Ground::VeiligThuisReport => {
            answer.known.recipient_kind == Some(RecipientKind::VeiligThuis)
        }
        Ground::ProtectionOrder => {
            answer.known.recipient_kind == Some(RecipientKind::CertifiedInstitution)
                || answer.known.protection_order == Some(true)
        }
        _ => true,
    };
    if !kind_ok {
        return Err(SharingRefusal::NotThatRecipient);
    }
    // The grant's own categories, as written (a category it cannot name is an error too).
    let written: Vec<&str> = new["provision"]["class"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["code"].as_str())
        .collect();
    // An answer about specific items grants those (some of them), never the whole category.
    let items_ok = if answer.request.items.is_empty() {
        true
    } else {
        !grant.items.is_empty() && grant.items.iter().all(|i| answer.request.items.contains(i))
    };
    if grant.recipient != answer.request.recipient
        || !items_ok
        || written.is_empty()
        || written.len() != grant.categories.len()
        || !grant
            .categories
            .iter()
            .all(|c| answer.request.categories.contains(c))
    {
        return Err(SharingRefusal::BeyondTheAnswer);
    }
    let answered = answer
        .authored
        .as_deref()
        .and_then(|d| d.get(..10))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    if answered.is_none_or(|d| d < today - Duration::days(1)) {
        return Err(SharingRefusal::AnswerTooOld);
    }
    let (Some(start), Some(end)) = (grant.start, grant.end) else {
        return Err(SharingRefusal::Period(ground.max_days()));
    };
    if end < start
        || (end - start).num_days() + 1 > ground.max_days()
        || start > today + Duration::days(1)
    {
        return Err(SharingRefusal::Period(ground.max_days()));
    }
    if let Some(until) = withheld_until(new) {
        if !answer.withhold || (until - start).num_days() > MAX_WITHHELD_DAYS {
            return Err(SharingRefusal::Withholding);
        }
    }
    Ok(())
}

/// A change to a grant: only withdrawing it, shortening it, or ending its withholding early.
fn check_withdrawal(new: &Value, old: &Value) -> Result<(), SharingRefusal> {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            for k in ["meta", "text", "status", "extension"] {
                o.remove(k);
            }
        }
        if let Some(p) = v["provision"]["period"].as_object_mut() {
            p.remove("end");
        }
        v
    };
    let date = |v: &Value| kring_access::sharing::Grant::from_json("g", v).and_then(|g| g.end);
    let status_ok = match (old["status"].as_str(), new["status"].as_str()) {
        (Some(a), Some(b)) if a == b => true,
        (Some("active"), Some("inactive")) => true,
        _ => false,
    };
    let end_ok = match (date(old), date(new)) {
        (Some(o), Some(n)) => n <= o,
        _ => false,
    };
    let withheld_ok = match (withheld_until(old), withheld_until(new)) {
        (_, None) => true,
        (Some(o), Some(n)) => n <= o,
        (None, Some(_)) => false,
    };
    if strip(new) == strip(old) && status_ok && end_ok && withheld_ok {
        Ok(())
    } else {
        Err(SharingRefusal::GrantOnlyWithdrawn)
    }
}

/// A grant, withdrawn as of now.
pub fn withdrawn(grant: &Value) -> Value {
    let mut g = grant.clone();
    g["status"] = json!("inactive");
    g
}

#[cfg(test)]
mod tests;

impl crate::Record {
    /// Stores the shipped questionnaire when the installation has none (at start-up), so
    /// that the privacy officer can read it and publish a changed version. `true` when stored.
    pub async fn ensure_sharing_questionnaire(&self) -> crate::Result<bool> {
        let operator = crate::Caller::operator("start-up");
        match self
            .read(&operator, "Questionnaire", questionnaire::QUESTIONNAIRE_ID)
            .await
        {
            Ok(_) => Ok(false),
            Err(crate::RecordError::NotFound(_)) | Err(crate::RecordError::Gone(_)) => {
                let stored = self
                    .update(
                        &operator,
                        "Questionnaire",
                        questionnaire::QUESTIONNAIRE_ID,
                        questionnaire::shipped(),
                        None,
                    )
                    .await;
                match stored {
                    Ok(_) => Ok(true),
                    // Another server starting beside this one stored it at the same moment.
                    Err(crate::RecordError::Conflict(_))
                        if self
                            .read(&operator, "Questionnaire", questionnaire::QUESTIONNAIRE_ID)
                            .await
                            .is_ok() =>
                    {
                        Ok(false)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// What the record answers for the aid about sharing `request` from `client`'s record:
    /// whether the recipient is in the circle, what the client's consent says, the client's
    /// age. Only for someone who may record a sharing decision about this client; anyone else
    /// is answered as for a client that does not exist.
    pub fn sharing_known(
        &self,
        caller: &crate::Caller,
        client: &str,
        request: &Request,
    ) -> crate::Result<Known> {
        let probe = format!(r#"{{"questionnaire":"{AID_QUESTIONNAIRE}"}}"#);
        if !self
            .explain(
                caller,
                kring_access::Action::Create,
                "QuestionnaireResponse",
                client,
                probe.as_bytes(),
            )
            .permit
        {
            return Err(crate::RecordError::NotFound(format!("Patient/{client}")));
        }
        let f = self
            .access
            .sharing_facts(client, &request.recipient, &request.categories);
        Ok(Known {
            in_circle: f.in_circle,
            consent: f.consent.map(|given| {
                if given {
                    Answer::Given
                } else {
                    Answer::Refused
                }
            }),
            age: f.age,
            protection_order: None,
            recipient_kind: None,
        })
    }

    /// The sharing grants that name the caller (or their organisation) and run today: the
    /// clients shared with them, what, and until when.
    pub fn running_grants(&self, caller: &crate::Caller) -> Vec<kring_access::sharing::Grant> {
        self.access.running_grants(&caller.subject)
    }

    /// The words of the aid's questions as the caller reads them now: the stored
    /// questionnaire's, else the shipped ones.
    pub async fn sharing_texts(&self, caller: &crate::Caller) -> Texts {
        match self
            .read(caller, "Questionnaire", questionnaire::QUESTIONNAIRE_ID)
            .await
        {
            Ok(v) => serde_json::from_slice::<Value>(&v.body)
                .map(|q| Texts::from_questionnaire(&q))
                .unwrap_or_else(|_| Texts::shipped()),
            Err(_) => Texts::shipped(),
        }
    }
}
