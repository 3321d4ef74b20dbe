//! Reads the tenant list: the workspace file (already read and checked by `spec::load`) or
//! the documents of a live collection, each id checked with the same rules (a bad one is named
//! by its document's `_id`).

use anyhow::{Context, Result, bail};
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::Client;

use crate::spec::Workspace;
use crate::spec::tenants::{Tenant, TenantSource, tenant_problem};

/// The tenants, sorted by id. `databases` resolves a domain to its database name;
/// `templates` are the template database names ids are checked against.
pub async fn tenants(
    client: &Client,
    ws: &Workspace,
    database_of: impl Fn(&str) -> Option<String>,
    templates: &[String],
) -> Result<Vec<Tenant>> {
    let mut out = match &ws.manifest.tenants {
        None => Vec::new(),
        Some(TenantSource::File(rel)) => {
            let Some(list) = &ws.tenants else {
                bail!("{}: the tenants file could not be read", rel.display());
            };
            // The file was checked against the manifest's names; an environment can
            // lengthen them (a prefix).
            for t in list {
                if let Some(p) = tenant_problem(&t.id, templates) {
                    bail!("{}: tenant \"{}\": {p}", rel.display(), t.id);
                }
            }
            list.clone()
        }
        Some(TenantSource::Collection {
            domain,
            collection,
            filter,
            field,
            class_field,
        }) => {
            let Some(db) = database_of(domain) else {
                bail!("tenants: domain \"{domain}\" has no database");
            };
            read_collection(
                client,
                &db,
                collection,
                filter,
                field,
                class_field.as_deref(),
                templates,
            )
            .await?
        }
    };
    out.sort();
    Ok(out)
}

async fn read_collection(
    client: &Client,
    db: &str,
    collection: &str,
    filter: &Document,
    field: &str,
    class_field: Option<&str>,
    templates: &[String],
) -> Result<Vec<Tenant>> {
    let mut projection = doc! {field: 1};
    if let Some(c) = class_field {
        projection.insert(c, 1);
    }
    let ns = format!("{db}.{collection}");
    let docs: Vec<Document> = client
        .database(db)
        .collection::<Document>(collection)
        .find(filter.clone())
        .projection(projection)
        .await
        .with_context(|| format!("reading the tenants from {ns}"))?
        .try_collect()
        .await
        .with_context(|| format!("reading the tenants from {ns}"))?;
    let mut problems = Vec::new();
    let mut out: Vec<Tenant> = Vec::new();
    for d in &docs {
        let id_shown = d
            .get("_id")
            .map(|v| v.clone().into_relaxed_extjson().to_string())
            .unwrap_or_else(|| "?".into());
        let id = match crate::model::get_path(d, field) {
            Some(Bson::String(s)) => s.clone(),
            Some(other) => {
                problems.push(format!(
                    "{ns} document _id {id_shown}: \"{field}\" is {}, expected a string",
                    other.clone().into_relaxed_extjson()
                ));
                continue;
            }
            None => {
                problems.push(format!(
                    "{ns} document _id {id_shown}: no \"{field}\" field"
                ));
                continue;
            }
        };
        if let Some(p) = tenant_problem(&id, templates) {
            problems.push(format!("{ns} document _id {id_shown}: {p}"));
            continue;
        }
        if out.iter().any(|t| t.id == id) {
            problems.push(format!(
                "{ns} document _id {id_shown}: tenant \"{id}\" is listed twice"
            ));
            continue;
        }
        let class = class_field
            .and_then(|c| crate::model::get_path(d, c))
            .and_then(|v| v.as_str().map(str::to_string));
        out.push(Tenant { id, class });
    }
    if !problems.is_empty() {
        bail!(
            "{} bad tenant(s) in {ns}; nothing was planned:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(out)
}
