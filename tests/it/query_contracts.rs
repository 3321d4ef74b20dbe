//! Query contracts (`queries/<domain>/<collection>.json`) against a real server: a contract
//! met; one broken by an index dropped out of band (verify exit 2 with the winning plan, a
//! COLLSCAN); one no declared index serves (check fails offline, naming the query and the
//! index it expected); a covered query broken by a projection change and by a multikey index;
//! plan's warning when the spec drops the index a contract needs; `stats --indexes` showing
//! the index as used by its contract; the carechat example's contracts holding.

use bson::{Document, doc};
use mongodb::Client;

use crate::common;
use crate::support::{copy_workspace, mongoctl, repo, write};

const MANIFEST: &str = r#"{
  "project": "qc",
  "domains": {"shop": {"database": "qc_shop", "collections": {"orders": {}}}}
}"#;

const SCHEMA: &str = r#"{"bsonType": "object", "properties": {
  "_id": {}, "status": {"bsonType": "string"}, "customer": {"bsonType": "string"},
  "created_at": {"bsonType": "date"}, "total": {}}}"#;

const INDEXES: &str = r#"{"indexes": [
  {"key": {"status": 1, "created_at": -1}},
  {"key": {"customer": 1, "total": 1}},
  {"key": {"total": -1}}
]}"#;

const QUERIES: &str = r#"{"queries": {
  "open_newest_first": {
    "filter": {"status": "open"},
    "sort": {"created_at": -1},
    "expect": {"index": "status_1_created_at_-1", "maxKeysExaminedPerReturned": 1}
  },
  "customer_totals": {
    "filter": {"customer": "c1"},
    "projection": {"customer": 1, "total": 1, "_id": 0},
    "expect": {"covered": true}
  }
}}"#;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mongoctl.json", MANIFEST);
    write(dir.path(), "schemas/shop/orders.json", SCHEMA);
    write(dir.path(), "indexes/shop/orders.json", INDEXES);
    write(dir.path(), "queries/shop/orders.json", QUERIES);
    dir
}

/// 200 orders over four statuses and ten customers, so that a scan reads far more than a
/// query returns.
async fn insert_orders(client: &Client) {
    let statuses = ["open", "paid", "shipped", "cancelled"];
    let docs: Vec<Document> = (0..200)
        .map(|i| {
            doc! {
                "status": statuses[i % 4],
                "customer": format!("c{}", i % 10),
                "created_at": bson::DateTime::from_millis(1_700_000_000_000 + i as i64 * 60_000),
                "total": i as f64,
            }
        })
        .collect();
    client
        .database("qc_shop")
        .collection::<Document>("orders")
        .insert_many(docs)
        .await
        .unwrap();
}

/// The workspace applied on `server`, with the orders inserted.
async fn applied(server: &common::TestServer) -> tempfile::TempDir {
    let ws = workspace();
    mongoctl(ws.path(), &["check"]).run().expect_code(0);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    insert_orders(&server.client()).await;
    ws
}

/// `verify -o json`, which must exit `code`.
fn verify_json(
    ws: &tempfile::TempDir,
    server: &common::TestServer,
    code: i32,
) -> serde_json::Value {
    let out = mongoctl(ws.path(), &["verify", "-o", "json"])
        .uri(&server.uri())
        .run();
    out.expect_code(code);
    out.json()
}

fn contract<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["query_contracts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no contract {name} in {report:#}"))
}

#[tokio::test]
async fn a_met_contract_passes_and_stats_shows_its_index_as_used() {
    let server = common::standalone().await;
    let ws = applied(&server).await;

    // Before any query ran: every index has 0 ops, but those the contracts need are used.
    let stats = mongoctl(ws.path(), &["stats", "--indexes", "-o", "json"])
        .uri(&server.uri())
        .run();
    stats.expect_code(0);
    let report = stats.json();
    let index = |name: &str| {
        report["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {report:#}"))
    };
    let needed = index("status_1_created_at_-1");
    assert_eq!(needed["ops"], 0, "{needed}");
    assert_eq!(
        needed["contracts"],
        serde_json::json!(["open_newest_first"])
    );
    assert!(
        !needed["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "unused"),
        "{needed}"
    );
    assert_eq!(
        index("customer_1_total_1")["contracts"],
        serde_json::json!(["customer_totals"])
    );
    // An index no contract needs is still flagged.
    assert_eq!(index("total_-1")["flags"], serde_json::json!(["unused"]));
    let table = mongoctl(ws.path(), &["stats", "--indexes"])
        .uri(&server.uri())
        .run();
    assert!(
        table.stdout.contains("used by contract open_newest_first"),
        "{}",
        table.stdout
    );

    let out = mongoctl(ws.path(), &["verify"]).uri(&server.uri()).run();
    out.expect_code(0);
    assert!(
        out.stdout.contains("2 query contract(s) met"),
        "{}",
        out.stdout
    );
    let report = verify_json(&ws, &server, 0);
    assert_eq!(report["breached_contracts"], 0);
    let open = contract(&report, "open_newest_first");
    assert_eq!(open["breaches"], serde_json::json!([]));
    assert_eq!(
        open["plan"]["indexes"],
        serde_json::json!(["status_1_created_at_-1"])
    );
    assert_eq!(open["plan"]["returned"], 50);
    assert_eq!(open["plan"]["keys_examined"], 50);
    assert_eq!(open["file"], "queries/shop/orders.json");
    assert_eq!(open["line"], 2);
    let covered = contract(&report, "customer_totals");
    assert_eq!(covered["breaches"], serde_json::json!([]));
    assert_eq!(covered["plan"]["docs_examined"], 0);
    assert_eq!(covered["plan"]["returned"], 20);
}

#[tokio::test]
async fn an_index_dropped_out_of_band_breaches_its_contract_with_the_plan_shown() {
    let server = common::standalone().await;
    let ws = applied(&server).await;
    server
        .client()
        .database("qc_shop")
        .collection::<Document>("orders")
        .drop_index("status_1_created_at_-1")
        .await
        .unwrap();

    let out = mongoctl(ws.path(), &["verify"]).uri(&server.uri()).run();
    out.expect_code(2);
    assert!(out.stdout.contains("BREACHED"), "{}", out.stdout);
    assert!(out.stdout.contains("COLLSCAN"), "{}", out.stdout);
    assert!(
        out.stdout.contains("1 query contract(s) breached"),
        "{}",
        out.stdout
    );

    let report = verify_json(&ws, &server, 2);
    assert_eq!(report["breached_contracts"], 1);
    let open = contract(&report, "open_newest_first");
    assert_eq!(open["plan"]["collscan"], true, "{open:#}");
    assert_eq!(open["plan"]["docs_examined"], 200);
    assert!(
        open["plan"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "SORT"),
        "{open:#}"
    );
    let breaches: Vec<&str> = open["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert!(
        breaches.iter().any(|b| b.contains("COLLSCAN")),
        "{breaches:?}"
    );
    assert!(
        breaches.iter().any(|b| b.contains("blocking sort")),
        "{breaches:?}"
    );
    assert_eq!(
        contract(&report, "customer_totals")["breaches"],
        serde_json::json!([])
    );

    let gh = mongoctl(ws.path(), &["verify", "-o", "github"])
        .uri(&server.uri())
        .run();
    gh.expect_code(2);
    let line = gh
        .stdout
        .lines()
        .find(|l| l.contains("query contract breached"))
        .unwrap_or_else(|| panic!("{}", gh.stdout));
    assert!(line.starts_with("::error file="), "{line}");
    assert!(line.contains("queries/shop/orders.json,line=2,"), "{line}");
    assert!(line.contains("COLLSCAN"), "{line}");

    // apply rebuilds the index and the contract holds again.
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    mongoctl(ws.path(), &["verify"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

#[test]
fn a_contract_no_declared_index_serves_fails_check_offline() {
    let ws = workspace();
    write(
        ws.path(),
        "queries/shop/orders.json",
        &QUERIES.replace(
            r#""customer_totals": {"#,
            r#""customer_newest": {"filter": {"customer": "c1"}, "sort": {"created_at": -1}},
  "customer_totals": {"#,
        ),
    );
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    assert!(
        out.stdout.contains(
            "queries/shop/orders.json:7:3: error: queries.customer_newest: query \"customer_newest\": no declared index serves it; expected an index like {\"key\": {\"customer\":1,\"created_at\":-1}} in indexes/shop/orders.json; best candidate customer_1_total_1: the sort {\"created_at\":-1} would be blocking"
        ),
        "{}",
        out.stdout
    );
    // verify refuses before reaching a server (there is none at this address).
    let v = mongoctl(ws.path(), &["verify", "-o", "json"])
        .uri("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500")
        .run();
    v.expect_code(1);
    let report = v.json();
    assert_eq!(report["check"]["errors"], 1, "{report:#}");
    // A file for an undeclared collection, and an unknown field, are refused too.
    write(ws.path(), "queries/shop/order.json", r#"{"queries": {}}"#);
    write(
        ws.path(),
        "queries/shop/orders.json",
        r#"{"queries": {"q": {"filter": {"costumer": "c1"}}}}"#,
    );
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    assert!(out.stdout.contains("queries/shop/order.json: error: collection \"order\" is not declared in domain \"shop\""), "{}", out.stdout);
    assert!(out.stdout.contains("queries/shop/orders.json:1:31: error: queries.q.filter.costumer: unknown field \"costumer\": schemas/shop/orders.json does not declare it; did you mean \"customer\"?"), "{}", out.stdout);
}

#[tokio::test]
async fn a_covered_contract_breaks_on_a_projection_change_and_on_a_multikey_index() {
    let server = common::standalone().await;
    let ws = applied(&server).await;

    // The projection now returns a field the index does not hold: check says so offline.
    write(
        ws.path(),
        "queries/shop/orders.json",
        &QUERIES.replace(
            r#""projection": {"customer": 1, "total": 1, "_id": 0}"#,
            r#""projection": {"customer": 1, "total": 1, "status": 1, "_id": 0}"#,
        ),
    );
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    assert!(
        out.stdout.contains("query \"customer_totals\": no declared index serves it; expected an index like {\"key\": {\"customer\":1,\"total\":1,\"status\":1}}"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("best candidate customer_1_total_1: \"status\" is not in the index, so documents must be fetched"),
        "{}",
        out.stdout
    );
    // Returning _id is a projection change that breaks it too.
    write(
        ws.path(),
        "queries/shop/orders.json",
        &QUERIES.replace(r#", "_id": 0}"#, "}"),
    );
    let out = mongoctl(ws.path(), &["check"]).run();
    out.expect_code(1);
    assert!(
        out.stdout
            .contains("the projection returns _id, which is not in the index"),
        "{}",
        out.stdout
    );

    // Back to the covered projection; out of band, an order whose total is an array makes
    // the index multikey, which the schema did not say: only the server can tell.
    write(ws.path(), "queries/shop/orders.json", QUERIES);
    mongoctl(ws.path(), &["verify"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    server
        .client()
        .database("qc_shop")
        .collection::<Document>("orders")
        .insert_one(doc! {"status": "open", "customer": "c1", "created_at": bson::DateTime::now(), "total": [1.0, 2.0]})
        .await
        .unwrap();
    let report = verify_json(&ws, &server, 2);
    let covered = contract(&report, "customer_totals");
    let breaches = covered["breaches"].as_array().unwrap();
    assert_eq!(breaches.len(), 1, "{covered:#}");
    assert!(
        breaches[0]
            .as_str()
            .unwrap()
            .starts_with("not covered: the plan reads 21 document(s) (FETCH)"),
        "{covered:#}"
    );
    assert!(
        covered["plan"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "FETCH"),
        "{covered:#}"
    );
}

#[tokio::test]
async fn plan_warns_when_the_spec_drops_the_index_a_contract_needs() {
    let server = common::standalone().await;
    let ws = workspace();
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let clean = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    clean.expect_code(0);
    assert!(!clean.stdout.contains("query contract"), "{}", clean.stdout);

    // The index file no longer declares the contract's index.
    write(
        ws.path(),
        "indexes/shop/orders.json",
        &INDEXES.replace("{\"key\": {\"status\": 1, \"created_at\": -1}},\n", ""),
    );
    let out = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    out.expect_code(0);
    assert!(
        out.stdout.contains("⚠ query contract \"open_newest_first\" (queries/shop/orders.json:2): it relies on index status_1_created_at_-1, which the spec no longer declares"),
        "{}",
        out.stdout
    );
    let pruned = mongoctl(ws.path(), &["plan", "--prune", "-o", "json"])
        .uri(&server.uri())
        .run();
    pruned.expect_code(0);
    let plan = pruned.json();
    let warnings = plan["contract_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{plan:#}");
    assert_eq!(warnings[0]["contract"], "open_newest_first");
    assert_eq!(warnings[0]["index"], "status_1_created_at_-1");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("this plan drops index status_1_created_at_-1, which serves it now; after it no index does"),
        "{plan:#}"
    );

    // A key change under the same name: the sort is no longer served.
    write(
        ws.path(),
        "indexes/shop/orders.json",
        &INDEXES.replace(
            "{\"key\": {\"status\": 1, \"created_at\": -1}}",
            "{\"key\": {\"status\": 1, \"total\": 1}, \"name\": \"status_1_created_at_-1\"}",
        ),
    );
    let out = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    out.expect_code(0);
    assert!(
        out.stdout.contains("this plan changes index status_1_created_at_-1 (new key {\"status\":1,\"total\":1}), which serves it now"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn the_carechat_example_contracts_hold_on_a_real_server() {
    let server = common::standalone().await;
    let ws = copy_workspace(&repo().join("examples/carechat"));
    mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let out = mongoctl(ws.path(), &["verify", "-o", "json"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    let report = out.json();
    assert_eq!(
        report["query_contracts"].as_array().unwrap().len(),
        2,
        "{report:#}"
    );
    assert_eq!(report["breached_contracts"], 0);
}

/// A template domain's contract is explained on every tenant's database, and a breach names
/// the tenant database it is on.
#[tokio::test]
async fn a_template_domain_contract_is_verified_on_every_tenant() {
    let server = common::standalone().await;
    let ws = copy_workspace(&repo().join("examples/tenants-demo"));
    write(
        ws.path(),
        "tenants.json",
        r#"{"tenants": ["acme", "globex", "initech"]}"#,
    );
    write(
        ws.path(),
        "queries/chat/messages.json",
        r#"{"queries": {"conversation_latest": {
  "filter": {"conversation_id": "c1"}, "sort": {"created_at": -1},
  "expect": {"index": "conversation_time"}}}}"#,
    );
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let report = verify_json(&ws, &server, 0);
    let mut dbs: Vec<&str> = report["query_contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["database"].as_str().unwrap())
        .collect();
    dbs.sort();
    assert_eq!(
        dbs,
        ["tdemo_chat_acme", "tdemo_chat_globex", "tdemo_chat_initech"],
        "{report:#}"
    );
    server
        .client()
        .database("tdemo_chat_globex")
        .collection::<Document>("messages")
        .drop_index("conversation_time")
        .await
        .unwrap();
    let report = verify_json(&ws, &server, 2);
    let breached: Vec<&str> = report["query_contracts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["breaches"].as_array().unwrap().is_empty())
        .map(|c| c["database"].as_str().unwrap())
        .collect();
    assert_eq!(breached, ["tdemo_chat_globex"], "{report:#}");
}
