//! mongoctl: declarative MongoDB administration.
//!
//! spec files ──► model ◄── live cluster
//!                  │
//!                diff (pure) ──► Plan ──► apply ──► render

pub mod alerts;
pub mod apply;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod conformance;
pub mod context;
pub mod contract_impact;
pub mod diff;
pub mod error;
pub mod exit;
pub mod export;
pub mod flags;
pub mod health;
pub mod hints;
pub mod history;
pub mod import;
pub mod infer;
pub mod inventory;
pub mod jsonpath;
pub mod jsonschema;
pub mod lease;
pub mod live;
pub mod migrate;
pub mod model;
pub mod mongod;
pub mod percent;
pub mod plan;
pub mod private;
pub mod query_contract;
pub mod redact;
pub mod relocate;
pub mod render;
pub mod report;
pub mod sandbox;
pub mod secrets;
pub mod sharding;
pub mod spec;
pub mod stats;
pub mod tenancy;
pub mod validator_gate;
pub mod validator_impact;
