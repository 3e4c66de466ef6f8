//! The sharing aid's questions as a versioned FHIR `Questionnaire` (canonical
//! [`AID_QUESTIONNAIRE`]): each question with its explanation and its legal anchor, in plain
//! Dutch. Kring ships version [`SHIPPED_VERSION`] and stores it when the installation has none;
//! a privacy officer's edited version (same canonical, a new `version`) is what the aid then
//! shows, and each answer records the version it was given under. The order of the questions
//! is the rule tree's ([`super::aid`]), not the questionnaire's.

use std::collections::HashMap;

use kring_access::sharing::AID_QUESTIONNAIRE;
use serde_json::{json, Value};

use super::aid::{Answer, Question};

/// The resource id the questionnaire is stored under.
pub const QUESTIONNAIRE_ID: &str = kring_access::sharing::AID_QUESTIONNAIRE_ID;
/// The version Kring ships.
pub const SHIPPED_VERSION: &str = "2026.12";
/// The code system of the answers (yes, no, unsure, given, refused, not-asked).
pub const ANSWER_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/sharing-answer";

/// (question, text, explanation, legal anchor), in Dutch.
const SHIPPED: [(Question, &str, &str, &str); 15] = [
    (
        Question::InCircle,
        "Hoort de ontvanger bij de behandelrelatie van deze cliënt?",
        "Bij de behandelrelatie horen wie de cliënt nu samen helpen: de kring van de cliënt, hun vervangers, en de wettelijk vertegenwoordiger. Kring weet dit uit de kring.",
        "Jeugdwet art. 7.3.11 lid 2; WGBO (BW art. 7:457 lid 2)",
    ),
    (
        Question::TaskNeeds,
        "Heeft de ontvanger deze gegevens nodig voor zijn of haar taak bij deze cliënt?",
        "Binnen de behandelrelatie mag u delen wat de ander nodig heeft om goed te helpen, zonder toestemming. Niet meer dan dat.",
        "Jeugdwet art. 7.3.11 lid 2",
    ),
    (
        Question::ProtectionOrder,
        "Voert de ontvanger een kinderbeschermingsmaatregel uit voor dit kind (als gecertificeerde instelling)?",
        "Een gecertificeerde instelling die een ondertoezichtstelling of voogdij uitvoert, mag gegevens vragen en krijgen, ook zonder toestemming. Kring weet dit als de maatregel in het dossier staat.",
        "Jeugdwet art. 7.3.11 lid 4",
    ),
    (
        Question::VeiligThuis,
        "Gaat het om een melding bij Veilig Thuis (of een vraag van Veilig Thuis) over huiselijk geweld of kindermishandeling?",
        "U heeft het recht om Veilig Thuis in te lichten, ook zonder toestemming. Het is een recht, geen plicht: de meldcode helpt u kiezen.",
        "Wmo 2015 art. 5.2.6; Jeugdwet art. 7.3.11 lid 4",
    ),
    (
        Question::Consent,
        "Wat zegt de cliënt (of wie volgens de leeftijdsregels beslist) over dit delen?",
        "Onder 12 beslissen de ouders met gezag, van 12 tot 16 het kind en de ouders samen, vanaf 16 de jongere zelf. Kring kijkt eerst naar de toestemming in het dossier.",
        "WGBO (BW art. 7:450 en 7:457 lid 1); Jeugdwet art. 7.3.4 en 7.3.11 lid 1",
    ),
    (
        Question::CanAskConsent,
        "Kunt u toestemming vragen zonder dat iemand daardoor in gevaar komt?",
        "Vraag toestemming als dat kan. Niet als vragen het kind of een ander in gevaar brengt, of als er geen tijd is.",
        "Jeugdwet art. 7.3.11 lid 1",
    ),
    (
        Question::Acute,
        "Is er nu acuut gevaar voor de cliënt of voor iemand anders?",
        "Bij acuut gevaar is er geen tijd om eerst toestemming te vragen. U deelt dan direct wat nodig is om het gevaar af te wenden.",
        "conflict van plichten",
    ),
    (
        Question::SeriousHarm,
        "Komt de cliënt of een ander ernstig in de knel als u zwijgt?",
        "Zonder toestemming en zonder wettelijke grond mag u alleen delen als zwijgen ernstige schade geeft (conflict van plichten).",
        "conflict van plichten (jurisprudentie; KNMG-richtlijn beroepsgeheim)",
    ),
    (
        Question::TriedConsent,
        "Heeft u alles gedaan om toestemming te krijgen, of is vragen onmogelijk of onveilig?",
        "Een conflict van plichten geldt pas als toestemming vragen niet lukte, niet kon of niet veilig was.",
        "conflict van plichten",
    ),
    (
        Question::NoOtherWay,
        "Is er geen andere manier om de schade te voorkomen dan deze gegevens te delen?",
        "Kan het ook zonder gegevens te delen (bijvoorbeeld door zelf hulp in te zetten)? Kies dan die weg.",
        "conflict van plichten",
    ),
    (
        Question::SharingHelps,
        "Helpt het delen om de schade te voorkomen of te beperken?",
        "Deel alleen als de ontvanger er iets mee kan doen om de schade te voorkomen of kleiner te maken.",
        "conflict van plichten",
    ),
    (
        Question::GoodProfessional,
        "Zou een goed hulpverlener hier afzien van delen?",
        "Ook als delen mag, deelt u niet als een goed hulpverlener dat in deze situatie niet zou doen.",
        "Jeugdwet art. 7.3.11 lid 3",
    ),
    (
        Question::Minimum,
        "Heeft de ontvanger alles nodig wat u wilt delen?",
        "Deel zo weinig mogelijk: alleen wat nodig is, alleen met wie het nodig heeft.",
        "Jeugdwet art. 7.3.11 lid 1; AVG art. 5 lid 1 onder c",
    ),
    (
        Question::OthersPrivacy,
        "Staan er gegevens van anderen in (broers, zussen, ouders) die de ontvanger niet nodig heeft?",
        "Deel geen gegevens over anderen die de ontvanger niet nodig heeft: hun privacy telt ook.",
        "Jeugdwet art. 7.3.11 lid 1",
    ),
    (
        Question::EndangersIfTold,
        "Brengt het de cliënt, het kind of een ander in gevaar als de cliënt nu hoort dat u deelt?",
        "De cliënt hoort het als er zonder toestemming gedeeld wordt. Alleen als dat nu gevaar geeft, wacht u daarmee. De privacyfunctionaris ziet dit besluit, en het vervalt vanzelf.",
        "AVG art. 14 lid 5 en art. 23; UAVG art. 41",
    ),
];

/// The Dutch words of an answer.
pub fn answer_display(a: Answer) -> &'static str {
    match a {
        Answer::Yes => "Ja",
        Answer::No => "Nee",
        Answer::Unsure => "Weet ik niet",
        Answer::Given => "Toestemming gegeven",
        Answer::Refused => "Toestemming geweigerd",
        Answer::NotAsked => "Nog niet gevraagd",
    }
}

/// The questionnaire Kring ships.
pub fn shipped() -> Value {
    let items: Vec<Value> = SHIPPED
        .iter()
        .map(|(q, text, explanation, anchor)| {
            json!({
                "linkId": q.link_id(),
                "text": text,
                "type": "choice",
                "required": true,
                "answerOption": q.answers().iter().map(|a| json!({"valueCoding": {
                    "system": ANSWER_SYSTEM, "code": a.code(), "display": answer_display(*a)}}))
                    .collect::<Vec<_>>(),
                "item": [
                    {"linkId": format!("{}.uitleg", q.link_id()), "type": "display", "text": explanation},
                    {"linkId": format!("{}.anker", q.link_id()), "type": "display", "text": anchor}
                ]
            })
        })
        .collect();
    json!({
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "url": AID_QUESTIONNAIRE,
        "version": SHIPPED_VERSION,
        "name": "KiezenEnDelen",
        "title": "Mag ik dit delen? (naar Kiezen en Delen)",
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "Kring",
        "description": "De vragen van de hulp bij delen in Kring, naar de website Kiezen en Delen van de inspecties. Elke vraag met uitleg en wettelijke grond. De volgorde van de vragen volgt de wet en staat in Kring zelf; de woorden kan de privacyfunctionaris aanpassen (docs/sharing.nl.md).",
        "purpose": "Professionals helpen beslissen of zij gegevens van een cliënt mogen delen, en het besluit met de redenen vastleggen.",
        "item": items
    })
}

/// The words of one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionText {
    pub text: String,
    pub explanation: String,
    pub anchor: String,
}

/// The words of every question, from the stored questionnaire, with the shipped words where
/// it lacks a question.
#[derive(Debug, Clone)]
pub struct Texts {
    pub version: String,
    questions: HashMap<Question, QuestionText>,
}

impl Texts {
    pub fn shipped() -> Texts {
        Texts::from_questionnaire(&shipped())
    }

    pub fn from_questionnaire(q: &Value) -> Texts {
        let mut questions: HashMap<Question, QuestionText> = SHIPPED
            .iter()
            .map(|(q, t, e, a)| {
                (
                    *q,
                    QuestionText {
                        text: t.to_string(),
                        explanation: e.to_string(),
                        anchor: a.to_string(),
                    },
                )
            })
            .collect();
        for item in q["item"].as_array().into_iter().flatten() {
            let Some(question) = item["linkId"].as_str().and_then(Question::from_link_id) else {
                continue;
            };
            let entry = questions
                .get_mut(&question)
                .expect("every question is shipped");
            if let Some(t) = item["text"].as_str().filter(|t| !t.trim().is_empty()) {
                entry.text = t.to_string();
            }
            for sub in item["item"].as_array().into_iter().flatten() {
                let text = sub["text"].as_str().unwrap_or_default().to_string();
                match sub["linkId"].as_str().and_then(|l| l.rsplit_once('.')) {
                    Some((_, "uitleg")) if !text.is_empty() => entry.explanation = text,
                    Some((_, "anker")) if !text.is_empty() => entry.anchor = text,
                    _ => {}
                }
            }
        }
        Texts {
            version: q["version"].as_str().unwrap_or(SHIPPED_VERSION).to_string(),
            questions,
        }
    }

    pub fn question(&self, q: Question) -> &QuestionText {
        &self.questions[&q]
    }
}

/// The questionnaire with new words for its questions, as a new `version`: items of the
/// questions changed in place (their explanation and anchor too), everything else kept; a
/// question missing from `stored` is added with the new words.
pub fn with_words(stored: &Value, words: &[(Question, QuestionText)], version: &str) -> Value {
    let mut q = stored.clone();
    if let Some(o) = q.as_object_mut() {
        o.remove("meta");
        o.remove("text");
    }
    q["version"] = json!(version);
    q["date"] = json!(chrono::Utc::now().date_naive().to_string());
    let shipped = shipped();
    for (question, w) in words {
        let link = question.link_id();
        let items = q["item"].as_array_mut();
        let Some(items) = items else { continue };
        let at = match items.iter().position(|i| i["linkId"] == link) {
            Some(at) => at,
            None => {
                let Some(item) = shipped["item"]
                    .as_array()
                    .and_then(|a| a.iter().find(|i| i["linkId"] == link))
                else {
                    continue;
                };
                items.push(item.clone());
                items.len() - 1
            }
        };
        let item = &mut items[at];
        item["text"] = json!(w.text.trim());
        item["item"] = json!([
            {"linkId": format!("{link}.uitleg"), "type": "display", "text": w.explanation.trim()},
            {"linkId": format!("{link}.anker"), "type": "display", "text": w.anchor.trim()}
        ]);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_questionnaire_has_every_question_once() {
        let q = shipped();
        let ids: Vec<&str> = q["item"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["linkId"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), Question::ALL.len());
        for question in Question::ALL {
            assert!(ids.contains(&question.link_id()));
        }
    }

    #[test]
    fn new_words_make_a_new_version_and_keep_the_rest() {
        let words = QuestionText {
            text: "Zit de ontvanger in de kring?".into(),
            explanation: "Uitleg".into(),
            anchor: "Jeugdwet 7.3.11 lid 2".into(),
        };
        let q = with_words(&shipped(), &[(Question::InCircle, words.clone())], "3");
        let t = Texts::from_questionnaire(&q);
        assert_eq!(t.version, "3");
        assert_eq!(t.question(Question::InCircle), &words);
        assert_eq!(
            t.question(Question::Minimum),
            Texts::shipped().question(Question::Minimum)
        );
        assert_eq!(q["url"], shipped()["url"]);
    }

    #[test]
    fn an_edited_questionnaire_changes_the_words() {
        let mut q = shipped();
        q["version"] = json!("2027.1");
        q["item"][0]["text"] = json!("Zit de ontvanger in de kring?");
        q["item"][0]["item"][1]["text"] = json!("Jeugdwet 7.3.11 lid 2");
        let texts = Texts::from_questionnaire(&q);
        assert_eq!(texts.version, "2027.1");
        let t = texts.question(Question::InCircle);
        assert_eq!(t.text, "Zit de ontvanger in de kring?");
        assert_eq!(t.anchor, "Jeugdwet 7.3.11 lid 2");
        assert!(t.explanation.starts_with("Bij de behandelrelatie"));
    }
}
