//! Reads the live cluster into the same model the spec produces. Only the databases the
//! desired state names are inspected, all of them concurrently: one `listCollections` per
//! database, one `listIndexes` per collection and one `find` per seeded collection.

use anyhow::{Context, Result};
use bson::{Bson, Document, doc};
use futures::{TryStreamExt, future::try_join_all};
use mongodb::{Client, Database};

use crate::diff::key_filter;
use crate::model::{
    Capped, ClusterState, CollectionOptions, CollectionState, DatabaseState, INDEX_OPTIONS,
    IndexDef, SeedSet, Timeseries, as_i64,
};

pub async fn existing_databases(client: &Client) -> Result<Vec<String>> {
    client
        .list_database_names()
        .await
        .context("listing databases")
}

/// The live counterpart of `desired`: databases that do not exist are absent from the result.
pub async fn inspect(client: &Client, desired: &ClusterState) -> Result<ClusterState> {
    let existing = existing_databases(client).await?;
    let dbs = desired
        .databases
        .iter()
        .filter(|d| existing.contains(&d.name))
        .map(|d| inspect_database(client.database(&d.name), d));
    Ok(ClusterState {
        databases: try_join_all(dbs).await?,
    })
}

async fn inspect_database(db: Database, desired: &DatabaseState) -> Result<DatabaseState> {
    let specs: Vec<Document> = db
        .run_cursor_command(doc! {"listCollections": 1, "authorizedCollections": true})
        .await
        .with_context(|| format!("listing collections of {}", db.name()))?
        .try_collect()
        .await
        .with_context(|| format!("listing collections of {}", db.name()))?;
    let colls = specs
        .iter()
        .map(|spec| inspect_collection(&db, spec, desired));
    let mut collections = try_join_all(colls).await?;
    collections.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(DatabaseState {
        domain: desired.domain.clone(),
        name: db.name().to_string(),
        collections,
    })
}

async fn inspect_collection(
    db: &Database,
    spec: &Document,
    desired: &DatabaseState,
) -> Result<CollectionState> {
    let name = spec.get_str("name").unwrap_or_default().to_string();
    let kind = spec.get_str("type").unwrap_or("collection");
    let options = spec.get_document("options").cloned().unwrap_or_default();
    let mut state = collection_from_options(&name, kind, &options);
    if state.is_view || name.starts_with("system.") {
        return Ok(state);
    }
    let indexes: Vec<Document> = db
        .run_cursor_command(doc! {"listIndexes": &name})
        .await
        .with_context(|| format!("listing indexes of {}.{name}", db.name()))?
        .try_collect()
        .await
        .with_context(|| format!("listing indexes of {}.{name}", db.name()))?;
    state.indexes = indexes.iter().map(index_from_document).collect();
    if let Some(seeds) = desired.collection(&name).and_then(|c| c.seeds.as_ref()) {
        state.seeds = Some(SeedSet {
            key: seeds.key.clone(),
            documents: find_seed_documents(db, &name, seeds).await?,
        });
    }
    Ok(state)
}

/// The live documents whose natural keys appear in the seed set.
async fn find_seed_documents(db: &Database, coll: &str, seeds: &SeedSet) -> Result<Vec<Document>> {
    let filters: Vec<Document> = seeds
        .documents
        .iter()
        .filter_map(|d| seeds.key_of(d))
        .map(|k| key_filter(seeds, &k))
        .collect();
    if filters.is_empty() {
        return Ok(vec![]);
    }
    db.collection::<Document>(coll)
        .find(doc! {"$or": filters})
        .await
        .with_context(|| format!("reading seed documents of {}.{coll}", db.name()))?
        .try_collect()
        .await
        .with_context(|| format!("reading seed documents of {}.{coll}", db.name()))
}

/// Parses `listCollections` options into the model.
pub fn collection_from_options(name: &str, kind: &str, o: &Document) -> CollectionState {
    let mut c = CollectionState::new(name);
    c.is_view = kind == "view";
    if let Ok(v) = o.get_document("validator") {
        match v.get_document("$jsonSchema") {
            Ok(schema) if v.len() == 1 => c.validator = Some(schema.clone()),
            _ if v.is_empty() => {}
            _ => c.other_validator = Some(v.clone()),
        }
    }
    let str_opt = |k: &str| o.get_str(k).ok().map(str::to_string);
    let timeseries = o.get_document("timeseries").ok().map(|t| Timeseries {
        time_field: t.get_str("timeField").unwrap_or_default().to_string(),
        meta_field: t.get_str("metaField").ok().map(str::to_string),
        granularity: t.get_str("granularity").ok().map(str::to_string),
        expire_after_seconds: o.get("expireAfterSeconds").and_then(as_i64),
    });
    c.options = CollectionOptions {
        validation_level: str_opt("validationLevel"),
        validation_action: str_opt("validationAction"),
        capped: (o.get_bool("capped") == Ok(true)).then(|| Capped {
            size: o.get("size").and_then(as_i64).unwrap_or(0),
            max: o.get("max").and_then(as_i64).filter(|m| *m > 0),
        }),
        clustered: timeseries.is_none()
            && o.contains_key("clusteredIndex")
            && o.get_bool("clusteredIndex") != Ok(false),
        timeseries,
        collation: o.get_document("collation").ok().cloned(),
        change_stream_pre_and_post_images: o
            .get_document("changeStreamPreAndPostImages")
            .is_ok_and(|d| d.get_bool("enabled") == Ok(true)),
    };
    c
}

/// A `listIndexes` entry in the model: options mongoctl does not manage (`v`, `ns`,
/// `textIndexVersion`, …) are left out.
pub fn index_from_document(d: &Document) -> IndexDef {
    IndexDef {
        name: d.get_str("name").unwrap_or_default().to_string(),
        key: d.get_document("key").cloned().unwrap_or_default(),
        options: d
            .iter()
            .filter(|(k, _)| INDEX_OPTIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Document>(),
    }
}

/// True when `b` is a server answer with `ok: 1`.
pub fn command_ok(reply: &Document) -> bool {
    matches!(reply.get("ok"), Some(Bson::Double(f)) if *f == 1.0) || reply.get_i32("ok") == Ok(1)
}
