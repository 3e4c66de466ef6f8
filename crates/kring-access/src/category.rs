//! Data categories: the unit of need-to-know. A membership grants categories, a consent permits
//! or denies them, and every resource belongs to exactly one.
//!
//! The category follows from the resource type, except for `CarePlan`, where a plan coded
//! `crisis` is the crisis plan and any other plan the support plan.

use std::fmt;

/// The code system of the categories, in CareTeam extensions and Consent provisions.
pub const CATEGORY_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/data-category";
/// The code system whose `crisis` code marks a CarePlan as the crisis plan.
pub const PLAN_CATEGORY_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/plan-category";

/// One data category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Identity and contact details (Patient, RelatedPerson).
    Identity,
    /// The support plan, its goals and agreements.
    SupportPlan,
    /// The crisis plan: signals and actions per phase.
    CrisisPlan,
    /// Reports (day-to-day notes shared in the circle).
    Reports,
    /// Medication schedules and administrations.
    Medication,
    /// Treatment notes: stay in their own organisation unless the client consents explicitly.
    TreatmentNotes,
    /// Documents.
    Documents,
    /// Safety assessments: only for the professionals named for them.
    Safety,
    /// The circle itself (CareTeam): visible to everyone in it.
    Circle,
    /// Consent directives: visible to everyone in the circle, recorded by the client.
    Consent,
    /// Data that belongs to no client (organisations, professionals, locations …).
    Shared,
    /// The access log (AuditEvent): who looked at a client's data. Never granted through a
    /// circle; the client, their representatives and the privacy officers read it.
    AccessLog,
    /// Emergency declarations (a Communication coded `emergency-access`): the reason a
    /// professional outside the circle stated. Never granted through a circle; the case
    /// director, the client's organisation and the client read them.
    Emergency,
    /// Sharing decisions: the answers of the sharing aid (a `QuestionnaireResponse` of the
    /// Kiezen en Delen questionnaire) and the grants they created (a `Consent` coded
    /// `sharing-grant`). Never granted through a circle; the circle works with them, the
    /// client reads those not withheld, the privacy officer reviews them.
    Sharing,
    /// Messages between the client and their circle (a Communication coded `messages`): each
    /// visible only to its sender and recipients. Never granted through a circle.
    Messages,
}

impl Category {
    /// The categories a membership or a consent can name.
    pub const GRANTABLE: [Category; 8] = [
        Category::Identity,
        Category::SupportPlan,
        Category::CrisisPlan,
        Category::Reports,
        Category::Medication,
        Category::TreatmentNotes,
        Category::Documents,
        Category::Safety,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Category::Identity => "identity",
            Category::SupportPlan => "support-plan",
            Category::CrisisPlan => "crisis-plan",
            Category::Reports => "reports",
            Category::Medication => "medication",
            Category::TreatmentNotes => "treatment-notes",
            Category::Documents => "documents",
            Category::Safety => "safety",
            Category::Circle => "circle",
            Category::Consent => "consent",
            Category::Shared => "shared",
            Category::AccessLog => "access-log",
            Category::Emergency => "emergency",
            Category::Sharing => "sharing",
            Category::Messages => "messages",
        }
    }

    pub fn from_code(code: &str) -> Option<Category> {
        [
            Category::Circle,
            Category::Consent,
            Category::Shared,
            Category::AccessLog,
            Category::Emergency,
            Category::Sharing,
            Category::Messages,
        ]
        .into_iter()
        .chain(Category::GRANTABLE)
        .find(|c| c.code() == code)
    }

    /// The Dutch name shown to people.
    pub fn dutch(self) -> &'static str {
        match self {
            Category::Identity => "identiteit en contact",
            Category::SupportPlan => "ondersteuningsplan en afspraken",
            Category::CrisisPlan => "crisisplan",
            Category::Reports => "rapportages",
            Category::Medication => "medicatie",
            Category::TreatmentNotes => "behandelaantekeningen",
            Category::Documents => "documenten",
            Category::Safety => "veiligheidstaxaties",
            Category::Circle => "de kring",
            Category::Consent => "toestemmingen",
            Category::Shared => "gedeelde gegevens",
            Category::AccessLog => "toegangslog",
            Category::Emergency => "meldingen van noodtoegang",
            Category::Sharing => "deelbesluiten",
            Category::Messages => "berichten",
        }
    }

    /// The English name shown to people.
    pub fn english(self) -> &'static str {
        match self {
            Category::Identity => "identity and contact",
            Category::SupportPlan => "support plan and agreements",
            Category::CrisisPlan => "crisis plan",
            Category::Reports => "reports",
            Category::Medication => "medication",
            Category::TreatmentNotes => "treatment notes",
            Category::Documents => "documents",
            Category::Safety => "safety assessments",
            Category::Circle => "the circle",
            Category::Consent => "consents",
            Category::Shared => "shared data",
            Category::AccessLog => "access log",
            Category::Emergency => "notices of emergency access",
            Category::Sharing => "sharing decisions",
            Category::Messages => "messages",
        }
    }

    /// The categories emergency access opens: crisis plan, medication and contacts.
    pub fn opened_in_emergency(self) -> bool {
        matches!(
            self,
            Category::CrisisPlan | Category::Medication | Category::Identity
        )
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The categories resources of `rtype` can fall in (more than one only for `CarePlan`,
/// `Communication`, `QuestionnaireResponse` and `Consent`).
/// `client_data` says whether the type belongs to a client at all (its Patient compartment).
pub fn categories_of_type(rtype: &str, client_data: bool) -> &'static [Category] {
    if rtype == "AuditEvent" {
        return &[Category::AccessLog];
    }
    if !client_data {
        return &[Category::Shared];
    }
    match rtype {
        "Patient" | "RelatedPerson" | "Person" => &[Category::Identity],
        "CarePlan" => &[Category::SupportPlan, Category::CrisisPlan],
        "Goal"
        | "ServiceRequest"
        | "Task"
        | "Appointment"
        | "AppointmentResponse"
        | "RequestGroup"
        | "NutritionOrder"
        | "DeviceRequest" => &[Category::SupportPlan],
        "Communication" => &[Category::Reports, Category::Emergency, Category::Messages],
        "CommunicationRequest"
        | "Encounter"
        | "EpisodeOfCare"
        | "Flag"
        | "Observation"
        | "Schedule" => &[Category::Reports],
        "MedicationRequest"
        | "MedicationAdministration"
        | "MedicationStatement"
        | "MedicationDispense"
        | "AllergyIntolerance"
        | "Immunization"
        | "ImmunizationRecommendation"
        | "ImmunizationEvaluation" => &[Category::Medication],
        "DocumentReference" | "DocumentManifest" | "Composition" | "Media" | "Binary" => {
            &[Category::Documents]
        }
        "QuestionnaireResponse" => &[Category::Documents, Category::Sharing, Category::Safety],
        "RiskAssessment" | "DetectedIssue" | "AdverseEvent" => &[Category::Safety],
        "CareTeam" => &[Category::Circle],
        "Consent" => &[Category::Consent, Category::Sharing],
        // Every other clinical type (Condition, Procedure, ClinicalImpression, DiagnosticReport,
        // …) is a treatment note: the most guarded of the ordinary categories.
        _ => &[Category::TreatmentNotes],
    }
}

/// The category of one resource, from its type and (for the types with several) its content.
pub fn category_of(rtype: &str, client_data: bool, body: &[u8]) -> Category {
    let cats = categories_of_type(rtype, client_data);
    if cats.len() == 1 {
        return cats[0];
    }
    match rtype {
        "Communication" if is_emergency_notice(body) => Category::Emergency,
        "Communication" if is_message(body) => Category::Messages,
        "Communication" => Category::Reports,
        "QuestionnaireResponse" if crate::sharing::is_aid_answer_bytes(body) => Category::Sharing,
        "QuestionnaireResponse" if crate::sharing::is_meldcode_case_bytes(body) => Category::Safety,
        "QuestionnaireResponse" => Category::Documents,
        "Consent" if crate::sharing::is_grant_bytes(body) => Category::Sharing,
        "Consent" => Category::Consent,
        _ if is_crisis_plan(body) => Category::CrisisPlan,
        _ => Category::SupportPlan,
    }
}

/// Whether a Communication body is an emergency declaration (coded `emergency-access`).
pub fn is_emergency_notice(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| crate::facts::is_emergency_declaration(&v))
}

/// Whether a Communication body is a message (coded `messages` in the data categories).
pub fn is_message(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| is_message_json(&v))
}

/// [`is_message`] on a parsed body.
pub fn is_message_json(v: &serde_json::Value) -> bool {
    v["category"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            c["coding"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["system"] == CATEGORY_SYSTEM && c["code"] == "messages")
            })
        })
    })
}

/// The parties of a message: its sender and its recipients (references).
pub fn message_parties(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return vec![];
    };
    std::iter::once(&v["sender"])
        .chain(v["recipient"].as_array().into_iter().flatten())
        .filter_map(|r| r["reference"].as_str())
        .map(str::to_string)
        .collect()
}

/// Whether a CarePlan body is coded as the crisis plan.
pub fn is_crisis_plan(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Plan {
        #[serde(default)]
        category: Vec<Concept>,
    }
    #[derive(serde::Deserialize)]
    struct Concept {
        #[serde(default)]
        coding: Vec<Coding>,
    }
    #[derive(serde::Deserialize)]
    struct Coding {
        system: Option<String>,
        code: Option<String>,
    }
    let Ok(plan) = serde_json::from_slice::<Plan>(body) else {
        return false;
    };
    plan.category.iter().flat_map(|c| &c.coding).any(|c| {
        c.system.as_deref() == Some(PLAN_CATEGORY_SYSTEM) && c.code.as_deref() == Some("crisis")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in Category::GRANTABLE {
            assert_eq!(Category::from_code(c.code()), Some(c));
        }
        assert_eq!(Category::from_code("nonsense"), None);
    }

    #[test]
    fn care_plans_split_into_support_and_crisis() {
        let crisis = br#"{"resourceType":"CarePlan","category":[{"coding":[{"system":"https://kring.example/fhir/CodeSystem/plan-category","code":"crisis"}]}]}"#;
        let plan = br#"{"resourceType":"CarePlan","title":"Ondersteuningsplan"}"#;
        assert_eq!(category_of("CarePlan", true, crisis), Category::CrisisPlan);
        assert_eq!(category_of("CarePlan", true, plan), Category::SupportPlan);
        assert_eq!(
            category_of("Condition", true, b"{}"),
            Category::TreatmentNotes
        );
        assert_eq!(category_of("Organization", false, b"{}"), Category::Shared);
    }
}
