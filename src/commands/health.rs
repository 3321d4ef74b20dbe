//! `health`: can we reach the cluster, what is it, how fast does it answer, who are we
//! (gathered by `crate::health`, printed by `render::health`). `health --check` holds the
//! manifest's alert thresholds against the cluster and the backup store (`crate::alerts`)
//! and exits 2 when one is crossed (`render::alerts`).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use crate::alerts::{self, Observations, Severity, observe::Scope};
use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, ERROR, Reported, SUCCESS};
use crate::flags::OutputFormat;
use crate::health::{self, Probe};
use crate::render;
use crate::spec::MANIFEST_FILE;
use crate::spec::source::SourceFile;
use crate::stats;

#[derive(Args, Debug, Clone, Default)]
pub struct HealthArgs {
    /// Hold the manifest's alert thresholds ("alerts") against the cluster and the backups:
    /// one line per finding (Nagios/Icinga convention); exit 2 when a level is crossed
    #[arg(long)]
    pub check: bool,
    /// With --check: the directory whose backups and drills are aged (default: the
    /// manifest's "alerts": {"backups": DIR})
    #[arg(long, value_name = "DIR", requires = "check")]
    pub backups: Option<PathBuf>,
}

pub async fn run(args: HealthArgs, ctx: &Ctx) -> Result<u8> {
    if args.check {
        let result = check(&args, ctx).await;
        if ctx.global.output == OutputFormat::Github
            && let Err(e) = &result
            && e.downcast_ref::<Reported>().is_none()
        {
            render::alerts::github_error(&crate::redact::scrub(&format!("{e:#}")));
        }
        return result;
    }
    let ws = crate::spec::load(&ctx.global.spec).workspace;
    let (client, choice) = ctx.connect(ws.as_ref()).await?;
    match health::probe(&client, &choice.shown).await? {
        Probe::Unreachable { error } => {
            render::health::unreachable(&choice.shown, &error, ctx.json());
            Err(Reported(ERROR).into())
        }
        Probe::Reachable(h) => {
            if ctx.json() {
                render::health::json(&h);
            } else {
                render::health::table(&h);
            }
            Ok(SUCCESS)
        }
    }
}

/// `--check`: 0 when no level is reached, 2 when one is, 1 when a measurement could not be
/// taken (and nothing was crossed) or the check itself failed.
async fn check(args: &HealthArgs, ctx: &Ctx) -> Result<u8> {
    let ws = super::workspace(ctx)?;
    let t = &ws.manifest.alerts;
    if t.is_empty() {
        bail!(
            "no alert thresholds are declared: add \"alerts\" to {} (e.g. \"alerts\": {{\"replicationLagSeconds\": {{\"warn\": 10, \"critical\": 60}}}})",
            ctx.global.spec.join(MANIFEST_FILE).display()
        );
    }
    let backups = args.backups.clone().or_else(|| t.backups.clone());
    if t.reads_backups() && backups.is_none() {
        bail!(
            "backupAgeHours and drillAgeDays need the directory backups are kept in: pass --backups DIR or declare \"backups\": \"DIR\" in the manifest's \"alerts\""
        );
    }
    let domains = ctx.domains(&ws, &[])?;
    let desired = ctx.desired(&ws, &domains)?;
    let targets = alert_targets(&ws, &desired);
    let (client, _) = ctx.connect(Some(&ws)).await?;

    let mut o = Observations::new(chrono::Utc::now());
    if let Some(dir) = backups.as_deref().filter(|_| t.reads_backups()) {
        alerts::backups::observe(dir, &mut o);
    }
    let scope = Scope {
        targets: &targets,
        desired: &desired,
        metadata_db: &ws.manifest.metadata_database,
    };
    alerts::observe::observe(&client, t, &scope, &mut o).await?;
    let ev = alerts::evaluate(t, &o);

    match ctx.global.output {
        OutputFormat::Json => render::alerts::json(&ev),
        OutputFormat::Github => {
            let manifest = SourceFile::read(&ws.root, Path::new(MANIFEST_FILE))
                .ok()
                .map(|(s, _)| s);
            render::alerts::github(&ctx.global.spec, manifest.as_ref(), &ev);
        }
        _ => render::alerts::lines(&ev),
    }
    Ok(if ev.crossed() {
        CHANGES_PENDING
    } else if ev.worst() == Some(Severity::Unknown) {
        ERROR
    } else {
        SUCCESS
    })
}

/// The declared databases the thresholds apply to (shared with the report's thresholds part).
pub(crate) fn alert_targets(
    ws: &crate::spec::Workspace,
    desired: &crate::model::ClusterState,
) -> Vec<stats::Target> {
    let mut targets = stats::targets(desired);
    // A template's tenants are held against their quotas (`verify`), not these thresholds.
    targets.retain(|(domain, _, _)| ws.manifest.domain(domain).is_none_or(|d| !d.template));
    targets
}
