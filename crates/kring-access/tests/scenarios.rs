//! The scenario table: role × membership state × consent × age × data category × action, with
//! the expected decision and the rule that decides it. A privacy officer can read each row as
//! a sentence; the table is the executable form of docs/access-rules.*.md.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kring_access::{Action, Category, NeedToKnow, Reason, Scopes, Subject, Target};
use serde_json::{json, Value};

const CAT: &str = "https://kring.example/fhir/CodeSystem/data-category";
const EXT: &str = "https://kring.example/fhir/StructureDefinition/data-categories";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn born(age: i64) -> String {
    // A birthday well away from today, so the age is unambiguous.
    (now().date_naive() - Duration::days(age * 365 + age / 4 + 30)).to_string()
}

fn cats(list: &[&str]) -> Value {
    json!([{"url": EXT, "valueCodeableConcept": {"coding":
        list.iter().map(|c| json!({"system": CAT, "code": c})).collect::<Vec<_>>()}}])
}

const ALL: &[&str] = &[
    "identity",
    "support-plan",
    "crisis-plan",
    "reports",
    "medication",
    "treatment-notes",
    "documents",
    "safety",
];
const DIRECTOR: &[&str] = &[
    "identity",
    "support-plan",
    "crisis-plan",
    "reports",
    "documents",
];
const GP: &[&str] = &["identity", "crisis-plan", "medication"];
const SHARED_CATS: &[&str] = &[
    "identity",
    "support-plan",
    "crisis-plan",
    "reports",
    "medication",
    "documents",
    "safety",
];

fn member(
    role: &str,
    org: &str,
    categories: &[&str],
    start: &str,
    end: &str,
    director: bool,
) -> Value {
    let mut roles = vec![json!({"text": "lid"})];
    if director {
        roles.push(json!({"coding": [{"system": "https://kring.example/fhir/CodeSystem/care-role", "code": "regisseur"}]}));
    }
    json!({"extension": cats(categories), "role": roles, "member": {"reference": role},
           "onBehalfOf": {"reference": format!("Organization/{org}")},
           "period": {"start": start, "end": end}})
}

fn consent(client: &str, givers: &[&str], provisions: Value) -> Value {
    json!({"resourceType": "Consent", "status": "active", "patient": {"reference": format!("Patient/{client}")},
           "performer": givers.iter().map(|g| json!({"reference": g})).collect::<Vec<_>>(),
           "provision": provisions})
}

fn permit(orgs: &[&str], categories: &[&str]) -> Value {
    json!({"type": "permit",
           "actor": orgs.iter().map(|o| json!({"reference": {"reference": format!("Organization/{o}")}})).collect::<Vec<_>>(),
           "class": categories.iter().map(|c| json!({"system": CAT, "code": c})).collect::<Vec<_>>()})
}

/// The world of the table: four organisations, four clients of different ages, their circles,
/// consents and two emergency declarations.
fn world() -> NeedToKnow {
    let d = NeedToKnow::new().unwrap();
    let put = |rtype: &str, id: &str, v: Value| d.observe_json(rtype, id, &v);
    for (role, pr, org) in [
        ("r-dir", "p-dir", "wijkteam"),
        ("r-jh", "p-jh", "jeugdhulp"),
        ("r-gp", "p-gp", "huisarts"),
        ("r-ended", "p-ended", "ggz"),
        ("r-future", "p-future", "ggz"),
        ("r-team", "p-team", "jeugdhulp"),
        ("r-out", "p-out", "ggz"),
        ("r-late", "p-late", "ggz"),
    ] {
        put(
            "PractitionerRole",
            role,
            json!({"resourceType": "PractitionerRole",
            "practitioner": {"reference": format!("Practitioner/{pr}")},
            "organization": {"reference": format!("Organization/{org}")}}),
        );
    }
    put(
        "CareTeam",
        "team-j",
        json!({"resourceType": "CareTeam", "status": "active", "participant": [
        {"member": {"reference": "PractitionerRole/r-team"}, "period": {"start": "2020-01-01"}}]}),
    );
    for (client, age, org) in [
        ("c8", 8, "jeugdhulp"),
        ("c13", 13, "jeugdhulp"),
        ("c17", 17, "jeugdhulp"),
        ("a40", 40, "wijkteam"),
    ] {
        put(
            "Patient",
            client,
            json!({"resourceType": "Patient", "birthDate": born(age),
            "managingOrganization": {"reference": format!("Organization/{org}")}}),
        );
        put(
            "RelatedPerson",
            &format!("{client}-mum"),
            json!({"resourceType": "RelatedPerson",
            "patient": {"reference": format!("Patient/{client}")},
            "relationship": [{"coding": [{"system": "https://kring.example/fhir/CodeSystem/legal-authority", "code": "gezag"}]}]}),
        );
        put(
            "RelatedPerson",
            &format!("{client}-stepdad"),
            json!({"resourceType": "RelatedPerson",
            "patient": {"reference": format!("Patient/{client}")},
            "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "STPPRN"}]}]}),
        );
        put(
            "CareTeam",
            &format!("{client}-circle"),
            json!({"resourceType": "CareTeam", "status": "active",
            "subject": {"reference": format!("Patient/{client}")}, "participant": [
                member("PractitionerRole/r-dir", "wijkteam", DIRECTOR, "2025-01-01", "2027-12-31", true),
                member("PractitionerRole/r-jh", "jeugdhulp", ALL, "2025-01-01", "2027-12-31", false),
                member("PractitionerRole/r-gp", "huisarts", GP, "2025-01-01", "2027-12-31", false),
                member("PractitionerRole/r-ended", "ggz", ALL, "2025-01-01", "2026-11-22", false),
                member("PractitionerRole/r-future", "ggz", ALL, "2026-11-24", "2027-12-31", false),
                member("CareTeam/team-j", "jeugdhulp", &["reports", "safety"], "2025-01-01", "2027-12-31", false),
            ]}),
        );
    }
    // c8: given by a parent with authority (valid under 12).
    put(
        "Consent",
        "k-c8",
        consent(
            "c8",
            &["RelatedPerson/c8-mum"],
            permit(&["wijkteam", "jeugdhulp", "huisarts"], SHARED_CATS),
        ),
    );
    // c13: given by the child alone (not valid from 12 to 15: parents must join).
    put(
        "Consent",
        "k-c13",
        consent(
            "c13",
            &["Patient/c13"],
            permit(&["wijkteam", "jeugdhulp", "huisarts"], SHARED_CATS),
        ),
    );
    // c17: one by a parent (no longer counts from 16), one by the young person for reports only.
    put(
        "Consent",
        "k-c17-parent",
        consent(
            "c17",
            &["RelatedPerson/c17-mum"],
            permit(&["wijkteam"], SHARED_CATS),
        ),
    );
    put(
        "Consent",
        "k-c17",
        consent("c17", &["Patient/c17"], permit(&["wijkteam"], &["reports"])),
    );
    // a40: permits the circle, denies the GP the medication, and permits the youth-care
    // organisation the treatment notes explicitly.
    put(
        "Consent",
        "k-a40",
        consent(
            "a40",
            &["Patient/a40"],
            json!({"type": "permit",
            "actor": [{"reference": {"reference": "Organization/jeugdhulp"}}, {"reference": {"reference": "Organization/huisarts"}}],
            "provision": [
                {"type": "deny", "actor": [{"reference": {"reference": "Organization/huisarts"}}], "class": [{"system": CAT, "code": "medication"}]},
                {"type": "permit", "actor": [{"reference": {"reference": "Organization/jeugdhulp"}}], "class": [{"system": CAT, "code": "treatment-notes"}]}
            ]}),
        ),
    );
    let declare = |id: &str, pr: &str, hours_ago: i64| {
        let v = kring_access::emergency::declaration(
            pr,
            "a40",
            "acute crisis at night",
            &[],
            now() - Duration::hours(hours_ago),
        );
        d.observe_json("Communication", id, &v);
    };
    declare("e-out", "p-out", 1);
    declare("e-late", "p-late", 5);
    // Sharing grants: each rests on an aid answer (the record checks that; here only the
    // decision is tried).
    let day = |days: i64| (now().date_naive() + Duration::days(days)).to_string();
    for (id, recipient, client, categories, ground, start, end, status) in [
        (
            "g-out",
            "Practitioner/p-out",
            "c13",
            &["crisis-plan", "safety"][..],
            "conflict-of-duties",
            day(-1),
            day(13),
            "active",
        ),
        (
            "g-gp-c17",
            "Organization/huisarts",
            "c17",
            &["reports"][..],
            "consent",
            day(-3),
            day(27),
            "active",
        ),
        (
            "g-gp-a40",
            "PractitionerRole/r-gp",
            "a40",
            &["medication"][..],
            "consent",
            day(0),
            day(1),
            "active",
        ),
        (
            "g-jh-a40",
            "Organization/jeugdhulp",
            "a40",
            &["medication"][..],
            "conflict-of-duties",
            day(0),
            day(30),
            "active",
        ),
        (
            "g-late",
            "Practitioner/p-late",
            "c8",
            &["reports"][..],
            "veilig-thuis-report",
            day(-20),
            day(-6),
            "active",
        ),
        (
            "g-withdrawn",
            "Practitioner/p-late",
            "c13",
            &["identity"][..],
            "co-treatment",
            day(-2),
            day(20),
            "inactive",
        ),
    ] {
        put(
            "Consent",
            id,
            grant(recipient, client, categories, ground, &start, &end, status),
        );
    }
    // a40 chose a supporter.
    put(
        "RelatedPerson",
        "a40-steun",
        json!({"resourceType": "RelatedPerson", "active": true, "patient": {"reference": "Patient/a40"},
        "relationship": [{"coding": [{"system": "https://kring.example/fhir/CodeSystem/portal-role", "code": "supporter"}]}]}),
    );
    // a40 refuses the youth-care organisation medication (and the GP, in k-a40): a grant on a
    // conflict of duties holds against that refusal, a grant on consent does not.
    put(
        "Consent",
        "k-a40-jh",
        consent(
            "a40",
            &["Patient/a40"],
            json!({"type": "deny", "actor": [{"reference": {"reference": "Organization/jeugdhulp"}}],
                   "class": [{"system": CAT, "code": "medication"}]}),
        ),
    );
    d
}

fn grant(
    recipient: &str,
    client: &str,
    categories: &[&str],
    ground: &str,
    start: &str,
    end: &str,
    status: &str,
) -> Value {
    use kring_access::sharing::{GRANT_CODE, GRANT_SYSTEM, GROUND_SYSTEM};
    json!({"resourceType": "Consent", "status": status,
           "category": [{"coding": [{"system": GRANT_SYSTEM, "code": GRANT_CODE}]}],
           "patient": {"reference": format!("Patient/{client}")},
           "organization": [{"reference": "Organization/wijkteam"}],
           "policyRule": {"coding": [{"system": GROUND_SYSTEM, "code": ground}]},
           "sourceReference": {"reference": "QuestionnaireResponse/qr"},
           "provision": {"type": "permit", "period": {"start": start, "end": end},
               "actor": [{"reference": {"reference": recipient}}],
               "class": categories.iter().map(|c| json!({"system": CAT, "code": c})).collect::<Vec<_>>()}})
}

fn pro(name: &str, org: &str) -> Subject {
    Subject::Professional {
        account: format!("acc-{name}"),
        practitioner: format!("p-{name}"),
        role: format!("r-{name}"),
        organisation: org.into(),
    }
}

fn partner(org: &str, scopes: &str) -> Subject {
    Subject::Partner {
        client_id: format!("{org}-ecd"),
        organisation: org.into(),
        scopes: Scopes::parse(scopes).unwrap(),
    }
}

fn client(p: &str) -> Subject {
    Subject::Client {
        account: format!("acc-{p}"),
        patient: p.into(),
    }
}

fn rep(rp: &str, p: &str) -> Subject {
    Subject::Representative {
        account: format!("acc-{rp}"),
        related_person: rp.into(),
        patient: p.into(),
    }
}

fn rtype_of(cat: Category) -> &'static str {
    match cat {
        Category::Identity => "Patient",
        Category::SupportPlan | Category::CrisisPlan => "CarePlan",
        Category::Reports | Category::Emergency => "Communication",
        Category::Medication => "MedicationRequest",
        Category::TreatmentNotes => "Condition",
        Category::Documents => "DocumentReference",
        Category::Safety => "RiskAssessment",
        Category::Circle => "CareTeam",
        Category::Consent => "Consent",
        Category::Shared => "Organization",
        Category::AccessLog => "AuditEvent",
        Category::Sharing => "QuestionnaireResponse",
        Category::Messages => "Communication",
    }
}

use Action::*;
use Category::*;

#[test]
fn scenario_table() {
    let d = world();
    let all = "system/*.cruds";
    #[rustfmt::skip]
    let table: Vec<(&str, Subject, Action, &str, Category, bool, &str)> = vec![
        ("case director reads a child's reports", pro("dir", "wijkteam"), Read, "c8", Reports, true, "circle-membership"),
        ("case director lacks medication", pro("dir", "wijkteam"), Read, "c8", Medication, false, "deny-by-default"),
        ("case director reads the crisis plan", pro("dir", "wijkteam"), Read, "c8", CrisisPlan, true, "circle-membership"),
        ("case director searches support plans", pro("dir", "wijkteam"), Search, "c8", SupportPlan, true, "circle-membership"),
        ("youth carer reads own organisation's treatment notes", pro("jh", "jeugdhulp"), Read, "c8", TreatmentNotes, true, "circle-membership"),
        ("case director lacks treatment notes", pro("dir", "wijkteam"), Read, "c8", TreatmentNotes, false, "treatment-notes-stay-inside"),
        ("GP reads medication", pro("gp", "huisarts"), Read, "c8", Medication, true, "circle-membership"),
        ("GP lacks reports", pro("gp", "huisarts"), Read, "c8", Reports, false, "deny-by-default"),
        ("ended membership grants nothing", pro("ended", "ggz"), Read, "c8", Identity, false, "no-running-membership"),
        ("future membership grants nothing yet", pro("future", "ggz"), Read, "c8", Identity, false, "no-running-membership"),
        ("team member reads reports through the team", pro("team", "jeugdhulp"), Read, "c8", Reports, true, "circle-membership"),
        ("team member lacks medication", pro("team", "jeugdhulp"), Read, "c8", Medication, false, "deny-by-default"),
        ("safety assessments only for named members", pro("team", "jeugdhulp"), Read, "c8", Safety, false, "safety-named-only"),
        ("named youth carer reads safety assessment", pro("jh", "jeugdhulp"), Read, "c8", Safety, true, "circle-membership"),
        ("professional outside the circle", pro("out", "ggz"), Read, "c8", Identity, false, "no-running-membership"),
        ("case director writes a report", pro("dir", "wijkteam"), Create, "c8", Reports, true, "circle-membership"),
        ("case director updates the support plan", pro("dir", "wijkteam"), Update, "c8", SupportPlan, true, "circle-membership"),
        ("case director may not delete another organisation's report", pro("dir", "wijkteam"), Delete, "c8", Reports, false, "deny-by-default"),
        ("youth carer deletes own organisation's report", pro("jh", "jeugdhulp"), Delete, "c8", Reports, true, "own-organisation-deletes"),
        ("case director manages the circle", pro("dir", "wijkteam"), Update, "c8", Circle, true, "circle-management"),
        ("a member who is not case director may not change the circle", pro("jh", "jeugdhulp"), Update, "c8", Circle, false, "deny-by-default"),
        ("members see the circle", pro("jh", "jeugdhulp"), Read, "c8", Circle, true, "circle-overview"),
        ("members see the consents", pro("gp", "huisarts"), Read, "c8", Consent, true, "circle-overview"),
        ("consent of a 13-year-old alone does not count", pro("dir", "wijkteam"), Read, "c13", Reports, false, "no-consent-for-other-organisation"),
        ("own organisation needs no consent", pro("jh", "jeugdhulp"), Read, "c13", Reports, true, "circle-membership"),
        ("a 17-year-old's own consent counts", pro("dir", "wijkteam"), Read, "c17", Reports, true, "circle-membership"),
        ("a parent's consent no longer counts at 17", pro("dir", "wijkteam"), Read, "c17", SupportPlan, false, "no-consent-for-other-organisation"),
        ("specific deny beats general permit", pro("gp", "huisarts"), Read, "a40", Medication, false, "consent-denies"),
        ("general permit holds elsewhere", pro("gp", "huisarts"), Read, "a40", CrisisPlan, true, "circle-membership"),
        ("treatment notes leave with explicit consent", pro("jh", "jeugdhulp"), Read, "a40", TreatmentNotes, true, "circle-membership"),
        ("own organisation's treatment notes need no consent", pro("jh", "jeugdhulp"), Read, "c17", TreatmentNotes, true, "circle-membership"),
        ("emergency opens the crisis plan", pro("out", "ggz"), Read, "a40", CrisisPlan, true, "emergency-access"),
        ("emergency opens medication", pro("out", "ggz"), Search, "a40", Medication, true, "emergency-access"),
        ("emergency opens contacts", pro("out", "ggz"), Read, "a40", Identity, true, "emergency-access"),
        ("emergency does not open reports", pro("out", "ggz"), Read, "a40", Reports, false, "deny-by-default"),
        ("emergency does not allow writing", pro("out", "ggz"), Update, "a40", CrisisPlan, false, "deny-by-default"),
        ("emergency ends after four hours", pro("late", "ggz"), Read, "a40", CrisisPlan, false, "no-running-membership"),
        ("partner system of a circle organisation", partner("jeugdhulp", all), Read, "c8", Reports, true, "partner-organisation-in-circle"),
        ("partner system without the scope", partner("jeugdhulp", "system/Patient.rs"), Read, "c8", Reports, false, "deny-by-default"),
        ("partner system of an organisation whose memberships ran out", partner("ggz", all), Read, "c8", Identity, false, "no-running-membership"),
        ("partner system registers a new client", partner("ggz", all), Create, "new-client", Identity, true, "partner-registers-client"),
        ("partner system needs consent like its people", partner("huisarts", all), Read, "c13", Medication, false, "no-consent-for-other-organisation"),
        ("client reads own treatment notes", client("c17"), Read, "c17", TreatmentNotes, true, "own-record"),
        ("client cannot read another client", client("c17"), Read, "c8", Identity, false, "deny-by-default"),
        ("client cannot change their circle", client("c17"), Update, "c17", Circle, false, "deny-by-default"),
        ("parent with authority reads a child's reports", rep("c8-mum", "c8"), Read, "c8", Reports, true, "parent-with-authority"),
        ("parent's authority to read ends at 16", rep("c17-mum", "c17"), Read, "c17", Reports, false, "deny-by-default"),
        ("a step-parent without authority", rep("c8-stepdad", "c8"), Read, "c8", Reports, false, "deny-by-default"),
        ("client records consent", client("c17"), Create, "c17", Consent, true, "client-decides-consent"),
        ("client writes in their own plan", client("c17"), Update, "c17", SupportPlan, true, "client-contributes"),
        ("client does not write reports", client("c17"), Create, "c17", Reports, false, "deny-by-default"),
        ("client does not write the crisis plan alone", client("c17"), Update, "c17", CrisisPlan, false, "deny-by-default"),
        ("parent writes in a young child's plan", rep("c8-mum", "c8"), Create, "c8", SupportPlan, true, "client-contributes"),
        ("parent no longer writes at 16", rep("c17-mum", "c17"), Create, "c17", SupportPlan, false, "deny-by-default"),
        ("parent records consent for a young child", rep("c8-mum", "c8"), Create, "c8", Consent, true, "client-decides-consent"),
        ("privacy officer does not read the record", Subject::Officer { account: "o".into(), organisation: "jeugdhulp".into() }, Read, "c8", Identity, false, "deny-by-default"),
        ("administrator of the client's organisation manages the circle", Subject::Administrator { account: "a".into(), organisation: "jeugdhulp".into() }, Update, "c8", Circle, true, "circle-management"),
        ("administrator of another organisation does not", Subject::Administrator { account: "a".into(), organisation: "wijkteam".into() }, Update, "c8", Circle, false, "deny-by-default"),
        ("administrator does not read the record", Subject::Administrator { account: "a".into(), organisation: "jeugdhulp".into() }, Read, "c8", Reports, false, "deny-by-default"),
        ("professionals see the shared directory", pro("out", "ggz"), Read, "", Shared, true, "shared-directory"),
        ("partner without a scope for the directory", partner("ggz", "system/Patient.rs"), Read, "", Shared, false, "deny-by-default"),
        ("the client reads who looked at their file", client("c17"), Read, "c17", AccessLog, true, "own-record"),
        ("a client does not read another client's access log", client("c17"), Search, "c8", AccessLog, false, "deny-by-default"),
        ("a parent with authority reads the child's access log", rep("c8-mum", "c8"), Search, "c8", AccessLog, true, "parent-with-authority"),
        ("the privacy officer of the client's organisation reads its log", Subject::Officer { account: "o".into(), organisation: "jeugdhulp".into() }, Search, "c8", AccessLog, true, "privacy-officer-reads-log"),
        ("a privacy officer of another organisation does not", Subject::Officer { account: "o".into(), organisation: "wijkteam".into() }, Read, "c8", AccessLog, false, "deny-by-default"),
        ("a professional in the circle does not read the access log", pro("jh", "jeugdhulp"), Read, "c8", AccessLog, false, "deny-by-default"),
        ("a partner system does not read the access log", partner("jeugdhulp", all), Search, "c8", AccessLog, false, "deny-by-default"),
        ("the operator at the command line", Subject::Operator, Export, "c8", TreatmentNotes, true, "operator"),
        ("the case director is told of emergency access", pro("dir", "wijkteam"), Read, "c8", Emergency, true, "emergency-notice"),
        ("another member of the circle is not", pro("jh", "jeugdhulp"), Read, "c8", Emergency, false, "deny-by-default"),
        ("the privacy officer of the client's organisation is told", Subject::Officer { account: "o".into(), organisation: "jeugdhulp".into() }, Search, "c8", Emergency, true, "emergency-notice"),
        ("the administrator of the client's organisation is told", Subject::Administrator { account: "a".into(), organisation: "jeugdhulp".into() }, Search, "c8", Emergency, true, "emergency-notice"),
        ("an administrator of another organisation is not", Subject::Administrator { account: "a".into(), organisation: "wijkteam".into() }, Read, "c8", Emergency, false, "deny-by-default"),
        ("the administrator sees who the client is", Subject::Administrator { account: "a".into(), organisation: "jeugdhulp".into() }, Read, "c8", Identity, true, "administrator-sees-clients"),
        ("the administrator does not write the client's identity", Subject::Administrator { account: "a".into(), organisation: "jeugdhulp".into() }, Update, "c8", Identity, false, "deny-by-default"),
        ("a partner deletes its own organisation's data", partner("jeugdhulp", all), Delete, "c8", Medication, true, "partner-organisation-deletes"),
        ("a partner without the delete scope does not", partner("jeugdhulp", "system/*.crus"), Delete, "c8", Medication, false, "deny-by-default"),
        ("a partner does not delete another organisation's data", partner("huisarts", all), Delete, "c8", Medication, false, "deny-by-default"),
        ("a grant opens the crisis plan to a professional outside the circle", pro("out", "ggz"), Read, "c13", CrisisPlan, true, "sharing-grant"),
        ("a grant naming safety opens it to one not named in the circle", pro("out", "ggz"), Search, "c13", Safety, true, "sharing-grant"),
        ("a grant always names who the client is", pro("out", "ggz"), Read, "c13", Identity, true, "sharing-grant"),
        ("a grant opens only its categories", pro("out", "ggz"), Read, "c13", Reports, false, "no-consent-for-other-organisation"),
        ("a grant does not allow writing", pro("out", "ggz"), Update, "c13", CrisisPlan, false, "no-consent-for-other-organisation"),
        ("a grant does not lift a refusal for writing", pro("jh", "jeugdhulp"), Update, "a40", Medication, false, "consent-denies"),
        ("a grant naming safety opens safety assessments", pro("out", "ggz"), Read, "c13", Safety, true, "sharing-grant"),
        ("a grant to an organisation opens the data to its people", pro("gp", "huisarts"), Read, "c17", Reports, true, "sharing-grant"),
        ("a grant to an organisation opens it to its partner system", partner("huisarts", all), Read, "c17", Reports, true, "sharing-grant"),
        ("a grant to an organisation still needs the partner's scope", partner("huisarts", "system/Patient.rs"), Read, "c17", Reports, false, "deny-by-default"),
        ("a grant on a conflict of duties holds against a refusal", pro("jh", "jeugdhulp"), Read, "a40", Medication, true, "sharing-grant"),
        ("a grant on consent does not hold against a refusal", pro("gp", "huisarts"), Read, "a40", Medication, false, "consent-denies"),
        ("a grant past its end opens nothing", pro("late", "ggz"), Read, "c8", Reports, false, "no-running-membership"),
        ("a withdrawn grant opens nothing", pro("late", "ggz"), Read, "c13", Identity, false, "no-running-membership"),
        ("a member of the circle records a sharing decision", pro("gp", "huisarts"), Create, "c8", Sharing, true, "sharing-decisions"),
        ("a member of the circle withdraws a share", pro("jh", "jeugdhulp"), Update, "c8", Sharing, true, "sharing-decisions"),
        ("one outside the circle does not see sharing decisions", pro("out", "ggz"), Read, "c8", Sharing, false, "no-running-membership"),
        ("a grant does not open the sharing decisions", pro("out", "ggz"), Read, "c13", Sharing, false, "deny-by-default"),
        ("the privacy officer of the client's organisation reviews sharing", Subject::Officer { account: "o".into(), organisation: "jeugdhulp".into() }, Search, "c8", Sharing, true, "privacy-officer-reviews-sharing"),
        ("a privacy officer of another organisation does not", Subject::Officer { account: "o".into(), organisation: "wijkteam".into() }, Search, "c8", Sharing, false, "deny-by-default"),
        ("the client sees the sharing decisions about them", client("c17"), Read, "c17", Sharing, true, "own-record"),
        ("a privacy officer does not change the directory", Subject::Officer { account: "o".into(), organisation: "jeugdhulp".into() }, Update, "", Shared, false, "deny-by-default"),
        ("a partner system does not record sharing decisions", partner("jeugdhulp", all), Create, "c8", Sharing, false, "deny-by-default"),
    ];
    assert!(table.len() >= 40);
    let mut failures = Vec::new();
    for (name, subject, action, client, cat, expect, rule) in &table {
        let t = Target::new(rtype_of(*cat), Some("x"), client, *cat);
        let got = d.decide_at(subject, *action, &t, now());
        if got.permit != *expect
            || !got
                .reasons
                .iter()
                .any(|r| r.to_string() == format!("rule:{rule}") || r.to_string() == *rule)
        {
            failures.push(format!(
                "{name}: expected {} by {rule}, got {:?}",
                if *expect { "permit" } else { "deny" },
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn a_message_is_for_its_parties_only() {
    let d = world();
    let message = |parties: &[&str]| {
        let mut t = Target::new("Communication", Some("m1"), "c13", Messages);
        t.parties = parties.iter().map(|p| p.to_string()).collect();
        t
    };
    let to_jh = message(&["Patient/c13", "PractitionerRole/r-jh"]);
    let allowed = |s: &Subject, t: &Target| d.decide_at(s, Read, t, now()).permit;
    assert!(allowed(&client("c13"), &to_jh));
    assert!(allowed(&pro("jh", "jeugdhulp"), &to_jh));
    // The case director is in the circle but not a party; the GP neither.
    assert!(!allowed(&pro("dir", "wijkteam"), &to_jh));
    assert!(!allowed(&pro("gp", "huisarts"), &to_jh));
    // A parent sees the messages to or from them, not the child's own.
    assert!(!allowed(&rep("c13-mum", "c13"), &to_jh));
    assert!(allowed(
        &rep("c13-mum", "c13"),
        &message(&["RelatedPerson/c13-mum", "PractitionerRole/r-gp"])
    ));
    // One outside the circle, even if named, reads nothing.
    assert!(!allowed(
        &pro("out", "ggz"),
        &message(&["Patient/c13", "PractitionerRole/r-out"])
    ));
    // A message to another organisation of the circle needs no consent of its own.
    let to_gp = message(&["Patient/c13", "PractitionerRole/r-gp"]);
    assert!(allowed(&pro("gp", "huisarts"), &to_gp));
    let got = d.decide_at(&pro("gp", "huisarts"), Read, &to_gp, now());
    assert!(
        got.reasons
            .contains(&Reason::Rule("messages-between-parties".into())),
        "{got:?}"
    );
    // Searching messages is open to the circle; each message is then decided on its own.
    assert!(
        d.decide_at(
            &pro("dir", "wijkteam"),
            Search,
            &Target::new("Communication", None, "c13", Messages),
            now()
        )
        .permit
    );
    assert!(d.decide_at(&client("c13"), Create, &to_jh, now()).permit);
}

#[test]
fn a_supporter_sees_the_plan_and_their_messages_only() {
    let d = world();
    let steun = Subject::Supporter {
        account: "acc-steun".into(),
        related_person: "a40-steun".into(),
        patient: "a40".into(),
    };
    let allowed = |a: Action, t: &Target| d.decide_at(&steun, a, t, now()).permit;
    assert!(allowed(
        Read,
        &Target::new("CarePlan", Some("p"), "a40", SupportPlan)
    ));
    assert!(allowed(
        Search,
        &Target::new("Goal", None, "a40", SupportPlan)
    ));
    assert!(!allowed(
        Update,
        &Target::new("CarePlan", Some("p"), "a40", SupportPlan)
    ));
    for cat in [
        Identity,
        CrisisPlan,
        Reports,
        Medication,
        TreatmentNotes,
        Circle,
        Consent,
        AccessLog,
    ] {
        assert!(
            !allowed(Read, &Target::new(rtype_of(cat), Some("x"), "a40", cat)),
            "{cat:?}"
        );
    }
    let mut to_me = Target::new("Communication", Some("m"), "a40", Messages);
    to_me.parties = vec![
        "RelatedPerson/a40-steun".into(),
        "PractitionerRole/r-jh".into(),
    ];
    assert!(allowed(Read, &to_me));
    let mut not_to_me = to_me.clone();
    not_to_me.parties = vec!["Patient/a40".into(), "PractitionerRole/r-jh".into()];
    assert!(!allowed(Read, &not_to_me));
    // Another client's plan, or a parent's relation, is not a supporter's.
    assert!(!allowed(
        Read,
        &Target::new("CarePlan", Some("p"), "c8", SupportPlan)
    ));
    let stranger = Subject::Supporter {
        account: "acc-x".into(),
        related_person: "c8-mum".into(),
        patient: "a40".into(),
    };
    assert!(
        !d.decide_at(
            &stranger,
            Read,
            &Target::new("CarePlan", Some("p"), "a40", SupportPlan),
            now()
        )
        .permit
    );
}

#[test]
fn the_privacy_officer_changes_the_words_of_the_aid_only() {
    let d = world();
    let officer = Subject::Officer {
        account: "o".into(),
        organisation: "jeugdhulp".into(),
    };
    let questions = Target::new("Questionnaire", Some("kiezen-en-delen"), "", Shared);
    let got = d.decide_at(&officer, Update, &questions, now());
    assert!(got.permit, "{got:?}");
    assert!(got
        .reasons
        .contains(&Reason::Rule("privacy-officer-keeps-questions".into())));
    assert!(!d.decide_at(&officer, Delete, &questions, now()).permit);
    let other = Target::new("Questionnaire", Some("intake"), "", Shared);
    assert!(!d.decide_at(&officer, Update, &other, now()).permit);
    assert!(
        !d.decide_at(&pro("dir", "wijkteam"), Update, &questions, now())
            .permit
    );
}

#[test]
fn a_withheld_sharing_decision_is_hidden_from_the_client_and_parents_only() {
    let d = world();
    let mut t = Target::new("Consent", Some("g"), "c8", Sharing);
    t.withheld = true;
    let got = d.decide_at(&rep("c8-mum", "c8"), Read, &t, now());
    assert!(!got.permit);
    assert!(got
        .reasons
        .contains(&Reason::Rule("sharing-withheld-from-client".into())));
    assert!(
        !d.decide_at(
            &client("c17"),
            Read,
            &Target {
                client_key: "c17".into(),
                ..t.clone()
            },
            now()
        )
        .permit
    );
    assert!(d.decide_at(&pro("jh", "jeugdhulp"), Read, &t, now()).permit);
    let officer = Subject::Officer {
        account: "o".into(),
        organisation: "jeugdhulp".into(),
    };
    assert!(d.decide_at(&officer, Read, &t, now()).permit);
}

#[test]
fn a_grant_is_named_as_the_ground_and_widens_the_search_scope() {
    let d = world();
    let got = d.decide_at(
        &pro("out", "ggz"),
        Read,
        &Target::new("CarePlan", None, "c13", CrisisPlan),
        now(),
    );
    assert!(
        got.reasons.contains(&Reason::Grant("g-out".into())),
        "{got:?}"
    );
    let scope = d.scope_at(&pro("out", "ggz"), "CarePlan", now()).unwrap();
    // Only the crisis plans of c13 (and of a40, through the running emergency).
    assert!(scope.clients.is_empty(), "{scope:?}");
    assert!(
        scope
            .partial
            .iter()
            .any(|(cs, _)| cs.iter().any(|c| c == "c13")),
        "{scope:?}"
    );
    let scope = d
        .scope_at(&pro("out", "ggz"), "Observation", now())
        .unwrap();
    assert!(!scope.clients.iter().any(|c| c == "c13"), "{scope:?}");
}

#[test]
fn the_log_of_a_user_is_for_the_privacy_officer_of_their_organisation_only() {
    let d = world();
    let mut t = Target::new("AuditEvent", None, "", AccessLog);
    t.owner = Some("jeugdhulp".into());
    let officer = |org: &str| Subject::Officer {
        account: "o".into(),
        organisation: org.into(),
    };
    assert!(d.decide_at(&officer("jeugdhulp"), Search, &t, now()).permit);
    assert!(!d.decide_at(&officer("ggz"), Search, &t, now()).permit);
    // An entry without a client is not shared data: nobody else reads it.
    assert!(
        !d.decide_at(&pro("out", "jeugdhulp"), Search, &t, now())
            .permit
    );
    assert!(!d.decide_at(&client("c17"), Search, &t, now()).permit);
}

#[test]
fn permits_name_their_membership_consent_and_emergency() {
    let d = world();
    let got = d.decide_at(
        &pro("dir", "wijkteam"),
        Read,
        &Target::new("Communication", None, "c8", Reports),
        now(),
    );
    assert!(
        got.reasons.contains(&Reason::Membership {
            circle: "c8-circle".into(),
            index: 0
        }),
        "{got:?}"
    );
    assert!(
        got.reasons.contains(&Reason::Consent("k-c8".into())),
        "{got:?}"
    );
    let got = d.decide_at(
        &pro("out", "ggz"),
        Read,
        &Target::new("CarePlan", None, "a40", CrisisPlan),
        now(),
    );
    assert!(
        got.reasons.contains(&Reason::Emergency("e-out".into())),
        "{got:?}"
    );
}

#[test]
fn withdrawing_consent_counts_at_the_next_request() {
    let d = world();
    let t = Target::new("Communication", None, "c8", Reports);
    assert!(d.decide_at(&pro("dir", "wijkteam"), Read, &t, now()).permit);
    let mut withdrawn = consent(
        "c8",
        &["RelatedPerson/c8-mum"],
        permit(&["wijkteam", "jeugdhulp", "huisarts"], SHARED_CATS),
    );
    withdrawn["status"] = json!("inactive");
    d.observe_json("Consent", "k-c8", &withdrawn);
    let got = d.decide_at(&pro("dir", "wijkteam"), Read, &t, now());
    assert!(
        !got.permit
            && got
                .rules()
                .any(|r| r == "no-consent-for-other-organisation"),
        "{got:?}"
    );
    // Its own organisation still sees it.
    assert!(d.decide_at(&pro("jh", "jeugdhulp"), Read, &t, now()).permit);
}

#[test]
fn ending_a_membership_counts_at_the_next_request() {
    let d = world();
    let t = Target::new("Communication", None, "c8", Reports);
    assert!(d.decide_at(&pro("dir", "wijkteam"), Read, &t, now()).permit);
    d.observe_json("CareTeam", "c8-circle", &json!({"resourceType": "CareTeam", "status": "active",
        "subject": {"reference": "Patient/c8"}, "participant": [
            member("PractitionerRole/r-dir", "wijkteam", DIRECTOR, "2025-01-01", "2026-11-01", true)]}));
    assert!(!d.decide_at(&pro("dir", "wijkteam"), Read, &t, now()).permit);
}

#[test]
fn consent_recorded_by_someone_who_may_not_give_it_is_refused_with_a_reason() {
    let d = world();
    let body = |givers: &[&str], client: &str| {
        serde_json::to_vec(&consent(client, givers, permit(&["ggz"], &["reports"]))).unwrap()
    };
    let kid13 = client("c13");
    let err = d
        .check_write_json(&kid13, "Consent", &body(&["Patient/c13"], "c13"))
        .unwrap_err();
    assert!(err.contains("between 12 and 15"), "{err}");
    assert!(d
        .check_write_json(
            &kid13,
            "Consent",
            &body(&["Patient/c13", "RelatedPerson/c13-mum"], "c13")
        )
        .is_ok());
    let err = d
        .check_write_json(
            &rep("c17-mum", "c17"),
            "Consent",
            &body(&["RelatedPerson/c17-mum"], "c17"),
        )
        .unwrap_err();
    assert!(err.contains("16 or older"), "{err}");
    let err = d
        .check_write_json(
            &rep("c8-stepdad", "c8"),
            "Consent",
            &body(&["RelatedPerson/c8-stepdad"], "c8"),
        )
        .unwrap_err();
    assert!(err.contains("younger than 12"), "{err}");
    let err = d
        .check_write_json(
            &rep("c8-stepdad", "c8"),
            "Consent",
            &body(&["RelatedPerson/c8-mum"], "c8"),
        )
        .unwrap_err();
    assert!(err.contains("give yourself"), "{err}");
}

#[test]
fn search_scope_lists_exactly_the_permitted_clients() {
    let d = world();
    let scope = d
        .scope_at(&pro("dir", "wijkteam"), "Communication", now())
        .unwrap();
    // c13's consent is invalid for the wijkteam, c17 consented to reports for the wijkteam,
    // a40 is the wijkteam's own client.
    assert_eq!(
        scope.clients.to_vec(),
        vec!["a40".to_string(), "c17".to_string(), "c8".to_string()]
    );
    let scope = d.scope_at(&pro("out", "ggz"), "CarePlan", now()).unwrap();
    // Emergency: the crisis plan of a40 only, and through a sharing grant that of c13, in a
    // partial scope.
    assert!(scope.clients.is_empty());
    assert_eq!(scope.partial.len(), 1);
    assert_eq!(
        scope.partial[0].0,
        vec!["a40".to_string(), "c13".to_string()]
    );
    assert!(!scope.partial[0].1.negate);
    assert!(d.scope_at(&Subject::Operator, "Patient", now()).is_none());
    let _ = NaiveDate::MIN;
}
