//! Continuous point-in-time recovery against real replica sets: `backup oplog --follow`
//! under concurrent writes, killed mid-slice (SIGKILL) and restarted, then `restore
//! --to-time` at several points checked document by document against the source's oplog;
//! and a gap (a tiny oplog rolled over while nothing followed it) detected, recorded, and
//! refused as a restore target. Everything waits on observable state (the slices manifest,
//! the oplog), never on sleeps.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bson::{Document, Timestamp, doc};
use futures::TryStreamExt;
use mongodb::Client;
use serde_json::Value;

use crate::common;
use crate::support::{free_ports_below_ephemeral, mongoctl};

type Ts = (u32, u32);

fn ts_of(d: &Document) -> Ts {
    let t = d.get_timestamp("ts").unwrap();
    (t.time, t.increment)
}

fn ts_json(v: &Value) -> Ts {
    (v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32)
}

fn arg(t: Ts) -> String {
    format!("{}:{}", t.0, t.1)
}

/// The source's inserts into `ns`: insert timestamp → `_id`.
async fn inserts(client: &Client, ns: &str) -> BTreeMap<Ts, i64> {
    let entries: Vec<Document> = client
        .database("local")
        .collection::<Document>("oplog.rs")
        .find(doc! {"ns": ns, "op": "i"})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    entries
        .iter()
        .map(|e| {
            let id = e.get_document("o").unwrap().get("_id").unwrap();
            (
                ts_of(e),
                id.as_i64().or(id.as_i32().map(i64::from)).unwrap(),
            )
        })
        .collect()
}

async fn all_ts(client: &Client, after: Ts, upto: Ts) -> Vec<Ts> {
    let entries: Vec<Document> = client
        .database("local")
        .collection::<Document>("oplog.rs")
        .find(doc! {"ts": {
            "$gt": Timestamp { time: after.0, increment: after.1 },
            "$lte": Timestamp { time: upto.0, increment: upto.1 },
        }})
        .sort(doc! {"$natural": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    entries.iter().map(ts_of).collect()
}

fn manifest(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("slices.json")).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

fn slices(m: &Value) -> Vec<Value> {
    m["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "slice")
        .cloned()
        .collect()
}

/// Polls the slices manifest until it lists at least `n` slices.
fn wait_for_slices(dir: &Path, n: usize, child: &mut std::process::Child) {
    let t0 = Instant::now();
    loop {
        if manifest(dir).is_some_and(|m| slices(&m).len() >= n) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the follower exited ({status}) before {n} slices:\n{err}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no {n} slices in 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every entry in the slices, in order, decompressed.
fn slice_entries(dir: &Path, m: &Value) -> Vec<Ts> {
    let mut out = Vec::new();
    for s in slices(m) {
        let f = std::fs::File::open(dir.join(s["file"].as_str().unwrap())).unwrap();
        let mut r = flate2::read::MultiGzDecoder::new(f);
        while let Ok(d) = Document::from_reader(&mut r) {
            out.push(ts_of(&d));
        }
    }
    out
}

fn backup(spec: &Path, uri: &str, db: &str, out: &Path) -> Value {
    let o = mongoctl(
        spec,
        &[
            "backup",
            "--db",
            db,
            "--oplog",
            "--out",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .uri(uri)
    .run();
    o.expect_code(0);
    o.json()["manifest"]["oplog"].clone()
}

/// Inserts `{_id: i, n: i}` one at a time into `db.live` until stopped.
fn start_writer(client: Client, db: &str) -> (Arc<AtomicBool>, tokio::task::JoinHandle<i64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let c = client.database(db).collection::<Document>("live");
    let h = tokio::spawn(async move {
        let mut i = 0i64;
        while !stop2.load(Ordering::Relaxed) {
            c.insert_one(doc! {"_id": i, "n": i, "pad": "p".repeat(64)})
                .await
                .unwrap();
            i += 1;
        }
        i
    });
    (stop, h)
}

async fn sorted_docs(client: &Client, db: &str) -> Vec<Document> {
    client
        .database(db)
        .collection::<Document>("live")
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn follow_survives_sigkill_and_restores_to_points_exactly() {
    let server = common::replica_set(1).await;
    let target = common::replica_set(1).await;
    let client = server.client();
    let spec = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (backups, sl) = (tmp.path().join("backups"), tmp.path().join("oplog"));
    std::fs::create_dir_all(&backups).unwrap();
    let uri = server.uri();

    let (stop, writer) = start_writer(server.client(), "pitr");
    // Wait for the writer's first document: the base backup then holds some.
    while client
        .database("pitr")
        .collection::<Document>("live")
        .estimated_document_count()
        .await
        .unwrap()
        < 200
    {
        tokio::task::yield_now().await;
    }
    let (spec_p, b1p, u) = (spec.path().to_path_buf(), backups.join("b1"), uri.clone());
    let b1 = tokio::task::spawn_blocking(move || backup(&spec_p, &u, "pitr", &b1p))
        .await
        .unwrap();
    let b1_end = ts_json(&b1["end"]);

    let follow_args: Vec<String> = [
        "backup",
        "oplog",
        "--follow",
        "--out",
        sl.to_str().unwrap(),
        "--from",
        backups.join("b1").to_str().unwrap(),
        "--slice-entries",
        "300",
        "-o",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let args: Vec<&str> = follow_args.iter().map(String::as_str).collect();
    let mut child = mongoctl(spec.path(), &args).uri(&uri).spawn();
    let sl2 = sl.clone();
    let mut child = tokio::task::spawn_blocking(move || {
        wait_for_slices(&sl2, 2, &mut child);
        child
    })
    .await
    .unwrap();
    // Killed mid-slice: the open slice's temporary file is there, not listed.
    child.kill().unwrap();
    child.wait().unwrap();
    let m = manifest(&sl).unwrap();
    let parts: Vec<String> = std::fs::read_dir(&sl)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(!parts.is_empty(), "no open slice at the kill");
    let listed_at_kill = slices(&m).len();

    // A second base backup while the writes go on. Its reads are held for a second each
    // (the oplog-start lookup, then the collection's `find`), so writes are sure to land
    // between its start and its end however fast the dump is.
    client
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 2},
            "data": {
                "failCommands": ["find"],
                "blockConnection": true,
                "blockTimeMS": 1000,
                "appName": format!("mongoctl {}", env!("CARGO_PKG_VERSION")),
            },
        })
        .await
        .unwrap();
    let (spec_p, b2p, u) = (spec.path().to_path_buf(), backups.join("b2"), uri.clone());
    let b2 = tokio::task::spawn_blocking(move || backup(&spec_p, &u, "pitr", &b2p))
        .await
        .unwrap();
    let (b2_start, b2_end) = (ts_json(&b2["start"]), ts_json(&b2["end"]));
    client
        .database("admin")
        .run_command(doc! {"configureFailPoint": "failCommand", "mode": "off"})
        .await
        .unwrap();
    // Writes after b2 too, for the point restored inside a slice past its end.
    let live = client.database("pitr").collection::<Document>("live");
    let at_b2 = live.estimated_document_count().await.unwrap();
    while live.estimated_document_count().await.unwrap() < at_b2 + 1000 {
        tokio::task::yield_now().await;
    }

    // Restarted: it resumes after the last durable slice.
    let mut child = mongoctl(spec.path(), &args).uri(&uri).spawn();
    let sl2 = sl.clone();
    let child = tokio::task::spawn_blocking(move || {
        wait_for_slices(&sl2, listed_at_kill + 3, &mut child);
        child
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    // SIGTERM: the open slice is saved, then it exits 0.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Whatever came after: saved by a `--once` run.
    let once = mongoctl(
        spec.path(),
        &[
            "backup",
            "oplog",
            "--follow",
            "--out",
            sl.to_str().unwrap(),
            "--once",
        ],
    )
    .uri(&uri)
    .run();
    once.expect_code(0);
    assert!(once.stderr.contains("Stopped (once)"), "{}", once.stderr);

    // No gap, no overlap: the slices hold exactly the oplog after b1's end.
    let m = manifest(&sl).unwrap();
    let ss = slices(&m);
    assert!(ss.len() > listed_at_kill + 3, "{m}");
    for w in ss.windows(2) {
        assert_eq!(w[1]["after"], w[0]["last"], "slices not contiguous: {m}");
    }
    assert_eq!(ts_json(&ss[0]["after"]), b1_end);
    let last = ts_json(&ss.last().unwrap()["last"]);
    let saved = slice_entries(&sl, &m);
    assert_eq!(
        saved,
        all_ts(&client, b1_end, last).await,
        "slices vs oplog"
    );
    assert!(
        !std::fs::read_dir(&sl).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part"))
    );

    // `backup list` shows each base's window.
    let l = mongoctl(
        spec.path(),
        &[
            "backup",
            "list",
            backups.to_str().unwrap(),
            "--oplog-dir",
            sl.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .run();
    l.expect_code(0);
    let windows = l.json()["restorable"].clone();
    for (name, from) in [("b1", b1_end), ("b2", b2_end)] {
        let w = windows
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["backup"] == name)
            .unwrap_or_else(|| panic!("{name} not in {windows}"));
        assert_eq!(ts_json(&w["window"]["from"]), from);
        assert_eq!(ts_json(&w["window"]["to"]), last);
    }

    let ins = inserts(&client, "pitr.live").await;
    assert_eq!(ins.len() as i64, written);
    let source_docs: BTreeMap<i64, Document> = sorted_docs(&client, "pitr")
        .await
        .into_iter()
        .map(|d| (d.get_i64("_id").unwrap(), d))
        .collect();
    // Points: inside b2's own oplog window (b1 and slices serve it), at a slice boundary,
    // inside a slice after b2's end.
    let during_b2: Vec<&Ts> = ins
        .keys()
        .filter(|t| **t > b2_start && **t < b2_end)
        .collect();
    assert!(!during_b2.is_empty(), "no write landed during b2");
    let inside_b2 = *during_b2[during_b2.len() / 2];
    let boundary = ts_json(&ss[ss.len() / 2]["last"]);
    let after_b2 = *ins.keys().filter(|t| **t > b2_end).nth(150).unwrap();
    let target_uri = target.uri();
    for (k, (t, base)) in [(inside_b2, "b1"), (boundary, ""), (after_b2, "b2")]
        .into_iter()
        .enumerate()
    {
        let db = format!("at{k}");
        let o = mongoctl(
            spec.path(),
            &[
                "restore",
                backups.to_str().unwrap(),
                "--to-time",
                &arg(t),
                "--oplog-dir",
                sl.to_str().unwrap(),
                "--ns-from",
                "pitr.*",
                "--ns-to",
                &format!("{db}.*"),
                "-o",
                "json",
            ],
        )
        .uri(&target_uri)
        .run();
        o.expect_code(0);
        let r = o.json()["to_time"].clone();
        assert_eq!(ts_json(&r["reached"]), t, "{r}");
        if !base.is_empty() {
            assert_eq!(r["base"], base, "{r}");
        }
        let expected: Vec<&Document> = ins
            .iter()
            .filter(|(ts, _)| **ts <= t)
            .map(|(_, id)| &source_docs[id])
            .collect();
        let got = sorted_docs(&target.client(), &db).await;
        let mut expected = expected;
        expected.sort_by_key(|d| d.get_i64("_id").unwrap());
        assert_eq!(got.len(), expected.len(), "point {k} ({})", arg(t));
        for (g, e) in got.iter().zip(expected) {
            assert_eq!(g, e, "point {k}");
        }
    }

    // Before every base, and past the last slice: refused, nothing written.
    for (t, words) in [
        ((b1_end.0 - 1, 0), "before every base backup"),
        ((last.0 + 5, 0), "past the last oplog slice"),
    ] {
        let o = mongoctl(
            spec.path(),
            &[
                "restore",
                backups.to_str().unwrap(),
                "--to-time",
                &arg(t),
                "--oplog-dir",
                sl.to_str().unwrap(),
                "--ns-from",
                "pitr.*",
                "--ns-to",
                "refused.*",
            ],
        )
        .uri(&target_uri)
        .run();
        o.expect_code(1);
        assert!(o.stderr.contains(words), "{}", o.stderr);
    }
    let dbs = target.client().list_database_names().await.unwrap();
    assert!(!dbs.contains(&"refused".to_string()), "{dbs:?}");
}

/// A replica set of one member with a 1 MB oplog and a checkpoint every second (the
/// harness has no option for either; truncation never passes the last checkpoint).
struct TinyOplogSet {
    child: std::process::Child,
    uri: String,
    _dir: tempfile::TempDir,
}

impl Drop for TinyOplogSet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch_tiny(dir: &Path, port: u16) -> std::process::Child {
    let mongod: PathBuf = mongoctl::mongod::find_mongod().unwrap();
    std::process::Command::new(mongod)
        .arg("--dbpath")
        .arg(dir)
        .args(["--port", &port.to_string(), "--bind_ip", "127.0.0.1"])
        .args([
            "--replSet",
            "tiny",
            "--oplogSize",
            "1",
            "--nounixsocket",
            "--quiet",
        ])
        // A checkpoint every second: the oplog is never truncated past the last one.
        .args(["--syncdelay", "1"])
        .args(["--wiredTigerCacheSizeGB", "0.25"])
        .arg("--logpath")
        .arg(dir.join("mongod.log"))
        .arg("--logappend")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_primary(c: &Client) {
    let t0 = Instant::now();
    loop {
        let h = c.database("admin").run_command(doc! {"hello": 1}).await;
        if h.is_ok_and(|h| h.get_bool("isWritablePrimary").unwrap_or(false)) {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no primary");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Initiated, then restarted on its data, as a member that has been running is.
async fn tiny_oplog_set() -> TinyOplogSet {
    let dir = tempfile::tempdir().unwrap();
    let port = free_ports_below_ephemeral(1);
    let mut child = launch_tiny(dir.path(), port);
    let direct = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
    let c = Client::with_uri_str(&direct).await.unwrap();
    let t0 = Instant::now();
    loop {
        let r = c
            .database("admin")
            .run_command(doc! {"replSetInitiate": {"_id": "tiny", "members": [{"_id": 0, "host": format!("127.0.0.1:{port}")}]}})
            .await;
        match r {
            Ok(_) => break,
            Err(e) if e.to_string().contains("already initialized") => break,
            Err(_) if t0.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("replSetInitiate: {e}"),
        }
    }
    wait_primary(&c).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let child = launch_tiny(dir.path(), port);
    let c = Client::with_uri_str(&direct).await.unwrap();
    wait_primary(&c).await;
    TinyOplogSet {
        child,
        uri: direct,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_rolled_over_oplog_is_a_recorded_gap_and_no_restore_target() {
    let set = tiny_oplog_set().await;
    let client = Client::with_uri_str(&set.uri).await.unwrap();
    let spec = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (backups, sl) = (tmp.path().join("backups"), tmp.path().join("oplog"));
    std::fs::create_dir_all(&backups).unwrap();
    let live = client.database("gap").collection::<Document>("live");
    live.insert_many((0..100).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    let b = backup(spec.path(), &set.uri, "gap", &backups.join("b1"));
    let follow = |extra: &[&str]| {
        let mut a = vec!["backup", "oplog", "--follow", "--out", sl.to_str().unwrap()];
        a.extend_from_slice(extra);
        mongoctl(spec.path(), &a).uri(&set.uri).run()
    };
    let b1 = backups.join("b1");
    follow(&["--from", b1.to_str().unwrap(), "--once"]).expect_code(0);
    live.insert_many((100..110).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    follow(&["--once"]).expect_code(0);
    let saved = ts_json(&slices(&manifest(&sl).unwrap()).last().unwrap()["last"]);
    assert!(saved > ts_json(&b["end"]));

    // The follower is stopped; writes roll the 1 MB oplog over past what it saved.
    let oplog = client.database("local").collection::<Document>("oplog.rs");
    let mut n = 1000;
    let oldest = loop {
        live.insert_many((n..n + 200).map(|i| doc! {"_id": i, "pad": "g".repeat(4000)}))
            .await
            .unwrap();
        n += 200;
        // Truncation never passes the last checkpoint: take one (fsync).
        client
            .database("admin")
            .run_command(doc! {"fsync": 1})
            .await
            .unwrap();
        let first = oplog
            .find_one(doc! {})
            .sort(doc! {"$natural": 1})
            .await
            .unwrap()
            .unwrap();
        if ts_of(&first) > saved {
            break ts_of(&first);
        }
        if n >= 40_000 {
            let st = client
                .database("local")
                .run_command(doc! {"collStats": "oplog.rs"})
                .await
                .unwrap();
            let log = std::fs::read_to_string(set._dir.path().join("mongod.log")).unwrap();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("plog") || l.contains("runcat") || l.contains("tone"))
                .collect();
            panic!(
                "the oplog never rolled over: size {:?} maxSize {:?} count {:?}\n{}",
                st.get("size"),
                st.get("maxSize"),
                st.get("count"),
                lines.join("\n")
            );
        }
    };

    let o = follow(&["--once"]);
    o.expect_code(1);
    assert!(
        o.stderr.contains("GAP") && o.stderr.contains(&arg(saved)),
        "{}",
        o.stderr
    );
    let m = manifest(&sl).unwrap();
    let gap = m["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(gap["kind"], "gap", "{m}");
    assert_eq!(ts_json(&gap["after"]), saved);
    assert!(ts_json(&gap["oldest_available"]) >= oldest);
    assert!(gap["resumed_at"].is_null());
    // Asked again, the same gap: still refused, recorded once.
    follow(&["--once"]).expect_code(1);
    let m = manifest(&sl).unwrap();
    assert_eq!(
        m["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "gap")
            .count(),
        1
    );

    // A restore into the gap is refused, naming it, before any write.
    let into_gap = (saved.0, saved.1 + 1);
    let restore = |t: Ts| {
        mongoctl(
            spec.path(),
            &[
                "restore",
                backups.to_str().unwrap(),
                "--to-time",
                &arg(t),
                "--oplog-dir",
                sl.to_str().unwrap(),
                "--ns-from",
                "gap.*",
                "--ns-to",
                "back.*",
            ],
        )
        .uri(&set.uri)
        .run()
    };
    let o = restore(into_gap);
    o.expect_code(1);
    assert!(
        o.stderr.contains("inside a gap") && o.stderr.contains(&arg(saved)),
        "{}",
        o.stderr
    );
    assert!(
        !client
            .list_database_names()
            .await
            .unwrap()
            .contains(&"back".to_string())
    );

    // Going on past it keeps the gap recorded; a point after it still needs a newer base.
    follow(&["--once", "--continue-past-gap"]).expect_code(0);
    let m = manifest(&sl).unwrap();
    let recs = m["records"].as_array().unwrap();
    let gi = recs.iter().position(|r| r["kind"] == "gap").unwrap();
    assert!(!recs[gi]["resumed_at"].is_null());
    assert!(recs[gi + 1]["after"].is_null(), "{m}");
    let after_gap = ts_json(&recs.last().unwrap()["last"]);
    let o = restore(after_gap);
    o.expect_code(1);
    assert!(o.stderr.contains("past a gap"), "{}", o.stderr);
    // Up to the gap's start, the restore works.
    let o = restore(saved);
    o.expect_code(0);
    let n_back = client
        .database("back")
        .collection::<Document>("live")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(n_back, 110);
}
