//! Who asks ([`Subject`]), what for ([`Action`]), about which data ([`Target`]), and the
//! answer with its reasons ([`Decision`]).

use crate::category::Category;
use crate::reason::Reason;
use crate::scopes::Scopes;

/// Who is asking. Every variant carries an account or client id for the log, never a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The person operating this installation from its own machine (command line).
    Operator,
    /// A care professional working in one role at one organisation.
    Professional {
        account: String,
        /// `Practitioner` id.
        practitioner: String,
        /// `PractitionerRole` id of the role they signed in with.
        role: String,
        /// `Organization` id of that role.
        organisation: String,
    },
    /// A partner system, authenticated with OAuth2 client credentials.
    Partner {
        client_id: String,
        organisation: String,
        scopes: Scopes,
    },
    /// A client in the client portal.
    Client { account: String, patient: String },
    /// A representative (parent with authority …) of a client.
    Representative {
        account: String,
        related_person: String,
        patient: String,
    },
    /// A supporter the client chose (meer-over-mijn-plan's *steunpersoon*): sees the plan and
    /// the messages addressed to them, nothing else.
    Supporter {
        account: String,
        related_person: String,
        patient: String,
    },
    /// A privacy officer of an organisation: reads the access log, not the record.
    Officer {
        account: String,
        organisation: String,
    },
    /// An administrator of an organisation: manages accounts and circles.
    Administrator {
        account: String,
        organisation: String,
    },
}

impl Subject {
    /// The references a person is named by in the record — as the sender or a recipient of a
    /// message, the author of a write: a professional's role first, then the practitioner;
    /// the client; a representative's or supporter's RelatedPerson. Empty for the others.
    pub fn references(&self) -> Vec<String> {
        match self {
            Subject::Professional {
                practitioner, role, ..
            } => vec![
                format!("PractitionerRole/{role}"),
                format!("Practitioner/{practitioner}"),
            ],
            Subject::Client { patient, .. } => vec![format!("Patient/{patient}")],
            Subject::Representative { related_person, .. }
            | Subject::Supporter { related_person, .. } => {
                vec![format!("RelatedPerson/{related_person}")]
            }
            _ => vec![],
        }
    }

    /// A stable identifier for the access log (never a name or BSN).
    pub fn log_id(&self) -> String {
        match self {
            Subject::Operator => "operator".into(),
            Subject::Professional { account, .. }
            | Subject::Client { account, .. }
            | Subject::Representative { account, .. }
            | Subject::Supporter { account, .. }
            | Subject::Officer { account, .. }
            | Subject::Administrator { account, .. } => format!("account/{account}"),
            Subject::Partner { client_id, .. } => format!("client/{client_id}"),
        }
    }

    /// The organisation the subject acts for, if any.
    pub fn organisation(&self) -> Option<&str> {
        match self {
            Subject::Professional { organisation, .. }
            | Subject::Partner { organisation, .. }
            | Subject::Officer { organisation, .. }
            | Subject::Administrator { organisation, .. } => Some(organisation),
            _ => None,
        }
    }

    /// The Cedar entity type of this subject.
    pub(crate) fn entity_type(&self) -> &'static str {
        match self {
            Subject::Operator => "Operator",
            Subject::Professional { .. } => "Professional",
            Subject::Partner { .. } => "Partner",
            Subject::Client { .. } => "Client",
            Subject::Representative { .. } => "Representative",
            Subject::Supporter { .. } => "Supporter",
            Subject::Officer { .. } => "Officer",
            Subject::Administrator { .. } => "Administrator",
        }
    }
}

/// What the subject wants to do (NEN 7513 actions map onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Read,
    Search,
    Create,
    Update,
    Delete,
    History,
    Export,
    Import,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Read,
        Action::Search,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::History,
        Action::Export,
        Action::Import,
    ];

    /// The NEN 7513 / AuditEvent action code: C, R, U, D or E.
    pub fn code(self) -> &'static str {
        match self {
            Action::Create | Action::Import => "C",
            Action::Read | Action::Search | Action::History => "R",
            Action::Update => "U",
            Action::Delete => "D",
            Action::Export => "E",
        }
    }

    /// The action's name in the policies.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Search => "search",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::History => "history",
            Action::Export => "export",
            Action::Import => "import",
        }
    }
}

/// The data concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub rtype: String,
    pub id: Option<String>,
    /// The client (Patient id) the data belongs to; empty for shared data.
    pub client_key: String,
    pub category: Category,
    /// The organisation that owns the data, when the data says so; otherwise the client's
    /// managing organisation is taken.
    pub owner: Option<String>,
    /// A sharing decision withheld from the client for now (telling them would endanger
    /// the child or another person).
    pub withheld: bool,
    /// The sender and recipients of a message (`Practitioner/…`, `PractitionerRole/…`,
    /// `Patient/…`, `RelatedPerson/…`); empty for other data.
    pub parties: Vec<String>,
}

impl Target {
    /// Data of a client, or shared data when `client_key` is empty.
    pub fn new(rtype: &str, id: Option<&str>, client_key: &str, category: Category) -> Target {
        Target {
            rtype: rtype.to_string(),
            id: id.map(str::to_string),
            client_key: client_key.to_string(),
            category,
            owner: None,
            withheld: false,
            parties: Vec::new(),
        }
    }
}

/// The answer, with the reasons a privacy officer can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub permit: bool,
    /// Which rules decided and which grounds (memberships, consents, emergency declarations,
    /// authority, grants) a permit rests on. Ids only, never personal data.
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn permit(reason: Reason) -> Self {
        Decision {
            permit: true,
            reasons: vec![reason],
        }
    }
    pub fn deny(reason: Reason) -> Self {
        Decision {
            permit: false,
            reasons: vec![reason],
        }
    }
    /// The rules that decided.
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.reasons.iter().filter_map(Reason::rule)
    }
    /// Whether the decision rests on emergency access.
    pub fn is_emergency(&self) -> bool {
        self.reasons.iter().any(Reason::is_emergency)
    }
}
