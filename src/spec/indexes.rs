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
