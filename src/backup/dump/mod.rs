//! Reading a cluster into a backup. Each collection's cursor is drained as raw BSON (never
//! decoded) into ~1 MiB chunks that a writer thread hashes, optionally gzips and writes:
//! one file per collection in the directory layout, one multiplexed stream for an archive.
//! Collections are drained in parallel (`jobs`), a large one in `_id` ranges on several
//! cursors (`split`); memory is bounded by the chunk channels.

mod archive;
mod directory;
mod drain;
mod files;
mod join;
pub mod oplog;
mod parts;
pub mod split;
mod targets;
mod users_roles;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bson::{Document, Timestamp};
use mongodb::Client;

use crate::backup::crypto::{AGE_SUFFIX, Recipients};
use crate::backup::direct::{Access, OutputFile};
use crate::backup::events::{Event, Observer, Phase};
use crate::backup::manifest::{
    FORMAT, FileEntry, FileKind, INCOMPLETE_FILE, Layout, MANIFEST_FILE, Manifest, NamespaceEntry,
    OplogRange, manifest_path,
};
use crate::backup::nsmatch::NsRules;

use archive::{archive_access, dump_archive};
use directory::{directory_files, dump_directory, prepare_dir};
pub use drain::{Chunk, ChunkPool, Drained, drain};
use files::cursor_to_file;
pub use files::{Encoding, Sink};
pub use oplog::{last_oplog_ts, oplog_start};
use oplog::{oplog_cursor, track_ts};
pub use split::SplitMode;
use split::{Candidate, plan_parts, splittable};
pub use targets::{Target, discover, server_version};

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
    /// Encrypt every file (directory) or the archive to these age recipients (none: plain).
    pub encrypt: Recipients,
    /// Whether a collection is read in `_id` ranges by several cursors.
    pub split: SplitMode,
}

impl BackupOptions {
    pub fn encoding(&self) -> Encoding {
        Encoding {
            gzip: self.gzip,
            level: self.gzip_level,
            encrypt: self.encrypt.clone(),
        }
    }
}

pub struct BackupSummary {
    pub location: String,
    pub manifest: Manifest,
    pub elapsed_secs: f64,
    /// The collections read in `_id` ranges, with their number of parts (cursors).
    pub parts: std::collections::BTreeMap<String, usize>,
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
        Some(oplog_start(client).await?)
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
    let counts_parts = counts.parts.clone();
    let mut oplog = None;
    if let Some(start) = oplog_start {
        let (entry, range) = match &opts.output {
            Output::Directory(d) => {
                observe(Event::Phase(Phase::CopyingOplog));
                // mongodump names it oplog.bson even when its content is gzip-compressed,
                // and mongorestore --oplogReplay looks for exactly that name (an encrypted
                // one is no file mongorestore reads: it says so by its .age).
                let name = if opts.encrypt.is_empty() {
                    "oplog.bson".to_string()
                } else {
                    format!("oplog.bson{AGE_SUFFIX}")
                };
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
                        encrypted: !opts.encrypt.is_empty(),
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
        encryption: opts.encrypt.record(),
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
                digest: counts.digests.get(&t.ns()).cloned(),
            })
            .chain(counts.authz)
            .collect(),
        files,
    };
    match &opts.output {
        Output::Directory(d) => {
            manifest.write_atomic(&d.join(MANIFEST_FILE))?;
            let marker = d.join(INCOMPLETE_FILE);
            std::fs::remove_file(&marker)
                .with_context(|| format!("removing {}", marker.display()))?;
        }
        Output::Archive(p) => manifest.write_atomic(&manifest_path(p))?,
        Output::Stdout => {}
    }
    Ok(BackupSummary {
        location,
        manifest,
        elapsed_secs: t0.elapsed().as_secs_f64(),
        parts: counts_parts,
    })
}

#[derive(Default)]
pub struct Counts {
    pub docs: std::collections::BTreeMap<String, u64>,
    /// The content digest (32 hex digits) of each collection's documents as drained.
    pub digests: std::collections::BTreeMap<String, String>,
    /// users, roles and auth schema version saved per database (`--users-and-roles`)
    pub authz: Vec<NamespaceEntry>,
    /// (entries, last timestamp) of the oplog copied into an archive
    pub oplog: Option<(u64, Timestamp)>,
    /// The collections read in more than one part: how many.
    pub parts: std::collections::BTreeMap<String, usize>,
}

/// How many `_id` ranges (cursors) each target is read in: views read nothing and do not
/// count as collections to drain.
fn parts_per_target(targets: &[Target], opts: &BackupOptions) -> Vec<usize> {
    let drained: Vec<usize> = (0..targets.len())
        .filter(|&i| !targets[i].meta.is_view())
        .collect();
    let cands: Vec<Candidate> = drained
        .iter()
        .map(|&i| Candidate {
            splittable: splittable(&targets[i]),
            size: targets[i].size,
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let planned = plan_parts(&cands, opts.split, opts.jobs, cores);
    let mut parts = vec![1; targets.len()];
    for (&i, n) in drained.iter().zip(planned) {
        parts[i] = n;
    }
    parts
}

fn filter_for(t: &Target, opts: &BackupOptions) -> Document {
    match &opts.query {
        Some((_, q)) if !t.meta.is_timeseries() => q.clone(),
        _ => Document::new(),
    }
}
