//! A client whom nobody is registered for: an own-organisation carer's access is most likely a
//! missing registration (queued below the flag line, saying so); an own-organisation carer
//! missing from a registered circle goes to the weekly sample, unless it was a single look in
//! the whole log; a carer of an organisation with no part in the client's care is flagged as
//! before.

mod common;

use common::read;
use kring_oversight::{screen, AccessLog, Context, Reason, RoleMap};

const CONTEXT: &str = r#"{"resourceType":"Organization","id":"ggz"}
{"resourceType":"Organization","id":"jeugd"}
{"resourceType":"Practitioner","id":"anna","name":[{"family":"Bakker","given":["Anna"]}]}
{"resourceType":"PractitionerRole","id":"ra","practitioner":{"reference":"Practitioner/anna"},"organization":{"reference":"Organization/ggz"},"code":[{"text":"GZ-psycholoog"}]}
{"resourceType":"Practitioner","id":"joost","name":[{"family":"Mulder","given":["Joost"]}]}
{"resourceType":"PractitionerRole","id":"rj","practitioner":{"reference":"Practitioner/joost"},"organization":{"reference":"Organization/jeugd"},"code":[{"text":"Jeugdhulpverlener"}]}
{"resourceType":"Patient","id":"els","name":[{"family":"Visser","given":["Els"]}],"managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"Patient","id":"kees","name":[{"family":"Smit","given":["Kees"]}],"managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"CareTeam","id":"k1","subject":{"reference":"Patient/kees"},"participant":[{"member":{"reference":"Practitioner/joost"}}]}
{"resourceType":"Patient","id":"mies","name":[{"family":"Jansen","given":["Mies"]}],"managingOrganization":{"reference":"Organization/ggz"}}
{"resourceType":"CareTeam","id":"m1","subject":{"reference":"Patient/mies"},"participant":[{"member":{"reference":"Practitioner/joost"}}]}
{"resourceType":"Patient","id":"lies","name":[{"family":"Bos","given":["Lies"]}],"managingOrganization":{"reference":"Organization/jeugd"}}
{"resourceType":"CareTeam","id":"l1","subject":{"reference":"Patient/lies"},"participant":[{"member":{"reference":"Practitioner/joost"}}]}"#;

#[test]
fn an_unregistered_client_of_ones_own_organisation_is_a_registration_gap_not_a_flag() {
    let audit = [
        // Anna (ggz) reads Els (ggz), whom nobody is registered for.
        read("e1", "anna", "els", "2026-11-10T10:00:00Z"),
        // Joost (another organisation) reads Els: flagged.
        read("e2", "joost", "els", "2026-11-10T10:05:00Z"),
        // Anna reads Kees (ggz), who has a registered circle without her, and again two days
        // later: her organisation takes part in his care, no signal: the weekly sample.
        read("e3", "anna", "kees", "2026-11-10T10:10:00Z"),
        read("e5", "anna", "kees", "2026-11-12T10:10:00Z"),
        // Anna looks once at Mies (ggz, a registered circle without her) and never again:
        // flagged, not sampled.
        read("e6", "anna", "mies", "2026-11-11T10:10:00Z"),
        // Anna reads Lies (jeugd), in whose care ggz has no part: flagged.
        read("e4", "anna", "lies", "2026-11-10T10:15:00Z"),
    ]
    .join("\n");
    let mut cx = Context::read(CONTEXT.as_bytes(), &RoleMap::default()).unwrap();
    let log = AccessLog::read(audit.as_bytes(), &mut cx).unwrap();
    let findings = screen(&cx, &log).findings;
    let of = |id: &str| findings.iter().find(|f| f.event == id).unwrap();
    let gap = of("e1");
    assert!(!gap.flagged(), "{gap:?}");
    assert!(gap.score > 0.0, "queued all the same");
    assert_eq!(gap.reasons, vec![Reason::NoExplanation]);
    assert!(
        gap.explanation.contains("registratie"),
        "{}",
        gap.explanation
    );
    for id in ["e3", "e5"] {
        let sampled = of(id);
        assert!(!sampled.flagged(), "{sampled:?}");
        assert_eq!(sampled.reasons, vec![Reason::NoExplanation]);
        assert!(
            sampled.explanation.contains("steekproef"),
            "{}",
            sampled.explanation
        );
    }
    let once = of("e6");
    assert!(once.flagged(), "{once:?}");
    assert_eq!(once.reasons, vec![Reason::SingleLook]);
    assert!(
        once.explanation.contains("één keer"),
        "{}",
        once.explanation
    );
    for id in ["e2", "e4"] {
        let f = of(id);
        assert!(f.flagged(), "{f:?}");
        assert!(!f.explanation.contains("registratie"), "{}", f.explanation);
    }
}
