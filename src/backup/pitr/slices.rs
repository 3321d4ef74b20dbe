//! The slices directory of `backup oplog --follow`: gzip-compressed BSON files of oplog
//! entries (`slice-<first>-<last>.bson.gz`, oldest first) and `slices.json`, the manifest
//! listing them in order, with the gaps the follower could not fill. A slice is written
//! under a temporary name, fsynced, renamed into place and its directory fsynced before the
//! manifest (rewritten whole to a temporary file, fsynced and renamed) lists it: after a
//! crash, a file the manifest does not list is not part of the record, and the manifest is
//! always the old or the new one, never half of either.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backup::checksum::{Checksums, check_file};
use crate::backup::gz::{HashWriter, ParGzWriter, maybe_gunzip};

use super::Ts;

pub const MANIFEST: &str = "slices.json";
pub const FORMAT: &str = "mongoctl-oplog-slices/1";
/// The slice being written (`.slice-<n>.part`); never listed, removed when the follower
/// starts.
fn part_name(n: u64) -> String {
    format!(".slice-{n}.part")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlicesManifest {
    pub format: String,
    /// The replica set followed: resuming against another one is refused.
    pub set_name: String,
    /// Where following began: a base backup's oplog end or the newest entry at the time.
    pub origin: Origin,
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    /// The base backup (`--from`), or `None` for `--from-now`.
    pub backup: Option<String>,
    pub ts: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Slice(Slice),
    Gap(Gap),
}

/// One durable slice: every oplog entry after `after` up to `last`, inclusive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Slice {
    pub file: String,
    /// The entry just before the slice's first (the previous slice's last, or the origin):
    /// `None` for the first slice after a gap, whose predecessor was lost.
    pub after: Option<Ts>,
    pub first: Ts,
    pub last: Ts,
    pub entries: u64,
    /// Bytes of the compressed file, and its checksums.
    pub bytes: u64,
    pub checksums: Checksums,
    pub written_at: DateTime<Utc>,
}

/// Oplog entries that were lost: everything after `after` and before `resumed_at` (the
/// oldest entry the oplog still held, saved again from there on only with
/// `--continue-past-gap`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Gap {
    pub after: Ts,
    pub resumed_at: Option<Ts>,
    /// The oldest entry the oplog held when the gap was found.
    pub oldest_available: Ts,
    pub detected_at: DateTime<Utc>,
}

impl SlicesManifest {
    /// The manifest of `dir`, or `None` if there is none yet.
    pub fn load(dir: &Path) -> Result<Option<SlicesManifest>> {
        let p = dir.join(MANIFEST);
        if !p.exists() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let m: SlicesManifest = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: line {}, column {}: not a slices manifest: {e}",
                p.display(),
                e.line(),
                e.column()
            )
        })?;
        if m.format != FORMAT {
            bail!(
                "{}: unknown format {:?} (expected {FORMAT:?})",
                p.display(),
                m.format
            );
        }
        Ok(Some(m))
    }

    /// Replaces `dir`'s manifest atomically (temporary file, fsync, rename, fsync of `dir`).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let p = dir.join(MANIFEST);
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        {
            let mut f =
                File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            serde_json::to_writer_pretty(&mut f, self)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &p).with_context(|| format!("renaming to {}", p.display()))?;
        sync_dir(dir);
        Ok(())
    }

    pub fn slices(&self) -> impl Iterator<Item = &Slice> {
        self.records.iter().filter_map(|r| match r {
            Record::Slice(s) => Some(s),
            Record::Gap(_) => None,
        })
    }

    /// The newest entry saved (the last slice's last, or the origin).
    pub fn last_saved(&self) -> Ts {
        self.slices()
            .last()
            .map(|s| s.last)
            .unwrap_or(self.origin.ts)
    }

    /// Whether the newest record is a gap that following has not continued past.
    pub fn open_gap(&self) -> Option<&Gap> {
        match self.records.last() {
            Some(Record::Gap(g)) if g.resumed_at.is_none() => Some(g),
            _ => None,
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes what a crash can leave behind: the slice being written and slice files the
/// manifest does not list (renamed into place, the manifest not yet rewritten). Returns
/// the files removed.
pub fn remove_unlisted(dir: &Path, m: Option<&SlicesManifest>) -> Result<Vec<PathBuf>> {
    let listed: std::collections::HashSet<&str> = m
        .map(|m| m.slices().map(|s| s.file.as_str()).collect())
        .unwrap_or_default();
    let mut removed = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let stray = (name.starts_with(".slice-") && name.ends_with(".part"))
            || name == format!("{MANIFEST}.tmp")
            || (name.starts_with("slice-")
                && name.ends_with(".bson.gz")
                && !listed.contains(name.as_str()));
        if stray {
            std::fs::remove_file(e.path())
                .with_context(|| format!("removing {}", e.path().display()))?;
            removed.push(e.path());
        }
    }
    Ok(removed)
}

/// A slice being written: entries are compressed as they arrive.
pub struct SliceWriter {
    dir: PathBuf,
    part: PathBuf,
    out: ParGzWriter<HashWriter<File>>,
    pub after: Option<Ts>,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    pub entries: u64,
    /// Uncompressed bytes so far.
    pub raw_bytes: u64,
    pub opened: std::time::Instant,
}

impl SliceWriter {
    /// A new slice in `dir`; `n` numbers its temporary file (unique among open writers).
    pub fn create(dir: &Path, after: Option<Ts>, n: u64) -> Result<SliceWriter> {
        let p = dir.join(part_name(n));
        let f = File::create(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(SliceWriter {
            dir: dir.to_path_buf(),
            part: p,
            out: ParGzWriter::new(HashWriter::new(f), 1),
            after,
            first: None,
            last: None,
            entries: 0,
            raw_bytes: 0,
            opened: std::time::Instant::now(),
        })
    }

    pub fn push(&mut self, entry: &[u8], ts: Ts) -> Result<()> {
        self.out
            .write_all(entry)
            .context("writing the oplog slice")?;
        self.first.get_or_insert(ts);
        self.last = Some(ts);
        self.entries += 1;
        self.raw_bytes += entry.len() as u64;
        Ok(())
    }

    /// Makes the slice durable under its final name: compressed, fsynced, renamed, the
    /// directory fsynced. The caller lists it in the manifest afterwards. `None` (and the
    /// temporary file removed) when it holds no entry.
    pub fn finish(self) -> Result<Option<Slice>> {
        let part = self.part;
        let hw = self.out.finish().context("compressing the oplog slice")?;
        let (f, bytes, checksums) = hw.finish().context("writing the oplog slice")?;
        let (Some(first), Some(last)) = (self.first, self.last) else {
            drop(f);
            std::fs::remove_file(&part)?;
            return Ok(None);
        };
        f.sync_all().context("fsyncing the oplog slice")?;
        drop(f);
        let file = format!(
            "slice-{}.{}-{}.{}.bson.gz",
            first.0[0], first.0[1], last.0[0], last.0[1]
        );
        std::fs::rename(&part, self.dir.join(&file))
            .with_context(|| format!("renaming the slice to {file}"))?;
        sync_dir(&self.dir);
        Ok(Some(Slice {
            file,
            after: self.after,
            first,
            last,
            entries: self.entries,
            bytes,
            checksums,
            written_at: Utc::now(),
        }))
    }
}

/// Checks a slice file against its manifest entry (size and strong digest).
pub fn check(dir: &Path, s: &Slice) -> Result<()> {
    let p = dir.join(&s.file);
    check_file(&p, s.bytes, &s.checksums).map_err(|e| anyhow::anyhow!("{e}: the slice is damaged"))
}

/// A slice's entries, decompressed.
pub fn open(dir: &Path, s: &Slice) -> Result<Box<dyn Read + Send>> {
    let p = dir.join(&s.file);
    let f = File::open(&p).with_context(|| format!("opening {}", p.display()))?;
    Ok(maybe_gunzip(f)?)
}
