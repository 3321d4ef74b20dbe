//! `init`: scaffolding, and `--from-cluster` round trips (export, then `check` is clean and
//! `plan` against the same server shows no changes).

use std::path::Path;

use bson::{DateTime, Document, doc};

use crate::common;
use crate::support::{mongoctl, repo};

fn databases_of(ws: &Path) -> Vec<String> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("mongoctl.json")).unwrap()).unwrap();
    m["domains"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| d["database"].as_str().unwrap().to_string())
        .collect()
}

/// Exports into a fresh directory; asserts `check` is clean and `plan` is empty. Returns the dir.
fn round_trip(uri: &str, init_args: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["init", "--from-cluster"];
    args.extend_from_slice(init_args);
    let init = mongoctl(out.path(), &args).uri(uri).run();
    init.expect_code(0);
    mongoctl(out.path(), &["check"]).run().expect_code(0);
    let plan = mongoctl(out.path(), &["plan", "--exit-code", "-o", "json"])
        .uri(uri)
        .run();
    let p = plan.json();
    assert!(
        p["changes"].as_array().unwrap().is_empty(),
        "plan after init is not empty:\n{}\ninit said:\n{}",
        plan.stdout,
        init.all()
    );
    plan.expect_code(0);
    out
}

async fn example_round_trip(example: &str) {
    let server = common::standalone().await;
    let copy = crate::verify::collections_only_copy(&repo().join("examples").join(example));
    let ws = copy.path().to_path_buf();
    // Declared sharding is listed, not sent, without a mongos.
    mongoctl(&ws, &["apply", "--skip-sharding"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let dbs = databases_of(&ws).join(",");
    let out = round_trip(&server.uri(), &["--database", &dbs]);
    // Every declared schema came back, byte-for-byte equal as JSON.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("mongoctl.json")).unwrap()).unwrap();
    for (domain, d) in manifest["domains"].as_object().unwrap() {
        let db = d["database"].as_str().unwrap();
        for coll in d["collections"].as_object().unwrap().keys() {
            let src = ws.join(format!("schemas/{domain}/{coll}.json"));
            if !src.exists() {
                continue;
            }
            let exported = out.path().join(format!("schemas/{db}/{coll}.json"));
            let a: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&src).unwrap()).unwrap();
            let b: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(&exported)
                    .unwrap_or_else(|_| panic!("{} not exported", exported.display())),
            )
            .unwrap();
            assert_eq!(a, b, "{}", src.display());
        }
    }
}

#[tokio::test]
async fn from_cluster_round_trips_the_carechat_example() {
    example_round_trip("carechat").await;
}

#[tokio::test]
async fn from_cluster_round_trips_the_chat_platform_example() {
    example_round_trip("chat-platform").await;
}

#[tokio::test]
async fn from_cluster_round_trips_the_illajwala_example() {
    example_round_trip("illajwala").await;
}

#[tokio::test]
async fn from_cluster_round_trips_the_default_workspace_with_seeds_and_refuses_to_overwrite() {
    let server = common::standalone().await;
    let copy = crate::verify::collections_only_copy(&repo());
    let ws = copy.path().to_path_buf();
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let out = round_trip(
        &server.uri(),
        &[
            "--prefix",
            "reminderdb_",
            "--project",
            "healthtech",
            "--seeds",
            "reminderdb_auth.roles,reminderdb_data.departments",
        ],
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("mongoctl.json")).unwrap())
            .unwrap();
    let mut domains: Vec<&String> = m["domains"].as_object().unwrap().keys().collect();
    domains.sort();
    assert_eq!(domains.len(), 11, "{domains:?}");
    assert!(domains.iter().any(|d| *d == "auth"), "{domains:?}");
    assert_eq!(m["domains"]["auth"]["database"], "reminderdb_auth");
    let roles: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("seeds/auth/roles.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(roles["key"], serde_json::json!(["_id"]));
    let declared: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("seeds/auth/roles.json")).unwrap())
            .unwrap();
    assert_eq!(
        roles["documents"].as_array().unwrap().len(),
        declared["documents"].as_array().unwrap().len()
    );

    // A second export into the same directory refuses, naming the files; --force overwrites.
    let again = mongoctl(
        out.path(),
        &["init", "--from-cluster", "--prefix", "reminderdb_"],
    )
    .uri(&server.uri())
    .run();
    again.expect_code(1);
    assert!(
        again.stderr.contains("already exist") && again.stderr.contains("mongoctl.json"),
        "{}",
        again.stderr
    );
    mongoctl(
        out.path(),
        &[
            "init",
            "--from-cluster",
            "--prefix",
            "reminderdb_",
            "--force",
        ],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
}

#[tokio::test]
async fn from_cluster_exports_hand_made_options_and_indexes_exactly_and_drafts_the_rest() {
    let server = common::standalone().await;
    let client = server.client();
    let db = client.database("handmade");
    let cmds = [
        doc! {"create": "events", "capped": true, "size": 100_000, "max": 500},
        doc! {"create": "metrics", "timeseries": {"timeField": "ts", "metaField": "m", "granularity": "hours"}, "expireAfterSeconds": 3600},
        doc! {"create": "names", "collation": {"locale": "fr", "strength": 1}},
        doc! {"create": "ledger", "clusteredIndex": {"key": {"_id": 1}, "unique": true}, "changeStreamPreAndPostImages": {"enabled": true}},
        doc! {"create": "people", "validator": {"$jsonSchema": {
            "bsonType": "object",
            "required": ["tenant", "email"],
            "properties": {
                "tenant": {"bsonType": "string"},
                "email": {"bsonType": "string", "pattern": "^\\S+@\\S+$"},
                "age": {"bsonType": ["int", "long"], "minimum": 0, "maximum": 150},
                "tags": {"bsonType": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true}
            }
        }}, "validationLevel": "moderate", "validationAction": "warn"},
        doc! {"create": "v_people", "viewOn": "people", "pipeline": [{"$match": {"age": {"$gte": 18}}}]},
        doc! {"createIndexes": "people", "indexes": [
            {"key": {"tenant": 1, "email": 1}, "name": "tenant_1_email_1", "unique": true},
            {"key": {"status": 1}, "name": "by_status", "partialFilterExpression": {"status": {"$exists": true}}},
            {"key": {"expires_at": 1}, "name": "expires_at_1", "expireAfterSeconds": 60},
            {"key": {"title": "text", "body": "text"}, "name": "title_text_body_text", "weights": {"title": 5}, "default_language": "french"},
            {"key": {"nick": 1}, "name": "nick_1", "sparse": true, "hidden": true},
            {"key": {"loc": "2dsphere"}, "name": "loc_2dsphere"},
            {"key": {"$**": 1}, "name": "$**_1", "wildcardProjection": {"meta": 1}},
            {"key": {"tenant": "hashed"}, "name": "tenant_hashed"},
            {"key": {"name": 1}, "name": "name_en", "collation": {"locale": "en", "strength": 2}},
        ]},
        doc! {"createIndexes": "names", "indexes": [
            {"key": {"name": 1}, "name": "name_1"},
        ]},
        doc! {"createIndexes": "metrics", "indexes": [{"key": {"m": 1, "ts": -1}, "name": "m_1_ts_-1"}]},
    ];
    for c in cmds {
        db.run_command(c.clone())
            .await
            .unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    let notes = db.collection::<Document>("notes");
    notes
        .insert_many([
            doc! {"title": "a", "n": 1, "at": DateTime::now(), "meta": {"by": "x"}},
            doc! {"title": "b", "n": 2.5, "meta": {"by": "y", "extra": true}},
            doc! {"title": "c", "n": 3i64, "at": DateTime::now(), "meta": {"by": "z"}},
        ])
        .await
        .unwrap();

    let out = round_trip(&server.uri(), &["--database", "handmade", "--sample", "50"]);
    let read = |rel: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")),
        )
        .unwrap()
    };
    let m = read("mongoctl.json");
    let colls = &m["domains"]["handmade"]["collections"];
    assert_eq!(colls["events"]["capped"]["max"], 500);
    assert_eq!(colls["metrics"]["timeseries"]["granularity"], "hours");
    assert_eq!(colls["metrics"]["timeseries"]["expireAfterSeconds"], 3600);
    assert_eq!(colls["names"]["collation"]["locale"], "fr");
    assert_eq!(colls["names"]["collation"]["strength"], 1);
    assert_eq!(colls["ledger"]["clusteredIndex"], true);
    assert_eq!(colls["ledger"]["changeStreamPreAndPostImages"], true);
    assert_eq!(colls["people"]["validationLevel"], "moderate");
    assert_eq!(colls["people"]["validationAction"], "warn");
    assert!(
        colls.get("v_people").is_none(),
        "a view is not a collection"
    );
    let view = &m["domains"]["handmade"]["views"]["v_people"];
    assert_eq!(view["viewOn"], "people");
    assert_eq!(
        view["pipeline"],
        serde_json::json!([{"$match": {"age": {"$gte": 18}}}])
    );
    let idx = read("indexes/handmade/people.json");
    let by_name = |n: &str| {
        idx["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n || (i.get("name").is_none() && n == "derived"))
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    assert_eq!(
        by_name("by_status")["partialFilterExpression"],
        serde_json::json!({"status": {"$exists": true}})
    );
    let text = idx["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"]["title"] == "text")
        .unwrap();
    assert_eq!(text["weights"]["title"], 5);
    assert_eq!(text["default_language"], "french");
    assert_eq!(idx["indexes"].as_array().unwrap().len(), 9);
    // The index inherits the collection's collation: not repeated.
    let names_idx = read("indexes/handmade/names.json");
    assert_eq!(
        names_idx["indexes"][0],
        serde_json::json!({"key": {"name": 1}})
    );
    // The collection without a validator got a draft, outside schemas/, that fits its documents.
    assert!(!out.path().join("schemas/handmade/notes.json").exists());
    let draft = read("schemas-draft/handmade/notes.json");
    assert!(
        draft["description"]
            .as_str()
            .unwrap()
            .starts_with("DRAFT inferred from 3 document(s)"),
        "{draft}"
    );
    assert_eq!(
        draft["required"],
        serde_json::json!(["_id", "title", "n", "meta"])
    );
    let compiled = mongoctl::jsonschema::CompiledSchema::compile(&draft).unwrap();
    for d in notes
        .find(doc! {})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
    {
        assert!(compiled.validate(&d).is_empty(), "{d}");
    }
}

use futures::TryStreamExt;

#[test]
fn scaffold_with_yes_or_flags_passes_check_and_never_waits_for_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("spec");
    let ws_str = ws.to_str().unwrap();
    // No terminal, no --yes, no flags: a clear refusal, not a hang.
    let out = mongoctl(dir.path(), &["init", ws_str]).run();
    out.expect_code(1);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(!ws.join("mongoctl.json").exists());

    mongoctl(dir.path(), &["init", ws_str, "--yes"])
        .run()
        .expect_code(0);
    mongoctl(&ws, &["check"]).run().expect_code(0);
    assert!(ws.join("schemas/app/items.json").exists());

    let again = mongoctl(dir.path(), &["init", ws_str, "--yes"]).run();
    again.expect_code(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    let shop = dir.path().join("shop");
    let flags = mongoctl(
        dir.path(),
        &[
            "init",
            shop.to_str().unwrap(),
            "--project",
            "shop",
            "--domain",
            "orders",
            "--database",
            "shop_orders",
            "--collections",
            "orders,carts",
        ],
    )
    .run();
    flags.expect_code(0);
    mongoctl(&shop, &["check"]).run().expect_code(0);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shop.join("mongoctl.json")).unwrap())
            .unwrap();
    assert_eq!(m["project"], "shop");
    assert_eq!(m["domains"]["orders"]["database"], "shop_orders");
    assert!(m["domains"]["orders"]["collections"]["carts"].is_object());
    assert!(shop.join("indexes/orders/carts.json").exists());
}

#[tokio::test]
async fn from_cluster_refuses_collection_names_that_cannot_be_spec_files_and_writes_nothing() {
    let server = common::standalone().await;
    let client = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let names = crate::backup::hostile_names(tmp.path());
    crate::backup::seed_names(&client, "hostile", &names).await;
    let ws = tmp.path().join("ws");
    let o = mongoctl(
        &ws,
        &[
            "init",
            "--from-cluster",
            ws.to_str().unwrap(),
            "--database",
            "hostile",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(1);
    // Each unusable name is named; the usable ones are not.
    let victim = format!("{}/victim", tmp.path().display());
    for bad in [victim.as_str(), "a/b", "x/../../../escaped"] {
        assert!(
            o.stderr.contains(&format!("\"hostile.{bad}\"")),
            "{bad}: {}",
            o.stderr
        );
    }
    assert!(o.stderr.contains("nothing was written"), "{}", o.stderr);
    assert!(!o.stderr.contains("with space"), "{}", o.stderr);
    // Nothing written at all: no workspace, no victim, nothing escaped.
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert!(top.is_empty() || top == ["ws"], "{top:?}");
    assert!(!ws.join("mongoctl.json").exists());

    // The names a file can hold (escapes, space, non-ASCII, 205 bytes) export and read back.
    let fine = tempfile::tempdir().unwrap();
    let usable: Vec<String> = names
        .iter()
        .filter(|n| !n.contains('/') && !n.starts_with('.'))
        .cloned()
        .collect();
    crate::backup::seed_names(&client, "fine", &usable).await;
    let o = mongoctl(
        fine.path(),
        &[
            "init",
            "--from-cluster",
            "--database",
            "fine",
            "--sample",
            "0",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fine.path().join("mongoctl.json")).unwrap())
            .unwrap();
    let mut declared: Vec<String> = m["domains"]["fine"]["collections"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    declared.sort();
    let mut want = usable.clone();
    want.sort();
    assert_eq!(declared, want);
    for p in crate::backup::tree(fine.path()) {
        assert!(p.starts_with(fine.path()));
    }
    mongoctl(fine.path(), &["check"]).run().expect_code(0);
}
