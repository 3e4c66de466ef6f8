//! Consent: the client's directives (FHIR `Consent`), how they combine, and who may give them
//! under the Dutch age rules (WGBO / Jeugdwet).
//!
//! A directive permits or denies sharing with an organisation (or any) for a data category (or
//! any), during a period. The most specific matching directive wins (organisation and category
//! named beats one of them named beats neither); at equal specificity a deny wins.

use chrono::NaiveDate;
use serde_json::Value;

use crate::category::{Category, CATEGORY_SYSTEM};
use crate::facts::{date_of, reference_id, Period};

/// One recorded consent.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRecord {
    pub id: String,
    pub client: Option<String>,
    pub active: bool,
    /// Who gave it (`Patient/…`, `RelatedPerson/…`), from `Consent.performer`.
    pub given_by: Vec<String>,
    pub directives: Vec<Directive>,
}

/// One permit or deny.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    pub permit: bool,
    /// Organisation ids; empty means any organisation.
    pub organisations: Vec<String>,
    /// Categories; empty means every category.
    pub categories: Vec<Category>,
    pub period: Period,
}

impl Directive {
    fn specificity(&self) -> u8 {
        u8::from(!self.organisations.is_empty()) + u8::from(!self.categories.is_empty())
    }
    fn matches(&self, organisation: &str, category: Category, today: NaiveDate) -> bool {
        self.period.covers(today)
            && (self.organisations.is_empty()
                || self.organisations.iter().any(|o| o == organisation))
            && (self.categories.is_empty() || self.categories.contains(&category))
    }
}

/// What the consents say for one organisation and category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// No directive applies.
    None,
    /// Permitted by this consent; `explicit` when it names the category itself.
    Permit {
        consent: String,
        explicit: bool,
    },
    Deny {
        consent: String,
    },
}

impl ConsentRecord {
    pub fn from_json(id: &str, v: &Value) -> ConsentRecord {
        let client = v["patient"]["reference"]
            .as_str()
            .and_then(|r| reference_id(r, "Patient"));
        let active = v["status"].as_str() == Some("active");
        let given_by = v["performer"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["reference"].as_str().map(str::to_string))
            .collect();
        let mut directives = Vec::new();
        if v["provision"].is_object() {
            provision(&v["provision"], Period::default(), &mut directives);
        }
        ConsentRecord {
            id: id.to_string(),
            client,
            active,
            given_by,
            directives,
        }
    }
}

/// Flattens a provision and its nested exceptions; a nested provision inherits the period.
fn provision(p: &Value, outer: Period, out: &mut Vec<Directive>) {
    let period = Period {
        start: date_of(&p["period"]["start"]).or(outer.start),
        end: date_of(&p["period"]["end"]).or(outer.end),
    };
    if let Some(kind) = p["type"].as_str() {
        let organisations = p["actor"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["reference"]["reference"].as_str())
            .filter_map(|r| reference_id(r, "Organization"))
            .collect();
        let categories = p["class"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["system"] == CATEGORY_SYSTEM)
            .filter_map(|c| c["code"].as_str().and_then(Category::from_code))
            .collect();
        out.push(Directive {
            permit: kind == "permit",
            organisations,
            categories,
            period,
        });
    }
    for inner in p["provision"].as_array().into_iter().flatten() {
        provision(inner, period, out);
    }
}

/// Combines the directives of `consents` for `organisation` and `category` on `today`.
pub fn resolve<'a>(
    consents: impl IntoIterator<Item = &'a ConsentRecord>,
    organisation: &str,
    category: Category,
    today: NaiveDate,
) -> Resolution {
    let mut best: Option<(u8, bool, &ConsentRecord, &Directive)> = None;
    for c in consents.into_iter().filter(|c| c.active) {
        for d in c
            .directives
            .iter()
            .filter(|d| d.matches(organisation, category, today))
        {
            let s = d.specificity();
            let better = match best {
                None => true,
                Some((bs, bpermit, ..)) => s > bs || (s == bs && bpermit && !d.permit),
            };
            if better {
                best = Some((s, d.permit, c, d));
            }
        }
    }
    match best {
        None => Resolution::None,
        Some((_, true, c, d)) => Resolution::Permit {
            consent: c.id.clone(),
            explicit: d.categories.contains(&category),
        },
        Some((_, false, c, _)) => Resolution::Deny {
            consent: c.id.clone(),
        },
    }
}

/// Who decides about a client's consent, by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// Under 12: the parents with parental authority.
    Parents,
    /// 12 to 15: the child and the parents together.
    ChildAndParents,
    /// From 16: the young person alone.
    Client,
}

impl Decider {
    pub fn for_age(age: u32) -> Decider {
        match age {
            0..=11 => Decider::Parents,
            12..=15 => Decider::ChildAndParents,
            _ => Decider::Client,
        }
    }
}

/// Why a consent may not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentRefusal {
    #[error("a consent must name the client it is about (Consent.patient)")]
    NoClient,
    #[error("the client's birth date is unknown, so Kring cannot tell who may give consent")]
    UnknownAge,
    #[error("the client is younger than 12: a parent with parental authority must give this consent (Consent.performer)")]
    NeedsParent,
    #[error("the client is between 12 and 15: the client and a parent with parental authority must give this consent together (Consent.performer)")]
    NeedsChildAndParent,
    #[error("the client is 16 or older and decides alone: the client must give this consent (Consent.performer)")]
    NeedsClient,
    #[error("you may only record a consent that you give yourself (Consent.performer)")]
    NotAmongGivers,
}

/// Checks the age rule: do the givers of a consent suffice for a client of `age`?
/// `is_parent_with_authority` tells whether a `RelatedPerson/…` reference is such a parent of
/// this client.
pub fn check_givers(
    client: &str,
    age: u32,
    given_by: &[String],
    is_parent_with_authority: impl Fn(&str) -> bool,
) -> Result<(), ConsentRefusal> {
    let by_client = given_by.iter().any(|g| g == &format!("Patient/{client}"));
    let by_parent = given_by.iter().any(|g| is_parent_with_authority(g));
    match Decider::for_age(age) {
        Decider::Parents if !by_parent => Err(ConsentRefusal::NeedsParent),
        Decider::ChildAndParents if !(by_client && by_parent) => {
            Err(ConsentRefusal::NeedsChildAndParent)
        }
        Decider::Client if !by_client => Err(ConsentRefusal::NeedsClient),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn consent(id: &str, provision: Value) -> ConsentRecord {
        ConsentRecord::from_json(
            id,
            &json!({"resourceType": "Consent", "status": "active",
                    "patient": {"reference": "Patient/p"}, "provision": provision}),
        )
    }

    fn org(o: &str) -> Value {
        json!({"reference": {"reference": format!("Organization/{o}")}})
    }
    fn cat(c: &str) -> Value {
        json!({"system": CATEGORY_SYSTEM, "code": c})
    }

    #[test]
    fn most_specific_wins_and_deny_wins_ties() {
        let today = day("2026-06-01");
        let general = consent("a", json!({"type": "permit", "actor": [org("o1")]}));
        let specific = consent(
            "b",
            json!({"type": "deny", "actor": [org("o1")], "class": [cat("medication")]}),
        );
        let all = [general.clone(), specific.clone()];
        assert_eq!(
            resolve(&all, "o1", Category::Reports, today),
            Resolution::Permit {
                consent: "a".into(),
                explicit: false
            }
        );
        assert_eq!(
            resolve(&all, "o1", Category::Medication, today),
            Resolution::Deny {
                consent: "b".into()
            }
        );
        assert_eq!(
            resolve(&all, "o2", Category::Reports, today),
            Resolution::None
        );
        // Equal specificity: deny wins, whatever the order.
        let permit = consent("c", json!({"type": "permit", "class": [cat("reports")]}));
        let deny = consent("d", json!({"type": "deny", "class": [cat("reports")]}));
        for pair in [
            [permit.clone(), deny.clone()],
            [deny.clone(), permit.clone()],
        ] {
            assert_eq!(
                resolve(&pair, "o9", Category::Reports, today),
                Resolution::Deny {
                    consent: "d".into()
                }
            );
        }
    }

    #[test]
    fn periods_and_withdrawal_count() {
        let c = consent(
            "a",
            json!({"type": "permit", "period": {"start": "2026-01-01", "end": "2026-03-31"}}),
        );
        assert!(matches!(
            resolve([&c], "o", Category::Reports, day("2026-02-01")),
            Resolution::Permit { .. }
        ));
        assert_eq!(
            resolve([&c], "o", Category::Reports, day("2026-04-01")),
            Resolution::None
        );
        let mut withdrawn = c.clone();
        withdrawn.active = false;
        assert_eq!(
            resolve([&withdrawn], "o", Category::Reports, day("2026-02-01")),
            Resolution::None
        );
    }

    #[test]
    fn nested_exceptions_are_directives_of_their_own() {
        let c = consent(
            "a",
            json!({"type": "permit", "actor": [org("o1")],
                   "provision": [{"type": "deny", "actor": [org("o1")], "class": [cat("reports")]}]}),
        );
        assert_eq!(c.directives.len(), 2);
        assert_eq!(
            resolve([&c], "o1", Category::Reports, day("2026-01-01")),
            Resolution::Deny {
                consent: "a".into()
            }
        );
    }

    #[test]
    fn dutch_age_rules() {
        let parent = |r: &str| r == "RelatedPerson/mum";
        let both = ["Patient/kid".to_string(), "RelatedPerson/mum".to_string()];
        let kid = ["Patient/kid".to_string()];
        let mum = ["RelatedPerson/mum".to_string()];
        let stranger = ["RelatedPerson/aunt".to_string()];
        assert_eq!(check_givers("kid", 11, &mum, parent), Ok(()));
        assert_eq!(
            check_givers("kid", 11, &kid, parent),
            Err(ConsentRefusal::NeedsParent)
        );
        assert_eq!(
            check_givers("kid", 11, &stranger, parent),
            Err(ConsentRefusal::NeedsParent)
        );
        assert_eq!(
            check_givers("kid", 12, &mum, parent),
            Err(ConsentRefusal::NeedsChildAndParent)
        );
        assert_eq!(
            check_givers("kid", 15, &kid, parent),
            Err(ConsentRefusal::NeedsChildAndParent)
        );
        assert_eq!(check_givers("kid", 15, &both, parent), Ok(()));
        assert_eq!(check_givers("kid", 16, &kid, parent), Ok(()));
        assert_eq!(
            check_givers("kid", 16, &mum, parent),
            Err(ConsentRefusal::NeedsClient)
        );
    }
}
