//! `backup list` and `backup prune`: the backups under a directory (sub-directories and
//! archive files), complete or not, and which of them a retention policy keeps. A symbolic
//! link in the directory is never a backup of it: it is skipped (and reported), so that prune
//! never deletes anything outside the directory it was given.

use std::collections::BTreeSet;
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
    pub layout: String,
    pub gzip: bool,
    pub namespaces: usize,
    pub documents: u64,
    pub bytes: u64,
    pub oplog: bool,
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
        if !is_dir && (name.ends_with(".manifest.json") || name.ends_with(".tmp")) {
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
            layout: if is_dir { "directory" } else { "archive" }.into(),
            gzip: false,
            namespaces: 0,
            documents: 0,
            bytes: 0,
            oplog: false,
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

/// Which complete backups a `--keep-last N --keep-daily D` policy keeps: the newest N, plus
/// the newest backup of each of the D most recent days that have one. `entries` is newest
/// first. Returns indexes into `entries` to delete; incomplete backups are never selected.
pub fn to_prune(entries: &[BackupEntry], keep_last: usize, keep_daily: usize) -> Vec<usize> {
    let mut keep = BTreeSet::new();
    let complete: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].complete)
        .collect();
    keep.extend(complete.iter().take(keep_last).copied());
    let mut days = BTreeSet::new();
    for &i in &complete {
        let Some(t) = entries[i].finished_at else {
            continue;
        };
        let day = t.date_naive();
        if days.contains(&day) {
            continue;
        }
        if days.len() >= keep_daily {
            break;
        }
        days.insert(day);
        keep.insert(i);
    }
    complete.into_iter().filter(|i| !keep.contains(i)).collect()
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
        std::fs::remove_file(&e.path)
    }
    .with_context(|| format!("deleting {}", e.path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, t: Option<&str>) -> BackupEntry {
        BackupEntry {
            name: name.into(),
            path: PathBuf::from(name),
            complete: t.is_some(),
            finished_at: t.map(|t| t.parse().unwrap()),
            layout: "directory".into(),
            gzip: false,
            namespaces: 0,
            documents: 0,
            bytes: 0,
            oplog: false,
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
    fn keeps_the_newest_and_one_per_day() {
        let list = vec![
            e("a", Some("2026-11-22T03:00:00Z")),
            e("b", Some("2026-11-22T01:00:00Z")),
            e("c", Some("2026-11-21T23:00:00Z")),
            e("d", Some("2026-11-21T10:00:00Z")),
            e("f", Some("2026-11-20T10:00:00Z")),
            e("g", Some("2026-11-19T10:00:00Z")),
            e("x", None),
        ];
        // keep-last 1 → a; keep-daily 2 → a (22nd), c (21st).
        assert_eq!(to_prune(&list, 1, 2), vec![1, 3, 4, 5]);
        assert_eq!(to_prune(&list, 0, 7), vec![1, 3]);
        assert!(to_prune(&list, 10, 0).is_empty());
    }
}
