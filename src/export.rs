//! Writes a spec workspace from a live cluster (`init --from-cluster`): the manifest with each
//! collection's options, validators as schema files, indexes, optional seed files, and drafts
//! inferred from sample documents for collections without a validator.
//!
//! Everything is exported in the exact form `plan` compares, so that planning the exported
//! workspace against the same cluster shows no changes. Drafts go to `schemas-draft/`, which
//! the spec reader never loads: a draft is applied only after a person moves it to `schemas/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::{Client, Database};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::backup::filename::inside;
use crate::infer;
use crate::live;
use crate::model::{CollectionState, IndexDef, as_i64, bson_eq, derived_index_name, doc_to_json};
use crate::spec::MANIFEST_FILE;

/// The folder drafts are written to; the spec reader does not read it.
pub const DRAFT_DIR: &str = "schemas-draft";

/// Seed files hold at most this many documents.
pub const MAX_SEED_DOCUMENTS: usize = 10_000;

pub struct ExportOptions {
    pub project: String,
    /// Documents sampled (`$sample`) to draft a schema; 0 disables drafts.
    pub sample: usize,
    /// Namespaces (`db.collection`) whose documents become seed files.
    pub seeds: Vec<String>,
    /// Canonical Extended JSON in seed files (default: relaxed).
    pub canonical: bool,
}

/// One file to write, relative to the workspace root.
#[derive(Debug, Clone, Serialize)]
pub struct ExportFile {
    pub path: PathBuf,
    #[serde(skip)]
    pub json: Value,
    /// An inferred schema, written to `schemas-draft/`.
    pub draft: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportedDomain {
    pub domain: String,
    pub database: String,
    pub collections: usize,
    pub schemas: usize,
    pub drafts: usize,
    pub indexes: usize,
    pub seeds: usize,
    pub views: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Exported {
    pub files: Vec<ExportFile>,
    pub domains: Vec<ExportedDomain>,
    pub warnings: Vec<String>,
}

/// A domain name (`^[a-z][a-z0-9_]*$`) for a database, with `prefix` removed.
pub fn domain_name(database: &str, prefix: Option<&str>) -> String {
    let base = prefix
        .and_then(|p| database.strip_prefix(p))
        .filter(|s| !s.is_empty())
        .unwrap_or(database);
    let mut s: String = base
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s.insert_str(0, "db_");
    }
    s
}

/// Why collection `name` cannot name its spec files `<kind>/<domain>/<name>.json`, if it
/// cannot. The spec reader takes a file's name, as it is, for its collection's; an escaped
/// name would not read back, so such a collection is refused rather than renamed.
pub fn spec_file_problem(name: &str) -> Option<&'static str> {
    if name.contains(['/', '\\', '\0']) {
        Some("a file name cannot hold '/', '\\' or NUL")
    } else if name.starts_with('.') {
        Some("the spec reader skips files whose names start with '.'")
    } else if name.len() + ".json".len() > 255 {
        Some("longer than 250 bytes: <name>.json would exceed the 255 bytes of a file name")
    } else {
        None
    }
}

/// Reads `databases` (domain, database name) from the cluster into workspace files.
pub async fn export(
    client: &Client,
    databases: &[(String, String)],
    opts: &ExportOptions,
) -> Result<Exported> {
    let mut out = Exported::default();
    for ns in &opts.seeds {
        let db = ns.split_once('.').map(|(d, _)| d);
        if !db.is_some_and(|d| databases.iter().any(|(_, name)| name == d)) {
            bail!(
                "--seeds {ns}: not a collection of an exported database (use DATABASE.COLLECTION)"
            );
        }
    }
    let mut domains = Map::new();
    for (domain, name) in databases {
        let db = client.database(name);
        let (decl, summary) = export_database(&db, domain, opts, &mut out).await?;
        domains.insert(domain.clone(), decl);
        out.domains.push(summary);
    }
    let manifest = json!({
        "project": opts.project,
        "domains": domains,
    });
    out.files.insert(
        0,
        ExportFile {
            path: PathBuf::from(MANIFEST_FILE),
            json: manifest,
            draft: false,
        },
    );
    Ok(out)
}

async fn export_database(
    db: &Database,
    domain: &str,
    opts: &ExportOptions,
    out: &mut Exported,
) -> Result<(Value, ExportedDomain)> {
    let name = db.name().to_string();
    let mut specs: Vec<Document> = db
        .run_cursor_command(doc! {"listCollections": 1, "authorizedCollections": true})
        .await
        .with_context(|| format!("listing collections of {name}"))?
        .try_collect()
        .await
        .with_context(|| format!("listing collections of {name}"))?;
    specs.sort_by(|a, b| a.get_str("name").ok().cmp(&b.get_str("name").ok()));
    let mut summary = ExportedDomain {
        domain: domain.to_string(),
        database: name.clone(),
        collections: 0,
        schemas: 0,
        drafts: 0,
        indexes: 0,
        seeds: 0,
        views: 0,
    };
    let unusable: Vec<String> = specs
        .iter()
        .filter(|s| s.get_str("type") != Ok("view"))
        .filter_map(|s| s.get_str("name").ok())
        .filter(|c| !c.starts_with("system."))
        .filter_map(|c| spec_file_problem(c).map(|p| format!("\"{name}.{c}\": {p}")))
        .collect();
    if !unusable.is_empty() {
        bail!(
            "{} collection(s) of {name} cannot be exported: their names cannot be spec file \
             names (schemas/<domain>/<collection>.json); nothing was written. Rename them, or \
             leave the database out:\n  {}",
            unusable.len(),
            unusable.join("\n  ")
        );
    }
    let mut collections = Map::new();
    let mut views = Map::new();
    for spec in &specs {
        let cname = spec.get_str("name").unwrap_or_default();
        let kind = spec.get_str("type").unwrap_or("collection");
        if cname.starts_with("system.") {
            continue;
        }
        if kind == "view" {
            views.insert(
                cname.to_string(),
                view_to_spec(&live::views::view_from_spec(spec)),
            );
            summary.views += 1;
            continue;
        }
        let options = spec.get_document("options").cloned().unwrap_or_default();
        let mut coll = live::collection_from_options(cname, &options);
        let raw_indexes: Vec<Document> = db
            .run_cursor_command(doc! {"listIndexes": cname})
            .await
            .with_context(|| format!("listing indexes of {name}.{cname}"))?
            .try_collect()
            .await
            .with_context(|| format!("listing indexes of {name}.{cname}"))?;
        coll.indexes = raw_indexes.iter().map(live::index_from_document).collect();
        summary.collections += 1;
        collections.insert(cname.to_string(), collection_options(&coll));
        let rel = |kind: &str| Path::new(kind).join(domain).join(format!("{cname}.json"));

        if let Some(v) = &coll.validator {
            out.files.push(ExportFile {
                path: rel("schemas"),
                json: doc_to_json(v),
                draft: false,
            });
            summary.schemas += 1;
        } else if let Some(v) = &coll.other_validator {
            out.warnings.push(format!(
                "{name}.{cname} has a validator with query operators ({}); mongoctl manages only $jsonSchema validators, so it was not exported and `plan` will propose removing it",
                doc_to_json(v)
            ));
        } else if coll.options.timeseries.is_none() && opts.sample > 0 {
            let docs = sample_documents(db, cname, opts.sample).await?;
            if docs.is_empty() {
                out.warnings.push(format!(
                    "{name}.{cname} has no validator and no documents: no draft schema"
                ));
            } else {
                out.files.push(ExportFile {
                    path: rel(DRAFT_DIR),
                    json: infer::infer_schema(&docs),
                    draft: true,
                });
                summary.drafts += 1;
                out.warnings.push(format!(
                    "{name}.{cname} has no validator: wrote a DRAFT schema inferred from {} document(s) to {}; it is not applied until you review it and move it to schemas/",
                    docs.len(),
                    rel(DRAFT_DIR).display()
                ));
            }
        }

        let collation = coll.options.collation.as_ref();
        let indexes: Vec<Value> = coll
            .indexes
            .iter()
            .filter(|i| i.name != "_id_")
            .map(|i| index_to_spec(i, collation))
            .collect();
        if !indexes.is_empty() {
            out.files.push(ExportFile {
                path: rel("indexes"),
                json: json!({ "indexes": indexes }),
                draft: false,
            });
            summary.indexes += 1;
        }

        if opts.seeds.contains(&format!("{name}.{cname}")) {
            let docs = all_documents(db, cname).await?;
            let documents: Vec<Value> = docs
                .into_iter()
                .map(|d| {
                    if opts.canonical {
                        Bson::Document(d).into_canonical_extjson()
                    } else {
                        Bson::Document(d).into_relaxed_extjson()
                    }
                })
                .collect();
            out.files.push(ExportFile {
                path: rel("seeds"),
                json: json!({ "key": ["_id"], "documents": documents }),
                draft: false,
            });
            summary.seeds += 1;
        }
    }
    let mut decl = json!({ "database": name, "collections": collections });
    if !views.is_empty() {
        decl["views"] = Value::Object(views);
    }
    Ok((decl, summary))
}

async fn sample_documents(db: &Database, coll: &str, n: usize) -> Result<Vec<Document>> {
    db.collection::<Document>(coll)
        .aggregate([doc! {"$sample": {"size": n as i64}}])
        .await
        .with_context(|| format!("sampling documents of {}.{coll}", db.name()))?
        .try_collect()
        .await
        .with_context(|| format!("sampling documents of {}.{coll}", db.name()))
}

async fn all_documents(db: &Database, coll: &str) -> Result<Vec<Document>> {
    let ns = format!("{}.{coll}", db.name());
    let docs: Vec<Document> = db
        .collection::<Document>(coll)
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .limit(MAX_SEED_DOCUMENTS as i64 + 1)
        .await
        .with_context(|| format!("reading documents of {ns}"))?
        .try_collect()
        .await
        .with_context(|| format!("reading documents of {ns}"))?;
    if docs.len() > MAX_SEED_DOCUMENTS {
        bail!(
            "--seeds {ns}: more than {MAX_SEED_DOCUMENTS} documents; seed files are for reference data"
        );
    }
    Ok(docs)
}

/// The manifest entry of a collection: exactly the options the live collection has.
pub fn collection_options(c: &CollectionState) -> Value {
    let o = &c.options;
    let mut m = Map::new();
    if let Some(l) = &o.validation_level {
        m.insert("validationLevel".into(), json!(l));
    }
    if let Some(a) = &o.validation_action {
        m.insert("validationAction".into(), json!(a));
    }
    if let Some(cap) = &o.capped {
        let mut cm = Map::new();
        cm.insert("size".into(), json!(cap.size));
        if let Some(max) = cap.max {
            cm.insert("max".into(), json!(max));
        }
        m.insert("capped".into(), Value::Object(cm));
    }
    if let Some(t) = &o.timeseries {
        let mut tm = Map::new();
        tm.insert("timeField".into(), json!(t.time_field));
        if let Some(x) = &t.meta_field {
            tm.insert("metaField".into(), json!(x));
        }
        if let Some(x) = &t.granularity {
            tm.insert("granularity".into(), json!(x));
        }
        if let Some(x) = t.expire_after_seconds {
            tm.insert("expireAfterSeconds".into(), json!(x));
        }
        m.insert("timeseries".into(), Value::Object(tm));
    }
    if let Some(c) = &o.collation {
        m.insert("collation".into(), collation_to_spec(c));
    }
    if o.clustered {
        m.insert("clusteredIndex".into(), json!(true));
    }
    if o.change_stream_pre_and_post_images {
        m.insert("changeStreamPreAndPostImages".into(), json!(true));
    }
    Value::Object(m)
}

/// A view's manifest entry: its source, its pipeline in relaxed Extended JSON (what the
/// spec reads back to the same BSON, numbers compared by value) and its collation.
pub fn view_to_spec(v: &crate::model::ViewState) -> Value {
    let mut m = Map::new();
    m.insert("viewOn".into(), json!(v.view_on));
    m.insert(
        "pipeline".into(),
        Value::Array(v.pipeline.iter().map(doc_to_json).collect()),
    );
    if let Some(c) = &v.collation {
        m.insert("collation".into(), collation_to_spec(c));
    }
    Value::Object(m)
}

/// A collation as the spec declares it: the server's `version` is left out.
fn collation_to_spec(c: &Document) -> Value {
    let mut c = c.clone();
    c.remove("version");
    doc_to_json(&c)
}

/// A live index in spec form: text indexes back to `{field: "text"}` keys, server defaults
/// and versions left out, the name only when it is not the derived one, the collation only
/// when it is not the collection's.
pub fn index_to_spec(idx: &IndexDef, coll_collation: Option<&Document>) -> Value {
    let mut options = idx.options.clone();
    let mut key = Document::new();
    for (k, v) in &idx.key {
        match (k.as_str(), v) {
            ("_fts", _) => {
                if let Ok(w) = idx.options.get_document("weights") {
                    for f in w.keys() {
                        key.insert(f.clone(), "text");
                    }
                }
            }
            ("_ftsx", _) => {}
            (_, Bson::String(_)) => {
                key.insert(k.clone(), v.clone());
            }
            _ => {
                let n = as_i64(v).unwrap_or(1);
                key.insert(k.clone(), Bson::Int32(n as i32));
            }
        }
    }
    if idx.key.contains_key("_fts") {
        if options
            .get_document("weights")
            .is_ok_and(|w| w.values().all(|x| as_i64(x) == Some(1)))
        {
            options.remove("weights");
        }
        if options.get_str("default_language") == Ok("english") {
            options.remove("default_language");
        }
        if options.get_str("language_override") == Ok("language") {
            options.remove("language_override");
        }
    }
    options.remove("2dsphereIndexVersion");
    for flag in ["unique", "sparse", "hidden"] {
        if options.get(flag).is_some_and(|v| v.as_bool() != Some(true)) {
            options.remove(flag);
        }
    }
    match (
        options.get_document("collation").ok().cloned(),
        coll_collation,
    ) {
        (Some(c), Some(cc))
            if bson_eq(
                &Bson::Document(c.clone()),
                &Bson::Document(cc.clone()),
                false,
            ) =>
        {
            options.remove("collation");
        }
        (Some(mut c), _) => {
            c.remove("version");
            options.insert("collation", c);
        }
        // The collection has a collation but this index was built with the simple one.
        (None, Some(_)) => {
            options.insert("collation", doc! {"locale": "simple"});
        }
        (None, None) => {}
    }
    let mut m = Map::new();
    if idx.name != derived_index_name(&key) {
        m.insert("name".into(), json!(idx.name));
    }
    m.insert("key".into(), doc_to_json(&key));
    if let Value::Object(o) = doc_to_json(&options) {
        m.extend(o);
    }
    Value::Object(m)
}

/// Files among `files` that already exist under `root`.
pub fn existing(root: &Path, files: &[ExportFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| root.join(&f.path).exists())
        .map(|f| f.path.clone())
        .collect()
}

/// Writes pretty-printed JSON files, creating folders; refuses, before writing any, a path
/// that would leave `root`.
pub fn write_files(root: &Path, files: &[ExportFile]) -> Result<()> {
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|f| inside(root, &f.path, "workspace file"))
        .collect::<Result<_>>()?;
    for (f, p) in files.iter().zip(paths) {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut text = serde_json::to_string_pretty(&f.json)?;
        text.push('\n');
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_spec_files_are_told_apart() {
        for ok in [
            "orders",
            "with space",
            "données",
            "%41",
            "a.b",
            "x..",
            &"l".repeat(250),
        ] {
            assert_eq!(spec_file_problem(ok), None, "{ok}");
        }
        for bad in [
            "a/b",
            "/abs/victim",
            "..",
            ".hidden",
            "a\\b",
            &"l".repeat(251),
        ] {
            assert!(spec_file_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn write_files_refuses_paths_that_leave_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        let f = |p: &str| ExportFile {
            path: PathBuf::from(p),
            json: json!({}),
            draft: false,
        };
        for bad in ["schemas/d/../../../escaped.json", "/tmp/abs.json"] {
            let e = write_files(&root, &[f("mongoctl.json"), f(bad)]).unwrap_err();
            assert!(e.to_string().contains("would leave"), "{e}");
            // Nothing at all was written, the good file included.
            assert!(!root.exists(), "{bad}");
        }
        assert!(!dir.path().join("escaped.json").exists());
    }

    #[test]
    fn domain_names_are_identifiers() {
        assert_eq!(domain_name("reminderdb_auth", Some("reminderdb_")), "auth");
        assert_eq!(domain_name("Shop-Orders", None), "shop_orders");
        assert_eq!(domain_name("2024data", None), "db_2024data");
        assert_eq!(domain_name("app", Some("app")), "app");
    }

    #[test]
    fn text_indexes_go_back_to_spec_form() {
        let live = IndexDef {
            name: "title_text_body_text".into(),
            key: doc! {"tenant": 1, "_fts": "text", "_ftsx": 1},
            options: doc! {"weights": {"body": 1, "title": 10}, "default_language": "english", "language_override": "language"},
        };
        let v = index_to_spec(&live, None);
        assert_eq!(
            v["key"],
            json!({"tenant": 1, "body": "text", "title": "text"})
        );
        assert_eq!(v["weights"], json!({"body": 1, "title": 10}));
        assert_eq!(v["name"], json!("title_text_body_text"));
        assert!(v.get("default_language").is_none());
    }

    #[test]
    fn inherited_collation_and_defaults_are_left_out() {
        let cc = doc! {"locale": "en", "strength": 2, "version": "57.1"};
        let live = IndexDef {
            name: "name_1".into(),
            key: doc! {"name": 1i64},
            options: doc! {"collation": cc.clone(), "unique": true, "sparse": false},
        };
        assert_eq!(
            index_to_spec(&live, Some(&cc)),
            json!({"key": {"name": 1}, "unique": true})
        );
        let other = IndexDef {
            name: "n".into(),
            key: doc! {"name": 1},
            options: doc! {},
        };
        assert_eq!(
            index_to_spec(&other, Some(&cc)),
            json!({"name": "n", "key": {"name": 1}, "collation": {"locale": "simple"}})
        );
    }
}
