//! What a restore checks in a backup's files before its first write: every path the manifest
//! lists is inside the backup and nothing unlisted is there; every file matches its checksum;
//! every data file frames whole, valid BSON documents to its end (as many as the manifest
//! says); every metadata file has the shape the restore relies on. The structure check reads
//! each file in the same pass as its checksum (one read per file, files in parallel), so it
//! costs the element walk of each document, not a second pass over the disk. Whether the
//! server accepts the options, validators and index specs is asked of the server itself, on
//! the restore's temporary collections (see `restore`), still before any data is written.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::archive::{ArchiveReader, Event};
use super::bsonio::{next_data_doc, validate};
use super::checksum::Crc64;
use super::crypto::{AGE_SUFFIX, Identities, decoded};
use super::format::CollectionMeta;
use super::manifest::{Depth, FileEntry, FileKind, Manifest, check_files};

/// Checks a directory backup. With a manifest: paths, unlisted files, that `ids` open every
/// encrypted file (headers first), then checksums and structure of every listed file
/// (decrypted: age authenticates every chunk). Without one (mongodump's output, `--force`):
/// the structure of every data and metadata file in it.
pub fn check_directory(dir: &Path, manifest: Option<&Manifest>, ids: &Identities) -> Result<()> {
    let Some(m) = manifest else {
        let files = restorable_files(dir)?;
        return super::parallel::first_error(&files, |p| {
            let name = p.strip_prefix(dir).unwrap_or(p).display().to_string();
            let mut f = File::open(p).with_context(|| format!("opening {name}"))?;
            check_file(&name, &mut f, None, ids)
        });
    };
    m.check_paths(dir)?;
    let unlisted = m.unlisted_files(dir)?;
    if !unlisted.is_empty() {
        bail!(
            "{}: not listed in the manifest (a backup holds only what its manifest lists; \
             remove them or restore with a manifest that lists them): {}",
            dir.display(),
            unlisted.join(", ")
        );
    }
    m.check_identities(dir, ids)?;
    check_files(m, dir, Depth::Fast, &|f: &FileEntry, r| match f.kind {
        FileKind::Archive => bail!("{}: an archive entry in a directory backup", f.path),
        FileKind::Metadata => check_file(&f.path, r, None, ids),
        FileKind::Data | FileKind::Oplog => check_file(&f.path, r, f.documents, ids),
    })
}

/// Checks an archive file: that `ids` open it when it is encrypted, then checksum (with a
/// manifest) and structure in one read.
pub fn check_archive_file(
    path: &Path,
    manifest: Option<&Manifest>,
    ids: &Identities,
) -> Result<()> {
    let name = path.display().to_string();
    match manifest {
        Some(m) => {
            m.check_identities(path, ids)?;
            check_files(m, path, Depth::Fast, &|_, r| check_archive(&name, r, ids))
        }
        None => {
            let mut f = File::open(path).with_context(|| format!("opening {name}"))?;
            check_archive(&name, &mut f, ids)
        }
    }
}

/// `.bson[.gz]` and `.metadata.json[.gz]` files of a backup directory: the top level and one
/// database directory deep, where a restore reads them.
fn restorable_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let wanted = |p: &Path| {
        let n = p.file_name().unwrap_or_default().to_string_lossy();
        let n = n.strip_suffix(AGE_SUFFIX).unwrap_or(&n);
        [".bson", ".bson.gz", ".metadata.json", ".metadata.json.gz"]
            .iter()
            .any(|s| n.ends_with(s))
    };
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        if e.file_type()?.is_file() {
            if wanted(&e.path()) {
                out.push(e.path());
            }
            continue;
        }
        for f in std::fs::read_dir(e.path())? {
            let f = f?;
            if wanted(&f.path()) {
                out.push(f.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One data file (`expected` documents, when known) or metadata file, by its name; decrypted
/// with `ids` where it is encrypted.
fn check_file(
    name: &str,
    r: &mut (dyn Read + Send),
    expected: Option<u64>,
    ids: &Identities,
) -> Result<()> {
    let mut r = decoded(r, ids, name)?;
    let bare = name.strip_suffix(AGE_SUFFIX).unwrap_or(name);
    let stem = bare.strip_suffix(".gz").unwrap_or(bare);
    if stem.ends_with(".metadata.json") {
        let mut text = String::new();
        r.read_to_string(&mut text)
            .with_context(|| format!("reading {name}"))?;
        CollectionMeta::from_json(&text, "")
            .with_context(|| format!("{name}: invalid metadata"))?;
        return Ok(());
    }
    let n = check_bson_stream(&mut r).map_err(|e| {
        let unc = if stem.len() < bare.len() {
            " (uncompressed)"
        } else if bare.len() < name.len() {
            " (decrypted)"
        } else {
            ""
        };
        anyhow!("{name}: {e}{unc}")
    })?;
    if let Some(want) = expected
        && n != want
    {
        bail!("{name}: {n} documents, the manifest says {want}");
    }
    Ok(())
}

/// Frames and fully validates (the bson crate's raw element walk) every document to the end
/// of the stream; the number of documents.
fn check_bson_stream(mut r: &mut dyn Read) -> Result<u64, String> {
    let (mut offset, mut n, mut buf) = (0u64, 0u64, Vec::new());
    loop {
        let at = offset;
        match next_data_doc(&mut r, &mut offset, &mut buf) {
            Ok(None) => return Ok(n),
            Ok(Some(doc)) => {
                validate(doc).map_err(|e| format!("invalid document at byte offset {at}: {e}"))?;
                n += 1;
            }
            Err(e) => {
                return Err(format!(
                    "damaged or truncated: the last whole document ends at byte offset {at} \
                     ({e})"
                ));
            }
        }
    }
}

/// Walks a whole archive stream: prelude metadata of the right shape, every document valid,
/// every namespace's CRC matching, every announced namespace ended.
fn check_archive(name: &str, r: &mut (dyn Read + Send), ids: &Identities) -> Result<()> {
    let input = decoded(r, ids, name)?;
    let mut a = ArchiveReader::open(input).with_context(|| name.to_string())?;
    let mut open = std::collections::BTreeMap::<String, Crc64>::new();
    for e in &a.entries {
        if !e.is_oplog() && !e.is_authz() {
            CollectionMeta::from_json(&e.metadata, &e.collection).with_context(|| {
                format!("{name}: invalid metadata of {}.{}", e.db, e.collection)
            })?;
        }
        open.insert(format!("{}.{}", e.db, e.collection), Crc64::default());
    }
    loop {
        let at = a.offset;
        match a.next_event().with_context(|| name.to_string())? {
            None => break,
            Some(Event::Doc { db, coll, doc }) => {
                validate(&doc).map_err(|e| {
                    anyhow!(
                        "{name}: {db}.{coll}: invalid document at byte offset {at} \
                         (uncompressed): {e}"
                    )
                })?;
                if let Some(c) = open.get_mut(&format!("{db}.{coll}")) {
                    c.update(&doc);
                }
            }
            Some(Event::Eof { db, coll, crc }) => {
                let ns = format!("{db}.{coll}");
                if let Some(c) = open.remove(&ns)
                    && crc != 0
                    && c.value() != crc
                {
                    bail!("{name}: {ns}: CRC mismatch at byte offset {at} (uncompressed)");
                }
            }
        }
    }
    if let Some(ns) = open.keys().next() {
        bail!(
            "{name}: the archive is incomplete: it ends before the EOF block of {ns} (truncated, or an interrupted backup)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_or_invalid_data_file_is_named_with_its_offset() {
        let none = Identities::default();
        let docs: Vec<u8> = (0..3)
            .flat_map(|i| bson::to_vec(&bson::doc! {"_id": i, "s": "abc"}).unwrap())
            .collect();
        let one = docs.len() / 3;
        let mut r = &docs[..];
        check_file("d/c.bson", &mut r, Some(3), &none).unwrap();
        let mut cut = &docs[..docs.len() - 5];
        let e = check_file("d/c.bson", &mut cut, Some(3), &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "d/c.bson: damaged or truncated: the last whole document ends at byte offset {}",
                2 * one
            )),
            "{e}"
        );
        let mut short = &docs[..2 * one];
        let e = check_file("d/c.bson", &mut short, Some(3), &none)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "d/c.bson: 2 documents, the manifest says 3");
        // Framed right, but a string element whose length runs past the document.
        let mut bad = docs.clone();
        let s = one
            + bad[one..]
                .windows(4)
                .position(|w| w == [4, 0, 0, 0])
                .unwrap();
        bad[s] = 40;
        let mut r = &bad[..];
        let e = check_file("d/c.bson", &mut r, None, &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("d/c.bson: invalid document at byte offset {one}")),
            "{e}"
        );
        let mut meta = &br#"{"options": {"validator": "x"}}"#[..];
        let e = format!(
            "{:#}",
            check_file("d/c.metadata.json", &mut meta, None, &none).unwrap_err()
        );
        assert!(
            e.starts_with("d/c.metadata.json: invalid metadata: options.validator"),
            "{e}"
        );
    }
}
