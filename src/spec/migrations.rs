//! `migrations/NNNN_name.json`: ordered files of declarative data-migration steps. Read and
//! linted offline (operators, shapes, the collections each step names) so that a bad file is
//! refused with `file:line:column` before `migrate up` writes anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bson::{Bson, Document, doc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::fields::Reader;
use super::manifest::Manifest;
use super::mql;
use super::source::SourceFile;
use super::{Diagnostic, MANIFEST_FILE, file_diag, json_to_doc};
use crate::jsonpath::JsonPath;
use crate::migrate::model::{CollRef, Migration, Step, StepKind, UpdateSpec, UpdateStep};

pub const DIR: &str = "migrations";

const OPS: &[&str] = &[
    "renameField",
    "unsetField",
    "setField",
    "convertType",
    "update",
    "copyCollection",
    "moveCollection",
    "dropCollection",
];
const CONVERT_TYPES: &[&str] = &[
    "double", "string", "objectId", "bool", "date", "int", "long", "decimal",
];

/// Reads every migration file, in order; problems go to `diags`.
pub fn load(root: &Path, m: &Manifest, diags: &mut Vec<Diagnostic>) -> Vec<Migration> {
    let mut sources = Vec::new();
    let mut numbers: BTreeMap<u64, PathBuf> = BTreeMap::new();
    for (name, rel) in files(root, diags) {
        let Some((number, id)) = parse_name(&name) else {
            diags.push(file_diag(
                rel,
                "a migration file is named NNNN_name.json (a number, an underscore, then letters, digits, '_' or '-')".into(),
            ));
            continue;
        };
        if let Some(first) = numbers.get(&number) {
            diags.push(file_diag(
                rel.clone(),
                format!("migration number {number} is already used by {}; every migration needs its own number", first.display()),
            ));
            continue;
        }
        numbers.insert(number, rel.clone());
        match SourceFile::read(root, &rel) {
            Ok((src, d)) => {
                diags.extend(d);
                sources.push((number, id, src));
            }
            Err(d) => diags.push(d),
        }
    }
    sources.sort_by_key(|(n, _, _)| *n);
    let retired = retired_collections(sources.iter().map(|(_, _, s)| &s.value));
    let mut out = Vec::new();
    for (number, name, src) in &sources {
        let mut r = Reader::new(src, diags);
        if let Some(mig) = read(&mut r, m, &retired, *number, name) {
            out.push(mig);
        }
    }
    out
}

/// `0001_rename` → (1, "0001_rename")
pub fn parse_name(file_name: &str) -> Option<(u64, String)> {
    let stem = file_name.strip_suffix(".json")?;
    let (digits, rest) = stem.split_once('_')?;
    let ok = !digits.is_empty()
        && digits.len() <= 12
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then(|| (digits.parse().ok(), stem.to_string()))
        .and_then(|(n, s)| Some((n?, s)))
}

fn files(root: &Path, diags: &mut Vec<Diagnostic>) -> Vec<(String, PathBuf)> {
    dir_files(root, DIR, "NNNN_name.json", diags)
}

/// The files of the workspace folder `dir` (sorted; hidden files and `.md` skipped), a
/// sub-folder reported as not belonging there (`dir/ holds {holds} files`).
pub(super) fn dir_files(
    root: &Path,
    dir: &str,
    holds: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
        return vec![];
    };
    let mut out = Vec::new();
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        let rel = Path::new(dir).join(&name);
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            diags.push(file_diag(
                rel,
                format!("unexpected folder: {dir}/ holds {holds} files"),
            ));
            continue;
        }
        out.push((name, rel));
    }
    out.sort();
    out
}

/// Collections that some migration moves away or drops: steps may name them although the
/// manifest no longer declares them (the manifest describes the state after the migrations).
fn retired_collections<'a>(files: impl Iterator<Item = &'a Value>) -> BTreeSet<CollRef> {
    let mut out = BTreeSet::new();
    for v in files {
        let Some(steps) = v.get("steps").and_then(Value::as_array) else {
            continue;
        };
        for s in steps {
            let coll = match s.get("op").and_then(Value::as_str) {
                Some("moveCollection") => s.get("from"),
                Some("dropCollection") => Some(s),
                _ => None,
            };
            if let Some(c) = coll
                && let (Some(d), Some(n)) = (
                    c.get("domain").and_then(Value::as_str),
                    c.get("collection").and_then(Value::as_str),
                )
            {
                out.insert(CollRef {
                    domain: d.into(),
                    collection: n.into(),
                });
            }
        }
    }
    out
}

fn read(
    r: &mut Reader,
    m: &Manifest,
    retired: &BTreeSet<CollRef>,
    number: u64,
    id: &str,
) -> Option<Migration> {
    let root = JsonPath::root();
    let src = r.src;
    let top = r.object(
        &root,
        &src.value,
        &["description", "steps"],
        "a migration file",
    )?;
    let description = match top.get("description") {
        Some(v) => r.string(&root.key("description"), v).unwrap_or_default(),
        None => String::new(),
    };
    let sp = root.key("steps");
    let steps_v = r.required(&root, top, "steps", "a migration file")?;
    let Some(items) = steps_v.as_array().filter(|a| !a.is_empty()) else {
        r.error(sp, "expected a non-empty array of steps");
        return None;
    };
    let before = r.diags.iter().filter(|d| d.is_error()).count();
    let mut steps = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(s) = read_step(r, m, retired, &sp.index(i), item) {
            steps.push(s);
        }
    }
    if r.diags.iter().filter(|d| d.is_error()).count() > before {
        return None;
    }
    Some(Migration {
        id: id.to_string(),
        number,
        file: r.src.rel.to_string_lossy().replace('\\', "/"),
        description,
        checksum: checksum(steps_v),
        steps,
    })
}

/// SHA-256 of the steps as compact JSON (key order kept: it matters in MQL).
pub fn checksum(steps: &Value) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_string(steps).unwrap_or_default(),
    ))
}

/// Where a step's collection stands against the manifest.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// Read or rewritten in place.
    Data,
    /// The target of a copy or move: apply manages it afterwards, so it must be declared.
    Target,
    /// The source of a move: retired by the migrations (a later step or `--drop-source`
    /// drops it).
    MoveSource,
    /// A dropped collection.
    Dropped,
}

fn read_step(
    r: &mut Reader,
    m: &Manifest,
    retired: &BTreeSet<CollRef>,
    p: &JsonPath,
    v: &Value,
) -> Option<Step> {
    let Some(map) = v.as_object() else {
        r.error(p.clone(), "expected a step (an object with \"op\")");
        return None;
    };
    let op = r.choice(&p.key("op"), map.get("op").unwrap_or(&Value::Null), OPS)?;
    let allowed: &[&str] = match op.as_str() {
        "renameField" => &["op", "domain", "collection", "from", "to", "filter"],
        "unsetField" => &["op", "domain", "collection", "fields", "filter"],
        "setField" => &[
            "op",
            "domain",
            "collection",
            "field",
            "value",
            "filter",
            "ifMissing",
        ],
        "convertType" => &[
            "op",
            "domain",
            "collection",
            "field",
            "to",
            "onError",
            "onNull",
            "filter",
        ],
        "update" => &["op", "domain", "collection", "filter", "update"],
        "copyCollection" | "moveCollection" => &["op", "from", "to"],
        _ => &["op", "domain", "collection"],
    };
    let what = format!("a {op} step");
    r.object(p, v, allowed, &what)?;
    let kind = match op.as_str() {
        "copyCollection" | "moveCollection" => {
            let is_move = op == "moveCollection";
            let from = coll_ref(
                r,
                m,
                retired,
                &p.key("from"),
                map.get("from"),
                if is_move {
                    Role::MoveSource
                } else {
                    Role::Data
                },
                true,
            );
            let to = coll_ref(
                r,
                m,
                retired,
                &p.key("to"),
                map.get("to"),
                Role::Target,
                true,
            );
            if map.get("from").is_none() || map.get("to").is_none() {
                r.error(
                    p.clone(),
                    format!("{what} needs \"from\" and \"to\" ({{\"domain\", \"collection\"}})"),
                );
            }
            let (from, to) = (from?, to?);
            if from == to {
                r.error(p.key("to"), "a collection cannot be copied onto itself");
                return None;
            }
            StepKind::Copy { from, to, is_move }
        }
        "dropCollection" => StepKind::Drop {
            coll: coll_ref(r, m, retired, p, Some(v), Role::Dropped, false)?,
        },
        _ => StepKind::Update(read_update(r, m, retired, p, map, &op, &what)?),
    };
    Some(Step { op, kind })
}

fn coll_ref(
    r: &mut Reader,
    m: &Manifest,
    retired: &BTreeSet<CollRef>,
    p: &JsonPath,
    v: Option<&Value>,
    role: Role,
    // A `{domain, collection}` object of its own (copy/move), rather than fields of the step.
    own_object: bool,
) -> Option<CollRef> {
    let v = v?;
    let Some(map) = v.as_object() else {
        r.error(p.clone(), "expected {\"domain\": …, \"collection\": …}");
        return None;
    };
    if own_object {
        r.object(p, v, &["domain", "collection"], "a collection reference")?;
    }
    let domain_v = r.required(p, map, "domain", "a step");
    let collection_v = r.required(p, map, "collection", "a step");
    let domain = r.string(&p.key("domain"), domain_v?)?;
    let collection = r.string(&p.key("collection"), collection_v?)?;
    let Some(dom) = m.domain(&domain) else {
        let hint = super::fields::did_you_mean(&domain, m.domains.iter().map(|d| d.name.as_str()))
            .map(|s| format!("; did you mean \"{s}\"?"))
            .unwrap_or_default();
        r.error(
            p.key("domain"),
            format!("\"{domain}\" is not a domain declared in {MANIFEST_FILE}{hint}"),
        );
        return None;
    };
    let c = CollRef { domain, collection };
    let declared = dom.collection(&c.collection).is_some();
    match role {
        _ if c.collection.is_empty()
            || c.collection.contains('$')
            || c.collection.starts_with("system.") =>
        {
            r.error(
                p.key("collection"),
                format!(
                    "\"{}\" is not a collection name mongoctl manages",
                    c.collection
                ),
            );
            return None;
        }
        Role::Target if !declared => {
            r.error(p.key("collection"), format!("\"{}\" is not declared in domain \"{}\" of {MANIFEST_FILE}: declare the target so that apply manages it after the copy", c.collection, c.domain));
            return None;
        }
        Role::Data if !declared && !retired.contains(&c) => {
            r.error(p.key("collection"), format!("\"{}\" is not declared in domain \"{}\" of {MANIFEST_FILE}, and no migration moves or drops it", c.collection, c.domain));
            return None;
        }
        Role::Dropped if declared => {
            r.error(p.key("collection"), format!("\"{}\" is still declared in domain \"{}\" of {MANIFEST_FILE}: apply would create it again after the drop; remove it from the manifest", c.collection, c.domain));
            return None;
        }
        Role::MoveSource if declared => {
            r.warn(p.key("collection"), format!("\"{}\" is moved away but still declared in domain \"{}\": apply keeps managing (and re-creates) the source", c.collection, c.domain));
        }
        _ => {}
    }
    Some(c)
}

fn field_name(r: &mut Reader, p: &JsonPath, v: Option<&Value>, what: &str) -> Option<String> {
    let Some(v) = v else {
        r.error(
            p.parent().unwrap_or_default(),
            format!(
                "missing required field \"{}\" in {what}",
                p.last_key().unwrap_or_default()
            ),
        );
        return None;
    };
    let s = r.string(p, v)?;
    if s.is_empty() || s.starts_with('$') || s.split('.').any(str::is_empty) {
        r.error(
            p.clone(),
            format!("\"{s}\" is not a field path (a.b.c, not starting with $)"),
        );
        return None;
    }
    Some(s)
}

fn read_filter(r: &mut Reader, p: &JsonPath, v: Option<&Value>) -> Option<Document> {
    let Some(v) = v else {
        return Some(Document::new());
    };
    let mut problems = Vec::new();
    mql::check_filter(v, &JsonPath::root(), &mut problems);
    report(r, p, problems)?;
    match json_to_doc(v) {
        Some(d) => Some(d),
        None => {
            r.error(p.clone(), "not valid Extended JSON");
            None
        }
    }
}

fn report(r: &mut Reader, base: &JsonPath, problems: Vec<mql::Problem>) -> Option<()> {
    let ok = problems.is_empty();
    for (sub, msg) in problems {
        r.error(base.join(&sub), msg);
    }
    ok.then_some(())
}

/// Filter ∧ extra, without nesting when the filter is empty.
fn and(filter: Document, extra: Document) -> Document {
    if filter.is_empty() {
        extra
    } else {
        doc! {"$and": [filter, extra]}
    }
}

fn read_update(
    r: &mut Reader,
    m: &Manifest,
    retired: &BTreeSet<CollRef>,
    p: &JsonPath,
    map: &Map<String, Value>,
    op: &str,
    what: &str,
) -> Option<UpdateStep> {
    let coll = coll_ref(
        r,
        m,
        retired,
        p,
        Some(&Value::Object(map.clone())),
        Role::Data,
        false,
    );
    let filter = read_filter(r, &p.key("filter"), map.get("filter"));
    let (filter, update, inverse_rename, idempotent) = match op {
        "renameField" => {
            let from = field_name(r, &p.key("from"), map.get("from"), what);
            let to = field_name(r, &p.key("to"), map.get("to"), what);
            let (from, to) = (from?, to?);
            if from == to
                || to.starts_with(&format!("{from}."))
                || from.starts_with(&format!("{to}."))
            {
                r.error(
                    p.key("to"),
                    format!("cannot rename \"{from}\" to \"{to}\": the paths overlap"),
                );
                return None;
            }
            (
                and(filter?, doc! {&from: {"$exists": true}}),
                UpdateSpec::Operators(doc! {"$rename": {&from: &to}}),
                Some((from, to)),
                true,
            )
        }
        "unsetField" => {
            let fp = p.key("fields");
            let names: Vec<String> = match map.get("fields") {
                Some(Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .enumerate()
                    .filter_map(|(i, f)| field_name(r, &fp.index(i), Some(f), what))
                    .collect(),
                Some(_) => {
                    r.error(fp, "expected a non-empty array of field paths");
                    return None;
                }
                None => {
                    r.error(
                        p.clone(),
                        format!("missing required field \"fields\" in {what}"),
                    );
                    return None;
                }
            };
            let exists: Vec<Bson> = names
                .iter()
                .map(|f| Bson::Document(doc! {f: {"$exists": true}}))
                .collect();
            let mut unset = Document::new();
            for f in &names {
                unset.insert(f, "");
            }
            (
                and(filter?, doc! {"$or": exists}),
                UpdateSpec::Operators(doc! {"$unset": unset}),
                None,
                true,
            )
        }
        "setField" => {
            let field = field_name(r, &p.key("field"), map.get("field"), what)?;
            let Some(value) = map.get("value") else {
                r.error(
                    p.clone(),
                    format!("missing required field \"value\" in {what}"),
                );
                return None;
            };
            let value = match Bson::try_from(value.clone()) {
                Ok(b) => b,
                Err(e) => {
                    r.error(p.key("value"), format!("not valid Extended JSON: {e}"));
                    return None;
                }
            };
            let if_missing = match map.get("ifMissing") {
                Some(v) => r.boolean(&p.key("ifMissing"), v)?,
                None => false,
            };
            let guard = if if_missing {
                doc! {&field: {"$exists": false}}
            } else {
                // Documents that already hold the value are not touched (and not counted).
                doc! {&field: {"$ne": value.clone()}}
            };
            (
                and(filter?, guard),
                UpdateSpec::Operators(doc! {"$set": {&field: value}}),
                None,
                true,
            )
        }
        "convertType" => {
            let field = field_name(r, &p.key("field"), map.get("field"), what)?;
            let to = r.choice(
                &p.key("to"),
                map.get("to").unwrap_or(&Value::Null),
                CONVERT_TYPES,
            )?;
            let mut convert = doc! {"input": format!("${field}"), "to": &to};
            for (key, name) in [("onError", "onError"), ("onNull", "onNull")] {
                if let Some(v) = map.get(key) {
                    match Bson::try_from(v.clone()) {
                        Ok(b) => {
                            convert.insert(name, Bson::Document(doc! {"$literal": b}));
                        }
                        Err(e) => {
                            r.error(p.key(key), format!("not valid Extended JSON: {e}"));
                            return None;
                        }
                    }
                }
            }
            (
                and(
                    filter?,
                    doc! {&field: {"$exists": true, "$not": {"$type": &to}}},
                ),
                UpdateSpec::Pipeline(vec![doc! {"$set": {&field: {"$convert": convert}}}]),
                None,
                true,
            )
        }
        _ => {
            let up = p.key("update");
            let Some(u) = map.get("update") else {
                r.error(
                    p.clone(),
                    format!("missing required field \"update\" in {what}"),
                );
                return None;
            };
            if !map.contains_key("filter") {
                r.error(p.clone(), format!("missing required field \"filter\" in {what} (use {{}} to update every document)"));
                return None;
            }
            let mut problems = Vec::new();
            let spec = match u {
                Value::Array(items) => {
                    mql::check_update_pipeline(items, &JsonPath::root(), &mut problems);
                    report(r, &up, problems)?;
                    let stages: Option<Vec<Document>> = items.iter().map(json_to_doc).collect();
                    UpdateSpec::Pipeline(stages?)
                }
                other => {
                    mql::check_update_operators(other, &JsonPath::root(), &mut problems);
                    report(r, &up, problems)?;
                    UpdateSpec::Operators(json_to_doc(other)?)
                }
            };
            let idempotent = match &spec {
                UpdateSpec::Operators(d) => d.keys().all(|k| {
                    matches!(
                        k.as_str(),
                        "$set"
                            | "$unset"
                            | "$rename"
                            | "$min"
                            | "$max"
                            | "$addToSet"
                            | "$pull"
                            | "$pullAll"
                    )
                }),
                UpdateSpec::Pipeline(_) => false,
            };
            (filter?, spec, None, idempotent)
        }
    };
    Some(UpdateStep {
        coll: coll?,
        filter,
        update,
        inverse_rename,
        idempotent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{"project": "p", "domains": {
      "shared": {"database": "nile", "collections": {"keep": {}}},
      "auth": {"database": "nile_auth", "collections": {"users": {}}}}}"#;

    fn load_files(files: &[(&str, &str)]) -> (Vec<Migration>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), MANIFEST).unwrap();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(DIR).join(name), text).unwrap();
        }
        let loaded = super::super::load(dir.path());
        let msgs = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
        (
            loaded.workspace.map(|w| w.migrations).unwrap_or_default(),
            msgs,
        )
    }

    #[test]
    fn names_order_and_ids() {
        assert_eq!(
            parse_name("0001_rename.json"),
            Some((1, "0001_rename".into()))
        );
        assert_eq!(parse_name("12_a-b.json"), Some((12, "12_a-b".into())));
        for bad in [
            "rename.json",
            "0001.json",
            "0001_.json",
            "x1_a.json",
            "0001_a b.json",
            "0001_a.yaml",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_moved_collection_may_be_named_though_no_longer_declared() {
        let (migs, diags) = load_files(&[
            (
                "0002_move.json",
                r#"{"steps": [{"op": "moveCollection", "from": {"domain": "shared", "collection": "users"}, "to": {"domain": "auth", "collection": "users"}},
                                           {"op": "dropCollection", "domain": "shared", "collection": "users"}]}"#,
            ),
            (
                "0001_fix.json",
                r#"{"steps": [{"op": "renameField", "domain": "shared", "collection": "users", "from": "a", "to": "b"}]}"#,
            ),
        ]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            migs.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["0001_fix", "0002_move"]
        );
        let StepKind::Update(u) = &migs[0].steps[0].kind else {
            panic!()
        };
        assert_eq!(u.filter, doc! {"a": {"$exists": true}});
        assert_eq!(u.inverse_rename, Some(("a".into(), "b".into())));
    }

    #[test]
    fn targets_must_be_declared_and_dropped_collections_must_not_be() {
        let (_, diags) = load_files(&[(
            "0001_copy.json",
            r#"{"steps": [{"op": "copyCollection", "from": {"domain": "shared", "collection": "keep"}, "to": {"domain": "auth", "collection": "ghost"}},
                                           {"op": "dropCollection", "domain": "shared", "collection": "keep"},
                                           {"op": "setField", "domain": "nodomain", "collection": "x", "field": "a", "value": 1},
                                           {"op": "renameField", "domain": "auth", "collection": "users", "from": "a", "to": "a.b"}]}"#,
        )]);
        let all = diags.join("\n");
        assert!(
            all.contains("\"ghost\" is not declared in domain \"auth\""),
            "{all}"
        );
        assert!(all.contains("\"keep\" is still declared"), "{all}");
        assert!(all.contains("\"nodomain\" is not a domain"), "{all}");
        assert!(all.contains("the paths overlap"), "{all}");
    }

    #[test]
    fn the_checksum_ignores_whitespace_and_description_but_not_steps() {
        let a = r#"{"steps": [{"op": "setField", "domain": "auth", "collection": "users", "field": "a", "value": 1}]}"#;
        let b = "{\"description\": \"x\",\n \"steps\": [ {\"op\":\"setField\",\"domain\":\"auth\",\"collection\":\"users\",\"field\":\"a\",\"value\":1} ]}";
        let c = a.replace("\"value\": 1", "\"value\": 2");
        let sum = |t: &str| load_files(&[("0001_a.json", t)]).0[0].checksum.clone();
        assert_eq!(sum(a), sum(b));
        assert_ne!(sum(a), sum(&c));
    }
}
