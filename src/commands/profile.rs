//! `profile`: the query profiler of the domain databases: its level, turning it on or off,
//! and the slowest operations it recorded in `system.profile` (numbers from `crate::stats`,
//! output from `render::profile`).

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::flags::ScopeArgs;
use crate::render;
use crate::stats;

#[derive(Subcommand, Debug, Clone)]
pub enum ProfileCommand {
    /// Profiling level, slowms and sample rate of each domain database
    #[command(after_help = "Example:\n  mongoctl profile status --domain auth")]
    Status(ProfileStatusArgs),
    /// Set the profiling level (0 off, 1 slow operations, 2 everything)
    #[command(
        after_help = "Example:\n  mongoctl profile set --level 1 --slowms 50 --domain auth\n  mongoctl profile set --level 0   # every domain database"
    )]
    Set(ProfileSetArgs),
    /// The slowest profiled operations: namespace, duration, plan (COLLSCAN flagged),
    /// documents examined vs returned
    #[command(
        after_help = "Example:\n  mongoctl profile slow --limit 20 --since 2h\n  mongoctl profile slow --domain auth -o json"
    )]
    Slow(ProfileSlowArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ProfileStatusArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ProfileSetArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// 0 off, 1 operations slower than --slowms, 2 all operations
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=2))]
    pub level: i32,
    /// Slow-operation threshold in milliseconds (server-wide: applies to every database)
    #[arg(long, value_name = "MS")]
    pub slowms: Option<i64>,
    /// Fraction of slow operations to profile (0.0 to 1.0)
    #[arg(long, value_name = "RATE")]
    pub sample_rate: Option<f64>,
}

#[derive(Args, Debug, Clone)]
pub struct ProfileSlowArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// How many operations to show
    #[arg(long, short = 'n', default_value_t = 10)]
    pub limit: i64,
    /// Only operations since then: 30s, 15m, 2h, 7d or an RFC 3339 time
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
}

async fn targets(ctx: &Ctx, scope: &ScopeArgs) -> Result<(Vec<(String, String)>, mongodb::Client)> {
    let ws = super::workspace(ctx)?;
    let domains = ctx.domains(&ws, &scope.domain)?;
    let targets = ctx
        .databases(&ws)?
        .into_iter()
        .filter(|r| domains.is_empty() || domains.contains(&r.domain))
        .map(|r| (r.domain, r.name))
        .collect();
    let (client, _) = ctx.connect(Some(&ws)).await?;
    Ok((targets, client))
}

pub async fn run(cmd: ProfileCommand, ctx: &Ctx) -> Result<u8> {
    match cmd {
        ProfileCommand::Status(a) => {
            let (targets, client) = targets(ctx, &a.scope).await?;
            let rows = futures::future::join_all(
                targets
                    .iter()
                    .map(|(d, n)| stats::profile(&client, d, n, None, None, None)),
            )
            .await;
            render::profile::status(&rows, ctx.json(), false);
            Ok(SUCCESS)
        }
        ProfileCommand::Set(a) => {
            if let Some(r) = a.sample_rate
                && !(0.0..=1.0).contains(&r)
            {
                anyhow::bail!("--sample-rate {r}: must be between 0.0 and 1.0");
            }
            let (targets, client) = targets(ctx, &a.scope).await?;
            let rows = futures::future::join_all(targets.iter().map(|(d, n)| {
                stats::profile(&client, d, n, Some(a.level), a.slowms, a.sample_rate)
            }))
            .await;
            render::profile::status(&rows, ctx.json(), true);
            if rows.iter().any(|r| r.unavailable.is_some()) {
                return Err(Reported(ERROR).into());
            }
            Ok(SUCCESS)
        }
        ProfileCommand::Slow(a) => {
            let since = a
                .since
                .as_deref()
                .map(|s| stats::parse_since(s, bson::DateTime::now()))
                .transpose()?;
            let (targets, client) = targets(ctx, &a.scope).await?;
            let report = stats::slow_ops(&client, &targets, a.limit.max(1), since).await;
            if ctx.json() {
                render::json(&report);
            } else {
                render::profile::slow(&report, a.since.is_some());
            }
            Ok(SUCCESS)
        }
    }
}
