//! `explain`: the winning plan of a find on a domain collection, in a readable form, with an
//! index suggestion when the query scans the whole collection.

use anyhow::{Context, Result};
use clap::Args;

use crate::context::{Ctx, parse_json_flag};
use crate::exit::SUCCESS;
use crate::render;
use crate::stats::{self, Unavailable};

#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    /// Domain whose database holds the collection
    #[arg(long, short = 'd', value_name = "DOMAIN")]
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
}

pub async fn run(args: ExplainArgs, ctx: &Ctx) -> Result<u8> {
    let filter = parse_json_flag("filter", &args.filter)?;
    let sort = args
        .sort
        .as_deref()
        .map(|s| parse_json_flag("sort", s))
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
    let e = stats::explain(&db, &args.collection, &filter, sort.as_ref())
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "explain on {ns}: {}",
                Unavailable::new(&e, "find", &ns).short()
            )
        })?;
    if ctx.json() {
        render::json(&e);
        return Ok(SUCCESS);
    }
    let mut t = render::table(&["explain", &ns]);
    let rows = [
        (
            "filter",
            serde_json::to_string(&e.filter).unwrap_or_default(),
        ),
        (
            "sort",
            e.sort
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_default())
                .unwrap_or_else(|| "-".into()),
        ),
        ("plan", e.stages.join(" ← ")),
        (
            "index",
            if e.collscan {
                "⚠ none: COLLSCAN (reads every document)".to_string()
            } else if e.indexes.is_empty() {
                "-".to_string()
            } else if !e.filter_supported && e.suggested_index.is_some() {
                format!(
                    "{} (serves none of the filter's fields)",
                    e.indexes.join(", ")
                )
            } else {
                e.indexes.join(", ")
            },
        ),
        ("keys examined", e.keys_examined.to_string()),
        ("docs examined", e.docs_examined.to_string()),
        ("returned", e.returned.to_string()),
        ("time", format!("{} ms", e.time_ms)),
        ("rejected plans", e.rejected_plans.to_string()),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v]);
    }
    println!("{t}");
    if let Some(k) = &e.suggested_index {
        let key = serde_json::to_string(k).unwrap_or_default();
        println!(
            "hint: no index supports this filter. Declare one in indexes/{}/{}.json:\n  {{\"key\": {key}}}\nthen run `mongoctl plan` and `mongoctl apply`.",
            args.domain, args.collection
        );
    }
    Ok(SUCCESS)
}
