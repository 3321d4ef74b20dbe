//! Backups in mongodump's formats (a directory of `<db>/<coll>.bson` + `.metadata.json`, or
//! one archive stream), optionally gzip-compressed, plus a manifest that mongoctl writes last
//! so that an interrupted backup is recognisable; optionally encrypted per file with age
//! (`crypto`). `dump` reads a cluster into a backup,
//! `restore` writes one back, `manifest` verifies one offline.

pub mod archive;
pub mod bsonio;
pub mod bulk;
pub mod checksum;
pub mod crypto;
pub mod direct;
pub mod drill;
pub mod dump;
pub mod events;
pub mod filename;
pub mod format;
pub mod gz;
pub mod manifest;
pub mod nsmatch;
mod parallel;
pub mod pitr;
pub mod preflight;
pub mod restore;
pub mod retention;
pub mod retention_policy;
pub mod staging;

/// `db.collection`
pub fn ns(db: &str, coll: &str) -> String {
    format!("{db}.{coll}")
}

/// Databases a backup never includes unless asked for by name.
pub const SYSTEM_DATABASES: &[&str] = &["admin", "local", "config"];
