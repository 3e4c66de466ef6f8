//! Contacts the record shows explain an access the circle does not: an encounter the user
//! took part in (in the weeks around it, like an appointment), and a referral or request for
//! the client from or to the user or their organisation (while its work runs), and a sharing
//! grant of the client's data to the user (for its period). Neither
//! excuses opening one's own or a family member's record, and neither reaches past its time.

mod common;

use common::read;
use kring_oversight::{screen, AccessLog, Context, RoleMap};

const CONTEXT: &str = r#"{"resourceType":"Organization","id":"ggz"}
{"resourceType":"Organization","id":"wijk"}
{"resourceType":"Practitioner","id":"anna","name":[{"family":"Bakker","given":["Anna"]}],"birthDate":"1980-01-01"}
{"resourceType":"PractitionerRole","id":"ra","practitioner":{"reference":"Practitioner/anna"},"organization":{"reference":"Organization/ggz"},"code":[{"text":"GZ-psycholoog"}]}
{"resourceType":"Practitioner","id":"wim","name":[{"family":"Wit","given":["Wim"]}]}
{"resourceType":"PractitionerRole","id":"rw","practitioner":{"reference":"Practitioner/wim"},"organization":{"reference":"Organization/wijk"},"code":[{"text":"Wijkcoach"}]}
{"resourceType":"Patient","id":"els","name":[{"family":"Visser","given":["Els"]}],"managingOrganization":{"reference":"Organization/wijk"}}
{"resourceType":"Patient","id":"kees","name":[{"family":"Smit","given":["Kees"]}],"managingOrganization":{"reference":"Organization/wijk"}}
{"resourceType":"Patient","id":"zelf","name":[{"family":"Bakker","given":["Anna"]}],"birthDate":"1980-01-01","managingOrganization":{"reference":"Organization/wijk"}}
{"resourceType":"CareTeam","id":"c1","subject":{"reference":"Patient/els"},"participant":[{"member":{"reference":"PractitionerRole/rw"}}]}
{"resourceType":"CareTeam","id":"c2","subject":{"reference":"Patient/kees"},"participant":[{"member":{"reference":"PractitionerRole/rw"}}]}
{"resourceType":"CareTeam","id":"c3","subject":{"reference":"Patient/zelf"},"participant":[{"member":{"reference":"PractitionerRole/rw"}}]}
{"resourceType":"Encounter","id":"e1","status":"finished","subject":{"reference":"Patient/els"},"period":{"start":"2026-11-05T10:00:00Z","end":"2026-11-05T11:00:00Z"},"participant":[{"individual":{"reference":"PractitionerRole/ra"}}]}
{"resourceType":"Task","id":"t1","status":"requested","intent":"order","for":{"reference":"Patient/kees"},"requester":{"reference":"PractitionerRole/rw"},"owner":{"reference":"Organization/ggz"},"authoredOn":"2026-11-08T09:00:00Z"}
{"resourceType":"Patient","id":"noor","name":[{"family":"Kok","given":["Noor"]}],"managingOrganization":{"reference":"Organization/wijk"}}
{"resourceType":"CareTeam","id":"c4","subject":{"reference":"Patient/noor"},"participant":[{"member":{"reference":"PractitionerRole/rw"}}]}
{"resourceType":"Consent","id":"g1","status":"active","category":[{"coding":[{"system":"https://kring.example/fhir/CodeSystem/consent-kind","code":"sharing-grant"}]}],"patient":{"reference":"Patient/noor"},"provision":{"type":"permit","period":{"start":"2026-11-01","end":"2026-11-30"},"actor":[{"reference":{"reference":"PractitionerRole/ra"}}]}}
{"resourceType":"Task","id":"t2","status":"requested","intent":"order","for":{"reference":"Patient/zelf"},"requester":{"reference":"PractitionerRole/rw"},"owner":{"reference":"Organization/ggz"},"authoredOn":"2026-11-08T09:00:00Z"}"#;

#[test]
fn an_encounter_or_a_referral_explains_what_the_circle_does_not() {
    let audit = [
        // Anna saw Els on 5 November: her reads in the weeks around it are explained.
        read("a1", "anna", "els", "2026-11-12T10:00:00Z"),
        // … but not months later.
        read("a2", "anna", "els", "2027-03-01T10:00:00Z"),
        // Kees is referred to ggz, Anna's organisation: her read while it runs is explained.
        read("a3", "anna", "kees", "2026-11-10T10:00:00Z"),
        // … but not a month before the referral was made.
        read("a4", "anna", "kees", "2026-10-01T10:00:00Z"),
        // Noor's data is shared with Anna in November: explained then, not in December.
        read("a6", "anna", "noor", "2026-11-15T10:00:00Z"),
        read("a7", "anna", "noor", "2026-12-15T10:00:00Z"),
        // A referral never excuses opening one's own record.
        read("a5", "anna", "zelf", "2026-11-10T10:00:00Z"),
    ]
    .join("\n");
    let mut cx = Context::read(CONTEXT.as_bytes(), &RoleMap::default()).unwrap();
    assert_eq!(cx.stats.bad_count, 0, "{:?}", cx.stats.bad);
    let log = AccessLog::read(audit.as_bytes(), &mut cx).unwrap();
    let screening = screen(&cx, &log);
    let found = |id: &str| screening.findings.iter().find(|f| f.event == id);
    assert!(found("a1").is_none(), "{:?}", found("a1"));
    assert!(found("a3").is_none(), "{:?}", found("a3"));
    assert!(found("a6").is_none(), "{:?}", found("a6"));
    for id in ["a2", "a4", "a5", "a7"] {
        assert!(found(id).is_some(), "{id} is not explained");
    }
    assert_eq!(screening.stats.explained.get("encounter"), Some(&1));
    assert_eq!(screening.stats.explained.get("referral"), Some(&1));
    assert_eq!(screening.stats.explained.get("sharing-grant"), Some(&1));
    assert!(found("a5").unwrap().flagged(), "own record");
}
