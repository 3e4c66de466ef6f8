//! Signed checkpoints: "the log held `size` entries with tree root `root` at `time`", signed
//! with the installation's Ed25519 key.
//!
//! Owns: the checkpoint's signed text, its JSON form (what the API and witnesses get), and the
//! signing key's file: generated at install, kept outside the database (`0600`), with its
//! public half beside it for anyone who verifies.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Value};

use crate::merkle::Hash;
use crate::AuditError;

/// One signed statement of the log's size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub size: u64,
    pub root: Hash,
    /// ms since the epoch.
    pub time_ms: i64,
    pub signature: [u8; 64],
}

/// The first line of every signed checkpoint text.
pub const ORIGIN: &str = "kring access log v1";

impl Checkpoint {
    /// The text that is signed: origin, size, root (base64) and time, one per line.
    pub fn signed_text(size: u64, root: &Hash, time_ms: i64) -> String {
        format!("{ORIGIN}\n{size}\n{}\n{time_ms}\n", B64.encode(root))
    }

    pub fn sign(key: &SigningKey, size: u64, root: Hash, time_ms: i64) -> Checkpoint {
        let signature = key
            .sign(Self::signed_text(size, &root, time_ms).as_bytes())
            .to_bytes();
        Checkpoint {
            size,
            root,
            time_ms,
            signature,
        }
    }

    /// Whether `key` signed exactly this checkpoint.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        key.verify(
            Self::signed_text(self.size, &self.root, self.time_ms).as_bytes(),
            &Signature::from_bytes(&self.signature),
        )
        .is_ok()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "origin": ORIGIN,
            "size": self.size,
            "root": B64.encode(self.root),
            "timestamp": self.time_ms,
            "time": kring_fhir::datetime::format_instant(self.time_ms),
            "signature": B64.encode(self.signature),
        })
    }

    pub fn from_json(v: &Value) -> Option<Checkpoint> {
        let root = B64.decode(v.get("root")?.as_str()?).ok()?;
        let signature = B64.decode(v.get("signature")?.as_str()?).ok()?;
        Some(Checkpoint {
            size: v.get("size")?.as_u64()?,
            root: root.try_into().ok()?,
            time_ms: v.get("timestamp")?.as_i64()?,
            signature: signature.try_into().ok()?,
        })
    }
}

/// The public half of a key, as written in the `.pub` file and shown by the API.
pub fn public_text(key: &VerifyingKey) -> String {
    format!("ed25519 {}", B64.encode(key.as_bytes()))
}

/// Reads a public key as written by [`public_text`].
pub fn parse_public(text: &str) -> Option<VerifyingKey> {
    let b = B64
        .decode(text.trim().strip_prefix("ed25519 ")?.trim())
        .ok()?;
    VerifyingKey::from_bytes(&b.try_into().ok()?).ok()
}

/// Where the public half of the key at `key_path` is kept.
pub fn public_path(key_path: &Path) -> PathBuf {
    key_path.with_extension("pub")
}

/// Loads the signing key at `path`, or creates it (and its `.pub`) when `create` and there is
/// none. The private file is readable by its owner only.
pub fn load_or_create_key(path: &Path, create: bool) -> Result<SigningKey, AuditError> {
    let unavailable = |what: &str, e: std::io::Error| {
        AuditError::Unavailable(format!("{what} {}: {e}", path.display()))
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let seed = text
                .trim()
                .strip_prefix("ed25519-secret ")
                .and_then(|s| B64.decode(s.trim()).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    AuditError::Unavailable(format!(
                        "the signing key {} is not an Ed25519 key written by Kring",
                        path.display()
                    ))
                })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| unavailable("cannot create", e))?;
            }
            write_private(path, &format!("ed25519-secret {}\n", B64.encode(key.to_bytes())))
                .map_err(|e| unavailable("cannot write", e))?;
            std::fs::write(
                public_path(path),
                public_text(&key.verifying_key()) + "\n",
            )
            .map_err(|e| unavailable("cannot write the public key of", e))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AuditError::Unavailable(format!(
            "the signing key {} is missing; the log holds entries, so a new key would break its checkpoints",
            path.display()
        ))),
        Err(e) => Err(unavailable("cannot read", e)),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_as_signed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let key = load_or_create_key(&path, true).unwrap();
        assert_eq!(
            load_or_create_key(&path, false).unwrap().to_bytes(),
            key.to_bytes()
        );
        let public = parse_public(&std::fs::read_to_string(public_path(&path)).unwrap()).unwrap();
        let cp = Checkpoint::sign(&key, 10, [7; 32], 1_700_000_000_000);
        assert!(cp.verify(&public));
        assert_eq!(Checkpoint::from_json(&cp.to_json()).unwrap(), cp);
        let mut changed = cp.clone();
        changed.size = 9;
        assert!(!changed.verify(&public));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the private key is for its owner only");
        }
    }

    #[test]
    fn a_missing_key_for_an_existing_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_or_create_key(&dir.path().join("none.key"), false).unwrap_err();
        assert!(err.to_string().contains("missing"));
    }
}
