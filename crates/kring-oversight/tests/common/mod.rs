//! AUDIT lines for the engine's small worked tests.

/// One AuditEvent line: `who` reads `client`'s record at `at`; `emergency` breaks the glass
/// with a stated reason.
pub fn access(id: &str, who: &str, client: &str, at: &str, emergency: bool) -> String {
    let purpose = if emergency {
        r#"[{"coding":[{"code":"ETREAT"}],"text":"acute crisis"}]"#
    } else {
        r#"[{"coding":[{"code":"TREAT"}]}]"#
    };
    format!(
        r#"{{"resourceType":"AuditEvent","id":"{id}","subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}}],"action":"R","recorded":"{at}","outcome":"0","purposeOfEvent":{purpose},"agent":[{{"who":{{"reference":"Practitioner/{who}"}},"requestor":true}}],"entity":[{{"what":{{"reference":"Patient/{client}"}}}}]}}"#
    )
}

/// An ordinary read.
#[allow(dead_code)]
pub fn read(id: &str, who: &str, client: &str, at: &str) -> String {
    access(id, who, client, at, false)
}

/// Prints a run's figures per kind and its calibration table (for `--nocapture`).
#[allow(dead_code)]
pub fn print_quality(q: &kring_oversight::quality::Quality) {
    for k in q.per_kind.iter().chain([&q.overall]) {
        eprintln!(
            "{:<20} planted {:>4} recall {:.3} named {:.3} | flagged {:>4} precision {:.3}",
            k.kind.map_or("all", |r| r.code()),
            k.planted,
            k.recall(),
            k.named_recall(),
            k.flagged,
            k.precision()
        );
    }
    for b in &q.calibration {
        eprintln!(
            "score {:.2}-{:.2}: {:>5} findings, mean {:.3}, violations {:.3}",
            b.low,
            b.high,
            b.findings,
            b.mean_score(),
            b.violation_share()
        );
    }
}

/// A month as the engine reads it, with the truth per event.
#[allow(dead_code)]
pub type Month = (
    kring_oversight::Context,
    kring_oversight::AccessLog,
    Vec<Option<kring_oversight::Reason>>,
);

/// One month of the in-house generator, with its ROLES file.
#[allow(dead_code)]
pub fn in_house_month(seed: u64) -> Month {
    use kring_oversight::synthetic::{Params, Synthetic};
    let s = Synthetic::generate(Params::month(seed));
    let roles = kring_oversight::RoleMap::from_json(&s.roles_json()).unwrap();
    let mut cx = kring_oversight::Context::default();
    for r in s.context() {
        let _ = cx.add(&r, &roles);
    }
    cx.finish();
    let log = s.access_log(&mut cx);
    (cx, log, s.truth())
}

/// One month of the independent region, read through its NDJSON and ROLES files.
#[allow(dead_code)]
pub fn region_month(seed: u64) -> Month {
    use kring_oversight::rivierenland::{Region, RegionParams};
    let r = Region::generate(RegionParams::month(seed));
    let (mut context, mut audit) = (Vec::new(), Vec::new());
    r.write_context(&mut context).unwrap();
    r.write_audit(&mut audit).unwrap();
    let roles = kring_oversight::RoleMap::from_json(&r.roles_json()).unwrap();
    let mut cx = kring_oversight::Context::read(context.as_slice(), &roles).unwrap();
    let log = kring_oversight::AccessLog::read(audit.as_slice(), &mut cx).unwrap();
    (cx, log, r.truth())
}
