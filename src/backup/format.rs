//! mongodump's `<coll>.metadata.json`: `{"options": {...}, "indexes": [...], "uuid": "<32 hex>",
//! "collectionName": "...", "type": "collection" | "view" | "timeseries"}` in canonical
//! Extended JSON v2, key order preserved (index keys are ordered).

use anyhow::{Context, Result};
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

    /// Parses a metadata.json text; `fallback_name` is used when it has no collectionName
    /// (older mongodump versions).
    pub fn from_json(text: &str, fallback_name: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).context("metadata is not JSON")?;
        let doc = |v: Option<&Value>| -> Result<Document> {
            match v {
                None | Some(Value::Null) => Ok(Document::new()),
                Some(v) => match Bson::try_from(v.clone()).context("invalid Extended JSON")? {
                    Bson::Document(d) => Ok(d),
                    other => anyhow::bail!("expected an object, found {other}"),
                },
            }
        };
        let options = doc(v.get("options"))?;
        let mut indexes = Vec::new();
        if let Some(Value::Array(list)) = v.get("indexes") {
            for i in list {
                indexes.push(doc(Some(i))?);
            }
        }
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| {
                if options.contains_key("viewOn") {
                    "view".into()
                } else if options.contains_key("timeseries") {
                    "timeseries".into()
                } else {
                    "collection".into()
                }
            });
        Ok(CollectionMeta {
            name: v
                .get("collectionName")
                .and_then(Value::as_str)
                .unwrap_or(fallback_name)
                .to_string(),
            kind,
            options,
            indexes,
            uuid: v.get("uuid").and_then(Value::as_str).map(str::to_string),
        })
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
}
