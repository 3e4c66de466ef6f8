//! The need-to-know decision: computes the facts of a request from circles, consents, the
//! client's age and emergency declarations, asks the rules ([`crate::policy`]), and answers
//! with the rules and grounds (membership, consent, emergency declaration) that decided.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use kring_store::search::{AnyOf, ClientScope, Cond, TokenMatch};
use serde_json::Value;

use crate::category::{categories_of_type, Category, PLAN_CATEGORY_SYSTEM};
use crate::circle::{Circle, Membership};
use crate::consent::{check_givers, resolve, ConsentRecord, ConsentRefusal, Resolution};
use crate::emergency::{EMERGENCY_CATEGORY, EMERGENCY_SYSTEM};
use crate::facts::{is_emergency_declaration, Facts, WATCHED_TYPES};
use crate::policy::{Policy, PolicyError, RequestFacts};
use crate::reason::Reason;
use crate::sharing::{AID_QUESTIONNAIRE, GRANT_CODE, GRANT_SYSTEM, MELDCODE_QUESTIONNAIRE};
use crate::subject::{Action, Decision, Subject, Target};
use crate::{AccessDecision, Pending};

/// Kring's access decision: circles, consent, age rules and emergency access, by Cedar rules.
pub struct NeedToKnow {
    facts: RwLock<Facts>,
    policy: Policy,
    /// Bumped by every change of the facts; remembered scopes of an older generation are stale.
    generation: AtomicU64,
    /// Search scopes already computed, per asker and type, for the current generation and
    /// minute (memberships and emergency declarations run out with time).
    scopes: RwLock<HashMap<String, (u64, i64, ClientScope)>>,
}

/// How many scopes are remembered before the memory starts afresh.
const MAX_SCOPES: usize = 10_000;

impl NeedToKnow {
    /// With the shipped rules and no facts yet (feed them with [`AccessDecision::observe`]).
    pub fn new() -> Result<NeedToKnow, PolicyError> {
        Ok(NeedToKnow::with_policy(Policy::shipped()?))
    }

    pub fn with_policy(policy: Policy) -> NeedToKnow {
        NeedToKnow {
            facts: RwLock::new(Facts::default()),
            policy,
            generation: AtomicU64::new(0),
            scopes: RwLock::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The decision at a given moment (tests and benchmarks pin the clock).
    pub fn decide_at(
        &self,
        subject: &Subject,
        action: Action,
        target: &Target,
        now: DateTime<Utc>,
    ) -> Decision {
        let facts = self.facts.read().expect("facts lock");
        self.decide_with(&facts, subject, action, target, now)
    }

    fn decide_with(
        &self,
        facts: &Facts,
        subject: &Subject,
        action: Action,
        target: &Target,
        now: DateTime<Utc>,
    ) -> Decision {
        let (request, grounds) = request_facts(facts, subject, action, target, now);
        let (permit, mut reasons) = self.policy.evaluate(subject, action, &request);
        if permit {
            reasons.extend(grounds);
        } else {
            if reasons.is_empty() {
                reasons.push(Reason::DenyByDefault);
            }
            let acts_in_circles = matches!(
                subject,
                Subject::Professional { .. } | Subject::Partner { .. }
            );
            if acts_in_circles && !request.in_circle && !request.emergency && !request.shared {
                reasons.push(Reason::NoRunningMembership);
            }
            reasons.extend(
                grounds
                    .into_iter()
                    .filter(|g| matches!(g, Reason::Consent(_))),
            );
        }
        Decision { permit, reasons }
    }

    /// The clients whose data of `rtype` the subject may search, at `now`.
    pub fn scope_at(
        &self,
        subject: &Subject,
        rtype: &str,
        now: DateTime<Utc>,
    ) -> Option<ClientScope> {
        if *subject == Subject::Operator {
            return None;
        }
        let key = format!("{subject:?}|{rtype}");
        let minute = now.timestamp().div_euclid(60);
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, m, scope)) = self.scopes.read().expect("scopes").get(&key) {
            if *g == generation && *m == minute {
                return Some(scope.clone());
            }
        }
        let scope = self.compute_scope(subject, rtype, now);
        let mut scopes = self.scopes.write().expect("scopes");
        if scopes.len() >= MAX_SCOPES {
            scopes.clear();
        }
        scopes.insert(key, (generation, minute, scope.clone()));
        Some(scope)
    }

    fn compute_scope(&self, subject: &Subject, rtype: &str, now: DateTime<Utc>) -> ClientScope {
        let facts = self.facts.read().expect("facts lock");
        let categories = categories_of_type(rtype, true);
        let mut scope = ClientScope::default();
        let mut whole: Vec<String> = Vec::new();
        let mut partial: Vec<(Vec<Category>, Vec<String>)> = Vec::new();
        for client in candidate_clients(&facts, subject, now) {
            let allowed: Vec<Category> = categories
                .iter()
                .copied()
                .filter(|c| {
                    let t = Target::new(rtype, None, &client, *c);
                    self.decide_with(&facts, subject, Action::Search, &t, now)
                        .permit
                })
                .collect();
            if allowed.len() == categories.len() {
                whole.push(client);
            } else if !allowed.is_empty() {
                match partial.iter_mut().find(|(c, _)| *c == allowed) {
                    Some((_, clients)) => clients.push(client),
                    None => partial.push((allowed, vec![client])),
                }
            }
        }
        scope.clients = whole.into();
        for (allowed, clients) in partial {
            if let Some(only) = only_categories(rtype, &allowed) {
                scope.partial.push((clients, only));
            }
        }
        let shared = Target::new(rtype, None, "", Category::Shared);
        scope.include_shared = self
            .decide_with(&facts, subject, Action::Search, &shared, now)
            .permit;
        scope
    }
}

/// The condition that picks out some categories among the resources of a type with several:
/// each category but the first of the type is marked by a condition of its own (a care plan
/// coded `crisis`, a Consent coded `sharing-grant`, a QuestionnaireResponse of the sharing
/// aid …); the first is what none of them marks. `None` for a type whose categories no
/// condition tells apart.
fn only_categories(rtype: &str, allowed: &[Category]) -> Option<AnyOf> {
    let token = |system: &str, code: &str| Cond::Token {
        param: "category".into(),
        what: TokenMatch::SystemCode(Some(system.into()), code.into()),
    };
    let questionnaire = |url: &str| Cond::Reference {
        param: "questionnaire".into(),
        target_type: None,
        target_id: None,
        url: Some(url.into()),
    };
    let (rest, marked): (Category, Vec<(Category, Cond)>) = match rtype {
        "CarePlan" => (
            Category::SupportPlan,
            vec![(Category::CrisisPlan, token(PLAN_CATEGORY_SYSTEM, "crisis"))],
        ),
        "Communication" => (
            Category::Reports,
            vec![
                (
                    Category::Emergency,
                    token(EMERGENCY_SYSTEM, EMERGENCY_CATEGORY),
                ),
                (
                    Category::Messages,
                    token(crate::category::CATEGORY_SYSTEM, "messages"),
                ),
            ],
        ),
        "Consent" => (
            Category::Consent,
            vec![(Category::Sharing, token(GRANT_SYSTEM, GRANT_CODE))],
        ),
        "QuestionnaireResponse" => (
            Category::Documents,
            vec![
                (Category::Sharing, questionnaire(AID_QUESTIONNAIRE)),
                (Category::Safety, questionnaire(MELDCODE_QUESTIONNAIRE)),
            ],
        ),
        _ => return None,
    };
    let negate = allowed.contains(&rest);
    let conds = marked
        .into_iter()
        .filter(|(c, _)| allowed.contains(c) != negate)
        .map(|(_, cond)| cond)
        .collect();
    Some(AnyOf { conds, negate })
}

/// The clients whose data the subject could see at all: those of their circles (directly or
/// through a team), their emergency declarations, themselves.
fn candidate_clients(facts: &Facts, subject: &Subject, now: DateTime<Utc>) -> BTreeSet<String> {
    let today = kring_fhir::datetime::dutch_date(now);
    let mut out = BTreeSet::new();
    match subject {
        Subject::Operator => {}
        Subject::Professional {
            practitioner, role, ..
        } => {
            for key in member_keys(facts, practitioner, role, today) {
                for c in facts.circles_naming(&key) {
                    out.extend(c.client.clone());
                }
            }
            out.extend(facts.emergency_clients(practitioner, now));
            let recipients = grant_recipients(facts, subject, today);
            out.extend(
                facts
                    .running_grants(&recipients, today)
                    .map(|g| g.client.clone()),
            );
        }
        Subject::Partner { organisation, .. } => {
            for c in facts.circles_of_organisation(organisation) {
                out.extend(c.client.clone());
            }
            let recipients = grant_recipients(facts, subject, today);
            out.extend(
                facts
                    .running_grants(&recipients, today)
                    .map(|g| g.client.clone()),
            );
        }
        Subject::Client { patient, .. }
        | Subject::Representative { patient, .. }
        | Subject::Supporter { patient, .. } => {
            out.insert(patient.clone());
        }
        Subject::Administrator { organisation, .. } | Subject::Officer { organisation, .. } => {
            out.extend(
                facts
                    .clients
                    .iter()
                    .filter(|(_, c)| c.organisation.as_deref() == Some(organisation))
                    .map(|(id, _)| id.clone()),
            );
        }
    }
    out
}

/// The references a professional is named by in circles: their role, themselves, and the
/// teams (CareTeams without a client) they are a running member of.
fn member_keys(
    facts: &Facts,
    practitioner: &str,
    role: &str,
    today: chrono::NaiveDate,
) -> Vec<String> {
    let mut keys = vec![
        format!("PractitionerRole/{role}"),
        format!("Practitioner/{practitioner}"),
    ];
    let mut teams = Vec::new();
    for key in &keys {
        for team in facts
            .circles_naming(key)
            .filter(|c| c.client.is_none() && c.active)
        {
            if team
                .memberships
                .iter()
                .any(|m| &m.member == key && m.running(today))
            {
                teams.push(format!("CareTeam/{}", team.id));
            }
        }
    }
    keys.extend(teams);
    keys
}

/// The references a sharing grant can name the asker by: for a professional their role,
/// themselves, their teams and their organisation; for a partner system its organisation.
fn grant_recipients(facts: &Facts, subject: &Subject, today: chrono::NaiveDate) -> Vec<String> {
    match subject {
        Subject::Professional {
            practitioner,
            role,
            organisation,
            ..
        } => {
            let mut keys = member_keys(facts, practitioner, role, today);
            keys.push(format!("Organization/{organisation}"));
            keys
        }
        Subject::Partner { organisation, .. } => vec![format!("Organization/{organisation}")],
        _ => vec![],
    }
}

/// The facts of one request and the grounds they rest on.
fn request_facts(
    facts: &Facts,
    subject: &Subject,
    action: Action,
    target: &Target,
    now: DateTime<Utc>,
) -> (RequestFacts, Vec<Reason>) {
    let today = kring_fhir::datetime::dutch_date(now);
    let client = target.client_key.as_str();
    // The access log is never shared data, not even the entries that name no client.
    let shared = target.category == Category::Shared
        || (client.is_empty() && target.category != Category::AccessLog);
    let mut f = RequestFacts {
        category: target.category.code(),
        shared,
        consent: "none",
        withheld: target.withheld,
        ..RequestFacts::default()
    };
    let mut grounds = Vec::new();
    // A message is for its parties. A question about messages in general (a search, no
    // particular message) is answered as for a party; each message found is decided on its own.
    f.party = target.category == Category::Messages
        && if target.parties.is_empty() && target.id.is_none() {
            true
        } else {
            let me = subject.references();
            target.parties.iter().any(|p| me.contains(p))
        };
    f.aid_questions = shared
        && target.rtype == "Questionnaire"
        && target.id.as_deref() == Some(crate::sharing::AID_QUESTIONNAIRE_ID);
    if shared {
        if let Subject::Partner { scopes, .. } = subject {
            f.scope_allows = scopes.allows(&target.rtype, action);
        }
        return (f, grounds);
    }
    let client_facts = facts.clients.get(client);
    let owner = target
        .owner
        .clone()
        .or_else(|| client_facts.and_then(|c| c.organisation.clone()));
    f.new_client = action == Action::Create
        && target.rtype == "Patient"
        && client_facts.is_none()
        && facts.circles_of_client(client).next().is_none();
    let mut granted: BTreeSet<Category> = BTreeSet::new();
    match subject {
        Subject::Operator => {}
        Subject::Officer { organisation, .. } => {
            f.same_organisation = owner.as_deref() == Some(organisation.as_str());
        }
        Subject::Professional {
            practitioner, role, ..
        } => {
            let keys = member_keys(facts, practitioner, role, today);
            for (circle, m) in running_memberships(facts, client, today) {
                if keys.contains(&m.member) {
                    let named = !m.member.starts_with("CareTeam/");
                    f.director |= m.director;
                    f.named |= named && m.categories.contains(&target.category);
                    grant(&mut f, &mut granted, &mut grounds, circle, m);
                }
            }
            if let Some(e) = facts.emergency_of(practitioner, client, now) {
                f.emergency = true;
                grounds.push(Reason::Emergency(e.id.clone()));
            }
        }
        Subject::Partner {
            organisation,
            scopes,
            ..
        } => {
            f.scope_allows = scopes.allows(&target.rtype, action);
            for (circle, m) in running_memberships(facts, client, today) {
                if facts.organisation_of(m).as_deref() == Some(organisation.as_str()) {
                    grant(&mut f, &mut granted, &mut grounds, circle, m);
                }
            }
        }
        Subject::Client { patient, .. } => {
            f.own_record = patient == client;
        }
        Subject::Representative {
            related_person,
            patient,
            ..
        } => {
            let age = client_facts.and_then(|c| c.age_on(today));
            f.represents = patient == client
                && facts
                    .is_parent_with_authority(&format!("RelatedPerson/{related_person}"), client)
                && age.is_some_and(|a| a < 16);
            if f.represents {
                grounds.push(Reason::Authority(related_person.clone()));
            }
        }
        Subject::Administrator { organisation, .. } => {
            f.org_admin =
                client_facts.and_then(|c| c.organisation.as_deref()) == Some(organisation);
        }
        Subject::Supporter {
            related_person,
            patient,
            ..
        } => {
            f.supports = patient == client
                && facts.is_supporter(&format!("RelatedPerson/{related_person}"), client);
        }
    }
    // Professionals and partner systems act for an organisation: does it own the data, and
    // what does the client's consent say to it?
    if let Subject::Professional { organisation, .. } | Subject::Partner { organisation, .. } =
        subject
    {
        f.same_organisation = owner.as_deref() == Some(organisation.as_str());
        consent_facts(
            facts,
            client,
            organisation,
            target.category,
            today,
            &mut f,
            &mut grounds,
        );
        // A grant opens data to read, never to write, delete or export.
        let reads = matches!(action, Action::Read | Action::Search | Action::History);
        let recipients = if reads {
            grant_recipients(facts, subject, today)
        } else {
            Vec::new()
        };
        for g in facts
            .running_grants(&recipients, today)
            // A grant always names who the client is: data without its client is of no use.
            .filter(|g| {
                g.client == client && g.covers(target.category, &target.rtype, target.id.as_deref())
            })
        {
            f.grant = true;
            f.grant_without_consent |= g.ground.without_consent();
            grounds.push(Reason::Grant(g.id.clone()));
        }
    }
    f.granted = granted.into_iter().map(Category::code).collect();
    (f, grounds)
}

/// The running memberships of a client's active circles.
fn running_memberships<'a>(
    facts: &'a Facts,
    client: &'a str,
    today: chrono::NaiveDate,
) -> impl Iterator<Item = (&'a Circle, &'a Membership)> + 'a {
    facts
        .circles_of_client(client)
        .filter(|c| c.active)
        .flat_map(move |c| {
            c.memberships
                .iter()
                .filter(move |m| m.running(today))
                .map(move |m| (c, m))
        })
}

/// A membership that applies to the asker: in the circle, its categories, and the ground.
fn grant(
    f: &mut RequestFacts,
    granted: &mut BTreeSet<Category>,
    grounds: &mut Vec<Reason>,
    circle: &Circle,
    m: &Membership,
) {
    f.in_circle = true;
    granted.extend(m.categories.iter().copied());
    grounds.push(Reason::Membership {
        circle: circle.id.clone(),
        index: m.index,
    });
}

fn consent_facts(
    facts: &Facts,
    client: &str,
    organisation: &str,
    category: Category,
    today: chrono::NaiveDate,
    f: &mut RequestFacts,
    grounds: &mut Vec<Reason>,
) {
    let valid: Vec<&ConsentRecord> = facts
        .consents_of(client)
        .filter(|c| consent_is_valid(facts, c, today).is_ok())
        .collect();
    match resolve(valid, organisation, category, today) {
        Resolution::None => {}
        Resolution::Permit { consent, explicit } => {
            f.consent = "permit";
            f.consent_explicit = explicit;
            grounds.push(Reason::Consent(consent));
        }
        Resolution::Deny { consent } => {
            f.consent = "deny";
            grounds.push(Reason::Consent(consent));
        }
    }
}

/// Whether a consent was given by whoever may give it under the age rules, as of `today`.
/// A consent given by parents alone stops counting once the child turns 16.
fn consent_is_valid(
    facts: &Facts,
    c: &ConsentRecord,
    today: chrono::NaiveDate,
) -> Result<(), ConsentRefusal> {
    let client = c.client.as_deref().ok_or(ConsentRefusal::NoClient)?;
    let age = facts
        .clients
        .get(client)
        .and_then(|f| f.age_on(today))
        .ok_or(ConsentRefusal::UnknownAge)?;
    check_givers(client, age, &c.given_by, |r| {
        facts.is_parent_with_authority(r, client)
    })
}

impl AccessDecision for NeedToKnow {
    fn decide(&self, subject: &Subject, action: Action, target: &Target) -> Decision {
        self.decide_at(subject, action, target, Utc::now())
    }

    fn search_scope(&self, subject: &Subject, rtype: &str) -> Option<ClientScope> {
        self.scope_at(subject, rtype, Utc::now())
    }

    fn watches(&self, rtype: &str) -> bool {
        WATCHED_TYPES.contains(&rtype)
    }

    fn observe(&self, rtype: &str, id: &str, body: Option<&[u8]>) {
        if !self.watches(rtype) {
            return;
        }
        let value: Option<Value> = body.and_then(|b| serde_json::from_slice(b).ok());
        self.facts
            .write()
            .expect("facts lock")
            .observe(rtype, id, value.as_ref());
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn rule_text(&self, rule: &str, lang: &str) -> Option<String> {
        let r = self.policy.rule(rule)?;
        Some(if lang == "en" {
            r.en.clone()
        } else {
            r.nl.clone()
        })
    }

    fn decide_pending(
        &self,
        pending: &Pending,
        subject: &Subject,
        action: Action,
        target: &Target,
    ) -> Decision {
        match &pending.0 {
            Some(facts) => self.decide_with(facts, subject, action, target, Utc::now()),
            None => self.decide(subject, action, target),
        }
    }

    fn sharing_facts(
        &self,
        client: &str,
        recipient: &str,
        categories: &[Category],
    ) -> crate::sharing::SharingFacts {
        let facts = self.facts.read().expect("facts lock");
        let today = kring_fhir::datetime::dutch_date(Utc::now());
        let role_org = |role: &str| facts.roles.get(role).and_then(|r| r.organisation.clone());
        // The recipient's organisation, and the references a membership may name them by.
        let (organisation, names): (Option<String>, Vec<String>) =
            if let Some(o) = crate::facts::reference_id(recipient, "Organization") {
                (Some(o), vec![])
            } else if let Some(r) = crate::facts::reference_id(recipient, "PractitionerRole") {
                let p = facts.roles.get(&r).and_then(|r| r.practitioner.clone());
                let mut names = vec![recipient.to_string()];
                names.extend(p.map(|p| format!("Practitioner/{p}")));
                (role_org(&r), names)
            } else if let Some(p) = crate::facts::reference_id(recipient, "Practitioner") {
                let roles: Vec<String> = facts
                    .roles
                    .iter()
                    .filter(|(_, r)| r.practitioner.as_deref() == Some(p.as_str()))
                    .map(|(id, _)| id.clone())
                    .collect();
                let organisation = roles.iter().find_map(|r| role_org(r));
                let mut names = vec![recipient.to_string()];
                names.extend(roles.iter().map(|r| format!("PractitionerRole/{r}")));
                (organisation, names)
            } else {
                return crate::sharing::SharingFacts::default();
            };
        let in_circle = running_memberships(&facts, client, today).any(|(_, m)| {
            if names.is_empty() {
                facts.organisation_of(m) == organisation
            } else {
                names.contains(&m.member)
            }
        });
        let consent = organisation.as_deref().and_then(|org| {
            let valid: Vec<&ConsentRecord> = facts
                .consents_of(client)
                .filter(|c| consent_is_valid(&facts, c, today).is_ok())
                .collect();
            let answers: Vec<Resolution> = categories
                .iter()
                .map(|c| resolve(valid.clone(), org, *c, today))
                .collect();
            if answers.iter().any(|r| matches!(r, Resolution::Deny { .. })) {
                Some(false)
            } else if !answers.is_empty()
                && answers
                    .iter()
                    .all(|r| matches!(r, Resolution::Permit { .. }))
            {
                Some(true)
            } else {
                None
            }
        });
        crate::sharing::SharingFacts {
            in_circle: Some(in_circle),
            consent,
            age: facts.clients.get(client).and_then(|c| c.age_on(today)),
        }
    }

    fn grant_withheld(&self, id: &str) -> bool {
        let today = kring_fhir::datetime::dutch_date(Utc::now());
        self.facts
            .read()
            .expect("facts lock")
            .grants
            .get(id)
            .and_then(|g| g.withheld_until)
            .is_some_and(|until| today <= until)
    }

    fn running_grants(&self, subject: &Subject) -> Vec<crate::sharing::Grant> {
        let facts = self.facts.read().expect("facts lock");
        let today = kring_fhir::datetime::dutch_date(Utc::now());
        let recipients = grant_recipients(&facts, subject, today);
        let mut out: Vec<crate::sharing::Grant> =
            facts.running_grants(&recipients, today).cloned().collect();
        out.sort_by(|a, b| a.end.cmp(&b.end).then(a.id.cmp(&b.id)));
        out.dedup_by(|a, b| a.id == b.id);
        out
    }

    fn running_emergencies(&self, subject: &Subject) -> Vec<(String, i64)> {
        let Subject::Professional { practitioner, .. } = subject else {
            return vec![];
        };
        self.facts
            .read()
            .expect("facts lock")
            .running_emergencies_of(practitioner, Utc::now())
            .into_iter()
            .map(|e| (e.client.clone(), e.declared.timestamp_millis()))
            .collect()
    }

    fn observe_pending(&self, pending: &mut Pending, rtype: &str, id: &str, body: Option<&[u8]>) {
        if !self.watches(rtype) {
            return;
        }
        let value: Option<Value> = body.and_then(|b| serde_json::from_slice(b).ok());
        pending
            .0
            .get_or_insert_with(|| self.facts.read().expect("facts lock").clone())
            .observe(rtype, id, value.as_ref());
    }

    fn check_write(
        &self,
        subject: &Subject,
        action: Action,
        rtype: &str,
        body: &[u8],
        pending: &Pending,
    ) -> Result<(), String> {
        match rtype {
            // A partner system registers clients for its own organisation: a client it
            // registered for another would be one it can no longer see.
            "Patient" if action == Action::Create => {
                let Subject::Partner { organisation, .. } = subject else {
                    return Ok(());
                };
                let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
                match v["managingOrganization"]["reference"].as_str() {
                    None => Ok(()),
                    Some(r) if crate::facts::reference_id(r, "Organization").as_deref() == Some(organisation) => Ok(()),
                    Some(_) => Err(format!(
                        "a partner system registers clients for its own organisation only: Patient.managingOrganization must be Organization/{organisation}, or be left out (Kring then fills it in)"
                    )),
                }
            }
            // The operator imports records as they were; the decision still ignores a consent
            // whose givers do not satisfy the age rules.
            "Consent" if *subject != Subject::Operator => {
                let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
                // A sharing grant is a professional's decision, not a consent: the record
                // checks it against the aid's answer behind it.
                if crate::sharing::is_grant(&v) {
                    return Ok(());
                }
                let c = ConsentRecord::from_json("new", &v);
                let committed;
                let facts = match &pending.0 {
                    Some(f) => f,
                    None => {
                        committed = self.facts.read().expect("facts lock");
                        &*committed
                    }
                };
                // A proposal waits for the other giver (12 to 15: child and parent); only a
                // consent that takes effect must satisfy the age rules.
                if c.active {
                    consent_is_valid(facts, &c, kring_fhir::datetime::dutch_date(Utc::now()))
                        .map_err(|e| e.to_string())?;
                }
                let giver = match subject {
                    Subject::Client { patient, .. } => Some(format!("Patient/{patient}")),
                    Subject::Representative { related_person, .. } => {
                        Some(format!("RelatedPerson/{related_person}"))
                    }
                    _ => None,
                };
                // Refusing another's proposal (12 to 15: the child or the parent says no) is
                // recorded by the one who refuses, who is not among its givers.
                let refusal = v["status"] == "rejected";
                if let Some(g) = giver {
                    if !c.given_by.contains(&g) && !refusal {
                        return Err(ConsentRefusal::NotAmongGivers.to_string());
                    }
                }
                Ok(())
            }
            "Communication" if *subject != Subject::Operator => {
                let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
                if is_emergency_declaration(&v) {
                    return Err("emergency access is declared with the break-the-glass operation, not written directly".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl NeedToKnow {
    /// Takes in a resource given as JSON (tests, and the record when it already parsed it).
    pub fn observe_json(&self, rtype: &str, id: &str, body: &Value) {
        self.facts
            .write()
            .expect("facts lock")
            .observe(rtype, id, Some(body));
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// [`AccessDecision::check_write`] for a body given as bytes, outside a transaction.
    pub fn check_write_json(
        &self,
        subject: &Subject,
        rtype: &str,
        body: &[u8],
    ) -> Result<(), String> {
        AccessDecision::check_write(self, subject, Action::Create, rtype, body, &Pending::NONE)
    }
}
