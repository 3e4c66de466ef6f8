//! The FHIR API, tested through the real router against every storage backend.
//!
//! Every test runs three times — on a fresh SQLite file, a fresh PostgreSQL schema and a fresh
//! schema on a Citus cluster (`scripts/citus.sh`) — through [`every_backend!`]. Folders mirror the API: `crud`, `search`, `bundles`, `robustness` …

mod harness;

mod access;
mod audit;
mod breach;
mod bundles;
mod conformance;
mod continuity;
mod crud;
mod outage;
mod pages;
mod partners;
mod passkeys;
mod pending;
mod portal;
mod rebalance;
mod robustness;
mod search;
mod sharing;
mod signin;
mod work;
