//! `verify`: the CI gate in one command. It runs `check` (exit 1 on an error), then compares
//! the cluster with the spec like `plan` (drift), then counts, for every validated collection,
//! the documents already stored that violate the declared `$jsonSchema` and explains a few of
//! them (`crate::conformance`), then, when quotas are declared, measures every tenant against
//! its quota (`stats::tenant_usage`). Exit 2 on drift, violations or a tenant over quota.
//! Output: `render::verify`.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;

use crate::conformance::conformance;
use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, ERROR, SUCCESS};
use crate::flags::{OutputFormat, ScopeArgs, TenantArgs};
use crate::live;
use crate::render;
use crate::render::verify::AnnotationSources;
use crate::spec::quotas::Quotas;
use crate::spec::source::SourceFile;
use crate::spec::{self, MANIFEST_FILE};

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
    let loaded = spec::load(&ctx.global.spec);
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
    let (client, _) = ctx.connect(Some(ws)).await?;
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
    let over_quota: Option<Vec<_>> = if quotas.declared() {
        let report = super::stats::tenant_usage(
            ctx,
            ws,
            &client,
            &args.scope.domain,
            fleet.as_ref(),
            &args.tenants,
        )
        .await
        .context("measuring the tenants against their quotas")?;
        Some(report.over_quota().cloned().collect())
    } else {
        None
    };
    let over = over_quota.as_deref();
    let ok = plan.is_empty() && violating == 0 && over.is_none_or(|o| o.is_empty());

    match format {
        OutputFormat::Json => render::verify::json(&loaded, &plan, &conformance, over),
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
            render::verify::github(&sources, &loaded, &plan, &conformance, over, !args.no_data);
        }
        OutputFormat::Table | OutputFormat::Prometheus => render::verify::table(
            &loaded,
            &plan,
            &conformance,
            over,
            !args.no_data,
            ctx.global.quiet,
            ctx.global.verbose > 0,
        ),
    }
    Ok(if ok { SUCCESS } else { CHANGES_PENDING })
}
