//! Configuration: built-in defaults, then a TOML file (`--config`), then `KRING_*` environment
//! variables, then command-line flags — each later source overriding the earlier.
//!
//! | setting          | flag          | environment              | default                 |
//! |------------------|---------------|--------------------------|-------------------------|
//! | `addr`           | `--addr`      | `KRING_ADDR`             | `127.0.0.1:8080`        |
//! | `database`       | `--database`  | `KRING_DATABASE`         | `sqlite:kring.db`       |
//! | `access_log`     | `--access-log`| `KRING_ACCESS_LOG`       | next to the database    |
//! | `audit_key`      |               | `KRING_AUDIT_KEY`        | `<access_log>.key`      |
//! | `audit_witness`  |               | `KRING_AUDIT_WITNESS`    | none                    |
//! | `audit_syslog`   |               | `KRING_AUDIT_SYSLOG`     | none                    |
//! | `audit_retention_years` |        | `KRING_AUDIT_RETENTION_YEARS` | 20                 |
//! | `oversight_review` |             | `KRING_OVERSIGHT_REVIEW` | `<access_log>-review.db` |
//! | `oversight_hour` |               | `KRING_OVERSIGHT_HOUR`   | 2 (nightly run, Dutch time) |
//! | `base_url`       |               | `KRING_BASE_URL`         | from the `Host` header  |
//! | `passkey_origin` |               | `KRING_PASSKEY_ORIGIN`   | origin of `base_url`, else `http://localhost:<port>` |
//! | `max_body_bytes` |               | `KRING_MAX_BODY_BYTES`   | 8388608 (8 MiB)         |
//! | `max_json_depth` |               | `KRING_MAX_JSON_DEPTH`   | 64                      |
//! | `log`            |               | `KRING_LOG`              | `info`                  |
//! | `high_risk_medication` |         | `KRING_HIGH_RISK_MEDICATION` | the built-in list (insulin, anticoagulants, opioids, antiepileptics …) |
//! | `backup_dir`     |               | `KRING_BACKUP_DIR`       | none (no backups)       |
//! | `backup_recipient` |             | `KRING_BACKUP_RECIPIENT` | none (required with `backup_dir`) |
//! | `backup_identity` |              | `KRING_BACKUP_IDENTITY`  | none (drills need it)   |
//! | `backup_keep`    |               | `KRING_BACKUP_KEEP`      | 14                      |
//! | `backup_schedule` |              | `KRING_BACKUP_SCHEDULE`  | `daily 01:30`           |
//! | `drill_schedule` |               | `KRING_DRILL_SCHEDULE`   | `weekly sun 04:00`      |
//! | `drill_database` |               | `KRING_DRILL_DATABASE`   | the configured PostgreSQL server |
//! | `kit_dir`        |               | `KRING_KIT_DIR`          | none (no downtime kits) |
//! | `kit_passphrase` |               | `KRING_KIT_PASSPHRASE`   | none (a password for every location without its own) |
//! | `kit_passwords`  |               | `KRING_KIT_PASSWORDS`    | none (a file: `location-id password` per line) |
//! | `kit_schedule`   |               | `KRING_KIT_SCHEDULE`     | `every 1h`              |

use std::path::PathBuf;

use clap::Args;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Flags every subcommand takes.
#[derive(Args, Debug, Default)]
pub struct GlobalArgs {
    /// Address to listen on, HOST:PORT.  [env: KRING_ADDR] [default: 127.0.0.1:8080]
    #[arg(long, global = true)]
    pub addr: Option<String>,
    /// The database: sqlite:PATH (embedded) or postgres://USER@HOST/DB.  [env: KRING_DATABASE] [default: sqlite:kring.db]
    #[arg(long, global = true)]
    pub database: Option<String>,
    /// The access log: its own SQLite file, append-only, hashed into a signed Merkle tree.  [env: KRING_ACCESS_LOG] [default: beside the SQLite database, or ./kring-access-log.db]
    #[arg(long, global = true)]
    pub access_log: Option<PathBuf>,
    /// A TOML file with any of the settings above (and base_url, max_body_bytes, max_json_depth, log).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Every setting, after all sources are merged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub addr: String,
    pub database: String,
    /// Whether the database was named (flag, `KRING_DATABASE` or the file) rather than left
    /// at its default: the demo then loads into it instead of a file in its --data folder.
    #[serde(skip)]
    pub database_given: bool,
    pub access_log: Option<PathBuf>,
    /// The Ed25519 key that signs the log's checkpoints; generated at install, kept outside
    /// the database (put it on another volume in production).
    pub audit_key: Option<PathBuf>,
    /// Where checkpoints are published: a file path (another disk or mount) or an http:// URL.
    pub audit_witness: Option<String>,
    /// A syslog collector that receives every entry: udp://HOST:PORT or tcp://HOST:PORT.
    pub audit_syslog: Option<String>,
    /// The Unix socket of the access log service (`kring log-serve`). When set, this process
    /// writes to and reads from the log through it instead of opening the log file itself:
    /// how several servers in front of one database keep one log.
    pub audit_service: Option<PathBuf>,
    /// The user id the access log service must run as (default: this process's own user).
    pub audit_service_uid: Option<u32>,
    /// Entries older than this lose their content (their hashes stay, so the tree verifies).
    pub audit_retention_years: u32,
    /// The privacy officer's review store (oversight runs, cases, decisions, warnings).
    pub oversight_review: Option<PathBuf>,
    /// The hour (Dutch time, 0–23) of the nightly oversight run over the live log.
    pub oversight_hour: u32,
    pub base_url: Option<String>,
    /// Where passkeys work: the origin people's browsers use (`https://kring.regio.nl`).
    pub passkey_origin: Option<String>,
    pub max_body_bytes: usize,
    pub max_json_depth: usize,
    pub log: String,
    /// The medication that needs a double check before a dose counts as given: names (any
    /// part of the medication's text, any case) and ATC prefixes (`atc:B01A`), separated by
    /// commas. Unset: Kring's built-in list (`kring_record::medication::HighRisk::default`).
    pub high_risk_medication: Option<String>,
    /// Where backups and drill reports are kept (`kring backup`, `kring drill`, and the
    /// server's own schedule). Put it on another disk or machine.
    pub backup_dir: Option<PathBuf>,
    /// The age public keys (`age1…`, comma-separated) backups are encrypted to.
    pub backup_recipient: Option<String>,
    /// A file with the age identity (`AGE-SECRET-KEY-1…`) that opens the backups: restores
    /// and drills need it; keep it off the machine that is backed up where you can.
    pub backup_identity: Option<PathBuf>,
    /// How many complete backups are kept.
    pub backup_keep: usize,
    /// When the server backs up by itself: `daily 01:30`, `weekly sun 04:00`, `every 6h`, `off`.
    pub backup_schedule: String,
    /// When the server runs a restore drill by itself (same forms).
    pub drill_schedule: String,
    /// For a PostgreSQL installation: the server where drills make their scratch database
    /// (any database URL there, for a user that may create databases).
    pub drill_database: Option<String>,
    /// Where the downtime kits go: one folder per location (a share on, or synced to, each
    /// location's own computer).
    pub kit_dir: Option<PathBuf>,
    /// The password the locations' staff open their downtime kit with (12 characters or more).
    pub kit_passphrase: Option<String>,
    /// A file with a password per location: one line `location-id password` each.
    pub kit_passwords: Option<PathBuf>,
    /// When the server writes the downtime kits (same forms as backup_schedule).
    pub kit_schedule: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:8080".into(),
            database: "sqlite:kring.db".into(),
            database_given: false,
            access_log: None,
            audit_key: None,
            audit_witness: None,
            audit_syslog: None,
            audit_service: None,
            audit_service_uid: None,
            audit_retention_years: 20,
            oversight_review: None,
            oversight_hour: 2,
            base_url: None,
            passkey_origin: None,
            max_body_bytes: 8 * 1024 * 1024,
            max_json_depth: 64,
            log: "info".into(),
            high_risk_medication: None,
            backup_dir: None,
            backup_recipient: None,
            backup_identity: None,
            backup_keep: 14,
            backup_schedule: "daily 01:30".into(),
            drill_schedule: "weekly sun 04:00".into(),
            drill_database: None,
            kit_dir: None,
            kit_passphrase: None,
            kit_passwords: None,
            kit_schedule: "every 1h".into(),
        }
    }
}

#[derive(Serialize)]
struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_log: Option<PathBuf>,
}

impl Config {
    pub fn load(args: &GlobalArgs) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = &args.config {
            if !file.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "the configuration file {} does not exist",
                    file.display()
                ))));
            }
            fig = fig.merge(Toml::file(file));
        }
        fig = fig
            .merge(Env::prefixed("KRING_"))
            .merge(Serialized::defaults(Overrides {
                addr: args.addr.clone(),
                database: args.database.clone(),
                access_log: args.access_log.clone(),
            }));
        let mut cfg: Config = fig.extract().map_err(Box::new)?;
        cfg.database_given = args.database.is_some()
            || std::env::var_os("KRING_DATABASE").is_some()
            || args.config.as_ref().is_some_and(|file| {
                Figment::from(Toml::file(file))
                    .find_value("database")
                    .is_ok()
            });
        Ok(cfg)
    }

    /// The high-risk medication list in force.
    pub fn high_risk(&self) -> kring_record::medication::HighRisk {
        match &self.high_risk_medication {
            Some(list) => kring_record::medication::HighRisk::from_list(
                &list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
            None => kring_record::medication::HighRisk::default(),
        }
    }

    /// The backup folder, or a sentence saying how to set one.
    pub fn backup_dir(&self) -> anyhow::Result<PathBuf> {
        self.backup_dir.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "no backup folder: set backup_dir in the configuration file or KRING_BACKUP_DIR"
            )
        })
    }

    /// The backup recipients.
    pub fn backup_recipients(&self) -> anyhow::Result<Vec<kring_continuity::crypt::Recipient>> {
        Ok(kring_continuity::crypt::recipients(
            self.backup_recipient.as_deref().unwrap_or(""),
        )?)
    }

    /// The identities that open backups.
    pub fn backup_identities(&self) -> anyhow::Result<Vec<kring_continuity::crypt::Identity>> {
        let path = self.backup_identity.as_ref().ok_or_else(|| {
            anyhow::anyhow!("no backup identity: set backup_identity (or KRING_BACKUP_IDENTITY) to the file made by `kring backup --new-key`")
        })?;
        Ok(kring_continuity::crypt::identities(path)?)
    }

    /// The downtime kits' settings, or a sentence saying what is missing.
    pub fn kit(&self) -> anyhow::Result<kring_server::kit::KitSettings> {
        let dir = self.kit_dir.clone().ok_or_else(|| {
            anyhow::anyhow!("no downtime-kit folder: set kit_dir (or KRING_KIT_DIR)")
        })?;
        let per_location = match &self.kit_passwords {
            Some(file) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    anyhow::anyhow!("cannot read kit_passwords {}: {e}", file.display())
                })?;
                kring_server::kit::KitSettings::read_passwords(&text).map_err(anyhow::Error::msg)?
            }
            None => Default::default(),
        };
        anyhow::ensure!(
            self.kit_passphrase.is_some() || !per_location.is_empty(),
            "kit_dir is set, so the kits need kit_passphrase (or KRING_KIT_PASSPHRASE) or kit_passwords, the passwords the locations open them with"
        );
        Ok(kring_server::kit::KitSettings {
            dir,
            passphrase: self.kit_passphrase.clone(),
            per_location,
        })
    }

    /// A schedule setting, or a sentence saying what is wrong with it.
    pub fn schedule(&self, which: &str) -> anyhow::Result<kring_continuity::schedule::Schedule> {
        let text = match which {
            "backup" => &self.backup_schedule,
            "kit" => &self.kit_schedule,
            _ => &self.drill_schedule,
        };
        text.parse()
            .map_err(|e: String| anyhow::anyhow!("{which}_schedule: {e}"))
    }

    /// Where passkeys work: `passkey_origin`, else the origin of `base_url`, else
    /// `http://localhost:<port>` for the port Kring listens on (browsers offer passkeys on
    /// https and on localhost, never on a bare IP address).
    pub fn passkey_origin(&self, port: u16) -> String {
        if let Some(o) = &self.passkey_origin {
            return o.trim_end_matches('/').to_string();
        }
        if let Some(base) = &self.base_url {
            if let Some((scheme, rest)) = base.split_once("://") {
                let host = rest.split('/').next().unwrap_or(rest);
                return format!("{scheme}://{host}");
            }
        }
        format!("http://localhost:{port}")
    }

    /// Where the access log goes: the configured file, or beside the SQLite database.
    pub fn access_log_path(&self) -> PathBuf {
        if let Some(p) = &self.access_log {
            return p.clone();
        }
        match self.database.strip_prefix("sqlite:") {
            Some(path) => {
                let path = path.trim_start_matches("//");
                let p = PathBuf::from(path.split('?').next().unwrap_or(path));
                p.with_file_name(format!(
                    "{}-access-log.db",
                    p.file_stem().and_then(|s| s.to_str()).unwrap_or("kring")
                ))
            }
            None => PathBuf::from("kring-access-log.db"),
        }
    }

    /// Where the review store goes: the configured file, or beside the access log.
    pub fn review_path(&self) -> PathBuf {
        if let Some(p) = &self.oversight_review {
            return p.clone();
        }
        let log = self.access_log_path();
        log.with_file_name(format!(
            "{}-review.db",
            log.file_stem().and_then(|s| s.to_str()).unwrap_or("kring")
        ))
    }

    /// The access log's settings.
    pub fn log_config(&self) -> kring_audit::LogConfig {
        let mut c = kring_audit::LogConfig::at(&self.access_log_path());
        if let Some(k) = &self.audit_key {
            c.key_path = k.clone();
        }
        c.witness = kring_audit::Witness::parse(self.audit_witness.as_deref().unwrap_or(""));
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kring.toml");
        std::fs::write(&file, "addr = \"0.0.0.0:9000\"\nmax_json_depth = 32\n").unwrap();
        let args = GlobalArgs {
            config: Some(file),
            database: Some("sqlite:/tmp/x.db".into()),
            ..Default::default()
        };
        let c = Config::load(&args).unwrap();
        assert_eq!(c.addr, "0.0.0.0:9000");
        assert_eq!(c.max_json_depth, 32);
        assert_eq!(c.database, "sqlite:/tmp/x.db");
        assert_eq!(c.access_log_path(), PathBuf::from("/tmp/x-access-log.db"));
        assert_eq!(
            c.log_config().key_path,
            PathBuf::from("/tmp/x-access-log.key")
        );
    }

    #[test]
    fn passkeys_work_at_the_configured_origin_or_the_public_address() {
        let mut c = Config::default();
        assert_eq!(c.passkey_origin(8080), "http://localhost:8080");
        c.base_url = Some("https://kring.regio.nl/fhir".into());
        assert_eq!(c.passkey_origin(8080), "https://kring.regio.nl");
        c.passkey_origin = Some("https://inloggen.kring.nl/".into());
        assert_eq!(c.passkey_origin(8080), "https://inloggen.kring.nl");
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let args = GlobalArgs {
            config: Some("/nonexistent/kring.toml".into()),
            ..Default::default()
        };
        assert!(Config::load(&args).is_err());
    }
}
