//! `kring kit`: write the downtime kit of every location now (the server also does this on
//! kit_schedule): per location the crisis plans, the next 24 hours of medication, the circle
//! and contacts of its clients, as HTML and PDF, locked with kit_passphrase.

use anyhow::Context;
use clap::Args;

use crate::config::Config;

#[derive(Args)]
pub struct KitArgs {}

pub async fn run(cfg: &Config, _args: KitArgs) -> anyhow::Result<()> {
    let settings = cfg.kit()?;
    let opened = crate::open::record(cfg).await?;
    let written = kring_server::kit::write_all(&opened.record, &settings, &cfg.high_risk()).await;
    opened.log.shut_down().await?;
    let written = written
        .map_err(anyhow::Error::msg)
        .context("the downtime kits were not written")?;
    if written.is_empty() {
        println!(
            "No location has clients staying there (an Encounter in progress): no kit written."
        );
    }
    for w in &written {
        println!(
            "Location {}: {} clients → {} and {}",
            w.location,
            w.clients,
            w.html.display(),
            w.pdf.display()
        );
    }
    println!("Open a kit with its password: age -d noodmap-….html.age > noodmap.html");
    Ok(())
}
