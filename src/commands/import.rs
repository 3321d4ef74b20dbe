//! `import NAME --from postgres://…`: runs `imports/NAME.json` (see `crate::import`), or
//! samples it (`--dry-run`), or checks a finished one (`--verify`).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::context::Ctx;
use crate::error::SpecRejected;
use crate::exit::{CHANGES_PENDING, SUCCESS};
use crate::flags::LockArgs;
use crate::import::pg::{self, Password};
use crate::import::{catalog, dry_run, run, verify};
use crate::jsonschema::CompiledSchema;
use crate::lease;
use crate::render;

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The mapping to run: imports/NAME.json
    pub name: String,
    /// PostgreSQL connection string (postgres://user@host:port/db); the password comes from PGPASSWORD, else a hidden prompt on a terminal
    #[arg(
        long = "from",
        env = "MONGOCTL_IMPORT_FROM",
        hide_env_values = true,
        value_name = "URI"
    )]
    pub from: String,
    /// Read a sample of each source, convert and validate it, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Check a finished import: rows add up (imported + rejected + skipped) and checksums agree
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,
    /// Stop at the first row that cannot be imported instead of writing it to the rejects file
    #[arg(long)]
    pub strict: bool,
    /// Source rows per batch (one insert and one watermark per batch)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// Rows per source that --dry-run reads
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub sample: u64,
    /// Where rejected rows are appended (default: .mongoctl/imports/NAME.rejects.jsonl in the workspace)
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// The password when the URI carries none: `PGPASSWORD`, else a hidden prompt on a terminal.
async fn password(uri: &str) -> Result<Password> {
    let has_own = uri
        .parse::<tokio_postgres::Config>()
        .map(|c| c.get_password().is_some())
        .unwrap_or(false);
    if has_own {
        return Ok(Password::None);
    }
    if let Ok(p) = std::env::var("PGPASSWORD") {
        return Ok(Password::Given(p));
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(Password::None);
    }
    let prompt = format!("PostgreSQL password for {}", crate::redact::redact_uri(uri));
    let p = tokio::task::spawn_blocking(move || {
        dialoguer::Password::new()
            .with_prompt(prompt)
            .allow_empty_password(true)
            .interact()
    })
    .await??;
    Ok(Password::Given(p))
}

pub async fn run(a: ImportArgs, ctx: &Ctx) -> Result<u8> {
    let ws = super::workspace(ctx)?;
    let Some(imp) = ws.imports.iter().find(|i| i.name == a.name) else {
        let names: Vec<&str> = ws.imports.iter().map(|i| i.name.as_str()).collect();
        bail!(
            "no mapping imports/{}.json in {} (mappings: {})",
            a.name,
            ws.root.display(),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        );
    };
    let schema_json = |coll: &str| {
        ws.schemas
            .get(&(imp.domain.clone(), coll.to_string()))
            .map(|s| s.json.clone())
    };
    let compiled = |coll: &str| {
        ws.schemas
            .get(&(imp.domain.clone(), coll.to_string()))
            .map(|s| s.compiled.clone())
    };
    let pgc = pg::connect(&a.from, password(&a.from).await?).await?;
    let plans = catalog::plan(&pgc, imp, &schema_json)
        .await
        .map_err(|diagnostics| SpecRejected {
            spec: ctx.global.spec.clone(),
            diagnostics,
        })?;
    if a.dry_run {
        let samples = dry_run::sample(&pgc, imp, &plans, &compiled, a.sample as usize, 3).await?;
        if ctx.json() {
            render::json(&serde_json::json!({"import": imp.name, "samples": samples}));
        } else if !ctx.global.quiet {
            render::import::samples(&samples);
        }
        let problems = samples.iter().any(|s| !s.problems.is_empty());
        return Ok(if problems { CHANGES_PENDING } else { SUCCESS });
    }
    let database = ctx
        .databases(&ws)?
        .into_iter()
        .find(|d| d.domain == imp.domain)
        .map(|d| d.name)
        .with_context(|| format!("domain {} has no database", imp.domain))?;
    let rejects = a.rejects.clone().unwrap_or_else(|| {
        ws.root
            .join(".mongoctl")
            .join("imports")
            .join(format!("{}.rejects.jsonl", imp.name))
    });
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let meta_db = ws.manifest.metadata_database.as_str();
    if a.verify {
        let rows = verify::verify(&pgc, imp, &plans, &client, &database, meta_db, &rejects).await?;
        if ctx.json() {
            render::json(&serde_json::json!({"import": imp.name, "verify": rows}));
        } else if !ctx.global.quiet {
            render::import::verify(&rows);
        }
        return Ok(if rows.iter().all(|r| r.ok()) {
            SUCCESS
        } else {
            CHANGES_PENDING
        });
    }
    let schemas = imp
        .collections
        .iter()
        .filter_map(|c| compiled(&c.collection).map(|s: CompiledSchema| (c.collection.clone(), s)))
        .collect();
    let target = run::Target {
        client: &client,
        database,
        meta_db,
        schemas,
    };
    let opts = run::RunOptions {
        batch_size: a.batch_size as usize,
        strict: a.strict,
        rejects: rejects.clone(),
    };
    let held = lease::acquire(
        &client,
        meta_db,
        lease::CLUSTER_CHANGES,
        "mongoctl import",
        a.lock.wait(),
    )
    .await?;
    let progress = render::migrate::Progress::new(ctx.show_progress());
    let result = run::run(&pgc, imp, &plans, &target, &opts, &progress.observer()).await;
    progress.finish();
    let released = held.release().await;
    let reports = result?;
    released?;
    if ctx.json() {
        render::json(
            &serde_json::json!({"import": imp.name, "rejects_file": rejects, "sources": reports}),
        );
    } else if !ctx.global.quiet {
        render::import::report(&reports, &rejects);
    }
    Ok(SUCCESS)
}
