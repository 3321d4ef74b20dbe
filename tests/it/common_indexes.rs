//! Common indexes (`"commonIndexes"`) against a real server: applied to the collections whose
//! schema has the fields, not to those that opt out or lack them; kept in step by `plan`
//! (an index dropped out of band is drift); `--service` is `--domain`.

use bson::Document;
use mongodb::Client;

use crate::backup::indexes;
use crate::common;
use crate::support::{mongoctl, write};

const MANIFEST: &str = r#"{
  "project": "shop",
  "commonIndexes": [{"key": {"created_at": 1}}, {"key": {"updated_at": 1}}],
  "domains": {
    "shop": {"database": "ci_shop", "commonIndexes": [{"key": {"region": 1}}], "collections": {
      "orders": {},
      "carts": {"commonIndexes": false},
      "events": {"commonIndexes": {"except": ["updated_at_1"]}},
      "notes": {}
    }},
    "auth": {"database": "ci_auth", "collections": {"users": {}}}
  }
}"#;

const SCHEMA: &str = r#"{"bsonType": "object", "properties": {
  "created_at": {"bsonType": "date"}, "updated_at": {"bsonType": "date"},
  "region": {"bsonType": "string"}}}"#;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mongoctl.json", MANIFEST);
    for c in ["orders", "carts", "events"] {
        write(dir.path(), &format!("schemas/shop/{c}.json"), SCHEMA);
    }
    write(
        dir.path(),
        "schemas/auth/users.json",
        r#"{"bsonType": "object", "properties": {"created_at": {"bsonType": "date"}}}"#,
    );
    write(
        dir.path(),
        "indexes/shop/orders.json",
        r#"{"indexes": [{"key": {"created_at": -1, "status": 1}}]}"#,
    );
    dir
}

/// The collection's index names but `_id_`, sorted.
async fn index_names(client: &Client, db: &str, coll: &str) -> Vec<String> {
    indexes(client, db, coll)
        .await
        .iter()
        .map(|i| i.get_str("name").unwrap().to_string())
        .filter(|n| n != "_id_")
        .collect()
}

#[tokio::test]
async fn common_indexes_are_applied_opted_out_and_kept_in_step() {
    let server = common::standalone().await;
    let client = server.client();
    let ws = workspace();
    mongoctl(ws.path(), &["check"]).run().expect_code(0);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    // orders: created_at is served by its own {created_at: -1, status: 1}.
    assert_eq!(
        index_names(&client, "ci_shop", "orders").await,
        ["created_at_-1_status_1", "region_1", "updated_at_1"]
    );
    assert!(index_names(&client, "ci_shop", "carts").await.is_empty());
    assert_eq!(
        index_names(&client, "ci_shop", "events").await,
        ["created_at_1", "region_1"]
    );
    // No schema: nothing says the collection has the fields.
    assert!(index_names(&client, "ci_shop", "notes").await.is_empty());
    // Another domain: the workspace's commons only, where the schema has the field.
    assert_eq!(
        index_names(&client, "ci_auth", "users").await,
        ["created_at_1"]
    );
    mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);

    // Dropped out of band: drift, in the domain named by --service as by --domain.
    client
        .database("ci_shop")
        .collection::<Document>("events")
        .drop_index("created_at_1")
        .await
        .unwrap();
    let by_domain = mongoctl(ws.path(), &["plan", "--exit-code", "--domain", "shop"])
        .uri(&server.uri())
        .run();
    by_domain.expect_code(2);
    assert!(
        by_domain.stdout.contains("created_at_1"),
        "{}",
        by_domain.stdout
    );
    let by_service = mongoctl(ws.path(), &["plan", "--exit-code", "--service", "shop"])
        .uri(&server.uri())
        .run();
    by_service.expect_code(2);
    assert_eq!(by_service.stdout, by_domain.stdout);
    mongoctl(ws.path(), &["plan", "--exit-code", "--service", "auth"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    mongoctl(ws.path(), &["apply", "--service", "shop"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        index_names(&client, "ci_shop", "events").await,
        ["created_at_1", "region_1"]
    );

    // Opting a collection out later leaves its index unmanaged: listed, never dropped
    // without --prune.
    write(
        ws.path(),
        "mongoctl.json",
        &MANIFEST.replace(
            r#""events": {"commonIndexes": {"except": ["updated_at_1"]}}"#,
            r#""events": {"commonIndexes": false}"#,
        ),
    );
    let out = mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run();
    assert!(out.stdout.contains("created_at_1"), "{}", out.stdout);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        index_names(&client, "ci_shop", "events").await,
        ["created_at_1", "region_1"]
    );
}
