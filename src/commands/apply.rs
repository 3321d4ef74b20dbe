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
use crate::flags::{LockArgs, ScopeArgs};
use crate::history;
use crate::plan::Plan;
use crate::render;
use crate::secrets::{self, Outcome, Secrets};
use crate::spec::Workspace;
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
    #[command(flatten)]
    pub lock: LockArgs,
}

pub async fn run(args: ApplyArgs, ctx: &Ctx) -> Result<u8> {
    if args.dry_run {
        let plan_args = PlanArgs {
            scope: args.scope,
            prune: args.prune,
            exit_code: false,
        };
        return super::plan::run(plan_args, ctx).await;
    }
    let (ws, client, plan, lease) = super::plan::compute_under_lease(
        ctx,
        &args.scope.domain,
        args.prune,
        &args.lock,
        "mongoctl apply",
    )
    .await?;
    let Some(lease) = lease else {
        // Nothing to do (and nothing was written, not even the lease).
        return apply_plan(&args, ctx, &ws, &client, &plan).await;
    };
    let result = apply_plan(&args, ctx, &ws, &client, &plan).await;
    let released = lease.release().await;
    let code = result?;
    released?;
    Ok(code)
}

async fn apply_plan(
    args: &ApplyArgs,
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    plan: &Plan,
) -> Result<u8> {
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
    let blocked = plan.blocked().count();
    if blocked > 0 {
        bail!(
            "{blocked} change(s) cannot be applied in place (marked blocked); nothing was applied"
        );
    }
    // Before any change runs: validators that would reject documents already stored.
    let flags = ViolationFlags {
        allow_violations: args.allow_violations,
        warn_first: args.warn_first,
    };
    let decision = validator_gate::decide(plan, &BTreeSet::new(), flags)
        .map_err(|refusal| anyhow!(render::violations_refused(plan, &refusal)))?;
    let plan = &validator_gate::planned(plan, &decision);
    if !ctx.json() && !ctx.global.quiet {
        for &i in &decision.allowed {
            let c = &plan.changes[i];
            let n = c.violations.as_ref().map_or(0, |v| v.count);
            eprintln!(
                "note: step {} sets a validator on {} that {n} stored document(s) violate (--allow-violations); they stay as they are and writes to them will be rejected",
                i + 1,
                validator_gate::namespace(c)
            );
        }
        for &i in &decision.warn_first {
            let c = &plan.changes[i];
            let n = c.violations.as_ref().map_or(0, |v| v.count);
            eprintln!(
                "note: step {} sets the validator of {} at validationAction warn (--warn-first): {n} stored document(s) violate it; fix them, then `mongoctl apply` promotes it to error",
                i + 1,
                validator_gate::namespace(c)
            );
        }
    }
    let destructive = plan.destructive().count();
    if destructive > 0 {
        confirm(destructive, ctx.global.yes).await?;
    }

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

    if ctx.json() {
        render::json(&serde_json::json!({"plan": plan, "report": report}));
    } else {
        render::apply_report(plan, &report);
    }
    for warning in [recorded.err(), confirmed.err()].into_iter().flatten() {
        eprintln!("warning: {warning:#}");
    }
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
