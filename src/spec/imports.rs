//! `imports/<name>.json`: declared mappings of PostgreSQL tables into the workspace's
//! collections. Linted offline (shape, target collections, conversions the target
//! `$jsonSchema` contradicts) so `check` refuses a bad mapping with `file:line:column`; the
//! source tables and columns are checked later against the live catalog (`import::catalog`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bson::Bson;
use serde_json::{Map, Value};

use super::fields::Reader;
use super::manifest::Manifest;
use super::source::SourceFile;
use super::{CollKey, Diagnostic, SchemaFile, file_diag};
use crate::import::model::{
    CONVERSIONS, Collision, Conversion, Embed, FieldMap, FieldSource, Import, Relation, Source,
    TargetCollection,
};
use crate::import::schema_path::{allowed_types, schema_at};
use crate::jsonpath::JsonPath;

pub const DIR: &str = "imports";

/// Reads every import file; problems go to `diags`.
pub fn load(
    root: &Path,
    m: &Manifest,
    schemas: &BTreeMap<CollKey, SchemaFile>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Import> {
    let mut out = Vec::new();
    for (name, rel) in super::migrations::dir_files(root, DIR, "<name>.json", diags) {
        let Some(stem) = name.strip_suffix(".json") else {
            diags.push(file_diag(
                rel,
                format!("unexpected file: {DIR}/ holds <name>.json mapping files"),
            ));
            continue;
        };
        let src = match SourceFile::read(root, &rel) {
            Ok((src, d)) => {
                diags.extend(d);
                Arc::new(src)
            }
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let before = diags.iter().filter(|d| d.is_error()).count();
        let imp = read(&mut Reader::new(&src, diags), m, schemas, stem, &src);
        if diags.iter().filter(|d| d.is_error()).count() == before
            && let Some(i) = imp
        {
            out.push(i);
        }
    }
    out
}

fn read(
    r: &mut Reader,
    m: &Manifest,
    schemas: &BTreeMap<CollKey, SchemaFile>,
    name: &str,
    src: &Arc<SourceFile>,
) -> Option<Import> {
    let root = JsonPath::root();
    let top = r.object(
        &root,
        &src.value,
        &["description", "domain", "collections"],
        "an import file",
    )?;
    let description = match top.get("description") {
        Some(v) => r.string(&root.key("description"), v).unwrap_or_default(),
        None => String::new(),
    };
    let domain_v = r_required(r, &root, top, "domain")?;
    let domain = r.string(&root.key("domain"), domain_v)?;
    let Some(decl) = m.domain(&domain) else {
        r.error(
            root.key("domain"),
            format!("\"{domain}\" is not a domain declared in mongoctl.json"),
        );
        return None;
    };
    let cp = root.key("collections");
    let colls_v = r_required(r, &root, top, "collections")?;
    let colls = any_keys(
        r,
        &cp,
        colls_v,
        "an object of target collections (name → mapping)",
    )?;
    // Every key is a collection name: report undeclared ones, not "unknown field".
    let mut collections = Vec::new();
    for (coll, v) in colls {
        let p = cp.key(coll.as_str());
        if decl.collection(coll).is_none() {
            let hint =
                super::fields::did_you_mean(coll, decl.collections.iter().map(|c| c.name.as_str()))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
            r.error(
                p,
                format!("collection \"{coll}\" is not declared in domain \"{domain}\" of mongoctl.json{hint}"),
            );
            continue;
        }
        let schema = schemas
            .get(&(domain.clone(), coll.clone()))
            .map(|s| (&s.json, s.rel.to_string_lossy().replace('\\', "/")));
        if let Some(t) = read_collection(
            r,
            &p,
            coll,
            v,
            schema.as_ref().map(|(j, f)| (*j, f.as_str())),
        ) {
            collections.push(t);
        }
    }
    if collections.is_empty() && !colls.is_empty() {
        return None;
    }
    if colls.is_empty() {
        r.error(cp, "expected at least one target collection");
        return None;
    }
    Some(Import {
        name: name.to_string(),
        domain,
        description,
        collections,
        src: src.clone(),
    })
}

/// An object whose keys are names the file chooses (collections, fields).
fn any_keys<'v>(
    r: &mut Reader,
    p: &JsonPath,
    v: &'v Value,
    what: &str,
) -> Option<&'v Map<String, Value>> {
    match v.as_object() {
        Some(m) => Some(m),
        None => {
            r.error(
                p.clone(),
                format!("expected {what}, found {}", super::fields::json_kind(v)),
            );
            None
        }
    }
}

fn r_required<'v>(
    r: &mut Reader,
    p: &JsonPath,
    map: &'v Map<String, Value>,
    key: &str,
) -> Option<&'v Value> {
    r.required(p, map, key, "an import file")
}

type SchemaRef<'a> = Option<(&'a Value, &'a str)>;

fn read_collection(
    r: &mut Reader,
    p: &JsonPath,
    coll: &str,
    v: &Value,
    schema: SchemaRef,
) -> Option<TargetCollection> {
    let map = r.object(
        p,
        v,
        &["key", "onKeyCollision", "checksum", "sources"],
        "a target collection",
    )?;
    let key = map
        .get("key")
        .or_else(|| {
            r.error(p.clone(), "missing required field \"key\" in a target collection (the document field that identifies a document)");
            None
        })
        .and_then(|v| r.string(&p.key("key"), v))?;
    let on_collision = match map.get("onKeyCollision") {
        None => Collision::Reject,
        Some(v) => match r
            .choice(&p.key("onKeyCollision"), v, &["reject", "keepFirst"])?
            .as_str()
        {
            "keepFirst" => Collision::KeepFirst,
            _ => Collision::Reject,
        },
    };
    let sp = p.key("sources");
    let items = match map.get("sources") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            r.error(
                sp,
                "expected a non-empty array of sources (each a PostgreSQL table or query)",
            );
            return None;
        }
    };
    let mut sources = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(s) = read_source(r, &sp.index(i), item, schema) {
            sources.push(s);
        }
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in sources.iter().enumerate() {
        if let Some(first) = names.insert(&s.name, i) {
            r.error(
                s.path.key("name"),
                format!(
                    "source name \"{}\" is already used by sources[{first}]",
                    s.name
                ),
            );
        }
    }
    if sources.len() > 1 {
        for s in &sources {
            if s.stamp_filter().is_empty() {
                r.error(
                    s.path.clone(),
                    format!("several sources feed \"{coll}\": give each a trackOrigin, a migratedFrom or a string constant that tells its documents apart (verify counts them by it)"),
                );
            }
        }
    }
    for s in &sources {
        if !s.fields.iter().any(|f| f.target == key) {
            r.error(
                s.path.key("fields"),
                format!("no field maps the collection's key \"{key}\""),
            );
        }
    }
    let checksum = match map.get("checksum") {
        None => {
            let mut all: Vec<String> = Vec::new();
            for s in &sources {
                for t in s
                    .fields
                    .iter()
                    .map(|f| &f.target)
                    .chain(s.embeds.iter().map(|e| &e.target))
                {
                    if !all.contains(t) {
                        all.push(t.clone());
                    }
                }
            }
            all
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| r.string(&p.key("checksum").index(i), v))
            .collect(),
        Some(_) => {
            r.error(p.key("checksum"), "expected an array of document fields");
            vec![]
        }
    };
    if sources.len() != items.len() {
        return None;
    }
    Some(TargetCollection {
        collection: coll.to_string(),
        key,
        on_collision,
        checksum,
        sources,
        path: p.clone(),
    })
}

fn read_source(r: &mut Reader, p: &JsonPath, v: &Value, schema: SchemaRef) -> Option<Source> {
    let map = r.object(
        p,
        v,
        &[
            "name",
            "table",
            "query",
            "key",
            "skip",
            "trackOrigin",
            "migratedFrom",
            "fields",
            "embed",
        ],
        "a source",
    )?;
    let mut req = |k: &str| {
        let v = map.get(k);
        if v.is_none() {
            r.error(
                p.clone(),
                format!("missing required field \"{k}\" in a source"),
            );
        }
        v
    };
    let name_v = req("name");
    let key_v = req("key");
    let fields_v = req("fields");
    let name = r.string(&p.key("name"), name_v?)?;
    let key = r.string(&p.key("key"), key_v?)?;
    let from = match (map.get("table"), map.get("query")) {
        (Some(t), None) => Relation::Table(r.string(&p.key("table"), t)?),
        (None, Some(q)) => Relation::Query(r.string(&p.key("query"), q)?),
        _ => {
            r.error(
                p.clone(),
                "a source names exactly one of \"table\" (schema.table) or \"query\" (a SELECT)",
            );
            return None;
        }
    };
    let opt_string = |r: &mut Reader, k: &str| map.get(k).and_then(|v| r.string(&p.key(k), v));
    let skip = opt_string(r, "skip");
    let track_origin = opt_string(r, "trackOrigin");
    let migrated_from = opt_string(r, "migratedFrom");
    if track_origin.is_some() {
        check_stamp(
            r,
            &p.key("trackOrigin"),
            "trackOrigin",
            &Bson::String(String::new()),
            schema,
        );
    }
    if migrated_from.is_some() {
        check_stamp(
            r,
            &p.key("migratedFrom"),
            "migratedFrom",
            &Bson::Document(Default::default()),
            schema,
        );
    }
    let fields = read_fields(r, &p.key("fields"), fields_v?, "", schema);
    let mut embeds = Vec::new();
    if let Some(ev) = map.get("embed") {
        let ep = p.key("embed");
        if let Some(emap) = any_keys(
            r,
            &ep,
            ev,
            "an object of embedded child tables (target field → child table)",
        ) {
            for (target, v) in emap {
                if let Some(e) = read_embed(r, &ep.key(target.as_str()), target, v, &key, schema) {
                    embeds.push(e);
                }
            }
        }
    }
    Some(Source {
        name,
        from,
        key,
        skip,
        track_origin,
        migrated_from,
        fields,
        embeds,
        path: p.clone(),
    })
}

fn check_stamp(r: &mut Reader, p: &JsonPath, field: &str, sample: &Bson, schema: SchemaRef) {
    let Some((json, file)) = schema else { return };
    check_target(
        r,
        p,
        &[field],
        crate::jsonschema::bson_type(sample),
        json,
        file,
    );
}

fn read_embed(
    r: &mut Reader,
    p: &JsonPath,
    target: &str,
    v: &Value,
    parent_key: &str,
    schema: SchemaRef,
) -> Option<Embed> {
    let map = r.object(
        p,
        v,
        &[
            "table",
            "foreignKey",
            "references",
            "orderBy",
            "descending",
            "limit",
            "as",
            "fields",
        ],
        "an embedded child table",
    )?;
    let mut get = |k: &str| {
        let v = map.get(k);
        if v.is_none() {
            r.error(
                p.clone(),
                format!("missing required field \"{k}\" in an embedded child table"),
            );
        }
        v
    };
    let table_v = get("table");
    let fk_v = get("foreignKey");
    let fields_v = get("fields");
    let table = r.string(&p.key("table"), table_v?)?;
    let foreign_key = r.string(&p.key("foreignKey"), fk_v?)?;
    let references = match map.get("references") {
        Some(v) => r.string(&p.key("references"), v)?,
        None => parent_key.to_string(),
    };
    let order_by = match map.get("orderBy") {
        None => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| r.string(&p.key("orderBy").index(i), v))
            .collect(),
        Some(_) => {
            r.error(p.key("orderBy"), "expected a column or an array of columns");
            vec![]
        }
    };
    let descending = match map.get("descending") {
        Some(v) => r.boolean(&p.key("descending"), v).unwrap_or(false),
        None => false,
    };
    let limit = map
        .get("limit")
        .and_then(|v| r.integer(&p.key("limit"), v, 1))
        .map(|n| n as u64);
    let as_array = match map.get("as") {
        None => true,
        Some(v) => r.choice(&p.key("as"), v, &["array", "document"])? == "array",
    };
    let wrapper = if as_array { "array" } else { "object" };
    if let Some((json, file)) = schema {
        check_target(r, &p.key("as"), &split(target), wrapper, json, file);
    }
    // Children's fields live under the target (inside its items when it is an array).
    let prefix = if as_array {
        format!("{target}.$")
    } else {
        target.to_string()
    };
    let fields = read_fields(r, &p.key("fields"), fields_v?, &prefix, schema);
    Some(Embed {
        target: target.to_string(),
        table,
        foreign_key,
        references,
        order_by,
        descending,
        limit,
        as_array,
        fields,
        path: p.clone(),
    })
}

fn split(path: &str) -> Vec<&str> {
    path.split('.').collect()
}

fn read_fields(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    prefix: &str,
    schema: SchemaRef,
) -> Vec<FieldMap> {
    let Some(map) = any_keys(
        r,
        p,
        v,
        "an object of fields (target field → column or mapping)",
    ) else {
        return vec![];
    };
    let mut out = Vec::new();
    for (target, fv) in map {
        let fp = p.key(target.as_str());
        if target.is_empty()
            || target
                .split('.')
                .any(|s| s.is_empty() || s.starts_with('$'))
        {
            r.error(fp, format!("\"{target}\" is not a document field path (dotted names, none empty or starting with '$')"));
            continue;
        }
        let full = if prefix.is_empty() {
            target.clone()
        } else {
            format!("{prefix}.{target}")
        };
        let value = match fv {
            Value::String(c) => FieldSource::Column {
                column: c.clone(),
                to: None,
            },
            Value::Object(o) => {
                let Some(m) = r.object(&fp, fv, &["column", "as", "value"], "a field mapping")
                else {
                    continue;
                };
                match (m.get("column"), m.get("value")) {
                    (Some(c), None) => {
                        let Some(column) = r.string(&fp.key("column"), c) else {
                            continue;
                        };
                        let to = match o.get("as") {
                            None => None,
                            Some(a) => match r.choice(&fp.key("as"), a, CONVERSIONS) {
                                Some(s) => Conversion::parse(&s),
                                None => continue,
                            },
                        };
                        if let (Some(conv), Some((json, file))) = (to, schema) {
                            check_target(
                                r,
                                &fp.key("as"),
                                &split(&full),
                                conv.bson_type(),
                                json,
                                file,
                            );
                        }
                        FieldSource::Column { column, to }
                    }
                    (None, Some(val)) => {
                        if m.contains_key("as") {
                            r.error(fp.key("as"), "\"as\" converts a column; a constant \"value\" is written as it is (Extended JSON)");
                            continue;
                        }
                        let Ok(b) = Bson::try_from(val.clone()) else {
                            r.error(fp.key("value"), "not valid Extended JSON");
                            continue;
                        };
                        if let Some((json, file)) = schema {
                            check_target(
                                r,
                                &fp.key("value"),
                                &split(&full),
                                crate::jsonschema::bson_type(&b),
                                json,
                                file,
                            );
                        }
                        FieldSource::Constant(b)
                    }
                    _ => {
                        r.error(
                            fp,
                            "a field mapping names exactly one of \"column\" or \"value\"",
                        );
                        continue;
                    }
                }
            }
            other => {
                r.error(fp, format!("expected a column name or {{\"column\", \"as\"}} / {{\"value\"}}, found {}", super::fields::json_kind(other)));
                continue;
            }
        };
        out.push(FieldMap {
            target: target.clone(),
            value,
            path: fp,
        });
    }
    out
}

/// Reports a field whose produced BSON type the target schema does not allow there.
fn check_target(
    r: &mut Reader,
    p: &JsonPath,
    segments: &[&str],
    produced: &str,
    schema: &Value,
    file: &str,
) {
    match schema_at(schema, segments) {
        Err(parent) => r.error(
            p.clone(),
            format!(
                "{file} allows no field \"{}\" here (additionalProperties is false at {parent})",
                segments.join(".").replace(".$", "[]")
            ),
        ),
        Ok(Some(node)) => {
            if let Some(types) = allowed_types(node)
                && !types.iter().any(|t| t == produced)
            {
                r.error(
                    p.clone(),
                    format!(
                        "this produces BSON {produced}, but {file} declares \"{}\" as {}",
                        segments.join(".").replace(".$", "[]"),
                        types.join(" or ")
                    ),
                );
            }
        }
        Ok(None) => {}
    }
}
