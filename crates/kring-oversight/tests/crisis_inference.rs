//! Without a ROLES file a crisis service is recognised by what it does: almost nothing but
//! emergency access with a stated reason, on many days, within one organisation. What that
//! explains is still queued; ordinary reads, a family member's record and a carer who breaks
//! the glass now and then are flagged.

mod common;

use common::access;
use kring_oversight::{screen, AccessLog, Context, Reason, RoleMap};

fn context() -> String {
    let mut lines = vec![
        r#"{"resourceType":"Organization","id":"ggz"}"#.to_string(),
        r#"{"resourceType":"Practitioner","id":"kim","name":[{"family":"Dekker","given":["Kim"]}],"address":[{"line":["Dorpsstraat 4"],"city":"Ede","postalCode":"6711AA"}]}"#.into(),
        r#"{"resourceType":"PractitionerRole","id":"rk","practitioner":{"reference":"Practitioner/kim"},"organization":{"reference":"Organization/ggz"},"code":[{"text":"R4"}]}"#.into(),
        r#"{"resourceType":"Practitioner","id":"piet","name":[{"family":"Mulder","given":["Piet"]}]}"#.into(),
        r#"{"resourceType":"PractitionerRole","id":"rp","practitioner":{"reference":"Practitioner/piet"},"organization":{"reference":"Organization/ggz"},"code":[{"text":"R10"}]}"#.into(),
        // Kim's brother, a client of the same organisation.
        r#"{"resourceType":"Patient","id":"broer","name":[{"family":"Dekker","given":["Bas"]}],"address":[{"line":["Dorpsstraat 4"],"city":"Ede","postalCode":"6711AA"}],"managingOrganization":{"reference":"Organization/ggz"}}"#.into(),
    ];
    for c in 0..30 {
        lines.push(format!(r#"{{"resourceType":"Patient","id":"c{c}","name":[{{"family":"Visser","given":["C{c}"]}}],"managingOrganization":{{"reference":"Organization/ggz"}}}}"#));
        // Piet is in every circle (so nothing is a registration gap).
        lines.push(format!(r#"{{"resourceType":"CareTeam","id":"t{c}","subject":{{"reference":"Patient/c{c}"}},"participant":[{{"member":{{"reference":"Practitioner/piet"}}}}]}}"#));
    }
    lines.push(r#"{"resourceType":"CareTeam","id":"tb","subject":{"reference":"Patient/broer"},"participant":[{"member":{"reference":"Practitioner/piet"}}]}"#.into());
    lines.join("\n")
}

#[test]
fn a_crisis_service_is_inferred_from_breaking_the_glass_on_many_days_and_only_that_is_routine() {
    let mut audit = Vec::new();
    // Kim: emergency access to three clients a day, day and night, on 10 days.
    for day in 0..10 {
        for k in 0..3 {
            let c = (day * 3 + k) % 30;
            let hour = [3, 11, 20][k];
            audit.push(access(
                &format!("k{day}-{k}"),
                "kim",
                &format!("c{c}"),
                &format!("2026-11-{:02}T{hour:02}:00:00Z", day + 2),
                true,
            ));
        }
        // Piet: his ordinary work, every day.
        for k in 0..4 {
            audit.push(access(
                &format!("p{day}-{k}"),
                "piet",
                &format!("c{}", (day + k) % 30),
                &format!("2026-11-{:02}T{:02}:00:00Z", day + 2, 9 + k),
                false,
            ));
        }
    }
    // Piet breaks the glass once; Kim on her brother's record; Kim reads a client ordinarily.
    audit.push(access("p-em", "piet", "c7", "2026-11-13T10:30:00Z", true));
    audit.push(access(
        "k-broer",
        "kim",
        "broer",
        "2026-11-13T12:00:00Z",
        true,
    ));
    audit.push(access(
        "k-gewoon",
        "kim",
        "c5",
        "2026-11-13T12:30:00Z",
        false,
    ));
    audit.sort_by_key(|l| l[l.find("recorded").unwrap()..].to_string());

    let mut cx = Context::read(context().as_bytes(), &RoleMap::default()).unwrap();
    let log = AccessLog::read(audit.join("\n").as_bytes(), &mut cx).unwrap();
    let findings = screen(&cx, &log).findings;
    let of = |id: &str| findings.iter().find(|f| f.event == id).unwrap();
    for day in 0..10 {
        for k in 0..3 {
            let f = of(&format!("k{day}-{k}"));
            assert!(!f.flagged(), "{f:?}");
            assert_eq!(f.reasons, vec![Reason::Emergency], "still queued: {f:?}");
        }
    }
    let piet = of("p-em");
    assert!(piet.flagged(), "{piet:?}");
    let broer = of("k-broer");
    assert!(broer.flagged(), "{broer:?}");
    assert!(broer.reasons.contains(&Reason::Family), "{broer:?}");
    // An ordinary read is not explained by the inferred role: it stays a finding, in the
    // weekly sample (the client is of kim's own organisation, no signal marks the read).
    let ordinary = of("k-gewoon");
    assert_eq!(
        ordinary.reasons,
        vec![Reason::NoExplanation],
        "{ordinary:?}"
    );
    assert!(!ordinary.flagged(), "{ordinary:?}");
}
