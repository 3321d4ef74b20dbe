//! `explain`: the winning plan of a find on a domain collection, in a readable form, with an
//! index suggestion when the query scans the whole collection (`render::explain` prints it).

use anyhow::{Context, Result};
use clap::Args;

use crate::context::{Ctx, parse_json_flag};
use crate::exit::SUCCESS;
use crate::render;
use crate::stats::{self, Unavailable};

#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    /// Domain whose database holds the collection
    #[arg(long, short = 'd', visible_alias = "service", value_name = "DOMAIN")]
    pub domain: String,
    /// Collection to query
    #[arg(long, short = 'c', value_name = "NAME")]
    pub collection: String,
    /// Query filter as (Extended) JSON
    #[arg(long, default_value = "{}", value_name = "JSON")]
    pub filter: String,
    /// Sort as JSON, e.g. '{"created_at": -1}'
    #[arg(long, value_name = "JSON")]
    pub sort: Option<String>,
    /// Projection as JSON, e.g. '{"email": 1, "_id": 0}' (a covered query shows no FETCH)
    #[arg(long, value_name = "JSON")]
    pub projection: Option<String>,
}

pub async fn run(args: ExplainArgs, ctx: &Ctx) -> Result<u8> {
    let filter = parse_json_flag("filter", &args.filter)?;
    let sort = args
        .sort
        .as_deref()
        .map(|s| parse_json_flag("sort", s))
        .transpose()?;
    let projection = args
        .projection
        .as_deref()
        .map(|s| parse_json_flag("projection", s))
        .transpose()?;
    let ws = super::workspace(ctx)?;
    ctx.domains(&ws, std::slice::from_ref(&args.domain))?;
    let database = ctx
        .databases(&ws)?
        .into_iter()
        .find(|r| r.domain == args.domain)
        .map(|r| r.name)
        .context("domain has no database")?;
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let db = client.database(&database);
    let ns = format!("{database}.{}", args.collection);
    let e = stats::explain_find(
        &db,
        &args.collection,
        &filter,
        sort.as_ref(),
        projection.as_ref(),
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "explain on {ns}: {}",
            Unavailable::new(&e, "find", &ns).short()
        )
    })?;
    if ctx.json() {
        render::json(&e);
    } else {
        render::explain::table(&e, &ns, &args.domain, &args.collection);
    }
    Ok(SUCCESS)
}
