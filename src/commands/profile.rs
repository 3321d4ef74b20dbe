//! `profile`: the query profiler of the domain databases: its level, turning it on or off,
//! and the slowest operations it recorded in `system.profile`.

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::flags::ScopeArgs;
use crate::render;
use crate::stats::{self, ProfileStatus};

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
            print_status(&rows, ctx, false);
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
            print_status(&rows, ctx, true);
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
                return Ok(SUCCESS);
            }
            if report.operations.is_empty() {
                println!(
                    "No profiled operations{}. Turn the profiler on with `mongoctl profile set --level 1 --slowms 100`.",
                    if a.since.is_some() {
                        " in that period"
                    } else {
                        ""
                    }
                );
            } else {
                let mut t = render::table(&[
                    "time", "ns", "op", "ms", "plan", "examined", "returned", "command",
                ]);
                for o in &report.operations {
                    let mut plan = o.plan_summary.clone().unwrap_or_else(|| "-".into());
                    if o.collscan {
                        plan = format!("⚠ {plan}");
                    }
                    let mut command = serde_json::to_string(&o.command).unwrap_or_default();
                    if command.chars().count() > 80 {
                        command = command.chars().take(79).collect::<String>() + "…";
                    }
                    let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
                    t.add_row(vec![
                        o.ts.clone(),
                        o.ns.clone(),
                        o.op.clone(),
                        o.millis.to_string(),
                        plan,
                        format!("{} docs / {} keys", n(o.docs_examined), n(o.keys_examined)),
                        n(o.returned),
                        command,
                    ]);
                }
                println!("{t}");
            }
            for u in &report.unavailable {
                eprintln!("warning: {}: {}", u.database, u.unavailable.short());
            }
            Ok(SUCCESS)
        }
    }
}

fn print_status(rows: &[ProfileStatus], ctx: &Ctx, set: bool) {
    if ctx.json() {
        render::json(&serde_json::json!({ "databases": rows }));
        return;
    }
    let level = |l: Option<i64>| match l {
        Some(0) => "0 (off)".to_string(),
        Some(1) => "1 (slow ops)".to_string(),
        Some(2) => "2 (all ops)".to_string(),
        Some(n) => n.to_string(),
        None => "-".to_string(),
    };
    let mut headers = vec!["domain", "database"];
    if set {
        headers.push("was");
    }
    headers.extend(["level", "slowms", "sample rate", "entries"]);
    let mut t = render::table(&headers);
    for r in rows {
        let mut row = vec![r.domain.clone(), r.database.clone()];
        if set {
            row.push(level(r.previous_level));
        }
        if let Some(u) = &r.unavailable {
            row.push(u.short());
        } else {
            row.extend([
                level(r.level),
                r.slowms
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.sample_rate
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.entries
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        t.add_row(row);
    }
    println!("{t}");
}
