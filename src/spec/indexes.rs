//! `indexes/<domain>/<collection>.json`: index declarations, checked for what MongoDB would
//! refuse (or silently misread) before anything is sent.

use bson::{Bson, Document};
use serde_json::Value;

use super::fields::{Reader, json_kind};
use super::manifest::read_collation;
use crate::jsonpath::JsonPath;
use crate::model::{INDEX_FIELDS, IndexDef, derived_index_name};

const SPECIAL_TYPES: &[&str] = &["text", "2dsphere", "2d", "hashed"];

pub fn read(r: &mut Reader, v: &Value) -> Vec<IndexDef> {
    let root = JsonPath::root();
    let Some(top) = r.object(&root, v, &["indexes"], "an index file") else {
        return vec![];
    };
    let Some(list) = r.required(&root, top, "indexes", "an index file") else {
        return vec![];
    };
    let lp = root.key("indexes");
    let Some(items) = list.as_array() else {
        r.error(
            lp,
            format!("expected an array of indexes, found {}", json_kind(list)),
        );
        return vec![];
    };
    let mut out: Vec<(JsonPath, IndexDef)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = lp.index(i);
        if let Some(def) = read_index(r, &p, item) {
            out.push((p, def));
        }
    }
    check_set(r, &out);
    out.into_iter().map(|(_, d)| d).collect()
}

/// A `"commonIndexes"` array of the manifest (the workspace's or a domain's): index
/// declarations as in an index file, each with its path.
pub fn read_common(r: &mut Reader, p: &JsonPath, v: &Value) -> Vec<(JsonPath, IndexDef)> {
    let Some(items) = v.as_array() else {
        r.error(
            p.clone(),
            format!("expected an array of indexes, found {}", json_kind(v)),
        );
        return vec![];
    };
    let out: Vec<(JsonPath, IndexDef)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let ip = p.index(i);
            read_index(r, &ip, item).map(|d| (ip, d))
        })
        .collect();
    check_set(r, &out);
    out
}

fn read_index(r: &mut Reader, p: &JsonPath, v: &Value) -> Option<IndexDef> {
    let map = r.object(p, v, INDEX_FIELDS, "an index")?;
    let key_v = r.required(p, map, "key", "an index")?;
    let kp = p.key("key");
    let Some(key_map) = key_v.as_object() else {
        r.error(
            kp,
            format!(
                "expected an object such as {{\"field\": 1}}, found {}",
                json_kind(key_v)
            ),
        );
        return None;
    };
    if key_map.is_empty() {
        r.error(kp, "an index key needs at least one field");
        return None;
    }
    let mut kinds = Vec::new();
    for (field, dir) in key_map {
        let fp = kp.key(field.as_str());
        if field.is_empty()
            || field.starts_with('.')
            || field.ends_with('.')
            || field.contains("..")
        {
            r.error(fp.clone(), format!("\"{field}\" is not a valid field path"));
        }
        match dir {
            Value::Number(n) if n.as_f64().is_some_and(|f| f == 1.0 || f == -1.0) => {
                kinds.push("asc")
            }
            Value::String(s) if SPECIAL_TYPES.contains(&s.as_str()) => kinds.push(
                SPECIAL_TYPES
                    .iter()
                    .find(|t| **t == s)
                    .copied()
                    .unwrap_or("asc"),
            ),
            other => {
                r.error(fp, format!("index direction must be 1, -1, \"text\", \"2dsphere\", \"2d\" or \"hashed\", found {}", super::fields::describe(other)));
                return None;
            }
        }
    }
    let key = match Bson::try_from(key_v.clone()) {
        Ok(Bson::Document(d)) => d,
        _ => return None,
    };
    let fields: Vec<&str> = key_map.keys().map(String::as_str).collect();
    let is_wildcard = fields.iter().any(|f| *f == "$**" || f.ends_with(".$**"));
    let has = |t: &str| kinds.contains(&t);

    if fields == ["_id"] && map.get("name").is_none_or(|n| n == "_id_") {
        r.error(
            kp.clone(),
            "the _id index exists on every collection; do not declare it",
        );
    }
    if kinds.iter().filter(|k| **k == "hashed").count() > 1 {
        r.error(kp.clone(), "an index may have only one hashed field");
    }

    let mut options = Document::new();
    let mut name = None;
    for (opt, val) in map {
        let op = p.key(opt.as_str());
        let ok = match opt.as_str() {
            "key" => continue,
            "name" => {
                name = r.string(&op, val);
                if name.as_deref() == Some("") {
                    r.error(op, "an index name must not be empty");
                    name = None;
                }
                continue;
            }
            "unique" => {
                let u = r.boolean(&op, val);
                if u == Some(true) && has("hashed") {
                    r.error(op.clone(), "a hashed index cannot be unique");
                }
                if u == Some(true) && is_wildcard {
                    r.error(op.clone(), "a wildcard index cannot be unique");
                }
                u.is_some()
            }
            "sparse" | "hidden" => r.boolean(&op, val).is_some(),
            "partialFilterExpression" => {
                if map.get("sparse") == Some(&Value::Bool(true)) {
                    r.error(op.clone(), "partialFilterExpression and sparse cannot be combined; MongoDB rejects the index");
                }
                if !val.is_object() {
                    r.error(
                        op.clone(),
                        format!("expected a filter document, found {}", json_kind(val)),
                    );
                    false
                } else {
                    true
                }
            }
            "expireAfterSeconds" => {
                let n = r.integer(&op, val, 0);
                if fields.len() > 1 {
                    r.error(op.clone(), "a TTL index (expireAfterSeconds) must have a single field; MongoDB ignores TTL on compound indexes");
                } else if fields == ["_id"] {
                    r.error(op.clone(), "TTL is not supported on the _id field");
                } else if !has("asc") {
                    r.error(
                        op.clone(),
                        "a TTL index must be an ascending or descending index on a date field",
                    );
                }
                if n.is_some_and(|n| n > i32::MAX as i64) {
                    r.error(
                        op.clone(),
                        "expireAfterSeconds must fit in 32 bits (at most 2147483647)",
                    );
                }
                n.is_some()
            }
            "collation" => read_collation(r, &op, val).is_some(),
            "weights" | "default_language" | "language_override" => {
                if !has("text") {
                    r.error(
                        op.clone(),
                        format!("\"{opt}\" applies only to text indexes"),
                    );
                }
                if opt == "weights" {
                    match val.as_object() {
                        Some(w) => {
                            for (f, n) in w {
                                if !n.as_i64().is_some_and(|n| (1..100000).contains(&n)) {
                                    r.error(
                                        op.key(f.as_str()),
                                        "a text weight must be a whole number from 1 to 99999",
                                    );
                                }
                            }
                            true
                        }
                        None => {
                            r.error(op.clone(), "expected an object of field weights");
                            false
                        }
                    }
                } else {
                    r.string(&op, val).is_some()
                }
            }
            "wildcardProjection" => {
                if fields != ["$**"] {
                    r.error(
                        op.clone(),
                        "wildcardProjection applies only to an index on {\"$**\": 1}",
                    );
                }
                val.is_object()
            }
            "2dsphereIndexVersion" => {
                if !has("2dsphere") {
                    r.error(
                        op.clone(),
                        "2dsphereIndexVersion applies only to 2dsphere indexes",
                    );
                }
                r.integer(&op, val, 1).is_some()
            }
            "bits" | "min" | "max" => {
                if !has("2d") {
                    r.error(op.clone(), format!("\"{opt}\" applies only to 2d indexes"));
                }
                val.is_number()
            }
            _ => false,
        };
        if ok && let Ok(b) = Bson::try_from(val.clone()) {
            options.insert(opt.clone(), b);
        }
    }
    let name = name.unwrap_or_else(|| derived_index_name(&key));
    if name.len() > 127 {
        r.warn(
            p.clone(),
            format!("index name \"{name}\" is long; give it a shorter \"name\""),
        );
    }
    Some(IndexDef { name, key, options })
}

/// Checks across the indexes of one collection.
fn check_set(r: &mut Reader, defs: &[(JsonPath, IndexDef)]) {
    for (i, (p, d)) in defs.iter().enumerate() {
        for (q, e) in &defs[..i] {
            if d.name == e.name {
                r.error(
                    p.clone(),
                    format!("index name \"{}\" is also used at {q}", d.name),
                );
            } else if d.key == e.key
                && d.options.get("collation") == e.options.get("collation")
                && d.options.get("partialFilterExpression")
                    == e.options.get("partialFilterExpression")
            {
                r.error(
                    p.clone(),
                    format!(
                        "same key as the index at {q}; MongoDB allows one index per key pattern"
                    ),
                );
            }
        }
    }
    let text: Vec<_> = defs
        .iter()
        .filter(|(_, d)| d.key.values().any(|v| v.as_str() == Some("text")))
        .collect();
    if text.len() > 1 {
        r.error(
            text[1].0.clone(),
            "a collection can have only one text index; combine the fields into one",
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bson::doc;

    use super::*;
    use crate::spec::diag::Diagnostic;
    use crate::spec::source::SourceFile;

    fn read_text(text: &str) -> (Vec<IndexDef>, Vec<Diagnostic>) {
        let (src, mut diags) =
            SourceFile::parse(Path::new("indexes/s/c.json"), text.into()).unwrap();
        let defs = read(&mut Reader::new(&src, &mut diags), &src.value);
        (defs, diags)
    }

    /// `path: message` of each diagnostic for a file holding just these indexes.
    fn diags_of(indexes: &str) -> Vec<String> {
        read_text(&format!(r#"{{"indexes": {indexes}}}"#))
            .1
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn key_order_is_kept_and_names_derived() {
        let (defs, diags) = read_text(
            r#"{"indexes": [{"key": {"b": 1, "a": -1}}, {"key": {"z": "text"}, "name": "search"}]}"#,
        );
        assert!(diags.is_empty(), "{diags:?}");
        let fields: Vec<_> = defs[0].key.keys().map(String::as_str).collect();
        assert_eq!(fields, ["b", "a"]);
        assert_eq!(defs[0].name, "b_1_a_-1");
        assert_eq!(defs[1].name, "search");
        assert_eq!(defs[1].key, doc! {"z": "text"});
    }

    #[test]
    fn valid_options_are_kept() {
        let (defs, diags) = read_text(
            r#"{"indexes": [{"key": {"email": 1}, "unique": true, "sparse": false, "hidden": true,
                             "collation": {"locale": "en", "strength": 2}},
                            {"key": {"at": 1}, "expireAfterSeconds": 3600,
                             "partialFilterExpression": {"archived": true}}]}"#,
        );
        assert!(diags.is_empty(), "{diags:?}");
        let o = &defs[0].options;
        assert_eq!(o.get_bool("unique"), Ok(true));
        assert_eq!(o.get_bool("sparse"), Ok(false));
        assert_eq!(o.get_bool("hidden"), Ok(true));
        assert_eq!(
            o.get_document("collation").unwrap(),
            &doc! {"locale": "en", "strength": 2}
        );
        assert!(!o.contains_key("key") && !o.contains_key("name"));
        let o = &defs[1].options;
        assert_eq!(o.get("expireAfterSeconds"), Some(&Bson::Int32(3600)));
        assert_eq!(
            o.get_document("partialFilterExpression").unwrap(),
            &doc! {"archived": true}
        );
    }

    #[test]
    fn unknown_option_is_reported_and_dropped() {
        let (defs, diags) = read_text(r#"{"indexes": [{"key": {"a": 1}, "uniqe": true}]}"#);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].path.to_string(), "indexes[0].uniqe");
        assert_eq!(
            diags[0].message,
            "unknown field \"uniqe\" in an index; did you mean \"unique\"?"
        );
        assert!(defs[0].options.is_empty());
    }

    #[test]
    fn duplicate_name_and_duplicate_key_are_reported_at_the_second() {
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1}, "name": "x"}, {"key": {"b": 1}, "name": "x"}]"#),
            [r#"indexes[1]: index name "x" is also used at indexes[0]"#]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1}}, {"key": {"a": 1}, "name": "other"}]"#),
            [
                "indexes[1]: same key as the index at indexes[0]; MongoDB allows one index per key pattern"
            ]
        );
        // The same key with a different partial filter is a different index.
        assert!(
            diags_of(
                r#"[{"key": {"a": 1}}, {"key": {"a": 1}, "name": "p", "partialFilterExpression": {"b": 1}}]"#
            )
            .is_empty()
        );
    }

    #[test]
    fn key_shape_errors() {
        assert_eq!(
            diags_of(r#"[{"key": {"a": 2}}]"#),
            [
                r#"indexes[0].key.a: index direction must be 1, -1, "text", "2dsphere", "2d" or "hashed", found 2"#
            ]
        );
        assert_eq!(
            diags_of(r#"[{"key": {}}]"#),
            ["indexes[0].key: an index key needs at least one field"]
        );
        assert_eq!(
            diags_of(r#"[{"key": [1]}]"#),
            [r#"indexes[0].key: expected an object such as {"field": 1}, found an array"#]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a..b": 1}}]"#),
            [r#"indexes[0].key["a..b"]: "a..b" is not a valid field path"#]
        );
        assert_eq!(
            diags_of(r#"[{"name": "x"}]"#),
            [r#"indexes[0]: missing required field "key" in an index"#]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"_id": 1}}]"#),
            ["indexes[0].key: the _id index exists on every collection; do not declare it"]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": "hashed", "b": "hashed"}}]"#),
            ["indexes[0].key: an index may have only one hashed field"]
        );
    }

    #[test]
    fn option_combinations_mongodb_refuses() {
        assert_eq!(
            diags_of(r#"[{"key": {"a": "hashed"}, "unique": true}]"#),
            ["indexes[0].unique: a hashed index cannot be unique"]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"$**": 1}, "unique": true}]"#),
            ["indexes[0].unique: a wildcard index cannot be unique"]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1, "b": 1}, "expireAfterSeconds": 60}]"#),
            [
                "indexes[0].expireAfterSeconds: a TTL index (expireAfterSeconds) must have a single field; MongoDB ignores TTL on compound indexes"
            ]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1}, "expireAfterSeconds": 2147483648}]"#),
            [
                "indexes[0].expireAfterSeconds: expireAfterSeconds must fit in 32 bits (at most 2147483647)"
            ]
        );
        assert!(diags_of(r#"[{"key": {"a": 1}, "expireAfterSeconds": 2147483647}]"#).is_empty());
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1}, "sparse": true, "partialFilterExpression": {"a": 1}}]"#),
            [
                "indexes[0].partialFilterExpression: partialFilterExpression and sparse cannot be combined; MongoDB rejects the index"
            ]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1}, "weights": {"a": 2}}]"#),
            [r#"indexes[0].weights: "weights" applies only to text indexes"#]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": "text"}, "weights": {"a": 100000}}]"#),
            ["indexes[0].weights.a: a text weight must be a whole number from 1 to 99999"]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a.$**": 1}, "wildcardProjection": {"b": 1}}]"#),
            [
                r#"indexes[0].wildcardProjection: wildcardProjection applies only to an index on {"$**": 1}"#
            ]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1}, "bits": 26}]"#),
            [r#"indexes[0].bits: "bits" applies only to 2d indexes"#]
        );
        assert_eq!(
            diags_of(r#"[{"key": {"a": 1}, "name": ""}]"#),
            ["indexes[0].name: an index name must not be empty"]
        );
    }

    #[test]
    fn one_text_index_per_collection() {
        assert_eq!(
            diags_of(r#"[{"key": {"a": "text"}}, {"key": {"b": "text"}}]"#),
            ["indexes[1]: a collection can have only one text index; combine the fields into one"]
        );
    }

    #[test]
    fn long_derived_name_is_a_warning() {
        let field = "f".repeat(130);
        let (defs, diags) = read_text(&format!(r#"{{"indexes": [{{"key": {{"{field}": 1}}}}]}}"#));
        assert_eq!(defs.len(), 1);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].warning);
        assert!(diags[0].message.contains("give it a shorter \"name\""));
    }

    #[test]
    fn file_shape_errors() {
        let (defs, diags) = read_text(r#"{"indexes": {}}"#);
        assert!(defs.is_empty());
        assert_eq!(
            diags[0].message,
            "expected an array of indexes, found an object"
        );
        let (_, diags) = read_text("{}");
        assert_eq!(
            diags[0].message,
            "missing required field \"indexes\" in an index file"
        );
    }
}
