//! The directory layout (`<db>/<coll>.bson[.gz]` + `.metadata.json[.gz]`, as mongodump
//! writes it): file names checked before the first write, collections drained in parallel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bson::{Document, RawDocumentBuf};
use mongodb::{Client, Collection};
use tokio::sync::{Semaphore, mpsc};

use crate::backup::checksum::Checksums;

use crate::backup::direct::Access;
use crate::backup::events::{Event, Observer, Phase};
use crate::backup::filename::{collection_stem, database_dir, inside};
use crate::backup::manifest::{FileEntry, FileKind, INCOMPLETE_FILE, MANIFEST_FILE};

use super::drain::{Chunk, ChunkPool, Drained, drain};
use super::files::{Encoding, spawn_file_writer, write_file};
use super::join::{Turns, spawn_relay};
use super::parts::{drain_parts, ranges_for};
use super::split::Range;
use super::targets::Target;
use super::users_roles::{AUTHZ_COLLECTIONS, authz_namespace, dump_users_and_roles};
use super::{BackupOptions, Counts, filter_for, parts_per_target};

/// A collection's files in the directory layout, each as (path relative to the backup, as
/// the manifest records it; path on disk).
pub(super) struct TargetFiles {
    metadata: (String, PathBuf),
    data: (String, PathBuf),
}

/// `<db>/<stem>.metadata.json[.gz][.age]` and `<db>/<stem>.bson[.gz][.age]`, the stem escaped
/// as mongodump escapes it: refused when a path would leave `dir`, or when a long name's stem
/// with `.age` would be longer than a file name may be.
pub(super) fn directory_files(dir: &Path, t: &Target, opts: &BackupOptions) -> Result<TargetFiles> {
    let ns = t.ns();
    let db = database_dir(&t.db).with_context(|| format!("backing up {ns}"))?;
    let stem = collection_stem(&t.meta.name);
    let suffix = opts.encoding().suffix();
    let file = |ext: &str| -> Result<(String, PathBuf)> {
        let name = format!("{stem}{ext}{suffix}");
        if name.len() > 255 {
            bail!(
                "backing up {ns}: its file name {name:?} would be {} bytes, longer than a file \
                 name may be (255) with the encrypted backup's .age suffix; back it up with \
                 --archive instead; nothing was written",
                name.len()
            );
        }
        let rel = format!("{db}/{name}");
        let path = inside(dir, Path::new(&rel), &ns)?;
        Ok((rel, path))
    };
    Ok(TargetFiles {
        metadata: file(".metadata.json")?,
        data: file(".bson")?,
    })
}

pub(super) fn prepare_dir(d: &Path) -> Result<()> {
    if d.exists() {
        if d.join(MANIFEST_FILE).exists() {
            bail!(
                "{} already holds a complete backup; choose a new directory",
                d.display()
            );
        }
        let non_empty = std::fs::read_dir(d)
            .with_context(|| format!("reading {}", d.display()))?
            .next()
            .is_some();
        if non_empty {
            bail!(
                "{} is not empty (an interrupted backup?); choose a new directory or remove it",
                d.display()
            );
        }
    }
    std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    let marker = d.join(INCOMPLETE_FILE);
    std::fs::write(
        &marker,
        "mongoctl is writing this backup; its manifest.json, written last, replaces this file\n",
    )
    .with_context(|| format!("creating {}", marker.display()))
}

pub(super) async fn dump_directory(
    client: &Client,
    opts: &BackupOptions,
    targets: &[Target],
    dir: &Path,
    observe: &Observer,
) -> Result<(Vec<FileEntry>, Counts)> {
    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut files = Vec::new();
    let parts = parts_per_target(targets, opts);
    for (i, t) in targets.iter().enumerate() {
        let paths = directory_files(dir, t, opts)?;
        if let Some(dbdir) = paths.metadata.1.parent() {
            std::fs::create_dir_all(dbdir)
                .with_context(|| format!("creating {}", dbdir.display()))?;
        }
        let (n, checksums) = write_file(&paths.metadata.1, t.meta.to_json().as_bytes(), opts)?;
        files.push((
            i * 2,
            FileEntry {
                path: paths.metadata.0,
                kind: FileKind::Metadata,
                namespace: Some(t.ns()),
                documents: None,
                bytes: n,
                checksums,
                encrypted: !opts.encrypt.is_empty(),
            },
        ));
        if t.meta.is_view() {
            continue;
        }
        let (rel, path) = paths.data;
        let coll = client
            .database(&t.db)
            .collection::<RawDocumentBuf>(&t.source);
        let filter = filter_for(t, opts);
        let batch = t.batch_size();
        let ns = t.ns();
        observe(Event::NamespaceStarted {
            index: i,
            namespace: &ns,
            expected_docs: t.estimate,
        });
        let observe = observe.clone();
        let (enc, sync) = (opts.encoding(), opts.sync);
        let encrypted = !opts.encrypt.is_empty();
        let sem = sem.clone();
        let (n, t) = (parts[i], t.clone());
        tasks.spawn(async move {
            let finished = if n > 1 {
                let file = SplitFile {
                    path,
                    enc,
                    sync,
                    index: i,
                };
                drain_split(coll, filter, &t, n, batch, file, sem, &observe).await
            } else {
                let _permit = sem.acquire_owned().await?;
                let pool = ChunkPool::default();
                let (tx, writer) = spawn_file_writer(path, enc, sync, Access::Shared, pool.clone());
                let drained =
                    drain(coll, filter, &Range::whole(), batch, tx, pool, i, &observe).await;
                (|| {
                    let written = writer
                        .join()
                        .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
                    let drained = drained?;
                    let (bytes, checksums) = written?;
                    Ok::<_, anyhow::Error>((drained, bytes, checksums, 1))
                })()
            };
            observe(Event::NamespaceFinished {
                index: i,
                ok: finished.is_ok(),
            });
            let (drained, bytes, checksums, used) = finished?;
            Ok::<_, anyhow::Error>((
                i * 2 + 1,
                ns.clone(),
                used,
                drained.digest.finish().hash,
                FileEntry {
                    path: rel,
                    kind: FileKind::Data,
                    namespace: Some(ns),
                    documents: Some(drained.docs),
                    bytes,
                    checksums,
                    encrypted,
                },
            ))
        });
    }
    let mut counts = Counts::default();
    while let Some(r) = tasks.join_next().await {
        let (order, ns, used, digest, entry) = r??;
        if used > 1 {
            counts.parts.insert(ns.clone(), used);
        }
        counts.docs.insert(ns.clone(), entry.documents.unwrap_or(0));
        counts.digests.insert(ns, digest);
        files.push((order, entry));
    }
    files.sort_by_key(|(o, _)| *o);
    let mut files: Vec<FileEntry> = files.into_iter().map(|(_, f)| f).collect();
    if opts.users_and_roles {
        observe(Event::Phase(Phase::UsersAndRoles));
        let mut dbs: Vec<&str> = targets.iter().map(|t| t.db.as_str()).collect();
        dbs.dedup();
        for db in dbs {
            let saved = dump_users_and_roles(client, opts, dir, db).await?;
            for (f, coll) in saved.iter().zip(AUTHZ_COLLECTIONS) {
                let n = f.documents.unwrap_or(0);
                counts.authz.push(authz_namespace(db, coll, n));
            }
            files.extend(saved);
        }
    }
    Ok((files, counts))
}

/// Where a split collection's file goes and how it is written.
struct SplitFile {
    path: PathBuf,
    enc: Encoding,
    sync: bool,
    /// The namespace's index in the events (and in the spools' names).
    index: usize,
}

/// Drains `t` in up to `parts` `_id` ranges into its one file, the parts joined in order:
/// (drained, bytes, checksums of the joined file, parts used).
#[allow(clippy::too_many_arguments)]
async fn drain_split(
    coll: Collection<RawDocumentBuf>,
    filter: Document,
    t: &Target,
    parts: usize,
    batch: u32,
    file: SplitFile,
    cursors: Arc<Semaphore>,
    observe: &Observer,
) -> Result<(Drained, u64, Checksums, usize)> {
    let ranges = ranges_for(&coll, t, parts).await?;
    let used = ranges.len();
    let pool = ChunkPool::default();
    let (tx, writer) = spawn_file_writer(
        file.path.clone(),
        file.enc,
        file.sync,
        Access::Shared,
        pool.clone(),
    );
    let spool_dir = file
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let turns = Arc::new(Turns::default());
    let mut senders = Vec::with_capacity(used);
    let mut relays = Vec::with_capacity(used);
    for k in 0..used {
        let (ptx, prx) = mpsc::channel::<Chunk>(4);
        senders.push(ptx);
        // A short name of its own: the data file's name may already be 255 bytes long.
        let spool = spool_dir.join(format!(".mongoctl-part-{}-{k}.spool", file.index));
        relays.push(spawn_relay(
            k,
            spool,
            prx,
            tx.clone(),
            turns.clone(),
            pool.clone(),
        ));
    }
    drop(tx);
    let abort = turns.clone();
    let drained = drain_parts(
        coll,
        filter,
        ranges,
        senders,
        batch,
        pool,
        cursors,
        file.index,
        observe,
        move || abort.abort(),
    )
    .await;
    let joined = tokio::task::spawn_blocking(move || {
        let relayed: Result<()> = relays.into_iter().try_for_each(|r| {
            r.join()
                .map_err(|_| anyhow::anyhow!("a part's relay thread panicked"))?
        });
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
        Ok::<_, anyhow::Error>((relayed, written))
    })
    .await?;
    // A drain's own error says more than the relays' "another part failed".
    let drained = drained?;
    let (relayed, written) = joined?;
    relayed?;
    let (bytes, checksums) = written?;
    Ok((drained, bytes, checksums, used))
}
