//! Every explained access with the evidence its explanation rests on (`kring watch
//! --explained`): as many as the run counts explained, none of them in the queue but emergency
//! access (always reviewed), and
//! each naming the membership, appointment, writes, colleague, location or role it found —
//! on both generators.

use std::collections::HashSet;

mod common;

use kring_oversight::explain::Explanation;
use kring_oversight::{screen, screen_explaining, AccessLog, Context};

/// What a grounds sentence says when it found nothing to name.
const FOUND_NOTHING: [&str; 6] = [
    "lid van de kring van de cliënt: ",
    "afspraak met de cliënt",
    "contact (encounter) met de cliënt",
    "eigen verslaglegging in dit dossier",
    "waarneming binnen werktijd voor een collega",
    "de cliënt verblijft op een locatie van de medewerker",
];

fn check(cx: &Context, log: &AccessLog) {
    let s = screen_explaining(cx, log);
    let mut by_code = std::collections::BTreeMap::new();
    for e in &s.explained {
        *by_code.entry(e.explanation.code()).or_insert(0u64) += 1;
    }
    assert_eq!(by_code, s.stats.explained);
    let queued: HashSet<&str> = s.findings.iter().map(|f| f.event.as_str()).collect();
    let mut seen = HashSet::new();
    for e in &s.explained {
        // Emergency access with a reason is explained and reviewed all the same.
        assert_eq!(
            queued.contains(e.event.as_str()),
            e.explanation == Explanation::Emergency,
            "{e:?}"
        );
        assert!(seen.insert(e.event.as_str()), "{e:?} twice");
        assert!(
            !FOUND_NOTHING.contains(&e.grounds.as_str()),
            "{e:?} names no evidence"
        );
        let line: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(line["explanation"], e.explanation.code());
    }
    // Asking for the grounds changes nothing else.
    let plain = screen(cx, log);
    assert_eq!(plain.findings.len(), s.findings.len());
    assert_eq!(plain.stats.explained, s.stats.explained);
    // Emergency access with a reason is queued with what made it routine.
    for f in s.findings.iter().filter(|f| f.risk <= 0.2) {
        let g = f.evidence.grounds.as_deref().unwrap_or_default();
        assert!(g.starts_with("noodtoegang met een opgegeven reden"), "{g}");
    }
}

#[test]
fn every_explained_access_names_its_evidence_in_house() {
    let (cx, log, _) = common::in_house_month(3);
    check(&cx, &log);
}

#[test]
fn every_explained_access_names_its_evidence_in_the_independent_region() {
    let (cx, log, _) = common::region_month(3);
    check(&cx, &log);
}
