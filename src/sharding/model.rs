//! Declared sharding, as the manifest states it: shard keys, zones and zone key ranges, and
//! the BSON order the server compares range bounds by. Pure data; no I/O.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::model::sort_bracket;
use bson::{Bson, Document};
use serde::Serialize;

/// How one shard-key field distributes documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Ranged,
    Hashed,
}

/// A declared shard key (`shardKey`) and the `shardCollection` options (`shardOptions`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardKey {
    /// In key order.
    pub fields: Vec<(String, KeyKind)>,
    pub unique: bool,
    /// `numInitialChunks`, `presplitHashedZones`, `collation`, as `shardCollection` takes them.
    pub options: Document,
}

impl ShardKey {
    /// The key document `shardCollection` takes: `{field: 1 | "hashed", ...}`.
    pub fn key_doc(&self) -> Document {
        self.fields
            .iter()
            .map(|(f, k)| {
                let v = match k {
                    KeyKind::Ranged => Bson::Int32(1),
                    KeyKind::Hashed => Bson::String("hashed".into()),
                };
                (f.clone(), v)
            })
            .collect()
    }

    pub fn hashed_field(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, k)| *k == KeyKind::Hashed)
            .map(|(f, _)| f.as_str())
    }

    /// A range bound over a prefix of the key, extended with `MinKey` for the fields it
    /// leaves out — the form the server stores in `config.tags`.
    pub fn extend_bound(&self, bound: &Document) -> Document {
        self.fields
            .iter()
            .map(|(f, _)| (f.clone(), bound.get(f).cloned().unwrap_or(Bson::MinKey)))
            .collect()
    }
}

/// A zone key range: documents with `min <= key < max` belong to `zone`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneRange {
    pub zone: String,
    pub min: Document,
    pub max: Document,
}

/// What one collection declares about tenancy and sharding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionSharding {
    /// The field every document carries its tenant id in (`tenantKey`).
    pub tenant_key: Option<String>,
    pub shard_key: Option<ShardKey>,
    pub zone_ranges: Vec<ZoneRange>,
}

/// The manifest's top-level `sharding` section: zone name → the shards in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardingDecl {
    pub zones: BTreeMap<String, Vec<String>>,
}

/// One collection's declared sharding, resolved to its namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredCollection {
    pub namespace: String,
    pub key: ShardKey,
    pub zone_ranges: Vec<ZoneRange>,
}

/// Everything a run declares for the cluster's sharding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeclaredSharding {
    pub zones: BTreeMap<String, Vec<String>>,
    pub collections: Vec<DeclaredCollection>,
}

impl DeclaredSharding {
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.collections.is_empty()
    }
}

fn number(v: &Bson) -> Option<f64> {
    match v {
        Bson::Double(d) => Some(*d),
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Decimal128(d) => d.to_string().parse().ok(),
        _ => None,
    }
}

/// Compares two values in BSON order (the order shard-key ranges are defined in). Within a
/// type without a natural order here (code, regex) values compare by their text.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    let by_type = sort_bracket(a).cmp(&sort_bracket(b));
    if by_type != Ordering::Equal {
        return by_type;
    }
    match (a, b) {
        (Bson::Int64(x), Bson::Int64(y)) => x.cmp(y),
        (x, y) if sort_bracket(x) == 2 => number(x)
            .zip(number(y))
            .and_then(|(x, y)| x.partial_cmp(&y))
            .unwrap_or(Ordering::Equal),
        (Bson::String(x), Bson::String(y)) => x.cmp(y),
        (Bson::Document(x), Bson::Document(y)) => compare_docs(x, y),
        (Bson::Array(x), Bson::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(x, y)| compare(x, y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Bson::Binary(x), Bson::Binary(y)) => (x.bytes.len(), u8::from(x.subtype), &x.bytes)
            .cmp(&(y.bytes.len(), u8::from(y.subtype), &y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.cmp(y),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

/// Compares two range bounds field by field (their field names are the same shard key's).
pub fn compare_docs(a: &Document, b: &Document) -> Ordering {
    a.iter()
        .zip(b.iter())
        .map(|((ka, va), (kb, vb))| ka.cmp(kb).then_with(|| compare(va, vb)))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn bson_order_follows_the_type_brackets_then_values() {
        let ordered = [
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(-5),
            Bson::Double(2.5),
            Bson::Int64(3),
            Bson::String("a".into()),
            Bson::String("b".into()),
            Bson::Document(doc! {"a": 1}),
            Bson::ObjectId(bson::oid::ObjectId::from_bytes([0; 12])),
            Bson::Boolean(false),
            Bson::Boolean(true),
            Bson::DateTime(bson::DateTime::from_millis(0)),
            Bson::MaxKey,
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare(&w[0], &w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(compare(&w[1], &w[0]), Ordering::Greater);
        }
        assert_eq!(
            compare(&Bson::Int32(3), &Bson::Double(3.0)),
            Ordering::Equal
        );
    }

    #[test]
    fn bounds_compare_field_by_field() {
        let a = doc! {"t": "acme", "at": 5};
        let b = doc! {"t": "acme", "at": 7};
        let c = doc! {"t": "beta", "at": Bson::MinKey};
        assert_eq!(compare_docs(&a, &b), Ordering::Less);
        assert_eq!(compare_docs(&b, &c), Ordering::Less);
        assert_eq!(compare_docs(&a, &a.clone()), Ordering::Equal);
    }

    #[test]
    fn prefix_bounds_are_extended_with_min_key() {
        let key = ShardKey {
            fields: vec![
                ("t".into(), KeyKind::Ranged),
                ("at".into(), KeyKind::Ranged),
            ],
            unique: false,
            options: Document::new(),
        };
        assert_eq!(
            key.extend_bound(&doc! {"t": "acme"}),
            doc! {"t": "acme", "at": Bson::MinKey}
        );
        assert_eq!(key.key_doc(), doc! {"t": 1, "at": 1});
    }
}
