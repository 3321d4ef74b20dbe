//! Tenant quotas and `stats --tenants` against a real mongod: quotas flagged from the real
//! sizes of tenant databases (class quota, one tenant's override), and the shared-collection
//! model's per-tenant counts and BSON sizes from one aggregation.

use bson::{Document, doc};
use serde_json::Value;

use crate::common;
use crate::support::{copy_workspace, mongoctl, repo, write};

/// The row of `tenant` in `stats --tenants -o json`.
fn row<'a>(stats: &'a Value, tenant: &str) -> &'a Value {
    stats["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant"] == tenant)
        .unwrap_or_else(|| panic!("no row for {tenant}: {stats:#}"))
}

/// Documents in every collection of `db`, counted by the server.
async fn documents_in(client: &mongodb::Client, db: &str) -> u64 {
    let db = client.database(db);
    let mut n = 0;
    for c in db.list_collection_names().await.unwrap() {
        n += db
            .collection::<Document>(&c)
            .count_documents(doc! {})
            .await
            .unwrap();
    }
    n
}

#[tokio::test]
async fn quotas_are_flagged_from_the_real_sizes_of_tenant_databases() {
    let server = common::standalone().await;
    let ws = copy_workspace(&repo().join("examples/tenants-demo"));
    // The example's generous classes replaced by tight ones.
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("mongoctl.json")).unwrap())
            .unwrap();
    manifest["tenantClasses"] = serde_json::json!({
        "default": {"quota": {"maxDocuments": 10}},
        "gold": {"quota": {"maxDocuments": 10, "maxDataSize": "1MiB"}}
    });
    let manifest = serde_json::to_string_pretty(&manifest).unwrap();
    write(ws.path(), "mongoctl.json", &manifest);
    write(
        ws.path(),
        "tenants.json",
        r#"{"tenants": [
  "acme",
  {"id": "globex", "class": "gold", "quota": {"maxDocuments": 1000}},
  "initech"
]}
"#,
    );
    mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let client = server.client();
    // acme: 12 more documents (over its class's 10); globex: 20 (over the class, under its
    // override); initech: nothing more.
    let batch = |n: i32| (0..n).map(|i| doc! {"n": i}).collect::<Vec<_>>();
    for (tenant, n) in [("acme", 12), ("globex", 20)] {
        client
            .database(&format!("tdemo_chat_{tenant}"))
            .collection::<Document>("conversations")
            .insert_many(batch(n))
            .await
            .unwrap();
    }
    let mut counted = std::collections::BTreeMap::new();
    for t in ["acme", "globex", "initech"] {
        counted.insert(t, documents_in(&client, &format!("tdemo_chat_{t}")).await);
    }
    assert!(
        counted["acme"] > 10 && counted["initech"] <= 10,
        "{counted:?}"
    );

    let stats = mongoctl(ws.path(), &["stats", "--tenants", "-o", "json"])
        .uri(&server.uri())
        .run();
    stats.expect_code(0);
    let json = stats.json();
    for t in ["acme", "globex", "initech"] {
        let r = row(&json, t);
        assert_eq!(r["documents"], counted[t], "{t}: {r:#}");
        assert_eq!(r["databases"]["databases"][0], format!("tdemo_chat_{t}"));
        let data = client
            .database(&format!("tdemo_chat_{t}"))
            .run_command(doc! {"dbStats": 1})
            .await
            .unwrap();
        let server_says = match data.get("dataSize").unwrap() {
            bson::Bson::Int32(n) => f64::from(*n),
            bson::Bson::Int64(n) => *n as f64,
            bson::Bson::Double(n) => *n,
            other => panic!("dataSize {other}"),
        };
        assert_eq!(r["data_size"].as_f64().unwrap(), server_says, "{t}: {r:#}");
    }
    let over: Vec<&str> = json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["over"].as_array().unwrap().is_empty())
        .map(|r| r["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(over, ["acme"]);
    let acme = row(&json, "acme");
    assert_eq!(acme["over"][0]["what"], "maxDocuments");
    assert_eq!(acme["over"][0]["used"], counted["acme"]);
    assert_eq!(acme["over"][0]["limit"], 10);
    assert_eq!(row(&json, "globex")["quota"]["maxDocuments"], 1000);
    assert_eq!(row(&json, "globex")["quota"]["maxDataSize"], 1 << 20);

    // The table says it too, and --tenant narrows.
    let table = mongoctl(ws.path(), &["stats", "--tenants"])
        .uri(&server.uri())
        .run();
    table.expect_code(0);
    let acme_line = table
        .stdout
        .lines()
        .find(|l| l.contains(" acme "))
        .unwrap_or_else(|| panic!("{}", table.stdout));
    assert!(acme_line.contains("OVER"), "{}", table.stdout);
    for t in ["globex", "initech"] {
        let line = table.stdout.lines().find(|l| l.contains(t)).unwrap();
        assert!(
            line.contains(" ok ") && !line.contains("OVER"),
            "{}",
            table.stdout
        );
    }
    assert!(
        table.stdout.contains("1 tenant(s) over quota."),
        "{}",
        table.stdout
    );
    let one = mongoctl(
        ws.path(),
        &["stats", "--tenants", "--tenant", "initech", "-o", "json"],
    )
    .uri(&server.uri())
    .run();
    one.expect_code(0);
    assert_eq!(one.json()["tenants"].as_array().unwrap().len(), 1);

    // verify exits 2 naming exactly the tenant over quota, what, used and limit.
    let verify = mongoctl(ws.path(), &["verify", "--no-data"])
        .uri(&server.uri())
        .run();
    verify.expect_code(2);
    assert!(
        verify.stdout.contains(&format!(
            "tenant acme (class default): maxDocuments: {} > 10",
            counted["acme"]
        )),
        "{}",
        verify.stdout
    );
    assert!(
        !verify.stdout.contains("tenant globex"),
        "{}",
        verify.stdout
    );
    assert!(
        !verify.stdout.contains("tenant initech"),
        "{}",
        verify.stdout
    );
    assert!(
        verify.stdout.contains("1 tenant(s) over quota"),
        "{}",
        verify.stdout
    );
    let vj = mongoctl(ws.path(), &["verify", "--no-data", "-o", "json"])
        .uri(&server.uri())
        .run();
    vj.expect_code(2);
    let vj = vj.json();
    assert_eq!(vj["ok"], false);
    assert_eq!(vj["over_quota"].as_array().unwrap().len(), 1);
    assert_eq!(vj["over_quota"][0]["tenant"], "acme");

    // Back under quota: verify passes.
    client
        .database("tdemo_chat_acme")
        .collection::<Document>("conversations")
        .delete_many(doc! {})
        .await
        .unwrap();
    mongoctl(ws.path(), &["verify", "--no-data"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

const SHARED: &str = r#"{
  "project": "q",
  "metadataDatabase": "q_meta",
  "domains": {
    "app": {
      "database": "q_app",
      "collections": {
        "events": {"tenantKey": "tenant_id"},
        "notes": {"tenantKey": "tenant_id"},
        "plain": {}
      }
    }
  }
}
"#;

const SCHEMA: &str = r#"{"bsonType": "object", "required": ["tenant_id"], "properties": {"tenant_id": {"bsonType": "string"}}}"#;

#[tokio::test]
async fn shared_collections_are_counted_per_tenant_with_exact_bson_sizes() {
    let server = common::standalone().await;
    let dir = tempfile::Builder::new()
        .prefix("mongoctl-quotas-")
        .tempdir()
        .unwrap();
    let ws = dir.path();
    write(ws, "mongoctl.json", SHARED);
    write(ws, "schemas/app/events.json", SCHEMA);
    write(ws, "schemas/app/notes.json", SCHEMA);
    mongoctl(ws, &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let client = server.client();
    let db = client.database("q_app");
    // Documents of three tenants across two shared collections, of different sizes; the
    // expected bytes are the BSON length of each document as stored.
    let mut expected: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    let mut id = 0;
    for (coll, tenant, n, body) in [
        ("events", "a", 3, 10),
        ("events", "b", 5, 200),
        ("notes", "a", 2, 1000),
        ("notes", "c", 1, 1),
    ] {
        let docs: Vec<Document> = (0..n)
            .map(|i| {
                id += 1;
                doc! {"_id": id, "tenant_id": tenant, "body": "x".repeat(body + i)}
            })
            .collect();
        let e = expected.entry(tenant).or_default();
        for d in &docs {
            e.0 += 1;
            e.1 += bson::to_vec(d).unwrap().len() as u64;
        }
        db.collection::<Document>(coll)
            .insert_many(docs)
            .await
            .unwrap();
    }
    // Not a shared collection: not counted.
    db.collection::<Document>("plain")
        .insert_one(doc! {"tenant_id": "a"})
        .await
        .unwrap();

    let stats = mongoctl(ws, &["stats", "--tenants", "--sort", "docs", "-o", "json"])
        .uri(&server.uri())
        .run();
    stats.expect_code(0);
    let json = stats.json();
    let order: Vec<&str> = json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a", "b", "c"], "{json:#}");
    for (t, (docs, bytes)) in &expected {
        let r = row(&json, t);
        assert_eq!(r["documents"], *docs, "{t}: {r:#}");
        assert_eq!(r["shared"]["documents"], *docs, "{t}: {r:#}");
        assert_eq!(r["shared"]["bson_size"], *bytes, "{t}: {r:#}");
        assert_eq!(r["data_size"], *bytes, "{t}: {r:#}");
        assert!(r["over"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        json["shared_collections"],
        serde_json::json!(["q_app.events", "q_app.notes"])
    );
    let table = mongoctl(ws, &["stats", "--tenants"])
        .uri(&server.uri())
        .run();
    table.expect_code(0);
    assert!(
        table.stdout.contains("logical BSON sizes"),
        "{}",
        table.stdout
    );

    // No quota declared: verify measures nothing and passes.
    let v = mongoctl(ws, &["verify", "-o", "json"])
        .uri(&server.uri())
        .run();
    v.expect_code(0);
    assert!(v.json().get("over_quota").is_none(), "{}", v.stdout);

    // A default-class quota of 4 documents: b (5) is over, a (5)… is too; c (1) is not.
    write(
        ws,
        "mongoctl.json",
        &SHARED.replacen(
            r#""metadataDatabase": "q_meta","#,
            r#""metadataDatabase": "q_meta",
  "tenantClasses": {"default": {"quota": {"maxDocuments": 4}}},"#,
            1,
        ),
    );
    let v = mongoctl(ws, &["verify"]).uri(&server.uri()).run();
    v.expect_code(2);
    for t in ["a", "b"] {
        assert!(
            v.stdout
                .contains(&format!("tenant {t} (class default): maxDocuments: 5 > 4")),
            "{}",
            v.stdout
        );
    }
    assert!(!v.stdout.contains("tenant c "), "{}", v.stdout);
    let unknown = mongoctl(ws, &["stats", "--tenants", "--tenant", "d"])
        .uri(&server.uri())
        .run();
    assert_eq!(unknown.code, 1, "{}", unknown.all());
    assert!(unknown.stderr.contains("--tenant d"), "{}", unknown.stderr);
}
