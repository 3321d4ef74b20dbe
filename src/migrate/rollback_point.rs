//! Rollback points: before a step rewrites or drops data, the namespace it touches is backed
//! up with the backup engine (mongodump's directory format, with a manifest and checksums);
//! rolling back restores exactly that namespace in place of the collection (restored beside
//! it and swapped in, so a failed restore leaves the collection as it was).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bson::oid::ObjectId;
use mongodb::Client;

use super::changelog::RollbackPoint;
use crate::backup::dump::{BackupOptions, Output, backup};
use crate::backup::events as backup_events;
use crate::backup::nsmatch::NsRules;
use crate::backup::restore::{RestoreOptions, Source, restore};

/// Backs `db.coll` up into a new directory under `root` (never reusing one: an interrupted
/// attempt leaves a directory without a manifest, which nothing mistakes for a backup).
pub async fn take(
    client: &Client,
    root: &Path,
    migration: &str,
    step: u32,
    db: &str,
    coll: &str,
) -> Result<RollbackPoint> {
    let dir: PathBuf =
        root.join(migration)
            .join(format!("step-{}-{}", step + 1, ObjectId::new().to_hex()));
    let opts = BackupOptions {
        output: Output::Directory(dir.clone()),
        gzip: false,
        gzip_level: 0,
        databases: vec![db.to_string()],
        collections: vec![coll.to_string()],
        rules: NsRules::default(),
        query: None,
        jobs: 1,
        oplog: false,
        users_and_roles: false,
        sync: true,
        encrypt: Default::default(),
        split: Default::default(),
    };
    let summary = backup(client, &opts, &backup_events::ignore())
        .await
        .with_context(|| {
            format!(
                "taking the rollback point of {db}.{coll} in {}",
                dir.display()
            )
        })?;
    let ns = format!("{db}.{coll}");
    let documents = summary
        .manifest
        .namespaces
        .iter()
        .find(|n| n.namespace == ns)
        .map(|n| n.documents)
        .unwrap_or(0);
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    Ok(RollbackPoint::Backup {
        dir: dir.display().to_string(),
        namespace: ns,
        documents,
    })
}

/// Restores a backed-up namespace in place of the live collection.
pub async fn restore_backup(client: &Client, dir: &str, namespace: &str) -> Result<u64> {
    let path = PathBuf::from(dir);
    if !path.is_dir() {
        bail!(
            "the rollback point {dir} of {namespace} is gone (rollback points live on the machine that ran migrate up, under --rollback-dir)"
        );
    }
    let opts = RestoreOptions {
        source: Source::Directory(path),
        rules: NsRules::new(&[namespace.to_string()], &[], &[], &[])?,
        drop: true,
        dry_run: false,
        stop_on_error: true,
        resume: false,
        force: false,
        mode: Default::default(),
        jobs: 1,
        workers: 4,
        oplog_replay: false,
        users_and_roles: false,
        oplog_limit: None,
        identities: Default::default(),
    };
    let report = restore(client, &opts, &backup_events::ignore())
        .await
        .with_context(|| format!("restoring {namespace} from the rollback point {dir}"))?;
    let Some(ns) = report.namespaces.iter().find(|n| n.target == namespace) else {
        bail!("the rollback point {dir} holds no {namespace}");
    };
    if !report.ok() {
        bail!("restoring {namespace} from {dir}: {}", ns.status);
    }
    Ok(ns.inserted)
}
