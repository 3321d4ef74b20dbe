//! Reads a sharded cluster's state through a mongos: `config.collections`, `config.tags` and
//! `config.shards`, in their documented shapes. Parsing is separate from reading so that it
//! is tested on sample documents (no mongos is started by the tests).

use anyhow::{Context, Result};
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Client;

use super::diff::{ClusterSharding, LiveCollection, LiveRange};

/// Whether the connection is to a mongos: `hello` answers `msg: "isdbgrid"` there only.
pub async fn is_mongos(client: &Client) -> Result<bool> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .context("running hello")?;
    Ok(is_mongos_hello(&hello))
}

pub fn is_mongos_hello(hello: &Document) -> bool {
    hello.get_str("msg") == Ok("isdbgrid")
}

/// A `config.collections` document: `{_id: "db.coll", key: {...}, unique: bool, ...}`;
/// `None` for one marked `dropped` (older servers keep those).
pub fn parse_collection(d: &Document) -> Option<(String, LiveCollection)> {
    if d.get_bool("dropped").unwrap_or(false) {
        return None;
    }
    let ns = d.get_str("_id").ok()?;
    let key = d.get_document("key").ok()?.clone();
    let unique = d.get_bool("unique").unwrap_or(false);
    Some((ns.to_string(), LiveCollection { key, unique }))
}

/// A `config.shards` document: `{_id: "shard01", host: "rs/h:p", tags: ["eu"], ...}`.
pub fn parse_shard(d: &Document) -> Option<(String, Vec<String>)> {
    let id = d.get_str("_id").ok()?;
    let tags = d
        .get_array("tags")
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some((id.to_string(), tags))
}

/// A `config.tags` document: `{ns: "db.coll", min: {...}, max: {...}, tag: "eu"}`.
pub fn parse_range(d: &Document) -> Option<LiveRange> {
    Some(LiveRange {
        namespace: d.get_str("ns").ok()?.to_string(),
        zone: d.get_str("tag").ok()?.to_string(),
        min: d.get_document("min").ok()?.clone(),
        max: d.get_document("max").ok()?.clone(),
    })
}

async fn all(client: &Client, coll: &str, filter: Document) -> Result<Vec<Document>> {
    let read = async {
        client
            .database("config")
            .collection::<Document>(coll)
            .find(filter)
            .await?
            .try_collect()
            .await
    };
    read.await.with_context(|| format!("reading config.{coll}"))
}

/// The cluster's sharding state for `namespaces` (and every shard).
pub async fn read(client: &Client, namespaces: &[String]) -> Result<ClusterSharding> {
    let in_ns = doc! {"$in": namespaces};
    let mut state = ClusterSharding::default();
    for d in all(client, "collections", doc! {"_id": in_ns.clone()}).await? {
        state.collections.extend(parse_collection(&d));
    }
    for d in all(client, "shards", doc! {}).await? {
        state.shards.extend(parse_shard(&d));
    }
    for d in all(client, "tags", doc! {"ns": in_ns}).await? {
        state.ranges.extend(parse_range(&d));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use bson::{Bson, oid::ObjectId};

    use super::*;

    #[test]
    fn mongos_is_recognised_by_its_hello() {
        assert!(is_mongos_hello(
            &doc! {"isWritablePrimary": true, "msg": "isdbgrid", "maxWireVersion": 17}
        ));
        assert!(!is_mongos_hello(
            &doc! {"isWritablePrimary": true, "setName": "rs0"}
        ));
    }

    /// As MongoDB 6.0 writes them (fields from its documentation of the config database).
    #[test]
    fn config_documents_parse() {
        let coll = doc! {
            "_id": "chat.messages",
            "lastmodEpoch": ObjectId::new(),
            "lastmod": bson::DateTime::now(),
            "timestamp": bson::Timestamp { time: 1, increment: 2 },
            "uuid": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![0; 16] },
            "key": {"tenant_id": 1.0, "created_at": 1.0},
            "unique": false,
            "noBalance": false,
        };
        let (ns, c) = parse_collection(&coll).unwrap();
        assert_eq!(ns, "chat.messages");
        assert_eq!(c.key, doc! {"tenant_id": 1.0, "created_at": 1.0});
        assert!(!c.unique);
        let mut dropped = coll.clone();
        dropped.insert("dropped", true);
        assert_eq!(parse_collection(&dropped), None);

        let shard = doc! {"_id": "shard-eu", "host": "rs-eu/h1:27018,h2:27018", "state": 1, "tags": ["eu", "gdpr"]};
        assert_eq!(
            parse_shard(&shard),
            Some(("shard-eu".into(), vec!["eu".into(), "gdpr".into()]))
        );
        let untagged = doc! {"_id": "shard-us", "host": "rs-us/h3:27018", "state": 1};
        assert_eq!(parse_shard(&untagged), Some(("shard-us".into(), vec![])));

        let tag = doc! {
            "_id": ObjectId::new(),
            "ns": "chat.messages",
            "min": {"tenant_id": Bson::MinKey, "created_at": Bson::MinKey},
            "max": {"tenant_id": "m", "created_at": Bson::MinKey},
            "tag": "eu",
        };
        let r = parse_range(&tag).unwrap();
        assert_eq!(
            (r.namespace.as_str(), r.zone.as_str()),
            ("chat.messages", "eu")
        );
        assert_eq!(r.max, doc! {"tenant_id": "m", "created_at": Bson::MinKey});
        assert_eq!(parse_range(&doc! {"ns": "a.b"}), None);
    }
}
