//! Reading a cluster into a backup. Each collection's cursor is drained as raw BSON (never
//! decoded) into ~1 MiB chunks that a writer thread hashes, optionally gzips and writes:
//! one file per collection in the directory layout, one multiplexed stream for an archive.
//! Collections are drained in parallel (`jobs`); memory is bounded by the chunk channels.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bson::{Document, RawDocumentBuf, Timestamp, doc};
use futures::TryStreamExt;
use mongodb::raw_batch_cursor::RawBatchCursor;
use mongodb::{Client, Collection};
use tokio::sync::{Semaphore, mpsc};

use super::archive::{ArchiveWriter, CollectionEntry, Header};
use super::checksum::{Checksums, Crc64};
use super::direct::{Access, OutputFile};
use super::events::{Event, Observer, Phase};
use super::filename::{collection_stem, database_dir, inside};
use super::format::CollectionMeta;
use super::gz::{HashWriter, ParGzWriter};
use super::manifest::{
    FORMAT, FileEntry, FileKind, Layout, MANIFEST_FILE, Manifest, NamespaceEntry, OplogRange,
    manifest_path,
};
use super::nsmatch::NsRules;
use super::{SYSTEM_DATABASES, ns};

const CHUNK: usize = 1 << 20;

/// Chunk buffers handed back by the writers for the drains to fill again: a backup reuses a
/// few dozen buffers instead of allocating (and page-faulting in) a fresh one per MiB.
#[derive(Clone, Default)]
pub struct ChunkPool(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl ChunkPool {
    const KEEP: usize = 4;

    fn take(&self) -> Vec<u8> {
        let reused = self.0.lock().ok().and_then(|mut p| p.pop());
        reused.unwrap_or_else(|| Vec::with_capacity(CHUNK + 64 * 1024))
    }

    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut p) = self.0.lock()
            && p.len() < Self::KEEP
        {
            p.push(buf);
        }
    }
}

pub enum Output {
    Directory(PathBuf),
    Archive(PathBuf),
    Stdout,
}

pub struct BackupOptions {
    pub output: Output,
    pub gzip: bool,
    pub gzip_level: u32,
    /// Databases to back up; empty: every database except admin, local and config.
    pub databases: Vec<String>,
    /// Collections to back up (within the databases); empty: all.
    pub collections: Vec<String>,
    pub rules: NsRules,
    /// Extended JSON filter applied to every collection (not views or time series).
    pub query: Option<(String, Document)>,
    pub jobs: usize,
    pub oplog: bool,
    /// Also the databases' users and roles (mongodump --dumpDbUsersAndRoles).
    pub users_and_roles: bool,
    /// fsync every file before the manifest is written (a complete manifest then means the
    /// data is on disk, not only in the page cache).
    pub sync: bool,
}

/// One collection to dump.
#[derive(Debug, Clone)]
pub struct Target {
    pub db: String,
    pub meta: CollectionMeta,
    /// The collection read (`system.buckets.<name>` for a time series).
    pub source: String,
    pub estimate: u64,
    pub size: i64,
}

impl Target {
    pub fn ns(&self) -> String {
        ns(&self.db, &self.meta.name)
    }

    /// Documents per cursor batch for ~4 MiB batches (the server's default is up to 16 MiB,
    /// which the driver holds in memory per cursor).
    pub fn batch_size(&self) -> u32 {
        let avg = if self.estimate > 0 && self.size > 0 {
            (self.size as u64 / self.estimate).max(1)
        } else {
            1024
        };
        ((4u64 << 20) / avg).clamp(100, 100_000) as u32
    }
}

pub struct BackupSummary {
    pub location: String,
    pub manifest: Manifest,
    pub elapsed_secs: f64,
}

pub async fn server_version(client: &Client) -> Result<String> {
    let b = client
        .database("admin")
        .run_command(doc! {"buildInfo": 1})
        .await
        .context("buildInfo")?;
    Ok(b.get_str("version").unwrap_or("unknown").to_string())
}

/// The collections `opts` selects, sorted by namespace.
pub async fn discover(client: &Client, opts: &BackupOptions) -> Result<Vec<Target>> {
    let dbs = if opts.databases.is_empty() {
        client
            .list_database_names()
            .await
            .context("listing databases")?
            .into_iter()
            .filter(|d| !SYSTEM_DATABASES.contains(&d.as_str()))
            .collect()
    } else {
        opts.databases.clone()
    };
    let mut out = Vec::new();
    for dbname in dbs {
        let db = client.database(&dbname);
        let entries: Vec<Document> = db
            .run_cursor_command(doc! {"listCollections": 1})
            .await
            .with_context(|| format!("listing the collections of {dbname}"))?
            .try_collect()
            .await?;
        for e in entries {
            let name = e.get_str("name").unwrap_or_default().to_string();
            if name.starts_with("system.") || (dbname == "mongoctl" && name == "restore_progress") {
                continue;
            }
            if !opts.collections.is_empty() && !opts.collections.contains(&name) {
                continue;
            }
            if !opts.rules.selected(&ns(&dbname, &name)) {
                continue;
            }
            let kind = e.get_str("type").unwrap_or("collection").to_string();
            let indexes: Vec<Document> = if kind == "view" {
                Vec::new()
            } else {
                db.run_cursor_command(doc! {"listIndexes": &name})
                    .await
                    .with_context(|| format!("listing the indexes of {dbname}.{name}"))?
                    .try_collect()
                    .await?
            };
            let meta = CollectionMeta::from_list_entry(&e, indexes);
            let source = if meta.is_timeseries() {
                format!("system.buckets.{name}")
            } else {
                name.clone()
            };
            let (estimate, size) = if meta.is_view() {
                (0, 0)
            } else {
                let c = db.collection::<Document>(&source);
                let est = c.estimated_document_count().await.unwrap_or(0);
                let size = db
                    .run_command(doc! {"collStats": &source})
                    .await
                    .ok()
                    .and_then(|s| match s.get("size") {
                        Some(bson::Bson::Int32(v)) => Some(*v as i64),
                        Some(bson::Bson::Int64(v)) => Some(*v),
                        Some(bson::Bson::Double(v)) => Some(*v as i64),
                        _ => None,
                    })
                    .unwrap_or(0);
                (est, size)
            };
            out.push(Target {
                db: dbname.clone(),
                meta,
                source,
                estimate,
                size,
            });
        }
    }
    out.sort_by_key(|t| t.ns());
    Ok(out)
}

/// Concatenated raw documents of one collection.
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub docs: u64,
}

/// Drains a collection's cursor as raw BSON into chunks, telling `observe` about each chunk
/// as namespace `index`; returns the document count.
#[allow(clippy::too_many_arguments)]
pub async fn drain(
    coll: Collection<RawDocumentBuf>,
    filter: Document,
    batch_size: u32,
    tx: mpsc::Sender<Chunk>,
    pool: ChunkPool,
    index: usize,
    observe: &Observer,
) -> Result<u64> {
    let cursor = coll
        .find(filter)
        .batch_size(batch_size)
        .batch()
        .await
        .with_context(|| format!("querying {}", coll.namespace()))?;
    let ns = coll.namespace().to_string();
    let advanced = |docs, bytes| observe(Event::Advanced { index, docs, bytes });
    drain_cursor(cursor, &ns, tx, pool, advanced, |_| {}).await
}

/// Sends a cursor's raw documents as ~1 MiB chunks, showing each document to `each` and each
/// chunk's (documents, bytes) to `advanced`; returns the
/// document count. The driver's raw batches are read in place: each document is copied once,
/// from the server's reply into a chunk, never into an allocation of its own.
async fn drain_cursor(
    mut cursor: RawBatchCursor,
    ns: &str,
    tx: mpsc::Sender<Chunk>,
    pool: ChunkPool,
    advanced: impl Fn(u64, u64),
    mut each: impl FnMut(&bson::RawDocument),
) -> Result<u64> {
    let mut buf = pool.take();
    let mut in_buf = 0u64;
    let mut total = 0u64;
    while let Some(batch) = cursor
        .try_next()
        .await
        .with_context(|| format!("reading {ns}"))?
    {
        let docs = batch
            .doc_slices()
            .with_context(|| format!("reading {ns}"))?;
        for doc in docs {
            let doc = doc
                .ok()
                .and_then(|d| d.as_document())
                .with_context(|| format!("reading {ns}: the server sent a malformed batch"))?;
            each(doc);
            buf.extend_from_slice(doc.as_bytes());
            in_buf += 1;
            if buf.len() < CHUNK {
                continue;
            }
            total += in_buf;
            advanced(in_buf, buf.len() as u64);
            let bytes = std::mem::replace(&mut buf, pool.take());
            tx.send(Chunk {
                bytes,
                docs: in_buf,
            })
            .await
            .map_err(|_| anyhow::anyhow!("the writer of {ns} stopped"))?;
            in_buf = 0;
        }
    }
    if in_buf > 0 {
        total += in_buf;
        advanced(in_buf, buf.len() as u64);
        tx.send(Chunk {
            bytes: buf,
            docs: in_buf,
        })
        .await
        .map_err(|_| anyhow::anyhow!("the writer of {ns} stopped"))?;
    }
    Ok(total)
}

/// A thread writing the chunks it receives to `path` through a [`Sink`]: (bytes, checksums).
fn spawn_file_writer(
    path: PathBuf,
    gzip: bool,
    level: u32,
    sync: bool,
    access: Access,
    recycle: ChunkPool,
) -> (
    mpsc::Sender<Chunk>,
    std::thread::JoinHandle<Result<(u64, Checksums)>>,
) {
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let writer = std::thread::spawn(move || -> Result<(u64, Checksums)> {
        let f = OutputFile::create(&path, sync, access)
            .with_context(|| format!("creating {}", path.display()))?;
        let mut s = Sink::new(f, gzip, level);
        while let Some(c) = rx.blocking_recv() {
            s.write_all(&c.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            recycle.give(c.bytes);
        }
        let (f, n, checksums) = s
            .finish()
            .with_context(|| format!("writing {}", path.display()))?;
        f.finish()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok((n, checksums))
    });
    (tx, writer)
}

/// Streams a cursor into a new file at `path`: (documents, bytes, checksums).
async fn cursor_to_file(
    cursor: RawBatchCursor,
    ns: &str,
    path: &Path,
    opts: &BackupOptions,
    access: Access,
    each: impl FnMut(&bson::RawDocument),
) -> Result<(u64, u64, Checksums)> {
    let pool = ChunkPool::default();
    let (tx, writer) = spawn_file_writer(
        path.to_path_buf(),
        opts.gzip,
        opts.gzip_level,
        opts.sync,
        access,
        pool.clone(),
    );
    let drained = drain_cursor(cursor, ns, tx, pool, |_, _| {}, each).await;
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
    let docs = drained?;
    let (bytes, checksums) = written?;
    Ok((docs, bytes, checksums))
}

/// A file being written: hashed, optionally gzip-compressed.
pub enum Sink<W: Write> {
    Plain(HashWriter<W>),
    Gzip(ParGzWriter<HashWriter<W>>),
}

impl<W: Write> Sink<W> {
    pub fn new(w: W, gzip: bool, level: u32) -> Self {
        if gzip {
            Sink::Gzip(ParGzWriter::new(HashWriter::new(w), level))
        } else {
            Sink::Plain(HashWriter::new(w))
        }
    }

    /// (writer, bytes, checksums)
    pub fn finish(self) -> std::io::Result<(W, u64, Checksums)> {
        match self {
            Sink::Plain(h) => h.finish(),
            Sink::Gzip(g) => g.finish()?.finish(),
        }
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(h) => h.write(buf),
            Sink::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(h) => h.flush(),
            Sink::Gzip(g) => g.flush(),
        }
    }
}

/// Writes a whole small file through a [`Sink`] (fsynced when `sync`): (bytes, checksums).
fn write_file(path: &Path, data: &[u8], opts: &BackupOptions) -> Result<(u64, Checksums)> {
    let f = OutputFile::create(path, opts.sync, Access::Shared)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut s = Sink::new(f, opts.gzip, opts.gzip_level);
    s.write_all(data)?;
    let (f, n, checksums) = s.finish()?;
    f.finish()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((n, checksums))
}

fn gz_suffix(gzip: bool) -> &'static str {
    if gzip { ".gz" } else { "" }
}

/// An archive with users and roles holds credential hashes: readable by the owner only.
fn archive_access(opts: &BackupOptions) -> Access {
    if opts.users_and_roles {
        Access::Private
    } else {
        Access::Shared
    }
}

/// A collection's files in the directory layout, each as (path relative to the backup, as
/// the manifest records it; path on disk).
struct TargetFiles {
    metadata: (String, PathBuf),
    data: (String, PathBuf),
}

/// `<db>/<stem>.metadata.json[.gz]` and `<db>/<stem>.bson[.gz]`, the stem escaped as mongodump
/// escapes it: refused when a path would leave `dir`.
fn directory_files(dir: &Path, t: &Target, opts: &BackupOptions) -> Result<TargetFiles> {
    let ns = t.ns();
    let db = database_dir(&t.db).with_context(|| format!("backing up {ns}"))?;
    let stem = collection_stem(&t.meta.name);
    let file = |ext: &str| -> Result<(String, PathBuf)> {
        let rel = format!("{db}/{stem}{ext}{}", gz_suffix(opts.gzip));
        let path = inside(dir, Path::new(&rel), &ns)?;
        Ok((rel, path))
    };
    Ok(TargetFiles {
        metadata: file(".metadata.json")?,
        data: file(".bson")?,
    })
}

/// Runs a backup and writes its manifest last, telling `observe` how it goes.
pub async fn backup(
    client: &Client,
    opts: &BackupOptions,
    observe: &Observer,
) -> Result<BackupSummary> {
    let t0 = Instant::now();
    let started_at = chrono::Utc::now();
    let server_version = server_version(client).await?;
    let targets = discover(client, opts).await?;
    if targets.is_empty() {
        bail!("nothing to back up: no collection matches the selection");
    }
    let location = match &opts.output {
        Output::Directory(d) => {
            // Every name is checked before the first file is created.
            for t in &targets {
                directory_files(d, t, opts)?;
            }
            prepare_dir(d)?;
            d.display().to_string()
        }
        Output::Archive(p) => {
            if p.exists() || manifest_path(p).exists() {
                bail!("{} already exists; choose a new file name", p.display());
            }
            p.display().to_string()
        }
        Output::Stdout => "(stdout)".to_string(),
    };
    let oplog_start = if opts.oplog {
        Some(last_oplog_ts(client).await?)
    } else {
        None
    };
    let total: u64 = targets.iter().map(|t| t.estimate).sum();
    observe(Event::Started {
        expected_docs: total,
    });
    let (mut files, counts) = match &opts.output {
        Output::Directory(d) => dump_directory(client, opts, &targets, d, observe).await?,
        Output::Archive(p) => {
            let f = OutputFile::create(p, opts.sync, archive_access(opts))
                .with_context(|| format!("creating {}", p.display()))?;
            let w: Box<dyn Write + Send> = Box::new(f);
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (entry, counts) = dump_archive(
                client,
                opts,
                &targets,
                &server_version,
                w,
                name,
                oplog_start,
                observe,
            )
            .await?;
            if opts.sync {
                File::open(p)?.sync_all()?;
            }
            (vec![entry], counts)
        }
        Output::Stdout => {
            let w: Box<dyn Write + Send> =
                Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout()));
            let (entry, counts) = dump_archive(
                client,
                opts,
                &targets,
                &server_version,
                w,
                "-".into(),
                oplog_start,
                observe,
            )
            .await?;
            (vec![entry], counts)
        }
    };
    observe(Event::Finished);
    let mut oplog = None;
    if let Some(start) = oplog_start {
        let (entry, range) = match &opts.output {
            Output::Directory(d) => {
                observe(Event::Phase(Phase::CopyingOplog));
                // mongodump names it oplog.bson even when its content is gzip-compressed,
                // and mongorestore --oplogReplay looks for exactly that name.
                let name = "oplog.bson".to_string();
                let mut end = start;
                let (docs, n, checksums) = cursor_to_file(
                    oplog_cursor(client, start).await?,
                    "local.oplog.rs",
                    &d.join(&name),
                    opts,
                    Access::Shared,
                    |e| track_ts(e, &mut end),
                )
                .await?;
                (
                    Some(FileEntry {
                        path: name,
                        kind: FileKind::Oplog,
                        namespace: None,
                        documents: Some(docs),
                        bytes: n,
                        checksums,
                    }),
                    OplogRange {
                        start: [start.time, start.increment],
                        end: [end.time, end.increment],
                        entries: docs,
                    },
                )
            }
            // The archive writer copied the oplog into the stream itself.
            _ => {
                let (docs, end) = counts.oplog.unwrap_or((0, start));
                (
                    None,
                    OplogRange {
                        start: [start.time, start.increment],
                        end: [end.time, end.increment],
                        entries: docs,
                    },
                )
            }
        };
        files.extend(entry);
        oplog = Some(range);
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        tool_version: format!("mongoctl {}", env!("CARGO_PKG_VERSION")),
        server_version,
        layout: match opts.output {
            Output::Directory(_) => Layout::Directory,
            _ => Layout::Archive,
        },
        gzip: opts.gzip,
        started_at,
        finished_at: chrono::Utc::now(),
        query: opts.query.as_ref().map(|(t, _)| t.clone()),
        oplog,
        namespaces: targets
            .iter()
            .map(|t| NamespaceEntry {
                namespace: t.ns(),
                kind: t.meta.kind.clone(),
                documents: counts.docs.get(&t.ns()).copied().unwrap_or(0),
            })
            .chain(counts.authz)
            .collect(),
        files,
    };
    match &opts.output {
        Output::Directory(d) => manifest.write_atomic(&d.join(MANIFEST_FILE))?,
        Output::Archive(p) => manifest.write_atomic(&manifest_path(p))?,
        Output::Stdout => {}
    }
    Ok(BackupSummary {
        location,
        manifest,
        elapsed_secs: t0.elapsed().as_secs_f64(),
    })
}

fn prepare_dir(d: &Path) -> Result<()> {
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
    std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))
}

#[derive(Default)]
pub struct Counts {
    pub docs: std::collections::BTreeMap<String, u64>,
    /// users, roles and auth schema version saved per database (`--users-and-roles`)
    pub authz: Vec<NamespaceEntry>,
    /// (entries, last timestamp) of the oplog copied into an archive
    pub oplog: Option<(u64, Timestamp)>,
}

fn filter_for(t: &Target, opts: &BackupOptions) -> Document {
    match &opts.query {
        Some((_, q)) if !t.meta.is_timeseries() => q.clone(),
        _ => Document::new(),
    }
}

async fn dump_directory(
    client: &Client,
    opts: &BackupOptions,
    targets: &[Target],
    dir: &Path,
    observe: &Observer,
) -> Result<(Vec<FileEntry>, Counts)> {
    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut files = Vec::new();
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
        let (gzip, level, sync) = (opts.gzip, opts.gzip_level, opts.sync);
        let sem = sem.clone();
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await?;
            let pool = ChunkPool::default();
            let (tx, writer) =
                spawn_file_writer(path, gzip, level, sync, Access::Shared, pool.clone());
            let drained = drain(coll, filter, batch, tx, pool, i, &observe).await;
            let finished = (|| {
                let written = writer
                    .join()
                    .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
                let docs = drained?;
                let (bytes, checksums) = written?;
                Ok::<_, anyhow::Error>((docs, bytes, checksums))
            })();
            observe(Event::NamespaceFinished {
                index: i,
                ok: finished.is_ok(),
            });
            let (docs, bytes, checksums) = finished?;
            Ok::<_, anyhow::Error>((
                i * 2 + 1,
                ns.clone(),
                FileEntry {
                    path: rel,
                    kind: FileKind::Data,
                    namespace: Some(ns),
                    documents: Some(docs),
                    bytes,
                    checksums,
                },
            ))
        });
    }
    let mut counts = Counts::default();
    while let Some(r) = tasks.join_next().await {
        let (order, ns, entry) = r??;
        counts.docs.insert(ns, entry.documents.unwrap_or(0));
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

/// What mongodump --dumpDbUsersAndRoles saves per database: `$admin.<coll>` with the
/// database's users and roles, and all of admin.system.version (the auth schema version that
/// mongorestore checks).
const AUTHZ_COLLECTIONS: [&str; 3] = ["system.users", "system.roles", "system.version"];

/// A cursor over the documents of admin.`coll` that belong to database `db`.
async fn authz_cursor(client: &Client, db: &str, coll: &str) -> Result<RawBatchCursor> {
    let filter = if coll == "system.version" {
        doc! {}
    } else {
        doc! {"db": db}
    };
    client
        .database("admin")
        .collection::<RawDocumentBuf>(coll)
        .find(filter)
        .batch()
        .await
        .with_context(|| format!("reading admin.{coll} (needs a user allowed to read it)"))
}

/// The manifest's entry for a database's saved users, roles or auth schema version, named as
/// the archive names them (`<db>.$admin.system.users`) so that `backup verify` checks its count.
fn authz_namespace(db: &str, coll: &str, documents: u64) -> NamespaceEntry {
    let kind = match coll {
        "system.users" => "users",
        "system.roles" => "roles",
        _ => "authSchema",
    };
    NamespaceEntry {
        namespace: format!("{db}.$admin.{coll}"),
        kind: kind.into(),
        documents,
    }
}

/// A database's users and roles as mongodump's `--dumpDbUsersAndRoles` writes them:
/// `<db>/$admin.system.users.bson`, `$admin.system.roles.bson`, `$admin.system.version.bson`.
async fn dump_users_and_roles(
    client: &Client,
    opts: &BackupOptions,
    dir: &Path,
    db: &str,
) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for coll in AUTHZ_COLLECTIONS {
        let rel = format!(
            "{}/$admin.{coll}.bson{}",
            database_dir(db)?,
            gz_suffix(opts.gzip)
        );
        let path = inside(dir, Path::new(&rel), &format!("{db}.$admin.{coll}"))?;
        let cursor = authz_cursor(client, db, coll).await?;
        // Credential hashes: readable by the owner only.
        let (n, len, checksums) = cursor_to_file(
            cursor,
            &format!("admin.{coll}"),
            &path,
            opts,
            Access::Private,
            |_| {},
        )
        .await?;
        out.push(FileEntry {
            path: rel,
            kind: FileKind::Data,
            namespace: Some(format!("admin.{coll}")),
            documents: Some(n),
            bytes: len,
            checksums,
        });
    }
    Ok(out)
}

enum ArchMsg {
    Segment(usize, Vec<u8>),
    Eof(usize),
}

/// Chunks sent to the returned sender reach the archive writer as segments of namespace `i`.
fn forward(
    tx: mpsc::Sender<ArchMsg>,
    i: usize,
) -> (mpsc::Sender<Chunk>, tokio::task::JoinHandle<()>) {
    let (ctx, mut crx) = mpsc::channel::<Chunk>(2);
    let fwd = tokio::spawn(async move {
        while let Some(c) = crx.recv().await {
            if tx.send(ArchMsg::Segment(i, c.bytes)).await.is_err() {
                break;
            }
        }
    });
    (ctx, fwd)
}

/// Streams a cursor into the archive as namespace `i` and ends it: the document count.
async fn cursor_to_archive(
    cursor: RawBatchCursor,
    ns: &str,
    tx: &mpsc::Sender<ArchMsg>,
    i: usize,
    pool: ChunkPool,
    each: impl FnMut(&bson::RawDocument),
) -> Result<u64> {
    let (ctx, fwd) = forward(tx.clone(), i);
    let docs = drain_cursor(cursor, ns, ctx, pool, |_, _| {}, each).await?;
    fwd.await?;
    tx.send(ArchMsg::Eof(i))
        .await
        .map_err(|_| anyhow::anyhow!("the archive writer stopped"))?;
    Ok(docs)
}

#[allow(clippy::too_many_arguments)]
async fn dump_archive(
    client: &Client,
    opts: &BackupOptions,
    targets: &[Target],
    server_version: &str,
    out: Box<dyn Write + Send>,
    name: String,
    oplog_start: Option<Timestamp>,
    observe: &Observer,
) -> Result<(FileEntry, Counts)> {
    let header = Header {
        concurrent_collections: opts.jobs.max(1) as i32,
        server_version: server_version.to_string(),
        tool_version: format!("mongoctl {}", env!("CARGO_PKG_VERSION")),
    };
    let mut entries: Vec<CollectionEntry> = targets
        .iter()
        .map(|t| CollectionEntry {
            db: t.db.clone(),
            collection: t.meta.name.clone(),
            metadata: t.meta.to_json(),
            size: t.size,
            kind: t.meta.kind.clone(),
        })
        .collect();
    let mut names: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.db.clone(), t.meta.name.clone()))
        .collect();
    // mongodump announces `$admin.system.*` of the database after its collections, with
    // empty metadata, and streams them before the collections' data.
    let mut authz = Vec::new();
    if opts.users_and_roles {
        let mut dbs: Vec<&str> = targets.iter().map(|t| t.db.as_str()).collect();
        dbs.dedup();
        for db in dbs {
            for coll in AUTHZ_COLLECTIONS {
                let e = CollectionEntry::authz(db, coll);
                authz.push((db.to_string(), coll, names.len()));
                names.push((e.db.clone(), e.collection.clone()));
                entries.push(e);
            }
        }
    }
    // mongorestore only replays an archive's oplog that the prelude announces.
    if oplog_start.is_some() {
        entries.push(CollectionEntry::oplog());
    }
    let oplog_idx = names.len();
    names.push((String::new(), "oplog".into()));
    let (gzip, level) = (opts.gzip, opts.gzip_level);
    let (tx, mut rx) = mpsc::channel::<ArchMsg>(8);
    let pool = ChunkPool::default();
    let recycle = pool.clone();
    let writer = std::thread::spawn(move || -> Result<(u64, Checksums)> {
        let sink = Sink::new(out, gzip, level);
        let mut w = ArchiveWriter::new(sink, &header, &entries)?;
        let mut crcs = vec![Crc64::default(); names.len()];
        while let Some(m) = rx.blocking_recv() {
            match m {
                ArchMsg::Segment(i, bytes) => {
                    crcs[i].update(&bytes);
                    w.segment(&names[i].0, &names[i].1, &bytes)?;
                    recycle.give(bytes);
                }
                ArchMsg::Eof(i) => w.eof(&names[i].0, &names[i].1, crcs[i].value())?,
            }
        }
        let (mut inner, n, checksums) = w.into_inner().finish()?;
        inner.flush()?;
        Ok((n, checksums))
    });
    let mut failure = None;
    let mut authz_counts = Vec::new();
    if !authz.is_empty() {
        observe(Event::Phase(Phase::UsersAndRoles));
    }
    for (db, coll, i) in &authz {
        let copied = async {
            let cursor = authz_cursor(client, db, coll).await?;
            cursor_to_archive(
                cursor,
                &format!("admin.{coll}"),
                &tx,
                *i,
                pool.clone(),
                |_| {},
            )
            .await
        };
        match copied.await {
            Ok(n) => authz_counts.push(authz_namespace(db, coll, n)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        if failure.is_some() {
            break;
        }
        let tx = tx.clone();
        if t.meta.is_view() {
            continue;
        }
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
        let sem = sem.clone();
        let pool = pool.clone();
        tasks.spawn(async move {
            let copied = async {
                let _permit = sem.acquire_owned().await?;
                let (ctx, fwd) = forward(tx.clone(), i);
                let docs = drain(coll, filter, batch, ctx, pool, i, &observe).await?;
                fwd.await?;
                tx.send(ArchMsg::Eof(i))
                    .await
                    .map_err(|_| anyhow::anyhow!("the archive writer stopped"))?;
                Ok::<_, anyhow::Error>(docs)
            }
            .await;
            observe(Event::NamespaceFinished {
                index: i,
                ok: copied.is_ok(),
            });
            Ok::<_, anyhow::Error>((ns, copied?))
        });
    }
    let mut counts = Counts {
        authz: authz_counts,
        ..Counts::default()
    };
    while let Some(r) = tasks.join_next().await {
        match r.map_err(anyhow::Error::from).and_then(|x| x) {
            Ok((ns, docs)) => {
                counts.docs.insert(ns, docs);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if failure.is_none()
        && let Some(start) = oplog_start
    {
        observe(Event::Phase(Phase::CopyingOplog));
        let mut end = start;
        let copied = async {
            let cursor = oplog_cursor(client, start).await?;
            cursor_to_archive(
                cursor,
                "local.oplog.rs",
                &tx,
                oplog_idx,
                pool.clone(),
                |e| track_ts(e, &mut end),
            )
            .await
        };
        match copied.await {
            Ok(docs) => counts.oplog = Some((docs, end)),
            Err(e) => failure = Some(e),
        }
    }
    drop(tx);
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("archive writer thread panicked"))?;
    if let Some(e) = failure {
        return Err(e);
    }
    let (bytes, checksums) = written?;
    Ok((
        FileEntry {
            path: name,
            kind: FileKind::Archive,
            namespace: None,
            documents: Some(
                counts.docs.values().sum::<u64>()
                    + counts.authz.iter().map(|a| a.documents).sum::<u64>(),
            ),
            bytes,
            checksums,
        },
        counts,
    ))
}

/// The newest oplog entry's timestamp (where a point-in-time backup starts).
pub async fn last_oplog_ts(client: &Client) -> Result<Timestamp> {
    let oplog = client.database("local").collection::<Document>("oplog.rs");
    let last = oplog
        .find_one(doc! {})
        .sort(doc! {"$natural": -1})
        .await
        .context("reading local.oplog.rs")?;
    match last.and_then(|d| d.get_timestamp("ts").ok()) {
        Some(ts) => Ok(ts),
        None => bail!("--oplog needs a replica set member (local.oplog.rs is empty or missing)"),
    }
}

/// The oplog entries after `start` up to the newest one now, oldest first. The upper bound
/// (mongodump's too) keeps the copy finite while writes arrive faster than it reads.
async fn oplog_cursor(client: &Client, start: Timestamp) -> Result<RawBatchCursor> {
    let end = last_oplog_ts(client).await?;
    client
        .database("local")
        .collection::<RawDocumentBuf>("oplog.rs")
        .find(doc! {"ts": {"$gt": start, "$lte": end}})
        .sort(doc! {"$natural": 1})
        .batch()
        .await
        .context("reading local.oplog.rs")
}

/// Records an oplog entry's `ts` as the last one seen.
fn track_ts(entry: &bson::RawDocument, last: &mut Timestamp) {
    if let Ok(ts) = entry.get_timestamp("ts") {
        *last = ts;
    }
}
