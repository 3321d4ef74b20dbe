//! Declared sharding and zones against what is here: a replica set, no mongos. `check`
//! lints offline; `plan` says the cluster is not sharded and shows the exact commands;
//! `apply` refuses the sharding steps (all of the apply) unless `--skip-sharding`.

use bson::doc;

use crate::common;
use crate::support::{mongoctl, write};

const MANIFEST: &str = r#"{
  "project": "chat",
  "sharding": {"zones": {"eu": ["shard-eu"], "us": ["shard-us"]}},
  "domains": {"chat": {"database": "t_chat", "collections": {
    "messages": {
      "tenantKey": "tenant_id",
      "shardKey": {"tenant_id": 1, "created_at": 1},
      "zoneRanges": [
        {"zone": "eu", "min": {"tenant_id": {"$minKey": 1}}, "max": {"tenant_id": "m"}},
        {"zone": "us", "min": {"tenant_id": "m"}, "max": {"tenant_id": {"$maxKey": 1}}}
      ]
    }
  }}}
}"#;

const SCHEMA: &str = r#"{"bsonType": "object", "required": ["tenant_id", "created_at"],
  "properties": {"tenant_id": {"bsonType": "string"}, "created_at": {"bsonType": "date"}}}"#;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mongoctl.json", MANIFEST);
    write(dir.path(), "schemas/chat/messages.json", SCHEMA);
    write(
        dir.path(),
        "indexes/chat/messages.json",
        r#"{"indexes": [{"key": {"tenant_id": 1, "created_at": 1}}]}"#,
    );
    dir
}

#[test]
fn check_reports_sharding_problems_with_file_line_and_column() {
    let ws = workspace();
    mongoctl(ws.path(), &["check"]).run().expect_code(0);
    // The tenant key dropped from the schema's required list; an index without the tenant
    // prefix; overlapping ranges in an undeclared zone.
    write(
        ws.path(),
        "schemas/chat/messages.json",
        "{\"bsonType\": \"object\",\n \"required\": [\"created_at\"],\n \"properties\": {\"tenant_id\": {}, \"created_at\": {}}}",
    );
    write(
        ws.path(),
        "indexes/chat/messages.json",
        "{\"indexes\": [\n  {\"key\": {\"tenant_id\": 1, \"created_at\": 1}},\n  {\"key\": {\"created_at\": -1}}\n]}",
    );
    write(
        ws.path(),
        "mongoctl.json",
        &MANIFEST.replace(
            r#"{"zone": "us", "min": {"tenant_id": "m"}"#,
            r#"{"zone": "usa", "min": {"tenant_id": "k"}"#,
        ),
    );
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    let all = out.all();
    for expected in [
        "schemas/chat/messages.json:2:2: error: required: the collection's tenantKey: field \"tenant_id\" must be listed in \"required\"",
        "indexes/chat/messages.json:3:4: warning: indexes[1].key: index \"created_at_-1\" does not start with the tenant key \"tenant_id\": a query without the tenant prefix scans every tenant",
        "mongoctl.json:10:9: error: domains.chat.collections.messages.zoneRanges[1]: zone range 1 overlaps zone range 0",
        "mongoctl.json:10:10: error: domains.chat.collections.messages.zoneRanges[1].zone: zone \"usa\" is not declared in sharding.zones; did you mean \"us\"?",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}

#[tokio::test]
async fn plan_on_a_replica_set_says_not_sharded_and_shows_the_exact_commands() {
    let server = common::replica_set(1).await;
    let ws = workspace();
    let text = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    text.expect_code(0);
    assert!(
        text.stdout.contains("note: sharding is declared but the cluster is not sharded (no mongos); these 5 step(s) would be sent through a mongos"),
        "{}",
        text.stdout
    );
    let out = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    let j = out.json();
    let s = &j["sharding"];
    assert_eq!(s["mongos"], false);
    assert_eq!(
        s["note"],
        "sharding is declared but the cluster is not sharded (no mongos)"
    );
    let commands: Vec<&serde_json::Value> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| &st["command"])
        .collect();
    let min = serde_json::json!({"$minKey": 1});
    let max = serde_json::json!({"$maxKey": 1});
    assert_eq!(
        commands,
        [
            &serde_json::json!({"addShardToZone": "shard-eu", "zone": "eu"}),
            &serde_json::json!({"addShardToZone": "shard-us", "zone": "us"}),
            &serde_json::json!({"updateZoneKeyRange": "t_chat.messages",
                "min": {"tenant_id": min, "created_at": min},
                "max": {"tenant_id": "m", "created_at": min}, "zone": "eu"}),
            &serde_json::json!({"updateZoneKeyRange": "t_chat.messages",
                "min": {"tenant_id": "m", "created_at": min},
                "max": {"tenant_id": max, "created_at": min}, "zone": "us"}),
            &serde_json::json!({"shardCollection": "t_chat.messages",
                "key": {"tenant_id": 1, "created_at": 1}}),
        ]
    );
    // The rest of the plan is unaffected.
    assert!(
        j["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "create_collection"),
        "{j}"
    );
}

#[tokio::test]
async fn apply_without_a_mongos_refuses_unless_sharding_is_skipped() {
    let server = common::replica_set(1).await;
    let ws = workspace();
    let out = mongoctl(ws.path(), &["apply"]).uri(&server.uri()).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("sharding is declared but the cluster is not sharded (no mongos): 5 sharding step(s) can only be sent through a mongos; nothing was applied"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--skip-sharding"), "{}", out.stderr);
    let db = server.client().database("t_chat");
    assert!(
        db.list_collection_names().await.unwrap().is_empty(),
        "nothing may be applied when apply refuses"
    );

    let out = mongoctl(ws.path(), &["apply", "--skip-sharding"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("note: --skip-sharding: 5 sharding step(s) not sent"),
        "{}",
        out.stderr
    );
    let indexes = db
        .collection::<bson::Document>("messages")
        .list_index_names()
        .await
        .unwrap();
    assert!(
        indexes.contains(&"tenant_id_1_created_at_1".to_string()),
        "{indexes:?}"
    );
    // Converged apart from sharding: plan --exit-code does not count steps it cannot send.
    mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    // And a config database was never written to.
    let config = server.client().database("config");
    assert_eq!(
        config
            .collection::<bson::Document>("tags")
            .count_documents(doc! {})
            .await
            .unwrap(),
        0
    );
}
