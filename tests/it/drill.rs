//! `backup drill` against real servers: a drill that passes (counts, content digests, options,
//! indexes, the spec's validators) and leaves no scratch server or database behind, is
//! recorded beside the backup and in the metadata database and shown by `backup list`; and
//! drills that must fail: a document changed in the backup after its manifest was written, a
//! validator the backed-up data violates, an index missing from the backup's metadata.

use std::path::Path;

use bson::{Document, doc};
use serde_json::Value;

use crate::backup_crypto::keygen;
use crate::common;
use crate::support::{mongoctl, repo};
use crate::verify::collections_only_copy;

/// The repository's workspace applied (collections, validators, indexes, seeds) and a few
/// valid users, which the spec's schema accepts.
async fn applied(server: &common::TestServer) -> tempfile::TempDir {
    let ws = collections_only_copy(&repo());
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let users: Vec<Document> = (0..50)
        .map(|i| {
            doc! {
                "email": format!("drill{i:03}@example.org"),
                "hashed_password": "$2b$12$abcdefghijklmnopqrstuv",
                "full_name": format!("Drill User {i:03}"),
                "role": "nurse",
                "is_active": true,
                "approval_status": "approved",
                "created_at": bson::DateTime::now(),
            }
        })
        .collect();
    server
        .client()
        .database("reminderdb_auth")
        .collection::<Document>("users")
        .insert_many(users)
        .await
        .unwrap();
    ws
}

/// Replaces the manifest's length and checksums of `rel` by the file's own, so that only the
/// drill's content digest (or the spec) can tell the file was changed.
fn rehash(backup: &Path, rel: &str) {
    let path = backup.join("manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (bytes, sums) = mongoctl::backup::checksum::hash_file(&backup.join(rel)).unwrap();
    let f = m["files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["path"] == rel)
        .unwrap_or_else(|| panic!("{rel} not in the manifest"));
    f["bytes"] = bytes.into();
    for (k, v) in serde_json::to_value(&sums).unwrap().as_object().unwrap() {
        f[k] = v.clone();
    }
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn findings(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["namespace"].as_str().unwrap().to_string(),
                f["check"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_scratch_gone(report: &Value) {
    let s = &report["scratch"];
    assert_eq!(s["kind"], "server", "{s}");
    assert_eq!(s["cleaned_up"], true, "{s}");
    let pid = s["pid"].as_u64().unwrap() as u32;
    assert!(
        !mongoctl::mongod::pid_is_running(pid),
        "scratch mongod {pid} still runs"
    );
    let dbpath = s["dbpath"].as_str().unwrap();
    assert!(!Path::new(dbpath).exists(), "{dbpath} still exists");
}

#[tokio::test]
async fn a_drill_passes_is_recorded_and_leaves_nothing_behind() {
    let server = common::standalone().await;
    let ws = applied(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let full = backups.join("auth");
    let out = mongoctl(
        ws.path(),
        &[
            "backup",
            "--db",
            "reminderdb_auth",
            "--out",
            full.to_str().unwrap(),
        ],
    )
    .uri(&server.uri())
    .run();
    out.expect_code(0);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("manifest.json")).unwrap())
            .unwrap();
    let users = manifest["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == "reminderdb_auth.users")
        .unwrap();
    assert_eq!(users["documents"], 50);
    assert_eq!(users["digest"].as_str().unwrap().len(), 32, "{users}");

    // Scratch server; recorded in the cluster MONGODB_URI names.
    let out = mongoctl(
        ws.path(),
        &["backup", "drill", full.to_str().unwrap(), "-o", "json"],
    )
    .env("MONGODB_URI", &server.uri())
    .run();
    out.expect_code(0);
    let j = out.json();
    let r = &j["report"];
    assert_eq!(j["ok"], true, "{r}");
    assert!(findings(r).is_empty(), "{r}");
    let nss = r["namespaces"].as_array().unwrap();
    let users = nss
        .iter()
        .find(|n| n["namespace"] == "reminderdb_auth.users")
        .unwrap();
    assert_eq!(users["restored_documents"], 50, "{users}");
    assert_eq!(users["content"], "digest", "{users}");
    assert_eq!(users["restored_as"], "reminderdb_auth.users");
    assert!(users["indexes"].as_u64().unwrap() >= 6, "{users}");
    let validated = r["validators"].as_array().unwrap();
    let v = validated
        .iter()
        .find(|c| c["collection"] == "users")
        .unwrap_or_else(|| panic!("{validated:?}"));
    assert_eq!(v["violating"], 0, "{v}");
    assert!(v["skipped"].is_null(), "{v}");
    assert!(r["rto"]["restore_secs"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["rto"]["data_bytes"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["rpo"]["from"], "manifest finished_at");
    assert!(r["rpo"]["age_secs"].as_f64().unwrap() >= 0.0, "{r}");
    assert_scratch_gone(r);
    let recorded = server
        .client()
        .database("mongoctl")
        .collection::<Document>("backup_drills")
        .find_one(doc! {"backup": full.to_str().unwrap()})
        .await
        .unwrap()
        .expect("the drill is recorded in mongoctl.backup_drills");
    assert_eq!(recorded.get_bool("passed"), Ok(true));

    // drill.json is part of the backup's format: verify accepts it; list shows the drill.
    assert!(full.join("drill.json").exists());
    mongoctl(ws.path(), &["backup", "verify", full.to_str().unwrap()])
        .run()
        .expect_code(0);

    // An archive, into prefixed scratch databases of --uri (dropped afterwards).
    let archive = backups.join("auth.archive");
    mongoctl(
        ws.path(),
        &[
            "backup",
            "--db",
            "reminderdb_auth",
            "--gzip",
            "--archive",
            archive.to_str().unwrap(),
        ],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    let out = mongoctl(
        ws.path(),
        &[
            "backup",
            "drill",
            archive.to_str().unwrap(),
            "--prefix",
            "drill_t_",
            "-o",
            "json",
        ],
    )
    .uri(&server.uri())
    .run();
    out.expect_code(0);
    let r = &out.json()["report"];
    assert_eq!(r["scratch"]["kind"], "prefix");
    assert_eq!(r["scratch"]["cleaned_up"], true);
    let users = r["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == "reminderdb_auth.users")
        .unwrap();
    assert_eq!(users["restored_as"], "drill_t_reminderdb_auth.users");
    assert_eq!(users["content"], "digest");
    let dbs = server.client().list_database_names().await.unwrap();
    assert!(!dbs.iter().any(|d| d.starts_with("drill_t_")), "{dbs:?}");
    assert!(backups.join("auth.archive.drill.json").exists());

    // A backup without digests (an older mongoctl's): counts only, said plainly; still passes.
    let old = backups.join("old");
    copy_dir(&full, &old);
    let mpath = old.join("manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    for n in m["namespaces"].as_array_mut().unwrap() {
        n.as_object_mut().unwrap().remove("digest");
    }
    std::fs::write(&mpath, serde_json::to_string(&m).unwrap()).unwrap();
    std::fs::remove_file(old.join("drill.json")).unwrap();
    let out = mongoctl(ws.path(), &["backup", "drill", old.to_str().unwrap()]).run();
    out.expect_code(0);
    assert!(out.stdout.contains("counts only"), "{}", out.stdout);
    assert!(out.stdout.contains("PASSED"), "{}", out.stdout);
    assert!(
        out.stdout.contains("not recorded in a cluster"),
        "{}",
        out.stdout
    );

    let out = mongoctl(
        ws.path(),
        &["backup", "list", backups.to_str().unwrap(), "-o", "json"],
    )
    .run();
    out.expect_code(0);
    let list = out.json()["backups"].as_array().unwrap().clone();
    let names: Vec<&str> = list.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "the drill files are no backups: {names:?}");
    for b in &list {
        assert_eq!(b["last_drill"]["passed"], true, "{b}");
        assert!(
            b["last_drill"]["restore_secs"].as_f64().unwrap() > 0.0,
            "{b}"
        );
    }
    let out = mongoctl(ws.path(), &["backup", "list", backups.to_str().unwrap()]).run();
    assert!(out.stdout.contains("last drill"), "{}", out.stdout);
    assert!(out.stdout.contains("passed, RTO"), "{}", out.stdout);
}

#[tokio::test]
async fn drills_fail_on_a_changed_document_a_violated_validator_and_a_missing_index() {
    let server = common::standalone().await;
    let ws = applied(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let backup = |name: &str| {
        let p = dir.path().join(name);
        mongoctl(
            ws.path(),
            &[
                "backup",
                "--db",
                "reminderdb_auth",
                "--out",
                p.to_str().unwrap(),
            ],
        )
        .uri(&server.uri())
        .run()
        .expect_code(0);
        p
    };

    // 1. One document changed in the BSON after the manifest was written, re-hashed: the
    // checksums pass (backup verify says OK), only the content digest catches it.
    let changed = backup("changed");
    let file = changed.join("reminderdb_auth/users.bson");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes
        .windows(14)
        .position(|w| w == b"Drill User 007")
        .unwrap();
    bytes[at + 13] = b'X';
    std::fs::write(&file, &bytes).unwrap();
    rehash(&changed, "reminderdb_auth/users.bson");
    mongoctl(ws.path(), &["backup", "verify", changed.to_str().unwrap()])
        .run()
        .expect_code(0);
    let out = mongoctl(
        ws.path(),
        &["backup", "drill", changed.to_str().unwrap(), "-o", "json"],
    )
    .run();
    out.expect_code(2);
    let r = &out.json()["report"];
    let f = findings(r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].0.as_str(), f[0].1.as_str()),
        ("reminderdb_auth.users", "digest"),
        "{f:?}"
    );
    assert_eq!(r["passed"], false);
    assert_scratch_gone(r);
    let table = mongoctl(ws.path(), &["backup", "drill", changed.to_str().unwrap()]).run();
    table.expect_code(2);
    assert!(
        table
            .stdout
            .contains("MISMATCH reminderdb_auth.users [digest]"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("FAILED"), "{}", table.stdout);

    // 2. A workspace whose schema the backed-up data breaks: counted and explained.
    let plain = backup("plain");
    let strict = collections_only_copy(ws.path());
    let schema_path = strict.path().join("schemas/auth/users.json");
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    schema["required"]
        .as_array_mut()
        .unwrap()
        .push("nickname".into());
    std::fs::write(&schema_path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
    let out = mongoctl(
        strict.path(),
        &["backup", "drill", plain.to_str().unwrap(), "-o", "json"],
    )
    .run();
    out.expect_code(2);
    let r = &out.json()["report"];
    let f = findings(r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].0.as_str(), f[0].1.as_str()),
        ("reminderdb_auth.users", "validator")
    );
    let v = r["validators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["collection"] == "users")
        .unwrap();
    assert_eq!(v["violating"], 50, "{v}");
    let reasons = v["samples"][0]["reasons"].to_string();
    assert!(reasons.contains("nickname"), "{reasons}");
    // The same backup against the workspace it was made under passes.
    mongoctl(ws.path(), &["backup", "drill", plain.to_str().unwrap()])
        .run()
        .expect_code(0);

    // 3. An index removed from the backup's metadata (re-hashed): restored without it,
    // consistently with the backup, but the spec declares it.
    let lost = backup("lost-index");
    let meta_rel = "reminderdb_auth/users.metadata.json";
    let mut meta: Value =
        serde_json::from_str(&std::fs::read_to_string(lost.join(meta_rel)).unwrap()).unwrap();
    let before = meta["indexes"].as_array().unwrap().len();
    meta["indexes"]
        .as_array_mut()
        .unwrap()
        .retain(|i| i["name"] != "pending_approvals");
    assert_eq!(meta["indexes"].as_array().unwrap().len(), before - 1);
    std::fs::write(lost.join(meta_rel), serde_json::to_string(&meta).unwrap()).unwrap();
    rehash(&lost, meta_rel);
    mongoctl(ws.path(), &["backup", "verify", lost.to_str().unwrap()])
        .run()
        .expect_code(0);
    let out = mongoctl(
        ws.path(),
        &["backup", "drill", lost.to_str().unwrap(), "-o", "json"],
    )
    .run();
    out.expect_code(2);
    let r = &out.json()["report"];
    let f = findings(r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].0.as_str(), f[0].1.as_str()),
        ("reminderdb_auth.users", "indexes")
    );
    assert!(f[0].2.contains("pending_approvals"), "{f:?}");
    assert_scratch_gone(r);

    // backup list shows the failed drills.
    let out = mongoctl(
        ws.path(),
        &["backup", "list", dir.path().to_str().unwrap(), "-o", "json"],
    )
    .run();
    let list = out.json()["backups"].as_array().unwrap().clone();
    let drilled = |name: &str| {
        list.iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {list:?}"))["last_drill"]["passed"]
            .clone()
    };
    assert_eq!(drilled("changed"), false);
    assert_eq!(drilled("lost-index"), false);
    // plain's last drill is the passing one, under its own workspace.
    assert_eq!(drilled("plain"), true);
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// An encrypted backup drills with its identity (contents checked against the digests of the
/// plaintext), and is refused before any scratch database exists without one, with the wrong
/// one, or with a flipped byte; no output holds the secret key.
#[tokio::test]
async fn an_encrypted_backup_drills_with_its_identity_only() {
    let server = common::standalone().await;
    let ws = applied(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mut keygen_outputs = Vec::new();
    let (key, recipient, secret) = keygen(dir.path(), "ops.key", &mut keygen_outputs);
    let (wrong, _, _) = keygen(dir.path(), "wrong.key", &mut keygen_outputs);
    let backup = dir.path().join("enc");
    mongoctl(
        ws.path(),
        &[
            "backup",
            "--db",
            "reminderdb_auth",
            "--gzip",
            "--encrypt-to",
            &recipient,
            "--out",
            backup.to_str().unwrap(),
        ],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    let drill = |identity: Option<&Path>| {
        let mut a = vec![
            "backup",
            "drill",
            backup.to_str().unwrap(),
            "--prefix",
            "drill_e_",
            "-o",
            "json",
        ];
        if let Some(id) = identity {
            a.extend(["--identity", id.to_str().unwrap()]);
        }
        mongoctl(ws.path(), &a).uri(&server.uri()).run()
    };
    let no_scratch = || async {
        let dbs = server.client().list_database_names().await.unwrap();
        assert!(!dbs.iter().any(|d| d.starts_with("drill_e_")), "{dbs:?}");
    };

    let out = drill(None);
    out.expect_code(1);
    assert!(out.all().contains("--identity"), "{}", out.all());
    no_scratch().await;
    let out = drill(Some(&wrong));
    out.expect_code(1);
    assert!(out.all().contains("identity"), "{}", out.all());
    no_scratch().await;

    let out = drill(Some(&key));
    out.expect_code(0);
    let r = &out.json()["report"];
    assert!(findings(r).is_empty(), "{r}");
    let users = r["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == "reminderdb_auth.users")
        .unwrap();
    assert_eq!(users["restored_documents"], 50, "{users}");
    assert_eq!(users["content"], "digest", "{users}");
    no_scratch().await;
    assert!(!out.all().contains(&secret));

    // One flipped byte in the middle of the encrypted users file: refused, nothing restored.
    let file = std::fs::read_dir(backup.join("reminderdb_auth"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("users.bson.gz.age"))
        .expect("the encrypted users file");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    let out = drill(Some(&key));
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("users.bson.gz.age"), "{}", out.all());
    assert!(!out.all().contains(&secret));
    no_scratch().await;
}
