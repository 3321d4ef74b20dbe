//! Seed files that own their collection (`"ownsCollection": true`): documents and fields the
//! file does not declare are deleted, as destructive changes; files that do not own their
//! collection leave them alone.

use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;

use crate::common;
use crate::support::{mongoctl, write};

const SEEDS: &str = "seeds/ref/codes.json";

/// A one-collection workspace: `t_ref.codes`, seeded by `seeds` (keyed by `code`).
fn workspace(seeds: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mongoctl.json",
        r#"{"project": "t", "domains": {"ref": {"database": "t_ref", "collections": {"codes": {}}}}}"#,
    );
    write(dir.path(), SEEDS, seeds);
    dir
}

fn codes(server: &common::TestServer) -> Collection<Document> {
    server.client().database("t_ref").collection("codes")
}

/// Every live document without its `_id`, ordered by `code`.
async fn live(server: &common::TestServer) -> Vec<Document> {
    let mut docs: Vec<Document> = codes(server)
        .find(doc! {})
        .sort(doc! {"code": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for d in &mut docs {
        d.remove("_id");
    }
    docs
}

#[tokio::test]
async fn an_owned_file_deletes_removed_documents_and_removes_removed_fields() {
    let server = common::standalone().await;
    let ws = workspace(
        r#"{"key": ["code"], "ownsCollection": true, "documents": [
            {"code": "a", "name": "A", "legacy": 1},
            {"code": "b", "name": "B"},
            {"code": "c", "name": "C"}]}"#,
    );
    mongoctl(ws.path(), &["check"]).run().expect_code(0);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(live(&server).await.len(), 3);

    // "b" leaves the file, "a" loses a field.
    write(
        ws.path(),
        SEEDS,
        r#"{"key": ["code"], "ownsCollection": true, "documents": [
            {"code": "a", "name": "A"},
            {"code": "c", "name": "C"}]}"#,
    );
    let plan = mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run();
    plan.expect_code(2);
    for words in [
        "delete seed ⚠",
        "1 document(s) not in the seed file",
        "- [\"b\"] (_id ",
        "update seed ⚠",
        "[\"a\"]: 0 field(s) set, 1 removed",
        "legacy: 1 → removed",
    ] {
        assert!(plan.stdout.contains(words), "{words}:\n{}", plan.stdout);
    }
    let json = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    let changes = json.json()["changes"].as_array().unwrap().clone();
    let delete = changes
        .iter()
        .find(|c| c["action"] == "delete_seed")
        .expect("a delete_seed change");
    assert_eq!(delete["destructive"], true);
    assert_eq!(delete["commands"][0]["delete"], "codes");

    mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        live(&server).await,
        [
            doc! {"code": "a", "name": "A"},
            doc! {"code": "c", "name": "C"}
        ]
    );
    mongoctl(ws.path(), &["verify"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

#[tokio::test]
async fn a_document_added_by_hand_is_drift_and_needs_yes_to_be_deleted() {
    let server = common::standalone().await;
    let ws = workspace(
        r#"{"key": ["code"], "ownsCollection": true, "documents": [{"code": "a", "name": "A"}]}"#,
    );
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    codes(&server)
        .insert_one(doc! {"_id": "by-hand", "code": "zz", "name": "added by hand"})
        .await
        .unwrap();
    codes(&server)
        .update_one(doc! {"code": "a"}, doc! {"$set": {"note": "hand"}})
        .await
        .unwrap();

    let plan = mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run();
    plan.expect_code(2);
    assert!(
        plan.stdout.contains("- [\"zz\"] (_id \"by-hand\")"),
        "{}",
        plan.stdout
    );
    let verify = mongoctl(ws.path(), &["verify"]).uri(&server.uri()).run();
    verify.expect_code(2);
    assert!(verify.all().contains("delete seed"), "{}", verify.all());
    assert!(
        verify.all().contains("note: \"hand\" → removed"),
        "{}",
        verify.all()
    );

    // No terminal and no --yes: refused before any write.
    let refused = mongoctl(ws.path(), &["apply"]).uri(&server.uri()).run();
    refused.expect_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(
        live(&server).await,
        [
            doc! {"code": "a", "name": "A", "note": "hand"},
            doc! {"code": "zz", "name": "added by hand"}
        ]
    );

    mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(live(&server).await, [doc! {"code": "a", "name": "A"}]);
    mongoctl(ws.path(), &["verify"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

#[tokio::test]
async fn a_file_that_does_not_own_its_collection_leaves_other_documents_and_fields() {
    let server = common::standalone().await;
    let ws = workspace(r#"{"key": ["code"], "documents": [{"code": "a", "name": "A"}]}"#);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    codes(&server)
        .insert_one(doc! {"code": "zz"})
        .await
        .unwrap();
    codes(&server)
        .update_one(doc! {"code": "a"}, doc! {"$set": {"note": "hand"}})
        .await
        .unwrap();
    write(
        ws.path(),
        SEEDS,
        r#"{"key": ["code"], "ownsCollection": false, "documents": [{"code": "a", "name": "A2"}]}"#,
    );
    let plan = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    let changes = plan.json()["changes"].as_array().unwrap().clone();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["action"], "update_seed");
    assert_eq!(changes[0]["destructive"], false);
    // Not destructive: applies without --yes.
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        live(&server).await,
        [
            doc! {"code": "a", "name": "A2", "note": "hand"},
            doc! {"code": "zz"}
        ]
    );
}

#[tokio::test]
async fn an_owned_collection_over_the_cap_is_refused_naming_it() {
    let server = common::standalone().await;
    let ws =
        workspace(r#"{"key": ["code"], "ownsCollection": true, "documents": [{"code": "a"}]}"#);
    let docs: Vec<Document> = (0..100_001).map(|i| doc! {"code": i}).collect();
    codes(&server).insert_many(docs).await.unwrap();
    for args in [&["plan"][..], &["apply", "--yes"], &["verify"]] {
        let out = mongoctl(ws.path(), args).uri(&server.uri()).run();
        out.expect_code(1);
        assert!(
            out.stderr.contains("seeds/ref/codes.json owns t_ref.codes")
                && out.stderr.contains("more than 100000 documents"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(
        codes(&server).count_documents(doc! {}).await.unwrap(),
        100_001
    );
}

#[test]
fn check_wants_a_boolean_and_names_a_misspelled_key_by_line_and_column() {
    let ws = workspace("{\"key\": [\"code\"],\n  \"ownsCollection\": \"yes\", \"documents\": []}");
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    assert!(
        out.all().contains(
            "seeds/ref/codes.json:2:3: error: ownsCollection: expected true or false, found a string"
        ),
        "{}",
        out.all()
    );
    write(
        ws.path(),
        SEEDS,
        "{\"key\": [\"code\"], \"documents\": [],\n \"ownCollection\": true}",
    );
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    assert!(
        out.all().contains(
            "seeds/ref/codes.json:2:2: error: ownCollection: unknown field \"ownCollection\" in a seed file; did you mean \"ownsCollection\"?"
        ),
        "{}",
        out.all()
    );
}
