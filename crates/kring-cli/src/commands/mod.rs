//! One module per subcommand.

pub mod audit;
pub mod backup;
pub mod bench;
mod bench_log;
mod bench_oversight;
mod bench_pages;
pub mod client;
pub mod demo;
mod demo_activity;
pub mod drill;
pub mod export;
pub mod import;
pub mod kit;
pub mod log_serve;
pub mod migrate;
pub mod restore;
pub mod serve;
pub mod watch;
mod watch_live;
