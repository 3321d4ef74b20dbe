//! The restore's temporary collections. Before any data is written, every collection's
//! options, validator and index specs (and every view's pipeline) are given to the server on
//! an empty temporary collection `<coll>.mongoctl_restore_<id>` in the target database, so a
//! spec the server refuses fails the restore while nothing is touched. With `--drop` that
//! temporary collection is where the data goes; once it is complete and indexed it replaces
//! the target with `renameCollection` (`dropTarget: true`), so a failure before the swap leaves
//! the old data as it was.

use anyhow::Result;
use bson::{Document, doc};
use mongodb::Client;

use super::format::CollectionMeta;
use super::nsmatch::split;

/// The server's longest namespace (`db.collection`, bytes).
const MAX_NAMESPACE: usize = 255;

pub use crate::error::described;

/// Whether `renameCollection` can swap a restored copy in: not a view, not a time series
/// collection (6.0 cannot rename them), not a system collection.
pub fn swappable(target: &str, meta: &CollectionMeta) -> bool {
    !meta.is_view() && !meta.is_timeseries() && !split(target).1.starts_with("system.")
}

/// Whether the server can be asked about `meta` on a temporary collection (system
/// collections cannot be created under another name).
pub fn checkable(target: &str) -> bool {
    !split(target).1.starts_with("system.")
}

/// A temporary namespace next to `target` that no other collection has: its name plus
/// `.mongoctl_restore_<ObjectId>` (unique per call), shortened to the ObjectId alone when
/// that would exceed the namespace limit.
pub fn temp_namespace(target: &str) -> String {
    let (db, coll) = split(target);
    let id = bson::oid::ObjectId::new().to_hex();
    let long = format!("{db}.{coll}.mongoctl_restore_{id}");
    if long.len() <= MAX_NAMESPACE {
        long
    } else {
        format!("{db}.mongoctl_restore_{id}")
    }
}

/// `create` with the backup's options (a view's `viewOn` and `pipeline` included).
pub async fn create(client: &Client, ns: &str, meta: &CollectionMeta) -> Result<()> {
    let (db, coll) = split(ns);
    let mut cmd = doc! {"create": coll};
    for (k, v) in &meta.options {
        if k != "uuid" {
            cmd.insert(k.clone(), v.clone());
        }
    }
    client
        .database(db)
        .run_command(cmd)
        .await
        .map_err(described)?;
    Ok(())
}

/// The secondary indexes of `meta` (the `_id` index comes with the collection).
pub fn secondary_indexes(meta: &CollectionMeta) -> Vec<Document> {
    meta.indexes
        .iter()
        .filter(|i| i.get_str("name") != Ok("_id_"))
        .cloned()
        .collect()
}

/// Builds the secondary indexes of `meta` on `ns`.
pub async fn build_indexes(client: &Client, ns: &str, meta: &CollectionMeta) -> Result<()> {
    let indexes = secondary_indexes(meta);
    if indexes.is_empty() {
        return Ok(());
    }
    let (db, coll) = split(ns);
    client
        .database(db)
        .run_command(doc! {"createIndexes": coll, "indexes": indexes})
        .await
        .map_err(described)?;
    Ok(())
}

pub async fn drop_collection(client: &Client, ns: &str) -> Result<()> {
    let (db, coll) = split(ns);
    client
        .database(db)
        .collection::<Document>(coll)
        .drop()
        .await
        .map_err(described)
}

/// Asks the server to accept `meta` (options, validator, indexes or view pipeline) on a new
/// temporary collection next to `target`. `keep`: the temporary collection is returned, empty
/// and without its secondary indexes (they are built once the data is in, which is faster);
/// otherwise it is dropped again. On error nothing is left behind.
pub async fn check(
    client: &Client,
    target: &str,
    meta: &CollectionMeta,
    keep: bool,
) -> Result<Option<String>> {
    let temp = temp_namespace(target);
    let tried = async {
        create(client, &temp, meta).await?;
        if !meta.is_view() {
            build_indexes(client, &temp, meta).await?;
            if keep && !secondary_indexes(meta).is_empty() {
                let (db, coll) = split(&temp);
                client
                    .database(db)
                    .run_command(doc! {"dropIndexes": coll, "index": "*"})
                    .await
                    .map_err(described)?;
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if tried.is_err() || !keep {
        drop_collection(client, &temp).await.ok();
    }
    tried?;
    Ok(keep.then_some(temp))
}

/// Replaces `target` by `temp` (`renameCollection` with `dropTarget`).
pub async fn swap_in(client: &Client, temp: &str, target: &str) -> Result<()> {
    client
        .database("admin")
        .run_command(doc! {"renameCollection": temp, "to": target, "dropTarget": true})
        .await
        .map_err(described)?;
    Ok(())
}
