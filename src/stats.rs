//! The numbers DBAs look at every day, gathered into plain structs: database and collection
//! sizes (dbStats / $collStats), index usage ($indexStats), server and replication health
//! (serverStatus, replSetGetStatus, the oplog), rates between two serverStatus samples,
//! recorded snapshots and their growth, the profiler and query plans. Nothing here prints;
//! `commands/stats.rs`, `profile.rs` and `explain.rs` render these values.
//!
//! A section the connected user may not read does not fail the command: it becomes an
//! [`Unavailable`] that names the missing privilege.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use bson::{Bson, DateTime, Document, doc};
use futures::{TryStreamExt, future::join_all};
use mongodb::{Client, Database};
use serde::Serialize;

use crate::context::describe_driver_error;
use crate::model::{ClusterState, as_f64, doc_to_json};

/// Collection of `<metadataDatabase>` that `stats --record` appends snapshots to.
pub const HISTORY_COLLECTION: &str = "stats_history";

// ---------------------------------------------------------------------------------------
// Privileges

/// A part of the report the server refused (or failed) to give.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unavailable {
    pub error: String,
    /// The privilege action and resource that would allow it, when the server said
    /// "not authorized".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_privilege: Option<String>,
}

impl Unavailable {
    pub fn new(e: &mongodb::error::Error, action: &str, resource: &str) -> Self {
        Unavailable {
            error: describe_driver_error(e),
            missing_privilege: is_unauthorized(e).then(|| format!("{action} on {resource}")),
        }
    }

    /// One line for tables.
    pub fn short(&self) -> String {
        match &self.missing_privilege {
            Some(p) => format!("not authorized: needs {p}"),
            None => format!("unavailable: {}", self.error),
        }
    }
}

pub fn is_unauthorized(e: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    match e.kind.as_ref() {
        ErrorKind::Command(c) => c.code == 13 || c.code_name == "Unauthorized",
        _ => {
            let t = e.to_string();
            t.contains("not authorized") || t.contains("Unauthorized")
        }
    }
}

/// A value, or why it is missing. Serializes as the value itself, or as
/// `{"unavailable": {"error": …, "missing_privilege": …}}`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Section<T> {
    Ok(T),
    Unavailable { unavailable: Unavailable },
}

impl<T> Section<T> {
    pub fn from_result(
        r: std::result::Result<T, mongodb::error::Error>,
        action: &str,
        resource: &str,
    ) -> Self {
        match r {
            Ok(v) => Section::Ok(v),
            Err(e) => Section::Unavailable {
                unavailable: Unavailable::new(&e, action, resource),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Small BSON helpers

fn num(d: &Document, key: &str) -> f64 {
    d.get(key).and_then(as_f64).unwrap_or(0.0)
}

fn int(d: &Document, key: &str) -> i64 {
    num(d, key) as i64
}

fn sub<'a>(d: &'a Document, key: &str) -> Option<&'a Document> {
    d.get_document(key).ok()
}

fn rfc3339(dt: DateTime) -> String {
    dt.try_to_rfc3339_string()
        .unwrap_or_else(|_| dt.timestamp_millis().to_string())
}

async fn aggregate(
    db: &Database,
    coll: &str,
    pipeline: Vec<Document>,
) -> mongodb::error::Result<Vec<Document>> {
    db.collection::<Document>(coll)
        .aggregate(pipeline)
        .await?
        .try_collect()
        .await
}

async fn list_collections(db: &Database) -> mongodb::error::Result<Vec<Document>> {
    let mut v: Vec<Document> = db
        .run_cursor_command(doc! {"listCollections": 1, "authorizedCollections": true})
        .await?
        .try_collect()
        .await?;
    v.sort_by(|a, b| {
        a.get_str("name")
            .unwrap_or("")
            .cmp(b.get_str("name").unwrap_or(""))
    });
    Ok(v)
}

// ---------------------------------------------------------------------------------------
// Database and collection sizes

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

// ---------------------------------------------------------------------------------------
// Index usage

#[derive(Debug, Clone, Serialize)]
pub struct IndexUsage {
    pub domain: String,
    pub database: String,
    pub collection: String,
    pub name: String,
    pub key: serde_json::Value,
    pub unique: bool,
    /// Bytes (null when $collStats is not allowed).
    pub size: Option<i64>,
    /// Operations that used the index since `since` (per server; reset on restart).
    pub ops: i64,
    pub since: Option<String>,
    /// Declared in the spec's indexes/<domain>/<collection>.json (compared by name).
    pub declared: bool,
    /// "unused", "redundant", "unmanaged".
    pub flags: Vec<String>,
    /// The index whose key this one's key is a prefix of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundant_with: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub indexes: Vec<IndexUsage>,
    /// Collections (or databases) whose indexes could not be read, and why.
    pub unavailable: Vec<UnavailableAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnavailableAt {
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(flatten)]
    pub unavailable: Unavailable,
}

/// `$indexStats` and index sizes of every collection of the target databases, flagged
/// against `desired` (the spec's indexes).
pub async fn index_usage(
    client: &Client,
    targets: &[Target],
    desired: &ClusterState,
) -> IndexReport {
    let per_db = join_all(targets.iter().map(|(domain, name, _)| {
        let db = client.database(name);
        async move {
            let mut out = Vec::new();
            let mut denied = Vec::new();
            let specs = match list_collections(&db).await {
                Ok(s) => s,
                Err(e) => {
                    denied.push(UnavailableAt {
                        database: name.clone(),
                        collection: None,
                        unavailable: Unavailable::new(&e, "listCollections", name),
                    });
                    return (out, denied);
                }
            };
            let colls: Vec<String> = specs
                .iter()
                .filter(|s| {
                    matches!(
                        s.get_str("type").unwrap_or("collection"),
                        "collection" | "timeseries"
                    )
                })
                .filter_map(|s| s.get_str("name").ok())
                .filter(|n| !n.starts_with("system."))
                .map(str::to_string)
                .collect();
            let results = join_all(colls.iter().map(|c| collection_index_usage(&db, c))).await;
            for (coll, r) in colls.iter().zip(results) {
                match r {
                    Ok(rows) => {
                        let declared: Vec<&str> = desired
                            .database(name)
                            .and_then(|d| d.collection(coll))
                            .map(|c| c.indexes.iter().map(|i| i.name.as_str()).collect())
                            .unwrap_or_default();
                        for mut u in flag_indexes(rows) {
                            u.domain = domain.clone();
                            u.declared = u.name == "_id_" || declared.contains(&u.name.as_str());
                            if !u.declared {
                                u.flags.push("unmanaged".into());
                            }
                            out.push(u);
                        }
                    }
                    Err(u) => denied.push(UnavailableAt {
                        database: name.clone(),
                        collection: Some(coll.clone()),
                        unavailable: u,
                    }),
                }
            }
            (out, denied)
        }
    }))
    .await;
    let mut report = IndexReport {
        indexes: vec![],
        unavailable: vec![],
    };
    for (rows, denied) in per_db {
        report.indexes.extend(rows);
        report.unavailable.extend(denied);
    }
    report
}

async fn collection_index_usage(
    db: &Database,
    coll: &str,
) -> std::result::Result<Vec<(IndexUsage, Document)>, Unavailable> {
    let ns = format!("{}.{coll}", db.name());
    let stats = aggregate(db, coll, vec![doc! {"$indexStats": {}}])
        .await
        .map_err(|e| Unavailable::new(&e, "indexStats", &ns))?;
    let sizes: Option<Document> =
        aggregate(db, coll, vec![doc! {"$collStats": {"storageStats": {}}}])
            .await
            .ok()
            .and_then(|d| d.into_iter().next())
            .and_then(|d| {
                sub(&d, "storageStats")
                    .and_then(|s| sub(s, "indexSizes"))
                    .cloned()
            });
    let mut rows: Vec<(IndexUsage, Document)> = stats
        .iter()
        .map(|s| {
            let name = s.get_str("name").unwrap_or_default().to_string();
            let key = sub(s, "key").cloned().unwrap_or_default();
            let spec = sub(s, "spec").cloned().unwrap_or_default();
            let accesses = sub(s, "accesses").cloned().unwrap_or_default();
            let u = IndexUsage {
                domain: String::new(),
                database: db.name().to_string(),
                collection: coll.to_string(),
                size: sizes.as_ref().map(|z| int(z, &name)),
                key: doc_to_json(&key),
                unique: spec.get_bool("unique") == Ok(true),
                ops: int(&accesses, "ops"),
                since: accesses.get_datetime("since").ok().map(|d| rfc3339(*d)),
                declared: false,
                flags: vec![],
                redundant_with: None,
                name,
            };
            let mut spec = spec;
            spec.insert("key", key);
            (u, spec)
        })
        .collect();
    rows.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(rows)
}

/// Marks unused indexes (no operation since the server started counting) and redundant ones
/// (a plain index whose key is a prefix of another index's key on the same collection).
pub fn flag_indexes(rows: Vec<(IndexUsage, Document)>) -> Vec<IndexUsage> {
    let keys: Vec<(String, Document)> = rows
        .iter()
        .map(|(u, s)| {
            (
                u.name.clone(),
                s.get_document("key").cloned().unwrap_or_default(),
            )
        })
        .collect();
    rows.into_iter()
        .map(|(mut u, spec)| {
            if u.name != "_id_" && u.ops == 0 {
                u.flags.push("unused".into());
            }
            let plain = u.name != "_id_"
                && spec.get_bool("unique") != Ok(true)
                && !spec.contains_key("partialFilterExpression")
                && spec.get_bool("sparse") != Ok(true);
            let key = spec.get_document("key").cloned().unwrap_or_default();
            if plain
                && let Some((other, _)) = keys
                    .iter()
                    .find(|(n, k)| *n != u.name && is_strict_prefix(&key, k))
            {
                u.flags.push("redundant".into());
                u.redundant_with = Some(other.clone());
            }
            u
        })
        .collect()
}

/// `a`'s fields and directions are the leading part of `b`'s, and `b` has more.
pub fn is_strict_prefix(a: &Document, b: &Document) -> bool {
    !a.is_empty()
        && a.len() < b.len()
        && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match (as_f64(va), as_f64(vb)) {
                    (Some(x), Some(y)) => x.signum() == y.signum(),
                    _ => va == vb,
                }
        })
}

// ---------------------------------------------------------------------------------------
// Server and replication

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Opcounters {
    pub insert: f64,
    pub query: f64,
    pub update: f64,
    pub delete: f64,
    pub getmore: f64,
    pub command: f64,
}

impl Opcounters {
    fn from(d: Option<&Document>) -> Self {
        let d = d.cloned().unwrap_or_default();
        Opcounters {
            insert: num(&d, "insert"),
            query: num(&d, "query"),
            update: num(&d, "update"),
            delete: num(&d, "delete"),
            getmore: num(&d, "getmore"),
            command: num(&d, "command"),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Connections {
    pub current: i64,
    pub available: i64,
    pub total_created: i64,
    pub active: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Network {
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub requests: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cache {
    pub bytes_in_cache: i64,
    pub max_bytes: i64,
    pub dirty_bytes: i64,
    pub used_percent: f64,
    pub dirty_percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerStats {
    pub host: String,
    pub version: String,
    pub process: String,
    pub uptime_seconds: i64,
    pub connections: Connections,
    pub opcounters: Opcounters,
    pub network: Network,
    /// WiredTiger cache; null for other storage engines.
    pub cache: Option<Cache>,
    pub resident_mb: i64,
    /// "primary", "secondary", or "standalone".
    pub role: String,
}

impl ServerStats {
    pub fn from_server_status(s: &Document) -> Self {
        let conn = sub(s, "connections").cloned().unwrap_or_default();
        let net = sub(s, "network").cloned().unwrap_or_default();
        let cache = sub(s, "wiredTiger").and_then(|w| sub(w, "cache")).map(|c| {
            let used = int(c, "bytes currently in the cache");
            let max = int(c, "maximum bytes configured");
            let dirty = int(c, "tracked dirty bytes in the cache");
            let pct = |x: i64| {
                if max > 0 {
                    x as f64 * 100.0 / max as f64
                } else {
                    0.0
                }
            };
            Cache {
                bytes_in_cache: used,
                max_bytes: max,
                dirty_bytes: dirty,
                used_percent: pct(used),
                dirty_percent: pct(dirty),
            }
        });
        let role = match sub(s, "repl") {
            Some(r)
                if r.get_bool("ismaster") == Ok(true)
                    || r.get_bool("isWritablePrimary") == Ok(true) =>
            {
                "primary"
            }
            Some(r) if r.get_bool("secondary") == Ok(true) => "secondary",
            Some(_) => "other",
            None => "standalone",
        };
        ServerStats {
            host: s.get_str("host").unwrap_or_default().to_string(),
            version: s.get_str("version").unwrap_or_default().to_string(),
            process: s.get_str("process").unwrap_or_default().to_string(),
            uptime_seconds: int(s, "uptime"),
            connections: Connections {
                current: int(&conn, "current"),
                available: int(&conn, "available"),
                total_created: int(&conn, "totalCreated"),
                active: int(&conn, "active"),
            },
            opcounters: Opcounters::from(sub(s, "opcounters")),
            network: Network {
                bytes_in: int(&net, "bytesIn"),
                bytes_out: int(&net, "bytesOut"),
                requests: int(&net, "numRequests"),
            },
            cache,
            resident_mb: sub(s, "mem").map(|m| int(m, "resident")).unwrap_or(0),
            role: role.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberStats {
    pub name: String,
    pub state: String,
    /// "up" or "down".
    pub health: String,
    pub is_self: bool,
    pub last_optime: Option<String>,
    /// Seconds behind the primary's last applied operation (null when unknown).
    pub lag_seconds: Option<f64>,
    pub sync_source: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Oplog {
    pub first: String,
    pub last: String,
    /// Hours of history between the first and last oplog entries.
    pub window_hours: f64,
    pub size_bytes: Option<i64>,
    pub max_size_bytes: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Replication {
    pub set_name: String,
    pub members: Section<Vec<MemberStats>>,
    pub oplog: Section<Oplog>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub server: Section<ServerStats>,
    /// Null on a standalone.
    pub replication: Option<Replication>,
}

pub async fn server_report(client: &Client) -> Result<ServerReport> {
    let admin = client.database("admin");
    let hello = admin
        .run_command(doc! {"hello": 1})
        .await
        .context("hello")?;
    let server = Section::from_result(
        admin
            .run_command(doc! {"serverStatus": 1})
            .await
            .map(|s| ServerStats::from_server_status(&s)),
        "serverStatus",
        "the cluster",
    );
    let replication = match hello.get_str("setName") {
        Ok(set) => Some(Replication {
            set_name: set.to_string(),
            members: Section::from_result(
                admin
                    .run_command(doc! {"replSetGetStatus": 1})
                    .await
                    .map(|s| members_from_status(&s)),
                "replSetGetStatus",
                "the cluster",
            ),
            oplog: Section::from_result(oplog(client).await, "find", "local.oplog.rs"),
        }),
        Err(_) => None,
    };
    Ok(ServerReport {
        server,
        replication,
    })
}

/// Members with their lag behind the primary (or, without a primary, the newest member).
pub fn members_from_status(status: &Document) -> Vec<MemberStats> {
    let members: Vec<Document> = status
        .get_array("members")
        .map(|a| a.iter().filter_map(|b| b.as_document()).cloned().collect())
        .unwrap_or_default();
    let optime = |m: &Document| m.get_datetime("optimeDate").ok().copied();
    let reference = members
        .iter()
        .find(|m| m.get_str("stateStr") == Ok("PRIMARY"))
        .and_then(optime)
        .or_else(|| members.iter().filter_map(optime).max());
    members
        .iter()
        .map(|m| {
            let state = m.get_str("stateStr").unwrap_or_default().to_string();
            let own = optime(m).filter(|d| d.timestamp_millis() > 0);
            MemberStats {
                name: m.get_str("name").unwrap_or_default().to_string(),
                health: if num(m, "health") == 1.0 {
                    "up"
                } else {
                    "down"
                }
                .to_string(),
                is_self: m.get_bool("self") == Ok(true),
                last_optime: own.map(rfc3339),
                lag_seconds: match (reference, own) {
                    (Some(r), Some(o)) if state != "ARBITER" => Some(
                        ((r.timestamp_millis() - o.timestamp_millis()) as f64 / 1000.0).max(0.0),
                    ),
                    _ => None,
                },
                sync_source: m
                    .get_str("syncSourceHost")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                state,
            }
        })
        .collect()
}

async fn oplog(client: &Client) -> mongodb::error::Result<Oplog> {
    let local = client.database("local");
    let coll = local.collection::<Document>("oplog.rs");
    let first = coll
        .find_one(doc! {})
        .sort(doc! {"$natural": 1})
        .projection(doc! {"ts": 1})
        .await?;
    let last = coll
        .find_one(doc! {})
        .sort(doc! {"$natural": -1})
        .projection(doc! {"ts": 1})
        .await?;
    let ts = |d: Option<Document>| d.and_then(|d| d.get_timestamp("ts").ok()).map(|t| t.time);
    let (first, last) = (ts(first).unwrap_or(0), ts(last).unwrap_or(0));
    let storage = aggregate(
        &local,
        "oplog.rs",
        vec![doc! {"$collStats": {"storageStats": {}}}],
    )
    .await
    .ok()
    .and_then(|d| d.into_iter().next())
    .and_then(|d| sub(&d, "storageStats").cloned());
    let at = |t: u32| rfc3339(DateTime::from_millis(t as i64 * 1000));
    Ok(Oplog {
        first: at(first),
        last: at(last),
        window_hours: last.saturating_sub(first) as f64 / 3600.0,
        size_bytes: storage.as_ref().map(|s| int(s, "size")),
        max_size_bytes: storage
            .as_ref()
            .map(|s| int(s, "maxSize"))
            .filter(|m| *m > 0),
    })
}

// ---------------------------------------------------------------------------------------
// Watch: rates between two serverStatus samples

#[derive(Debug, Clone)]
pub struct Sample {
    pub stats: ServerStats,
    pub uptime_millis: i64,
    pub local_time: DateTime,
}

pub async fn sample(client: &Client) -> mongodb::error::Result<Sample> {
    let s = client
        .database("admin")
        .run_command(doc! {"serverStatus": 1})
        .await?;
    Ok(Sample {
        stats: ServerStats::from_server_status(&s),
        uptime_millis: int(&s, "uptimeMillis"),
        local_time: s
            .get_datetime("localTime")
            .copied()
            .unwrap_or_else(|_| DateTime::now()),
    })
}

/// One line of `stats --watch`: per-second rates since the previous sample.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WatchRow {
    pub time: String,
    pub host: String,
    pub role: String,
    pub seconds: f64,
    /// Operations per second.
    pub ops: Opcounters,
    pub net_in_per_sec: f64,
    pub net_out_per_sec: f64,
    pub connections: i64,
    pub resident_mb: i64,
    pub cache_used_percent: Option<f64>,
    pub cache_dirty_percent: Option<f64>,
}

pub fn rates(prev: &Sample, cur: &Sample) -> WatchRow {
    let secs = ((cur.uptime_millis - prev.uptime_millis) as f64 / 1000.0).max(0.001);
    let r = |a: f64, b: f64| ((b - a) / secs).max(0.0);
    let (p, c) = (&prev.stats.opcounters, &cur.stats.opcounters);
    WatchRow {
        time: rfc3339(cur.local_time),
        host: cur.stats.host.clone(),
        role: cur.stats.role.clone(),
        seconds: secs,
        ops: Opcounters {
            insert: r(p.insert, c.insert),
            query: r(p.query, c.query),
            update: r(p.update, c.update),
            delete: r(p.delete, c.delete),
            getmore: r(p.getmore, c.getmore),
            command: r(p.command, c.command),
        },
        net_in_per_sec: r(
            prev.stats.network.bytes_in as f64,
            cur.stats.network.bytes_in as f64,
        ),
        net_out_per_sec: r(
            prev.stats.network.bytes_out as f64,
            cur.stats.network.bytes_out as f64,
        ),
        connections: cur.stats.connections.current,
        resident_mb: cur.stats.resident_mb,
        cache_used_percent: cur.stats.cache.as_ref().map(|c| c.used_percent),
        cache_dirty_percent: cur.stats.cache.as_ref().map(|c| c.dirty_percent),
    }
}

// ---------------------------------------------------------------------------------------
// Snapshots and growth

/// Appends one snapshot of the databases' sizes to `<metadata>.stats_history`.
pub async fn record(
    client: &Client,
    metadata_db: &str,
    environment: Option<&str>,
    rows: &[DatabaseStats],
) -> Result<DateTime> {
    let at = DateTime::now();
    let databases: Vec<Document> = rows
        .iter()
        .filter(|r| r.unavailable.is_none())
        .map(|r| {
            doc! {
                "domain": &r.domain,
                "database": &r.database,
                "documents": r.sizes.documents,
                "dataSize": r.sizes.data_size,
                "storageSize": r.sizes.storage_size,
                "indexSize": r.sizes.index_size,
                "totalSize": r.sizes.total_size,
            }
        })
        .collect();
    let mut snapshot = doc! {"at": at, "databases": databases};
    if let Some(e) = environment {
        snapshot.insert("environment", e);
    }
    client
        .database(metadata_db)
        .collection::<Document>(HISTORY_COLLECTION)
        .insert_one(snapshot)
        .await
        .with_context(|| format!("recording a snapshot in {metadata_db}.{HISTORY_COLLECTION}"))?;
    Ok(at)
}

/// One database's value at one recorded time.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: DateTime,
    pub documents: i64,
    pub data_size: i64,
    pub total_size: i64,
}

/// Recorded points per database name, oldest first.
pub async fn history(
    client: &Client,
    metadata_db: &str,
) -> mongodb::error::Result<BTreeMap<String, Vec<Point>>> {
    let docs: Vec<Document> = client
        .database(metadata_db)
        .collection::<Document>(HISTORY_COLLECTION)
        .find(doc! {})
        .sort(doc! {"at": 1})
        .await?
        .try_collect()
        .await?;
    let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for d in docs {
        let Ok(at) = d.get_datetime("at") else {
            continue;
        };
        for db in d
            .get_array("databases")
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            let Some(db) = db.as_document() else { continue };
            let Ok(name) = db.get_str("database") else {
                continue;
            };
            out.entry(name.to_string()).or_default().push(Point {
                at: *at,
                documents: int(db, "documents"),
                data_size: int(db, "dataSize"),
                total_size: int(db, "totalSize"),
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Projection {
    pub days: i64,
    pub total_size: i64,
    pub documents: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Growth {
    pub domain: String,
    pub database: String,
    pub samples: usize,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    /// The latest recorded values.
    pub documents: i64,
    pub data_size: i64,
    pub total_size: i64,
    /// Least-squares slopes over the recorded history (null with fewer than two
    /// snapshots at different times).
    pub total_size_per_day: Option<f64>,
    pub documents_per_day: Option<f64>,
    /// Disk bytes per 1,000 documents at the latest snapshot (capacity planning:
    /// "~1 GB per 1 K patients").
    pub bytes_per_1k_documents: Option<f64>,
    /// The latest values plus slope × days, for 30, 90 and 365 days.
    pub projections: Vec<Projection>,
}

pub const PROJECTION_DAYS: [i64; 3] = [30, 90, 365];

/// Linear projection of the recorded points; pure.
pub fn growth(domain: &str, database: &str, points: &[Point]) -> Growth {
    let last = points.last();
    let t0 = points.first().map(|p| p.at.timestamp_millis()).unwrap_or(0);
    let xs: Vec<f64> = points
        .iter()
        .map(|p| (p.at.timestamp_millis() - t0) as f64 / 86_400_000.0)
        .collect();
    let size = slope(
        &xs,
        &points
            .iter()
            .map(|p| p.total_size as f64)
            .collect::<Vec<_>>(),
    );
    let docs = slope(
        &xs,
        &points
            .iter()
            .map(|p| p.documents as f64)
            .collect::<Vec<_>>(),
    );
    let (documents, data_size, total_size) =
        last.map_or((0, 0, 0), |p| (p.documents, p.data_size, p.total_size));
    let projections = match (size, docs) {
        (Some(s), Some(d)) => PROJECTION_DAYS
            .iter()
            .map(|&days| Projection {
                days,
                total_size: (total_size as f64 + s * days as f64).max(0.0).round() as i64,
                documents: (documents as f64 + d * days as f64).max(0.0).round() as i64,
            })
            .collect(),
        _ => vec![],
    };
    Growth {
        domain: domain.to_string(),
        database: database.to_string(),
        samples: points.len(),
        first_at: points.first().map(|p| rfc3339(p.at)),
        last_at: last.map(|p| rfc3339(p.at)),
        documents,
        data_size,
        total_size,
        total_size_per_day: size,
        documents_per_day: docs,
        bytes_per_1k_documents: (documents > 0)
            .then(|| total_size as f64 * 1000.0 / documents as f64),
        projections,
    }
}

/// Least-squares slope of y over x; None when x does not vary.
pub fn slope(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return None;
    }
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    Some(sxy / sxx)
}

// ---------------------------------------------------------------------------------------
// Profiler

#[derive(Debug, Clone, Serialize)]
pub struct ProfileStatus {
    pub domain: String,
    pub database: String,
    /// 0 off, 1 slow operations, 2 all operations.
    pub level: Option<i64>,
    /// Server-wide threshold in milliseconds.
    pub slowms: Option<i64>,
    pub sample_rate: Option<f64>,
    /// Entries currently in system.profile.
    pub entries: Option<i64>,
    /// With `profile set`: the level before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_level: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailable>,
}

/// Reads (`level` None) or sets the profiler of one database.
pub async fn profile(
    client: &Client,
    domain: &str,
    database: &str,
    level: Option<i32>,
    slowms: Option<i64>,
    sample_rate: Option<f64>,
) -> ProfileStatus {
    let db = client.database(database);
    let mut status = ProfileStatus {
        domain: domain.to_string(),
        database: database.to_string(),
        level: None,
        slowms: None,
        sample_rate: None,
        entries: None,
        previous_level: None,
        unavailable: None,
    };
    if let Some(level) = level {
        let mut cmd = doc! {"profile": level};
        if let Some(s) = slowms {
            cmd.insert("slowms", s);
        }
        if let Some(r) = sample_rate {
            cmd.insert("sampleRate", r);
        }
        match db.run_command(cmd).await {
            Ok(old) => status.previous_level = Some(int(&old, "was")),
            Err(e) => {
                status.unavailable = Some(Unavailable::new(&e, "enableProfiler", database));
                return status;
            }
        }
    }
    match db.run_command(doc! {"profile": -1}).await {
        Ok(d) => {
            status.level = Some(int(&d, "was"));
            status.slowms = Some(int(&d, "slowms"));
            status.sample_rate = d.get("sampleRate").and_then(as_f64);
        }
        Err(e) => {
            status.unavailable = Some(Unavailable::new(&e, "enableProfiler", database));
            return status;
        }
    }
    status.entries = db
        .collection::<Document>("system.profile")
        .estimated_document_count()
        .await
        .ok()
        .map(|n| n as i64);
    status
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowOp {
    pub ts: String,
    pub domain: String,
    pub ns: String,
    pub op: String,
    pub millis: i64,
    pub plan_summary: Option<String>,
    pub collscan: bool,
    pub docs_examined: Option<i64>,
    pub keys_examined: Option<i64>,
    pub returned: Option<i64>,
    /// The command, as relaxed Extended JSON.
    pub command: serde_json::Value,
    pub app_name: Option<String>,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowReport {
    pub operations: Vec<SlowOp>,
    pub unavailable: Vec<UnavailableAt>,
}

/// The slowest profiled operations across the target databases (mongoctl's own excluded).
pub async fn slow_ops(
    client: &Client,
    targets: &[(String, String)],
    limit: i64,
    since: Option<DateTime>,
) -> SlowReport {
    let results = join_all(targets.iter().map(|(domain, name)| async move {
        let db = client.database(name);
        let mut filter = doc! {
            "ns": {"$ne": format!("{name}.system.profile")},
            "command.profile": {"$exists": false},
            "appName": {"$not": {"$regex": "^mongoctl"}},
        };
        if let Some(s) = since {
            filter.insert("ts", doc! {"$gte": s});
        }
        let r: mongodb::error::Result<Vec<Document>> = async {
            db.collection::<Document>("system.profile")
                .find(filter)
                .sort(doc! {"millis": -1, "ts": -1})
                .limit(limit)
                .await?
                .try_collect()
                .await
        }
        .await;
        (domain, name, r)
    }))
    .await;
    let mut report = SlowReport {
        operations: vec![],
        unavailable: vec![],
    };
    for (domain, name, r) in results {
        match r {
            Ok(docs) => report
                .operations
                .extend(docs.iter().map(|d| slow_op(domain, d))),
            Err(e) => report.unavailable.push(UnavailableAt {
                database: name.clone(),
                collection: Some("system.profile".into()),
                unavailable: Unavailable::new(&e, "find", &format!("{name}.system.profile")),
            }),
        }
    }
    report
        .operations
        .sort_by(|a, b| b.millis.cmp(&a.millis).then_with(|| b.ts.cmp(&a.ts)));
    report.operations.truncate(limit.max(0) as usize);
    report
}

fn slow_op(domain: &str, d: &Document) -> SlowOp {
    let opt = |k: &str| d.get(k).and_then(as_f64).map(|f| f as i64);
    let plan = d.get_str("planSummary").ok().map(str::to_string);
    SlowOp {
        ts: d
            .get_datetime("ts")
            .map(|t| rfc3339(*t))
            .unwrap_or_default(),
        domain: domain.to_string(),
        ns: d.get_str("ns").unwrap_or_default().to_string(),
        op: d.get_str("op").unwrap_or_default().to_string(),
        millis: int(d, "millis"),
        collscan: plan.as_deref().is_some_and(|p| p.contains("COLLSCAN")),
        plan_summary: plan,
        docs_examined: opt("docsExamined"),
        keys_examined: opt("keysExamined"),
        returned: opt("nreturned"),
        command: sub(d, "command")
            .map(|c| {
                let mut c = c.clone();
                c.remove("lsid");
                c.remove("$clusterTime");
                c.remove("$db");
                doc_to_json(&c)
            })
            .unwrap_or(serde_json::Value::Null),
        app_name: d.get_str("appName").ok().map(str::to_string),
        user: d
            .get_str("user")
            .ok()
            .filter(|u| !u.is_empty())
            .map(str::to_string),
    }
}

/// `30s`, `15m`, `2h`, `7d`, or an RFC 3339 time → the instant it names.
pub fn parse_since(s: &str, now: DateTime) -> Result<DateTime> {
    let s = s.trim();
    if let Some((n, unit)) = s
        .char_indices()
        .last()
        .map(|(i, c)| (&s[..i], c))
        .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    {
        let n: i64 = n.parse().context("number too large")?;
        let secs = match unit {
            's' => n,
            'm' => n * 60,
            'h' => n * 3600,
            'd' => n * 86_400,
            _ => anyhow::bail!("--since {s}: unknown unit {unit:?} (use s, m, h or d)"),
        };
        return Ok(DateTime::from_millis(now.timestamp_millis() - secs * 1000));
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).with_context(|| {
        format!("--since {s}: expected a duration (30s, 15m, 2h, 7d) or an RFC 3339 time")
    })?;
    Ok(DateTime::from_millis(t.timestamp_millis()))
}

// ---------------------------------------------------------------------------------------
// Explain

#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    pub database: String,
    pub collection: String,
    pub filter: serde_json::Value,
    pub sort: Option<serde_json::Value>,
    /// Stages from the top down, e.g. ["FETCH", "IXSCAN email_1"].
    pub stages: Vec<String>,
    /// Index names the winning plan scans (empty for a collection scan).
    pub indexes: Vec<String>,
    pub collscan: bool,
    pub keys_examined: i64,
    pub docs_examined: i64,
    pub returned: i64,
    pub time_ms: i64,
    pub rejected_plans: usize,
    /// Whether the winning plan's indexes cover at least one of the filter's fields.
    pub filter_supported: bool,
    /// An index that would support the query (equality, then sort, then range fields),
    /// when the winning plan scans the collection or its index serves none of the
    /// filter's fields (e.g. only the sort).
    pub suggested_index: Option<serde_json::Value>,
}

pub async fn explain(
    db: &Database,
    collection: &str,
    filter: &Document,
    sort: Option<&Document>,
) -> mongodb::error::Result<Explain> {
    let mut find = doc! {"find": collection, "filter": filter.clone()};
    if let Some(s) = sort {
        find.insert("sort", s.clone());
    }
    let reply = db
        .run_command(doc! {"explain": find, "verbosity": "executionStats"})
        .await?;
    Ok(summarize_explain(
        db.name(),
        collection,
        filter,
        sort,
        &reply,
    ))
}

/// Reads an explain reply (classic or SBE shapes); pure.
pub fn summarize_explain(
    database: &str,
    collection: &str,
    filter: &Document,
    sort: Option<&Document>,
    reply: &Document,
) -> Explain {
    let planner = sub(reply, "queryPlanner").cloned().unwrap_or_default();
    let winning = sub(&planner, "winningPlan").cloned().unwrap_or_default();
    let winning = sub(&winning, "queryPlan").cloned().unwrap_or(winning);
    let mut stages = Vec::new();
    let mut indexes = Vec::new();
    let mut keys = Vec::new();
    walk_plan(&winning, &mut stages, &mut indexes, &mut keys);
    let collscan = stages.iter().any(|s| s == "COLLSCAN");
    let (mut equality, mut range) = (Vec::new(), Vec::new());
    classify_fields(filter, &mut equality, &mut range);
    let filter_supported = equality
        .iter()
        .chain(&range)
        .any(|f| keys.iter().any(|k| k.contains_key(f)));
    let has_fields = !equality.is_empty() || !range.is_empty();
    let unsupported = collscan || (has_fields && !filter_supported);
    let exec = sub(reply, "executionStats").cloned().unwrap_or_default();
    Explain {
        database: database.to_string(),
        collection: collection.to_string(),
        filter: doc_to_json(filter),
        sort: sort.map(doc_to_json),
        stages,
        indexes,
        collscan,
        keys_examined: int(&exec, "totalKeysExamined"),
        docs_examined: int(&exec, "totalDocsExamined"),
        returned: int(&exec, "nReturned"),
        time_ms: int(&exec, "executionTimeMillis"),
        rejected_plans: planner
            .get_array("rejectedPlans")
            .map(|a| a.len())
            .unwrap_or(0),
        filter_supported,
        suggested_index: unsupported
            .then(|| suggest_index(filter, sort))
            .filter(|k| !k.is_empty())
            .map(|k| doc_to_json(&k)),
    }
}

fn walk_plan(
    stage: &Document,
    stages: &mut Vec<String>,
    indexes: &mut Vec<String>,
    keys: &mut Vec<Document>,
) {
    let Ok(name) = stage.get_str("stage") else {
        return;
    };
    match stage.get_str("indexName") {
        Ok(ix) => {
            stages.push(format!("{name} {ix}"));
            indexes.push(ix.to_string());
            keys.extend(sub(stage, "keyPattern").cloned());
        }
        Err(_) => stages.push(name.to_string()),
    }
    if let Some(s) = sub(stage, "inputStage") {
        walk_plan(s, stages, indexes, keys);
    }
    for s in stage
        .get_array("inputStages")
        .map(|a| a.as_slice())
        .unwrap_or_default()
    {
        if let Some(s) = s.as_document() {
            walk_plan(s, stages, indexes, keys);
        }
    }
}

/// The ESR rule: equality fields, then the sort's fields, then range fields.
pub fn suggest_index(filter: &Document, sort: Option<&Document>) -> Document {
    let mut equality = Vec::new();
    let mut range = Vec::new();
    classify_fields(filter, &mut equality, &mut range);
    let mut key = Document::new();
    for f in equality {
        if !key.contains_key(&f) {
            key.insert(f, 1);
        }
    }
    for (f, v) in sort
        .map(|s| s.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if !key.contains_key(f) {
            let dir = if as_f64(v).is_some_and(|d| d < 0.0) {
                -1
            } else {
                1
            };
            key.insert(f.clone(), dir);
        }
    }
    for f in range {
        if !key.contains_key(&f) {
            key.insert(f, 1);
        }
    }
    key
}

fn classify_fields(filter: &Document, equality: &mut Vec<String>, range: &mut Vec<String>) {
    for (k, v) in filter {
        if k == "$and" {
            for c in v.as_array().map(|a| a.as_slice()).unwrap_or_default() {
                if let Some(c) = c.as_document() {
                    classify_fields(c, equality, range);
                }
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let is_range = v.as_document().is_some_and(|d| {
            d.keys().any(|op| {
                matches!(
                    op.as_str(),
                    "$gt" | "$gte" | "$lt" | "$lte" | "$ne" | "$nin" | "$regex" | "$exists"
                )
            })
        });
        if is_range {
            range.push(k.clone());
        } else {
            equality.push(k.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_detection_respects_order_and_direction() {
        assert!(is_strict_prefix(&doc! {"a": 1}, &doc! {"a": 1, "b": 1}));
        assert!(is_strict_prefix(&doc! {"a": -1}, &doc! {"a": -1.0, "b": 1}));
        assert!(!is_strict_prefix(&doc! {"a": 1}, &doc! {"a": -1, "b": 1}));
        assert!(!is_strict_prefix(&doc! {"b": 1}, &doc! {"a": 1, "b": 1}));
        assert!(!is_strict_prefix(
            &doc! {"a": 1, "b": 1},
            &doc! {"a": 1, "b": 1}
        ));
        assert!(!is_strict_prefix(
            &doc! {"t": "text"},
            &doc! {"t": 1, "x": 1}
        ));
    }

    #[test]
    fn slope_and_projection() {
        assert_eq!(slope(&[0.0], &[1.0]), None);
        assert_eq!(slope(&[1.0, 1.0], &[1.0, 5.0]), None);
        assert_eq!(slope(&[0.0, 1.0, 2.0], &[10.0, 20.0, 30.0]), Some(10.0));
        let day = 86_400_000;
        let pts: Vec<Point> = (0..3)
            .map(|i| Point {
                at: DateTime::from_millis(i * 10 * day),
                documents: 1000 + i * 100,
                data_size: 0,
                total_size: 1_000_000 + i * 50_000,
            })
            .collect();
        let g = growth("d", "db", &pts);
        assert_eq!(g.total_size_per_day, Some(5000.0));
        assert_eq!(g.documents_per_day, Some(10.0));
        assert_eq!(
            g.projections[0],
            Projection {
                days: 30,
                total_size: 1_100_000 + 150_000,
                documents: 1200 + 300
            }
        );
        assert!(growth("d", "db", &pts[..1]).projections.is_empty());
    }

    #[test]
    fn esr_suggestion() {
        let k = suggest_index(
            &doc! {"age": {"$gt": 30}, "status": "A", "$and": [{"city": {"$in": ["x"]}}]},
            Some(&doc! {"created": -1}),
        );
        assert_eq!(k, doc! {"status": 1, "city": 1, "created": -1, "age": 1});
    }

    #[test]
    fn since_parses_durations_and_times() {
        let now = DateTime::from_millis(10_000_000);
        assert_eq!(
            parse_since("90s", now).unwrap().timestamp_millis(),
            10_000_000 - 90_000
        );
        assert_eq!(
            parse_since("2h", now).unwrap().timestamp_millis(),
            10_000_000 - 7_200_000
        );
        assert_eq!(
            parse_since("1970-01-01T00:00:01Z", now)
                .unwrap()
                .timestamp_millis(),
            1000
        );
        assert!(parse_since("5y", now).is_err());
        assert!(parse_since("yesterday", now).is_err());
    }

    #[test]
    fn explain_summary_reads_classic_and_sbe_plans() {
        let classic = doc! {
            "queryPlanner": {"winningPlan": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN", "indexName": "a_1", "keyPattern": {"a": 1}}}, "rejectedPlans": []},
            "executionStats": {"nReturned": 3, "executionTimeMillis": 1, "totalKeysExamined": 3, "totalDocsExamined": 3},
        };
        let e = summarize_explain("d", "c", &doc! {"a": 1}, None, &classic);
        assert_eq!(e.stages, vec!["FETCH", "IXSCAN a_1"]);
        assert_eq!(e.indexes, vec!["a_1"]);
        assert!(!e.collscan && e.suggested_index.is_none());
        let sort_only = doc! {
            "queryPlanner": {"winningPlan": {"stage": "FETCH", "filter": {}, "inputStage": {"stage": "IXSCAN", "indexName": "t_1", "keyPattern": {"t": 1}}}},
        };
        let e = summarize_explain("d", "c", &doc! {"b": 2}, Some(&doc! {"t": 1}), &sort_only);
        assert!(!e.collscan && !e.filter_supported);
        assert_eq!(e.suggested_index, Some(serde_json::json!({"b": 1, "t": 1})));
        let sbe = doc! {
            "queryPlanner": {"winningPlan": {"queryPlan": {"stage": "COLLSCAN"}, "slotBasedPlan": {}}},
            "executionStats": {"nReturned": 1, "totalDocsExamined": 100},
        };
        let e = summarize_explain("d", "c", &doc! {"b": 2}, None, &sbe);
        assert!(e.collscan);
        assert_eq!(e.docs_examined, 100);
        assert_eq!(e.suggested_index, Some(serde_json::json!({"b": 1})));
    }
}
