//! The manifest mongoctl writes last, atomically (temporary file + rename), into a backup:
//! what each file holds (namespace, documents, bytes, SHA-256), tool and server versions,
//! start and end times, the oplog range. A backup without one is incomplete. `verify` checks
//! a backup offline against it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::archive::{ArchiveReader, Event};
use super::bsonio::{Crc64, Next, read_doc, validate};
use super::gz::maybe_gunzip;

pub const MANIFEST_FILE: &str = "manifest.json";
pub const FORMAT: &str = "mongoctl-backup/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Directory,
    Archive,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Data,
    Metadata,
    Oplog,
    Archive,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup directory (or the archive's file name).
    pub path: String,
    pub kind: FileKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Documents in the file (data and oplog files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<u64>,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamespaceEntry {
    pub namespace: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub documents: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OplogRange {
    /// `[seconds, increment]` of the first and last entry the backup is consistent with.
    pub start: [u32; 2],
    pub end: [u32; 2],
    pub entries: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub tool_version: String,
    pub server_version: String,
    pub layout: Layout,
    pub gzip: bool,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oplog: Option<OplogRange>,
    pub namespaces: Vec<NamespaceEntry>,
    pub files: Vec<FileEntry>,
}

/// Where the manifest of a backup lives: inside a directory, or next to an archive file.
pub fn manifest_path(backup: &Path) -> PathBuf {
    if backup.is_dir() {
        backup.join(MANIFEST_FILE)
    } else {
        let mut s = backup.as_os_str().to_owned();
        s.push(".manifest.json");
        PathBuf::from(s)
    }
}

impl Manifest {
    pub fn write_atomic(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        {
            let mut f =
                File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            serde_json::to_writer_pretty(&mut f, self)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
        if let Some(dir) = path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The manifest of `backup`, or `None` when it has none (incomplete, or not made by
    /// mongoctl).
    pub fn load(backup: &Path) -> Result<Option<Manifest>> {
        let p = manifest_path(backup);
        if !p.exists() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let m: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid manifest", p.display()))?;
        if m.format != FORMAT {
            bail!("{}: unknown manifest format {:?}", p.display(), m.format);
        }
        Ok(Some(m))
    }

    /// Resolves a manifest entry's path against the backup location.
    pub fn file_path(&self, backup: &Path, entry: &FileEntry) -> PathBuf {
        match self.layout {
            Layout::Directory => backup.join(&entry.path),
            Layout::Archive => backup.to_path_buf(),
        }
    }
}

/// SHA-256 and length of a file.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(h.finalize())))
}

/// Checks every file's length and SHA-256 against the manifest (in parallel); the first
/// mismatch, by manifest order, is the error.
pub fn check_checksums(m: &Manifest, backup: &Path) -> Result<()> {
    let check = |f: &FileEntry| -> Result<()> {
        let (n, sha) = hash_file(&m.file_path(backup, f))?;
        if n != f.bytes {
            bail!("{}: {} bytes, the manifest says {}", f.path, n, f.bytes);
        }
        if sha != f.sha256 {
            bail!(
                "{}: SHA-256 mismatch (file {sha}, manifest {})",
                f.path,
                f.sha256
            );
        }
        Ok(())
    };
    // One hashing thread per core takes the next file (largest first, so one big file does
    // not start last): a backup of thousands of collections does not start thousands of
    // threads.
    let mut order: Vec<usize> = (0..m.files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(m.files[i].bytes));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(m.files.len().max(1));
    let mut results: Vec<(usize, Result<()>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = order.get(k) else { break };
                        done.push((i, check(&m.files[i])));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec![(0, Err(anyhow::anyhow!("hashing thread panicked")))])
            })
            .collect()
    });
    // The first bad file in the manifest's order, whichever thread found it.
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().try_for_each(|(_, r)| r)
}

/// The result of `backup verify`.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub path: String,
    pub files: usize,
    pub documents: u64,
    pub namespaces: usize,
}

/// Offline verification: manifest present, checksums, every document parses, counts (and the
/// archive's CRCs) match. Errors name the first bad file and byte offset.
pub fn verify(backup: &Path) -> Result<VerifyReport> {
    let Some(m) = Manifest::load(backup)? else {
        bail!(
            "{}: no manifest ({}): the backup is incomplete (interrupted?) or was not made by mongoctl",
            backup.display(),
            manifest_path(backup).display()
        );
    };
    check_checksums(&m, backup)?;
    let mut documents = 0;
    match m.layout {
        Layout::Directory => {
            for f in &m.files {
                let p = backup.join(&f.path);
                match f.kind {
                    FileKind::Data | FileKind::Oplog => {
                        let n = count_bson_file(&p).with_context(|| f.path.clone())?;
                        if Some(n) != f.documents {
                            bail!(
                                "{}: {n} documents, the manifest says {}",
                                f.path,
                                f.documents.unwrap_or(0)
                            );
                        }
                        documents += n;
                    }
                    FileKind::Metadata => {
                        let mut text = String::new();
                        maybe_gunzip(File::open(&p)?)?.read_to_string(&mut text)?;
                        super::format::CollectionMeta::from_json(&text, "")
                            .with_context(|| format!("{}: invalid metadata", f.path))?;
                    }
                    FileKind::Archive => bail!("{}: archive entry in a directory backup", f.path),
                }
            }
        }
        Layout::Archive => {
            let counts = count_archive(backup)?;
            for n in &m.namespaces {
                let got = counts.get(&n.namespace).copied().unwrap_or(0);
                if got != n.documents {
                    bail!(
                        "{}: {} holds {got} documents, the manifest says {}",
                        backup.display(),
                        n.namespace,
                        n.documents
                    );
                }
                documents += got;
            }
        }
    }
    Ok(VerifyReport {
        path: backup.display().to_string(),
        files: m.files.len(),
        documents,
        namespaces: m.namespaces.len(),
    })
}

/// Counts (and fully parses) the documents of a `.bson` / `.bson.gz` file.
pub fn count_bson_file(p: &Path) -> Result<u64> {
    let mut r = maybe_gunzip(File::open(p)?)?;
    let mut offset = 0u64;
    let mut n = 0;
    loop {
        let at = offset;
        match read_doc(&mut r, &mut offset)? {
            Next::Doc(d) => {
                validate(&d).map_err(|e| anyhow::anyhow!("document at byte offset {at}: {e}"))?;
                n += 1;
            }
            Next::Terminator => bail!("unexpected terminator at byte offset {at}"),
            Next::Eof => return Ok(n),
        }
    }
}

/// Documents per namespace in an archive, checking every document and every CRC.
pub fn count_archive(p: &Path) -> Result<BTreeMap<String, u64>> {
    let name = p.display().to_string();
    let mut r = ArchiveReader::open(maybe_gunzip(File::open(p)?)?).with_context(|| name.clone())?;
    let mut counts = BTreeMap::new();
    let mut crcs: BTreeMap<String, Crc64> = BTreeMap::new();
    loop {
        let at = r.offset;
        match r.next_event().with_context(|| name.clone())? {
            None => break,
            Some(Event::Doc { db, coll, doc }) => {
                validate(&doc).map_err(|e| {
                    anyhow::anyhow!(
                        "{name}: {db}.{coll}: document at byte offset {at} (uncompressed): {e}"
                    )
                })?;
                let ns = format!("{db}.{coll}");
                crcs.entry(ns.clone()).or_default().update(&doc);
                *counts.entry(ns).or_insert(0) += 1;
            }
            Some(Event::Eof { db, coll, crc }) => {
                let ns = format!("{db}.{coll}");
                let got = crcs.get(&ns).map(|c| c.value()).unwrap_or(0);
                if crc != 0 && got != crc {
                    bail!("{name}: {ns}: CRC mismatch at byte offset {at} (uncompressed)");
                }
                counts.entry(ns).or_insert(0);
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_checked_on_a_bounded_pool_and_the_first_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // More files than any machine's cores, of different sizes.
        let mut files = Vec::new();
        for i in 0..40usize {
            let path = format!("db/c{i:02}.bson");
            std::fs::create_dir_all(dir.path().join("db")).unwrap();
            std::fs::write(dir.path().join(&path), vec![i as u8; 1000 * (i % 7 + 1)]).unwrap();
            let (bytes, sha256) = hash_file(&dir.path().join(&path)).unwrap();
            files.push(FileEntry {
                path,
                kind: FileKind::Data,
                namespace: Some(format!("db.c{i:02}")),
                documents: None,
                bytes,
                sha256,
            });
        }
        let now = chrono::Utc::now();
        let mut m = Manifest {
            format: "test".into(),
            tool_version: "0".into(),
            server_version: "6.0.5".into(),
            layout: Layout::Directory,
            gzip: false,
            started_at: now,
            finished_at: now,
            query: None,
            oplog: None,
            namespaces: vec![],
            files,
        };
        check_checksums(&m, dir.path()).unwrap();
        // Two bad files: the error names the one listed first, whichever is hashed first.
        m.files[33].sha256 = "0".repeat(64);
        m.files[5].bytes += 1;
        let e = check_checksums(&m, dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("db/c05.bson: "), "{e}");
        m.files[5].bytes -= 1;
        let e = check_checksums(&m, dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("db/c33.bson: SHA-256 mismatch"), "{e}");
    }
}
