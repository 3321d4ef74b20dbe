//! `verify`: the CI gate in one command. It runs `check` (exit 1 on an error), then compares
//! the cluster with the spec like `plan` (drift), then counts, for every validated collection,
//! the documents already stored that violate the declared `$jsonSchema` and explains a few of
//! them (`crate::conformance`), then, when quotas are declared, measures every tenant against
//! its quota (`stats::tenant_usage`), then explains every query contract on the cluster and
//! holds its winning plan against the contract (`query_contract::verify`). Exit 2 on drift,
//! violations, a tenant over quota or a breached contract.
//! Output: `render::verify`; with `--report FILE`, also `report`'s HTML page, built from these
//! same results (for CI to publish as an artifact).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use crate::conformance::conformance;
use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, ERROR, SUCCESS};
use crate::flags::{OutputFormat, ScopeArgs, TenantArgs};
use crate::live;
use crate::query_contract::verify::check_contracts;
use crate::render;
use crate::render::verify::AnnotationSources;
use crate::spec::MANIFEST_FILE;
use crate::spec::quotas::Quotas;
use crate::spec::source::SourceFile;

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Violating documents to explain per collection (the count is always exact)
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub samples: usize,
    /// Skip the data step (it reads every validated collection once)
    #[arg(long)]
    pub no_data: bool,
    #[command(flatten)]
    pub tenants: TenantArgs,
    /// Also write `mongoctl report`'s HTML page to FILE (drift and conformance from this run)
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub report_sources: super::report::ReportSources,
}

pub async fn run(args: VerifyArgs, ctx: &Ctx) -> Result<u8> {
    let result = verify(args, ctx).await;
    if ctx.global.output == OutputFormat::Github
        && let Err(e) = &result
        && e.downcast_ref::<crate::exit::Reported>().is_none()
    {
        render::verify::github_error(&crate::redact::scrub(&format!("{e:#}")));
    }
    result
}

async fn verify(args: VerifyArgs, ctx: &Ctx) -> Result<u8> {
    let format = ctx.global.output;
    // 1. check
    let loaded = super::check::load_with_contracts(&ctx.global.spec);
    let ws = match &loaded.workspace {
        Some(ws) if loaded.errors() == 0 => ws,
        _ => {
            render::verify::check_failed(format, &ctx.global.spec, &loaded);
            return Ok(ERROR);
        }
    };

    // 2. drift
    let domains = ctx.domains(ws, &args.scope.domain)?;
    let desired = ctx.desired(ws, &domains)?;
    let (client, choice) = ctx.connect(Some(ws)).await?;
    let (desired, fleet) =
        super::plan::desired_fleet(ctx, ws, &client, desired, &args.tenants).await?;
    let live = live::inspect(&client, &desired).await?;
    let mut plan = super::plan::diff_fleet(&client, &desired, &live, fleet.as_ref(), false).await?;
    super::plan::with_migrations(ctx, ws, &client, &args.scope.domain, &mut plan).await?;

    // 3. data conformance
    let conformance = if args.no_data {
        Vec::new()
    } else {
        conformance(&client, ws, &desired, &live, args.samples).await?
    };
    let violating: u64 = conformance.iter().map(|c| c.violating).sum();

    // 4. quotas (only when the workspace declares one: without, verify reads no sizes)
    let quotas = Quotas {
        classes: ws.manifest.tenant_classes.clone(),
        overrides: ws.tenant_quotas.clone(),
    };
    // (also the report's tenants part: measured once)
    let wants_report =
        args.report.is_some() && super::report::has_tenancy(ws, &args.scope.domain, fleet.as_ref());
    let mut measured = if quotas.declared() || wants_report {
        Some(
            super::stats::tenant_usage(
                ctx,
                ws,
                &client,
                &args.scope.domain,
                fleet.as_ref(),
                &args.tenants,
            )
            .await,
        )
    } else {
        None
    };
    let over_quota: Option<Vec<_>> = if quotas.declared() {
        match measured.take() {
            Some(Ok(report)) => {
                let over = report.over_quota().cloned().collect();
                measured = Some(Ok(report));
                Some(over)
            }
            Some(Err(e)) => return Err(e.context("measuring the tenants against their quotas")),
            None => None,
        }
    } else {
        None
    };
    let over = over_quota.as_deref();

    // 5. query contracts, on the databases in scope (a template domain's: every tenant's)
    let mut databases: Vec<(String, String)> = desired
        .databases
        .iter()
        .map(|d| (d.domain.clone(), d.name.clone()))
        .collect();
    if let Some(f) = &fleet {
        for t in &f.selected {
            databases.extend(
                crate::tenancy::expand::databases(&f.templates, &t.id)
                    .into_iter()
                    .filter(|d| domains.is_empty() || domains.contains(&d.domain))
                    .map(|d| (d.domain, d.name)),
            );
        }
    }
    let contracts = check_contracts(&client, &ws.queries, &databases).await?;
    let ok = plan.is_empty()
        && violating == 0
        && over.is_none_or(|o| o.is_empty())
        && contracts.iter().all(|c| c.ok());

    match format {
        OutputFormat::Json => render::verify::json(&loaded, &plan, &conformance, over, &contracts),
        OutputFormat::Github => {
            let sources = AnnotationSources {
                spec: &ctx.global.spec,
                domain_of: desired
                    .databases
                    .iter()
                    .map(|d| (d.name.as_str(), d.domain.as_str()))
                    .collect(),
                manifest: SourceFile::read(&ws.root, Path::new(MANIFEST_FILE))
                    .ok()
                    .map(|(s, _)| s),
            };
            render::verify::github(
                &sources,
                &loaded,
                &plan,
                &conformance,
                over,
                &contracts,
                !args.no_data,
            );
        }
        OutputFormat::Table | OutputFormat::Prometheus => render::verify::table(
            &loaded,
            &plan,
            &conformance,
            over,
            &contracts,
            !args.no_data,
            ctx.global.quiet,
            ctx.global.verbose > 0,
        ),
    }
    // 5. the report page, from the results above
    if let Some(out) = &args.report {
        use super::report::{Parts, conformance_part, gather, tenants_part, write};
        let parts = Parts {
            drift: crate::report::Part::Ok {
                data: crate::report::drift(&plan),
            },
            conformance: if args.no_data {
                crate::report::Part::no_data("verify --no-data skipped the data step")
            } else {
                conformance_part(Ok(conformance.clone()))
            },
            tenants: tenants_part(measured),
        };
        let report = gather(
            ctx,
            ws,
            &client,
            &desired,
            choice.shown.clone(),
            parts,
            &args.report_sources,
        )
        .await?;
        write(out, &report)?;
        if format == OutputFormat::Table && !ctx.global.quiet {
            render::report::written(out, &report);
        }
    }
    Ok(if ok { SUCCESS } else { CHANGES_PENDING })
}
