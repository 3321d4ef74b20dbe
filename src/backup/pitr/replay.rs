//! `restore --to-time`: finds the base backups in a directory, decides with `window` which
//! base and slices reach the target, checks every slice it needs before the first write,
//! restores the base with its own oplog (the ordinary restore), then feeds the slices'
//! entries after the base's end up to the target, inclusive, to the same oplog applier.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bson::RawDocument;
use mongodb::Client;
use serde::Serialize;

use crate::backup::bsonio::{Next, read_doc};
use crate::backup::events::Observer;
use crate::backup::manifest::{Layout, Manifest};
use crate::backup::restore::{
    RestoreOptions, RestoreReport, Source, replay_oplog_entries, restore,
};
use crate::backup::retention;

use super::Ts;
use super::slices::{self, Slice, SlicesManifest};
use super::window::{Base, Plan, plan, window};

/// The complete directory backups of `dir` that carry an oplog, each with its end.
pub fn bases(dir: &Path) -> Result<Vec<Base>> {
    let mut out = Vec::new();
    for e in retention::list(dir)?.backups {
        if !e.complete || !e.oplog || e.layout != "directory" {
            continue;
        }
        if let Some(m) = Manifest::load(&e.path)?
            && let (Some(o), Layout::Directory) = (m.oplog, m.layout)
        {
            out.push(Base {
                name: e.name,
                path: e.path,
                end: Ts(o.end),
            });
        }
    }
    Ok(out)
}

/// The windows of `dir`'s base backups (by name) against the slices in `oplog_dir`.
pub fn windows(dir: &Path, oplog_dir: &Path) -> Result<Vec<(String, super::window::Window)>> {
    let m = load_slices(oplog_dir)?;
    Ok(bases(dir)?
        .into_iter()
        .map(|b| (b.name, window(b.end, Some(&m))))
        .collect())
}

fn load_slices(oplog_dir: &Path) -> Result<SlicesManifest> {
    SlicesManifest::load(oplog_dir)?.with_context(|| {
        format!(
            "{}: no {} (not a directory written by backup oplog --follow)",
            oplog_dir.display(),
            slices::MANIFEST
        )
    })
}

/// What a restore to a point will do, decided and checked before anything is written.
pub struct Prepared {
    pub plan: Plan,
    pub oplog_dir: Option<PathBuf>,
    pub target: Ts,
}

/// Picks the base and slices for `target` and checks the slices' checksums: every refusal
/// (before every base, inside a gap, past the last slice, a damaged slice) comes here.
pub fn prepare(backups: &Path, oplog_dir: Option<&Path>, target: Ts) -> Result<Prepared> {
    let m = oplog_dir.map(load_slices).transpose()?;
    let bases = bases(backups)?;
    let plan = plan(&bases, m.as_ref(), target)?;
    if let Some(d) = oplog_dir {
        for s in &plan.slices {
            slices::check(d, s)?;
        }
    }
    Ok(Prepared {
        plan,
        oplog_dir: oplog_dir.map(Path::to_path_buf),
        target,
    })
}

#[derive(Debug, Serialize)]
pub struct ToTimeReport {
    pub target: Ts,
    /// The last oplog entry applied or already in the base: the exact point restored to.
    pub reached: Ts,
    pub base: String,
    pub base_end: Ts,
    pub slices: Vec<String>,
    /// Entries read from the slices after the base's end, up to the target (no-ops too).
    pub slice_entries: u64,
    pub restore: RestoreReport,
}

/// Restores the planned base (with its own oplog), then the slices up to the target.
/// `opts` is the restore's options; its source and oplog settings are set here.
pub async fn restore_to(
    client: &Client,
    p: Prepared,
    mut opts: RestoreOptions,
    observe: &Observer,
) -> Result<ToTimeReport> {
    opts.source = Source::Directory(p.plan.base.path.clone());
    opts.oplog_replay = true;
    opts.oplog_limit = None;
    let mut report = restore(client, &opts, observe).await?;
    let base_applied = report.oplog_applied.unwrap_or(0);
    let mut entries = SliceEntries {
        dir: p.oplog_dir.clone().unwrap_or_default(),
        slices: p.plan.slices.iter().cloned().collect(),
        current: None,
        offset: 0,
        after: p.plan.base.end,
        upto: p.target,
        buf: Vec::new(),
        pos: 0,
        done: false,
        reached: p.plan.base.end,
        read: 0,
    };
    if report.ok() && !opts.dry_run && !p.plan.slices.is_empty() {
        replay_oplog_entries(client, &mut entries, &opts, &mut report).await?;
        report.oplog_applied = Some(base_applied + report.oplog_applied.unwrap_or(0));
    }
    Ok(ToTimeReport {
        target: p.target,
        reached: entries.reached,
        base: p.plan.base.name.clone(),
        base_end: p.plan.base.end,
        slices: p.plan.slices.iter().map(|s| s.file.clone()).collect(),
        slice_entries: entries.read,
        restore: report,
    })
}

/// The slices' entries after `after` up to `upto`, inclusive, as one BSON stream.
struct SliceEntries {
    dir: PathBuf,
    slices: VecDeque<Slice>,
    current: Option<(String, Box<dyn Read + Send>)>,
    offset: u64,
    after: Ts,
    upto: Ts,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    reached: Ts,
    read: u64,
}

impl SliceEntries {
    /// The next entry in range into `buf`; `false` at the end.
    fn fill(&mut self) -> io::Result<bool> {
        loop {
            if self.done {
                return Ok(false);
            }
            if self.current.is_none() {
                let Some(s) = self.slices.pop_front() else {
                    self.done = true;
                    return Ok(false);
                };
                let r = slices::open(&self.dir, &s).map_err(io::Error::other)?;
                self.current = Some((s.file, r));
                self.offset = 0;
            }
            let (file, r) = self.current.as_mut().expect("opened above");
            match read_doc(r, &mut self.offset)
                .map_err(|e| io::Error::other(format!("{file}: {e}")))?
            {
                Next::Doc(d) => {
                    let ts = RawDocument::from_bytes(&d)
                        .ok()
                        .and_then(|doc| doc.get_timestamp("ts").ok())
                        .map(Ts::of)
                        .ok_or_else(|| {
                            io::Error::other(format!("{file}: an oplog entry without a ts"))
                        })?;
                    if ts <= self.after {
                        continue;
                    }
                    if ts > self.upto {
                        self.done = true;
                        return Ok(false);
                    }
                    self.reached = ts;
                    self.read += 1;
                    self.buf = d;
                    self.pos = 0;
                    return Ok(true);
                }
                Next::Eof => self.current = None,
                Next::Terminator => {
                    return Err(io::Error::other(format!(
                        "{file}: an archive terminator in an oplog slice"
                    )));
                }
            }
        }
    }
}

impl Read for SliceEntries {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.buf.len() && !self.fill()? {
            return Ok(0);
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
