//! `seeds/<domain>/<collection>.json`: reference documents (Extended JSON v2) and the natural
//! key used to upsert them; with `"ownsCollection": true`, the whole content of the collection.

use std::collections::HashMap;

use bson::{Bson, Document};
use serde_json::Value;

use super::fields::{Reader, json_kind};
use crate::jsonpath::JsonPath;
use crate::jsonschema::CompiledSchema;
use crate::model::{MAX_BSON_OBJECT_SIZE, SeedSet, bson_size, eq_key};

pub fn read(r: &mut Reader, v: &Value, schema: Option<&CompiledSchema>) -> Option<SeedSet> {
    let root = JsonPath::root();
    let top = r.object(
        &root,
        v,
        &["key", "documents", "ownsCollection"],
        "a seed file",
    )?;
    let key_v = r.required(&root, top, "key", "a seed file");
    let docs_v = r.required(&root, top, "documents", "a seed file");
    // A wrong type is reported and read as false, so the documents are still checked.
    let owns_collection = top
        .get("ownsCollection")
        .and_then(|o| r.boolean(&root.key("ownsCollection"), o))
        .unwrap_or(false);
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
        owns_collection,
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bson::doc;

    use super::*;
    use crate::spec::diag::Diagnostic;
    use crate::spec::source::SourceFile;

    fn read_text(
        text: &str,
        schema: Option<&CompiledSchema>,
    ) -> (Option<SeedSet>, Vec<Diagnostic>) {
        let (src, mut diags) = SourceFile::parse(Path::new("seeds/s/c.json"), text.into()).unwrap();
        let set = read(&mut Reader::new(&src, &mut diags), &src.value, schema);
        (set, diags)
    }

    fn messages(diags: &[Diagnostic]) -> Vec<String> {
        diags
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn documents_are_read_as_extended_json() {
        let (set, diags) = read_text(
            r#"{"key": ["code"], "documents": [
                {"code": "eur", "rate": {"$numberDecimal": "1.10"}, "n": {"$numberLong": "7"},
                 "since": {"$date": "2024-01-02T00:00:00Z"}, "plain": 3}]}"#,
            None,
        );
        assert!(diags.is_empty(), "{diags:?}");
        let set = set.unwrap();
        assert_eq!(set.key, ["code"]);
        let d = &set.documents[0];
        assert_eq!(d.get("n"), Some(&Bson::Int64(7)));
        assert!(matches!(d.get("rate"), Some(Bson::Decimal128(_))));
        assert_eq!(
            d.get_datetime("since").unwrap().timestamp_millis(),
            1_704_153_600_000
        );
        assert_eq!(d.get("plain"), Some(&Bson::Int32(3)));
        let fields: Vec<_> = d.keys().map(String::as_str).collect();
        assert_eq!(fields, ["code", "rate", "n", "since", "plain"]);
    }

    #[test]
    fn duplicate_natural_key_is_reported_at_the_second() {
        let (set, diags) = read_text(
            r#"{"key": ["a", "b.c"], "documents": [
                {"a": 1, "b": {"c": "x"}}, {"a": 1, "b": {"c": "y"}}, {"a": 1, "b": {"c": "x"}}]}"#,
            None,
        );
        assert_eq!(
            messages(&diags),
            [r#"documents[2]: natural key [1,"x"] is also used by documents[0]"#]
        );
        // Reported, but kept: check fails on the error, the reader stays total.
        assert_eq!(set.unwrap().documents.len(), 3);
    }

    #[test]
    fn missing_natural_key_fields_are_named() {
        let (_, diags) = read_text(
            r#"{"key": ["a", "b"], "documents": [{"a": 1}, {"c": 1}]}"#,
            None,
        );
        assert_eq!(
            messages(&diags),
            [
                r#"documents[0]: missing natural key field "b""#,
                r#"documents[1]: missing natural key field "a", "b""#,
            ]
        );
    }

    #[test]
    fn duplicate_id_under_another_key_points_at_the_first() {
        let (_, diags) = read_text(
            "{\"key\": [\"code\"], \"documents\": [\n  {\"_id\": 1, \"code\": \"a\"},\n  {\"_id\": 1.0, \"code\": \"b\"}\n]}",
            None,
        );
        assert_eq!(
            messages(&diags),
            [
                "documents[1]._id: _id 1.0 is also used by documents[0] (line 2, column 3); mongod allows one document per _id"
            ]
        );
        // With _id as the natural key, the natural-key check reports it once.
        let (_, diags) = read_text(
            r#"{"key": ["_id"], "documents": [{"_id": 1}, {"_id": 1}]}"#,
            None,
        );
        assert_eq!(
            messages(&diags),
            ["documents[1]: natural key [1] is also used by documents[0]"]
        );
    }

    #[test]
    fn file_shape_errors() {
        let (set, diags) = read_text(r#"{"key": [], "documents": []}"#, None);
        assert!(set.is_none());
        assert_eq!(
            messages(&diags),
            ["key: expected a non-empty array of field names, found an array"]
        );
        let (set, diags) = read_text(r#"{"key": "code", "documents": []}"#, None);
        assert!(set.is_none());
        assert_eq!(
            messages(&diags),
            [r#"key: expected a non-empty array of field names, found "code""#]
        );
        let (set, diags) = read_text(r#"{"key": ["a"], "documents": {}}"#, None);
        assert!(set.is_none());
        assert_eq!(
            messages(&diags),
            ["documents: expected an array of documents, found an object"]
        );
        let (set, diags) = read_text(r#"{"key": ["a"], "documents": [{"a": 1}, 5]}"#, None);
        assert_eq!(
            messages(&diags),
            ["documents[1]: expected a document, found a number"]
        );
        assert_eq!(set.unwrap().documents, [doc! {"a": 1}]);
        let (_, diags) = read_text(r#"{"key": ["a"], "document": []}"#, None);
        assert_eq!(
            messages(&diags),
            [
                r#"document: unknown field "document" in a seed file; did you mean "documents"?"#,
                r#"$: missing required field "documents" in a seed file"#,
            ]
        );
    }

    #[test]
    fn owns_collection_is_an_optional_boolean() {
        let (set, diags) = read_text(r#"{"key": ["a"], "documents": []}"#, None);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(!set.unwrap().owns_collection);
        let (set, diags) = read_text(
            r#"{"key": ["a"], "ownsCollection": true, "documents": [{"a": 1}]}"#,
            None,
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert!(set.unwrap().owns_collection);
        let (set, diags) = read_text(
            r#"{"key": ["a"], "ownsCollection": "yes", "documents": [{"b": 1}]}"#,
            None,
        );
        assert!(!set.unwrap().owns_collection);
        assert_eq!(
            messages(&diags),
            [
                r#"ownsCollection: expected true or false, found a string"#,
                r#"documents[0]: missing natural key field "a""#,
            ]
        );
        let (src, mut diags) = SourceFile::parse(
            Path::new("seeds/s/c.json"),
            "{\"key\": [\"a\"],\n \"ownCollection\": true, \"documents\": []}".into(),
        )
        .unwrap();
        read(&mut Reader::new(&src, &mut diags), &src.value, None);
        assert_eq!(
            messages(&diags),
            [
                r#"ownCollection: unknown field "ownCollection" in a seed file; did you mean "ownsCollection"?"#
            ]
        );
        assert_eq!((diags[0].line, diags[0].column), (2, 2));
    }

    #[test]
    fn invalid_extended_json_is_reported() {
        let (set, diags) = read_text(
            r#"{"key": ["a"], "documents": [{"a": {"$numberLong": "x"}}]}"#,
            None,
        );
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].path.to_string(), "documents[0]");
        assert!(
            diags[0].message.starts_with("invalid Extended JSON: "),
            "{}",
            diags[0].message
        );
        assert!(set.unwrap().documents.is_empty());
    }

    #[test]
    fn documents_are_checked_against_the_schema() {
        let schema = CompiledSchema::compile(
            &serde_json::json!({"bsonType": "object", "required": ["name"]}),
        )
        .unwrap();
        let (_, diags) = read_text(
            r#"{"key": ["a"], "documents": [{"a": 1, "name": "ok"}, {"a": 2}]}"#,
            Some(&schema),
        );
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].path.to_string().starts_with("documents[1]"));
        assert!(
            diags[0]
                .message
                .starts_with("does not satisfy the collection's $jsonSchema: "),
            "{}",
            diags[0].message
        );
    }
}
