//! Restoring an archive stream: one thread demultiplexes it into per-namespace batches (CRCs
//! checked at each namespace's end), spools its oplog and keeps its users and roles, while
//! per-namespace tasks insert.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use mongodb::Client;
use tokio::sync::mpsc;

use crate::backup::archive::{self, ArchiveReader};
use crate::backup::bsonio::DocBatch;
use crate::backup::bsonio::validate;
use crate::backup::checksum::Crc64;
use crate::backup::events::{Event, Observer, Phase};
use crate::backup::format::CollectionMeta;
use crate::backup::manifest::Manifest;

use super::insert::{Ctl, restore_collection, restore_view};
use super::journal::{Journal, backup_id};
use super::oplog::replay_oplog;
use super::stage::{stage, swap_in_staged};
use super::system::{SERVER_OWNED, Skipped, SystemColl, classify, full_dump_authz_refusal};
use super::users_roles::{
    Authz, EVERY_DATABASE, KeepAuthz, authz_kind, restore_full_dump_authz, restore_users_and_roles,
};
use super::{
    BATCH_BYTES, BATCH_DOCS, Batch, RestoreOptions, RestoreReport, Source, Unit, dry_report,
    select, source_and_target_dbs,
};

/// Restores an archive stream: one thread demultiplexes it into per-namespace batches that
/// per-namespace tasks insert concurrently (every namespace must be able to make progress,
/// so they are not limited by `jobs`).
pub(super) async fn restore_archive<R: Read + Send + 'static>(
    client: &Client,
    input: R,
    opts: &RestoreOptions,
    observe: &Observer,
    report: &mut RestoreReport,
) -> Result<()> {
    let reader = ArchiveReader::open(input)?;
    let mut units: Vec<Unit> = Vec::new();
    let mut keep = KeepAuthz {
        saved: opts.users_and_roles,
        full_dump: false,
    };
    for e in &reader.entries {
        // mongodump --oplog announces its oplog in the prelude as `{db: "", collection:
        // "oplog", metadata: ""}`: not a collection (its documents are spooled by demultiplex).
        // `$admin.system.*` (--users-and-roles) hold users, roles and the auth schema
        // version, with empty metadata: never restored as collections.
        if e.is_oplog() || e.is_authz() {
            continue;
        }
        let ns = format!("{}.{}", e.db, e.collection);
        match classify(&e.db, &e.collection) {
            Some(SystemColl::ServerOwned) => {
                report.skipped.push(Skipped {
                    namespace: ns,
                    reason: SERVER_OWNED.into(),
                });
                continue;
            }
            Some(SystemColl::Authz(kind)) => {
                match full_dump_authz_refusal(&opts.rules, kind) {
                    Some(reason) => report.skipped.push(Skipped {
                        namespace: ns,
                        reason,
                    }),
                    None => keep.full_dump = true,
                }
                continue;
            }
            _ => {}
        }
        let meta = CollectionMeta::from_json(&e.metadata, &e.collection)
            .with_context(|| format!("archive metadata of {}.{}", e.db, e.collection))?;
        units.push(Unit {
            source: ns.clone(),
            target: ns,
            meta,
            expected: None,
            data: None,
            origin: format!("the archive's metadata of {}.{}", e.db, e.collection),
            stage: None,
            drop_first: false,
            note: None,
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
        mode: opts.mode,
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
    let demux = std::thread::spawn(move || demultiplex(reader, senders, &oplog_path, keep));
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
    let (oplog_entries, mut authz) = demuxed?;
    let full_dump: Authz = authz
        .extract_if(.., |(db, _), _| db == EVERY_DATABASE)
        .collect();
    if opts.users_and_roles && report.ok() {
        observe(Event::Phase(Phase::UsersAndRoles));
        report.users_and_roles = Some(restore_users_and_roles(client, authz, &dbs, opts).await?);
    }
    if !full_dump.is_empty() && report.ok() {
        observe(Event::Phase(Phase::UsersAndRoles));
        let merged = restore_full_dump_authz(client, full_dump, opts.drop).await?;
        report.add_users_and_roles(merged);
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

pub(super) fn tempfile_in_tmp() -> Result<TempPath> {
    let path = std::env::temp_dir().join(format!(
        "mongoctl-oplog-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    File::create(&path)?;
    Ok(TempPath(path))
}

/// A temporary file removed on drop.
pub(super) struct TempPath(PathBuf);

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
/// namespace's CRC at its EOF block, spools the oplog to `oplog_path` and keeps the users and
/// roles `keep` asks for. Returns the number of oplog entries and the users and roles.
pub(super) fn demultiplex<R: Read>(
    mut reader: ArchiveReader<R>,
    mut senders: BTreeMap<String, mpsc::Sender<Batch>>,
    oplog_path: &Path,
    keep: KeepAuthz,
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
                if let Some((key_db, kind)) = authz_kind(&db, &coll) {
                    if keep.keeps(&key_db) {
                        let key = (key_db, kind.to_string());
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
                if let Some((key_db, kind)) = authz_kind(&db, &coll) {
                    if keep.keeps(&key_db) {
                        let key = (key_db, kind.to_string());
                        let mine = authz_open.remove(&key).unwrap_or_default();
                        if crc != 0 && mine.value() != crc {
                            let msg = format!("archive: {db}.{coll}: CRC mismatch");
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
        let ns = if db == EVERY_DATABASE {
            format!("admin.system.{kind}")
        } else {
            format!("{db}.$admin.system.{kind}")
        };
        bail!(
            "the archive is incomplete: it ends before the EOF block of {ns} (truncated, or an interrupted backup)"
        );
    }
    Ok((oplog_n, authz))
}
