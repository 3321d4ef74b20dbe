//! The vocabulary of mongod 6.0's `$jsonSchema`: the keywords it accepts or refuses, the BSON
//! type names and aliases, and the type tests both the lint and the validator use.

use bson::Bson;

/// Every keyword mongod 6.0 accepts in a `$jsonSchema`.
pub(super) const KEYWORDS: &[&str] = &[
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
pub(super) const UNSUPPORTED_KEYWORDS: &[&str] =
    &["$ref", "$schema", "default", "definitions", "format", "id"];

/// MongoDB's type aliases, as `bsonType` spells them.
pub(super) const BSON_TYPES: &[&str] = &[
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
pub(super) const JSON_TYPES: &[&str] = &["array", "boolean", "null", "number", "object", "string"];

/// The algorithms `encrypt` and `encryptMetadata` accept.
pub(super) const ENCRYPTION_ALGORITHMS: &[&str] = &[
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

pub(super) fn is_number(v: &Bson) -> bool {
    matches!(
        v,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_)
    )
}

/// Whether `v` has the type `name` names, for both `type` and `bsonType` names.
pub(super) fn has_type(v: &Bson, name: &str) -> bool {
    match name {
        "number" => is_number(v),
        "boolean" => matches!(v, Bson::Boolean(_)),
        _ => bson_type(v) == name,
    }
}
