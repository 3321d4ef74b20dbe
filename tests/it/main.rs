//! Integration tests: the real binary against real mongod processes (one per test).

#[path = "../common/mod.rs"]
mod common;
mod pg_support;
mod support;

mod access;
mod alerts;
mod apply;
mod backup;
mod backup_crypto;
mod backup_faults;
mod broken;
mod chat_platform;
mod cli;
mod common_indexes;
mod completions;
mod contract;
mod drift;
mod drill;
mod examples;
mod fleet_reads;
mod init;
mod interop;
mod isolation;
mod migrate;
mod nilecare;
mod owned_seeds;
mod pg_import;
mod pitr;
mod query_contracts;
mod quotas;
mod relocate;
mod report;
mod restore_checks;
mod restore_modes;
mod retention;
mod sandbox;
mod sharding;
mod split;
mod stats;
mod tenancy;
mod validator;
mod validator_impact;
mod verify;
mod views;
