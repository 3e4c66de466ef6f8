//! A finding: one access placed in the review queue, with its score, the reasons (from a fixed
//! list) and one Dutch sentence for the privacy officer. Findings name users and clients by
//! reference only — never by name or BSN.

use serde::Serialize;
use serde_json::json;

use crate::audit::{Action, Emergency};

/// Why an access is in the queue. The codes are those of the FINDINGS format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    OwnRecord,
    Family,
    Neighbour,
    ColleagueRecord,
    Vip,
    RelationshipEnded,
    Emergency,
    NoExplanation,
    OffHours,
    Browsing,
    Serial,
    Volume,
    DeniedAttempt,
    /// One look at a client of an organisation that takes part in the care, never repeated
    /// in the whole log (where unregistered care recurs).
    SingleLook,
}

impl Reason {
    pub const ALL: [Reason; 14] = [
        Reason::OwnRecord,
        Reason::Family,
        Reason::Neighbour,
        Reason::ColleagueRecord,
        Reason::Vip,
        Reason::RelationshipEnded,
        Reason::Emergency,
        Reason::NoExplanation,
        Reason::OffHours,
        Reason::Browsing,
        Reason::Serial,
        Reason::Volume,
        Reason::DeniedAttempt,
        Reason::SingleLook,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::OwnRecord => "own-record",
            Reason::Family => "family",
            Reason::Neighbour => "neighbour",
            Reason::ColleagueRecord => "colleague-record",
            Reason::Vip => "vip",
            Reason::RelationshipEnded => "relationship-ended",
            Reason::Emergency => "emergency",
            Reason::NoExplanation => "no-explanation",
            Reason::OffHours => "off-hours",
            Reason::Browsing => "browsing",
            Reason::Serial => "serial",
            Reason::Volume => "volume",
            Reason::DeniedAttempt => "denied-attempt",
            Reason::SingleLook => "single-look",
        }
    }

    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The reason as part of a Dutch sentence.
    pub fn dutch(self) -> &'static str {
        match self {
            Reason::OwnRecord => "het eigen dossier van de medewerker",
            Reason::Family => "zelfde achternaam en adres als de medewerker (familie)",
            Reason::Neighbour => "woont in dezelfde straat of postcode als de medewerker (buren)",
            Reason::ColleagueRecord => "de cliënt is zelf medewerker (collega)",
            Reason::Vip => "bekend persoon (VIP)",
            Reason::RelationshipEnded => "de zorgrelatie is al lang beëindigd",
            Reason::Emergency => "noodtoegang",
            Reason::NoExplanation => "niets verklaart deze inzage",
            Reason::OffHours => "buiten de gebruikelijke werktijden van de medewerker",
            Reason::Browsing => "veel verschillende cliënten kort na elkaar (bladeren)",
            Reason::Serial => "hetzelfde dossier op meerdere dagen, alleen gelezen",
            Reason::Volume => "veel meer dossiers dan collega's in dezelfde rol",
            Reason::DeniedAttempt => "een poging die Kring weigerde (geen toegang)",
            Reason::SingleLook => "één losse inzage in deze periode, daarna niet meer",
        }
    }

    /// The reason in English, for the pages.
    pub fn english(self) -> &'static str {
        match self {
            Reason::OwnRecord => "the staff member's own record",
            Reason::Family => "same surname and address as the staff member (family)",
            Reason::Neighbour => {
                "lives in the same street or postcode as the staff member (neighbours)"
            }
            Reason::ColleagueRecord => "the client is staff too (a colleague)",
            Reason::Vip => "a well-known person (VIP)",
            Reason::RelationshipEnded => "the care relationship ended long ago",
            Reason::Emergency => "emergency access",
            Reason::NoExplanation => "nothing explains this access",
            Reason::OffHours => "outside the staff member's usual hours",
            Reason::Browsing => "many different clients in a short time (browsing)",
            Reason::Serial => "the same record on several days, reading only",
            Reason::Volume => "far more records than peers in the same role",
            Reason::DeniedAttempt => "an attempt that was refused (no access)",
            Reason::SingleLook => "a single look in the period, never again",
        }
    }

    /// How much the reason alone says that an access was not justified (0..1).
    pub fn weight(self) -> f64 {
        match self {
            Reason::OwnRecord => 0.95,
            Reason::Family | Reason::Vip => 0.85,
            Reason::ColleagueRecord => 0.8,
            Reason::Neighbour | Reason::Emergency => 0.75,
            Reason::Browsing => 0.7,
            Reason::RelationshipEnded => 0.65,
            Reason::Serial | Reason::Volume => 0.6,
            Reason::NoExplanation | Reason::SingleLook => 0.5,
            Reason::OffHours => 0.35,
            // Alone it is often a slip (a wrong id, a category not granted); with browsing it
            // is probing.
            Reason::DeniedAttempt => 0.45,
        }
    }
}

/// The score at or above which a finding is flagged: the officer must look at it. Findings
/// below it (emergency access by a crisis service, with a reason) are still queued.
pub const FLAG_SCORE: f64 = 0.5;
/// The score of an access nothing explains to a client whom nobody is registered for, by care
/// staff of the client's own organisation: most likely a missing registration (queued, not
/// flagged).
pub const REGISTRATION_GAP_SCORE: f64 = 0.35;
/// The score of an access nothing explains and no signal marks, by staff of an organisation
/// that takes part in the client's care: most likely unregistered work (the weekly sample).
pub const ORGANISATION_INVOLVED_SCORE: f64 = 0.3;
/// The score of a former carer's read while the client was being treated at the carer's own
/// location: most likely the client came back (queued, not flagged).
pub const CLIENT_PRESENT_SCORE: f64 = 0.35;
/// The score of emergency access with a reason by someone whose role allows it.
pub const ROUTINE_EMERGENCY_SCORE: f64 = 0.2;

/// What a finding rests on, for the review pages (not part of the FINDINGS format).
#[derive(Debug, Clone)]
pub struct Evidence {
    pub user: String,
    pub client: String,
    pub at: i64,
    pub action: Action,
    pub emergency: Emergency,
    /// The explanations that were tried, each with why it did not hold.
    pub tried: Vec<String>,
    /// What an explanation that held rests on, when the access is queued all the same:
    /// emergency access with a reason, or covering for a colleague that a pattern undid.
    pub grounds: Option<String>,
}

/// One access in the review queue.
#[derive(Debug, Clone)]
pub struct Finding {
    pub event: String,
    /// The chance that the access was a violation: the risk as calibrated
    /// ([`crate::calibration`]).
    pub score: f64,
    /// The reasons combined ([`score`]) or the fixed risk of a kind of finding: a ranking,
    /// which decides whether the finding is flagged.
    pub risk: f64,
    pub reasons: Vec<Reason>,
    pub explanation: String,
    pub evidence: Evidence,
}

impl Finding {
    /// The FINDINGS line (without newline).
    pub fn to_json(&self) -> String {
        json!({
            "event": self.event,
            "score": (self.score * 1000.0).round() / 1000.0,
            "reasons": self.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
            "explanation": self.explanation,
        })
        .to_string()
    }

    pub fn flagged(&self) -> bool {
        self.risk >= FLAG_SCORE
    }
}

/// Combines reasons into a score: the chance that at least one of them is right, taking
/// each weight as independent evidence.
pub fn score(reasons: &[Reason]) -> f64 {
    1.0 - reasons.iter().map(|r| 1.0 - r.weight()).product::<f64>()
}

/// The Dutch verb of an action, for the sentences.
fn verb(action: Action) -> &'static str {
    match action {
        Action::Read => "bekeek",
        Action::Write => "wijzigde",
    }
}

/// The Dutch sentence of an access in a registration gap.
pub fn registration_gap_sentence(user: &str, client: &str, action: Action) -> String {
    let verb = verb(action);
    format!(
        "{user} {verb} het dossier van {client} zonder verklaring, maar niemand is voor deze \
         cliënt geregistreerd en {user} werkt voor de organisatie van de cliënt: waarschijnlijk \
         ontbreekt de registratie van de zorgrelatie."
    )
}

/// The Dutch sentence of an access in the weekly sample: nothing explains it, nothing marks it.
pub fn organisation_involved_sentence(user: &str, client: &str, action: Action) -> String {
    let verb = verb(action);
    format!(
        "{user} {verb} het dossier van {client} zonder verklaring en zonder risicosignaal; de \
         organisatie van {user} is betrokken bij de zorg voor deze cliënt: waarschijnlijk werk \
         dat niet is geregistreerd. Dit hoort bij de wekelijkse steekproef."
    )
}

/// The Dutch sentence of a single look at a client of an organisation that takes part in the
/// client's care: flagged, where a look that recurs goes to the weekly sample.
pub fn single_look_sentence(user: &str, client: &str, action: Action) -> String {
    let verb = verb(action);
    format!(
        "{user} {verb} het dossier van {client} één keer in deze periode, zonder verklaring; de \
         organisatie van {user} is betrokken bij de zorg voor deze cliënt, maar zorg die niet is \
         geregistreerd komt terug (opnieuw inzien, verslag leggen, een collega van het team): \
         een losse inzage wordt daarom beoordeeld."
    )
}

/// The Dutch sentence of a former carer's read while the client was at the carer's location.
pub fn client_present_sentence(user: &str, client: &str, action: Action) -> String {
    let verb = verb(action);
    format!(
        "{user} {verb} het dossier van {client} lang nadat de zorgrelatie eindigde, maar de \
         cliënt werd op dat moment behandeld op de locatie van {user}: waarschijnlijk is de \
         cliënt teruggekomen en ontbreekt de registratie van de nieuwe zorgrelatie."
    )
}

/// The Dutch sentence of a finding.
pub fn sentence(
    user: &str,
    client: &str,
    action: Action,
    reasons: &[Reason],
    routine: bool,
) -> String {
    let verb = verb(action);
    if routine {
        return format!(
            "{user} {verb} met noodtoegang en een opgegeven reden het dossier van {client}; \
             de rol staat noodtoegang toe, maar elke noodtoegang wordt nagekeken."
        );
    }
    let signals: Vec<&str> = reasons
        .iter()
        .filter(|r| **r != Reason::NoExplanation)
        .map(|r| r.dutch())
        .collect();
    if signals.is_empty() {
        format!(
            "{user} {verb} het dossier van {client} zonder verklaring: geen lidmaatschap van de \
             kring, afspraak, gedocumenteerd werk, passende rol of locatie gevonden."
        )
    } else {
        format!(
            "{user} {verb} het dossier van {client} zonder verklaring; signalen: {}.",
            signals.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_grow_with_reasons_and_stay_below_one() {
        let one = score(&[Reason::NoExplanation]);
        let two = score(&[Reason::NoExplanation, Reason::OffHours]);
        assert!((one - 0.5).abs() < 1e-9);
        assert!(two > one && two < 1.0);
        assert!(score(&Reason::ALL) < 1.0);
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
    }

    #[test]
    fn a_finding_line_has_exactly_the_four_fields() {
        let f = Finding {
            event: "e1".into(),
            score: 0.8525,
            risk: 0.8525,
            reasons: vec![Reason::Family, Reason::OffHours],
            explanation: sentence(
                "Practitioner/1",
                "Patient/2",
                Action::Read,
                &[Reason::Family],
                false,
            ),
            evidence: Evidence {
                user: "Practitioner/1".into(),
                client: "Patient/2".into(),
                at: 0,
                action: Action::Read,
                emergency: Emergency::No,
                tried: vec![],
                grounds: None,
            },
        };
        let v: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 4);
        assert_eq!(v["reasons"][0], "family");
        assert_eq!(v["score"].as_f64(), Some(0.853));
        assert!(v["explanation"].as_str().unwrap().contains("familie"));
    }
}
