//! Byte-format compatibility with the real MongoDB Database Tools (mongodump / mongorestore
//! 100.3.1, the Windows build run under wine64: see scripts/install-mongo-tools): our backups
//! restored by their mongorestore, their dumps restored by our restore, in directory, gzip
//! directory, archive and gzip archive forms, and through standard input/output. Every
//! document (byte for byte), count, collection option, validator and index must come back
//! equal to the source. Also: --oplog point-in-time replay and users/roles, both ways.
//!
//! The tools are found in `$MONGO_TOOLS_DIR` (scripts/test exports it), else in
//! `<repo>/.mongo-tools/bin`. Without them the tests fail, unless `MONGOCTL_SKIP_INTEROP` is
//! set outside CI (scripts/test sets it, loudly, when the tools cannot be installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, RawDocumentBuf, Regex, Timestamp, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::Client;

use crate::backup::indexes;
use crate::common;
use crate::support::mongoctl;

const SRC: &str = "interop_src";
/// Collections holding documents (the view is compared separately).
const COLLECTIONS: &[&str] = &["things", "patients", "events", "audit.log", "empty"];

// ---------------------------------------------------------------------------------------
// The tools

pub(crate) struct Tools {
    dir: PathBuf,
}

/// The installed tools, or `None` (after saying why) when they are absent outside CI.
pub(crate) fn tools() -> Option<Tools> {
    let dir = std::env::var_os("MONGO_TOOLS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::support::repo().join(".mongo-tools/bin"));
    let ok = ["mongodump", "mongorestore"]
        .iter()
        .all(|t| is_executable(&dir.join(t)));
    if ok {
        return Some(Tools { dir });
    }
    let msg = format!(
        "mongodump/mongorestore not found in {} ($MONGO_TOOLS_DIR or <repo>/.mongo-tools/bin); \
         run scripts/install-mongo-tools",
        dir.display()
    );
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{msg} (the interop tests are required in CI)");
    }
    // A skip is said, not passed over: without the tools a run fails unless the skip was
    // asked for (scripts/test asks, and prints a banner, when the install failed).
    if std::env::var_os("MONGOCTL_SKIP_INTEROP").is_none_or(|v| v.is_empty()) {
        panic!("{msg}; or set MONGOCTL_SKIP_INTEROP=1 to skip the interop tests");
    }
    eprintln!("SKIPPED interop test (MONGOCTL_SKIP_INTEROP is set): {msg}");
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Tools {
    /// Runs `tool args…` (stdin from `input` when given) and returns its stdout; panics with
    /// both streams unless it exits 0.
    fn run(&self, tool: &str, args: &[String], input: Option<Vec<u8>>) -> (Vec<u8>, String) {
        use std::io::Write;
        let t0 = Instant::now();
        let mut child = Command::new(self.dir.join(tool))
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {tool}: {e}"));
        let writer = input.map(|bytes| {
            let mut w = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = w.write_all(&bytes);
            })
        });
        let out = child.wait_with_output().unwrap();
        if let Some(w) = writer {
            let _ = w.join();
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!(
            "{tool} {} ({:.1} s):\n{stderr}",
            args.join(" "),
            t0.elapsed().as_secs_f64()
        );
        assert!(
            out.status.success(),
            "{tool} {args:?} failed ({})\nstderr:\n{stderr}",
            out.status
        );
        (out.stdout, stderr)
    }

    /// mongorestore; checks that it reports no failed document.
    pub(crate) fn mongorestore(&self, uri: &str, args: &[&str], input: Option<Vec<u8>>) -> String {
        let mut a = vec![format!("--uri={uri}")];
        a.extend(args.iter().map(|s| s.to_string()));
        let (_, stderr) = self.run("mongorestore", &a, input);
        assert!(
            stderr.contains(" 0 document(s) failed to restore"),
            "mongorestore reported failures:\n{stderr}"
        );
        stderr
    }

    pub(crate) fn mongodump(&self, uri: &str, args: &[&str]) -> Vec<u8> {
        let mut a = vec![format!("--uri={uri}")];
        a.extend(args.iter().map(|s| s.to_string()));
        self.run("mongodump", &a, None).0
    }
}

// ---------------------------------------------------------------------------------------
// Seed data and comparison

fn spec() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn bin(subtype: BinarySubtype, bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype,
        bytes: bytes.to_vec(),
    })
}

fn dbpointer() -> Bson {
    let v = serde_json::json!({"$dbPointer": {"$ref": "db.coll", "$id": {"$oid": "0123456789abcdef01234567"}}});
    Bson::try_from(v).expect("a DBPointer from Extended JSON")
}

/// One document with every BSON type, varied by `i`.
fn rich(i: i32) -> Document {
    let dec: bson::Decimal128 = format!("{i}.{:03}E-2", i % 1000).parse().unwrap();
    let mut d = doc! {
        "_id": i,
        "oid": ObjectId::from_bytes([i as u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, (i >> 8) as u8]),
        "i32": i - 500,
        "i64": (i as i64).wrapping_mul(6_148_914_691_236_517_205),
        "dbl": i as f64 / 7.0 - 100.0,
        "neg_zero": -0.0f64,
        "inf": if i % 2 == 0 { f64::INFINITY } else { f64::NEG_INFINITY },
        "dec": dec,
        "dec_neg": "-1.000000000000000000000000000000000E+6144".parse::<bson::Decimal128>().unwrap(),
        "str": format!("doc {i}: héllo wörld ✓ 日本語 🦀 \u{0}nul"),
        "bool": i % 3 == 0,
        "null": Bson::Null,
        "date": bson::DateTime::from_millis(1_700_000_000_000 + i as i64 * 3_600_000),
        "date_old": bson::DateTime::from_millis(-2_208_988_800_000 - i as i64),
        "date_far": bson::DateTime::from_millis(253_402_300_799_999),
        "ts": Timestamp { time: 1_700_000_000 + i as u32, increment: i as u32 + 1 },
        "re": Regex { pattern: format!("^ab+c{i}$"), options: "imsx".into() },
        "code": Bson::JavaScriptCode(format!("function() {{ return {i}; }}")),
        "min": Bson::MinKey,
        "max": Bson::MaxKey,
    };
    d.extend(doc! {
        "bin_generic": bin(BinarySubtype::Generic, &[i as u8, 0, 255, 7]),
        "bin_function": bin(BinarySubtype::Function, b"fn"),
        "bin_old": bin(BinarySubtype::BinaryOld, &[1, 2, 3]),
        "uuid_old": bin(BinarySubtype::UuidOld, &[3; 16]),
        "uuid": bin(BinarySubtype::Uuid, &[i as u8; 16]),
        "md5": bin(BinarySubtype::Md5, &[5; 16]),
        "bin_user": bin(BinarySubtype::UserDefined(0x80), b"user defined"),
        "bin_empty": bin(BinarySubtype::Generic, &[]),
        // Deprecated types still pass through backups untouched.
        "symbol": Bson::Symbol(format!("sym{i}")),
        "undefined": Bson::Undefined,
        "code_scope": Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
            code: "function() { return x; }".into(),
            scope: doc! {"x": i},
        }),
        "dbpointer": dbpointer(),
        "nested": {
            "a": [1, [2, [3, {"deep": ["x", {"deeper": [[], {}]}]}]]],
            "b": {"c": {"d": {"e": i}}},
            "empty_doc": {},
            "empty_arr": [],
            "mixed": [1i64, 2.5, "three", Bson::Null, {"four": 4}, [5]],
        },
        "tags": ["a", "b", format!("t{}", i % 5)],
        "loc": {"type": "Point", "coordinates": [-73.97 + i as f64 / 1000.0, 40.77]},
        "body": format!("the quick brown fox {i} jumps over the lazy dog"),
        "sku": format!("SKU-{i:05}"),
        "name": if i % 2 == 0 { "Émile" } else { "émile" },
        "qty": i % 40,
        "expires": bson::DateTime::from_millis(4_000_000_000_000),
    });
    d
}

/// A database exercising the formats: every BSON type, a validated collection with
/// validationLevel/Action, a capped collection, a view, an empty collection, a dotted
/// collection name, a collection default collation, and unique, compound, partial, TTL,
/// text, 2dsphere, hashed, sparse and collation indexes.
async fn seed(client: &Client, db: &str) {
    let d = client.database(db);
    let run = |cmd: Document| {
        let d = d.clone();
        async move {
            d.run_command(cmd.clone())
                .await
                .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        }
    };
    run(doc! {"create": "things"}).await;
    run(doc! {"createIndexes": "things", "indexes": [
        {"key": {"sku": 1}, "name": "sku_unique", "unique": true},
        {"key": {"i32": 1, "date": -1, "nested.b.c.d.e": 1}, "name": "compound"},
        {"key": {"qty": 1}, "name": "qty_partial",
            "partialFilterExpression": {"qty": {"$gt": 10i64}, "bool": true, "date": {"$gte": bson::DateTime::from_millis(1_700_000_000_000)}}},
        {"key": {"expires": 1}, "name": "ttl", "expireAfterSeconds": 3600},
        {"key": {"body": "text", "str": "text"}, "name": "text",
            "weights": {"body": 10, "str": 2}, "default_language": "english", "language_override": "lang"},
        {"key": {"loc": "2dsphere"}, "name": "geo"},
        {"key": {"name": 1}, "name": "name_ci", "collation": {"locale": "fr", "strength": 1}},
        {"key": {"oid": "hashed"}, "name": "oid_hashed"},
        {"key": {"tags": 1}, "name": "tags_sparse", "sparse": true},
    ]})
    .await;
    let docs: Vec<Document> = (0..1500).map(rich).collect();
    d.collection::<Document>("things")
        .insert_many(docs)
        .await
        .unwrap();

    run(doc! {
        "create": "patients",
        "validator": {
            "$jsonSchema": {
                "bsonType": "object",
                "required": ["mrn", "name", "balance"],
                "properties": {
                    "mrn": {"bsonType": "string", "pattern": "^MRN[0-9]{6}$"},
                    "name": {"bsonType": "object", "required": ["family"]},
                    "balance": {"bsonType": "decimal", "minimum": "0".parse::<bson::Decimal128>().unwrap()},
                    "visits": {"bsonType": "array", "maxItems": 100i64, "items": {"bsonType": "object"}},
                    "status": {"enum": ["active", "inactive", Bson::Null]},
                },
            },
            "registered": {"$gte": bson::DateTime::from_millis(946_684_800_000)},
        },
        "validationLevel": "moderate",
        "validationAction": "warn",
    })
    .await;
    run(doc! {"createIndexes": "patients", "indexes": [
        {"key": {"mrn": 1}, "name": "mrn_1", "unique": true},
        {"key": {"name.family": 1, "registered": -1}, "name": "family_registered"},
    ]})
    .await;
    let patients: Vec<Document> = (0..400)
        .map(|i| {
            doc! {
                "_id": ObjectId::from_bytes([9, 9, 9, 9, 0, 0, 0, 0, (i >> 24) as u8, (i >> 16) as u8, (i >> 8) as u8, i as u8]),
                "mrn": format!("MRN{i:06}"),
                "name": {"given": "Zoë", "family": format!("Ñúñez{i}")},
                "balance": format!("{}.{:02}", i * 3, i % 100).parse::<bson::Decimal128>().unwrap(),
                "registered": bson::DateTime::from_millis(1_000_000_000_000 + i as i64 * 86_400_000),
                "visits": [{"at": bson::DateTime::from_millis(1_700_000_000_000), "codes": ["Z00", i.to_string()]}],
                "status": if i % 2 == 0 { "active" } else { "inactive" },
            }
        })
        .collect();
    d.collection::<Document>("patients")
        .insert_many(patients)
        .await
        .unwrap();

    run(doc! {"create": "events", "capped": true, "size": 65536i64, "max": 300i64}).await;
    // More than `max`: the oldest are gone, natural order is what remains.
    for chunk in (0..450).collect::<Vec<i64>>().chunks(50) {
        let docs: Vec<Document> = chunk
            .iter()
            .map(|&i| doc! {"_id": 10_000 - i, "seq": i, "kind": "login", "at": Timestamp { time: 1_700_000_000, increment: i as u32 }})
            .collect();
        d.collection::<Document>("events")
            .insert_many(docs)
            .await
            .unwrap();
    }

    run(doc! {"create": "audit.log", "collation": {"locale": "de", "strength": 2, "numericOrdering": true}}).await;
    run(doc! {"createIndexes": "audit.log", "indexes": [
        {"key": {"who": 1, "when": 1}, "name": "who_when"},
    ]})
    .await;
    let audit: Vec<Document> = (0..120)
        .map(|i| doc! {"_id": format!("ä-{i:04}"), "who": format!("Müller {i}"), "when": bson::DateTime::from_millis(i * 1000)})
        .collect();
    d.collection::<Document>("audit.log")
        .insert_many(audit)
        .await
        .unwrap();

    run(doc! {"create": "empty", "validator": {"x": {"$exists": true}}}).await;
    run(doc! {"createIndexes": "empty", "indexes": [
        {"key": {"x": -1}, "name": "x_desc", "unique": true},
    ]})
    .await;

    run(doc! {"create": "active_patients", "viewOn": "patients", "pipeline": [
        {"$match": {"status": "active"}},
        {"$project": {"mrn": 1, "name": 1, "balance": 1, "since": {"$dateToString": {"date": "$registered", "format": "%Y"}}}},
    ]})
    .await;
}

pub(crate) async fn raw_docs(
    client: &Client,
    db: &str,
    coll: &str,
    sort: Document,
) -> Vec<RawDocumentBuf> {
    client
        .database(db)
        .collection::<RawDocumentBuf>(coll)
        .find(doc! {})
        .sort(sort)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// [`crate::backup::coll_info`] without system collections: the interop tests compare user
/// collections and views.
async fn coll_info(client: &Client, db: &str) -> Vec<(String, String, Document)> {
    let mut all = crate::backup::coll_info(client, db).await;
    all.retain(|(name, _, _)| !name.starts_with("system."));
    all
}

/// Equal including key order (index keys, and any exact-match document in a validator).
#[track_caller]
fn assert_exact(a: &Document, b: &Document, what: &str) {
    assert!(
        bson::to_vec(a).unwrap() == bson::to_vec(b).unwrap(),
        "{what} differ in key order or types\nsource:   {a:?}\nrestored: {b:?}"
    );
}

/// `dst` holds exactly what `src` holds: collections with their type and options (validators,
/// capped, collation, view pipelines), every document byte for byte, and every index.
///
/// `options_in_order`: also compare the collection options' key order. Off for mongodump's
/// backups: mongodump 100.3.1 itself writes collection options (validators, view pipelines,
/// collations) with their keys in Go map order (TOOLS-3411, fixed in later 100.x releases), so
/// that order is already lost in its files. Index specifications are always compared in order.
async fn assert_same(client: &Client, src: &str, dst: &str, options_in_order: bool) {
    let a = coll_info(client, src).await;
    assert_eq!(a.len(), COLLECTIONS.len() + 1, "{src}: {a:?}");
    let b = coll_info(client, dst).await;
    // bson's Document equality ignores key order: compare the BSON bytes too.
    assert_eq!(a, b, "collections of {dst}");
    if options_in_order {
        for (a, b) in a.iter().zip(&b) {
            assert_exact(&a.2, &b.2, &format!("{dst}.{} options", b.0));
        }
    }
    for c in COLLECTIONS {
        let a = raw_docs(client, src, c, doc! {"_id": 1}).await;
        let b = raw_docs(client, dst, c, doc! {"_id": 1}).await;
        assert_eq!(a.len(), b.len(), "{dst}.{c} count");
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            panic!(
                "{dst}.{c}: document {i} differs\nsource: {:?}\nrestored: {:?}",
                a[i].to_document(),
                b[i].to_document()
            );
        }
        let (a, b) = (indexes(client, src, c).await, indexes(client, dst, c).await);
        assert_eq!(a, b, "{dst}.{c} indexes");
        for (a, b) in a.iter().zip(&b) {
            assert_exact(
                a,
                b,
                &format!("{dst}.{c} index {}", b.get_str("name").unwrap()),
            );
        }
    }
    // A capped collection keeps its natural (insertion) order.
    assert_eq!(
        raw_docs(client, src, "events", doc! {"$natural": 1}).await,
        raw_docs(client, dst, "events", doc! {"$natural": 1}).await,
        "{dst}.events natural order"
    );
    assert_eq!(
        raw_docs(client, src, "active_patients", doc! {"_id": 1}).await,
        raw_docs(client, dst, "active_patients", doc! {"_id": 1}).await,
        "{dst}.active_patients (view)"
    );
}

async fn seeded() -> (common::TestServer, Client) {
    let server = common::standalone().await;
    let client = server.client();
    seed(&client, SRC).await;
    (server, client)
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// `mongoctl restore <args> --ns-from SRC.* --ns-to <dst>.*`
fn our_restore(uri: &str, dst: &str, args: &[&str], stdin: Option<Vec<u8>>) {
    let spec = spec();
    let to = format!("{dst}.*");
    let from = format!("{SRC}.*");
    let mut a = vec!["restore", "--ns-from", &from, "--ns-to", &to];
    a.extend(args);
    if let Some(bytes) = stdin {
        let (code, stderr) = piped(spec.path(), uri, &a, bytes);
        assert_eq!(code, 0, "mongoctl {a:?} failed:\n{stderr}");
    } else {
        mongoctl(spec.path(), &a).uri(uri).run().expect_code(0);
    }
}

/// mongoctl with `stdin` piped in; returns (exit code, stderr).
fn piped(spec: &Path, uri: &str, args: &[&str], stdin: Vec<u8>) -> (i32, String) {
    let o = mongoctl(spec, args).uri(uri).run_piped(Some(stdin));
    (o.code, o.stderr)
}

fn our_backup(uri: &str, args: &[&str]) {
    our_backup_db(uri, SRC, args)
}

fn our_backup_db(uri: &str, db: &str, args: &[&str]) {
    let spec = spec();
    let mut a = vec!["backup", "--db", db];
    a.extend(args);
    mongoctl(spec.path(), &a).uri(uri).run().expect_code(0);
}

// ---------------------------------------------------------------------------------------
// The tests

/// (a) our directory backups, plain and gzip, restored by mongorestore into other databases.
#[tokio::test]
async fn mongorestore_restores_our_directory_backups() {
    let Some(tools) = tools() else { return };
    let (server, client) = seeded().await;
    let uri = server.uri();
    let tmp = tempfile::tempdir().unwrap();
    for (dst, gzip) in [("a_plain", false), ("a_gzip", true)] {
        let out = tmp.path().join(dst);
        let mut args = vec!["--out", out.to_str().unwrap()];
        if gzip {
            args.push("--gzip");
        }
        our_backup(&uri, &args);
        let from = format!("--nsFrom={SRC}.*");
        let to = format!("--nsTo={dst}.*");
        let dir = format!("--dir={}", s(&out));
        let mut a = vec![from.as_str(), to.as_str(), dir.as_str()];
        if gzip {
            a.push("--gzip");
        }
        tools.mongorestore(&uri, &a, None);
        assert_same(&client, SRC, dst, true).await;
    }
}

/// (b) our archives, plain and gzip, restored by mongorestore (from a file and from stdin).
#[tokio::test]
async fn mongorestore_restores_our_archives() {
    let Some(tools) = tools() else { return };
    let (server, client) = seeded().await;
    let uri = server.uri();
    let tmp = tempfile::tempdir().unwrap();
    for (dst, gzip) in [("b_plain", false), ("b_gzip", true)] {
        let file = tmp.path().join(format!("{dst}.archive"));
        let mut args = vec!["--archive", file.to_str().unwrap()];
        if gzip {
            args.push("--gzip");
        }
        our_backup(&uri, &args);
        let from = format!("--nsFrom={SRC}.*");
        let to = format!("--nsTo={dst}.*");
        let archive = format!("--archive={}", s(&file));
        let mut a = vec![from.as_str(), to.as_str(), archive.as_str()];
        if gzip {
            a.push("--gzip");
        }
        tools.mongorestore(&uri, &a, None);
        assert_same(&client, SRC, dst, true).await;
    }
    // The gzip archive once more, through mongorestore's standard input.
    let bytes = std::fs::read(tmp.path().join("b_gzip.archive")).unwrap();
    tools.mongorestore(
        &uri,
        &[
            &format!("--nsFrom={SRC}.*"),
            "--nsTo=b_stdin.*",
            "--archive",
            "--gzip",
        ],
        Some(bytes),
    );
    assert_same(&client, SRC, "b_stdin", true).await;
}

/// `mongoctl restore <args>` (with `--ns-from SRC.* --ns-to <dst>.*`): its output.
fn our_restore_output(uri: &str, dst: &str, args: &[&str]) -> crate::support::Output {
    let spec = spec();
    let to = format!("{dst}.*");
    let from = format!("{SRC}.*");
    let mut a = vec!["restore", "--ns-from", &from, "--ns-to", &to];
    a.extend(args);
    mongoctl(spec.path(), &a).uri(uri).run()
}

/// A restore of a backup without a manifest says it carries no checksums.
#[track_caller]
fn says_no_checksums(o: &crate::support::Output) {
    o.expect_code(0);
    assert!(
        o.stderr.contains("warning: this") && o.stderr.contains("no checksums"),
        "{}",
        o.stderr
    );
}

/// (c) mongodump's directories, plain and gzip, restored by our restore without any flag
/// (recognised by their layout: mongodump 100.3.1 writes no prelude.json), then again with
/// `--drop` over what the first restore wrote. A copy with one data file cut short is refused
/// before any write, naming the file and the offset of the last whole document.
#[tokio::test]
async fn our_restore_restores_mongodump_directories() {
    let Some(tools) = tools() else { return };
    let (server, client) = seeded().await;
    let uri = server.uri();
    let tmp = tempfile::tempdir().unwrap();
    for (dst, gzip) in [("c_plain", false), ("c_gzip", true)] {
        let out = tmp.path().join(dst);
        let db = format!("--db={SRC}");
        let o = format!("--out={}", s(&out));
        let mut a = vec![db.as_str(), o.as_str()];
        if gzip {
            a.push("--gzip");
        }
        tools.mongodump(&uri, &a);
        let ext = if gzip { ".gz" } else { "" };
        assert!(
            out.join(SRC).join(format!("things.bson{ext}")).is_file(),
            "mongodump's layout"
        );
        assert!(!out.join("manifest.json").exists());
        says_no_checksums(&our_restore_output(&uri, dst, &[out.to_str().unwrap()]));
        assert_same(&client, SRC, dst, false).await;
        says_no_checksums(&our_restore_output(
            &uri,
            dst,
            &[out.to_str().unwrap(), "--drop", "--yes"],
        ));
        assert_same(&client, SRC, dst, false).await;
    }

    // One data file cut short: refused before any write; the target is as it was.
    let cut = tmp.path().join("c_cut");
    copy_dir(&tmp.path().join("c_plain"), &cut);
    let file = cut.join(SRC).join("things.bson");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let before = raw_docs(&client, "c_plain", "things", doc! {"_id": 1}).await;
    for args in [
        vec![cut.to_str().unwrap()],
        vec![cut.to_str().unwrap(), "--drop", "--yes"],
    ] {
        let o = our_restore_output(&uri, "c_plain", &args);
        o.expect_code(1);
        assert!(
            o.stderr.contains(
                "things.bson: damaged or truncated: the last whole document ends \
                 at byte offset"
            ),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains("nothing was restored"), "{}", o.stderr);
        assert_eq!(
            raw_docs(&client, "c_plain", "things", doc! {"_id": 1}).await,
            before
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// (d) mongodump's archives restored by our restore without any flag: the gzip archive from
/// its file (then again with `--drop`), and the plain archive written to stdout, from a file
/// and from our standard input.
#[tokio::test]
async fn our_restore_restores_mongodump_archives_from_file_and_stdin() {
    let Some(tools) = tools() else { return };
    let (server, client) = seeded().await;
    let uri = server.uri();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("dump.archive.gz");
    let db = format!("--db={SRC}");
    tools.mongodump(&uri, &[&db, &format!("--archive={}", s(&file)), "--gzip"]);
    let head = std::fs::read(&file).unwrap();
    assert_eq!(&head[..2], &[0x1f, 0x8b], "gzip");
    for extra in [&[][..], &["--drop", "--yes"][..]] {
        let mut a = vec!["--archive", file.to_str().unwrap()];
        a.extend(extra);
        says_no_checksums(&our_restore_output(&uri, "d_file", &a));
        assert_same(&client, SRC, "d_file", false).await;
    }

    let stdout = tools.mongodump(&uri, &[&db, "--archive"]);
    assert_eq!(&stdout[..4], &[0x6d, 0xe2, 0x99, 0x81], "archive magic");
    let plain = tmp.path().join("dump.archive");
    std::fs::write(&plain, &stdout).unwrap();
    for extra in [&[][..], &["--drop", "--yes"][..]] {
        let mut a = vec!["--archive", plain.to_str().unwrap()];
        a.extend(extra);
        says_no_checksums(&our_restore_output(&uri, "d_plain", &a));
        assert_same(&client, SRC, "d_plain", false).await;
    }
    our_restore(&uri, "d_stdin", &["--archive", "-"], Some(stdout));
    assert_same(&client, SRC, "d_stdin", false).await;
}

/// The user document `admin.system.users` holds for `name` (credentials included), if any.
async fn user_doc(client: &Client, name: &str) -> Option<Document> {
    client
        .database("admin")
        .collection::<Document>("system.users")
        .find_one(doc! {"user": name, "db": "admin"})
        .await
        .unwrap()
}

/// (e) A full mongodump (no --db: `admin/system.version.bson`, and `admin/system.users.bson`
/// with a user) restored over the same server, without a flag and with `--drop` (mongorestore
/// never drops system collections; the server refuses). admin.system.version is skipped and
/// said so; the users are merged as mongorestore merges them: kept without `--drop`, and with
/// it a user created after the dump is removed while the dump's user stays, unchanged; every
/// database holds what it held.
#[tokio::test]
async fn our_restore_restores_a_full_mongodump_with_admin() {
    let Some(tools) = tools() else { return };
    let (server, client) = seeded().await;
    let uri = server.uri();
    client
        .database("admin")
        .run_command(doc! {"createUser": "reader", "pwd": "not-a-secret", "roles": ["read"]})
        .await
        .unwrap();
    client
        .database("app_js")
        .collection::<Document>("system.js")
        .insert_one(doc! {"_id": "f", "value": "function () { return 1 }"})
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("full");
    tools.mongodump(&uri, &[&format!("--out={}", s(&out))]);
    assert!(out.join("admin/system.version.bson").is_file());
    assert!(out.join("admin/system.users.bson").is_file());
    let reader = user_doc(&client, "reader").await.unwrap();
    client
        .database("admin")
        .run_command(doc! {"createUser": "late", "pwd": "also-not-a-secret", "roles": []})
        .await
        .unwrap();
    let before = raw_docs(&client, SRC, "things", doc! {"_id": 1}).await;
    let info = coll_info(&client, SRC).await;
    let spec = spec();
    for extra in [&[][..], &["--drop", "--yes"][..]] {
        let mut a = vec!["restore", out.to_str().unwrap()];
        a.extend(extra);
        let o = mongoctl(spec.path(), &a).uri(&uri).run();
        o.expect_code(0);
        assert!(
            o.stdout
                .contains("Skipped admin.system.version: the server's own"),
            "{}",
            o.stdout
        );
        assert!(
            !o.stdout.contains("Skipped admin.system.users")
                && o.stdout
                    .contains("Users and roles: 1 user(s), 0 role(s) restored"),
            "{}",
            o.stdout
        );
        assert!(!o.all().contains("not-a-secret"));
        assert_eq!(
            raw_docs(&client, SRC, "things", doc! {"_id": 1}).await,
            before
        );
        assert_eq!(coll_info(&client, SRC).await, info);
        let js = crate::support::all_documents(&client, "app_js", "system.js").await;
        assert_eq!(js.len(), 1, "{extra:?}");
        assert_eq!(user_doc(&client, "reader").await.as_ref(), Some(&reader));
        // Merged, not replaced: without --drop the user the dump lacks stays; --drop removes it.
        assert_eq!(
            user_doc(&client, "late").await.is_some(),
            extra.is_empty(),
            "{extra:?}"
        );
    }
    // Into a fresh server, from the dump renamed: the users are left out, said why.
    let target = common::standalone().await;
    let dir = s(&out);
    let o = mongoctl(
        spec.path(),
        &["restore", &dir, "--ns-from", "app.*", "--ns-to", "app2.*"],
    )
    .uri(&target.uri())
    .run();
    o.expect_code(0);
    assert!(
        o.stdout.contains("Skipped admin.system.users: ") && o.stdout.contains("--ns-from"),
        "{}",
        o.stdout
    );
    assert_eq!(user_doc(&target.client(), "reader").await, None);
}

/// A full mongodump archive (gzip) restored into a fresh server: the dump's user is there
/// afterwards with the very credentials it had (the same `admin.system.users` document), and
/// its custom role with its privileges.
#[tokio::test]
async fn our_restore_merges_the_users_of_a_full_mongodump_archive() {
    let Some(tools) = tools() else { return };
    let (server, client) = seeded().await;
    client
        .database("admin")
        .run_command(doc! {"createRole": "audit_reader", "privileges": [
            {"resource": {"db": SRC, "collection": ""}, "actions": ["find"]}
        ], "roles": []})
        .await
        .unwrap();
    client
        .database("admin")
        .run_command(
            doc! {"createUser": "reader", "pwd": "not-a-secret", "roles": ["audit_reader"]},
        )
        .await
        .unwrap();
    let reader = user_doc(&client, "reader").await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("full.archive.gz");
    tools.mongodump(
        &server.uri(),
        &[&format!("--archive={}", s(&archive)), "--gzip"],
    );
    let target = common::standalone().await;
    let spec = spec();
    let file = s(&archive);
    let o = mongoctl(spec.path(), &["restore", "--archive", &file])
        .uri(&target.uri())
        .run();
    o.expect_code(0);
    assert!(
        o.stdout
            .contains("Users and roles: 1 user(s), 1 role(s) restored"),
        "{}",
        o.stdout
    );
    assert!(!o.all().contains("not-a-secret"));
    let tc = target.client();
    assert_eq!(user_doc(&tc, "reader").await, Some(reader));
    let roles = tc
        .database("admin")
        .run_command(doc! {"rolesInfo": "audit_reader", "showPrivileges": true})
        .await
        .unwrap();
    let role = roles.get_array("roles").unwrap()[0].as_document().unwrap();
    assert_eq!(
        role.get_array("privileges").unwrap()[0]
            .as_document()
            .unwrap()
            .get_document("resource")
            .unwrap(),
        &doc! {"db": SRC, "collection": ""}
    );
}

// ---------------------------------------------------------------------------------------
// Point in time: --oplog in both directions

/// Documents in `pit.b` before the concurrent writer starts.
const PIT_SEED: i32 = 3000;

/// A 1-node replica set with `pit.b` = ids 0..PIT_SEED and a task inserting ids PIT_SEED..
/// one at a time (so that every consistent state is a prefix of the ids) until `stop`.
async fn pit_source() -> (
    common::TestServer,
    Arc<AtomicBool>,
    tokio::task::JoinHandle<i32>,
) {
    let server = common::replica_set(1).await;
    let client = server.client();
    let c = client.database("pit").collection::<Document>("b");
    let docs: Vec<Document> = (0..PIT_SEED)
        .map(|i| doc! {"_id": i, "pad": "p".repeat(400)})
        .collect();
    c.insert_many(docs).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let writer = tokio::spawn(async move {
        let mut i = PIT_SEED;
        while !flag.load(Ordering::Relaxed) {
            c.insert_one(doc! {"_id": i, "pad": "w"}).await.unwrap();
            i += 1;
        }
        i
    });
    // Let the writer get going before anything is dumped.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    (server, stop, writer)
}

async fn stop_writer(stop: &AtomicBool, writer: tokio::task::JoinHandle<i32>) -> i32 {
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap()
}

/// `db.b` holds ids 0..n without a hole (a consistent point in time), with
/// PIT_SEED < n <= `written`; returns n.
async fn assert_point_in_time(client: &Client, db: &str, written: i32) -> i32 {
    let ids: Vec<i32> = client
        .database(db)
        .collection::<Document>("b")
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .projection(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect::<Vec<Document>>()
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_i32("_id").unwrap())
        .collect();
    let n = ids.len() as i32;
    assert!(
        n > PIT_SEED && n <= written,
        "{db}.b: {n} documents, expected more than {PIT_SEED} and at most {written}"
    );
    if let Some(k) = ids.iter().enumerate().position(|(k, &id)| id != k as i32) {
        panic!(
            "{db}.b is not a point in time: id {} at position {k}",
            ids[k]
        );
    }
    n
}

/// mongodump --oplog (archive and directory; it dumps the whole server) restored by our
/// restore --oplog-replay into renamed namespaces: each result is a consistent point in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_restore_replays_mongodumps_oplog() {
    let Some(tools) = tools() else { return };
    let (server, stop, writer) = pit_source().await;
    let uri = server.uri();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pit.archive");
    let dir = tmp.path().join("pitdir");
    tools.mongodump(&uri, &["--oplog", &format!("--archive={}", s(&file))]);
    tools.mongodump(&uri, &["--oplog", "--gzip", &format!("--out={}", s(&dir))]);
    let written = stop_writer(&stop, writer).await;
    // mongodump 100.3.1 --gzip names its gzip-compressed oplog `oplog.bson`, no `.gz`.
    let oplog = std::fs::read(dir.join("oplog.bson")).expect("mongodump's oplog.bson");
    assert_eq!(&oplog[..2], &[0x1f, 0x8b]);

    let target = common::standalone().await;
    let client = target.client();
    let spec = spec();
    for (dst, source) in [
        ("e_arch", vec!["--archive", file.to_str().unwrap()]),
        ("e_dir", vec![dir.to_str().unwrap()]),
    ] {
        let to = format!("{dst}.*");
        let mut args = source.clone();
        args.extend([
            "--force",
            "--ns-include",
            "pit.*",
            "--ns-from",
            "pit.*",
            "--ns-to",
            &to,
            "--oplog-replay",
            "-o",
            "json",
        ]);
        let mut a = vec!["restore"];
        a.extend(args);
        let out = mongoctl(spec.path(), &a).uri(&target.uri()).run();
        out.expect_code(0);
        let applied = out.json()["report"]["oplog_applied"].as_u64();
        assert!(applied.is_some_and(|n| n > 0), "{dst}: {}", out.stdout);
        assert_point_in_time(&client, dst, written).await;
    }
}

/// Our `backup --oplog <ours>` restored by `mongorestore --oplogReplay <theirs>` (which cannot
/// rename, so into a server of its own) must give a consistent point in time. `{}` in the
/// arguments stands for the backup's path.
async fn mongorestore_replays_our_oplog(tools: Tools, ours: &[&str], theirs: &[&str]) {
    let (server, stop, writer) = pit_source().await;
    let tmp = tempfile::tempdir().unwrap();
    let path = s(&tmp.path().join("ours"));
    let fill =
        |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.replace("{}", &path)).collect() };
    let mut backup = vec!["--oplog".to_string()];
    backup.extend(fill(ours));
    our_backup_db(
        &server.uri(),
        "pit",
        &backup.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let written = stop_writer(&stop, writer).await;
    let target = common::standalone().await;
    let mut restore = fill(theirs);
    restore.push("--oplogReplay".into());
    let stderr = tools.mongorestore(
        &target.uri(),
        &restore.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    );
    assert!(stderr.contains("applied "), "{stderr}");
    assert_point_in_time(&target.client(), "pit", written).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongorestore_replays_our_directory_oplog() {
    let Some(tools) = tools() else { return };
    mongorestore_replays_our_oplog(tools, &["--out", "{}"], &["--dir={}"]).await;
}

/// mongorestore 100.3.1 only replays a gzip directory's oplog named `oplog.bson` (as mongodump
/// names it, compressed or not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongorestore_replays_our_gzip_directory_oplog() {
    let Some(tools) = tools() else { return };
    mongorestore_replays_our_oplog(tools, &["--gzip", "--out", "{}"], &["--dir={}", "--gzip"])
        .await;
}

/// mongorestore 100.3.1 only replays an archive's oplog that the prelude announces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongorestore_replays_our_archive_oplog() {
    let Some(tools) = tools() else { return };
    mongorestore_replays_our_oplog(
        tools,
        &["--archive", "{}", "--gzip"],
        &["--archive={}", "--gzip"],
    )
    .await;
}

/// A backup during which nothing was written still carries an oplog: it starts at a no-op note
/// the backup writes (inclusive, as mongodump starts at its first entry). mongorestore 100.3.1
/// fails on an archive whose announced oplog is empty ("error demultiplexing archive; archive
/// io error"), and on one starting at an entry it cannot apply elsewhere (an
/// `admin.system.keys` insert of a fresh replica set).
#[tokio::test]
async fn mongorestore_replays_the_oplog_of_a_quiet_archive_backup() {
    let Some(tools) = tools() else { return };
    let server = common::replica_set(1).await;
    server
        .client()
        .database("quiet")
        .collection::<Document>("c")
        .insert_many((0..50).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = s(&tmp.path().join("quiet.archive"));
    our_backup_db(
        &server.uri(),
        "quiet",
        &["--oplog", "--archive", &path, "--gzip"],
    );
    let target = common::standalone().await;
    let stderr = tools.mongorestore(
        &target.uri(),
        &[&format!("--archive={path}"), "--gzip", "--oplogReplay"],
        None,
    );
    // The replay ran (mongorestore asserted its success above): the oplog starts at the
    // backup's own no-op note, which mongorestore skips rather than counts.
    assert!(
        stderr.contains("replaying oplog") && stderr.contains("applied "),
        "{stderr}"
    );
    let n = target
        .client()
        .database("quiet")
        .collection::<Document>("c")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(n, 50);
}

// ---------------------------------------------------------------------------------------
// Users and roles

const AUTHZ: &str = "authz_src";
const ALICE_PASSWORD: &str = "interop-alice-pw";

/// usersInfo (with credentials) and rolesInfo (with privileges) of `db`, as Extended JSON.
async fn authz(client: &Client, db: &str) -> String {
    let d = client.database(db);
    let users = d
        .run_command(doc! {"usersInfo": 1, "showCredentials": true})
        .await
        .unwrap();
    let roles = d
        .run_command(doc! {"rolesInfo": 1, "showPrivileges": true, "showBuiltinRoles": false})
        .await
        .unwrap();
    let both = doc! {
        "users": users.get_array("users").unwrap().clone(),
        "roles": roles.get_array("roles").unwrap().clone(),
    };
    let text = Bson::Document(both).into_relaxed_extjson().to_string();
    assert!(
        text.contains("alice") && text.contains("reader_plus"),
        "{text}"
    );
    text
}

/// Users and roles: mongodump --dumpDbUsersAndRoles restored by our restore
/// --users-and-roles into a renamed database, and our backup --users-and-roles restored by
/// mongorestore --restoreDbUsersAndRoles into another server (where alice can log in); as
/// directories and as archives (theirs from a file and through stdin, ours gzip-compressed).
#[tokio::test]
async fn users_and_roles_cross_both_ways() {
    let Some(tools) = tools() else { return };
    let server = common::standalone().await;
    let client = server.client();
    let d = client.database(AUTHZ);
    d.collection::<Document>("t")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    d.run_command(doc! {"createRole": "reader_plus",
    "privileges": [{"resource": {"db": AUTHZ, "collection": "t"}, "actions": ["find", "insert"]}],
    "roles": [{"role": "read", "db": AUTHZ}]})
        .await
        .unwrap();
    d.run_command(doc! {"createUser": "alice", "pwd": ALICE_PASSWORD,
    "roles": [{"role": "reader_plus", "db": AUTHZ}, {"role": "readWrite", "db": AUTHZ}],
    "customData": {"team": "ünïcode"}})
        .await
        .unwrap();
    let source = authz(&client, AUTHZ).await;
    let uri = server.uri();
    let tmp = tempfile::tempdir().unwrap();

    // Theirs → ours, renamed.
    let theirs = tmp.path().join("theirs");
    tools.mongodump(
        &uri,
        &[
            &format!("--db={AUTHZ}"),
            "--dumpDbUsersAndRoles",
            &format!("--out={}", s(&theirs)),
        ],
    );
    assert!(
        theirs
            .join(AUTHZ)
            .join("$admin.system.users.bson")
            .is_file()
    );
    let spec = spec();
    let from = format!("{AUTHZ}.*");
    mongoctl(
        spec.path(),
        &[
            "restore",
            theirs.to_str().unwrap(),
            "--force",
            "--users-and-roles",
            "--ns-from",
            &from,
            "--ns-to",
            "g_authz.*",
        ],
    )
    .uri(&uri)
    .run()
    .expect_code(0);
    let renamed = source.replace(&format!("\"{AUTHZ}"), "\"g_authz");
    assert_eq!(authz(&client, "g_authz").await, renamed);

    // Ours → theirs, into another server.
    let ours = tmp.path().join("ours");
    our_backup_db(
        &uri,
        AUTHZ,
        &["--users-and-roles", "--out", ours.to_str().unwrap()],
    );
    let target = common::standalone().await;
    tools.mongorestore(
        &target.uri(),
        &[
            &format!("--db={AUTHZ}"),
            "--restoreDbUsersAndRoles",
            &format!("--dir={}", s(&ours.join(AUTHZ))),
        ],
        None,
    );
    assert_eq!(authz(&target.client(), AUTHZ).await, source);
    alice_reads(&target, AUTHZ).await;

    // Archives. Theirs (file, then stdout) → ours, renamed; alice logs in with her password.
    let file = tmp.path().join("theirs.archive");
    let db = format!("--db={AUTHZ}");
    tools.mongodump(
        &uri,
        &[
            &db,
            "--dumpDbUsersAndRoles",
            &format!("--archive={}", s(&file)),
        ],
    );
    let stdout = tools.mongodump(&uri, &[&db, "--dumpDbUsersAndRoles", "--archive"]);
    for (dst, stdin) in [("g_arch_file", None), ("g_arch_stdin", Some(stdout))] {
        let to = format!("{dst}.*");
        let mut a = vec![
            "restore",
            "--users-and-roles",
            "--ns-from",
            &from,
            "--ns-to",
            &to,
        ];
        if let Some(bytes) = stdin {
            a.extend(["--archive", "-"]);
            let (code, stderr) = piped(spec.path(), &uri, &a, bytes);
            assert_eq!(code, 0, "mongoctl {a:?} failed:\n{stderr}");
        } else {
            a.extend(["--archive", file.to_str().unwrap(), "--force"]);
            mongoctl(spec.path(), &a).uri(&uri).run().expect_code(0);
        }
        let renamed = source.replace(&format!("\"{AUTHZ}"), &format!("\"{dst}"));
        assert_eq!(authz(&client, dst).await, renamed);
        alice_reads(&server, dst).await;
    }

    // Ours (gzip archive) → mongorestore --archive --restoreDbUsersAndRoles, another server.
    let ours = tmp.path().join("ours.archive");
    our_backup_db(
        &uri,
        AUTHZ,
        &[
            "--users-and-roles",
            "--gzip",
            "--archive",
            ours.to_str().unwrap(),
        ],
    );
    let target = common::standalone().await;
    tools.mongorestore(
        &target.uri(),
        &[
            &format!("--db={AUTHZ}"),
            "--restoreDbUsersAndRoles",
            "--gzip",
            &format!("--archive={}", s(&ours)),
        ],
        None,
    );
    assert_eq!(authz(&target.client(), AUTHZ).await, source);
    alice_reads(&target, AUTHZ).await;
}

/// alice logs in to `db` of `server` with her password and reads `t` with her restored role.
async fn alice_reads(server: &common::TestServer, db: &str) {
    let port = server.ports()[0];
    let alice = Client::with_uri_str(format!(
        "mongodb://alice:{ALICE_PASSWORD}@127.0.0.1:{port}/?authSource={db}&directConnection=true"
    ))
    .await
    .unwrap();
    let n = alice
        .database(db)
        .collection::<Document>("t")
        .count_documents(doc! {})
        .await
        .expect("alice authenticates and reads with her restored role");
    assert_eq!(n, 1);
}

/// (g) collection names that are paths, escapes, non-ASCII and long: mongodump and our backup
/// name their files alike (url.QueryEscape, hashed 238-byte stems), mongorestore restores
/// ours and our restore restores mongodump's, every name exactly.
#[tokio::test]
async fn hostile_collection_names_cross_both_ways() {
    let Some(tools) = tools() else { return };
    let server = common::standalone().await;
    let client = server.client();
    let uri = server.uri();
    let tmp = tempfile::tempdir().unwrap();
    let names = crate::backup::hostile_names(tmp.path());
    crate::backup::seed_names(&client, "hostile", &names).await;
    let files = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("hostile"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    for gzip in [false, true] {
        let tag = if gzip { "gz" } else { "plain" };
        let ours = tmp.path().join(format!("ours_{tag}"));
        let theirs = tmp.path().join(format!("theirs_{tag}"));
        let mut args = vec!["--out", ours.to_str().unwrap()];
        if gzip {
            args.push("--gzip");
        }
        our_backup_db(&uri, "hostile", &args);
        let (db, o) = ("--db=hostile".to_string(), format!("--out={}", s(&theirs)));
        let mut a = vec![db.as_str(), o.as_str()];
        if gzip {
            a.push("--gzip");
        }
        tools.mongodump(&uri, &a);
        // The same file names, byte for byte.
        assert_eq!(files(&ours), files(&theirs), "{tag}");

        let dst = format!("m_{tag}");
        let (from, to) = ("--nsFrom=hostile.*".to_string(), format!("--nsTo={dst}.*"));
        let dir = format!("--dir={}", s(&ours));
        let mut a = vec![from.as_str(), to.as_str(), dir.as_str()];
        if gzip {
            a.push("--gzip");
        }
        tools.mongorestore(&uri, &a, None);
        crate::backup::assert_names_round_trip(&client, "hostile", &dst, &names).await;

        let dst = format!("o_{tag}");
        let spec = spec();
        let to = format!("{dst}.*");
        mongoctl(
            spec.path(),
            &[
                "restore",
                theirs.to_str().unwrap(),
                "--force",
                "--ns-from",
                "hostile.*",
                "--ns-to",
                &to,
            ],
        )
        .uri(&uri)
        .run()
        .expect_code(0);
        crate::backup::assert_names_round_trip(&client, "hostile", &dst, &names).await;
    }
    // Neither tool wrote outside its --out.
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["ours_gz", "ours_plain", "theirs_gz", "theirs_plain"]);
}
