//! One access decision, measured: p50 and p99 latency with 10,000 circles in memory.
//! Run with `cargo bench -p kring-access --bench decision`; results go to BENCHMARKS.md.

use std::time::Instant;

use chrono::{DateTime, Utc};
use kring_access::{Action, Category, NeedToKnow, Scopes, Subject, Target};
use serde_json::json;

const CIRCLES: usize = 10_000;
const PROFESSIONALS: usize = 2_000;
const ORGS: usize = 20;
const CAT: &str = "https://kring.example/fhir/CodeSystem/data-category";
const EXT: &str = "https://kring.example/fhir/StructureDefinition/data-categories";

fn main() {
    let d = NeedToKnow::new().expect("rules");
    for p in 0..PROFESSIONALS {
        d.observe_json(
            "PractitionerRole",
            &format!("r{p}"),
            &json!({"resourceType": "PractitionerRole",
            "practitioner": {"reference": format!("Practitioner/pr{p}")},
            "organization": {"reference": format!("Organization/o{}", p % ORGS)}}),
        );
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let cats = [
        "identity",
        "support-plan",
        "crisis-plan",
        "reports",
        "medication",
        "documents",
    ];
    for c in 0..CIRCLES {
        d.observe_json(
            "Patient",
            &format!("c{c}"),
            &json!({"resourceType": "Patient", "birthDate": "1990-01-01",
            "managingOrganization": {"reference": format!("Organization/o{}", c % ORGS)}}),
        );
        let members: Vec<_> = (0..4)
            .map(|_| {
                let p = next(PROFESSIONALS);
                json!({"extension": [{"url": EXT, "valueCodeableConcept": {"coding":
                          cats.iter().take(2 + next(4)).map(|k| json!({"system": CAT, "code": k})).collect::<Vec<_>>()}}],
                       "member": {"reference": format!("PractitionerRole/r{p}")},
                       "period": {"start": "2020-01-01", "end": "2030-01-01"}})
            })
            .collect();
        d.observe_json(
            "CareTeam",
            &format!("c{c}-circle"),
            &json!({"resourceType": "CareTeam", "status": "active",
            "subject": {"reference": format!("Patient/c{c}")}, "participant": members}),
        );
        d.observe_json("Consent", &format!("c{c}-consent"), &json!({"resourceType": "Consent", "status": "active",
            "patient": {"reference": format!("Patient/c{c}")}, "performer": [{"reference": format!("Patient/c{c}")}],
            "provision": {"type": "permit", "provision": [{"type": "deny", "class": [{"system": CAT, "code": "documents"}]}]}}));
    }
    let now: DateTime<Utc> = Utc::now();
    let categories = [
        Category::Identity,
        Category::Reports,
        Category::CrisisPlan,
        Category::Medication,
        Category::TreatmentNotes,
    ];
    let requests: Vec<(Subject, Target)> = (0..200_000)
        .map(|i| {
            let p = next(PROFESSIONALS);
            let subject = if i % 10 == 0 {
                Subject::Partner {
                    client_id: "b".into(),
                    organisation: format!("o{}", p % ORGS),
                    scopes: Scopes::parse("system/*.rs").unwrap(),
                }
            } else {
                Subject::Professional {
                    account: "a".into(),
                    practitioner: format!("pr{p}"),
                    role: format!("r{p}"),
                    organisation: format!("o{}", p % ORGS),
                }
            };
            let cat = categories[next(categories.len())];
            (
                subject,
                Target::new(
                    "Observation",
                    Some("x"),
                    &format!("c{}", next(CIRCLES)),
                    cat,
                ),
            )
        })
        .collect();
    // Warm up, then time each decision.
    for (s, t) in requests.iter().take(10_000) {
        std::hint::black_box(d.decide_at(s, Action::Read, t, now));
    }
    let mut times = Vec::with_capacity(requests.len());
    let mut permits = 0usize;
    let start = Instant::now();
    for (s, t) in &requests {
        let t0 = Instant::now();
        let decision = d.decide_at(s, Action::Read, t, now);
        times.push(t0.elapsed().as_nanos() as u64);
        permits += usize::from(decision.permit);
    }
    let total = start.elapsed();
    times.sort_unstable();
    let pct =
        |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0;
    println!("| decision | {CIRCLES} circles, {PROFESSIONALS} professionals | p50 {:.1} µs | p99 {:.1} µs | max {:.0} µs | {:.0} decisions/s | {:.1}% permitted |",
        pct(0.50), pct(0.99), pct(1.0), requests.len() as f64 / total.as_secs_f64(), permits as f64 * 100.0 / requests.len() as f64);
    println!(
        "| distinct answers remembered | {} |",
        d.policy().remembered()
    );
    // The same for in-circle requests only (the common case: a professional opening their own client).
    let in_circle: Vec<&(Subject, Target)> = requests
        .iter()
        .filter(|(s, t)| d.decide_at(s, Action::Read, t, now).permit)
        .collect();
    let mut times: Vec<u64> = in_circle
        .iter()
        .map(|(s, t)| {
            let t0 = Instant::now();
            std::hint::black_box(d.decide_at(s, Action::Read, t, now));
            t0.elapsed().as_nanos() as u64
        })
        .collect();
    times.sort_unstable();
    if !times.is_empty() {
        let pct = |p: f64| {
            times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0
        };
        println!(
            "| decision (permits only) | {} requests | p50 {:.1} µs | p99 {:.1} µs |",
            times.len(),
            pct(0.5),
            pct(0.99)
        );
    }
    // The rules alone, on one typical set of facts (the rest is gathering the facts).
    let facts = kring_access::policy::RequestFacts {
        category: "reports",
        in_circle: true,
        granted: vec!["identity", "reports"],
        named: true,
        same_organisation: true,
        consent: "permit",
        ..Default::default()
    };
    let s = &requests[1].0;
    let n = 100_000;
    let t0 = Instant::now();
    for _ in 0..n {
        std::hint::black_box(d.policy().evaluate_rules(s, Action::Read, &facts));
    }
    println!(
        "| rules only (Cedar, unmemoised) | one permit | {:.1} µs each |",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    // The scope of a search: which clients a professional may see.
    let t0 = Instant::now();
    let n = 2_000;
    for p in 0..n {
        let s = Subject::Professional {
            account: "a".into(),
            practitioner: format!("pr{p}"),
            role: format!("r{p}"),
            organisation: format!("o{}", p % ORGS),
        };
        std::hint::black_box(d.scope_at(&s, "Observation", now));
    }
    println!(
        "| search scope | one professional's permitted clients | {:.1} µs each |",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    // A partner organisation in 500 circles asking again (the scope is remembered).
    let partner = Subject::Partner {
        client_id: "b".into(),
        organisation: "o1".into(),
        scopes: Scopes::parse("system/*.rs").unwrap(),
    };
    let first = Instant::now();
    let scope = d.scope_at(&partner, "Observation", now).unwrap();
    let first = first.elapsed();
    let t0 = Instant::now();
    for _ in 0..n {
        std::hint::black_box(d.scope_at(&partner, "Observation", now));
    }
    println!(
        "| search scope, remembered | a partner organisation with {} clients | first {:.0} µs, then {:.1} µs each |",
        scope.clients.len(),
        first.as_secs_f64() * 1e6,
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
