//! `list`: each domain, its database, whether it exists, and its collections declared /
//! present / missing / unmanaged.

use anyhow::{Context, Result};
use clap::Args;
use futures::future::try_join_all;
use serde::Serialize;

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::flags::ScopeArgs;
use crate::live;
use crate::render;

#[derive(Serialize)]
struct DomainRow {
    domain: String,
    database: String,
    database_source: String,
    exists: bool,
    declared: Vec<String>,
    present: Vec<String>,
    missing: Vec<String>,
    unmanaged: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
}

pub async fn run(args: ListArgs, ctx: &Ctx) -> Result<u8> {
    let ws = super::workspace(ctx)?;
    let domains = ctx.domains(&ws, &args.scope.domain)?;
    let resolved: Vec<_> = ctx
        .databases(&ws)?
        .into_iter()
        .filter(|r| domains.is_empty() || domains.contains(&r.domain))
        .collect();
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let existing = live::existing_databases(&client).await?;
    let rows = try_join_all(resolved.into_iter().map(|r| {
        let client = &client;
        let exists = existing.contains(&r.name);
        let declared: Vec<String> = ws
            .manifest
            .domain(&r.domain)
            .map(|d| d.collections.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        async move {
            let mut present = if exists {
                client
                    .database(&r.name)
                    .list_collection_names()
                    .await
                    .with_context(|| format!("listing collections of {}", r.name))?
            } else {
                vec![]
            };
            present.retain(|c| !c.starts_with("system."));
            present.sort();
            let missing = declared
                .iter()
                .filter(|c| !present.contains(c))
                .cloned()
                .collect();
            let unmanaged = present
                .iter()
                .filter(|c| !declared.contains(c))
                .cloned()
                .collect();
            anyhow::Ok(DomainRow {
                domain: r.domain,
                database: r.name,
                database_source: r.source,
                exists,
                declared,
                present,
                missing,
                unmanaged,
            })
        }
    }))
    .await?;

    if ctx.json() {
        render::json(&rows);
        return Ok(SUCCESS);
    }
    let mut t = render::table(&[
        "domain",
        "database",
        "exists",
        "declared",
        "present",
        "missing",
        "unmanaged",
    ]);
    for r in &rows {
        let exists = if r.exists { "yes" } else { "no" };
        let names = |v: &Vec<String>| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        t.add_row(vec![
            r.domain.clone(),
            r.database.clone(),
            exists.to_string(),
            r.declared.len().to_string(),
            r.present.len().to_string(),
            names(&r.missing),
            names(&r.unmanaged),
        ]);
    }
    println!("{t}");
    Ok(SUCCESS)
}
