//! A simulated morning of work in the demo, so that "who looked at my file", the privacy
//! officer's access log and the oversight queue have something to show at once: every
//! professional opens the support plans of a few clients in their circles and writes a report
//! about one of them, the locations sign off this morning's medication round (high-risk doses
//! prepared, double-checked by a colleague, given), and two professionals do what oversight
//! is for — one browses clients outside any circle, one opens a single record nobody asked
//! them to. Reads go to the record's access log (source `kring-demo`); the reports and the
//! round are written through the record as their professionals, so the decision point, the
//! double-check rule and the log see them like any page's writes. A first oversight run then
//! fills the queue.

use kring_access::{Category, Subject, Target};
use kring_record::logging::entry_for;
use kring_record::reports::{self, ReportKind};
use kring_record::{medication, Caller, Record};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// Clients whose circle names this practitioner (by Practitioner or PractitionerRole) in a
/// membership that runs today.
fn circle_clients(network: &kring_demo::Network, practitioner: &str) -> Vec<String> {
    let pid = practitioner.trim_start_matches("Practitioner/");
    let names = [
        format!("Practitioner/{pid}"),
        format!("PractitionerRole/{pid}-role"),
    ];
    let today = kring_fhir::datetime::format_instant(kring_fhir::datetime::now_ms());
    let today = &today[..10];
    network
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "CareTeam")
        .filter(|r| {
            r["participant"].as_array().into_iter().flatten().any(|p| {
                let member = p["member"]["reference"].as_str().unwrap_or("");
                let start = p["period"]["start"].as_str().unwrap_or("");
                let end = p["period"]["end"].as_str().unwrap_or("9999");
                names.iter().any(|n| n == member) && start <= today && end >= today
            })
        })
        .filter_map(|r| r["subject"]["reference"].as_str())
        .filter_map(|s| s.strip_prefix("Patient/"))
        .map(str::to_string)
        .collect()
}

fn caller(p: &kring_demo::DemoPerson, name: &str) -> Caller {
    let pid = p
        .practitioner
        .trim_start_matches("Practitioner/")
        .to_string();
    Caller::new(
        Subject::Professional {
            account: p.username.clone(),
            role: format!("{pid}-role"),
            practitioner: pid,
            organisation: p.organisation.clone(),
        },
        "127.0.0.1",
    )
    .with_name(name)
    .with_system("kring-demo")
}

async fn read(record: &Record, caller: &Caller, client: &str) -> anyhow::Result<()> {
    let target = Target::new("CarePlan", None, client, Category::SupportPlan);
    record
        .log_event(entry_for(caller, "R", "read", "success", &target, &[]))
        .await?;
    Ok(())
}

/// The running memberships of `role` (`PractitionerRole/…`): (client id, categories).
fn memberships(network: &kring_demo::Network, role: &str) -> Vec<(String, Vec<String>)> {
    let today = kring_demo::today().to_string();
    let mut out = Vec::new();
    for circle in network
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "CareTeam")
    {
        let Some(client) = circle["subject"]["reference"]
            .as_str()
            .and_then(|s| s.strip_prefix("Patient/"))
        else {
            continue;
        };
        for p in circle["participant"].as_array().into_iter().flatten() {
            let start = p["period"]["start"].as_str().unwrap_or("");
            let end = p["period"]["end"].as_str().unwrap_or("9999");
            if p["member"]["reference"] != role || start > today.as_str() || end < today.as_str() {
                continue;
            }
            let categories = p["extension"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| {
                    e["valueCodeableConcept"]["coding"]
                        .as_array()
                        .into_iter()
                        .flatten()
                })
                .filter_map(|c| c["code"].as_str().map(str::to_string))
                .collect();
            out.push((client.to_string(), categories));
        }
    }
    out
}

const REPORTS: &[(ReportKind, &str)] = &[
    (
        ReportKind::Visit,
        "Huisbezoek gedaan. Het gaat redelijk; de afspraken van het plan lopen.",
    ),
    (
        ReportKind::Phone,
        "Telefonisch contact gehad. Cliënt vraagt om een extra gesprek volgende week.",
    ),
    (
        ReportKind::Note,
        "Rustige ochtend, medicatie zonder bijzonderheden ingenomen.",
    ),
    (
        ReportKind::Meeting,
        "Kort overleg met de collega's van de kring over de voortgang.",
    ),
];

/// Each professional with reports in a circle writes one report about one of those clients,
/// in their own name; returns how many.
async fn write_reports(
    record: &Record,
    network: &kring_demo::Network,
    professionals: &[&kring_demo::DemoPerson],
    name_of: &impl Fn(&str) -> String,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> anyhow::Result<usize> {
    let mut count = 0;
    let now = kring_fhir::datetime::now_ms();
    for p in professionals {
        let role = role_of(p);
        let mut clients: Vec<String> = memberships(network, &role)
            .into_iter()
            .filter(|(_, cats)| cats.iter().any(|c| c == "reports"))
            .map(|(c, _)| c)
            .collect();
        clients.shuffle(rng);
        let Some(client) = clients.first() else {
            continue;
        };
        let (kind, text) = *REPORTS.choose(rng).expect("reports to write");
        let sent = medication::fhir_moment(now - rng.gen_range(5..120) * 60_000);
        let report = reports::new_report(client, &role, kind, text, rng.gen_bool(0.5), &sent);
        let caller = caller(p, &name_of(&p.practitioner));
        record
            .create(&caller, "Communication", report, None)
            .await
            .map_err(|e| anyhow::anyhow!("a demo report could not be written: {e}"))?;
        count += 1;
    }
    Ok(count)
}

/// The professionals with medication in a client's circle at the location's organisation.
fn givers_for(
    network: &kring_demo::Network,
    professionals: &[&kring_demo::DemoPerson],
    client: &str,
) -> Vec<kring_demo::DemoPerson> {
    professionals
        .iter()
        .filter(|p| p.organisation == "zorggroep-de-linde")
        .filter(|p| {
            memberships(network, &role_of(p))
                .iter()
                .any(|(c, cats)| c == client && cats.iter().any(|c| c == "medication"))
        })
        .map(|p| (*p).clone())
        .collect()
}

/// This morning's round at every location, when it is past: each dose due at the latest time
/// of day already gone (and at least a quarter of an hour ago) is given by one professional
/// of the client's circle; a high-risk dose is prepared first and checked by a colleague.
/// Returns how many doses were signed off.
async fn sign_off_round(
    record: &Record,
    network: &kring_demo::Network,
    professionals: &[&kring_demo::DemoPerson],
    name_of: &impl Fn(&str) -> String,
) -> anyhow::Result<usize> {
    let now = kring_fhir::datetime::now_ms();
    let today = kring_demo::today();
    let high = record.high_risk().clone();
    let staying: Vec<String> = network
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Encounter" && r["status"] == "in-progress")
        .filter_map(|r| r["subject"]["reference"].as_str())
        .filter_map(|s| s.strip_prefix("Patient/"))
        .map(str::to_string)
        .collect();
    let mut count = 0;
    for client in &staying {
        let doses: Vec<(i64, medication::Dose)> = network
            .resources
            .iter()
            .filter(|r| {
                r["resourceType"] == "MedicationRequest"
                    && r["subject"]["reference"] == format!("Patient/{client}")
            })
            .flat_map(|r| medication::doses_of(r["id"].as_str().unwrap_or(""), client, r, &high))
            .map(|d| (medication::due_ms(today, d.due), d))
            .filter(|(due, _)| *due + 15 * 60_000 <= now)
            .collect();
        let Some(latest) = doses.iter().map(|(due, _)| *due).max() else {
            continue;
        };
        let staff = givers_for(network, professionals, client);
        let Some(giver) = staff.first() else {
            continue;
        };
        let give = caller(giver, &name_of(&giver.practitioner));
        for (due, dose) in doses.iter().filter(|(due, _)| *due == latest) {
            let given = medication::fhir_moment(due + 10 * 60_000);
            let mut adm = json!({
                "resourceType": "MedicationAdministration",
                "extension": [{"url": medication::AGREED_AT, "valueDateTime": medication::fhir_moment(*due)}],
                "status": "completed",
                "medicationCodeableConcept": {"text": dose.medication},
                "subject": {"reference": format!("Patient/{client}")},
                "effectiveDateTime": given,
                "performer": [{"actor": {"reference": role_of(giver)}}],
                "request": {"reference": dose.request},
            });
            if dose.high_risk {
                let Some(checker) = staff.get(1) else {
                    continue;
                };
                // Prepared by the giver, checked by the colleague, then given.
                adm["status"] = json!("in-progress");
                adm["effectiveDateTime"] = json!(medication::fhir_moment(due + 5 * 60_000));
                let written = record
                    .create(&give, "MedicationAdministration", adm, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("a demo dose could not be prepared: {e}"))?;
                let v = written.resource.expect("a created resource");
                let mut adm: serde_json::Value = serde_json::from_slice(&v.body)?;
                adm["performer"].as_array_mut().expect("performers").push(json!({
                    "function": {"coding": [{"system": medication::FUNCTION_SYSTEM, "code": "verifier", "display": "Dubbele controle"}]},
                    "actor": {"reference": role_of(checker)},
                    "extension": [{"url": medication::CHECKED_AT, "valueDateTime": medication::fhir_moment(due + 8 * 60_000)}],
                }));
                let check = caller(checker, &name_of(&checker.practitioner));
                let written = record
                    .update(
                        &check,
                        "MedicationAdministration",
                        &v.id,
                        adm,
                        Some(v.version),
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("a demo dose could not be checked: {e}"))?;
                let v = written.resource.expect("an updated resource");
                let mut adm: serde_json::Value = serde_json::from_slice(&v.body)?;
                adm["status"] = json!("completed");
                adm["effectiveDateTime"] = json!(given);
                record
                    .update(
                        &give,
                        "MedicationAdministration",
                        &v.id,
                        adm,
                        Some(v.version),
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("a demo dose could not be given: {e}"))?;
            } else {
                record
                    .create(&give, "MedicationAdministration", adm, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("a demo dose could not be given: {e}"))?;
            }
            count += 1;
        }
    }
    Ok(count)
}

fn role_of(p: &kring_demo::DemoPerson) -> String {
    format!(
        "PractitionerRole/{}-role",
        p.practitioner.trim_start_matches("Practitioner/")
    )
}

/// What the simulated morning did.
pub struct Morning {
    /// Reads of support plans (the access log's entries).
    pub reads: usize,
    pub reports: usize,
    pub doses: usize,
}

/// Simulates the morning: reads to the access log, reports and the round through the record.
pub async fn simulate(
    record: &Record,
    network: &kring_demo::Network,
    seed: u64,
    name_of: impl Fn(&str) -> String,
) -> anyhow::Result<Morning> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let all_clients: Vec<String> = network
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Patient")
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    let professionals: Vec<&kring_demo::DemoPerson> = network
        .people
        .iter()
        .filter(|p| !p.practitioner.is_empty())
        .collect();
    let mut count = 0;
    for p in &professionals {
        let caller = caller(p, &name_of(&p.practitioner));
        let mut mine = circle_clients(network, &p.practitioner);
        mine.shuffle(&mut rng);
        for client in mine.iter().take(3) {
            read(record, &caller, client).await?;
            count += 1;
        }
    }
    // Two who should not have: the last professional browses eight strangers' records, the
    // one before opens a single one.
    let strangers = |p: &kring_demo::DemoPerson, rng: &mut rand_chacha::ChaCha8Rng, n: usize| {
        let mine = circle_clients(network, &p.practitioner);
        let mut others: Vec<&String> = all_clients.iter().filter(|c| !mine.contains(c)).collect();
        others.shuffle(rng);
        others.into_iter().take(n).cloned().collect::<Vec<_>>()
    };
    let n = professionals.len();
    if n >= 2 {
        for (p, how_many) in [(professionals[n - 1], 8), (professionals[n - 2], 1)] {
            let caller = caller(p, &name_of(&p.practitioner));
            for client in strangers(p, &mut rng, how_many) {
                read(record, &caller, &client).await?;
                count += 1;
            }
        }
    }
    let reports = write_reports(record, network, &professionals, &name_of, &mut rng).await?;
    let doses = sign_off_round(record, network, &professionals, &name_of).await?;
    Ok(Morning {
        reads: count,
        reports,
        doses,
    })
}
