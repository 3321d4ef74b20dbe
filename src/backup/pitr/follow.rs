//! `backup oplog --follow`: tails `local.oplog.rs` with a tailable await cursor from the
//! last saved entry (a base backup's oplog end, or the newest entry when following began)
//! and saves what it reads as slices. The first entry read on a restart must be the last
//! one saved (then skipped): anything else means the oplog rolled over while nothing
//! followed it, a gap that is recorded and reported, never papered over.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bson::{Document, RawDocument, RawDocumentBuf, doc};
use futures::StreamExt;
use mongodb::Client;
use mongodb::options::CursorType;
use serde::Serialize;

use crate::backup::dump::oplog::last_oplog_ts;
use crate::backup::manifest::Manifest;

use super::Ts;
use super::slices::{Gap, Origin, Record, Slice, SliceWriter, SlicesManifest, remove_unlisted};

/// Where a new slices directory starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// The end of this base backup's oplog (`backup --oplog`).
    Backup(PathBuf),
    /// The newest oplog entry now.
    Now,
    /// Only an existing slices manifest (error when there is none).
    Resume,
}

#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub dir: PathBuf,
    pub start: Start,
    /// A slice is closed when it is this old, this large (uncompressed), or holds this
    /// many entries, whichever comes first.
    pub slice_age: Duration,
    pub slice_bytes: u64,
    pub slice_entries: Option<u64>,
    /// Stop once the entries up to the newest one at start are saved.
    pub once: bool,
    /// Stop once every entry at or before this is saved.
    pub until: Option<Ts>,
    /// Stop after this many slices.
    pub max_slices: Option<u64>,
    /// After a gap, go on from the oldest entry the oplog still holds (the gap recorded).
    pub continue_past_gap: bool,
}

/// How following is going, for the progress line and `-o json`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Status {
    /// The newest entry read (in the open slice or saved).
    pub last_read: Option<Ts>,
    /// The newest entry saved in a durable slice.
    pub last_saved: Option<Ts>,
    /// Seconds between now and the newest entry read (its `wall` time); 0 once the
    /// follower has read everything the server had (an empty await).
    pub lag_secs: f64,
    pub caught_up: bool,
    pub entries_read: u64,
    pub slices_written: u64,
}

pub enum Event<'a> {
    /// Files a crash left behind, removed before following.
    Removed(&'a Path),
    Resuming {
        after: Ts,
        origin: &'a Origin,
    },
    Slice(&'a Slice, &'a Status),
    Status(&'a Status),
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub status: Status,
    /// Why following stopped: "once", "until", "max-slices", "signal".
    pub stopped: &'static str,
}

/// The replica set's name, or a clear error on a standalone server or mongos.
async fn set_name(client: &Client) -> Result<String> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .context("asking the server who it is (hello)")?;
    if hello.get_str("msg") == Ok("isdbgrid") {
        bail!(
            "backup oplog --follow needs a replica set member; this is a mongos (follow each \
             shard's replica set instead)"
        );
    }
    match hello.get_str("setName") {
        Ok(s) => Ok(s.to_string()),
        Err(_) => bail!(
            "backup oplog --follow needs a replica set member: this server is a standalone \
             (it keeps no oplog)"
        ),
    }
}

async fn oldest_oplog_ts(client: &Client) -> Result<Ts> {
    let first = client
        .database("local")
        .collection::<Document>("oplog.rs")
        .find_one(doc! {})
        .sort(doc! {"$natural": 1})
        .await
        .context("reading local.oplog.rs")?;
    match first.and_then(|d| d.get_timestamp("ts").ok()) {
        Some(ts) => Ok(Ts::of(ts)),
        None => bail!("local.oplog.rs is empty"),
    }
}

/// The manifest to continue, created from `opts.start` when `dir` has none.
async fn open_manifest(client: &Client, opts: &FollowOptions, set: &str) -> Result<SlicesManifest> {
    if let Some(m) = SlicesManifest::load(&opts.dir)? {
        if m.set_name != set {
            bail!(
                "{} follows replica set {:?}; this server belongs to {set:?}: use another \
                 directory",
                opts.dir.display(),
                m.set_name
            );
        }
        return Ok(m);
    }
    let origin = match &opts.start {
        Start::Backup(b) => {
            let m = Manifest::load(b)?.with_context(|| {
                format!(
                    "--from {}: not a complete mongoctl backup (no manifest)",
                    b.display()
                )
            })?;
            let o = m.oplog.with_context(|| {
                format!(
                    "--from {}: the backup has no oplog (make base backups with backup --oplog)",
                    b.display()
                )
            })?;
            Origin {
                backup: Some(b.display().to_string()),
                ts: Ts(o.end),
            }
        }
        Start::Now => Origin {
            backup: None,
            ts: Ts::of(last_oplog_ts(client).await?),
        },
        Start::Resume => bail!(
            "{} holds no slices manifest ({}) yet: give --from BACKUP (a base backup made \
             with backup --oplog) or --from-now",
            opts.dir.display(),
            super::slices::MANIFEST
        ),
    };
    let m = SlicesManifest {
        format: super::slices::FORMAT.into(),
        set_name: set.into(),
        origin,
        records: Vec::new(),
    };
    m.save(&opts.dir)?;
    Ok(m)
}

/// Records the gap after `after` (once), and fails loudly unless following continues.
fn record_gap(
    m: &mut SlicesManifest,
    dir: &Path,
    after: Ts,
    oldest: Ts,
    continuing: bool,
) -> Result<()> {
    let gap = Gap {
        after,
        resumed_at: continuing.then_some(oldest),
        oldest_available: oldest,
        detected_at: chrono::Utc::now(),
    };
    match m.records.last_mut() {
        Some(Record::Gap(g)) if g.after == after => *g = gap,
        _ => m.records.push(Record::Gap(gap)),
    }
    m.save(dir)?;
    if !continuing {
        bail!(
            "GAP: the oplog no longer holds the entries after {after}: its oldest entry is \
             {oldest}; the writes in between are lost to point-in-time recovery. The gap is \
             recorded in {}. Take a new base backup (backup --oplog) and follow from it, or \
             go on from the oldest entry with --continue-past-gap (the gap stays recorded)",
            dir.join(super::slices::MANIFEST).display()
        );
    }
    Ok(())
}

fn entry_ts(d: &RawDocument) -> Result<Ts> {
    Ok(Ts::of(
        d.get_timestamp("ts")
            .context("an oplog entry without a ts")?,
    ))
}

/// When an entry was written, to the millisecond where the server says (`wall`).
fn entry_wall_secs(d: &RawDocument, ts: Ts) -> f64 {
    d.get_datetime("wall")
        .map(|w| w.timestamp_millis() as f64 / 1000.0)
        .unwrap_or(ts.0[0] as f64)
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Follows the oplog into `opts.dir` until a stop condition, a signal (SIGINT, SIGTERM:
/// the open slice is saved first) or an error.
pub async fn follow(
    client: &Client,
    opts: &FollowOptions,
    on: &mut dyn FnMut(Event),
) -> Result<Summary> {
    let set = set_name(client).await?;
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("creating {}", opts.dir.display()))?;
    let existing = SlicesManifest::load(&opts.dir)?;
    for p in remove_unlisted(&opts.dir, existing.as_ref())? {
        on(Event::Removed(&p));
    }
    let mut m = open_manifest(client, opts, &set).await?;
    let resume = m.last_saved();
    on(Event::Resuming {
        after: resume,
        origin: &m.origin,
    });
    let oldest = oldest_oplog_ts(client).await?;
    // Where the cursor starts, whether its first entry must be `resume` (then skipped),
    // and what the first slice continues.
    let (from, mut expect, mut after) = if oldest > resume || m.open_gap().is_some() {
        record_gap(&mut m, &opts.dir, resume, oldest, opts.continue_past_gap)?;
        (oldest, None, None)
    } else {
        (resume, Some(resume), Some(resume))
    };
    let once_target = if opts.once {
        Some(Ts::of(last_oplog_ts(client).await?))
    } else {
        None
    };
    let mut cursor = client
        .database("local")
        .collection::<RawDocumentBuf>("oplog.rs")
        .find(doc! {"ts": {"$gte": from.bson()}})
        .cursor_type(CursorType::TailableAwait)
        .max_await_time(Duration::from_secs(1))
        .no_cursor_timeout(true)
        .batch()
        .await
        .context("opening a tailable cursor on local.oplog.rs")?;
    let mut status = Status {
        last_saved: m.slices().last().map(|s| s.last),
        ..Default::default()
    };
    let mut opened = 0u64;
    let mut writer = SliceWriter::create(&opts.dir, after, opened)?;
    let mut last_wall = 0.0f64;
    let mut last_report = Instant::now();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let stopped: &'static str;
    let mut pending_error: Option<anyhow::Error> = None;
    // Closes the open slice (if it holds entries), lists it, reports it, opens the next.
    macro_rules! close_slice {
        () => {{
            opened += 1;
            let w = std::mem::replace(&mut writer, SliceWriter::create(&opts.dir, after, opened)?);
            if let Some(s) = w.finish()? {
                after = Some(s.last);
                writer.after = after;
                status.last_saved = Some(s.last);
                status.slices_written += 1;
                m.records.push(Record::Slice(s.clone()));
                m.save(&opts.dir)?;
                on(Event::Slice(&s, &status));
            }
        }};
    }
    'tail: loop {
        let next = tokio::select! {
            b = cursor.next() => b,
            _ = tokio::signal::ctrl_c() => { stopped = "signal"; break 'tail; }
            _ = sigterm.recv() => { stopped = "signal"; break 'tail; }
        };
        let batch = match next {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                let lost = matches!(&*e.kind, mongodb::error::ErrorKind::Command(c) if c.code == 136 || c.code == 286);
                if lost {
                    // The oplog overtook the cursor: what was read is good, then a gap.
                    close_slice!();
                    let last = status.last_read.unwrap_or(resume);
                    let oldest = oldest_oplog_ts(client).await?;
                    record_gap(&mut m, &opts.dir, last, oldest, false)?;
                }
                pending_error = Some(anyhow::Error::new(e).context("tailing local.oplog.rs"));
                stopped = "error";
                break 'tail;
            }
            None => {
                pending_error = Some(anyhow::anyhow!(
                    "the server closed the tailable cursor on local.oplog.rs"
                ));
                stopped = "error";
                break 'tail;
            }
        };
        let docs = batch.doc_slices().context("reading local.oplog.rs")?;
        let mut empty = true;
        let mut reached_until = false;
        for d in docs {
            let d = d?
                .as_document()
                .context("reading local.oplog.rs: a malformed batch")?;
            let ts = entry_ts(d)?;
            empty = false;
            if let Some(want) = expect.take() {
                if ts == want {
                    continue;
                }
                // The entry to continue from vanished between the check and the query.
                let oldest = oldest_oplog_ts(client).await?;
                record_gap(&mut m, &opts.dir, want, oldest, opts.continue_past_gap)?;
                after = None;
                writer.after = None;
            }
            if let Some(u) = opts.until
                && ts > u
            {
                reached_until = true;
                break;
            }
            writer.push(d.as_bytes(), ts)?;
            status.last_read = Some(ts);
            status.entries_read += 1;
            last_wall = entry_wall_secs(d, ts);
            let full = opts.slice_entries.is_some_and(|n| writer.entries >= n)
                || writer.raw_bytes >= opts.slice_bytes;
            if full {
                close_slice!();
                if opts.max_slices.is_some_and(|n| status.slices_written >= n) {
                    stopped = "max-slices";
                    break 'tail;
                }
            }
        }
        status.caught_up = empty;
        status.lag_secs = if empty || status.last_read.is_none() {
            0.0
        } else {
            (now_secs() - last_wall).max(0.0)
        };
        if reached_until || opts.until.is_some_and(|u| status.last_read == Some(u)) {
            stopped = "until";
            break;
        }
        if let Some(t) = once_target
            && (empty || status.last_read.is_some_and(|r| r >= t))
        {
            stopped = "once";
            break;
        }
        if writer.entries > 0 && writer.opened.elapsed() >= opts.slice_age {
            close_slice!();
            if opts.max_slices.is_some_and(|n| status.slices_written >= n) {
                stopped = "max-slices";
                break;
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            on(Event::Status(&status));
        }
    }
    if stopped != "max-slices" {
        close_slice!();
    }
    // The empty slice opened last is not kept.
    writer.finish()?;
    if let Some(e) = pending_error {
        return Err(e);
    }
    Ok(Summary { status, stopped })
}
