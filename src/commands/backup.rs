//! `backup`: dump databases (by domain, database, collection or namespace pattern) into a
//! mongodump-compatible directory or archive, with a manifest; `backup verify|list|prune`
//! work offline on existing backups.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use indicatif::HumanBytes;

use crate::backup::crypto::{Identities, Recipients};
use crate::backup::dump::{BackupOptions, Output, SplitMode, backup};
use crate::backup::manifest::verify;
use crate::backup::nsmatch::NsRules;
use crate::backup::{retention, retention_policy};
use crate::context::{Ctx, parse_json_flag};
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::render;
use crate::render::backup::BackupProgress;

#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: Option<BackupAction>,
    #[command(flatten)]
    pub run: BackupRunArgs,
}

#[derive(Args, Debug, Clone, Default)]
pub struct BackupRunArgs {
    /// Output directory in mongodump's layout (default: ./dump-<UTC time>)
    #[arg(long, value_name = "DIR", conflicts_with = "archive")]
    pub out: Option<PathBuf>,
    /// Write one mongodump archive to FILE instead ("-": standard output)
    #[arg(long, value_name = "FILE")]
    pub archive: Option<String>,
    /// Compress (files get .gz; an archive is compressed as a whole), on all cores
    #[arg(long)]
    pub gzip: bool,
    /// gzip level 1 (fastest) to 9 (smallest)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub gzip_level: u32,
    /// The databases of these workspace domains (repeatable or comma-separated)
    #[arg(
        long,
        short = 'd',
        visible_alias = "service",
        value_delimiter = ',',
        value_name = "DOMAIN"
    )]
    pub domain: Vec<String>,
    /// Databases (repeatable or comma-separated); default: all but admin, local, config
    #[arg(long, value_delimiter = ',', value_name = "DB")]
    pub db: Vec<String>,
    /// Collections within the selected databases (repeatable or comma-separated)
    #[arg(long, short = 'c', value_delimiter = ',', value_name = "NAME")]
    pub collection: Vec<String>,
    /// Only namespaces matching this pattern (`db.coll`, `*` wildcards; repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub ns_include: Vec<String>,
    /// Skip namespaces matching this pattern (repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub ns_exclude: Vec<String>,
    /// Only documents matching this Extended JSON filter
    #[arg(long, value_name = "JSON")]
    pub query: Option<String>,
    /// Collections dumped in parallel
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// Read a large collection in `_id` ranges on several cursors (within -j): auto (when
    /// cursors are spare, the collection is large and the cores allow), off, or N parts for
    /// every collection that can be split. The parts are read at different times: only
    /// --oplog makes the backup consistent to one point
    #[arg(long, default_value = "auto", value_name = "auto|off|N")]
    pub split: SplitMode,
    /// Also capture the oplog written during the backup (replica set), for a restore
    /// consistent to one point in time (restore --oplog-replay)
    #[arg(long)]
    pub oplog: bool,
    /// Do not fsync the files before writing the manifest (faster; a crash right after the
    /// backup can then leave files that fail their checksum)
    #[arg(long)]
    pub no_sync: bool,
    /// Also save the databases' users and roles, credential hashes included (mongodump
    /// --dumpDbUsersAndRoles format, directory or archive)
    #[arg(long)]
    pub users_and_roles: bool,
    /// Encrypt every file (after gzip; files get .age) or the archive to this age X25519
    /// recipient (age1…, from `backup keygen`; repeatable). Not readable by mongorestore
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Encrypt to the recipients in FILE (one age1… per line, # comments; repeatable)
    #[arg(long, value_name = "FILE")]
    pub encrypt_to_file: Vec<PathBuf>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum BackupAction {
    /// Check a backup offline: manifest, checksums, every document parses, counts (an
    /// encrypted backup: checksums only, unless decrypted with --identity)
    #[command(after_help = "Example:\n  mongoctl backup verify backups/full")]
    Verify {
        /// The backup directory or archive file
        path: PathBuf,
        /// Decrypt an encrypted backup with this age identity file and check its content too
        /// (repeatable)
        #[arg(long, value_name = "FILE")]
        identity: Vec<PathBuf>,
    },
    /// Make a new age X25519 identity for encrypted backups: the secret key goes to FILE
    /// (created 0600, never overwritten), the public recipient (for --encrypt-to) is printed
    #[command(
        after_help = "Example:\n  mongoctl backup keygen --out offsite.key > offsite.recipient"
    )]
    Keygen {
        /// Where to write the identity (secret key); keep it away from the backups
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into a scratch server (or, with --uri, prefixed scratch databases),
    /// verify counts, content digests, options, indexes and the spec's validators; RTO, RPO
    #[command(
        after_help = "Example:\n  mongoctl backup drill backups/full\n  mongoctl backup drill auth.archive -o json   # exit 2 on a mismatch"
    )]
    Drill(super::backup_drill::DrillArgs),
    /// The backups in a directory: when, size, documents, complete or not, the last drill
    #[command(after_help = "Example:\n  mongoctl backup list backups")]
    List {
        dir: PathBuf,
        /// Also show, per base backup, the oplog window it can be restored to with the
        /// slices of this directory (`backup oplog --follow --out DIR`)
        #[arg(long, value_name = "DIR")]
        oplog_dir: Option<PathBuf>,
    },
    /// Save the oplog continuously as slices after a base backup, for restore --to-time
    #[command(
        after_help = "Example:\n  mongoctl backup oplog --follow --out oplog-slices --from backups/full --once\n  mongoctl backup list backups --oplog-dir oplog"
    )]
    Oplog(super::pitr::OplogArgs),
    /// Delete old backups by retention rules (restic's): each backup is kept by some rule or
    /// goes; the dry run says which and why
    #[command(
        after_help = "Example:\n  mongoctl backup prune backups --keep-within 7d --keep-daily 14 --keep-weekly 8 --keep-monthly 12 --dry-run\n  mongoctl backup prune backups --keep-last 3 --keep-daily 7 --yes"
    )]
    Prune(PruneArgs),
}

#[derive(Args, Debug, Clone)]
pub struct PruneArgs {
    /// The directory holding the backups (sub-directories and archive files)
    pub dir: PathBuf,
    /// Keep the newest N complete backups
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_last: usize,
    /// Keep the newest backup of each of the last N hours that have one (UTC)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_hourly: usize,
    /// Keep the newest backup of each of the last N days that have one (UTC)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_daily: usize,
    /// Keep the newest backup of each of the last N ISO weeks that have one
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_weekly: usize,
    /// Keep the newest backup of each of the last N calendar months that have one
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_monthly: usize,
    /// Keep the newest backup of each of the last N years that have one
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_yearly: usize,
    /// Keep every backup made within DURATION of the newest one (7d, 2w, 6M, 1y; measured
    /// from the newest backup, not from now, so stopped backups are never all deleted)
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Also delete incomplete backups (no manifest) nothing was written to for DURATION
    #[arg(long, value_name = "DURATION")]
    pub incomplete_after: Option<String>,
    /// List what would be deleted and kept, and why; delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl PruneArgs {
    fn policy(&self) -> Result<retention_policy::Policy> {
        let duration = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|t| retention_policy::parse_duration(flag, t))
                .transpose()
                .map_err(anyhow::Error::msg)
        };
        Ok(retention_policy::Policy {
            last: self.keep_last,
            hourly: self.keep_hourly,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
            within: duration("--keep-within", &self.keep_within)?,
            incomplete_after: duration("--incomplete-after", &self.incomplete_after)?,
        })
    }
}

pub async fn run(args: BackupArgs, ctx: &Ctx) -> Result<u8> {
    match args.action {
        Some(BackupAction::Verify { path, identity }) => run_verify(path, identity, ctx),
        Some(BackupAction::Keygen { out }) => run_keygen(out, ctx),
        Some(BackupAction::List { dir, oplog_dir }) => run_list(dir, oplog_dir, ctx),
        Some(BackupAction::Drill(a)) => super::backup_drill::run(a, ctx).await,
        Some(BackupAction::Oplog(a)) => super::pitr::run_follow(a, ctx).await,
        Some(BackupAction::Prune(a)) => run_prune(a, ctx).await,
        None => run_backup(args.run, ctx).await,
    }
}

async fn run_backup(a: BackupRunArgs, ctx: &Ctx) -> Result<u8> {
    let mut databases = a.db.clone();
    let ws = if a.domain.is_empty() {
        crate::spec::load(&ctx.global.spec).workspace
    } else {
        let ws = super::workspace(ctx)?;
        for name in ctx.domain_databases(&ws, &a.domain)? {
            if !databases.contains(&name) {
                databases.push(name);
            }
        }
        Some(ws)
    };
    if !a.collection.is_empty() && databases.len() != 1 {
        bail!("--collection needs exactly one database (--db or --domain)");
    }
    let query = match &a.query {
        None => None,
        Some(q) => Some((q.clone(), parse_json_flag("query", q)?)),
    };
    let output = match (&a.archive, &a.out) {
        (Some(p), _) if p == "-" => Output::Stdout,
        (Some(p), _) => Output::Archive(PathBuf::from(p)),
        (None, Some(d)) => Output::Directory(d.clone()),
        (None, None) => Output::Directory(PathBuf::from(format!(
            "dump-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))),
    };
    let to_stdout = matches!(output, Output::Stdout);
    let opts = BackupOptions {
        output,
        gzip: a.gzip,
        gzip_level: a.gzip_level,
        databases,
        collections: a.collection.clone(),
        rules: NsRules::new(&a.ns_include, &a.ns_exclude, &[], &[])?,
        query,
        jobs: a.jobs.max(1),
        oplog: a.oplog,
        sync: !a.no_sync,
        users_and_roles: a.users_and_roles,
        encrypt: Recipients::parse(&a.encrypt_to, &a.encrypt_to_file)?,
        split: a.split,
    };
    let (client, _) = ctx.connect(ws.as_ref()).await?;
    let progress = BackupProgress::new(ctx.show_progress() && !to_stdout, "backup");
    let s = backup(&client, &opts, &progress.observer()).await?;
    let m = &s.manifest;
    let docs: u64 = m.namespaces.iter().map(|n| n.documents).sum();
    let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
    if ctx.json() && !to_stdout {
        render::json(
            &serde_json::json!({"ok": true, "location": s.location, "elapsed_secs": s.elapsed_secs, "split": s.parts, "manifest": m}),
        );
    } else if !ctx.global.quiet {
        // With the archive on stdout, the summary goes to stderr.
        let mut t = render::table(&["namespace", "type", "documents"]);
        for n in &m.namespaces {
            t.add_row(vec![
                n.namespace.clone(),
                n.kind.clone(),
                n.documents.to_string(),
            ]);
        }
        let mut text = format!(
            "{t}\nBacked up {} namespace(s), {docs} document(s), {} to {} in {:.1} s",
            m.namespaces.len(),
            HumanBytes(bytes),
            s.location,
            s.elapsed_secs
        );
        for (ns, n) in &s.parts {
            text.push_str(&format!("\n{ns}: read in {n} _id ranges"));
        }
        if let Some(o) = &m.oplog {
            text.push_str(&format!(
                "\nOplog: {} entries, consistent to Timestamp({}, {})",
                o.entries, o.end[0], o.end[1]
            ));
        }
        if let Some(e) = &m.encryption {
            text.push_str(&format!(
                "\nEncrypted (age) to {}: restore it with --identity (mongorestore cannot read it)",
                e.recipients.join(", ")
            ));
        }
        if to_stdout {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
    Ok(SUCCESS)
}

fn run_verify(path: PathBuf, identity: Vec<PathBuf>, ctx: &Ctx) -> Result<u8> {
    let ids = Identities::load(&identity)?;
    match verify(&path, &ids) {
        Ok(r) => {
            if ctx.json() {
                render::json(&serde_json::json!({"ok": true, "report": r}));
            } else if !ctx.global.quiet {
                let checked = if r.encrypted_files > 0 && !r.decrypted {
                    format!(
                        "checksums of the {} encrypted file(s) match the manifest; their content \
                         was not decrypted (pass --identity FILE to check every document)",
                        r.encrypted_files
                    )
                } else if r.encrypted_files > 0 {
                    "every encrypted file decrypted; checksums and counts match the manifest"
                        .to_string()
                } else {
                    "checksums and counts match the manifest".to_string()
                };
                println!(
                    "OK: {}: {} file(s), {} namespace(s), {} document(s); {checked}",
                    r.path, r.files, r.namespaces, r.documents
                );
            }
            Ok(SUCCESS)
        }
        Err(e) => {
            if ctx.json() {
                render::json(&serde_json::json!({"ok": false, "error": format!("{e:#}")}));
            } else {
                eprintln!("error: backup verification failed: {e:#}");
            }
            Err(Reported(ERROR).into())
        }
    }
}

/// Prints only the public recipient: the secret key is in the file.
fn run_keygen(out: PathBuf, ctx: &Ctx) -> Result<u8> {
    let public = crate::backup::crypto::keygen(&out)?;
    if ctx.json() {
        render::json(&serde_json::json!({"recipient": public, "identity_file": out}));
    } else {
        println!("{public}");
        if !ctx.global.quiet {
            eprintln!(
                "wrote the identity (secret key) to {}; back up with --encrypt-to {public}, \
                 restore with --identity {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(SUCCESS)
}

/// Lists the backups of `dir`, warning on stderr about the symbolic links it skips.
fn list_backups(dir: &std::path::Path) -> Result<Vec<retention::BackupEntry>> {
    let l = retention::list(dir)?;
    for p in &l.symlinks {
        eprintln!(
            "warning: skipping {}: a symbolic link is not a backup of {} (backup list and prune never follow one)",
            p.display(),
            dir.display()
        );
    }
    Ok(l.backups)
}

fn run_list(dir: PathBuf, oplog_dir: Option<PathBuf>, ctx: &Ctx) -> Result<u8> {
    let list = list_backups(&dir)?;
    let windows = match &oplog_dir {
        Some(o) => Some(crate::backup::pitr::replay::windows(&dir, o)?),
        None => None,
    };
    let window_of = |name: &str| {
        windows
            .as_ref()
            .and_then(|w| w.iter().find(|(n, _)| n == name).map(|(_, w)| w))
    };
    if ctx.json() {
        let mut v = serde_json::json!({"backups": list});
        if let Some(w) = &windows {
            v["restorable"] = serde_json::json!(
                w.iter()
                    .map(|(n, w)| serde_json::json!({"backup": n, "window": w}))
                    .collect::<Vec<_>>()
            );
        }
        render::json(&v);
        return Ok(SUCCESS);
    }
    let mut head = vec![
        "backup",
        "finished",
        "layout",
        "namespaces",
        "documents",
        "size",
        "status",
        "last drill",
    ];
    if windows.is_some() {
        head.push("restorable to (oplog)");
    }
    let mut t = render::table(&head);
    for e in &list {
        let mut row = vec![
            e.name.clone(),
            e.finished_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "-".into()),
            format!("{}{}", e.layout, if e.gzip { " (gzip)" } else { "" }),
            e.namespaces.to_string(),
            e.documents.to_string(),
            HumanBytes(e.bytes).to_string(),
            if e.complete {
                if e.oplog {
                    "complete, oplog"
                } else {
                    "complete"
                }
                .to_string()
            } else {
                "INCOMPLETE (no manifest)".into()
            },
            match &e.last_drill {
                None => "-".into(),
                Some(d) => format!(
                    "{} {}, RTO {:.1} s",
                    d.at.format("%Y-%m-%d %H:%M UTC"),
                    if d.passed { "passed" } else { "FAILED" },
                    d.restore_secs
                ),
            },
        ];
        if windows.is_some() {
            row.push(super::pitr::window_text(window_of(&e.name)));
        }
        t.add_row(row);
    }
    println!("{t}");
    Ok(SUCCESS)
}

async fn run_prune(a: PruneArgs, ctx: &Ctx) -> Result<u8> {
    let policy = a.policy()?;
    if !policy.keeps_any() {
        bail!(
            "backup prune needs a keep rule: --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly or --keep-within (without one it would delete every backup)"
        );
    }
    let list = list_backups(&a.dir)?;
    let decisions = retention_policy::decide(&list, &policy, retention_policy::now());
    let doomed: Vec<usize> = (0..list.len()).filter(|&i| !decisions[i].keep).collect();
    let report = |deleted: bool| {
        if ctx.json() {
            render::json(&serde_json::json!({
                "dry_run": a.dry_run,
                "deleted": deleted,
                "backups": decisions,
            }));
        } else {
            render::retention::table(&list, &decisions, a.dry_run || !deleted);
        }
    };
    if doomed.is_empty() || a.dry_run {
        report(false);
        return Ok(SUCCESS);
    }
    if !ctx.json() {
        report(false);
    }
    let question = format!("Delete {} backup(s)?", doomed.len());
    super::confirm::require(&question, ctx.global.yes).await?;
    for &i in &doomed {
        retention::delete(&list[i])?;
    }
    if ctx.json() {
        report(true);
    } else {
        println!(
            "Deleted {} backup(s); kept {}.",
            doomed.len(),
            list.len() - doomed.len()
        );
    }
    Ok(SUCCESS)
}
