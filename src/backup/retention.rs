//! `backup list` and `backup prune`: the backups under a directory (sub-directories and
//! archive files), complete or not, and deleting one (which to delete is
//! the pure decision of the `retention_policy` module). A symbolic
//! link in the directory is never a backup of it: it is skipped (and reported), so that prune
//! never deletes anything outside the directory it was given.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::manifest::{MANIFEST_FILE, Manifest, manifest_path};

#[derive(Debug, Clone, Serialize)]
pub struct BackupEntry {
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    /// Has a manifest (a complete backup).
    pub complete: bool,
    pub finished_at: Option<DateTime<Utc>>,
    /// The newest modification time of the backup's files (two levels deep: mongodump's
    /// `<db>/<collection>.bson`), so an incomplete backup still being written looks recent.
    #[serde(skip)]
    pub modified_at: Option<DateTime<Utc>>,
    pub layout: String,
    pub gzip: bool,
    pub namespaces: usize,
    pub documents: u64,
    pub bytes: u64,
    pub oplog: bool,
    /// The last `backup drill` of it (from its `drill.json`).
    pub last_drill: Option<super::drill::report::LastDrill>,
}

/// The backups stored directly under a directory.
#[derive(Debug, Default)]
pub struct Listing {
    /// Newest first (incomplete ones last).
    pub backups: Vec<BackupEntry>,
    /// Symbolic links found in the directory, which are not treated as backups.
    pub symlinks: Vec<PathBuf>,
}

/// Backups directly under `dir`, newest first (incomplete ones last); symbolic links are
/// set aside in [`Listing::symlinks`], never followed.
pub fn list(dir: &Path) -> Result<Listing> {
    let mut out = Vec::new();
    let mut symlinks = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let kind = e.file_type()?;
        if kind.is_symlink() {
            symlinks.push(path);
            continue;
        }
        let is_dir = kind.is_dir();
        if !is_dir
            && (name.ends_with(".manifest.json")
                || name.ends_with(".drill.json")
                || name.ends_with(".tmp"))
        {
            continue;
        }
        // Oplog slices (`backup oplog --follow`) are no backup: never listed, never pruned.
        if is_dir && path.join(super::pitr::slices::MANIFEST).exists() {
            continue;
        }
        let m = if is_dir || manifest_path(&path).exists() {
            Manifest::load(&path).ok().flatten()
        } else {
            None
        };
        if !is_dir && m.is_none() && !name.contains("archive") {
            continue;
        }
        let mut entry = BackupEntry {
            name,
            path: path.clone(),
            complete: m.is_some(),
            finished_at: None,
            modified_at: last_write(&path, 2),
            layout: if is_dir { "directory" } else { "archive" }.into(),
            gzip: false,
            namespaces: 0,
            documents: 0,
            bytes: 0,
            oplog: false,
            last_drill: super::drill::record::read_last(&path),
        };
        if let Some(m) = m {
            entry.finished_at = Some(m.finished_at);
            entry.gzip = m.gzip;
            entry.namespaces = m.namespaces.len();
            entry.documents = m.namespaces.iter().map(|n| n.documents).sum();
            entry.bytes = m.files.iter().map(|f| f.bytes).sum();
            entry.oplog = m.oplog.is_some();
        }
        out.push(entry);
    }
    out.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then(a.name.cmp(&b.name)));
    symlinks.sort();
    Ok(Listing {
        backups: out,
        symlinks,
    })
}

/// The newest modification time of `path` and of what is under it, `depth` levels down
/// (symbolic links not followed).
fn last_write(path: &Path, depth: usize) -> Option<DateTime<Utc>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mut newest: Option<DateTime<Utc>> = meta.modified().ok().map(DateTime::from);
    if meta.is_dir() && depth > 0 {
        for e in std::fs::read_dir(path).ok()?.flatten() {
            newest = newest.max(last_write(&e.path(), depth - 1));
        }
    }
    newest
}

/// Deletes a backup (directory, or archive file and its manifest); refuses a symbolic link.
pub fn delete(e: &BackupEntry) -> Result<()> {
    let meta = std::fs::symlink_metadata(&e.path)
        .with_context(|| format!("deleting {}", e.path.display()))?;
    if meta.file_type().is_symlink() {
        anyhow::bail!(
            "{} is a symbolic link: not deleting what it points to",
            e.path.display()
        );
    }
    if meta.is_dir() {
        // Manifest first: a half-deleted backup must look incomplete.
        let _ = std::fs::remove_file(e.path.join(MANIFEST_FILE));
        std::fs::remove_dir_all(&e.path)
    } else {
        let _ = std::fs::remove_file(manifest_path(&e.path));
        let _ = std::fs::remove_file(super::drill::record::drill_path(&e.path));
        std::fs::remove_file(&e.path)
    }
    .with_context(|| format!("deleting {}", e.path.display()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A listing entry finished at `t` (`None`: incomplete), for the policy tests too.
    pub(crate) fn e(name: &str, t: Option<&str>) -> BackupEntry {
        BackupEntry {
            name: name.into(),
            path: PathBuf::from(name),
            complete: t.is_some(),
            finished_at: t.map(|t| t.parse().unwrap()),
            modified_at: None,
            layout: "directory".into(),
            gzip: false,
            namespaces: 0,
            documents: 0,
            bytes: 0,
            oplog: false,
            last_drill: None,
        }
    }

    #[test]
    fn symlinks_are_set_aside_and_never_deleted_through() {
        let tmp = tempfile::tempdir().unwrap();
        let (backups, outside) = (tmp.path().join("backups"), tmp.path().join("outside"));
        std::fs::create_dir_all(&backups).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join(MANIFEST_FILE), "{}").unwrap();
        let link = backups.join("linked");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let l = list(&backups).unwrap();
        assert!(l.backups.is_empty(), "{:?}", l.backups);
        assert_eq!(l.symlinks, vec![link.clone()]);
        let mut entry = e("linked", Some("2026-11-22T03:00:00Z"));
        entry.path = link;
        let err = delete(&entry).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(outside.join(MANIFEST_FILE).exists());
    }

    #[test]
    fn a_slices_directory_is_not_a_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let sl = tmp.path().join("oplog");
        std::fs::create_dir_all(&sl).unwrap();
        std::fs::write(sl.join(crate::backup::pitr::slices::MANIFEST), "{}").unwrap();
        assert!(list(tmp.path()).unwrap().backups.is_empty());
    }

    #[test]
    fn an_incomplete_backup_is_as_recent_as_its_newest_file() {
        let tmp = tempfile::tempdir().unwrap();
        let b = tmp.path().join("b1");
        std::fs::create_dir_all(b.join("db")).unwrap();
        let f = b.join("db").join("c.bson");
        std::fs::write(&f, b"").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for p in [&b, &b.join("db")] {
            std::fs::File::open(p).unwrap().set_modified(old).unwrap();
        }
        let l = list(tmp.path()).unwrap();
        let e = &l.backups[0];
        assert!(!e.complete);
        assert_eq!(
            e.modified_at,
            Some(DateTime::from(
                std::fs::metadata(&f).unwrap().modified().unwrap()
            ))
        );
    }
}
