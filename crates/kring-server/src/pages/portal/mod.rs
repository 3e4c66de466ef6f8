//! The client's own Kring: the pages a client, or a parent with authority, signs in to. A start
//! page with what is new ([`home`]), the circle in words ([`circle`]) and the client's rights
//! under the AVG — the whole record to take along ([`data`]). The plan, the crisis plan, the
//! medication and the reports are the same pages professionals read (`work`), opened through
//! [`super::client_ctx`], which gives a signed-in client the portal's tabs; consent and "who
//! looked" have their own modules. Everything is read through the record as the signed-in
//! person: the decision point and the access log see the portal as they see the API.
//!
//! Texts for clients are B1 Dutch: short sentences, no jargon.

pub mod circle;
pub mod data;
pub mod home;

use kring_access::Subject;

use super::client_ctx::Tab;
use super::error::PageError;
use super::names::{search, ClientName};
use super::{Frame, Person};
use crate::AppState;

/// Whose record a portal page is about, and who is looking.
pub struct Own {
    /// The client's id.
    pub client: String,
    /// The person looking, as a reference: `Patient/…` or `RelatedPerson/…`.
    pub me: String,
    /// A parent (or another representative) looks, not the client.
    pub representative: bool,
    /// The client by name, date of birth and age (when the record could be read).
    pub name: Option<ClientName>,
}

/// Whose record the signed-in person's portal is about (a page for clients and
/// representatives only).
pub fn whose(person: &Person) -> Result<(String, String, bool), PageError> {
    match &person.caller.subject {
        Subject::Client { patient, .. } => {
            Ok((patient.clone(), format!("Patient/{patient}"), false))
        }
        Subject::Representative {
            patient,
            related_person,
            ..
        }
        | Subject::Supporter {
            patient,
            related_person,
            ..
        } => Ok((
            patient.clone(),
            format!("RelatedPerson/{related_person}"),
            true,
        )),
        _ => Err(person.not_for_you()),
    }
}

/// Whether the signed-in person is a supporter (the plan and their messages only).
pub fn is_supporter(person: &Person) -> bool {
    matches!(person.caller.subject, Subject::Supporter { .. })
}

impl Own {
    /// The portal's client for `person`, with the client's name read through the record (a
    /// parent who no longer has authority reads nothing, and is told so by the pages).
    pub async fn of(state: &AppState, person: &Person) -> Result<Own, PageError> {
        // The portal's own pages (start, circle, consent, who looked, my data) are the
        // client's and parents'; a supporter has the plan and the messages.
        if is_supporter(person) {
            return Err(person.not_for_you());
        }
        let (client, me, representative) = whose(person)?;
        let name = search(state, person, "Patient", &format!("_id={client}"))
            .await
            .first()
            .map(ClientName::of);
        Ok(Own {
            client,
            me,
            representative,
            name,
        })
    }

    /// The frame of a portal page: its title, whose record it is, the portal's tabs.
    pub fn frame(&self, person: &Person, title_key: &str, current: &str) -> Frame {
        let mut f = person.frame(title_key);
        f.tabs = tabs(&self.client, current, person);
        f.whose = Some(whose_line(person, self.name.as_ref()));
        f
    }
}

/// "Dit is uw dossier" or, for a parent, "U kijkt in het dossier van Anna (…)".
pub fn whose_line(person: &Person, name: Option<&ClientName>) -> String {
    let t = person.texts();
    if is_supporter(person) {
        return match name {
            Some(n) => t.arg("portal-whose-supporter", "client", &n.full(person.lang)),
            None => t.get("portal-whose-supporter-unnamed"),
        };
    }
    let representative = matches!(person.caller.subject, Subject::Representative { .. });
    match (representative, name) {
        (false, Some(n)) => t.arg("portal-whose-own", "client", &n.full(person.lang)),
        (false, None) => t.get("portal-whose-own-unnamed"),
        (true, Some(n)) => t.arg("portal-whose-child", "client", &n.full(person.lang)),
        (true, None) => t.get("portal-whose-child-unnamed"),
    }
}

/// The portal's pages, as tabs: (href, label key). `{id}` is the client.
const PAGES: &[(&str, &str)] = &[
    ("/mijn", "portal-tab-start"),
    ("/clienten/{id}/plan", "portal-tab-plan"),
    ("/clienten/{id}/crisisplan", "portal-tab-crisis"),
    ("/clienten/{id}/medicatie", "portal-tab-medication"),
    ("/clienten/{id}/rapportages", "portal-tab-reports"),
    ("/clienten/{id}/berichten", "portal-tab-messages"),
    ("/mijn/kring", "portal-tab-circle"),
    ("/toestemming", "portal-tab-consent"),
    ("/wie-keek", "portal-tab-who-looked"),
    ("/mijn/gegevens", "portal-tab-data"),
];

/// The portal's tabs for client `id`; `current` is the href of the page shown.
pub fn tabs(id: &str, current: &str, person: &Person) -> Vec<Tab> {
    let t = person.texts();
    // A supporter's portal: the plan and the messages.
    let supporter = is_supporter(person);
    PAGES
        .iter()
        .filter(|(href, _)| !supporter || href.ends_with("/plan") || href.ends_with("/berichten"))
        .map(|(href, key)| {
            let href = href.replace("{id}", id);
            Tab {
                current: href == current,
                href,
                label: t.get(key),
            }
        })
        .collect()
}
