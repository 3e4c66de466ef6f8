//! Encryption at rest in the `age` format (X25519 recipients), through the `age` crate: a
//! backup is encrypted to the recipients' public keys, so the machine that makes it cannot read
//! it back; only whoever holds an identity (the secret key, kept off that machine) restores.
//! Files are streamed — never wholly in memory — and hashed as they are written.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::str::FromStr;

pub use age::x25519::{Identity, Recipient};
use sha2::{Digest, Sha256};

use crate::ContinuityError;

const CHUNK: usize = 1 << 20;

/// Parses recipients (`age1…`), separated by commas, spaces or new lines.
pub fn recipients(text: &str) -> Result<Vec<Recipient>, ContinuityError> {
    let list: Vec<Recipient> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty() && !s.starts_with('#'))
        .map(|s| {
            Recipient::from_str(s).map_err(|e| {
                ContinuityError::Key(format!(
                    "'{}…' is not an age recipient (age1…): {e}",
                    &s[..s.len().min(8)]
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(ContinuityError::Key(
            "no backup recipient: set backup_recipient to an age public key (age1…); `kring backup --new-key FILE` makes a pair".into(),
        ));
    }
    Ok(list)
}

/// Reads identities (`AGE-SECRET-KEY-1…`, one per line, `#` comments) from a file.
pub fn identities(path: &Path) -> Result<Vec<Identity>, ContinuityError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ContinuityError::Key(format!(
            "cannot read the backup identity {}: {e}",
            path.display()
        ))
    })?;
    let list: Vec<Identity> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            Identity::from_str(l).map_err(|_| {
                ContinuityError::Key(format!(
                    "{} holds a line that is not an age identity (AGE-SECRET-KEY-1…)",
                    path.display()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(ContinuityError::Key(format!(
            "{} holds no age identity",
            path.display()
        )));
    }
    Ok(list)
}

/// A new key pair: (the identity file's text, the recipient).
pub fn new_pair() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let id = Identity::generate();
    let public = id.to_public().to_string();
    let text = format!(
        "# Kring backup identity, made {}\n# public key: {public}\n{}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        id.to_string().expose_secret()
    );
    (text, public)
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What encrypting one file gave: bytes in, bytes out, SHA-256 of what was written.
pub struct Sealed {
    pub plain_bytes: u64,
    pub bytes: u64,
    pub sha256: String,
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> ContinuityError {
    let (what, path) = (what.to_string(), path.display().to_string());
    move |e| ContinuityError::Io(format!("{what} {path}: {e}"))
}

/// Encrypts `plain` to `out` (a new file, synced to disk) for `recipients`.
pub fn encrypt_file(
    plain: &Path,
    out: &Path,
    recipients: &[Recipient],
) -> Result<Sealed, ContinuityError> {
    let mut input = File::open(plain).map_err(io("cannot read", plain))?;
    encrypt_reader(&mut input, out, recipients)
}

/// Encrypts what `input` gives to `out` (a new file, synced to disk) for `recipients`.
pub fn encrypt_reader(
    input: &mut dyn Read,
    out: &Path,
    recipients: &[Recipient],
) -> Result<Sealed, ContinuityError> {
    let file = new_private_file(out)?;
    let sink = Hashing {
        inner: BufWriter::with_capacity(CHUNK, file),
        hash: Sha256::new(),
        bytes: 0,
    };
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| ContinuityError::Key(format!("cannot encrypt: {e}")))?;
    let mut writer = enc.wrap_output(sink).map_err(io("cannot write", out))?;
    let mut buf = vec![0u8; CHUNK];
    let mut plain_bytes = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(io("cannot read into", out))?;
        if n == 0 {
            break;
        }
        plain_bytes += n as u64;
        writer
            .write_all(&buf[..n])
            .map_err(io("cannot write", out))?;
    }
    let mut sink = writer.finish().map_err(io("cannot finish", out))?;
    sink.flush().map_err(io("cannot write", out))?;
    let file = sink
        .inner
        .into_inner()
        .map_err(|e| ContinuityError::Io(format!("cannot write {}: {e}", out.display())))?;
    file.sync_all().map_err(io("cannot sync", out))?;
    Ok(Sealed {
        plain_bytes,
        bytes: sink.bytes,
        sha256: hex(&sink.hash.finalize()),
    })
}

/// The SHA-256 of a file, hex.
pub fn file_sha256(path: &Path) -> Result<String, ContinuityError> {
    let mut f = BufReader::with_capacity(CHUNK, File::open(path).map_err(io("cannot read", path))?);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf).map_err(io("cannot read", path))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex(&hash.finalize()))
}

/// Decrypts `sealed` into `out` (a new file, synced, readable by its owner only).
pub fn decrypt_file(
    sealed: &Path,
    out: &Path,
    identities: &[Identity],
) -> Result<u64, ContinuityError> {
    let mut reader = decrypting(sealed, identities)?;
    let file = new_private_file(out)?;
    let mut w = BufWriter::with_capacity(CHUNK, file);
    let n = std::io::copy(&mut reader, &mut w).map_err(|e| {
        ContinuityError::Backup(format!(
            "{} cannot be decrypted to its end (damaged?): {e}",
            sealed.display()
        ))
    })?;
    let file = w
        .into_inner()
        .map_err(|e| ContinuityError::Io(format!("cannot write {}: {e}", out.display())))?;
    file.sync_all().map_err(io("cannot sync", out))?;
    Ok(n)
}

/// Decrypts a small sealed file into memory.
pub fn decrypt_to_vec(sealed: &Path, identities: &[Identity]) -> Result<Vec<u8>, ContinuityError> {
    let mut out = Vec::new();
    decrypting(sealed, identities)?
        .read_to_end(&mut out)
        .map_err(|e| {
            ContinuityError::Backup(format!("{} cannot be decrypted: {e}", sealed.display()))
        })?;
    Ok(out)
}

fn decrypting(sealed: &Path, identities: &[Identity]) -> Result<impl Read, ContinuityError> {
    let input = BufReader::with_capacity(
        CHUNK,
        File::open(sealed).map_err(io("cannot read", sealed))?,
    );
    let dec = age::Decryptor::new(input).map_err(|e| {
        ContinuityError::Backup(format!("{} is not an age file: {e}", sealed.display()))
    })?;
    dec.decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|_| {
            ContinuityError::Key(format!(
                "none of the given identities opens {}: it was encrypted for another key",
                sealed.display()
            ))
        })
}

/// Creates a new file only its owner can read.
pub fn new_private_file(path: &Path) -> Result<File, ContinuityError> {
    let mut o = File::options();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(io("cannot create", path))
}

/// Creates a directory only its owner can enter (and its parents).
pub fn private_dir(path: &Path) -> Result<(), ContinuityError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).map_err(io("cannot create the folder", path))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Encrypts `bytes` into `out` with a password (age's scrypt recipient), replacing an earlier
/// file only once the new one is complete and on disk.
pub fn seal_with_passphrase(
    bytes: &[u8],
    out: &Path,
    passphrase: &str,
) -> Result<(), ContinuityError> {
    if passphrase.chars().count() < 12 {
        return Err(ContinuityError::Key(
            "the downtime kit's password must have at least 12 characters".into(),
        ));
    }
    let tmp = out.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    let file = new_private_file(&tmp)?;
    let enc = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(
        passphrase.to_string(),
    ));
    let mut w = enc
        .wrap_output(BufWriter::new(file))
        .map_err(io("cannot write", &tmp))?;
    w.write_all(bytes).map_err(io("cannot write", &tmp))?;
    let mut inner = w.finish().map_err(io("cannot finish", &tmp))?;
    inner.flush().map_err(io("cannot write", &tmp))?;
    inner
        .into_inner()
        .map_err(|e| ContinuityError::Io(format!("cannot write {}: {e}", tmp.display())))?
        .sync_all()
        .map_err(io("cannot sync", &tmp))?;
    std::fs::rename(&tmp, out).map_err(io("cannot complete", out))
}

/// Opens a file sealed with a password.
pub fn open_with_passphrase(sealed: &Path, passphrase: &str) -> Result<Vec<u8>, ContinuityError> {
    let input = BufReader::new(File::open(sealed).map_err(io("cannot read", sealed))?);
    let dec = age::Decryptor::new(input).map_err(|e| {
        ContinuityError::Backup(format!("{} is not an age file: {e}", sealed.display()))
    })?;
    let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_string()));
    let mut r = dec
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .map_err(|_| {
            ContinuityError::Key(format!("the password does not open {}", sealed.display()))
        })?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).map_err(|e| {
        ContinuityError::Backup(format!("{} cannot be decrypted: {e}", sealed.display()))
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_encrypted_for_a_recipient_opens_with_its_identity_only() {
        let dir = tempfile::tempdir().unwrap();
        let (id_text, public) = new_pair();
        std::fs::write(dir.path().join("id"), &id_text).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"crisisplan: bel 112".repeat(100_000)).unwrap();
        let sealed = dir.path().join("plain.age");
        let s = encrypt_file(&plain, &sealed, &recipients(&public).unwrap()).unwrap();
        assert_eq!(s.plain_bytes, 1_900_000);
        assert_eq!(s.sha256, file_sha256(&sealed).unwrap());
        let on_disk = std::fs::read(&sealed).unwrap();
        assert!(!on_disk.windows(9).any(|w| w == b"crisisplan"[..9].as_ref()));
        let ids = identities(&dir.path().join("id")).unwrap();
        let back = dir.path().join("back");
        decrypt_file(&sealed, &back, &ids).unwrap();
        assert_eq!(
            std::fs::read(&back).unwrap(),
            std::fs::read(&plain).unwrap()
        );
        let (other, _) = new_pair();
        std::fs::write(dir.path().join("other"), other).unwrap();
        let wrong = identities(&dir.path().join("other")).unwrap();
        let err = decrypt_to_vec(&sealed, &wrong).unwrap_err();
        assert!(err.to_string().contains("another key"), "{err}");
        assert!(recipients("").is_err());
        assert!(recipients("age1nietgoed").is_err());
    }
}
