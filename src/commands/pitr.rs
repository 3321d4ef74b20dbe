//! The command side of continuous point-in-time recovery: `backup oplog --follow` and
//! `restore --to-time` (the engine is `backup::pitr`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;

use crate::backup::pitr::follow::{Event, FollowOptions, Start, follow};
use crate::backup::pitr::{Ts, parse_time, replay};
use crate::backup::restore::RestoreOptions;
use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::render;
use crate::render::backup::BackupProgress;

#[derive(Args, Debug, Clone)]
pub struct OplogArgs {
    /// Tail the oplog and save it as slices until stopped (SIGINT/SIGTERM save the open
    /// slice first); restarted, it continues from the last saved slice
    #[arg(long, required = true)]
    pub follow: bool,
    /// The slices directory (slices.json and slice-*.bson.gz); keep it beside the base
    /// backups, not inside their directory
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Start a new slices directory at the end of this base backup's oplog (backup --oplog)
    #[arg(long, value_name = "BACKUP", conflicts_with = "from_now")]
    pub from: Option<PathBuf>,
    /// Start a new slices directory at the newest oplog entry now
    #[arg(long)]
    pub from_now: bool,
    /// Close a slice after this many minutes
    #[arg(long, default_value_t = 10.0, value_name = "N")]
    pub slice_minutes: f64,
    /// Close a slice at this many MB of oplog entries (uncompressed)
    #[arg(long, default_value_t = 64, value_name = "M")]
    pub slice_mb: u64,
    /// Close a slice at this many entries (for tests)
    #[arg(long, hide = true, value_name = "N")]
    pub slice_entries: Option<u64>,
    /// Stop once everything the oplog holds now is saved (for cron)
    #[arg(long, conflicts_with = "until")]
    pub once: bool,
    /// Stop once every entry at or before T is saved (RFC 3339 or SECONDS[:INCREMENT])
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Stop after N slices (for tests)
    #[arg(long, hide = true, value_name = "N")]
    pub max_slices: Option<u64>,
    /// After a gap (the oplog rolled over while nothing followed it), go on from the oldest
    /// entry the oplog holds; the gap stays recorded and is never restorable
    #[arg(long)]
    pub continue_past_gap: bool,
}

pub async fn run_follow(a: OplogArgs, ctx: &Ctx) -> Result<u8> {
    if a.slice_minutes.is_nan() || a.slice_minutes <= 0.0 || a.slice_mb == 0 {
        bail!("--slice-minutes and --slice-mb must be greater than 0");
    }
    let opts = FollowOptions {
        dir: a.out.clone(),
        start: match (&a.from, a.from_now) {
            (Some(b), _) => Start::Backup(b.clone()),
            (None, true) => Start::Now,
            (None, false) => Start::Resume,
        },
        slice_age: Duration::from_secs_f64(a.slice_minutes * 60.0),
        slice_bytes: a.slice_mb << 20,
        slice_entries: a.slice_entries,
        once: a.once,
        until: a
            .until
            .as_deref()
            .map(|t| parse_time("--until", t))
            .transpose()?,
        max_slices: a.max_slices,
        continue_past_gap: a.continue_past_gap,
    };
    let ws = crate::spec::load(&ctx.global.spec).workspace;
    let (client, _) = ctx.connect(ws.as_ref()).await?;
    let json = ctx.json();
    let tty = ctx.show_progress() && std::io::stderr().is_terminal();
    let quiet = ctx.global.quiet;
    let mut on = |e: Event| match e {
        Event::Removed(p) => {
            eprintln!(
                "note: removed {} (left by an interrupted run, never listed in the manifest)",
                p.display()
            )
        }
        Event::Resuming { after, origin } => {
            if json {
                json_line(
                    &serde_json::json!({"event": "resuming", "after": after, "origin": origin}),
                );
            } else if !quiet {
                eprintln!("Following the oplog after {after} into {}", a.out.display());
            }
        }
        Event::Slice(s, st) => {
            if json {
                json_line(&serde_json::json!({"event": "slice", "slice": s, "status": st}));
            } else if !quiet {
                if tty {
                    eprint!("\r\x1b[K");
                }
                eprintln!(
                    "Saved {}: {} entries, {} … {}; lag {:.1} s",
                    s.file, s.entries, s.first, s.last, st.lag_secs
                );
            }
        }
        Event::Status(st) => {
            if json {
                json_line(&serde_json::json!({"event": "status", "status": st}));
            } else if tty && !quiet {
                eprint!(
                    "\r\x1b[K{} entries read, {} slice(s) saved, last read {}, lag {:.1} s{}",
                    st.entries_read,
                    st.slices_written,
                    st.last_read.map(|t| t.to_string()).unwrap_or("-".into()),
                    st.lag_secs,
                    if st.caught_up { " (caught up)" } else { "" }
                );
            }
        }
    };
    match follow(&client, &opts, &mut on).await {
        Ok(s) => {
            if json {
                json_line(&serde_json::json!({"event": "stopped", "ok": true, "summary": s}));
            } else if !quiet {
                if tty {
                    eprint!("\r\x1b[K");
                }
                eprintln!(
                    "Stopped ({}): {} entries read, {} slice(s) saved; saved up to {}",
                    s.stopped,
                    s.status.entries_read,
                    s.status.slices_written,
                    s.status
                        .last_saved
                        .map(|t| t.to_string())
                        .unwrap_or("-".into())
                );
            }
            Ok(SUCCESS)
        }
        Err(e) => {
            if json {
                json_line(
                    &serde_json::json!({"event": "stopped", "ok": false, "error": format!("{e:#}")}),
                );
            }
            eprintln!("error: {e:#}");
            Err(Reported(ERROR).into())
        }
    }
}

/// `restore --to-time T BACKUPS [--oplog-dir DIR]`: what `restore` hands over.
pub struct ToTime {
    pub backups: Option<PathBuf>,
    pub oplog_dir: Option<PathBuf>,
    pub time: String,
}

/// Runs `restore --to-time` with the options `restore` built from its other flags (its
/// source and oplog settings are replaced by the plan's).
pub async fn run_to_time(
    to: ToTime,
    opts: RestoreOptions,
    ws: Option<&crate::spec::Workspace>,
    ctx: &Ctx,
) -> Result<u8> {
    let target = parse_time("--to-time", &to.time)?;
    let Some(backups) = &to.backups else {
        bail!("--to-time needs the directory holding the base backups (not --archive)");
    };
    if opts.resume || opts.oplog_limit.is_some() || opts.oplog_replay {
        bail!(
            "--to-time replays the oplog itself: it cannot be combined with --resume, \
             --oplog-replay or --oplog-limit"
        );
    }
    let prepared = replay::prepare(backups, to.oplog_dir.as_deref(), target)?;
    let dry_run = opts.dry_run;
    let (client, _) = ctx.connect(ws).await?;
    let progress = BackupProgress::new(ctx.show_progress(), "restore");
    let r = replay::restore_to(&client, prepared, opts, &progress.observer()).await?;
    let ok = r.restore.ok();
    if ctx.json() {
        render::json(&serde_json::json!({"ok": ok, "to_time": r}));
    } else if !ctx.global.quiet || !ok {
        let inserted: u64 = r.restore.namespaces.iter().map(|n| n.inserted).sum();
        let bad: Vec<&str> = r
            .restore
            .namespaces
            .iter()
            .filter(|n| n.status != "ok" && n.status != "dry run")
            .map(|n| n.target.as_str())
            .collect();
        println!(
            "Base backup {} (consistent to {}): {inserted} document(s) in {} namespace(s)",
            r.base,
            r.base_end,
            r.restore.namespaces.len()
        );
        if !bad.is_empty() {
            println!("Failed: {}; the oplog was not replayed", bad.join(", "));
        } else if dry_run {
            println!(
                "Dry run: would replay the base's oplog and {} slice(s) up to {}",
                r.slices.len(),
                r.target
            );
        } else {
            println!(
                "Oplog: {} entries applied ({} read from {} slice(s)); restored to {} (target {})",
                r.restore.oplog_applied.unwrap_or(0),
                r.slice_entries,
                r.slices.len(),
                r.reached,
                r.target
            );
        }
    }
    if ok {
        Ok(SUCCESS)
    } else {
        Err(Reported(ERROR).into())
    }
}

/// `backup list --oplog-dir`: the "restorable to" column's text for a backup.
pub fn window_text(w: Option<&crate::backup::pitr::window::Window>) -> String {
    match w {
        None => "-".into(),
        Some(w) => format!(
            "{} … {}{}",
            short(w.from),
            short(w.to),
            if w.ended_by_gap.is_some() {
                " (gap after)"
            } else {
                ""
            }
        ),
    }
}

/// One compact JSON object per line: a long-running command's events.
fn json_line(v: &serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn short(t: Ts) -> String {
    format!("{}:{}", t.0[0], t.0[1])
}
