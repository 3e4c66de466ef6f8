//! Realistic synthetic care-network logs with planted violations, to measure the engine
//! honestly: the network ([`network`]), what its people do ([`behaviour`]), and the files the
//! engine reads (CONTEXT and AUDIT NDJSON, ROLES JSON) with the truth beside them.

pub mod behaviour;
pub mod network;

use std::io::{self, Write};

use kring_demo::names::TOWNS;
use kring_fhir::datetime::{format_instant, parse_range};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::audit::{Access, AccessLog, Action, Emergency};
use crate::context::Context;
use crate::finding::Reason;
use crate::roles::RoleKind;

pub use behaviour::SynthEvent;
pub use network::Network;

/// The size and shape of a synthetic network and its log.
#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    pub staff: usize,
    pub clients: usize,
    pub days: u32,
    /// Local midnight of the first day (a Monday), as if it were UTC ms.
    pub start_ms: i64,
    /// Share of care relationships never registered in a circle.
    pub unregistered: f64,
    /// Planted violations of each kind.
    pub plants_per_kind: usize,
    /// Most reads in one visit (each resource opened is an access).
    pub reads_per_visit: u32,
    /// Role codes without words (`R1`, `R2` …), so that only a ROLES file explains them.
    pub opaque_roles: bool,
}

impl Params {
    /// A mid-sized network: 400 staff, 4,000 clients, one month.
    pub fn month(seed: u64) -> Params {
        Params {
            seed,
            staff: 400,
            clients: 4_000,
            days: 30,
            start_ms: parse_range("2026-10-05").map_or(0, |r| r.low),
            unregistered: 0.2,
            plants_per_kind: 20,
            reads_per_visit: 3,
            opaque_roles: false,
        }
    }
}

/// A generated network with its month of accesses, in time order.
pub struct Synthetic {
    pub params: Params,
    pub network: Network,
    pub events: Vec<SynthEvent>,
    pub diary: behaviour::Diary,
}

impl Synthetic {
    pub fn generate(params: Params) -> Synthetic {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let network = Network::generate(&params, &mut rng);
        let (mut events, diary) =
            behaviour::behaviour(&params, &network, params.seed.wrapping_mul(7919) + 1);
        events.sort_by_key(|e| e.at);
        Synthetic {
            params,
            network,
            events,
            diary,
        }
    }

    /// The planted kind of each event, by position (the event id is `e{position}`).
    pub fn truth(&self) -> Vec<Option<Reason>> {
        self.events.iter().map(|e| e.planted).collect()
    }

    fn role_code(&self, kind: RoleKind, org: usize) -> (String, String) {
        let (code, text) = network::role_code(kind, self.network.orgs[org].kind);
        if self.params.opaque_roles {
            let n = match kind {
                RoleKind::Care => 10 + org,
                RoleKind::Administration => 1,
                RoleKind::Planning => 2,
                RoleKind::NightShift => 3,
                RoleKind::CrisisService => 4,
            };
            (format!("R{n}"), String::new())
        } else {
            (code.to_string(), text.to_string())
        }
    }

    /// The ROLES file mapping this network's role codes.
    pub fn roles_json(&self) -> String {
        let mut roles = serde_json::Map::new();
        for st in &self.network.staff {
            let (code, _) = self.role_code(st.kind, st.org);
            roles.insert(code, json!(st.kind.code()));
        }
        json!({ "roles": roles }).to_string()
    }

    /// The CONTEXT resources, one JSON value each.
    pub fn context(&self) -> Vec<Value> {
        let n = &self.network;
        let mut out = Vec::new();
        let address = |a: &network::Addr| {
            json!([{"use": "home", "line": [format!("{} {}", a.street, a.number)],
                    "postalCode": a.postcode, "city": TOWNS[a.town].0}])
        };
        for (o, org) in n.orgs.iter().enumerate() {
            out.push(
                json!({"resourceType": "Organization", "id": format!("o{o}"), "name": org.name}),
            );
        }
        for (l, loc) in n.locations.iter().enumerate() {
            out.push(json!({"resourceType": "Location", "id": format!("l{l}"),
                "managingOrganization": {"reference": format!("Organization/o{}", loc.org)},
                "address": address(&loc.address)[0]}));
        }
        for (s, st) in n.staff.iter().enumerate() {
            out.push(
                json!({"resourceType": "Practitioner", "id": format!("s{s}"),
                "name": [{"family": st.family, "given": [st.given]}],
                "birthDate": st.birth, "address": address(&st.home)}),
            );
            let (code, text) = self.role_code(st.kind, st.org);
            let mut coding = json!({"system": "https://ecd.example/role", "code": code});
            if !text.is_empty() {
                coding["display"] = json!(text);
            }
            out.push(
                json!({"resourceType": "PractitionerRole", "id": format!("r{s}"),
                "practitioner": {"reference": format!("Practitioner/s{s}")},
                "organization": {"reference": format!("Organization/o{}", st.org)},
                "location": [{"reference": format!("Location/l{}", st.location)}],
                "code": [{"coding": [coding]}]}),
            );
        }
        for (c, client) in n.clients.iter().enumerate() {
            let mut p = json!({"resourceType": "Patient", "id": format!("c{c}"),
                "name": [{"family": client.family, "given": [client.given]}],
                "birthDate": client.birth, "address": address(&client.home),
                "managingOrganization": {"reference": format!("Organization/o{}", client.org)}});
            if let Some(code) = client.importance {
                p["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/patient-importance",
                    "valueCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-PatientImportance", "code": code}]}}]);
            }
            out.push(p);
        }
        // One circle per client with its registered relationships.
        let mut circles: Vec<Vec<Value>> = vec![Vec::new(); n.clients.len()];
        let day = |d: i64| format_instant(self.params.start_ms + d * 86_400_000)[..10].to_string();
        for r in n.relations.iter().filter(|r| r.registered) {
            let mut period = json!({"start": day(r.start_day)});
            if let Some(e) = r.end_day {
                period["end"] = json!(day(e));
            }
            circles[r.client].push(json!({"member": {"reference": format!("Practitioner/s{}", r.staff)}, "period": period}));
        }
        for (c, participants) in circles.into_iter().enumerate() {
            if !participants.is_empty() {
                out.push(json!({"resourceType": "CareTeam", "id": format!("k{c}"),
                    "subject": {"reference": format!("Patient/c{c}")}, "participant": participants}));
            }
        }
        for (i, &(c, l, start, end)) in self.diary.encounters.iter().enumerate() {
            out.push(
                json!({"resourceType": "Encounter", "id": format!("v{i}"), "status": "finished",
                "subject": {"reference": format!("Patient/c{c}")},
                "location": [{"location": {"reference": format!("Location/l{l}")}}],
                "period": {"start": format_instant(start), "end": format_instant(end)}}),
            );
        }
        for (i, &(s, c, start)) in self.diary.appointments.iter().enumerate() {
            out.push(json!({"resourceType": "Appointment", "id": format!("a{i}"), "status": "fulfilled",
                "start": format_instant(start), "end": format_instant(start + 3_600_000),
                "participant": [{"actor": {"reference": format!("Patient/c{c}")}, "status": "accepted"},
                                {"actor": {"reference": format!("Practitioner/s{s}")}, "status": "accepted"}]}));
        }
        out
    }

    /// Writes the CONTEXT NDJSON.
    pub fn write_context(&self, mut w: impl Write) -> io::Result<()> {
        for r in self.context() {
            writeln!(w, "{r}")?;
        }
        Ok(())
    }

    /// One event as an AuditEvent line.
    pub fn audit_line(&self, i: usize) -> String {
        let e = &self.events[i];
        let (action, code) = if e.write {
            ("U", "update")
        } else {
            ("R", "read")
        };
        let purpose = match e.emergency {
            Emergency::No => r#"[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}]"#.to_string(),
            Emergency::WithReason => r#"[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}],"text":"acute crisis, cliënt niet bereikbaar"}]"#.to_string(),
            Emergency::WithoutReason => r#"[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]"#.to_string(),
        };
        format!(
            concat!(
                r#"{{"resourceType":"AuditEvent","id":"e{}","type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"}},"#,
                r#""subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"{}"}}],"action":"{}","recorded":"{}","outcome":"0","purposeOfEvent":{},"#,
                r#""agent":[{{"who":{{"reference":"Practitioner/s{}"}},"requestor":true}},{{"who":{{"display":"ECD"}},"requestor":false}}],"#,
                r#""source":{{"observer":{{"display":"ECD"}}}},"entity":[{{"what":{{"reference":"Patient/c{}"}},"role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}}}]}}"#
            ),
            i,
            code,
            action,
            format_instant(e.at),
            purpose,
            e.user,
            e.client
        )
    }

    /// Writes the AUDIT NDJSON.
    pub fn write_audit(&self, mut w: impl Write) -> io::Result<()> {
        for i in 0..self.events.len() {
            writeln!(w, "{}", self.audit_line(i))?;
        }
        Ok(())
    }

    /// The accesses straight into an [`AccessLog`], as a live log would give them.
    pub fn access_log(&self, cx: &mut Context) -> AccessLog {
        let mut log = AccessLog::default();
        let users: Vec<u32> = (0..self.network.staff.len())
            .map(|s| cx.user(&format!("Practitioner/s{s}")))
            .collect();
        let clients: Vec<u32> = (0..self.network.clients.len())
            .map(|c| cx.client(&format!("Patient/c{c}")))
            .collect();
        for (i, e) in self.events.iter().enumerate() {
            log.push(
                &format!("e{i}"),
                Access {
                    at: e.at,
                    user: users[e.user as usize],
                    client: clients[e.client as usize],
                    event: 0,
                    action: if e.write { Action::Write } else { Action::Read },
                    emergency: e.emergency,
                    denied: false,
                },
            );
        }
        log
    }
}
