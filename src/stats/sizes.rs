//! Database and collection sizes: dbStats and `$collStats` per declared database.

use bson::{Bson, Document, doc};
use futures::future::join_all;
use mongodb::{Client, Database};
use serde::Serialize;

use super::*;

/// Sizes in bytes, as dbStats reports them (scale 1).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Sizes {
    pub collections: i64,
    pub views: i64,
    pub documents: i64,
    pub data_size: i64,
    pub storage_size: i64,
    pub index_size: i64,
    /// storage_size + index_size: what the database occupies on disk.
    pub total_size: i64,
    /// Space inside the storage files that is free and reusable (dbStats freeStorageSize).
    pub free_storage_size: i64,
    pub indexes: i64,
    pub avg_obj_size: f64,
}

impl Sizes {
    fn from_db_stats(d: &Document) -> Self {
        let storage_size = int(d, "storageSize");
        let index_size = int(d, "indexSize");
        Sizes {
            collections: int(d, "collections"),
            views: int(d, "views"),
            documents: int(d, "objects"),
            data_size: int(d, "dataSize"),
            storage_size,
            index_size,
            total_size: if d.contains_key("totalSize") {
                int(d, "totalSize")
            } else {
                storage_size + index_size
            },
            free_storage_size: int(d, "freeStorageSize"),
            indexes: int(d, "indexes"),
            avg_obj_size: num(d, "avgObjSize"),
        }
    }

    pub fn add(&mut self, o: &Sizes) {
        self.collections += o.collections;
        self.views += o.views;
        self.documents += o.documents;
        self.data_size += o.data_size;
        self.storage_size += o.storage_size;
        self.index_size += o.index_size;
        self.total_size += o.total_size;
        self.free_storage_size += o.free_storage_size;
        self.indexes += o.indexes;
        self.avg_obj_size = if self.documents > 0 {
            self.data_size as f64 / self.documents as f64
        } else {
            0.0
        };
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CollectionStats {
    pub name: String,
    /// "collection", "view" or "timeseries".
    #[serde(rename = "type")]
    pub kind: String,
    /// Declared in the spec.
    pub declared: bool,
    pub documents: i64,
    pub data_size: i64,
    pub storage_size: i64,
    pub free_storage_size: i64,
    pub index_size: i64,
    pub total_size: i64,
    pub indexes: i64,
    pub avg_obj_size: f64,
    pub validator: bool,
    pub capped: bool,
    /// Creation time of the newest ObjectId `_id` (the last insert, when `_id`s are
    /// driver-generated ObjectIds); null otherwise.
    pub last_insert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseStats {
    pub domain: String,
    pub database: String,
    pub exists: bool,
    #[serde(flatten)]
    pub sizes: Sizes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_stats: Option<Vec<CollectionStats>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Size,
    Docs,
    Name,
}

/// (domain, database name, declared collection names)
pub type Target = (String, String, Vec<String>);

/// The databases of a desired state, as targets.
pub fn targets(desired: &crate::model::ClusterState) -> Vec<Target> {
    desired
        .databases
        .iter()
        .map(|d| {
            (
                d.domain.clone(),
                d.name.clone(),
                d.collections.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect()
}

/// dbStats of every target database, and with `collections` one $collStats per collection.
pub async fn database_stats(
    client: &Client,
    targets: &[Target],
    collections: bool,
) -> Vec<DatabaseStats> {
    let existing = client.list_database_names().await.ok();
    join_all(targets.iter().map(|(domain, name, declared)| {
        let db = client.database(name);
        let existing = existing.as_ref();
        async move {
            let mut row = DatabaseStats {
                domain: domain.clone(),
                database: name.clone(),
                exists: false,
                sizes: Sizes::default(),
                collection_stats: None,
                unavailable: None,
            };
            match db
                .run_command(doc! {"dbStats": 1, "scale": 1, "freeStorage": 1})
                .await
            {
                Ok(d) => {
                    row.sizes = Sizes::from_db_stats(&d);
                    row.exists = match existing {
                        Some(list) => list.contains(name),
                        None => row.sizes.collections + row.sizes.views > 0,
                    };
                }
                Err(e) => row.unavailable = Some(Unavailable::new(&e, "dbStats", name)),
            }
            if collections && row.exists {
                row.collection_stats = Some(collection_stats(&db, declared).await);
            }
            row
        }
    }))
    .await
}

async fn collection_stats(db: &Database, declared: &[String]) -> Vec<CollectionStats> {
    let specs = match list_collections(db).await {
        Ok(s) => s,
        Err(e) => {
            return vec![CollectionStats {
                name: "*".into(),
                kind: "collection".into(),
                declared: false,
                documents: 0,
                data_size: 0,
                storage_size: 0,
                free_storage_size: 0,
                index_size: 0,
                total_size: 0,
                indexes: 0,
                avg_obj_size: 0.0,
                validator: false,
                capped: false,
                last_insert: None,
                unavailable: Some(Unavailable::new(&e, "listCollections", db.name())),
            }];
        }
    };
    let specs: Vec<Document> = specs
        .into_iter()
        .filter(|s| !s.get_str("name").unwrap_or("").starts_with("system."))
        .collect();
    join_all(specs.iter().map(|spec| async move {
        let name = spec.get_str("name").unwrap_or_default().to_string();
        let kind = spec.get_str("type").unwrap_or("collection").to_string();
        let options = sub(spec, "options").cloned().unwrap_or_default();
        let mut c = CollectionStats {
            declared: declared.contains(&name),
            kind: kind.clone(),
            documents: 0,
            data_size: 0,
            storage_size: 0,
            free_storage_size: 0,
            index_size: 0,
            total_size: 0,
            indexes: 0,
            avg_obj_size: 0.0,
            validator: sub(&options, "validator").is_some_and(|v| !v.is_empty()),
            capped: options.get_bool("capped") == Ok(true),
            last_insert: None,
            unavailable: None,
            name,
        };
        if kind == "view" {
            return c;
        }
        let ns = format!("{}.{}", db.name(), c.name);
        match aggregate(db, &c.name, vec![doc! {"$collStats": {"storageStats": {}}}]).await {
            Ok(docs) => {
                if let Some(s) = docs.first().and_then(|d| sub(d, "storageStats")) {
                    c.documents = int(s, "count");
                    c.data_size = int(s, "size");
                    c.storage_size = int(s, "storageSize");
                    c.free_storage_size = int(s, "freeStorageSize");
                    c.index_size = int(s, "totalIndexSize");
                    c.total_size = if s.contains_key("totalSize") {
                        int(s, "totalSize")
                    } else {
                        c.storage_size + c.index_size
                    };
                    c.indexes = int(s, "nindexes");
                    c.avg_obj_size = num(s, "avgObjSize");
                }
            }
            Err(e) => c.unavailable = Some(Unavailable::new(&e, "collStats", &ns)),
        }
        if kind == "collection" {
            c.last_insert = last_insert(db, &c.name).await;
        }
        c
    }))
    .await
}

/// The newest `_id`'s creation time when it is an ObjectId (one `_id` index lookup).
async fn last_insert(db: &Database, coll: &str) -> Option<String> {
    let d = db
        .collection::<Document>(coll)
        .find_one(doc! {})
        .sort(doc! {"_id": -1})
        .projection(doc! {"_id": 1})
        .await
        .ok()??;
    match d.get("_id") {
        Some(Bson::ObjectId(o)) => Some(rfc3339(o.timestamp())),
        _ => None,
    }
}

pub fn sort_databases(rows: &mut [DatabaseStats], by: SortBy) {
    rows.sort_by(|a, b| {
        match by {
            SortBy::Size => b.sizes.total_size.cmp(&a.sizes.total_size),
            SortBy::Docs => b.sizes.documents.cmp(&a.sizes.documents),
            SortBy::Name => a.database.cmp(&b.database),
        }
        .then_with(|| a.database.cmp(&b.database))
    });
    for r in rows {
        if let Some(cs) = &mut r.collection_stats {
            cs.sort_by(|a, b| {
                match by {
                    SortBy::Size => b.total_size.cmp(&a.total_size),
                    SortBy::Docs => b.documents.cmp(&a.documents),
                    SortBy::Name => a.name.cmp(&b.name),
                }
                .then_with(|| a.name.cmp(&b.name))
            });
        }
    }
}

pub fn totals(rows: &[DatabaseStats]) -> Sizes {
    let mut t = Sizes::default();
    for r in rows {
        t.add(&r.sizes);
    }
    t
}
