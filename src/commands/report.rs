//! `report`: one self-contained HTML page about the cluster (thresholds and budgets, sizes and
//! growth charts, indexes, drift, conformance, audit, backups, slow operations, tenants), for a
//! ticket or a CI artifact. The parts come from `crate::report` (drift, conformance and tenants computed here
//! with `plan`'s and `verify`'s steps), the page from `render::report`; `-o json` prints the
//! gathered data. A part the user may not read is named in the page, not an error.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use mongodb::Client;

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::flags::{ScopeArgs, TenantArgs};
use crate::live;
use crate::model::ClusterState;
use crate::render;
use crate::report::{
    self, AlertInputs, ConformancePart, Drift, Inputs, Part, Report, alert_backups_dir,
};
use crate::spec::Workspace;
use crate::stats::TenantReport;

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Where to write the HTML page (required unless -o json)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Violating documents to explain per collection in the conformance part
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub samples: usize,
    #[command(flatten)]
    pub sources: ReportSources,
}

/// Where the report finds what the cluster does not hold (shared with `verify --report`).
#[derive(Args, Debug, Clone, Default)]
pub struct ReportSources {
    /// Backup directory for the backups part (newest, ages, last drills) and the backup and
    /// drill age thresholds (default for those: the manifest's "alerts": {"backups"})
    #[arg(long = "backups", value_name = "DIR")]
    pub backups: Option<PathBuf>,
    /// Oplog slices directory (`backup oplog --follow --out DIR`) for the PITR window
    #[arg(long, value_name = "DIR", requires = "backups")]
    pub oplog_dir: Option<PathBuf>,
    /// Slowest profiled operations to show
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub slow_ops: i64,
}

pub async fn run(args: ReportArgs, ctx: &Ctx) -> Result<u8> {
    if args.out.is_none() && !ctx.json() {
        bail!("report: --out FILE is required (or -o json for the gathered data)");
    }
    let ws = super::workspace(ctx)?;
    let domains = ctx.domains(&ws, &args.scope.domain)?;
    let desired = ctx.desired(&ws, &domains)?;
    let (client, choice) = ctx.connect(Some(&ws)).await?;
    let tenant_args = TenantArgs::default();
    let (desired, fleet) =
        super::plan::desired_fleet(ctx, &ws, &client, desired, &tenant_args).await?;
    let (drift, conformance) = match live::inspect(&client, &desired).await {
        Ok(live) => {
            let drift = async {
                let mut plan =
                    super::plan::diff_fleet(&client, &desired, &live, fleet.as_ref(), false)
                        .await?;
                super::plan::with_migrations(ctx, &ws, &client, &args.scope.domain, &mut plan)
                    .await?;
                Ok(plan)
            }
            .await;
            let conformance =
                crate::conformance::conformance(&client, &ws, &desired, &live, args.samples).await;
            (
                Part::from_result(drift.map(|p| report::drift(&p)), "find", "the cluster"),
                conformance_part(conformance),
            )
        }
        Err(e) => (
            Part::failed(&e, "listCollections", "the domain databases"),
            Part::failed(&e, "listCollections", "the domain databases"),
        ),
    };
    let measured = if has_tenancy(&ws, &args.scope.domain, fleet.as_ref()) {
        Some(
            super::stats::tenant_usage(
                ctx,
                &ws,
                &client,
                &args.scope.domain,
                fleet.as_ref(),
                &tenant_args,
            )
            .await,
        )
    } else {
        None
    };
    let tenants = tenants_part(measured);
    let report = gather(
        ctx,
        &ws,
        &client,
        &desired,
        choice.shown,
        Parts {
            drift,
            conformance,
            tenants,
        },
        &args.sources,
    )
    .await?;
    if let Some(out) = &args.out {
        write(out, &report)?;
        if !ctx.json() && !ctx.global.quiet {
            render::report::written(out, &report);
        }
    }
    if ctx.json() {
        render::json(&report);
    }
    Ok(SUCCESS)
}

/// The parts `plan` and `verify` compute, handed to [`gather`].
pub(crate) struct Parts {
    pub drift: Part<Drift>,
    pub conformance: Part<ConformancePart>,
    pub tenants: Part<TenantReport>,
}

/// Every other part, read from the cluster and the backup directory.
pub(crate) async fn gather(
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    desired: &ClusterState,
    cluster_uri: String,
    parts: Parts,
    sources: &ReportSources,
) -> Result<Report> {
    Ok(report::gather(Inputs {
        client,
        project: ws.manifest.project.clone(),
        environment: ctx.environment(ws)?.map(|(n, _)| n),
        cluster_uri,
        metadata_database: ws.manifest.metadata_database.clone(),
        desired,
        declared_access: desired.access.clone().unwrap_or_default(),
        drift: parts.drift,
        conformance: parts.conformance,
        tenants: parts.tenants,
        backups: sources.backups.as_deref(),
        oplog_dir: sources.oplog_dir.as_deref(),
        slow_limit: sources.slow_ops,
        alerts: AlertInputs {
            thresholds: &ws.manifest.alerts,
            targets: super::health::alert_targets(ws, desired),
            backups: alert_backups_dir(sources.backups.as_deref(), &ws.manifest.alerts),
        },
    })
    .await)
}

pub(crate) fn conformance_part(
    r: Result<Vec<crate::conformance::Conformance>>,
) -> Part<ConformancePart> {
    match r {
        Ok(collections) if collections.is_empty() => {
            Part::no_data("no declared collection has a schema ($jsonSchema validator)")
        }
        Ok(collections) => Part::Ok {
            data: ConformancePart {
                violating_documents: collections.iter().map(|c| c.violating).sum(),
                collections,
            },
        },
        Err(e) => Part::failed(&e, "find", "the validated collections"),
    }
}

/// Whether the workspace has tenants in scope: a template domain (the fleet) or a shared
/// collection with a `tenantKey`.
pub(crate) fn has_tenancy(
    ws: &Workspace,
    domains: &[String],
    fleet: Option<&crate::tenancy::plan::Fleet>,
) -> bool {
    fleet.is_some()
        || ws.manifest.domains.iter().any(|d| {
            !d.template
                && (domains.is_empty() || domains.contains(&d.name))
                && d.collections
                    .iter()
                    .any(|c| c.sharding.tenant_key.is_some())
        })
}

/// The tenants part from `stats --tenants`' measure, or why there is none (`None`: the
/// workspace has no tenancy).
pub(crate) fn tenants_part(measured: Option<Result<TenantReport>>) -> Part<TenantReport> {
    match measured {
        None => Part::no_data(
            "this workspace has no tenants: no template domain and no collection with a \"tenantKey\"",
        ),
        Some(Ok(mut t)) => {
            crate::stats::sort_tenants(&mut t.tenants, crate::stats::SortBy::Size);
            Part::Ok { data: t }
        }
        Some(Err(e)) => Part::failed(&e, "dbStats", "the tenants' databases"),
    }
}

/// Writes the page (a new file or one replaced whole).
pub(crate) fn write(out: &Path, report: &Report) -> Result<()> {
    let html = render::report::html(report);
    std::fs::write(out, html).with_context(|| format!("writing the report to {}", out.display()))
}
