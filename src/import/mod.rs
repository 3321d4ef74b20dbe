//! Importing PostgreSQL tables into validated collections, declared in `imports/<name>.json`:
//! rows read in key order (keyset pagination), converted by declared or schema-chosen
//! conversions, child tables embedded, validated offline, inserted unordered, with a watermark
//! in the metadata database (resume without duplicates), a rejects file and a verification.
//!
//! file ─► spec::imports ─► model ─► catalog (live PostgreSQL: columns, conversions) ─► plan
//! plan ─► reader ─► document (pure) ─► run (insert, rejects, state) ─► events ─► render
//!                                  └─► dry_run / verify

pub mod catalog;
pub mod convert;
pub mod document;
pub mod dry_run;
pub mod model;
pub mod pg;
pub mod reader;
pub mod rejects;
pub mod run;
pub mod schema_path;
pub mod state;
pub mod verify;
