//! Kiezen en Delen in the record, through the production router: the aid walked as a
//! professional, the answer and the grant stored, the recipient outside the circle reading
//! under the grant (and the log naming it), the client seeing it, the privacy officer
//! reviewing it, a withdrawal that closes it, a grant withheld from the client, and a grant
//! without an answer behind it refused.

use axum::http::{Method, StatusCode};
use kring_server::auth::accounts::{self, Kind};
use kring_server::auth::{now_ms, sessions};
use serde_json::{json, Value};

use crate::every_backend;
use crate::harness::TestApp;
use crate::portal::{
    csrf, director_and_plan, family, get, post_form, professional, text, years_ago,
};

const GRANTS: &str = "https://kring.example/fhir/CodeSystem/consent-kind|sharing-grant";

/// A school outside the child's circle, with a teacher who has an account.
async fn school(app: &TestApp) -> String {
    for (path, body) in [
        (
            "Organization/school",
            json!({"resourceType": "Organization", "name": "Basisschool De Linde"}),
        ),
        (
            "Practitioner/juf",
            json!({"resourceType": "Practitioner", "name": [{"family": "Visser", "given": ["Lotte"]}]}),
        ),
        (
            "PractitionerRole/juf-role",
            json!({"resourceType": "PractitionerRole", "practitioner": {"reference": "Practitioner/juf"},
            "organization": {"reference": "Organization/school"}, "code": [{"text": "Intern begeleider"}]}),
        ),
    ] {
        let mut body = body;
        body["id"] = json!(path.rsplit('/').next().unwrap());
        let r = app.put(&format!("/fhir/{path}"), &body).await;
        assert!(r.status.is_success(), "{path}: {:?}", r.body);
    }
    professional(app, "lotte.visser", "school", "juf").await
}

/// The answers of a professional who shares the reports of a 13-year-old whose parents
/// refused, in acute danger: a conflict of duties.
fn acute_answers(endangers: bool) -> String {
    [
        ("protection-order", "no"),
        ("veilig-thuis", "no"),
        ("consent", "refused"),
        ("acute", "yes"),
        ("no-other-way", "yes"),
        ("sharing-helps", "yes"),
        ("good-professional", "no"),
        ("minimum", "yes"),
        ("others-privacy", "no"),
        ("endangers-if-told", if endangers { "yes" } else { "no" }),
    ]
    .iter()
    .map(|(q, a)| format!("&carried={q}%3A{a}"))
    .collect()
}

const REQUEST: &str =
    "recipient=Organization%2Fschool&category=reports&purpose=Veiligheid+op+school+vandaag";

async fn grants(app: &TestApp, cookie: &str) -> Vec<Value> {
    let r = app
        .call_as_person(
            cookie,
            Method::GET,
            &format!("/fhir/Consent?patient=Patient/kind&category={GRANTS}"),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect()
}

every_backend!(
    a_sharing_decision_becomes_a_grant_the_recipient_uses_and_the_director_withdraws,
    |app: TestApp| async move {
        let (parent, child) = family(&app, &years_ago(13, -40)).await;
        let director = director_and_plan(&app).await;
        let teacher = school(&app).await;
        // The teacher outside the circle sees nothing of the child.
        let r = app
            .call_as_person(
                &teacher,
                Method::GET,
                "/fhir/Communication/r1",
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // The director opens the aid from the client's page.
        let (status, html) = get(&app, &director, "/clienten/kind").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text(&html).contains("/clienten/kind/delen"));
        let (status, html) = get(&app, &director, "/clienten/kind/delen").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(html.contains("Mag ik dit delen?"), "{html}");
        assert!(html.contains("Basisschool De Linde"));
        let token = csrf(&html);
        // Without a purpose the aid says what is missing.
        let (status, body) = post_form(
            &app,
            &director,
            "/clienten/kind/delen",
            &format!("csrf={token}&recipient=Organization%2Fschool&category=reports&purpose=+"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("schrijf het doel op"), "{body}");
        // The record answers whether the school is in the circle and that a school is neither
        // Veilig Thuis nor a certified institution; the first question asked is about consent.
        let (_, body) = post_form(
            &app,
            &director,
            "/clienten/kind/delen",
            &format!("csrf={token}&{REQUEST}"),
        )
        .await;
        assert!(body.contains("data-question=\"consent\""), "{body}");
        assert!(body.contains("uit het dossier"), "{body}");
        // With every answer given: a conflict of duties.
        let (_, body) = post_form(
            &app,
            &director,
            "/clienten/kind/delen",
            &format!("csrf={token}&{REQUEST}{}", acute_answers(false)),
        )
        .await;
        assert!(
            body.contains("U mag delen: conflict van plichten"),
            "{body}"
        );
        // Recorded, and shared for 7 days.
        let (status, location) = post_form(
            &app,
            &director,
            "/clienten/kind/delen/vastleggen",
            &format!(
                "csrf={token}&{REQUEST}{}&grant=reports&days=7",
                acute_answers(false)
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        assert!(
            location.starts_with("/clienten/kind/delen?klaar=gedeeld"),
            "{location}"
        );
        let all = grants(&app, &director).await;
        assert_eq!(all.len(), 1, "{all:?}");
        let grant = &all[0];
        assert_eq!(
            grant["policyRule"]["coding"][0]["code"],
            "conflict-of-duties"
        );
        let grant_id = grant["id"].as_str().unwrap().to_string();
        let answer = grant["sourceReference"]["reference"].as_str().unwrap();
        assert!(answer.starts_with("QuestionnaireResponse/"));
        let r = app
            .call_as_person(
                &director,
                Method::GET,
                &format!("/fhir/{answer}"),
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["subject"]["reference"], "Patient/kind");

        // The teacher finds the child under "Met u gedeeld", by name.
        let (_, html) = get(&app, &teacher, "/clienten").await;
        let html = text(&html);
        assert!(
            html.contains("Met u gedeeld") && html.contains("Sam Jansen"),
            "{html}"
        );
        // The teacher now reads the reports (and only the reports), the log naming the grant.
        let r = app
            .call_as_person(
                &teacher,
                Method::GET,
                "/fhir/Communication?subject=Patient/kind",
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.body["entry"].as_array().map(Vec::len),
            Some(2),
            "{:?}",
            r.body
        );
        let r = app
            .call_as_person(
                &teacher,
                Method::GET,
                "/fhir/CarePlan/kind-plan",
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let log = app.log_lines().await;
        let ground = format!("Consent/{grant_id}");
        assert!(
            log.iter().any(|l| l["user"]["id"] == "account/lotte.visser"
                && l["outcome"] == "success"
                && l["data"]["type"] == "Communication"
                && l["grounds"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|g| g == ground.as_str()))),
            "{log:?}"
        );
        // The answer and the grant are in the log as writes by the director.
        for t in ["QuestionnaireResponse", "Consent"] {
            assert!(log.iter().any(|l| l["user"]["id"] == "account/ans.dekker"
                && l["data"]["type"] == t
                && l["action"] == "C"));
        }

        // The child and the parent see what was shared, with whom and why.
        for who in [&child, &parent] {
            let (status, html) = get(&app, who, "/mijn/kring").await;
            assert_eq!(status, StatusCode::OK);
            let html = text(&html);
            assert!(html.contains("Basisschool De Linde"), "{html}");
            assert!(html.contains("conflict van plichten"), "{html}");
        }

        // The privacy officer of the child's organisation reviews it.
        let mut officer = accounts::blank("privacy.jeugd", Kind::Officer);
        officer.organisation = Some("jeugd".into());
        accounts::create(
            &*app.accounts,
            officer,
            "correct horse battery staple",
            true,
        )
        .await
        .unwrap();
        let officer = sessions::start(&*app.accounts, "privacy.jeugd", true, now_ms())
            .await
            .unwrap()
            .0;
        let (status, html) = get(&app, &officer, "/privacy/delen").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(
            html.contains("Basisschool De Linde") && html.contains("conflict van plichten"),
            "{html}"
        );
        assert!(html.contains("Veiligheid op school vandaag"));

        // The privacy officer changes the words of a question: a new version, which the aid
        // shows from then on and which later answers record.
        assert!(app.record.ensure_sharing_questionnaire().await.unwrap());
        assert!(!app.record.ensure_sharing_questionnaire().await.unwrap());
        let (status, html) = get(&app, &officer, "/privacy/vragen").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        let officer_token = csrf(&html);
        let mut form = format!("csrf={officer_token}");
        for q in kring_record::sharing::aid::Question::ALL {
            let id = q.link_id();
            let text = if id == "protection-order" {
                "Is er een OTS of voogdij, uitgevoerd door de ontvanger?".to_string()
            } else {
                kring_record::sharing::questionnaire::Texts::shipped()
                    .question(q)
                    .text
                    .clone()
            };
            for (part, value) in [
                ("text", text),
                ("uitleg", "Uitleg.".to_string()),
                ("anker", "Jeugdwet".to_string()),
            ] {
                form.push_str(&format!("&{id}.{part}={}", urlencode(&value)));
            }
        }
        let (status, location) = post_form(&app, &officer, "/privacy/vragen", &form).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        let (_, body) = post_form(
            &app,
            &director,
            "/clienten/kind/delen",
            &format!("csrf={token}&{REQUEST}"),
        )
        .await;
        assert!(
            body.contains("Is er een OTS of voogdij, uitgevoerd door de ontvanger?"),
            "{body}"
        );
        // A professional cannot change the questions.
        let q = app.get("/fhir/Questionnaire/kiezen-en-delen").await.body;
        let r = app
            .call_as_person(
                &director,
                Method::PUT,
                "/fhir/Questionnaire/kiezen-en-delen",
                &q,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(q["version"], "2");

        // A change other than withdrawing is refused; withdrawing closes the share.
        let mut longer = grant.clone();
        longer["provision"]["period"]["end"] = json!("2099-01-01");
        let r = app
            .call_as_person(
                &director,
                Method::PUT,
                &format!("/fhir/Consent/{grant_id}"),
                &longer,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        let (status, location) = post_form(
            &app,
            &director,
            "/delen/intrekken",
            &format!("csrf={token}&grant={grant_id}"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.contains("klaar=ingetrokken"));
        let r = app
            .call_as_person(
                &teacher,
                Method::GET,
                "/fhir/Communication/r1",
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Deleting a decision is refused: it stays in the file.
        let r = app
            .call_as_person(
                &director,
                Method::DELETE,
                &format!("/fhir/{answer}"),
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        let r = app
            .call_as_person(
                &director,
                Method::GET,
                &format!("/fhir/{answer}"),
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
);

every_backend!(
    a_grant_withheld_from_the_client_and_a_grant_without_an_answer,
    |app: TestApp| async move {
        let (parent, child) = family(&app, &years_ago(13, -40)).await;
        let director = director_and_plan(&app).await;
        let teacher = school(&app).await;
        let (_, html) = get(&app, &director, "/clienten/kind/delen").await;
        let token = csrf(&text(&html));
        let (status, _) = post_form(
            &app,
            &director,
            "/clienten/kind/delen/vastleggen",
            &format!(
                "csrf={token}&{REQUEST}{}&grant=reports&days=7",
                acute_answers(true)
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let all = grants(&app, &director).await;
        assert_eq!(all.len(), 1);
        let id = all[0]["id"].as_str().unwrap();
        assert!(all[0]["extension"][0]["valueDate"].is_string());
        // The teacher reads under it, and that access is in the log...
        let r = app
            .call_as_person(
                &teacher,
                Method::GET,
                "/fhir/Communication/r1",
                &Value::Null,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        // ...but neither the child nor the parent sees the grant, the answer, or the accesses
        // under them, as if they did not exist.
        for who in [&child, &parent] {
            let (status, html) = get(&app, who, "/wie-keek").await;
            assert_eq!(status, StatusCode::OK);
            let html = text(&html);
            assert!(
                !html.contains("Visser") && !html.contains("Basisschool"),
                "{html}"
            );
            assert!(!html.contains("besluit om te delen"), "{html}");
            let r = app
                .call_as_person(
                    who,
                    Method::GET,
                    "/fhir/AuditEvent?patient=Patient/kind&_count=500",
                    &Value::Null,
                )
                .await;
            assert!(!r.raw.windows(7).any(|w| w == b"Consent"), "{:?}", r.body);
        }
        for who in [&child, &parent] {
            let (_, html) = get(&app, who, "/mijn/kring").await;
            assert!(!text(&html).contains("Basisschool De Linde"));
            let r = app
                .call_as_person(
                    who,
                    Method::GET,
                    &format!("/fhir/Consent/{id}"),
                    &Value::Null,
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
        // A grant without an answer behind it cannot be written, even by the director.
        let mut bare = all[0].clone();
        bare.as_object_mut().unwrap().remove("id");
        bare.as_object_mut().unwrap().remove("meta");
        bare["sourceReference"] = json!({"reference": "QuestionnaireResponse/nothing"});
        let r = app
            .call_as_person(&director, Method::POST, "/fhir/Consent", &bare)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert!(
            r.diagnostics()
                .contains("rests on an answer of the sharing aid"),
            "{}",
            r.diagnostics()
        );
        bare.as_object_mut().unwrap().remove("sourceReference");
        let r = app
            .call_as_person(&director, Method::POST, "/fhir/Consent", &bare)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Nor by the operator.
        let r = app.post("/fhir/Consent", &bare).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        // An answer whose outcome does not follow from its answers is refused.
        let a = app
            .call_as_person(
                &director,
                Method::GET,
                &format!(
                    "/fhir/{}",
                    all[0]["sourceReference"]["reference"].as_str().unwrap()
                ),
                &Value::Null,
            )
            .await
            .body;
        let mut forged = a.clone();
        forged.as_object_mut().unwrap().remove("id");
        forged.as_object_mut().unwrap().remove("meta");
        let items = forged["item"].as_array_mut().unwrap();
        let outcome = items.iter_mut().find(|i| i["linkId"] == "outcome").unwrap();
        outcome["item"][1]["answer"][0]["valueCoding"]["code"] = json!("co-treatment");
        let r = app
            .call_as_person(
                &director,
                Method::POST,
                "/fhir/QuestionnaireResponse",
                &forged,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    }
);

every_backend!(
    a_meldcode_case_walks_its_steps_and_stays_hidden_from_the_parents,
    |app: TestApp| async move {
        let (parent, child) = family(&app, &years_ago(9, -40)).await;
        let director = director_and_plan(&app).await;
        // The director is named for safety in the circle.
        let r = app.get("/fhir/CareTeam/kind-circle").await;
        let mut circle = r.body.clone();
        circle["participant"][0]["extension"][0]["valueCodeableConcept"]["coding"]
            .as_array_mut()
            .unwrap()
            .push(json!({"system": "https://kring.example/fhir/CodeSystem/data-category", "code": "safety"}));
        assert!(app
            .put("/fhir/CareTeam/kind-circle", &circle)
            .await
            .status
            .is_success());
        let (status, html) = get(&app, &director, "/clienten/kind/meldcode").await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(html.contains("Een zaak beginnen"), "{html}");
        let token = csrf(&html);
        let step = |form: String| {
            let director = director.clone();
            let app = &app;
            async move {
                let (status, location) =
                    post_form(app, &director, "/clienten/kind/meldcode", &form).await;
                assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
                location
            }
        };
        step(format!(
            "csrf={token}&step=signals&text=Blauwe+plekken+op+beide+armen"
        ))
        .await;
        let search = app
            .call_as_person(
                &director,
                Method::GET,
                "/fhir/QuestionnaireResponse?patient=Patient/kind&questionnaire=https://kring.example/fhir/Questionnaire/meldcode",
                &Value::Null,
            )
            .await;
        let case = search.body["entry"][0]["resource"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Steps out of order are refused with a sentence, not lost.
        let (status, body) = post_form(
            &app,
            &director,
            "/clienten/kind/meldcode",
            &format!("csrf={token}&case={case}&step=decision&text=Te+vroeg&suspicion=yes&unsafe_now=yes&can_help=yes&help_accepted=yes"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("nog niet aan de beurt"), "{body}");
        // The professional's client list says what is due.
        let (_, html) = get(&app, &director, "/clienten").await;
        let html = text(&html);
        assert!(
            html.contains("Meldcode: wat nu") && html.contains("Stap 2: collegiaal overleg"),
            "{html}"
        );
        step(format!(
            "csrf={token}&case={case}&step=consult&consulted=veilig-thuis&text=Advies+gevraagd"
        ))
        .await;
        step(format!(
            "csrf={token}&case={case}&step=conversation&held=no&text=Niet+veilig"
        ))
        .await;
        step(format!("csrf={token}&case={case}&step=decision&text=Structureel+onveilig&suspicion=yes&unsafe_now=yes&can_help=yes&help_accepted=no")).await;
        let (_, html) = get(&app, &director, "/clienten/kind/meldcode").await;
        let html = text(&html);
        assert!(html.contains("Besluit: melden bij Veilig Thuis"), "{html}");
        step(format!("csrf={token}&case={case}&step=report&shared=safety&shared=identity&text=Melding+telefonisch+gedaan")).await;
        let r = app
            .call_as_person(
                &director,
                Method::GET,
                &format!("/fhir/QuestionnaireResponse/{case}"),
                &Value::Null,
            )
            .await;
        assert_eq!(r.body["status"], "completed");
        assert_eq!(r.body["meta"]["versionId"], "5");
        // The parent and the child never see the case.
        for who in [&parent, &child] {
            let r = app
                .call_as_person(
                    who,
                    Method::GET,
                    &format!("/fhir/QuestionnaireResponse/{case}"),
                    &Value::Null,
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
        // A changed earlier step is refused through the API too.
        let mut changed = r.body.clone();
        changed["item"][0]["item"][2]["answer"][0]["valueString"] = json!("Niets aan de hand");
        let r = app
            .call_as_person(
                &director,
                Method::PUT,
                &format!("/fhir/QuestionnaireResponse/{case}"),
                &changed,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    }
);

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

every_backend!(
    a_share_of_one_report_opens_that_report_only,
    |app: TestApp| async move {
        family(&app, &years_ago(13, -40)).await;
        let director = director_and_plan(&app).await;
        let teacher = school(&app).await;
        // The report's page asks "Mag ik dit verslag delen?", which opens the aid for it.
        let (_, html) = get(&app, &director, "/clienten/kind/rapportages/r1").await;
        let html = text(&html);
        assert!(
            html.contains("/clienten/kind/delen?stuk=Communication/r1"),
            "{html}"
        );
        let (status, html) = get(
            &app,
            &director,
            "/clienten/kind/delen?stuk=Communication/r1",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let html = text(&html);
        assert!(
            html.contains("alleen naar dit stuk") && html.contains("value=\"Communication/r1\""),
            "{html}"
        );
        let token = csrf(&html);
        let (status, location) = post_form(
            &app,
            &director,
            "/clienten/kind/delen/vastleggen",
            &format!(
                "csrf={token}&{REQUEST}&item=Communication%2Fr1{}&grant=reports&days=3",
                acute_answers(false)
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        let all = grants(&app, &director).await;
        assert_eq!(
            all[0]["provision"]["data"][0]["reference"]["reference"],
            "Communication/r1"
        );
        for (id, expected) in [("r1", StatusCode::OK), ("r2", StatusCode::NOT_FOUND)] {
            let r = app
                .call_as_person(
                    &teacher,
                    Method::GET,
                    &format!("/fhir/Communication/{id}"),
                    &Value::Null,
                )
                .await;
            assert_eq!(r.status, expected, "{id}");
        }
        let r = app
            .call_as_person(
                &teacher,
                Method::GET,
                "/fhir/Communication?subject=Patient/kind",
                &Value::Null,
            )
            .await;
        let ids: Vec<&str> = r.body["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["resource"]["id"].as_str())
            .collect();
        assert_eq!(ids, ["r1"]);
    }
);

every_backend!(
    a_report_to_veilig_thuis_goes_to_veilig_thuis_only,
    |app: TestApp| async move {
        family(&app, &years_ago(7, -40)).await;
        let director = director_and_plan(&app).await;
        school(&app).await;
        let vt = json!({"resourceType": "Organization", "id": "vt", "name": "Veilig Thuis Zaanstreek",
            "type": [{"coding": [{"system": "https://kring.example/fhir/CodeSystem/organisation-kind", "code": "veilig-thuis"}]}]});
        assert!(app
            .put("/fhir/Organization/vt", &vt)
            .await
            .status
            .is_success());
        let (_, html) = get(&app, &director, "/clienten/kind/delen").await;
        let token = csrf(&text(&html));
        let answers = "&carried=protection-order%3Ano&carried=veilig-thuis%3Ayes&carried=good-professional%3Ano&carried=minimum%3Ayes&carried=others-privacy%3Ano&carried=endangers-if-told%3Ayes";
        // To Veilig Thuis: the question is asked, and the report is shared and withheld.
        let to_vt =
            "recipient=Organization%2Fvt&category=reports&purpose=Melding+kindermishandeling";
        let (_, body) = post_form(
            &app,
            &director,
            "/clienten/kind/delen",
            &format!("csrf={token}&{to_vt}{answers}"),
        )
        .await;
        assert!(
            body.contains("U mag delen: een melding bij Veilig Thuis"),
            "{body}"
        );
        let (status, location) = post_form(
            &app,
            &director,
            "/clienten/kind/delen/vastleggen",
            &format!("csrf={token}&{to_vt}{answers}&grant=reports&days=14"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        // To the school the question is never asked: the record says a school is not Veilig
        // Thuis, and the answers given for it do not count.
        let (_, body) = post_form(
            &app,
            &director,
            "/clienten/kind/delen",
            &format!("csrf={token}&{REQUEST}{answers}"),
        )
        .await;
        assert!(
            !body.contains("U mag delen: een melding bij Veilig Thuis"),
            "{body}"
        );
        assert!(body.contains("data-question=\"consent\""), "{body}");
    }
);
