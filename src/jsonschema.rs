//! MongoDB's `$jsonSchema` dialect (the draft-4 subset mongod accepts): a lint that reports every
//! construct the server would reject, plus a few it accepts but that cannot be what the author
//! meant, and an offline validator that reproduces mongod 6.0's verdict on a document and explains
//! each failure field by field.
//!
//! Where mongod and the JSON Schema specification disagree the validator follows mongod, because
//! the point is to predict what an insert will do:
//! - a keyword only constrains values of its own BSON type (`minimum` ignores strings, `required`
//!   ignores arrays, ...); only `type`/`bsonType`, `enum`, `encrypt` and the combinators apply to all;
//! - numbers compare by exact value across int, long, double and decimal;
//! - `enum` and `uniqueItems` compare embedded documents without regard to field order;
//! - `multipleOf` divides Decimal128 values, and a double first keeps only 15 significant digits,
//!   so 0.3 is a multiple of 0.1;
//! - `pattern` and `patternProperties` are PCRE: `\d`, `\w`, `\s` and `\b` are ASCII-only and `$`
//!   also matches before a final newline;
//! - a document without `_id` is checked with the ObjectId `_id` the server will give it.

use std::cmp::Ordering;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Bson, Document};
use serde_json::{Map, Value};

use crate::hints::{did_you_mean, json_kind};
use crate::jsonpath::{JsonPath, Seg};

/// How serious a lint finding is: errors are rejected by mongod (or crash it, or cannot be
/// checked offline); warnings are accepted but almost certainly wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem in a schema file; `path` points inside the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaIssue {
    pub path: JsonPath,
    pub message: String,
    pub severity: Severity,
}

/// A reason a document fails the schema; `path` points inside the document and `keyword` names
/// the schema keyword that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: JsonPath,
    pub keyword: &'static str,
    pub message: String,
}

/// A schema checked and prepared once (regular expressions compiled) to validate many documents.
#[derive(Debug, Clone)]
pub struct CompiledSchema {
    root: Node,
}

impl CompiledSchema {
    /// Lints and compiles `schema`. Fails with every issue found (warnings included) when at
    /// least one of them is an error; warnings alone do not prevent compilation.
    pub fn compile(schema: &Value) -> Result<CompiledSchema, Vec<SchemaIssue>> {
        let (root, issues) = Linter::run(schema);
        match root {
            Some(root) if issues.iter().all(|i| i.severity == Severity::Warning) => {
                Ok(CompiledSchema { root })
            }
            _ => Err(issues),
        }
    }

    /// Every reason mongod 6.0 would refuse to insert `doc`; empty when it would accept it.
    pub fn validate(&self, doc: &Document) -> Vec<Violation> {
        let generated_id = !doc.contains_key("_id");
        let root = if generated_id {
            let mut with_id = Document::new();
            with_id.insert("_id", ObjectId::new());
            with_id.extend(doc.clone());
            Bson::Document(with_id)
        } else {
            Bson::Document(doc.clone())
        };
        let mut failures = Vec::new();
        check(&self.root, &root, &JsonPath::root(), &mut failures);
        failures
            .into_iter()
            .map(|f| f.into_violation(generated_id))
            .collect()
    }
}

/// Every issue in `schema`, errors and warnings, in file order.
pub fn lint(schema: &Value) -> Vec<SchemaIssue> {
    Linter::run(schema).1
}

// ---------------------------------------------------------------------------------------------
// Keywords and type names
// ---------------------------------------------------------------------------------------------

/// Every keyword mongod 6.0 accepts in a `$jsonSchema`.
const KEYWORDS: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "allOf",
    "anyOf",
    "bsonType",
    "dependencies",
    "description",
    "encrypt",
    "encryptMetadata",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "oneOf",
    "pattern",
    "patternProperties",
    "properties",
    "required",
    "title",
    "type",
    "uniqueItems",
];

/// Draft-4 keywords mongod recognises but refuses.
const UNSUPPORTED_KEYWORDS: &[&str] =
    &["$ref", "$schema", "default", "definitions", "format", "id"];

/// MongoDB's type aliases, as `bsonType` spells them.
const BSON_TYPES: &[&str] = &[
    "double",
    "string",
    "object",
    "array",
    "binData",
    "undefined",
    "objectId",
    "bool",
    "date",
    "null",
    "regex",
    "dbPointer",
    "javascript",
    "symbol",
    "javascriptWithScope",
    "int",
    "timestamp",
    "long",
    "decimal",
    "minKey",
    "maxKey",
    "number",
];

/// The JSON Schema types `type` accepts (`integer` is not among them in MongoDB).
const JSON_TYPES: &[&str] = &["array", "boolean", "null", "number", "object", "string"];

/// The algorithms `encrypt` and `encryptMetadata` accept.
const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic",
    "AEAD_AES_256_CBC_HMAC_SHA_512-Random",
];

/// The alias of a value's BSON type, as messages and `bsonType` name it.
pub fn bson_type(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
    }
}

fn is_number(v: &Bson) -> bool {
    matches!(
        v,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_)
    )
}

/// Whether `v` has the type `name` names, for both `type` and `bsonType` names.
fn has_type(v: &Bson, name: &str) -> bool {
    match name {
        "number" => is_number(v),
        "boolean" => matches!(v, Bson::Boolean(_)),
        _ => bson_type(v) == name,
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Lint and compilation (one pass: the compiled tree is only used when no error was found)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Node {
    types: Option<Types>,
    encrypt: Option<Encrypt>,
    enumeration: Option<Vec<Bson>>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    multiple_of: Option<Bson>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Pattern>,
    required: Vec<String>,
    properties: Vec<(String, Node)>,
    pattern_properties: Vec<(Pattern, Node)>,
    additional_properties: Option<Extra>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    dependencies: Vec<(String, Dependency)>,
    items: Option<Items>,
    additional_items: Option<Extra>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Box<Node>>,
}

/// `type` or `bsonType`: which keyword (for messages) and the names it accepts.
#[derive(Debug, Clone)]
struct Types {
    keyword: &'static str,
    names: Vec<&'static str>,
}

/// `encrypt`: the value must be ciphertext; with `bsonType`, ciphertext of one of those types.
#[derive(Debug, Clone)]
struct Encrypt {
    types: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
struct Bound {
    limit: Bson,
    exclusive: bool,
}

#[derive(Debug, Clone)]
struct Pattern {
    source: String,
    regex: Pcre,
}

/// `additionalProperties`/`additionalItems` when they constrain something (`true` does not).
#[derive(Debug, Clone)]
enum Extra {
    Forbidden,
    Schema(Box<Node>),
}

#[derive(Debug, Clone)]
enum Items {
    Each(Box<Node>),
    Tuple(Vec<Node>),
}

#[derive(Debug, Clone)]
enum Dependency {
    Fields(Vec<String>),
    Schema(Box<Node>),
}

struct Linter {
    issues: Vec<SchemaIssue>,
}

impl Linter {
    fn run(schema: &Value) -> (Option<Node>, Vec<SchemaIssue>) {
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

// ---------------------------------------------------------------------------------------------
// PCRE
// ---------------------------------------------------------------------------------------------

/// A `pattern` compiled as mongod 6.0 compiles it: PCRE in UTF-8 mode without UCP, so `\d`, `\w`,
/// `\s` and `\b` are ASCII-only and `$` also matches before a final newline. Lookaround,
/// backreferences, atomic groups and possessive quantifiers all mean what they mean on the server.
#[derive(Debug, Clone)]
struct Pcre(pcre2::bytes::Regex);

impl Pcre {
    /// JSON Schema `pattern` is an unanchored search.
    fn is_match(&self, s: &str) -> bool {
        // A match error (PCRE's backtracking limit) fails the match on the server as well.
        self.0.is_match(s.as_bytes()).unwrap_or(false)
    }
}

/// Compiles a pattern as mongod does, or says why mongod would refuse it (in PCRE's words).
fn compile_pcre(source: &str) -> Result<Pcre, String> {
    let invalid = |reason: &str| format!("invalid regular expression {}: {reason}", quote(source));
    let pcre1 = as_pcre1(source).map_err(invalid)?;
    // mongod compiles the pattern inside a group, after the option verbs that must open it
    // (`(*UCP)`): a trailing `#` comment in (?x) mode, or an unterminated \Q, swallows its `)`.
    let (verbs, body) = leading_verbs(&pcre1);
    let wrapped = format!("{verbs}(?:{body})");
    if let Some(why) = pcre1_compile_error(&wrapped) {
        return Err(invalid(&why));
    }
    pcre2::bytes::RegexBuilder::new()
        .utf(true)
        .jit_if_available(true)
        .build(&wrapped)
        .map(Pcre)
        .map_err(|e| invalid(&e.to_string()))
}

/// PCRE 8 requires each branch of a lookbehind to have a fixed length; PCRE2 accepts bounded
/// variable-length ones unless its compile context says otherwise, which the `pcre2` crate's
/// builder cannot say. So the pattern is first compiled here with that limit, for its verdict.
fn pcre1_compile_error(pattern: &str) -> Option<String> {
    use pcre2_sys::*;
    let mut code = 0;
    let mut offset = 0;
    // SAFETY: the context and the compiled code are freed before returning; the pattern is
    // passed with its length and the error buffer with its size.
    unsafe {
        let ctx = pcre2_compile_context_create_8(std::ptr::null_mut());
        if ctx.is_null() {
            return None;
        }
        pcre2_set_max_varlookbehind_8(ctx, 0);
        let re = pcre2_compile_8(
            pattern.as_ptr(),
            pattern.len(),
            PCRE2_UTF,
            &mut code,
            &mut offset,
            ctx,
        );
        pcre2_compile_context_free_8(ctx);
        if !re.is_null() {
            pcre2_code_free_8(re);
            return None;
        }
        let mut buf = [0u8; 256];
        let n = pcre2_get_error_message_8(code, buf.as_mut_ptr(), buf.len());
        Some(match usize::try_from(n) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(_) => format!("PCRE error {code}"),
        })
    }
}

/// Splits off the `(*UCP)`-style option verbs PCRE reads only at the very start of a pattern;
/// PCRE 8's `(*UTF8)` is PCRE2's `(*UTF)`.
fn leading_verbs(pattern: &str) -> (String, &str) {
    let mut verbs = String::new();
    let mut rest = pattern;
    while let Some(inner) = rest.strip_prefix("(*")
        && let Some(end) = inner.find(')')
        && inner[..end]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '=')
        && inner[..end].starts_with(|c: char| c.is_ascii_uppercase())
    {
        let verb = &inner[..end];
        verbs.push_str(&format!("(*{})", if verb == "UTF8" { "UTF" } else { verb }));
        rest = &inner[end + 1..];
    }
    (verbs, rest)
}

/// mongod 6.0 links PCRE 8.x, the crate PCRE2 10.4x. Where the two dialects differ this makes
/// PCRE2 read the pattern as PCRE 8 does: `{` is a literal unless it starts `{n}`, `{n,}` or
/// `{n,m}` (PCRE2 also reads `{,m}` and `{ n }` as repetitions), and the syntax PCRE2 added
/// (`(*pla:`-style alpha assertions, `(?*` non-atomic lookaround, `(?^`) is an error there.
fn as_pcre1(pattern: &str) -> Result<String, &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                out.push('\\');
                let Some(&e) = chars.get(i) else { break };
                out.push(e);
                i += 1;
                if e == 'Q' {
                    // \Q...\E quotes everything in between, braces included.
                    while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                        out.push(chars[i]);
                        i += 1;
                    }
                } else if "xopPgkN".contains(e) && chars.get(i) == Some(&'{') {
                    // \x{..}, \p{..}, \g{..}: the braces belong to the escape.
                    while i < chars.len() {
                        out.push(chars[i]);
                        i += 1;
                        if chars[i - 1] == '}' {
                            break;
                        }
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` right after `[` or `[^` is a literal member.
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push(']');
                    i += 1;
                }
            }
            '[' if chars.get(i) == Some(&':') => {
                // A POSIX class such as [:alpha:] inside a class.
                let len = chars[i..]
                    .windows(2)
                    .position(|w| w == [':', ']'])
                    .map_or(0, |end| end + 2);
                out.push('[');
                out.extend(&chars[i..i + len]);
                i += len;
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ if in_class => out.push(c),
            '(' if chars.get(i) == Some(&'?') && chars.get(i + 1) == Some(&'#') => {
                // A comment runs to the first `)`.
                let end = chars[i..]
                    .iter()
                    .position(|&ch| ch == ')')
                    .map_or(chars.len(), |p| i + p + 1);
                out.extend(&chars[i - 1..end]);
                i = end;
            }
            '(' => {
                let next: String = chars[i..].iter().take(3).collect();
                if next.starts_with("?*") || next.starts_with("?<*") {
                    return Err("non-atomic lookaround (?* is not PCRE 8 syntax");
                }
                if next.starts_with("?^") {
                    return Err("(?^ is not PCRE 8 syntax");
                }
                if next.starts_with('*')
                    && next[1..].starts_with(|ch: char| ch.is_ascii_lowercase())
                {
                    return Err("(*name: alpha assertions are not PCRE 8 syntax");
                }
                out.push('(');
            }
            '{' if counted_repetition(&chars[i - 1..]).is_none() => out.push_str(r"\{"),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// The length of `{n}`, `{n,}` or `{n,m}` at the start of `chars`; PCRE 8 reads anything else as
/// literal text.
fn counted_repetition(chars: &[char]) -> Option<usize> {
    let close = chars.iter().position(|&c| c == '}')?;
    let inner: String = chars[1..close].iter().collect();
    let (low, high) = inner.split_once(',').unwrap_or((&inner, "0"));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    (!low.is_empty() && digits(low) && digits(high)).then_some(close + 1)
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/// An exact decimal value `0.DIGITS × 10^exp`, so that int, long, double and decimal compare by
/// value as mongod compares them: a double is never rounded to meet a decimal.
#[derive(Debug, Clone, PartialEq)]
enum Exact {
    NaN,
    Infinite {
        negative: bool,
    },
    /// `digits` are 0..=9 without leading or trailing zeros; zero has no digits and is positive.
    Finite {
        negative: bool,
        digits: Vec<u8>,
        exp: i64,
    },
}

impl Exact {
    fn of(n: &Bson) -> Exact {
        match n {
            Bson::Int32(i) => Exact::integer(i64::from(*i)),
            Bson::Int64(i) => Exact::integer(*i),
            Bson::Double(f) => Exact::double(*f),
            Bson::Decimal128(d) => Exact::decimal(d),
            _ => Exact::NaN,
        }
    }

    /// `coefficient × 10^exp10`, normalised.
    fn finite(negative: bool, coefficient: &[u8], exp10: i64) -> Exact {
        let start = coefficient
            .iter()
            .position(|&d| d != 0)
            .unwrap_or(coefficient.len());
        let significant = &coefficient[start..];
        let end = significant
            .iter()
            .rposition(|&d| d != 0)
            .map_or(0, |p| p + 1);
        let exp = exp10 + significant.len() as i64;
        let digits = significant[..end].to_vec();
        let negative = negative && !digits.is_empty();
        Exact::Finite {
            negative,
            exp: if digits.is_empty() { 0 } else { exp },
            digits,
        }
    }

    fn integer(i: i64) -> Exact {
        Exact::finite(i < 0, &decimal_digits(u128::from(i.unsigned_abs())), 0)
    }

    fn double(f: f64) -> Exact {
        if f.is_nan() {
            return Exact::NaN;
        }
        if f.is_infinite() {
            return Exact::Infinite { negative: f < 0.0 };
        }
        // 800 fractional digits in scientific notation exceed the 767 significant digits a
        // double can need, so this is the exact value.
        let text = format!("{:.800e}", f.abs());
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let digits: Vec<u8> = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let exponent: i64 = exponent.parse().unwrap_or(0);
        Exact::finite(f < 0.0, &digits, exponent + 1 - digits.len() as i64)
    }

    /// Decodes the BSON Decimal128 layout (IEEE 754-2008 BID); non-canonical coefficients read
    /// as zero, as the specification requires.
    fn decimal(d: &bson::Decimal128) -> Exact {
        const MAX_COEFFICIENT: u128 = 10u128.pow(34) - 1;
        let bits = u128::from_le_bytes(d.bytes());
        let negative = bits >> 127 == 1;
        match (bits >> 122) & 0x1f {
            0x1f => return Exact::NaN,
            0x1e => return Exact::Infinite { negative },
            _ => {}
        }
        let (exponent, coefficient) = if (bits >> 125) & 0b11 == 0b11 {
            ((bits >> 111) & 0x3fff, 0)
        } else {
            let c = bits & ((1u128 << 113) - 1);
            (
                (bits >> 113) & 0x3fff,
                if c > MAX_COEFFICIENT { 0 } else { c },
            )
        };
        Exact::finite(
            negative,
            &decimal_digits(coefficient),
            exponent as i64 - 6176,
        )
    }

    /// The value as a non-negative whole number that fits an i64, if it is one.
    fn to_u63(&self) -> Option<u64> {
        match self {
            Exact::Finite {
                negative: false,
                digits,
                exp,
            } if *exp >= digits.len() as i64 && *exp <= 19 => {
                let mut n: u64 = 0;
                for k in 0..*exp as usize {
                    n = n
                        .checked_mul(10)?
                        .checked_add(u64::from(digits.get(k).copied().unwrap_or(0)))?;
                }
                (n <= i64::MAX as u64).then_some(n)
            }
            _ => None,
        }
    }

    /// Rounds to `n` significant digits, ties to even (Decimal128's rounding).
    fn round_to(&self, n: usize) -> Exact {
        let Exact::Finite {
            negative,
            digits,
            exp,
        } = self
        else {
            return self.clone();
        };
        if digits.len() <= n {
            return self.clone();
        }
        let mut kept = digits[..n].to_vec();
        let rest = &digits[n..];
        let round_up = match rest[0].cmp(&5) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => {
                rest[1..].iter().any(|&d| d != 0) || kept.last().is_some_and(|d| d % 2 == 1)
            }
        };
        let mut exp = *exp;
        if round_up {
            let mut k = kept.len();
            loop {
                if k == 0 {
                    kept.insert(0, 1);
                    exp += 1;
                    break;
                }
                k -= 1;
                if kept[k] == 9 {
                    kept[k] = 0;
                } else {
                    kept[k] += 1;
                    break;
                }
            }
        }
        Exact::finite(*negative, &kept, exp - kept.len() as i64)
    }

    /// Coefficient and exponent (`c × 10^e`) of a value of at most 38 significant digits.
    fn coefficient(&self) -> Option<(u128, i64)> {
        let Exact::Finite { digits, exp, .. } = self else {
            return None;
        };
        let c = digits.iter().try_fold(0u128, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u128::from(d))
        })?;
        Some((c, exp - digits.len() as i64))
    }

    fn is_zero(&self) -> bool {
        matches!(self, Exact::Finite { digits, .. } if digits.is_empty())
    }

    /// Total order for numbers, except that NaN only equals NaN and compares with nothing else.
    fn compare(&self, other: &Exact) -> Option<Ordering> {
        let rank = |e: &Exact| match e {
            Exact::Infinite { negative: true } => -2,
            Exact::Finite { negative: true, .. } => -1,
            Exact::Finite { digits, .. } if digits.is_empty() => 0,
            Exact::Finite { .. } => 1,
            Exact::Infinite { negative: false } => 2,
            Exact::NaN => 3,
        };
        match (self, other) {
            (Exact::NaN, Exact::NaN) => Some(Ordering::Equal),
            (Exact::NaN, _) | (_, Exact::NaN) => None,
            (
                Exact::Finite {
                    negative,
                    digits: a,
                    exp: ea,
                },
                Exact::Finite {
                    digits: b, exp: eb, ..
                },
            ) if rank(self) == rank(other) && !a.is_empty() => {
                let magnitude = ea.cmp(eb).then_with(|| a.cmp(b));
                Some(if *negative {
                    magnitude.reverse()
                } else {
                    magnitude
                })
            }
            _ => Some(rank(self).cmp(&rank(other))),
        }
    }
}

fn decimal_digits(mut n: u128) -> Vec<u8> {
    let mut digits = Vec::new();
    while n > 0 {
        digits.push((n % 10) as u8);
        n /= 10;
    }
    digits.reverse();
    digits
}

/// Compares two BSON numbers by value; None when exactly one is NaN (NaN equals only NaN).
fn compare_numbers(a: &Bson, b: &Bson) -> Option<Ordering> {
    match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => Some(x.cmp(y)),
        (Bson::Int64(x), Bson::Int64(y)) => Some(x.cmp(y)),
        (Bson::Double(x), Bson::Double(y)) if x.is_nan() && y.is_nan() => Some(Ordering::Equal),
        (Bson::Double(x), Bson::Double(y)) => x.partial_cmp(y),
        _ => Exact::of(a).compare(&Exact::of(b)),
    }
}

/// The value mongod divides in `multipleOf`: Decimal128, where a double keeps 15 significant
/// digits (rounded to 34 first, as the conversion from binary does).
fn as_decimal128(n: &Bson) -> Exact {
    match n {
        Bson::Double(_) => Exact::of(n).round_to(34).round_to(15),
        _ => Exact::of(n),
    }
}

/// `multipleOf` as mongod evaluates it: the Decimal128 remainder must be exactly zero, and NaN or
/// infinite values never qualify.
fn is_multiple_of(value: &Bson, divisor: &Bson) -> bool {
    let (x, d) = (as_decimal128(value), as_decimal128(divisor));
    match (&x, &d) {
        (Exact::Finite { .. }, Exact::Infinite { .. }) => x.is_zero(),
        (Exact::Finite { .. }, Exact::Finite { .. }) if d.is_zero() => false,
        (Exact::Finite { .. }, Exact::Finite { .. }) if x.is_zero() => true,
        (Exact::Finite { .. }, Exact::Finite { .. }) => {
            let (Some((cx, ex)), Some((cd, ed))) = (x.coefficient(), d.coefficient()) else {
                return false;
            };
            if ex >= ed {
                // cx × 10^(ex-ed) mod cd, one power of ten at a time (cd < 10^34, so r × 10 fits).
                let mut r = cx % cd;
                for _ in 0..(ex - ed) {
                    if r == 0 {
                        break;
                    }
                    r = r * 10 % cd;
                }
                r == 0
            } else {
                u32::try_from(ed - ex)
                    .ok()
                    .and_then(|k| 10u128.checked_pow(k))
                    .and_then(|scale| cd.checked_mul(scale))
                    .is_some_and(|divisor| cx % divisor == 0)
            }
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// BSON equality as $jsonSchema uses it
// ---------------------------------------------------------------------------------------------

/// Equality for `enum` and `uniqueItems`: numbers by value, strings equal symbols, and embedded
/// documents regardless of field order (at any depth); arrays stay ordered.
fn bson_eq(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        _ if is_number(a) && is_number(b) => compare_numbers(a, b) == Some(Ordering::Equal),
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x == y,
        (Bson::Document(x), Bson::Document(y)) => documents_eq(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| bson_eq(p, q))
        }
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code == y.code && documents_eq(&x.scope, &y.scope)
        }
        _ => a == b,
    }
}

fn documents_eq(x: &Document, y: &Document) -> bool {
    if x.len() != y.len() {
        return false;
    }
    let mut xs: Vec<_> = x.iter().collect();
    let mut ys: Vec<_> = y.iter().collect();
    xs.sort_by(|p, q| p.0.cmp(q.0));
    ys.sort_by(|p, q| p.0.cmp(q.0));
    xs.iter()
        .zip(&ys)
        .all(|((kx, vx), (ky, vy))| kx == ky && bson_eq(vx, vy))
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// A violation before its message gets the path prefix, so that combinators can quote it.
struct Failure {
    path: JsonPath,
    keyword: &'static str,
    detail: String,
}

impl Failure {
    /// `generated_id`: the document had no `_id`, so failures about it concern the ObjectId the
    /// server would add; say so, since the user never wrote that field.
    fn into_violation(self, generated_id: bool) -> Violation {
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

fn check(node: &Node, value: &Bson, path: &JsonPath, out: &mut Vec<Failure>) {
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

// ---------------------------------------------------------------------------------------------
// Rendering values in messages
// ---------------------------------------------------------------------------------------------

const MAX_RENDERED: usize = 60;

fn truncate(mut s: String) -> String {
    if s.chars().count() > MAX_RENDERED {
        s = s.chars().take(MAX_RENDERED - 1).collect();
        s.push('…');
    }
    s
}

/// A string quoted as JSON, cut short (inside the quotes) when long.
fn render_str(s: &str) -> String {
    if s.chars().count() <= MAX_RENDERED {
        return quote(s);
    }
    let head: String = s.chars().take(MAX_RENDERED - 4).collect();
    let quoted = quote(&head);
    format!("{}…\"", &quoted[..quoted.len() - 1])
}

/// A value as a reader expects to see it: `7`, `7.5`, `"text"`, `2024-01-01T00:00:00Z`.
fn render(v: &Bson) -> String {
    match v {
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Double(f) if f.is_nan() => "NaN".into(),
        Bson::Double(f) if f.is_infinite() => {
            if *f > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            }
        }
        Bson::Double(f) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
        Bson::Double(f) if f.abs() >= 1e16 || f.abs() < 1e-5 => format!("{f:e}"),
        Bson::Double(f) => f.to_string(),
        Bson::Decimal128(d) => d.to_string(),
        Bson::String(s) => render_str(s),
        Bson::Boolean(b) => b.to_string(),
        Bson::Null => "null".into(),
        Bson::DateTime(d) => d.try_to_rfc3339_string().unwrap_or_else(|_| d.to_string()),
        Bson::ObjectId(id) => format!("ObjectId(\"{id}\")"),
        other => truncate(other.clone().into_relaxed_extjson().to_string()),
    }
}

fn render_list(values: &[Bson]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = values.iter().take(SHOWN).map(render).collect();
    if values.len() > SHOWN {
        parts.push("...".into());
    }
    format!("[{}]", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use serde_json::json;

    fn messages(schema: Value) -> Vec<String> {
        lint(&schema)
            .into_iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect()
    }

    fn violations(schema: Value, doc: Document) -> Vec<String> {
        let compiled = CompiledSchema::compile(&schema).expect("schema compiles");
        compiled
            .validate(&doc)
            .into_iter()
            .map(|v| v.message)
            .collect()
    }

    fn dec(s: &str) -> Bson {
        Bson::Decimal128(s.parse().unwrap())
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

    #[test]
    fn pcre_patterns_keep_their_meaning() {
        let matches = |p: &str, s: &str| compile_pcre(p).unwrap().is_match(s);
        assert!(!matches(r"^\d$", "٣"), "PCRE \\d is ASCII");
        assert!(!matches(r"^\w$", "é"));
        assert!(matches(r"^\W$", "é"));
        assert!(
            matches(r"^abc$", "abc\n"),
            "$ matches before a final newline"
        );
        assert!(!matches(r"^a.c$", "a\nc"));
        assert!(matches(r"\bé", "aé"), "\\b is an ASCII word boundary");
        assert!(matches(r"^\<$", "<"), "escaped punctuation is literal");
        assert!(matches(r"a{,2}", "a{,2}") && !matches(r"a{,2}", "aa"));
        assert!(matches(r"^a{ 1}$", "a{ 1}") && matches(r"^a{2}$", "aa"));
        assert!(matches(r"^[{,]\x{7b}\Q{,1}\E$", ",{{,1}"));
        assert!(matches(r"^[\w-]+$", "a-b") && matches(r"^\x{e9}\p{L}$", "éa"));
        assert!(matches(r"^[[:alpha:]]\s\Q.*\E$", "a\u{b}.*"));
        assert!(matches(r"(?i)^É(?#comment{,1})$", "é"));
        assert!(matches(r"^(?=.*[0-9])(?=.*[a-z]).{6,}$", "abc123"));
        assert!(!matches(r"^(?=.*[0-9])(?=.*[a-z]).{6,}$", "abcdef"));
        assert!(matches(r"(?<=a)b", "ab") && !matches(r"(?<!a)b", "ab"));
        assert!(matches(r"^(a)\1$", "aa") && !matches(r"^(a)\1$", "ab"));
        assert!(
            !matches(r"^a++a$", "aaa"),
            "possessive quantifiers give nothing back"
        );
        assert!(
            compile_pcre("[a")
                .unwrap_err()
                .starts_with("invalid regular expression \"[a\": missing terminating ]")
        );
        for pcre2_only in ["(*pla:a)", "(?*a)b", "(?^i)a"] {
            assert!(compile_pcre(pcre2_only).is_err(), "{pcre2_only}");
        }
    }

    #[test]
    fn numbers_compare_exactly_across_types() {
        let cmp = |a: &Bson, b: &Bson| compare_numbers(a, b);
        assert_eq!(
            cmp(&Bson::Int32(1), &Bson::Double(1.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp(
                &Bson::Int64(9_007_199_254_740_993),
                &Bson::Double(9_007_199_254_740_992.0)
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp(&dec("0.1"), &Bson::Double(0.1)), Some(Ordering::Less));
        assert_eq!(
            cmp(
                &dec("0.1000000000000000055511151231257827"),
                &Bson::Double(0.1)
            ),
            Some(Ordering::Less)
        );
        assert_eq!(cmp(&dec("-0"), &Bson::Int32(0)), Some(Ordering::Equal));
        assert_eq!(cmp(&dec("1.50"), &dec("15E-1")), Some(Ordering::Equal));
        assert_eq!(
            cmp(&dec("-Infinity"), &Bson::Double(f64::MIN)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(&Bson::Double(f64::NAN), &dec("NaN")),
            Some(Ordering::Equal)
        );
        assert_eq!(cmp(&Bson::Double(f64::NAN), &Bson::Int32(1)), None);
    }

    #[test]
    fn multiple_of_uses_decimal_arithmetic() {
        let m = |x: Bson, d: Bson| is_multiple_of(&x, &d);
        assert!(m(Bson::Double(0.3), Bson::Double(0.1)));
        assert!(m(Bson::Double(0.1 + 0.2), Bson::Double(0.3)));
        assert!(!m(Bson::Double(1.005), Bson::Double(0.01)));
        assert!(m(Bson::Double(1e20), Bson::Int32(5)) && !m(Bson::Double(1e20), Bson::Int32(3)));
        assert!(m(dec("7.5"), Bson::Double(2.5)) && !m(Bson::Int32(6), Bson::Double(2.5)));
        assert!(m(Bson::Int64(-9), Bson::Int32(3)) && m(Bson::Int32(0), Bson::Int32(3)));
        assert!(
            !m(Bson::Double(f64::INFINITY), Bson::Int32(3))
                && !m(Bson::Double(f64::NAN), Bson::Int32(3))
        );
        assert!(m(Bson::Int32(3), dec("1E-30")) && !m(dec("1E-30"), Bson::Int32(3)));
    }

    #[test]
    fn equality_ignores_field_order_but_not_array_order() {
        let a = Bson::Document(doc! { "x": 1, "y": [ { "p": 1, "q": 2 } ] });
        let b = Bson::Document(doc! { "y": [ { "q": 2.0, "p": 1_i64 } ], "x": 1 });
        assert!(bson_eq(&a, &b));
        assert!(!bson_eq(
            &Bson::Array(vec![1.into(), 2.into()]),
            &Bson::Array(vec![2.into(), 1.into()])
        ));
        assert!(!bson_eq(&Bson::Null, &Bson::Undefined));
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
