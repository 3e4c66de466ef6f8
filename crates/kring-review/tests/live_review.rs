//! The review of Kring's own log, end to end on real parts: a SQLite record store, the real
//! access log, the review store. A practitioner reads a client in their circle (explained) and
//! a neighbour's record (not); the run finds one case, the officer decides and warns, the
//! decision survives a second run, and the month's report and PDF carry the figures.

use std::sync::Arc;

use kring_access::{Category, NeedToKnow, Subject, Target};
use kring_audit::{LogConfig, MerkleLog};
use kring_record::logging::entry_for;
use kring_record::{Caller, Record};
use kring_review::report::{month_report, pdf, PdfLabels};
use kring_review::{screen_live, Decision, Review};
use kring_store::Store;
use serde_json::json;

async fn record(dir: &std::path::Path) -> (Record, Arc<MerkleLog>) {
    let store: Arc<dyn Store> = Arc::new(
        kring_store_sqlite::SqliteStore::open(&format!("sqlite:{}", dir.join("k.db").display()))
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let log = Arc::new(
        MerkleLog::open(LogConfig::at(&dir.join("log.db")))
            .await
            .unwrap(),
    );
    let record = Record::new(store, Arc::new(NeedToKnow::new().unwrap()), log.clone());
    (record, log)
}

/// Writes a test's network into the record as the operator.
async fn put_all(record: &Record, resources: impl IntoIterator<Item = serde_json::Value>) {
    let op = Caller::operator("test");
    for r in resources {
        let t = r["resourceType"].as_str().unwrap().to_string();
        let id = r["id"].as_str().unwrap().to_string();
        record.update(&op, &t, &id, r, None).await.unwrap();
    }
}

fn professional() -> Caller {
    Caller::new(
        Subject::Professional {
            account: "a-anna".into(),
            practitioner: "anna".into(),
            role: "anna-role".into(),
            organisation: "ggz".into(),
        },
        "10.0.0.7",
    )
    .with_name("Anna")
    .with_system("kring-web")
}

#[tokio::test]
async fn the_live_log_becomes_cases_decisions_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let (record, log) = record(dir.path()).await;
    let home =
        |line: &str, pc: &str| json!([{"line": [line], "postalCode": pc, "city": "Zaandam"}]);
    let resources = [
        json!({"resourceType": "Organization", "id": "ggz", "name": "GGZ"}),
        json!({"resourceType": "Practitioner", "id": "anna", "name": [{"family": "Bakker", "given": ["Anna"]}], "birthDate": "1980-01-01", "address": home("Kerkstraat 3", "1501AA")}),
        json!({"resourceType": "PractitionerRole", "id": "anna-role", "practitioner": {"reference": "Practitioner/anna"}, "organization": {"reference": "Organization/ggz"}, "code": [{"text": "GZ-psycholoog"}]}),
        json!({"resourceType": "Patient", "id": "p-own", "name": [{"family": "Jansen", "given": ["Piet"]}], "birthDate": "1950-02-02", "managingOrganization": {"reference": "Organization/ggz"}, "address": home("Molenweg 1", "1502BB")}),
        json!({"resourceType": "Patient", "id": "p-next", "name": [{"family": "Visser", "given": ["Els"]}], "birthDate": "1960-03-03", "managingOrganization": {"reference": "Organization/ggz"}, "address": home("Kerkstraat 9", "1501AA")}),
        json!({"resourceType": "CareTeam", "id": "ct", "subject": {"reference": "Patient/p-own"}, "participant": [{"member": {"reference": "PractitionerRole/anna-role"}, "period": {"start": "2020-01-01"}}]}),
    ];
    put_all(&record, resources).await;
    // Anna reads her own client and, twice, her neighbour's record.
    let anna = professional();
    for client in ["p-own", "p-next", "p-next"] {
        let target = Target::new("CarePlan", Some("cp"), client, Category::SupportPlan);
        record
            .log_event(entry_for(&anna, "R", "read", "success", &target, &[]))
            .await
            .unwrap();
    }
    let review = Review::open(&dir.path().join("review.db")).await.unwrap();
    let first = screen_live(&review, &record, "test", 31).await.unwrap();
    assert_eq!(first.accesses, 3, "{first:?}");
    assert_eq!(first.explained, 1);
    assert_eq!(first.cases, 1);
    let org = "Organization/ggz";
    let open = review.cases(org, false, 10).await.unwrap();
    assert_eq!(open.len(), 1);
    let case = &open[0];
    assert_eq!(case.user, "Practitioner/anna");
    assert_eq!(case.client, "Patient/p-next");
    assert!(
        case.reasons.contains(&"neighbour".to_string()),
        "{:?}",
        case.reasons
    );
    assert_eq!(case.evidence.accesses.len(), 2);
    assert!(!case.evidence.tried.is_empty());
    // Another organisation's officer does not see the case.
    assert!(review
        .cases("Organization/other", false, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(review.case("Organization/other", case.id).await.is_err());

    let now = kring_fhir::datetime::now_ms();
    review
        .decide(
            org,
            case.id,
            Decision::Warn,
            "gesprek gevoerd",
            "account/officer",
            now,
        )
        .await
        .unwrap();
    review
        .warn(org, case.id, "Niet doen.", "account/officer", now)
        .await
        .unwrap();
    assert!(review
        .warn(org, case.id, "  ", "account/officer", now)
        .await
        .is_err());
    let warnings = review.unread_warnings("Practitioner/anna").await.unwrap();
    assert_eq!(warnings.len(), 1);
    review
        .mark_read("Practitioner/anna", warnings[0].id, now)
        .await
        .unwrap();
    assert!(review
        .unread_warnings("Practitioner/anna")
        .await
        .unwrap()
        .is_empty());

    // A second run mirrors only what is new (the first run's own reading entries, which
    // name no practitioner) and keeps the decision.
    let second = screen_live(&review, &record, "test", 31).await.unwrap();
    assert_eq!(second.accesses, 3);
    assert!(review.cases(org, false, 10).await.unwrap().is_empty());
    let decided = review.cases(org, true, 10).await.unwrap();
    assert_eq!(decided[0].decision, Some(Decision::Warn));
    assert_eq!(decided[0].note, "gesprek gevoerd");
    // The runs read the log and the context, and said so in the log.
    let entries = log.size().await.unwrap();
    assert!(entries > 3, "{entries}");

    let month = kring_review::live::local_day(kring_fhir::datetime::now_ms())[..7].to_string();
    let report = month_report(&review, org, &month).await.unwrap();
    assert_eq!(report.accesses, 3);
    assert_eq!(report.explained, 1);
    assert_eq!(report.cases, 1);
    assert_eq!(report.reviewed, 1);
    assert_eq!(report.warnings_sent, 1);
    assert!(report.outcomes.contains(&(Decision::Warn, 1)));
    // The officer's decisions are the truth of what a score meant here: the one decided case
    // (warned, so found unjustified) sits in the band of its score.
    let band = report
        .calibration
        .iter()
        .find(|b| {
            let s = decided[0].score;
            b.low <= s && (s < b.high || b.high >= 1.0)
        })
        .unwrap();
    assert_eq!((band.findings, band.violations), (1, 1));
    assert_eq!(band.violation_share(), 1.0);
    assert_eq!(band.mean_score(), decided[0].score);
    assert_eq!(
        report.calibration.iter().map(|b| b.findings).sum::<u64>(),
        1
    );
    let labels = PdfLabels {
        title: "Maandrapport toezicht".into(),
        organisation: org.into(),
        figures: vec![("Toegang tot dossiers".into(), "3".into())],
        daily: "Toegang per dag".into(),
        outcomes: "Besluiten".into(),
        outcome_names: vec![
            "Terecht".into(),
            "Onterecht".into(),
            "Waarschuwen".into(),
            "Escaleren".into(),
        ],
        reasons: "Signalen".into(),
        reason_names: vec![("buren".into(), 1)],
        offenders: "Herhaalde overtreders".into(),
        offender_lines: vec![],
        calibration: "Wat een risicoscore hier betekende".into(),
        calibration_intro: "De beoordeelde zaken van deze maand per risicoscore.".into(),
        calibration_heads: [
            "Risicoscore".into(),
            "Beoordeeld".into(),
            "Onterecht gevonden".into(),
        ],
        calibration_rows: vec![(
            "90-100 %".into(),
            "1 (gemiddeld 97 %)".into(),
            "1 (100 %)".into(),
        )],
        footer: "Vertrouwelijk".into(),
    };
    let bytes = pdf(&report, &labels);
    assert!(bytes.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Maandrapport toezicht"));
    // The calibration table on its own page.
    assert!(text.contains("/Count 2"), "two pages");
    assert!(text.contains("Wat een risicoscore hier betekende"));
    assert!(text.contains("1 (gemiddeld 97 %)"));
    assert!(text.trim_end().ends_with("%%EOF"));
    review.close().await;
    log.shut_down().await.unwrap();
}

/// An access nothing explains and no signal marks, by staff of an organisation that takes part
/// in the client's care, is most likely unregistered work: it is not a case in the queue but
/// in the week's spot-check sample. The same access to a client in whose care the
/// organisation has no part is a case.
#[tokio::test]
async fn only_unexplained_accesses_go_to_the_weekly_sample_not_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (record, _log) = record(dir.path()).await;
    let resources = [
        json!({"resourceType": "Organization", "id": "ggz", "name": "GGZ"}),
        json!({"resourceType": "Organization", "id": "jeugd", "name": "Jeugdhulp"}),
        json!({"resourceType": "Practitioner", "id": "anna", "name": [{"family": "Bakker", "given": ["Anna"]}]}),
        json!({"resourceType": "PractitionerRole", "id": "anna-role", "practitioner": {"reference": "Practitioner/anna"}, "organization": {"reference": "Organization/ggz"}, "code": [{"text": "GZ-psycholoog"}]}),
        json!({"resourceType": "Practitioner", "id": "bob", "name": [{"family": "Smit", "given": ["Bob"]}]}),
        json!({"resourceType": "PractitionerRole", "id": "bob-role", "practitioner": {"reference": "Practitioner/bob"}, "organization": {"reference": "Organization/ggz"}, "code": [{"text": "GZ-psycholoog"}]}),
        json!({"resourceType": "Practitioner", "id": "joost", "name": [{"family": "Mulder", "given": ["Joost"]}]}),
        json!({"resourceType": "PractitionerRole", "id": "joost-role", "practitioner": {"reference": "Practitioner/joost"}, "organization": {"reference": "Organization/jeugd"}, "code": [{"text": "Jeugdhulpverlener"}]}),
        // A client of ggz in Bob's circle (Anna works beside him, unregistered).
        json!({"resourceType": "Patient", "id": "p-ggz", "name": [{"family": "Jansen", "given": ["Piet"]}], "birthDate": "1950-02-02", "managingOrganization": {"reference": "Organization/ggz"}}),
        json!({"resourceType": "CareTeam", "id": "ct-ggz", "subject": {"reference": "Patient/p-ggz"}, "participant": [{"member": {"reference": "PractitionerRole/bob-role"}, "period": {"start": "2020-01-01"}}]}),
        // Anna's own client.
        json!({"resourceType": "Patient", "id": "p-mine", "name": [{"family": "Kok", "given": ["Noor"]}], "birthDate": "1970-04-04", "managingOrganization": {"reference": "Organization/ggz"}}),
        json!({"resourceType": "CareTeam", "id": "ct-mine", "subject": {"reference": "Patient/p-mine"}, "participant": [{"member": {"reference": "PractitionerRole/anna-role"}, "period": {"start": "2020-01-01"}}]}),
        // A client of jeugd, in whose care ggz has no part.
        json!({"resourceType": "Patient", "id": "p-jeugd", "name": [{"family": "Bos", "given": ["Lies"]}], "birthDate": "2012-03-03", "managingOrganization": {"reference": "Organization/jeugd"}}),
        json!({"resourceType": "CareTeam", "id": "ct-jeugd", "subject": {"reference": "Patient/p-jeugd"}, "participant": [{"member": {"reference": "PractitionerRole/joost-role"}, "period": {"start": "2020-01-01"}}]}),
    ];
    put_all(&record, resources).await;
    let anna = professional();
    // Anna's own work first, enough of it that the hour the test runs is her usual hour
    // (with little history a read at night would carry the off-hours signal, by right).
    let own = Target::new("CarePlan", Some("cp"), "p-mine", Category::SupportPlan);
    for _ in 0..kring_oversight::signals::MIN_HISTORY {
        record
            .log_event(entry_for(&anna, "R", "read", "success", &own, &[]))
            .await
            .unwrap();
    }
    // Anna opens Bob's client twice (unregistered work recurs; a single look would be
    // flagged), and the jeugd client once.
    for client in ["p-ggz", "p-ggz", "p-jeugd"] {
        let target = Target::new("CarePlan", Some("cp"), client, Category::SupportPlan);
        record
            .log_event(entry_for(&anna, "R", "read", "success", &target, &[]))
            .await
            .unwrap();
    }
    let review = Review::open(&dir.path().join("review.db")).await.unwrap();
    screen_live(&review, &record, "test", 31).await.unwrap();
    let org = "Organization/ggz";
    let open = review.cases(org, false, 10).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].client, "Patient/p-jeugd");
    let now = kring_fhir::datetime::now_ms();
    let (sample, total) = review
        .weekly_sample(org, now - 86_400_000, 10)
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(sample[0].client, "Patient/p-ggz");
    assert_eq!(sample[0].reasons, vec!["no-explanation".to_string()]);
    // Another week holds nothing; the pick of a week is the same each time.
    let (other, none) = review
        .weekly_sample(org, now - 14 * 86_400_000, 10)
        .await
        .unwrap();
    assert!(other.is_empty() && none == 0);
    let (again, _) = review
        .weekly_sample(org, now - 86_400_000, 10)
        .await
        .unwrap();
    assert_eq!(again[0].id, sample[0].id);
}

/// Emergency access with a reason by the crisis service is explained and still reviewed: its
/// case carries what made it routine (the role), its score is a low chance, and it is not
/// flagged; the staff member's other, unexplained look is flagged with a high chance.
#[tokio::test]
async fn a_routine_emergency_case_shows_what_explained_it() {
    let dir = tempfile::tempdir().unwrap();
    let (record, _log) = record(dir.path()).await;
    let resources = [
        json!({"resourceType": "Organization", "id": "ggz", "name": "GGZ"}),
        json!({"resourceType": "Organization", "id": "jeugd", "name": "Jeugdhulp"}),
        json!({"resourceType": "Practitioner", "id": "carla", "name": [{"family": "Vos", "given": ["Carla"]}]}),
        json!({"resourceType": "PractitionerRole", "id": "carla-role", "practitioner": {"reference": "Practitioner/carla"}, "organization": {"reference": "Organization/ggz"}, "code": [{"text": "Crisisdienst"}]}),
        json!({"resourceType": "Patient", "id": "p-ggz", "name": [{"family": "Jansen", "given": ["Piet"]}], "birthDate": "1950-02-02", "managingOrganization": {"reference": "Organization/ggz"}}),
        json!({"resourceType": "Patient", "id": "p-jeugd", "name": [{"family": "Bos", "given": ["Lies"]}], "birthDate": "2012-03-03", "managingOrganization": {"reference": "Organization/jeugd"}}),
    ];
    put_all(&record, resources).await;
    let carla = Caller::new(
        Subject::Professional {
            account: "a-carla".into(),
            practitioner: "carla".into(),
            role: "carla-role".into(),
            organisation: "ggz".into(),
        },
        "10.0.0.8",
    )
    .with_name("Carla")
    .with_system("kring-web");
    let target = |client| Target::new("CarePlan", Some("cp"), client, Category::CrisisPlan);
    record
        .log_event(entry_for(
            &carla,
            "R",
            "read",
            "success",
            &target("p-ggz"),
            &[kring_access::Reason::Emergency("decl-1".into())],
        ))
        .await
        .unwrap();
    record
        .log_event(entry_for(
            &carla,
            "R",
            "read",
            "success",
            &target("p-jeugd"),
            &[],
        ))
        .await
        .unwrap();
    let review = Review::open(&dir.path().join("review.db")).await.unwrap();
    screen_live(&review, &record, "test", 31).await.unwrap();
    let open = review.cases("Organization/ggz", false, 10).await.unwrap();
    let case = |client: &str| open.iter().find(|c| c.client == client).unwrap();
    let routine = case("Patient/p-ggz");
    let access = &routine.evidence.accesses[0];
    assert!(access.emergency);
    assert_eq!(
        access.grounds.as_deref(),
        Some("noodtoegang met een opgegeven reden, door de rol crisisdienst")
    );
    assert!(routine.score < 0.05, "{}", routine.score);
    let other = case("Patient/p-jeugd");
    assert!(other.score > 0.9, "{}", other.score);
    assert!(other.evidence.accesses[0].grounds.is_none());
}
