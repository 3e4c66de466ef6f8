//! The rule tree of the sharing aid (after the inspectorates' *Kiezen en Delen*): which
//! question comes next, given what the record already knows and what the professional answered,
//! and the outcome once the answers suffice.
//!
//! The order is the law's: the treatment relationship (Jeugdwet 7.3.11 lid 2, WGBO), a legal
//! duty or power (a child protection order, lid 4; the right to report to Veilig Thuis, Wmo
//! 2015 art. 5.2.6), consent from whoever decides under the age rules, and otherwise a conflict
//! of duties; every share then passes the checks that always apply (lid 1 and 3: the minimum,
//! others' privacy, what a good professional would do). The questions' words live in the
//! questionnaire ([`super::questionnaire`]), the order here: a privacy officer changes the
//! words, an engineer the tree (docs/sharing.en.md).

use std::collections::BTreeMap;

use kring_access::sharing::{Ground, RecipientKind};

/// One question of the tree; its `linkId` in the questionnaire is [`Question::link_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Question {
    /// Is the recipient inside the treatment relationship (the client's circle)?
    InCircle,
    /// Does the recipient need it for their task in that relationship?
    TaskNeeds,
    /// Does the recipient carry out a child protection order for this client?
    ProtectionOrder,
    /// Is this a report to (or a request from) Veilig Thuis about domestic violence or child
    /// abuse?
    VeiligThuis,
    /// What does the one who decides under the age rules say: given, refused, not asked?
    Consent,
    /// Can consent be asked without endangering anyone?
    CanAskConsent,
    /// Is there acute danger to the client or another person?
    Acute,
    /// Will the client or another person suffer serious harm if you stay silent?
    SeriousHarm,
    /// Did you do everything to get consent (or is asking impossible or unsafe)?
    TriedConsent,
    /// Is there no other way to prevent the harm?
    NoOtherWay,
    /// Will sharing prevent or limit the harm?
    SharingHelps,
    /// Would a good professional refrain from sharing here?
    GoodProfessional,
    /// Does the recipient need everything you want to share?
    Minimum,
    /// Would sharing harm the privacy of others (brothers, sisters, parents) more than needed?
    OthersPrivacy,
    /// Would telling the client now endanger the child or another person?
    EndangersIfTold,
}

impl Question {
    pub const ALL: [Question; 15] = [
        Question::InCircle,
        Question::TaskNeeds,
        Question::ProtectionOrder,
        Question::VeiligThuis,
        Question::Consent,
        Question::CanAskConsent,
        Question::Acute,
        Question::SeriousHarm,
        Question::TriedConsent,
        Question::NoOtherWay,
        Question::SharingHelps,
        Question::GoodProfessional,
        Question::Minimum,
        Question::OthersPrivacy,
        Question::EndangersIfTold,
    ];

    pub fn link_id(self) -> &'static str {
        match self {
            Question::InCircle => "in-circle",
            Question::TaskNeeds => "task-needs",
            Question::ProtectionOrder => "protection-order",
            Question::VeiligThuis => "veilig-thuis",
            Question::Consent => "consent",
            Question::CanAskConsent => "can-ask-consent",
            Question::Acute => "acute",
            Question::SeriousHarm => "serious-harm",
            Question::TriedConsent => "tried-consent",
            Question::NoOtherWay => "no-other-way",
            Question::SharingHelps => "sharing-helps",
            Question::GoodProfessional => "good-professional",
            Question::Minimum => "minimum",
            Question::OthersPrivacy => "others-privacy",
            Question::EndangersIfTold => "endangers-if-told",
        }
    }

    pub fn from_link_id(id: &str) -> Option<Question> {
        Question::ALL.into_iter().find(|q| q.link_id() == id)
    }

    /// The answers it takes.
    pub fn answers(self) -> &'static [Answer] {
        match self {
            Question::Consent => &[Answer::Given, Answer::Refused, Answer::NotAsked],
            Question::InCircle
            | Question::ProtectionOrder
            | Question::VeiligThuis
            | Question::Acute => &[Answer::Yes, Answer::No],
            _ => &[Answer::Yes, Answer::No, Answer::Unsure],
        }
    }
}

/// An answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    Yes,
    No,
    Unsure,
    Given,
    Refused,
    NotAsked,
}

impl Answer {
    pub const ALL: [Answer; 6] = [
        Answer::Yes,
        Answer::No,
        Answer::Unsure,
        Answer::Given,
        Answer::Refused,
        Answer::NotAsked,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unsure => "unsure",
            Answer::Given => "given",
            Answer::Refused => "refused",
            Answer::NotAsked => "not-asked",
        }
    }

    pub fn from_code(code: &str) -> Option<Answer> {
        Answer::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// What the record already answers; `None` where it does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The recipient has a running membership in the client's circle.
    pub in_circle: Option<bool>,
    /// The client's recorded consent for the recipient's organisation and every category
    /// asked: `Given` or `Refused`; `None` when no recorded consent settles it.
    pub consent: Option<Answer>,
    /// The client's age in years.
    pub age: Option<u32>,
    /// A child protection order is on file with the recipient carrying it out.
    pub protection_order: Option<bool>,
    /// What kind of organisation the recipient is (Veilig Thuis, a certified institution,
    /// another), when the directory says.
    pub recipient_kind: Option<kring_access::sharing::RecipientKind>,
}

impl Known {
    /// The answer the record gives to a question, if it gives one.
    pub fn answer(&self, q: Question) -> Option<Answer> {
        let yes_no = |b: bool| if b { Answer::Yes } else { Answer::No };
        match q {
            Question::InCircle => self.in_circle.map(yes_no),
            Question::Consent => self.consent,
            // A measure on file answers yes; a recipient that is no certified institution no.
            Question::ProtectionOrder => match (self.protection_order, self.recipient_kind) {
                (Some(true), _) => Some(Answer::Yes),
                (_, Some(k)) if k != RecipientKind::CertifiedInstitution => Some(Answer::No),
                _ => None,
            },
            // Only Veilig Thuis receives a report to Veilig Thuis.
            Question::VeiligThuis => match self.recipient_kind {
                Some(k) if k != RecipientKind::VeiligThuis => Some(Answer::No),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the client is a minor (or their age is unknown).
    fn minor(&self) -> bool {
        self.age.is_none_or(|a| a < 18)
    }
}

/// Whom consent is asked from, under the age rules (WGBO art. 7:450; Jeugdwet 7.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentFrom {
    /// Younger than 12: the parents with authority.
    Parents,
    /// 12 to 15: the child and the parents with authority, both.
    ChildAndParents,
    /// 16 and older (or age unknown): the client.
    Client,
}

impl ConsentFrom {
    pub fn code(self) -> &'static str {
        match self {
            ConsentFrom::Parents => "parents",
            ConsentFrom::ChildAndParents => "child-and-parents",
            ConsentFrom::Client => "client",
        }
    }

    fn of(age: Option<u32>) -> ConsentFrom {
        match age {
            Some(a) if a < 12 => ConsentFrom::Parents,
            Some(a) if a < 16 => ConsentFrom::ChildAndParents,
            _ => ConsentFrom::Client,
        }
    }
}

/// Why not to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotToShare {
    /// No consent, no legal ground, and no serious harm in staying silent.
    NoGround,
    /// The client (or who decides) refused, and a conflict of duties does not apply.
    Refused,
    /// There is another way to prevent the harm: take it first.
    OtherWay,
    /// Sharing would not prevent or limit the harm.
    DoesNotHelp,
    /// A good professional would refrain here (Jeugdwet 7.3.11 lid 3).
    GoodProfessionalRefrains,
}

impl NotToShare {
    pub fn code(self) -> &'static str {
        match self {
            NotToShare::NoGround => "no-ground",
            NotToShare::Refused => "refused",
            NotToShare::OtherWay => "other-way",
            NotToShare::DoesNotHelp => "does-not-help",
            NotToShare::GoodProfessionalRefrains => "good-professional-refrains",
        }
    }
}

/// Whom to consult before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consult {
    /// A colleague (the meldcode's step 2) or the aandachtsfunctionaris.
    Colleague,
    /// Veilig Thuis, for advice (anonymously if needed).
    VeiligThuis,
    /// The privacy officer of one's organisation.
    PrivacyOfficer,
}

impl Consult {
    pub fn code(self) -> &'static str {
        match self {
            Consult::Colleague => "colleague",
            Consult::VeiligThuis => "veilig-thuis",
            Consult::PrivacyOfficer => "privacy-officer",
        }
    }
}

/// Where the aid ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Share, on this ground; `minimum` when less than asked must be shared (only what the
    /// recipient needs, nothing about others); `withhold` when the client is not told yet.
    Share {
        ground: Ground,
        minimum: bool,
        withhold: bool,
    },
    DoNotShare(NotToShare),
    AskConsentFirst(ConsentFrom),
    Consult(Consult),
}

impl Outcome {
    /// The outcome's code in the answer (`share`, `share-minimum`, `do-not-share`,
    /// `ask-consent`, `consult`).
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Share { minimum: false, .. } => "share",
            Outcome::Share { minimum: true, .. } => "share-minimum",
            Outcome::DoNotShare(_) => "do-not-share",
            Outcome::AskConsentFirst(_) => "ask-consent",
            Outcome::Consult(_) => "consult",
        }
    }

    /// The code of what the outcome names: the ground, the reason, whom to ask or consult.
    pub fn detail(self) -> &'static str {
        match self {
            Outcome::Share { ground, .. } => ground.code(),
            Outcome::DoNotShare(r) => r.code(),
            Outcome::AskConsentFirst(f) => f.code(),
            Outcome::Consult(c) => c.code(),
        }
    }

    pub fn ground(self) -> Option<Ground> {
        match self {
            Outcome::Share { ground, .. } => Some(ground),
            _ => None,
        }
    }
}

/// The next step: a question to ask, or the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Ask(Question),
    Done(Outcome),
}

/// The professional's answers so far.
pub type Answers = BTreeMap<Question, Answer>;

/// Walks the tree: the record's answers first, then the professional's.
pub fn walk(known: &Known, given: &Answers) -> Step {
    match run(known, given) {
        // An answer that does not share still tells of a worry about violence when the walk
        // passed one: then whether the client may read it now is asked too.
        Ok(o)
            if o.ground().is_none()
                && violence(given)
                && !given.contains_key(&Question::EndangersIfTold) =>
        {
            Step::Ask(Question::EndangersIfTold)
        }
        Ok(outcome) => Step::Done(outcome),
        Err(q) => Step::Ask(q),
    }
}

/// Whether the answers speak of violence or serious harm (a report to Veilig Thuis, acute
/// danger, serious harm feared).
fn violence(given: &Answers) -> bool {
    given.get(&Question::VeiligThuis) == Some(&Answer::Yes)
        || given.get(&Question::Acute) == Some(&Answer::Yes)
        || matches!(
            given.get(&Question::SeriousHarm),
            Some(Answer::Yes | Answer::Unsure)
        )
}

/// Whether the stored answer (and a grant from it) is withheld from the client for now: a
/// share without consent whose telling endangers someone, or any other outcome reached over
/// a worry about violence when telling endangers someone.
pub fn withholds(given: &Answers, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Share { withhold, .. } => withhold,
        _ => violence(given) && given.get(&Question::EndangersIfTold) == Some(&Answer::Yes),
    }
}

/// The answer to `q`, or the question itself when it is still open.
fn get(known: &Known, given: &Answers, q: Question) -> Result<Answer, Question> {
    known
        .answer(q)
        .or_else(|| given.get(&q).copied())
        .filter(|a| q.answers().contains(a))
        .ok_or(q)
}

fn run(known: &Known, given: &Answers) -> Result<Outcome, Question> {
    let get = |q| get(known, given, q);
    // 1. The treatment relationship, unless the client objected (a refusal on record).
    if get(Question::InCircle)? == Answer::Yes && known.consent != Some(Answer::Refused) {
        match get(Question::TaskNeeds)? {
            Answer::Yes => return finish(known, given, Ground::CoTreatment),
            Answer::Unsure => return Ok(Outcome::Consult(Consult::Colleague)),
            _ => {}
        }
    }
    // 2. A legal duty or power: the child protection order, the right to report.
    if known.minor() && get(Question::ProtectionOrder)? == Answer::Yes {
        return finish(known, given, Ground::ProtectionOrder);
    }
    if get(Question::VeiligThuis)? == Answer::Yes {
        return finish(known, given, Ground::VeiligThuisReport);
    }
    // 3. Consent from whoever decides under the age rules.
    let consent = get(Question::Consent)?;
    match consent {
        Answer::Given => return finish(known, given, Ground::Consent),
        Answer::NotAsked if get(Question::CanAskConsent)? == Answer::Yes => {
            return Ok(Outcome::AskConsentFirst(ConsentFrom::of(known.age)));
        }
        _ => {}
    }
    // 4. A conflict of duties: serious harm, consent tried, no other way, sharing helps.
    let acute = get(Question::Acute)? == Answer::Yes;
    if !acute {
        match get(Question::SeriousHarm)? {
            Answer::No if consent == Answer::Refused => {
                return Ok(Outcome::DoNotShare(NotToShare::Refused))
            }
            Answer::No => return Ok(Outcome::DoNotShare(NotToShare::NoGround)),
            Answer::Unsure if known.minor() => return Ok(Outcome::Consult(Consult::VeiligThuis)),
            Answer::Unsure => return Ok(Outcome::Consult(Consult::Colleague)),
            _ => {}
        }
        // In acute danger there is no time to ask; otherwise asking comes first.
        match get(Question::TriedConsent)? {
            Answer::No => return Ok(Outcome::AskConsentFirst(ConsentFrom::of(known.age))),
            Answer::Unsure => return Ok(Outcome::Consult(Consult::PrivacyOfficer)),
            _ => {}
        }
    }
    match get(Question::NoOtherWay)? {
        Answer::No => return Ok(Outcome::DoNotShare(NotToShare::OtherWay)),
        Answer::Unsure => return Ok(Outcome::Consult(Consult::Colleague)),
        _ => {}
    }
    match get(Question::SharingHelps)? {
        Answer::No => return Ok(Outcome::DoNotShare(NotToShare::DoesNotHelp)),
        Answer::Unsure => return Ok(Outcome::Consult(Consult::Colleague)),
        _ => {}
    }
    finish(known, given, Ground::ConflictOfDuties)
}

/// The checks every share passes (lid 1 and 3), and whether the client is told.
fn finish(known: &Known, given: &Answers, ground: Ground) -> Result<Outcome, Question> {
    let get = |q| get(known, given, q);
    match get(Question::GoodProfessional)? {
        Answer::Yes => return Ok(Outcome::DoNotShare(NotToShare::GoodProfessionalRefrains)),
        Answer::Unsure => return Ok(Outcome::Consult(Consult::Colleague)),
        _ => {}
    }
    let less = get(Question::Minimum)? != Answer::Yes;
    let others = get(Question::OthersPrivacy)? != Answer::No;
    // Telling the client is the rule; only a share without consent may wait, and only when
    // telling would endanger someone.
    let withhold = ground.without_consent()
        && ground != Ground::CoTreatment
        && get(Question::EndangersIfTold)? == Answer::Yes;
    Ok(Outcome::Share {
        ground,
        minimum: less || others,
        withhold,
    })
}

/// What the answer rests on, in order: first what the record answered (marked `true`), then
/// the professional's answers in the order the walk asked them. Answers to questions the walk
/// did not reach are left out.
pub fn path(known: &Known, given: &Answers) -> Vec<(Question, Answer, bool)> {
    let mut out: Vec<(Question, Answer, bool)> = Question::ALL
        .into_iter()
        .filter_map(|q| known.answer(q).map(|a| (q, a, true)))
        .collect();
    let mut asked = Answers::new();
    while let Step::Ask(q) = walk(known, &asked) {
        match given.get(&q) {
            Some(a) if q.answers().contains(a) => {
                asked.insert(q, *a);
                out.push((q, *a, false));
            }
            _ => break,
        }
    }
    out
}
