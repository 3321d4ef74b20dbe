//! Which collections a backup reads: the databases and collections the options select,
//! each with its metadata (options, indexes), the collection actually read and its size.

use anyhow::{Context, Result};
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Client;

use crate::backup::format::CollectionMeta;
use crate::backup::{SYSTEM_DATABASES, ns};

use super::BackupOptions;

/// One collection to dump.
#[derive(Debug, Clone)]
pub struct Target {
    pub db: String,
    pub meta: CollectionMeta,
    /// The collection read (`system.buckets.<name>` for a time series).
    pub source: String,
    pub estimate: u64,
    pub size: i64,
}

impl Target {
    pub fn ns(&self) -> String {
        ns(&self.db, &self.meta.name)
    }

    /// Documents per cursor batch for ~4 MiB batches (the server's default is up to 16 MiB,
    /// which the driver holds in memory per cursor).
    pub fn batch_size(&self) -> u32 {
        let avg = if self.estimate > 0 && self.size > 0 {
            (self.size as u64 / self.estimate).max(1)
        } else {
            1024
        };
        ((4u64 << 20) / avg).clamp(100, 100_000) as u32
    }
}

pub async fn server_version(client: &Client) -> Result<String> {
    let b = client
        .database("admin")
        .run_command(doc! {"buildInfo": 1})
        .await
        .context("buildInfo")?;
    Ok(b.get_str("version").unwrap_or("unknown").to_string())
}

/// The collections `opts` selects, sorted by namespace.
pub async fn discover(client: &Client, opts: &BackupOptions) -> Result<Vec<Target>> {
    let dbs = if opts.databases.is_empty() {
        client
            .list_database_names()
            .await
            .context("listing databases")?
            .into_iter()
            .filter(|d| !SYSTEM_DATABASES.contains(&d.as_str()))
            .collect()
    } else {
        opts.databases.clone()
    };
    let mut out = Vec::new();
    for dbname in dbs {
        let db = client.database(&dbname);
        let entries: Vec<Document> = db
            .run_cursor_command(doc! {"listCollections": 1})
            .await
            .with_context(|| format!("listing the collections of {dbname}"))?
            .try_collect()
            .await?;
        for e in entries {
            let name = e.get_str("name").unwrap_or_default().to_string();
            if name.starts_with("system.") || (dbname == "mongoctl" && name == "restore_progress") {
                continue;
            }
            if !opts.collections.is_empty() && !opts.collections.contains(&name) {
                continue;
            }
            if !opts.rules.selected(&ns(&dbname, &name)) {
                continue;
            }
            let kind = e.get_str("type").unwrap_or("collection").to_string();
            let indexes: Vec<Document> = if kind == "view" {
                Vec::new()
            } else {
                db.run_cursor_command(doc! {"listIndexes": &name})
                    .await
                    .with_context(|| format!("listing the indexes of {dbname}.{name}"))?
                    .try_collect()
                    .await?
            };
            let meta = CollectionMeta::from_list_entry(&e, indexes);
            let source = if meta.is_timeseries() {
                format!("system.buckets.{name}")
            } else {
                name.clone()
            };
            let (estimate, size) = if meta.is_view() {
                (0, 0)
            } else {
                let c = db.collection::<Document>(&source);
                let est = c.estimated_document_count().await.unwrap_or(0);
                let size = db
                    .run_command(doc! {"collStats": &source})
                    .await
                    .ok()
                    .and_then(|s| match s.get("size") {
                        Some(bson::Bson::Int32(v)) => Some(*v as i64),
                        Some(bson::Bson::Int64(v)) => Some(*v),
                        Some(bson::Bson::Double(v)) => Some(*v as i64),
                        _ => None,
                    })
                    .unwrap_or(0);
                (est, size)
            };
            out.push(Target {
                db: dbname.clone(),
                meta,
                source,
                estimate,
                size,
            });
        }
    }
    out.sort_by_key(|t| t.ns());
    Ok(out)
}
