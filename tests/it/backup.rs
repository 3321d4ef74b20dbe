//! backup / restore against real servers: round trips in every format into renamed
//! namespaces, verification and refusal of damaged or incomplete backups, duplicates,
//! confirmation of --drop, point-in-time oplog replay.

use std::path::Path;

use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::Client;

use crate::common;
use crate::support::mongoctl;

fn spec() -> tempfile::TempDir {
    // No workspace: backup and restore work from --db / patterns alone.
    tempfile::tempdir().unwrap()
}

/// A database with a validated collection (unique + compound indexes), a capped
/// collection, a view and nested documents.
async fn seed(client: &Client, db: &str, n: i32) {
    let d = client.database(db);
    d.run_command(doc! {
        "create": "patients",
        "validator": {"$jsonSchema": {"bsonType": "object", "required": ["mrn", "name"],
            "properties": {"mrn": {"bsonType": "string"}}}},
        "validationLevel": "strict",
        "validationAction": "error",
    })
    .await
    .unwrap();
    d.run_command(doc! {"createIndexes": "patients", "indexes": [
        {"key": {"mrn": 1}, "name": "mrn_1", "unique": true},
        {"key": {"clinic": 1, "visits.at": -1}, "name": "clinic_visits", "partialFilterExpression": {"active": true}},
    ]})
    .await
    .unwrap();
    d.run_command(doc! {"create": "events", "capped": true, "size": 1048576i64})
        .await
        .unwrap();
    d.run_command(doc! {"create": "active_patients", "viewOn": "patients", "pipeline": [{"$match": {"active": true}}]})
        .await
        .unwrap();
    let docs: Vec<Document> = (0..n)
        .map(|i| {
            doc! {
                "_id": i, "mrn": format!("MRN{i:06}"), "name": {"given": "Ada", "family": format!("L{i}")},
                "active": i % 3 == 0, "clinic": format!("c{}", i % 7), "score": i as f64 / 3.0,
                "dob": bson::DateTime::from_millis(1_000_000_000_000 + i as i64 * 86_400_000),
                "visits": [{"at": bson::DateTime::from_millis(1_700_000_000_000), "codes": ["Z00", i.to_string()]}],
                "blob": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![i as u8; 16] },
                "big": i as i64 * 1_000_000_007,
            }
        })
        .collect();
    d.collection::<Document>("patients")
        .insert_many(docs)
        .await
        .unwrap();
    d.run_command(doc! {"create": "vitals", "timeseries": {"timeField": "t", "metaField": "patient", "granularity": "minutes"}})
        .await
        .unwrap();
    let vitals: Vec<Document> = (0..40)
        .map(|i| doc! {"t": bson::DateTime::from_millis(1_700_000_000_000 + i * 60_000), "patient": i % 4, "hr": 60 + i})
        .collect();
    d.collection::<Document>("vitals")
        .insert_many(vitals)
        .await
        .unwrap();
    let events: Vec<Document> = (0..50).map(|i| doc! {"seq": i, "kind": "login"}).collect();
    d.collection::<Document>("events")
        .insert_many(events)
        .await
        .unwrap();
}

pub(crate) async fn all(client: &Client, db: &str, coll: &str) -> Vec<Document> {
    client
        .database(db)
        .collection::<Document>(coll)
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

pub(crate) async fn coll_info(client: &Client, db: &str) -> Vec<(String, String, Document)> {
    let list: Vec<Document> = client
        .database(db)
        .run_cursor_command(doc! {"listCollections": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut out: Vec<_> = list
        .into_iter()
        .map(|c| {
            (
                c.get_str("name").unwrap().to_string(),
                c.get_str("type").unwrap().to_string(),
                c.get_document("options").unwrap().clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub(crate) async fn indexes(client: &Client, db: &str, coll: &str) -> Vec<Document> {
    let mut list: Vec<Document> = client
        .database(db)
        .run_cursor_command(doc! {"listIndexes": coll})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for i in list.iter_mut() {
        i.remove("ns");
    }
    list.sort_by_key(|i| i.get_str("name").unwrap().to_string());
    list
}

async fn assert_same(client: &Client, src: &str, dst: &str) {
    assert_eq!(
        coll_info(client, src).await,
        coll_info(client, dst).await,
        "collections of {dst}"
    );
    for c in ["patients", "events", "vitals"] {
        let a = all(client, src, c).await;
        let b = all(client, dst, c).await;
        assert_eq!(a.len(), b.len(), "{dst}.{c} count");
        assert!(a == b, "{dst}.{c}: documents differ");
        assert_eq!(
            indexes(client, src, c).await,
            indexes(client, dst, c).await,
            "{dst}.{c} indexes"
        );
    }
    assert_eq!(
        all(client, src, "active_patients").await,
        all(client, dst, "active_patients").await
    );
}

#[tokio::test]
async fn round_trips_directory_gzip_and_archive_into_renamed_namespaces() {
    let server = common::standalone().await;
    let client = server.client();
    seed(&client, "reminderdb_auth", 300).await;
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let forms: [(&str, Vec<String>); 4] = [
        (
            "dir",
            vec!["--out".into(), tmp.path().join("dir").display().to_string()],
        ),
        (
            "dirgz",
            vec![
                "--out".into(),
                tmp.path().join("dirgz").display().to_string(),
                "--gzip".into(),
            ],
        ),
        (
            "arch",
            vec![
                "--archive".into(),
                tmp.path().join("a.archive").display().to_string(),
            ],
        ),
        (
            "archgz",
            vec![
                "--archive".into(),
                tmp.path().join("b.archive.gz").display().to_string(),
                "--gzip".into(),
            ],
        ),
    ];
    for (name, out_args) in &forms {
        let mut args = vec!["backup", "--db", "reminderdb_auth"];
        args.extend(out_args.iter().map(String::as_str));
        mongoctl(spec.path(), &args)
            .uri(&server.uri())
            .run()
            .expect_code(0);
        let location = &out_args[1];
        let v = mongoctl(spec.path(), &["backup", "verify", location, "-o", "json"]).run();
        v.expect_code(0);
        // 300 patients, 50 events, the vitals' buckets (one per patient)
        assert_eq!(v.json()["report"]["documents"], 354, "{name}");

        let mut args = vec![
            "restore".to_string(),
            "--ns-from".into(),
            "reminderdb_*".into(),
            "--ns-to".into(),
            format!("{name}_reminderdb_*"),
            "-o".into(),
            "json".into(),
        ];
        if name.starts_with("arch") {
            args.push("--archive".into());
        }
        args.push(location.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = mongoctl(spec.path(), &args).uri(&server.uri()).run();
        out.expect_code(0);
        let report = &out.json()["report"]["namespaces"];
        let patients = report
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["target"] == format!("{name}_reminderdb_auth.patients"))
            .unwrap_or_else(|| panic!("{report}"));
        assert_eq!(patients["inserted"], 300);
        assert_eq!(patients["expected"], 300);
        assert_eq!(patients["indexes"], 2);
        assert_same(
            &client,
            "reminderdb_auth",
            &format!("{name}_reminderdb_auth"),
        )
        .await;
    }
    // mongodump's directory layout and metadata fields.
    let meta = std::fs::read_to_string(
        tmp.path()
            .join("dir/reminderdb_auth/patients.metadata.json"),
    )
    .unwrap();
    let m: serde_json::Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(m["collectionName"], "patients");
    assert_eq!(m["type"], "collection");
    assert_eq!(m["uuid"].as_str().unwrap().len(), 32);
    assert_eq!(m["options"]["validationLevel"], "strict");
    assert_eq!(m["indexes"][1]["key"]["mrn"]["$numberInt"], "1");
    assert!(
        tmp.path()
            .join("dir/reminderdb_auth/active_patients.metadata.json")
            .exists()
    );
    assert!(
        !tmp.path()
            .join("dir/reminderdb_auth/active_patients.bson")
            .exists()
    );
    assert!(
        tmp.path()
            .join("dirgz/reminderdb_auth/patients.bson.gz")
            .exists()
    );
    let arch = std::fs::read(tmp.path().join("a.archive")).unwrap();
    assert_eq!(&arch[..4], &[0x6d, 0xe2, 0x99, 0x81]);
}

#[tokio::test]
async fn restore_from_stdin_query_and_namespace_filters() {
    let server = common::standalone().await;
    let client = server.client();
    seed(&client, "reminderdb_feedback", 90).await;
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    mongoctl(
        spec.path(),
        &[
            "backup",
            "--db",
            "reminderdb_feedback",
            "--ns-exclude",
            "*.events",
            "--query",
            r#"{"active": true}"#,
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    assert!(!out.join("reminderdb_feedback/events.bson").exists());
    // Restore the directory's patients only, into another database.
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            out.to_str().unwrap(),
            "--ns-include",
            "*.patients",
            "--ns-from",
            "reminderdb_feedback.*",
            "--ns-to",
            "copy.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    assert_eq!(all(&client, "copy", "patients").await.len(), 30);
    assert!(
        !coll_info(&client, "copy")
            .await
            .iter()
            .any(|c| c.0 == "active_patients")
    );

    // An archive on stdout, restored from stdin.
    let (code, arch) = piped(
        spec.path(),
        &server.uri(),
        &[
            "backup",
            "--db",
            "reminderdb_feedback",
            "--archive",
            "-",
            "--gzip",
            "-q",
        ],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(&arch[..2], &[0x1f, 0x8b]);
    let (code, out) = piped(
        spec.path(),
        &server.uri(),
        &[
            "restore",
            "--archive",
            "-",
            "--ns-from",
            "reminderdb_*",
            "--ns-to",
            "piped_*",
        ],
        Some(arch),
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    assert_same(&client, "reminderdb_feedback", "piped_feedback").await;
}

/// The binary with raw bytes on stdin and stdout (archives through pipes); its stderr goes
/// to the test's output.
fn piped(spec: &Path, uri: &str, args: &[&str], stdin: Option<Vec<u8>>) -> (i32, Vec<u8>) {
    let o = mongoctl(spec, args).uri(uri).run_piped(stdin);
    eprint!("{}", o.stderr);
    (o.code, o.stdout)
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x20;
    std::fs::write(path, b).unwrap();
}

#[tokio::test]
async fn damaged_incomplete_and_duplicate_restores_are_reported() {
    let server = common::standalone().await;
    let client = server.client();
    seed(&client, "clinic", 200).await;
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let dir_s = dir.to_str().unwrap();
    mongoctl(spec.path(), &["backup", "--db", "clinic", "--out", dir_s])
        .uri(&server.uri())
        .run()
        .expect_code(0);

    // Restoring over the existing data without --drop: every document is a duplicate.
    let o = mongoctl(spec.path(), &["restore", dir_s, "-o", "json"])
        .uri(&server.uri())
        .run();
    o.expect_code(0);
    let ns = o.json()["report"]["namespaces"].clone();
    let p = ns
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["target"] == "clinic.patients")
        .unwrap();
    assert_eq!(
        (p["inserted"].as_u64(), p["duplicates"].as_u64()),
        (Some(0), Some(200))
    );
    // Some documents missing: exactly those are inserted, the rest reported as duplicates.
    client
        .database("clinic")
        .collection::<Document>("patients")
        .delete_many(doc! {"_id": {"$lt": 25}})
        .await
        .unwrap();
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--ns-include",
            "clinic.patients",
            "-o",
            "json",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    let p = &o.json()["report"]["namespaces"][0];
    assert_eq!(
        (p["inserted"].as_u64(), p["duplicates"].as_u64()),
        (Some(25), Some(175))
    );
    let o = mongoctl(spec.path(), &["restore", dir_s, "--stop-on-error"])
        .uri(&server.uri())
        .run();
    o.expect_code(1);
    assert!(o.stdout.contains("stop-on-error"), "{}", o.stdout);

    // --drop needs confirmation: without a terminal and without --yes it fails, untouched.
    let o = mongoctl(spec.path(), &["restore", dir_s, "--drop"])
        .uri(&server.uri())
        .run();
    o.expect_code(1);
    assert!(o.stderr.contains("--yes"), "{}", o.stderr);
    assert_eq!(all(&client, "clinic", "patients").await.len(), 200);
    client
        .database("clinic")
        .collection::<Document>("patients")
        .update_one(doc! {"_id": 1}, doc! {"$set": {"name.family": "changed"}})
        .await
        .unwrap();
    let o = mongoctl(spec.path(), &["restore", dir_s, "--drop", "--yes"])
        .uri(&server.uri())
        .run();
    o.expect_code(0);
    let one = client
        .database("clinic")
        .collection::<Document>("patients")
        .find_one(doc! {"_id": 1})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        one.get_document("name").unwrap().get_str("family").unwrap(),
        "L1"
    );

    // Dry run: verified, nothing written.
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--dry-run",
            "--ns-from",
            "clinic.*",
            "--ns-to",
            "dry.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    assert!(
        o.stdout.contains("dry.patients") && o.stdout.contains("nothing was written"),
        "{}",
        o.stdout
    );
    assert!(
        !client
            .list_database_names()
            .await
            .unwrap()
            .contains(&"dry".to_string())
    );

    // One flipped byte: verify names the file; restore refuses before inserting anything.
    let bson_file = dir.join("clinic/patients.bson");
    flip_byte(&bson_file, 1000);
    let v = mongoctl(spec.path(), &["backup", "verify", dir_s]).run();
    v.expect_code(1);
    assert!(
        v.stderr.contains("clinic/patients.bson") && v.stderr.contains("BLAKE3"),
        "{}",
        v.stderr
    );
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--ns-from",
            "clinic.*",
            "--ns-to",
            "bad.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(1);
    assert!(
        o.stderr.contains("clinic/patients.bson: CRC-32C mismatch"),
        "{}",
        o.stderr
    );
    assert!(
        !client
            .list_database_names()
            .await
            .unwrap()
            .contains(&"bad".to_string())
    );
    // Without the manifest the framing check still finds the bad document and its offset.
    flip_byte(&bson_file, 1000);
    let mut b = std::fs::read(&bson_file).unwrap();
    b[0] = 0xff;
    b[1] = 0xff;
    std::fs::write(&bson_file, b).unwrap();
    let v = mongoctl(spec.path(), &["backup", "verify", dir_s]).run();
    v.expect_code(1);

    // A killed backup leaves no manifest: restore refuses it (and --force overrides).
    let big: Vec<Document> = (0..60_000)
        .map(|i| doc! {"i": i, "pad": "x".repeat(200)})
        .collect();
    client
        .database("big")
        .collection::<Document>("c")
        .insert_many(big)
        .await
        .unwrap();
    let killed = tmp.path().join("killed");
    // The backup's first getMore waits 10 s: it is still running when it is killed.
    const APP: &str = "killed-backup";
    hold_commands(&client, APP, &["getMore"], 10_000, Some(1)).await;
    let mut child = std::process::Command::new(common::mongoctl_bin())
        .args([
            "--spec",
            spec.path().to_str().unwrap(),
            "--uri",
            &format!("{}&appName={APP}", server.uri()),
            "backup",
            "--db",
            "big",
            "--out",
            killed.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let data = killed.join("big/c.bson");
    let t = std::time::Instant::now();
    while !data.exists() && t.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    release_commands(&client).await;
    assert!(
        !killed.join("manifest.json").exists(),
        "the backup finished before it was killed"
    );
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            killed.to_str().unwrap(),
            "--ns-from",
            "big.*",
            "--ns-to",
            "big2.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(1);
    assert!(o.stderr.contains("incomplete"), "{}", o.stderr);
    assert!(
        !client
            .list_database_names()
            .await
            .unwrap()
            .contains(&"big2".to_string())
    );
    let v = mongoctl(spec.path(), &["backup", "verify", killed.to_str().unwrap()]).run();
    v.expect_code(1);
    let l = mongoctl(
        spec.path(),
        &["backup", "list", tmp.path().to_str().unwrap(), "-o", "json"],
    )
    .run();
    l.expect_code(0);
    let list = l.json()["backups"].clone();
    let k = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "killed")
        .unwrap();
    assert_eq!(k["complete"], false);
}

#[tokio::test]
async fn oplog_backup_replays_to_a_point_in_time() {
    let server = common::replica_set(1).await;
    let client = server.client();
    insert_bulk(&client, "pitr", 40_000).await;
    client
        .database("pitr")
        .collection::<Document>("live")
        .insert_one(doc! {"_id": -1})
        .await
        .unwrap();
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pitr");
    // Writes keep arriving while the backup runs.
    let writer_client = server.client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = tokio::spawn(async move {
        let c = writer_client
            .database("pitr")
            .collection::<Document>("live");
        let mut i = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            c.insert_one(doc! {"_id": i}).await.unwrap();
            i += 1;
        }
        i
    });
    // Each of the backup's finds waits 200 ms, the one reading the oplog's end included, so
    // writes land between the oplog's start and end however fast the machine is.
    const APP: &str = "pitr-backup";
    hold_commands(&client, APP, &["find"], 200, None).await;
    let uri = format!("{}&appName={APP}", server.uri());
    let dir_s = dir.to_str().unwrap().to_string();
    let spec_path = spec.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        mongoctl(
            &spec_path,
            &[
                "backup", "--db", "pitr", "--oplog", "--out", &dir_s, "-o", "json",
            ],
        )
        .uri(&uri)
        .run()
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    release_commands(&client).await;
    out.expect_code(0);
    let m = out.json()["manifest"].clone();
    let entries = m["oplog"]["entries"].as_u64().unwrap();
    assert!(
        entries > 0,
        "no write landed during the backup ({written} written)"
    );
    let end = m["oplog"]["end"].clone();

    // Everything the oplog captured, replayed into a renamed database.
    let dir_s = dir.to_str().unwrap();
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--oplog-replay",
            "--ns-from",
            "pitr.*",
            "--ns-to",
            "pitr_copy.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    assert!(!o.stderr.contains("warning"), "{}", o.stderr);
    let ts = |d: &Document| -> (u32, u32) {
        let t = d.get_timestamp("ts").unwrap();
        (t.time, t.increment)
    };
    // The live documents whose insert is at or before the oplog's end must all be there.
    let oplog: Vec<Document> = client
        .database("local")
        .collection::<Document>("oplog.rs")
        .find(doc! {"ns": "pitr.live", "op": "i"})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let end_ts = (
        end[0].as_u64().unwrap() as u32,
        end[1].as_u64().unwrap() as u32,
    );
    let mut expected: Vec<Bson> = oplog
        .iter()
        .filter(|e| ts(e) <= end_ts)
        .map(|e| e.get_document("o").unwrap().get("_id").unwrap().clone())
        .collect();
    expected.sort_by_key(|b| b.as_i32().unwrap());
    let got: Vec<Bson> = all(&client, "pitr_copy", "live")
        .await
        .iter()
        .map(|d| d.get("_id").unwrap().clone())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(all(&client, "pitr_copy", "bulk").await.len(), 40_000);

    // Point in time: stop at a timestamp between the moment `live` was read (its data file
    // already holds every insert before that; a replay limit cannot take those out, as with
    // mongorestore) and the oplog's end.
    let dumped: std::collections::HashSet<i32> = bson_file_docs(&dir.join("pitr/live.bson"))
        .iter()
        .map(|d| d.get_i32("_id").unwrap())
        .collect();
    let id_of = |e: &Document| e.get_document("o").unwrap().get_i32("_id").unwrap();
    let after_read: Vec<&Document> = oplog
        .iter()
        .filter(|e| ts(e) <= end_ts && !dumped.contains(&id_of(e)))
        .collect();
    assert!(
        after_read.len() >= 2,
        "too few writes after `live` was read ({})",
        after_read.len()
    );
    let mid = after_read[after_read.len() / 2];
    let (t, i) = ts(mid);
    let limit = format!("{t}:{i}");
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--oplog-replay",
            "--oplog-limit",
            &limit,
            "--ns-from",
            "pitr.*",
            "--ns-to",
            "pitr_mid.*",
            "-o",
            "json",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    // The report and a warning say where the replay stopped, and what that means.
    assert_eq!(
        o.json()["report"]["oplog_stopped_before"],
        serde_json::json!([t, i])
    );
    assert!(
        o.stderr.contains(&format!(
            "warning: --oplog-limit kept out the backup's oplog from {limit} on"
        )),
        "{}",
        o.stderr
    );
    // Exactly the documents inserted before the limit: the dumped ones and the replayed ones.
    let mut expected: Vec<i32> = oplog.iter().filter(|e| ts(e) < (t, i)).map(id_of).collect();
    expected.sort();
    let got: Vec<i32> = all(&client, "pitr_mid", "live")
        .await
        .iter()
        .map(|d| d.get_i32("_id").unwrap())
        .collect();
    assert_eq!(got, expected);
    assert!(!got.contains(&id_of(mid)));
    assert!(got.len() > dumped.len(), "nothing was replayed");
}

/// The documents of a `.bson` file, in order.
fn bson_file_docs(path: &Path) -> Vec<Document> {
    let bytes = std::fs::read(path).unwrap();
    let mut r = &bytes[..];
    let mut docs = Vec::new();
    while !r.is_empty() {
        docs.push(Document::from_reader(&mut r).unwrap());
    }
    docs
}

#[tokio::test]
async fn resume_after_a_killed_restore_yields_exactly_the_source() {
    let server = common::standalone().await;
    let client = server.client();
    let docs: Vec<Document> = (0..80_000)
        .map(|i| doc! {"_id": i, "v": format!("value {i}"), "pad": "z".repeat(150)})
        .collect();
    client
        .database("src")
        .collection::<Document>("c")
        .insert_many(docs)
        .await
        .unwrap();
    client
        .database("src")
        .collection::<Document>("d")
        .insert_one(doc! {"_id": "only"})
        .await
        .unwrap();
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let dir_s = dir.to_str().unwrap();
    mongoctl(spec.path(), &["backup", "--db", "src", "--out", dir_s])
        .uri(&server.uri())
        .run()
        .expect_code(0);

    // The restore's first ten inserts (1000 documents each) go through; the next ones are
    // held for 5 s, then refused, never written. It is killed while held: midway, however
    // fast the machine (were the kill late, the refusal would stop it at the same place; a
    // longer hold only keeps the server's shutdown waiting at the end of the test).
    const APP: &str = "killed-restore";
    let before = arm_fail_command(
        &client,
        APP,
        Bson::Document(doc! {"skip": 10}),
        doc! {"failCommands": ["insert"], "blockConnection": true, "blockTimeMS": 5_000, "errorCode": 189},
    )
    .await;
    let mut child = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "-j",
            "1",
            "--ns-from",
            "src.*",
            "--ns-to",
            "dst.*",
        ],
    )
    .uri(&format!("{}&appName={APP}", server.uri()))
    .spawn();
    wait_for_fail_point(&client, before + 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    release_commands(&client).await;
    let target = client.database("dst").collection::<Document>("c");
    let partial = target.count_documents(doc! {}).await.unwrap();
    assert!(
        partial > 0 && partial <= 10_000,
        "restore was not interrupted where it was held ({partial})"
    );

    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--resume",
            "-o",
            "json",
            "--ns-from",
            "src.*",
            "--ns-to",
            "dst.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    let report = o.json()["report"]["namespaces"].clone();
    let c = report
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["target"] == "dst.c")
        .unwrap();
    let resumed = c["resumed"].as_u64().unwrap();
    assert!(resumed > 0, "{c}");
    assert_eq!(
        resumed + c["inserted"].as_u64().unwrap() + c["duplicates"].as_u64().unwrap(),
        80_000
    );
    assert!(all(&client, "src", "c").await == all(&client, "dst", "c").await);
    assert_eq!(all(&client, "dst", "d").await.len(), 1);
    // A second --resume finds everything complete and writes nothing.
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--resume",
            "-o",
            "json",
            "--ns-from",
            "src.*",
            "--ns-to",
            "dst.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    assert!(
        o.json()["report"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["inserted"] == 0)
    );
}

#[tokio::test]
async fn list_and_prune_keep_the_newest_backups() {
    let server = common::standalone().await;
    let client = server.client();
    client
        .database("tiny")
        .collection::<Document>("c")
        .insert_one(doc! {"x": 1})
        .await
        .unwrap();
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    // The oldest backup lives outside the backups directory; a link to it is inside.
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("outside");
    mongoctl(
        spec.path(),
        &["backup", "--db", "tiny", "--out", outside.to_str().unwrap()],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    std::os::unix::fs::symlink(&outside, tmp.path().join("b0-link")).unwrap();
    for name in ["b1", "b2", "b3"] {
        let out = tmp.path().join(name);
        mongoctl(
            spec.path(),
            &["backup", "--db", "tiny", "--out", out.to_str().unwrap()],
        )
        .uri(&server.uri())
        .run()
        .expect_code(0);
    }
    let arch = tmp.path().join("t.archive");
    mongoctl(
        spec.path(),
        &[
            "backup",
            "--db",
            "tiny",
            "--archive",
            arch.to_str().unwrap(),
        ],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    let dir = tmp.path().to_str().unwrap();
    let l = mongoctl(spec.path(), &["backup", "list", dir, "-o", "json"]).run();
    l.expect_code(0);
    let names: Vec<String> = l.json()["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["t.archive", "b3", "b2", "b1"]);
    assert!(
        l.stderr.contains("skipping") && l.stderr.contains("b0-link"),
        "{}",
        l.stderr
    );
    // Destructive: without a terminal it needs --yes.
    let p = mongoctl(spec.path(), &["backup", "prune", dir, "--keep-last", "2"]).run();
    p.expect_code(1);
    assert!(tmp.path().join("b1").exists());
    let p = mongoctl(
        spec.path(),
        &["backup", "prune", dir, "--keep-last", "2", "--yes"],
    )
    .run();
    p.expect_code(0);
    assert!(arch.exists() && tmp.path().join("b3").exists());
    assert!(!tmp.path().join("b2").exists() && !tmp.path().join("b1").exists());
    assert!(!tmp.path().join("b1.manifest.json").exists());
    // The linked backup was neither followed nor deleted, and prune said so.
    assert!(p.stderr.contains("b0-link"), "{}", p.stderr);
    assert!(outside.join("manifest.json").exists());
    assert!(tmp.path().join("b0-link").symlink_metadata().is_ok());
}

#[tokio::test]
async fn users_and_roles_follow_a_renamed_database() {
    let server = common::auth_standalone().await;
    let client = server.client();
    let care = client.database("care");
    care.collection::<Document>("notes")
        .insert_one(doc! {"n": 1})
        .await
        .unwrap();
    care.run_command(doc! {"createRole": "noteReader", "privileges": [
    {"resource": {"db": "care", "collection": "notes"}, "actions": ["find"]}], "roles": []})
        .await
        .unwrap();
    care.run_command(doc! {"createUser": "svc_care", "pwd": "care-pass-123",
    "roles": [{"role": "noteReader", "db": "care"}, {"role": "readWrite", "db": "care"}]})
        .await
        .unwrap();
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("u");
    let dir_s = dir.to_str().unwrap();
    mongoctl(
        spec.path(),
        &[
            "backup",
            "--db",
            "care",
            "--users-and-roles",
            "--out",
            dir_s,
        ],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    assert!(dir.join("care/$admin.system.users.bson").exists());
    // Credential hashes: readable by the owner only.
    for kind in ["users", "roles", "version"] {
        assert_eq!(
            mode(&dir.join(format!("care/$admin.system.{kind}.bson"))),
            0o600,
            "{kind}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let users = manifest["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == "care.$admin.system.users");
    assert_eq!(
        users.map(|n| n["documents"].clone()),
        Some(1.into()),
        "{manifest}"
    );
    mongoctl(spec.path(), &["backup", "verify", dir_s])
        .run()
        .expect_code(0);
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            dir_s,
            "--users-and-roles",
            "--ns-from",
            "care.*",
            "--ns-to",
            "care2.*",
        ],
    )
    .uri(&server.uri())
    .run();
    o.expect_code(0);
    assert!(o.stdout.contains("1 user(s), 1 role(s)"), "{}", o.stdout);
    let roles = user_roles(&client, "care2", "svc_care").await;
    assert_eq!(roles, ["noteReader@care2", "readWrite@care2"]);
    // The credentials came along: the same password logs in to the renamed database.
    let port = server.ports()[0];
    let uri = format!("mongodb://svc_care:care-pass-123@127.0.0.1:{port}/care2?authSource=care2");
    let c = Client::with_uri_str(&uri).await.unwrap();
    let n = c
        .database("care2")
        .collection::<Document>("notes")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// A file's permission bits.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `usersInfo` roles of `user` in `db`, as sorted `role@db`.
async fn user_roles(client: &Client, db: &str, user: &str) -> Vec<String> {
    let info = client
        .database(db)
        .run_command(doc! {"usersInfo": user})
        .await
        .unwrap();
    let users = info.get_array("users").unwrap();
    assert_eq!(users.len(), 1, "{info}");
    let mut roles: Vec<String> = users[0]
        .as_document()
        .unwrap()
        .get_array("roles")
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_document().unwrap();
            format!(
                "{}@{}",
                r.get_str("role").unwrap(),
                r.get_str("db").unwrap()
            )
        })
        .collect();
    roles.sort();
    roles
}

/// The custom roles of `db` with their privileges, the database name replaced by `DB`.
async fn role_privileges(client: &Client, db: &str) -> String {
    let info = client
        .database(db)
        .run_command(doc! {"rolesInfo": 1, "showPrivileges": true})
        .await
        .unwrap();
    let roles = Bson::Array(info.get_array("roles").unwrap().clone());
    roles
        .into_relaxed_extjson()
        .to_string()
        .replace(&format!("\"{db}"), "\"DB")
}

#[tokio::test]
async fn users_and_roles_round_trip_through_archives_file_and_stdin() {
    let server = common::auth_standalone().await;
    let client = server.client();
    let ward = client.database("ward");
    ward.collection::<Document>("beds")
        .insert_many([doc! {"n": 1}, doc! {"n": 2}])
        .await
        .unwrap();
    ward.run_command(doc! {"createRole": "bedReader", "privileges": [
    {"resource": {"db": "ward", "collection": "beds"}, "actions": ["find"]}], "roles": []})
        .await
        .unwrap();
    ward.run_command(doc! {"createUser": "svc_ward", "pwd": "ward-pass-456",
    "roles": [{"role": "bedReader", "db": "ward"}, {"role": "read", "db": "ward"}]})
        .await
        .unwrap();
    let privileges = role_privileges(&client, "ward").await;
    assert!(privileges.contains("bedReader"), "{privileges}");
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ward.archive");
    let file_s = file.to_str().unwrap();
    let uri = server.uri();
    mongoctl(
        spec.path(),
        &[
            "backup",
            "--db",
            "ward",
            "--users-and-roles",
            "--gzip",
            "--archive",
            file_s,
        ],
    )
    .uri(&uri)
    .run()
    .expect_code(0);
    assert_eq!(mode(&file), 0o600, "an archive holding credential hashes");
    mongoctl(spec.path(), &["backup", "verify", file_s])
        .run()
        .expect_code(0);
    // The manifest counts the saved users and roles, and verify checks those counts too.
    let manifest_file = tmp.path().join("ward.archive.manifest.json");
    let text = std::fs::read_to_string(&manifest_file).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let versions = client
        .database("admin")
        .collection::<Document>("system.version")
        .count_documents(doc! {})
        .await
        .unwrap();
    let saved: Vec<String> = manifest["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["namespace"].as_str().unwrap().contains("$admin"))
        .map(|n| format!("{} {} {}", n["namespace"], n["type"], n["documents"]))
        .collect();
    assert_eq!(
        saved,
        [
            r#""ward.$admin.system.users" "users" 1"#,
            r#""ward.$admin.system.roles" "roles" 1"#,
            format!(r#""ward.$admin.system.version" "authSchema" {versions}"#).as_str(),
        ]
    );
    for n in manifest["namespaces"].as_array_mut().unwrap() {
        if n["namespace"] == "ward.$admin.system.users" {
            n["documents"] = 2.into();
        }
    }
    std::fs::write(&manifest_file, manifest.to_string()).unwrap();
    let v = mongoctl(spec.path(), &["backup", "verify", file_s]).run();
    v.expect_code(1);
    assert!(
        v.stderr
            .contains("ward.$admin.system.users holds 1 documents, the manifest says 2"),
        "{}",
        v.stderr
    );
    std::fs::write(&manifest_file, text).unwrap();
    let o = mongoctl(
        spec.path(),
        &[
            "restore",
            "--archive",
            file_s,
            "--users-and-roles",
            "--ns-from",
            "ward.*",
            "--ns-to",
            "ward_file.*",
        ],
    )
    .uri(&uri)
    .run();
    o.expect_code(0);
    assert!(o.stdout.contains("1 user(s), 1 role(s)"), "{}", o.stdout);

    // Through pipes: backup to stdout, restore from stdin.
    let (code, archive) = piped(
        spec.path(),
        &uri,
        &[
            "backup",
            "--db",
            "ward",
            "--users-and-roles",
            "--archive",
            "-",
        ],
        None,
    );
    assert_eq!(code, 0);
    let (code, _) = piped(
        spec.path(),
        &uri,
        &[
            "restore",
            "--archive",
            "-",
            "--users-and-roles",
            "--ns-from",
            "ward.*",
            "--ns-to",
            "ward_stdin.*",
        ],
        Some(archive),
    );
    assert_eq!(code, 0);

    let port = server.ports()[0];
    for db in ["ward_file", "ward_stdin"] {
        assert_eq!(
            user_roles(&client, db, "svc_ward").await,
            [format!("bedReader@{db}"), format!("read@{db}")]
        );
        assert_eq!(role_privileges(&client, db).await, privileges);
        // The saved credentials log in to the renamed database with the same password.
        let uri = format!("mongodb://svc_ward:ward-pass-456@127.0.0.1:{port}/{db}?authSource={db}");
        let c = Client::with_uri_str(&uri).await.unwrap();
        let n = c
            .database(db)
            .collection::<Document>("beds")
            .count_documents(doc! {})
            .await
            .unwrap();
        assert_eq!(n, 2, "{db}");
    }
    // Without --users-and-roles the archive's users and roles are left alone.
    mongoctl(
        spec.path(),
        &[
            "restore",
            "--archive",
            file_s,
            "--ns-from",
            "ward.*",
            "--ns-to",
            "ward_data.*",
        ],
    )
    .uri(&uri)
    .run()
    .expect_code(0);
    let info = client
        .database("ward_data")
        .run_command(doc! {"usersInfo": 1})
        .await
        .unwrap();
    assert!(info.get_array("users").unwrap().is_empty(), "{info}");
}

/// `n` documents of ~300 bytes in `db.bulk`.
async fn insert_bulk(client: &Client, db: &str, n: i32) {
    let docs = (0..n).map(|i| doc! {"_id": i, "pad": "y".repeat(300)});
    client
        .database(db)
        .collection::<Document>("bulk")
        .insert_many(docs)
        .await
        .unwrap();
}

/// An oplog of many MiB (many archive segments, one streamed file) replays completely, from
/// an archive and from a gzip directory. The writer rewrites 16 KiB fields of a few
/// documents: the oplog grows fast while the collection stays small. A failpoint holds the
/// backup's first `getMore` for 8 s, so the writer's updates pile up however fast the
/// machine runs the rest of the backup.
#[tokio::test]
async fn large_oplog_streams_into_archive_and_gzip_directory() {
    const DOCS: i32 = 20;
    const APP: &str = "bigop-backup";
    let server = common::replica_set(1).await;
    let client = server.client();
    // Large enough that the backup reads it with more than one batch (a getMore).
    insert_bulk(&client, "bigop", 60_000).await;
    let live = client.database("bigop").collection::<Document>("live");
    live.insert_many((0..DOCS).map(|i| doc! {"_id": i, "v": -1, "pad": ""}))
        .await
        .unwrap();
    let spec = spec();
    let tmp = tempfile::tempdir().unwrap();
    let uri = server.uri();
    let backup_uri = format!("{uri}&appName={APP}");
    let mut v = 0i64;
    for (name, args) in [
        ("bigop.archive", ["--archive"].as_slice()),
        ("bigop_dir", ["--gzip", "--out"].as_slice()),
    ] {
        let path_s = tmp.path().join(name).to_str().unwrap().to_string();
        // Held long enough for well over 100 updates even on a loaded 2-core machine.
        let armed = hold_commands(&client, APP, &["getMore"], 8000, Some(1)).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let c = live.clone();
        let writer = tokio::spawn(async move {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let pad = format!("{v:08}").repeat(2048);
                c.update_one(
                    doc! {"_id": (v % DOCS as i64) as i32},
                    doc! {"$set": {"v": v, "pad": pad}},
                )
                .await
                .unwrap();
                v += 1;
            }
            v
        });
        let mut a: Vec<String> = ["backup", "--db", "bigop", "--oplog", "-o", "json"]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect();
        a.push(path_s.clone());
        let (spec_path, uri2) = (spec.path().to_path_buf(), backup_uri.clone());
        let out = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
            mongoctl(&spec_path, &a).uri(&uri2).run()
        })
        .await
        .unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        v = writer.await.unwrap();
        out.expect_code(0);
        let held = release_commands(&client).await - armed;
        assert_eq!(
            held, 1,
            "{name}: the backup's getMore was held {held} times"
        );
        let m = out.json()["manifest"].clone();
        let entries = m["oplog"]["entries"].as_u64().unwrap();
        assert!(
            entries > 100,
            "{name}: only {entries} oplog entries captured"
        );
        let end = &m["oplog"]["end"];
        let end_ts = bson::Timestamp {
            time: end[0].as_u64().unwrap() as u32,
            increment: end[1].as_u64().unwrap() as u32,
        };
        mongoctl(spec.path(), &["backup", "verify", &path_s])
            .run()
            .expect_code(0);
        let dst = format!("{}_copy", name.replace('.', "_"));
        let to = format!("{dst}.*");
        let mut r = vec![
            "restore",
            "--oplog-replay",
            "--ns-from",
            "bigop.*",
            "--ns-to",
            &to,
        ];
        if name.ends_with("archive") {
            r.push("--archive");
        }
        r.push(&path_s);
        mongoctl(spec.path(), &r).uri(&uri).run().expect_code(0);
        // Each document holds its last update at or before the oplog's end.
        let updates: Vec<Document> = client
            .database("local")
            .collection::<Document>("oplog.rs")
            .find(doc! {"ns": "bigop.live", "op": "u", "ts": {"$lte": end_ts}})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let mut expected = std::collections::BTreeMap::new();
        for u in &updates {
            let id = u.get_document("o2").unwrap().get_i32("_id").unwrap();
            let o = u.get_document("o").unwrap();
            let set = o
                .get_document("diff")
                .and_then(|d| d.get_document("u"))
                .or_else(|_| o.get_document("$set"))
                .unwrap();
            let val = set.get_i64("v").unwrap();
            let e = expected.entry(id).or_insert(-1);
            *e = val.max(*e);
        }
        let docs = all(&client, &dst, "live").await;
        assert_eq!(docs.len(), DOCS as usize, "{name}");
        for d in docs {
            let id = d.get_i32("_id").unwrap();
            let got = match d.get("v").unwrap() {
                Bson::Int32(x) => *x as i64,
                Bson::Int64(x) => *x,
                other => panic!("{other}"),
            };
            assert_eq!(
                got,
                expected.get(&id).copied().unwrap_or(-1),
                "{name}: _id {id}"
            );
        }
    }
}

/// From stdin there is no manifest to check first: a damaged archive is caught by the
/// collection's CRC at its EOF block, and the restore fails naming that collection.
#[tokio::test]
async fn a_damaged_archive_on_stdin_fails_on_its_crc() {
    let server = common::standalone().await;
    let client = server.client();
    seed(&client, "clinic", 50).await;
    let spec = spec();
    let (code, mut arch) = piped(
        spec.path(),
        &server.uri(),
        &["backup", "--db", "clinic", "--archive", "-", "-q"],
        None,
    );
    assert_eq!(code, 0);
    // Damage one string inside a document: the BSON stays well-formed, only the CRC differs.
    let at = arch
        .windows(9)
        .position(|w| w == b"MRN000010")
        .expect("the document in the archive");
    arch[at] ^= 0x20;
    let (code, out) = piped(
        spec.path(),
        &server.uri(),
        &[
            "restore",
            "--archive",
            "-",
            "--ns-from",
            "clinic.*",
            "--ns-to",
            "copy.*",
            "-o",
            "json",
        ],
        Some(arch),
    );
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let ns = |target: &str| {
        report["report"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["target"] == target)
            .cloned()
            .unwrap_or_else(|| panic!("{target} in {report}"))
    };
    let damaged = ns("copy.patients");
    let status = damaged["status"].as_str().unwrap();
    assert!(status.contains("clinic.patients: CRC mismatch"), "{status}");
    // Its only batch was still held back when the CRC came: nothing of it was inserted.
    assert_eq!(damaged["inserted"], 0);
    assert_eq!(all(&client, "copy", "patients").await.len(), 0);
    assert_eq!(ns("copy.events")["status"], "ok");
}

/// Arms the server's `failCommand` failpoint: the next `times` (or all, with `None`) of
/// `commands` sent by clients named `app` wait `ms` milliseconds before they run. Returns
/// how often the failpoint was entered so far (a server-lifetime count).
pub(crate) async fn hold_commands(
    client: &mongodb::Client,
    app: &str,
    commands: &[&str],
    ms: i32,
    times: Option<i32>,
) -> i32 {
    let mode = match times {
        Some(n) => bson::Bson::Document(doc! {"times": n}),
        None => bson::Bson::String("alwaysOn".into()),
    };
    let data = doc! {"failCommands": commands, "blockConnection": true, "blockTimeMS": ms};
    arm_fail_command(client, app, mode, data).await
}

/// Arms `failCommand` for the commands of clients named `app`: `mode` as the server takes it
/// (`{times: n}`, `{skip: n}`, "alwaysOn"), `data` saying which commands and what happens.
pub(crate) async fn arm_fail_command(
    client: &mongodb::Client,
    app: &str,
    mode: bson::Bson,
    mut data: Document,
) -> i32 {
    data.insert("appName", app);
    let reply = client
        .database("admin")
        .run_command(doc! {"configureFailPoint": "failCommand", "mode": mode, "data": data})
        .await
        .expect("configureFailPoint (the harness starts mongod with enableTestCommands)");
    reply.get_i32("count").unwrap()
}

/// Waits until the `failCommand` failpoint has been entered `times` times in the server's
/// life (the count [`arm_fail_command`] returned, plus the entries awaited): a held command is
/// then held right now, so a test acts while its mongoctl is certainly midway.
pub(crate) async fn wait_for_fail_point(client: &mongodb::Client, times: i32) {
    client
        .database("admin")
        .run_command(doc! {
            "waitForFailPoint": "failCommand",
            "timesEntered": i64::from(times),
            "maxTimeMS": 60_000,
        })
        .await
        .expect("the failpoint was not entered within 60 s");
}

/// Turns the `failCommand` failpoint off; returns how often it was entered so far.
pub(crate) async fn release_commands(client: &mongodb::Client) -> i32 {
    client
        .database("admin")
        .run_command(doc! {"configureFailPoint": "failCommand", "mode": "off"})
        .await
        .unwrap()
        .get_i32("count")
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Collection names are data, never paths

/// Collection names that would be paths if used as they are (absolute — under `victim_dir`,
/// so that a regression writes where the test looks —, climbing, nested), escapes, a space,
/// non-ASCII, and long names whose escaped form needs mongodump's hashed 238-byte stem.
pub(crate) fn hostile_names(victim_dir: &Path) -> Vec<String> {
    vec![
        format!("{}/victim", victim_dir.display()),
        "a/b".into(),
        // The server refuses names starting with '.' (so ".." itself); this one climbs out.
        "x/../../../escaped".into(),
        "dots..".into(),
        "%41".into(),
        "with space".into(),
        "données".into(),
        format!("long_{}", "é".repeat(100)),
        "x".repeat(240),
    ]
}

/// Creates each collection of `names` in `db` with three documents that carry its name.
pub(crate) async fn seed_names(client: &Client, db: &str, names: &[String]) {
    for name in names {
        let docs: Vec<Document> = (0..3).map(|i| doc! {"_id": i, "coll": name}).collect();
        client
            .database(db)
            .collection::<Document>(name)
            .insert_many(docs)
            .await
            .unwrap_or_else(|e| panic!("creating {name:?}: {e}"));
    }
}

/// Every file and directory under `root`, recursively (symbolic links not followed).
pub(crate) fn tree(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        let e = e.unwrap();
        out.push(e.path());
        if e.file_type().unwrap().is_dir() {
            out.extend(tree(&e.path()));
        }
    }
    out
}

/// Asserts that `dst` holds exactly the collections `names`, each with the documents `src`
/// has under the same name.
pub(crate) async fn assert_names_round_trip(
    client: &Client,
    src: &str,
    dst: &str,
    names: &[String],
) {
    let mut got = client.database(dst).list_collection_names().await.unwrap();
    got.sort();
    let mut want = names.to_vec();
    want.sort();
    assert_eq!(got, want, "collections of {dst}");
    for name in names {
        assert_eq!(
            all(client, dst, name).await,
            all(client, src, name).await,
            "{dst}.{name}"
        );
    }
}

#[tokio::test]
async fn hostile_collection_names_stay_inside_the_backup_and_round_trip() {
    let server = common::standalone().await;
    let client = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let names = hostile_names(tmp.path());
    seed_names(&client, "hostile", &names).await;
    let spec = spec();
    // The whole cluster (a collection "a/b" used to make this fail), then one database gzipped.
    let forms: [(&str, &[&str]); 2] = [("plain", &[]), ("gzip", &["--db", "hostile", "--gzip"])];
    for (form, extra) in forms {
        let out = tmp.path().join(format!("out_{form}"));
        let mut args = vec!["backup", "--out", out.to_str().unwrap()];
        args.extend(extra);
        mongoctl(spec.path(), &args)
            .uri(&server.uri())
            .run()
            .expect_code(0);
        mongoctl(spec.path(), &["backup", "verify", out.to_str().unwrap()])
            .run()
            .expect_code(0);
        let gz = if form == "gzip" { ".gz" } else { "" };
        // mongodump's names: url.QueryEscape of the collection name.
        for stem in [
            "a%2Fb",
            "x%2F..%2F..%2F..%2Fescaped",
            "dots..",
            "%2541",
            "with+space",
            "donn%C3%A9es",
        ] {
            let f = out.join(format!("hostile/{stem}.bson{gz}"));
            assert!(f.is_file(), "{}", f.display());
        }
        let long_stems: Vec<String> = tree(&out.join("hostile"))
            .iter()
            .filter_map(|p| {
                p.file_name()?
                    .to_str()?
                    .strip_suffix(&format!(".bson{gz}"))
                    .map(str::to_string)
            })
            .filter(|s| s.len() == 238)
            .collect();
        assert_eq!(long_stems.len(), 2, "{long_stems:?}");
        assert!(
            long_stems.iter().all(|s| s.contains("%24")),
            "{long_stems:?}"
        );

        let restored = format!("back_{form}");
        let o = mongoctl(
            spec.path(),
            &[
                "restore",
                out.to_str().unwrap(),
                "--ns-from",
                "hostile.*",
                "--ns-to",
                &format!("{restored}.*"),
            ],
        )
        .uri(&server.uri())
        .run();
        o.expect_code(0);
        assert_names_round_trip(&client, "hostile", &restored, &names).await;
    }
    // Nothing outside the two --out directories: no victim file, no escaped one.
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["out_gzip", "out_plain"]);
    for p in tree(tmp.path()) {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(
            !name.starts_with("victim") && !name.starts_with("escaped"),
            "{}",
            p.display()
        );
    }
}
