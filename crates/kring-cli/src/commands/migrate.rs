//! `kring migrate`: bring the schema up to date and say so.

use crate::config::Config;

pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    crate::open::database(&cfg.database).await?;
    println!("The database schema is up to date.");
    Ok(())
}
