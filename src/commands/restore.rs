//! `restore`: write a backup (directory, archive file or standard input; gzip or not) back
//! into a cluster, optionally into other namespaces or over live data (`--mode`), and print
//! what happened per namespace.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::backup::crypto::Identities;
use crate::backup::nsmatch::NsRules;
use crate::backup::restore::{RestoreOptions, Source, WriteMode, restore};
use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::render;
use crate::render::backup::BackupProgress;

#[derive(Args, Debug, Clone, Default)]
pub struct RestoreArgs {
    /// The backup directory: mongoctl's, or mongodump's (recognised by its prelude.json or
    /// its <db>/<collection>.bson layout)
    #[arg(
        value_name = "DIR",
        required_unless_present = "archive",
        conflicts_with = "archive"
    )]
    pub path: Option<PathBuf>,
    /// Restore an archive FILE, mongoctl's or mongodump's ("-": standard input); gzip is
    /// detected
    #[arg(long, value_name = "FILE")]
    pub archive: Option<String>,
    /// Accepted for mongorestore compatibility: compression is detected from the data
    #[arg(long, hide = true)]
    pub gzip: bool,
    /// Replace each target collection: restored into a temporary collection, swapped in once
    /// every one is complete (destructive: needs confirmation or --yes)
    #[arg(long)]
    pub drop: bool,
    /// Only the databases of these workspace domains (repeatable or comma-separated)
    #[arg(
        long,
        short = 'd',
        visible_alias = "service",
        value_delimiter = ',',
        value_name = "DOMAIN"
    )]
    pub domain: Vec<String>,
    /// Only namespaces matching this pattern (`db.coll`, `*` wildcards; repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub ns_include: Vec<String>,
    /// Skip namespaces matching this pattern (repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub ns_exclude: Vec<String>,
    /// Rename: source pattern (with `*`), paired with the next --ns-to
    #[arg(long, value_name = "PATTERN")]
    pub ns_from: Vec<String>,
    /// Rename: target pattern; its `*`s take what --ns-from's `*`s matched
    #[arg(long, value_name = "PATTERN")]
    pub ns_to: Vec<String>,
    /// Verify and show what would be restored, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Stop at the first duplicate key or rejected document (default: count and report)
    #[arg(long)]
    pub stop_on_error: bool,
    /// Continue an interrupted restore of the same backup (progress is recorded in the
    /// target's mongoctl.restore_progress collection as batches complete)
    #[arg(long, conflicts_with = "drop")]
    pub resume: bool,
    /// Restore an interrupted mongoctl backup (no manifest; some collections may be missing).
    /// Not needed for mongodump's backups
    #[arg(long)]
    pub force: bool,
    /// insert: only new documents (an `_id` already there is a duplicate, left alone);
    /// upsert: replace the live document with the backup's; merge: set the backup's fields
    /// on the live document, keeping its others. Not with --drop
    #[arg(long, value_enum, default_value_t = Mode::Insert)]
    pub mode: Mode,
    /// Collections restored in parallel
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// Insert batches in flight per collection
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Restore the users and roles saved by `backup --users-and-roles` (with --drop, the
    /// target databases' other users and roles are removed). A full dump's
    /// `admin.system.users` / `admin.system.roles` are restored without it, as mongorestore
    /// does (with --drop, every user and role the dump lacks is removed)
    #[arg(long)]
    pub users_and_roles: bool,
    /// Replay the oplog captured by `backup --oplog` after the data
    #[arg(long)]
    pub oplog_replay: bool,
    /// Replay only entries before this timestamp: SECONDS[:INCREMENT]
    #[arg(long, value_name = "TIMESTAMP", requires = "oplog_replay")]
    pub oplog_limit: Option<String>,
    /// Decrypt an encrypted backup with this age identity file (from `backup keygen`;
    /// repeatable): every encrypted file is checked to open before the first write
    #[arg(long, value_name = "FILE")]
    pub identity: Vec<PathBuf>,
    /// Restore to a point in time, inclusive (RFC 3339, to the second, or SECONDS[:INCREMENT]):
    /// DIR holds the base backups; the newest consistent at or before T is restored, then
    /// its oplog and the slices of --oplog-dir up to T are replayed
    #[arg(long, value_name = "T", conflicts_with = "archive")]
    pub to_time: Option<String>,
    /// The slices directory written by `backup oplog --follow` (with --to-time)
    #[arg(long, value_name = "DIR", requires = "to_time")]
    pub oplog_dir: Option<PathBuf>,
}

/// `--mode`: how a document whose `_id` is already in the target is written.
#[derive(ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Insert,
    Upsert,
    Merge,
}

impl From<Mode> for WriteMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Insert => WriteMode::Insert,
            Mode::Upsert => WriteMode::Upsert,
            Mode::Merge => WriteMode::Merge,
        }
    }
}

pub fn parse_timestamp(s: &str) -> Result<bson::Timestamp> {
    let (t, i) = s.split_once(':').unwrap_or((s, "0"));
    Ok(bson::Timestamp {
        time: t
            .parse()
            .with_context(|| format!("--oplog-limit {s}: expected SECONDS[:INCREMENT]"))?,
        increment: i
            .parse()
            .with_context(|| format!("--oplog-limit {s}: expected SECONDS[:INCREMENT]"))?,
    })
}

pub async fn run(a: RestoreArgs, ctx: &Ctx) -> Result<u8> {
    let mut include = a.ns_include.clone();
    let ws = if a.domain.is_empty() {
        crate::spec::load(&ctx.global.spec).workspace
    } else {
        let ws = super::workspace(ctx)?;
        include.extend(
            ctx.domain_databases(&ws, &a.domain)?
                .into_iter()
                .map(|db| format!("{db}.*")),
        );
        Some(ws)
    };
    let source = match (&a.archive, &a.path) {
        (Some(p), _) if p == "-" => Source::Stdin,
        (Some(p), _) => Source::Archive(PathBuf::from(p)),
        (None, Some(d)) => {
            if !d.is_dir() {
                bail!(
                    "{} is not a directory (use --archive FILE for an archive)",
                    d.display()
                );
            }
            Source::Directory(d.clone())
        }
        (None, None) => bail!("give a backup directory or --archive FILE"),
    };
    let opts = RestoreOptions {
        source,
        rules: NsRules::new(&include, &a.ns_exclude, &a.ns_from, &a.ns_to)?,
        drop: a.drop,
        dry_run: a.dry_run,
        stop_on_error: a.stop_on_error,
        resume: a.resume,
        force: a.force,
        mode: a.mode.into(),
        jobs: a.jobs.max(1),
        workers: a.workers.max(1),
        oplog_replay: a.oplog_replay,
        users_and_roles: a.users_and_roles,
        oplog_limit: a.oplog_limit.as_deref().map(parse_timestamp).transpose()?,
        identities: Identities::load(&a.identity)?,
    };
    if a.drop && !a.dry_run {
        super::confirm::require(
            "Replace every target collection with the backup's (--drop)?",
            ctx.global.yes,
        )
        .await?;
    }
    if let Some(t) = &a.to_time {
        let to = super::pitr::ToTime {
            backups: a.path.clone(),
            oplog_dir: a.oplog_dir.clone(),
            time: t.clone(),
        };
        return super::pitr::run_to_time(to, opts, ws.as_ref(), ctx).await;
    }
    let (client, _) = ctx.connect(ws.as_ref()).await?;
    let progress = BackupProgress::new(ctx.show_progress(), "restore");
    let report = restore(&client, &opts, &progress.observer()).await?;
    let ok = report.ok();
    if let Some(w) = &report.backup.warning
        && !ctx.json()
    {
        eprintln!("warning: {w}");
    }
    if let Some([t, i]) = report.oplog_stopped_before {
        eprintln!(
            "warning: --oplog-limit kept out the backup's oplog from {t}:{i} on: collections the \
             backup read after that moment already hold some later writes, so they are not \
             restored exactly to the limit (only the backup's end is one point in time for all)"
        );
    }
    if ctx.json() {
        render::json(&serde_json::json!({"ok": ok, "report": report}));
    } else if !ctx.global.quiet || !ok {
        let overlay = opts.mode != WriteMode::Insert;
        let mut head = vec!["source", "target", "type", "expected", "inserted"];
        if overlay {
            head.extend(["replaced", "merged", "unchanged"]);
        }
        head.extend(["duplicates", "resumed", "errors", "indexes", "status"]);
        let mut t = render::table(&head);
        for n in &report.namespaces {
            let mut row = vec![
                n.source.clone(),
                n.target.clone(),
                n.kind.clone(),
                n.expected
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "?".into()),
                n.inserted.to_string(),
            ];
            if overlay {
                row.extend([
                    n.replaced.to_string(),
                    n.merged.to_string(),
                    n.unchanged.to_string(),
                ]);
            }
            row.extend([
                n.duplicates.to_string(),
                n.resumed.to_string(),
                n.errors.to_string(),
                n.indexes.to_string(),
                match &n.note {
                    Some(note) => format!("{} ({note})", n.status),
                    None => n.status.clone(),
                },
            ]);
            t.add_row(row);
        }
        println!("{t}");
        for s in &report.skipped {
            println!("Skipped {}: {}", s.namespace, s.reason);
        }
        let sum = |f: fn(&crate::backup::restore::NsReport) -> u64| -> u64 {
            report.namespaces.iter().map(f).sum()
        };
        let inserted = sum(|n| n.inserted);
        let dups = sum(|n| n.duplicates);
        if report.dry_run {
            println!(
                "Dry run: files checked, {} namespace(s) would be restored; nothing was written.",
                report.namespaces.len()
            );
        } else if overlay {
            println!(
                "Restored into {} namespace(s) in {:.1} s: {inserted} inserted, {} replaced, {} \
                 merged, {} unchanged; {dups} duplicate key(s) skipped",
                report.namespaces.len(),
                report.elapsed_secs,
                sum(|n| n.replaced),
                sum(|n| n.merged),
                sum(|n| n.unchanged),
            );
        } else {
            println!(
                "Restored {inserted} document(s) into {} namespace(s) in {:.1} s; {dups} duplicate key(s) skipped",
                report.namespaces.len(),
                report.elapsed_secs
            );
        }
        if let Some((u, r)) = report.users_and_roles {
            println!("Users and roles: {u} user(s), {r} role(s) restored");
        }
        if let Some(n) = report.oplog_applied {
            println!("Oplog: {n} entries replayed");
        }
    }
    if ok {
        Ok(SUCCESS)
    } else {
        Err(Reported(ERROR).into())
    }
}
