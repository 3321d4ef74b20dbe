//! What `restore` checks before its first write, and `--drop`'s swap: a damaged or
//! mislabelled backup (re-hashed into its manifest, so the checksums pass) and a failure
//! midway both leave the target's old data as it was, and no temporary collection behind.

use std::path::{Path, PathBuf};

use bson::{Document, doc};
use mongodb::Client;

use crate::backup::{all, arm_fail_command, release_commands};
use crate::common;
use crate::support::mongoctl;

const DOCS: i32 = 3000;

/// `t.c` with 3,000 documents (generation 1) and an index, backed up into `<tmp>/b`; then
/// the live collection moves on to generation 2, which a failed restore must leave in place.
async fn seeded_backup(server: &common::TestServer) -> (tempfile::TempDir, PathBuf) {
    let client = server.client();
    let c = client.database("t").collection::<Document>("c");
    let docs: Vec<Document> = (0..DOCS)
        .map(|i| doc! {"_id": i, "v": i, "gen": 1, "pad": "x".repeat(100)})
        .collect();
    c.insert_many(docs).await.unwrap();
    client
        .database("t")
        .run_command(doc! {"createIndexes": "c", "indexes": [{"key": {"v": 1}, "name": "v_1"}]})
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    mongoctl(
        tmp.path(),
        &["backup", "--db", "t", "--out", dir.to_str().unwrap()],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    c.update_many(doc! {}, doc! {"$set": {"gen": 2}})
        .await
        .unwrap();
    (tmp, dir)
}

/// The old data is all there: 3,000 documents of generation 2, and no temporary collection.
async fn assert_untouched(client: &Client) {
    let docs = all(client, "t", "c").await;
    assert_eq!(docs.len(), DOCS as usize);
    assert!(
        docs.iter().all(|d| d.get_i32("gen") == Ok(2)),
        "old data changed"
    );
    assert_no_temp(client).await;
}

async fn assert_no_temp(client: &Client) {
    let names = client.database("t").list_collection_names().await.unwrap();
    assert!(
        names.iter().all(|n| !n.contains("mongoctl_restore")),
        "{names:?}"
    );
}

/// Records `rel`'s new length and BLAKE3 digest in the manifest (no CRC-32C): the checksums pass.
fn rehash(dir: &Path, rel: &str) {
    let bytes = std::fs::read(dir.join(rel)).unwrap();
    let mpath = dir.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    let f = m["files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["path"] == rel)
        .unwrap()
        .as_object_mut()
        .unwrap();
    f.insert("bytes".into(), bytes.len().into());
    f.insert(
        "blake3".into(),
        blake3::hash(&bytes).to_hex().to_string().into(),
    );
    f.remove("crc32c");
    std::fs::write(&mpath, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn edit_metadata(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("t/c.metadata.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, v.to_string()).unwrap();
    rehash(dir, "t/c.metadata.json");
}

fn restore_drop(spec: &Path, uri: &str, dir: &Path) -> crate::support::Output {
    mongoctl(
        spec,
        &[
            "restore",
            dir.to_str().unwrap(),
            "--drop",
            "--yes",
            "-o",
            "json",
        ],
    )
    .uri(uri)
    .run()
}

#[tokio::test]
async fn a_string_validator_or_a_bad_index_spec_restores_nothing_and_keeps_the_old_data() {
    let server = common::standalone().await;
    let client = server.client();
    let (tmp, dir) = seeded_backup(&server).await;
    let original = std::fs::read(dir.join("t/c.metadata.json")).unwrap();
    let manifest = std::fs::read(dir.join("manifest.json")).unwrap();

    edit_metadata(&dir, |v| v["options"]["validator"] = "x".into());
    let o = restore_drop(tmp.path(), &server.uri(), &dir);
    o.expect_code(1);
    assert!(
        o.stderr
            .contains("t/c.metadata.json: invalid metadata: options.validator"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("nothing was restored"), "{}", o.stderr);
    assert_untouched(&client).await;

    // A spec of the right shape that the server refuses: found on the temporary collection.
    std::fs::write(dir.join("t/c.metadata.json"), &original).unwrap();
    std::fs::write(dir.join("manifest.json"), &manifest).unwrap();
    edit_metadata(&dir, |v| {
        v["indexes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"v": 2, "key": {"v": "bogus"}, "name": "v_bogus"}));
    });
    let o = restore_drop(tmp.path(), &server.uri(), &dir);
    o.expect_code(1);
    assert!(
        o.stderr.contains(
            "t/c.metadata.json: the server refuses the options, validator or indexes of t.c"
        ),
        "{}",
        o.stderr
    );
    assert!(!o.all().contains("RawDocumentBuf"), "{}", o.all());
    assert_untouched(&client).await;
}

#[tokio::test]
async fn a_truncated_data_file_rehashed_into_the_manifest_restores_nothing() {
    let server = common::standalone().await;
    let client = server.client();
    let (tmp, dir) = seeded_backup(&server).await;
    let path = dir.join("t/c.bson");
    let bytes = std::fs::read(&path).unwrap();
    // Cut two thirds in, inside a document: the last whole one ends at `end`.
    let cut = bytes.len() * 2 / 3 + 7;
    let mut end = 0;
    while end + 4 <= cut {
        let len = i32::from_le_bytes(bytes[end..end + 4].try_into().unwrap()) as usize;
        if end + len > cut {
            break;
        }
        end += len;
    }
    assert!(end < cut, "the cut fell on a document boundary");
    std::fs::write(&path, &bytes[..cut]).unwrap();
    rehash(&dir, "t/c.bson");
    let o = restore_drop(tmp.path(), &server.uri(), &dir);
    o.expect_code(1);
    let want = format!(
        "t/c.bson: damaged or truncated: the last whole document ends at byte offset {end}"
    );
    assert!(o.stderr.contains(&want), "{}", o.stderr);
    assert_untouched(&client).await;

    // Cut on a document boundary: whole documents, but fewer than the manifest says.
    std::fs::write(&path, &bytes[..end]).unwrap();
    rehash(&dir, "t/c.bson");
    let o = restore_drop(tmp.path(), &server.uri(), &dir);
    o.expect_code(1);
    assert!(o.stderr.contains("t/c.bson: 2"), "{}", o.stderr);
    assert!(
        o.stderr.contains("documents, the manifest says 3000"),
        "{}",
        o.stderr
    );
    assert_untouched(&client).await;
}

#[tokio::test]
async fn manifest_paths_outside_the_backup_and_unlisted_files_are_refused() {
    let server = common::standalone().await;
    let client = server.client();
    let (tmp, dir) = seeded_backup(&server).await;
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    // An outside file of a recognisable size, which nothing may reveal.
    let outside = tmp.path().join("x.bson");
    std::fs::write(&outside, vec![7u8; 12_345]).unwrap();
    for bad in ["../x.bson", "../../x.bson", "/etc/shadow", "t/../../x.bson"] {
        let m = manifest.replace("\"t/c.bson\"", &serde_json::to_string(bad).unwrap());
        std::fs::write(dir.join("manifest.json"), m).unwrap();
        let o = restore_drop(tmp.path(), &server.uri(), &dir);
        o.expect_code(1);
        assert!(
            o.stderr.contains("which is not a path inside the backup"),
            "{bad}: {}",
            o.stderr
        );
        assert!(
            !o.all().contains("12345") && !o.all().contains("bytes"),
            "{}",
            o.all()
        );
        assert_untouched(&client).await;
    }
    // A symbolic link inside the backup that leads out.
    std::fs::write(dir.join("manifest.json"), &manifest).unwrap();
    let data = std::fs::read(dir.join("t/c.bson")).unwrap();
    std::fs::remove_file(dir.join("t/c.bson")).unwrap();
    std::fs::write(&outside, &data).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("t/c.bson")).unwrap();
    let o = restore_drop(tmp.path(), &server.uri(), &dir);
    o.expect_code(1);
    assert!(
        o.stderr
            .contains("\"t/c.bson\", which is not a path inside"),
        "{}",
        o.stderr
    );
    assert_untouched(&client).await;
    std::fs::remove_file(dir.join("t/c.bson")).unwrap();
    std::fs::write(dir.join("t/c.bson"), &data).unwrap();

    // A file the manifest does not list: named, nothing restored (even without --drop).
    std::fs::write(dir.join("t/extra.bson"), &data[..]).unwrap();
    let o = mongoctl(tmp.path(), &["restore", dir.to_str().unwrap()])
        .uri(&server.uri())
        .run();
    o.expect_code(1);
    assert!(
        o.stderr.contains("not listed in the manifest") && o.stderr.contains("t/extra.bson"),
        "{}",
        o.stderr
    );
    assert_eq!(all(&client, "t", "extra").await.len(), 0);
    assert_untouched(&client).await;
}

#[tokio::test]
async fn a_drop_restore_swaps_the_data_in_or_keeps_the_old_data_when_an_insert_fails() {
    const APP: &str = "failing-drop-restore";
    let server = common::standalone().await;
    let client = server.client();
    let (tmp, dir) = seeded_backup(&server).await;
    // The second insert batch fails: the temporary collection is dropped, the old data kept.
    // (An error the driver takes as a server fault, such as PrimarySteppedDown, would make it
    // select the standalone again first: a command error is the plain case.)
    let fail = doc! {"failCommands": ["insert"], "errorCode": 2};
    arm_fail_command(&client, APP, doc! {"skip": 1}.into(), fail).await;
    let o = mongoctl(
        tmp.path(),
        &[
            "restore",
            dir.to_str().unwrap(),
            "--drop",
            "--yes",
            "--workers",
            "1",
            "-o",
            "json",
        ],
    )
    .uri(&format!("{}&appName={APP}", server.uri()))
    .run();
    release_commands(&client).await;
    o.expect_code(1);
    let n = &o.json()["report"]["namespaces"][0];
    assert_eq!(n["target"], "t.c", "{n}");
    assert_eq!(n["swapped_in"], false, "{n}");
    let status = n["status"].as_str().unwrap();
    assert!(
        status.starts_with("FAILED: BadValue (2): Failing command"),
        "{n}"
    );
    assert!(status.ends_with("not swapped in: t.c is as it was"), "{n}");
    assert!(!o.all().contains("labels:") && !o.all().contains("server response"));
    assert_untouched(&client).await;

    // Without a failure the backup replaces the data: its documents, its index, no temp.
    let o = restore_drop(tmp.path(), &server.uri(), &dir);
    o.expect_code(0);
    assert_eq!(o.json()["report"]["namespaces"][0]["swapped_in"], true);
    let docs = all(&client, "t", "c").await;
    let expected: Vec<Document> = (0..DOCS)
        .map(|i| doc! {"_id": i, "v": i, "gen": 1, "pad": "x".repeat(100)})
        .collect();
    assert!(
        docs == expected,
        "the restored documents differ from the backup"
    );
    let idx: Vec<String> = client
        .database("t")
        .collection::<Document>("c")
        .list_index_names()
        .await
        .unwrap();
    assert!(idx.contains(&"v_1".to_string()), "{idx:?}");
    assert_no_temp(&client).await;
    let journal = crate::support::all_documents(&client, "mongoctl", "restore_progress").await;
    assert!(
        journal.iter().all(|j| !j
            .get_document("_id")
            .unwrap()
            .get_str("ns")
            .unwrap()
            .contains("mongoctl_restore")),
        "{journal:?}"
    );
}
