//! Every index spec of a fleet in one round trip: the `$listCatalog` aggregation stage
//! (MongoDB 6.0+; collectionless, it runs on `admin` and covers every database) returns each
//! collection's durable catalog entry, whose `md.indexes[].spec` are what `listIndexes`
//! returns once the server has passed them through its reply type. A fleet plan reads a
//! thousand tenant databases of six collections: one aggregation instead of six thousand
//! `listIndexes`.
//!
//! [`as_listed`] does what that reply type does (`ListIndexesReplyItem` in the server's
//! `list_indexes.idl`): known fields in its declaration order, `safeInt` fields as 32-bit
//! integers, `safeBool` as booleans, `safeDouble` as doubles, other fields dropped. Only ready
//! indexes count (`listIndexes` lists only those). Collections whose `listIndexes` is not
//! their catalog's index list are left out, so the caller asks `listIndexes` for them:
//! clustered collections (the clustered index is listed from the collection options), views
//! and time-series collections; so are collections created after the catalog was read. A
//! server that refuses the stage (older than 6.0: unknown stage; a user without the
//! cluster-wide `listDatabases`/`listCollections`/`listIndexes` it needs) gives `None`: the
//! caller reads per collection, with the same model.

use std::collections::HashMap;

use anyhow::{Context, Result};
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::Client;
use mongodb::error::ErrorKind;

/// `MONGOCTL_LIST_CATALOG=0` reads every collection's indexes with `listIndexes` (the stage
/// is undocumented in MongoDB 6.0 and 7.0: the way back should a server answer it oddly).
pub const ENV: &str = "MONGOCTL_LIST_CATALOG";

/// How `listIndexes` returns a field.
#[derive(Clone, Copy)]
enum Listed {
    Int,
    Bool,
    Double,
    AsIs,
}

/// `ListIndexesReplyItem`'s fields, in its declaration order (`ns` is ignored by it).
const LISTED_FIELDS: &[(&str, Listed)] = &[
    ("v", Listed::Int),
    ("key", Listed::AsIs),
    ("name", Listed::AsIs),
    ("background", Listed::Bool),
    ("unique", Listed::Bool),
    ("hidden", Listed::Bool),
    ("partialFilterExpression", Listed::AsIs),
    ("sparse", Listed::Bool),
    ("expireAfterSeconds", Listed::Int),
    ("storageEngine", Listed::AsIs),
    ("weights", Listed::AsIs),
    ("default_language", Listed::AsIs),
    ("language_override", Listed::AsIs),
    ("textIndexVersion", Listed::Int),
    ("2dsphereIndexVersion", Listed::Int),
    ("bits", Listed::Int),
    ("min", Listed::Double),
    ("max", Listed::Double),
    ("bucketSize", Listed::Double),
    ("collation", Listed::AsIs),
    ("wildcardProjection", Listed::AsIs),
    ("columnstoreProjection", Listed::AsIs),
    ("coarsestIndexedLevel", Listed::Int),
    ("finestIndexedLevel", Listed::Int),
    ("dropDups", Listed::Bool),
    ("originalSpec", Listed::AsIs),
    ("clustered", Listed::Bool),
    ("prepareUnique", Listed::Bool),
];

/// The ready index specs of a set of databases, as `listIndexes` would list them.
#[derive(Debug, Default)]
pub struct Catalog {
    /// database → collection → specs
    indexes: HashMap<String, HashMap<String, Vec<Document>>>,
}

impl Catalog {
    /// Reads the catalog entries of `databases`; `None` when [`ENV`] is `0` or the server
    /// refuses the stage.
    pub async fn read(client: &Client, databases: &[String]) -> Result<Option<Catalog>> {
        if std::env::var(ENV).as_deref() == Ok("0") || databases.is_empty() {
            return Ok(None);
        }
        let pipeline = vec![
            doc! {"$listCatalog": {}},
            doc! {"$match": {"db": {"$in": databases}, "type": "collection"}},
            doc! {"$project": {"db": 1, "name": 1, "type": 1, "md.options.clusteredIndex": 1,
            "md.indexes.spec": 1, "md.indexes.ready": 1}},
        ];
        let context = "reading the index catalog ($listCatalog)";
        let cursor = match client.database("admin").aggregate(pipeline).await {
            Ok(c) => c,
            Err(e) if matches!(*e.kind, ErrorKind::Command(_)) => return Ok(None),
            Err(e) => return Err(e).context(context),
        };
        let mut out = Catalog::default();
        let mut entries = cursor;
        while let Some(e) = entries.try_next().await.context(context)? {
            out.add(&e);
        }
        Ok(Some(out))
    }

    /// Adds one `$listCatalog` entry (plain collections only; see the module doc).
    pub fn add(&mut self, entry: &Document) {
        let (Ok(db), Ok(name), Ok(md)) = (
            entry.get_str("db"),
            entry.get_str("name"),
            entry.get_document("md"),
        ) else {
            return;
        };
        let clustered = md
            .get_document("options")
            .is_ok_and(|o| o.contains_key("clusteredIndex"));
        if entry.get_str("type") != Ok("collection") || clustered {
            return;
        }
        let Ok(indexes) = md.get_array("indexes") else {
            return;
        };
        let specs = indexes
            .iter()
            .filter_map(Bson::as_document)
            .filter(|i| i.get_bool("ready") == Ok(true))
            .filter_map(|i| i.get_document("spec").ok())
            .map(as_listed)
            .collect();
        self.indexes
            .entry(db.to_string())
            .or_default()
            .insert(name.to_string(), specs);
    }

    /// The specs of `db.coll`, when the catalog holds them.
    pub fn indexes(&self, db: &str, coll: &str) -> Option<&[Document]> {
        self.indexes.get(db)?.get(coll).map(Vec::as_slice)
    }
}

/// A catalog index spec as `listIndexes` returns it (see the module doc).
pub fn as_listed(spec: &Document) -> Document {
    let mut out = Document::new();
    for (field, kind) in LISTED_FIELDS {
        let Some(v) = spec.get(*field) else { continue };
        let v = match (kind, v) {
            (Listed::Int, Bson::Int64(n)) => Bson::Int32(*n as i32),
            (Listed::Int, Bson::Double(n)) => Bson::Int32(*n as i32),
            (Listed::Int, Bson::Boolean(b)) => Bson::Int32(i32::from(*b)),
            (Listed::Bool, Bson::Int32(n)) => Bson::Boolean(*n != 0),
            (Listed::Bool, Bson::Int64(n)) => Bson::Boolean(*n != 0),
            (Listed::Bool, Bson::Double(n)) => Bson::Boolean(*n != 0.0),
            (Listed::Double, Bson::Int32(n)) => Bson::Double(f64::from(*n)),
            (Listed::Double, Bson::Int64(n)) => Bson::Double(*n as f64),
            _ => v.clone(),
        };
        out.insert(*field, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_take_the_listed_order_and_types() {
        let spec = doc! {"v": 2, "expireAfterSeconds": 60_i64, "key": {"at": 1}, "name": "ttl",
        "unique": 1, "sparse": true, "ns": "db.c", "bits": 26.0, "min": -180, "weird": 1};
        let listed = as_listed(&spec);
        assert_eq!(
            format!("{listed:?}"),
            format!(
                "{:?}",
                doc! {"v": 2, "key": {"at": 1}, "name": "ttl", "unique": true, "sparse": true,
                "expireAfterSeconds": 60, "bits": 26, "min": -180.0}
            )
        );
    }

    #[test]
    fn ready_indexes_of_plain_collections_only() {
        let mut c = Catalog::default();
        c.add(&doc! {"db": "t", "name": "a", "type": "collection", "md": {"options": {"uuid": 1},
            "indexes": [
                {"spec": {"v": 2, "key": {"_id": 1}, "name": "_id_"}, "ready": true, "multikey": false},
                {"spec": {"v": 2, "unique": true, "key": {"x": 1}, "name": "x_1"}, "ready": true},
                {"spec": {"v": 2, "key": {"y": 1}, "name": "y_1"}, "ready": false, "buildUUID": 1},
            ]}});
        c.add(&doc! {"db": "t", "name": "clustered", "type": "collection", "md": {
            "options": {"clusteredIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_", "unique": true}},
            "indexes": []}});
        c.add(&doc! {"db": "t", "name": "v", "type": "view", "viewOn": "a", "pipeline": []});
        let names: Vec<&str> = c
            .indexes("t", "a")
            .unwrap()
            .iter()
            .map(|s| s.get_str("name").unwrap())
            .collect();
        assert_eq!(names, ["_id_", "x_1"]);
        assert_eq!(
            format!("{:?}", c.indexes("t", "a").unwrap()[1]),
            format!(
                "{:?}",
                doc! {"v": 2, "key": {"x": 1}, "name": "x_1", "unique": true}
            )
        );
        assert!(c.indexes("t", "clustered").is_none());
        assert!(c.indexes("t", "v").is_none());
        assert!(c.indexes("u", "a").is_none());
    }
}
