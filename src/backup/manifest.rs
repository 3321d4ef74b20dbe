//! The manifest mongoctl writes last, atomically (temporary file + rename), into a backup:
//! what each file holds (namespace, documents, bytes, SHA-256 and CRC-32C), tool and server
//! versions, start and end times, the oplog range. A backup without one is incomplete.
//! `verify` checks a backup offline against it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::archive::{ArchiveReader, Event};
use super::bsonio::{Next, read_doc, validate};
pub use super::checksum::Checksums;
use super::checksum::{Crc64, FileHasher};
use super::crypto::{Encryption, Identities, check_header, open_decoded};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "manifest.json";
/// Written first into a directory backup and removed once its manifest is written: a
/// directory holding it and no manifest is an interrupted mongoctl backup, not a mongodump.
pub const INCOMPLETE_FILE: &str = "mongoctl-backup.incomplete";
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
    /// The bytes on disk (which `checksums` are of).
    #[serde(flatten)]
    pub checksums: Checksums,
    /// Encrypted with age to the manifest's `encryption.recipients` (after gzip).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// How thoroughly [`check_checksums`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// SHA-256, and CRC-32C where recorded (`backup verify`).
    Full,
    /// CRC-32C where recorded, else SHA-256 (restore, before its first write).
    Fast,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamespaceEntry {
    pub namespace: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub documents: u64,
    /// The content digest of the documents as dumped (`relocate::digest`: order-independent,
    /// over the raw BSON, 32 hex digits), which `backup drill` compares with the restored
    /// collection. Absent in older backups and for views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
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
    /// Client-side encryption: the public recipients (never a secret key). The manifest
    /// itself stays readable: namespaces, counts, sizes and checksums are not secret here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
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

    /// Resolves a manifest entry's path against the backup location (checked by
    /// [`Manifest::check_paths`]).
    pub fn file_path(&self, backup: &Path, entry: &FileEntry) -> PathBuf {
        match self.layout {
            Layout::Directory => backup.join(&entry.path),
            Layout::Archive => backup.to_path_buf(),
        }
    }

    /// Refuses, before any file is opened, a directory backup's manifest path that is not a
    /// relative path inside the backup: absolute, with `..`, or through a symbolic link that
    /// leads outside. The error says nothing about what is outside (not even whether it
    /// exists).
    pub fn check_paths(&self, backup: &Path) -> Result<()> {
        if self.layout != Layout::Directory {
            return Ok(());
        }
        let root = std::fs::canonicalize(backup)
            .with_context(|| format!("resolving {}", backup.display()))?;
        for f in &self.files {
            let outside = || {
                anyhow::anyhow!(
                    "{}: the manifest lists {:?}, which is not a path inside the backup;                      nothing was read from it",
                    manifest_path(backup).display(),
                    f.path
                )
            };
            let rel = Path::new(&f.path);
            let plain = rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if f.path.is_empty() || !plain || f.path.contains('\\') {
                return Err(outside());
            }
            // Every existing prefix must resolve inside the backup (a symbolic link to a
            // directory or file elsewhere does not); a missing file is reported later, when
            // it is checked.
            let mut at = backup.to_path_buf();
            for c in rel.components() {
                at.push(c);
                match std::fs::symlink_metadata(&at) {
                    Err(_) => break,
                    Ok(md) if md.file_type().is_symlink() => match std::fs::canonicalize(&at) {
                        Ok(real) if real.starts_with(&root) => {}
                        _ => return Err(outside()),
                    },
                    Ok(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Files (and anything else) in a directory backup that its manifest does not list,
    /// relative to the backup; the manifest itself, mongodump's `prelude.json` (server
    /// and tool versions, mongo-tools 100.x) and the last drill's `drill.json` belong to the
    /// format. Symbolic links are not
    /// followed.
    pub fn unlisted_files(&self, backup: &Path) -> Result<Vec<String>> {
        if self.layout != Layout::Directory {
            return Ok(Vec::new());
        }
        let listed: std::collections::BTreeSet<&str> =
            self.files.iter().map(|f| f.path.as_str()).collect();
        let mut out = Vec::new();
        let mut dirs = vec![(backup.to_path_buf(), String::new())];
        while let Some((dir, rel)) = dirs.pop() {
            for e in
                std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
            {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                let path = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let ft = e.file_type()?;
                if ft.is_dir() {
                    dirs.push((e.path(), path));
                } else if rel.is_empty()
                    && [MANIFEST_FILE, PRELUDE_FILE, INCOMPLETE_FILE, DRILL_FILE]
                        .contains(&name.as_str())
                {
                } else if !listed.contains(path.as_str()) {
                    out.push(path);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// `backup drill` records its last result there in a directory backup (beside an archive:
/// `FILE.drill.json`); it is not part of the backup's data.
pub const DRILL_FILE: &str = "drill.json";

/// mongodump (mongo-tools 100.x) writes its versions there in a directory backup.
pub const PRELUDE_FILE: &str = "prelude.json";

/// Checks every file's length and checksums against the manifest (in parallel); the first
/// mismatch, by manifest order, is the error.
pub fn check_checksums(m: &Manifest, backup: &Path, depth: Depth) -> Result<()> {
    check_files(m, backup, depth, &|_, _| Ok(()))
}

/// What [`check_files`] runs over each file's bytes while they are hashed: it reads as much
/// of them as it wants (the rest is hashed after it).
pub type Inspect<'a> = dyn Fn(&FileEntry, &mut (dyn Read + Send)) -> Result<()> + Sync + 'a;

/// Counts and checksums the bytes read through it.
struct Hashing<'a, R> {
    inner: R,
    hasher: &'a mut FileHasher,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// [`check_checksums`], and `inspect` (e.g. a structure check) over each file in the same
/// read. A checksum mismatch is reported before what `inspect` found: damage is named as
/// damage.
pub fn check_files(m: &Manifest, backup: &Path, depth: Depth, inspect: &Inspect<'_>) -> Result<()> {
    let check = |f: &FileEntry| -> Result<()> {
        let recorded = &f.checksums;
        let full = depth == Depth::Full || recorded.crc32c.is_none();
        let strong = match full {
            true => Some(recorded.require_strong(&f.path)?.0),
            false => None,
        };
        let mut hasher = FileHasher::with(strong, recorded.crc32c.is_some());
        let path = m.file_path(backup, f);
        let file = File::open(&path).with_context(|| format!("opening {}", f.path))?;
        let mut r = Hashing {
            inner: std::io::BufReader::with_capacity(1 << 20, file),
            hasher: &mut hasher,
        };
        let found = inspect(f, &mut r);
        std::io::copy(&mut r, &mut std::io::sink())
            .with_context(|| format!("reading {}", f.path))?;
        let (n, got) = hasher.finish();
        if n != f.bytes {
            bail!("{}: {} bytes, the manifest says {}", f.path, n, f.bytes);
        }
        if let Some(strong) = strong {
            let (want, got) = (recorded.same_strong(strong), got.same_strong(strong));
            if want != got {
                bail!(
                    "{}: {} mismatch (file {got}, manifest {want})",
                    f.path,
                    strong.name()
                );
            }
        }
        if let (Some(want), Some(got)) = (&recorded.crc32c, &got.crc32c)
            && want != got
        {
            bail!("{}: CRC-32C mismatch (file {got}, manifest {want})", f.path);
        }
        found
    };
    // One hashing thread per core takes the next file (largest first, so one big file does
    // not start last): a backup of thousands of collections does not start thousands of
    // threads.
    let mut order: Vec<usize> = (0..m.files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(m.files[i].bytes));
    super::parallel::first_error_in_order(&m.files, &order, check)
}

/// The result of `backup verify`.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub path: String,
    pub files: usize,
    pub documents: u64,
    pub namespaces: usize,
    /// Encrypted files in the backup.
    pub encrypted_files: usize,
    /// Whether their content was decrypted and checked (with `--identity`), or only their
    /// checksums (without).
    pub decrypted: bool,
}

impl Manifest {
    /// Before anything of an encrypted backup is read: an identity was given, and one of
    /// them opens the age header of every encrypted file (a header only: fast). The error
    /// names the file and the recipients it was encrypted to.
    pub fn check_identities(&self, backup: &Path, ids: &Identities) -> Result<()> {
        let Some(enc) = &self.encryption else {
            return Ok(());
        };
        if ids.is_empty() {
            bail!(
                "{} is an encrypted backup (age, to {}): it can only be read with the identity \
                 (secret key) of one of those recipients: pass --identity FILE. An encrypted \
                 backup is not readable by mongorestore",
                backup.display(),
                enc.recipients.join(", ")
            );
        }
        super::parallel::first_error(&self.files, |f| {
            if !f.encrypted {
                return Ok(());
            }
            check_header(&self.file_path(backup, f), ids, &f.path, &enc.recipients)
        })
    }

    fn encrypted_files(&self) -> usize {
        self.files.iter().filter(|f| f.encrypted).count()
    }
}

/// Offline verification: manifest present, checksums, every document parses, counts (and the
/// archive's CRCs) match. Errors name the first bad file and byte offset. An encrypted
/// backup without `ids`: checksums of the bytes on disk only (its integrity, not its
/// content); with them, every file is decrypted and checked as a plain one is.
pub fn verify(backup: &Path, ids: &Identities) -> Result<VerifyReport> {
    let Some(m) = Manifest::load(backup)? else {
        bail!(
            "{}: no manifest ({}): the backup is incomplete (interrupted?) or was not made by mongoctl",
            backup.display(),
            manifest_path(backup).display()
        );
    };
    m.check_paths(backup)?;
    let decrypted = !ids.is_empty();
    if decrypted {
        m.check_identities(backup, ids)?;
    }
    check_checksums(&m, backup, Depth::Full)?;
    let unlisted = m.unlisted_files(backup)?;
    if !unlisted.is_empty() {
        bail!(
            "{}: not listed in the manifest: {}",
            backup.display(),
            unlisted.join(", ")
        );
    }
    let encrypted_files = m.encrypted_files();
    if encrypted_files > 0 && !decrypted {
        // Plain files are still parsed; the counts are the manifest's.
        for f in m.files.iter().filter(|f| !f.encrypted) {
            check_plain_entry(&m, backup, f, ids)?;
        }
        return Ok(VerifyReport {
            path: backup.display().to_string(),
            files: m.files.len(),
            documents: m.namespaces.iter().map(|n| n.documents).sum(),
            namespaces: m.namespaces.len(),
            encrypted_files,
            decrypted: false,
        });
    }
    let mut documents = 0;
    match m.layout {
        Layout::Directory => {
            for f in &m.files {
                documents += check_plain_entry(&m, backup, f, ids)?;
            }
        }
        Layout::Archive => {
            let counts = count_archive(backup, ids)?;
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
        encrypted_files,
        decrypted,
    })
}

/// Parses one file of a directory backup (decrypted with `ids` where it is encrypted): its
/// documents, checked against the manifest's count.
fn check_plain_entry(m: &Manifest, backup: &Path, f: &FileEntry, ids: &Identities) -> Result<u64> {
    if m.layout == Layout::Archive {
        return Ok(0);
    }
    let p = backup.join(&f.path);
    match f.kind {
        FileKind::Data | FileKind::Oplog => {
            let n = count_bson_file(&p, ids, &f.path).with_context(|| f.path.clone())?;
            if Some(n) != f.documents {
                bail!(
                    "{}: {n} documents, the manifest says {}",
                    f.path,
                    f.documents.unwrap_or(0)
                );
            }
            Ok(n)
        }
        FileKind::Metadata => {
            let mut text = String::new();
            open_decoded(&p, ids, &f.path)?.read_to_string(&mut text)?;
            super::format::CollectionMeta::from_json(&text, "")
                .with_context(|| format!("{}: invalid metadata", f.path))?;
            Ok(0)
        }
        FileKind::Archive => bail!("{}: archive entry in a directory backup", f.path),
    }
}

/// Counts (and fully parses) the documents of a `.bson[.gz][.age]` file.
pub fn count_bson_file(p: &Path, ids: &Identities, name: &str) -> Result<u64> {
    let mut r = open_decoded(p, ids, name)?;
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
pub fn count_archive(p: &Path, ids: &Identities) -> Result<BTreeMap<String, u64>> {
    let name = p.display().to_string();
    let mut r = ArchiveReader::open(open_decoded(p, ids, &name)?).with_context(|| name.clone())?;
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
    use crate::backup::checksum::{Strong, hash_file};

    #[test]
    fn checksums_are_checked_on_a_bounded_pool_and_the_first_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // More files than any machine's cores, of different sizes.
        let mut files = Vec::new();
        for i in 0..40usize {
            let path = format!("db/c{i:02}.bson");
            std::fs::create_dir_all(dir.path().join("db")).unwrap();
            std::fs::write(dir.path().join(&path), vec![i as u8; 1000 * (i % 7 + 1)]).unwrap();
            let (bytes, checksums) = hash_file(&dir.path().join(&path)).unwrap();
            files.push(FileEntry {
                path,
                kind: FileKind::Data,
                namespace: Some(format!("db.c{i:02}")),
                documents: None,
                bytes,
                checksums,
                encrypted: false,
            });
        }
        let mut m = manifest_of(files);
        check_checksums(&m, dir.path(), Depth::Full).unwrap();
        // Two bad files: the error names the one listed first, whichever is hashed first.
        m.files[33].checksums.blake3 = Some("0".repeat(64));
        m.files[5].bytes += 1;
        let e = check_checksums(&m, dir.path(), Depth::Full)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("db/c05.bson: "), "{e}");
        m.files[5].bytes -= 1;
        let e = check_checksums(&m, dir.path(), Depth::Full)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("db/c33.bson: BLAKE3 mismatch"), "{e}");
    }

    fn manifest_of(files: Vec<FileEntry>) -> Manifest {
        let now = chrono::Utc::now();
        Manifest {
            format: "test".into(),
            tool_version: "0".into(),
            server_version: "6.0.5".into(),
            layout: Layout::Directory,
            gzip: false,
            encryption: None,
            started_at: now,
            finished_at: now,
            query: None,
            oplog: None,
            namespaces: vec![],
            files,
        }
    }

    #[test]
    fn a_restore_checks_crc32c_where_recorded_and_the_strong_digest_where_not() {
        // The CRC-32C (Castagnoli) check value, as hex in the manifest.
        let mut h = FileHasher::new();
        h.update(b"1234");
        h.update(b"56789");
        let (n, sums) = h.finish();
        assert_eq!((n, sums.crc32c.as_deref()), (9, Some("e3069283")));

        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("c.bson"), &data).unwrap();
        let (bytes, checksums) = hash_file(&dir.path().join("c.bson")).unwrap();
        let entry = FileEntry {
            path: "c.bson".into(),
            kind: FileKind::Data,
            namespace: Some("db.c".into()),
            documents: None,
            bytes,
            checksums,
            encrypted: false,
        };
        let mut m = manifest_of(vec![entry]);
        check_checksums(&m, dir.path(), Depth::Fast).unwrap();

        // One flipped byte: the fast check finds it by the CRC.
        let mut flipped = data.clone();
        flipped[123_457] ^= 0x10;
        std::fs::write(dir.path().join("c.bson"), &flipped).unwrap();
        let e = check_checksums(&m, dir.path(), Depth::Fast)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.bson: CRC-32C mismatch"), "{e}");
        let e = check_checksums(&m, dir.path(), Depth::Full)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.bson: BLAKE3 mismatch"), "{e}");
        // A manifest from before CRC-32C (and BLAKE3): the fast check falls back to SHA-256.
        let mut old = FileHasher::with(Some(Strong::Sha256), false);
        old.update(&data);
        m.files[0].checksums = old.finish().1;
        m.files[0].checksums.crc32c = None;
        let e = check_checksums(&m, dir.path(), Depth::Fast)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.bson: SHA-256 mismatch"), "{e}");

        // An intact file: only the full check reads the (here wrong) BLAKE3 digest.
        std::fs::write(dir.path().join("c.bson"), &data).unwrap();
        m.files[0].checksums = hash_file(&dir.path().join("c.bson")).unwrap().1;
        m.files[0].checksums.blake3 = Some("0".repeat(64));
        check_checksums(&m, dir.path(), Depth::Fast).unwrap();
        let e = check_checksums(&m, dir.path(), Depth::Full)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.bson: BLAKE3 mismatch"), "{e}");
    }

    #[test]
    fn checksums_serialize_flat_and_old_manifests_without_crc32c_load() {
        let entry: FileEntry = serde_json::from_str(
            r#"{"path": "a.bson", "kind": "data", "bytes": 5, "sha256": "ab"}"#,
        )
        .unwrap();
        assert_eq!(entry.checksums.crc32c, None);
        let mut v = serde_json::to_value(&entry).unwrap();
        assert_eq!(v["sha256"], "ab");
        assert!(v.get("crc32c").is_none(), "{v}");
        v["crc32c"] = "e3069283".into();
        let back: FileEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back.checksums.crc32c.as_deref(), Some("e3069283"));
    }
}
