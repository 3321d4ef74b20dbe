//! The source's definition (options from `listCollections`, indexes from `listIndexes`) and
//! the target made from it. A target is only ever created here: one that exists already is
//! refused, unless it is the remains of an earlier copy by relocate itself (its UUID is in
//! the marker collection) and the caller asked to replace it. The marker of a target goes
//! once its copy is verified, so a finished target is never replaced.

use anyhow::{Context, Result, bail};
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::Client;

use super::Namespace;
use crate::backup::format::CollectionMeta;
use crate::backup::staging::{self, described};

/// Where relocate records the targets it has created and not yet verified.
pub const MARKERS: (&str, &str) = ("mongoctl", "relocate_progress");

/// The `listCollections` entry of `ns`, if it exists.
async fn entry(client: &Client, ns: &Namespace) -> Result<Option<Document>> {
    let mut entries: Vec<Document> = client
        .database(&ns.db)
        .run_cursor_command(doc! {"listCollections": 1, "filter": {"name": &ns.coll}})
        .await
        .map_err(described)
        .with_context(|| format!("listing the collections of {}", ns.db))?
        .try_collect()
        .await
        .map_err(described)?;
    Ok(entries.pop())
}

/// The source's options and indexes; views, time series and system collections refused.
pub async fn source_meta(client: &Client, ns: &Namespace) -> Result<CollectionMeta> {
    let Some(e) = entry(client, ns).await? else {
        bail!("the source {ns} does not exist");
    };
    let meta = CollectionMeta::from_list_entry(&e, Vec::new());
    if meta.is_view() {
        bail!("{ns} is a view: relocate copies collections; recreate the view instead");
    }
    if meta.is_timeseries() {
        bail!("{ns} is a time-series collection, which relocate does not copy (yet)");
    }
    if ns.coll.starts_with("system.") {
        bail!("{ns} is a system collection, which relocate does not copy");
    }
    let indexes: Vec<Document> = client
        .database(&ns.db)
        .run_cursor_command(doc! {"listIndexes": &ns.coll})
        .await
        .map_err(described)
        .with_context(|| format!("listing the indexes of {ns}"))?
        .try_collect()
        .await
        .map_err(described)?;
    Ok(CollectionMeta::from_list_entry(&e, indexes))
}

/// The indexes to build after the data: not `_id_`, not a clustered index (both come with
/// the collection).
pub fn indexes_to_build(meta: &CollectionMeta) -> CollectionMeta {
    let mut m = meta.clone();
    m.indexes
        .retain(|i| !i.get_bool("clustered").unwrap_or(false));
    m.indexes = staging::secondary_indexes(&m);
    m
}

fn uuid_of(e: &Document) -> Option<Bson> {
    e.get_document("info").ok()?.get("uuid").cloned()
}

fn markers(client: &Client) -> mongodb::Collection<Document> {
    client.database(MARKERS.0).collection(MARKERS.1)
}

/// Creates `target` with `meta`'s options (and records it as relocate's). An existing target
/// is dropped first only when `replace_partial` and it is one relocate created.
pub async fn create(
    client: &Client,
    source: &Namespace,
    target: &Namespace,
    meta: &CollectionMeta,
    replace_partial: bool,
) -> Result<()> {
    if let Some(e) = entry(client, target).await? {
        let mine = markers(client)
            .find_one(doc! {"_id": target.to_string()})
            .await
            .map_err(described)?
            .is_some_and(|m| m.get("uuid").cloned() == uuid_of(&e) && uuid_of(&e).is_some());
        let n = target
            .raw(client)
            .estimated_document_count()
            .await
            .map_err(described)?;
        match (mine, replace_partial) {
            (true, true) => staging::drop_collection(client, &target.to_string())
                .await
                .with_context(|| format!("dropping the partial copy {target}"))?,
            (true, false) => bail!(
                "the target {target} ({n} documents) is left from an earlier, unfinished copy; \
                 replace it (replace_partial) or drop it"
            ),
            (false, _) => bail!(
                "the target {target} already exists ({n} documents) and was not created by an \
                 unfinished copy: relocate never writes into a collection it did not create"
            ),
        }
    }
    staging::create(client, &target.to_string(), meta)
        .await
        .with_context(|| format!("creating {target} with the options of {source}"))?;
    let uuid = entry(client, target)
        .await?
        .as_ref()
        .and_then(uuid_of)
        .context("the new target has no UUID")?;
    markers(client)
        .replace_one(
            doc! {"_id": target.to_string()},
            doc! {"_id": target.to_string(), "source": source.to_string(), "uuid": uuid,
            "started": bson::DateTime::now()},
        )
        .upsert(true)
        .await
        .map_err(described)
        .context("recording the new target")?;
    Ok(())
}

/// The target is verified: it is no longer a partial copy.
pub async fn finished(client: &Client, target: &Namespace) -> Result<()> {
    markers(client)
        .delete_one(doc! {"_id": target.to_string()})
        .await
        .map_err(described)
        .context("clearing the target's unfinished-copy mark")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_clustered_indexes_come_with_the_collection() {
        let meta = CollectionMeta {
            name: "c".into(),
            kind: "collection".into(),
            options: doc! {},
            indexes: vec![
                doc! {"v": 2, "key": {"_id": 1}, "name": "by_id", "clustered": true, "unique": true},
                doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                doc! {"v": 2, "key": {"a": 1}, "name": "a_1"},
            ],
            uuid: None,
        };
        let names: Vec<_> = indexes_to_build(&meta)
            .indexes
            .iter()
            .map(|i| i.get_str("name").unwrap().to_string())
            .collect();
        assert_eq!(names, ["a_1"]);
    }
}
