//! The lint and compiler of a `$jsonSchema`: one pass over the JSON reports every construct
//! mongod would reject (and a few it accepts that cannot be meant) and builds the compiled tree,
//! which is used only when no error was found.

use std::cmp::Ordering;

use bson::Bson;
use serde_json::{Map, Value};

use crate::hints::{did_you_mean, json_kind};
use crate::jsonpath::JsonPath;

use super::equality::bson_eq;
use super::keywords::{
    BSON_TYPES, ENCRYPTION_ALGORITHMS, JSON_TYPES, KEYWORDS, UNSUPPORTED_KEYWORDS, is_number,
};
use super::message::{quote, render};
use super::node::{Bound, Dependency, Encrypt, Extra, Items, Node, Pattern, Types};
use super::number::{Exact, compare_numbers};
use super::pcre::compile_pcre;
use super::{SchemaIssue, Severity};

pub(super) struct Linter {
    issues: Vec<SchemaIssue>,
}

impl Linter {
    pub(super) fn run(schema: &Value) -> (Option<Node>, Vec<SchemaIssue>) {
        let mut linter = Linter { issues: Vec::new() };
        let root = JsonPath::root();
        let node = match schema {
            Value::Object(map) => {
                let node = linter.schema(map, &root);
                linter.check_top_level(map, &node);
                Some(node)
            }
            other => {
                linter.error(
                    &root,
                    format!(
                        "a $jsonSchema must be an object, found {}",
                        json_kind(other)
                    ),
                );
                None
            }
        };
        (node, linter.issues)
    }

    fn error(&mut self, path: &JsonPath, message: String) {
        self.issues.push(SchemaIssue {
            path: path.clone(),
            message,
            severity: Severity::Error,
        });
    }

    fn warning(&mut self, path: &JsonPath, message: String) {
        self.issues.push(SchemaIssue {
            path: path.clone(),
            message,
            severity: Severity::Warning,
        });
    }

    /// Lints one (sub)schema and builds its node.
    fn schema(&mut self, map: &Map<String, Value>, path: &JsonPath) -> Node {
        let mut node = Node::default();
        let mut minimum = None;
        let mut maximum = None;
        let mut exclusive_minimum = None;
        let mut exclusive_maximum = None;
        for (key, value) in map {
            let kp = path.key(key.as_str());
            match key.as_str() {
                "type" | "bsonType" => {
                    let keyword = if key == "type" { "type" } else { "bsonType" };
                    node.types = self.types(keyword, value, &kp).or(node.types);
                }
                "enum" => node.enumeration = self.enumeration(value, &kp),
                "minimum" => minimum = self.number("minimum", value, &kp),
                "maximum" => maximum = self.number("maximum", value, &kp),
                "exclusiveMinimum" => exclusive_minimum = self.boolean(key, value, &kp).map(|b| (b, kp)),
                "exclusiveMaximum" => exclusive_maximum = self.boolean(key, value, &kp).map(|b| (b, kp)),
                "multipleOf" => node.multiple_of = self.multiple_of(value, &kp),
                "minLength" => node.min_length = self.count(key, value, &kp),
                "maxLength" => node.max_length = self.count(key, value, &kp),
                "minItems" => node.min_items = self.count(key, value, &kp),
                "maxItems" => node.max_items = self.count(key, value, &kp),
                "minProperties" => node.min_properties = self.count(key, value, &kp),
                "maxProperties" => node.max_properties = self.count(key, value, &kp),
                "uniqueItems" => node.unique_items = self.boolean(key, value, &kp).unwrap_or(false),
                "pattern" => {
                    if let Value::String(source) = value {
                        // mongod only compiles `pattern` when a string reaches it, so a bad one
                        // is accepted here and then fails those inserts with an error.
                        node.pattern = self.regex(source, &kp);
                    } else {
                        self.error(&kp, format!("pattern must be a string, found {}", json_kind(value)));
                    }
                }
                "required" => node.required = self.field_names("required", value, &kp).unwrap_or_default(),
                "properties" => node.properties = self.properties(value, &kp),
                "patternProperties" => node.pattern_properties = self.pattern_properties(value, &kp),
                "additionalProperties" | "additionalItems" => {
                    let extra = match value {
                        Value::Bool(true) => None,
                        Value::Bool(false) => Some(Extra::Forbidden),
                        Value::Object(m) => Some(Extra::Schema(Box::new(self.schema(m, &kp)))),
                        other => {
                            self.error(&kp, format!("{key} must be a boolean or a schema (an object), found {}", json_kind(other)));
                            None
                        }
                    };
                    if key == "additionalProperties" {
                        node.additional_properties = extra;
                    } else {
                        node.additional_items = extra;
                    }
                }
                "items" => {
                    node.items = match value {
                        Value::Object(m) => Some(Items::Each(Box::new(self.schema(m, &kp)))),
                        Value::Array(_) => self.schema_list("items", value, &kp, true).map(Items::Tuple),
                        other => {
                            self.error(&kp, format!("items must be a schema (an object) or an array of schemas, found {}", json_kind(other)));
                            None
                        }
                    }
                }
                "dependencies" => node.dependencies = self.dependencies(value, &kp),
                "allOf" => node.all_of = self.schema_list(key, value, &kp, false).unwrap_or_default(),
                "anyOf" => node.any_of = self.schema_list(key, value, &kp, false).unwrap_or_default(),
                "oneOf" => node.one_of = self.schema_list(key, value, &kp, false).unwrap_or_default(),
                "not" => {
                    if let Value::Object(m) = value {
                        node.not = Some(Box::new(self.schema(m, &kp)));
                    } else {
                        self.error(&kp, format!("not must be a schema (an object), found {}", json_kind(value)));
                    }
                }
                "title" | "description" => {
                    if !value.is_string() {
                        self.error(&kp, format!("{key} must be a string, found {}", json_kind(value)));
                    }
                }
                "encrypt" => node.encrypt = Some(Encrypt { types: self.encryption(key, value, &kp) }),
                "encryptMetadata" => {
                    self.encryption(key, value, &kp);
                }
                k if UNSUPPORTED_KEYWORDS.contains(&k) => {
                    self.error(&kp, format!("keyword \"{k}\" is not supported by MongoDB's $jsonSchema"));
                }
                "$jsonSchema" => self.error(
                    &kp,
                    "the schema file holds the $jsonSchema document itself; remove the {\"$jsonSchema\": ...} wrapper".into(),
                ),
                k => {
                    let hint = did_you_mean(k, KEYWORDS.iter().copied()).map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default();
                    self.error(&kp, format!("unknown $jsonSchema keyword \"{k}\"{hint}"));
                }
            }
        }
        if map.contains_key("type") && map.contains_key("bsonType") {
            self.error(
                &path.key("bsonType"),
                "a schema cannot have both \"type\" and \"bsonType\"; use bsonType alone".into(),
            );
        }
        if node.encrypt.is_some() {
            for keyword in ["type", "bsonType"]
                .into_iter()
                .filter(|k| map.contains_key(*k))
            {
                self.error(&path.key(keyword), format!("{keyword} cannot be combined with encrypt: encrypted fields are always binData"));
            }
        }
        node.minimum = self.bound("minimum", minimum, "exclusiveMinimum", exclusive_minimum);
        node.maximum = self.bound("maximum", maximum, "exclusiveMaximum", exclusive_maximum);
        self.check_ranges(&node, path);
        node
    }

    /// Pairs `minimum` with `exclusiveMinimum` (or the maximum pair); the flag needs its limit.
    fn bound(
        &mut self,
        limit_keyword: &str,
        limit: Option<Bson>,
        flag_keyword: &str,
        exclusive: Option<(bool, JsonPath)>,
    ) -> Option<Bound> {
        if let (None, Some((_, flag_path))) = (&limit, &exclusive) {
            self.error(
                flag_path,
                format!("{flag_keyword} requires {limit_keyword} in the same schema"),
            );
        }
        limit.map(|limit| Bound {
            limit,
            exclusive: exclusive.is_some_and(|(b, _)| b),
        })
    }

    /// Warns about bounds no value can satisfy: mongod accepts them, but no value of that type
    /// will ever validate.
    fn check_ranges(&mut self, node: &Node, path: &JsonPath) {
        let pairs = [
            ("minLength", node.min_length, "maxLength", node.max_length),
            ("minItems", node.min_items, "maxItems", node.max_items),
            (
                "minProperties",
                node.min_properties,
                "maxProperties",
                node.max_properties,
            ),
        ];
        for (min_kw, min, max_kw, max) in pairs {
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                self.warning(
                    &path.key(min_kw),
                    format!(
                        "{min_kw} {min} is greater than {max_kw} {max}: nothing can satisfy both"
                    ),
                );
            }
        }
        if let (Some(min), Some(max)) = (&node.minimum, &node.maximum) {
            let empty = match compare_numbers(&min.limit, &max.limit) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => min.exclusive || max.exclusive,
                _ => false,
            };
            if empty {
                self.warning(
                    &path.key("minimum"),
                    format!(
                        "no number satisfies both minimum {} and maximum {}",
                        render(&min.limit),
                        render(&max.limit)
                    ),
                );
            }
        }
    }

    /// Top-level checks: every stored document has an `_id`, so additionalProperties false
    /// without it rejects every insert.
    fn check_top_level(&mut self, map: &Map<String, Value>, node: &Node) {
        if !matches!(node.additional_properties, Some(Extra::Forbidden)) {
            return;
        }
        let allowed = |name: &str| {
            node.properties.iter().any(|(p, _)| p == name)
                || node
                    .pattern_properties
                    .iter()
                    .any(|(p, _)| p.regex.is_match(name))
        };
        let ap = JsonPath::root().key("additionalProperties");
        if !allowed("_id") {
            self.warning(&ap, "additionalProperties is false but \"_id\" is not in properties: every document has an _id, so every insert would be rejected".into());
        }
        if let Some(Value::Array(names)) = map.get("required") {
            for (i, name) in names.iter().enumerate() {
                if let Value::String(name) = name
                    && name != "_id"
                    && !allowed(name)
                {
                    let rp = JsonPath::root().key("required").index(i);
                    self.warning(&rp, format!("required field {} is not in properties and additionalProperties is false: no document can satisfy both", quote(name)));
                }
            }
        }
    }

    fn types(&mut self, keyword: &'static str, value: &Value, path: &JsonPath) -> Option<Types> {
        let listed: Vec<(&Value, JsonPath)> = match value {
            Value::String(_) => vec![(value, path.clone())],
            Value::Array(items) if items.is_empty() => {
                self.error(path, format!("{keyword} must name at least one type"));
                return None;
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (v, path.index(i)))
                .collect(),
            other => {
                self.error(
                    path,
                    format!(
                        "{keyword} must be a type name or an array of type names, found {}",
                        json_kind(other)
                    ),
                );
                return None;
            }
        };
        let mut names: Vec<&'static str> = Vec::new();
        let mut ok = true;
        for (item, item_path) in listed {
            let Value::String(name) = item else {
                self.error(
                    &item_path,
                    format!(
                        "{keyword} array elements must be strings, found {}",
                        json_kind(item)
                    ),
                );
                ok = false;
                continue;
            };
            match self.bson_type(keyword, name, &item_path) {
                Some(known) if names.contains(&known) => {
                    self.error(&item_path, format!("{keyword} lists \"{known}\" twice"));
                    ok = false;
                }
                Some(known) => names.push(known),
                None => ok = false,
            }
        }
        ok.then_some(Types { keyword, names })
    }

    /// Resolves one type name, reporting the mistakes people actually make.
    fn bson_type(
        &mut self,
        keyword: &'static str,
        name: &str,
        path: &JsonPath,
    ) -> Option<&'static str> {
        let table = if keyword == "type" {
            JSON_TYPES
        } else {
            BSON_TYPES
        };
        if let Some(known) = table.iter().copied().find(|t| *t == name) {
            return Some(known);
        }
        let message = if name == "integer" {
            format!(
                "{keyword} \"integer\" is not supported by MongoDB's $jsonSchema; use bsonType \"int\" or \"long\" (or \"number\" for any numeric type)"
            )
        } else if keyword == "type" && BSON_TYPES.contains(&name) {
            format!(
                "\"{name}\" is a BSON type, not a JSON Schema type: use bsonType \"{name}\" (type accepts only {})",
                JSON_TYPES.join(", ")
            )
        } else if keyword == "type" {
            let hint = did_you_mean(name, JSON_TYPES.iter().copied())
                .map(|s| format!("did you mean \"{s}\"? "))
                .unwrap_or_default();
            format!(
                "unknown type \"{name}\"; {hint}type accepts only the JSON types {} (use bsonType for BSON types)",
                JSON_TYPES.join(", ")
            )
        } else {
            let guess = if name == "boolean" {
                Some("bool")
            } else {
                did_you_mean(name, BSON_TYPES.iter().copied())
            };
            let hint = guess
                .map(|s| format!("did you mean \"{s}\"? "))
                .unwrap_or_default();
            format!(
                "unknown bsonType \"{name}\"; {hint}MongoDB's type aliases are {}",
                BSON_TYPES.join(", ")
            )
        };
        self.error(path, message);
        None
    }

    fn enumeration(&mut self, value: &Value, path: &JsonPath) -> Option<Vec<Bson>> {
        let items = match value {
            Value::Array(items) if !items.is_empty() => items,
            Value::Array(_) => {
                self.error(path, "enum must not be empty".into());
                return None;
            }
            other => {
                self.error(
                    path,
                    format!("enum must be an array, found {}", json_kind(other)),
                );
                return None;
            }
        };
        let mut values: Vec<Bson> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match Bson::try_from(item.clone()) {
                Ok(v) => {
                    if let Some(first) = values.iter().position(|seen| bson_eq(seen, &v)) {
                        self.error(&path.index(i), format!("enum value {} duplicates enum[{first}] (mongod rejects duplicate enum values)", render(&v)));
                    }
                    values.push(v);
                }
                Err(e) => self.error(
                    &path.index(i),
                    format!("invalid Extended JSON in enum: {e}"),
                ),
            }
        }
        (values.len() == items.len()).then_some(values)
    }

    fn number(&mut self, keyword: &str, value: &Value, path: &JsonPath) -> Option<Bson> {
        let n = json_number(value);
        if n.is_none() {
            self.error(
                path,
                format!("{keyword} must be a number, found {}", json_kind(value)),
            );
        }
        n
    }

    fn multiple_of(&mut self, value: &Value, path: &JsonPath) -> Option<Bson> {
        let n = self.number("multipleOf", value, path)?;
        let zero = Bson::Int32(0);
        if matches!(
            compare_numbers(&n, &zero),
            Some(Ordering::Less | Ordering::Equal)
        ) {
            self.error(
                path,
                format!("multipleOf must be greater than 0, found {}", render(&n)),
            );
            return None;
        }
        Some(n)
    }

    fn boolean(&mut self, keyword: &str, value: &Value, path: &JsonPath) -> Option<bool> {
        let b = value.as_bool();
        if b.is_none() {
            self.error(
                path,
                format!("{keyword} must be a boolean, found {}", json_kind(value)),
            );
        }
        b
    }

    /// A length or count keyword: mongod wants a whole number (1.0 is fine) that fits an i64.
    fn count(&mut self, keyword: &str, value: &Value, path: &JsonPath) -> Option<u64> {
        let number = json_number(value);
        let count = number.as_ref().and_then(|n| Exact::of(n).to_u63());
        if count.is_none() {
            let found = number
                .as_ref()
                .map_or_else(|| json_kind(value).to_string(), render);
            self.error(
                path,
                format!("{keyword} must be a non-negative integer, found {found}"),
            );
        }
        count
    }

    fn regex(&mut self, source: &str, path: &JsonPath) -> Option<Pattern> {
        match compile_pcre(source) {
            Ok(regex) => Some(Pattern {
                source: source.to_string(),
                regex,
            }),
            Err(why) => {
                self.error(path, why);
                None
            }
        }
    }

    /// `required` or a `dependencies` array: a non-empty array of distinct field names.
    fn field_names(
        &mut self,
        keyword: &str,
        value: &Value,
        path: &JsonPath,
    ) -> Option<Vec<String>> {
        let items = match value {
            Value::Array(items) if !items.is_empty() => items,
            Value::Array(_) => {
                self.error(path, format!("{keyword} must not be an empty array"));
                return None;
            }
            other => {
                self.error(
                    path,
                    format!(
                        "{keyword} must be an array of field names, found {}",
                        json_kind(other)
                    ),
                );
                return None;
            }
        };
        let mut names: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = path.index(i);
            match item {
                Value::String(name) if names.contains(name) => {
                    self.error(&ip, format!("{keyword} lists {} twice", quote(name)))
                }
                Value::String(name) => {
                    self.dotted(name, &ip);
                    names.push(name.clone());
                }
                other => self.error(
                    &ip,
                    format!(
                        "{keyword} must contain only strings, found {}",
                        json_kind(other)
                    ),
                ),
            }
        }
        (names.len() == items.len()).then_some(names)
    }

    /// A dotted name is a path for mongod in properties, required and dependencies, but a
    /// literal field name in additionalProperties: mongoctl refuses the ambiguity.
    fn dotted(&mut self, name: &str, path: &JsonPath) {
        if name.contains('.') {
            self.error(
                path,
                format!("field name {} contains '.': mongod reads it as a path into embedded documents here but as a literal name elsewhere, and mongoctl cannot check it offline; nest the schema under properties instead", quote(name)),
            );
        }
    }

    fn properties(&mut self, value: &Value, path: &JsonPath) -> Vec<(String, Node)> {
        let Value::Object(map) = value else {
            self.error(
                path,
                format!("properties must be an object, found {}", json_kind(value)),
            );
            return Vec::new();
        };
        let mut properties = Vec::new();
        for (name, sub) in map {
            let sp = path.key(name.as_str());
            if name.is_empty() {
                self.error(&sp, "empty property name: mongod 6.0 aborts (invariant failure) when it validates against it".into());
            }
            self.dotted(name, &sp);
            match sub {
                Value::Object(m) => properties.push((name.clone(), self.schema(m, &sp))),
                other => self.error(
                    &sp,
                    format!(
                        "the schema for property {} must be an object, found {}",
                        quote(name),
                        json_kind(other)
                    ),
                ),
            }
        }
        properties
    }

    fn pattern_properties(&mut self, value: &Value, path: &JsonPath) -> Vec<(Pattern, Node)> {
        let Value::Object(map) = value else {
            self.error(
                path,
                format!(
                    "patternProperties must be an object, found {}",
                    json_kind(value)
                ),
            );
            return Vec::new();
        };
        let mut patterns = Vec::new();
        for (source, sub) in map {
            let sp = path.key(source.as_str());
            let pattern = self.regex(source, &sp);
            let node = match sub {
                Value::Object(m) => Some(self.schema(m, &sp)),
                other => {
                    self.error(
                        &sp,
                        format!(
                            "the schema for pattern {} must be an object, found {}",
                            quote(source),
                            json_kind(other)
                        ),
                    );
                    None
                }
            };
            if let (Some(pattern), Some(node)) = (pattern, node) {
                patterns.push((pattern, node));
            }
        }
        patterns
    }

    fn dependencies(&mut self, value: &Value, path: &JsonPath) -> Vec<(String, Dependency)> {
        let Value::Object(map) = value else {
            self.error(
                path,
                format!("dependencies must be an object, found {}", json_kind(value)),
            );
            return Vec::new();
        };
        let mut dependencies = Vec::new();
        for (name, dep) in map {
            let dp = path.key(name.as_str());
            self.dotted(name, &dp);
            let dependency = match dep {
                Value::Array(_) => self
                    .field_names(&format!("dependencies.{name}"), dep, &dp)
                    .map(Dependency::Fields),
                Value::Object(m) => Some(Dependency::Schema(Box::new(self.schema(m, &dp)))),
                other => {
                    self.error(&dp, format!("dependency {} must be an array of field names or a schema (an object), found {}", quote(name), json_kind(other)));
                    None
                }
            };
            if let Some(dependency) = dependency {
                dependencies.push((name.clone(), dependency));
            }
        }
        dependencies
    }

    /// allOf/anyOf/oneOf (non-empty) and tuple-form items (may be empty).
    fn schema_list(
        &mut self,
        keyword: &str,
        value: &Value,
        path: &JsonPath,
        allow_empty: bool,
    ) -> Option<Vec<Node>> {
        let items = match value {
            Value::Array(items) if allow_empty || !items.is_empty() => items,
            Value::Array(_) => {
                self.error(path, format!("{keyword} must not be an empty array"));
                return None;
            }
            other => {
                self.error(
                    path,
                    format!(
                        "{keyword} must be an array of schemas, found {}",
                        json_kind(other)
                    ),
                );
                return None;
            }
        };
        let mut nodes = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::Object(m) => nodes.push(self.schema(m, &path.index(i))),
                other => self.error(
                    &path.index(i),
                    format!(
                        "{keyword} must contain only schemas (objects), found {}",
                        json_kind(other)
                    ),
                ),
            }
        }
        (nodes.len() == items.len()).then_some(nodes)
    }

    /// `encrypt` / `encryptMetadata` (client-side field level encryption); returns the types
    /// `encrypt.bsonType` allows.
    fn encryption(
        &mut self,
        keyword: &str,
        value: &Value,
        path: &JsonPath,
    ) -> Option<Vec<&'static str>> {
        let Value::Object(map) = value else {
            self.error(
                path,
                format!("{keyword} must be an object, found {}", json_kind(value)),
            );
            return None;
        };
        let mut types = None;
        let metadata = keyword == "encryptMetadata";
        if metadata && map.is_empty() {
            self.error(path, "encryptMetadata must not be empty".into());
        }
        let fields: &[&str] = if metadata {
            &["keyId", "algorithm"]
        } else {
            &["keyId", "algorithm", "bsonType"]
        };
        for (key, v) in map {
            let kp = path.key(key.as_str());
            match key.as_str() {
                "algorithm" => {
                    if !v
                        .as_str()
                        .is_some_and(|a| ENCRYPTION_ALGORITHMS.contains(&a))
                    {
                        self.error(
                            &kp,
                            format!(
                                "algorithm must be one of {}",
                                ENCRYPTION_ALGORITHMS.join(", ")
                            ),
                        );
                    }
                }
                "keyId" => {
                    let ok = match v {
                        Value::String(pointer) => pointer.starts_with('/'),
                        Value::Array(ids) => ids
                            .iter()
                            .all(|id| matches!(Bson::try_from(id.clone()), Ok(Bson::Binary(_)))),
                        _ => false,
                    };
                    if !ok {
                        self.error(&kp, "keyId must be a JSON pointer starting with '/' or an array of binData key ids".into());
                    }
                }
                "bsonType" if !metadata => types = self.types("bsonType", v, &kp).map(|t| t.names),
                other => {
                    let hint = did_you_mean(other, fields.iter().copied())
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default();
                    self.error(&kp, format!("unknown field \"{other}\" in {keyword}{hint}"));
                }
            }
        }
        types
    }
}

/// A numeric keyword value: a JSON number, or Extended JSON such as `{"$numberDecimal": "0.1"}`
/// (schemas reach the server through Extended JSON, so those are numbers too).
fn json_number(v: &Value) -> Option<Bson> {
    match v {
        Value::Number(_) | Value::Object(_) => Bson::try_from(v.clone()).ok().filter(is_number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonschema::{CompiledSchema, lint};

    use serde_json::json;

    fn messages(schema: Value) -> Vec<String> {
        lint(&schema)
            .into_iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect()
    }

    #[test]
    fn lint_reports_unknown_and_unsupported_keywords() {
        let found = messages(
            json!({ "requried": ["a"], "properties": { "a": { "$ref": "#/x", "format": "email" } }, "const": 1 }),
        );
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            found[0]
                .contains("unknown $jsonSchema keyword \"requried\"; did you mean \"required\"?")
        );
        assert!(found[1].starts_with(
            "properties.a.$ref: keyword \"$ref\" is not supported by MongoDB's $jsonSchema"
        ));
        assert!(found[2].contains("\"format\" is not supported by MongoDB's $jsonSchema"));
        assert!(found[3].contains("unknown $jsonSchema keyword \"const\""));
    }

    #[test]
    fn lint_reports_type_mistakes() {
        let found = messages(json!({ "properties": {
            "a": { "type": "integer" },
            "b": { "type": "int" },
            "c": { "bsonType": "boolean" },
            "d": { "bsonType": "strng" },
            "e": { "type": "string", "bsonType": "string" },
            "f": { "bsonType": ["int", "int"] },
            "g": { "bsonType": [] }
        }}));
        assert_eq!(found.len(), 7, "{found:?}");
        assert!(found[0].contains("use bsonType \"int\" or \"long\""));
        assert!(
            found[1]
                .contains("\"int\" is a BSON type, not a JSON Schema type: use bsonType \"int\"")
        );
        assert!(found[2].contains("did you mean \"bool\"?"));
        assert!(found[3].contains(
            "did you mean \"string\"? MongoDB's type aliases are double, string, object"
        ));
        assert!(found[4].contains("cannot have both \"type\" and \"bsonType\""));
        assert!(found[5].starts_with("properties.f.bsonType[1]: bsonType lists \"int\" twice"));
        assert!(found[6].contains("must name at least one type"));
    }

    #[test]
    fn lint_reports_value_shapes() {
        let found = messages(json!({
            "required": [],
            "enum": [1, 1.0],
            "minimum": "1",
            "minLength": -1,
            "maxLength": 1.5,
            "exclusiveMaximum": 1,
            "items": 3,
            "dependencies": { "a": [1], "b": 2 },
            "pattern": "(",
            "multipleOf": 0,
            "properties": { "x": true },
            "additionalItems": "no",
            "anyOf": []
        }));
        let expected = [
            "required: required must not be an empty array",
            "enum[1]: enum value 1.0 duplicates enum[0]",
            "minimum: minimum must be a number, found a string",
            "minLength: minLength must be a non-negative integer, found -1",
            "maxLength: maxLength must be a non-negative integer, found 1.5",
            "exclusiveMaximum: exclusiveMaximum must be a boolean",
            "items: items must be a schema (an object) or an array of schemas, found a number",
            "dependencies.a[0]: dependencies.a must contain only strings",
            "dependencies.b: dependency \"b\" must be an array of field names or a schema",
            "pattern: invalid regular expression \"(\"",
            "multipleOf: multipleOf must be greater than 0, found 0",
            "properties.x: the schema for property \"x\" must be an object, found a boolean",
            "additionalItems: additionalItems must be a boolean or a schema",
            "anyOf: anyOf must not be an empty array",
        ];
        assert_eq!(found.len(), expected.len(), "{found:?}");
        for (f, e) in found.iter().zip(expected) {
            assert!(f.starts_with(e), "{f:?} does not start with {e:?}");
        }
    }

    #[test]
    fn lint_requires_limits_for_exclusive_flags_and_an_object_at_the_top() {
        let found =
            messages(json!({ "exclusiveMinimum": true, "maximum": 3, "exclusiveMaximum": false }));
        assert_eq!(
            found,
            ["exclusiveMinimum: exclusiveMinimum requires minimum in the same schema"]
        );
        assert_eq!(
            messages(json!([])),
            ["$: a $jsonSchema must be an object, found an array"]
        );
    }

    #[test]
    fn lint_flags_fields_mongod_reads_as_paths_or_crashes_on() {
        let found = messages(json!({ "required": ["a.b"], "properties": { "": {} } }));
        assert_eq!(found.len(), 2);
        assert!(found[0].contains("contains '.'"));
        assert!(found[1].contains("empty property name"));
    }

    #[test]
    fn lint_warns_without_failing_compilation() {
        let schema = json!({ "additionalProperties": false, "properties": { "name": {} }, "required": ["name", "email"], "minLength": 3, "maxLength": 2 });
        let issues = lint(&schema);
        assert!(issues.iter().all(|i| i.severity == Severity::Warning));
        let text: Vec<_> = issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].contains("minLength 3 is greater than maxLength 2"));
        assert!(text[1].contains("\"_id\" is not in properties"));
        assert!(text[2].contains("required field \"email\" is not in properties"));
        assert!(CompiledSchema::compile(&schema).is_ok());
        assert!(
            CompiledSchema::compile(&json!({ "type": "integer", "foo": 1 }))
                .is_err_and(|e| e.len() == 2)
        );
    }
}
