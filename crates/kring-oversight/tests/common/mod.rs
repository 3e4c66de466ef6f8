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
