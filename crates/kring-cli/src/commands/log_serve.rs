//! `kring log-serve`: hold the access log for several `kring serve` processes in front of one
//! database — one writer, one tree, one signing key — on a Unix socket they write to
//! (`audit_service`). See docs/access-log.md, "One log for several servers".

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;

#[derive(clap::Args)]
#[command(after_help = "\
Example, two servers in front of one PostgreSQL database with one log:
  kring --access-log /srv/kring/log.db log-serve --socket /run/kring/log.sock
  KRING_AUDIT_SERVICE=/run/kring/log.sock kring --database postgres://… --addr 127.0.0.1:8081 serve
  KRING_AUDIT_SERVICE=/run/kring/log.sock kring --database postgres://… --addr 127.0.0.1:8082 serve

Only processes of this user (and of --allow-uid users) may connect; the servers in turn talk
only to a service running as the user they expect (audit_service_uid).")]
pub struct LogServeArgs {
    /// The Unix socket to listen on [default: audit_service from the configuration]. Put it in
    /// a folder only the servers' user can enter.
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Also take entries from processes of this user id (besides this process's own); repeat
    /// for more.
    #[arg(long = "allow-uid", value_name = "UID")]
    pub allow_uid: Vec<u32>,
}

pub async fn run(cfg: &Config, args: LogServeArgs) -> anyhow::Result<()> {
    let socket = args.socket.or_else(|| cfg.audit_service.clone()).context(
        "kring log-serve needs a socket to listen on: --socket PATH (or audit_service in the configuration)",
    )?;
    let log = Arc::new(
        kring_audit::MerkleLog::open(cfg.log_config())
            .await
            .context("cannot open the access log")?,
    );
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    if socket.exists() {
        // Left behind by a service that was killed, or another service still running.
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            anyhow::bail!(
                "another process already serves at {}; stop it first",
                socket.display()
            );
        }
        std::fs::remove_file(&socket)
            .with_context(|| format!("cannot remove the old socket {}", socket.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))?;
    }
    let mut peers = vec![crate::open::own_uid()?];
    peers.extend(args.allow_uid);
    super::serve::log_duties(cfg, &log)?;
    println!(
        "The access log {} is served at {} to processes of user(s) {}. Press Ctrl-C to stop.",
        cfg.access_log_path().display(),
        socket.display(),
        peers
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let served = kring_audit::service::serve(
        log.clone(),
        listener,
        kring_audit::service::Peers(peers),
        kring_server::shutdown_signal(),
    )
    .await
    .context("the access log service stopped with an error");
    let _ = std::fs::remove_file(&socket);
    log.shut_down()
        .await
        .context("the access log could not sign its last checkpoint")?;
    served
}
