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

use bson::oid::ObjectId;
use bson::{Bson, Document};
use serde_json::Value;

use crate::jsonpath::JsonPath;

mod equality;
mod keywords;
mod lint;
mod message;
mod node;
mod number;
mod pcre;
mod validate;

pub use keywords::bson_type;
use lint::Linter;
use node::Node;
use validate::check;

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
