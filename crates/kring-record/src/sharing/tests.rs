//! The sharing aid's table of situations, and the rules for stored answers and grants.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::aid::{walk, Answer, Answers, ConsentFrom, Known, Outcome, Question, Step};
use super::*;

use Answer::*;
use Question::*;

/// What a professional answers when a row does not say otherwise: the situation of a careful
/// professional with nothing alarming going on.
fn usual() -> Answers {
    [
        (TaskNeeds, Yes),
        (ProtectionOrder, No),
        (VeiligThuis, No),
        (Consent, NotAsked),
        (CanAskConsent, Yes),
        (Acute, No),
        (SeriousHarm, No),
        (TriedConsent, Yes),
        (NoOtherWay, Yes),
        (SharingHelps, Yes),
        (GoodProfessional, No),
        (Minimum, Yes),
        (OthersPrivacy, No),
        (EndangersIfTold, No),
    ]
    .into_iter()
    .collect()
}

fn known(in_circle: bool, consent: Option<Answer>, age: u32) -> Known {
    Known {
        in_circle: Some(in_circle),
        consent,
        age: Some(age),
        protection_order: None,
        recipient_kind: None,
    }
}

fn outcome(k: &Known, overrides: &[(Question, Answer)]) -> Outcome {
    let mut given = usual();
    given.extend(overrides.iter().copied());
    match walk(k, &given) {
        Step::Done(o) => o,
        Step::Ask(q) => panic!("still asks {q:?}"),
    }
}

fn share(ground: Ground) -> Outcome {
    Outcome::Share {
        ground,
        minimum: false,
        withhold: false,
    }
}

fn share_min(ground: Ground) -> Outcome {
    Outcome::Share {
        ground,
        minimum: true,
        withhold: false,
    }
}

fn withheld(ground: Ground) -> Outcome {
    Outcome::Share {
        ground,
        minimum: false,
        withhold: true,
    }
}

/// (what happens, what the record knows, the professional's answers that differ from
/// [`usual`], the outcome expected).
type Situation = (&'static str, Known, Vec<(Question, Answer)>, Outcome);

#[test]
fn the_table_of_sharing_situations() {
    use super::aid::Consult as C;
    use super::aid::NotToShare as N;
    use Ground as G;
    let po = |age| Known {
        protection_order: Some(true),
        ..known(false, None, age)
    };
    #[rustfmt::skip]
    let table: Vec<Situation> = vec![
        ("co-treating youth carer in the circle needs the crisis plan", known(true, None, 14), vec![], share(G::CoTreatment)),
        ("co-treating GP of an adult", known(true, None, 40), vec![], share(G::CoTreatment)),
        ("in the circle, but the report also holds the brother's data", known(true, None, 9), vec![(OthersPrivacy, Yes)], share_min(G::CoTreatment)),
        ("in the circle, needs less than asked", known(true, None, 40), vec![(Minimum, No)], share_min(G::CoTreatment)),
        ("in the circle, a good professional would refrain", known(true, None, 40), vec![(GoodProfessional, Yes)], Outcome::DoNotShare(N::GoodProfessionalRefrains)),
        ("in the circle, unsure whether the task needs it", known(true, None, 40), vec![(TaskNeeds, Unsure)], Outcome::Consult(C::Colleague)),
        ("in the circle, the client objected on record, no harm", known(true, Some(Refused), 40), vec![], Outcome::DoNotShare(N::Refused)),
        ("in the circle, not for the task, consent on record", known(true, Some(Given), 30), vec![(TaskNeeds, No)], share(G::Consent)),
        ("school outside the circle, parents consented on record (child 8)", known(false, Some(Given), 8), vec![], share(G::Consent)),
        ("debt counsellor outside the circle, consent refused, no harm", known(false, Some(Refused), 45), vec![], Outcome::DoNotShare(N::Refused)),
        ("police outside the circle, refused, acute danger", known(false, Some(Refused), 35), vec![(Acute, Yes)], share(G::ConflictOfDuties)),
        ("acute danger, telling the parents now endangers the child", known(false, Some(Refused), 7), vec![(Acute, Yes), (EndangersIfTold, Yes)], withheld(G::ConflictOfDuties)),
        ("not asked yet and asking is safe, child 8: ask the parents", known(false, None, 8), vec![], Outcome::AskConsentFirst(ConsentFrom::Parents)),
        ("not asked yet, child 13: ask child and parents", known(false, None, 13), vec![], Outcome::AskConsentFirst(ConsentFrom::ChildAndParents)),
        ("not asked yet, young person 16: ask them", known(false, None, 16), vec![], Outcome::AskConsentFirst(ConsentFrom::Client)),
        ("not asked yet, adult: ask the client", known(false, None, 52), vec![], Outcome::AskConsentFirst(ConsentFrom::Client)),
        ("child protection order on file (child 10)", po(10), vec![], share(G::ProtectionOrder)),
        ("child protection order answered by the professional", known(false, None, 10), vec![(ProtectionOrder, Yes)], share(G::ProtectionOrder)),
        ("protection order, telling now endangers the child", po(12), vec![(EndangersIfTold, Yes)], withheld(G::ProtectionOrder)),
        ("no protection order for an adult, consent given", known(false, None, 30), vec![(ProtectionOrder, Yes), (Consent, Given)], share(G::Consent)),
        ("report to Veilig Thuis about a child of 6", known(false, None, 6), vec![(VeiligThuis, Yes)], share(G::VeiligThuisReport)),
        ("report to Veilig Thuis about domestic violence against an adult", known(false, Some(Refused), 33), vec![(VeiligThuis, Yes)], share(G::VeiligThuisReport)),
        ("report to Veilig Thuis, telling the parents now is unsafe", known(false, None, 4), vec![(VeiligThuis, Yes), (EndangersIfTold, Yes)], withheld(G::VeiligThuisReport)),
        ("consent given, but a good professional would refrain", known(false, Some(Given), 40), vec![(GoodProfessional, Yes)], Outcome::DoNotShare(N::GoodProfessionalRefrains)),
        ("consent given in the conversation, others' data inside", known(false, None, 17), vec![(Consent, Given), (OthersPrivacy, Yes)], share_min(G::Consent)),
        ("asking is unsafe, serious harm, every condition met", known(false, None, 11), vec![(CanAskConsent, No), (SeriousHarm, Yes)], share(G::ConflictOfDuties)),
        ("asking is unsafe, but no serious harm", known(false, None, 11), vec![(CanAskConsent, No)], Outcome::DoNotShare(N::NoGround)),
        ("refused, unsure about harm to a child: consult Veilig Thuis", known(false, Some(Refused), 9), vec![(SeriousHarm, Unsure)], Outcome::Consult(C::VeiligThuis)),
        ("refused, unsure about harm to an adult: consult a colleague", known(false, Some(Refused), 60), vec![(SeriousHarm, Unsure)], Outcome::Consult(C::Colleague)),
        ("refused, serious harm, consent not really tried: ask again", known(false, Some(Refused), 14), vec![(SeriousHarm, Yes), (TriedConsent, No)], Outcome::AskConsentFirst(ConsentFrom::ChildAndParents)),
        ("refused, serious harm, unsure it was tried: consult the privacy officer", known(false, Some(Refused), 40), vec![(SeriousHarm, Yes), (TriedConsent, Unsure)], Outcome::Consult(C::PrivacyOfficer)),
        ("refused, serious harm, but there is another way", known(false, Some(Refused), 40), vec![(SeriousHarm, Yes), (NoOtherWay, No)], Outcome::DoNotShare(N::OtherWay)),
        ("refused, serious harm, sharing would not help", known(false, Some(Refused), 40), vec![(SeriousHarm, Yes), (SharingHelps, No)], Outcome::DoNotShare(N::DoesNotHelp)),
        ("refused, serious harm, unsure about another way", known(false, Some(Refused), 40), vec![(SeriousHarm, Yes), (NoOtherWay, Unsure)], Outcome::Consult(C::Colleague)),
        ("acute danger and no time to ask: share the minimum", known(false, None, 25), vec![(CanAskConsent, No), (Acute, Yes), (Minimum, No)], share_min(G::ConflictOfDuties)),
        ("co-treatment is never withheld from the client", known(true, None, 5), vec![(EndangersIfTold, Yes)], share(G::CoTreatment)),
        ("consent is never withheld from the client", known(false, Some(Given), 40), vec![(EndangersIfTold, Yes)], share(G::Consent)),
        ("unknown age: consent is asked from the client", Known { age: None, ..known(false, None, 0) }, vec![], Outcome::AskConsentFirst(ConsentFrom::Client)),
    ];
    assert!(table.len() >= 30);
    let failures: Vec<String> = table
        .iter()
        .filter_map(|(name, k, overrides, expected)| {
            let got = outcome(k, overrides);
            (got != *expected).then(|| format!("{name}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_answer_that_does_not_share_is_withheld_when_telling_endangers() {
    let k = known(false, Some(Refused), 9);
    let mut given = usual();
    given.insert(SeriousHarm, Unsure);
    given.remove(&EndangersIfTold);
    // A worry about violence: whether the parents may read the answer now is asked too.
    assert_eq!(walk(&k, &given), Step::Ask(EndangersIfTold));
    given.insert(EndangersIfTold, Yes);
    let Step::Done(o) = walk(&k, &given) else {
        panic!()
    };
    assert_eq!(o, Outcome::Consult(super::aid::Consult::VeiligThuis));
    assert!(super::aid::withholds(&given, o));
    let v = answer_resource(
        "p1",
        "PractitionerRole/r1",
        &request(),
        &questionnaire::Texts::shipped(),
        &k,
        &given,
        o,
        now(),
    );
    assert!(kring_access::sharing::withheld_until(&v).is_some());
    check_answer(&v, None).unwrap();
    // Without a worry about violence nothing more is asked and nothing withheld.
    let k = known(false, None, 40);
    let mut given = usual();
    given.remove(&EndangersIfTold);
    assert!(matches!(
        walk(&k, &given),
        Step::Done(Outcome::AskConsentFirst(_))
    ));
}

#[test]
fn the_record_answers_questions_and_they_are_not_asked() {
    let k = known(true, Some(Given), 40);
    assert_eq!(walk(&k, &Answers::new()), Step::Ask(TaskNeeds));
    let k = known(false, None, 40);
    // An adult: no question about a child protection order.
    assert_eq!(walk(&k, &Answers::new()), Step::Ask(VeiligThuis));
    let k = Known {
        protection_order: Some(true),
        ..known(false, None, 10)
    };
    assert_eq!(walk(&k, &Answers::new()), Step::Ask(GoodProfessional));
}

fn request() -> Request {
    Request {
        recipient: "Organization/school".into(),
        categories: vec![Category::CrisisPlan, Category::Reports],
        items: vec![],
        purpose: "Veiligheid op school".into(),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
}

fn stored(k: &Known, overrides: &[(Question, Answer)]) -> Value {
    let mut given = usual();
    given.extend(overrides.iter().copied());
    let Step::Done(o) = walk(k, &given) else {
        panic!("no outcome")
    };
    answer_resource(
        "p1",
        "PractitionerRole/r1",
        &request(),
        &questionnaire::Texts::shipped(),
        k,
        &given,
        o,
        now(),
    )
}

#[test]
fn a_stored_answer_reads_back_and_its_outcome_must_follow() {
    let k = known(false, Some(Refused), 7);
    let v = stored(&k, &[(Acute, Yes), (EndangersIfTold, Yes)]);
    check_answer(&v, None).unwrap();
    let a = StoredAnswer::from_json(&v).unwrap();
    assert_eq!(a.ground(), Some(Ground::ConflictOfDuties));
    assert!(a.withhold);
    assert_eq!(a.request, request());
    assert!(a
        .answers
        .iter()
        .any(|(q, _, ans, rec)| q == "consent" && *ans == Refused && *rec));
    // Only the questions the walk reached are stored: no protection order question was
    // needed… it was: a child of 7 is asked, and answered "no".
    assert!(a.answers.iter().any(|(q, ..)| q == "protection-order"));
    assert!(!a.answers.iter().any(|(q, ..)| q == "can-ask-consent"));
    // Tampering with the outcome, or changing a stored answer, is refused.
    let mut t = v.clone();
    t["item"].as_array_mut().unwrap().last_mut().unwrap()["item"][1]["answer"][0]["valueCoding"]
        ["code"] = json!("co-treatment");
    assert!(matches!(
        check_answer(&t, None),
        Err(SharingRefusal::OutcomeDoesNotFollow(_))
    ));
    assert_eq!(check_answer(&v, Some(&v)), Err(SharingRefusal::AnswerKept));
    let mut t = v.clone();
    t["item"][0]["item"][2]["answer"][0]["valueString"] = json!(" ");
    assert_eq!(
        check_answer(&t, None),
        Err(SharingRefusal::RequestIncomplete)
    );
}

#[test]
fn an_answer_about_one_item_grants_that_item_only() {
    let mut r = request();
    r.items = vec!["Communication/r1".into()];
    let k = known(false, Some(Given), 40);
    let given = usual();
    let Step::Done(o) = walk(&k, &given) else {
        panic!()
    };
    let v = answer_resource(
        "p1",
        "PractitionerRole/r1",
        &r,
        &questionnaire::Texts::shipped(),
        &k,
        &given,
        o,
        now(),
    );
    check_answer(&v, None).unwrap();
    let a = StoredAnswer::from_json(&v).unwrap();
    assert_eq!(a.request.items, ["Communication/r1"]);
    let g = grant_resource(
        "qr1",
        &a,
        "wijkteam",
        "PractitionerRole/r1",
        &[Category::Reports],
        10,
        now(),
    )
    .unwrap();
    assert_eq!(
        g["provision"]["data"][0]["reference"]["reference"],
        "Communication/r1"
    );
    let today = now().date_naive();
    check_grant(&g, None, Some(&a), today).unwrap();
    let mut whole = g.clone();
    whole["provision"].as_object_mut().unwrap().remove("data");
    assert_eq!(
        check_grant(&whole, None, Some(&a), today),
        Err(SharingRefusal::BeyondTheAnswer)
    );
    let mut other = g.clone();
    other["provision"]["data"][0]["reference"]["reference"] = json!("Communication/r2");
    assert_eq!(
        check_grant(&other, None, Some(&a), today),
        Err(SharingRefusal::BeyondTheAnswer)
    );
}

#[test]
fn a_grant_stays_within_its_answer() {
    let v = stored(&known(false, Some(Given), 40), &[]);
    let a = StoredAnswer::from_json(&v).unwrap();
    let g = grant_resource(
        "qr1",
        &a,
        "wijkteam",
        "PractitionerRole/r1",
        &[Category::CrisisPlan],
        30,
        now(),
    )
    .unwrap();
    let today = now().date_naive();
    check_grant(&g, None, Some(&a), today).unwrap();
    assert_eq!(
        check_grant(&g, None, None, today),
        Err(SharingRefusal::NoAnswer)
    );
    // Beyond the answer: another category, another recipient, another client, too long.
    let mut t = g.clone();
    t["provision"]["class"][0]["code"] = json!("medication");
    assert_eq!(
        check_grant(&t, None, Some(&a), today),
        Err(SharingRefusal::BeyondTheAnswer)
    );
    let mut t = g.clone();
    t["provision"]["actor"][0]["reference"]["reference"] = json!("Organization/police");
    assert_eq!(
        check_grant(&t, None, Some(&a), today),
        Err(SharingRefusal::BeyondTheAnswer)
    );
    let mut t = g.clone();
    t["patient"]["reference"] = json!("Patient/p2");
    assert_eq!(
        check_grant(&t, None, Some(&a), today),
        Err(SharingRefusal::NoAnswer)
    );
    assert!(grant_resource(
        "qr1",
        &a,
        "wijkteam",
        "PractitionerRole/r1",
        &[Category::CrisisPlan],
        366,
        now()
    )
    .is_err());
    let mut t = g.clone();
    t["extension"] = json!([{"url": WITHHELD_EXTENSION, "valueDate": "2026-12-20"}]);
    assert_eq!(
        check_grant(&t, None, Some(&a), today),
        Err(SharingRefusal::Withholding)
    );
    // An answer that does not end in sharing grants nothing.
    let no = StoredAnswer::from_json(&stored(&known(false, Some(Refused), 40), &[])).unwrap();
    assert!(matches!(
        grant_resource(
            "qr2",
            &no,
            "wijkteam",
            "PractitionerRole/r1",
            &[Category::CrisisPlan],
            10,
            now()
        ),
        Err(SharingRefusal::AnswerSaysOtherwise(_))
    ));
    // Withdrawing and shortening are the only changes.
    check_grant(&withdrawn(&g), Some(&g), None, today).unwrap();
    let mut t = g.clone();
    t["provision"]["period"]["end"] = json!(today.to_string());
    check_grant(&t, Some(&g), None, today).unwrap();
    let mut t = g.clone();
    t["provision"]["period"]["end"] = json!("2027-12-31");
    assert_eq!(
        check_grant(&t, Some(&g), None, today),
        Err(SharingRefusal::GrantOnlyWithdrawn)
    );
    assert_eq!(
        check_grant(&g, Some(&withdrawn(&g)), None, today),
        Err(SharingRefusal::GrantOnlyWithdrawn)
    );
    let mut t = g.clone();
    t["provision"]["class"] = json!([{"system": CATEGORY_SYSTEM, "code": "medication"}]);
    assert_eq!(
        check_grant(&t, Some(&g), None, today),
        Err(SharingRefusal::GrantOnlyWithdrawn)
    );
}

fn any_answer() -> impl Strategy<Value = (Known, Answers)> {
    let answer = prop::sample::select(Answer::ALL.to_vec());
    (
        any::<Option<bool>>(),
        prop::option::of(prop::sample::select(vec![Given, Refused])),
        prop::option::of(0u32..80),
        any::<bool>(),
        prop::collection::vec(answer, Question::ALL.len()),
    )
        .prop_map(|(in_circle, consent, age, po, answers)| {
            let k = Known {
                in_circle,
                consent,
                age,
                protection_order: po.then_some(true),
                recipient_kind: None,
            };
            let given = Question::ALL.into_iter().zip(answers).collect();
            (k, given)
        })
}

proptest! {
    /// No grant exists without its answer: whatever answer and grant are offered, a grant
    /// passes only with an answer that ends in sharing on the grant's ground, for its client,
    /// its recipient and a superset of its categories.
    #[test]
    fn no_grant_without_its_answer(
        (k, given) in any_answer(),
        ground in prop::sample::select(Ground::ALL.to_vec()),
        recipient in prop::sample::select(vec!["Organization/school", "Organization/police", "Practitioner/p9"]),
        client in prop::sample::select(vec!["p1", "p2"]),
        cats in prop::sample::subsequence(Category::GRANTABLE.to_vec(), 1..4),
        days in 1i64..400,
    ) {
        let today = now().date_naive();
        let answer = match walk(&k, &given) {
            Step::Done(o) => Some(StoredAnswer::from_json(&answer_resource(
                "p1", "PractitionerRole/r1", &request(), &questionnaire::Texts::shipped(), &k, &given, o, now())).unwrap()),
            Step::Ask(_) => None,
        };
        let grant = json!({
            "resourceType": "Consent", "status": "active",
            "category": [{"coding": [{"system": GRANT_SYSTEM, "code": GRANT_CODE}]}],
            "patient": {"reference": format!("Patient/{client}")},
            "organization": [{"reference": "Organization/wijkteam"}],
            "policyRule": {"coding": [{"system": GROUND_SYSTEM, "code": ground.code()}]},
            "sourceReference": {"reference": "QuestionnaireResponse/qr1"},
            "provision": {"type": "permit",
                "period": {"start": today.to_string(), "end": (today + Duration::days(days - 1)).to_string()},
                "actor": [{"reference": {"reference": recipient}}],
                "class": cats.iter().map(|c| json!({"system": CATEGORY_SYSTEM, "code": c.code()})).collect::<Vec<_>>()}
        });
        prop_assert!(check_grant(&grant, None, None, today).is_err());
        if check_grant(&grant, None, answer.as_ref(), today).is_ok() {
            let a = answer.unwrap();
            prop_assert_eq!(a.ground(), Some(ground));
            prop_assert_eq!(client, "p1");
            prop_assert_eq!(recipient, "Organization/school");
            prop_assert!(cats.iter().all(|c| a.request.categories.contains(c)));
            prop_assert!(days <= ground.max_days());
            prop_assert!(check_answer(&answer_resource("p1", "PractitionerRole/r1", &request(), &questionnaire::Texts::shipped(), &k, &given, walk_done(&k, &given), now()), None).is_ok());
        }
    }
}

fn walk_done(k: &Known, given: &Answers) -> Outcome {
    match walk(k, given) {
        Step::Done(o) => o,
        Step::Ask(q) => panic!("asks {q:?}"),
    }
}
