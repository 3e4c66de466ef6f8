//! The rules, in Cedar: loaded from `policies/kring.cedar`, validated against
//! `policies/kring.cedarschema`, and evaluated for each decision. The facts arrive as the
//! request context; the rules that decided come back as [`Reason::Rule`]s.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::RwLock;

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, EntityUid,
    PolicyId, PolicySet, PrincipalConstraint, Request, RestrictedExpression, Schema,
    ValidationMode, Validator,
};

use crate::reason::Reason;
use crate::subject::{Action, Subject};

/// The rules as shipped with this version of Kring.
pub const POLICIES: &str = include_str!("../policies/kring.cedar");
/// The vocabulary the rules are checked against.
pub const SCHEMA: &str = include_str!("../policies/kring.cedarschema");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the access rules do not parse: {0}")]
    Parse(String),
    #[error("the access rules schema does not parse: {0}")]
    Schema(String),
    #[error("the access rules do not match their schema: {0}")]
    Invalid(String),
    #[error("rule {0} has no @id annotation")]
    Unnamed(String),
}

/// One rule, with its explanation for people.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub permit: bool,
    pub nl: String,
    pub en: String,
}

/// The facts of one request, handed to the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RequestFacts {
    pub category: &'static str,
    pub shared: bool,
    pub in_circle: bool,
    pub granted: Vec<&'static str>,
    pub named: bool,
    pub director: bool,
    pub org_admin: bool,
    pub same_organisation: bool,
    pub consent: &'static str,
    pub consent_explicit: bool,
    pub emergency: bool,
    pub own_record: bool,
    pub represents: bool,
    pub scope_allows: bool,
    pub new_client: bool,
    pub grant: bool,
    pub grant_without_consent: bool,
    pub withheld: bool,
    pub aid_questions: bool,
    pub party: bool,
    pub supports: bool,
}

/// (asker type, action, facts): everything an answer depends on.
type AnswerKey = (&'static str, Action, RequestFacts);
/// (permit, the rules that decided).
type Answer = (bool, Vec<Reason>);

/// The validated rules and an authorizer.
pub struct Policy {
    /// The rules that can apply to each (principal type, action): evaluating only those gives
    /// the same answer as evaluating all, faster. Built from the rules' scopes at load time.
    subsets: HashMap<(&'static str, Action), PolicySet>,
    /// All rules (to check the subsets against).
    all: PolicySet,
    ids: HashMap<PolicyId, String>,
    rules: Vec<Rule>,
    authorizer: Authorizer,
    actions: HashMap<Action, EntityUid>,
    principals: HashMap<&'static str, EntityUid>,
    resource: EntityUid,
    entities: Entities,
    /// Answers already given: the rules are a pure function of (asker type, action, facts), and
    /// the facts take few distinct values, so most decisions skip the evaluator. Bounded.
    answers: RwLock<HashMap<AnswerKey, Answer>>,
}

/// How many distinct answers are remembered before the memory starts afresh.
const MAX_ANSWERS: usize = 100_000;

impl Policy {
    /// The rules shipped in the repository.
    pub fn shipped() -> Result<Policy, PolicyError> {
        Policy::from_text(POLICIES, SCHEMA)
    }

    pub fn from_text(policies: &str, schema: &str) -> Result<Policy, PolicyError> {
        let set = PolicySet::from_str(policies).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let (schema, _warnings) =
            Schema::from_cedarschema_str(schema).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let result = Validator::new(schema).validate(&set, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(PolicyError::Invalid(errors.join("; ")));
        }
        let mut ids = HashMap::new();
        let mut rules = Vec::new();
        for p in set.policies() {
            let id = p
                .annotation("id")
                .ok_or_else(|| PolicyError::Unnamed(p.id().to_string()))?
                .to_string();
            ids.insert(p.id().clone(), id.clone());
            rules.push(Rule {
                id,
                permit: p.effect() == cedar_policy::Effect::Permit,
                nl: p.annotation("nl").unwrap_or_default().to_string(),
                en: p.annotation("en").unwrap_or_default().to_string(),
            });
        }
        let uid = |s: &str| EntityUid::from_str(s).expect("a well-formed entity uid");
        let actions: HashMap<Action, EntityUid> = Action::ALL
            .into_iter()
            .map(|a| (a, uid(&format!("Kring::Action::\"{}\"", a.name()))))
            .collect();
        let principals: HashMap<&'static str, EntityUid> = [
            "Operator",
            "Professional",
            "Partner",
            "Client",
            "Representative",
            "Supporter",
            "Officer",
            "Administrator",
        ]
        .into_iter()
        .map(|t| (t, uid(&format!("Kring::{t}::\"asker\""))))
        .collect();
        let mut subsets = HashMap::new();
        for (&ptype, puid) in &principals {
            for action in Action::ALL {
                let auid: &EntityUid = &actions[&action];
                let mut subset = PolicySet::new();
                for p in set.policies() {
                    let principal_fits = match p.principal_constraint() {
                        PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => {
                            t == *puid.type_name()
                        }
                        PrincipalConstraint::Eq(u) => u == *puid,
                        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
                    };
                    let action_fits = match p.action_constraint() {
                        ActionConstraint::Any => true,
                        ActionConstraint::Eq(a) => a == *auid,
                        ActionConstraint::In(list) => list.contains(auid),
                    };
                    if principal_fits && action_fits {
                        subset
                            .add(p.clone())
                            .map_err(|e| PolicyError::Parse(e.to_string()))?;
                    }
                }
                subsets.insert((ptype, action), subset);
            }
        }
        Ok(Policy {
            subsets,
            all: set,
            ids,
            rules,
            authorizer: Authorizer::new(),
            actions,
            principals,
            resource: uid("Kring::Data::\"data\""),
            entities: Entities::empty(),
            answers: RwLock::new(HashMap::new()),
        })
    }

    /// How many distinct answers are remembered (for benchmarks).
    pub fn remembered(&self) -> usize {
        self.answers.read().expect("answers").len()
    }

    /// Every rule with its explanation, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Evaluates the rules: (permit, the rules that decided).
    pub fn evaluate(&self, subject: &Subject, action: Action, f: &RequestFacts) -> Answer {
        let key = (subject.entity_type(), action, f.clone());
        if let Some(answer) = self.answers.read().expect("answers").get(&key) {
            return answer.clone();
        }
        let answer = self.evaluate_rules(subject, action, f);
        if !answer.1.contains(&Reason::RulesFailed) {
            let mut answers = self.answers.write().expect("answers");
            if answers.len() >= MAX_ANSWERS {
                answers.clear();
            }
            answers.insert(key, answer.clone());
        }
        answer
    }

    /// Evaluates the rules with Cedar, without the memory of earlier answers.
    pub fn evaluate_rules(&self, subject: &Subject, action: Action, f: &RequestFacts) -> Answer {
        match self.subsets.get(&(subject.entity_type(), action)) {
            Some(set) => self.run(set, subject, action, f),
            None => (false, vec![Reason::RulesFailed]),
        }
    }

    /// Evaluates every rule, not only those whose scope fits (for checking the subsets).
    pub fn evaluate_all_rules(
        &self,
        subject: &Subject,
        action: Action,
        f: &RequestFacts,
    ) -> Answer {
        self.run(&self.all, subject, action, f)
    }

    fn run(&self, set: &PolicySet, subject: &Subject, action: Action, f: &RequestFacts) -> Answer {
        let b = RestrictedExpression::new_bool;
        let s = |v: &str| RestrictedExpression::new_string(v.to_string());
        let context = Context::from_pairs([
            ("category".to_string(), s(f.category)),
            ("shared".into(), b(f.shared)),
            ("in_circle".into(), b(f.in_circle)),
            (
                "granted".into(),
                RestrictedExpression::new_set(f.granted.iter().map(|g| s(g))),
            ),
            ("named".into(), b(f.named)),
            ("director".into(), b(f.director)),
            ("org_admin".into(), b(f.org_admin)),
            ("same_organisation".into(), b(f.same_organisation)),
            ("consent".into(), s(f.consent)),
            ("consent_explicit".into(), b(f.consent_explicit)),
            ("emergency".into(), b(f.emergency)),
            ("own_record".into(), b(f.own_record)),
            ("represents".into(), b(f.represents)),
            ("scope_allows".into(), b(f.scope_allows)),
            ("new_client".into(), b(f.new_client)),
            ("grant".into(), b(f.grant)),
            ("grant_without_consent".into(), b(f.grant_without_consent)),
            ("withheld".into(), b(f.withheld)),
            ("aid_questions".into(), b(f.aid_questions)),
            ("party".into(), b(f.party)),
            ("supports".into(), b(f.supports)),
        ]);
        let Ok(context) = context else {
            tracing::error!("the request facts do not form a Cedar context; denying");
            return (false, vec![Reason::RulesFailed]);
        };
        let principal = self.principals[subject.entity_type()].clone();
        let request = match Request::new(
            principal,
            self.actions[&action].clone(),
            self.resource.clone(),
            context,
            None,
        ) {
            Ok(r) => r,
            Err(_) => {
                tracing::error!("the request does not form a Cedar request; denying");
                return (false, vec![Reason::RulesFailed]);
            }
        };
        let response = self.authorizer.is_authorized(&request, set, &self.entities);
        let mut reasons: Vec<Reason> = response
            .diagnostics()
            .reason()
            .filter_map(|id| self.ids.get(id).cloned())
            .map(Reason::Rule)
            .collect();
        reasons.sort();
        let errors = response.diagnostics().errors().count();
        if errors > 0 {
            tracing::error!(errors, "access rules raised errors; denying");
            return (false, vec![Reason::RulesFailed]);
        }
        (response.decision() == CedarDecision::Allow, reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_validate_and_are_explained_in_both_languages() {
        let p = Policy::shipped().expect("valid rules");
        assert!(p.rules().len() >= 10);
        for r in p.rules() {
            assert!(
                !r.nl.is_empty() && !r.en.is_empty(),
                "rule {} lacks an explanation",
                r.id
            );
        }
        let mut ids: Vec<&str> = p.rules().iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), p.rules().len(), "rule ids are unique");
    }

    #[test]
    fn remembered_answers_are_the_evaluators_answers() {
        let p = Policy::shipped().unwrap();
        let subjects = [
            Subject::Operator,
            Subject::Professional {
                account: "a".into(),
                practitioner: "p".into(),
                role: "r".into(),
                organisation: "o".into(),
            },
            Subject::Client {
                account: "c".into(),
                patient: "x".into(),
            },
            Subject::Partner {
                client_id: "c".into(),
                organisation: "o".into(),
                scopes: crate::Scopes::default(),
            },
            Subject::Administrator {
                account: "d".into(),
                organisation: "o".into(),
            },
        ];
        for bits in 0u32..512 {
            let f = RequestFacts {
                category: ["reports", "treatment-notes", "circle", "safety"][(bits % 4) as usize],
                in_circle: bits & 4 != 0,
                granted: if bits & 8 != 0 {
                    vec!["reports", "safety", "treatment-notes"]
                } else {
                    vec![]
                },
                named: bits & 16 != 0,
                director: bits & 32 != 0,
                same_organisation: bits & 64 != 0,
                consent: if bits & 128 != 0 { "permit" } else { "deny" },
                own_record: bits & 256 != 0,
                ..RequestFacts::default()
            };
            for s in &subjects {
                for a in Action::ALL {
                    let first = p.evaluate(s, a, &f);
                    assert_eq!(first, p.evaluate_rules(s, a, &f));
                    assert_eq!(
                        first,
                        p.evaluate_all_rules(s, a, &f),
                        "the subset is complete"
                    );
                    assert_eq!(first, p.evaluate(s, a, &f), "remembered");
                }
            }
        }
        assert!(p.remembered() > 0);
    }

    #[test]
    fn rules_that_do_not_fit_the_schema_are_refused() {
        let bad = r#"@id("x") @nl("x") @en("x") permit (principal, action, resource) when { context.no_such_fact };"#;
        assert!(matches!(
            Policy::from_text(bad, SCHEMA),
            Err(PolicyError::Invalid(_))
        ));
        let unnamed = r#"permit (principal is Kring::Operator, action, resource);"#;
        assert!(matches!(
            Policy::from_text(unnamed, SCHEMA),
            Err(PolicyError::Unnamed(_))
        ));
    }
}
