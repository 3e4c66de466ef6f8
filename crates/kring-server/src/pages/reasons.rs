//! A decision's reasons in words: each rule by its own explanation (the `@nl`/`@en` of
//! `policies/kring.cedar`), each ground by what it is. Reasons read from the access log are
//! parsed back into [`Reason`] first, so every page renders one typed value.

use kring_access::Reason;
use kring_record::Record;

use super::i18n::Texts;

/// One reason, as a sentence for the person reading the page.
pub fn in_words(record: &Record, reason: &Reason, t: &Texts) -> String {
    match reason {
        Reason::Rule(rule) => record
            .rule_text(rule, t.lang.code())
            .unwrap_or_else(|| rule.clone()),
        Reason::DenyByDefault | Reason::RulesFailed | Reason::NoRunningMembership => reason
            .explanation(t.lang.code())
            .unwrap_or_default()
            .to_string(),
        Reason::Membership { .. } => t.get("reason-membership"),
        Reason::Consent(_) => t.get("reason-consent"),
        Reason::Emergency(_) | Reason::EmergencyDeclared => t.get("reason-emergency"),
        Reason::Authority(_) => t.get("reason-authority"),
        Reason::Grant(_) => t.get("reason-grant"),
        Reason::OutOfScope { rtype, action } => t.with(
            "reason-out-of-scope",
            &[("type", rtype.as_str()), ("action", action.name())],
        ),
        Reason::SearchScope => t.get("reason-search-scope"),
    }
}

/// Every reason of a decision in words, without repeating a sentence.
pub fn all_in_words(record: &Record, reasons: &[Reason], t: &Texts) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in reasons {
        let s = in_words(record, r, t);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
