//! Writing a backup back into a cluster. Before the first write, every file is checked
//! (`preflight`: paths, unlisted files, checksums, whole valid BSON, metadata shape) and the
//! server is asked to accept every collection's options, validator and indexes on a
//! temporary collection (`staging`). Then each collection is recreated with its options and
//! validator, its documents are inserted by parallel workers in unordered batches (raw BSON,
//! never decoded), its indexes are built as soon as its data is in, and its count is checked
//! afterwards. With `--drop` the data goes into the temporary collection, which replaces the
//! target (`renameCollection`, `dropTarget`) only once every collection is complete: a
//! failure leaves the old data as it was. Duplicate keys are counted and reported, or stop the
//! restore with `stop_on_error`. `--mode upsert|merge` lays the backup over live data
//! instead (`overlay`). A mongodump backup is recognised as such (`source`); system
//! collections are sorted out as mongorestore sorts them (`system`). An encrypted backup is
//! decrypted by the readers themselves (`crypto::decoded`), with `RestoreOptions::identities`
//! checked against every encrypted file's header before the first write.

mod archive;
mod directory;
mod insert;
mod journal;
mod metadata;
mod oplog;
mod overlay;
mod source;
mod stage;
mod system;
mod users_roles;

pub use metadata::backup_metadata;
pub use overlay::WriteMode;
pub use source::BackupInfo;
pub use system::Skipped;

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bson::{Document, Timestamp, doc};
use mongodb::Client;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use crate::backup::bsonio::DocBatch;
use crate::backup::crypto::{Identities, decoded, open_decoded};
use crate::backup::events::{Event, Observer, Phase};
use crate::backup::format::CollectionMeta;
use crate::backup::nsmatch::{NsRules, split};
use crate::backup::preflight;

use archive::restore_archive;
use directory::{Scanned, metadata_origin, read_file_batches, scan_directory};
use insert::{Ctl, restore_collection, restore_view};
use journal::{Journal, backup_id};
use oplog::replay_oplog;
use stage::{stage, swap_in_staged};
use users_roles::{
    Authz, EVERY_DATABASE, read_authz_file, read_authz_files, restore_full_dump_authz,
    restore_users_and_roles,
};

const BATCH_DOCS: usize = 1000;
const BATCH_BYTES: usize = 2 << 20;

pub enum Source {
    Directory(PathBuf),
    Archive(PathBuf),
    Stdin,
}

pub struct RestoreOptions {
    pub source: Source,
    pub rules: NsRules,
    pub drop: bool,
    pub dry_run: bool,
    pub stop_on_error: bool,
    /// Continue an interrupted restore of the same backup from its recorded progress.
    pub resume: bool,
    /// Restore an interrupted mongoctl backup (no manifest, its in-progress marker present).
    pub force: bool,
    /// Insert only, or lay the backup over live data by `_id`.
    pub mode: WriteMode,
    /// Collections restored at the same time (directory backups).
    pub jobs: usize,
    /// Insert batches in flight per collection.
    pub workers: usize,
    pub oplog_replay: bool,
    /// Restore the users and roles saved by `backup --users-and-roles` (renamed with the
    /// databases).
    pub users_and_roles: bool,
    /// Replay oplog entries strictly before this timestamp.
    pub oplog_limit: Option<Timestamp>,
    /// Secret keys for an encrypted backup (`--identity`): every encrypted file is checked
    /// to open with one of them before the first write.
    pub identities: Identities,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct NsReport {
    pub source: String,
    pub target: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Documents the backup holds for this namespace (from the manifest, or counted).
    pub expected: Option<u64>,
    pub inserted: u64,
    /// Live documents replaced by the backup's (`--mode upsert`).
    pub replaced: u64,
    /// Live documents the backup's fields were merged into (`--mode merge`).
    pub merged: u64,
    /// Live documents that already held what the backup holds (upsert, merge).
    pub unchanged: u64,
    pub duplicates: u64,
    /// Documents skipped because an earlier, interrupted run restored them (`--resume`).
    pub resumed: u64,
    pub errors: u64,
    pub indexes: usize,
    pub status: String,
    /// With `--drop`: whether the restored copy replaced the target (`false`: the target is
    /// as it was before the restore).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swapped_in: Option<bool>,
    /// How this namespace was treated differently (a system collection kept by `--drop`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The temporary collection the data was restored into (`--drop`), until it is swapped.
    #[serde(skip)]
    stage: Option<String>,
}

#[derive(Debug, Serialize, Default)]
pub struct RestoreReport {
    pub dry_run: bool,
    pub mode: WriteMode,
    /// Who made the backup and whether it carried checksums.
    pub backup: BackupInfo,
    pub namespaces: Vec<NsReport>,
    /// Namespaces of the backup not restored as collections, and why.
    pub skipped: Vec<Skipped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oplog_applied: Option<u64>,
    /// `[seconds, increment]` of the first captured oplog entry that `--oplog-limit` kept
    /// out. The data files may already hold writes from after it: a collection read after
    /// the limit is not restored to that point exactly (mongorestore's `--oplogLimit` alike).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oplog_stopped_before: Option<[u32; 2]>,
    /// (users, roles) restored
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_and_roles: Option<(u64, u64)>,
    pub elapsed_secs: f64,
}

impl RestoreReport {
    /// Adds merged (users, roles) to the counts (saved per database and a full dump's).
    fn add_users_and_roles(&mut self, (users, roles): (u64, u64)) {
        let (u, r) = self.users_and_roles.unwrap_or_default();
        self.users_and_roles = Some((u + users, r + roles));
    }

    pub fn ok(&self) -> bool {
        self.namespaces
            .iter()
            .all(|n| n.status == "ok" || n.status == "dry run")
    }
}

/// A batch of documents for one namespace, or the reason its data is unusable.
type Batch = Result<DocBatch, String>;

/// One collection or view of the backup.
struct Unit {
    source: String,
    target: String,
    meta: CollectionMeta,
    expected: Option<u64>,
    data: Option<PathBuf>,
    /// Where the metadata comes from, for errors: the metadata file, or the archive.
    origin: String,
    /// `--drop`: the temporary collection the data goes into (swapped in at the end).
    stage: Option<String>,
    /// `--drop` of a collection that cannot be swapped in: dropped just before its data.
    drop_first: bool,
    /// For the report: how the namespace was treated differently.
    note: Option<String>,
}

impl Unit {
    /// The namespace the data is written into.
    fn written(&self) -> &str {
        self.stage.as_deref().unwrap_or(&self.target)
    }
}

/// Runs a restore, telling `observe` how it goes. Checksums are checked before the first write.
pub async fn restore(
    client: &Client,
    opts: &RestoreOptions,
    observe: &Observer,
) -> Result<RestoreReport> {
    let t0 = Instant::now();
    if opts.resume && opts.drop {
        bail!("--resume continues an interrupted restore; it cannot be combined with --drop");
    }
    if opts.drop && opts.mode != WriteMode::Insert {
        bail!(
            "--mode {}: lays the backup over the live data; --drop replaces the live data \
             with the backup's (every document inserted): use one or the other",
            serde_json::to_value(opts.mode)?
                .as_str()
                .unwrap_or_default()
        );
    }
    if opts.resume && matches!(opts.source, Source::Stdin) {
        bail!(
            "--resume needs a backup directory or archive file (standard input cannot be re-read)"
        );
    }
    let mut report = RestoreReport {
        dry_run: opts.dry_run,
        mode: opts.mode,
        ..Default::default()
    };
    match &opts.source {
        Source::Directory(dir) => {
            let source::Recognised { manifest, info } =
                source::recognise_directory(dir, opts.force)?;
            report.backup = info;
            observe(Event::Phase(Phase::Verifying));
            let ids = &opts.identities;
            preflight::check_directory(dir, manifest.as_ref(), ids)
                .context("the backup failed its checks; nothing was restored")?;
            let Scanned {
                mut units,
                oplog: oplog_file,
                skipped,
                full_dump_authz,
            } = scan_directory(dir, manifest.as_ref(), ids)?;
            report.skipped = skipped;
            let mut full_dump_authz_files = Vec::new();
            for (kind, path) in full_dump_authz {
                match system::full_dump_authz_refusal(&opts.rules, kind) {
                    Some(reason) => report.skipped.push(system::Skipped {
                        namespace: format!("admin.system.{kind}"),
                        reason,
                    }),
                    None => full_dump_authz_files.push((kind, path)),
                }
            }
            for u in units.iter_mut() {
                u.origin = metadata_origin(dir, manifest.as_ref(), &u.source);
            }
            select(&mut units, &opts.rules);
            let dbs = source_and_target_dbs(&units);
            if opts.dry_run {
                report.namespaces = units.iter().map(dry_report).collect();
                return Ok(report);
            }
            stage(client, &mut units, opts).await?;
            let ctl = Ctl {
                workers: opts.workers,
                stop_on_error: opts.stop_on_error,
                journal: Journal::new(client, backup_id(dir)),
                resume: opts.resume,
                mode: opts.mode,
            };
            let total = units.iter().filter_map(|u| u.expected).sum();
            observe(Event::Started {
                expected_docs: total,
            });
            let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
            let mut tasks = tokio::task::JoinSet::new();
            let mut views = Vec::new();
            for (i, u) in units.into_iter().enumerate() {
                if u.meta.is_view() {
                    views.push(u);
                    continue;
                }
                let sem = sem.clone();
                let client = client.clone();
                observe(Event::NamespaceStarted {
                    index: i,
                    namespace: &u.target,
                    expected_docs: u.expected.unwrap_or(0),
                });
                let observe = observe.clone();
                let ctl = ctl.clone();
                let ids = ids.clone();
                tasks.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    let (tx, rx) = mpsc::channel::<Batch>(2);
                    let reader = u
                        .data
                        .clone()
                        .map(|p| std::thread::spawn(move || read_file_batches(&p, &tx, &ids)));
                    if reader.is_none() {
                        drop(rx);
                        let (_tx, rx) = mpsc::channel::<Batch>(1);
                        return (
                            i,
                            restore_collection(&client, i, &u, rx, ctl, &observe).await,
                        );
                    }
                    let r = restore_collection(&client, i, &u, rx, ctl, &observe).await;
                    if let Some(h) = reader {
                        let _ = h.join();
                    }
                    (i, r)
                });
            }
            let mut done = Vec::new();
            while let Some(r) = tasks.join_next().await {
                done.push(r?);
            }
            observe(Event::Finished);
            done.sort_by_key(|(i, _)| *i);
            report.namespaces = done.into_iter().map(|(_, r)| r).collect();
            if opts.drop {
                observe(Event::Phase(Phase::SwappingIn));
            }
            swap_in_staged(client, &mut report, &ctl.journal).await;
            for v in views {
                report
                    .namespaces
                    .push(restore_view(client, &v, opts.drop).await);
            }
            if opts.users_and_roles && report.ok() {
                observe(Event::Phase(Phase::UsersAndRoles));
                let authz = read_authz_files(dir, &dbs, ids)?;
                report.users_and_roles =
                    Some(restore_users_and_roles(client, authz, &dbs, opts).await?);
            }
            if !full_dump_authz_files.is_empty() && report.ok() {
                observe(Event::Phase(Phase::UsersAndRoles));
                let mut authz = Authz::new();
                for (kind, path) in &full_dump_authz_files {
                    let key = (EVERY_DATABASE.to_string(), kind.to_string());
                    authz.insert(key, read_authz_file(path, ids)?);
                }
                let merged = restore_full_dump_authz(client, authz, opts.drop).await?;
                report.add_users_and_roles(merged);
            }
            if opts.oplog_replay && report.ok() {
                let Some(path) = oplog_file else {
                    bail!(
                        "--oplog-replay: the backup has no oplog.bson (make it with backup --oplog)"
                    );
                };
                let r = open_decoded(&path, ids, &path.display().to_string())?;
                observe(Event::Phase(Phase::ReplayingOplog));
                replay_oplog(client, r, opts, &mut report).await?;
            }
        }
        Source::Archive(p) => {
            let source::Recognised { manifest, info } = source::recognise_archive(p)?;
            report.backup = info;
            observe(Event::Phase(Phase::Verifying));
            preflight::check_archive_file(p, manifest.as_ref(), &opts.identities)
                .context("the backup failed its checks; nothing was restored")?;
            let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
            let input = decoded(f, &opts.identities, &p.display().to_string())?;
            restore_archive(client, input, opts, observe, &mut report).await?;
        }
        Source::Stdin => {
            report.backup = source::stdin_info();
            // An encrypted stream is authenticated chunk by chunk as it is read: a damaged
            // chunk fails the namespaces still open, after earlier batches were written.
            let stdin = decoded(std::io::stdin(), &opts.identities, "standard input")?;
            restore_archive(client, stdin, opts, observe, &mut report).await?;
        }
    }
    report.elapsed_secs = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Applies a stream of oplog entries (BSON, oldest first) as `--oplog-replay` applies the
/// backup's own: for `restore --to-time`'s slices. Sets `report.oplog_applied`.
pub async fn replay_oplog_entries<R: std::io::Read>(
    client: &Client,
    r: R,
    opts: &RestoreOptions,
    report: &mut RestoreReport,
) -> Result<()> {
    replay_oplog(client, r, opts, report).await
}

/// (source, target) database pairs of the selected units.
fn source_and_target_dbs(units: &[Unit]) -> Vec<(String, String)> {
    let mut dbs: Vec<(String, String)> = units
        .iter()
        .map(|u| {
            (
                split(&u.source).0.to_string(),
                split(&u.target).0.to_string(),
            )
        })
        .collect();
    dbs.sort();
    dbs.dedup();
    dbs
}

fn select(units: &mut Vec<Unit>, rules: &NsRules) {
    units.retain(|u| rules.selected(&u.source));
    for u in units.iter_mut() {
        u.target = rules.rename(&u.source);
    }
}

fn dry_report(u: &Unit) -> NsReport {
    NsReport {
        source: u.source.clone(),
        target: u.target.clone(),
        kind: u.meta.kind.clone(),
        expected: u.expected,
        indexes: u.meta.indexes.iter().filter(|i| !is_id_index(i)).count(),
        status: "dry run".into(),
        note: u.note.clone(),
        ..Default::default()
    }
}

fn is_id_index(i: &Document) -> bool {
    i.get_str("name") == Ok("_id_")
}
