//! The numbers DBAs look at every day, gathered into plain structs: database and collection
//! sizes (dbStats / $collStats), index usage ($indexStats), server and replication health
//! (serverStatus, replSetGetStatus, the oplog), rates between two serverStatus samples,
//! recorded snapshots and their growth, the profiler and query plans. Nothing here prints;
//! `render` draws these values.
//!
//! A section the connected user may not read does not fail the command: it becomes an
//! [`Unavailable`] that names the missing privilege.

use bson::{DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::Database;
use serde::Serialize;

use crate::error::describe_driver_error;
use crate::model::as_f64;

mod explain;
mod growth;
mod indexes;
mod latency;
mod profile;
mod server;
mod sizes;
mod tenants;
mod watch;

pub use explain::*;
pub use growth::*;
pub use indexes::*;
pub use latency::*;
pub use profile::*;
pub use server::*;
pub use sizes::*;
pub use tenants::*;
pub use watch::*;

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
