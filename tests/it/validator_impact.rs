//! Safe validator changes: `plan` counts the stored documents a new validator rejects, and
//! `apply` refuses such a change unless told `--allow-violations` or `--warn-first`.

use bson::{Document, doc};

use crate::common;
use crate::support::{mongoctl, write};

/// Validator v1 requires `code`; v2 also requires a string `email`.
const V1: &str = r#"{"bsonType": "object", "required": ["code"], "properties": {"code": {"bsonType": "string"}}}"#;
const V2: &str = r#"{"bsonType": "object", "required": ["code", "email"], "properties": {"code": {"bsonType": "string"}, "email": {"bsonType": "string"}}}"#;

/// `t_val.items` (validated by `schema`) and `t_val.other`, with `other_index` as an index file
/// of `other` when given.
fn workspace(schema: &str, other_index: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rewrite(dir.path(), schema, other_index);
    dir
}

fn rewrite(ws: &std::path::Path, schema: &str, other_index: bool) {
    write(
        ws,
        "mongoctl.json",
        r#"{"project": "t", "domains": {"val": {"database": "t_val", "collections": {"items": {}, "other": {}}}}}"#,
    );
    write(ws, "schemas/val/items.json", schema);
    if other_index {
        write(
            ws,
            "indexes/val/other.json",
            r#"{"indexes": [{"key": {"tag": 1}}]}"#,
        );
    }
}

/// Applies v1, stores 7 documents without `email` (v2 violators) and 2 with one, then
/// declares v2 (and an index on `other`, a change of the same plan).
async fn with_violators(server: &common::TestServer) -> tempfile::TempDir {
    let ws = workspace(V1, false);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let items = items(server);
    let mut docs: Vec<Document> = (0..7)
        .map(|i| doc! {"_id": i, "code": format!("c{i}")})
        .collect();
    docs.push(doc! {"_id": 100, "code": "ok1", "email": "a@b.c"});
    docs.push(doc! {"_id": 101, "code": "ok2", "email": "d@e.f"});
    items.insert_many(docs).await.unwrap();
    rewrite(ws.path(), V2, true);
    ws
}

fn items(server: &common::TestServer) -> mongodb::Collection<Document> {
    server.client().database("t_val").collection("items")
}

/// The live `$jsonSchema` and `validationAction` of `t_val.items`.
async fn live_validator(server: &common::TestServer) -> (Document, String) {
    let spec = server
        .client()
        .database("t_val")
        .run_command(doc! {"listCollections": 1, "filter": {"name": "items"}})
        .await
        .unwrap();
    let info = spec
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap()[0]
        .as_document()
        .unwrap()
        .get_document("options")
        .unwrap()
        .clone();
    (
        info.get_document("validator")
            .unwrap()
            .get_document("$jsonSchema")
            .unwrap()
            .clone(),
        info.get_str("validationAction")
            .unwrap_or("error")
            .to_string(),
    )
}

async fn requires_email(server: &common::TestServer) -> bool {
    let (schema, _) = live_validator(server).await;
    schema
        .get_array("required")
        .unwrap()
        .iter()
        .any(|f| f.as_str() == Some("email"))
}

async fn other_has_tag_index(server: &common::TestServer) -> bool {
    let names = server
        .client()
        .database("t_val")
        .collection::<Document>("other")
        .list_index_names()
        .await
        .unwrap();
    names.iter().any(|n| n == "tag_1")
}

/// The `update_validator`/`update_options` change of `items` in a `plan -o json`.
fn items_change(plan: &serde_json::Value) -> serde_json::Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["collection"] == "items"
                && (c["action"] == "update_validator" || c["action"] == "update_options")
        })
        .unwrap_or_else(|| panic!("no validator change of items: {plan}"))
        .clone()
}

#[tokio::test]
async fn plan_counts_the_stored_documents_the_new_validator_rejects() {
    let server = common::standalone().await;
    let ws = with_violators(&server).await;

    let j = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    j.expect_code(0);
    let change = items_change(&j.json());
    let v = &change["violations"];
    let real = items(&server)
        .count_documents(doc! {"email": {"$exists": false}})
        .await
        .unwrap();
    assert_eq!(real, 7);
    assert_eq!(v["count"], real, "{change}");
    assert_eq!(v["validation_action"], "error");
    let samples = v["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3, "{v}");
    assert_eq!(samples[0]["_id"], 0);
    assert!(samples[0]["reasons"].to_string().contains("email"), "{v}");

    let table = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    table.expect_code(0);
    assert!(
        table
            .stdout
            .contains("7 stored document(s) violate the new validator"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("… 4 more"), "{}", table.stdout);

    // Fixing two of them lowers the count by two: it is counted, not guessed.
    items(&server)
        .update_many(
            doc! {"_id": {"$in": [0, 1]}},
            doc! {"$set": {"email": "x@y.z"}},
        )
        .await
        .unwrap();
    let j = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    assert_eq!(items_change(&j.json())["violations"]["count"], 5);
}

#[tokio::test]
async fn a_moderate_validator_is_counted_and_said_to_leave_violators_writable() {
    let server = common::standalone().await;
    let ws = with_violators(&server).await;
    let manifest = r#"{"project": "t", "domains": {"val": {"database": "t_val", "collections": {"items": {"validationLevel": "moderate"}, "other": {}}}}}"#;
    write(ws.path(), "mongoctl.json", manifest);
    let out = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    out.expect_code(0);
    assert!(
        out.stdout.contains("7 stored document(s) violate")
            && out.stdout.contains("validationLevel moderate"),
        "{}",
        out.stdout
    );
    // Not refused: the server does not check documents that already fail.
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert!(requires_email(&server).await);
}

#[tokio::test]
async fn apply_refuses_a_rejecting_validator_and_changes_nothing() {
    let server = common::standalone().await;
    let ws = with_violators(&server).await;

    let out = mongoctl(ws.path(), &["apply"]).uri(&server.uri()).run();
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("t_val.items: 7 stored document(s) violate it")
            && out.stderr.contains("_id 0")
            && out.stderr.contains("email")
            && out.stderr.contains("nothing was applied")
            && out.stderr.contains("--allow-violations")
            && out.stderr.contains("--warn-first"),
        "{}",
        out.stderr
    );
    // The live validator is still v1 and the plan's other change (an index) did not run.
    assert!(!requires_email(&server).await);
    assert!(!other_has_tag_index(&server).await);

    let j = mongoctl(ws.path(), &["apply", "-o", "json"])
        .uri(&server.uri())
        .run();
    j.expect_code(1);
    assert!(
        j.json()["error"]
            .as_str()
            .unwrap()
            .contains("7 stored document(s)"),
        "{}",
        j.stdout
    );

    let out = mongoctl(ws.path(), &["apply", "--allow-violations"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    assert!(
        out.stderr.contains("7 stored document(s) violate")
            && out.stderr.contains("--allow-violations"),
        "{}",
        out.stderr
    );
    assert!(requires_email(&server).await);
    assert_eq!(live_validator(&server).await.1, "error");
    assert!(other_has_tag_index(&server).await);
    // The documents stay.
    assert_eq!(items(&server).count_documents(doc! {}).await.unwrap(), 9);
}

#[tokio::test]
async fn warn_first_then_promote_once_the_documents_are_fixed() {
    let server = common::standalone().await;
    let ws = with_violators(&server).await;

    let out = mongoctl(ws.path(), &["apply", "--warn-first"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    assert!(
        out.stderr.contains("validationAction warn"),
        "{}",
        out.stderr
    );
    assert!(requires_email(&server).await);
    assert_eq!(live_validator(&server).await.1, "warn");
    assert!(other_has_tag_index(&server).await);

    // The next plan: only the promotion, with the violators still counted.
    let j = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    let plan = j.json();
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1, "{plan}");
    let change = items_change(&plan);
    assert_eq!(change["action"], "update_options");
    assert!(
        change["summary"]
            .as_str()
            .unwrap()
            .starts_with("promote to error"),
        "{change}"
    );
    assert_eq!(change["violations"]["count"], 7);

    // Refused while violators remain; --warn-first does not loosen a promotion.
    for args in [&["apply"][..], &["apply", "--warn-first"][..]] {
        let out = mongoctl(ws.path(), args).uri(&server.uri()).run();
        out.expect_code(1);
        assert!(
            out.stderr.contains("t_val.items: 7 stored document(s)"),
            "{}",
            out.stderr
        );
        assert_eq!(live_validator(&server).await.1, "warn");
    }

    // The test fixes the documents directly; the promotion then runs.
    items(&server)
        .update_many(
            doc! {"email": {"$exists": false}},
            doc! {"$set": {"email": "fixed@example.org"}},
        )
        .await
        .unwrap();
    let j = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    assert_eq!(items_change(&j.json())["violations"]["count"], 0);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(live_validator(&server).await.1, "error");
    mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}
