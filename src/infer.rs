//! Drafts a `$jsonSchema` from sample documents, for `init --from-cluster` on collections
//! that have no validator. The draft states only what every sampled document satisfies:
//! the BSON types seen per field, nested objects and array items, and the fields present in
//! all of them as `required`. It is a starting point for a person to review, never applied as is.

use crate::jsonschema::bson_type;
use bson::{Bson, Document};
use serde_json::{Map, Value, json};

/// Nested objects deeper than this are described as `object` without their properties.
const MAX_DEPTH: usize = 6;

/// The `description` that marks a schema as an inferred draft.
pub fn draft_description(documents: usize) -> String {
    format!(
        "DRAFT inferred from {documents} document(s) by mongoctl init: review it, then move it to schemas/"
    )
}

/// A draft schema that every document in `docs` satisfies.
pub fn infer_schema(docs: &[Document]) -> Value {
    let mut stats = ObjectStats::default();
    for d in docs {
        stats.add(d, 0);
    }
    let mut schema = Map::new();
    schema.insert("bsonType".into(), json!("object"));
    schema.insert("description".into(), json!(draft_description(docs.len())));
    stats.describe_into(&mut schema);
    Value::Object(schema)
}

#[derive(Default)]
struct ObjectStats {
    /// How many objects were seen at this place.
    seen: usize,
    /// Fields in first-seen order.
    fields: Vec<(String, FieldStats)>,
}

#[derive(Default)]
struct FieldStats {
    /// In how many of the objects the field was present.
    present: usize,
    types: Vec<&'static str>,
    object: Option<Box<ObjectStats>>,
    items: Option<Box<FieldStats>>,
}

impl ObjectStats {
    fn add(&mut self, d: &Document, depth: usize) {
        self.seen += 1;
        for (k, v) in d {
            let pos = match self.fields.iter().position(|(name, _)| name == k) {
                Some(p) => p,
                None => {
                    self.fields.push((k.clone(), FieldStats::default()));
                    self.fields.len() - 1
                }
            };
            let f = &mut self.fields[pos].1;
            f.present += 1;
            f.add_value(v, depth + 1);
        }
    }

    fn describe_into(&self, schema: &mut Map<String, Value>) {
        if self.fields.is_empty() {
            return;
        }
        let required: Vec<Value> = self
            .fields
            .iter()
            .filter(|(_, f)| f.present == self.seen)
            .map(|(k, _)| json!(k))
            .collect();
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        let props: Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, f)| (k.clone(), f.describe()))
            .collect();
        schema.insert("properties".into(), Value::Object(props));
    }
}

impl FieldStats {
    fn add_value(&mut self, v: &Bson, depth: usize) {
        let t = bson_type(v);
        if !self.types.contains(&t) {
            self.types.push(t);
        }
        match v {
            Bson::Document(d) if depth < MAX_DEPTH => self
                .object
                .get_or_insert_with(Default::default)
                .add(d, depth),
            Bson::Array(items) if depth < MAX_DEPTH => {
                let s = self.items.get_or_insert_with(Default::default);
                for item in items {
                    s.present += 1;
                    s.add_value(item, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn describe(&self) -> Value {
        let mut m = Map::new();
        let mut types = self.types.clone();
        types.sort_unstable();
        match types.as_slice() {
            [] => {}
            [one] => {
                m.insert("bsonType".into(), json!(one));
            }
            many => {
                m.insert("bsonType".into(), json!(many));
            }
        }
        if let Some(o) = &self.object {
            o.describe_into(&mut m);
        }
        if let Some(items) = &self.items
            && !items.types.is_empty()
        {
            m.insert("items".into(), items.describe());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonschema::{CompiledSchema, lint};
    use bson::{DateTime, doc, oid::ObjectId};

    fn sample() -> Vec<Document> {
        vec![
            doc! {"_id": ObjectId::new(), "email": "a@x", "age": 3, "tags": ["x", "y"], "profile": {"city": "Pune", "zip": 1}, "at": DateTime::now()},
            doc! {"_id": ObjectId::new(), "email": "b@x", "age": 4.5, "tags": [], "profile": {"city": "Goa"}, "note": null},
            doc! {"_id": ObjectId::new(), "email": "c@x", "age": 5i64, "tags": [1], "profile": {"city": "Agra"}, "at": DateTime::now()},
        ]
    }

    #[test]
    fn the_draft_accepts_every_sampled_document_and_lints_clean() {
        let docs = sample();
        let schema = infer_schema(&docs);
        assert!(lint(&schema).is_empty(), "{:?}", lint(&schema));
        let compiled = CompiledSchema::compile(&schema).unwrap();
        for d in &docs {
            assert!(
                compiled.validate(d).is_empty(),
                "{d}: {:?}",
                compiled.validate(d)
            );
        }
        assert_eq!(
            schema["required"],
            json!(["_id", "email", "age", "tags", "profile"])
        );
        assert_eq!(
            schema["properties"]["age"]["bsonType"],
            json!(["double", "int", "long"])
        );
        assert_eq!(schema["properties"]["profile"]["required"], json!(["city"]));
        assert_eq!(
            schema["properties"]["tags"]["items"]["bsonType"],
            json!(["int", "string"])
        );
        assert!(
            schema["description"]
                .as_str()
                .unwrap()
                .starts_with("DRAFT inferred from 3")
        );
    }

    #[test]
    fn the_draft_rejects_a_document_of_another_shape() {
        let compiled = CompiledSchema::compile(&infer_schema(&sample())).unwrap();
        let bad = doc! {"email": 5, "age": 1, "tags": [], "profile": {"city": "x"}};
        let v = compiled.validate(&bad);
        assert!(
            v.iter()
                .any(|v| v.keyword == "bsonType" && v.path.to_string() == "email"),
            "{v:?}"
        );
    }
}
