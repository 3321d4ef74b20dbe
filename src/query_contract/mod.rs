//! Query contracts (`queries/<domain>/<collection>.json`): the queries a collection's indexes
//! exist for, and what each must meet (served by an index, no blocking sort, covered, at most
//! N keys examined per document returned). `spec::queries` reads them, `serve` checks offline
//! that a declared index can serve each, `breach` holds an `explain` against them and
//! `verify` runs those explains on the cluster.

pub mod breach;
pub mod serve;
pub mod verify;

use std::collections::BTreeSet;
use std::path::PathBuf;

use bson::{Bson, Document};

use crate::jsonpath::JsonPath;

/// One named query of a queries file.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryContract {
    pub domain: String,
    pub collection: String,
    pub name: String,
    /// The queries file (workspace-relative) and where the contract sits in it.
    pub file: PathBuf,
    pub path: JsonPath,
    pub line: usize,
    pub column: usize,
    pub query: Query,
    pub expect: Expect,
    /// Fields of the query the collection's schema declares as arrays: an index on one is
    /// multikey, which cannot cover a query.
    pub array_fields: BTreeSet<String>,
}

/// A workspace holds a handful of these: boxing the find's documents would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Find {
        filter: Document,
        sort: Option<Document>,
        projection: Option<Document>,
    },
    Aggregate {
        pipeline: Vec<Document>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum IndexExpect {
    /// Any index (no collection scan).
    Any,
    /// This one, by name.
    Named(String),
}

/// What a contract must meet (`"expect"` in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub index: IndexExpect,
    pub no_blocking_sort: bool,
    pub covered: bool,
    pub max_keys_per_returned: Option<f64>,
}

/// The part of a query the planner can serve from an index: a find's filter, sort and
/// projection, or a pipeline's leading `$match`es, then `$sort`, then `$project`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    pub filter: Document,
    pub sort: Option<Document>,
    pub projection: Option<Document>,
    /// A pipeline that starts with another stage: no index can serve it.
    pub unindexable: Option<String>,
}

impl Query {
    pub fn shape(&self) -> Shape {
        match self {
            Query::Find {
                filter,
                sort,
                projection,
            } => Shape {
                filter: filter.clone(),
                sort: sort.clone(),
                projection: projection.clone(),
                unindexable: None,
            },
            Query::Aggregate { pipeline } => pipeline_shape(pipeline),
        }
    }
}

fn pipeline_shape(pipeline: &[Document]) -> Shape {
    let mut shape = Shape::default();
    let mut matches = Vec::new();
    let mut stages = pipeline.iter().peekable();
    while let Some(m) = stages
        .peek()
        .and_then(|s| s.get_document("$match").ok())
        .cloned()
    {
        matches.push(Bson::Document(m));
        stages.next();
    }
    shape.filter = match matches.len() {
        0 => Document::new(),
        1 => matches[0].as_document().cloned().unwrap_or_default(),
        _ => bson::doc! {"$and": matches},
    };
    if let Some(s) = stages.peek().and_then(|s| s.get_document("$sort").ok()) {
        shape.sort = Some(s.clone());
        stages.next();
    }
    if let Some(p) = stages.peek().and_then(|s| s.get_document("$project").ok()) {
        shape.projection = Some(p.clone());
    }
    if shape.filter.is_empty() && shape.sort.is_none() {
        shape.unindexable = pipeline
            .first()
            .and_then(|s| s.keys().next())
            .map(|k| k.to_string());
    }
    shape
}

/// Contracts and indexes for the unit tests of this module and of `contract_impact`.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::model::IndexDef;

    pub fn index(name: &str, key: Document) -> IndexDef {
        IndexDef {
            name: name.into(),
            key,
            options: Document::new(),
        }
    }

    /// A find contract on `domain.collection`, at line 2 of its queries file, that must be
    /// served by an index without a blocking sort.
    pub fn find(
        (domain, collection, name): (&str, &str, &str),
        filter: Document,
        sort: Option<Document>,
        projection: Option<Document>,
    ) -> QueryContract {
        QueryContract {
            domain: domain.into(),
            collection: collection.into(),
            name: name.into(),
            file: format!("queries/{domain}/{collection}.json").into(),
            path: JsonPath::root().key("queries").key(name),
            line: 2,
            column: 3,
            query: Query::Find {
                filter,
                sort,
                projection,
            },
            expect: Expect {
                index: IndexExpect::Any,
                no_blocking_sort: true,
                covered: false,
                max_keys_per_returned: None,
            },
            array_fields: BTreeSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn a_pipeline_is_served_through_its_leading_match_sort_and_project() {
        let q = Query::Aggregate {
            pipeline: vec![
                doc! {"$match": {"a": 1}},
                doc! {"$match": {"b": {"$gt": 2}}},
                doc! {"$sort": {"c": -1}},
                doc! {"$project": {"a": 1, "_id": 0}},
                doc! {"$limit": 5},
            ],
        };
        let s = q.shape();
        assert_eq!(s.filter, doc! {"$and": [{"a": 1}, {"b": {"$gt": 2}}]});
        assert_eq!(s.sort, Some(doc! {"c": -1}));
        assert_eq!(s.projection, Some(doc! {"a": 1, "_id": 0}));
        assert_eq!(s.unindexable, None);
        let g = Query::Aggregate {
            pipeline: vec![doc! {"$group": {"_id": "$a"}}],
        };
        assert_eq!(g.shape().unindexable.as_deref(), Some("$group"));
    }
}
