//! `restore --mode upsert|merge`: a backup laid over live data by `_id`. A document in both
//! the backup and the live collection, one only in the backup, one only live and one the
//! same in both end up exactly as each mode says, and the counts say what happened to each.

use bson::{Document, doc};
use mongodb::Client;

use crate::backup::all;
use crate::common;
use crate::support::mongoctl;

/// What the backup holds (database `src`).
fn backed_up() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "a": "from the backup", "b": 1},
        doc! {"_id": 2, "a": "only in the backup"},
        doc! {"_id": 4, "a": "the same", "n": 4},
    ]
}

/// The live collection the backup is laid over.
async fn live(client: &Client, db: &str) {
    client
        .database(db)
        .collection::<Document>("c")
        .insert_many(vec![
            doc! {"_id": 1, "a": "live", "live_only": true},
            doc! {"_id": 3, "a": "only live"},
            doc! {"_id": 4, "a": "the same", "n": 4},
        ])
        .await
        .unwrap();
}

fn ns(json: &serde_json::Value, target: &str) -> serde_json::Value {
    json["report"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["target"] == target)
        .unwrap_or_else(|| panic!("no {target} in {json}"))
        .clone()
}

fn counts(n: &serde_json::Value) -> [u64; 5] {
    ["inserted", "replaced", "merged", "unchanged", "duplicates"].map(|k| n[k].as_u64().unwrap())
}

/// Documents with their fields in stored order, for exact comparison.
fn keyed(docs: &[Document]) -> Vec<Vec<(String, bson::Bson)>> {
    docs.iter()
        .map(|d| d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect()
}

#[tokio::test]
async fn upsert_and_merge_lay_a_backup_over_live_data() {
    let server = common::standalone().await;
    let client = server.client();
    let uri = server.uri();
    client
        .database("src")
        .collection::<Document>("c")
        .insert_many(backed_up())
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let archive = tmp.path().join("b.archive");
    for out in [
        vec!["--out", dir.to_str().unwrap()],
        vec!["--archive", archive.to_str().unwrap(), "--gzip"],
    ] {
        let mut a = vec!["backup", "--db", "src"];
        a.extend(out);
        mongoctl(tmp.path(), &a).uri(&uri).run().expect_code(0);
    }
    let restore = |source: Vec<&str>, db: &str, mode: &str| {
        let to = format!("{db}.*");
        let mut a = vec![
            "restore",
            "--ns-from",
            "src.*",
            "--ns-to",
            &to,
            "--mode",
            mode,
        ];
        a.extend(source);
        a.extend(["-o", "json"]);
        let o = mongoctl(tmp.path(), &a).uri(&uri).run();
        o.expect_code(0);
        ns(&o.json(), &format!("{db}.c"))
    };
    let by_dir = || vec![dir.to_str().unwrap()];
    let by_archive = || vec!["--archive", archive.to_str().unwrap()];

    // upsert: the backup's document replaces the live one (its live-only field goes).
    for (db, source) in [("up_dir", by_dir()), ("up_archive", by_archive())] {
        live(&client, db).await;
        let n = restore(source, db, "upsert");
        assert_eq!(counts(&n), [1, 1, 0, 1, 0], "{db}: {n}");
        assert_eq!(
            keyed(&all(&client, db, "c").await),
            keyed(&[
                doc! {"_id": 1, "a": "from the backup", "b": 1},
                doc! {"_id": 2, "a": "only in the backup"},
                doc! {"_id": 3, "a": "only live"},
                doc! {"_id": 4, "a": "the same", "n": 4},
            ]),
            "{db}"
        );
    }
    // merge: the backup's fields are set on the live document, its other fields stay.
    for (db, source) in [("mg_dir", by_dir()), ("mg_archive", by_archive())] {
        live(&client, db).await;
        let n = restore(source, db, "merge");
        assert_eq!(counts(&n), [1, 0, 1, 1, 0], "{db}: {n}");
        assert_eq!(
            keyed(&all(&client, db, "c").await),
            keyed(&[
                doc! {"_id": 1, "a": "from the backup", "live_only": true, "b": 1},
                doc! {"_id": 2, "a": "only in the backup"},
                doc! {"_id": 3, "a": "only live"},
                doc! {"_id": 4, "a": "the same", "n": 4},
            ]),
            "{db}"
        );
    }
    // insert (the default): documents whose _id is there are duplicates, left alone.
    live(&client, "ins").await;
    let n = restore(by_dir(), "ins", "insert");
    assert_eq!(counts(&n), [1, 0, 0, 0, 2], "{n}");
    assert_eq!(
        all(&client, "ins", "c").await[0],
        doc! {"_id": 1, "a": "live", "live_only": true}
    );

    // --drop replaces the data: with upsert or merge it is refused before any write.
    live(&client, "dropped").await;
    let o = mongoctl(
        tmp.path(),
        &[
            "restore",
            "--ns-from",
            "src.*",
            "--ns-to",
            "dropped.*",
            "--mode",
            "merge",
            "--drop",
            "--yes",
            dir.to_str().unwrap(),
        ],
    )
    .uri(&uri)
    .run();
    o.expect_code(1);
    assert!(o.stderr.contains("--mode merge"), "{}", o.stderr);
    assert_eq!(all(&client, "dropped", "c").await.len(), 3);
}
