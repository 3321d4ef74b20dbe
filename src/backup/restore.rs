//! Writing a backup back into a cluster. Before the first write, every file is checked
//! (`preflight`: paths, unlisted files, checksums, whole valid BSON, metadata shape) and the
//! server is asked to accept every collection's options, validator and indexes on a
//! temporary collection (`staging`). Then each collection is recreated with its options and
//! validator, its documents are inserted by parallel workers in unordered batches (raw BSON,
//! never decoded), its indexes are built as soon as its data is in, and its count is checked
//! afterwards. With `--drop` the data goes into the temporary collection, which replaces the
//! target (`renameCollection`, `dropTarget`) only once every collection is complete: a
//! failure leaves the old data as it was. Duplicate keys are counted and reported, or stop the
//! restore with `stop_on_error`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use bson::{Bson, Document, RawDocumentBuf, Timestamp, doc};
use mongodb::error::ErrorKind;
use mongodb::{Client, Collection};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use super::archive::{self, ArchiveReader};
use super::bsonio::{DocBatch, Next, read_doc};
use super::checksum::Crc64;
use super::events::{Event, Observer, Phase};
use super::filename::{Stem, decode_stem};
use super::format::CollectionMeta;
use super::gz::maybe_gunzip;
use super::manifest::{FileKind, Manifest, manifest_path};
use super::nsmatch::{NsRules, split};
use super::staging::{self, described};
use super::{bsonio::validate, preflight};

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
    /// Restore a backup that has no manifest (interrupted, or made by another tool).
    pub force: bool,
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
    /// The temporary collection the data was restored into (`--drop`), until it is swapped.
    #[serde(skip)]
    stage: Option<String>,
}

#[derive(Debug, Serialize, Default)]
pub struct RestoreReport {
    pub dry_run: bool,
    pub namespaces: Vec<NsReport>,
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
}

impl Unit {
    /// The namespace the data is written into.
    fn written(&self) -> &str {
        self.stage.as_deref().unwrap_or(&self.target)
    }
}

/// Loads the manifest: refuses a backup without one unless `force`.
fn load_manifest(path: &Path, force: bool) -> Result<Option<Manifest>> {
    let m = Manifest::load(path)?;
    match &m {
        // Deliberately an opt-in even for mongodump's output (which never has a manifest):
        // without one, a complete foreign backup cannot be told from an interrupted one, and
        // nothing can be verified before the first write.
        None if !force => bail!(
            "{}: no manifest ({}): the backup is incomplete (interrupted?) or was not made by \
             mongoctl (mongodump writes none); pass --force to restore it anyway, unverified",
            path.display(),
            manifest_path(path).display()
        ),
        _ => {}
    }
    Ok(m)
}

fn strip_suffix<'a>(name: &'a str, suffixes: &[&str]) -> Option<&'a str> {
    suffixes.iter().find_map(|s| name.strip_suffix(s))
}

/// Scans a mongodump-layout directory: `<db>/<coll>.bson[.gz]`, `<db>/<coll>.metadata.json[.gz]`.
fn scan_directory(dir: &Path, manifest: Option<&Manifest>) -> Result<(Vec<Unit>, Option<PathBuf>)> {
    let expected: BTreeMap<String, u64> = manifest
        .map(|m| {
            m.files
                .iter()
                .filter(|f| f.kind == FileKind::Data)
                .filter_map(|f| Some((f.namespace.clone()?, f.documents?)))
                .collect()
        })
        .unwrap_or_default();
    let mut units: BTreeMap<String, Unit> = BTreeMap::new();
    let mut oplog = None;
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_file() {
            if name == "oplog.bson" || name == "oplog.bson.gz" {
                oplog = Some(e.path());
            }
            continue;
        }
        let db = name;
        for f in std::fs::read_dir(e.path())? {
            let f = f?;
            let fname = f.file_name().to_string_lossy().into_owned();
            if let Some(stem) = strip_suffix(&fname, &[".metadata.json", ".metadata.json.gz"]) {
                let meta = read_metadata(&f.path(), stem)?;
                let ns = format!("{db}.{}", meta.name);
                let u = units.entry(ns.clone()).or_insert_with(|| Unit {
                    source: ns.clone(),
                    target: ns.clone(),
                    meta: meta.clone(),
                    expected: expected.get(&ns).copied(),
                    data: None,
                    origin: String::new(),
                    stage: None,
                    drop_first: false,
                });
                u.meta = meta;
            } else if let Some(stem) = strip_suffix(&fname, &[".bson", ".bson.gz"]) {
                let coll =
                    match decode_stem(stem).with_context(|| format!("{}", f.path().display()))? {
                        Stem::Name(n) => n,
                        Stem::Truncated => {
                            let gz = if fname.ends_with(".gz") { ".gz" } else { "" };
                            let meta_path = e.path().join(format!("{stem}.metadata.json{gz}"));
                            read_metadata(&meta_path, stem)?.name
                        }
                    };
                if coll.starts_with("system.") || coll.starts_with("$admin.") {
                    continue;
                }
                let ns = format!("{db}.{coll}");
                let u = units.entry(ns.clone()).or_insert_with(|| Unit {
                    source: ns.clone(),
                    target: ns.clone(),
                    meta: CollectionMeta {
                        name: coll.to_string(),
                        kind: "collection".into(),
                        options: Document::new(),
                        indexes: Vec::new(),
                        uuid: None,
                    },
                    expected: expected.get(&ns).copied(),
                    data: None,
                    origin: String::new(),
                    stage: None,
                    drop_first: false,
                });
                u.data = Some(f.path());
            }
        }
    }
    Ok((units.into_values().collect(), oplog))
}

/// A metadata file of the directory layout. Its collection is named by the file's (escaped)
/// stem, or by its `collectionName` when the stem is a long name's truncated one.
fn read_metadata(path: &Path, stem: &str) -> Result<CollectionMeta> {
    let name = match decode_stem(stem).with_context(|| format!("{}", path.display()))? {
        Stem::Name(n) => Some(n),
        Stem::Truncated => None,
    };
    let mut text = String::new();
    maybe_gunzip(File::open(path).with_context(|| format!("reading {}", path.display()))?)?
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut meta = CollectionMeta::from_json(&text, name.as_deref().unwrap_or_default())
        .with_context(|| format!("{}: invalid metadata", path.display()))?;
    match name {
        // mongorestore names the collection after the file; so do we.
        Some(n) => meta.name = n,
        None if meta.name.is_empty() => bail!(
            "{}: the file name is a long collection name's truncated form, and the metadata has \
             no collectionName to tell the name",
            path.display()
        ),
        None => {}
    }
    Ok(meta)
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
    if opts.resume && matches!(opts.source, Source::Stdin) {
        bail!(
            "--resume needs a backup directory or archive file (standard input cannot be re-read)"
        );
    }
    let mut report = RestoreReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    match &opts.source {
        Source::Directory(dir) => {
            let manifest = load_manifest(dir, opts.force)?;
            observe(Event::Phase(Phase::Verifying));
            preflight::check_directory(dir, manifest.as_ref())
                .context("the backup failed its checks; nothing was restored")?;
            let (mut units, oplog_file) = scan_directory(dir, manifest.as_ref())?;
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
                tasks.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    let (tx, rx) = mpsc::channel::<Batch>(2);
                    let reader = u
                        .data
                        .clone()
                        .map(|p| std::thread::spawn(move || read_file_batches(&p, &tx)));
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
                let authz = read_authz_files(dir, &dbs)?;
                report.users_and_roles =
                    Some(restore_users_and_roles(client, authz, &dbs, opts).await?);
            }
            if opts.oplog_replay && report.ok() {
                let Some(path) = oplog_file else {
                    bail!(
                        "--oplog-replay: the backup has no oplog.bson (make it with backup --oplog)"
                    );
                };
                let r = maybe_gunzip(File::open(&path)?)?;
                observe(Event::Phase(Phase::ReplayingOplog));
                replay_oplog(client, r, opts, &mut report).await?;
            }
        }
        Source::Archive(p) => {
            let manifest = load_manifest(p, opts.force)?;
            observe(Event::Phase(Phase::Verifying));
            preflight::check_archive_file(p, manifest.as_ref())
                .context("the backup failed its checks; nothing was restored")?;
            let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
            restore_archive(client, maybe_gunzip(f)?, opts, observe, &mut report).await?;
        }
        Source::Stdin => {
            let stdin = maybe_gunzip(std::io::stdin())?;
            restore_archive(client, stdin, opts, observe, &mut report).await?;
        }
    }
    report.elapsed_secs = t0.elapsed().as_secs_f64();
    Ok(report)
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
        ..Default::default()
    }
}

/// Where a namespace's metadata comes from, for errors: its metadata file (by the manifest,
/// else by mongodump's layout), relative to the backup.
fn metadata_origin(dir: &Path, manifest: Option<&Manifest>, ns: &str) -> String {
    let listed = manifest.and_then(|m| {
        m.files
            .iter()
            .find(|f| f.kind == FileKind::Metadata && f.namespace.as_deref() == Some(ns))
            .map(|f| f.path.clone())
    });
    listed.unwrap_or_else(|| {
        let (db, coll) = split(ns);
        let plain = format!("{db}/{coll}.metadata.json");
        if dir.join(format!("{plain}.gz")).exists() {
            format!("{plain}.gz")
        } else {
            plain
        }
    })
}

/// Asks the server, before any data is written, to accept every unit's options, validator,
/// indexes or view pipeline, on a temporary collection next to its target. With `--drop`, a
/// collection that can be renamed keeps that temporary collection as the place its data goes
/// (`Unit::stage`); others (time series, system collections) are marked to be dropped just
/// before their data. If the server refuses anything, every temporary collection is dropped
/// and the error names the metadata that was refused.
async fn stage(client: &Client, units: &mut [Unit], opts: &RestoreOptions) -> Result<()> {
    let mut failed = None;
    for u in units.iter_mut() {
        if !staging::checkable(&u.target) {
            u.drop_first = opts.drop && !u.meta.is_view();
            continue;
        }
        let keep = opts.drop && staging::swappable(&u.target, &u.meta);
        match staging::check(client, &u.target, &u.meta, keep).await {
            Ok(temp) => u.stage = temp,
            Err(e) => {
                failed = Some(anyhow!(
                    "{}: the server refuses the {} of {}: {e:#}",
                    u.origin,
                    if u.meta.is_view() {
                        "view definition"
                    } else {
                        "options, validator or indexes"
                    },
                    u.target
                ));
                break;
            }
        }
        u.drop_first = opts.drop && !u.meta.is_view() && u.stage.is_none();
    }
    if let Some(e) = failed {
        for temp in units.iter_mut().filter_map(|u| u.stage.take()) {
            staging::drop_collection(client, &temp).await.ok();
        }
        return Err(e.context("nothing was restored"));
    }
    Ok(())
}

/// `--drop`: once every namespace is restored, swaps each temporary collection in for its
/// target; if any namespace failed, none is swapped and the temporary collections are
/// dropped (the targets stay as they were). Each report says whether its target was
/// replaced.
async fn swap_in_staged(client: &Client, report: &mut RestoreReport, journal: &Journal) {
    let failed: Vec<String> = report
        .namespaces
        .iter()
        .filter(|n| n.status != "ok")
        .map(|n| n.target.clone())
        .collect();
    let mut hold: Option<String> =
        (!failed.is_empty()).then(|| format!("{} failed", failed.join(", ")));
    for n in report.namespaces.iter_mut() {
        let Some(temp) = n.stage.take() else {
            continue;
        };
        if hold.is_none() {
            match staging::swap_in(client, &temp, &n.target).await {
                Ok(()) => {
                    n.swapped_in = Some(true);
                    journal.clear(&temp).await.ok();
                    let done = n.inserted + n.duplicates + n.resumed;
                    journal.set(&n.target, done, true).await.ok();
                    continue;
                }
                Err(e) => {
                    n.status = format!("FAILED: swapping in the restored copy: {e:#}");
                    hold = Some(format!("swapping in {} failed", n.target));
                }
            }
        }
        n.swapped_in = Some(false);
        let why = hold.as_deref().unwrap_or_default();
        n.status = if n.status == "ok" {
            format!("NOT SWAPPED IN ({why}): {} is as it was", n.target)
        } else {
            format!("{}; not swapped in: {} is as it was", n.status, n.target)
        };
        if let Err(e) = staging::drop_collection(client, &temp).await {
            n.status += &format!("; the temporary {temp} is left (dropping it failed: {e:#})");
        }
        journal.clear(&temp).await.ok();
    }
}

fn is_id_index(i: &Document) -> bool {
    i.get_str("name") == Ok("_id_")
}

/// Reads a `.bson[.gz]` file into batches.
fn read_file_batches(path: &Path, tx: &mpsc::Sender<Batch>) {
    let result = (|| -> Result<(), String> {
        let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut r = maybe_gunzip(f).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut offset = 0u64;
        let new_batch = || DocBatch::with_capacity(BATCH_DOCS, BATCH_BYTES + (64 << 10));
        let mut batch = new_batch();
        while batch
            .read_from(&mut r, &mut offset)
            .map_err(|e| format!("{}: {e}", path.display()))?
        {
            if batch.len() >= BATCH_DOCS || batch.byte_len() >= BATCH_BYTES {
                let full = std::mem::replace(&mut batch, new_batch());
                if tx.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = tx.blocking_send(Err(e));
    }
}

/// Creates the collection (when it does not exist) with its options.
async fn create_collection(client: &Client, target: &str, meta: &CollectionMeta) -> Result<bool> {
    let (db, coll) = split(target);
    let exists = !client
        .database(db)
        .list_collection_names()
        .filter(doc! {"name": coll})
        .await
        .map_err(described)?
        .is_empty();
    if exists {
        return Ok(false);
    }
    staging::create(client, target, meta)
        .await
        .with_context(|| format!("creating {target}"))?;
    Ok(true)
}

/// Creates a view (checked on a temporary name before anything was written); with `drop`,
/// replaces the one there.
async fn restore_view(client: &Client, u: &Unit, drop: bool) -> NsReport {
    let mut r = dry_report(u);
    let replaced = async {
        if drop {
            staging::drop_collection(client, &u.target)
                .await
                .with_context(|| format!("dropping {}", u.target))?;
        }
        create_collection(client, &u.target, &u.meta).await
    };
    r.status = match replaced.await {
        Ok(_) => "ok".into(),
        Err(e) => format!("FAILED: {e:#}"),
    };
    r
}

/// One finished insert batch: (sequence number, documents, bytes, outcome).
type Inserted = (u64, u64, u64, InsertStats);

#[derive(Default)]
struct InsertStats {
    inserted: u64,
    duplicates: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn insert_batch(coll: Collection<RawDocumentBuf>, batch: DocBatch) -> Result<InsertStats> {
    let n = batch.len() as u64;
    match coll
        .clone_with_type::<&bson::RawDocument>()
        .insert_many(batch.docs())
        .ordered(false)
        .bypass_document_validation(true)
        .await
    {
        Ok(_) => Ok(InsertStats {
            inserted: n,
            ..Default::default()
        }),
        Err(e) => match e.kind.as_ref() {
            ErrorKind::InsertMany(ie) if ie.write_concern_error.is_none() => {
                let mut s = InsertStats::default();
                for w in ie.write_errors.iter().flatten() {
                    if w.code == 11000 {
                        s.duplicates += 1;
                    } else {
                        s.errors += 1;
                        s.first_error.get_or_insert_with(|| {
                            format!("write error {}: {}", w.code, w.message)
                        });
                    }
                }
                s.inserted = n - s.duplicates - s.errors;
                Ok(s)
            }
            _ => Err(anyhow::anyhow!(crate::error::describe_driver_error(&e))),
        },
    }
}

/// How collections are inserted: parallelism, error policy, progress journal.
#[derive(Clone)]
struct Ctl {
    workers: usize,
    stop_on_error: bool,
    journal: Journal,
    resume: bool,
}

/// Restore progress recorded in the target cluster (`mongoctl.restore_progress`): per backup
/// and target namespace, how many leading documents of the backup's data are known to be in,
/// and whether the namespace is complete (data and indexes).
#[derive(Clone)]
struct Journal {
    coll: Collection<Document>,
    backup: String,
}

impl Journal {
    fn new(client: &Client, backup: String) -> Self {
        Journal {
            coll: client
                .database("mongoctl")
                .collection::<Document>("restore_progress"),
            backup,
        }
    }

    fn key(&self, ns: &str) -> Document {
        doc! {"backup": &self.backup, "ns": ns}
    }

    async fn get(&self, ns: &str) -> Result<(u64, bool)> {
        let d = self
            .coll
            .find_one(doc! {"_id": self.key(ns)})
            .await
            .map_err(described)
            .context("reading mongoctl.restore_progress")?;
        Ok(match d {
            None => (0, false),
            Some(d) => (
                d.get_i64("done").unwrap_or(0) as u64,
                d.get_bool("complete").unwrap_or(false),
            ),
        })
    }

    async fn set(&self, ns: &str, done: u64, complete: bool) -> Result<()> {
        self.coll
            .update_one(
                doc! {"_id": self.key(ns)},
                doc! {"$set": {"done": done as i64, "complete": complete, "updated_at": bson::DateTime::now()}},
            )
            .upsert(true)
            .await
            .map_err(described)
            .context("recording restore progress")?;
        Ok(())
    }

    async fn clear(&self, ns: &str) -> Result<()> {
        self.coll
            .delete_one(doc! {"_id": self.key(ns)})
            .await
            .map_err(described)
            .context("clearing restore progress")?;
        Ok(())
    }
}

/// Identifies a backup across runs: its manifest's SHA-256, else its canonical path.
fn backup_id(path: &Path) -> String {
    let m = manifest_path(path);
    match super::checksum::hash_file(&m) {
        Ok((_, sums)) => sums.sha256,
        Err(_) => std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
    }
}

/// Restores one collection (namespace `index` in the events) from the batches of `rx`.
async fn restore_collection(
    client: &Client,
    index: usize,
    u: &Unit,
    mut rx: mpsc::Receiver<Batch>,
    ctl: Ctl,
    observe: &Observer,
) -> NsReport {
    let Ctl {
        workers,
        stop_on_error,
        journal,
        resume,
    } = ctl;
    let mut r = dry_report(u);
    r.status = "ok".into();
    let result = async {
        let written = u.written();
        let (mut skip, complete) = if resume {
            journal.get(written).await?
        } else {
            journal.clear(written).await?;
            (0, false)
        };
        if complete {
            r.resumed = u.expected.unwrap_or(skip);
            r.status = "ok".into();
            return Ok(());
        }
        r.resumed = skip;
        observe(Event::Advanced {
            index,
            docs: skip,
            bytes: 0,
        });
        if u.drop_first {
            staging::drop_collection(client, &u.target)
                .await
                .with_context(|| format!("dropping {}", u.target))?;
        }
        // A temporary collection (--drop) is new and empty, like one created here.
        let created = create_collection(client, written, &u.meta).await? || u.stage.is_some();
        let (db, name) = split(written);
        let data_coll = if u.meta.is_timeseries() {
            format!("system.buckets.{name}")
        } else {
            name.to_string()
        };
        let coll = client.database(db).collection::<RawDocumentBuf>(&data_coll);
        let mut set = tokio::task::JoinSet::new();
        let mut stats = InsertStats::default();
        let merge = |s: InsertStats, bytes: u64, stats: &mut InsertStats| -> Result<()> {
            observe(Event::Advanced {
                index,
                docs: s.inserted + s.duplicates + s.errors,
                bytes,
            });
            stats.inserted += s.inserted;
            stats.duplicates += s.duplicates;
            stats.errors += s.errors;
            if stats.first_error.is_none() {
                stats.first_error = s.first_error;
            }
            if stop_on_error && (s.duplicates > 0 || s.errors > 0) {
                bail!(
                    "stopped on the first error (--stop-on-error): {}",
                    stats
                        .first_error
                        .clone()
                        .unwrap_or_else(|| "duplicate key".into())
                );
            }
            Ok(())
        };
        // Progress: batches finish out of order; the journal records the contiguous prefix.
        // A batch with rejected documents (`None`) is not done: the prefix stops before it
        // for good, so that --resume retries it instead of skipping documents never written.
        let base = skip;
        let mut frontier = (0u64, base);
        let mut finished: BTreeMap<u64, Option<u64>> = BTreeMap::new();
        let mut advance = async |seq: u64, n: u64, rejected: bool| -> Result<()> {
            finished.insert(seq, (!rejected).then_some(n));
            let before = frontier.1;
            while let Some(&Some(n)) = finished.get(&frontier.0) {
                finished.remove(&frontier.0);
                frontier = (frontier.0 + 1, frontier.1 + n);
            }
            if frontier.1 != before {
                journal.set(written, frontier.1, false).await?;
            }
            Ok(())
        };
        // A batch that fails (or --stop-on-error) stops new batches; the ones in flight
        // still finish and count, so the report says exactly what was written.
        let mut settle = async |joined: Result<Result<Inserted>, tokio::task::JoinError>| {
            let (sq, n, bytes, st) = joined??;
            let rejected = st.errors > 0;
            merge(st, bytes, &mut stats)?;
            advance(sq, n, rejected).await
        };
        let mut failed: Option<anyhow::Error> = None;
        let mut seq = 0u64;
        while failed.is_none()
            && let Some(b) = rx.recv().await
        {
            let mut batch = match b {
                Ok(b) => b,
                Err(e) => {
                    failed = Some(anyhow!(e));
                    break;
                }
            };
            if skip > 0 {
                let k = (skip as usize).min(batch.len());
                batch.skip(k);
                skip -= k as u64;
                if batch.is_empty() {
                    continue;
                }
            }
            while failed.is_none() && set.len() >= workers.max(1) {
                if let Some(j) = set.join_next().await {
                    failed = settle(j).await.err();
                }
            }
            if failed.is_some() {
                break;
            }
            let c = coll.clone();
            let this = seq;
            seq += 1;
            set.spawn(async move {
                let (n, bytes) = (batch.len() as u64, batch.byte_len() as u64);
                insert_batch(c, batch).await.map(|st| (this, n, bytes, st))
            });
        }
        while let Some(j) = set.join_next().await {
            if let Err(e) = settle(j).await {
                failed.get_or_insert(e);
            }
        }
        r.inserted = stats.inserted;
        r.duplicates = stats.duplicates;
        r.errors = stats.errors;
        if let Some(e) = failed {
            return Err(e);
        }
        // Indexes once the data is in.
        observe(Event::Phase(Phase::BuildingIndexes { namespace: written }));
        staging::build_indexes(client, written, &u.meta)
            .await
            .with_context(|| format!("building the indexes of {written}"))?;
        if let Some(e) = stats.first_error {
            bail!("{} document(s) rejected, first: {e}", stats.errors);
        }
        if let Some(exp) = u.expected {
            if r.resumed + stats.inserted + stats.duplicates != exp {
                bail!(
                    "{} inserted + {} duplicates + {} restored earlier, the backup holds {exp}",
                    stats.inserted,
                    stats.duplicates,
                    r.resumed
                );
            }
            if created {
                let n = coll.estimated_document_count().await.map_err(described)?;
                if n != exp {
                    bail!("{written} holds {n} documents after the restore, expected {exp}");
                }
            }
        }
        journal.set(written, frontier.1, true).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    observe(Event::NamespaceFinished {
        index,
        ok: result.is_ok(),
    });
    if let Err(e) = result {
        r.status = format!("FAILED: {e:#}");
    }
    r.stage = u.stage.clone();
    r
}

/// Rewrites references to database `from` as `to` in a user or role document.
fn rename_authz(d: &mut Document, from: &str, to: &str) {
    if d.get_str("db") == Ok(from) {
        let name = d
            .get_str("user")
            .or_else(|_| d.get_str("role"))
            .unwrap_or_default()
            .to_string();
        d.insert("db", to);
        d.insert("_id", format!("{to}.{name}"));
    }
    for key in ["roles", "inheritedRoles"] {
        if let Ok(list) = d.get_array_mut(key) {
            for r in list.iter_mut() {
                if let Bson::Document(r) = r
                    && r.get_str("db") == Ok(from)
                {
                    r.insert("db", to);
                }
            }
        }
    }
    if let Ok(privs) = d.get_array_mut("privileges") {
        for p in privs.iter_mut() {
            if let Bson::Document(p) = p
                && let Ok(res) = p.get_document_mut("resource")
                && res.get_str("db") == Ok(from)
            {
                res.insert("db", to);
            }
        }
    }
}

/// Saved users and roles: raw documents per (source database, "users" | "roles"); a key is
/// present when the backup holds that collection for the database (even empty).
type Authz = BTreeMap<(String, String), Vec<Vec<u8>>>;

/// Which saved collection of users or roles an archive namespace `$admin.system.<kind>` is.
fn authz_kind(coll: &str) -> Option<&'static str> {
    match coll {
        "$admin.system.users" => Some("users"),
        "$admin.system.roles" => Some("roles"),
        _ => None,
    }
}

/// `<db>/$admin.system.{users,roles}.bson[.gz]` of the source databases of `dbs`.
fn read_authz_files(dir: &Path, dbs: &[(String, String)]) -> Result<Authz> {
    let mut out = Authz::new();
    for (src, _) in dbs {
        for kind in ["users", "roles"] {
            let path = ["", ".gz"]
                .iter()
                .map(|gz| dir.join(src).join(format!("$admin.system.{kind}.bson{gz}")))
                .find(|p| p.exists());
            let Some(path) = path else { continue };
            let mut r = maybe_gunzip(File::open(&path)?)?;
            let mut offset = 0;
            let mut docs = Vec::new();
            loop {
                match read_doc(&mut r, &mut offset)
                    .with_context(|| format!("reading {}", path.display()))?
                {
                    Next::Doc(d) => docs.push(d),
                    Next::Terminator => {
                        bail!(
                            "{}: unexpected terminator at byte offset {offset}",
                            path.display()
                        )
                    }
                    Next::Eof => break,
                }
            }
            out.insert((src.clone(), kind.to_string()), docs);
        }
    }
    Ok(out)
}

/// Users and roles saved by `backup --users-and-roles`, merged into the target databases the
/// way mongorestore does it: through temporary collections and `_mergeAuthzCollections`.
async fn restore_users_and_roles(
    client: &Client,
    mut authz: Authz,
    dbs: &[(String, String)],
    opts: &RestoreOptions,
) -> Result<(u64, u64)> {
    let admin = client.database("admin");
    let (mut users, mut roles) = (0, 0);
    for (src, dst) in dbs {
        let mut any = false;
        let mut names = ("", "");
        for (kind, temp) in [
            ("users", "mongoctl_tempusers"),
            ("roles", "mongoctl_temproles"),
        ] {
            let Some(raw) = authz.remove(&(src.clone(), kind.to_string())) else {
                continue;
            };
            let mut docs = Vec::with_capacity(raw.len());
            for d in raw {
                let mut d = Document::from_reader(&d[..])?;
                rename_authz(&mut d, src, dst);
                docs.push(d);
            }
            let tc = admin.collection::<Document>(temp);
            tc.drop().await.map_err(described)?;
            if docs.is_empty() {
                continue;
            }
            let n = docs.len() as u64;
            tc.insert_many(docs).await.map_err(described)?;
            any = true;
            if kind == "users" {
                users += n;
                names.0 = temp;
            } else {
                roles += n;
                names.1 = temp;
            }
        }
        if any {
            let merged = admin
                .run_command(doc! {
                    "_mergeAuthzCollections": 1,
                    "tempUsersCollection": if names.0.is_empty() { String::new() } else { format!("admin.{}", names.0) },
                    "tempRolesCollection": if names.1.is_empty() { String::new() } else { format!("admin.{}", names.1) },
                    "drop": opts.drop,
                    "db": dst,
                })
                .await
                .map_err(described)
                .with_context(|| format!("restoring the users and roles of {dst}"));
            for t in ["mongoctl_tempusers", "mongoctl_temproles"] {
                admin.collection::<Document>(t).drop().await.ok();
            }
            merged?;
        }
    }
    Ok((users, roles))
}

/// Restores an archive stream: one thread demultiplexes it into per-namespace batches that
/// per-namespace tasks insert concurrently (every namespace must be able to make progress,
/// so they are not limited by `jobs`).
async fn restore_archive<R: Read + Send + 'static>(
    client: &Client,
    input: R,
    opts: &RestoreOptions,
    observe: &Observer,
    report: &mut RestoreReport,
) -> Result<()> {
    let reader = ArchiveReader::open(input)?;
    let mut units: Vec<Unit> = Vec::new();
    for e in &reader.entries {
        // mongodump --oplog announces its oplog in the prelude as `{db: "", collection:
        // "oplog", metadata: ""}`: not a collection (its documents are spooled by demultiplex).
        // `$admin.system.*` (--users-and-roles) hold users, roles and the auth schema
        // version, with empty metadata: never restored as collections.
        if e.is_oplog() || e.is_authz() {
            continue;
        }
        let meta = CollectionMeta::from_json(&e.metadata, &e.collection)
            .with_context(|| format!("archive metadata of {}.{}", e.db, e.collection))?;
        let ns = format!("{}.{}", e.db, e.collection);
        units.push(Unit {
            source: ns.clone(),
            target: ns,
            meta,
            expected: None,
            data: None,
            origin: format!("the archive's metadata of {}.{}", e.db, e.collection),
            stage: None,
            drop_first: false,
        });
    }
    if let Source::Archive(p) = &opts.source
        && let Some(m) = Manifest::load(p)?
    {
        for u in units.iter_mut() {
            u.expected = m
                .namespaces
                .iter()
                .find(|n| n.namespace == u.source)
                .map(|n| n.documents);
        }
    }
    select(&mut units, &opts.rules);
    let dbs = source_and_target_dbs(&units);
    if opts.dry_run {
        report.namespaces = units.iter().map(dry_report).collect();
        return Ok(());
    }
    stage(client, &mut units, opts).await?;
    let ctl = Ctl {
        workers: opts.workers,
        stop_on_error: opts.stop_on_error,
        journal: Journal::new(
            client,
            match &opts.source {
                Source::Archive(p) => backup_id(p),
                _ => "(stdin)".into(),
            },
        ),
        resume: opts.resume,
    };
    let total = units.iter().filter_map(|u| u.expected).sum();
    observe(Event::Started {
        expected_docs: total,
    });
    let mut senders: BTreeMap<String, mpsc::Sender<Batch>> = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut views = Vec::new();
    for (i, u) in units.into_iter().enumerate() {
        if u.meta.is_view() {
            views.push(u);
            continue;
        }
        let (tx, rx) = mpsc::channel::<Batch>(2);
        senders.insert(u.source.clone(), tx);
        let client = client.clone();
        observe(Event::NamespaceStarted {
            index: i,
            namespace: &u.target,
            expected_docs: u.expected.unwrap_or(0),
        });
        let observe = observe.clone();
        let ctl = ctl.clone();
        tasks.spawn(async move {
            (
                i,
                restore_collection(&client, i, &u, rx, ctl, &observe).await,
            )
        });
    }
    let oplog_tmp = tempfile_in_tmp()?;
    let oplog_path = oplog_tmp.path().to_path_buf();
    let keep_authz = opts.users_and_roles;
    let demux = std::thread::spawn(move || demultiplex(reader, senders, &oplog_path, keep_authz));
    let mut done = Vec::new();
    while let Some(r) = tasks.join_next().await {
        done.push(r?);
    }
    let demuxed = demux
        .join()
        .map_err(|_| anyhow::anyhow!("archive reader thread panicked"))?;
    observe(Event::Finished);
    done.sort_by_key(|(i, _)| *i);
    report.namespaces = done.into_iter().map(|(_, r)| r).collect();
    if opts.drop {
        observe(Event::Phase(Phase::SwappingIn));
    }
    swap_in_staged(client, report, &ctl.journal).await;
    for v in views {
        report
            .namespaces
            .push(restore_view(client, &v, opts.drop).await);
    }
    let (oplog_entries, authz) = demuxed?;
    if opts.users_and_roles && report.ok() {
        observe(Event::Phase(Phase::UsersAndRoles));
        report.users_and_roles = Some(restore_users_and_roles(client, authz, &dbs, opts).await?);
    }
    if opts.oplog_replay && report.ok() {
        if oplog_entries == 0 {
            bail!("--oplog-replay: the archive has no oplog (make it with backup --oplog)");
        }
        let f = File::open(oplog_tmp.path())?;
        observe(Event::Phase(Phase::ReplayingOplog));
        replay_oplog(client, std::io::BufReader::new(f), opts, report).await?;
    }
    Ok(())
}

fn tempfile_in_tmp() -> Result<TempPath> {
    let path = std::env::temp_dir().join(format!(
        "mongoctl-oplog-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    File::create(&path)?;
    Ok(TempPath(path))
}

/// A temporary file removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Routes archive documents to their namespace's channel in batches, checks each
/// namespace's CRC at its EOF block, spools the oplog to `oplog_path` and, with
/// `keep_authz`, keeps the saved users and roles. Returns the number of oplog entries and
/// the users and roles.
fn demultiplex<R: Read>(
    mut reader: ArchiveReader<R>,
    mut senders: BTreeMap<String, mpsc::Sender<Batch>>,
    oplog_path: &Path,
    keep_authz: bool,
) -> Result<(u64, Authz)> {
    use std::io::Write;
    let mut pending: BTreeMap<String, (DocBatch, Crc64)> = BTreeMap::new();
    // CRCs of the users and roles whose EOF block is still to come.
    let mut authz_open: BTreeMap<(String, String), Crc64> = BTreeMap::new();
    let mut authz = Authz::new();
    let mut oplog = std::io::BufWriter::new(File::create(oplog_path)?);
    let mut oplog_n = 0;
    let fail_all = |senders: &mut BTreeMap<String, mpsc::Sender<Batch>>, msg: String| {
        for (_, tx) in std::mem::take(senders) {
            let _ = tx.blocking_send(Err(msg.clone()));
        }
    };
    loop {
        let ev = match reader.next_event() {
            Ok(ev) => ev,
            Err(e) => {
                let msg = format!("archive: {e}");
                fail_all(&mut senders, msg.clone());
                bail!(msg);
            }
        };
        match ev {
            None => break,
            Some(archive::Event::Doc { db, coll, doc }) => {
                if db.is_empty() && coll == "oplog" {
                    oplog.write_all(&doc)?;
                    oplog_n += 1;
                    continue;
                }
                if let Some(kind) = authz_kind(&coll) {
                    if keep_authz {
                        let key = (db, kind.to_string());
                        authz_open.entry(key.clone()).or_default().update(&doc);
                        authz.entry(key).or_default().push(doc);
                    }
                    continue;
                }
                let ns = format!("{db}.{coll}");
                if !senders.contains_key(&ns) {
                    continue;
                }
                let p = pending.entry(ns.clone()).or_default();
                p.1.update(&doc);
                // Standard input is not checked before the restore: each document is here,
                // so that a damaged one fails its namespace instead of reaching the driver.
                if let Err(e) = validate(&doc) {
                    if let Some(tx) = senders.remove(&ns) {
                        let _ = tx.blocking_send(Err(format!("archive: {ns}: {e}")));
                    }
                    continue;
                }
                p.0.push(&doc).map_err(|e| anyhow!("archive: {ns}: {e}"))?;
                if p.0.len() >= BATCH_DOCS || p.0.byte_len() >= BATCH_BYTES {
                    let batch = std::mem::take(&mut p.0);
                    if let Some(tx) = senders.get(&ns)
                        && tx.blocking_send(Ok(batch)).is_err()
                    {
                        senders.remove(&ns);
                    }
                }
            }
            Some(archive::Event::Eof { db, coll, crc }) => {
                if let Some(kind) = authz_kind(&coll) {
                    if keep_authz {
                        let key = (db, kind.to_string());
                        let mine = authz_open.remove(&key).unwrap_or_default();
                        if crc != 0 && mine.value() != crc {
                            let msg = format!("archive: {}.{coll}: CRC mismatch", key.0);
                            fail_all(&mut senders, msg.clone());
                            bail!(msg);
                        }
                        authz.entry(key).or_default();
                    }
                    continue;
                }
                let ns = format!("{db}.{coll}");
                let Some(tx) = senders.remove(&ns) else {
                    continue;
                };
                let (batch, mine) = pending.remove(&ns).unwrap_or_default();
                if crc != 0 && mine.value() != crc {
                    let _ = tx.blocking_send(Err(format!("{ns}: CRC mismatch in the archive")));
                    continue;
                }
                if !batch.is_empty() {
                    let _ = tx.blocking_send(Ok(batch));
                }
            }
        }
    }
    oplog.flush()?;
    // Namespaces announced in the prelude but never ended: the archive is truncated.
    let open: Vec<String> = senders.keys().cloned().collect();
    if !open.is_empty() {
        fail_all(
            &mut senders,
            "the archive ends before this collection's EOF block (truncated?)".into(),
        );
    }
    if let Some(((db, kind), _)) = authz_open.first_key_value() {
        bail!("the archive ends before the EOF block of {db}.$admin.system.{kind} (truncated?)");
    }
    Ok((oplog_n, authz))
}

/// Applies oplog entries (CRUD and commands of the selected namespaces, renamed) in batches
/// with `applyOps`, stopping before `oplog_limit`. Records in `report` how many were applied
/// and the first entry the limit kept out.
async fn replay_oplog<R: Read>(
    client: &Client,
    mut r: R,
    opts: &RestoreOptions,
    report: &mut RestoreReport,
) -> Result<()> {
    // Entries are read one at a time and applied in batches bounded in count and bytes, so
    // memory stays small however long the oplog (and each applyOps stays under 16 MiB).
    const MAX_OPS: usize = 500;
    const MAX_BYTES: usize = 8 << 20;
    let admin = client.database("admin");
    let mut offset = 0u64;
    let mut batch: Vec<Document> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut applied = 0u64;
    loop {
        let (entry, len) = match read_doc(&mut r, &mut offset)? {
            Next::Doc(d) => (Some(Document::from_reader(&d[..])?), d.len()),
            _ => (None, 0),
        };
        let stop = match &entry {
            None => true,
            Some(e) => match (opts.oplog_limit, e.get_timestamp("ts")) {
                (Some(limit), Ok(ts))
                    if (ts.time, ts.increment) >= (limit.time, limit.increment) =>
                {
                    report.oplog_stopped_before = Some([ts.time, ts.increment]);
                    true
                }
                _ => false,
            },
        };
        let mut next = None;
        if !stop && let Some(mut e) = entry {
            let op = e.get_str("op").unwrap_or("n").to_string();
            let ns = e.get_str("ns").unwrap_or_default().to_string();
            if op == "n" || ns.is_empty() {
                continue;
            }
            if op != "c" {
                if !opts.rules.selected(&ns) {
                    continue;
                }
                e.insert("ns", opts.rules.rename(&ns));
            } else {
                let (db, _) = split(&ns);
                let target = opts.rules.rename(&format!("{db}.x"));
                if !opts.rules.selected(&format!("{db}.x")) && !opts.rules.include.is_empty() {
                    continue;
                }
                e.insert("ns", format!("{}.$cmd", split(&target).0));
            }
            e.remove("ui");
            next = Some(e);
        }
        let full = batch.len() >= MAX_OPS || (next.is_some() && batch_bytes + len > MAX_BYTES);
        if !batch.is_empty() && (stop || full) {
            let n = batch.len() as u64;
            let ops: Vec<Bson> = std::mem::take(&mut batch)
                .into_iter()
                .map(Bson::Document)
                .collect();
            batch_bytes = 0;
            admin
                .run_command(doc! {"applyOps": ops})
                .await
                .map_err(described)
                .context("replaying the oplog (applyOps)")?;
            applied += n;
        }
        if stop {
            report.oplog_applied = Some(applied);
            return Ok(());
        }
        if let Some(e) = next {
            batch.push(e);
            batch_bytes += len;
        }
    }
}
