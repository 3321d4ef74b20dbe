//! `apply` / `setup`: plan under the cluster lease, confirm destructive steps, execute,
//! record, report.

use clap::Args;

use std::collections::BTreeSet;

use anyhow::{Result, anyhow, bail};
use mongodb::Client;

use crate::apply::{self, ApplyReport, StepStatus};
use crate::commands::confirm::Answer;
use crate::commands::plan::PlanArgs;
use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::flags::{LockArgs, ScopeArgs, TenantArgs};
use crate::history;
use crate::lease::Lease;
use crate::migrate::pending;
use crate::migrate::target::Databases;
use crate::migrate::up::{Engine, UpOptions};
use crate::plan::{Phase, Plan};
use crate::render;
use crate::secrets::{self, Outcome, Secrets};
use crate::sharding;
use crate::spec::Workspace;
use crate::tenancy::fleet::FleetPlan;
use crate::tenancy::run::TenantOutcome;
use crate::validator_gate::{self, ViolationFlags};

#[derive(Args, Debug, Clone, Default)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Drop unmanaged collections and indexes (destructive: needs confirmation or --yes)
    #[arg(long)]
    pub prune: bool,
    /// Show the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Where generated passwords of new users are appended (created 0600, never overwritten)
    #[arg(long, env = "MONGOCTL_SECRETS_FILE", value_name = "PATH")]
    pub secrets_file: Option<std::path::PathBuf>,
    /// Apply a validator (validationAction error) that documents already stored violate; they stay as they are
    #[arg(long)]
    pub allow_violations: bool,
    /// Set a new $jsonSchema that stored documents violate at validationAction warn; once they are fixed, the next apply promotes it to error
    #[arg(long)]
    pub warn_first: bool,
    /// Where the rollback points of migrations apply runs are written (default: .mongoctl/rollback in the workspace)
    #[arg(long, env = "MONGOCTL_ROLLBACK_DIR", value_name = "DIR")]
    pub rollback_dir: Option<std::path::PathBuf>,
    /// Apply everything but the declared sharding steps (without it, apply refuses to run when they cannot be sent: no mongos, or a conflict)
    #[arg(long)]
    pub skip_sharding: bool,
    #[command(flatten)]
    pub lock: LockArgs,
    #[command(flatten)]
    pub tenants: TenantArgs,
    /// Template workspaces: stop starting tenants once one fails (default: go on, report them)
    #[arg(long)]
    pub fail_fast: bool,
}

pub async fn run(args: ApplyArgs, ctx: &Ctx) -> Result<u8> {
    if args.dry_run {
        let plan_args = PlanArgs {
            scope: args.scope,
            prune: args.prune,
            exit_code: false,
            tenants: args.tenants,
        };
        return super::plan::run(plan_args, ctx).await;
    }
    let (ws, client, plan, lease) = super::plan::compute_under_lease(
        ctx,
        &args.scope.domain,
        args.prune,
        &args.tenants,
        &args.lock,
        "mongoctl apply",
    )
    .await?;
    let Some(lease) = lease else {
        // Nothing to do (and nothing was written, not even the lease).
        let code = apply_plan(&args, ctx, &ws, &client, &plan, None).await?;
        return apply_sharding(&args, ctx, &client, &plan, code).await;
    };
    let result = match apply_plan(&args, ctx, &ws, &client, &plan, Some(&lease)).await {
        Ok(code) => apply_sharding(&args, ctx, &client, &plan, code).await,
        Err(e) => Err(e),
    };
    let released = lease.release().await;
    let code = result?;
    released?;
    Ok(code)
}

/// After the rest of the plan applied: the sharding steps through the mongos, or, with
/// `--skip-sharding`, a note of the steps left out.
async fn apply_sharding(
    args: &ApplyArgs,
    ctx: &Ctx,
    client: &Client,
    plan: &Plan,
    code: u8,
) -> Result<u8> {
    let Some(s) = plan.sharding.as_ref().filter(|s| !s.steps.is_empty()) else {
        return Ok(code);
    };
    if code != SUCCESS {
        eprintln!(
            "note: the {} sharding step(s) were not sent (the rest of the plan did not apply cleanly)",
            s.steps.len()
        );
        return Ok(code);
    }
    if args.skip_sharding {
        eprintln!(
            "note: --skip-sharding: {} sharding step(s) not sent ({})",
            s.steps.len(),
            sharding::refusal(s).unwrap_or_else(|| "skipped on request".into())
        );
        return Ok(code);
    }
    let sent = sharding::execute(client, s).await?;
    if !ctx.json() && !ctx.global.quiet {
        println!("sharding: {sent} step(s) sent through the mongos");
    }
    Ok(code)
}

async fn apply_plan(
    args: &ApplyArgs,
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    plan: &Plan,
    lease: Option<&Lease>,
) -> Result<u8> {
    if let Some(s) = &plan.sharding {
        if !ctx.json() && !ctx.global.quiet {
            print!("{}", render::sharding::text(s));
        }
        if let Some(why) = sharding::refusal(s).filter(|_| !args.skip_sharding) {
            bail!(
                "{why}; nothing was applied: run apply through a mongos, or pass --skip-sharding to apply the rest and leave sharding as it is"
            );
        }
    }
    if plan.is_empty() {
        if ctx.json() {
            render::json(&serde_json::json!({"plan": plan, "applied": 0}));
        } else if !ctx.global.quiet {
            render::plan(plan, args.prune, false);
        }
        return Ok(SUCCESS);
    }
    if !ctx.json() && !ctx.global.quiet {
        render::plan(plan, args.prune, ctx.global.verbose > 0);
    }
    let blocked = plan.blocked().count()
        + plan.tenants.as_ref().map_or(0, |f| {
            f.changed.iter().map(|t| t.plan.blocked().count()).sum()
        });
    if blocked > 0 {
        bail!(
            "{blocked} change(s) cannot be applied in place (marked blocked); nothing was applied"
        );
    }
    let migrations = runnable_migrations(args, ws, plan)?;
    let dbs = Databases::new(&ctx.databases(ws)?);
    let written = pending::written(&migrations, &dbs);
    let plan = &gate(args, ctx, plan, &written)?;
    let destructive = plan.destructive().count()
        + plan
            .tenants
            .as_ref()
            .map_or(0, FleetPlan::destructive_count);
    if destructive > 0 {
        confirm(destructive, ctx.global.yes).await?;
    }
    let (Some(lease), false) = (lease, migrations.is_empty()) else {
        let report = if plan.changes.is_empty() && plan.tenants.is_some() {
            ApplyReport::default()
        } else {
            execute(args, ctx, ws, client, plan, None).await?
        };
        let tenants = tenants_after(args, ctx, ws, client, plan, &report).await?;
        if ctx.json() {
            render::json(&serde_json::json!({"plan": plan, "report": report, "tenants": tenants}));
        }
        finish(plan, &report)?;
        return finish_tenants(tenants.as_deref());
    };

    // Structure the migrations need first (databases, collections, the options and
    // validators of collections they do not write); then the migrations; then everything
    // else, planned again from what the migrations left.
    let (before, _) = split_before_migrations(plan, &written);
    let first = if before.changes.is_empty() {
        None
    } else {
        let report = execute(args, ctx, ws, client, &before, Some("before migrations")).await?;
        if report.failed().is_some() {
            if ctx.json() {
                render::json(&serde_json::json!({"plan": before, "report": report}));
            }
            eprintln!("note: the migrations did not run (a change they depend on failed)");
            return finish(&before, &report);
        }
        Some((before, report))
    };
    let progress = render::migrate::Progress::new(ctx.show_progress());
    let engine = Engine {
        client,
        dbs: &dbs,
        meta_db: &ws.manifest.metadata_database,
        lease,
        observe: progress.observer(),
    };
    let opts = UpOptions {
        to: None,
        rollback_dir: args
            .rollback_dir
            .clone()
            .unwrap_or_else(|| super::migrate::default_rollback_dir(ws)),
        batch_size: 10_000,
        drop_source: false,
        only: Some(migrations.iter().map(|m| m.id.clone()).collect()),
    };
    let up = engine.up(&ws.migrations, &opts).await;
    progress.finish();
    let up = up?;
    if !ctx.json() && !ctx.global.quiet {
        render::migrate::up(&up);
    }
    if let Some(f) = &up.failed {
        if ctx.json() {
            render::json(
                &serde_json::json!({"plan": plan, "first": first.as_ref().map(|f| &f.1), "migrations": up}),
            );
        }
        eprintln!("error: {f}\nthe changes that come after the migrations were not applied");
        return Err(Reported(ERROR).into());
    }
    let after = super::plan::replan(
        ctx,
        ws,
        client,
        &args.scope.domain,
        args.prune,
        &args.tenants,
    )
    .await?;
    if !after.migrations.is_empty() {
        bail!(
            "{} migration(s) still not applied after migrate up ran; nothing more was applied",
            after.migrations.len()
        );
    }
    if !ctx.json() && !ctx.global.quiet && !after.changes.is_empty() {
        println!("after the migrations:");
        render::plan(&after, args.prune, ctx.global.verbose > 0);
    }
    let after = gate(args, ctx, &after, &BTreeSet::new())?;
    let newly_destructive = after.destructive().count();
    if newly_destructive > destructive {
        confirm(newly_destructive, ctx.global.yes).await?;
    }
    let report = if after.changes.is_empty() {
        ApplyReport::default()
    } else {
        execute(args, ctx, ws, client, &after, Some("after migrations")).await?
    };
    let tenants = tenants_after(args, ctx, ws, client, &after, &report).await?;
    if ctx.json() {
        render::json(&serde_json::json!({
            "plan": plan,
            "first": first.as_ref().map(|f| &f.1),
            "migrations": up,
            "after_migrations": {"plan": after, "report": report, "tenants": tenants},
        }));
    }
    finish(&after, &report)?;
    finish_tenants(tenants.as_deref())
}

/// The tenants' plans, once the shared plan (`report`) ran without a failure.
async fn tenants_after(
    args: &ApplyArgs,
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    plan: &Plan,
    report: &ApplyReport,
) -> Result<Option<Vec<TenantOutcome>>> {
    let Some(fleet) = plan.tenants.as_ref().filter(|f| f.has_changes()) else {
        return Ok(None);
    };
    if report.failed().is_some() {
        eprintln!("note: no tenant was applied (a change to the shared databases failed)");
        return Ok(None);
    }
    apply_tenants(args, ctx, ws, client, fleet).await.map(Some)
}

/// Runs every tenant's plan, `--jobs` tenants at a time, recorded in the history as one stage.
async fn apply_tenants(
    args: &ApplyArgs,
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    fleet: &FleetPlan,
) -> Result<Vec<TenantOutcome>> {
    // One plan of every tenant's changes, in the order the outcomes come back (by tenant).
    let combined = Plan {
        changes: fleet
            .changed
            .iter()
            .flat_map(|t| t.plan.changes.iter().cloned())
            .collect(),
        ..Plan::default()
    };
    let environment = ctx.environment(ws)?.map(|(n, _)| n);
    let secrets = secrets::resolve(
        &combined,
        args.secrets_file.as_deref(),
        environment.as_deref(),
    )?;
    let meta_db = ws.manifest.metadata_database.as_str();
    let record = history::start(
        client,
        meta_db,
        &ws.manifest.project,
        environment.as_deref(),
        &ws.root,
        &combined,
        Some("tenants"),
    )
    .await?;
    let with_changes = fleet
        .changed
        .iter()
        .filter(|t| !t.plan.changes.is_empty())
        .count();
    let progress = render::tenants::FleetProgress::new(with_changes, ctx.show_progress());
    let outcomes = crate::tenancy::run::execute(
        client,
        fleet,
        &secrets,
        args.tenants.jobs,
        args.fail_fast,
        &|e| progress.on_event(e),
    )
    .await;
    progress.finish();
    let report = ApplyReport {
        steps: outcomes
            .iter()
            .flat_map(|o| o.report.steps.iter().cloned())
            .collect(),
    };
    let confirmed = record_password_outcomes(args, &combined, &secrets, &report);
    let recorded = history::finish(client, meta_db, &record, &report).await;
    if !ctx.json() {
        print!("{}", render::tenants::outcome_text(&outcomes));
    }
    for warning in [recorded.err(), confirmed.err()].into_iter().flatten() {
        eprintln!("warning: {warning:#}");
    }
    Ok(outcomes)
}

/// Exit 1 when a tenant failed (each one was reported with its step).
fn finish_tenants(outcomes: Option<&[TenantOutcome]>) -> Result<u8> {
    let failed = outcomes.map_or(0, |o| o.iter().filter(|t| t.failed().is_some()).count());
    if failed > 0 {
        eprintln!(
            "error: {failed} tenant(s) failed; the others were applied. Fix the cause and run apply again (it resumes from the live state)"
        );
        return Err(Reported(ERROR).into());
    }
    Ok(SUCCESS)
}

/// The runnable migrations on the plan; refused (before any write) when one is changed or
/// missing, or when `--domain` limits apply to part of the spec.
fn runnable_migrations<'w>(
    args: &ApplyArgs,
    ws: &'w Workspace,
    plan: &Plan,
) -> Result<Vec<&'w crate::migrate::model::Migration>> {
    if plan.migrations.is_empty() {
        return Ok(Vec::new());
    }
    let refused: Vec<String> = plan
        .migrations
        .iter()
        .filter(|m| !m.state.is_runnable())
        .map(|m| {
            format!(
                "  {} ({}): {}",
                m.id,
                m.state.as_str(),
                m.detail.clone().unwrap_or_default()
            )
        })
        .collect();
    if !refused.is_empty() {
        bail!(
            "refusing to apply; nothing was written:\n{}",
            refused.join("\n")
        );
    }
    if !args.scope.domain.is_empty() {
        // The plan lists the migrations touching the scoped domains; one that also touches
        // another domain would change data outside the scope.
        let outside: Vec<&str> = ws
            .migrations
            .iter()
            .filter(|m| plan.migrations.iter().any(|p| p.id == m.id))
            .filter(|m| {
                m.steps.iter().any(|s| {
                    s.collections()
                        .iter()
                        .any(|c| !args.scope.domain.contains(&c.domain))
                })
            })
            .map(|m| m.id.as_str())
            .collect();
        if !outside.is_empty() {
            bail!(
                "migration(s) {} also touch domains outside --domain; run mongoctl migrate up (or apply without --domain) first; nothing was applied",
                outside.join(", ")
            );
        }
    }
    Ok(ws
        .migrations
        .iter()
        .filter(|m| plan.migrations.iter().any(|p| p.id == m.id))
        .collect())
}

/// The validator gate (before any write), and the plan as it will run (`--warn-first`).
fn gate(args: &ApplyArgs, ctx: &Ctx, plan: &Plan, written: &BTreeSet<String>) -> Result<Plan> {
    let flags = ViolationFlags {
        allow_violations: args.allow_violations,
        warn_first: args.warn_first,
    };
    let decision = validator_gate::decide(plan, written, flags)
        .map_err(|refusal| anyhow!(render::violations_refused(plan, &refusal)))?;
    let planned = validator_gate::planned(plan, &decision);
    if !ctx.json() && !ctx.global.quiet {
        for &i in &decision.allowed {
            let c = &planned.changes[i];
            let n = c.violations.as_ref().map_or(0, |v| v.count);
            eprintln!(
                "note: step {} sets a validator on {} that {n} stored document(s) violate (--allow-violations); they stay as they are and writes to them will be rejected",
                i + 1,
                validator_gate::namespace(c)
            );
        }
        for &i in &decision.warn_first {
            let c = &planned.changes[i];
            let n = c.violations.as_ref().map_or(0, |v| v.count);
            eprintln!(
                "note: step {} sets the validator of {} at validationAction warn (--warn-first): {n} stored document(s) violate it; fix them, then `mongoctl apply` promotes it to error",
                i + 1,
                validator_gate::namespace(c)
            );
        }
    }
    Ok(planned)
}

/// The changes that run before the migrations: databases and collections, and the options
/// and validators of collections no migration writes. The rest is planned again after them.
fn split_before_migrations(plan: &Plan, written: &BTreeSet<String>) -> (Plan, Plan) {
    let (mut before, mut after) = (Plan::default(), Plan::default());
    for c in &plan.changes {
        let ns = validator_gate::namespace(c);
        let early = match c.action.phase() {
            Phase::Database | Phase::Collections => true,
            Phase::CollectionOptions => !written.contains(&ns),
            _ => false,
        };
        if early {
            before.changes.push(c.clone());
        } else {
            after.changes.push(c.clone());
        }
    }
    (before, after)
}

/// Runs the changes of `plan` and records them in the history (without printing JSON).
async fn execute(
    args: &ApplyArgs,
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    plan: &Plan,
    stage: Option<&str>,
) -> Result<ApplyReport> {
    let environment = ctx.environment(ws)?.map(|(n, _)| n);
    let secrets = secrets::resolve(plan, args.secrets_file.as_deref(), environment.as_deref())?;
    let meta_db = ws.manifest.metadata_database.as_str();
    let record = history::start(
        client,
        meta_db,
        &ws.manifest.project,
        environment.as_deref(),
        &ws.root,
        plan,
        stage,
    )
    .await?;
    let progress = render::ApplyProgress::new(
        plan.changes.len(),
        ctx.show_progress(),
        ctx.global.quiet || ctx.json(),
    );
    let report = apply::execute(client, plan, &secrets, progress.is_visible(), |e| {
        progress.on_event(e)
    })
    .await;
    progress.finish();
    let confirmed = record_password_outcomes(args, plan, &secrets, &report);
    let recorded = history::finish(client, meta_db, &record, &report).await;
    if !ctx.json() {
        render::apply_report(plan, &report);
    }
    for warning in [recorded.err(), confirmed.err()].into_iter().flatten() {
        eprintln!("warning: {warning:#}");
    }
    Ok(report)
}

/// The exit code of a run whose last stage was `plan`/`report`.
fn finish(plan: &Plan, report: &ApplyReport) -> Result<u8> {
    if let Some((i, error)) = report.failed() {
        eprintln!(
            "error: step {} failed: {error}\n{} step(s) ran, {} did not; fix the cause and run apply again (it resumes from the live state)",
            i + 1,
            report.done(),
            plan.changes.len() - report.done() - 1
        );
        return Err(Reported(ERROR).into());
    }
    Ok(SUCCESS)
}

/// Marks each generated password `confirmed` (its step ran) or `failed` (it failed or was
/// never sent) in the secrets file.
fn record_password_outcomes(
    args: &ApplyArgs,
    plan: &Plan,
    secrets: &Secrets,
    report: &ApplyReport,
) -> Result<()> {
    let Some(path) = args.secrets_file.as_deref() else {
        return Ok(());
    };
    let outcomes: Vec<_> = secrets
        .pending
        .iter()
        .map(|p| {
            let ran = plan.changes.iter().zip(&report.steps).any(|(c, s)| {
                c.secret
                    .as_ref()
                    .is_some_and(|n| n.user == p.user && n.db == p.db)
                    && matches!(s, StepStatus::Done { .. })
            });
            (
                p,
                if ran {
                    Outcome::Confirmed
                } else {
                    Outcome::Failed
                },
            )
        })
        .collect();
    secrets::record_outcomes(path, &outcomes)
}

/// Asks before destructive steps; without a terminal (CI) it refuses instead of waiting.
async fn confirm(count: usize, yes: bool) -> Result<()> {
    let question = format!("Apply {count} destructive change(s) (marked ⚠)?");
    match super::confirm::confirm(&question, yes).await? {
        Answer::Yes => Ok(()),
        Answer::NoTerminal => bail!(
            "{count} destructive change(s) need confirmation and there is no terminal to ask on: rerun with --yes"
        ),
        Answer::No => bail!("aborted: nothing was applied"),
    }
}
