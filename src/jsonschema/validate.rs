//! The offline validator: walks the compiled tree over a document and collects every failure
//! mongod 6.0 would report, each with the document path and the keyword that failed.

use std::cmp::Ordering;

use bson::spec::BinarySubtype;
use bson::{Bson, Document};

use crate::hints::did_you_mean;
use crate::jsonpath::{JsonPath, Seg};

use super::Violation;
use super::equality::bson_eq;
use super::keywords::{bson_type, has_type, is_number};
use super::message::{quote, render, render_list, render_str};
use super::node::{Dependency, Encrypt, Extra, Items, Node};
use super::number::{compare_numbers, is_multiple_of};

/// A violation before its message gets the path prefix, so that combinators can quote it.
pub(super) struct Failure {
    path: JsonPath,
    keyword: &'static str,
    detail: String,
}

impl Failure {
    /// `generated_id`: the document had no `_id`, so failures about it concern the ObjectId the
    /// server would add; say so, since the user never wrote that field.
    pub(super) fn into_violation(self, generated_id: bool) -> Violation {
        let about_id = self.path.0.first() == Some(&Seg::Key("_id".to_string()))
            || (self.path.is_root() && matches!(self.keyword, "minProperties" | "maxProperties"));
        let note = if generated_id && about_id {
            " (the server adds an ObjectId _id to a document without one)"
        } else {
            ""
        };
        Violation {
            message: format!("{}{note}", self.message()),
            path: self.path,
            keyword: self.keyword,
        }
    }

    fn message(&self) -> String {
        if self.path.is_root() {
            self.detail.clone()
        } else {
            format!("{}: {}", self.path, self.detail)
        }
    }
}

fn failures_of(node: &Node, value: &Bson, path: &JsonPath) -> Vec<Failure> {
    let mut out = Vec::new();
    check(node, value, path, &mut out);
    out
}

fn push(out: &mut Vec<Failure>, path: &JsonPath, keyword: &'static str, detail: String) {
    out.push(Failure {
        path: path.clone(),
        keyword,
        detail,
    });
}

pub(super) fn check(node: &Node, value: &Bson, path: &JsonPath, out: &mut Vec<Failure>) {
    if let Some(encrypt) = &node.encrypt {
        check_encrypted(encrypt, value, path, out);
    }
    if let Some(types) = &node.types
        && !types.names.iter().any(|n| has_type(value, n))
    {
        let expected = match types.names.as_slice() {
            [one] => one.to_string(),
            many => format!("one of [{}]", many.join(", ")),
        };
        // `type` speaks JSON Schema, where bool is "boolean".
        let found = if types.keyword == "type" && matches!(value, Bson::Boolean(_)) {
            "boolean"
        } else {
            bson_type(value)
        };
        push(
            out,
            path,
            types.keyword,
            format!("expected {expected}, found {found}"),
        );
    }
    if let Some(values) = &node.enumeration
        && !values.iter().any(|v| bson_eq(v, value))
    {
        let hint = match value {
            Bson::String(s) => did_you_mean(s, values.iter().filter_map(Bson::as_str))
                .map(|c| format!("; did you mean {}?", quote(c)))
                .unwrap_or_default(),
            _ => String::new(),
        };
        push(
            out,
            path,
            "enum",
            format!(
                "{} is not one of {}{hint}",
                render(value),
                render_list(values)
            ),
        );
    }
    match value {
        Bson::String(s) => check_string(node, s, path, out),
        Bson::Document(d) => check_object(node, value, d, path, out),
        Bson::Array(a) => check_array(node, a, path, out),
        n if is_number(n) => check_number(node, n, path, out),
        _ => {}
    }
    for sub in &node.all_of {
        check(sub, value, path, out);
    }
    if !node.any_of.is_empty() {
        let branches: Vec<Vec<Failure>> = node
            .any_of
            .iter()
            .map(|s| failures_of(s, value, path))
            .collect();
        if branches.iter().all(|b| !b.is_empty()) {
            let detail = format!(
                "matches no schema in anyOf ({})",
                summarize("anyOf", &branches, path)
            );
            out.push(Failure {
                path: path.clone(),
                keyword: "anyOf",
                detail,
            });
        }
    }
    if !node.one_of.is_empty() {
        let branches: Vec<Vec<Failure>> = node
            .one_of
            .iter()
            .map(|s| failures_of(s, value, path))
            .collect();
        let matching: Vec<String> = branches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_empty())
            .map(|(i, _)| format!("oneOf[{i}]"))
            .collect();
        let detail = match matching.len() {
            0 => Some(format!(
                "matches no schema in oneOf ({})",
                summarize("oneOf", &branches, path)
            )),
            1 => None,
            _ => Some(format!(
                "matches {} schemas in oneOf ({}) but must match exactly one",
                matching.len(),
                matching.join(", ")
            )),
        };
        if let Some(detail) = detail {
            out.push(Failure {
                path: path.clone(),
                keyword: "oneOf",
                detail,
            });
        }
    }
    if let Some(not) = &node.not
        && failures_of(not, value, path).is_empty()
    {
        out.push(Failure {
            path: path.clone(),
            keyword: "not",
            detail: match value {
                _ if path.is_root() => "the document matches the schema in not".to_string(),
                Bson::Document(_) | Bson::Array(_) => "matches the schema in not".to_string(),
                scalar => format!("{} matches the schema in not", render(scalar)),
            },
        });
    }
}

/// Encrypted values are binData subtype 6; when `bsonType` is given, mongod also reads the
/// ciphertext header: byte 0 is the FLE blob subtype (1 deterministic, 2 random) and byte 17 the
/// BSON type code of the plaintext.
fn check_encrypted(encrypt: &Encrypt, value: &Bson, path: &JsonPath, out: &mut Vec<Failure>) {
    let Bson::Binary(binary) = value else {
        push(
            out,
            path,
            "encrypt",
            format!(
                "expected an encrypted binData (subtype 6), found {}",
                bson_type(value)
            ),
        );
        return;
    };
    if binary.subtype != BinarySubtype::Encrypted {
        push(
            out,
            path,
            "encrypt",
            format!(
                "expected an encrypted binData (subtype 6), found binData subtype {}",
                u8::from(binary.subtype)
            ),
        );
        return;
    }
    let Some(types) = &encrypt.types else { return };
    let bytes = &binary.bytes;
    let plaintext_type = (bytes.len() >= 18 && matches!(bytes[0], 1 | 2)).then(|| bytes[17]);
    if !plaintext_type.is_some_and(|code| types.iter().any(|t| type_code_is(code, t))) {
        push(
            out,
            path,
            "encrypt",
            format!(
                "the ciphertext does not hold a value of type {}",
                types.join(" or ")
            ),
        );
    }
}

/// Whether a BSON element type code has the type `name` names.
fn type_code_is(code: u8, name: &str) -> bool {
    const CODES: &[(u8, &str)] = &[
        (0x01, "double"),
        (0x02, "string"),
        (0x03, "object"),
        (0x04, "array"),
        (0x05, "binData"),
        (0x06, "undefined"),
        (0x07, "objectId"),
        (0x08, "bool"),
        (0x09, "date"),
        (0x0A, "null"),
        (0x0B, "regex"),
        (0x0C, "dbPointer"),
        (0x0D, "javascript"),
        (0x0E, "symbol"),
        (0x0F, "javascriptWithScope"),
        (0x10, "int"),
        (0x11, "timestamp"),
        (0x12, "long"),
        (0x13, "decimal"),
        (0xFF, "minKey"),
        (0x7F, "maxKey"),
    ];
    match name {
        "number" => matches!(code, 0x01 | 0x10 | 0x12 | 0x13),
        _ => CODES.iter().any(|&(c, n)| c == code && n == name),
    }
}

/// `anyOf[0]: expected int, found double; anyOf[1]: ...`, quoting nested paths when they differ.
fn summarize(keyword: &str, branches: &[Vec<Failure>], path: &JsonPath) -> String {
    branches
        .iter()
        .enumerate()
        .map(|(i, failures)| {
            let reasons: Vec<String> = failures
                .iter()
                .map(|f| {
                    if &f.path == path {
                        f.detail.clone()
                    } else {
                        f.message()
                    }
                })
                .collect();
            format!("{keyword}[{i}]: {}", reasons.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_number(node: &Node, n: &Bson, path: &JsonPath, out: &mut Vec<Failure>) {
    if let Some(min) = &node.minimum {
        let order = compare_numbers(n, &min.limit);
        let ok = match order {
            Some(Ordering::Greater) => true,
            Some(Ordering::Equal) => !min.exclusive,
            _ => false,
        };
        if !ok {
            let what = if order.is_none() {
                "not comparable (only NaN equals NaN) to the minimum"
            } else if min.exclusive {
                "not greater than the exclusive minimum"
            } else {
                "less than the minimum"
            };
            push(
                out,
                path,
                "minimum",
                format!("{} is {what} {}", render(n), render(&min.limit)),
            );
        }
    }
    if let Some(max) = &node.maximum {
        let order = compare_numbers(n, &max.limit);
        let ok = match order {
            Some(Ordering::Less) => true,
            Some(Ordering::Equal) => !max.exclusive,
            _ => false,
        };
        if !ok {
            let what = if order.is_none() {
                "not comparable (only NaN equals NaN) to the maximum"
            } else if max.exclusive {
                "not less than the exclusive maximum"
            } else {
                "greater than the maximum"
            };
            push(
                out,
                path,
                "maximum",
                format!("{} is {what} {}", render(n), render(&max.limit)),
            );
        }
    }
    if let Some(divisor) = &node.multiple_of
        && !is_multiple_of(n, divisor)
    {
        push(
            out,
            path,
            "multipleOf",
            format!("{} is not a multiple of {}", render(n), render(divisor)),
        );
    }
}

fn check_string(node: &Node, s: &str, path: &JsonPath, out: &mut Vec<Failure>) {
    let length = || s.chars().count() as u64;
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    if let Some(min) = node.min_length
        && length() < min
    {
        let n = length();
        push(
            out,
            path,
            "minLength",
            format!(
                "{} has {n} character{}, fewer than the minimum length {min}",
                render_str(s),
                plural(n)
            ),
        );
    }
    if let Some(max) = node.max_length
        && length() > max
    {
        let n = length();
        push(
            out,
            path,
            "maxLength",
            format!(
                "{} has {n} characters, more than the maximum length {max}",
                render_str(s)
            ),
        );
    }
    if let Some(p) = &node.pattern
        && !p.regex.is_match(s)
    {
        push(
            out,
            path,
            "pattern",
            format!(
                "{} does not match the pattern {}",
                render_str(s),
                quote(&p.source)
            ),
        );
    }
}

fn check_object(
    node: &Node,
    value: &Bson,
    doc: &Document,
    path: &JsonPath,
    out: &mut Vec<Failure>,
) {
    let mut fail = |path: JsonPath, keyword: &'static str, detail: String| {
        out.push(Failure {
            path,
            keyword,
            detail,
        })
    };
    for name in &node.required {
        if !doc.contains_key(name) {
            fail(
                path.clone(),
                "required",
                format!("missing required field {}", quote(name)),
            );
        }
    }
    let count = doc.len() as u64;
    let fields = |n: u64| {
        if n == 1 {
            "1 field".to_string()
        } else {
            format!("{n} fields")
        }
    };
    if let Some(min) = node.min_properties
        && count < min
    {
        fail(
            path.clone(),
            "minProperties",
            format!("has {}, fewer than the minimum {min}", fields(count)),
        );
    }
    if let Some(max) = node.max_properties
        && count > max
    {
        fail(
            path.clone(),
            "maxProperties",
            format!("has {}, more than the maximum {max}", fields(count)),
        );
    }
    for (name, sub) in &node.properties {
        if let Some(v) = doc.get(name) {
            check(sub, v, &path.key(name.as_str()), out);
        }
    }
    for (key, v) in doc {
        let field_path = path.key(key.as_str());
        let mut matched = node.properties.iter().any(|(name, _)| name == key);
        for (pattern, sub) in &node.pattern_properties {
            if pattern.regex.is_match(key) {
                matched = true;
                check(sub, v, &field_path, out);
            }
        }
        match &node.additional_properties {
            Some(Extra::Forbidden) if !matched => {
                let hint = did_you_mean(
                    key,
                    node.properties
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .filter(|n| !doc.contains_key(*n)),
                )
                .map(|s| format!("; did you mean {}?", quote(s)))
                .unwrap_or_default();
                out.push(Failure {
                    path: field_path,
                    keyword: "additionalProperties",
                    detail: format!(
                        "field {} is not allowed (additionalProperties is false){hint}",
                        quote(key)
                    ),
                });
            }
            Some(Extra::Schema(sub)) if !matched => check(sub, v, &field_path, out),
            _ => {}
        }
    }
    for (name, dependency) in &node.dependencies {
        if !doc.contains_key(name) {
            continue;
        }
        match dependency {
            Dependency::Fields(names) => {
                for needed in names.iter().filter(|n| !doc.contains_key(n.as_str())) {
                    let detail = format!(
                        "missing field {}, required when {} is present",
                        quote(needed),
                        quote(name)
                    );
                    out.push(Failure {
                        path: path.clone(),
                        keyword: "dependencies",
                        detail,
                    });
                }
            }
            Dependency::Schema(sub) => {
                for mut f in failures_of(sub, value, path) {
                    f.detail = format!(
                        "{} (required by dependencies because {} is present)",
                        f.detail,
                        quote(name)
                    );
                    out.push(f);
                }
            }
        }
    }
}

fn check_array(node: &Node, items: &[Bson], path: &JsonPath, out: &mut Vec<Failure>) {
    let count = items.len() as u64;
    let plural = |n: u64| {
        if n == 1 {
            "1 item".to_string()
        } else {
            format!("{n} items")
        }
    };
    if let Some(min) = node.min_items
        && count < min
    {
        out.push(Failure {
            path: path.clone(),
            keyword: "minItems",
            detail: format!("has {}, fewer than the minimum {min}", plural(count)),
        });
    }
    if let Some(max) = node.max_items
        && count > max
    {
        out.push(Failure {
            path: path.clone(),
            keyword: "maxItems",
            detail: format!("has {}, more than the maximum {max}", plural(count)),
        });
    }
    match &node.items {
        Some(Items::Each(sub)) => {
            for (i, v) in items.iter().enumerate() {
                check(sub, v, &path.index(i), out);
            }
        }
        Some(Items::Tuple(subs)) => {
            for (i, (sub, v)) in subs.iter().zip(items).enumerate() {
                check(sub, v, &path.index(i), out);
            }
            match &node.additional_items {
                Some(Extra::Forbidden) if items.len() > subs.len() => {
                    let detail = format!(
                        "has {}, but items lists {} schema{} and additionalItems is false",
                        plural(count),
                        subs.len(),
                        if subs.len() == 1 { "" } else { "s" }
                    );
                    out.push(Failure {
                        path: path.clone(),
                        keyword: "additionalItems",
                        detail,
                    });
                }
                Some(Extra::Schema(sub)) => {
                    for (i, v) in items.iter().enumerate().skip(subs.len()) {
                        check(sub, v, &path.index(i), out);
                    }
                }
                _ => {}
            }
        }
        None => {}
    }
    if node.unique_items {
        for (j, later) in items.iter().enumerate() {
            if let Some(i) = items[..j]
                .iter()
                .position(|earlier| bson_eq(earlier, later))
            {
                let detail = format!("items [{i}] and [{j}] are equal, but uniqueItems is true");
                out.push(Failure {
                    path: path.clone(),
                    keyword: "uniqueItems",
                    detail,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonschema::CompiledSchema;
    use bson::doc;
    use serde_json::Value;
    use serde_json::json;

    fn violations(schema: Value, doc: Document) -> Vec<String> {
        let compiled = CompiledSchema::compile(&schema).expect("schema compiles");
        compiled
            .validate(&doc)
            .into_iter()
            .map(|v| v.message)
            .collect()
    }

    #[test]
    fn validation_messages_read_well() {
        let schema = json!({
            "bsonType": "object",
            "required": ["email", "role", "created_at"],
            "properties": {
                "_id": { "bsonType": "objectId" },
                "email": { "bsonType": "string", "pattern": "^[^@\\s]+@[^@\\s]+$" },
                "role": { "enum": ["admin", "doctor", "nurse", "patient"] },
                "rating": { "bsonType": "int", "minimum": 1, "maximum": 5 },
                "created_at": { "bsonType": "date" }
            }
        });
        let found = violations(
            schema,
            doc! { "role": "janitor", "rating": 7, "created_at": "2024-01-01" },
        );
        assert_eq!(
            found,
            [
                "missing required field \"email\"",
                "role: \"janitor\" is not one of [\"admin\",\"doctor\",\"nurse\",\"patient\"]",
                "rating: 7 is greater than the maximum 5",
                "created_at: expected date, found string",
            ]
        );
    }

    #[test]
    fn keywords_only_constrain_their_own_type() {
        let schema = json!({ "properties": { "a": { "minimum": 5, "minLength": 3, "required": ["x"], "minItems": 2, "pattern": "^z" } } });
        for value in [
            Bson::String("zzz".into()),
            Bson::Int32(6),
            Bson::Document(doc! { "x": 1 }),
            Bson::Array(vec![1.into(), 2.into()]),
            Bson::Null,
        ] {
            assert!(
                violations(schema.clone(), doc! { "a": value.clone() }).is_empty(),
                "{value:?}"
            );
        }
        assert_eq!(violations(schema, doc! { "a": "ab" }).len(), 2);
    }

    #[test]
    fn objects_arrays_and_combinators() {
        let schema = json!({
            "properties": {
                "_id": {},
                "tags": { "items": { "bsonType": "string", "maxLength": 3 }, "uniqueItems": true },
                "pair": { "items": [{ "bsonType": "int" }], "additionalItems": false },
                "n": { "oneOf": [{ "bsonType": "int" }, { "minimum": 5 }] },
                "m": { "anyOf": [{ "bsonType": "int" }, { "bsonType": "string" }] },
                "email": {}
            },
            "patternProperties": { "^x_": { "bsonType": "int" } },
            "additionalProperties": false,
            "dependencies": { "n": ["m"] }
        });
        let found = violations(
            schema,
            doc! {
                "tags": ["ab", "abcd", { "$numberInt": "1" }, "ab"],
                "pair": [1, 2],
                "n": 6,
                "m": 1.5,
                "x_a": "s",
                "emial": 1,
            },
        );
        assert_eq!(
            found,
            [
                "tags[1]: \"abcd\" has 4 characters, more than the maximum length 3",
                "tags[2]: expected string, found object",
                "tags: items [0] and [3] are equal, but uniqueItems is true",
                "pair: has 2 items, but items lists 1 schema and additionalItems is false",
                "n: matches 2 schemas in oneOf (oneOf[0], oneOf[1]) but must match exactly one",
                "m: matches no schema in anyOf (anyOf[0]: expected int, found double; anyOf[1]: expected string, found double)",
                "x_a: expected int, found string",
                "emial: field \"emial\" is not allowed (additionalProperties is false); did you mean \"email\"?",
            ]
        );
    }

    #[test]
    fn missing_id_is_the_one_the_server_generates() {
        let schema = json!({ "properties": { "_id": { "bsonType": "int" } }, "maxProperties": 1 });
        let found = violations(schema, doc! { "a": 1 });
        assert_eq!(found.len(), 2);
        assert!(found[0].starts_with("has 2 fields, more than the maximum 1 (the server adds"));
        assert!(found[1].starts_with("_id: expected int, found objectId (the server adds"));
        assert!(violations(json!({ "required": ["_id"] }), doc! {}).is_empty());
    }

    /// The corpus's verdicts come from mongod 6.0.5; the validator must reproduce every one.
    #[test]
    fn agrees_with_mongod_on_the_corpus() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/validator_corpus.json"
        );
        let corpus: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("corpus"))
            .expect("corpus is JSON");
        let mut disagreements = Vec::new();
        let mut checked = 0;
        for case in corpus.as_array().expect("an array of cases") {
            let name = case["name"].as_str().unwrap_or("?");
            let schema = CompiledSchema::compile(&case["schema"])
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            for (i, d) in case["documents"]
                .as_array()
                .expect("documents")
                .iter()
                .enumerate()
            {
                let Ok(Bson::Document(doc)) = Bson::try_from(d["doc"].clone()) else {
                    panic!("{name}[{i}]: not a document")
                };
                let found = schema.validate(&doc);
                if found.is_empty() != d["valid"].as_bool().expect("valid flag") {
                    disagreements.push(format!(
                        "{name}[{i}] {}: mongod says valid={}, validator found {found:?}",
                        d["doc"], d["valid"]
                    ));
                }
                checked += 1;
            }
        }
        assert!(checked >= 120, "only {checked} documents");
        assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    }
}
