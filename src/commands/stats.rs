//! `stats`: sizes per domain database (and per collection), index usage, server and
//! replication health, a live mongostat-like view, and recorded growth with projections.
//! The numbers come from `crate::stats`, the output from `render::stats`; this file chooses
//! what to gather.

use std::io::IsTerminal;
use std::time::Duration;

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::flags::TenantArgs;
use crate::flags::{OutputFormat, ScopeArgs};
use crate::query_contract::serve;
use crate::render;
use crate::render::stats::WatchMode;
use crate::spec::Workspace;
use crate::spec::quotas::Quotas;
use crate::stats::{self, Growth, SharedCollection, SortBy, Target, TenantReport};
use crate::tenancy;
use crate::tenancy::plan::Fleet;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use mongodb::Client;

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Also one row per collection (count, sizes, indexes, validator, last insert)
    #[arg(long)]
    pub collections: bool,
    /// Order of database and collection rows
    #[arg(long, value_enum, default_value_t = SortArg::Size)]
    pub sort: SortArg,
    /// Every index with its size and usage ($indexStats); flags unused, redundant and
    /// unmanaged (not declared in the spec) indexes
    #[arg(long, conflicts_with_all = ["server", "watch", "growth", "collections", "record"])]
    pub indexes: bool,
    /// With --indexes: only the flagged indexes
    #[arg(long, requires = "indexes")]
    pub flagged: bool,
    /// Connections, operation counters, network, uptime, cache; replica set members, lag
    /// and oplog window
    #[arg(long, conflicts_with_all = ["watch", "growth", "collections", "record"])]
    pub server: bool,
    /// Live view refreshed every SECONDS (default 1): operations/s, network/s,
    /// connections, cache (JSON lines with -o json); stop with Ctrl-C
    #[arg(
        long,
        value_name = "SECONDS",
        num_args = 0..=1,
        default_missing_value = "1",
        conflicts_with_all = ["growth", "collections", "record"]
    )]
    pub watch: Option<f64>,
    /// Stop --watch after N rows (for scripts and tests)
    #[arg(long, hide = true, requires = "watch", value_name = "N")]
    pub count: Option<u64>,
    /// Record a snapshot of the database sizes in <metadataDatabase>.stats_history
    #[arg(long, conflicts_with = "growth")]
    pub record: bool,
    /// Size and document growth per database over the recorded snapshots, with linear
    /// projections for 30, 90 and 365 days
    #[arg(long, conflicts_with = "collections")]
    pub growth: bool,
    /// One row per tenant (both tenancy models): documents, data and index size, quota, use
    /// and status (ok / OVER)
    #[arg(
        long,
        conflicts_with_all = ["indexes", "server", "watch", "growth", "collections", "record"]
    )]
    pub tenants: bool,
    /// With --tenants: only these tenants (repeatable or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "ID", requires = "tenants")]
    pub tenant: Vec<String>,
    /// With --tenants: tenants whose databases are read at a time
    #[arg(long, value_name = "N", default_value_t = 8, requires = "tenants")]
    pub jobs: usize,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum SortArg {
    /// Largest on disk first (storage + indexes)
    Size,
    /// Most documents first
    Docs,
    /// Alphabetical
    Name,
}

impl From<SortArg> for SortBy {
    fn from(s: SortArg) -> Self {
        match s {
            SortArg::Size => SortBy::Size,
            SortArg::Docs => SortBy::Docs,
            SortArg::Name => SortBy::Name,
        }
    }
}

pub async fn run(args: StatsArgs, ctx: &Ctx) -> Result<u8> {
    if ctx.global.output == OutputFormat::Prometheus {
        return prometheus(&args, ctx).await;
    }
    if args.server || args.watch.is_some() {
        // Like `health`: a workspace is optional (it may only name the URI variable).
        let ws = crate::spec::load(&ctx.global.spec).workspace;
        let (client, _) = ctx.connect(ws.as_ref()).await?;
        return match args.watch {
            Some(secs) => watch(&client, secs, args.count, ctx).await,
            None => {
                let report = stats::server_report(&client).await?;
                if ctx.json() {
                    render::json(&report);
                } else {
                    render::stats::server(&report);
                }
                Ok(SUCCESS)
            }
        };
    }
    let ws = super::workspace(ctx)?;
    let domains = ctx.domains(&ws, &args.scope.domain)?;
    let desired = ctx.desired(&ws, &domains)?;
    if args.tenants {
        let (client, _) = ctx.connect(Some(&ws)).await?;
        let selection = TenantArgs {
            tenant: args.tenant.clone(),
            jobs: args.jobs,
        };
        // Without a template domain the tenants are those of the shared collections.
        let fleet = if ws.manifest.has_templates() {
            super::plan::desired_fleet(ctx, &ws, &client, desired, &selection)
                .await?
                .1
        } else {
            None
        };
        let mut report =
            tenant_usage(ctx, &ws, &client, &domains, fleet.as_ref(), &selection).await?;
        stats::sort_tenants(&mut report.tenants, args.sort.into());
        if ctx.json() {
            render::json(&report);
        } else {
            render::quotas::tenants(&report);
        }
        return Ok(SUCCESS);
    }
    let targets: Vec<Target> = stats::targets(&desired);
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let metadata = ws.manifest.metadata_database.clone();

    if args.indexes {
        let mut report = stats::index_usage(&client, &targets, &desired).await;
        stats::mark_contract_use(
            &mut report,
            &serve::needed_indexes(&ws.queries, &ws.indexes),
        );
        if args.flagged {
            report.indexes.retain(|i| !i.flags.is_empty());
        }
        if ctx.json() {
            render::json(&report);
        } else {
            render::stats::indexes(&report);
        }
        return Ok(SUCCESS);
    }
    if args.growth {
        let history = stats::history(&client, &metadata)
            .await
            .with_context(|| format!("reading {metadata}.{}", stats::HISTORY_COLLECTION))?;
        let rows: Vec<Growth> = targets
            .iter()
            .map(|(domain, db, _)| {
                stats::growth(
                    domain,
                    db,
                    history.get(db).map(Vec::as_slice).unwrap_or(&[]),
                )
            })
            .collect();
        if ctx.json() {
            render::stats::growth_json(&rows, &metadata);
        } else {
            render::stats::growth(&rows, &metadata);
        }
        return Ok(SUCCESS);
    }

    let mut rows = stats::database_stats(&client, &targets, args.collections).await;
    stats::sort_databases(&mut rows, args.sort.into());
    let totals = stats::totals(&rows);
    let recorded_at = if args.record {
        let env = ctx.environment(&ws)?.map(|(n, _)| n);
        let at = stats::record(&client, &metadata, env.as_deref(), &rows).await?;
        if !ctx.global.quiet && !ctx.json() {
            render::stats::recorded(&metadata);
        }
        Some(at.try_to_rfc3339_string().unwrap_or_default())
    } else {
        None
    };
    if ctx.json() {
        render::stats::databases_json(&rows, &totals, recorded_at);
    } else {
        render::stats::databases(&rows, &totals, args.collections);
    }
    Ok(SUCCESS)
}

/// Usage and quota of every tenant in scope: the databases of the fleet's selected tenants
/// (database per tenant) and the shared collections with a `tenantKey` of the domains in
/// scope. Without a fleet the tenants come from the `"tenants"` source when one is declared,
/// else from the values found in the shared collections.
pub(crate) async fn tenant_usage(
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    domains: &[String],
    fleet: Option<&Fleet>,
    selection: &TenantArgs,
) -> Result<TenantReport> {
    let names = ctx.database_names(ws)?;
    let shared: Vec<SharedCollection> = ws
        .manifest
        .domains
        .iter()
        .filter(|d| !d.template && (domains.is_empty() || domains.contains(&d.name)))
        .flat_map(|d| {
            let db = names.get(&d.name).cloned();
            d.collections.iter().filter_map(move |c| {
                Some(SharedCollection {
                    database: db.clone()?,
                    collection: c.name.clone(),
                    tenant_key: c.sharding.tenant_key.clone()?,
                })
            })
        })
        .collect();
    if fleet.is_none() && shared.is_empty() {
        bail!(
            "--tenants: this workspace has no tenants in scope: no template domain (\"tenancy\": \"database\") and no collection with a \"tenantKey\""
        );
    }
    let source = match fleet {
        Some(f) => Some(f.all.clone()),
        None if ws.manifest.tenants.is_some() => {
            Some(tenancy::source::tenants(client, ws, |d| names.get(d).cloned(), &[]).await?)
        }
        None => None,
    };
    let databases = match fleet {
        Some(f) => {
            let per_tenant: Vec<(String, Vec<String>)> = f
                .selected
                .iter()
                .map(|t| {
                    let dbs = tenancy::expand::databases(&f.templates, &t.id);
                    (t.id.clone(), dbs.into_iter().map(|d| d.name).collect())
                })
                .collect();
            stats::database_usage(client, &per_tenant, selection.jobs).await?
        }
        None => Default::default(),
    };
    let totals = stats::shared_usage(client, &shared).await?;
    let quotas = Quotas {
        classes: ws.manifest.tenant_classes.clone(),
        overrides: ws.tenant_quotas.clone(),
    };
    let tenants = stats::rows(
        source.as_deref(),
        &databases,
        &totals,
        !shared.is_empty(),
        &quotas,
        &selection.tenant,
    )?;
    Ok(TenantReport {
        tenants,
        shared_collections: shared
            .iter()
            .map(|s| format!("{}.{}", s.database, s.collection))
            .collect(),
        without_tenant: totals.without_tenant,
        quotas_declared: quotas.declared(),
    })
}

/// `-o prometheus`: sizes per database and collection, indexes, server and replication, in
/// one exposition.
async fn prometheus(args: &StatsArgs, ctx: &Ctx) -> Result<u8> {
    if args.watch.is_some() || args.growth || args.tenants || args.record {
        bail!(
            "-o prometheus prints the sizes, indexes, server and replication metrics of one moment; it does not combine with --watch, --growth, --tenants or --record"
        );
    }
    let ws = super::workspace(ctx)?;
    let domains = ctx.domains(&ws, &args.scope.domain)?;
    let desired = ctx.desired(&ws, &domains)?;
    let targets = stats::targets(&desired);
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let databases = stats::database_stats(&client, &targets, true).await;
    let indexes = stats::index_usage(&client, &targets, &desired).await;
    let server = stats::server_report(&client).await?;
    let latency = stats::latency_histograms(&client).await;
    render::prometheus::print(&render::prometheus::Scrape {
        databases: &databases,
        indexes: &indexes,
        server: &server,
        latency: match &latency {
            stats::Section::Ok(l) => Some(l),
            _ => None,
        },
    })?;
    Ok(SUCCESS)
}

/// The live view: one row per interval until Ctrl-C, SIGTERM, or `count` rows.
async fn watch(client: &mongodb::Client, secs: f64, limit: Option<u64>, ctx: &Ctx) -> Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    if !(secs.is_finite() && secs >= 0.1) {
        bail!("--watch {secs}: the interval must be at least 0.1 seconds");
    }
    let interval = Duration::from_secs_f64(secs);
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut prev = stats::sample(client).await.map_err(|e| {
        anyhow::anyhow!(
            "{}",
            stats::Unavailable::new(&e, "serverStatus", "the cluster").short()
        )
    })?;
    let mode = if ctx.json() {
        WatchMode::JsonLines
    } else if std::io::stdout().is_terminal() {
        WatchMode::InPlace
    } else {
        WatchMode::Lines
    };
    let mut emitted = 0u64;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = term.recv() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        let cur = match stats::sample(client).await {
            Ok(s) => s,
            Err(e) => {
                render::stats::sample_failed(&crate::error::describe_driver_error(&e));
                continue;
            }
        };
        let row = stats::rates(&prev, &cur);
        prev = cur;
        let ok = render::stats::watch_row(&row, mode, emitted);
        emitted += 1;
        if !ok || limit.is_some_and(|n| emitted >= n) {
            break;
        }
    }
    Ok(SUCCESS)
}
