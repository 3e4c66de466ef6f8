//! `kring client add`: registers a partner system (another organisation's record system) that
//! connects with OAuth2 client credentials, and prints its credentials once.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::config::Config;

#[derive(Args)]
pub struct ClientArgs {
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a partner system; prints client_id, client_secret, token_url and scope as JSON.
    /// The secret is shown only now: Kring keeps only its argon2id hash.
    Add(AddArgs),
}

#[derive(Args)]
pub struct AddArgs {
    /// The organisation (FHIR Organization id) the system acts for. It sees only clients whose
    /// circle includes this organisation, as far as their consent allows.
    #[arg(long)]
    pub organisation: String,
    /// SMART v2 system scopes, space-separated, e.g. "system/Patient.rs system/CarePlan.cruds".
    #[arg(long, default_value = "system/*.rs")]
    pub scope: String,
    /// A JWK Set file with the system's public keys: it then authenticates with private_key_jwt
    /// (SMART Backend Services, RS384 or ES384) and gets no secret.
    #[arg(long)]
    pub jwks: Option<std::path::PathBuf>,
}

pub async fn run(cfg: &Config, args: ClientArgs) -> anyhow::Result<()> {
    match args.command {
        ClientCommand::Add(add) => {
            let crate::open::Opened {
                record,
                log,
                accounts: store,
                ..
            } = crate::open::record(cfg).await?;
            // A new partner system is a new account: in the access log before its
            // credentials are shown (without the entry, they are not).
            let logged = |client_id: String| {
                let (record, organisation) = (record.clone(), add.organisation.clone());
                async move {
                    kring_server::auth::events::log(
                        &record,
                        "account-create",
                        "success",
                        kring_server::auth::events::Who::Partner {
                            client_id: &client_id,
                            organisation: &organisation,
                        },
                        "kring-cli",
                        "cli",
                        &axum::http::HeaderMap::new(),
                    )
                    .await
                    .map_err(|_| anyhow::anyhow!("the access log cannot be written; the new client's credentials are not shown"))
                }
            };
            if let Some(path) = &add.jwks {
                let jwks = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let client_id = kring_server::auth::partners::register_with_keys(
                    &*store,
                    &add.organisation,
                    &add.scope,
                    &jwks,
                )
                .await?;
                logged(client_id.clone()).await?;
                log.shut_down().await?;
                let out = json!({
                    "client_id": client_id,
                    "token_endpoint_auth_method": "private_key_jwt",
                    "token_url": format!("{}/oauth/token", public_base(cfg)),
                    "scope": kring_access::Scopes::parse(&add.scope)?.to_string(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            let p = kring_server::auth::partners::register(&*store, &add.organisation, &add.scope)
                .await?;
            logged(p.client_id.clone()).await?;
            log.shut_down().await?;
            let out = json!({
                "client_id": p.client_id,
                "client_secret": p.client_secret,
                "token_url": format!("{}/oauth/token", public_base(cfg)),
                "scope": p.scopes.to_string(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
    }
}

/// The server's public base URL (without `/fhir`), from `base_url` or `addr`.
pub fn public_base(cfg: &Config) -> String {
    match &cfg.base_url {
        Some(b) => b
            .trim_end_matches('/')
            .trim_end_matches("/fhir")
            .to_string(),
        None => format!("http://{}", cfg.addr),
    }
}
