//! `backup drill`: proves a backup can be recovered from. It restores the backup into a
//! scratch mongod it starts itself (or, with `--uri`, into prefixed scratch databases of that
//! cluster), checks every restored namespace against the backup (count, content digest,
//! options, indexes: `checks`), runs the workspace's validators over the restored data, and
//! reports RTO (the restore's wall time, per GB) and RPO (the backup's consistent point
//! against now). The scratch server or databases are removed afterwards, on failure and on
//! Ctrl-C too. Recording the result is `record`'s.

pub mod checks;
pub mod record;
pub mod report;
pub mod scratch;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use bson::Document;
use mongodb::Client;

use crate::backup::crypto::Identities;
use crate::backup::events::Observer;
use crate::backup::manifest::Manifest;
use crate::backup::nsmatch::{NsRules, split};
use crate::backup::restore::{RestoreOptions, RestoreReport, Source, WriteMode, restore};
use crate::conformance::{Conformance, violations};
use crate::model::IndexDef;
use crate::spec::Workspace;

use checks::{ContentCheck, Finding, check_namespace, live_meta};
use report::{DrillReport, Rpo, Rto};
use scratch::Scratch;

/// A collection the workspace declares: its validator is run over the restored copy, and
/// its declared indexes must be there (a backup whose metadata lost an index restores
/// without it, consistently with itself: only the spec can tell).
pub struct DeclaredCollection {
    pub domain: String,
    pub database: String,
    pub collection: String,
    pub validator: Option<Document>,
    pub indexes: Vec<IndexDef>,
}

/// What the workspace declares, when the drill runs in one.
pub struct Validators<'a> {
    pub ws: &'a Workspace,
    pub declared: Vec<DeclaredCollection>,
    /// Violating documents explained per collection.
    pub samples: usize,
}

pub struct DrillOptions<'a> {
    pub backup: PathBuf,
    /// `None`: a scratch mongod; `Some`: this cluster, databases renamed with the prefix.
    pub into: Option<(Client, String)>,
    pub validators: Option<Validators<'a>>,
    /// Collections restored in parallel.
    pub jobs: usize,
    /// Identities for an encrypted backup (passed to the restore and the metadata read).
    pub identities: Identities,
}

/// Runs a drill. An `Err` is an error before anything was restored (a backup that is not
/// one); an error after the scratch target exists is in the report (`error`), the scratch
/// target cleaned up all the same.
pub async fn drill(opts: DrillOptions<'_>, observe: &Observer) -> Result<DrillReport> {
    let at = chrono::Utc::now();
    let backup = &opts.backup;
    if !backup.exists() {
        bail!(
            "{}: no such backup directory or archive file",
            backup.display()
        );
    }
    let manifest = Manifest::load(backup)?;
    let scratch = match opts.into.clone() {
        None => Scratch::start_server().await?,
        Some((client, prefix)) => Scratch::prefixed(client, prefix),
    };
    let mut report = DrillReport {
        backup: backup.display().to_string(),
        at,
        passed: false,
        made_by: Default::default(),
        scratch: scratch.info(),
        rto: Rto::default(),
        rpo: rpo(manifest.as_ref(), at),
        verify_secs: 0.0,
        verify_share: 0.0,
        namespaces: Vec::new(),
        validators: Vec::new(),
        findings: Vec::new(),
        notes: Vec::new(),
        error: None,
    };
    let ran = tokio::select! {
        r = run(&scratch, &opts, manifest.as_ref(), observe, &mut report) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted (Ctrl-C)")),
    };
    if let Err(e) = ran {
        report.error = Some(format!("{e:#}"));
    }
    match scratch.clean_up().await {
        Ok(()) => report.scratch.cleaned_up = true,
        Err(e) => report.notes.push(format!("cleaning up: {e:#}")),
    }
    report.passed = report.error.is_none() && report.findings.is_empty();
    Ok(report)
}

async fn run(
    scratch: &Scratch,
    opts: &DrillOptions<'_>,
    manifest: Option<&Manifest>,
    observe: &Observer,
    report: &mut DrillReport,
) -> Result<()> {
    let client = scratch.client();
    let metadata = crate::backup::restore::backup_metadata(&opts.backup, &opts.identities)?;
    let t0 = Instant::now();
    let restored = restore(client, &restore_options(opts, scratch)?, observe).await?;
    report.rto.restore_secs = t0.elapsed().as_secs_f64();
    report.made_by = restored.backup.clone();
    let t1 = Instant::now();
    check_restored(client, &restored, &metadata, manifest, report).await?;
    if let Some(v) = &opts.validators {
        report.validators = check_validators(client, v, &restored, &mut report.findings).await?;
    } else {
        report
            .notes
            .push("no workspace: the spec's validators were not run over the restored data".into());
    }
    report.verify_secs = t1.elapsed().as_secs_f64();
    let total = report.rto.restore_secs + report.verify_secs;
    report.verify_share = if total > 0.0 {
        report.verify_secs / total
    } else {
        0.0
    };
    report.rto.data_bytes = report.namespaces.iter().map(|n| n.bytes).sum();
    report.rto.secs_per_gb = (report.rto.data_bytes > 0)
        .then(|| report.rto.restore_secs / (report.rto.data_bytes as f64 / 1e9));
    let counts_only: Vec<&str> = report
        .namespaces
        .iter()
        .filter(|n| n.content == ContentCheck::CountsOnly)
        .map(|n| n.namespace.as_str())
        .collect();
    if !counts_only.is_empty() {
        report.notes.push(format!(
            "counts only for {}: the backup records no content digest ({}), so the restored \
             documents were counted, not compared",
            counts_only.join(", "),
            if manifest.is_some() {
                "made by an older mongoctl"
            } else {
                "no mongoctl manifest"
            }
        ));
    }
    Ok(())
}

fn restore_options(opts: &DrillOptions<'_>, scratch: &Scratch) -> Result<RestoreOptions> {
    let (from, to): (Vec<String>, Vec<String>) = scratch.rename().into_iter().unzip();
    Ok(RestoreOptions {
        source: if opts.backup.is_dir() {
            Source::Directory(opts.backup.clone())
        } else {
            Source::Archive(opts.backup.clone())
        },
        rules: NsRules::new(&[], &[], &from, &to)?,
        drop: false,
        dry_run: false,
        stop_on_error: false,
        resume: false,
        force: false,
        mode: WriteMode::Insert,
        jobs: opts.jobs.max(1),
        workers: 2,
        // The data files are what the manifest's counts and digests describe; the oplog's
        // integrity was checked with every other file before the first write.
        identities: opts.identities.clone(),
        oplog_replay: false,
        users_and_roles: false,
        oplog_limit: None,
    })
}

/// The recovery point: a backup with `--oplog` is consistent to its oplog's end, any other
/// mongoctl backup to its manifest's `finished_at` at the latest.
fn rpo(manifest: Option<&Manifest>, now: chrono::DateTime<chrono::Utc>) -> Rpo {
    let (point, from) = match manifest {
        None => (None, "unknown"),
        Some(m) => match &m.oplog {
            Some(o) => (
                chrono::DateTime::from_timestamp(o.end[0] as i64, 0),
                "oplog end",
            ),
            None => (Some(m.finished_at), "manifest finished_at"),
        },
    };
    Rpo {
        point,
        from: from.into(),
        age_secs: point.map(|p| (now - p).num_milliseconds() as f64 / 1000.0),
    }
}

async fn check_restored(
    client: &Client,
    restored: &RestoreReport,
    metadata: &std::collections::BTreeMap<String, crate::backup::format::CollectionMeta>,
    manifest: Option<&Manifest>,
    report: &mut DrillReport,
) -> Result<()> {
    for n in &restored.namespaces {
        if n.status != "ok" {
            report.findings.push(Finding {
                namespace: n.source.clone(),
                check: "restore".into(),
                message: format!(
                    "restore status {:?} ({} inserted, {} duplicate(s), {} error(s))",
                    n.status, n.inserted, n.duplicates, n.errors
                ),
            });
        }
        let Some(meta) = metadata.get(&n.source) else {
            report.findings.push(Finding {
                namespace: n.source.clone(),
                check: "options".into(),
                message: "restored, but the backup holds no metadata for it".into(),
            });
            continue;
        };
        let recorded = manifest.and_then(|m| m.namespaces.iter().find(|e| e.namespace == n.source));
        let expected = recorded.map(|e| e.documents).or(n.expected);
        let digest = recorded.and_then(|e| e.digest.as_deref());
        let checked = check_namespace(
            client,
            &n.source,
            &n.target,
            meta,
            expected,
            digest,
            &mut report.findings,
        )
        .await?;
        report.namespaces.push(checked);
    }
    Ok(())
}

/// The spec's validators over the restored copies of their collections (a collection the
/// backup does not hold is skipped, and said so), and its declared indexes on them.
async fn check_validators(
    client: &Client,
    v: &Validators<'_>,
    restored: &RestoreReport,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Conformance>> {
    let mut out = Vec::new();
    for d in &v.declared {
        let source = format!("{}.{}", d.database, d.collection);
        let restored_ns = restored.namespaces.iter().find(|n| n.source == source);
        if let Some(n) = restored_ns.filter(|n| n.kind != "view") {
            let (db, coll) = split(&n.target);
            let live = live_meta(client, db, coll).await?;
            let have: Vec<&Document> = live.iter().flat_map(|m| m.indexes.iter()).collect();
            for want in &d.indexes {
                let found = have
                    .iter()
                    .find(|i| i.get_str("name") == Ok(want.name.as_str()));
                // By name: the server keeps some keys in its own form (a text index's
                // `{_fts: "text", _ftsx: 1}`), and the key was compared with the backup's.
                if found.is_some() {
                    continue;
                }
                let message = format!(
                    "index {} declared in the spec (indexes/{}/{}.json) is not on the restored collection",
                    want.name, d.domain, d.collection
                );
                findings.push(Finding {
                    namespace: source.clone(),
                    check: "indexes".into(),
                    message,
                });
            }
        }
        let key = (d.domain.clone(), d.collection.clone());
        let (Some(schema), Some(validator)) = (v.ws.schemas.get(&key), &d.validator) else {
            continue;
        };
        let mut c = Conformance {
            domain: d.domain.clone(),
            database: d.database.clone(),
            collection: d.collection.clone(),
            schema_file: schema.rel.to_string_lossy().replace('\\', "/"),
            violating: 0,
            skipped: None,
            samples: Vec::new(),
        };
        match restored_ns {
            None => c.skipped = Some("not in the backup".into()),
            Some(n) if n.kind == "view" => c.skipped = Some("a view in the backup".into()),
            Some(n) => {
                let (db, coll) = split(&n.target);
                (c.violating, c.samples) =
                    violations(client, v.ws, schema, db, coll, validator, v.samples).await?;
                if c.violating > 0 {
                    findings.push(Finding {
                        namespace: source.clone(),
                        check: "validator".into(),
                        message: format!(
                            "{} restored document(s) violate the validator of {} (domain {})",
                            c.violating, c.schema_file, d.domain
                        ),
                    });
                }
            }
        }
        out.push(c);
    }
    Ok(out)
}
