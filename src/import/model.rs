//! An import as `imports/<name>.json` declares it: per target collection, the PostgreSQL
//! sources that feed it and how each row becomes a document. Built by `spec::imports`, checked
//! against the live catalog by `import::catalog`, run by `import::run`.

use std::sync::Arc;

use bson::Bson;

use crate::jsonpath::JsonPath;
use crate::spec::source::SourceFile;

/// One `imports/<name>.json` file.
#[derive(Debug, Clone)]
pub struct Import {
    /// The file name without `.json`.
    pub name: String,
    pub domain: String,
    pub description: String,
    pub collections: Vec<TargetCollection>,
    /// The file, to locate problems found later against the live catalog.
    pub src: Arc<SourceFile>,
}

#[derive(Debug, Clone)]
pub struct TargetCollection {
    pub collection: String,
    /// The document field that identifies a document (its `_id` derives from it).
    pub key: String,
    pub on_collision: Collision,
    /// Fields compared by `--verify`'s checksum (default: every mapped field).
    pub checksum: Vec<String>,
    pub sources: Vec<Source>,
    pub path: JsonPath,
}

/// Two rows (of any sources) that give the same document key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collision {
    /// The later row goes to the rejects file as an error (`--strict` stops on it).
    Reject,
    /// The first document stays; the later row is recorded in the rejects file as a
    /// collision, which `--strict` tolerates.
    KeepFirst,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub from: Relation,
    /// The source column that orders rows and records the watermark.
    pub key: String,
    /// An SQL predicate: matching rows are skipped (and counted as skipped).
    pub skip: Option<String>,
    pub track_origin: Option<String>,
    /// `migratedFrom.source`; `originalId` is the key, `migratedAt` the run's start.
    pub migrated_from: Option<String>,
    pub fields: Vec<FieldMap>,
    pub embeds: Vec<Embed>,
    pub path: JsonPath,
}

/// A table (`schema.table`) or a query whose rows are read.
#[derive(Debug, Clone)]
pub enum Relation {
    Table(String),
    Query(String),
}

impl Relation {
    /// The relation as an SQL `FROM` item (aliased `s`).
    pub fn from_sql(&self) -> String {
        match self {
            Relation::Table(t) => format!("{} s", quote_qualified(t)),
            Relation::Query(q) => format!("({q}) s"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Relation::Table(t) => t.clone(),
            Relation::Query(_) => "query".into(),
        }
    }
}

/// `schema.table` → `"schema"."table"`.
pub fn quote_qualified(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One document field: where its value comes from.
#[derive(Debug, Clone)]
pub struct FieldMap {
    /// Dotted target path (`profile.patientId`).
    pub target: String,
    pub value: FieldSource,
    pub path: JsonPath,
}

#[derive(Debug, Clone)]
pub enum FieldSource {
    Column {
        column: String,
        /// `None`: chosen from the column's type and the target schema.
        to: Option<Conversion>,
    },
    Constant(Bson),
}

/// What a column's value becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    Uuid,
    String,
    Int,
    Long,
    Double,
    Decimal,
    Date,
    Bool,
    Document,
    Array,
}

pub const CONVERSIONS: &[&str] = &[
    "uuid", "string", "int", "long", "double", "decimal", "date", "bool", "document", "array",
];

impl Conversion {
    pub fn parse(s: &str) -> Option<Conversion> {
        Some(match s {
            "uuid" => Conversion::Uuid,
            "string" => Conversion::String,
            "int" => Conversion::Int,
            "long" => Conversion::Long,
            "double" => Conversion::Double,
            "decimal" => Conversion::Decimal,
            "date" => Conversion::Date,
            "bool" => Conversion::Bool,
            "document" => Conversion::Document,
            "array" => Conversion::Array,
            _ => return None,
        })
    }

    /// The BSON type (`$jsonSchema` `bsonType` alias) the conversion produces.
    pub fn bson_type(self) -> &'static str {
        match self {
            Conversion::Uuid => "binData",
            Conversion::String => "string",
            Conversion::Int => "int",
            Conversion::Long => "long",
            Conversion::Double => "double",
            Conversion::Decimal => "decimal",
            Conversion::Date => "date",
            Conversion::Bool => "bool",
            Conversion::Document => "object",
            Conversion::Array => "array",
        }
    }

    pub fn name(self) -> &'static str {
        CONVERSIONS[self as usize]
    }
}

/// A child table embedded in the parent's document.
#[derive(Debug, Clone)]
pub struct Embed {
    pub target: String,
    pub table: String,
    /// The child's column that references the parent.
    pub foreign_key: String,
    /// The parent's column it references (default: the parent's key).
    pub references: String,
    pub order_by: Vec<String>,
    pub descending: bool,
    pub limit: Option<u64>,
    /// An array of sub-documents, or one sub-document (the first child row).
    pub as_array: bool,
    pub fields: Vec<FieldMap>,
    pub path: JsonPath,
}

impl Source {
    /// The constant fields that tell this source's documents apart in the target (its stamps
    /// and string constants): the filter `--verify` counts its documents with.
    pub fn stamp_filter(&self) -> bson::Document {
        let mut d = bson::Document::new();
        if let Some(s) = &self.migrated_from {
            d.insert("migratedFrom.source", s.clone());
        }
        if let Some(t) = &self.track_origin {
            d.insert("trackOrigin", t.clone());
        }
        for f in &self.fields {
            if let FieldSource::Constant(v @ Bson::String(_)) = &f.value {
                d.insert(f.target.clone(), v.clone());
            }
        }
        d
    }

    /// Every source column the mapping reads (key first).
    pub fn columns(&self) -> Vec<String> {
        let mut out = vec![self.key.clone()];
        column_names(&self.fields, &mut out);
        for e in &self.embeds {
            push_unique(&mut out, &e.references);
        }
        out
    }
}

impl Embed {
    pub fn columns(&self) -> Vec<String> {
        let mut out = vec![self.foreign_key.clone()];
        column_names(&self.fields, &mut out);
        for o in &self.order_by {
            push_unique(&mut out, o);
        }
        out
    }
}

/// " (from track1)" for a document stamped with its origin, else "".
pub fn describe_origin(d: &bson::Document) -> String {
    let source = d
        .get_document("migratedFrom")
        .ok()
        .and_then(|m| m.get_str("source").ok())
        .or_else(|| d.get_str("trackOrigin").ok());
    source.map(|s| format!(" (from {s})")).unwrap_or_default()
}

fn push_unique(out: &mut Vec<String>, c: &str) {
    if !out.iter().any(|x| x == c) {
        out.push(c.to_string());
    }
}

/// The columns `fields` read, added to `out` once each.
fn column_names(fields: &[FieldMap], out: &mut Vec<String>) {
    for f in fields {
        if let FieldSource::Column { column, .. } = &f.value {
            push_unique(out, column);
        }
    }
}
