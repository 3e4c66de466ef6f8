//! Daily work through the production router, as two signed-in professionals of one
//! residential location: reports, the support plan's agreements, the crisis plan and a
//! medication round with its double check — what each page stores, what it refuses (with the
//! rule in Dutch, nothing stored), and that a partner system's sign-off through the FHIR API
//! obeys the same double-check rule.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{NaiveTime, Timelike};
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::{now_ms, sessions};
use kring_server::pages::dates;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::every_backend;
use crate::harness::TestApp;

const CAT: &str = "https://kring.example/fhir/CodeSystem/data-category";
const EXT: &str = "https://kring.example/fhir/StructureDefinition/data-categories";
const ROLE: &str = "https://kring.example/fhir/CodeSystem/care-role";

/// A signed-in professional: their session cookie.
struct Pro {
    cookie: String,
}

fn member(role: &str, director: bool, categories: &[&str]) -> Value {
    let mut m = json!({
        "extension": [{"url": EXT, "valueCodeableConcept": {"coding":
            categories.iter().map(|c| json!({"system": CAT, "code": c})).collect::<Vec<_>>()}}],
        "member": {"reference": format!("PractitionerRole/{role}")},
        "onBehalfOf": {"reference": "Organization/linde"},
        "period": {"start": "2020-01-01"}});
    if director {
        m["role"] = json!([{"coding": [{"system": ROLE, "code": "regisseur"}]}]);
    }
    m
}

/// Zorggroep De Linde with a location where client Lotte stays; Gerda (her case director)
/// and Kees (a colleague with medication and reports) work there; Lotte takes insulin (high
/// risk) at 08:00 and 20:00 and paracetamol at 08:00.
async fn world(app: &TestApp) -> (Pro, Pro) {
    let put = |path: String, body: Value| async move {
        let mut body = body;
        body["id"] = json!(path.rsplit('/').next().unwrap());
        let r = app.put(&format!("/fhir/{path}"), &body).await;
        assert!(r.status.is_success(), "{path}: {:?}", r.body);
    };
    put(
        "Organization/linde".into(),
        json!({"resourceType": "Organization", "name": "Zorggroep De Linde"}),
    )
    .await;
    put(
        "Location/lindelaan".into(),
        json!({"resourceType": "Location", "status": "active", "name": "Woonlocatie Lindelaan",
               "managingOrganization": {"reference": "Organization/linde"}}),
    )
    .await;
    let mut pros = Vec::new();
    for (p, given, family) in [("gerda", "Gerda", "Visser"), ("kees", "Kees", "Bos")] {
        put(
            format!("Practitioner/{p}"),
            json!({"resourceType": "Practitioner", "name": [{"family": family, "given": [given]}]}),
        )
        .await;
        put(
            format!("PractitionerRole/{p}-role"),
            json!({"resourceType": "PractitionerRole",
            "practitioner": {"reference": format!("Practitioner/{p}")},
            "organization": {"reference": "Organization/linde"}, "code": [{"text": "Begeleider"}]}),
        )
        .await;
        let mut a = accounts::blank(p, Kind::Professional);
        a.organisation = Some("linde".into());
        a.practitioner = Some(p.into());
        a.role = Some(format!("{p}-role"));
        accounts::create(&*app.accounts, a, "correct horse battery staple", true)
            .await
            .unwrap();
        let (cookie, _) = sessions::start(&*app.accounts, p, true, now_ms())
            .await
            .unwrap();
        pros.push(Pro { cookie });
    }
    put(
        "Patient/lotte".into(),
        json!({"resourceType": "Patient", "name": [{"family": "Jansen", "given": ["Lotte"]}],
               "birthDate": "1970-03-03", "managingOrganization": {"reference": "Organization/linde"}}),
    )
    .await;
    put(
        "CareTeam/lotte-circle".into(),
        json!({"resourceType": "CareTeam", "status": "active", "subject": {"reference": "Patient/lotte"},
        "participant": [
            member("gerda-role", true, &["identity", "reports", "medication", "crisis-plan", "support-plan"]),
            member("kees-role", false, &["identity", "reports", "medication", "support-plan"])]}),
    )
    .await;
    put(
        "Encounter/lotte-stay".into(),
        json!({"resourceType": "Encounter", "status": "in-progress",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"},
               "subject": {"reference": "Patient/lotte"},
               "location": [{"location": {"reference": "Location/lindelaan"}}]}),
    )
    .await;
    for (id, name, times) in [
        (
            "lotte-insuline",
            "Insuline aspart",
            vec!["08:00:00", "20:00:00"],
        ),
        ("lotte-paracetamol", "Paracetamol 500 mg", vec!["08:00:00"]),
    ] {
        put(
            format!("MedicationRequest/{id}"),
            json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                   "medicationCodeableConcept": {"text": name},
                   "subject": {"reference": "Patient/lotte"},
                   "dosageInstruction": [{"text": "1 keer", "timing": {"repeat": {"timeOfDay": times}}}]}),
        )
        .await;
    }
    let kees = pros.pop().unwrap();
    let gerda = pros.pop().unwrap();
    (gerda, kees)
}

async fn page(
    app: &TestApp,
    who: &Pro,
    method: Method,
    uri: &str,
    form: &str,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri).header(
        header::COOKIE,
        format!("{}={}", sessions::COOKIE, who.cookie),
    );
    if !form.is_empty() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let res = app
        .secure
        .clone()
        .oneshot(req.body(Body::from(form.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    (status, location.unwrap_or(text))
}

/// A form POST with the session's CSRF token (read from `from`, a page of the session).
async fn post(
    app: &TestApp,
    who: &Pro,
    from: &str,
    to: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let (_, html) = page(app, who, Method::GET, from, "").await;
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string();
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("csrf", &csrf);
    for (k, v) in fields {
        form.append_pair(k, v);
    }
    page(app, who, Method::POST, to, &form.finish()).await
}

async fn all(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/fhir/{query}")).await;
    r.body["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect()
}

every_backend!(
    reports_are_written_in_ones_own_name_and_corrected_only_by_their_author,
    |app: TestApp| async move {
        let (gerda, kees) = world(&app).await;
        let list = "/clienten/lotte/rapportages";
        let (status, to) = post(
            &app,
            &gerda,
            list,
            list,
            &[
                ("kind", "visit"),
                ("text", "Lotte had een goede dag.\nZe heeft gewandeld."),
                ("for_client", "ja"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        let (_, html) = page(&app, &kees, Method::GET, list, "").await;
        assert!(
            html.contains("Lotte had een goede dag.")
                && html.contains("Gerda Visser")
                && html.contains("voor de cliënt"),
            "{html}"
        );
        let reports = all(&app, "Communication?subject=Patient/lotte").await;
        assert_eq!(reports.len(), 1);
        let rid = reports[0]["id"].as_str().unwrap().to_string();
        assert_eq!(
            reports[0]["sender"]["reference"],
            "PractitionerRole/gerda-role"
        );
        // Kees may read it, not correct it: the rule in Dutch, and nothing changes.
        let one = format!("/clienten/lotte/rapportages/{rid}");
        let (status, html) = post(
            &app,
            &kees,
            &one,
            &one,
            &[("version", "1"), ("kind", "visit"), ("text", "Anders")],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("Alleen wie de rapportage schreef"), "{html}");
        // A report without a kind is refused by the page, with what was typed kept.
        let (status, html) = post(
            &app,
            &gerda,
            list,
            list,
            &[("kind", ""), ("text", "Half af")],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("Kies de soort rapportage.") && html.contains("Half af"));
        // Gerda corrects it: a new version, the old one in its history.
        let (status, _) = post(
            &app,
            &gerda,
            &one,
            &one,
            &[
                ("version", "1"),
                ("kind", "visit"),
                ("text", "Lotte had een rustige dag."),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = page(&app, &kees, Method::GET, &one, "").await;
        assert!(
            html.contains("Lotte had een rustige dag.")
                && html.contains("Lotte had een goede dag."),
            "{html}"
        );
        assert_eq!(
            all(&app, "Communication?subject=Patient/lotte").await.len(),
            1
        );
        // Filtering by kind.
        let (_, html) = page(&app, &kees, Method::GET, &format!("{list}?soort=phone"), "").await;
        assert!(html.contains("Geen rapportages gevonden."), "{html}");
    }
);

every_backend!(
    a_client_with_more_reports_than_one_search_page_shows_the_newest,
    |app: TestApp| async move {
        let (gerda, kees) = world(&app).await;
        let list = "/clienten/lotte/rapportages";
        let (status, _) = post(
            &app,
            &gerda,
            list,
            list,
            &[("kind", "visit"), ("text", "Een gewone dag.")],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let written = all(&app, "Communication?subject=Patient/lotte").await[0].clone();
        // 1,001 more: a thousand older ones, then the newest, whose id sorts last — past the
        // first page of a thousand that the store answers in id order.
        let entries: Vec<Value> = (0..=1000)
            .map(|n| {
                let mut r = written.clone();
                let id = format!("r{n:04}");
                r["id"] = json!(id);
                r["sent"] = json!(if n == 1000 {
                    "2026-11-30T09:00:00+01:00".to_string()
                } else {
                    format!("2024-{:02}-{:02}T09:00:00+01:00", n % 12 + 1, n % 28 + 1)
                });
                r["payload"] = json!([{"contentString": if n == 1000 {
                    "De nieuwste rapportage.".to_string()
                } else {
                    format!("Oude rapportage {n}.")
                }}]);
                json!({"resource": r, "request": {"method": "PUT", "url": format!("Communication/{id}")}})
            })
            .collect();
        app.transaction(entries).await;
        let (_, html) = page(&app, &kees, Method::GET, list, "").await;
        assert!(html.contains("De nieuwste rapportage."), "{html}");
        // A period picks its days from every report, not from the first thousand.
        let (_, html) = page(
            &app,
            &kees,
            Method::GET,
            &format!("{list}?van=2026-11-30&tot=2026-11-30"),
            "",
        )
        .await;
        assert!(html.contains("De nieuwste rapportage."), "{html}");
        assert!(!html.contains("Oude rapportage"), "{html}");
    }
);

// "My clients" counts a client's reports by others since one's last visit to them, up to nine
// ("9 of meer" beyond), and none after one has read them.
every_backend!(
    my_clients_counts_new_reports_by_others_until_they_are_read,
    |app: TestApp| async move {
        let (_gerda, kees) = world(&app).await;
        let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
        let report = |id: String, by: &str| {
            json!({"resource": {"resourceType": "Communication", "id": id, "status": "completed",
                "category": [{"coding": [{"system": CAT, "code": "reports"}]}],
                "subject": {"reference": "Patient/lotte"},
                "sender": {"reference": format!("PractitionerRole/{by}")},
                "sent": an_hour_ago,
                "payload": [{"contentString": "Een gewone dag."}]},
                "request": {"method": "PUT", "url": format!("Communication/{id}")}})
        };
        let new_reports = |html: &str| {
            html.split("nieuwe rapportage")
                .next()
                .filter(|_| html.contains("nieuwe rapportage"))
                .and_then(|before| before.rsplit('>').next())
                .map(|s| s.trim().to_string())
        };
        let (_, html) = page(&app, &kees, Method::GET, "/clienten", "").await;
        assert!(html.contains("Lotte"), "{html}");
        assert_eq!(new_reports(&html), None, "{html}");
        // Two by Gerda, one by Kees himself: two new.
        app.transaction(vec![
            report("g1".into(), "gerda-role"),
            report("g2".into(), "gerda-role"),
            report("k1".into(), "kees-role"),
        ])
        .await;
        let (_, html) = page(&app, &kees, Method::GET, "/clienten", "").await;
        assert_eq!(new_reports(&html).as_deref(), Some("2"), "{html}");
        // Ten more by Gerda: more than are counted.
        let more = (3..13).map(|n| report(format!("g{n}"), "gerda-role"));
        app.transaction(more.collect()).await;
        let (_, html) = page(&app, &kees, Method::GET, "/clienten", "").await;
        assert_eq!(new_reports(&html).as_deref(), Some("9 of meer"), "{html}");
        // Kees reads them; nothing is new any more.
        let (status, _) = page(&app, &kees, Method::GET, "/clienten/lotte/rapportages", "").await;
        assert_eq!(status, StatusCode::OK);
        let (_, html) = page(&app, &kees, Method::GET, "/clienten", "").await;
        assert_eq!(new_reports(&html), None, "{html}");
    }
);

every_backend!(
    members_change_their_own_agreements_and_the_director_keeps_the_plan,
    |app: TestApp| async move {
        let (gerda, kees) = world(&app).await;
        let plan = "/clienten/lotte/plan";
        // Only the director starts the plan.
        let (status, html) = post(&app, &kees, plan, "/clienten/lotte/plan/aanmaken", &[]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(
            html.contains("Alleen de casusregisseur maakt het ondersteuningsplan."),
            "{html}"
        );
        let (status, _) = post(&app, &gerda, plan, "/clienten/lotte/plan/aanmaken", &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let id = all(&app, "CarePlan?subject=Patient/lotte").await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Gerda adds an agreement for Kees and one for herself, and a goal.
        for (what, who) in [
            ("Wekelijks wandelen", "PractitionerRole/kees-role"),
            ("Gesprek met de huisarts", "PractitionerRole/gerda-role"),
        ] {
            let version = all(&app, "CarePlan?subject=Patient/lotte").await[0]["meta"]["versionId"]
                .as_str()
                .unwrap()
                .to_string();
            let (status, html) = post(
                &app,
                &gerda,
                plan,
                "/clienten/lotte/plan/afspraken",
                &[
                    ("version", &version),
                    ("description", what),
                    ("due", "2030-01-31"),
                    ("performer", who),
                ],
            )
            .await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        }
        let version = all(&app, "CarePlan?subject=Patient/lotte").await[0]["meta"]["versionId"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, html) = post(
            &app,
            &gerda,
            plan,
            "/clienten/lotte/plan/doelen",
            &[
                ("version", &version),
                ("goal", "Zelfstandig boodschappen doen"),
                ("evaluate", ""),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert_eq!(all(&app, "Goal?subject=Patient/lotte").await.len(), 1);
        // Kees changes his own agreement.
        let version = all(&app, "CarePlan?subject=Patient/lotte").await[0]["meta"]["versionId"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, html) = post(
            &app,
            &kees,
            plan,
            "/clienten/lotte/plan/afspraken/wijzigen",
            &[
                ("version", &version),
                ("index", "0"),
                ("description", "Wekelijks wandelen"),
                ("status", "in-progress"),
                ("due", "2030-01-31"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        // … not Gerda's: refused with the rule, nothing stored.
        let version = all(&app, "CarePlan?subject=Patient/lotte").await[0]["meta"]["versionId"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, html) = post(
            &app,
            &kees,
            plan,
            "/clienten/lotte/plan/afspraken/wijzigen",
            &[
                ("version", &version),
                ("index", "1"),
                ("description", "Gesprek met de huisarts"),
                ("status", "completed"),
                ("due", ""),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("Alleen de casusregisseur wijzigt"), "{html}");
        let stored = app.get(&format!("/fhir/CarePlan/{id}")).await.body;
        assert_eq!(stored["meta"]["versionId"].as_str().unwrap(), version);
        assert_eq!(stored["activity"][1]["detail"]["status"], "not-started");
        // A form made from an older version is refused: someone changed it meanwhile.
        let (status, html) = post(
            &app,
            &gerda,
            plan,
            "/clienten/lotte/plan/afspraken/wijzigen",
            &[
                ("version", "1"),
                ("index", "1"),
                ("description", "Gesprek met de huisarts"),
                ("status", "completed"),
                ("due", ""),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("intussen gewijzigd"), "{html}");
        // The plan shows names, the status, and who changed what in each version.
        let (_, html) = page(&app, &gerda, Method::GET, plan, "").await;
        assert!(
            html.contains("Wie: Kees Bos")
                && html.contains("Bezig")
                && html.contains("Zelfstandig boodschappen doen"),
            "{html}"
        );
        assert!(
            html.contains("gewijzigd: Wekelijks wandelen") && !html.contains(">PractitionerRole/"),
            "{html}"
        );
        // "My clients" tells Kees of his open agreement.
        let (_, html) = page(&app, &kees, Method::GET, "/clienten", "").await;
        assert!(html.contains("1 afspraak van u open<"), "{html}");
    }
);

every_backend!(
    the_crisis_plan_is_written_with_the_client_printed_and_read_in_an_emergency,
    |app: TestApp| async move {
        let (gerda, kees) = world(&app).await;
        let edit = "/clienten/lotte/crisisplan/bewerken";
        // Kees has no crisis plan in his categories: the page says so, and why.
        let (status, html) = page(&app, &kees, Method::GET, "/clienten/lotte/crisisplan", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Niet met u gedeeld"), "{html}");
        let (status, _) = post(&app, &gerda, edit, edit, &[("version", "0")]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an empty plan is refused"
        );
        let (status, html) = post(
            &app,
            &gerda,
            edit,
            edit,
            &[
                ("version", "0"),
                ("groen_signals", "Slaapt goed\nGaat naar de dagbesteding"),
                ("rood_contact", "Crisisdienst GGZ: 088-1234567"),
                ("rood_network", "Zus Anna komt langs"),
                ("with_client", "ja"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        let plans = all(&app, "CarePlan?subject=Patient/lotte").await;
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0]["activity"].as_array().unwrap().len(), 4);
        assert!(plans[0]["contributor"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reference"] == "Patient/lotte"));
        let (_, html) = page(&app, &gerda, Method::GET, "/clienten/lotte/crisisplan", "").await;
        for expected in [
            "Groen: het gaat goed",
            "Slaapt goed",
            "Crisisdienst GGZ: 088-1234567",
            "Samen met de cliënt opgesteld",
            "Gerda Visser",
        ] {
            assert!(html.contains(expected), "{expected}: {html}");
        }
        // A second version, without the client; the first stays in the history.
        let (status, _) = post(
            &app,
            &gerda,
            edit,
            edit,
            &[("version", "1"), ("geel_signals", "Trekt zich terug")],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = page(&app, &gerda, Method::GET, "/clienten/lotte/crisisplan", "").await;
        assert!(
            html.contains("Trekt zich terug")
                && !html.contains("Slaapt goed")
                && html.contains("Niet samen met de cliënt opgesteld")
        );
        assert_eq!(
            app.get(&format!(
                "/fhir/CarePlan/{}/_history",
                plans[0]["id"].as_str().unwrap()
            ))
            .await
            .body["entry"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        let req = Request::builder()
            .uri("/clienten/lotte/crisisplan/crisisplan.pdf")
            .header(
                header::COOKIE,
                format!("{}={}", sessions::COOKIE, gerda.cookie),
            )
            .body(Body::empty())
            .unwrap();
        let res = app.secure.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/pdf");
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(body.starts_with(b"%PDF"));
        // A doctor outside the circle breaks the glass: the crisis plan, read only, and no
        // reports.
        let r = app
            .put(
                "/fhir/Practitioner/dokter",
                &json!({"resourceType": "Practitioner", "id": "dokter", "name": [{"family": "Arts", "given": ["Dirk"]}]}),
            )
            .await;
        assert!(r.status.is_success());
        let r = app.put("/fhir/PractitionerRole/dokter-role", &json!({"resourceType": "PractitionerRole", "id": "dokter-role",
            "practitioner": {"reference": "Practitioner/dokter"}, "organization": {"reference": "Organization/linde"}})).await;
        assert!(r.status.is_success());
        let mut a = accounts::blank("dokter", Kind::Professional);
        a.organisation = Some("linde".into());
        a.practitioner = Some("dokter".into());
        a.role = Some("dokter-role".into());
        accounts::create(&*app.accounts, a, "correct horse battery staple", true)
            .await
            .unwrap();
        let (cookie, _) = sessions::start(&*app.accounts, "dokter", true, now_ms())
            .await
            .unwrap();
        let dokter = Pro { cookie };
        let (status, _) = page(&app, &dokter, Method::GET, "/clienten/lotte/crisisplan", "").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "outside the circle: no such client"
        );
        let (status, to) = post(
            &app,
            &dokter,
            "/noodtoegang",
            "/noodtoegang",
            &[
                ("name", "Lotte Jansen"),
                ("birth", "1970-03-03"),
                (
                    "reason",
                    "Cliënt verward aangetroffen op straat, crisisplan nodig.",
                ),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
        let (status, html) =
            page(&app, &dokter, Method::GET, "/clienten/lotte/crisisplan", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("Trekt zich terug") && !html.contains("Crisisplan bijwerken"),
            "{html}"
        );
        let (_, html) = page(
            &app,
            &dokter,
            Method::GET,
            "/clienten/lotte/rapportages",
            "",
        )
        .await;
        assert!(html.contains("Niet met u gedeeld"), "{html}");
        let (status, _) = post(
            &app,
            &dokter,
            "/clienten/lotte/crisisplan",
            edit,
            &[("version", "2"), ("rood_contact", "Iets anders")],
        )
        .await;
        assert_ne!(
            status,
            StatusCode::SEE_OTHER,
            "emergency access changes nothing"
        );
        assert_eq!(
            app.get(&format!(
                "/fhir/CarePlan/{}",
                plans[0]["id"].as_str().unwrap()
            ))
            .await
            .body["meta"]["versionId"],
            "2"
        );
    }
);

/// The moment a dose is due today at `hh:mm` (ms), as the round's forms give it.
fn due_today(hh: u32) -> i64 {
    kring_record::medication::due_ms(dates::today(), NaiveTime::from_hms_opt(hh, 0, 0).unwrap())
}

every_backend!(
    a_round_signs_off_high_risk_medication_only_after_a_second_professionals_check,
    |app: TestApp| async move {
        let (gerda, kees) = world(&app).await;
        let day = dates::today().to_string();
        let round = format!("/medicatie?locatie=lindelaan&dag={day}");
        let (status, html) = page(&app, &gerda, Method::GET, &round, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("Insuline aspart")
                && html.contains("Paracetamol 500 mg")
                && html.contains("Lotte Jansen"),
            "{html}"
        );
        let morning = due_today(8).to_string();
        let evening = due_today(20).to_string();
        let sign = |who: &'static str,
                    request: &'static str,
                    due: String,
                    action: &'static str,
                    adm: String,
                    extra: Vec<(&'static str, String)>| {
            let (app, round, day) = (&app, round.clone(), day.clone());
            let who = if who == "gerda" { &gerda } else { &kees };
            async move {
                let mut fields: Vec<(&str, String)> = vec![
                    ("locatie", "lindelaan".into()),
                    ("dag", day),
                    ("request", request.into()),
                    ("due", due),
                    ("action", action.into()),
                    ("administration", adm),
                ];
                if !fields[5].1.is_empty() {
                    let current = app
                        .get(&format!("/fhir/MedicationAdministration/{}", fields[5].1))
                        .await;
                    let version = current.body["meta"]["versionId"]
                        .as_str()
                        .unwrap_or("0")
                        .to_string();
                    fields.push(("version", version));
                }
                fields.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
                fields.extend(extra);
                let refs: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                post(app, who, &round, "/medicatie/aftekenen", &refs).await
            }
        };
        let administrations =
            || async { all(&app, "MedicationAdministration?subject=Patient/lotte").await };
        // Paracetamol is given at once.
        let (status, html) = sign(
            "gerda",
            "lotte-paracetamol",
            morning.clone(),
            "give",
            String::new(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        // Insulin without a check: refused, the rule in Dutch, nothing stored.
        let (status, html) = sign(
            "gerda",
            "lotte-insuline",
            morning.clone(),
            "give",
            String::new(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            html.contains("Een tweede collega moet medicijn, dosis, cliënt en tijd controleren"),
            "{html}"
        );
        assert_eq!(administrations().await.len(), 1);
        // Prepared by Gerda; Gerda cannot check her own dose.
        let (status, _) = sign(
            "gerda",
            "lotte-insuline",
            morning.clone(),
            "prepare",
            String::new(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let adm = administrations()
            .await
            .into_iter()
            .find(|a| a["status"] == "in-progress")
            .unwrap();
        let adm_id = adm["id"].as_str().unwrap().to_string();
        let (status, html) = sign(
            "gerda",
            "lotte-insuline",
            morning.clone(),
            "check",
            adm_id.clone(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            html.contains("iemand anders doen dan degene die de medicatie geeft"),
            "{html}"
        );
        // Kees checks; Gerda gives: it counts.
        let (status, _) = sign(
            "kees",
            "lotte-insuline",
            morning.clone(),
            "check",
            adm_id.clone(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, html) = sign(
            "gerda",
            "lotte-insuline",
            morning.clone(),
            "give",
            adm_id.clone(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        let given = app
            .get(&format!("/fhir/MedicationAdministration/{adm_id}"))
            .await
            .body;
        assert_eq!(given["status"], "completed");
        let performers = given["performer"].as_array().unwrap();
        assert_eq!(
            performers[0]["actor"]["reference"],
            "PractitionerRole/gerda-role"
        );
        assert_eq!(
            performers[1]["actor"]["reference"],
            "PractitionerRole/kees-role"
        );
        assert_eq!(performers[1]["function"]["coding"][0]["code"], "verifier");
        // The evening dose: checked 45 minutes ago is too long ago …
        let checked_long_ago = json!({"resourceType": "MedicationAdministration", "status": "in-progress",
        "extension": [{"url": kring_record::medication::AGREED_AT, "valueDateTime": kring_record::medication::fhir_moment(due_today(20))}],
        "medicationCodeableConcept": {"text": "Insuline aspart"}, "subject": {"reference": "Patient/lotte"},
        "effectiveDateTime": kring_record::medication::fhir_moment(now_ms() - 50 * 60_000),
        "request": {"reference": "MedicationRequest/lotte-insuline"},
        "performer": [{"actor": {"reference": "PractitionerRole/gerda-role"}},
            {"function": {"coding": [{"system": kring_record::medication::FUNCTION_SYSTEM, "code": "verifier"}]},
             "actor": {"reference": "PractitionerRole/kees-role"},
             "extension": [{"url": kring_record::medication::CHECKED_AT, "valueDateTime": kring_record::medication::fhir_moment(now_ms() - 45 * 60_000)}]}]});
        let r = app
            .post("/fhir/MedicationAdministration", &checked_long_ago)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.diagnostics());
        let evening_id = r.body["id"].as_str().unwrap().to_string();
        let (status, html) = sign(
            "gerda",
            "lotte-insuline",
            evening.clone(),
            "give",
            evening_id.clone(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("langer dan 30 minuten geleden"), "{html}");
        // … and a dose given before its check was done is refused too.
        let (status, _) = sign(
            "kees",
            "lotte-insuline",
            evening.clone(),
            "check",
            evening_id.clone(),
            vec![],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let earlier = dates::local(now_ms() - 20 * 60_000);
        let (status, html) = sign(
            "gerda",
            "lotte-insuline",
            evening.clone(),
            "give",
            evening_id.clone(),
            vec![
                ("dag", earlier.date_naive().to_string()),
                (
                    "time",
                    format!("{:02}:{:02}", earlier.hour(), earlier.minute()),
                ),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("na het geven gedaan"), "{html}");
        assert_eq!(
            app.get(&format!("/fhir/MedicationAdministration/{evening_id}"))
                .await
                .body["status"],
            "in-progress"
        );
        // Not given needs a reason.
        let (status, html) = sign(
            "gerda",
            "lotte-insuline",
            evening.clone(),
            "not-given",
            evening_id.clone(),
            vec![("reason", String::new())],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("Schrijf op waarom"), "{html}");
        let (status, _) = sign(
            "gerda",
            "lotte-insuline",
            evening.clone(),
            "not-given",
            evening_id.clone(),
            vec![("reason", "Slaapt al".into())],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        // The round, the client's page and the report of double checks say what happened.
        let (_, html) = page(&app, &kees, Method::GET, &round, "").await;
        // Given on time, or late when the test runs more than an hour after 08:00.
        assert!(
            (html.contains(">Gegeven<") || html.contains(">Te laat gegeven<"))
                && html.contains(">Niet gegeven<")
                && html.contains("gecontroleerd door Kees Bos"),
            "{html}"
        );
        let (_, html) = page(&app, &kees, Method::GET, "/clienten/lotte/medicatie", "").await;
        assert!(
            html.contains("risicovol") && html.contains("Gerda Visser"),
            "{html}"
        );
        let (_, html) = page(
            &app,
            &kees,
            Method::GET,
            "/medicatie/controles?locatie=lindelaan",
            "",
        )
        .await;
        assert!(
            html.contains("Met dubbele controle</dt><dd>1</dd>")
                && html.contains("Zonder dubbele controle</dt><dd>0</dd>"),
            "{html}"
        );
        // Every write of the round is in the access log.
        let creates = app
            .log_lines()
            .await
            .iter()
            .filter(|l| l.to_string().contains("MedicationAdministration"))
            .count();
        assert!(creates >= 6, "{creates}");
    }
);

every_backend!(
    a_partners_sign_off_through_the_api_obeys_the_double_check,
    |app: TestApp| async move {
        let token = app.partner_token("linde", "system/*.cruds").await;
        let r = app.as_partner(Some(&token), Method::POST, "/fhir/Patient", Some(&json!({"resourceType": "Patient", "name": [{"family": "Kok"}], "birthDate": "1950-01-01"}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.diagnostics());
        let client = format!("Patient/{}", r.body["id"].as_str().unwrap());
        let r = app.as_partner(Some(&token), Method::POST, "/fhir/MedicationRequest", Some(&json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "B01AA07", "display": "acenocoumarol"}]},
        "subject": {"reference": client}}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.diagnostics());
        let request = format!("MedicationRequest/{}", r.body["id"].as_str().unwrap());
        let now = now_ms();
        let adm = |performers: Value| {
            json!({"resourceType": "MedicationAdministration", "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "B01AA07"}]},
        "subject": {"reference": client}, "request": {"reference": request},
        "effectiveDateTime": kring_record::medication::fhir_moment(now), "performer": performers})
        };
        let check = |who: &str, at: i64| {
            json!({"function": {"coding": [{"system": kring_record::medication::FUNCTION_SYSTEM, "code": "verifier"}]},
        "actor": {"reference": who}, "extension": [{"url": kring_record::medication::CHECKED_AT, "valueDateTime": kring_record::medication::fhir_moment(at)}]})
        };
        for (performers, says) in [
            (
                json!([{"actor": {"reference": "Practitioner/a"}}]),
                "second professional",
            ),
            (
                json!([{"actor": {"reference": "Practitioner/a"}}, check("Practitioner/a", now - 60_000)]),
                "different professional",
            ),
            (
                json!([{"actor": {"reference": "Practitioner/a"}}, check("Practitioner/b", now + 10 * 60_000)]),
                "after the dose was given",
            ),
            (
                json!([{"actor": {"reference": "Practitioner/a"}}, check("Practitioner/b", now - 40 * 60_000)]),
                "more than 30 minutes",
            ),
        ] {
            let r = app
                .as_partner(
                    Some(&token),
                    Method::POST,
                    "/fhir/MedicationAdministration",
                    Some(&adm(performers)),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{says}: {}",
                r.diagnostics()
            );
            assert_eq!(r.body["resourceType"], "OperationOutcome");
            assert!(
                r.diagnostics().contains(says),
                "{says}: {}",
                r.diagnostics()
            );
        }
        let r = app
            .as_partner(
                Some(&token),
                Method::GET,
                &format!("/fhir/MedicationAdministration?subject={client}&_summary=count"),
                None,
            )
            .await;
        assert_eq!(r.body["total"], 0, "nothing refused was stored");
        let ok = adm(
            json!([{"actor": {"reference": "Practitioner/a"}}, check("Practitioner/b", now - 5 * 60_000)]),
        );
        let r = app
            .as_partner(
                Some(&token),
                Method::POST,
                "/fhir/MedicationAdministration",
                Some(&ok),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.diagnostics());
    }
);

every_backend!(
    the_downtime_kit_is_written_logged_and_read_with_kring_stopped,
    |app: TestApp| async move {
        let (gerda, _kees) = world(&app).await;
        let edit = "/clienten/lotte/crisisplan/bewerken";
        let (status, _) = post(
            &app,
            &gerda,
            edit,
            edit,
            &[
                ("version", "0"),
                ("rood_contact", "Crisisdienst GGZ: 088-1234567"),
                ("rood_network", "Zus Anna komt langs"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        // A wijkteam without a location of its own, with a client in its circle.
        for (path, body) in [
            (
                "Organization/wijkteam",
                json!({"resourceType": "Organization", "name": "Wijkteam Noord"}),
            ),
            (
                "Practitioner/wim",
                json!({"resourceType": "Practitioner", "name": [{"family": "Wit", "given": ["Wim"]}]}),
            ),
            (
                "PractitionerRole/wim-role",
                json!({"resourceType": "PractitionerRole",
                "practitioner": {"reference": "Practitioner/wim"},
                "organization": {"reference": "Organization/wijkteam"}, "code": [{"text": "Wijkcoach"}]}),
            ),
            (
                "Patient/piet",
                json!({"resourceType": "Patient", "name": [{"family": "Smit", "given": ["Piet"]}],
                "birthDate": "1960-01-01"}),
            ),
            (
                "CareTeam/piet-circle",
                json!({"resourceType": "CareTeam", "status": "active",
                "subject": {"reference": "Patient/piet"},
                "participant": [member("wim-role", true, &["identity", "crisis-plan"])]}),
            ),
        ] {
            let mut body = body;
            body["id"] = json!(path.rsplit('/').next().unwrap());
            let r = app.put(&format!("/fhir/{path}"), &body).await;
            assert!(r.status.is_success(), "{path}: {:?}", r.body);
        }
        let dir = tempfile::tempdir().unwrap();
        let settings = kring_server::kit::KitSettings {
            dir: dir.path().to_path_buf(),
            passphrase: Some("een-ander-wachtwoord-voor-de-rest".into()),
            per_location: kring_server::kit::KitSettings::read_passwords(
                "# location password\nlindelaan lindelaan-nachtdienst-2026\n",
            )
            .unwrap(),
        };
        let written = kring_server::kit::write_all(
            &app.record,
            &settings,
            &kring_record::medication::HighRisk::default(),
        )
        .await
        .expect("kits");
        assert!(kring_server::kit::KitSettings::read_passwords("alleen-een-woord").is_err());
        assert_eq!(
            written.len(),
            2,
            "the location, and the wijkteam without one: {written:?}"
        );
        let team = written
            .iter()
            .find(|w| w.location == "org-wijkteam")
            .expect("the wijkteam's kit");
        assert_eq!(team.clients, 1);
        let team_html = String::from_utf8(
            kring_server::kit::open_kit(&team.html, "een-ander-wachtwoord-voor-de-rest").unwrap(),
        )
        .unwrap();
        assert!(team_html.contains("Noodmap Wijkteam Noord") && team_html.contains("Piet Smit"));
        assert!(
            !team_html.contains("Lotte"),
            "a kit holds its own clients only"
        );
        let written: Vec<_> = written
            .into_iter()
            .filter(|w| w.location == "lindelaan")
            .collect();
        assert_eq!(written[0].clients, 1);
        // Every kit is in the access log, per client.
        let entries = app.log_lines().await;
        assert!(entries.iter().any(|e| e["interaction"] == "downtime-kit"
            && e["client"] == "lotte"
            && e["data"]["id"] == "lindelaan"));
        let (html_path, pdf_path) = (written[0].html.clone(), written[0].pdf.clone());
        // Kring stops; the night shift opens the kit with the location's password.
        drop(app);
        let sealed = std::fs::read(&html_path).unwrap();
        assert!(
            !sealed.windows(6).any(|w| w == b"Jansen"),
            "the file on the PC is locked"
        );
        assert!(kring_server::kit::open_kit(&html_path, "niet-het-wachtwoord-123").is_err());
        assert!(
            kring_server::kit::open_kit(&html_path, "een-ander-wachtwoord-voor-de-rest").is_err(),
            "the location's own password, not the default"
        );
        let html = String::from_utf8(
            kring_server::kit::open_kit(&html_path, "lindelaan-nachtdienst-2026").unwrap(),
        )
        .unwrap();
        for expected in [
            "Noodmap Woonlocatie Lindelaan",
            "Lotte Jansen",
            "Crisisdienst GGZ: 088-1234567",
            "Zus Anna komt langs",
            "Insuline aspart",
            "hoog risico",
            "Paracetamol 500 mg",
            "08:00",
            "20:00",
            "Gerda Visser",
            "Gemaakt op",
        ] {
            assert!(
                html.contains(expected),
                "{expected} missing from the kit:\n{html}"
            );
        }
        assert!(!html.contains("<script"), "self-contained, no scripts");
        assert!(!html.contains("src=\"http"), "no links out");
        let pdf = kring_server::kit::open_kit(&pdf_path, "lindelaan-nachtdienst-2026").unwrap();
        assert!(pdf.starts_with(b"%PDF"));
    }
);
