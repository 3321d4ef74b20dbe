//! Views declared in the manifest against a real server: created (a view on a view after its
//! source), a changed pipeline collMod'ed with the diff shown, an out-of-band change caught as
//! drift, a new collation replaced only with confirmation, an undeclared view never dropped
//! without `--prune` and confirmation (a view declared absent likewise), `init --from-cluster`
//! exporting views so the next plan is empty, and `check` refusing a bad pipeline and a
//! missing source at their JSON paths before any server is reached.

use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Client;

use crate::common;
use std::path::Path;

use crate::support::{Output, mongoctl, refusing_port, write};

const DB: &str = "vw_shop";

const MANIFEST: &str = r#"{
  "project": "shop",
  "domains": {
    "shop": {
      "database": "vw_shop",
      "collections": {"orders": {}, "users": {}},
      "views": {
        "big_open_orders": {"viewOn": "open_orders", "pipeline": [{"$match": {"total": {"$gte": 100}}}]},
        "open_orders": {
          "description": "orders not yet shipped",
          "viewOn": "orders",
          "pipeline": [
            {"$match": {"status": "open"}},
            {"$project": {"total": 1, "at": 1}}
          ]
        },
        "users_by_name": {"viewOn": "users", "pipeline": [{"$sort": {"name": 1}}], "collation": {"locale": "fr", "strength": 2}}
      }
    }
  }
}"#;

fn workspace(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mongoctl.json", manifest);
    dir
}

/// The live `listCollections` entry of a view: (viewOn, pipeline, collation).
async fn live_view(
    client: &Client,
    name: &str,
) -> Option<(String, Vec<Document>, Option<Document>)> {
    let specs: Vec<Document> = client
        .database(DB)
        .run_cursor_command(doc! {"listCollections": 1, "filter": {"name": name, "type": "view"}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let o = specs.first()?.get_document("options").unwrap().clone();
    let pipeline = o
        .get_array("pipeline")
        .unwrap()
        .iter()
        .map(|s| s.as_document().unwrap().clone())
        .collect();
    Some((
        o.get_str("viewOn").unwrap().to_string(),
        pipeline,
        o.get_document("collation").ok().cloned(),
    ))
}

/// `plan --exit-code` says the cluster matches the spec.
fn converged(ws: &Path, uri: &str) {
    run(ws, uri, &["plan", "--exit-code"]).expect_code(0);
}

fn run(ws: &Path, uri: &str, args: &[&str]) -> Output {
    mongoctl(ws, args).uri(uri).run()
}

/// (action, collection) of each planned change.
fn changes_of(plan: &serde_json::Value) -> Vec<(String, String)> {
    crate::drift::changes(plan)
        .into_iter()
        .map(|(action, collection, _)| (action, collection))
        .collect()
}

fn pair(a: &str, c: &str) -> (String, String) {
    (a.to_string(), c.to_string())
}

#[tokio::test]
async fn views_are_created_changed_by_collmod_and_drift_is_caught() {
    let server = common::standalone().await;
    let client = server.client();
    let ws = workspace(MANIFEST);
    mongoctl(ws.path(), &["check"]).run().expect_code(0);

    let plan = run(ws.path(), &server.uri(), &["plan", "-o", "json"]);
    plan.expect_code(0);
    // A view after the collection and after the view it reads.
    assert_eq!(
        changes_of(&plan.json()),
        [
            pair("create_database", ""),
            pair("create_collection", "orders"),
            pair("create_collection", "users"),
            pair("create_view", "open_orders"),
            pair("create_view", "big_open_orders"),
            pair("create_view", "users_by_name"),
        ],
        "{}",
        plan.stdout
    );
    run(ws.path(), &server.uri(), &["apply"]).expect_code(0);
    let (on, pipeline, collation) = live_view(&client, "open_orders").await.unwrap();
    assert_eq!(on, "orders");
    assert_eq!(
        pipeline,
        [
            doc! {"$match": {"status": "open"}},
            doc! {"$project": {"total": 1, "at": 1}}
        ]
    );
    assert!(collation.is_none());
    let (_, _, collation) = live_view(&client, "users_by_name").await.unwrap();
    assert_eq!(collation.unwrap().get_i32("strength"), Ok(2));
    // The views work: the view on a view filters through both pipelines.
    let orders = client.database(DB).collection::<Document>("orders");
    orders
        .insert_many([
            doc! {"_id": 1, "status": "open", "total": 150},
            doc! {"_id": 2, "status": "open", "total": 50},
            doc! {"_id": 3, "status": "shipped", "total": 500},
            doc! {"_id": 4, "status": "pending", "total": 300},
        ])
        .await
        .unwrap();
    let ids = async |view: &str| -> Vec<i32> {
        let docs = crate::backup::all(&client, DB, view).await;
        docs.iter().map(|d| d.get_i32("_id").unwrap()).collect()
    };
    assert_eq!(ids("big_open_orders").await, [1]);
    converged(ws.path(), &server.uri());
    let listed = run(ws.path(), &server.uri(), &["list", "-o", "json"]);
    listed.expect_code(0);
    assert_eq!(
        listed.json()[0]["unmanaged"],
        serde_json::json!([]),
        "declared views are not unmanaged: {}",
        listed.stdout
    );

    // The pipeline changes in the spec: a collMod, the diff shown, not destructive.
    let changed = MANIFEST.replace(
        r#"{"$match": {"status": "open"}}"#,
        r#"{"$match": {"status": {"$in": ["open", "pending"]}}}"#,
    );
    write(ws.path(), "mongoctl.json", &changed);
    let plan = run(
        ws.path(),
        &server.uri(),
        &["plan", "-o", "json", "--exit-code"],
    );
    plan.expect_code(2);
    let p = plan.json();
    assert_eq!(
        changes_of(&p),
        [pair("modify_view", "open_orders")],
        "{}",
        plan.stdout
    );
    let c = &p["changes"][0];
    assert_eq!(c["destructive"], false);
    assert_eq!(c["commands"][0]["collMod"], "open_orders");
    let details: Vec<&str> = c["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        details.contains(&r#"-       "status": "open""#)
            && details
                .iter()
                .any(|d| d.starts_with('+') && d.contains("\"$in\"")),
        "{details:#?}"
    );
    let table = run(ws.path(), &server.uri(), &["plan"]);
    assert!(
        table.stdout.contains("modify view") && table.stdout.contains(r#""status": "open""#),
        "{}",
        table.stdout
    );
    run(ws.path(), &server.uri(), &["apply"]).expect_code(0);
    let (_, pipeline, _) = live_view(&client, "open_orders").await.unwrap();
    assert_eq!(
        pipeline[0],
        doc! {"$match": {"status": {"$in": ["open", "pending"]}}}
    );
    assert_eq!(ids("big_open_orders").await, [1, 4]);
    converged(ws.path(), &server.uri());

    // Out of band: someone collMods the view; plan and verify report it (exit 2).
    client
        .database(DB)
        .run_command(
            doc! {"collMod": "open_orders", "viewOn": "orders", "pipeline": [{"$match": {}}]},
        )
        .await
        .unwrap();
    let drift = run(
        ws.path(),
        &server.uri(),
        &["plan", "-o", "json", "--exit-code"],
    );
    drift.expect_code(2);
    assert_eq!(
        changes_of(&drift.json()),
        [pair("modify_view", "open_orders")]
    );
    let gh = run(
        ws.path(),
        &server.uri(),
        &["verify", "--no-data", "--output", "github"],
    );
    gh.expect_code(2);
    // The annotation points at the view's entry in the manifest.
    assert!(
        gh.stdout.contains("mongoctl.json,line=9,")
            && gh.stdout.contains("drift: modify view vw_shop.open_orders"),
        "{}",
        gh.stdout
    );
    run(ws.path(), &server.uri(), &["apply"]).expect_code(0);
    converged(ws.path(), &server.uri());

    // A new collation cannot be collMod'ed: drop and create, destructive, refused with no
    // terminal and no --yes, the view left as it was.
    let recollated = changed.replace(r#""strength": 2"#, r#""strength": 1"#);
    write(ws.path(), "mongoctl.json", &recollated);
    let plan = run(ws.path(), &server.uri(), &["plan", "-o", "json"]);
    let p = plan.json();
    assert_eq!(
        changes_of(&p),
        [pair("replace_view", "users_by_name")],
        "{}",
        plan.stdout
    );
    assert_eq!(p["changes"][0]["destructive"], true);
    let refused = run(ws.path(), &server.uri(), &["apply"]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let (_, _, collation) = live_view(&client, "users_by_name").await.unwrap();
    assert_eq!(collation.unwrap().get_i32("strength"), Ok(2));
    run(ws.path(), &server.uri(), &["apply", "--yes"]).expect_code(0);
    let (on, _, collation) = live_view(&client, "users_by_name").await.unwrap();
    assert_eq!(on, "users");
    assert_eq!(collation.unwrap().get_i32("strength"), Ok(1));
    converged(ws.path(), &server.uri());
}

#[tokio::test]
async fn an_undeclared_view_is_dropped_only_with_prune_and_confirmation() {
    let server = common::standalone().await;
    let client = server.client();
    let ws = workspace(MANIFEST);
    run(ws.path(), &server.uri(), &["apply"]).expect_code(0);
    let db = client.database(DB);
    db.run_command(
        doc! {"create": "legacy_report", "viewOn": "orders", "pipeline": [{"$limit": 1}]},
    )
    .await
    .unwrap();

    // Listed as an unmanaged view, not drift; apply leaves it.
    let plan = run(
        ws.path(),
        &server.uri(),
        &["plan", "-o", "json", "--exit-code"],
    );
    plan.expect_code(0);
    let p = plan.json();
    assert_eq!(p["unmanaged"][0]["kind"], "view", "{}", plan.stdout);
    assert_eq!(p["unmanaged"][0]["collection"], "legacy_report");
    run(ws.path(), &server.uri(), &["apply"]).expect_code(0);
    assert!(live_view(&client, "legacy_report").await.is_some());

    // --prune without a terminal or --yes: refused before anything runs.
    let refused = run(ws.path(), &server.uri(), &["apply", "--prune"]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(live_view(&client, "legacy_report").await.is_some());

    let pruned = run(ws.path(), &server.uri(), &["plan", "--prune", "-o", "json"]);
    let p = pruned.json();
    assert_eq!(changes_of(&p), [pair("drop_view", "legacy_report")]);
    assert_eq!(p["changes"][0]["destructive"], true);
    run(ws.path(), &server.uri(), &["apply", "--prune", "--yes"]).expect_code(0);
    assert!(live_view(&client, "legacy_report").await.is_none());
    // Only the view went: its source collection and the declared views stay.
    let names = db.list_collection_names().await.unwrap();
    for n in ["orders", "open_orders", "big_open_orders"] {
        assert!(names.contains(&n.to_string()), "{n} gone: {names:?}");
    }

    // A view declared absent is dropped by a plain apply, with the same confirmation.
    db.run_command(doc! {"create": "old_totals", "viewOn": "orders", "pipeline": []})
        .await
        .unwrap();
    let absent = MANIFEST.replace(
        r#""views": {"#,
        r#""views": {"old_totals": {"absent": true},"#,
    );
    write(ws.path(), "mongoctl.json", &absent);
    let refused = run(ws.path(), &server.uri(), &["apply"]);
    refused.expect_code(1);
    assert!(live_view(&client, "old_totals").await.is_some());
    run(ws.path(), &server.uri(), &["apply", "--yes"]).expect_code(0);
    assert!(live_view(&client, "old_totals").await.is_none());
    converged(ws.path(), &server.uri());
}

#[tokio::test]
async fn init_from_cluster_exports_views_and_the_next_plan_is_empty() {
    let server = common::standalone().await;
    let client = server.client();
    let db = client.database("vw_made");
    for c in [
        doc! {"create": "events"},
        doc! {"create": "people", "collation": {"locale": "en"}},
        doc! {"create": "recent", "viewOn": "events", "pipeline": [
            {"$match": {"at": {"$gte": bson::DateTime::from_millis(1_700_000_000_000)}, "big": {"$gt": 5_000_000_000_i64}, "ratio": 0.5}},
            {"$sort": {"at": -1, "kind": 1}},
            {"$limit": 50},
        ]},
        doc! {"create": "recent_kinds", "viewOn": "recent", "pipeline": [{"$group": {"_id": "$kind", "n": {"$sum": 1}}}]},
        doc! {"create": "people_de", "viewOn": "people", "pipeline": [], "collation": {"locale": "de", "strength": 1}},
    ] {
        db.run_command(c.clone())
            .await
            .unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    let out = tempfile::tempdir().unwrap();
    mongoctl(
        out.path(),
        &["init", "--from-cluster", "--database", "vw_made"],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("mongoctl.json")).unwrap())
            .unwrap();
    let domain = &m["domains"]["vw_made"];
    let views = domain["views"].as_object().unwrap();
    let mut names: Vec<&str> = views.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["people_de", "recent", "recent_kinds"]);
    assert!(domain["collections"].get("recent").is_none());
    assert_eq!(views["recent_kinds"]["viewOn"], "recent");
    assert_eq!(views["people_de"]["collation"]["locale"], "de");
    assert!(views["people_de"]["collation"].get("version").is_none());
    mongoctl(out.path(), &["check"]).run().expect_code(0);
    let plan = mongoctl(out.path(), &["plan", "--exit-code", "-o", "json"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    let p = plan.json();
    assert!(
        p["changes"].as_array().unwrap().is_empty(),
        "{}",
        plan.stdout
    );
    assert!(
        p["unmanaged"].as_array().unwrap().is_empty(),
        "{}",
        plan.stdout
    );
}

#[tokio::test]
async fn check_refuses_a_bad_pipeline_and_a_missing_source_at_their_paths() {
    let ws = workspace(
        r#"{
  "project": "shop",
  "domains": {
    "shop": {
      "database": "vw_bad",
      "collections": {"orders": {}},
      "views": {
        "copy": {"viewOn": "orders", "pipeline": [{"$match": {}}, {"$out": "orders_copy"}]},
        "lost": {"viewOn": "order", "pipeline": []}
      }
    }
  }
}"#,
    );
    let out = mongoctl(ws.path(), &["check", "-o", "json"]).run();
    out.expect_code(1);
    let diags: Vec<(String, String, u64, u64)> = out.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_string(),
                d["json_path"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect();
    let paths: Vec<&str> = diags.iter().map(|d| d.1.as_str()).collect();
    assert_eq!(
        paths,
        [
            "domains.shop.views.copy.pipeline[1].$out",
            "domains.shop.views.lost.viewOn"
        ],
        "{}",
        out.stdout
    );
    assert!(
        diags.iter().all(|d| d.0.ends_with("mongoctl.json")),
        "{diags:?}"
    );
    assert_eq!((diags[0].2, diags[1].2), (8, 9), "{diags:?}");
    let text = mongoctl(ws.path(), &["check"]).run().all();
    assert!(
        text.contains("mongoctl.json:8:68: error: domains.shop.views.copy.pipeline[1].$out: $out writes documents")
            && text.contains("mongoctl.json:9:18: error: domains.shop.views.lost.viewOn: \"order\" is neither a collection nor a view declared in this domain; did you mean \"orders\"?"),
        "{text}"
    );
    // apply refuses before reaching any server (the port refuses connections).
    let port = refusing_port();
    let apply = mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&format!(
            "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=500",
            port.port
        ))
        .run();
    apply.expect_code(1);
    assert!(
        apply.stderr.contains("$out writes documents"),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains("nothing was sent to the cluster"),
        "{}",
        apply.stderr
    );
}

#[tokio::test]
async fn a_template_domains_views_are_created_in_every_tenant_database() {
    let server = common::standalone().await;
    let client = server.client();
    let ws = workspace(
        r#"{
  "project": "chat",
  "tenants": {"file": "tenants.json"},
  "domains": {
    "chat": {
      "database": "vw_chat_{tenant}",
      "tenancy": "database",
      "collections": {"messages": {}},
      "views": {"recent": {"viewOn": "messages", "pipeline": [{"$sort": {"at": -1}}, {"$limit": 20}]}}
    }
  }
}"#,
    );
    write(
        ws.path(),
        "tenants.json",
        r#"{"tenants": ["acme", "globex"]}"#,
    );
    mongoctl(ws.path(), &["check"]).run().expect_code(0);
    run(ws.path(), &server.uri(), &["apply"]).expect_code(0);
    for db in ["vw_chat_acme", "vw_chat_globex"] {
        let specs: Vec<Document> = client
            .database(db)
            .run_cursor_command(doc! {"listCollections": 1, "filter": {"name": "recent"}})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(specs.len(), 1, "{db}");
        assert_eq!(specs[0].get_str("type"), Ok("view"), "{db}");
        assert_eq!(
            specs[0].get_document("options").unwrap().get_str("viewOn"),
            Ok("messages")
        );
    }
    converged(ws.path(), &server.uri());
    // Out of band in one tenant: that tenant's plan shows it.
    client
        .database("vw_chat_globex")
        .run_command(doc! {"collMod": "recent", "viewOn": "messages", "pipeline": []})
        .await
        .unwrap();
    let drift = run(
        ws.path(),
        &server.uri(),
        &["plan", "--exit-code", "-o", "json"],
    );
    drift.expect_code(2);
    let changed = &drift.json()["tenants"]["changed"];
    assert_eq!(changed.as_array().unwrap().len(), 1, "{}", drift.stdout);
    assert_eq!(changed[0]["tenant"], "globex");
    assert_eq!(
        changes_of(&changed[0]["plan"]),
        [pair("modify_view", "recent")]
    );
    run(ws.path(), &server.uri(), &["apply"]).expect_code(0);
    converged(ws.path(), &server.uri());
}

#[tokio::test]
async fn the_illajwala_provider_ratings_view_answers_from_live_reviews() {
    let server = common::standalone().await;
    let client = server.client();
    let ws = crate::support::repo().join("examples/illajwala");
    run(&ws, &server.uri(), &["apply", "--yes"]).expect_code(0);
    let db = client.database("illajwala_provider");
    let now = bson::DateTime::now();
    let (a, b) = (bson::oid::ObjectId::new(), bson::oid::ObjectId::new());
    let provider = |id, name: &str| {
        doc! {
            "_id": id, "userId": bson::oid::ObjectId::new(), "displayName": name,
            "specialtyCodes": ["cardiology"], "consultationModes": ["video"],
            "verificationStatus": "verified", "isActive": true,
            "createdAt": now, "updatedAt": now,
        }
    };
    db.collection::<Document>("providers")
        .insert_many([provider(a, "Dr. Ayesha Khan"), provider(b, "Dr. Omar Ali")])
        .await
        .unwrap();
    let later = bson::DateTime::from_millis(now.timestamp_millis() + 60_000);
    let review = |provider, rating: i32, status: &str, at| {
        doc! {
            "providerId": provider, "patientId": bson::oid::ObjectId::new(),
            "appointmentId": bson::oid::ObjectId::new(), "rating": rating, "status": status,
            "createdAt": at,
        }
    };
    // The validators accept these (inserts fail otherwise); the hidden one is not counted.
    db.collection::<Document>("reviews")
        .insert_many([
            review(a, 4, "published", now),
            review(a, 5, "published", later),
            review(a, 1, "hidden", later),
            review(b, 3, "pending", now),
        ])
        .await
        .unwrap();
    let rows =
        crate::support::all_documents(&client, "illajwala_provider", "provider_ratings").await;
    assert_eq!(
        rows,
        [doc! {
            "_id": a, "reviews": 2, "averageRating": 4.5, "lastReviewAt": later,
            "displayName": "Dr. Ayesha Khan",
        }]
    );
    converged(&ws, &server.uri());
}
