//! `backup drill BACKUP`: restore a backup into a scratch mongod (or, with `--uri`, into
//! prefixed scratch databases), verify it, report RTO and RPO, record the result beside the
//! backup and in the workspace cluster's metadata database. Exit 0 when everything matches,
//! 2 on a finding, 1 on an error.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::backup::crypto::Identities;
use crate::backup::drill::record::{self, DRILLS_COLLECTION};
use crate::backup::drill::{DeclaredCollection, DrillOptions, Validators, drill};
use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, ERROR, Reported, SUCCESS};
use crate::render;
use crate::render::backup::BackupProgress;

#[derive(Args, Debug, Clone)]
pub struct DrillArgs {
    /// The backup directory or archive file (mongoctl's or mongodump's)
    pub path: PathBuf,
    /// With --uri: the prefix of the scratch databases restored into (default drill_<id>_)
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Violating documents to explain per validated collection
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub samples: usize,
    /// Collections restored in parallel
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// Decrypt an encrypted backup with this age identity file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub identity: Vec<PathBuf>,
}

pub async fn run(a: DrillArgs, ctx: &Ctx) -> Result<u8> {
    let ws = crate::spec::load(&ctx.global.spec).workspace;
    let validators = match &ws {
        None => None,
        Some(ws) => {
            let desired = ctx.desired(ws, &ctx.domains(ws, &[])?)?;
            let declared = desired
                .databases
                .iter()
                .flat_map(|db| {
                    db.collections.iter().map(|c| DeclaredCollection {
                        domain: db.domain.clone(),
                        database: db.name.clone(),
                        collection: c.name.clone(),
                        validator: c.validator.clone(),
                        indexes: c.indexes.clone(),
                    })
                })
                .collect();
            Some(Validators {
                ws,
                declared,
                samples: a.samples,
            })
        }
    };
    // Bad identity files are refused before anything connects.
    let identities = Identities::load(&a.identity)?;
    let into = if ctx.global.uri.is_some() {
        let (client, _) = ctx.connect(ws.as_ref()).await?;
        let prefix = a.prefix.clone().unwrap_or_else(|| {
            let id = bson::oid::ObjectId::new().to_hex();
            format!("drill_{}_", &id[16..])
        });
        Some((client, prefix))
    } else {
        None
    };
    let progress = BackupProgress::new(ctx.show_progress(), "drill");
    let opts = DrillOptions {
        backup: a.path.clone(),
        into: into.clone(),
        validators,
        jobs: a.jobs,
        identities,
    };
    let mut report = drill(opts, &progress.observer()).await?;

    // Recorded in the workspace's cluster (the usual connection), when there is one.
    let metadata_db = ws
        .as_ref()
        .map(|w| w.manifest.metadata_database.clone())
        .unwrap_or_else(|| "mongoctl".into());
    let cluster = match into {
        Some((client, _)) => Ok(client),
        None => ctx.connect(ws.as_ref()).await.map(|(c, _)| c),
    };
    match cluster {
        Ok(client) => match record::record_in_cluster(&client, &metadata_db, &report).await {
            Ok(()) => report
                .notes
                .push(format!("recorded in {metadata_db}.{DRILLS_COLLECTION}")),
            Err(e) => report
                .notes
                .push(format!("not recorded in a cluster: {e:#}")),
        },
        Err(e) => report.notes.push(format!(
            "not recorded in a cluster (none reachable is configured): {}",
            crate::redact::scrub(&format!("{e:#}"))
        )),
    }
    match record::write(&a.path, &report) {
        Ok(p) => report.notes.push(format!("recorded in {}", p.display())),
        Err(e) => report
            .notes
            .push(format!("not recorded beside the backup: {e:#}")),
    }

    if ctx.json() {
        render::json(&serde_json::json!({"ok": report.passed, "report": report}));
    } else {
        render::drill::table(&report, ctx.global.quiet);
    }
    if report.error.is_some() {
        if !ctx.json() {
            eprintln!(
                "error: the drill of {} failed: {}",
                report.backup,
                report.error.as_deref().unwrap_or_default()
            );
        }
        return Err(Reported(ERROR).into());
    }
    Ok(if report.passed {
        SUCCESS
    } else {
        CHANGES_PENDING
    })
}
