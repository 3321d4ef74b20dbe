//! Data conformance: for every declared, validated, existing collection, the documents
//! already stored that violate the declared `$jsonSchema` (counted exactly), a few of them
//! explained field by field by the offline validator. Returns data; `render::verify` prints.

use std::path::Path;

use anyhow::{Context, Result};
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Client;
use serde::Serialize;

use crate::jsonpath::{JsonPath, Seg};
use crate::model::{ClusterState, to_json};
use crate::spec::Workspace;
use crate::spec::source::SourceFile;

/// Data conformance of one validated collection.
#[derive(Debug, Clone, Serialize)]
pub struct Conformance {
    pub domain: String,
    pub database: String,
    pub collection: String,
    /// The schema file, relative to the workspace.
    pub schema_file: String,
    /// Documents matching `{$nor: [{$jsonSchema: <declared schema>}]}`.
    pub violating: u64,
    /// Why the collection was not checked (it does not exist yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub samples: Vec<Sample>,
}

/// One violating document and every reason the offline validator gives for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    #[serde(rename = "_id")]
    pub id: serde_json::Value,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Where in the document (`$` for the document itself).
    pub path: String,
    /// The schema keyword that fails (`required`, `bsonType`, `enum`, …).
    pub keyword: String,
    pub message: String,
    /// The line of the schema file that states the failing rule.
    pub schema_line: usize,
}

/// Counts and explains the documents of every declared, validated, existing collection that
/// do not satisfy the declared schema.
pub async fn conformance(
    client: &Client,
    ws: &Workspace,
    desired: &ClusterState,
    live: &ClusterState,
    samples: usize,
) -> Result<Vec<Conformance>> {
    let mut out = Vec::new();
    for db in &desired.databases {
        for coll in &db.collections {
            let key = (db.domain.clone(), coll.name.clone());
            let (Some(schema), Some(validator)) = (ws.schemas.get(&key), &coll.validator) else {
                continue;
            };
            let mut c = Conformance {
                domain: db.domain.clone(),
                database: db.name.clone(),
                collection: coll.name.clone(),
                schema_file: slash_path(&schema.rel),
                violating: 0,
                skipped: None,
                samples: Vec::new(),
            };
            let exists = live
                .database(&db.name)
                .and_then(|d| d.collection(&coll.name))
                .is_some();
            if !exists {
                c.skipped = Some("the collection does not exist yet".into());
                out.push(c);
                continue;
            }
            (c.violating, c.samples) =
                violations(client, ws, schema, &db.name, &coll.name, validator, samples).await?;
            out.push(c);
        }
    }
    Ok(out)
}

/// The documents of `database.collection` that violate `validator` (counted by the server),
/// and up to `samples` of them (lowest `_id` first) explained by the offline validator against
/// the workspace schema file. Shared by `verify` and `plan`'s validator impact.
pub async fn violations(
    client: &Client,
    ws: &Workspace,
    schema: &crate::spec::SchemaFile,
    database: &str,
    collection: &str,
    validator: &Document,
    samples: usize,
) -> Result<(u64, Vec<Sample>)> {
    let ns = format!("{database}.{collection}");
    let handle = client.database(database).collection::<Document>(collection);
    let filter = doc! {"$nor": [{"$jsonSchema": validator.clone()}]};
    let count = handle
        .count_documents(filter.clone())
        .await
        .with_context(|| format!("counting documents of {ns} that violate its schema"))?;
    let mut explained = Vec::new();
    if count > 0 && samples > 0 {
        let docs: Vec<Document> = handle
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(samples as i64)
            .await
            .with_context(|| format!("reading violating documents of {ns}"))?
            .try_collect()
            .await
            .with_context(|| format!("reading violating documents of {ns}"))?;
        let source = SourceFile::read(&ws.root, &schema.rel).ok().map(|(s, _)| s);
        for d in &docs {
            explained.push(explain(&schema.compiled, source.as_ref(), d));
        }
    }
    Ok((count, explained))
}

fn explain(
    schema: &crate::jsonschema::CompiledSchema,
    source: Option<&SourceFile>,
    d: &Document,
) -> Sample {
    let mut reasons: Vec<Reason> = schema
        .validate(d)
        .into_iter()
        .map(|v| Reason {
            schema_line: source.map_or(1, |s| s.locate(&schema_path(&v.path, v.keyword)).0),
            path: v.path.to_string(),
            keyword: v.keyword.to_string(),
            message: v.message,
        })
        .collect();
    if reasons.is_empty() {
        reasons.push(Reason {
            path: "$".into(),
            keyword: "?".into(),
            message: "the server rejects this document but the offline validator finds no reason"
                .into(),
            schema_line: 1,
        });
    }
    Sample {
        id: d.get("_id").map(to_json).unwrap_or(serde_json::Value::Null),
        reasons,
    }
}

/// Where the rule for a document path lives in the schema: `a.b[0]` → `properties.a.properties.b.items`,
/// then the keyword. `locate` falls back to the nearest existing parent.
pub fn schema_path(doc_path: &JsonPath, keyword: &str) -> JsonPath {
    let mut p = JsonPath::root();
    for seg in &doc_path.0 {
        p = match seg {
            Seg::Key(k) => p.key("properties").key(k.as_str()),
            Seg::Index(_) => p.key("items"),
        };
    }
    p.key(keyword)
}

/// A relative path with `/` separators, as workspace files are named in reports.
pub fn slash_path(p: &Path) -> String {
    // The root component is the empty segment before the first `/`, so an absolute path
    // reads `/a/b`, not `//a/b`.
    p.components()
        .map(|c| match c {
            std::path::Component::RootDir => String::new(),
            c => c.as_os_str().to_string_lossy().into_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_paths_follow_properties_and_items() {
        let p = JsonPath::root().key("a").index(2).key("b");
        assert_eq!(
            schema_path(&p, "bsonType").to_string(),
            "properties.a.items.properties.b.bsonType"
        );
        assert_eq!(
            schema_path(&JsonPath::root(), "required").to_string(),
            "required"
        );
    }

    #[test]
    fn slash_paths_keep_one_leading_slash() {
        assert_eq!(
            slash_path(Path::new("schemas/app/x.json")),
            "schemas/app/x.json"
        );
        assert_eq!(slash_path(Path::new("/w/ex/a.json")), "/w/ex/a.json");
    }
}
