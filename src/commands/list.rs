//! `list`: each domain, its database, whether it exists, and its collections declared /
//! present / missing / unmanaged (gathered by `crate::inventory`, printed by `render::list`).

use anyhow::Result;
use clap::Args;

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::flags::ScopeArgs;
use crate::inventory;
use crate::render;

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
    let resolved = if ws.manifest.has_templates() {
        let names = ctx.database_names(&ws)?;
        let templates: Vec<String> = resolved
            .iter()
            .filter(|r| crate::spec::tenants::is_template(&r.name))
            .map(|r| r.name.clone())
            .collect();
        let tenants =
            crate::tenancy::source::tenants(&client, &ws, |d| names.get(d).cloned(), &templates)
                .await?;
        crate::tenancy::expand::resolved_per_tenant(resolved, &tenants)
    } else {
        resolved
    };
    let rows = inventory::domains(&client, &ws, resolved).await?;
    if ctx.json() {
        render::json(&rows);
    } else {
        render::list::table(&rows);
    }
    Ok(SUCCESS)
}
