//! `health --check` against real servers: every kind of alert threshold crossed on a 2-member
//! replica set (a secondary held by the `stopReplProducer` failpoint, a fresh set's short
//! oplog window, connections, dirty cache held by `pauseCheckpointThread`, recorded growth,
//! a storage budget, an unused index, a real backup and drill aged on disk) → exit 2 and
//! the right line, each value against the server's own numbers; a clean declaration → exit
//! 0; a standalone, a missing backup store and bad declarations.

use std::path::Path;
use std::time::Duration;

use bson::{Document, doc};
use chrono::{Duration as Age, Utc};
use futures::TryStreamExt;
use mongodb::Client;
use mongodb::options::WriteConcern;
use serde_json::Value;

use crate::common;
use crate::retention::dated_copy;
use crate::support::{Output, mongoctl, write};

const DB: &str = "al_shop";

fn manifest(alerts: &str) -> String {
    format!(
        r#"{{
  "project": "t",
  "metadataDatabase": "al_meta",
  "domains": {{
    "shop": {{"database": "{DB}", "collections": {{"orders": {{}}}}}}
  }},
  "alerts": {alerts}
}}
"#
    )
}

fn workspace(alerts: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mongoctl-alerts-")
        .tempdir()
        .unwrap();
    write(dir.path(), "mongoctl.json", &manifest(alerts));
    write(
        dir.path(),
        "indexes/shop/orders.json",
        r#"{"indexes": [{"key": {"status": 1}}]}"#,
    );
    dir
}

async fn insert(client: &Client, from: i32, n: i32) {
    let docs: Vec<Document> = (from..from + n)
        .map(|i| doc! {"n": i, "status": format!("s{}", i % 7), "pad": "x".repeat(200)})
        .collect();
    client
        .database(DB)
        .collection::<Document>("orders")
        .insert_many(docs)
        .await
        .unwrap();
}

async fn admin(client: &Client, cmd: Document) -> Document {
    client
        .database("admin")
        .run_command(cmd.clone())
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// Turns a failpoint on and waits until the server has entered it.
async fn hold(client: &Client, failpoint: &str) {
    let on = admin(
        client,
        doc! {"configureFailPoint": failpoint, "mode": "alwaysOn"},
    )
    .await;
    let count = on.get_i64("count").unwrap_or(0);
    admin(
        client,
        doc! {"waitForFailPoint": failpoint, "timesEntered": count + 1, "maxTimeMS": 60_000},
    )
    .await;
}

async fn release(client: &Client, failpoint: &str) {
    admin(
        client,
        doc! {"configureFailPoint": failpoint, "mode": "off"},
    )
    .await;
}

/// `$collStats` index sizes of the orders collection, by index name.
async fn index_sizes(client: &Client) -> Document {
    let stats: Vec<Document> = client
        .database(DB)
        .collection::<Document>("orders")
        .aggregate(vec![doc! {"$collStats": {"storageStats": {}}}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    stats[0]
        .get_document("storageStats")
        .and_then(|s| s.get_document("indexSizes"))
        .unwrap()
        .clone()
}

fn health(ws: &Path, uri: &str, extra: &[&str]) -> Output {
    let mut args = vec!["health", "--check"];
    args.extend_from_slice(extra);
    mongoctl(ws, &args).uri(uri).run()
}

fn lines(out: &Output) -> Vec<&str> {
    out.stdout.lines().collect()
}

/// The one line that starts with `prefix`.
#[track_caller]
fn line<'a>(out: &'a Output, prefix: &str) -> &'a str {
    let found: Vec<&str> = lines(out)
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "one line {prefix:?}:\n{}", out.stdout);
    found[0]
}

/// The JSON finding of `kind` (and `subject` when given).
#[track_caller]
fn finding<'a>(j: &'a Value, kind: &str, subject: Option<&str>) -> &'a Value {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && subject.is_none_or(|s| f["subject"] == s))
        .unwrap_or_else(|| panic!("no {kind} finding ({subject:?}) in {j:#}"))
}

fn value(f: &Value) -> f64 {
    f["value"].as_f64().unwrap_or_else(|| panic!("{f}"))
}

#[track_caller]
fn close(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!(
        (a - b).abs() <= tolerance * b.abs().max(1e-12),
        "{what}: {a} vs {b}"
    );
}

fn num(d: &Document, k: &str) -> f64 {
    match d.get(k) {
        Some(bson::Bson::Int32(n)) => *n as f64,
        Some(bson::Bson::Int64(n)) => *n as f64,
        Some(bson::Bson::Double(n)) => *n,
        other => panic!("{k}: {other:?} in {d}"),
    }
}

#[tokio::test]
async fn every_threshold_kind_crossed_on_a_replica_set_and_a_clean_declaration() {
    let server = common::replica_set(2).await;
    let uri = server.uri();
    let client = server.client();
    let ports = server.ports();
    let secondary = format!("127.0.0.1:{}", ports[1]);
    let secondary_client = mongoctl::mongod::direct_client(ports[1], None, Duration::from_secs(60))
        .expect("a client of the secondary");

    // A clean declaration: every kind but the oplog window (a fresh set's is seconds long).
    let clean = r#"{
    "backups": "backups",
    "replicationLagSeconds": {"warn": 3600},
    "connectionsUsedPercent": {"warn": 90, "critical": 99},
    "cacheDirtyPercent": {"warn": 90},
    "cacheHitPercent": {"warn": 1},
    "readLatencyMs": {"warn": 60000},
    "writeLatencyMs": {"warn": 60000},
    "growthPerDay": {"warn": "500TiB"},
    "storageBudget": {"warn": 80, "total": "1TiB", "domains": {"shop": "1TiB"}},
    "unusedIndexSize": {"warn": "1GiB"},
    "backupAgeHours": {"warn": 24},
    "drillAgeDays": {"warn": 7}
  }"#;
    let ws = workspace(clean);
    let ws = ws.path();
    mongoctl(ws, &["apply", "--yes"])
        .uri(&uri)
        .run()
        .expect_code(0);

    // Two snapshots with growth between them (fsync: sizes on disk move at a checkpoint).
    insert(&client, 0, 3000).await;
    admin(&client, doc! {"fsync": 1}).await;
    mongoctl(ws, &["stats", "--record"])
        .uri(&uri)
        .run()
        .expect_code(0);
    insert(&client, 3000, 3000).await;
    admin(&client, doc! {"fsync": 1}).await;
    mongoctl(ws, &["stats", "--record"])
        .uri(&uri)
        .run()
        .expect_code(0);

    // A real backup with a real (passing) drill, in the workspace's backups/.
    let fresh = ws.join("backups").join("fresh");
    mongoctl(
        ws,
        &["backup", "--db", DB, "--out", fresh.to_str().unwrap()],
    )
    .uri(&uri)
    .run()
    .expect_code(0);
    mongoctl(ws, &["backup", "drill", fresh.to_str().unwrap()])
        .run()
        .expect_code(0);

    let out = health(ws, &uri, &[]);
    out.expect_code(0);
    assert_eq!(
        out.stdout, "OK - 11 threshold(s) checked, none crossed\n",
        "{}",
        out.stderr
    );

    // The same backup, finished 3 days ago and drilled 40 days ago, in another store.
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    let finished = (Utc::now() - Age::days(3)).to_rfc3339();
    dated_copy(&fresh, &old, "aged", &finished);
    let drill_file = old.join("aged").join("drill.json");
    let mut drill: Value =
        serde_json::from_str(&std::fs::read_to_string(&drill_file).unwrap()).unwrap();
    assert_eq!(drill["last"]["passed"], true, "{drill}");
    drill["last"]["at"] = (Utc::now() - Age::days(40)).to_rfc3339().into();
    std::fs::write(&drill_file, drill.to_string()).unwrap();

    // Sizes settle at a checkpoint, then checkpoints stop so that writes stay dirty.
    admin(&client, doc! {"fsync": 1}).await;
    hold(&client, "pauseCheckpointThread").await;
    insert(&client, 6000, 2000).await;

    // The secondary stops fetching; the primary writes (w:1: no majority without it) later.
    hold(&secondary_client, "stopReplProducer").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    client
        .database(DB)
        .collection::<Document>("orders")
        .insert_one(doc! {"n": -1, "status": "late"})
        .write_concern(WriteConcern::nodes(1))
        .await
        .unwrap();

    // The server's own numbers, for the levels and the values.
    let status = admin(&client, doc! {"serverStatus": 1}).await;
    let conn = status.get_document("connections").unwrap();
    let (current, available) = (num(conn, "current"), num(conn, "available"));
    let conn_pct = current * 100.0 / (current + available);
    let cache = status
        .get_document("wiredTiger")
        .unwrap()
        .get_document("cache")
        .unwrap();
    let dirty_pct = num(cache, "tracked dirty bytes in the cache") * 100.0
        / num(cache, "maximum bytes configured");
    assert!(
        dirty_pct > 0.0,
        "writes with checkpoints paused leave the cache dirty"
    );
    let requested = num(cache, "pages requested from the cache");
    let hit_pct = (requested - num(cache, "pages read into cache")) * 100.0 / requested;
    let latencies = status.get_document("opLatencies").unwrap();
    let avg_ms = |kind: &str| {
        let k = latencies.get_document(kind).unwrap();
        num(k, "latency") / num(k, "ops") / 1000.0
    };
    let (read_ms, write_ms) = (avg_ms("reads"), avg_ms("writes"));
    let db_stats = client
        .database(DB)
        .run_command(doc! {"dbStats": 1})
        .await
        .unwrap();
    let total_size = num(&db_stats, "totalSize");
    let status_index = num(&index_sizes(&client).await, "status_1");
    let oplog = client.database("local").collection::<Document>("oplog.rs");
    let ts = |d: Option<Document>| d.unwrap().get_timestamp("ts").unwrap().time as f64;
    let first = ts(oplog
        .find_one(doc! {})
        .sort(doc! {"$natural": 1})
        .await
        .unwrap());
    let last = ts(oplog
        .find_one(doc! {})
        .sort(doc! {"$natural": -1})
        .await
        .unwrap());
    let window_hours = (last - first) / 3600.0;
    let history: Vec<Document> = client
        .database("al_meta")
        .collection::<Document>("stats_history")
        .find(doc! {})
        .sort(doc! {"at": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    let point = |d: &Document| {
        let db = d.get_array("databases").unwrap()[0]
            .as_document()
            .unwrap()
            .clone();
        (
            d.get_datetime("at").unwrap().timestamp_millis() as f64,
            num(&db, "totalSize"),
        )
    };
    let ((t1, s1), (t2, s2)) = (point(&history[0]), point(&history[1]));
    assert!(s2 > s1, "the second snapshot is larger: {history:?}");
    let per_day = (s2 - s1) / ((t2 - t1) / 86_400_000.0);

    // Every kind crossed, one per line (the annotations' lines are these).
    let crossing = format!(
        r#"{{
    "backups": "backups",
    "replicationLagSeconds": {{"warn": 1, "critical": 3600}},
    "oplogWindowHours": {{"warn": 48, "critical": 24}},
    "connectionsUsedPercent": {{"warn": {}}},
    "cacheDirtyPercent": {{"warn": {}}},
    "cacheHitPercent": {{"warn": 100, "critical": 0}},
    "readLatencyMs": {{"warn": {}}},
    "writeLatencyMs": {{"warn": {}}},
    "growthPerDay": {{"warn": "1KiB"}},
    "storageBudget": {{"warn": 80, "critical": 100, "domains": {{"shop": "1KiB"}}}},
    "unusedIndexSize": {{"warn": "1KiB"}},
    "backupAgeHours": {{"warn": 26, "critical": 48}},
    "drillAgeDays": {{"warn": 7, "critical": 31}}
  }}"#,
        conn_pct / 2.0,
        dirty_pct / 2.0,
        read_ms / 10.0,
        write_ms / 10.0
    );
    write(ws, "mongoctl.json", &manifest(&crossing));
    let store = old.to_str().unwrap();
    let out = health(ws, &uri, &["--backups", store]);
    out.expect_code(2);
    eprintln!("health --check:\n{}", out.stdout);
    let j = {
        let o = health(ws, &uri, &["--backups", store, "-o", "json"]);
        o.expect_code(2);
        o.json()
    };
    assert_eq!(j["ok"], false);
    assert_eq!(j["status"], "CRITICAL");
    assert_eq!(j["checked"].as_array().unwrap().len(), 12, "{j:#}");

    let lag = finding(
        &j,
        "replicationLagSeconds",
        Some(&format!("member {secondary}")),
    );
    assert_eq!(lag["severity"], "WARNING");
    assert!(value(lag) >= 2.0, "held for 2 s before the write: {lag}");
    assert!(
        line(&out, "WARNING - replication lag ")
            .ends_with(&format!("s >= 1s (member {secondary})")),
        "{}",
        out.stdout
    );

    let window = finding(&j, "oplogWindowHours", None);
    assert_eq!(window["severity"], "CRITICAL");
    close(value(window), window_hours, 0.2, "oplog window");
    assert!(value(window) < 1.0, "{window}");
    assert!(
        line(&out, "CRITICAL - oplog window ").ends_with("h <= 24h"),
        "{}",
        out.stdout
    );

    let connections = finding(&j, "connectionsUsedPercent", None);
    assert_eq!(connections["severity"], "WARNING");
    assert!(value(connections) >= conn_pct / 2.0, "{connections}");
    assert!(
        line(&out, "WARNING - connections in use ")
            .ends_with(&format!(" of {})", current + available)),
        "{}",
        out.stdout
    );

    let dirty = finding(&j, "cacheDirtyPercent", None);
    assert_eq!(dirty["severity"], "WARNING");
    assert!(value(dirty) >= dirty_pct / 2.0, "{dirty} vs {dirty_pct}");
    line(&out, "WARNING - cache dirty ");

    let hit = finding(&j, "cacheHitPercent", None);
    assert_eq!(hit["severity"], "WARNING");
    close(value(hit), hit_pct, 0.01, "cache hit");
    assert!(
        line(&out, "WARNING - cache hit ")
            .ends_with("% <= 100% (average since the server started)"),
        "{}",
        out.stdout
    );
    for (kind, words, avg) in [
        ("readLatencyMs", "WARNING - read latency ", read_ms),
        ("writeLatencyMs", "WARNING - write latency ", write_ms),
    ] {
        let f = finding(&j, kind, None);
        assert!(value(f) >= avg / 10.0, "{f} vs the server's {avg} ms");
        assert!(
            line(&out, words).ends_with("ms (average since the server started)"),
            "{}",
            out.stdout
        );
    }

    let growth = finding(
        &j,
        "growthPerDay",
        Some(&format!("database {DB}, 2 snapshots")),
    );
    close(value(growth), per_day, 1e-9, "growth per day");
    assert!(
        line(&out, "WARNING - growth per day ").ends_with(&format!(
            "/day >= 1.00 KiB/day (database {DB}, 2 snapshots)"
        )),
        "{}",
        out.stdout
    );

    let budget = finding(&j, "storageBudget", None);
    assert_eq!(budget["severity"], "CRITICAL");
    close(
        value(budget),
        total_size * 100.0 / 1024.0,
        1e-9,
        "storage against budget",
    );
    assert!(
        line(&out, "CRITICAL - storage against budget ").ends_with(&format!(
            "% >= 100% (domain shop: {} of 1.00 KiB)",
            indicatif::HumanBytes(total_size as u64)
        )),
        "{}",
        out.stdout
    );

    let unused = finding(
        &j,
        "unusedIndexSize",
        Some(&format!("index {DB}.orders.status_1")),
    );
    close(value(unused), status_index, 1e-9, "unused index size");
    assert_eq!(
        line(&out, "WARNING - unused index size "),
        format!(
            "WARNING - unused index size {} >= 1.00 KiB (index {DB}.orders.status_1)",
            indicatif::HumanBytes(status_index as u64)
        )
    );

    assert_eq!(
        line(&out, "CRITICAL - backup age "),
        format!("CRITICAL - backup age 72h >= 48h (backup aged in {store})")
    );
    assert_eq!(
        line(&out, "CRITICAL - last drill age "),
        format!("CRITICAL - last drill age 40d >= 31d (backup aged in {store})")
    );
    // Nothing else: the primary's own lag is 0, the _id index is not "unused".
    assert_eq!(lines(&out).len(), 12, "{}", out.stdout);
    assert_eq!(j["findings"].as_array().unwrap().len(), 12, "{j:#}");

    // GitHub annotations: one per finding, on the manifest line of the level it reached.
    let gh = health(ws, &uri, &["--backups", store, "-o", "github"]);
    gh.expect_code(2);
    let text = manifest(&crossing);
    let line_of = |key: &str| {
        1 + text
            .lines()
            .position(|l| l.contains(&format!("\"{key}\"")))
            .unwrap()
    };
    let annotations: Vec<&str> = gh.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 12, "{}", gh.stdout);
    let file = ws.join("mongoctl.json");
    for (level, key, words) in [
        ("error", "backupAgeHours", "CRITICAL - backup age 72h"),
        (
            "warning",
            "replicationLagSeconds",
            "WARNING - replication lag ",
        ),
        (
            "error",
            "storageBudget",
            "CRITICAL - storage against budget ",
        ),
    ] {
        let prefix = format!("::{level} file={},line={},", file.display(), line_of(key));
        assert!(
            annotations
                .iter()
                .any(|a| a.starts_with(&prefix) && a.contains(&format!("::{words}"))),
            "{prefix} … {words}:\n{}",
            gh.stdout
        );
    }
    assert_eq!(gh.stdout.lines().last(), Some("CRITICAL - 12 finding(s)"));

    // A failed last drill is critical whatever its age.
    drill["last"]["passed"] = false.into();
    drill["last"]["findings"] = 3.into();
    std::fs::write(&drill_file, drill.to_string()).unwrap();
    let j = health(ws, &uri, &["--backups", store, "-o", "json"]).json();
    let failed = finding(&j, "drillAgeDays", None);
    assert_eq!(failed["severity"], "CRITICAL");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .starts_with("last drill failed with 3 finding(s) at "),
        "{failed}"
    );

    release(&secondary_client, "stopReplProducer").await;
    release(&client, "pauseCheckpointThread").await;
}

#[tokio::test]
async fn a_standalone_has_no_replication_and_an_empty_store_has_no_backup() {
    let server = common::standalone().await;
    let uri = server.uri();
    let store = tempfile::tempdir().unwrap();
    let alerts = format!(
        r#"{{
    "backups": "{}",
    "replicationLagSeconds": {{"warn": 10, "critical": 60}},
    "oplogWindowHours": {{"critical": 24}},
    "backupAgeHours": {{"critical": 48}}
  }}"#,
        store.path().display()
    );
    let ws = workspace(&alerts);
    let out = health(ws.path(), &uri, &[]);
    out.expect_code(2);
    assert_eq!(
        out.stdout,
        format!(
            "CRITICAL - backup age: no complete backup in {}\n",
            store.path().display()
        )
    );
    let j = health(ws.path(), &uri, &["-o", "json"]).json();
    let na: Vec<(&str, &str)> = j["not_applicable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap(), n["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        na,
        [
            ("replicationLagSeconds", "not a replica set"),
            ("oplogWindowHours", "not a replica set")
        ]
    );

    // Without the backup threshold: clean, and it says what did not apply.
    write(
        ws.path(),
        "mongoctl.json",
        &manifest(r#"{"replicationLagSeconds": {"warn": 10}}"#),
    );
    let out = health(ws.path(), &uri, &[]);
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        "OK - 1 threshold(s) checked, none crossed; not applicable: replication lag (not a replica set)\n"
    );

    // A backup threshold with no store to read is an error naming both ways to give one.
    write(
        ws.path(),
        "mongoctl.json",
        &manifest(r#"{"drillAgeDays": {"warn": 7}}"#),
    );
    let out = health(ws.path(), &uri, &[]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("pass --backups DIR or declare \"backups\""),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_thresholds_are_rejected_with_their_location_before_the_cluster() {
    let ws = workspace(
        "{\n    \"oplogWindowHours\": {\"warn\": 6, \"critical\": 24},\n    \"storageBudget\": {\"warn\": 80, \"domains\": {\"shpo\": \"1GB\"}}\n  }",
    );
    let text = std::fs::read_to_string(ws.path().join("mongoctl.json")).unwrap();
    let line_of = |key: &str| 1 + text.lines().position(|l| l.contains(key)).unwrap();
    let check = mongoctl(ws.path(), &["check"]).run();
    check.expect_code(1);
    for (key, expected) in [
        (
            "oplogWindowHours",
            "alerts.oplogWindowHours.warn: warn (6) must be above critical (24)",
        ),
        (
            "shpo",
            "alerts.storageBudget.domains.shpo: \"shpo\" is not a declared domain; did you mean \"shop\"?",
        ),
    ] {
        let at = format!("mongoctl.json:{}:", line_of(key));
        assert!(
            check
                .all()
                .lines()
                .any(|l| l.contains(&at) && l.contains(expected)),
            "{at} {expected}:\n{}",
            check.all()
        );
    }
    // The same errors from health --check, which never connects (the port refuses).
    let refusing = crate::support::refusing_port();
    let out = health(
        ws.path(),
        &format!(
            "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=60000",
            refusing.port
        ),
        &[],
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("must be above critical (24)"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("refused"), "{}", out.all());

    // No "alerts" at all.
    let plain = workspace("{}");
    let out = health(plain.path(), "mongodb://127.0.0.1:1", &[]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("no alert thresholds are declared"),
        "{}",
        out.stderr
    );
}

/// The one sample of `metric` whose labels include `labels`.
#[track_caller]
fn sample<'a>(
    scrape: &'a prometheus_parse::Scrape,
    metric: &str,
    labels: &[(&str, &str)],
) -> &'a prometheus_parse::Sample {
    let found: Vec<&prometheus_parse::Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .collect();
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:#?}");
    found[0]
}

#[track_caller]
fn gauge(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Gauge(v) => v,
        ref other => panic!("{} is not a gauge: {other:?}", s.metric),
    }
}

#[track_caller]
fn untyped(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{} is not untyped: {other:?}", s.metric),
    }
}

#[track_caller]
fn counter(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Counter(v) => v,
        ref other => panic!("{} is not a counter: {other:?}", s.metric),
    }
}

/// `promtool check metrics`: Prometheus's own parser and linter accept the exposition.
/// promtool comes from `$PROMTOOL` (scripts/test sets it), `scripts/install-promtool`'s copy
/// or PATH; without one the test fails.
fn promtool_check(text: &str) {
    use std::io::Write;
    let installed = crate::support::repo().join(".promtool/usr/bin/promtool");
    let promtool = std::env::var_os("PROMTOOL")
        .map(std::path::PathBuf::from)
        .or_else(|| installed.exists().then_some(installed))
        .unwrap_or_else(|| "promtool".into());
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e}; run scripts/install-promtool (or set PROMTOOL)",
                promtool.display()
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn stats_prometheus_is_parsed_back_to_the_servers_numbers() {
    let server = common::replica_set(1).await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace(r#"{"replicationLagSeconds": {"warn": 10}}"#);
    let ws = ws.path();
    mongoctl(ws, &["apply", "--yes"])
        .uri(&uri)
        .run()
        .expect_code(0);
    insert(&client, 0, 1500).await;
    // Sizes on disk settle at a checkpoint and stay put while checkpoints are paused.
    admin(&client, doc! {"fsync": 1}).await;
    hold(&client, "pauseCheckpointThread").await;

    let out = mongoctl(ws, &["stats", "-o", "prometheus"]).uri(&uri).run();
    out.expect_code(0);
    promtool_check(&out.stdout);
    let scrape =
        prometheus_parse::Scrape::parse(out.stdout.lines().map(|l| Ok(l.to_string()))).unwrap();
    // Every sample line was read (the parser skips what it cannot read); the parser folds
    // a histogram's `_bucket` lines into one sample per kind.
    let sample_lines = out
        .stdout
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let bucket_lines = out
        .stdout
        .lines()
        .filter(|l| l.contains("_bucket{"))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines - bucket_lines + 3,
        "{}",
        out.stdout
    );
    assert!(
        scrape.docs.contains_key("mongoctl_collection_documents"),
        "{:?}",
        scrape.docs
    );

    let orders = [
        ("domain", "shop"),
        ("database", DB),
        ("collection", "orders"),
    ];
    let count = client
        .database(DB)
        .collection::<Document>("orders")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(count, 1500);
    assert_eq!(
        gauge(sample(&scrape, "mongoctl_collection_documents", &orders)),
        count as f64
    );
    let db = [("domain", "shop"), ("database", DB)];
    let db_stats = client
        .database(DB)
        .run_command(doc! {"dbStats": 1})
        .await
        .unwrap();
    for (metric, field) in [
        ("mongoctl_database_documents", "objects"),
        ("mongoctl_database_data_size_bytes", "dataSize"),
        ("mongoctl_database_storage_size_bytes", "storageSize"),
        ("mongoctl_database_index_size_bytes", "indexSize"),
        ("mongoctl_database_total_size_bytes", "totalSize"),
        ("mongoctl_database_indexes", "indexes"),
    ] {
        assert_eq!(
            gauge(sample(&scrape, metric, &db)),
            num(&db_stats, field),
            "{metric} vs dbStats {field}"
        );
    }
    let sizes = index_sizes(&client).await;
    for index in ["_id_", "status_1"] {
        let l = [("database", DB), ("collection", "orders"), ("index", index)];
        assert_eq!(
            gauge(sample(&scrape, "mongoctl_index_size_bytes", &l)),
            num(&sizes, index),
            "{index}"
        );
    }
    let status_1 = [("collection", "orders"), ("index", "status_1")];
    assert_eq!(
        gauge(sample(&scrape, "mongoctl_index_unused", &status_1)),
        1.0
    );
    assert_eq!(
        counter(sample(&scrape, "mongoctl_index_accesses_total", &status_1)),
        0.0
    );

    // Server counters: at least what the test did, at most what the server says after.
    let status = admin(&client, doc! {"serverStatus": 1}).await;
    let inserts = counter(sample(
        &scrape,
        "mongoctl_opcounters_total",
        &[("op", "insert")],
    ));
    let server_inserts = num(status.get_document("opcounters").unwrap(), "insert");
    assert!(
        (1500.0..=server_inserts).contains(&inserts),
        "{inserts} vs {server_inserts}"
    );
    // Latency histograms: cumulative, +Inf is _count, at most the server's count after.
    let latencies = status.get_document("opLatencies").unwrap();
    for kind in ["reads", "writes", "commands"] {
        let t = [("type", kind)];
        let buckets = match &sample(&scrape, "mongoctl_op_latency_seconds", &t).value {
            prometheus_parse::Value::Histogram(b) => b.clone(),
            other => panic!("{kind} is not a histogram: {other:?}"),
        };
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count),
            "{kind}: {buckets:?}"
        );
        let inf = buckets.last().unwrap();
        assert_eq!(inf.less_than, f64::INFINITY);
        let count = untyped(sample(&scrape, "mongoctl_op_latency_seconds_count", &t));
        assert_eq!(inf.count, count, "{kind}");
        let after = num(latencies.get_document(kind).unwrap(), "ops");
        assert!(count <= after, "{kind}: {count} counted, {after} after");
        if kind == "writes" {
            // The test's inserts ran before the scrape and took some time.
            let sum = untyped(sample(&scrape, "mongoctl_op_latency_seconds_sum", &t));
            assert!(count >= 1.0 && sum > 0.0, "writes: {count} ops, {sum} s");
        }
    }

    let current = gauge(sample(
        &scrape,
        "mongoctl_connections",
        &[("state", "current")],
    ));
    let conn = status.get_document("connections").unwrap();
    assert!(current >= 1.0, "{current}");
    assert_eq!(
        current
            + gauge(sample(
                &scrape,
                "mongoctl_connections",
                &[("state", "available")]
            )),
        num(conn, "current") + num(conn, "available"),
        "current + available is the server's limit"
    );

    // Replication: the one member, its lag and the oplog window.
    let member = format!("127.0.0.1:{}", server.ports()[0]);
    let m = [
        ("set", "rs0"),
        ("member", member.as_str()),
        ("state", "PRIMARY"),
    ];
    assert_eq!(
        gauge(sample(&scrape, "mongoctl_replset_member_health", &m)),
        1.0
    );
    assert_eq!(
        gauge(sample(&scrape, "mongoctl_replset_member_lag_seconds", &m)),
        0.0
    );
    let oplog = client.database("local").collection::<Document>("oplog.rs");
    let first = oplog
        .find_one(doc! {})
        .sort(doc! {"$natural": 1})
        .await
        .unwrap()
        .unwrap()
        .get_timestamp("ts")
        .unwrap()
        .time as f64;
    let window = gauge(sample(
        &scrape,
        "mongoctl_oplog_window_seconds",
        &[("set", "rs0")],
    ));
    let last_now = status
        .get_document("repl")
        .ok()
        .and_then(|r| r.get_document("lastWrite").ok())
        .and_then(|w| w.get_document("opTime").ok())
        .and_then(|t| t.get_timestamp("ts").ok())
        .map(|t| t.time as f64)
        .unwrap();
    assert!(
        window >= 0.0 && window <= last_now - first,
        "{window} within the oplog's span now ({first}..{last_now})"
    );
    release(&client, "pauseCheckpointThread").await;
}

#[tokio::test]
async fn a_measurement_the_user_may_not_take_is_unknown_and_exits_1_unless_a_level_is_crossed() {
    let server = common::auth_standalone().await;
    let client = server.client();
    let ws = workspace(
        r#"{
    "cacheDirtyPercent": {"warn": 5},
    "storageBudget": {"critical": 100, "domains": {"shop": "1KiB"}}
  }"#,
    );
    mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    insert(&client, 0, 500).await;
    admin(&client, doc! {"fsync": 1}).await;
    admin(
        &client,
        doc! {
            "createUser": "shop_reader",
            "pwd": "reader-pw-123",
            "roles": [{"role": "read", "db": DB}],
        },
    )
    .await;
    let uri = format!(
        "mongodb://shop_reader:reader-pw-123@127.0.0.1:{}/?authSource=admin",
        server.ports()[0]
    );

    // dbStats is allowed (the budget is crossed), serverStatus is not.
    let out = health(ws.path(), &uri, &[]);
    out.expect_code(2);
    let lines = lines(&out);
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with("CRITICAL - storage against budget "),
        "{}",
        out.stdout
    );
    assert_eq!(
        lines[1],
        "UNKNOWN - cache dirty: not authorized: needs serverStatus on the cluster"
    );
    let j = health(ws.path(), &uri, &["-o", "json"]).json();
    assert_eq!(j["status"], "CRITICAL");
    assert_eq!(
        finding(&j, "cacheDirtyPercent", None)["severity"],
        "UNKNOWN"
    );

    // Nothing crossed, one measurement not taken: exit 1, the check is incomplete.
    write(
        ws.path(),
        "mongoctl.json",
        &manifest(r#"{"cacheDirtyPercent": {"warn": 5}}"#),
    );
    let out = health(ws.path(), &uri, &[]);
    out.expect_code(1);
    assert_eq!(
        out.stdout,
        "UNKNOWN - cache dirty: not authorized: needs serverStatus on the cluster\n"
    );
    assert!(!out.all().contains("reader-pw-123"), "{}", out.all());
}

#[tokio::test]
async fn a_read_p99_crosses_from_a_few_slow_reads_that_the_average_hides() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace(
        r#"{"readLatencyP99Ms": {"warn": 150, "critical": 100000}, "writeLatencyP99Ms": {"warn": 100000}}"#,
    );
    let ws = ws.path();
    mongoctl(ws, &["apply", "--yes"])
        .uri(&uri)
        .run()
        .expect_code(0);
    insert(&client, 0, 100).await;
    let orders = client.database(DB).collection::<Document>("orders");
    for i in 0..1000 {
        orders.find_one(doc! {"n": i % 100}).await.unwrap().unwrap();
    }
    let out = health(ws, &uri, &[]);
    out.expect_code(0);
    assert_eq!(
        out.stdout, "OK - 2 threshold(s) checked, none crossed\n",
        "{}",
        out.stderr
    );

    // 30 reads that each take at least 250 ms (a one-document collection whose filter sleeps
    // on the server), against 1,000 fast ones: 2.9 % are slow, the average stays low.
    let slow = client.database(DB).collection::<Document>("slow");
    slow.insert_one(doc! {"_id": 1}).await.unwrap();
    for _ in 0..30 {
        let found = slow
            .find_one(doc! {"$where": "sleep(250) || true"})
            .await
            .unwrap();
        assert!(found.is_some());
    }
    let status = admin(&client, doc! {"serverStatus": 1}).await;
    let reads = status
        .get_document("opLatencies")
        .unwrap()
        .get_document("reads")
        .unwrap();
    let average_ms = num(reads, "latency") / num(reads, "ops") / 1000.0;
    assert!(
        average_ms < 150.0,
        "the average stays under the level: {average_ms} ms"
    );

    let out = health(ws, &uri, &[]);
    out.expect_code(2);
    let j = health(ws, &uri, &["-o", "json"]).json();
    let p99 = finding(&j, "readLatencyP99Ms", None);
    assert_eq!(p99["severity"], "WARNING", "{j:#}");
    // At least 250 ms: the server's [196.608, 262.144) ms bucket or a later one.
    let ms = value(p99);
    assert!(ms >= 196.608, "{p99}");
    let text = line(&out, "WARNING - read latency p99 ");
    assert!(
        text.contains(">= 150ms (bucket ") && text.ends_with(" reads since the server started)"),
        "{text}"
    );
    // The bucket named holds the value (bounds to three significant digits).
    let bucket = text.split_once("(bucket ").unwrap().1;
    let (from, to) = bucket
        .split_once("ms of ")
        .unwrap()
        .0
        .split_once('–')
        .unwrap();
    let (from, to): (f64, f64) = (from.parse().unwrap(), to.parse().unwrap());
    assert!(
        from * 0.995 <= ms && ms <= to * 1.005,
        "{ms} outside {text}"
    );
    let counted: f64 = text
        .rsplit_once(" of ")
        .unwrap()
        .1
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(counted >= 1030.0, "{text}");
    assert!(
        !j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "writeLatencyP99Ms"),
        "{j:#}"
    );
}
