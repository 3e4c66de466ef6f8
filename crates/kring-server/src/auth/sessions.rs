//! Server-side sessions: a random cookie value, stored only as its SHA-256 in the database,
//! with a CSRF token, the state of the second factor, and the two timeouts: 15 minutes idle,
//! 12 hours absolute. Signing out ends one session; "sign out everywhere" ends all of them.

use base64::Engine;
use kring_store::AccountStore;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "kring_session";
pub const IDLE_MS: i64 = 15 * 60 * 1000;
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub created: i64,
    pub last_seen: i64,
    pub csrf: String,
    /// The second factor has been given (or the account needs none).
    pub complete: bool,
}

impl Session {
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms - self.last_seen > IDLE_MS || now_ms - self.created > ABSOLUTE_MS
    }
}

fn random() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn id_hash(cookie: &str) -> String {
    Sha256::digest(cookie.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Starts a session; returns the cookie value (shown to the browser only).
pub async fn start(
    store: &dyn AccountStore,
    username: &str,
    complete: bool,
    now_ms: i64,
) -> kring_store::Result<(String, Session)> {
    let cookie = random();
    let s = Session {
        created: now_ms,
        last_seen: now_ms,
        csrf: random(),
        complete,
    };
    store
        .put_session(
            &id_hash(&cookie),
            username,
            &serde_json::to_string(&s).unwrap_or_default(),
        )
        .await?;
    Ok((cookie, s))
}

/// Marks the second factor as given, with a fresh cookie (no session fixation).
pub async fn complete(
    store: &dyn AccountStore,
    old_cookie: &str,
    username: &str,
    now_ms: i64,
) -> kring_store::Result<(String, Session)> {
    store.delete_session(&id_hash(old_cookie)).await?;
    start(store, username, true, now_ms).await
}

/// The session of a cookie, if it runs; refreshes its idle timer (at most once a minute).
pub async fn find(
    store: &dyn AccountStore,
    cookie: &str,
    now_ms: i64,
) -> kring_store::Result<Option<(String, Session)>> {
    let hash = id_hash(cookie);
    let Some((username, data)) = store.session(&hash).await? else {
        return Ok(None);
    };
    let Ok(mut s) = serde_json::from_str::<Session>(&data) else {
        return Ok(None);
    };
    if s.expired(now_ms) {
        store.delete_session(&hash).await?;
        return Ok(None);
    }
    if now_ms - s.last_seen > 60_000 {
        s.last_seen = now_ms;
        store
            .put_session(
                &hash,
                &username,
                &serde_json::to_string(&s).unwrap_or_default(),
            )
            .await?;
    }
    Ok(Some((username, s)))
}

pub async fn end(store: &dyn AccountStore, cookie: &str) -> kring_store::Result<()> {
    store.delete_session(&id_hash(cookie)).await
}

pub async fn end_all(store: &dyn AccountStore, username: &str) -> kring_store::Result<()> {
    store.delete_sessions_of(username).await
}

/// The `Set-Cookie` value for a session cookie: HttpOnly, SameSite=Strict, Secure, and as
/// long-lived as the absolute timeout.
pub fn set_cookie(value: &str) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age={}",
        ABSOLUTE_MS / 1000
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0")
}

/// The session cookie of a request.
pub fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}
