//! One access-log entry with the fields NEN 7513 asks for, and its exact bytes in the log.

use serde::{Deserialize, Serialize};

/// Who acted: an account or partner system, with the role and organisation it acted in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Actor {
    /// A stable id: `account/…`, `client/…` (a partner system) or `operator`.
    pub id: String,
    /// The person as a FHIR reference: `Practitioner/…`, `Patient/…`, `RelatedPerson/…`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub person: String,
    /// The user's own name, as NEN 7513 asks (a professional's name, never a client's BSN).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The role acted in: `PractitionerRole/…`, `client`, `representative`, `officer` …
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// `Organization/…` the user acted for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub organisation: String,
}

/// The data concerned.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Data {
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The data category (`identity`, `crisis-plan` …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
}

/// Where the request came from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Origin {
    /// The system: `kring-web`, `kring-api`, `kring-cli` or `client/…` for a partner system.
    pub system: String,
    /// Network address, or `cli`.
    pub address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
}

/// One access, as NEN 7513 asks: who, which client, what, when, from where, on what ground,
/// for what purpose, and the outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessEntry {
    /// The entry id: its position in the log, assigned when it is stored.
    #[serde(default)]
    pub id: u64,
    /// When, UTC with milliseconds.
    pub recorded: String,
    /// C, R, U, D or E.
    pub action: String,
    /// The FHIR interaction (`read`, `search-type` …), page (`page-view`), or event (`sign-in`).
    pub interaction: String,
    /// `success`, `denied`, `not-found`, `invalid` or `failed`.
    pub outcome: String,
    pub user: Actor,
    /// The responsible user when acting on someone's behalf (a partner system's organisation,
    /// a parent acting for a child).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_behalf_of: String,
    /// The client (Patient id); empty for shared data or when unknown. Never a BSN.
    #[serde(default)]
    pub client: String,
    pub data: Data,
    pub source: Origin,
    /// v3 ActReason: `TREAT`, `ETREAT`, `PATRQT`, `HOPERAT`, `HSYSADMIN`.
    pub purpose: String,
    /// The grounds by id: `CareTeam/…#n`, `Consent/…`, `Communication/…` (emergency).
    #[serde(default)]
    pub grounds: Vec<String>,
    /// The decision's reasons (`rule:…`, `membership:…` …).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The reason the user stated for breaking the glass, in their own words (bounded); the
    /// client and the privacy officer read it. Empty for every other access.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stated_reason: String,
}

impl AccessEntry {
    /// The exact bytes stored in the log (and hashed into its tree).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising our own plain struct cannot fail.
        serde_json::to_vec(self).expect("access entry serialises")
    }

    /// Reads stored bytes back.
    pub fn from_bytes(bytes: &[u8]) -> Result<AccessEntry, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Milliseconds since the epoch of `recorded` (0 when it cannot be read).
    pub fn recorded_ms(&self) -> i64 {
        kring_fhir::datetime::parse_range(&self.recorded)
            .map(|r| r.low)
            .unwrap_or(0)
    }

    /// Whether this was an emergency access.
    pub fn is_emergency(&self) -> bool {
        self.purpose == "ETREAT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_hold_no_empty_noise() {
        let e = AccessEntry {
            id: 7,
            recorded: "2026-11-23T10:00:00.123Z".into(),
            action: "R".into(),
            interaction: "read".into(),
            outcome: "success".into(),
            user: Actor {
                id: "account/a".into(),
                ..Actor::default()
            },
            client: "p1".into(),
            data: Data {
                resource_type: "Patient".into(),
                id: "p1".into(),
                category: "identity".into(),
            },
            purpose: "TREAT".into(),
            ..AccessEntry::default()
        };
        let bytes = e.to_bytes();
        assert!(!String::from_utf8_lossy(&bytes).contains("\"name\""));
        assert_eq!(AccessEntry::from_bytes(&bytes).unwrap(), e);
        assert_eq!(e.recorded_ms() % 1000, 123);
    }
}
