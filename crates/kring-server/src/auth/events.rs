//! Sign-in, sign-out and account events in the access log: who signed in (or failed to), from
//! where, with what. A sign-in that cannot be logged does not go ahead.
//!
//! Owns: the log entries of authentication — people at the sign-in pages, partner systems at
//! the token endpoint — and of changes to accounts.

use axum::http::HeaderMap;
use kring_audit::{AccessEntry, Actor, Data, Origin};
use kring_record::{Caller, Record};

use super::accounts::Account;

/// Who an authentication event is about.
pub enum Who<'a> {
    /// A known account.
    Account(&'a Account),
    /// A known partner system.
    Partner {
        client_id: &'a str,
        organisation: &'a str,
    },
    /// Nobody known: a user name or client id that does not exist is not written down.
    Unknown,
}

/// The User-Agent header of a request (bounded).
pub fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// The log entry's user for an account.
fn actor(a: &Account) -> Actor {
    match a.subject() {
        Some(subject) => {
            kring_record::logging::actor_of(&Caller::new(subject, "").with_name(&a.name))
        }
        None => Actor {
            id: format!("account/{}", a.username),
            ..Actor::default()
        },
    }
}

/// Records one authentication or account event (`interaction`: `sign-in`, `sign-in-code`,
/// `sign-out`, `sign-out-everywhere`, `token`, `account-update` …) with its `outcome`.
pub async fn log(
    record: &Record,
    interaction: &str,
    outcome: &str,
    who: Who<'_>,
    system: &str,
    address: &str,
    headers: &HeaderMap,
) -> Result<(), kring_record::RecordError> {
    let user = match who {
        Who::Account(a) => actor(a),
        Who::Partner {
            client_id,
            organisation,
        } => Actor {
            id: format!("client/{client_id}"),
            role: "partner-system".into(),
            organisation: format!("Organization/{organisation}"),
            ..Actor::default()
        },
        Who::Unknown => Actor {
            id: "unknown".into(),
            ..Actor::default()
        },
    };
    let is_account_change = interaction.starts_with("account-");
    record
        .log_event(AccessEntry {
            action: match interaction {
                "account-create" => "C",
                _ if is_account_change => "U",
                _ => "E",
            }
            .into(),
            interaction: interaction.into(),
            outcome: outcome.into(),
            data: Data {
                resource_type: if is_account_change {
                    "Account"
                } else {
                    "Session"
                }
                .into(),
                id: String::new(),
                category: String::new(),
            },
            source: Origin {
                system: system.into(),
                address: address.into(),
                user_agent: user_agent(headers),
            },
            purpose: "HSYSADMIN".into(),
            user,
            ..AccessEntry::default()
        })
        .await
}
