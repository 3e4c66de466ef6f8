//! Partner systems: registering one (a client id and a secret, shown once, stored only as an
//! argon2id hash) and checking a presented secret.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use kring_access::Scopes;
use kring_store::{AccountStore, PartnerClient};
use rand::RngCore;

/// What `kring client add` prints: the only time the secret is visible.
#[derive(Debug, Clone)]
pub struct NewPartner {
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Scopes,
}

#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    #[error(transparent)]
    Scope(#[from] kring_access::scopes::ScopeError),
    #[error("an organisation id is letters, digits, '-' and '.', at most 64 characters")]
    Organisation,
    #[error("could not store the partner system: {0}")]
    Store(#[from] kring_store::StoreError),
    #[error("could not hash the secret: {0}")]
    Hash(String),
    #[error("the key set is not a JWK Set with at least one public key: {0}")]
    Keys(String),
}

/// Registers a partner system that authenticates with private_key_jwt (SMART Backend
/// Services): it signs a client assertion with a private key whose public half is in `jwks`.
/// Returns the client id.
pub async fn register_with_keys(
    store: &dyn AccountStore,
    organisation: &str,
    scopes: &str,
    jwks: &str,
) -> Result<String, PartnerError> {
    let scopes = Scopes::parse(scopes)?;
    check_organisation(organisation)?;
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(jwks).map_err(|e| PartnerError::Keys(e.to_string()))?;
    if set.keys.is_empty() {
        return Err(PartnerError::Keys("no keys".into()));
    }
    for k in &set.keys {
        jsonwebtoken::DecodingKey::from_jwk(k).map_err(|e| PartnerError::Keys(e.to_string()))?;
    }
    let client_id = format!("{organisation}-{}", random_text(6));
    store
        .put_partner(&PartnerClient {
            client_id: client_id.clone(),
            organisation: organisation.to_string(),
            scopes: scopes.to_string(),
            secret_hash: String::new(),
            created: chrono_now_ms(),
            jwks: Some(serde_json::to_string(&set).map_err(|e| PartnerError::Keys(e.to_string()))?),
        })
        .await?;
    Ok(client_id)
}

fn check_organisation(organisation: &str) -> Result<(), PartnerError> {
    if organisation.is_empty()
        || organisation.len() > 64
        || !organisation
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(PartnerError::Organisation);
    }
    Ok(())
}

/// Registers a partner system acting for `organisation` with `scopes`.
pub async fn register(
    store: &dyn AccountStore,
    organisation: &str,
    scopes: &str,
) -> Result<NewPartner, PartnerError> {
    let scopes = Scopes::parse(scopes)?;
    check_organisation(organisation)?;
    let client_id = format!("{organisation}-{}", random_text(6));
    let client_secret = random_text(32);
    let salt = SaltString::generate(&mut OsRng);
    let secret_hash = Argon2::default()
        .hash_password(client_secret.as_bytes(), &salt)
        .map_err(|e| PartnerError::Hash(e.to_string()))?
        .to_string();
    store
        .put_partner(&PartnerClient {
            client_id: client_id.clone(),
            organisation: organisation.to_string(),
            scopes: scopes.to_string(),
            secret_hash,
            created: chrono_now_ms(),
            jwks: None,
        })
        .await?;
    Ok(NewPartner {
        client_id,
        client_secret,
        scopes,
    })
}

/// Whether `secret` is the partner's secret (argon2id, constant-time comparison).
pub fn secret_matches(partner: &PartnerClient, secret: &str) -> bool {
    PasswordHash::new(&partner.secret_hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

fn random_text(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
