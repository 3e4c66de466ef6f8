//! Circles: a client's CareTeam and its memberships (who, for which organisation, in which
//! role, with which data categories, for which period). Teams are CareTeams without a subject;
//! a membership may name a team, whose members then share it.

use chrono::NaiveDate;
use serde_json::Value;

use crate::category::{Category, CATEGORY_SYSTEM};
use crate::facts::{date_of, reference_id, Period};

/// The extension on `CareTeam.participant` that lists the data categories of a membership.
pub const CATEGORIES_EXTENSION: &str =
    "https://kring.example/fhir/StructureDefinition/data-categories";
/// The code system of circle roles; its `regisseur` code marks the case director.
pub const ROLE_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/care-role";
pub const DIRECTOR_ROLE: &str = "regisseur";

/// A CareTeam, as far as access is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct Circle {
    pub id: String,
    /// The client (Patient id); `None` for a team.
    pub client: Option<String>,
    pub active: bool,
    pub memberships: Vec<Membership>,
}

/// One participant of a circle.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    /// Position in `CareTeam.participant`, for reasons (`membership:CareTeam/x#2`).
    pub index: usize,
    /// `PractitionerRole/…`, `Practitioner/…`, `Organization/…`, `CareTeam/…` (a team), or
    /// `Patient/…`/`RelatedPerson/…` (who grant nothing by membership).
    pub member: String,
    /// `onBehalfOf`, when given.
    pub organisation: Option<String>,
    pub director: bool,
    pub categories: Vec<Category>,
    pub period: Period,
}

impl Membership {
    pub fn running(&self, today: NaiveDate) -> bool {
        self.period.covers(today)
    }
}

impl Circle {
    pub fn from_json(id: &str, v: &Value) -> Circle {
        let client = v["subject"]["reference"]
            .as_str()
            .and_then(|r| reference_id(r, "Patient"));
        let active = matches!(v["status"].as_str(), None | Some("active"));
        let memberships = v["participant"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .enumerate()
                    .filter_map(|(index, p)| membership(index, p))
                    .collect()
            })
            .unwrap_or_default();
        Circle {
            id: id.to_string(),
            client,
            active,
            memberships,
        }
    }
}

fn membership(index: usize, p: &Value) -> Option<Membership> {
    let member = p["member"]["reference"].as_str()?.to_string();
    let organisation = p["onBehalfOf"]["reference"]
        .as_str()
        .and_then(|r| reference_id(r, "Organization"));
    let director = p["role"].as_array().is_some_and(|roles| {
        roles.iter().any(|r| {
            r["coding"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["system"] == ROLE_SYSTEM && c["code"] == DIRECTOR_ROLE)
            })
        })
    });
    let mut categories = Vec::new();
    for ext in p["extension"].as_array().into_iter().flatten() {
        if ext["url"] != CATEGORIES_EXTENSION {
            continue;
        }
        for c in ext["valueCodeableConcept"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if c["system"] == CATEGORY_SYSTEM {
                if let Some(cat) = c["code"].as_str().and_then(Category::from_code) {
                    if Category::GRANTABLE.contains(&cat) && !categories.contains(&cat) {
                        categories.push(cat);
                    }
                }
            }
        }
    }
    Some(Membership {
        index,
        member,
        organisation,
        director,
        categories,
        period: Period {
            start: date_of(&p["period"]["start"]),
            end: date_of(&p["period"]["end"]),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_members_roles_categories_and_periods() {
        let c = Circle::from_json(
            "c1",
            &json!({
                "resourceType": "CareTeam", "status": "active",
                "subject": {"reference": "Patient/p1"},
                "participant": [{
                    "extension": [{"url": CATEGORIES_EXTENSION, "valueCodeableConcept": {"coding": [
                        {"system": CATEGORY_SYSTEM, "code": "reports"},
                        {"system": CATEGORY_SYSTEM, "code": "circle"},
                        {"system": "other", "code": "medication"}]}}],
                    "role": [{"coding": [{"system": ROLE_SYSTEM, "code": "regisseur"}]}],
                    "member": {"reference": "PractitionerRole/r1"},
                    "onBehalfOf": {"reference": "Organization/o1"},
                    "period": {"start": "2026-01-01", "end": "2026-12-31T10:00:00+01:00"}
                }, {"role": [{"text": "zonder lid"}]}]
            }),
        );
        assert_eq!(c.client.as_deref(), Some("p1"));
        assert_eq!(c.memberships.len(), 1);
        let m = &c.memberships[0];
        assert!(m.director);
        assert_eq!(m.categories, vec![Category::Reports]);
        assert_eq!(m.organisation.as_deref(), Some("o1"));
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(m.running(d("2026-12-31")));
        assert!(!m.running(d("2027-01-01")));
        assert!(!m.running(d("2025-12-31")));
    }
}
