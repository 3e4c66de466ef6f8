//! The SQL of [`crate::AccountStore`], written once for both backends: partner systems,
//! accounts and sessions. Nothing here touches the record's tables.

use crate::ops::Exec;
use crate::sql::{Arg, Sql};
use crate::Result;

fn text(s: &str) -> Arg {
    Arg::Text(s.to_string())
}

pub async fn put_partner(ex: &mut dyn Exec, p: &crate::PartnerClient) -> Result<()> {
    ex.exec(
        &Sql::new("INSERT INTO partner_clients (client_id, organisation, scopes, secret_hash, created, jwks) VALUES (?, ?, ?, ?, ?, ?) \
                   ON CONFLICT (client_id) DO UPDATE SET organisation = excluded.organisation, scopes = excluded.scopes, \
                   secret_hash = excluded.secret_hash, created = excluded.created, jwks = excluded.jwks")
            .bind(text(&p.client_id))
            .bind(text(&p.organisation))
            .bind(text(&p.scopes))
            .bind(text(&p.secret_hash))
            .bind(Arg::Int(p.created))
            .bind(match &p.jwks {
                Some(j) => text(j),
                None => Arg::Null,
            }),
    )
    .await?;
    Ok(())
}

/// The columns of a partner system after its client id and organisation, in one text: neither
/// scopes, a PHC hash nor a number contain '|', so it separates them; the key set comes last
/// and may contain anything.
const PARTNER_REST: &str =
    "scopes || '|' || secret_hash || '|' || CAST(created AS TEXT) || '|' || COALESCE(jwks, '')";

fn partner_of(client_id: &str, organisation: String, rest: &str) -> Option<crate::PartnerClient> {
    let mut parts = rest.splitn(4, '|');
    let scopes = parts.next()?.to_string();
    let secret_hash = parts.next()?.to_string();
    let created = parts.next()?.parse().ok()?;
    let jwks = parts.next().filter(|j| !j.is_empty()).map(str::to_string);
    Some(crate::PartnerClient {
        client_id: client_id.to_string(),
        organisation,
        scopes,
        secret_hash,
        created,
        jwks,
    })
}

pub async fn partner(ex: &mut dyn Exec, client_id: &str) -> Result<Option<crate::PartnerClient>> {
    let rows = ex
        .fetch_pairs(
            &Sql::new(&format!(
                "SELECT organisation, {PARTNER_REST} FROM partner_clients WHERE client_id = ?"
            ))
            .bind(text(client_id)),
        )
        .await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|(organisation, rest)| partner_of(client_id, organisation, &rest)))
}

pub async fn partners_of(
    ex: &mut dyn Exec,
    organisation: &str,
) -> Result<Vec<crate::PartnerClient>> {
    let rows = ex
        .fetch_pairs(
            &Sql::new(&format!(
                "SELECT client_id, {PARTNER_REST} FROM partner_clients WHERE organisation = ? ORDER BY created, client_id"
            ))
            .bind(text(organisation)),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(client_id, rest)| partner_of(&client_id, organisation.to_string(), &rest))
        .collect())
}

pub async fn put_account(ex: &mut dyn Exec, username: &str, data: &str) -> Result<()> {
    ex.exec(
        &Sql::new("INSERT INTO accounts (username, data) VALUES (?, ?) ON CONFLICT (username) DO UPDATE SET data = excluded.data")
            .bind(text(username))
            .bind(text(data)),
    )
    .await?;
    Ok(())
}

pub async fn account(ex: &mut dyn Exec, username: &str) -> Result<Option<String>> {
    let rows = ex
        .fetch_pairs(
            &Sql::new("SELECT username, data FROM accounts WHERE username = ?")
                .bind(text(username)),
        )
        .await?;
    Ok(rows.into_iter().next().map(|(_, d)| d))
}

pub async fn put_session(
    ex: &mut dyn Exec,
    id_hash: &str,
    username: &str,
    data: &str,
) -> Result<()> {
    ex.exec(
        &Sql::new("INSERT INTO sessions (id_hash, username, data) VALUES (?, ?, ?) ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data")
            .bind(text(id_hash))
            .bind(text(username))
            .bind(text(data)),
    )
    .await?;
    Ok(())
}

pub async fn session(ex: &mut dyn Exec, id_hash: &str) -> Result<Option<(String, String)>> {
    let rows = ex
        .fetch_pairs(
            &Sql::new("SELECT username, data FROM sessions WHERE id_hash = ?").bind(text(id_hash)),
        )
        .await?;
    Ok(rows.into_iter().next())
}

pub async fn delete_session(ex: &mut dyn Exec, id_hash: &str) -> Result<()> {
    ex.exec(&Sql::new("DELETE FROM sessions WHERE id_hash = ?").bind(text(id_hash)))
        .await?;
    Ok(())
}

pub async fn delete_sessions_of(ex: &mut dyn Exec, username: &str) -> Result<()> {
    ex.exec(&Sql::new("DELETE FROM sessions WHERE username = ?").bind(text(username)))
        .await?;
    Ok(())
}
