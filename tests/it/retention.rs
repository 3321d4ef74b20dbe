//! `backup prune` by age: copies of one real backup with their manifests' `finished_at` set
//! across months, an old incomplete backup; the dry run's reasons, the deletions, bad input.

use std::path::Path;

use bson::{Document, doc};

use crate::common;
use crate::support::mongoctl;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `backups/<name>` = the real backup with its manifest's finish time set to `finished`.
pub(crate) fn dated_copy(real: &Path, backups: &Path, name: &str, finished: &str) {
    let dir = backups.join(name);
    copy_dir(real, &dir);
    let path = dir.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m["started_at"] = finished.into();
    m["finished_at"] = finished.into();
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
}

fn names(v: &serde_json::Value, keep: bool) -> Vec<String> {
    v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["keep"] == keep)
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn prune_by_calendar_rules_says_why_and_deletes_exactly_the_rest() {
    let server = common::standalone().await;
    server
        .client()
        .database("tiny")
        .collection::<Document>("c")
        .insert_one(doc! {"x": 1})
        .await
        .unwrap();
    let spec = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    mongoctl(
        spec.path(),
        &["backup", "--db", "tiny", "--out", real.to_str().unwrap()],
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    let backups = tmp.path().join("backups");
    for (name, at) in [
        ("nov-30", "2026-11-30T02:00:00Z"),
        ("nov-29", "2026-11-29T02:00:00Z"),
        ("nov-02", "2026-11-02T02:00:00Z"),
        ("oct-31", "2026-10-31T02:00:00Z"),
        ("oct-15", "2026-10-15T02:00:00Z"),
        ("aug-20", "2026-08-20T02:00:00Z"),
    ] {
        dated_copy(&real, &backups, name, at);
    }
    // An interrupted backup nobody has written to for a long time.
    let crashed = backups.join("crashed");
    copy_dir(&real.join("tiny"), &crashed.join("tiny"));
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for p in [
        crashed.join("tiny/c.bson"),
        crashed.join("tiny/c.metadata.json"),
    ] {
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    for p in [crashed.join("tiny"), crashed.clone()] {
        std::fs::File::open(&p).unwrap().set_modified(old).unwrap();
    }
    let dir = backups.to_str().unwrap();
    let policy = |tail: &[&'static str]| -> Vec<&str> {
        let mut args = vec![
            "backup",
            "prune",
            dir,
            "--keep-daily",
            "1",
            "--keep-monthly",
            "3",
        ];
        args.extend_from_slice(&["--incomplete-after", "7d"]);
        args.extend_from_slice(tail);
        args
    };

    // The dry run deletes nothing and gives every backup's reason.
    let dry = mongoctl(spec.path(), &policy(&["--dry-run", "-o", "json"])).run();
    dry.expect_code(0);
    let j = dry.json();
    assert_eq!(j["dry_run"], true);
    assert_eq!(names(&j, true), ["nov-30", "oct-31", "aug-20"], "{j}");
    assert_eq!(
        names(&j, false),
        ["nov-29", "nov-02", "oct-15", "crashed"],
        "{j}"
    );
    let reasons = |name: &str| -> Vec<String> {
        j["backups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap()["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(reasons("nov-30"), ["daily 2026-11-30", "monthly 2026-11"]);
    assert_eq!(reasons("aug-20"), ["monthly 2026-08"]);
    assert_eq!(reasons("oct-15"), ["no rule keeps it"]);
    assert!(reasons("crashed")[0].starts_with("incomplete (no manifest), nothing written for"));
    assert!(backups.join("nov-29").exists() && crashed.exists());

    // The table says the same in words.
    let table = mongoctl(
        spec.path(),
        &["backup", "prune", dir, "--keep-monthly", "3", "--dry-run"],
    )
    .run();
    table.expect_code(0);
    assert!(
        table.stdout.contains("would delete") && table.stdout.contains("monthly 2026-10"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("incomplete (no manifest): kept"),
        "{}",
        table.stdout
    );

    // For real, with --yes (no terminal here).
    mongoctl(spec.path(), &policy(&["--yes"]))
        .run()
        .expect_code(0);
    let mut left: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["aug-20", "nov-30", "oct-31"]);
}

#[test]
fn prune_refuses_a_policy_that_keeps_nothing_and_minutes_for_months() {
    let spec = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_str().unwrap();
    let none = mongoctl(
        spec.path(),
        &["backup", "prune", dir, "--incomplete-after", "1d", "--yes"],
    )
    .run();
    none.expect_code(1);
    assert!(none.stderr.contains("needs a keep rule"), "{}", none.stderr);
    let minutes = mongoctl(
        spec.path(),
        &["backup", "prune", dir, "--keep-within", "6m", "--dry-run"],
    )
    .run();
    minutes.expect_code(1);
    assert!(
        minutes
            .stderr
            .contains("--keep-within \"6m\" is 6m: under an hour"),
        "{}",
        minutes.stderr
    );
}
