//! backup / restore under faults on real replica sets (the primary steps down mid-backup and
//! mid-restore: either a complete, exact result or a clear failure, never silent loss), and
//! `backup --domain` scoping.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use bson::{Bson, Document, doc};
use mongodb::Client;

use crate::backup::{all, arm_fail_command, release_commands, wait_for_fail_point};
use crate::common::{self, TestServer};
use crate::support::{Output, copy_workspace, mongoctl, repo};

/// Documents per seeded collection (two collections): a debug-build backup of them takes
/// a few seconds on a 3-node set, long enough to step the primary down in the middle.
const DOCS: i32 = 100_000;
const COLLS: [&str; 2] = ["orders", "items"];

async fn seed(client: &Client, db: &str) {
    for (c, coll) in COLLS.iter().enumerate() {
        let docs: Vec<Document> = (0..DOCS)
            .map(|i| doc! {"_id": i, "k": format!("{coll}-{i}"), "n": i as i64 * 7 + c as i64, "pad": "p".repeat(64)})
            .collect();
        client
            .database(db)
            .collection::<Document>(coll)
            .insert_many(docs)
            .await
            .unwrap();
    }
}

/// Seeds database `shop` and backs it up to directory `dir`.
async fn backup_seeded_shop(server: &TestServer, spec: &Path, dir: &str) {
    seed(&server.client(), "shop").await;
    mongoctl(spec, &["backup", "--db", "shop", "--out", dir])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

/// Every seeded collection of `dst` holds exactly the documents of `src` (each once).
async fn assert_same(client: &Client, src: &str, dst: &str) {
    for coll in COLLS {
        let (a, b) = (all(client, src, coll).await, all(client, dst, coll).await);
        assert_eq!(a.len(), DOCS as usize, "{src}.{coll} count");
        assert_eq!(b.len(), a.len(), "{dst}.{coll} count");
        assert!(a == b, "{dst}.{coll}: documents differ from {src}.{coll}");
    }
}

/// `mongoctl --spec SPEC ARGS --uri URI` in the background.
fn spawn(spec: &Path, uri: &str, args: &[&str]) -> Child {
    mongoctl(spec, args).uri(uri).spawn()
}

/// Waits for the command's end; a hang (5 minutes) kills it and fails the test.
async fn finish(child: Child) -> Output {
    let pid = child.id().to_string();
    let wait = tokio::task::spawn_blocking(move || child.wait_with_output());
    let Ok(out) = tokio::time::timeout(Duration::from_secs(300), wait).await else {
        let _ = Command::new("kill").args(["-9", &pid]).status();
        panic!("mongoctl hung: still running 300 s after the step-down");
    };
    let out = out.unwrap().expect("waiting for mongoctl");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `mongoctl ARGS` against the set with one of its commands (`command`, after the
/// first `skip` of them) held for a second on the current primary, waits until it is held,
/// and steps that primary down: the step-down lands while mongoctl is certainly midway,
/// however fast the machine. The held command then runs on a member that is no longer primary.
async fn spawn_and_step_down_midway(
    server: &TestServer,
    spec: &Path,
    args: &[&str],
    command: &str,
    skip: i32,
) -> Child {
    const APP: &str = "step-down";
    let port = primary_port(server).await;
    let primary = direct(port).await;
    let armed = arm_fail_command(
        &primary,
        APP,
        Bson::Document(doc! {"skip": skip}),
        doc! {"failCommands": [command], "blockConnection": true, "blockTimeMS": 1000},
    )
    .await;
    let mut child = spawn(spec, &format!("{}&appName={APP}", server.uri()), args);
    wait_for_fail_point(&primary, armed + 1).await;
    if let Some(status) = child.try_wait().unwrap() {
        panic!("mongoctl ended ({status}) before the step-down");
    }
    step_down(server).await;
    release_commands(&primary).await;
    child
}

async fn direct(port: u16) -> Client {
    Client::with_uri_str(format!("mongodb://127.0.0.1:{port}/?directConnection=true"))
        .await
        .unwrap()
}

async fn is_primary(port: u16) -> bool {
    direct(port)
        .await
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .map(|h| h.get_bool("isWritablePrimary").unwrap_or(false))
        .unwrap_or(false)
}

async fn primary_port(server: &TestServer) -> u16 {
    for port in server.ports() {
        if is_primary(port).await {
            return port;
        }
    }
    panic!("no primary");
}

/// Steps the current primary down (forced) through a direct connection.
async fn step_down(server: &TestServer) {
    direct(primary_port(server).await)
        .await
        .database("admin")
        .run_command(doc! {"replSetStepDown": 10, "force": true})
        .await
        .expect("replSetStepDown");
}

/// Waits until member 0 (priority 2) is primary again: the set is stable for what follows.
async fn wait_stable(server: &TestServer) {
    let t = Instant::now();
    while !is_primary(server.ports()[0]).await {
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "member 0 never returned as primary"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_step_down_during_backup_never_gives_a_complete_backup_missing_documents() {
    let server = common::replica_set(3).await;
    // The driver follows the new primary only when it knows the set.
    assert!(server.uri().contains("replicaSet="), "{}", server.uri());
    let client = server.client();
    seed(&client, "shop").await;
    let spec = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let out_s = out.to_str().unwrap();
    let t0 = Instant::now();
    let args = [
        "backup", "--db", "shop", "-j", "1", "--out", out_s, "-o", "json",
    ];
    // Held: the first getMore, with the first collection's first batch read.
    let child = spawn_and_step_down_midway(&server, spec.path(), &args, "getMore", 0).await;
    let o = finish(child).await;
    eprintln!("backup: exit {} after {:?}", o.code, t0.elapsed());
    wait_stable(&server).await;
    if o.code == 0 {
        // (a) Complete: a manifest, and a restore gives back every document.
        assert!(
            out.join("manifest.json").exists(),
            "exit 0 without a manifest"
        );
        let m = o.json()["manifest"]["namespaces"].clone();
        for coll in COLLS {
            let n = m
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["namespace"] == format!("shop.{coll}"));
            assert_eq!(n.unwrap_or_else(|| panic!("{m}"))["documents"], DOCS, "{m}");
        }
        mongoctl(
            spec.path(),
            &["restore", out_s, "--ns-from", "shop.*", "--ns-to", "copy.*"],
        )
        .uri(&server.uri())
        .run()
        .expect_code(0);
        assert_same(&client, "shop", "copy").await;
    } else {
        // (b) A clear failure, and a backup that says it is incomplete.
        assert_eq!(o.code, 1, "{}", o.all());
        assert!(
            o.stderr.starts_with("error: "),
            "unclear error:\n{}",
            o.all()
        );
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        assert!(
            !out.join("manifest.json").exists(),
            "a failed backup has a manifest"
        );
        let r = mongoctl(
            spec.path(),
            &["restore", out_s, "--ns-from", "shop.*", "--ns-to", "copy.*"],
        )
        .uri(&server.uri())
        .run();
        r.expect_code(1);
        assert!(r.stderr.contains("incomplete"), "{}", r.stderr);
        let dbs = client.list_database_names().await.unwrap();
        assert!(!dbs.contains(&"copy".to_string()), "{dbs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_step_down_during_restore_is_exact_or_fails_clearly_and_resumes() {
    let server = common::replica_set(3).await;
    assert!(server.uri().contains("replicaSet="), "{}", server.uri());
    let client = server.client();
    let (spec, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = tmp.path().join("b");
    let dir_s = dir.to_str().unwrap();
    backup_seeded_shop(&server, spec.path(), dir_s).await;
    let mut args = vec!["restore", dir_s];
    args.extend(["-j", "1", "--ns-from", "shop.*", "--ns-to", "dst.*"]);
    let t0 = Instant::now();
    // Held: the eleventh insert, with ten batches of 1000 documents sent before it.
    let child = spawn_and_step_down_midway(&server, spec.path(), &args, "insert", 10).await;
    let o = finish(child).await;
    eprintln!("restore: exit {} after {:?}", o.code, t0.elapsed());
    if o.code != 0 {
        // A clear failure, then --resume completes it.
        assert_eq!(o.code, 1, "{}", o.all());
        assert!(
            o.all().contains("FAILED") || o.stderr.contains("error: "),
            "{}",
            o.all()
        );
        assert!(!o.all().contains("panicked"), "{}", o.all());
        wait_stable(&server).await;
        resume_to_the_end(spec.path(), &server.uri(), &args);
    }
    wait_stable(&server).await;
    assert_same(&client, "shop", "dst").await;
}

/// The failure branch of the step-down test, made certain: after the backup's first getMore,
/// every getMore is answered PrimarySteppedDown (what a member that stepped down answers). For
/// a directory and an archive alike the backup ends with a clear error naming the collection,
/// stays incomplete, and restore refuses it.
#[tokio::test]
async fn a_backup_whose_reads_fail_midway_is_incomplete_and_refused() {
    const APP: &str = "failing-backup";
    let server = common::replica_set(1).await;
    let client = server.client();
    seed(&client, "shop").await;
    let spec = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let uri = format!("{}&appName={APP}", server.uri());
    for (name, form) in [("dir", "--out"), ("shop.archive", "--archive")] {
        let path = tmp.path().join(name);
        let path_s = path.to_str().unwrap();
        let fail = doc! {"failCommands": ["getMore"], "errorCode": 189};
        let armed = arm_fail_command(&client, APP, doc! {"skip": 1}.into(), fail).await;
        let o = mongoctl(
            spec.path(),
            &["backup", "--db", "shop", "-j", "1", form, path_s],
        )
        .uri(&uri)
        .run();
        let entered = release_commands(&client).await - armed;
        // (Skipped entries are not counted.)
        assert!(entered >= 1, "{name}: no getMore failed");
        o.expect_code(1);
        assert!(o.stderr.starts_with("error: "), "{name}: {}", o.all());
        assert!(
            o.stderr.contains("shop."),
            "{name}: no collection named: {}",
            o.stderr
        );
        assert!(!o.all().contains("panicked"), "{}", o.all());
        let listed = mongoctl(
            spec.path(),
            &["backup", "list", tmp.path().to_str().unwrap(), "-o", "json"],
        )
        .run();
        listed.expect_code(0);
        let entry = listed.json()["backups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .cloned();
        assert_eq!(
            entry.unwrap_or_default()["complete"],
            false,
            "{}",
            listed.stdout
        );
        let mut restore = vec!["restore", "--ns-from", "shop.*", "--ns-to", "copy.*"];
        if form == "--archive" {
            restore.push("--archive");
        }
        restore.push(path_s);
        let r = mongoctl(spec.path(), &restore).uri(&server.uri()).run();
        r.expect_code(1);
        assert!(r.stderr.contains("incomplete"), "{name}: {}", r.stderr);
        let dbs = client.list_database_names().await.unwrap();
        assert!(!dbs.contains(&"copy".to_string()), "{dbs:?}");
    }
}

/// The failure branch of the restore step-down test, made certain: after five insert
/// batches, every insert is answered PrimarySteppedDown (the driver's one retry fails too).
/// The restore ends with a clear failure and part of the data in; --resume, once the
/// cluster is healthy again, ends with exactly the source documents.
#[tokio::test]
async fn a_restore_whose_writes_fail_midway_fails_clearly_and_resumes_exactly() {
    const APP: &str = "failing-restore";
    let server = common::replica_set(1).await;
    let client = server.client();
    let (spec, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = tmp.path().join("b");
    let dir_s = dir.to_str().unwrap();
    backup_seeded_shop(&server, spec.path(), dir_s).await;
    let args = [
        "restore",
        dir_s,
        "-j",
        "1",
        "--ns-from",
        "shop.*",
        "--ns-to",
        "dst.*",
    ];
    let fail = doc! {"failCommands": ["insert"], "errorCode": 189};
    arm_fail_command(&client, APP, doc! {"skip": 5}.into(), fail).await;
    let o = mongoctl(spec.path(), &[&args[..], &["-o", "json"]].concat())
        .uri(&format!("{}&appName={APP}", server.uri()))
        .run();
    release_commands(&client).await;
    o.expect_code(1);
    assert!(!o.all().contains("panicked"), "{}", o.all());
    // The report says exactly what was written before the failure.
    let mut partial = 0;
    for n in o.json()["report"]["namespaces"].as_array().unwrap() {
        let status = n["status"].as_str().unwrap();
        assert!(status.starts_with("FAILED: PrimarySteppedDown"), "{n}");
        let target = n["target"].as_str().unwrap();
        let (db, coll) = target.split_once('.').unwrap();
        let count = client
            .database(db)
            .collection::<Document>(coll)
            .count_documents(doc! {})
            .await
            .unwrap();
        assert_eq!(n["inserted"].as_u64().unwrap(), count, "{n}");
        partial += count;
    }
    assert!(
        partial > 0 && partial < 2 * DOCS as u64,
        "the restore did not stop midway: {partial} documents in"
    );
    resume_to_the_end(spec.path(), &server.uri(), &args);
    assert_same(&client, "shop", "dst").await;
}

/// `ARGS --resume` succeeds, and per namespace what was restored earlier, what it inserted and
/// the duplicates it met add up to the seeded documents: nothing lost, nothing twice.
fn resume_to_the_end(spec: &Path, uri: &str, args: &[&str]) {
    let resume = [args, &["--resume", "-o", "json"]].concat();
    let r = mongoctl(spec, &resume).uri(uri).run();
    r.expect_code(0);
    for n in r.json()["report"]["namespaces"].as_array().unwrap() {
        let sum = ["resumed", "inserted", "duplicates"].map(|k| n[k].as_u64().unwrap());
        assert_eq!(sum.iter().sum::<u64>(), DOCS as u64, "{n}");
    }
}

#[tokio::test]
async fn backup_domain_is_scoped_to_its_databases_and_an_unknown_domain_is_refused() {
    let server = common::standalone().await;
    let client = server.client();
    for (db, coll, n) in [
        ("reminderdb_auth", "users", 12),
        ("reminderdb_auth", "roles", 3),
        ("reminderdb_feedback", "surveys", 5),
        ("other", "misc", 2),
    ] {
        let docs: Vec<Document> = (0..n).map(|i| doc! {"_id": i, "db": db}).collect();
        client
            .database(db)
            .collection::<Document>(coll)
            .insert_many(docs)
            .await
            .unwrap();
    }
    let ws = copy_workspace(&repo());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("auth");
    let args = ["backup", "--domain", "auth", "-o", "json", "--out"];
    let o = mongoctl(ws.path(), &[&args[..], &[out.to_str().unwrap()]].concat())
        .uri(&server.uri())
        .run();
    o.expect_code(0);
    let on_disk = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    for m in [
        o.json()["manifest"].clone(),
        serde_json::from_str(&on_disk).unwrap(),
    ] {
        let ns: Vec<String> = m["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| format!("{} {}", n["namespace"], n["documents"]))
            .collect();
        assert_eq!(
            ns,
            [
                r#""reminderdb_auth.roles" 3"#,
                r#""reminderdb_auth.users" 12"#
            ]
        );
    }
    let dirs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs, ["reminderdb_auth"]);

    // Unknown domains fail on the manifest, before any connection: the URI leads nowhere, so
    // an attempt to connect would show as a timeout or a connection error instead.
    for (domain, hint) in [("nosuch", None), ("auht", Some("did you mean \"auth\"?"))] {
        let out = tmp.path().join(domain);
        let t = Instant::now();
        let o = mongoctl(
            ws.path(),
            &["backup", "--domain", domain, "--out", out.to_str().unwrap()],
        )
        .uri("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=30000")
        .run();
        // Bad input is exit code 1 (src/exit.rs); 2 means "changes pending".
        o.expect_code(1);
        let expected = format!("error: --domain {domain}: no such domain in mongoctl.json");
        assert!(o.stderr.contains(&expected), "{}", o.stderr);
        if let Some(h) = hint {
            assert!(o.stderr.contains(h), "{}", o.stderr);
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "took {:?}",
            t.elapsed()
        );
        assert!(!out.exists(), "{} was created", out.display());
    }
}

#[tokio::test]
async fn resume_retries_a_batch_with_rejected_documents_instead_of_skipping_it() {
    let server = common::standalone().await;
    let client = server.client();
    // A mongodump-style directory (no manifest) whose 2nd batch holds a document the server
    // rejects (an array _id): the batch is not done, and --resume must not skip it.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("src")).unwrap();
    let mut bytes = Vec::new();
    for i in 0..3000 {
        let d = if i == 1500 {
            doc! {"_id": [i]}
        } else {
            doc! {"_id": i}
        };
        bytes.extend(bson::to_vec(&d).unwrap());
    }
    std::fs::write(tmp.path().join("src/c.bson"), bytes).unwrap();
    let dir = tmp.path().to_str().unwrap();
    let spec = tempfile::tempdir().unwrap();
    let mut args = vec!["restore", dir, "--force", "-j", "1", "--workers", "1"];
    for resume in [false, true] {
        if resume {
            args.push("--resume");
        }
        let o = mongoctl(spec.path(), &args).uri(&server.uri()).run();
        o.expect_code(1);
        assert!(o.stdout.contains("1 document(s) rejected"), "{}", o.stdout);
        assert_eq!(
            all(&client, "src", "c").await.len(),
            2999,
            "resume={resume}"
        );
    }
}
