//! What a user's job is, as far as the engine needs to know: care, administration, planning,
//! night shift or crisis service. A source system's role codes are mapped onto these by a
//! ROLES file (`{"roles": {"<code or text>": "administration", …}}`); without one the engine
//! reads well-known Dutch and English words in the role's code or text, and otherwise infers
//! the role from behaviour (see `screen`).

use std::collections::HashMap;

use serde::Deserialize;

use crate::OversightError;

/// The kinds of work that explain access beyond a care relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleKind {
    Care,
    Administration,
    Planning,
    NightShift,
    CrisisService,
}

impl RoleKind {
    pub fn code(self) -> &'static str {
        match self {
            RoleKind::Care => "care",
            RoleKind::Administration => "administration",
            RoleKind::Planning => "planning",
            RoleKind::NightShift => "night-shift",
            RoleKind::CrisisService => "crisis-service",
        }
    }

    /// The role in a Dutch sentence.
    pub fn dutch(self) -> &'static str {
        match self {
            RoleKind::Care => "zorg",
            RoleKind::Administration => "administratie",
            RoleKind::Planning => "planning",
            RoleKind::NightShift => "nachtdienst",
            RoleKind::CrisisService => "crisisdienst",
        }
    }

    /// Whether the role may rightly break the glass.
    pub fn emergency_role(self) -> bool {
        matches!(self, RoleKind::CrisisService | RoleKind::NightShift)
    }
}

/// The mapping from a source system's role codes and texts onto [`RoleKind`]s.
#[derive(Debug, Clone, Default)]
pub struct RoleMap {
    /// Lower-cased code or text → kind.
    map: HashMap<String, RoleKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    roles: HashMap<String, RoleKind>,
}

impl RoleMap {
    /// Reads a ROLES file's JSON.
    pub fn from_json(text: &str) -> Result<RoleMap, OversightError> {
        let file: RolesFile =
            serde_json::from_str(text).map_err(|e| OversightError::Roles(e.to_string()))?;
        Ok(RoleMap {
            map: file
                .roles
                .into_iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v))
                .collect(),
        })
    }

    /// Whether the map was given (rather than empty).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The kind of a role with these codes and texts: the map first, then known words.
    pub fn kind(&self, codes: &[String]) -> Option<RoleKind> {
        codes
            .iter()
            .find_map(|c| self.map.get(&c.trim().to_lowercase()).copied())
            .or_else(|| codes.iter().find_map(|c| kind_from_words(c)))
    }
}

/// A role kind recognised from words in a code or text ("Nachtdienst", "planner", …).
pub fn kind_from_words(text: &str) -> Option<RoleKind> {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["crisis", "spoedeisend"]) {
        Some(RoleKind::CrisisService)
    } else if has(&["nacht", "night"]) {
        Some(RoleKind::NightShift)
    } else if has(&["plann", "rooster", "scheduling"]) {
        Some(RoleKind::Planning)
    } else if has(&[
        "administrat",
        "secretar",
        "receptie",
        "reception",
        "clerk",
        "zorgadministratie",
        "medisch secretaresse",
    ]) {
        Some(RoleKind::Administration)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_wins_over_words_and_words_over_nothing() {
        let m = RoleMap::from_json(r#"{"roles": {"ADM": "administration", "Nachtwacht": "care"}}"#)
            .unwrap();
        assert_eq!(m.kind(&["adm".into()]), Some(RoleKind::Administration));
        assert_eq!(m.kind(&["Nachtwacht".into()]), Some(RoleKind::Care));
        assert_eq!(
            m.kind(&["Medewerker nachtdienst".into()]),
            Some(RoleKind::NightShift)
        );
        assert_eq!(m.kind(&["Begeleider".into()]), None);
    }

    #[test]
    fn a_wrong_roles_file_is_refused_with_its_problem() {
        let e = RoleMap::from_json(r#"{"roles": {"ADM": "boss"}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown variant `boss`"), "{e}");
    }
}
