//! `backup --split`: one collection read in `_id` ranges by several cursors. Every document is
//! in the backup exactly once, whatever the BSON types of the `_id`s (ranges by index order,
//! not type-bracketed filters); the joined `<coll>.bson` and the archive's interleaved blocks
//! pass `backup verify` and restore, with ours and with the real mongorestore; the split
//! points come from the `_id` index alone; with `--oplog` a split backup taken under writes
//! replays to the source's state.

use std::collections::BTreeSet;
use std::path::Path;

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, RawDocumentBuf, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::Client;

use crate::common;
use crate::interop::tools;
use crate::support::mongoctl;

const DB: &str = "split_src";
const COLL: &str = "things";

/// `_id`s of every type an `_id` may have, inserted in an order unrelated to their BSON
/// order: ints, longs, doubles, strings, documents, binaries, ObjectIds, booleans, dates and
/// a null. Each document carries ~1 KiB so that each part spans several chunks.
fn mixed_ids() -> Vec<Bson> {
    let mut ids = vec![Bson::Null, Bson::Boolean(false), Bson::Boolean(true)];
    for i in 0..700 {
        ids.push(Bson::Int32(i));
        ids.push(Bson::Int64(10_000 + i as i64));
        ids.push(Bson::Double(i as f64 + 0.5));
        ids.push(Bson::String(format!("s{i:05}")));
        ids.push(Bson::Document(doc! {"k": i, "t": "x"}));
        ids.push(Bson::ObjectId(ObjectId::from_bytes([
            (i % 251) as u8,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            (i >> 8) as u8,
            i as u8,
        ])));
    }
    for i in 0..100u8 {
        ids.push(Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: vec![i, 7, i],
        }));
        ids.push(Bson::DateTime(bson::DateTime::from_millis(
            1_700_000_000_000 + i as i64,
        )));
    }
    // A deterministic shuffle: the insertion order is not the index order.
    let n = ids.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (i * 7919) % n);
    order.into_iter().map(|i| ids[i].clone()).collect()
}

async fn seed(client: &Client) -> usize {
    let docs: Vec<Document> = mixed_ids()
        .into_iter()
        .enumerate()
        .map(|(n, id)| doc! {"_id": id, "n": n as i64, "pad": "p".repeat(1000)})
        .collect();
    let count = docs.len();
    let c = client.database(DB).collection::<Document>(COLL);
    for batch in docs.chunks(1000) {
        c.insert_many(batch.to_vec()).await.unwrap();
    }
    count
}

async fn raw_sorted(client: &Client, db: &str) -> Vec<RawDocumentBuf> {
    crate::interop::raw_docs(client, db, COLL, doc! {"_id": 1}).await
}

/// The documents of a `.bson` file, in file order.
fn file_docs(path: &Path) -> Vec<RawDocumentBuf> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(RawDocumentBuf::from_bytes(bytes[at..at + len].to_vec()).unwrap());
        at += len;
    }
    out
}

/// Each source document is in `docs` exactly once, byte for byte.
#[track_caller]
fn exactly_once(source: &[RawDocumentBuf], docs: &[RawDocumentBuf], what: &str) {
    assert_eq!(docs.len(), source.len(), "{what}: document count");
    let want: BTreeSet<&[u8]> = source.iter().map(|d| d.as_bytes()).collect();
    let got: BTreeSet<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
    assert_eq!(got.len(), docs.len(), "{what}: a document is there twice");
    assert!(got == want, "{what}: not the source's documents");
}

fn backup_json(uri: &str, args: &[&str]) -> serde_json::Value {
    let spec = tempfile::tempdir().unwrap();
    let mut a = vec!["backup", "--db", DB, "-o", "json"];
    a.extend(args);
    let o = mongoctl(spec.path(), &a).uri(uri).run();
    o.expect_code(0);
    o.json()
}

fn restore_into(uri: &str, dst: &str, args: &[&str]) {
    let spec = tempfile::tempdir().unwrap();
    let from = format!("{DB}.*");
    let to = format!("{dst}.*");
    let mut a = vec!["restore", "--ns-from", &from, "--ns-to", &to];
    a.extend(args);
    mongoctl(spec.path(), &a).uri(uri).run().expect_code(0);
}

fn verify(path: &Path) {
    let spec = tempfile::tempdir().unwrap();
    mongoctl(spec.path(), &["backup", "verify", path.to_str().unwrap()])
        .run()
        .expect_code(0);
}

/// The profiler's `find` commands on the collection (the backup's probes and parts).
async fn profiled_finds(client: &Client) -> Vec<Document> {
    client
        .database(DB)
        .collection::<Document>("system.profile")
        .find(doc! {"op": "query", "ns": format!("{DB}.{COLL}")})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_split_collection_of_mixed_id_types_is_backed_up_whole_in_every_format() {
    let server = common::standalone().await;
    let client = server.client();
    let uri = server.uri();
    let n = seed(&client).await;
    let source = raw_sorted(&client, DB).await;
    assert_eq!(source.len(), n);
    let tmp = tempfile::tempdir().unwrap();

    // Directory: one <coll>.bson, parts joined in order.
    client
        .database(DB)
        .run_command(doc! {"profile": 2})
        .await
        .unwrap();
    let dir = tmp.path().join("dir");
    let out = backup_json(&uri, &["--split", "4", "--out", dir.to_str().unwrap()]);
    assert_eq!(out["split"][format!("{DB}.{COLL}")], 4, "{out}");
    client
        .database(DB)
        .run_command(doc! {"profile": 0})
        .await
        .unwrap();
    let finds = profiled_finds(&client).await;
    let probes: Vec<&Document> = finds
        .iter()
        .filter(|f| f.get_document("command").unwrap().contains_key("skip"))
        .collect();
    assert_eq!(probes.len(), 3, "3 split points: {finds:?}");
    for p in &probes {
        // Read from the _id index alone: no document fetched, no collection scan.
        let examined = match p.get("docsExamined") {
            Some(Bson::Int32(v)) => *v as i64,
            Some(Bson::Int64(v)) => *v,
            other => panic!("docsExamined {other:?} in {p}"),
        };
        assert_eq!(examined, 0, "{p}");
        assert!(
            p.get_str("planSummary")
                .unwrap()
                .contains("IXSCAN { _id: 1 }"),
            "{p}"
        );
    }
    let parts: Vec<&Document> = finds
        .iter()
        .filter(|f| {
            let c = f.get_document("command").unwrap();
            !c.contains_key("skip") && (c.contains_key("min") || c.contains_key("max"))
        })
        .collect();
    assert_eq!(parts.len(), 4, "one cursor per part: {finds:?}");
    let open_below = parts
        .iter()
        .filter(|f| !f.get_document("command").unwrap().contains_key("min"))
        .count();
    let open_above = parts
        .iter()
        .filter(|f| !f.get_document("command").unwrap().contains_key("max"))
        .count();
    assert_eq!((open_below, open_above), (1, 1), "{parts:?}");

    let file = dir.join(DB).join(format!("{COLL}.bson"));
    exactly_once(&source, &file_docs(&file), "the joined file");
    let names: Vec<String> = std::fs::read_dir(dir.join(DB))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".spool")),
        "a spool was left behind: {names:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let ns = manifest["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["namespace"] == format!("{DB}.{COLL}"))
        .unwrap()
        .clone();
    assert_eq!(ns["documents"], n as u64, "{manifest}");
    verify(&dir);
    restore_into(&uri, "split_dir", &[dir.to_str().unwrap()]);
    exactly_once(
        &source,
        &raw_sorted(&client, "split_dir").await,
        "ours, restored",
    );

    // Gzip directory and archive (the parts' blocks interleaved), verified and restored.
    let gz = tmp.path().join("gz");
    backup_json(
        &uri,
        &["--split", "3", "--gzip", "--out", gz.to_str().unwrap()],
    );
    verify(&gz);
    restore_into(&uri, "split_gz", &[gz.to_str().unwrap()]);
    exactly_once(
        &source,
        &raw_sorted(&client, "split_gz").await,
        "gzip, restored",
    );
    let archive = tmp.path().join("a.archive");
    let out = backup_json(
        &uri,
        &["--split", "5", "--archive", archive.to_str().unwrap()],
    );
    assert_eq!(out["split"][format!("{DB}.{COLL}")], 5, "{out}");
    verify(&archive);
    restore_into(
        &uri,
        "split_archive",
        &["--archive", archive.to_str().unwrap()],
    );
    exactly_once(
        &source,
        &raw_sorted(&client, "split_archive").await,
        "archive, restored",
    );

    // The real tools: mongorestore reads both; mongodump's dump restores with ours.
    let Some(tools) = tools() else { return };
    let from = format!("--nsFrom={DB}.*");
    tools.mongorestore(
        &uri,
        &[
            &from,
            "--nsTo=mr_dir.*",
            &format!("--dir={}", dir.display()),
        ],
        None,
    );
    exactly_once(
        &source,
        &raw_sorted(&client, "mr_dir").await,
        "mongorestore, dir",
    );
    tools.mongorestore(
        &uri,
        &[
            &from,
            "--nsTo=mr_archive.*",
            &format!("--archive={}", archive.display()),
        ],
        None,
    );
    exactly_once(
        &source,
        &raw_sorted(&client, "mr_archive").await,
        "mongorestore, archive",
    );
    let dumped = tmp.path().join("mongodump");
    tools.mongodump(
        &uri,
        &[
            &format!("--db={DB}"),
            &format!("--out={}", dumped.display()),
        ],
    );
    restore_into(&uri, "from_mongodump", &[dumped.to_str().unwrap()]);
    exactly_once(
        &source,
        &raw_sorted(&client, "from_mongodump").await,
        "mongodump's, restored by ours",
    );
}

#[tokio::test]
async fn split_off_and_collections_that_cannot_be_split_use_one_cursor() {
    let server = common::standalone().await;
    let client = server.client();
    let uri = server.uri();
    seed(&client).await;
    // Natural order is what a capped collection restores in: never split.
    let d = client.database(DB);
    d.run_command(doc! {"create": "capped", "capped": true, "size": 1i64 << 20})
        .await
        .unwrap();
    let docs: Vec<Document> = (0..100).map(|i| doc! {"_id": 100 - i}).collect();
    d.collection::<Document>("capped")
        .insert_many(docs)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = backup_json(
        &uri,
        &[
            "--split",
            "off",
            "--out",
            tmp.path().join("off").to_str().unwrap(),
        ],
    );
    assert_eq!(out["split"], serde_json::json!({}), "{out}");
    let out = backup_json(
        &uri,
        &[
            "--split",
            "2",
            "--out",
            tmp.path().join("two").to_str().unwrap(),
        ],
    );
    assert_eq!(
        out["split"],
        serde_json::json!({format!("{DB}.{COLL}"): 2}),
        "the capped collection is read whole: {out}"
    );
    // Encrypted: the parts go through the file's one age stream.
    let spec = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k.key");
    let o = mongoctl(
        spec.path(),
        &["backup", "keygen", "--out", key.to_str().unwrap()],
    )
    .run();
    o.expect_code(0);
    let recipient = o.stdout.trim().to_string();
    let enc = tmp.path().join("enc");
    let out = backup_json(
        &uri,
        &[
            "--split",
            "3",
            "--gzip",
            "--encrypt-to",
            &recipient,
            "--out",
            enc.to_str().unwrap(),
        ],
    );
    assert_eq!(out["split"][format!("{DB}.{COLL}")], 3, "{out}");
    restore_into(
        &uri,
        "split_enc",
        &[enc.to_str().unwrap(), "--identity", key.to_str().unwrap()],
    );
    exactly_once(
        &raw_sorted(&client, DB).await,
        &raw_sorted(&client, "split_enc").await,
        "encrypted, restored",
    );
    let capped = file_docs(&tmp.path().join("two").join(DB).join("capped.bson"));
    let ids: Vec<i32> = capped.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(
        ids,
        (1..=100).rev().collect::<Vec<_>>(),
        "natural order kept"
    );
    // A bad value is refused before anything runs.
    let spec = tempfile::tempdir().unwrap();
    let o = mongoctl(spec.path(), &["backup", "--db", DB, "--split", "0"])
        .uri(&uri)
        .run();
    o.expect_code(1);
    assert!(o.stderr.contains("auto, off or a number"), "{}", o.stderr);
}

/// Parts are read at different times; `--oplog` makes the split backup consistent: taken
/// while documents of every `_id` type keep arriving (each of the backup's finds held 200 ms
/// by a failpoint, so writes land inside its window), it replays to exactly the source's
/// documents as of the oplog's end.
#[tokio::test]
async fn a_split_backup_with_oplog_replays_to_one_point() {
    const APP: &str = "split-oplog";
    let server = common::replica_set(1).await;
    let client = server.client();
    seed(&client).await;
    let writer_client = server.client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = tokio::spawn(async move {
        let c = writer_client.database(DB).collection::<Document>(COLL);
        let mut i = 0i64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let id = match i % 3 {
                0 => Bson::Int64(-1 - i),
                1 => Bson::String(format!("w{i:06}")),
                _ => Bson::Document(doc! {"w": i}),
            };
            c.insert_one(doc! {"_id": id, "n": i}).await.unwrap();
            i += 1;
        }
        i
    });
    crate::backup::hold_commands(&client, APP, &["find"], 200, None).await;
    let uri = format!("{}&appName={APP}", server.uri());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pitr");
    let dir_s = dir.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        backup_json(&uri, &["--split", "3", "--oplog", "--out", &dir_s])
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    crate::backup::release_commands(&client).await;
    assert_eq!(out["split"][format!("{DB}.{COLL}")], 3, "{out}");
    let m = &out["manifest"];
    assert!(
        m["oplog"]["entries"].as_u64().unwrap() > 0,
        "no write landed during the backup ({written} written)"
    );
    let end = bson::Timestamp {
        time: m["oplog"]["end"][0].as_u64().unwrap() as u32,
        increment: m["oplog"]["end"][1].as_u64().unwrap() as u32,
    };
    restore_into(
        &server.uri(),
        "split_pitr",
        &[dir.to_str().unwrap(), "--oplog-replay"],
    );
    // The source as of the oplog's end: every document but those inserted after it.
    let later: Vec<Document> = client
        .database("local")
        .collection::<Document>("oplog.rs")
        .find(doc! {"ns": format!("{DB}.{COLL}"), "op": "i", "ts": {"$gt": end}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let later: BTreeSet<Vec<u8>> = later
        .iter()
        .map(|e| bson::to_vec(e.get_document("o").unwrap()).unwrap())
        .collect();
    let expected: Vec<RawDocumentBuf> = raw_sorted(&client, DB)
        .await
        .into_iter()
        .filter(|d| !later.contains(d.as_bytes()))
        .collect();
    exactly_once(
        &expected,
        &raw_sorted(&client, "split_pitr").await,
        "replayed to the oplog's end",
    );
}
