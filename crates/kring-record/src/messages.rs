//! Messages between the client and their circle: a `Communication` coded `messages` (data
//! category), about the client (`subject`), from its writer (`sender`) to chosen recipients —
//! the client, a parent, professionals of the circle. The decision point shows each message
//! only to its parties (rule `messages-between-parties`); this module keeps what is written to
//! the rules: in the writer's own name, to at least one recipient, with the client or one of
//! the client's relatives among the parties (a message is the client's conversation with the
//! circle, not a channel between professionals), with a text; a sent message is never changed.

use serde_json::{json, Value};

use kring_access::category::CATEGORY_SYSTEM;

/// Why a message cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageRefusal {
    #[error("a message is sent in your own name (Communication.sender)")]
    NotInOwnName,
    #[error("a message has at least one recipient and a text")]
    Incomplete,
    #[error("a message is between the client (or a relative of the client) and the circle: the client or a relative is its sender or a recipient")]
    NotWithTheClient,
    #[error("a sent message stays as it was")]
    Kept,
}

/// A new message about `client` from `sender` to `recipients`.
pub fn message(client: &str, sender: &str, recipients: &[String], text: &str, now: &str) -> Value {
    json!({
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "messages", "display": "Bericht"}]}],
        "subject": {"reference": format!("Patient/{client}")},
        "sender": {"reference": sender},
        "recipient": recipients.iter().map(|r| json!({"reference": r})).collect::<Vec<_>>(),
        "sent": now,
        "payload": [{"contentString": text.trim()}]
    })
}

/// The text of a message.
pub fn text_of(v: &Value) -> String {
    v["payload"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["contentString"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rules for a message written by someone named `me` (their references); `relative`
/// tells whether a `RelatedPerson/…` reference is a relative of the client.
pub fn check(
    me: &[String],
    client: &str,
    relative: &dyn Fn(&str) -> bool,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), MessageRefusal> {
    if old.is_some() {
        return Err(MessageRefusal::Kept);
    }
    let sender = new["sender"]["reference"].as_str().unwrap_or_default();
    if !me.iter().any(|m| m == sender) {
        return Err(MessageRefusal::NotInOwnName);
    }
    let recipients: Vec<&str> = new["recipient"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reference"].as_str())
        .collect();
    if recipients.is_empty() || text_of(new).trim().is_empty() {
        return Err(MessageRefusal::Incomplete);
    }
    let with_client = std::iter::once(sender).chain(recipients).any(|p| {
        p == format!("Patient/{client}") || (p.starts_with("RelatedPerson/") && relative(p))
    });
    if !with_client {
        return Err(MessageRefusal::NotWithTheClient);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_in_ones_own_name_with_the_client() {
        let me = vec!["PractitionerRole/r1".to_string()];
        let no = |_: &str| false;
        let m = message(
            "p1",
            "PractitionerRole/r1",
            &["Patient/p1".into()],
            "Tot morgen",
            "2026-12-06T10:00:00Z",
        );
        check(&me, "p1", &no, &m, None).unwrap();
        assert_eq!(
            check(&me, "p1", &no, &m, Some(&m)),
            Err(MessageRefusal::Kept)
        );
        let other = message(
            "p1",
            "PractitionerRole/r2",
            &["Patient/p1".into()],
            "x",
            "2026-12-06T10:00:00Z",
        );
        assert_eq!(
            check(&me, "p1", &no, &other, None),
            Err(MessageRefusal::NotInOwnName)
        );
        let between = message(
            "p1",
            "PractitionerRole/r1",
            &["PractitionerRole/r2".into()],
            "x",
            "2026-12-06T10:00:00Z",
        );
        assert_eq!(
            check(&me, "p1", &no, &between, None),
            Err(MessageRefusal::NotWithTheClient)
        );
        let to_parent = message(
            "p1",
            "PractitionerRole/r1",
            &["RelatedPerson/mum".into()],
            "x",
            "2026-12-06T10:00:00Z",
        );
        check(&me, "p1", &|r| r == "RelatedPerson/mum", &to_parent, None).unwrap();
        let empty = message(
            "p1",
            "PractitionerRole/r1",
            &["Patient/p1".into()],
            " ",
            "2026-12-06T10:00:00Z",
        );
        assert_eq!(
            check(&me, "p1", &no, &empty, None),
            Err(MessageRefusal::Incomplete)
        );
    }
}
