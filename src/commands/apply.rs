//! `apply` / `setup`: plan, confirm destructive steps, execute, record, report.

use std::io::IsTerminal;

use anyhow::{Result, bail};

use crate::apply;
use crate::cli::{ApplyArgs, PlanArgs};
use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::history;
use crate::render;
use crate::secrets;

pub async fn run(args: ApplyArgs, ctx: &Ctx) -> Result<u8> {
    if args.dry_run {
        let plan_args = PlanArgs {
            scope: args.scope,
            prune: args.prune,
            exit_code: false,
        };
        return super::plan::run(plan_args, ctx).await;
    }
    let (ws, client, plan) = super::plan::compute(ctx, &args.scope.domain, args.prune).await?;
    if plan.is_empty() {
        if ctx.json() {
            render::json(&serde_json::json!({"plan": plan, "applied": 0}));
        } else if !ctx.global.quiet {
            render::plan(&plan, args.prune, false);
        }
        return Ok(SUCCESS);
    }
    if !ctx.json() && !ctx.global.quiet {
        render::plan(&plan, args.prune, ctx.global.verbose > 0);
    }
    let blocked = plan.blocked().count();
    if blocked > 0 {
        eprintln!(
            "error: {blocked} change(s) cannot be applied in place (marked blocked); nothing was applied"
        );
        return Err(Reported(ERROR).into());
    }
    let destructive = plan.destructive().count();
    if destructive > 0 {
        confirm(destructive, ctx.global.yes).await?;
    }

    let environment = ctx.environment(&ws)?.map(|(n, _)| n);
    let secrets = secrets::resolve(&plan, args.secrets_file.as_deref(), environment.as_deref())?;
    let meta_db = ws.manifest.metadata_database.as_str();
    let record = history::start(
        &client,
        meta_db,
        &ws.manifest.project,
        environment.as_deref(),
        &ws.root,
        &plan,
    )
    .await?;
    let progress = render::ApplyProgress::new(
        plan.changes.len(),
        ctx.show_progress(),
        ctx.global.quiet || ctx.json(),
    );
    let report = apply::execute(&client, &plan, &secrets, progress.is_visible(), |e| {
        progress.on_event(e)
    })
    .await;
    progress.finish();
    let recorded = history::finish(&client, meta_db, &record, &report).await;

    if ctx.json() {
        render::json(&serde_json::json!({"plan": plan, "report": report}));
    } else {
        render::apply_report(&plan, &report);
    }
    if let Err(e) = recorded {
        eprintln!("warning: {e:#}");
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

/// Asks before destructive steps; without a terminal (CI) it refuses instead of waiting.
async fn confirm(count: usize, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "{count} destructive change(s) need confirmation and there is no terminal to ask on: rerun with --yes"
        );
    }
    let prompt = format!("Apply {count} destructive change(s) (marked ⚠)?");
    let answer = tokio::task::spawn_blocking(move || {
        dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(false)
            .interact()
    })
    .await??;
    if !answer {
        bail!("aborted: nothing was applied");
    }
    Ok(())
}
