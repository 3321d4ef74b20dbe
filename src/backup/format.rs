//! mongodump's `<coll>.metadata.json`: `{"options": {...}, "indexes": [...], "uuid": "<32 hex>",
//! "collectionName": "...", "type": "collection" | "view" | "timeseries"}` in canonical
//! Extended JSON v2, key order preserved (index keys are ordered).

use anyhow::{Context, Result, bail};
use bson::{Bson, Document};
use serde_json::{Map, Value};

/// A collection as it is dumped and restored.
#[derive(Debug, Clone)]
pub struct CollectionMeta {
    pub name: String,
    /// "collection", "view" or "timeseries"
    pub kind: String,
    pub options: Document,
    pub indexes: Vec<Document>,
    pub uuid: Option<String>,
}

impl CollectionMeta {
    /// From a `listCollections` entry and the collection's `listIndexes` result.
    pub fn from_list_entry(entry: &Document, indexes: Vec<Document>) -> Self {
        let uuid = entry
            .get_document("info")
            .ok()
            .and_then(|i| match i.get("uuid") {
                Some(Bson::Binary(b)) => Some(hex::encode(&b.bytes)),
                _ => None,
            });
        CollectionMeta {
            name: entry.get_str("name").unwrap_or_default().to_string(),
            kind: entry.get_str("type").unwrap_or("collection").to_string(),
            options: entry.get_document("options").cloned().unwrap_or_default(),
            indexes: indexes
                .into_iter()
                .map(|mut i| {
                    i.remove("ns");
                    i
                })
                .collect(),
            uuid,
        }
    }

    pub fn is_view(&self) -> bool {
        self.kind == "view"
    }

    pub fn is_timeseries(&self) -> bool {
        self.kind == "timeseries"
    }

    /// The metadata.json text.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        if !self.options.is_empty() {
            m.insert(
                "options".into(),
                Bson::Document(self.options.clone()).into_canonical_extjson(),
            );
        }
        m.insert(
            "indexes".into(),
            Value::Array(
                self.indexes
                    .iter()
                    .map(|i| Bson::Document(i.clone()).into_canonical_extjson())
                    .collect(),
            ),
        );
        if let Some(u) = &self.uuid {
            m.insert("uuid".into(), Value::String(u.clone()));
        }
        m.insert("collectionName".into(), Value::String(self.name.clone()));
        m.insert("type".into(), Value::String(self.kind.clone()));
        Value::Object(m).to_string()
    }

    /// Parses a metadata.json text and checks its shape (what mongorestore would otherwise
    /// find out midway): an object whose `options` is a document (`validator` a document,
    /// `viewOn` a string, `pipeline` an array of documents), whose `indexes` is an array of
    /// documents each with a non-empty `key` document and a `name` string, and whose
    /// `collectionName`, `type` and `uuid` are strings. Errors name the JSON path.
    /// `fallback_name` is used when it has no collectionName (older mongodump versions).
    pub fn from_json(text: &str, fallback_name: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).context("metadata is not JSON")?;
        let Value::Object(top) = &v else {
            bail!("expected a JSON object, found {}", json_kind(&v));
        };
        let doc = |path: &str, v: Option<&Value>| -> Result<Document> {
            match v {
                None | Some(Value::Null) => Ok(Document::new()),
                Some(v) => match Bson::try_from(v.clone())
                    .with_context(|| format!("{path}: invalid Extended JSON"))?
                {
                    Bson::Document(d) => Ok(d),
                    other => bail!("{path}: expected a document, found {}", bson_kind(&other)),
                },
            }
        };
        let string = |key: &str| -> Result<Option<&str>> {
            match top.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => bail!("{key}: expected a string, found {}", json_kind(other)),
            }
        };
        let options = doc("options", top.get("options"))?;
        check_options(&options)?;
        let mut indexes = Vec::new();
        match top.get("indexes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, x) in list.iter().enumerate() {
                    let path = format!("indexes[{i}]");
                    let d = doc(&path, Some(x))?;
                    check_index(&path, &d)?;
                    indexes.push(d);
                }
            }
            Some(other) => bail!("indexes: expected an array, found {}", json_kind(other)),
        }
        let kind = match string("type")?.filter(|s| !s.is_empty()) {
            Some(k @ ("collection" | "view" | "timeseries")) => k.to_string(),
            Some(k) => {
                bail!("type: expected \"collection\", \"view\" or \"timeseries\", found {k:?}")
            }
            None if options.contains_key("viewOn") => "view".into(),
            None if options.contains_key("timeseries") => "timeseries".into(),
            None => "collection".into(),
        };
        let uuid = string("uuid")?.map(str::to_string);
        Ok(CollectionMeta {
            name: string("collectionName")?
                .unwrap_or(fallback_name)
                .to_string(),
            kind,
            options,
            indexes,
            uuid,
        })
    }
}

/// The parts of the options whose type the server checks only when it is sent them.
fn check_options(o: &Document) -> Result<()> {
    let want = |key: &str, ok: bool, what: &str| -> Result<()> {
        match o.get(key) {
            Some(v) if !ok => bail!("options.{key}: expected {what}, found {}", bson_kind(v)),
            _ => Ok(()),
        }
    };
    want(
        "validator",
        matches!(o.get("validator"), Some(Bson::Document(_))),
        "a document",
    )?;
    want(
        "viewOn",
        matches!(o.get("viewOn"), Some(Bson::String(_))),
        "a string",
    )?;
    want(
        "timeseries",
        matches!(o.get("timeseries"), Some(Bson::Document(_))),
        "a document",
    )?;
    want(
        "collation",
        matches!(o.get("collation"), Some(Bson::Document(_))),
        "a document",
    )?;
    if let Some(p) = o.get("pipeline") {
        let Bson::Array(stages) = p else {
            bail!(
                "options.pipeline: expected an array, found {}",
                bson_kind(p)
            );
        };
        for (i, s) in stages.iter().enumerate() {
            if !matches!(s, Bson::Document(_)) {
                bail!(
                    "options.pipeline[{i}]: expected a document, found {}",
                    bson_kind(s)
                );
            }
        }
    }
    Ok(())
}

/// An index spec: `key` a non-empty document, `name` a string.
fn check_index(path: &str, d: &Document) -> Result<()> {
    match d.get("key") {
        Some(Bson::Document(k)) if !k.is_empty() => {}
        Some(Bson::Document(_)) => bail!("{path}.key: expected a non-empty document"),
        Some(other) => bail!(
            "{path}.key: expected a document, found {}",
            bson_kind(other)
        ),
        None => bail!("{path}: no key"),
    }
    match d.get("name") {
        Some(Bson::String(_)) => Ok(()),
        Some(other) => bail!("{path}.name: expected a string, found {}", bson_kind(other)),
        None => bail!("{path}: no name"),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn bson_kind(v: &Bson) -> String {
    match v {
        Bson::String(s) => format!("the string {s:?}"),
        Bson::Document(_) => "a document".into(),
        Bson::Array(_) => "an array".into(),
        other => format!("{:?}", other.element_type()).to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn metadata_json_round_trips_in_mongodump_field_order() {
        let entry = doc! {
            "name": "users", "type": "collection",
            "options": {"validator": {"$jsonSchema": {"required": ["email"]}}, "validationLevel": "strict", "capped": true, "size": 4096i64},
            "info": {"readOnly": false, "uuid": bson::Binary{subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![0xab; 16]}},
        };
        let idx = vec![
            doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"},
            doc! {"v": 2, "key": {"b": 1, "a": -1}, "name": "b_1_a_-1", "unique": true, "ns": "x.users"},
        ];
        let m = CollectionMeta::from_list_entry(&entry, idx);
        let text = m.to_json();
        assert!(text.starts_with("{\"options\":{\"validator\""), "{text}");
        assert!(text.contains("\"uuid\":\"abababababababababababababababab\""));
        assert!(text.ends_with("\"collectionName\":\"users\",\"type\":\"collection\"}"));
        assert!(text.contains("{\"b\":{\"$numberInt\":\"1\"},\"a\":{\"$numberInt\":\"-1\"}}"));
        assert!(!text.contains("\"ns\""));
        let back = CollectionMeta::from_json(&text, "x").unwrap();
        assert_eq!(back.options, m.options);
        assert_eq!(back.indexes, m.indexes);
        assert_eq!(back.kind, "collection");
        assert_eq!(back.name, "users");
    }

    #[test]
    fn metadata_of_the_wrong_shape_is_refused_with_its_json_path() {
        for (text, want) in [
            (r#"[]"#, "expected a JSON object, found an array"),
            (
                r#"{"options": {"validator": "x"}}"#,
                "options.validator: expected a document, found the string \"x\"",
            ),
            (r#"{"options": 3}"#, "options: expected a document"),
            (
                r#"{"indexes": {}}"#,
                "indexes: expected an array, found an object",
            ),
            (
                r#"{"indexes": [{"key": {"a": 1}, "name": "a_1"}, 7]}"#,
                "indexes[1]: expected a document",
            ),
            (
                r#"{"indexes": [{"key": "a", "name": "a_1"}]}"#,
                "indexes[0].key: expected a document",
            ),
            (
                r#"{"indexes": [{"key": {}, "name": "a_1"}]}"#,
                "indexes[0].key: expected a non-empty document",
            ),
            (r#"{"indexes": [{"key": {"a": 1}}]}"#, "indexes[0]: no name"),
            (
                r#"{"indexes": [{"key": {"a": 1}, "name": 1}]}"#,
                "indexes[0].name: expected a string",
            ),
            (
                r#"{"options": {"viewOn": "c", "pipeline": [1]}}"#,
                "options.pipeline[0]: expected a document",
            ),
            (r#"{"type": "table"}"#, "type: expected"),
            (
                r#"{"collectionName": 5}"#,
                "collectionName: expected a string",
            ),
        ] {
            let e = format!("{:#}", CollectionMeta::from_json(text, "c").unwrap_err());
            assert!(e.contains(want), "{text}: {e}");
        }
        let ok = r#"{"options": {"viewOn": "c", "pipeline": [{"$match": {}}]}, "indexes": []}"#;
        assert_eq!(CollectionMeta::from_json(ok, "v").unwrap().kind, "view");
    }
}
