//! The fleet's fast read (`$listCatalog`, one aggregation per tenant database) gives the live
//! model the per-collection read (`listIndexes`) gives, byte for byte, on a real mongod:
//! indexes with options, a dropped and re-created index (catalog order), a clustered and a
//! capped collection, a view; and a user the stage refuses still gets the same model.

use std::collections::BTreeSet;

use bson::{Document, doc};
use mongoctl::live::{self, catalog::Catalog};
use mongoctl::model::DatabaseState;
use mongodb::Client;

use crate::common;

const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

fn db_name(t: &str) -> String {
    format!("fr_{t}")
}

/// Tenant databases whose collections have indexes of every option mongoctl manages.
async fn build_fleet(client: &Client) {
    for t in TENANTS {
        let db = client.database(&db_name(t));
        db.run_command(doc! {"create": "messages", "validator": {"$jsonSchema": {"bsonType": "object", "required": ["body"]}}})
            .await
            .unwrap();
        db.run_command(doc! {"create": "names", "collation": {"locale": "fr", "strength": 2}})
            .await
            .unwrap();
        db.run_command(
            doc! {"create": "events", "clusteredIndex": {"key": {"_id": 1}, "unique": true}},
        )
        .await
        .unwrap();
        db.run_command(doc! {"create": "log", "capped": true, "size": 1_048_576})
            .await
            .unwrap();
        db.run_command(
            doc! {"create": "recent", "viewOn": "messages", "pipeline": [{"$limit": 10}]},
        )
        .await
        .unwrap();
        db.collection::<Document>("messages")
            .insert_many((0..20).map(|i| doc! {"seq": i, "body": format!("m{i}"), "sender": format!("u{}", i % 3), "at": bson::DateTime::now()}))
            .await
            .unwrap();
        let indexes = vec![
            doc! {"key": {"seq": 1, "at": -1}, "name": "seq_at", "unique": true},
            doc! {"key": {"body": 1}, "name": "body_partial", "partialFilterExpression": {"sender": {"$exists": true}}},
            doc! {"key": {"at": 1}, "name": "ttl", "expireAfterSeconds": 3600},
            doc! {"key": {"body": 1, "sender": 1}, "name": "body_fr", "collation": {"locale": "fr", "strength": 1}},
            doc! {"key": {"sender": -1}, "name": "hidden_sender", "hidden": true},
            doc! {"key": {"tag": 1}, "name": "tag_sparse", "sparse": true},
            doc! {"key": {"body": "text"}, "name": "body_text", "weights": {"body": 3}, "default_language": "english"},
            doc! {"key": {"loc": "2d"}, "name": "geo_2d", "bits": 20, "min": -90, "max": 90.5},
            doc! {"key": {"place": "2dsphere"}, "name": "place_2dsphere", "2dsphereIndexVersion": 3},
            doc! {"key": {"meta.$**": 1}, "name": "wild"},
            doc! {"key": {"seq": -1}, "name": "ttl_unique_partial", "expireAfterSeconds": 3600_i64, "unique": 1, "partialFilterExpression": {"seq": {"$gt": 5}}, "collation": {"locale": "en"}},
            doc! {"key": {"gone": 1}, "name": "gone_1"},
        ];
        db.run_command(doc! {"createIndexes": "messages", "indexes": indexes})
            .await
            .unwrap();
        // Dropped, then another one created: the catalog's order after a removal.
        db.run_command(doc! {"dropIndexes": "messages", "index": "gone_1"})
            .await
            .unwrap();
        db.run_command(
            doc! {"createIndexes": "messages", "indexes": [{"key": {"late": 1}, "name": "late_1"}]},
        )
        .await
        .unwrap();
        db.run_command(
            doc! {"collMod": "messages", "index": {"name": "ttl", "expireAfterSeconds": 60}},
        )
        .await
        .unwrap();
        db.run_command(
            doc! {"createIndexes": "names", "indexes": [{"key": {"n": 1}, "name": "n_1"}]},
        )
        .await
        .unwrap();
    }
}

fn names() -> Vec<String> {
    TENANTS.iter().map(|t| db_name(t)).collect()
}

fn desired() -> Vec<DatabaseState> {
    TENANTS
        .iter()
        .map(|t| DatabaseState {
            domain: "chat".into(),
            name: db_name(t),
            collections: vec![],
            views: vec![],
        })
        .collect()
}

/// The live model of the fleet, read per collection (`None`) or through the catalog.
async fn read(client: &Client, catalog: Option<&Catalog>) -> String {
    shown(read_model(client, catalog).await)
}

/// Debug shows field order and BSON types (Document equality ignores order).
fn shown(dbs: Vec<DatabaseState>) -> String {
    format!("{dbs:#?}")
}

async fn read_model(client: &Client, catalog: Option<&Catalog>) -> Vec<DatabaseState> {
    let existing: BTreeSet<String> = live::existing_databases(client)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let dbs = live::inspect_databases(client, &desired(), &existing, catalog)
        .await
        .unwrap();
    assert_eq!(dbs.len(), TENANTS.len());
    dbs
}

#[tokio::test]
async fn catalog_reads_give_the_per_collection_model() {
    let server = common::standalone().await;
    let client = server.client();
    build_fleet(&client).await;

    // The catalog answers this server (6.0+, no access control): the fast path is taken.
    let catalog = Catalog::read(&client, &names())
        .await
        .unwrap()
        .expect("$listCatalog answered");
    let acme = db_name("acme");
    assert_eq!(catalog.indexes(&acme, "messages").unwrap().len(), 13);
    assert!(
        catalog.indexes(&acme, "events").is_none(),
        "clustered: left to listIndexes"
    );
    assert!(
        catalog.indexes(&acme, "recent").is_none(),
        "a view has no indexes"
    );

    let slow = read(&client, None).await;
    assert_eq!(read(&client, Some(&catalog)).await, slow);
    for name in [
        "hidden_sender",
        "body_partial",
        "late_1",
        "body_text",
        "geo_2d",
        "place_2dsphere",
        "wild",
        "ttl_unique_partial",
    ] {
        assert!(
            slow.contains(name),
            "{name} missing from the model:\n{slow}"
        );
    }
}

#[tokio::test]
async fn a_user_the_catalog_refuses_reads_per_collection_with_the_same_model() {
    let server = common::auth_standalone().await;
    let root = server.client();
    build_fleet(&root).await;
    let roles: Vec<Document> = TENANTS
        .iter()
        .map(|t| doc! {"role": "read", "db": db_name(t)})
        .collect();
    root.database("admin")
        .run_command(doc! {"createUser": "reader", "pwd": "reader-pw", "roles": roles})
        .await
        .unwrap();
    let uri =
        server
            .uri_without_credentials()
            .replacen("mongodb://", "mongodb://reader:reader-pw@", 1);
    let reader = Client::with_uri_str(uri).await.unwrap();

    // Refused, not an error: the plan reads per collection, as this user may, and gets the
    // model root's catalog read gives (but for system.views, which only root is shown).
    assert!(Catalog::read(&reader, &names()).await.unwrap().is_none());
    let root_catalog = Catalog::read(&root, &names()).await.unwrap();
    assert!(root_catalog.is_some());
    let without_system = |mut dbs: Vec<DatabaseState>| {
        for d in &mut dbs {
            d.collections.retain(|c| !c.name.starts_with("system."));
        }
        shown(dbs)
    };
    assert_eq!(
        without_system(read_model(&reader, None).await),
        without_system(read_model(&root, root_catalog.as_ref()).await)
    );
}
