//! Server and replication health: serverStatus, replSetGetStatus and the oplog window.

use anyhow::{Context, Result};
use bson::{DateTime, Document, doc};
use mongodb::Client;
use serde::Serialize;

use super::*;

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
    /// Pages found in the cache per page requested, since the server started (null before
    /// the first request).
    pub hit_percent: Option<f64>,
}

/// Average milliseconds per operation since the server started (serverStatus opLatencies);
/// null before the first operation of the kind.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latencies {
    pub reads_ms: Option<f64>,
    pub writes_ms: Option<f64>,
    pub commands_ms: Option<f64>,
}

impl Latencies {
    fn from(d: Option<&Document>) -> Self {
        let avg = |kind: &str| {
            let k = d.and_then(|d| sub(d, kind))?;
            let ops = num(k, "ops");
            (ops > 0.0).then(|| num(k, "latency") / ops / 1000.0)
        };
        Latencies {
            reads_ms: avg("reads"),
            writes_ms: avg("writes"),
            commands_ms: avg("commands"),
        }
    }
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
    pub latency: Latencies,
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
            let requested = num(c, "pages requested from the cache");
            let read = num(c, "pages read into cache");
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
                hit_percent: (requested > 0.0)
                    .then(|| ((requested - read) * 100.0 / requested).clamp(0.0, 100.0)),
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
            latency: Latencies::from(sub(s, "opLatencies")),
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
