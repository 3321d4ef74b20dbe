//! `seeds/<domain>/<collection>.json`: reference documents (Extended JSON v2) and the natural
//! key used to upsert them.

use std::collections::HashMap;

use bson::{Bson, Document};
use serde_json::Value;

use super::fields::{Reader, json_kind};
use crate::jsonpath::JsonPath;
use crate::jsonschema::CompiledSchema;
use crate::model::{MAX_BSON_OBJECT_SIZE, SeedSet, bson_size, eq_key};

pub fn read(r: &mut Reader, v: &Value, schema: Option<&CompiledSchema>) -> Option<SeedSet> {
    let root = JsonPath::root();
    let top = r.object(&root, v, &["key", "documents"], "a seed file")?;
    let key_v = r.required(&root, top, "key", "a seed file");
    let docs_v = r.required(&root, top, "documents", "a seed file");
    let kp = root.key("key");
    let key: Vec<String> = match key_v {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .filter_map(|(i, k)| r.string(&kp.index(i), k))
            .collect(),
        Some(other) => {
            r.error(
                kp,
                format!(
                    "expected a non-empty array of field names, found {}",
                    super::fields::describe(other)
                ),
            );
            return None;
        }
        None => return None,
    };
    let dp = root.key("documents");
    let items = match docs_v? {
        Value::Array(items) => items,
        other => {
            r.error(
                dp,
                format!("expected an array of documents, found {}", json_kind(other)),
            );
            return None;
        }
    };
    let set = SeedSet {
        key,
        documents: Vec::new(),
    };
    let mut documents = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = dp.index(i);
        if !item.is_object() {
            r.error(p, format!("expected a document, found {}", json_kind(item)));
            continue;
        }
        let doc: Document = match Bson::try_from(item.clone()) {
            Ok(Bson::Document(d)) => d,
            Ok(_) => continue,
            Err(e) => {
                r.error(p, format!("invalid Extended JSON: {e}"));
                continue;
            }
        };
        let size = bson_size(&doc);
        if size > MAX_BSON_OBJECT_SIZE {
            r.error(
                p.clone(),
                format!(
                    "document is {size} bytes as BSON, more than the {MAX_BSON_OBJECT_SIZE} bytes (16 MiB) mongod accepts"
                ),
            );
        }
        // Whatever the natural key, two seeds with one _id would fail apply's insert midway.
        if let Some(id) = doc.get("_id").filter(|_| set.key != ["_id"]) {
            let id_key = eq_key(id, true);
            match seen_ids.get(&id_key) {
                Some(&first) => {
                    let (line, column) = r.src.locate(&dp.index(first));
                    r.error(
                        p.key("_id"),
                        format!(
                            "_id {} is also used by documents[{first}] (line {line}, column {column}); mongod allows one document per _id",
                            Bson::into_relaxed_extjson(id.clone())
                        ),
                    );
                }
                None => {
                    seen_ids.insert(id_key, i);
                }
            }
        }
        match set.key_of(&doc) {
            None => {
                let missing: Vec<_> = set
                    .key
                    .iter()
                    .filter(|k| crate::model::get_path(&doc, k).is_none())
                    .collect();
                r.error(
                    p.clone(),
                    format!(
                        "missing natural key field {}",
                        missing
                            .iter()
                            .map(|k| format!("\"{k}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            Some(k) => {
                let rendered = Bson::Array(k).into_relaxed_extjson().to_string();
                if let Some(first) = seen.insert(rendered.clone(), i) {
                    r.error(
                        p.clone(),
                        format!("natural key {rendered} is also used by documents[{first}]"),
                    );
                }
            }
        }
        if let Some(schema) = schema {
            for v in schema.validate(&doc) {
                let mut path = p.clone();
                path.0.extend(v.path.0.iter().cloned());
                r.error(
                    path,
                    format!(
                        "does not satisfy the collection's $jsonSchema: {}",
                        v.message
                    ),
                );
            }
        }
        documents.push(doc);
    }
    Some(SeedSet { documents, ..set })
}
