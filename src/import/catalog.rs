//! The mapping against the live PostgreSQL catalog, before anything is written: every table,
//! query, column and skip predicate must exist (prepared, never executed), and every column's
//! conversion is settled from its type and the target schema. Problems are located in the
//! mapping file like `check`'s.

use bson::Bson;
use serde_json::Value;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::convert::{PgKind, Resolved, resolve};
use super::model::{Embed, FieldMap, FieldSource, Import, Source, quote_ident};
use super::pg::{error_text, kind_of, select_expr};
use super::schema_path::{allowed_types, schema_at};
use crate::jsonpath::JsonPath;
use crate::spec::diag::Diagnostic;

/// A source ready to read: its columns' kinds and every field's conversion.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub coll: usize,
    pub source: usize,
    /// Selected columns (key first), in the order rows carry them.
    pub columns: Vec<(String, PgKind)>,
    /// The key's SQL type name, for casting the text watermark back.
    pub key_type: String,
    pub fields: Vec<FieldPlan>,
    /// `migratedFrom.originalId`'s conversion of the key.
    pub original_id: Option<Resolved>,
    pub embeds: Vec<EmbedPlan>,
}

#[derive(Debug, Clone)]
pub struct FieldPlan {
    pub target: String,
    pub value: ValuePlan,
}

#[derive(Debug, Clone)]
pub enum ValuePlan {
    /// The column at this index of the row.
    Column(usize, Resolved),
    Constant(Bson),
}

#[derive(Debug, Clone)]
pub struct EmbedPlan {
    pub columns: Vec<(String, PgKind)>,
    pub fk_type: String,
    /// Index of the referenced parent column in the parent's columns.
    pub parent_ref: usize,
    pub fields: Vec<FieldPlan>,
}

/// Checks every source of `imp` and plans it; every problem found, located in the file.
pub async fn plan(
    pg: &Client,
    imp: &Import,
    schemas: &dyn Fn(&str) -> Option<Value>,
) -> Result<Vec<SourcePlan>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut out = Vec::new();
    for (ci, coll) in imp.collections.iter().enumerate() {
        let schema = schemas(&coll.collection);
        for (si, src) in coll.sources.iter().enumerate() {
            if let Some(p) = plan_source(pg, imp, src, schema.as_ref(), &mut diags).await {
                out.push(SourcePlan {
                    coll: ci,
                    source: si,
                    ..p
                });
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// A relation's columns, from preparing `SELECT * … LIMIT 0`.
async fn relation_columns(pg: &Client, from_sql: &str) -> Result<Vec<(String, Type)>, String> {
    let st = pg
        .prepare(&format!("SELECT * FROM {from_sql} LIMIT 0"))
        .await
        .map_err(|e| error_text(&e))?;
    Ok(st
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.type_().clone()))
        .collect())
}

async fn plan_source(
    pg: &Client,
    imp: &Import,
    src: &Source,
    schema: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) -> Option<SourcePlan> {
    let err = |diags: &mut Vec<Diagnostic>, p: JsonPath, m: String| diags.push(imp.src.error(p, m));
    let rel_path = match &src.from {
        super::model::Relation::Table(_) => src.path.key("table"),
        super::model::Relation::Query(_) => src.path.key("query"),
    };
    let cols = match relation_columns(pg, &src.from.from_sql()).await {
        Ok(c) => c,
        Err(e) => {
            err(
                diags,
                rel_path,
                format!("PostgreSQL refuses {}: {e}", src.from.describe()),
            );
            return None;
        }
    };
    let before = diags.len();
    let mut columns: Vec<(String, PgKind)> = Vec::new();
    let mut key_type = String::new();
    for name in src.columns() {
        match cols.iter().find(|(n, _)| *n == name) {
            Some((n, t)) => {
                if name == src.key {
                    key_type = t.name().to_string();
                    if t.schema() != "pg_catalog"
                        || matches!(t.kind(), tokio_postgres::types::Kind::Array(_))
                    {
                        err(
                            diags,
                            src.path.key("key"),
                            format!(
                                "the key column \"{name}\" has type {}; a key needs a built-in scalar type",
                                t.name()
                            ),
                        );
                    }
                }
                columns.push((n.clone(), kind_of(t)));
            }
            None => {
                let where_ = column_path(src, &name);
                let hint = crate::hints::did_you_mean(&name, cols.iter().map(|(n, _)| n.as_str()))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                err(
                    diags,
                    where_,
                    format!("{} has no column \"{name}\"{hint}", src.from.describe()),
                );
            }
        }
    }
    if let Some(skip) = &src.skip
        && let Err(e) = pg
            .prepare(&format!(
                "SELECT 1 FROM {} WHERE ({skip}) LIMIT 0",
                src.from.from_sql()
            ))
            .await
    {
        err(
            diags,
            src.path.key("skip"),
            format!("PostgreSQL refuses the skip predicate: {}", error_text(&e)),
        );
    }
    if diags.len() > before {
        return None;
    }
    let fields = plan_fields(imp, &src.fields, &columns, "", schema, diags);
    let original_id = src.migrated_from.as_ref().and_then(|_| {
        let kind = &columns[0].1;
        let node =
            schema.and_then(|s| schema_at(s, &["migratedFrom", "originalId"]).ok().flatten());
        match resolve(kind, None, node.and_then(allowed_types).as_deref(), None) {
            Ok(r) => Some(r),
            Err(e) => {
                err(
                    diags,
                    src.path.key("migratedFrom"),
                    format!("migratedFrom.originalId (the key \"{}\"): {e}", src.key),
                );
                None
            }
        }
    });
    let mut embeds = Vec::new();
    for e in &src.embeds {
        if let Some(p) = plan_embed(pg, imp, e, &columns, schema, diags).await {
            embeds.push(p);
        }
    }
    if diags.len() > before {
        return None;
    }
    Some(SourcePlan {
        coll: 0,
        source: 0,
        columns,
        key_type,
        fields,
        original_id,
        embeds,
    })
}

/// Where a column is named in a source, for messages.
fn column_path(src: &Source, name: &str) -> JsonPath {
    if name == src.key {
        return src.path.key("key");
    }
    for f in &src.fields {
        if let FieldSource::Column { column, .. } = &f.value
            && column == name
        {
            return field_column_path(f);
        }
    }
    for e in &src.embeds {
        if e.references == name {
            return e.path.key("references");
        }
    }
    src.path.clone()
}

fn field_column_path(f: &FieldMap) -> JsonPath {
    // `"fullName": "full_name"` is located at the field; the object form at its "column".
    match &f.value {
        FieldSource::Column { to: Some(_), .. } => f.path.key("column"),
        _ => f.path.clone(),
    }
}

fn plan_fields(
    imp: &Import,
    fields: &[FieldMap],
    columns: &[(String, PgKind)],
    prefix: &str,
    schema: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<FieldPlan> {
    let mut out = Vec::new();
    for f in fields {
        let value = match &f.value {
            FieldSource::Constant(b) => ValuePlan::Constant(b.clone()),
            FieldSource::Column { column, to } => {
                let Some(idx) = columns.iter().position(|(n, _)| n == column) else {
                    continue;
                };
                let full = if prefix.is_empty() {
                    f.target.clone()
                } else {
                    format!("{prefix}.{}", f.target)
                };
                let segs: Vec<&str> = full.split('.').collect();
                let node = schema.and_then(|s| schema_at(s, &segs).ok().flatten());
                let items = node.and_then(|n| n.get("items"));
                match resolve(
                    &columns[idx].1,
                    *to,
                    node.and_then(allowed_types).as_deref(),
                    items.and_then(allowed_types).as_deref(),
                ) {
                    Ok(r) => ValuePlan::Column(idx, r),
                    Err(e) => {
                        let p = if to.is_some() {
                            f.path.key("as")
                        } else {
                            f.path.clone()
                        };
                        diags.push(imp.src.error(p, format!("column \"{column}\": {e}")));
                        continue;
                    }
                }
            }
        };
        out.push(FieldPlan {
            target: f.target.clone(),
            value,
        });
    }
    out
}

async fn plan_embed(
    pg: &Client,
    imp: &Import,
    e: &Embed,
    parent_columns: &[(String, PgKind)],
    schema: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) -> Option<EmbedPlan> {
    let from = format!("{} c", super::model::quote_qualified(&e.table));
    let cols = match relation_columns(pg, &from).await {
        Ok(c) => c,
        Err(m) => {
            diags.push(imp.src.error(
                e.path.key("table"),
                format!("PostgreSQL refuses {}: {m}", e.table),
            ));
            return None;
        }
    };
    let before = diags.len();
    let mut columns = Vec::new();
    let mut fk_type = String::new();
    for name in e.columns() {
        match cols.iter().find(|(n, _)| *n == name) {
            Some((n, t)) => {
                if name == e.foreign_key {
                    fk_type = t.name().to_string();
                }
                columns.push((n.clone(), kind_of(t)));
            }
            None => {
                let p = if name == e.foreign_key {
                    e.path.key("foreignKey")
                } else if let Some(f) = e.fields.iter().find(
                    |f| matches!(&f.value, FieldSource::Column { column, .. } if *column == name),
                ) {
                    field_column_path(f)
                } else {
                    e.path.key("orderBy")
                };
                let hint = crate::hints::did_you_mean(&name, cols.iter().map(|(n, _)| n.as_str()))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                diags.push(
                    imp.src
                        .error(p, format!("{} has no column \"{name}\"{hint}", e.table)),
                );
            }
        }
    }
    if diags.len() > before {
        return None;
    }
    let parent_ref = parent_columns
        .iter()
        .position(|(n, _)| *n == e.references)?;
    let prefix = if e.as_array {
        format!("{}.$", e.target)
    } else {
        e.target.clone()
    };
    let fields = plan_fields(imp, &e.fields, &columns, &prefix, schema, diags);
    Some(EmbedPlan {
        columns,
        fk_type,
        parent_ref,
        fields,
    })
}

/// The SELECT list for `columns` read through alias `a`.
pub fn select_list(alias: &str, columns: &[(String, PgKind)]) -> String {
    columns
        .iter()
        .map(|(n, k)| select_expr(alias, n, k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a."col"`
pub fn col(alias: &str, name: &str) -> String {
    format!("{alias}.{}", quote_ident(name))
}
