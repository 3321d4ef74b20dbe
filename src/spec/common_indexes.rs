//! Common indexes (`"commonIndexes"` in the manifest, for the whole workspace or for a domain):
//! declared once and added to every collection of their scope whose schema declares the
//! index's key fields, unless the collection opts out (`"commonIndexes": false` or
//! `{"except": [names]}`). The expansion happens at load time, so plan, apply, verify, stats
//! and the fleet see a common index exactly like one written in the collection's index file.

use bson::{Bson, Document};
use serde_json::Value;

use super::Workspace;
use super::fields::{Reader, json_kind};
use super::indexes::read_common;
use crate::jsonpath::JsonPath;
use crate::model::IndexDef;

/// A collection's opt-out of the common indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum CommonOptOut {
    #[default]
    None,
    /// `"commonIndexes": false`.
    All,
    /// `"commonIndexes": {"except": ["created_at_1"]}`: these by name.
    Except(Vec<String>),
}

/// Reads the manifest's `commonIndexes` (`r` reads `mongoctl.json`, already checked by
/// `manifest::read`) and adds them to `ws.indexes`, reporting conflicts against the manifest.
pub fn expand(ws: &mut Workspace, r: &mut Reader) {
    let manifest = r.src.value.clone();
    let root = JsonPath::root();
    let workspace_wide = manifest
        .get("commonIndexes")
        .map(|v| read_common(r, &root.key("commonIndexes"), v))
        .unwrap_or_default();
    for d in &ws.manifest.domains {
        let dp = root.key("domains").key(d.name.as_str());
        let dv = manifest.get("domains").and_then(|m| m.get(&d.name));
        let own = dv
            .and_then(|v| v.get("commonIndexes"))
            .map(|v| read_common(r, &dp.key("commonIndexes"), v))
            .unwrap_or_default();
        for (p, idx) in &own {
            if workspace_wide.iter().any(|(_, w)| w.name == idx.name) {
                r.error(
                    p.clone(),
                    format!(
                        "the workspace's commonIndexes already declare an index named \"{}\"",
                        idx.name
                    ),
                );
            }
        }
        let commons: Vec<&(JsonPath, IndexDef)> = workspace_wide.iter().chain(&own).collect();
        if commons.is_empty() {
            continue;
        }
        for c in &d.collections {
            let cp = dp.key("collections").key(c.name.as_str());
            let cv = dv
                .and_then(|v| v.get("collections"))
                .and_then(|m| m.get(&c.name));
            let opt_out = cv.map_or(CommonOptOut::None, |v| read_opt_out(r, &cp, v));
            let except: &[String] = match &opt_out {
                CommonOptOut::All => continue,
                CommonOptOut::None => &[],
                CommonOptOut::Except(names) => names,
            };
            for (i, name) in except.iter().enumerate() {
                if !commons.iter().any(|(_, x)| &x.name == name) {
                    r.warn(
                        cp.key("commonIndexes").key("except").index(i),
                        format!(
                            "no common index of domain \"{}\" is named \"{name}\"",
                            d.name
                        ),
                    );
                }
            }
            let key = (d.name.clone(), c.name.clone());
            let Some(schema) = ws.schemas.get(&key) else {
                continue;
            };
            for (p, common) in &commons {
                if except.contains(&common.name)
                    || !common.key.keys().all(|f| declares(&schema.json, f))
                {
                    continue;
                }
                let list = ws.indexes.entry(key.clone()).or_default();
                if list.iter().any(|own| serves(own, common)) {
                    continue;
                }
                if let Some(own) = list.iter().find(|own| own.name == common.name) {
                    r.error(
                        p.clone(),
                        format!(
                            "{}.{} declares its own index named \"{}\" with key {}: rename one \
                             of them, or opt the collection out with \"commonIndexes\": \
                             {{\"except\": [\"{}\"]}}",
                            d.name, c.name, own.name, own.key, common.name
                        ),
                    );
                    continue;
                }
                list.push(common.clone());
            }
        }
    }
}

/// A collection's `"commonIndexes"`: `false` or `{"except": [index names]}`.
fn read_opt_out(r: &mut Reader, p: &JsonPath, v: &Value) -> CommonOptOut {
    let Some(x) = v.get("commonIndexes") else {
        return CommonOptOut::None;
    };
    let p = p.key("commonIndexes");
    match x {
        Value::Bool(false) => CommonOptOut::All,
        Value::Object(_) => {
            let Some(m) = r.object(&p, x, &["except"], "a common-index opt-out") else {
                return CommonOptOut::None;
            };
            let Some(list) = r.required(&p, m, "except", "a common-index opt-out") else {
                return CommonOptOut::None;
            };
            let ep = p.key("except");
            match list.as_array() {
                Some(items) => CommonOptOut::Except(
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, n)| r.string(&ep.index(i), n))
                        .collect(),
                ),
                None => {
                    r.error(ep, "expected an array of common index names");
                    CommonOptOut::None
                }
            }
        }
        _ => {
            r.error(
                p,
                format!(
                    "expected false (no common indexes) or {{\"except\": [names]}}, found {}",
                    json_kind(x)
                ),
            );
            CommonOptOut::None
        }
    }
}

/// Whether `schema` (a `$jsonSchema`) declares the dotted field `path` through `properties`.
pub fn declares(schema: &Value, path: &str) -> bool {
    let mut at = schema;
    for part in path.split('.') {
        match at.get("properties").and_then(|p| p.get(part)) {
            Some(next) => at = next,
            None => return false,
        }
    }
    true
}

/// Whether the collection's own index `own` already does the common index's job, so that
/// adding it would only make a redundant index: the same key and options, or — for a plain
/// common index (no options) — an ascending/descending key that starts with the common
/// index's fields in the same or the wholly reversed directions (the server walks an index
/// both ways).
fn serves(own: &IndexDef, common: &IndexDef) -> bool {
    if own.key == common.key && own.options == common.options {
        return true;
    }
    if !common.options.is_empty() || !plain(&own.key) || !plain(&common.key) {
        return false;
    }
    if own.options.contains_key("partialFilterExpression") || own.options.contains_key("sparse") {
        return false;
    }
    let pairs: Vec<(i64, i64)> = common
        .key
        .iter()
        .zip(own.key.iter())
        .take_while(|((cf, _), (of, _))| cf == of)
        .map(|((_, cd), (_, od))| (direction(cd), direction(od)))
        .collect();
    pairs.len() == common.key.len()
        && (pairs.iter().all(|(c, o)| c == o) || pairs.iter().all(|(c, o)| c == &-o))
}

fn plain(key: &Document) -> bool {
    key.values().all(|v| matches!(direction(v), 1 | -1))
}

fn direction(v: &Bson) -> i64 {
    match v {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(f) if f.fract() == 0.0 => *f as i64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use serde_json::json;

    fn idx(key: Document, options: Document) -> IndexDef {
        IndexDef {
            name: crate::model::derived_index_name(&key),
            key,
            options,
        }
    }

    #[test]
    fn a_schema_declares_nested_fields_through_properties() {
        let s = json!({"properties": {"created_at": {}, "meta": {"properties": {"at": {}}}}});
        assert!(declares(&s, "created_at"));
        assert!(declares(&s, "meta.at"));
        assert!(!declares(&s, "meta.by"));
        assert!(!declares(&s, "updated_at"));
    }

    #[test]
    fn an_index_that_starts_with_the_fields_serves_a_plain_common_index() {
        let common = idx(doc! {"created_at": 1}, doc! {});
        assert!(serves(&idx(doc! {"created_at": 1}, doc! {}), &common));
        assert!(serves(&idx(doc! {"created_at": -1}, doc! {}), &common));
        assert!(serves(
            &idx(doc! {"created_at": -1, "status": 1}, doc! {}),
            &common
        ));
        assert!(!serves(
            &idx(doc! {"status": 1, "created_at": 1}, doc! {}),
            &common
        ));
        assert!(!serves(
            &idx(
                doc! {"created_at": 1},
                doc! {"partialFilterExpression": {"a": 1}}
            ),
            &common
        ));
        assert!(!serves(
            &idx(doc! {"created_at": "hashed"}, doc! {}),
            &common
        ));
        let pair = idx(doc! {"a": 1, "b": -1}, doc! {});
        assert!(serves(&idx(doc! {"a": -1, "b": 1, "c": 1}, doc! {}), &pair));
        assert!(!serves(&idx(doc! {"a": 1, "b": 1}, doc! {}), &pair));
        // A common index with options (a TTL) needs its exact twin.
        let ttl = idx(doc! {"created_at": 1}, doc! {"expireAfterSeconds": 60});
        assert!(!serves(&idx(doc! {"created_at": 1}, doc! {}), &ttl));
        assert!(serves(&ttl.clone(), &ttl));
    }
}
