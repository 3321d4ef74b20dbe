//! The compiled schema tree: what the lint builds from a valid schema and the validator walks.
//! Kept apart from both so that neither depends on the other.

use bson::Bson;

use super::pcre::Pcre;

#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    pub(super) types: Option<Types>,
    pub(super) encrypt: Option<Encrypt>,
    pub(super) enumeration: Option<Vec<Bson>>,
    pub(super) minimum: Option<Bound>,
    pub(super) maximum: Option<Bound>,
    pub(super) multiple_of: Option<Bson>,
    pub(super) min_length: Option<u64>,
    pub(super) max_length: Option<u64>,
    pub(super) pattern: Option<Pattern>,
    pub(super) required: Vec<String>,
    pub(super) properties: Vec<(String, Node)>,
    pub(super) pattern_properties: Vec<(Pattern, Node)>,
    pub(super) additional_properties: Option<Extra>,
    pub(super) min_properties: Option<u64>,
    pub(super) max_properties: Option<u64>,
    pub(super) dependencies: Vec<(String, Dependency)>,
    pub(super) items: Option<Items>,
    pub(super) additional_items: Option<Extra>,
    pub(super) min_items: Option<u64>,
    pub(super) max_items: Option<u64>,
    pub(super) unique_items: bool,
    pub(super) all_of: Vec<Node>,
    pub(super) any_of: Vec<Node>,
    pub(super) one_of: Vec<Node>,
    pub(super) not: Option<Box<Node>>,
}

/// `type` or `bsonType`: which keyword (for messages) and the names it accepts.
#[derive(Debug, Clone)]
pub(super) struct Types {
    pub(super) keyword: &'static str,
    pub(super) names: Vec<&'static str>,
}

/// `encrypt`: the value must be ciphertext; with `bsonType`, ciphertext of one of those types.
#[derive(Debug, Clone)]
pub(super) struct Encrypt {
    pub(super) types: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
pub(super) struct Bound {
    pub(super) limit: Bson,
    pub(super) exclusive: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) source: String,
    pub(super) regex: Pcre,
}

/// `additionalProperties`/`additionalItems` when they constrain something (`true` does not).
#[derive(Debug, Clone)]
pub(super) enum Extra {
    Forbidden,
    Schema(Box<Node>),
}

#[derive(Debug, Clone)]
pub(super) enum Items {
    Each(Box<Node>),
    Tuple(Vec<Node>),
}

#[derive(Debug, Clone)]
pub(super) enum Dependency {
    Fields(Vec<String>),
    Schema(Box<Node>),
}
