//! The collection-move engine (`mongoctl::relocate`) against real servers: exact copies across
//! databases (documents byte for byte, options, validator, indexes), refusal of targets it did
//! not create, and writes to the source during the copy (detected on a standalone, caught up
//! on a replica set).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bson::{Document, RawDocumentBuf, doc};
use futures::TryStreamExt;
use mongoctl::backup::events::{self, Event, Observer};
use mongoctl::relocate::{CopyOptions, Namespace, copy_collection, digest};
use mongodb::Client;

use crate::common;

fn opts(source: &str, target: &str) -> CopyOptions {
    CopyOptions {
        source: Namespace::parse(source).unwrap(),
        target: Namespace::parse(target).unwrap(),
        workers: 4,
        catch_up: false,
        replace_partial: false,
    }
}

/// Every document of `ns` as raw bytes, by `_id`.
async fn raw_docs(client: &Client, ns: &str) -> Vec<Vec<u8>> {
    let n = Namespace::parse(ns).unwrap();
    client
        .database(&n.db)
        .collection::<RawDocumentBuf>(&n.coll)
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

async fn options_of(client: &Client, ns: &str) -> Document {
    let n = Namespace::parse(ns).unwrap();
    let mut e: Vec<Document> = client
        .database(&n.db)
        .run_cursor_command(doc! {"listCollections": 1, "filter": {"name": &n.coll}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    e.pop()
        .unwrap_or_else(|| panic!("{ns} does not exist"))
        .get_document("options")
        .unwrap()
        .clone()
}

async fn indexes_of(client: &Client, ns: &str) -> Vec<Document> {
    let n = Namespace::parse(ns).unwrap();
    let mut ix: Vec<Document> = client
        .database(&n.db)
        .run_cursor_command(doc! {"listIndexes": &n.coll})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    ix.sort_by_key(|i| i.get_str("name").unwrap().to_string());
    ix
}

/// An observer that runs `write` (on its own thread and runtime, against `uri`) once, after
/// the first insert batch of the copy is done and before the copy goes on.
fn write_after_first_batch<F, Fut>(uri: String, write: F) -> Observer
where
    F: Fn(Client) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let fired = Arc::new(AtomicBool::new(false));
    Arc::new(move |e: Event<'_>| {
        if matches!(e, Event::Advanced { .. }) && !fired.swap(true, Ordering::SeqCst) {
            let uri = uri.clone();
            std::thread::spawn(move || {
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(async { write(Client::with_uri_str(&uri).await.unwrap()).await })
            })
            .join()
            .expect("the injected write failed");
        }
    })
}

async fn seed_users(client: &Client, ns: &str, n: i32, pad: usize) {
    let ns = Namespace::parse(ns).unwrap();
    let docs: Vec<Document> = (0..n)
        .map(|i| {
            doc! {"_id": i, "email": format!("user{i}@nilecare.sd"), "n": i64::from(i),
            "when": bson::DateTime::from_millis(1_700_000_000_000 + i64::from(i)),
            "tags": ["a", {"deep": [1.5, null]}], "pad": "x".repeat(pad)}
        })
        .collect();
    client
        .database(&ns.db)
        .collection::<Document>(&ns.coll)
        .insert_many(docs)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cross_database_copy_keeps_documents_options_validator_and_indexes() {
    let server = common::standalone().await;
    let client = server.client();
    let db = client.database("nilecare");
    db.run_command(doc! {
        "create": "auth_users",
        "validator": {"$jsonSchema": {"bsonType": "object", "required": ["email"],
            "properties": {"email": {"bsonType": "string"}}}},
        "validationLevel": "strict",
        "validationAction": "error",
        "collation": {"locale": "en", "strength": 2},
    })
    .await
    .unwrap();
    seed_users(&client, "nilecare.auth_users", 3000, 200).await;
    // Documents the validator refuses (older rules) must move too.
    db.collection::<Document>("auth_users")
        .insert_many([
            doc! {"_id": "legacy-1", "email": 42},
            doc! {"_id": "legacy-2"},
        ])
        .bypass_document_validation(true)
        .await
        .unwrap();
    db.run_command(doc! {"createIndexes": "auth_users", "indexes": [
        {"key": {"email": 1}, "name": "email_unique", "unique": true,
         "partialFilterExpression": {"email": {"$type": "string"}}},
        {"key": {"n": -1, "when": 1}, "name": "n_when"},
        {"key": {"when": 1}, "name": "ttl", "expireAfterSeconds": 2_000_000_000},
    ]})
    .await
    .unwrap();

    let report = copy_collection(
        &client,
        &opts("nilecare.auth_users", "nilecare_auth.auth_users"),
        &events::ignore(),
    )
    .await
    .unwrap();
    assert!(report.verified, "{report:?}");
    assert_eq!(report.why_not_verified, None);
    assert_eq!(report.documents_copied, 3002);
    assert_eq!(report.indexes, 3);
    assert_eq!(report.source_digest, report.target_digest);
    assert_eq!(report.source_digest.count, 3002);
    assert_eq!(report.verified_at, None, "a standalone has no snapshots");

    let source = raw_docs(&client, "nilecare.auth_users").await;
    assert_eq!(source.len(), 3002);
    assert!(
        source == raw_docs(&client, "nilecare_auth.auth_users").await,
        "documents differ"
    );
    assert_eq!(
        options_of(&client, "nilecare.auth_users").await,
        options_of(&client, "nilecare_auth.auth_users").await
    );
    let strip = |ix: Vec<Document>| -> Vec<Document> {
        ix.into_iter()
            .map(|mut i| {
                i.remove("ns");
                i
            })
            .collect()
    };
    assert_eq!(
        strip(indexes_of(&client, "nilecare.auth_users").await),
        strip(indexes_of(&client, "nilecare_auth.auth_users").await)
    );
    // The validator is the source's, in force on the target.
    let refused = client
        .database("nilecare_auth")
        .collection::<Document>("auth_users")
        .insert_one(doc! {"_id": "new", "email": 7})
        .await;
    assert!(
        refused.is_err(),
        "the target's validator accepted a bad document"
    );
    // A finished target is not one to replace.
    let again = copy_collection(
        &client,
        &CopyOptions {
            replace_partial: true,
            ..opts("nilecare.auth_users", "nilecare_auth.auth_users")
        },
        &events::ignore(),
    )
    .await
    .unwrap_err();
    assert!(format!("{again:#}").contains("already exists"), "{again:#}");
}

#[tokio::test]
async fn capped_and_clustered_collections_keep_their_options() {
    let server = common::standalone().await;
    let client = server.client();
    let db = client.database("shared");
    db.run_command(doc! {"create": "log", "capped": true, "size": 1_048_576, "max": 500})
        .await
        .unwrap();
    db.run_command(
        doc! {"create": "events", "clusteredIndex": {"key": {"_id": 1}, "unique": true}},
    )
    .await
    .unwrap();
    seed_users(&client, "shared.log", 400, 10).await;
    seed_users(&client, "shared.events", 400, 10).await;
    for coll in ["log", "events"] {
        let (s, t) = (format!("shared.{coll}"), format!("moved.{coll}"));
        let report = copy_collection(&client, &opts(&s, &t), &events::ignore())
            .await
            .unwrap();
        assert!(report.verified, "{coll}: {report:?}");
        assert_eq!(options_of(&client, &s).await, options_of(&client, &t).await);
        assert!(raw_docs(&client, &s).await == raw_docs(&client, &t).await);
    }
    // Natural (insertion) order of the capped copy is the source's.
    let natural = |db: &'static str| {
        let c = client.database(db).collection::<Document>("log");
        async move {
            c.find(doc! {})
                .sort(doc! {"$natural": 1})
                .await
                .unwrap()
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(natural("shared").await, natural("moved").await);
}

#[tokio::test]
async fn views_are_refused() {
    let server = common::standalone().await;
    let client = server.client();
    seed_users(&client, "shared.base", 3, 1).await;
    client
        .database("shared")
        .run_command(doc! {"create": "v", "viewOn": "base", "pipeline": []})
        .await
        .unwrap();
    let err = copy_collection(&client, &opts("shared.v", "moved.v"), &events::ignore())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("is a view"), "{err:#}");
    let names = client
        .database("moved")
        .list_collection_names()
        .await
        .unwrap();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test]
async fn the_digest_does_not_depend_on_order_but_on_every_byte() {
    let server = common::standalone().await;
    let client = server.client();
    let docs: Vec<Document> = (0..200).map(|i| doc! {"_id": i, "v": i * 7}).collect();
    let mut reversed = docs.clone();
    reversed.reverse();
    let db = client.database("d");
    db.collection::<Document>("a")
        .insert_many(&docs)
        .await
        .unwrap();
    db.collection::<Document>("b")
        .insert_many(&reversed)
        .await
        .unwrap();
    let a = digest(&client, &Namespace::new("d", "a"), None)
        .await
        .unwrap();
    let b = digest(&client, &Namespace::new("d", "b"), None)
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.count, 200);
    db.collection::<Document>("b")
        .update_one(doc! {"_id": 117}, doc! {"$set": {"v": 0}})
        .await
        .unwrap();
    let changed = digest(&client, &Namespace::new("d", "b"), None)
        .await
        .unwrap();
    assert_eq!(changed.count, 200);
    assert_ne!(changed.hash, a.hash);
}

#[tokio::test]
async fn a_target_it_did_not_create_is_refused_and_a_partial_one_replaced_on_request() {
    let server = common::standalone().await;
    let client = server.client();
    seed_users(&client, "nilecare.billing", 50, 10).await;
    client
        .database("nilecare_billing")
        .collection::<Document>("billing")
        .insert_one(doc! {"_id": "theirs"})
        .await
        .unwrap();
    let err = copy_collection(
        &client,
        &CopyOptions {
            replace_partial: true,
            ..opts("nilecare.billing", "nilecare_billing.billing")
        },
        &events::ignore(),
    )
    .await
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("already exists (1 documents)"), "{msg}");
    assert!(msg.contains("did not create"), "{msg}");
    assert_eq!(raw_docs(&client, "nilecare_billing.billing").await.len(), 1);

    // An interrupted copy (its insert fails) leaves a target marked as relocate's.
    client
        .database("admin")
        .run_command(
            doc! {"configureFailPoint": "failCommand", "mode": {"times": 1},
            "data": {"failCommands": ["insert"], "errorCode": 8000}},
        )
        .await
        .unwrap();
    let o = opts("nilecare.billing", "nilecare_payment.billing");
    let failed = copy_collection(&client, &o, &events::ignore()).await;
    assert!(failed.is_err(), "the failpoint did not fail the copy");
    let refused = copy_collection(&client, &o, &events::ignore())
        .await
        .unwrap_err();
    assert!(
        format!("{refused:#}").contains("left from an earlier, unfinished copy"),
        "{refused:#}"
    );
    let report = copy_collection(
        &client,
        &CopyOptions {
            replace_partial: true,
            ..o
        },
        &events::ignore(),
    )
    .await
    .unwrap();
    assert!(report.verified, "{report:?}");
    assert_eq!(report.documents_copied, 50);
}

#[tokio::test]
async fn a_write_during_a_standalone_copy_leaves_it_unverified_with_the_reason() {
    let server = common::standalone().await;
    let client = server.client();
    // More than one insert batch (16 MiB): the write lands between two.
    seed_users(&client, "nilecare.lab", 20_000, 1000).await;
    let observe = write_after_first_batch(server.uri(), |c: Client| async move {
        c.database("nilecare")
            .collection::<Document>("lab")
            .update_one(
                doc! {"_id": 0},
                doc! {"$set": {"email": "changed@nilecare.sd"}},
            )
            .await
            .unwrap();
    });
    let o = opts("nilecare.lab", "nilecare_lab.lab");
    let report = copy_collection(&client, &o, &observe).await.unwrap();
    assert!(!report.verified, "{report:?}");
    let why = report.why_not_verified.clone().unwrap();
    assert!(why.contains("the source changed during the copy"), "{why}");
    assert_ne!(report.source_digest, report.target_digest);
    assert_eq!(report.documents_copied, 20_000);
    // catch_up needs change streams.
    let err = copy_collection(
        &client,
        &CopyOptions {
            catch_up: true,
            replace_partial: true,
            ..o.clone()
        },
        &events::ignore(),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("needs a replica set"),
        "{err:#}"
    );
    // Writers stopped, the re-run replaces its own unverified target and verifies.
    let again = copy_collection(
        &client,
        &CopyOptions {
            replace_partial: true,
            ..o
        },
        &events::ignore(),
    )
    .await
    .unwrap();
    assert!(again.verified, "{again:?}");
}

#[tokio::test]
async fn replica_set_writes_during_the_copy_are_caught_up_and_verified() {
    let server = common::replica_set(1).await;
    let client = server.client();
    seed_users(&client, "nilecare.clinical", 20_000, 1000).await;
    let observe = write_after_first_batch(server.uri(), |c: Client| async move {
        let coll = c.database("nilecare").collection::<Document>("clinical");
        coll.insert_many((0..50).map(|i| doc! {"_id": 100_000 + i, "email": "new"}))
            .await
            .unwrap();
        // Copied and not yet copied documents, updated, replaced and deleted.
        for id in [0, 1, 19_999] {
            coll.update_one(
                doc! {"_id": id},
                doc! {"$set": {"email": "upd"}, "$inc": {"n": 1}},
            )
            .await
            .unwrap();
        }
        coll.replace_one(doc! {"_id": 2}, doc! {"_id": 2, "replaced": true})
            .await
            .unwrap();
        coll.delete_many(doc! {"_id": {"$in": [3, 19_998, 100_000]}})
            .await
            .unwrap();
        // Updated twice: the target ends with the last state.
        coll.update_one(doc! {"_id": 100_001}, doc! {"$set": {"email": "twice"}})
            .await
            .unwrap();
    });
    let o = CopyOptions {
        catch_up: true,
        ..opts("nilecare.clinical", "nilecare_clinical.clinical")
    };
    let report = copy_collection(&client, &o, &observe).await.unwrap();
    assert!(report.verified, "{report:?}");
    assert!(report.writes_caught_up >= 58, "{report:?}");
    assert_eq!(report.source_digest.count, 20_000 + 50 - 3);
    assert!(
        raw_docs(&client, "nilecare.clinical").await
            == raw_docs(&client, "nilecare_clinical.clinical").await
    );
    // The source's own setting is back; the target has the source's original options.
    let source_options = options_of(&client, "nilecare.clinical").await;
    assert!(
        !source_options
            .get_document("changeStreamPreAndPostImages")
            .is_ok_and(|d| d.get_bool("enabled") == Ok(true)),
        "{source_options}"
    );
    assert_eq!(
        source_options,
        options_of(&client, "nilecare_clinical.clinical").await
    );

    // The digest at the verified time ignores later writes (what "drop the source" checks).
    let at = report
        .verified_at
        .expect("a replica set copy has a snapshot time");
    let source = Namespace::parse("nilecare.clinical").unwrap();
    client
        .database("nilecare")
        .collection::<Document>("clinical")
        .insert_one(doc! {"_id": "late"})
        .await
        .unwrap();
    assert_eq!(
        digest(&client, &source, Some(at)).await.unwrap(),
        report.source_digest
    );
    let now = digest(&client, &source, None).await.unwrap();
    assert_eq!(now.count, report.source_digest.count + 1);
    assert_ne!(now.hash, report.source_digest.hash);
}
