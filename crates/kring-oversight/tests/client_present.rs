//! A former carer who reads the record while the client is being treated at the carer's own
//! location is queued below the flag line (the client most likely came back); the same read
//! at another time, or during a residence rather than a treatment, is flagged as before.

mod common;

use common::read;
use kring_oversight::{screen, AccessLog, Context, Reason, RoleMap};

const CONTEXT: &str = r#"{"resourceType":"Organization","id":"ggz"}
{"resourceType":"Location","id":"poli","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Location","id":"huis","managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Practitioner","id":"jan","name":[{"family":"Bakker","given":["Jan"]}]}
{"resourceType":"PractitionerRole","id":"rj","practitioner":{"reference":"Practitioner/jan"},"organization":{"reference":"Organization/ggz"},"location":[{"reference":"Location/poli"},{"reference":"Location/huis"}],"code":[{"text":"GZ-psycholoog"}]}
{"resourceType":"Practitioner","id":"els","name":[{"family":"Mulder","given":["Els"]}]}
{"resourceType":"PractitionerRole","id":"re","practitioner":{"reference":"Practitioner/els"},"organization":{"reference":"Organization/ggz"},"code":[{"text":"GZ-psycholoog"}]}
{"resourceType":"Patient","id":"kees","name":[{"family":"Smit","given":["Kees"]}],"managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"mira","name":[{"family":"Visser","given":["Mira"]}],"managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"CareTeam","id":"k1","subject":{"reference":"Patient/kees"},"participant":[{"member":{"reference":"Practitioner/jan"},"period":{"start":"2024-01-01","end":"2025-06-30"}},{"member":{"reference":"Practitioner/els"}}]}
{"resourceType":"CareTeam","id":"m1","subject":{"reference":"Patient/mira"},"participant":[{"member":{"reference":"Practitioner/jan"},"period":{"start":"2024-01-01","end":"2025-06-30"}},{"member":{"reference":"Practitioner/els"}}]}
{"resourceType":"Encounter","id":"v1","status":"finished","subject":{"reference":"Patient/kees"},"location":[{"location":{"reference":"Location/poli"}}],"period":{"start":"2026-11-10T09:00:00Z","end":"2026-11-10T11:00:00Z"}}
{"resourceType":"Encounter","id":"v2","status":"in-progress","subject":{"reference":"Patient/mira"},"location":[{"location":{"reference":"Location/huis"}}],"period":{"start":"2025-01-01T00:00:00Z","end":"2027-01-01T00:00:00Z"}}"#;

#[test]
fn a_former_carer_reading_while_the_client_is_treated_at_their_location_is_queued_not_flagged() {
    let audit = [
        // Jan reads Kees during Kees's treatment at Jan's location.
        read("e1", "jan", "kees", "2026-11-10T09:20:00Z"),
        // The same read that afternoon, long after the treatment: flagged.
        read("e2", "jan", "kees", "2026-11-10T14:00:00Z"),
        // Mira lives at Jan's other location: a residence says nothing about the moment.
        read("e3", "jan", "mira", "2026-11-10T09:30:00Z"),
    ]
    .join("\n");
    let mut cx = Context::read(CONTEXT.as_bytes(), &RoleMap::default()).unwrap();
    let log = AccessLog::read(audit.as_bytes(), &mut cx).unwrap();
    let findings = screen(&cx, &log).findings;
    let of = |id: &str| findings.iter().find(|f| f.event == id).unwrap();
    let back = of("e1");
    assert!(!back.flagged(), "{back:?}");
    assert!(back.score > 0.0, "queued all the same");
    assert_eq!(back.reasons, vec![Reason::RelationshipEnded]);
    assert!(
        back.explanation.contains("teruggekomen"),
        "{}",
        back.explanation
    );
    for id in ["e2", "e3"] {
        let f = of(id);
        assert!(f.flagged(), "{f:?}");
        assert!(f.reasons.contains(&Reason::RelationshipEnded), "{f:?}");
        assert!(!f.explanation.contains("teruggekomen"), "{}", f.explanation);
    }
}
