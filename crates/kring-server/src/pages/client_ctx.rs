//! Opening a page about one client: the person must be able to see something of the client —
//! otherwise every client page answers exactly as for an id that names nobody (offering
//! emergency access), and the record logs the attempt on that client — and every page about
//! the client says whose it is and links to the client's other pages (the tabs the person
//! may read).

use kring_access::category::Category;
use kring_access::Action;

use super::error::PageError;
use super::names::{search, ClientName};
use super::{Frame, Person};
use crate::AppState;

/// One of a client's pages, as a tab.
#[derive(Clone)]
pub struct Tab {
    pub href: String,
    pub label: String,
    pub current: bool,
}

/// The client a page is about.
pub struct ClientCtx {
    pub id: String,
    /// The client by name, date of birth and age, when the person may see who it is.
    pub name: Option<String>,
    /// The client's pages this person may open.
    pub tabs: Vec<Tab>,
    /// The line that says whose record it is, when not "about {client}" (the portal's).
    whose: Option<String>,
}

/// A client's pages: (path after `/clienten/{id}`, label key, what it needs).
const PAGES: &[(&str, &str, Need)] = &[
    ("", "tab-overview", Need::Nothing),
    (
        "/plan",
        "tab-plan",
        Need::Read(Category::SupportPlan, "CarePlan"),
    ),
    (
        "/rapportages",
        "tab-reports",
        Need::Read(Category::Reports, "Communication"),
    ),
    (
        "/crisisplan",
        "tab-crisis",
        Need::Read(Category::CrisisPlan, "CarePlan"),
    ),
    (
        "/medicatie",
        "tab-medication",
        Need::Read(Category::Medication, "MedicationRequest"),
    ),
    ("/kring", "tab-circle", Need::ManageCircle),
    ("/berichten", "tab-messages", Need::Messages),
    ("/delen", "tab-sharing", Need::Share),
    ("/meldcode", "tab-meldcode", Need::Meldcode),
];

#[derive(Clone, Copy)]
enum Need {
    Nothing,
    Read(Category, &'static str),
    ManageCircle,
    /// May record a sharing decision (the aid "Mag ik dit delen?").
    Share,
    /// May keep a meldcode case (named for safety in the circle).
    Meldcode,
    /// May write messages with the client.
    Messages,
}

/// The body that makes a decision about a Communication one about a message.
const MESSAGE_PROBE: &[u8] = br#"{"category":[{"coding":[{"system":"https://kring.example/fhir/CodeSystem/data-category","code":"messages"}]}]}"#;

/// The body that makes a decision about a QuestionnaireResponse one about a meldcode case.
const MELDCODE_PROBE: &[u8] =
    br#"{"questionnaire":"https://kring.example/fhir/Questionnaire/meldcode"}"#;

/// The body that makes a decision about a QuestionnaireResponse one about a sharing decision.
const SHARING_PROBE: &[u8] =
    br#"{"questionnaire":"https://kring.example/fhir/Questionnaire/kiezen-en-delen"}"#;

/// The body that makes a decision about a CarePlan one about the crisis plan.
pub const CRISIS_PLAN_PROBE: &[u8] = br#"{"category":[{"coding":[{"system":"https://kring.example/fhir/CodeSystem/plan-category","code":"crisis"}]}]}"#;

/// Opens a page about client `id` for `person` (`interaction` names the page in the log);
/// `current` is the page's path after `/clienten/{id}` (`""` for the overview).
pub async fn open(
    state: &AppState,
    person: &Person,
    id: &str,
    interaction: &str,
    current: &str,
) -> Result<ClientCtx, PageError> {
    // An id that no FHIR resource can have names nobody (and goes into no query).
    if !super::work::is_fhir_id(id)
        || !state
            .record
            .open_client(&person.caller, id, interaction)
            .await
            .map_err(|e| person.failed(e))?
    {
        return Err(PageError::NoClient(Box::new(
            person.frame("no-client-title"),
        )));
    }
    let may = |action: Action, rtype: &str, body: &[u8]| {
        state
            .record
            .explain(&person.caller, action, rtype, id, body)
            .permit
    };
    let client_name = if may(Action::Read, "Patient", b"") {
        search(state, person, "Patient", &format!("_id={id}"))
            .await
            .first()
            .map(ClientName::of)
    } else {
        None
    };
    let name = client_name.as_ref().map(|n| n.full(person.lang));
    // A client or a parent reads their own record in the portal: its tabs, its words.
    if let Ok((own, _, _)) = super::portal::whose(person) {
        if own == id {
            let current = format!("/clienten/{id}{current}");
            let tabs = super::portal::tabs(id, &current, person);
            // A supporter has the plan and the messages, no other page of the record.
            if super::portal::is_supporter(person) && !tabs.iter().any(|t| t.href == current) {
                return Err(person.not_for_you());
            }
            return Ok(ClientCtx {
                id: id.to_string(),
                whose: Some(super::portal::whose_line(person, client_name.as_ref())),
                name,
                tabs,
            });
        }
    }
    let t = person.texts();
    let tabs = PAGES
        .iter()
        .filter(|(_, _, need)| match need {
            Need::Nothing => true,
            Need::Read(Category::CrisisPlan, rtype) => may(Action::Read, rtype, CRISIS_PLAN_PROBE),
            Need::Read(_, rtype) => may(Action::Read, rtype, b"{}"),
            Need::ManageCircle => may(Action::Update, "CareTeam", b""),
            Need::Share => may(Action::Create, "QuestionnaireResponse", SHARING_PROBE),
            Need::Meldcode => may(Action::Create, "QuestionnaireResponse", MELDCODE_PROBE),
            Need::Messages => may(Action::Create, "Communication", MESSAGE_PROBE),
        })
        .map(|(path, key, _)| Tab {
            href: format!("/clienten/{id}{path}"),
            label: t.get(key),
            current: *path == current,
        })
        .collect();
    Ok(ClientCtx {
        id: id.to_string(),
        name,
        tabs,
        whose: None,
    })
}

/// [`open`] for a page that is one of the client's tabs: a person who may not open that tab
/// is told it is not for them.
pub async fn open_tab(
    state: &AppState,
    person: &Person,
    id: &str,
    interaction: &str,
    tab: &str,
) -> Result<ClientCtx, PageError> {
    let ctx = open(state, person, id, interaction, tab).await?;
    if ctx.may_open(tab) {
        Ok(ctx)
    } else {
        Err(person.not_for_you())
    }
}

impl ClientCtx {
    /// The frame of a page about this client: `title_key` as the title, the client above it.
    pub fn frame(&self, person: &Person, title_key: &str) -> Frame {
        let mut f = person.frame(title_key);
        f.tabs = self.tabs.clone();
        f.whose = Some(match &self.name {
            _ if self.whose.is_some() => self.whose.clone().unwrap_or_default(),
            Some(n) => f.t.with("page-about", &[("client", n)]),
            None => f.t.get("page-about-unnamed"),
        });
        f
    }

    /// Whether the page is shown to the client themselves (or their parent), in the portal.
    pub fn in_portal(&self) -> bool {
        self.whose.is_some()
    }

    /// Whether the person may open the page at `path` (after `/clienten/{id}`).
    pub fn may_open(&self, path: &str) -> bool {
        let href = format!("/clienten/{}{path}", self.id);
        self.tabs.iter().any(|t| t.href == href)
    }
}
