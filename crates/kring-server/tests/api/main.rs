//! The FHIR API, tested through the real router against both storage backends.
//!
//! Every test runs twice — on a fresh SQLite file and on a fresh PostgreSQL schema — through
//! [`both_backends!`]. Folders mirror the API: `crud`, `search`, `bundles`, `robustness` …

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
mod robustness;
mod search;
mod sharing;
mod signin;
mod work;
