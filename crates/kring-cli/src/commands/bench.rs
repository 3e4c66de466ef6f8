//! `kring bench`: throughput and latency on generated data. See BENCHMARKS.md.

use clap::Args;

use crate::config::Config;

#[derive(Args)]
pub struct BenchArgs {
    /// How many resources to generate for the search benchmark.
    #[arg(long, default_value_t = 100_000)]
    pub resources: usize,
}

pub async fn run(_cfg: &Config, _args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("the benchmark suite is not built yet")
}
