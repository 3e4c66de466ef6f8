//! Accounts of people who sign in, and the sign-in steps: password (argon2id), then a second
//! factor (TOTP, a passkey, or a one-time recovery code) — for everyone, clients and their
//! representatives included, as Dutch client portals must reach eIDAS level *substantial*
//! (DigiD Substantieel). Five wrong attempts lock an account for fifteen
//! minutes. An unknown username costs the same time as a wrong password and gets the same
//! answer.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use kring_access::Subject;
use kring_store::AccountStore;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

/// Wrong attempts before a lock-out.
pub const MAX_FAILURES: u32 = 5;
/// Length of a lock-out.
pub const LOCK_MS: i64 = 15 * 60 * 1000;

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Professional,
    Client,
    Representative,
    /// A supporter a client chose: the plan and the messages addressed to them.
    Supporter,
    Officer,
    Administrator,
}

/// One account, as stored (a JSON document in `accounts.data`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub kind: Kind,
    /// The person's own name, for the access log (staff accounts; empty for clients).
    #[serde(default)]
    pub name: String,
    pub password_hash: String,
    /// Base32 TOTP secret; `None` until enrolment starts.
    pub totp_secret: Option<String>,
    /// The second factor has been confirmed with a first code.
    pub totp_confirmed: bool,
    /// The last TOTP time step accepted (a code works once).
    #[serde(default)]
    pub last_totp_step: u64,
    /// SHA-256 (hex) of the unused recovery codes.
    #[serde(default)]
    pub recovery_hashes: Vec<String>,
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub locked_until: i64,
    pub organisation: Option<String>,
    pub practitioner: Option<String>,
    pub role: Option<String>,
    pub patient: Option<String>,
    pub related_person: Option<String>,
    /// Passkeys registered as a second factor beside TOTP.
    #[serde(default)]
    pub passkeys: Vec<super::passkeys::StoredPasskey>,
    /// The random user handle the passkeys of this account carry (no name, no username).
    #[serde(default)]
    pub passkey_handle: Option<String>,
    /// When this professional last read each client's reports (client id → ms), for "new
    /// since your last visit" (see `pages::visits`).
    #[serde(default)]
    pub visits: std::collections::BTreeMap<String, i64>,
    /// A parent of several children: every child they may act for, each with the
    /// RelatedPerson that makes them its parent. `patient` and `related_person` are the child
    /// the parent chose last (the portal's "which child?"); the decision point still decides
    /// each access for that child.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildLink>,
}

/// One child a parent's account acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLink {
    pub patient: String,
    pub related_person: String,
}

impl Account {
    /// The subject the decision point sees for this account.
    pub fn subject(&self) -> Option<Subject> {
        let account = self.username.clone();
        Some(match self.kind {
            Kind::Professional => Subject::Professional {
                account,
                practitioner: self.practitioner.clone()?,
                role: self.role.clone()?,
                organisation: self.organisation.clone()?,
            },
            Kind::Client => Subject::Client {
                account,
                patient: self.patient.clone()?,
            },
            Kind::Representative => Subject::Representative {
                account,
                related_person: self.related_person.clone()?,
                patient: self.patient.clone()?,
            },
            Kind::Supporter => Subject::Supporter {
                account,
                related_person: self.related_person.clone()?,
                patient: self.patient.clone()?,
            },
            Kind::Officer => Subject::Officer {
                account,
                organisation: self.organisation.clone()?,
            },
            Kind::Administrator => Subject::Administrator {
                account,
                organisation: self.organisation.clone()?,
            },
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignInError {
    #[error("the username or password is not right")]
    Wrong,
    #[error("too many wrong attempts: this account is locked for a quarter of an hour")]
    Locked,
    #[error("the code is not right or has been used already")]
    WrongCode,
    #[error("the sign-in service is unavailable; try again later")]
    Unavailable,
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashes any password")
        .to_string()
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the username is unknown, so the answer takes as long.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing"))
}

pub async fn load(
    store: &dyn AccountStore,
    username: &str,
) -> Result<Option<Account>, SignInError> {
    let data = store
        .account(username)
        .await
        .map_err(|_| SignInError::Unavailable)?;
    Ok(data.and_then(|d| serde_json::from_str(&d).ok()))
}

pub async fn save(store: &dyn AccountStore, a: &Account) -> Result<(), SignInError> {
    let data = serde_json::to_string(a).map_err(|_| SignInError::Unavailable)?;
    store
        .put_account(&a.username, &data)
        .await
        .map_err(|_| SignInError::Unavailable)
}

/// Counts a wrong attempt at either step; the fifth in a row locks the account.
pub async fn count_failure(store: &dyn AccountStore, mut a: Account, now_ms: i64) -> SignInError {
    a.failed += 1;
    let locked = a.failed >= MAX_FAILURES;
    if locked {
        a.failed = 0;
        a.locked_until = now_ms + LOCK_MS;
    }
    let _ = save(store, &a).await;
    if locked {
        SignInError::Locked
    } else {
        SignInError::Wrong
    }
}

/// The first step: username and password.
pub async fn check_password(
    store: &dyn AccountStore,
    username: &str,
    password: &str,
    now_ms: i64,
) -> Result<Account, SignInError> {
    let Some(a) = load(store, username).await? else {
        let _ = password_matches(decoy_hash(), password);
        return Err(SignInError::Wrong);
    };
    if a.locked_until > now_ms {
        return Err(SignInError::Locked);
    }
    if !password_matches(&a.password_hash, password) {
        return Err(count_failure(store, a, now_ms).await);
    }
    Ok(a)
}

fn totp(secret: &str, username: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("Kring".into()),
        username.to_string(),
    )
    .ok()
}

/// The second step: a TOTP code (each time step once) or an unused recovery code.
pub async fn check_second_factor(
    store: &dyn AccountStore,
    mut a: Account,
    code: &str,
    now_ms: i64,
) -> Result<Account, SignInError> {
    if a.locked_until > now_ms {
        return Err(SignInError::Locked);
    }
    let code = code.trim().replace(' ', "");
    let now_s = (now_ms / 1000) as u64;
    if let Some(t) = a.totp_secret.as_deref().and_then(|s| totp(s, &a.username)) {
        for step_offset in [-1i64, 0, 1] {
            let at = (now_s as i64 + step_offset * 30).max(0) as u64;
            let step = at / 30;
            if step > a.last_totp_step && t.generate(at) == code {
                a.last_totp_step = step;
                a.totp_confirmed = true;
                a.failed = 0;
                save(store, &a).await?;
                return Ok(a);
            }
        }
    }
    let hashed = hex(&Sha256::digest(code.to_lowercase().as_bytes()));
    if let Some(i) = a.recovery_hashes.iter().position(|h| *h == hashed) {
        a.recovery_hashes.remove(i);
        a.failed = 0;
        save(store, &a).await?;
        return Ok(a);
    }
    match count_failure(store, a, now_ms).await {
        SignInError::Locked => Err(SignInError::Locked),
        _ => Err(SignInError::WrongCode),
    }
}

/// A new TOTP secret (base32), for enrolment or the demo.
pub fn new_totp_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn otpauth_url(secret: &str, username: &str) -> Option<String> {
    Some(totp(secret, username)?.get_url())
}

/// The current code for a secret (tests, and scripts signing in to the demo).
pub fn current_code(secret: &str, now_ms: i64) -> Option<String> {
    Some(totp(secret, "")?.generate((now_ms / 1000) as u64))
}

/// The QR code of an address, as inline SVG.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// Ten fresh recovery codes: returned in clear once, stored as hashes.
pub fn new_recovery_codes(a: &mut Account) -> Vec<String> {
    let codes: Vec<String> = (0..10)
        .map(|_| {
            let mut raw = [0u8; 5];
            rand::thread_rng().fill_bytes(&mut raw);
            hex(&raw)
        })
        .collect();
    a.recovery_hashes = codes
        .iter()
        .map(|c| hex(&Sha256::digest(c.as_bytes())))
        .collect();
    codes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates (or replaces) an account with a password and a TOTP secret that is confirmed at the
/// first sign-in (enrolment), unless `confirmed` (the demo hands its secrets out in
/// demo-credentials.json).
pub async fn create(
    store: &dyn AccountStore,
    mut a: Account,
    password: &str,
    confirmed: bool,
) -> Result<Account, SignInError> {
    a.password_hash = hash_password(password);
    if a.totp_secret.is_none() {
        a.totp_secret = Some(new_totp_secret());
    }
    a.totp_confirmed = confirmed && a.totp_secret.is_some();
    save(store, &a).await?;
    Ok(a)
}

/// A blank account of a kind (fill in its links, then [`create`]).
pub fn blank(username: &str, kind: Kind) -> Account {
    Account {
        username: username.to_string(),
        kind,
        name: String::new(),
        password_hash: String::new(),
        totp_secret: None,
        totp_confirmed: false,
        last_totp_step: 0,
        recovery_hashes: vec![],
        failed: 0,
        locked_until: 0,
        organisation: None,
        practitioner: None,
        role: None,
        patient: None,
        related_person: None,
        passkeys: vec![],
        passkey_handle: None,
        visits: Default::default(),
        children: vec![],
    }
}
