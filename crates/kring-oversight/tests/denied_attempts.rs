//! Refused attempts are screened: a professional probing clients outside their circles is
//! browsing even when every probe was refused, and one refused attempt alone is queued with
//! its reason but not flagged; a refusal inside one's own circle (a category not granted) is
//! explained like any access of a member.

mod common;

use common::read;
use kring_oversight::{screen, AccessLog, Context, Reason, RoleMap};

const CONTEXT: &str = r#"{"resourceType":"Organization","id":"ggz"}
{"resourceType":"Practitioner","id":"anna","name":[{"family":"Bakker","given":["Anna"]}]}
{"resourceType":"PractitionerRole","id":"ra","practitioner":{"reference":"Practitioner/anna"},"organization":{"reference":"Organization/ggz"},"code":[{"text":"GZ-psycholoog"}]}
{"resourceType":"Practitioner","id":"piet","name":[{"family":"Kok","given":["Piet"]}]}
{"resourceType":"PractitionerRole","id":"rp","practitioner":{"reference":"Practitioner/piet"},"organization":{"reference":"Organization/ggz"},"code":[{"text":"GZ-psycholoog"}]}
{"resourceType":"Patient","id":"c0","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"c1","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"c2","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"c3","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"c4","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"c5","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"mine","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"CareTeam","id":"k0","subject":{"reference":"Patient/c0"},"participant":[{"member":{"reference":"Practitioner/anna"}}]}
{"resourceType":"CareTeam","id":"k1","subject":{"reference":"Patient/c1"},"participant":[{"member":{"reference":"Practitioner/anna"}}]}
{"resourceType":"CareTeam","id":"k2","subject":{"reference":"Patient/c2"},"participant":[{"member":{"reference":"Practitioner/anna"}}]}
{"resourceType":"CareTeam","id":"k3","subject":{"reference":"Patient/c3"},"participant":[{"member":{"reference":"Practitioner/anna"}}]}
{"resourceType":"CareTeam","id":"k4","subject":{"reference":"Patient/c4"},"participant":[{"member":{"reference":"Practitioner/anna"}}]}
{"resourceType":"CareTeam","id":"k5","subject":{"reference":"Patient/c5"},"participant":[{"member":{"reference":"Practitioner/anna"}}]}
{"resourceType":"CareTeam","id":"km","subject":{"reference":"Patient/mine"},"participant":[{"member":{"reference":"Practitioner/piet"}}]}"#;

/// A refused read (outcome 8, as Kring writes a denial).
fn refused(id: &str, who: &str, client: &str, at: &str) -> String {
    read(id, who, client, at).replace(r#""outcome":"0""#, r#""outcome":"8""#)
}

#[test]
fn probing_clients_outside_ones_circles_is_browsing_though_every_probe_was_refused() {
    let mut audit: Vec<String> = (0..6)
        .map(|i| {
            refused(
                &format!("p{i}"),
                "piet",
                &format!("c{i}"),
                &format!("2026-11-10T10:{:02}:00Z", i * 5),
            )
        })
        .collect();
    // Piet reads his own client (explained), and is refused once in his own circle.
    audit.push(read("own", "piet", "mine", "2026-11-10T09:00:00Z"));
    audit.push(refused(
        "own-refused",
        "piet",
        "mine",
        "2026-11-10T09:05:00Z",
    ));
    // Anna, a member of c0's circle, is refused once on another day: one attempt, queued.
    audit.push(refused("anna-once", "anna", "mine", "2026-11-12T11:00:00Z"));
    let audit = audit.join("\n");
    let mut cx = Context::read(CONTEXT.as_bytes(), &RoleMap::default()).unwrap();
    let log = AccessLog::read(audit.as_bytes(), &mut cx).unwrap();
    let findings = screen(&cx, &log).findings;
    let of = |id: &str| findings.iter().find(|f| f.event == id);
    for i in 0..6 {
        let f = of(&format!("p{i}")).expect("every probe is a finding");
        assert!(f.flagged(), "{f:?}");
        assert!(f.reasons.contains(&Reason::Browsing), "{f:?}");
        assert!(f.reasons.contains(&Reason::DeniedAttempt), "{f:?}");
    }
    assert!(of("own").is_none());
    assert!(
        of("own-refused").is_none(),
        "a member's refusal is explained"
    );
    let once = of("anna-once").expect("queued");
    assert!(!once.flagged(), "{once:?}");
    assert_eq!(once.reasons, vec![Reason::DeniedAttempt]);
}
