//! A generated Dutch care network: organisations, professionals, families and residents, and
//! around every client a circle with a support plan, crisis plan, medication, reports and
//! consents — all as FHIR R4 resources.
//!
//! Owns: generating that network, deterministically from a seed. Every BSN is valid (eleven
//! test) and lies in the range 999 990 000 – 999 999 999 that the Dutch government reserves for
//! tests, so no real person can be meant. Must never: touch storage; callers load the resources.

pub mod names;

use chrono::{Datelike, Duration, NaiveDate};
use kring_fhir::bsn::{passes_eleven_test, BSN_SYSTEM};
use kring_record::plan::{self, Part, Phase, FAMILY_PLAN_SYSTEM};
use kring_record::reports::REPORT_KIND_SYSTEM;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

pub use names::SURNAMES;

/// The demo's "today": the Dutch date the demo is made. Every date of the network is relative
/// to it — yesterday's medication round is signed off, the next appointments lie ahead, some
/// evaluations are overdue — so a seed yields the same network on the same day.
pub fn today() -> NaiveDate {
    let now = chrono::Utc::now().timestamp_millis();
    let dutch = now + kring_fhir::datetime::dutch_offset_ms(now);
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(dutch)
        .expect("now is a valid moment")
        .date_naive()
}

/// A professional (or officer) who will sign in to the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoPerson {
    pub username: String,
    pub role: String,
    pub organisation: String,
    pub practitioner: String,
}

/// The generated network.
#[derive(Debug, Clone)]
pub struct Network {
    /// Every resource, referring to each other by `Type/id`.
    pub resources: Vec<Value>,
    pub people: Vec<DemoPerson>,
}

impl Network {
    pub fn count(&self, rtype: &str) -> usize {
        self.resources
            .iter()
            .filter(|r| r["resourceType"] == rtype)
            .count()
    }
}

struct Org {
    id: &'static str,
    name: &'static str,
    kind: &'static str,
    roles: &'static [(&'static str, &'static str)],
    staff: usize,
}

/// (role code, Dutch display)
const ORGS: &[Org] = &[
    Org {
        id: "wijkteam-noord",
        name: "Wijkteam Zaanstad Noord",
        kind: "govt",
        staff: 9,
        roles: &[
            ("wijkteammedewerker", "Wijkteammedewerker"),
            ("regisseur", "Casusregisseur"),
        ],
    },
    Org {
        id: "jeugdhulp-de-brug",
        name: "Jeugdhulp De Brug",
        kind: "prov",
        staff: 10,
        roles: &[
            ("jeugdhulpverlener", "Jeugdhulpverlener"),
            ("gedragswetenschapper", "Gedragswetenschapper"),
            ("gezinsvoogd", "Gezinsvoogd"),
        ],
    },
    Org {
        id: "ggz-rivierland",
        name: "GGZ Rivierland",
        kind: "prov",
        staff: 9,
        roles: &[
            ("psychiater", "Psychiater"),
            ("spv", "Sociaal-psychiatrisch verpleegkundige"),
            ("psycholoog", "GZ-psycholoog"),
        ],
    },
    Org {
        id: "zorggroep-de-linde",
        name: "Zorggroep De Linde",
        kind: "prov",
        staff: 12,
        roles: &[
            ("begeleider", "Persoonlijk begeleider"),
            ("verpleegkundige", "Verpleegkundige"),
            ("avvg", "Arts verstandelijk gehandicapten"),
        ],
    },
    Org {
        id: "huisarts-de-vaart",
        name: "Huisartsenpraktijk De Vaart",
        kind: "prov",
        staff: 5,
        roles: &[
            ("huisarts", "Huisarts"),
            ("poh-ggz", "Praktijkondersteuner GGZ"),
        ],
    },
];

const LOCATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "linde-lindelaan",
        "Woonlocatie De Linde",
        "Lindelaan 4",
        "Zaandam",
    ),
    (
        "linde-anker",
        "Woonlocatie Het Anker",
        "Zuiddijk 112",
        "Zaandam",
    ),
    (
        "linde-vaart",
        "Woonlocatie Aan de Vaart",
        "Vaartweg 19",
        "Wormerveer",
    ),
];

/// A professional: (practitioner id, practitioner role id, organisation id, role code).
type Staff = (String, String, &'static str, &'static str);

/// A circle membership: the professional, their data categories, whether they direct the case.
type Member<'a> = (&'a Staff, Vec<&'static str>, bool);

struct Gen {
    rng: ChaCha8Rng,
    bsn_next: u32,
    out: Vec<Value>,
}

impl Gen {
    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        list.choose(&mut self.rng).expect("non-empty list")
    }

    fn surname(&mut self) -> &'static str {
        let total: u32 = SURNAMES.iter().map(|(_, w)| w).sum();
        let mut n = self.rng.gen_range(0..total);
        for (s, w) in SURNAMES {
            if n < *w {
                return s;
            }
            n -= w;
        }
        SURNAMES[0].0
    }

    /// The next test BSN that passes the eleven test.
    fn bsn(&mut self) -> String {
        loop {
            self.bsn_next += 1;
            let s = format!("{:09}", 999_990_000 + self.bsn_next);
            if passes_eleven_test(&s) {
                return s;
            }
        }
    }

    fn address(&mut self) -> Value {
        let (town, pc) = *self.pick(names::TOWNS);
        let street = *self.pick(names::STREETS);
        let nr = self.rng.gen_range(1..180);
        let letters = ["AB", "BC", "CD", "GH", "KL", "MN", "RS", "TV", "XZ"];
        let postcode = format!("{pc}{} {}", self.rng.gen_range(0..10), self.pick(&letters));
        json!({"use": "home", "line": [format!("{street} {nr}")], "city": town, "postalCode": postcode, "country": "NL"})
    }

    fn birth_date(&mut self, age: i64) -> String {
        let d = today() - Duration::days(age * 365 + self.rng.gen_range(0..365));
        d.format("%Y-%m-%d").to_string()
    }

    fn phone(&mut self) -> String {
        format!("06-{:08}", self.rng.gen_range(10_000_000..99_999_999))
    }
}

fn age_on(birth: &str, day: NaiveDate) -> i32 {
    let b = NaiveDate::parse_from_str(birth, "%Y-%m-%d").expect("generated date");
    let mut age = day.year() - b.year();
    if (day.month(), day.day()) < (b.month(), b.day()) {
        age -= 1;
    }
    age
}

/// Data categories of Kring's need-to-know rules, as coded in CareTeam extensions and Consent.
pub const CATEGORIES: &[&str] = &[
    "identity",
    "support-plan",
    "crisis-plan",
    "reports",
    "medication",
    "treatment-notes",
    "documents",
    "safety",
];

pub const CATEGORY_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/data-category";
pub const ROLE_SYSTEM: &str = "https://kring.example/fhir/CodeSystem/care-role";

/// Generates the network for `seed`: same seed, same network.
pub fn generate(seed: u64) -> Network {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        bsn_next: 0,
        out: Vec::new(),
    };
    let mut people = Vec::new();
    // Organisations, locations, professionals.
    let mut staff: Vec<Staff> = Vec::new();
    for org in ORGS {
        g.out.push(json!({
            "resourceType": "Organization", "id": org.id, "active": true, "name": org.name,
            "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/agb-z", "value": format!("0{}", 7_100_000 + staff.len())}],
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": org.kind}]}],
            "address": [{"line": ["Stationsweg 1"], "city": "Zaandam", "postalCode": "1501 AB", "country": "NL"}],
        }));
        for i in 0..org.staff {
            let female = g.rng.gen_bool(0.7);
            let given = *g.pick(if female { names::GIRLS } else { names::BOYS });
            let family = g.surname();
            let pid = format!("{}-prof-{:02}", org.id, i + 1);
            let (role_code, role_name) = org.roles[i % org.roles.len()];
            let age = g.rng.gen_range(24..63);
            let birth = g.birth_date(age);
            let address = g.address();
            g.out.push(json!({
                "resourceType": "Practitioner", "id": pid, "active": true,
                "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers", "value": format!("90{:07}", 1000 + staff.len())}],
                "name": [{"family": family, "given": [given], "text": format!("{given} {family}")}],
                "gender": if female { "female" } else { "male" }, "birthDate": birth, "address": [address],
            }));
            let rid = format!("{pid}-role");
            g.out.push(json!({
                "resourceType": "PractitionerRole", "id": rid, "active": true,
                "practitioner": {"reference": format!("Practitioner/{pid}")},
                "organization": {"reference": format!("Organization/{}", org.id)},
                "code": [{"coding": [{"system": ROLE_SYSTEM, "code": role_code, "display": role_name}], "text": role_name}],
            }));
            people.push(DemoPerson {
                username: format!(
                    "{}.{}",
                    given.to_lowercase(),
                    family.to_lowercase().replace(' ', "")
                ),
                role: role_code.to_string(),
                organisation: org.id.to_string(),
                practitioner: format!("Practitioner/{pid}"),
            });
            staff.push((pid, rid, org.id, role_code));
        }
    }
    // The organisations the law names as recipients without consent: Veilig Thuis and a
    // certified institution (child protection). They have no staff in the demo.
    for (id, name, kind) in [
        (
            "veilig-thuis-zaanstreek",
            "Veilig Thuis Zaanstreek-Waterland",
            "veilig-thuis",
        ),
        (
            "jeugdbescherming-nh",
            "Jeugdbescherming Noord-Holland",
            "gecertificeerde-instelling",
        ),
    ] {
        g.out.push(json!({
            "resourceType": "Organization", "id": id, "active": true, "name": name,
            "type": [{"coding": [{"system": "https://kring.example/fhir/CodeSystem/organisation-kind", "code": kind}]}],
            "address": [{"line": ["Postbus 100"], "city": "Zaandam", "postalCode": "1500 AA", "country": "NL"}],
        }));
    }
    for (id, name, line, city) in LOCATIONS {
        g.out.push(json!({
            "resourceType": "Location", "id": id, "status": "active", "name": name, "mode": "instance",
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PTRES", "display": "Patient's Residence"}]}],
            "address": {"line": [line], "city": city, "country": "NL"},
            "managingOrganization": {"reference": "Organization/zorggroep-de-linde"},
        }));
    }
    // A team per organisation: a circle's membership for an organisation can name its team
    // instead of a person, and the team's members then share it.
    for org in ORGS {
        let members: Vec<Value> = staff
            .iter()
            .filter(|s| s.2 == org.id)
            .take(3)
            .map(|s| {
                json!({"member": {"reference": format!("PractitionerRole/{}", s.1)},
                       "onBehalfOf": {"reference": format!("Organization/{}", org.id)}})
            })
            .collect();
        g.out.push(json!({
            "resourceType": "CareTeam", "id": format!("team-{}", org.id), "status": "active",
            "name": format!("Team {}", org.name),
            "managingOrganization": [{"reference": format!("Organization/{}", org.id)}],
            "participant": members,
        }));
    }
    // Dedupe usernames deterministically.
    let mut seen = std::collections::HashMap::new();
    for p in &mut people {
        let n = seen.entry(p.username.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            p.username = format!("{}{}", p.username, n);
        }
    }

    // Families: parents and children of every age 0–17.
    let mut client_no = 0;
    let mut child_ages: Vec<i64> = (0..18).collect();
    for fam in 0..70 {
        let family = g.surname();
        let address = g.address();
        let phone = g.phone();
        let mut parents = Vec::new();
        let n_parents = if g.rng.gen_bool(0.75) { 2 } else { 1 };
        for p in 0..n_parents {
            client_no += 1;
            let female = p == 0;
            let given = *g.pick(if female { names::GIRLS } else { names::BOYS });
            let pid = format!("client-{client_no:04}");
            let age = g.rng.gen_range(27..52);
            let birth = g.birth_date(age);
            let bsn = g.bsn();
            g.out.push(patient(
                &pid,
                given,
                family,
                female,
                &birth,
                &bsn,
                &address,
                &phone,
                "wijkteam-noord",
            ));
            parents.push((pid, given));
        }
        let n_children = g.rng.gen_range(1..=3);
        for _ in 0..n_children {
            client_no += 1;
            // Cycle through every age so the network has children of each age.
            let age = if child_ages.is_empty() {
                g.rng.gen_range(0..18)
            } else {
                child_ages.remove(g.rng.gen_range(0..child_ages.len()))
            };
            let female = g.rng.gen_bool(0.5);
            let given = *g.pick(if female { names::GIRLS } else { names::BOYS });
            let cid = format!("client-{client_no:04}");
            let birth = g.birth_date(age);
            let bsn = g.bsn();
            let org = if age < 18 {
                "jeugdhulp-de-brug"
            } else {
                "wijkteam-noord"
            };
            g.out.push(patient(
                &cid, given, family, female, &birth, &bsn, &address, &phone, org,
            ));
            for (i, (ppid, pgiven)) in parents.iter().enumerate() {
                g.out.push(json!({
                    "resourceType": "RelatedPerson", "id": format!("{cid}-parent-{}", i + 1), "active": true,
                    "patient": {"reference": format!("Patient/{cid}")},
                    "relationship": [
                        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PRN", "display": "parent"}]},
                        {"coding": [{"system": "https://kring.example/fhir/CodeSystem/legal-authority", "code": "gezag", "display": "Ouder met gezag"}]}
                    ],
                    "name": [{"family": family, "given": [pgiven]}], "address": [address.clone()],
                    "telecom": [{"system": "phone", "value": phone}],
                    "identifier": [{"system": "https://kring.example/fhir/NamingSystem/client", "value": ppid}],
                }));
            }
            let parent_refs: Vec<String> = (0..parents.len())
                .map(|i| format!("RelatedPerson/{cid}-parent-{}", i + 1))
                .collect();
            let family_plan = format!("gezin-{:03}", fam + 1);
            circle_and_record(
                &mut g,
                &cid,
                &birth,
                &staff,
                fam % 3 == 0,
                &parent_refs,
                Setting::Family(&family_plan),
            );
        }
        if fam % 4 == 0 {
            // Some parents are clients of the network themselves (e.g. of the ggz).
            let (ppid, _) = parents[0].clone();
            let birth = g
                .out
                .iter()
                .find(|r| r["id"] == ppid.as_str())
                .map(|r| r["birthDate"].as_str().unwrap_or("").to_string())
                .unwrap_or_default();
            let family_plan = format!("gezin-{:03}", fam + 1);
            circle_and_record(
                &mut g,
                &ppid,
                &birth,
                &staff,
                true,
                &[],
                Setting::Family(&family_plan),
            );
        }
    }
    // Adults living in care locations.
    for i in 0..60 {
        client_no += 1;
        let female = g.rng.gen_bool(0.5);
        let given = *g.pick(if female { names::GIRLS } else { names::BOYS });
        let family = g.surname();
        let pid = format!("client-{client_no:04}");
        let age = g.rng.gen_range(19..80);
        let birth = g.birth_date(age);
        let bsn = g.bsn();
        let (loc, _, line, city) = LOCATIONS[i % LOCATIONS.len()];
        let address = json!({"use": "home", "line": [line], "city": city, "country": "NL"});
        let phone = g.phone();
        g.out.push(patient(
            &pid,
            given,
            family,
            female,
            &birth,
            &bsn,
            &address,
            &phone,
            "zorggroep-de-linde",
        ));
        g.out.push(json!({
            "resourceType": "Encounter", "id": format!("{pid}-stay"), "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH", "display": "home health"},
            "subject": {"reference": format!("Patient/{pid}")},
            "location": [{"location": {"reference": format!("Location/{loc}")}}],
            "period": {"start": format!("{}-01-01", 2015 + (i % 10))},
            "serviceProvider": {"reference": "Organization/zorggroep-de-linde"},
        }));
        circle_and_record(&mut g, &pid, &birth, &staff, true, &[], Setting::Location);
    }
    // A privacy officer and an administrator per organisation will be accounts, not practitioners.
    Network {
        resources: g.out,
        people,
    }
}

#[allow(clippy::too_many_arguments)]
fn patient(
    id: &str,
    given: &str,
    family: &str,
    female: bool,
    birth: &str,
    bsn: &str,
    address: &Value,
    phone: &str,
    org: &str,
) -> Value {
    json!({
        "resourceType": "Patient", "id": id, "active": true,
        "identifier": [{"system": BSN_SYSTEM, "value": bsn}],
        "name": [{"use": "official", "family": family, "given": [given], "text": format!("{given} {family}")}],
        "gender": if female { "female" } else { "male" }, "birthDate": birth,
        "address": [address], "telecom": [{"system": "phone", "value": phone, "use": "home"}],
        "managingOrganization": {"reference": format!("Organization/{org}")},
    })
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn categories(list: &[&str]) -> Value {
    Value::Array(
        list.iter()
            .map(|c| json!({"system": CATEGORY_SYSTEM, "code": c}))
            .collect(),
    )
}

/// Where a client's support comes from: a family (whose members' plans form one family plan)
/// or a residential location (whose medication rounds the client is in).
#[derive(Clone, Copy)]
enum Setting<'a> {
    Family(&'a str),
    /// A residential location (the client's stay there is an Encounter).
    Location,
}

/// The circle (CareTeam) of one client and their record: plans, medication, reports, consent.
/// `parents`: references to the client's parents with parental authority (children only).
fn circle_and_record(
    g: &mut Gen,
    pid: &str,
    birth: &str,
    staff: &[Staff],
    medication: bool,
    parents: &[String],
    setting: Setting,
) {
    let age = age_on(birth, today());
    let start = today() - Duration::days(g.rng.gen_range(30..900));
    let by_org = |org: &str| staff.iter().filter(|s| s.2 == org).collect::<Vec<_>>();
    let mut members: Vec<Member> = Vec::new();
    let wijk = by_org("wijkteam-noord");
    let director = wijk[g.rng.gen_range(0..wijk.len())];
    members.push((
        director,
        vec![
            "identity",
            "support-plan",
            "crisis-plan",
            "reports",
            "documents",
        ],
        true,
    ));
    // For a child, the case director and the main carer are named for safety: they keep a
    // meldcode case when there are signs of violence or abuse.
    if age < 18 {
        members[0].1.push("safety");
    }
    let main_org = if matches!(setting, Setting::Location) {
        // The location's own staff give the care and the medication.
        "zorggroep-de-linde"
    } else if age < 18 {
        "jeugdhulp-de-brug"
    } else if medication && age < 60 && g.rng.gen_bool(0.5) {
        "ggz-rivierland"
    } else {
        "zorggroep-de-linde"
    };
    let main = by_org(main_org);
    let m = main[g.rng.gen_range(0..main.len())];
    members.push((
        m,
        vec![
            "identity",
            "support-plan",
            "crisis-plan",
            "reports",
            "medication",
            "treatment-notes",
            "documents",
        ],
        false,
    ));
    if age < 18 {
        members[1].1.push("safety");
    }
    let gp = by_org("huisarts-de-vaart");
    members.push((
        gp[g.rng.gen_range(0..gp.len())],
        vec!["identity", "crisis-plan", "medication"],
        false,
    ));
    if matches!(setting, Setting::Location) {
        // A colleague at the location: the second pair of eyes on high-risk medication.
        let colleague = main
            .iter()
            .copied()
            .filter(|s| s.1 != m.1)
            .nth(g.rng.gen_range(0..main.len() - 1))
            .expect("a location has more than one professional");
        members.push((
            colleague,
            vec!["identity", "crisis-plan", "reports", "medication"],
            false,
        ));
    }
    // One membership has ended: it must grant nothing any more.
    let ended = g.rng.gen_bool(0.25);
    let participants: Vec<Value> = members
        .iter()
        .enumerate()
        .map(|(i, (s, cats, is_director))| {
            let end = if ended && i == 2 { Some(date(today() - Duration::days(20))) } else { Some(date(today() + Duration::days(g.rng.gen_range(60..400)))) };
            let mut role = vec![json!({"coding": [{"system": ROLE_SYSTEM, "code": s.3}]})];
            if *is_director {
                role.push(json!({"coding": [{"system": ROLE_SYSTEM, "code": "regisseur", "display": "Regisseur"}], "text": "Regisseur"}));
            }
            json!({
                "extension": [{"url": "https://kring.example/fhir/StructureDefinition/data-categories", "valueCodeableConcept": {"coding": categories(cats)}}],
                "role": role,
                "member": {"reference": format!("PractitionerRole/{}", s.1)},
                "onBehalfOf": {"reference": format!("Organization/{}", s.2)},
                "period": {"start": date(start), "end": end},
            })
        })
        .collect();
    g.out.push(json!({
        "resourceType": "CareTeam", "id": format!("{pid}-circle"), "status": "active", "name": "Kring",
        "subject": {"reference": format!("Patient/{pid}")}, "period": {"start": date(start)},
        "participant": participants,
        "managingOrganization": [{"reference": "Organization/wijkteam-noord"}],
    }));
    // Support plan: goals (each with its evaluation date and the evaluations so far) and
    // agreements (who does what by when, with status) — some overdue, as in life.
    let goals = [
        ("Naar school of dagbesteding gaan", "education"),
        ("Schulden onder controle", "finance"),
        ("Veilig thuis wonen", "safety"),
        ("Goed slapen", "health"),
        ("Een vaste dagstructuur", "daily"),
    ];
    let mut goal_refs = Vec::new();
    let chosen: Vec<usize> = (0..goals.len())
        .filter(|i| *i < 2 || g.rng.gen_bool(0.35))
        .collect();
    let director_ref = format!("PractitionerRole/{}", members[0].0 .1);
    for i in chosen {
        let text = goals[i].0;
        let gid = format!("{pid}-goal-{}", i + 1);
        // Evaluation dates from a month ago to ten months ahead: some are overdue.
        let evaluate = today() + Duration::days(g.rng.gen_range(-40..300));
        let evaluated = start + Duration::days(g.rng.gen_range(20..60));
        let status = *g.pick(&["in-progress", "improving", "worsening", "no-change"]);
        let evaluation = *g.pick(&[
            "Eerste evaluatie: de stappen zijn haalbaar, we houden dit doel vast.",
            "Evaluatie met cliënt en netwerk: vooruitgang, volgende stap afgesproken.",
            "Besproken in het netwerkoverleg; meer steun nodig van het wijkteam.",
        ]);
        g.out.push(json!({
            "resourceType": "Goal", "id": gid, "lifecycleStatus": "active",
            "achievementStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/goal-achievement", "code": status}]},
            "description": {"text": text}, "subject": {"reference": format!("Patient/{pid}")},
            "startDate": date(start), "target": [{"dueDate": date(evaluate)}],
            "statusDate": date(evaluated),
            "note": [{"authorReference": {"reference": format!("Practitioner/{}", members[0].0 .0)}, "time": format!("{}T14:00:00+01:00", date(evaluated)),
                      "text": evaluation}],
        }));
        goal_refs.push(json!({"reference": format!("Goal/{gid}")}));
    }
    let agreements = [
        "Wekelijks huisbezoek",
        "Aanmelding budgetcoach",
        "Gesprek met school",
        "Medicatie-evaluatie",
        "Dagbesteding regelen",
    ];
    let mut activities: Vec<Value> = members
        .iter()
        .take(2)
        .enumerate()
        .map(|(i, (s, _, _))| {
            let what = agreements[i + g.rng.gen_range(0..3)];
            // Due from three weeks ago to three months ahead: some are overdue.
            let due = today() + Duration::days(g.rng.gen_range(-20..90));
            let status = if g.rng.gen_bool(0.2) {
                "completed"
            } else {
                "in-progress"
            };
            json!({"detail": {
                "status": status, "description": what,
                "performer": [{"reference": format!("PractitionerRole/{}", s.1)}],
                "scheduledPeriod": {"start": date(start), "end": date(due)},
            }})
        })
        .collect();
    // The client's own agreement: the plan is theirs too.
    let own = *g.pick(&[
        "Elke ochtend om 8 uur opstaan",
        "Zelf de afspraken in de agenda zetten",
        "Eén keer per week sporten",
    ]);
    let own_due = today() + Duration::days(g.rng.gen_range(10..120));
    activities.push(json!({"detail": {
        "status": "in-progress",
        "description": own,
        "performer": [{"reference": format!("Patient/{pid}")}],
        "scheduledPeriod": {"start": date(start), "end": date(own_due)},
    }}));
    let mut plan = json!({
        "resourceType": "CarePlan", "id": format!("{pid}-plan"), "status": "active", "intent": "plan",
        "title": "Ondersteuningsplan", "subject": {"reference": format!("Patient/{pid}")},
        "period": {"start": date(start)}, "careTeam": [{"reference": format!("CareTeam/{pid}-circle")}],
        "author": {"reference": director_ref},
        "goal": goal_refs, "activity": activities,
    });
    if let Setting::Family(family) = setting {
        plan["identifier"] = json!([{"system": FAMILY_PLAN_SYSTEM, "value": family}]);
        plan["title"] = json!("Gezinsplan");
    }
    g.out.push(plan);
    // Crisis plan: per phase the signals, what the client does, what the network does and
    // whom to call.
    let crisis_line = |phase: &str, part: &str, text: String| {
        plan::crisis_line(
            Phase::from_code(phase).expect("a phase"),
            Part::from_code(part).expect("a part"),
            &text,
        )
    };
    let contact = staff
        .iter()
        .find(|s| s.1 == members[1].0 .1)
        .map(|s| s.3)
        .unwrap_or("begeleider");
    let phone = g.phone();
    let mut lines = vec![
        crisis_line("groen", "signals", "Rustig, slaapt goed, gaat naar school of dagbesteding.".into()),
        crisis_line("groen", "client", "Houdt de dagstructuur aan en neemt de medicatie zoals afgesproken.".into()),
        crisis_line("groen", "network", "Gewone afspraken: huisbezoek volgens het plan.".into()),
        crisis_line("geel", "signals", "Slaapt slechter, trekt zich terug, zegt afspraken af.".into()),
        crisis_line("geel", "client", "Belt de begeleider en doet de ontspanningsoefening.".into()),
        crisis_line("geel", "network", format!("De {contact} belt binnen een dag terug en plant een extra gesprek.")),
        crisis_line("geel", "contact", format!("Persoonlijk begeleider ({contact}): {phone}")),
        crisis_line("oranje", "signals", "Onrustig, boos of angstig, eet en slaapt nauwelijks.".into()),
        crisis_line("oranje", "client", "Gaat niet alleen de straat op; belt de begeleider of de regisseur.".into()),
        crisis_line("oranje", "network", "Dagelijks contact; regisseur belegt binnen twee dagen netwerkoverleg; medicatie volgens afspraak met de arts.".into()),
        crisis_line("oranje", "contact", "Regisseur wijkteam: 075-681 68 16 (werkdagen 8.30–17.00)".into()),
        crisis_line("rood", "signals", "Dreigt zichzelf of een ander iets aan te doen.".into()),
        crisis_line("rood", "client", "Belt 112 of laat iemand anders bellen.".into()),
        crisis_line("rood", "network", "Crisisdienst GGZ inschakelen; regisseur en ouders of naasten informeren; opname alleen via de crisisdienst.".into()),
        crisis_line("rood", "contact", "Crisisdienst GGZ (dag en nacht): 088-358 58 58 · bij direct gevaar 112".into()),
    ];
    if age < 18 {
        lines.push(crisis_line(
            "rood",
            "contact",
            "Veilig Thuis (dag en nacht): 0800-2000".into(),
        ));
    }
    g.out.push(json!({
        "resourceType": "CarePlan", "id": format!("{pid}-crisis"), "status": "active", "intent": "plan",
        "category": [{"coding": [{"system": "https://kring.example/fhir/CodeSystem/plan-category", "code": "crisis", "display": "Crisisplan"}]}],
        "title": "Crisisplan", "subject": {"reference": format!("Patient/{pid}")},
        "description": "Signalen en acties per fase, samen met de cliënt opgesteld.",
        "author": {"reference": director_ref},
        "contributor": [{"reference": director_ref}, {"reference": format!("Patient/{pid}")}],
        "extension": [{"url": plan::WRITTEN_WITH_CLIENT, "valueBoolean": true}],
        "activity": lines,
    }));
    // Reports, of several kinds, some for the client to read.
    let authors: Vec<&str> = members.iter().map(|(s, _, _)| s.1.as_str()).collect();
    for r in 0..g.rng.gen_range(2..6) {
        let author = authors[r % authors.len()];
        let day = today() - Duration::days(g.rng.gen_range(1..120));
        let (kind, kind_name, text) = *g.pick(&[
            ("visit", "Huisbezoek", "Huisbezoek afgelegd. Het gaat redelijk; afspraken over de dagstructuur doorgenomen."),
            ("phone", "Telefonisch contact", "Telefonisch contact. Zorgen over slapen, volgende week evaluatie."),
            ("meeting", "Overleg", "Gesprek met school gehad, aanwezigheid is verbeterd."),
            ("incident", "Incident", "Cliënt was onrustig, crisisplan fase oranje besproken met het netwerk."),
        ]);
        let mut report = json!({
            "resourceType": "Communication", "id": format!("{pid}-report-{}", r + 1), "status": "completed",
            "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "reports", "display": "Rapportage"}]},
                         {"coding": [{"system": REPORT_KIND_SYSTEM, "code": kind, "display": kind_name}]}],
            "subject": {"reference": format!("Patient/{pid}")}, "sent": format!("{}T10:{:02}:00+01:00", date(day), r * 7),
            "sender": {"reference": format!("PractitionerRole/{author}")},
            "payload": [{"contentString": text}],
        });
        if kind != "incident" && g.rng.gen_bool(0.5) {
            report["recipient"] = json!([{"reference": format!("Patient/{pid}")}]);
        }
        g.out.push(report);
    }
    // The next agenda items.
    for a in 0..g.rng.gen_range(0..3) {
        let day = today() + Duration::days(g.rng.gen_range(-10..150));
        let (who, _, _) = members[a % members.len()];
        let what = *g.pick(&[
            "Netwerkoverleg",
            "Evaluatiegesprek ondersteuningsplan",
            "Huisbezoek",
            "Gesprek met de psychiater",
        ]);
        let hour = g.rng.gen_range(9..16);
        g.out.push(json!({
            "resourceType": "Appointment", "id": format!("{pid}-afspraak-{}", a + 1), "status": "booked",
            "description": what,
            "start": format!("{}T{hour:02}:00:00+01:00", date(day)),
            "end": format!("{}T{hour:02}:45:00+01:00", date(day)),
            "participant": [
                {"actor": {"reference": format!("Patient/{pid}")}, "status": "accepted"},
                {"actor": {"reference": format!("PractitionerRole/{}", who.1)}, "status": "accepted"}],
        }));
    }
    // Medication: a schedule with times of day; where the client lives at a location, the
    // rounds of the last days, high-risk doses with their double check.
    if medication {
        let giver = members[1].0;
        let checker = members.get(3).map(|m| m.0).unwrap_or(members[0].0);
        for k in 0..g.rng.gen_range(1..3) {
            let (name, dose, high_risk) = *g.pick(names::MEDICATIONS);
            let mid = format!("{pid}-med-{}", k + 1);
            let times: &[&str] = match dose {
                d if d.contains("2x") || d.contains("2 tabletten") => &["08:00:00", "20:00:00"],
                d if d.contains("nacht") => &["22:00:00"],
                d if d.contains("zo nodig") => &[],
                d if d.contains("schema") => &["08:00:00", "12:00:00", "18:00:00"],
                _ => &["08:00:00"],
            };
            g.out.push(json!({
                "resourceType": "MedicationRequest", "id": mid, "status": "active", "intent": "order",
                "medicationCodeableConcept": {"text": name},
                "subject": {"reference": format!("Patient/{pid}")}, "authoredOn": date(start),
                "requester": {"reference": format!("PractitionerRole/{}", members[2].0 .1)},
                "dosageInstruction": [if times.is_empty() {
                    json!({"text": dose, "asNeededBoolean": true})
                } else {
                    json!({"text": dose, "timing": {"repeat": {"timeOfDay": times}}})
                }],
                "extension": [{"url": "https://kring.example/fhir/StructureDefinition/high-risk-medication", "valueBoolean": high_risk}],
            }));
            if !matches!(setting, Setting::Location) {
                continue;
            }
            for d in 1..3 {
                let day = today() - Duration::days(d);
                for (t, at) in times.iter().enumerate() {
                    let due = format!("{}T{}+01:00", date(day), at);
                    let minute = g.rng.gen_range(0..20);
                    let given = format!("{}T{}:{minute:02}:00+01:00", date(day), &at[..2]);
                    let mut performers = vec![
                        json!({"actor": {"reference": format!("PractitionerRole/{}", giver.1)}}),
                    ];
                    if high_risk {
                        performers.push(json!({
                            "function": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/med-admin-perform-function", "code": "verifier", "display": "Dubbele controle"}]},
                            "actor": {"reference": format!("PractitionerRole/{}", checker.1)},
                            "extension": [{"url": "https://kring.example/fhir/StructureDefinition/checked-at",
                                           "valueDateTime": format!("{}T{}:00:00+01:00", date(day), &at[..2])}]
                        }));
                    }
                    let refused = g.rng.gen_bool(0.05);
                    let mut adm = json!({
                        "resourceType": "MedicationAdministration", "id": format!("{mid}-adm-{d}-{t}"),
                        "extension": [{"url": "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAdministration2.AgreedDateTime", "valueDateTime": due}],
                        "status": if refused { "not-done" } else { "completed" },
                        "medicationCodeableConcept": {"text": name}, "subject": {"reference": format!("Patient/{pid}")},
                        "effectiveDateTime": given,
                        "performer": performers, "request": {"reference": format!("MedicationRequest/{mid}")},
                    });
                    if refused {
                        adm["statusReason"] = json!([{"coding": [{"system": "https://kring.example/fhir/CodeSystem/not-given", "code": "refused", "display": "Geweigerd door cliënt"}]}]);
                    }
                    g.out.push(adm);
                }
            }
        }
    }
    // Consent: sharing with the organisations in the circle; treatment notes stay inside.
    let decider = if age < 12 {
        "parents"
    } else if age < 16 {
        "client-and-parents"
    } else {
        "client"
    };
    // Who gave it, by the Dutch age rules.
    let mut givers: Vec<Value> = Vec::new();
    if age >= 12 {
        givers.push(json!({"reference": format!("Patient/{pid}")}));
    }
    if age < 16 {
        givers.extend(parents.iter().map(|p| json!({"reference": p})));
    }
    let orgs: Vec<Value> = members
        .iter()
        .map(|(s, _, _)| json!({"reference": format!("Organization/{}", s.2)}))
        .collect();
    g.out.push(json!({
        "resourceType": "Consent", "id": format!("{pid}-consent"), "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": {"reference": format!("Patient/{pid}")}, "dateTime": format!("{}T09:00:00+01:00", date(start)),
        "performer": givers,
        "policyRule": {"text": format!("Toestemming gegeven door: {decider}")},
        "provision": {
            "type": "permit", "period": {"start": date(start)}, "actor": orgs.iter().map(|o| json!({
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}, "reference": o
            })).collect::<Vec<_>>(),
            "class": CATEGORIES.iter().filter(|c| **c != "treatment-notes").map(|c| json!({"system": CATEGORY_SYSTEM, "code": c})).collect::<Vec<_>>(),
        },
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_network() {
        let a = generate(7);
        let b = generate(7);
        assert_eq!(a.resources, b.resources);
        assert_ne!(a.resources, generate(8).resources);
    }

    #[test]
    fn the_network_is_as_large_as_promised() {
        let n = generate(1);
        assert!(n.count("Organization") >= 5);
        assert!(n.count("Practitioner") >= 40, "{}", n.count("Practitioner"));
        assert!(n.count("Patient") >= 200, "{}", n.count("Patient"));
        assert!(n.count("CareTeam") >= 150);
        assert!(
            n.count("MedicationAdministration") > 0
                && n.count("Consent") > 0
                && n.count("Goal") > 0
        );
        let ages: std::collections::BTreeSet<i32> = n
            .resources
            .iter()
            .filter(|r| r["resourceType"] == "Patient")
            .map(|r| age_on(r["birthDate"].as_str().unwrap(), today()))
            .filter(|a| *a < 18)
            .collect();
        assert_eq!(ages.len(), 18, "children of every age 0–17: {ages:?}");
    }

    #[test]
    fn every_bsn_is_a_valid_test_number() {
        for r in generate(3)
            .resources
            .iter()
            .filter(|r| r["resourceType"] == "Patient")
        {
            let bsn = r["identifier"][0]["value"].as_str().unwrap();
            assert!(passes_eleven_test(bsn));
            assert!(bsn.starts_with("99999"), "a fictitious number");
        }
    }

    #[test]
    fn every_resource_is_valid_fhir() {
        let defs = kring_fhir::definitions();
        for r in generate(5).resources {
            let issues = kring_fhir::validate::validate(defs, &r);
            assert!(
                issues.is_empty(),
                "{} {}: {:?}",
                r["resourceType"],
                r["id"],
                issues
            );
        }
    }
}
