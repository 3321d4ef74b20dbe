//! What a restore is given: a mongoctl backup (its manifest), a complete mongodump backup
//! (restored without any flag: a directory with mongodump's `prelude.json` or its
//! `<db>/<coll>.bson` + `.metadata.json` layout, or an archive), or an interrupted mongoctl
//! backup (no manifest but its in-progress marker: only with `--force`). A backup without a
//! manifest carries no checksums; the report says so.

use std::io::Read;
use std::path::Path;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::backup::gz::maybe_gunzip;
use crate::backup::manifest::{INCOMPLETE_FILE, Manifest, PRELUDE_FILE, manifest_path};

/// Who made the backup and what can be verified in it, for the report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct BackupInfo {
    /// "mongoctl", "mongodump", or "unknown" (an archive on standard input).
    pub made_by: String,
    /// The tool's version, from the manifest or mongodump's `prelude.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Whether file checksums and document counts (a manifest) were checked.
    pub checksums: bool,
    /// What was checked instead, when there are no checksums.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A backup location as recognised: its manifest (mongoctl) and what the report says of it.
pub(super) struct Recognised {
    pub(super) manifest: Option<Manifest>,
    pub(super) info: BackupInfo,
}

/// mongodump's `prelude.json` (mongo-tools 100.x since 2025), written after the data.
#[derive(serde::Deserialize)]
struct Prelude {
    #[serde(rename = "ServerVersion")]
    server_version: Option<String>,
    #[serde(rename = "ToolVersion")]
    tool_version: Option<String>,
}

const NO_CHECKSUMS_DIR: &str = "this backup has no manifest, so it carries no checksums or \
     document counts: every file was checked to hold whole BSON documents to its end, not that \
     they are the documents that were dumped";
const NO_CHECKSUMS_ARCHIVE: &str = "this archive has no manifest, so it carries no checksums \
     of the whole file and no document counts: every block was checked to frame whole BSON documents, every \
     collection to end, and the CRC of each collection where the archive holds one";

/// Recognises a directory backup. Refuses a directory that holds no backup, and an
/// interrupted mongoctl backup unless `force`.
pub(super) fn recognise_directory(dir: &Path, force: bool) -> Result<Recognised> {
    if let Some(m) = Manifest::load(dir)? {
        return Ok(from_manifest(m));
    }
    if dir.join(INCOMPLETE_FILE).exists() {
        if !force {
            bail!(
                "{}: an interrupted mongoctl backup (it holds {INCOMPLETE_FILE} and no {}): some \
                 collections may be missing or cut short; pass --force to restore what it holds \
                 (each file is still checked to hold whole documents)",
                dir.display(),
                manifest_path(dir).display()
            );
        }
        return Ok(Recognised {
            manifest: None,
            info: BackupInfo {
                made_by: "mongoctl (interrupted)".into(),
                warning: Some(NO_CHECKSUMS_DIR.into()),
                ..Default::default()
            },
        });
    }
    let prelude = read_prelude(dir)?;
    if prelude.is_none() && !has_mongodump_layout(dir)? {
        bail!(
            "{}: not a backup: no {} (mongoctl), no {PRELUDE_FILE} and no <db>/<collection>.bson \
             or .metadata.json files (mongodump)",
            dir.display(),
            manifest_path(dir).display()
        );
    }
    let (tool_version, server_version) = prelude
        .map(|p| (p.tool_version, p.server_version))
        .unwrap_or_default();
    Ok(Recognised {
        manifest: None,
        info: BackupInfo {
            made_by: "mongodump".into(),
            tool_version,
            server_version,
            checksums: false,
            warning: Some(NO_CHECKSUMS_DIR.into()),
        },
    })
}

/// Recognises an archive file: with its manifest beside it (mongoctl) or without (mongodump;
/// its completeness is the archive's own: every collection's EOF block, checked before the
/// first write).
pub(super) fn recognise_archive(path: &Path) -> Result<Recognised> {
    if let Some(m) = Manifest::load(path)? {
        return Ok(from_manifest(m));
    }
    Ok(Recognised {
        manifest: None,
        info: archive_without_manifest("mongodump"),
    })
}

/// An archive read from standard input: not checked before the restore (it cannot be read
/// twice); each document is checked as it arrives.
pub(super) fn stdin_info() -> BackupInfo {
    archive_without_manifest("unknown")
}

fn archive_without_manifest(made_by: &str) -> BackupInfo {
    BackupInfo {
        made_by: made_by.into(),
        warning: Some(NO_CHECKSUMS_ARCHIVE.into()),
        ..Default::default()
    }
}

fn from_manifest(m: Manifest) -> Recognised {
    let info = BackupInfo {
        made_by: "mongoctl".into(),
        tool_version: Some(m.tool_version.clone()),
        server_version: Some(m.server_version.clone()),
        checksums: true,
        warning: None,
    };
    Recognised {
        manifest: Some(m),
        info,
    }
}

/// `prelude.json[.gz]` at the top, or one database directory deep (`mongodump --db`).
fn read_prelude(dir: &Path) -> Result<Option<Prelude>> {
    let mut candidates = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            candidates.push(e.path());
        }
    }
    for d in candidates {
        for name in [PRELUDE_FILE.to_string(), format!("{PRELUDE_FILE}.gz")] {
            let p = d.join(&name);
            if !p.is_file() {
                continue;
            }
            let mut text = String::new();
            maybe_gunzip(std::fs::File::open(&p)?)?.read_to_string(&mut text)?;
            // An unreadable prelude still says mongodump wrote the directory.
            return Ok(Some(serde_json::from_str(&text).unwrap_or(Prelude {
                server_version: None,
                tool_version: None,
            })));
        }
    }
    Ok(None)
}

/// Whether some database directory holds mongodump's `.bson` or `.metadata.json` files.
fn has_mongodump_layout(dir: &Path) -> Result<bool> {
    let wanted = [".bson", ".bson.gz", ".metadata.json", ".metadata.json.gz"];
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if !e.file_type()?.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(e.path())? {
            let n = f?.file_name().to_string_lossy().into_owned();
            if wanted.iter().any(|s| n.ends_with(s)) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mongodump_directories_are_recognised_and_interrupted_backups_need_force() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let e = recognise_directory(d, false).err().unwrap().to_string();
        assert!(e.contains("not a backup"), "{e}");
        std::fs::create_dir(d.join("app")).unwrap();
        std::fs::write(d.join("app/c.bson"), b"").unwrap();
        let r = recognise_directory(d, false).unwrap();
        assert_eq!(r.info.made_by, "mongodump");
        assert!(!r.info.checksums);
        assert!(r.info.warning.unwrap().contains("no checksums"));
        std::fs::write(
            d.join("app/prelude.json"),
            br#"{"ServerVersion":"6.0.5","ToolVersion":"100.13.0"}"#,
        )
        .unwrap();
        let r = recognise_directory(d, false).unwrap();
        assert_eq!(r.info.tool_version.as_deref(), Some("100.13.0"));
        assert_eq!(r.info.server_version.as_deref(), Some("6.0.5"));
        std::fs::write(d.join(INCOMPLETE_FILE), b"").unwrap();
        let e = recognise_directory(d, false).err().unwrap().to_string();
        assert!(e.contains("interrupted mongoctl backup"), "{e}");
        assert!(e.contains("--force"), "{e}");
        let r = recognise_directory(d, true).unwrap();
        assert_eq!(r.info.made_by, "mongoctl (interrupted)");
    }
}
