//! `stats`, `profile` and `explain` against real servers: the numbers match what the server
//! reports, index usage moves with queries, replication lag and the oplog window on a
//! replica set, the profiler, query plans, the live view and its signals, and sections a
//! limited user may not read.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Client;
use serde_json::Value;

use crate::common;
use crate::support::{mongoctl, repo, write};

const MANIFEST: &str = r#"{
  "project": "t",
  "metadataDatabase": "st_meta",
  "domains": {
    "shop": {
      "database": "st_shop",
      "collections": {"orders": {}, "customers": {}}
    },
    "logs": {
      "database": "st_logs",
      "collections": {"events": {}}
    }
  }
}
"#;

pub(crate) fn workspace() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mongoctl-stats-")
        .tempdir()
        .unwrap();
    let p = dir.path();
    write(p, "mongoctl.json", MANIFEST);
    write(
        p,
        "indexes/shop/orders.json",
        r#"{"indexes": [{"key": {"customer": 1, "created": 1}}, {"key": {"status": 1}}]}"#,
    );
    write(
        p,
        "schemas/shop/customers.json",
        r#"{"bsonType": "object", "required": ["name"], "properties": {"name": {"bsonType": "string"}}}"#,
    );
    dir
}

/// `apply` the workspace, then load orders (n), customers (n / 10), events (n / 4) and an
/// undeclared `scratch` collection.
pub(crate) async fn load(ws: &Path, uri: &str, client: &Client, n: i32) {
    mongoctl(ws, &["apply", "--yes"])
        .uri(uri)
        .run()
        .expect_code(0);
    let shop = client.database("st_shop");
    let statuses = ["open", "paid", "shipped", "cancelled"];
    let orders: Vec<Document> = (0..n)
        .map(|i| {
            doc! {
                "customer": i % 97,
                "created": i,
                "status": statuses[(i % 4) as usize],
                "amount": i % 250,
                "note": "x".repeat((i % 50) as usize),
            }
        })
        .collect();
    shop.collection::<Document>("orders")
        .insert_many(orders)
        .await
        .unwrap();
    let customers: Vec<Document> = (0..n / 10)
        .map(|i| doc! {"name": format!("c{i}")})
        .collect();
    shop.collection::<Document>("customers")
        .insert_many(customers)
        .await
        .unwrap();
    shop.collection::<Document>("scratch")
        .insert_many((0..10).map(|i| doc! {"i": i}))
        .await
        .unwrap();
    let events: Vec<Document> = (0..n / 4).map(|i| doc! {"e": i, "payload": "p"}).collect();
    client
        .database("st_logs")
        .collection::<Document>("events")
        .insert_many(events)
        .await
        .unwrap();
}

fn i(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

fn num(d: &Document, k: &str) -> i64 {
    mongoctl::model::as_f64(d.get(k).unwrap_or_else(|| panic!("{k} missing in {d}"))).unwrap()
        as i64
}

fn db_row<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["database"] == name)
        .unwrap_or_else(|| panic!("no row for {name} in {j:#}"))
}

#[tokio::test]
async fn stats_numbers_match_the_server_and_totals_add_up() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace();
    load(ws.path(), &uri, &client, 2000).await;
    // A checkpoint, so that storage sizes stay put between our reading and mongoctl's.
    client
        .database("admin")
        .run_command(doc! {"fsync": 1})
        .await
        .unwrap();

    let out = mongoctl(
        ws.path(),
        &["stats", "--collections", "--sort", "name", "-o", "json"],
    )
    .uri(&uri)
    .run();
    out.expect_code(0);
    let j = out.json();
    let names: Vec<&str> = j["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["database"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["st_logs", "st_shop"]);
    for db in ["st_shop", "st_logs"] {
        let server_stats = client
            .database(db)
            .run_command(doc! {"dbStats": 1, "scale": 1, "freeStorage": 1})
            .await
            .unwrap();
        let row = db_row(&j, db);
        assert_eq!(row["exists"], true);
        for (ours, theirs) in [
            ("collections", "collections"),
            ("documents", "objects"),
            ("data_size", "dataSize"),
            ("storage_size", "storageSize"),
            ("index_size", "indexSize"),
            ("indexes", "indexes"),
        ] {
            assert_eq!(
                i(&row[ours]),
                num(&server_stats, theirs),
                "{db}: {ours} vs dbStats {theirs}\n{row:#}\n{server_stats}"
            );
        }
        // Per collection: $collStats of each, and the rows add up to the database.
        let colls = row["collection_stats"].as_array().unwrap();
        let mut docs = 0;
        for c in colls {
            let name = c["name"].as_str().unwrap();
            let s: Vec<Document> = client
                .database(db)
                .collection::<Document>(name)
                .aggregate(vec![doc! {"$collStats": {"storageStats": {}}}])
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            let s = s[0].get_document("storageStats").unwrap();
            assert_eq!(i(&c["documents"]), num(s, "count"), "{db}.{name}");
            assert_eq!(i(&c["data_size"]), num(s, "size"), "{db}.{name}");
            assert_eq!(i(&c["index_size"]), num(s, "totalIndexSize"), "{db}.{name}");
            assert_eq!(i(&c["indexes"]), num(s, "nindexes"), "{db}.{name}");
            docs += i(&c["documents"]);
        }
        assert_eq!(docs, i(&row["documents"]), "{db}: collection rows add up");
    }
    let shop = db_row(&j, "st_shop");
    let coll = |name: &str| {
        shop["collection_stats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(i(&coll("orders")["documents"]), 2000);
    assert_eq!(i(&coll("orders")["indexes"]), 3);
    assert_eq!(coll("customers")["validator"], true);
    assert_eq!(coll("orders")["validator"], false);
    assert_eq!(coll("scratch")["declared"], false);
    assert_eq!(coll("orders")["declared"], true);
    assert!(coll("orders")["last_insert"].is_string(), "{shop:#}");
    // Totals are the sum of the rows.
    for k in [
        "collections",
        "documents",
        "data_size",
        "storage_size",
        "index_size",
        "total_size",
        "indexes",
    ] {
        let sum: i64 = j["databases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| i(&d[k]))
            .sum();
        assert_eq!(i(&j["totals"][k]), sum, "totals.{k}");
    }
    assert_eq!(i(&j["totals"]["documents"]), 2000 + 200 + 10 + 500);

    // Sorting by documents puts the shop first; the table has a totals row and human units.
    let docs = mongoctl(ws.path(), &["stats", "--sort", "docs", "-o", "json"])
        .uri(&uri)
        .run();
    assert_eq!(docs.json()["databases"][0]["database"], "st_shop");
    let table = mongoctl(ws.path(), &["stats", "--collections"])
        .uri(&uri)
        .run();
    table.expect_code(0);
    assert!(table.stdout.contains("TOTAL"), "{}", table.stdout);
    assert!(table.stdout.contains("KiB"), "{}", table.stdout);
    assert!(table.stdout.contains("not in spec"), "{}", table.stdout);
    let one = mongoctl(ws.path(), &["stats", "--domain", "logs", "-o", "json"])
        .uri(&uri)
        .run();
    assert_eq!(one.json()["databases"].as_array().unwrap().len(), 1);

    // The server view of a standalone: no replication section, counters include our inserts.
    let srv = mongoctl(ws.path(), &["stats", "--server", "-o", "json"])
        .uri(&uri)
        .run();
    srv.expect_code(0);
    let s = srv.json();
    assert!(s["replication"].is_null(), "{s:#}");
    assert!(i(&s["server"]["opcounters"]["insert"]) >= 2710, "{s:#}");
    assert!(i(&s["server"]["connections"]["current"]) >= 1);
    assert!(i(&s["server"]["connections"]["available"]) > 0);
    assert!(i(&s["server"]["cache"]["max_bytes"]) > 0);
    assert_eq!(s["server"]["role"], "standalone");
}

#[tokio::test]
async fn snapshots_are_recorded_and_growth_is_projected() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace();
    load(ws.path(), &uri, &client, 400).await;
    let out = mongoctl(ws.path(), &["stats", "--record", "-o", "json"])
        .uri(&uri)
        .run();
    out.expect_code(0);
    assert!(out.json()["recorded_at"].is_string());
    let history = client
        .database("st_meta")
        .collection::<Document>("stats_history");
    let snaps = crate::support::all_documents(&client, "st_meta", "stats_history").await;
    assert_eq!(snaps.len(), 1);
    let dbs = snaps[0].get_array("databases").unwrap();
    assert_eq!(dbs.len(), 2);
    let shop = dbs
        .iter()
        .filter_map(|d| d.as_document())
        .find(|d| d.get_str("database") == Ok("st_shop"))
        .unwrap();
    assert_eq!(num(shop, "documents"), 400 + 40 + 10);

    // A known history: 50 KB and 10 documents a day for st_shop; one snapshot of st_logs.
    history.delete_many(doc! {}).await.unwrap();
    let now = bson::DateTime::now().timestamp_millis();
    let day = 86_400_000;
    for k in 0..3i64 {
        let mut dbs = vec![doc! {
            "domain": "shop", "database": "st_shop", "documents": 1000 + k * 100,
            "dataSize": 500_000 + k * 25_000, "storageSize": 0, "indexSize": 0,
            "totalSize": 1_000_000 + k * 500_000,
        }];
        if k == 2 {
            dbs.push(
                doc! {"domain": "logs", "database": "st_logs", "documents": 5, "totalSize": 100},
            );
        }
        history
            .insert_one(doc! {"at": bson::DateTime::from_millis(now - (2 - k) * 10 * day), "databases": dbs})
            .await
            .unwrap();
    }
    let g = mongoctl(ws.path(), &["stats", "--growth", "-o", "json"])
        .uri(&uri)
        .run();
    g.expect_code(0);
    let j = g.json();
    assert_eq!(j["history"], "st_meta.stats_history");
    let rows = j["growth"].as_array().unwrap();
    let shop = rows.iter().find(|r| r["database"] == "st_shop").unwrap();
    assert_eq!(shop["samples"], 3);
    assert!((shop["total_size_per_day"].as_f64().unwrap() - 50_000.0).abs() < 1e-6);
    assert!((shop["documents_per_day"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(i(&shop["total_size"]), 2_000_000);
    let p: Vec<(i64, i64, i64)> = shop["projections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (i(&p["days"]), i(&p["total_size"]), i(&p["documents"])))
        .collect();
    assert_eq!(
        p,
        [
            (30, 3_500_000, 1_500),
            (90, 6_500_000, 2_100),
            (365, 20_250_000, 4_850)
        ]
    );
    let logs = rows.iter().find(|r| r["database"] == "st_logs").unwrap();
    assert_eq!(logs["samples"], 1);
    assert!(logs["projections"].as_array().unwrap().is_empty());
    assert!(logs["total_size_per_day"].is_null());
    let table = mongoctl(ws.path(), &["stats", "--growth"]).uri(&uri).run();
    table.expect_code(0);
    assert!(
        table.stdout.contains("at least two snapshots"),
        "{}",
        table.stdout
    );
}

fn index<'a>(j: &'a Value, coll: &str, name: &str) -> &'a Value {
    j["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["collection"] == coll && x["name"] == name)
        .unwrap_or_else(|| panic!("no index {coll}.{name} in {j:#}"))
}

fn flags(v: &Value) -> Vec<&str> {
    v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn index_usage_moves_with_queries_and_flags_unused_redundant_unmanaged() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace();
    load(ws.path(), &uri, &client, 1000).await;
    let orders = client.database("st_shop").collection::<Document>("orders");
    orders
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"customer": 1})
                .build(),
        )
        .await
        .unwrap();
    orders
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"note": 1})
                .build(),
        )
        .await
        .unwrap();

    let before = mongoctl(ws.path(), &["stats", "--indexes", "-o", "json"])
        .uri(&uri)
        .run();
    before.expect_code(0);
    let b = before.json();
    assert!(b["unavailable"].as_array().unwrap().is_empty(), "{b:#}");
    assert_eq!(i(&index(&b, "orders", "status_1")["ops"]), 0);
    assert_eq!(flags(index(&b, "orders", "status_1")), ["unused"]);
    assert_eq!(index(&b, "orders", "status_1")["declared"], true);
    let customer = index(&b, "orders", "customer_1");
    assert_eq!(flags(customer), ["unused", "redundant", "unmanaged"]);
    assert_eq!(customer["redundant_with"], "customer_1_created_1");
    assert_eq!(
        flags(index(&b, "orders", "note_1")),
        ["unused", "unmanaged"]
    );
    assert_eq!(
        flags(index(&b, "orders", "customer_1_created_1")),
        ["unused"]
    );
    assert!(flags(index(&b, "orders", "_id_")).is_empty());
    for x in b["indexes"].as_array().unwrap() {
        assert!(i(&x["size"]) > 0, "{x}");
    }

    for _ in 0..3 {
        let n = orders
            .count_documents(doc! {"status": "open"})
            .hint(mongodb::options::Hint::Keys(doc! {"status": 1}))
            .await
            .unwrap();
        assert_eq!(n, 250);
    }
    let after = mongoctl(ws.path(), &["stats", "--indexes", "-o", "json"])
        .uri(&uri)
        .run();
    let a = after.json();
    let status = index(&a, "orders", "status_1");
    assert!(i(&status["ops"]) >= 3, "{status}");
    assert!(flags(status).is_empty(), "{status}");
    assert!(status["since"].is_string());

    let flagged = mongoctl(
        ws.path(),
        &["stats", "--indexes", "--flagged", "-o", "json"],
    )
    .uri(&uri)
    .run();
    let f = flagged.json();
    assert!(
        f["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| !flags(x).is_empty())
    );
    assert!(
        f["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["name"] != "status_1")
    );
    let table = mongoctl(ws.path(), &["stats", "--indexes"]).uri(&uri).run();
    table.expect_code(0);
    assert!(
        table.stdout.contains("prefix of customer_1_created_1"),
        "{}",
        table.stdout
    );
}

#[tokio::test]
async fn replica_set_members_lag_and_oplog_window() {
    let server = common::replica_set(3).await;
    let uri = server.uri();
    let client = server.client();
    client
        .database("st_shop")
        .collection::<Document>("orders")
        .insert_one(doc! {"x": 1})
        .with_options(
            mongodb::options::InsertOneOptions::builder()
                .write_concern(mongodb::options::WriteConcern::majority())
                .build(),
        )
        .await
        .unwrap();
    let ws = workspace();
    let out = mongoctl(ws.path(), &["stats", "--server", "-o", "json"])
        .uri(&uri)
        .run();
    out.expect_code(0);
    let j = out.json();
    let repl = &j["replication"];
    assert_eq!(repl["set_name"], server.cluster().repl_set().unwrap());
    let members = repl["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{repl:#}");
    let states: Vec<&str> = members
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "PRIMARY").count(),
        1,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| **s == "SECONDARY").count(),
        2,
        "{states:?}"
    );
    for m in members {
        assert_eq!(m["health"], "up");
        let lag = m["lag_seconds"].as_f64().unwrap_or_else(|| panic!("{m}"));
        assert!((0.0..60.0).contains(&lag), "{m}");
        assert!(m["last_optime"].is_string());
    }
    let oplog = &repl["oplog"];
    let window = oplog["window_hours"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&window), "{oplog}");
    assert!(oplog["first"].as_str().unwrap() <= oplog["last"].as_str().unwrap());
    assert!(i(&oplog["max_size_bytes"]) > 0, "{oplog}");
    assert!(i(&oplog["size_bytes"]) > 0, "{oplog}");
    assert_eq!(j["server"]["role"], "primary");

    let table = mongoctl(ws.path(), &["stats", "--server"]).uri(&uri).run();
    table.expect_code(0);
    for s in [
        "oplog window",
        "PRIMARY",
        "SECONDARY",
        "connections",
        "cache",
    ] {
        assert!(table.stdout.contains(s), "{s}:\n{}", table.stdout);
    }
}

#[tokio::test]
async fn profiler_levels_slow_operations_and_explain() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace();
    let p = ws.path();
    load(p, &uri, &client, 500).await;
    let level = |j: &Value, db: &str| i(&db_row(j, db)["level"]);

    let st = mongoctl(p, &["profile", "status", "-o", "json"])
        .uri(&uri)
        .run();
    st.expect_code(0);
    assert_eq!(level(&st.json(), "st_shop"), 0);
    let set = mongoctl(
        p,
        &[
            "profile", "set", "--level", "2", "--domain", "shop", "-o", "json",
        ],
    )
    .uri(&uri)
    .run();
    set.expect_code(0);
    let s = set.json();
    assert_eq!(i(&db_row(&s, "st_shop")["previous_level"]), 0);
    assert_eq!(level(&s, "st_shop"), 2);
    let st = mongoctl(p, &["profile", "status", "-o", "json"])
        .uri(&uri)
        .run();
    assert_eq!(level(&st.json(), "st_shop"), 2);
    assert_eq!(level(&st.json(), "st_logs"), 0, "only the chosen domain");

    let orders = client.database("st_shop").collection::<Document>("orders");
    let big: Vec<Document> = orders
        .find(doc! {"amount": {"$gt": 100}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(big.len(), 298);
    orders.find_one(doc! {"status": "paid"}).await.unwrap();

    // Profile entries are written as the operations finish: poll for both.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ops = loop {
        let out = mongoctl(
            p,
            &[
                "profile", "slow", "--limit", "50", "--since", "1h", "-o", "json",
            ],
        )
        .uri(&uri)
        .run();
        out.expect_code(0);
        let ops = out.json()["operations"].as_array().unwrap().clone();
        let seen = |plan: &str| {
            ops.iter().any(|o| {
                o["ns"] == "st_shop.orders"
                    && o["plan_summary"]
                        .as_str()
                        .is_some_and(|s| s.starts_with(plan))
            })
        };
        if seen("COLLSCAN") && seen("IXSCAN") {
            break ops;
        }
        assert!(
            Instant::now() < deadline,
            "profile slow never showed both: {ops:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let scan = ops
        .iter()
        .find(|o| o["collscan"] == true && o["ns"] == "st_shop.orders" && o["op"] == "query")
        .unwrap();
    // A collection scan examines more documents than it returns.
    assert!(i(&scan["docs_examined"]) > i(&scan["returned"]), "{scan}");
    assert_eq!(
        scan["command"]["filter"],
        serde_json::json!({"amount": {"$gt": 100}})
    );
    assert!(i(&scan["millis"]) >= 0);
    let millis: Vec<i64> = ops.iter().map(|o| i(&o["millis"])).collect();
    assert!(
        millis.windows(2).all(|w| w[0] >= w[1]),
        "slowest first: {millis:?}"
    );
    let table = mongoctl(p, &["profile", "slow"]).uri(&uri).run();
    assert!(table.stdout.contains("⚠ COLLSCAN"), "{}", table.stdout);
    let bad = mongoctl(p, &["profile", "slow", "--since", "5y"])
        .uri(&uri)
        .run();
    bad.expect_code(1);

    let off = mongoctl(
        p,
        &["profile", "set", "--level", "0", "-d", "shop", "-o", "json"],
    )
    .uri(&uri)
    .run();
    assert_eq!(level(&off.json(), "st_shop"), 0);

    // explain: a collection scan with an index suggestion, then an index scan.
    let e = mongoctl(
        p,
        &[
            "explain",
            "-d",
            "shop",
            "-c",
            "orders",
            "--filter",
            r#"{"amount": {"$gt": 100}}"#,
            "--sort",
            r#"{"created": -1}"#,
            "-o",
            "json",
        ],
    )
    .uri(&uri)
    .run();
    e.expect_code(0);
    let j = e.json();
    assert_eq!(j["collscan"], true, "{j:#}");
    assert_eq!(i(&j["docs_examined"]), 500);
    assert_eq!(i(&j["returned"]), 298);
    assert_eq!(
        j["suggested_index"],
        serde_json::json!({"created": -1, "amount": 1})
    );
    let e = mongoctl(
        p,
        &[
            "explain",
            "-d",
            "shop",
            "-c",
            "orders",
            "--filter",
            r#"{"amount": 3}"#,
        ],
    )
    .uri(&uri)
    .run();
    assert!(e.stdout.contains("COLLSCAN"), "{}", e.stdout);
    assert!(
        e.stdout.contains(r#"hint: no index supports this filter"#),
        "{}",
        e.stdout
    );
    assert!(
        e.stdout.contains(r#"{"key": {"amount":1}}"#),
        "{}",
        e.stdout
    );
    let e = mongoctl(
        p,
        &[
            "explain",
            "-d",
            "shop",
            "-c",
            "orders",
            "--filter",
            r#"{"status": "open"}"#,
            "-o",
            "json",
        ],
    )
    .uri(&uri)
    .run();
    let j = e.json();
    assert_eq!(j["collscan"], false, "{j:#}");
    assert_eq!(j["indexes"], serde_json::json!(["status_1"]));
    assert_eq!(i(&j["keys_examined"]), 125);
    assert!(j["suggested_index"].is_null());
    let e = mongoctl(
        p,
        &["explain", "-d", "shop", "-c", "orders", "--filter", "{nope"],
    )
    .uri(&uri)
    .run();
    e.expect_code(1);
    assert!(e.stderr.contains("--filter"), "{}", e.stderr);
}

/// Starts `mongoctl stats --watch` with its stdout piped.
fn spawn_watch(ws: &Path, uri: &str, extra: &[&str]) -> std::process::Child {
    Command::new(common::mongoctl_bin())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("--spec")
        .arg(ws)
        .args(["--uri", uri, "stats", "--watch", "0.2"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning mongoctl")
}

/// Waits for the child to exit; panics after `limit`.
fn wait_exit(child: &mut std::process::Child, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mongoctl stats --watch did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn watch_emits_json_lines_and_stops_cleanly_on_signals() {
    let server = common::standalone().await;
    let uri = server.uri();
    let ws = workspace();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut child = spawn_watch(ws.path(), &uri, &["-o", "json"]);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..2 {
            let line = lines.next().expect("a line").expect("readable");
            let row: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(row["ops"]["command"].as_f64().unwrap() >= 0.0, "{row}");
            assert!(row["connections"].as_i64().unwrap() >= 1, "{row}");
            assert!(row["seconds"].as_f64().unwrap() > 0.0, "{row}");
        }
        // SAFETY: signalling our own child process by its id.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let started = Instant::now();
        assert_eq!(
            wait_exit(&mut child, Duration::from_secs(5)),
            0,
            "signal {sig}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    // Bounded, as a script would use it; without a terminal: a header and plain lines.
    let out = mongoctl(ws.path(), &["stats", "--watch", "0.2", "--count", "3"])
        .uri(&uri)
        .run();
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(
        lines[0].contains("insert") && lines[0].contains("conn"),
        "{}",
        lines[0]
    );
    let out = mongoctl(
        ws.path(),
        &["stats", "--watch", "0.2", "--count", "2", "-o", "json"],
    )
    .uri(&uri)
    .run();
    out.expect_code(0);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
}

#[tokio::test]
async fn a_limited_user_gets_the_sections_it_may_read_and_the_missing_privileges() {
    let server = common::auth_standalone().await;
    let root_uri = server.uri();
    let client = server.client();
    let ws = workspace();
    load(ws.path(), &root_uri, &client, 200).await;
    client
        .database("admin")
        .run_command(doc! {
            "createUser": "shop_reader",
            "pwd": "reader-pw-123",
            "roles": [{"role": "read", "db": "st_shop"}],
        })
        .await
        .unwrap();
    let uri = format!(
        "mongodb://shop_reader:reader-pw-123@127.0.0.1:{}/?authSource=admin",
        server.ports()[0]
    );

    let out = mongoctl(ws.path(), &["stats", "--collections", "-o", "json"])
        .uri(&uri)
        .run();
    out.expect_code(0);
    let j = out.json();
    let shop = db_row(&j, "st_shop");
    assert!(shop["unavailable"].is_null(), "{shop:#}");
    assert_eq!(i(&shop["documents"]), 200 + 20 + 10);
    let logs = db_row(&j, "st_logs");
    assert_eq!(
        logs["unavailable"]["missing_privilege"], "dbStats on st_logs",
        "{logs:#}"
    );
    let table = mongoctl(ws.path(), &["stats"]).uri(&uri).run();
    table.expect_code(0);
    assert!(
        table
            .stdout
            .contains("not authorized: needs dbStats on st_logs"),
        "{}",
        table.stdout
    );

    let srv = mongoctl(ws.path(), &["stats", "--server", "-o", "json"])
        .uri(&uri)
        .run();
    srv.expect_code(0);
    assert_eq!(
        srv.json()["server"]["unavailable"]["missing_privilege"],
        "serverStatus on the cluster"
    );

    let idx = mongoctl(ws.path(), &["stats", "--indexes", "-o", "json"])
        .uri(&uri)
        .run();
    idx.expect_code(0);
    let missing: Vec<String> = idx.json()["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["missing_privilege"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        missing.contains(&"indexStats on st_shop.orders".to_string()),
        "{missing:?}"
    );
    assert!(
        missing.contains(&"listCollections on st_logs".to_string()),
        "{missing:?}"
    );

    let prof = mongoctl(ws.path(), &["profile", "status", "-o", "json"])
        .uri(&uri)
        .run();
    prof.expect_code(0);
    assert!(
        db_row(&prof.json(), "st_logs")["unavailable"]["missing_privilege"]
            .as_str()
            .is_some(),
        "{}",
        prof.stdout
    );
}

/// The README's benchmark: `stats` on the default workspace with about one million
/// documents. Not part of the normal run (it loads 1 M documents):
/// `MONGOD=… cargo test --release --test it stats::bench_stats_on_a_million_documents -- --ignored --nocapture`
#[tokio::test]
#[ignore]
async fn bench_stats_on_a_million_documents() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = repo();
    let secrets = tempfile::tempdir().unwrap();
    let secrets = secrets.path().join("secrets.json");
    mongoctl(&ws, &["apply", "--yes"])
        .uri(&uri)
        .env("MONGOCTL_SECRETS_FILE", secrets.to_str().unwrap())
        .run()
        .expect_code(0);
    let started = Instant::now();
    let targets = [
        ("reminderdb_auth", "audit_logs", 300_000),
        ("reminderdb_notification", "notifications", 250_000),
        ("reminderdb_reminder", "reminders", 200_000),
        ("reminderdb_analysis", "health_data", 150_000),
        ("reminderdb_chatbot", "messages", 100_000),
    ];
    for (db, coll, n) in targets {
        let c = client.database(db).collection::<Document>(coll);
        for chunk in (0..n).collect::<Vec<i32>>().chunks(10_000) {
            let docs: Vec<Document> = chunk
                .iter()
                .map(|i| doc! {"seq": i, "kind": format!("k{}", i % 13), "payload": "x".repeat(64)})
                .collect();
            c.insert_many(docs)
                .bypass_document_validation(true)
                .await
                .unwrap();
        }
    }
    eprintln!(
        "loaded 1,000,000 documents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for args in [
        &["stats"][..],
        &["stats", "--collections"],
        &["stats", "--indexes"],
        &["stats", "-o", "json"],
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let out = mongoctl(&ws, args).uri(&uri).run();
            out.expect_code(0);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(|a, b| a.total_cmp(b));
        eprintln!(
            "mongoctl {}: median {:.3} s, max {:.3} s (5 runs)",
            args.join(" "),
            times[2],
            times[4]
        );
    }
    let out = mongoctl(&ws, &["stats", "-o", "json"]).uri(&uri).run();
    let total = out.json()["totals"]["documents"].as_i64().unwrap();
    assert!(total >= 1_000_000, "{total}");
}
