//! Short-lived bearer tokens: random, expiring after [`TOKEN_SECONDS`], kept only as their
//! SHA-256 — in memory, and in the database beside people's sessions, so that a token issued
//! by one server works on every server in front of the same database (and survives a
//! restart). A token met for the first time on a server is looked up there once and then
//! remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use kring_access::{Scopes, Subject};
use kring_store::AccountStore;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Lifetime of a token (SMART recommends at most five minutes for backend services).
pub const TOKEN_SECONDS: u64 = 300;
const HOUR_MS: i64 = 3_600_000;

/// A token as it is kept: whom it was issued to, and until when (ms since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Issued {
    client_id: String,
    organisation: String,
    scopes: String,
    expires_ms: i64,
}

impl Issued {
    fn subject(&self) -> Option<Subject> {
        Some(Subject::Partner {
            client_id: self.client_id.clone(),
            organisation: self.organisation.clone(),
            scopes: Scopes::parse(&self.scopes).ok()?,
        })
    }
}

/// The tokens in force, and the client assertions already used.
pub struct TokenTable {
    issued: Mutex<HashMap<[u8; 32], Issued>>,
    /// Where tokens are shared with the other servers (`None`: this process only).
    shared: Option<Arc<dyn AccountStore>>,
    /// (client, jti) of assertions until they expire (seconds since the epoch).
    assertions: Mutex<HashMap<(String, String), u64>>,
}

impl Default for TokenTable {
    /// Tokens of this process only (in-process tests).
    fn default() -> Self {
        TokenTable {
            issued: Mutex::new(HashMap::new()),
            shared: None,
            assertions: Mutex::new(HashMap::new()),
        }
    }
}

fn now_ms() -> i64 {
    super::now_ms()
}

/// The key a token is kept under: `token:` and its SHA-256 in hex.
fn row_key(digest: &[u8; 32]) -> String {
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("token:{hex}")
}

/// The group a token's row is filed under: its client and the hour it was issued, so that
/// the rows of hours long past can be removed together.
fn row_group(client_id: &str, hour: i64) -> String {
    format!("token:{client_id}:{hour}")
}

impl TokenTable {
    /// Tokens shared through `store` with every server in front of the same database.
    pub fn shared(store: Arc<dyn AccountStore>) -> TokenTable {
        TokenTable {
            shared: Some(store),
            ..TokenTable::default()
        }
    }

    /// Issues a token for a partner system; returns it with its lifetime in seconds. Fails
    /// when the token cannot be shared with the other servers.
    pub async fn issue(
        &self,
        client_id: &str,
        organisation: &str,
        scopes: Scopes,
    ) -> kring_store::Result<(String, u64)> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = now_ms();
        let issued = Issued {
            client_id: client_id.to_string(),
            organisation: organisation.to_string(),
            scopes: scopes.to_string(),
            expires_ms: now + TOKEN_SECONDS as i64 * 1000,
        };
        let key = digest(&token);
        if let Some(store) = &self.shared {
            let hour = now.div_euclid(HOUR_MS);
            store
                .put_session(
                    &row_key(&key),
                    &row_group(client_id, hour),
                    &serde_json::to_string(&issued).unwrap_or_default(),
                )
                .await?;
            // Tokens live minutes: the rows of two hours ago have all expired.
            store
                .delete_sessions_of(&row_group(client_id, hour - 2))
                .await?;
        }
        let mut table = self.issued.lock().expect("token table");
        table.retain(|_, t| t.expires_ms > now);
        table.insert(key, issued);
        Ok((token, TOKEN_SECONDS))
    }

    /// Whether a client assertion (`jti`) is used for the first time; remembers it until `exp`.
    pub fn first_use(&self, client_id: &str, jti: &str, exp: u64) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut seen = self.assertions.lock().expect("assertions");
        seen.retain(|_, until| *until + 60 >= now);
        seen.insert((client_id.to_string(), jti.to_string()), exp)
            .is_none()
    }

    /// The subject of a token in force: one this server issued or met before, else one
    /// another server issued.
    pub async fn subject(&self, token: &str) -> Option<Subject> {
        let key = digest(token);
        let now = now_ms();
        let known = {
            let table = self.issued.lock().expect("token table");
            table.get(&key).cloned()
        };
        let issued = match known {
            Some(issued) => issued,
            None => {
                let store = self.shared.as_ref()?;
                let (_, data) = store
                    .session(&row_key(&key))
                    .await
                    .map_err(|e| tracing::warn!(error = %e, "cannot look up a bearer token"))
                    .ok()??;
                let issued: Issued = serde_json::from_str(&data).ok()?;
                if issued.expires_ms > now {
                    let mut table = self.issued.lock().expect("token table");
                    table.insert(key, issued.clone());
                }
                issued
            }
        };
        (issued.expires_ms > now)
            .then(|| issued.subject())
            .flatten()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issued_tokens_resolve_and_others_do_not() {
        let t = TokenTable::default();
        let (token, secs) = t
            .issue("c1", "org1", Scopes::parse("system/Patient.rs").unwrap())
            .await
            .unwrap();
        assert_eq!(secs, TOKEN_SECONDS);
        assert!(
            matches!(t.subject(&token).await, Some(Subject::Partner { organisation, .. }) if organisation == "org1")
        );
        assert!(t.subject("not-a-token").await.is_none());
        assert!(t.subject(&token[1..]).await.is_none());
    }
}
