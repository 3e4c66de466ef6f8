//! Passkeys (WebAuthn) as a second sign-in step beside TOTP: registering one on the security
//! page, and signing in with it after the password.
//!
//! Owns: the relying party (Kring's origin), the ceremonies in progress and the passkeys kept
//! on an account. The cryptography is webauthn-rs's: attestation and assertion checks, user
//! verification (PIN or biometrics on the device) required, signature counters. A ceremony's
//! challenge lives in memory for five minutes, bound to the session that asked for it, and is
//! used once; a ceremony asked for in one process must be finished in the same one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use super::accounts::Account;

/// How long a ceremony may take between the options and the answer.
const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);
/// The most passkeys one account keeps.
pub const MAX_PASSKEYS: usize = 10;

/// One passkey on an account, as stored in the account's JSON document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPasskey {
    /// The name its owner gave it ("laptop", "telefoon").
    pub name: String,
    /// When it was added (ms since the epoch).
    pub added_ms: i64,
    /// When it was last used to sign in.
    #[serde(default)]
    pub last_used_ms: Option<i64>,
    /// The credential as webauthn-rs keeps it (public key, id, counter).
    pub key: Passkey,
}

impl StoredPasskey {
    /// The credential id, base64url: how a page names a passkey to remove.
    pub fn id(&self) -> String {
        use base64::Engine;
        let id: &[u8] = self.key.cred_id().as_ref();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are not set up for this address")]
    NotHere,
    #[error("no passkey request is waiting: start again")]
    NoCeremony,
    #[error("the passkey was not accepted")]
    Refused,
    #[error("this account has no passkey")]
    NoPasskeys,
    #[error("this account has the most passkeys it may keep; remove one first")]
    TooMany,
    #[error("give the passkey a name of 1 to 60 characters")]
    BadName,
}

enum Ceremony {
    Register {
        username: String,
        handle: Uuid,
        state: PasskeyRegistration,
    },
    SignIn {
        username: String,
        state: PasskeyAuthentication,
    },
}

/// Kring as a WebAuthn relying party, with the ceremonies in progress.
pub struct Passkeys {
    webauthn: Webauthn,
    origin: Url,
    pending: Mutex<HashMap<String, (Instant, Ceremony)>>,
}

impl Passkeys {
    /// The relying party for `origin` (`https://kring.regio.nl`, or `http://localhost:8080`
    /// for a demo: browsers allow passkeys on https and on localhost, never on a bare IP).
    pub fn new(origin: &str) -> Result<Passkeys, String> {
        let url = Url::parse(origin).map_err(|e| format!("the passkey origin {origin}: {e}"))?;
        let rp_id = url
            .host_str()
            .ok_or_else(|| format!("the passkey origin {origin} names no host"))?
            .to_string();
        let webauthn = WebauthnBuilder::new(&rp_id, &url)
            .and_then(|b| b.rp_name("Kring").build())
            .map_err(|e| format!("the passkey origin {origin}: {e}"))?;
        Ok(Passkeys {
            webauthn,
            origin: url,
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The origin passkeys work at (`scheme://host[:port]`).
    pub fn origin(&self) -> String {
        self.origin.origin().ascii_serialization()
    }

    /// Whether a request reached Kring at the passkeys' origin (its `Host` header), so that
    /// the browser will accept the relying party.
    pub fn served_here(&self, headers: &axum::http::HeaderMap) -> bool {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let want = match (self.origin.host_str(), self.origin.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return false,
        };
        host.eq_ignore_ascii_case(&want)
    }

    fn remember(&self, key: &str, ceremony: Ceremony) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, (at, _)| at.elapsed() < CEREMONY_TTL);
        pending.insert(key.to_string(), (Instant::now(), ceremony));
    }

    fn take(&self, key: &str) -> Option<Ceremony> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (at, ceremony) = pending.remove(key)?;
        (at.elapsed() < CEREMONY_TTL).then_some(ceremony)
    }

    /// The options for the browser to create a passkey for `account`; `key` names the
    /// session that asks.
    pub fn start_registration(
        &self,
        key: &str,
        account: &Account,
    ) -> Result<CreationChallengeResponse, PasskeyError> {
        if account.passkeys.len() >= MAX_PASSKEYS {
            return Err(PasskeyError::TooMany);
        }
        let handle = account
            .passkey_handle
            .as_deref()
            .and_then(|h| Uuid::parse_str(h).ok())
            .unwrap_or_else(Uuid::new_v4);
        let existing = account
            .passkeys
            .iter()
            .map(|p| p.key.cred_id().clone())
            .collect();
        let display = if account.name.is_empty() {
            account.username.as_str()
        } else {
            account.name.as_str()
        };
        let (options, state) = self
            .webauthn
            .start_passkey_registration(handle, &account.username, display, Some(existing))
            .map_err(|e| {
                tracing::warn!(error = %e, "passkey registration could not start");
                PasskeyError::Refused
            })?;
        self.remember(
            key,
            Ceremony::Register {
                username: account.username.clone(),
                handle,
                state,
            },
        );
        Ok(options)
    }

    /// Checks the browser's new credential and adds it to `account` under `name`.
    pub fn finish_registration(
        &self,
        key: &str,
        account: &mut Account,
        name: &str,
        credential: &RegisterPublicKeyCredential,
        now_ms: i64,
    ) -> Result<(), PasskeyError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(PasskeyError::BadName);
        }
        let Some(Ceremony::Register {
            username,
            handle,
            state,
        }) = self.take(key)
        else {
            return Err(PasskeyError::NoCeremony);
        };
        if username != account.username {
            return Err(PasskeyError::NoCeremony);
        }
        let passkey = self
            .webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey registration refused");
                PasskeyError::Refused
            })?;
        if account
            .passkeys
            .iter()
            .any(|p| p.key.cred_id() == passkey.cred_id())
        {
            return Err(PasskeyError::Refused);
        }
        account.passkey_handle = Some(handle.to_string());
        account.passkeys.push(StoredPasskey {
            name: name.to_string(),
            added_ms: now_ms,
            last_used_ms: None,
            key: passkey,
        });
        Ok(())
    }

    /// The options for the browser to sign in with one of `account`'s passkeys.
    pub fn start_sign_in(
        &self,
        key: &str,
        account: &Account,
    ) -> Result<RequestChallengeResponse, PasskeyError> {
        if account.passkeys.is_empty() {
            return Err(PasskeyError::NoPasskeys);
        }
        let keys: Vec<Passkey> = account.passkeys.iter().map(|p| p.key.clone()).collect();
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| {
                tracing::warn!(error = %e, "passkey sign-in could not start");
                PasskeyError::Refused
            })?;
        self.remember(
            key,
            Ceremony::SignIn {
                username: account.username.clone(),
                state,
            },
        );
        Ok(options)
    }

    /// Checks the browser's signed challenge against `account`'s passkeys; on success the
    /// passkey's counter and last use are updated (the caller saves the account).
    pub fn finish_sign_in(
        &self,
        key: &str,
        account: &mut Account,
        credential: &PublicKeyCredential,
        now_ms: i64,
    ) -> Result<(), PasskeyError> {
        let Some(Ceremony::SignIn { username, state }) = self.take(key) else {
            return Err(PasskeyError::NoCeremony);
        };
        if username != account.username {
            return Err(PasskeyError::NoCeremony);
        }
        let result = self
            .webauthn
            .finish_passkey_authentication(credential, &state)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey sign-in refused");
                PasskeyError::Refused
            })?;
        let used = account
            .passkeys
            .iter_mut()
            .find(|p| p.key.cred_id() == result.cred_id())
            .ok_or(PasskeyError::Refused)?;
        used.key.update_credential(&result);
        used.last_used_ms = Some(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::accounts::{blank, Kind};

    fn host(h: &str) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(axum::http::header::HOST, h.parse().unwrap());
        headers
    }

    #[test]
    fn passkeys_work_only_at_their_origin() {
        let p = Passkeys::new("http://localhost:8080").unwrap();
        assert_eq!(p.origin(), "http://localhost:8080");
        assert!(p.served_here(&host("localhost:8080")));
        assert!(!p.served_here(&host("127.0.0.1:8080")));
        assert!(!p.served_here(&host("localhost:9090")));
        let p = Passkeys::new("https://kring.regio.nl").unwrap();
        assert!(p.served_here(&host("kring.regio.nl")));
        assert!(Passkeys::new("not a url").is_err());
    }

    #[test]
    fn a_ceremony_is_bound_to_its_session_and_used_once() {
        let p = Passkeys::new("http://localhost:8080").unwrap();
        let mut a = blank("j.devries", Kind::Professional);
        let options = p.start_registration("session-1", &a).unwrap();
        let json = serde_json::to_value(&options).unwrap();
        assert_eq!(json["publicKey"]["rp"]["id"], "localhost");
        assert_eq!(
            json["publicKey"]["authenticatorSelection"]["userVerification"],
            "required"
        );
        // Another session has no ceremony; the options' session keeps its own.
        assert!(p.take("session-2").is_none());
        assert!(p.take("session-1").is_some());
        assert!(p.take("session-1").is_none(), "used once");
        // Signing in needs a passkey on the account.
        assert_eq!(
            p.start_sign_in("session-1", &a).unwrap_err(),
            PasskeyError::NoPasskeys
        );
        // A name is required before anything is checked.
        let fake: RegisterPublicKeyCredential = serde_json::from_value(serde_json::json!({
            "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
            "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}
        }))
        .unwrap();
        assert_eq!(
            p.finish_registration("session-1", &mut a, "  ", &fake, 0),
            Err(PasskeyError::BadName)
        );
        // Without a ceremony, nothing is checked or added.
        assert_eq!(
            p.finish_registration("session-1", &mut a, "laptop", &fake, 0),
            Err(PasskeyError::NoCeremony)
        );
        // A forged answer to a real ceremony is refused.
        p.start_registration("session-1", &a).unwrap();
        assert_eq!(
            p.finish_registration("session-1", &mut a, "laptop", &fake, 0),
            Err(PasskeyError::Refused)
        );
        assert!(a.passkeys.is_empty());
    }
}
