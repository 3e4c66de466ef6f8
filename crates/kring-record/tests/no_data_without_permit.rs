//! Property: for random networks (circles with running, ended and future memberships, random
//! categories, consents that permit or deny) and random partner systems, nothing the record
//! returns — search matches, `_revinclude`s, reads, `$everything` — lacks a permit from the
//! decision point, and every search returns *all* that is permitted (the scope works inside
//! the query, not by dropping rows afterwards).

use std::collections::BTreeSet;
use std::sync::Arc;

use kring_access::{AccessDecision, Action, NeedToKnow, Scopes, Subject, Target};
use kring_record::{Caller, Handling, Record, SearchRequest};
use proptest::prelude::*;
use serde_json::{json, Value};

const CAT: &str = "https://kring.example/fhir/CodeSystem/data-category";
const EXT: &str = "https://kring.example/fhir/StructureDefinition/data-categories";
const ORGS: [&str; 3] = ["org-0", "org-1", "org-2"];
const CATS: [&str; 4] = ["identity", "reports", "crisis-plan", "support-plan"];

#[derive(Debug, Clone)]
struct Member {
    org: usize,
    cats: Vec<usize>,
    /// 0 running, 1 ended, 2 future.
    state: u8,
}

#[derive(Debug, Clone)]
struct Client {
    org: usize,
    members: Vec<Member>,
    /// (permit?, org, category or all)
    consent: Option<(bool, usize, Option<usize>)>,
    observations: usize,
    plans: Vec<bool>,
}

fn member() -> impl Strategy<Value = Member> {
    (
        0..3usize,
        proptest::collection::vec(0..4usize, 1..4),
        0..3u8,
    )
        .prop_map(|(org, cats, state)| Member { org, cats, state })
}

fn client() -> impl Strategy<Value = Client> {
    (
        0..3usize,
        proptest::collection::vec(member(), 1..4),
        proptest::option::of((any::<bool>(), 0..3usize, proptest::option::of(0..4usize))),
        0..3usize,
        proptest::collection::vec(any::<bool>(), 0..3),
    )
        .prop_map(|(org, members, consent, observations, plans)| Client {
            org,
            members,
            consent,
            observations,
            plans,
        })
}

fn period(state: u8) -> Value {
    match state {
        0 => json!({"start": "2020-01-01"}),
        1 => json!({"start": "2020-01-01", "end": "2021-01-01"}),
        _ => json!({"start": "2999-01-01"}),
    }
}

fn resources(clients: &[Client]) -> Vec<Value> {
    let mut out = Vec::new();
    for org in ORGS {
        out.push(json!({"resourceType": "Organization", "id": org, "name": org}));
    }
    for (i, c) in clients.iter().enumerate() {
        let pid = format!("p{i}");
        out.push(
            json!({"resourceType": "Patient", "id": pid, "birthDate": "1970-01-01",
            "managingOrganization": {"reference": format!("Organization/{}", ORGS[c.org])}}),
        );
        out.push(json!({"resourceType": "CareTeam", "id": format!("{pid}-circle"), "status": "active",
            "subject": {"reference": format!("Patient/{pid}")},
            "participant": c.members.iter().map(|m| json!({
                "extension": [{"url": EXT, "valueCodeableConcept": {"coding":
                    m.cats.iter().map(|k| json!({"system": CAT, "code": CATS[*k]})).collect::<Vec<_>>()}}],
                "member": {"reference": format!("Organization/{}", ORGS[m.org])},
                "period": period(m.state)})).collect::<Vec<_>>()}));
        if let Some((permit, org, cat)) = c.consent {
            let mut provision = json!({"type": if permit { "permit" } else { "deny" },
                "actor": [{"role": {"text": "ontvanger"}, "reference": {"reference": format!("Organization/{}", ORGS[org])}}]});
            if let Some(k) = cat {
                provision["class"] = json!([{"system": CAT, "code": CATS[k]}]);
            }
            out.push(json!({"resourceType": "Consent", "id": format!("{pid}-consent"), "status": "active",
                "scope": {"text": "privacy"}, "category": [{"text": "toestemming"}],
                "patient": {"reference": format!("Patient/{pid}")}, "performer": [{"reference": format!("Patient/{pid}")}],
                "provision": provision}));
        }
        for o in 0..c.observations {
            out.push(json!({"resourceType": "Observation", "id": format!("{pid}-obs{o}"), "status": "final",
                "code": {"text": "rapportage"}, "subject": {"reference": format!("Patient/{pid}")}}));
        }
        for (k, crisis) in c.plans.iter().enumerate() {
            let mut plan = json!({"resourceType": "CarePlan", "id": format!("{pid}-plan{k}"), "status": "active",
                "intent": "plan", "subject": {"reference": format!("Patient/{pid}")}});
            if *crisis {
                plan["category"] = json!([{"coding": [{"system": "https://kring.example/fhir/CodeSystem/plan-category", "code": "crisis"}]}]);
            }
            out.push(plan);
        }
    }
    out
}

async fn check(clients: Vec<Client>, org: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        kring_store_sqlite::SqliteStore::open(&format!(
            "sqlite:{}",
            dir.path().join("k.db").display()
        ))
        .await
        .unwrap(),
    );
    kring_store::Store::migrate(&*store).await.unwrap();
    let log = kring_audit::MerkleLog::open(kring_audit::LogConfig::at(&dir.path().join("log.db")))
        .await
        .unwrap();
    let access = Arc::new(NeedToKnow::new().unwrap());
    let record = Record::new(store, access.clone(), Arc::new(log));
    let lines: Vec<Vec<u8>> = resources(&clients)
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap())
        .collect();
    for r in record
        .restore(&Caller::operator("test"), lines)
        .await
        .unwrap()
    {
        r.unwrap();
    }
    record.load_access_facts().await.unwrap();
    let subject = Subject::Partner {
        client_id: "prop".into(),
        organisation: ORGS[org].into(),
        scopes: Scopes::parse("system/*.rs").unwrap(),
    };
    let caller = Caller::new(subject.clone(), "test");
    let permitted = |rtype: &str, client: &str, body: &[u8]| {
        let category = kring_access::category::category_of(rtype, !client.is_empty(), body);
        access
            .decide(
                &subject,
                Action::Read,
                &Target::new(rtype, None, client, category),
            )
            .permit
    };
    for rtype in [
        "Patient",
        "Observation",
        "CarePlan",
        "CareTeam",
        "Consent",
        "Organization",
    ] {
        let req = SearchRequest::from_query(rtype, "_count=1000&_revinclude=Observation:subject");
        let out = record
            .search(&caller, &req, Handling::Strict)
            .await
            .unwrap();
        let mut returned = BTreeSet::new();
        for v in out.matches.iter().chain(&out.included) {
            let client = client_of(&v.rtype, &v.id);
            prop_assert!(
                permitted(&v.rtype, &client, &v.body),
                "{}/{} left without a permit",
                v.rtype,
                v.id
            );
            if v.rtype == rtype {
                returned.insert(v.id.clone());
            }
        }
        // Completeness: everything of this type that is permitted came back.
        let all = resources(&clients);
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|r| r["resourceType"] == rtype)
            .filter(|r| {
                let id = r["id"].as_str().unwrap();
                permitted(
                    rtype,
                    &client_of(rtype, id),
                    &serde_json::to_vec(r).unwrap(),
                )
            })
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        prop_assert_eq!(returned, expected, "search of {}", rtype);
    }
    for (i, _) in clients.iter().enumerate() {
        let pid = format!("p{i}");
        if let Ok(v) = record.read(&caller, "Patient", &pid).await {
            prop_assert!(permitted("Patient", &pid, &v.body));
        }
        if let Ok(out) = record.everything(&caller, &pid, &[]).await {
            for v in out.matches.iter().chain(&out.included) {
                prop_assert!(
                    permitted(&v.rtype, &client_of(&v.rtype, &v.id), &v.body),
                    "$everything leaked {}/{}",
                    v.rtype,
                    v.id
                );
            }
        }
    }
    Ok(())
}

/// The client a generated resource belongs to (ids start with the patient's id).
fn client_of(rtype: &str, id: &str) -> String {
    if rtype == "Organization" {
        return String::new();
    }
    id.split('-').next().unwrap().to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn no_resource_leaves_without_a_permit(clients in proptest::collection::vec(client(), 1..6), org in 0..3usize) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(check(clients, org))?;
    }
}
