//! Versioned migrations against real servers: every step kind, plan counts against what `up`
//! then modifies, rollback byte for byte, checksum changes, bad files, concurrency, resume.

use std::path::Path;

use bson::{Bson, Document, RawDocumentBuf, doc};
use futures::TryStreamExt;

use crate::backup::{arm_fail_command, release_commands, wait_for_fail_point};
use crate::common;
use crate::support::{mongoctl, write};

const MANIFEST: &str = r#"{"project": "mig", "metadataDatabase": "mig_meta",
  "domains": {"app": {"database": "mig_app", "collections": {"users": {}, "orders": {}}}}}"#;

fn workspace(migrations: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mongoctl.json", MANIFEST);
    for (name, text) in migrations {
        write(dir.path(), &format!("migrations/{name}"), text);
    }
    dir
}

async fn seed_users(client: &mongodb::Client, n: i32) {
    let docs: Vec<Document> = (0..n)
        .map(|i| doc! {"_id": i, "full_name": format!("user {i}"), "age": i.to_string(), "legacy": true, "score": i})
        .collect();
    client
        .database("mig_app")
        .collection::<Document>("users")
        .insert_many(docs)
        .await
        .unwrap();
}

/// Every document's raw bytes in `_id` order.
async fn raw_docs(client: &mongodb::Client, coll: &str) -> Vec<Vec<u8>> {
    client
        .database("mig_app")
        .collection::<RawDocumentBuf>(coll)
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.into_bytes())
        .collect()
}

fn rollback_dir(ws: &Path) -> String {
    ws.join("points").display().to_string()
}

const STEP_KINDS: &str = r#"{"description": "every update step kind", "steps": [
  {"op": "renameField", "domain": "app", "collection": "users", "from": "full_name", "to": "name"},
  {"op": "unsetField", "domain": "app", "collection": "users", "fields": ["legacy"]},
  {"op": "setField", "domain": "app", "collection": "users", "field": "status", "value": "active", "filter": {"score": {"$gte": 10}}},
  {"op": "convertType", "domain": "app", "collection": "users", "field": "age", "to": "int"},
  {"op": "update", "domain": "app", "collection": "users", "filter": {"score": {"$lt": 5}}, "update": {"$inc": {"score": 100}}},
  {"op": "update", "domain": "app", "collection": "users", "filter": {}, "update": [{"$set": {"label": {"$concat": ["$name", "!"]}}}]}
]}"#;

#[tokio::test]
async fn each_step_kind_runs_and_plan_counts_what_up_modifies() {
    let server = common::standalone().await;
    let client = server.client();
    seed_users(&client, 30).await;
    let ws = workspace(&[("0001_all_kinds.json", STEP_KINDS)]);
    let plan = mongoctl(ws.path(), &["migrate", "plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    let counted: Vec<u64> = plan.json()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["documents"].as_u64().unwrap())
        .collect();
    // The pipeline step is counted before the rename ran: all 30 either way.
    assert_eq!(counted, [30, 30, 20, 30, 5, 30]);
    let status = mongoctl(ws.path(), &["migrate", "status"])
        .uri(&server.uri())
        .run();
    status.expect_code(2);
    assert!(status.stdout.contains("pending"), "{}", status.stdout);

    let up = mongoctl(
        ws.path(),
        &[
            "migrate",
            "up",
            "-o",
            "json",
            "--rollback-dir",
            &rollback_dir(ws.path()),
            "--batch-size",
            "7",
        ],
    )
    .uri(&server.uri())
    .run();
    up.expect_code(0);
    let steps = up.json()["applied"][0]["steps"].as_array().unwrap().clone();
    let modified: Vec<u64> = steps
        .iter()
        .map(|s| s["modified"].as_u64().unwrap())
        .collect();
    assert_eq!(modified, counted, "{steps:?}");
    assert_eq!(steps[0]["rollback"]["kind"], "inverse_rename");
    assert_eq!(steps[1]["rollback"]["kind"], "backup");

    let users = client.database("mig_app").collection::<Document>("users");
    let u3 = users.find_one(doc! {"_id": 3}).await.unwrap().unwrap();
    assert_eq!(u3.get_str("name").unwrap(), "user 3");
    assert!(
        !u3.contains_key("full_name") && !u3.contains_key("legacy") && !u3.contains_key("status")
    );
    assert_eq!(u3.get_i32("age").unwrap(), 3);
    assert_eq!(u3.get_i32("score").unwrap(), 103);
    assert_eq!(u3.get_str("label").unwrap(), "user 3!");
    let u12 = users.find_one(doc! {"_id": 12}).await.unwrap().unwrap();
    assert_eq!(u12.get_str("status").unwrap(), "active");

    let status = mongoctl(ws.path(), &["migrate", "status", "-o", "json"])
        .uri(&server.uri())
        .run();
    status.expect_code(0);
    assert_eq!(status.json()["migrations"][0]["state"], "applied");
    let log = client
        .database("mig_meta")
        .collection::<Document>("migrations")
        .find_one(doc! {"_id": "0001_all_kinds"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.get_str("status").unwrap(), "applied");
    assert_eq!(
        log.get_array("steps").unwrap()[4]
            .as_document()
            .unwrap()
            .get_i64("batches")
            .unwrap(),
        1
    );
    // Running it again does nothing.
    let again = mongoctl(ws.path(), &["migrate", "up"])
        .uri(&server.uri())
        .run();
    again.expect_code(0);
    assert!(
        again.stdout.contains("nothing to migrate"),
        "{}",
        again.stdout
    );
    assert_eq!(
        users
            .find_one(doc! {"_id": 3})
            .await
            .unwrap()
            .unwrap()
            .get_i32("score")
            .unwrap(),
        103
    );
}

#[tokio::test]
async fn rollback_restores_every_document_byte_for_byte() {
    let server = common::standalone().await;
    let client = server.client();
    seed_users(&client, 50).await;
    // A colliding rename (both fields present) needs a backup, not a rename back.
    client
        .database("mig_app")
        .collection::<Document>("users")
        .update_one(doc! {"_id": 1}, doc! {"$set": {"name": "both"}})
        .await
        .unwrap();
    let before = raw_docs(&client, "users").await;
    let ws = workspace(&[("0001_all_kinds.json", STEP_KINDS)]);
    mongoctl(
        ws.path(),
        &["migrate", "up", "--rollback-dir", &rollback_dir(ws.path())],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    assert_ne!(raw_docs(&client, "users").await, before);

    let refused = mongoctl(ws.path(), &["migrate", "rollback"])
        .uri(&server.uri())
        .run();
    refused.expect_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let rb = mongoctl(ws.path(), &["migrate", "rollback", "--yes", "-o", "json"])
        .uri(&server.uri())
        .run();
    rb.expect_code(0);
    assert_eq!(
        rb.json()["rolled_back"][0]["steps"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        raw_docs(&client, "users").await,
        before,
        "rollback must restore the documents exactly"
    );
    let status = mongoctl(ws.path(), &["migrate", "status", "-o", "json"])
        .uri(&server.uri())
        .run();
    assert_eq!(status.json()["migrations"][0]["state"], "pending");
    // And it can be applied again.
    mongoctl(
        ws.path(),
        &["migrate", "up", "--rollback-dir", &rollback_dir(ws.path())],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    let log = client
        .database("mig_meta")
        .collection::<Document>("migrations")
        .find_one(doc! {"_id": "0001_all_kinds"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.get_array("history").unwrap().len(), 1);
}

#[tokio::test]
async fn a_changed_file_is_refused_and_nothing_is_written() {
    let server = common::standalone().await;
    let client = server.client();
    seed_users(&client, 5).await;
    let first = r#"{"steps": [{"op": "setField", "domain": "app", "collection": "users", "field": "v", "value": 1}]}"#;
    let ws = workspace(&[("0001_v.json", first)]);
    mongoctl(
        ws.path(),
        &["migrate", "up", "--rollback-dir", &rollback_dir(ws.path())],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    // Whitespace and description do not count; the steps do.
    write(
        ws.path(),
        "migrations/0001_v.json",
        &first.replace("{\"steps\"", "{\n  \"description\": \"same\",\n  \"steps\""),
    );
    mongoctl(ws.path(), &["migrate", "status"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    write(
        ws.path(),
        "migrations/0001_v.json",
        &first.replace("\"value\": 1", "\"value\": 2"),
    );
    write(
        ws.path(),
        "migrations/0002_w.json",
        r#"{"steps": [{"op": "setField", "domain": "app", "collection": "users", "field": "w", "value": 1}]}"#,
    );
    let st = mongoctl(ws.path(), &["migrate", "status", "-o", "json"])
        .uri(&server.uri())
        .run();
    st.expect_code(2);
    assert_eq!(st.json()["migrations"][0]["state"], "changed");
    let up = mongoctl(ws.path(), &["migrate", "up"])
        .uri(&server.uri())
        .run();
    up.expect_code(1);
    assert!(
        up.stderr.contains("0001_v (changed)") && up.stderr.contains("nothing was written"),
        "{}",
        up.stderr
    );
    let users = client.database("mig_app").collection::<Document>("users");
    assert_eq!(
        users
            .count_documents(doc! {"w": {"$exists": true}})
            .await
            .unwrap(),
        0
    );
    assert_eq!(users.count_documents(doc! {"v": 1}).await.unwrap(), 5);
}

#[tokio::test]
async fn bad_migration_files_are_rejected_offline_with_locations() {
    let ws = workspace(&[
        (
            "0001_typo.json",
            "{\"steps\": [\n  {\"op\": \"update\", \"domain\": \"app\", \"collection\": \"users\",\n   \"filter\": {\"a\": {\"$exist\": true}}, \"update\": {\"$sett\": {\"b\": 1}}}\n]}",
        ),
        (
            "0002_undeclared.json",
            r#"{"steps": [{"op": "unsetField", "domain": "app", "collection": "nope", "fields": ["x"]}]}"#,
        ),
        (
            "0004_js.json",
            r#"{"steps": [{"op": "update", "domain": "app", "collection": "users", "filter": {"$where": "1"}, "update": [{"$set": {"a": {"$function": {}}}}]}]}"#,
        ),
        (
            "0001_zdup.json",
            r#"{"steps": [{"op": "dropCollection", "domain": "app", "collection": "old"}]}"#,
        ),
        ("bad-name.json", "{}"),
    ]);
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    let e = &out.all();
    assert!(
        e.contains("migrations/0001_typo.json:3:") && e.contains("did you mean \"$exists\""),
        "{e}"
    );
    assert!(e.contains("did you mean \"$set\""), "{e}");
    assert!(
        e.contains("\"nope\" is not declared in domain \"app\""),
        "{e}"
    );
    assert!(
        e.contains("$where runs JavaScript") && e.contains("$function runs JavaScript"),
        "{e}"
    );
    assert!(e.contains("migration number 1 is already used"), "{e}");
    assert!(
        e.contains("bad-name.json") && e.contains("NNNN_name.json"),
        "{e}"
    );
    // The cluster is never reached: the URI points nowhere.
    let up = mongoctl(ws.path(), &["migrate", "up"])
        .uri("mongodb://127.0.0.1:1")
        .run();
    up.expect_code(1);
    assert!(up.all().contains("0001_typo.json"), "{}", up.all());
}

#[tokio::test]
async fn a_failed_step_resumes_after_the_fix_without_repeating_batches() {
    let server = common::standalone().await;
    let client = server.client();
    seed_users(&client, 40).await;
    let users = client.database("mig_app").collection::<Document>("users");
    users
        .update_one(doc! {"_id": 25}, doc! {"$set": {"age": "not a number"}})
        .await
        .unwrap();
    let ws = workspace(&[(
        "0001_fix.json",
        r#"{"steps": [
          {"op": "update", "domain": "app", "collection": "users", "filter": {}, "update": {"$inc": {"score": 1000}}},
          {"op": "convertType", "domain": "app", "collection": "users", "field": "age", "to": "int"}
        ]}"#,
    )]);
    let up = mongoctl(
        ws.path(),
        &[
            "migrate",
            "up",
            "--batch-size",
            "10",
            "--rollback-dir",
            &rollback_dir(ws.path()),
        ],
    )
    .uri(&server.uri())
    .run();
    up.expect_code(1);
    assert!(
        up.stderr.contains("step 2") && up.stderr.contains("resumes at step 2"),
        "{}",
        up.stderr
    );
    let st = mongoctl(ws.path(), &["migrate", "status", "-o", "json"])
        .uri(&server.uri())
        .run();
    assert_eq!(st.json()["migrations"][0]["state"], "failed");
    users
        .update_one(doc! {"_id": 25}, doc! {"$set": {"age": "25"}})
        .await
        .unwrap();
    let again = mongoctl(
        ws.path(),
        &["migrate", "up", "-o", "json", "--batch-size", "10"],
    )
    .uri(&server.uri())
    .run();
    again.expect_code(0);
    let steps = again.json()["applied"][0]["steps"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(steps[0]["skipped"], true);
    // The $inc ran exactly once per document.
    assert_eq!(
        users
            .count_documents(doc! {"score": {"$gte": 1000}})
            .await
            .unwrap(),
        40
    );
    let s7 = users.find_one(doc! {"_id": 7}).await.unwrap().unwrap();
    assert_eq!(s7.get_i32("score").unwrap(), 1007);
    assert_eq!(
        users
            .count_documents(doc! {"age": {"$type": "int"}})
            .await
            .unwrap(),
        40
    );
}

/// A killed `up` on a replica set: the batch in flight was in a transaction with its progress
/// record, so the resumed run applies every batch exactly once.
#[tokio::test]
async fn a_killed_up_resumes_and_applies_each_batch_exactly_once() {
    let server = common::replica_set(1).await;
    let client = server.client();
    seed_users(&client, 60).await;
    let ws = workspace(&[(
        "0001_inc.json",
        r#"{"steps": [{"op": "update", "domain": "app", "collection": "users", "filter": {}, "update": {"$inc": {"score": 1000}}}]}"#,
    )]);
    let uri = format!(
        "{}{}appName=killed",
        server.uri(),
        if server.uri().contains('?') { "&" } else { "?" }
    );
    // The first batch commits; the second batch's commit is held, and the process killed
    // while it is held. The server then finishes that commit on its own: the batch and its
    // progress record land together, or neither would.
    let count = arm_fail_command(
        &client,
        "killed",
        Bson::Document(doc! {"skip": 1}),
        doc! {"failCommands": ["commitTransaction"], "blockConnection": true, "blockTimeMS": 1_500},
    )
    .await;
    let mut child = mongoctl(
        ws.path(),
        &[
            "migrate",
            "up",
            "--batch-size",
            "10",
            "--rollback-dir",
            &rollback_dir(ws.path()),
        ],
    )
    .uri(&uri)
    .spawn();
    wait_for_fail_point(&client, count + 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    release_commands(&client).await;
    let users = client.database("mig_app").collection::<Document>("users");
    let log = client
        .database("mig_meta")
        .collection::<Document>("migrations");
    let mut batches = 0;
    for _ in 0..100 {
        let entry = log
            .find_one(doc! {"_id": "0001_inc"})
            .await
            .unwrap()
            .unwrap();
        batches = entry.get_array("steps").unwrap()[0]
            .as_document()
            .unwrap()
            .get_i64("batches")
            .unwrap_or(0);
        if batches == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(batches, 2, "the held commit lands with its progress record");
    assert_eq!(
        users
            .count_documents(doc! {"score": {"$gte": 1000}})
            .await
            .unwrap(),
        20
    );
    // The killed run's lease would expire by the server's clock within a minute; the
    // operator who knows it is dead removes it.
    client
        .database("mig_meta")
        .collection::<Document>("locks")
        .delete_many(doc! {})
        .await
        .unwrap();
    let st = mongoctl(ws.path(), &["migrate", "status", "-o", "json"])
        .uri(&server.uri())
        .run();
    assert_eq!(st.json()["migrations"][0]["state"], "interrupted");
    // The killed run's lease expires by the server's clock; wait for it.
    let up = mongoctl(
        ws.path(),
        &["migrate", "up", "--batch-size", "10", "-o", "json"],
    )
    .uri(&server.uri())
    .run();
    up.expect_code(0);
    assert_eq!(
        users
            .count_documents(doc! {"score": {"$gte": 1000, "$lt": 2000}})
            .await
            .unwrap(),
        60
    );
    let entry = log
        .find_one(doc! {"_id": "0001_inc"})
        .await
        .unwrap()
        .unwrap();
    let step = entry.get_array("steps").unwrap()[0]
        .as_document()
        .unwrap()
        .clone();
    assert_eq!(step.get_i64("modified").unwrap(), 60, "{step}");
    assert_eq!(step.get_i64("batches").unwrap(), 6, "{step}");
}

#[tokio::test]
async fn two_concurrent_ups_run_every_step_once() {
    let server = common::replica_set(1).await;
    let client = server.client();
    seed_users(&client, 50).await;
    let ws = workspace(&[(
        "0001_inc.json",
        r#"{"steps": [{"op": "update", "domain": "app", "collection": "users", "filter": {}, "update": {"$inc": {"score": 1000}}}]}"#,
    )]);
    let uri = format!(
        "{}{}appName=first",
        server.uri(),
        if server.uri().contains('?') { "&" } else { "?" }
    );
    // Hold the first run inside its first batch, so the second certainly starts meanwhile.
    let count = arm_fail_command(
        &client,
        "first",
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["commitTransaction"], "blockConnection": true, "blockTimeMS": 3_000},
    )
    .await;
    let first = mongoctl(
        ws.path(),
        &[
            "migrate",
            "up",
            "--batch-size",
            "10",
            "--rollback-dir",
            &rollback_dir(ws.path()),
        ],
    )
    .uri(&uri)
    .spawn();
    wait_for_fail_point(&client, count + 1).await;
    let second = mongoctl(
        ws.path(),
        &[
            "migrate",
            "up",
            "--batch-size",
            "10",
            "--lock-wait",
            "60",
            "-o",
            "json",
        ],
    )
    .uri(&server.uri())
    .run();
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    second.expect_code(0);
    assert_eq!(
        second.json()["applied"].as_array().unwrap().len(),
        0,
        "the second run found it applied"
    );
    let users = client.database("mig_app").collection::<Document>("users");
    assert_eq!(
        users
            .count_documents(doc! {"score": {"$gte": 1000, "$lt": 2000}})
            .await
            .unwrap(),
        50
    );
    // Without waiting, a concurrent run fails naming the holder.
    let held = client.database("mig_meta").collection::<Document>("locks");
    held.insert_one(doc! {"_id": "cluster-changes", "owner": bson::oid::ObjectId::new(), "command": "mongoctl migrate up", "host": "other", "pid": 7_i64, "acquired_at": bson::DateTime::now(), "expires_at": bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() + 600_000)}).await.unwrap();
    let refused = mongoctl(ws.path(), &["migrate", "up"])
        .uri(&server.uri())
        .run();
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("mongoctl migrate up") && refused.stderr.contains("pid 7"),
        "{}",
        refused.stderr
    );
}

/// The safe way to tighten a validator over documents that violate it: the migration that
/// fixes them runs between the loose and the tight validator, and `verify` ends clean.
#[tokio::test]
async fn a_validator_tightened_over_violating_documents_converges_with_its_fixing_migration() {
    let server = common::standalone().await;
    let client = server.client();
    let db = client.database("mig_app");
    // Live: the old schema (full_name required) and documents written to it.
    db.run_command(doc! {"create": "users", "validator": {"$jsonSchema": {"bsonType": "object", "required": ["full_name"]}}, "validationLevel": "strict", "validationAction": "error"}).await.unwrap();
    seed_users(&client, 12).await;
    db.run_command(doc! {"create": "orders"}).await.unwrap();
    let ws = workspace(&[]);
    write(
        ws.path(),
        "schemas/app/users.json",
        r#"{"bsonType": "object", "required": ["name"], "properties": {"name": {"bsonType": "string"}, "full_name": {"not": {}}}}"#,
    );
    // Without the migration: refused with the count and a sample; nothing changes.
    let refused = mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run();
    refused.expect_code(1);
    assert!(refused.all().contains("12"), "{}", refused.all());
    let live = db
        .run_command(doc! {"listCollections": 1, "filter": {"name": "users"}})
        .await
        .unwrap();
    assert!(
        live.to_string().contains("full_name"),
        "the old validator stays: {live}"
    );
    // With it: apply runs the rename (past the old validator), then sets the new one.
    write(
        ws.path(),
        "migrations/0001_rename_full_name.json",
        r#"{"steps": [{"op": "renameField", "domain": "app", "collection": "users", "from": "full_name", "to": "name"}]}"#,
    );
    let plan = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    assert_eq!(plan.json()["migrations"][0]["id"], "0001_rename_full_name");
    let out = mongoctl(
        ws.path(),
        &["apply", "--yes", "--rollback-dir", &rollback_dir(ws.path())],
    )
    .uri(&server.uri())
    .run();
    out.expect_code(0);
    let users = db.collection::<Document>("users");
    assert_eq!(
        users
            .count_documents(doc! {"name": {"$exists": true}, "full_name": {"$exists": false}})
            .await
            .unwrap(),
        12
    );
    let err = users
        .insert_one(doc! {"full_name": "old style"})
        .await
        .expect_err("the new validator rejects the old shape");
    assert!(
        err.to_string().contains("Document failed validation"),
        "{err}"
    );
    mongoctl(ws.path(), &["verify"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}
