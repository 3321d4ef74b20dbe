//! The directory layout as a restore reads it: which collections the files hold and their
//! metadata (system collections sorted out as mongorestore sorts them), and each data file as
//! write batches.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bson::Document;
use tokio::sync::mpsc;

use crate::backup::bsonio::DocBatch;
use crate::backup::crypto::{AGE_SUFFIX, Identities, open_decoded};
use crate::backup::filename::{Stem, decode_stem};
use crate::backup::format::CollectionMeta;
use crate::backup::manifest::{FileKind, Manifest};
use crate::backup::nsmatch::split;

use super::system::{SERVER_OWNED, Skipped, SystemColl, classify};
use super::{BATCH_BYTES, BATCH_DOCS, Batch, Unit};

/// What a directory backup holds, as a restore reads it.
pub(super) struct Scanned {
    pub(super) units: Vec<Unit>,
    pub(super) oplog: Option<PathBuf>,
    /// Namespaces not restored as collections, and why (system collections).
    pub(super) skipped: Vec<Skipped>,
    /// A full dump's `admin/system.{users,roles}.bson`: (kind, data file).
    pub(super) full_dump_authz: Vec<(&'static str, PathBuf)>,
}

pub(super) fn strip_suffix<'a>(name: &'a str, suffixes: &[&str]) -> Option<&'a str> {
    let name = name.strip_suffix(AGE_SUFFIX).unwrap_or(name);
    suffixes.iter().find_map(|s| name.strip_suffix(s))
}

/// Scans a mongodump-layout directory: `<db>/<coll>.bson[.gz]`, `<db>/<coll>.metadata.json[.gz]`
/// (each with `.age` when encrypted, read with `ids`).
pub(super) fn scan_directory(
    dir: &Path,
    manifest: Option<&Manifest>,
    ids: &Identities,
) -> Result<Scanned> {
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
    let mut skipped: BTreeMap<String, String> = BTreeMap::new();
    let mut full_dump_authz = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_file() {
            if ["oplog.bson", "oplog.bson.gz", "oplog.bson.age"].contains(&name.as_str()) {
                oplog = Some(e.path());
            }
            continue;
        }
        let db = name;
        for f in std::fs::read_dir(e.path())? {
            let f = f?;
            let fname = f.file_name().to_string_lossy().into_owned();
            if let Some(stem) = strip_suffix(&fname, &[".metadata.json", ".metadata.json.gz"]) {
                let meta = read_metadata(&f.path(), stem, ids)?;
                match classify(&db, &meta.name) {
                    Some(SystemColl::ServerOwned) => {
                        skipped.insert(format!("{db}.{}", meta.name), SERVER_OWNED.into());
                        continue;
                    }
                    // Merged from the data file, never created as a collection.
                    Some(SystemColl::Authz(_)) => continue,
                    // The collection's own metadata file describes it.
                    Some(SystemColl::Buckets(_)) => continue,
                    Some(SystemColl::Kept) | None => {}
                }
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
                    note: None,
                });
                u.meta = meta;
            } else if let Some(stem) = strip_suffix(&fname, &[".bson", ".bson.gz"]) {
                let coll =
                    match decode_stem(stem).with_context(|| format!("{}", f.path().display()))? {
                        Stem::Name(n) => n,
                        Stem::Truncated => {
                            let tail = &fname[stem.len() + ".bson".len()..];
                            let meta_path = e.path().join(format!("{stem}.metadata.json{tail}"));
                            read_metadata(&meta_path, stem, ids)?.name
                        }
                    };
                // `$admin.system.*`: a database's saved users and roles (read_authz_files).
                if coll.starts_with("$admin.") {
                    continue;
                }
                let coll = match classify(&db, &coll) {
                    Some(SystemColl::ServerOwned) => {
                        skipped.insert(format!("{db}.{coll}"), SERVER_OWNED.into());
                        continue;
                    }
                    Some(SystemColl::Authz(kind)) => {
                        full_dump_authz.push((kind, f.path()));
                        continue;
                    }
                    Some(SystemColl::Buckets(name)) => name,
                    Some(SystemColl::Kept) | None => coll,
                };
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
                    note: None,
                });
                u.data = Some(f.path());
            }
        }
    }
    Ok(Scanned {
        units: units.into_values().collect(),
        oplog,
        skipped: skipped
            .into_iter()
            .map(|(namespace, reason)| Skipped { namespace, reason })
            .collect(),
        full_dump_authz,
    })
}

/// A metadata file of the directory layout. Its collection is named by the file's (escaped)
/// stem, or by its `collectionName` when the stem is a long name's truncated one.
pub(super) fn read_metadata(path: &Path, stem: &str, ids: &Identities) -> Result<CollectionMeta> {
    let name = match decode_stem(stem).with_context(|| format!("{}", path.display()))? {
        Stem::Name(n) => Some(n),
        Stem::Truncated => None,
    };
    let mut text = String::new();
    open_decoded(path, ids, &path.display().to_string())?
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

/// Where a namespace's metadata comes from, for errors: its metadata file (by the manifest,
/// else by mongodump's layout), relative to the backup.
pub(super) fn metadata_origin(dir: &Path, manifest: Option<&Manifest>, ns: &str) -> String {
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

/// Reads a `.bson[.gz][.age]` file into batches.
pub(super) fn read_file_batches(path: &Path, tx: &mpsc::Sender<Batch>, ids: &Identities) {
    let result = (|| -> Result<(), String> {
        let mut r =
            open_decoded(path, ids, &path.display().to_string()).map_err(|e| format!("{e:#}"))?;
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
