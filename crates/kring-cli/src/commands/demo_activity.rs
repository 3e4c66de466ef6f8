//! A simulated morning of work in the demo, so that "who looked at my file", the privacy
//! officer's access log and the oversight queue have something to show at once: every
//! professional opens the support plans of a few clients in their circles, and two of them do
//! what oversight is for — one browses clients outside any circle, one opens a single record
//! nobody asked them to. The entries go through the record's access log like any access
//! (source `kring-demo`), and a first oversight run fills the queue.

use kring_access::{Category, Subject, Target};
use kring_record::logging::entry_for;
use kring_record::{Caller, Record};
use rand::seq::SliceRandom;
use rand::SeedableRng;

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

/// Writes the simulated morning to the access log; returns how many accesses.
pub async fn simulate(
    record: &Record,
    network: &kring_demo::Network,
    seed: u64,
    name_of: impl Fn(&str) -> String,
) -> anyhow::Result<usize> {
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
    Ok(count)
}
