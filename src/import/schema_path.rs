//! Where a document field lands in a collection's `$jsonSchema`, and which BSON types the
//! schema allows there: how a mapping's conversions are checked against the target offline,
//! and how an unspecified conversion is chosen.

use serde_json::Value;

/// The subschema for `segments` (`$` steps into an array's `items`): `Ok(None)` when the
/// schema does not describe the field (anything goes), `Err(parent)` when a parent forbids
/// fields it does not list (`additionalProperties: false`).
pub fn schema_at<'s>(schema: &'s Value, segments: &[&str]) -> Result<Option<&'s Value>, String> {
    let mut node = schema;
    let mut walked: Vec<&str> = Vec::new();
    for seg in segments {
        if *seg == "$" {
            match node.get("items") {
                Some(items) if items.is_object() => node = items,
                _ => return Ok(None),
            }
            walked.push("[]");
            continue;
        }
        match node.get("properties").and_then(|p| p.get(*seg)) {
            Some(child) => node = child,
            None => {
                if node.get("additionalProperties") == Some(&Value::Bool(false)) {
                    let at = if walked.is_empty() {
                        "the top".into()
                    } else {
                        walked.join(".")
                    };
                    return Err(at);
                }
                return Ok(None);
            }
        }
        walked.push(seg);
    }
    Ok(Some(node))
}

/// The BSON type names `node` allows (`number` expanded), or `None` when it names none.
pub fn allowed_types(node: &Value) -> Option<Vec<String>> {
    let raw = node.get("bsonType").or_else(|| node.get("type"))?;
    let names: Vec<&str> = match raw {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    let mut out = Vec::new();
    for n in names {
        match n {
            "number" => out.extend(["int", "long", "double", "decimal"].map(String::from)),
            "boolean" => out.push("bool".into()),
            "integer" => out.extend(["int", "long"].map(String::from)),
            other => out.push(other.to_string()),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_properties_and_items() {
        let s = json!({"properties": {"a": {"bsonType": "array", "items": {"properties": {"t": {"bsonType": "date"}}}}}});
        let node = schema_at(&s, &["a", "$", "t"]).unwrap().unwrap();
        assert_eq!(allowed_types(node), Some(vec!["date".to_string()]));
        assert_eq!(schema_at(&s, &["b"]), Ok(None));
    }

    #[test]
    fn closed_objects_refuse_unlisted_fields() {
        let s = json!({"properties": {"p": {"additionalProperties": false, "properties": {}}}});
        assert_eq!(schema_at(&s, &["p", "x"]), Err("p".to_string()));
    }

    #[test]
    fn number_means_every_numeric_type() {
        let types = allowed_types(&json!({"bsonType": ["number", "string"]})).unwrap();
        assert_eq!(types, ["int", "long", "double", "decimal", "string"]);
    }
}
