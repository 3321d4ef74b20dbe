//! `stats`: sizes per domain database (and per collection), index usage, server and
//! replication health, a live mongostat-like view, and recorded growth with projections.
//! The numbers come from `crate::stats`, the output from `render::stats`; this file chooses
//! what to gather.

use std::io::IsTerminal;
use std::time::Duration;

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::flags::ScopeArgs;
use crate::render;
use crate::render::stats::WatchMode;
use crate::stats::{self, Growth, SortBy, Target};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

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
    let targets: Vec<Target> = desired
        .databases
        .iter()
        .map(|d| {
            (
                d.domain.clone(),
                d.name.clone(),
                d.collections.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let metadata = ws.manifest.metadata_database.clone();

    if args.indexes {
        let mut report = stats::index_usage(&client, &targets, &desired).await;
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
