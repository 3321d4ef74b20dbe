//! Client-side encrypted backups (age): `backup keygen`, `backup --encrypt-to`, `restore` and
//! `backup verify --identity`. Round trips restore exactly the documents backed up; a
//! missing or wrong identity and a flipped byte are refused before the first write; the
//! secret key never appears in any output.

use std::path::{Path, PathBuf};

use bson::{Document, doc};
use mongodb::Client;

use crate::backup::all;
use crate::common;
use crate::support::{Output, mongoctl};

/// A new identity made by `backup keygen`: (identity file, public recipient, secret line).
pub(crate) fn keygen(
    dir: &Path,
    name: &str,
    outputs: &mut Vec<String>,
) -> (PathBuf, String, String) {
    let file = dir.join(name);
    let out = mongoctl(dir, &["backup", "keygen", "--out", file.to_str().unwrap()]).run();
    out.expect_code(0);
    outputs.push(out.all());
    let public = out.stdout.trim().to_string();
    assert!(public.starts_with("age1"), "{}", out.stdout);
    assert_eq!(
        out.stdout,
        format!("{public}\n"),
        "only the recipient on stdout"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let secret = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("a secret key line")
        .to_string();
    (file, public, secret)
}

/// No output of the test holds a secret key (or any part that looks like one).
fn assert_no_secret(outputs: &[String], secrets: &[&str]) {
    for o in outputs {
        assert!(
            !o.contains("AGE-SECRET-KEY"),
            "a secret key was printed:\n{o}"
        );
        for s in secrets {
            assert!(
                !o.contains(&s[16..48]),
                "part of a secret key was printed:\n{o}"
            );
            assert!(!o.to_lowercase().contains(&s[16..48].to_lowercase()));
        }
    }
}

/// `s.a` (2,500 documents of mixed types, an index) and `s.b` (300 documents).
async fn seed(client: &Client) {
    let a: Vec<Document> = (0..2500)
        .map(|i| {
            doc! {"_id": i, "n": i64::from(i) * 7, "s": format!("doc {i} {}", "x".repeat(i as usize % 90)),
            "d": bson::DateTime::from_millis(1_700_000_000_000 + i64::from(i)), "arr": [i, {"k": i % 3}]}
        })
        .collect();
    client
        .database("s")
        .collection("a")
        .insert_many(a)
        .await
        .unwrap();
    client
        .database("s")
        .run_command(doc! {"createIndexes": "a", "indexes": [{"key": {"n": -1}, "name": "n_-1"}]})
        .await
        .unwrap();
    let b: Vec<Document> = (0..300)
        .map(|i| doc! {"_id": format!("b{i}"), "v": i})
        .collect();
    client
        .database("s")
        .collection("b")
        .insert_many(b)
        .await
        .unwrap();
}

fn run(spec: &Path, uri: &str, args: &[&str], outputs: &mut Vec<String>) -> Output {
    let out = mongoctl(spec, args).uri(uri).run();
    outputs.push(out.all());
    out
}

fn manifest_of(backup: &Path) -> serde_json::Value {
    let p = if backup.is_dir() {
        backup.join("manifest.json")
    } else {
        PathBuf::from(format!("{}.manifest.json", backup.display()))
    };
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Every file of a directory backup but the manifest is an age file named `….age`.
fn assert_all_encrypted(dir: &Path) {
    let mut n = 0;
    for db in std::fs::read_dir(dir).unwrap() {
        let db = db.unwrap();
        if !db.file_type().unwrap().is_dir() {
            assert_eq!(db.file_name(), "manifest.json");
            continue;
        }
        for f in std::fs::read_dir(db.path()).unwrap() {
            let p = f.unwrap().path();
            assert!(p.to_str().unwrap().ends_with(".age"), "{}", p.display());
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                bytes.starts_with(b"age-encryption.org/v1\n"),
                "{}",
                p.display()
            );
            n += 1;
        }
    }
    assert_eq!(n, 4, "two data and two metadata files");
}

#[tokio::test]
async fn encrypted_backups_round_trip_and_verify_with_and_without_identity() {
    let server = common::standalone().await;
    let client = server.client();
    let uri = server.uri();
    seed(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path();
    let mut outputs = Vec::new();
    let (id_a, pub_a, secret_a) = keygen(ws, "ops.key", &mut outputs);
    let (id_b, pub_b, secret_b) = keygen(ws, "laptop.key", &mut outputs);
    let recipients = ws.join("recipients.txt");
    std::fs::write(&recipients, format!("# the laptop\n{pub_b}\n")).unwrap();

    let variants: [(&str, &[&str]); 3] = [
        ("dir-gzip", &["--gzip"]),
        ("dir-plain", &[]),
        ("archive-gzip", &["--gzip"]),
    ];
    for (i, (name, extra)) in variants.iter().enumerate() {
        let archive = name.starts_with("archive");
        let path = ws.join(if archive {
            format!("{name}.archive.gz.age")
        } else {
            name.to_string()
        });
        let p = path.to_str().unwrap();
        let mut args = vec!["backup", "--db", "s", "--encrypt-to", &pub_a];
        args.extend(["--encrypt-to-file", recipients.to_str().unwrap()]);
        args.extend(if archive {
            ["--archive", p]
        } else {
            ["--out", p]
        });
        args.extend(extra.iter());
        run(ws, &uri, &args, &mut outputs).expect_code(0);

        let m = manifest_of(&path);
        assert_eq!(m["encryption"]["scheme"], "age-x25519");
        assert_eq!(
            m["encryption"]["recipients"],
            serde_json::json!([pub_a, pub_b])
        );
        let files = m["files"].as_array().unwrap();
        assert!(files.iter().all(|f| f["encrypted"] == true), "{m}");
        if archive {
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
        } else {
            assert_all_encrypted(&path);
            let gz = if extra.is_empty() { "" } else { ".gz" };
            let data = format!("s/a.bson{gz}.age");
            assert!(files.iter().any(|f| f["path"] == data.as_str()), "{m}");
        }

        // Restored into r<i>.*: exactly the documents backed up.
        let target = format!("r{i}.*");
        let mut args = vec!["restore", "--ns-from", "s.*", "--ns-to", &target];
        args.extend(["--identity", id_b.to_str().unwrap(), "-o", "json"]);
        args.extend(if archive {
            ["--archive", p]
        } else {
            [p, "--jobs"]
        });
        if !archive {
            args.push("2");
        }
        let out = run(ws, &uri, &args, &mut outputs);
        out.expect_code(0);
        assert_eq!(out.json()["ok"], true, "{}", out.stdout);
        let db = format!("r{i}");
        for coll in ["a", "b"] {
            assert_eq!(
                all(&client, &db, coll).await,
                all(&client, "s", coll).await,
                "{name} {coll}"
            );
        }
        let idx = client
            .database(&db)
            .collection::<Document>("a")
            .list_index_names()
            .await
            .unwrap();
        assert!(idx.contains(&"n_-1".to_string()), "{idx:?}");

        // verify without an identity: the bytes on disk against the manifest; with one:
        // every document decrypted and parsed.
        let out = run(ws, &uri, &["backup", "verify", p], &mut outputs);
        out.expect_code(0);
        assert!(out.stdout.contains("not decrypted"), "{}", out.stdout);
        let out = run(
            ws,
            &uri,
            &[
                "backup",
                "verify",
                p,
                "--identity",
                id_a.to_str().unwrap(),
                "-o",
                "json",
            ],
            &mut outputs,
        );
        out.expect_code(0);
        let r = &out.json()["report"];
        assert_eq!(r["decrypted"], true);
        assert_eq!(r["documents"], 2800);
        assert!(r["encrypted_files"].as_u64().unwrap() >= 1);
    }
    assert_no_secret(&outputs, &[&secret_a, &secret_b]);
    // Nor is it in any file of the backups.
    for e in walk(ws) {
        if e.extension().is_some_and(|x| x == "key") {
            continue;
        }
        let bytes = std::fs::read(&e).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("AGE-SECRET-KEY"), "{}", e.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The live target `live.a` (one document) and `live` holding nothing else: what a refused
/// restore must leave exactly as it was.
async fn assert_target_unchanged(client: &Client) {
    let names = client
        .database("live")
        .list_collection_names()
        .await
        .unwrap();
    assert_eq!(names, vec!["a".to_string()], "a collection was created");
    assert_eq!(
        all(client, "live", "a").await,
        vec![doc! {"_id": -1, "live": true}]
    );
}

fn flip_byte(path: &Path, at_fraction: f64) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = (bytes.len() as f64 * at_fraction) as usize;
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

/// Records `rel`'s new length and BLAKE3 digest in the manifest (no CRC-32C): the manifest's
/// checksums then pass, and only age's authentication is left to catch the change.
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

#[tokio::test]
async fn a_missing_or_wrong_identity_or_a_flipped_byte_writes_nothing() {
    let server = common::standalone().await;
    let client = server.client();
    let uri = server.uri();
    seed(&client).await;
    client
        .database("live")
        .collection("a")
        .insert_one(doc! {"_id": -1, "live": true})
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path();
    let mut outputs = Vec::new();
    let (id, public, secret) = keygen(ws, "right.key", &mut outputs);
    let (wrong, wrong_pub, wrong_secret) = keygen(ws, "wrong.key", &mut outputs);
    let dir = ws.join("b");
    let d = dir.to_str().unwrap();
    run(
        ws,
        &uri,
        &[
            "backup",
            "--db",
            "s",
            "--gzip",
            "--out",
            d,
            "--encrypt-to",
            &public,
        ],
        &mut outputs,
    )
    .expect_code(0);
    let archive = ws.join("b.archive.age");
    let ar = archive.to_str().unwrap();
    run(
        ws,
        &uri,
        &[
            "backup",
            "--db",
            "s",
            "--archive",
            ar,
            "--encrypt-to",
            &public,
        ],
        &mut outputs,
    )
    .expect_code(0);
    let into_live = ["--ns-from", "s.*", "--ns-to", "live.*"];
    let restore = |source: &[&str], identity: Option<&Path>, outputs: &mut Vec<String>| {
        let mut args = vec!["restore"];
        args.extend(source);
        args.extend(into_live);
        if let Some(p) = identity {
            args.extend(["--identity", p.to_str().unwrap()]);
        }
        let out = run(ws, &uri, &args, outputs);
        out.expect_code(1);
        out.stderr
    };

    // No identity: said plainly, with the recipients, before anything is written.
    for source in [&[d][..], &["--archive", ar][..]] {
        let e = restore(source, None, &mut outputs);
        assert!(e.contains("nothing was restored"), "{e}");
        assert!(e.contains("is an encrypted backup"), "{e}");
        assert!(
            e.contains(&public) && e.contains("pass --identity FILE"),
            "{e}"
        );
        assert!(e.contains("not readable by mongorestore"), "{e}");
        assert_target_unchanged(&client).await;
    }
    // The wrong identity: the file, and whom it was encrypted to.
    let e = restore(&[d], Some(&wrong), &mut outputs);
    assert!(e.contains("none of the identities given"), "{e}");
    assert!(
        e.contains(&wrong_pub),
        "the identity tried is named by its public key: {e}"
    );
    assert!(e.contains(&format!("it was encrypted to {public}")), "{e}");
    assert!(
        e.contains("s/a.bson.gz.age")
            || e.contains("s/b.bson.gz.age")
            || e.contains(".metadata.json.gz.age"),
        "{e}"
    );
    assert_target_unchanged(&client).await;
    let e = restore(&["--archive", ar], Some(&wrong), &mut outputs);
    assert!(e.contains(&format!("it was encrypted to {public}")), "{e}");
    assert_target_unchanged(&client).await;
    // `backup verify` with the wrong identity fails the same way.
    let out = run(
        ws,
        &uri,
        &["backup", "verify", d, "--identity", wrong.to_str().unwrap()],
        &mut outputs,
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("none of the identities given"),
        "{}",
        out.stderr
    );

    // A flipped byte: the manifest's checksum of the bytes on disk catches it first.
    let rel = "s/a.bson.gz.age";
    flip_byte(&dir.join(rel), 0.5);
    let e = restore(&[d], Some(&id), &mut outputs);
    assert!(e.contains(&format!("{rel}: CRC-32C mismatch")), "{e}");
    assert_target_unchanged(&client).await;
    let out = run(ws, &uri, &["backup", "verify", d], &mut outputs);
    out.expect_code(1);
    assert!(
        out.stderr.contains(&format!("{rel}: BLAKE3 mismatch")),
        "{}",
        out.stderr
    );
    // The same change with the manifest re-hashed to match: age's authentication catches
    // it, still before the first write (the check decrypts every file).
    rehash(&dir, rel);
    let e = restore(&[d], Some(&id), &mut outputs);
    assert!(e.contains("age authentication failed"), "{e}");
    assert!(e.contains(rel), "{e}");
    assert_target_unchanged(&client).await;
    // verify without an identity can only check the bytes against the manifest (which
    // now agrees); with it, the change is found.
    run(ws, &uri, &["backup", "verify", d], &mut outputs).expect_code(0);
    let out = run(
        ws,
        &uri,
        &["backup", "verify", d, "--identity", id.to_str().unwrap()],
        &mut outputs,
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("age authentication failed"),
        "{}",
        out.stderr
    );
    // The archive: a flipped byte in its age header (the recipient stanza) is refused up
    // front, when the header is opened.
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&archive, bytes).unwrap();
    let e = restore(&["--archive", ar], Some(&id), &mut outputs);
    assert!(e.contains("nothing was restored"), "{e}");
    assert!(e.contains("b.archive.age"), "{e}");
    assert_target_unchanged(&client).await;

    // An encrypted archive on standard input without an identity.
    let plain_archive = ws.join("c.archive.age");
    let pa = plain_archive.to_str().unwrap();
    run(
        ws,
        &uri,
        &[
            "backup",
            "--db",
            "s",
            "--archive",
            pa,
            "--encrypt-to",
            &public,
        ],
        &mut outputs,
    )
    .expect_code(0);
    let out = mongoctl(
        ws,
        &[
            "restore",
            "--archive",
            "-",
            "--ns-from",
            "s.*",
            "--ns-to",
            "live.*",
        ],
    )
    .uri(&uri)
    .run_piped(Some(std::fs::read(&plain_archive).unwrap()));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("standard input is encrypted (age)"),
        "{}",
        out.stderr
    );
    outputs.push(out.stderr.clone());
    assert_target_unchanged(&client).await;

    // keygen never overwrites an identity.
    let before = std::fs::read(&id).unwrap();
    let out = run(
        ws,
        &uri,
        &["backup", "keygen", "--out", id.to_str().unwrap()],
        &mut outputs,
    );
    out.expect_code(1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(std::fs::read(&id).unwrap(), before);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&id).unwrap().permissions().mode() & 0o777,
        0o600
    );

    assert_no_secret(&outputs, &[&secret, &wrong_secret]);
}
