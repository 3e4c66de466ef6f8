//! When a professional last read a client's reports, kept in their own account (never in
//! the record: it is about the professional, not the client), so "my clients" can show the
//! reports written since. Written at most once a minute per client, and re-read just before
//! saving so a change to the account made meanwhile (a new passkey …) is kept.

use super::Person;
use crate::auth::accounts;
use crate::auth::now_ms;
use crate::AppState;

/// A visit within this long of the last one is not written again.
const RESOLUTION_MS: i64 = 60_000;
/// How many clients' visits an account keeps (the oldest are forgotten).
const MAX_KEPT: usize = 2_000;

/// Notes that `person` reads client `client`'s reports now. Failing to note it costs only the
/// "new since" count, so a failure is logged and the page goes on.
pub async fn record_visit(state: &AppState, person: &Person, client: &str) {
    let now = now_ms();
    if person
        .account
        .visits
        .get(client)
        .is_some_and(|t| now - t < RESOLUTION_MS)
    {
        return;
    }
    let fresh = match accounts::load(&*state.accounts, &person.account.username).await {
        Ok(Some(a)) => a,
        _ => return,
    };
    let mut a = fresh;
    a.visits.insert(client.to_string(), now);
    if a.visits.len() > MAX_KEPT {
        if let Some(oldest) = a
            .visits
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(c, _)| c.clone())
        {
            a.visits.remove(&oldest);
        }
    }
    if let Err(e) = accounts::save(&*state.accounts, &a).await {
        tracing::warn!(error = %e, "a visit could not be noted");
    }
}

/// When `person` last read client `client`'s reports.
pub fn last_visit(person: &Person, client: &str) -> Option<i64> {
    person.account.visits.get(client).copied()
}
