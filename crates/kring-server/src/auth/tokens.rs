//! Short-lived bearer tokens: random, kept only as their SHA-256 in memory, expiring after
//! [`TOKEN_SECONDS`]. A restart forgets them; partner systems simply ask for a new one, as the
//! SMART Backend Services flow expects.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use kring_access::{Scopes, Subject};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Lifetime of a token (SMART recommends at most five minutes for backend services).
pub const TOKEN_SECONDS: u64 = 300;

struct Issued {
    subject: Subject,
    expires: Instant,
}

/// The tokens in force, and the client assertions already used.
#[derive(Default)]
pub struct TokenTable {
    issued: Mutex<HashMap<[u8; 32], Issued>>,
    /// (client, jti) of assertions until they expire (seconds since the epoch).
    assertions: Mutex<HashMap<(String, String), u64>>,
}

impl TokenTable {
    /// Issues a token for a partner system; returns it with its lifetime in seconds.
    pub fn issue(&self, client_id: &str, organisation: &str, scopes: Scopes) -> (String, u64) {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = Instant::now();
        let mut issued = self.issued.lock().expect("token table");
        issued.retain(|_, t| t.expires > now);
        issued.insert(
            digest(&token),
            Issued {
                subject: Subject::Partner {
                    client_id: client_id.to_string(),
                    organisation: organisation.to_string(),
                    scopes,
                },
                expires: now + Duration::from_secs(TOKEN_SECONDS),
            },
        );
        (token, TOKEN_SECONDS)
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

    /// The subject of a token in force.
    pub fn subject(&self, token: &str) -> Option<Subject> {
        let issued = self.issued.lock().expect("token table");
        issued
            .get(&digest(token))
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.subject.clone())
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_resolve_and_others_do_not() {
        let t = TokenTable::default();
        let (token, secs) = t.issue("c1", "org1", Scopes::parse("system/Patient.rs").unwrap());
        assert_eq!(secs, TOKEN_SECONDS);
        assert!(
            matches!(t.subject(&token), Some(Subject::Partner { organisation, .. }) if organisation == "org1")
        );
        assert!(t.subject("not-a-token").is_none());
        assert!(t.subject(&token[1..]).is_none());
    }
}
