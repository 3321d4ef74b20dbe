//! PostgreSQL import benchmark (not a test): a real PostgreSQL server and a real mongod, both
//! local, `BENCH_ROWS` (default 1,000,000) parent rows with 3 child rows each, and
//!   (a) `mongoctl import` of the parents with their children embedded as arrays, every
//!       document validated against the target's `$jsonSchema`, with its peak RSS;
//!   (b) `COPY … TO STDOUT (FORMAT csv)` of the parents and of the children piped into
//!       `mongoimport --type csv --headerline` (flat, no embedding), when `MONGO_TOOLS_DIR`
//!       holds a mongoimport; otherwise the COPY alone (the read side's floor) is timed and the
//!       missing tool is said.
//!
//!   cargo bench --bench import
//!   BENCH_ROWS=20000 cargo bench --bench import

// The children are reaped with wait4 (for their CPU and peak RSS), not Child::wait.
#![allow(clippy::zombie_processes)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "../tests/it/pg_support.rs"]
#[allow(dead_code)]
mod pg_support;

/// What `pg_support` needs from the tests' support module.
mod support {
    pub fn free_ports_below_ephemeral(_n: u16) -> u16 {
        std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    }
}

const MANIFEST: &str = r#"{"project": "ibench", "metadataDatabase": "ibench_meta",
  "domains": {"app": {"database": "ibench", "collections": {"patients": {}, "patients_flat": {}, "logins_flat": {}}}}}"#;

const SCHEMA: &str = r#"{"bsonType": "object", "required": ["patientId", "fullName", "createdAt"],
  "properties": {
    "_id": {"bsonType": "objectId"},
    "patientId": {"bsonType": "binData"},
    "fullName": {"bsonType": "string", "minLength": 1},
    "phoneNumber": {"bsonType": "string", "pattern": "^\\+?[0-9]{7,15}$"},
    "balance": {"bsonType": "decimal"},
    "createdAt": {"bsonType": "date"},
    "logins": {"bsonType": "array", "items": {"bsonType": "object", "required": ["at"],
      "properties": {"at": {"bsonType": "date"}, "ip": {"bsonType": "string"}}}}
  }}"#;

const MAPPING: &str = r#"{"domain": "app", "collections": {"patients": {"key": "patientId", "sources": [{
  "name": "pg", "table": "public.patients", "key": "patient_id",
  "fields": {"patientId": {"column": "patient_id", "as": "uuid"}, "fullName": "full_name",
             "phoneNumber": "phone_number", "balance": "balance", "createdAt": "created_at"},
  "embed": {"logins": {"table": "public.logins", "foreignKey": "patient_id", "orderBy": "at",
            "fields": {"at": "at", "ip": "ip"}}}}]}}}"#;

fn secs(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6
}

/// Waits for `pid`: (CPU seconds, peak RSS in MiB, exited 0).
fn reap(pid: u32) -> (f64, f64, bool) {
    let mut status = 0;
    // SAFETY: wait4 on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(r, pid as libc::pid_t, "waiting for a benchmarked program");
    (
        secs(usage.ru_utime) + secs(usage.ru_stime),
        usage.ru_maxrss as f64 / 1024.0,
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    )
}

fn mongoimport() -> Option<PathBuf> {
    let dir = std::env::var("MONGO_TOOLS_DIR").ok()?;
    let p = Path::new(&dir).join("mongoimport");
    p.is_file().then_some(p)
}

/// `psql -c "COPY (query) TO STDOUT (FORMAT csv, HEADER)"` into `sink`; (wall, CPU of both).
fn copy_into(
    pg: &pg_support::PgServer,
    psql: &Path,
    query: &str,
    sink: Option<Command>,
) -> (f64, f64, bool) {
    let t = Instant::now();
    let mut copy = Command::new(psql)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
        ])
        .arg(format!("COPY ({query}) TO STDOUT (FORMAT csv, HEADER)"))
        .env("PGPASSWORD", &pg.password)
        .stdout(Stdio::piped())
        .spawn()
        .expect("psql");
    let out = copy.stdout.take().unwrap();
    let sink_pid = match sink {
        Some(mut c) => Some(
            c.stdin(out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("mongoimport")
                .id(),
        ),
        None => {
            let mut c = Command::new("wc")
                .arg("-c")
                .stdin(out)
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            c.wait().unwrap();
            None
        }
    };
    let (cpu_a, _, ok_a) = reap(copy.id());
    let (cpu_b, _, ok_b) = sink_pid.map(reap).unwrap_or((0.0, 0.0, true));
    (t.elapsed().as_secs_f64(), cpu_a + cpu_b, ok_a && ok_b)
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("import bench: skipped (run it with `cargo bench --bench import`)");
        return;
    }
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let work = tempfile::Builder::new()
        .prefix("mongoctl-bench-import-")
        .tempdir()
        .unwrap();
    let mut opts = mongoctl::mongod::ClusterOptions::standalone();
    opts.binary =
        Some(mongoctl::mongod::find_mongod().expect("mongod (scripts/install-mongod or $MONGOD)"));
    let cluster = mongoctl::mongod::start_cluster(&work.path().join("db"), &opts)
        .await
        .unwrap();
    let uri = cluster.uri();
    let pg = pg_support::PgServer::start();
    let t = Instant::now();
    pg.exec(&format!(
        "CREATE TABLE patients (patient_id uuid PRIMARY KEY, full_name text NOT NULL, phone_number text, balance numeric(12,2), created_at timestamptz NOT NULL);
         CREATE TABLE logins (id bigserial PRIMARY KEY, patient_id uuid NOT NULL, at timestamptz NOT NULL, ip text);
         INSERT INTO patients SELECT md5(i::text)::uuid, 'Patient ' || i, '+1555' || lpad(i::text, 7, '0'), (i % 100000) / 100.0, timestamptz '2024-01-01' + i * interval '1 second' FROM generate_series(1, {rows}) i;
         INSERT INTO logins (patient_id, at, ip) SELECT md5(i::text)::uuid, timestamptz '2024-06-01' + (i * 3 + j) * interval '1 second', '10.0.' || j || '.' || (i % 250) FROM generate_series(1, {rows}) i, generate_series(1, 3) j;
         CREATE INDEX ON logins (patient_id, at); ANALYZE;"
    ))
    .await;
    eprintln!(
        "loaded {rows} parent rows and {} child rows in {:.1} s",
        rows * 3,
        t.elapsed().as_secs_f64()
    );

    let ws = work.path().join("ws");
    for (rel, text) in [
        ("mongoctl.json", MANIFEST),
        ("schemas/app/patients.json", SCHEMA),
        ("imports/bench.json", MAPPING),
    ] {
        let p = ws.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    // (a) mongoctl import: embedded, validated.
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_mongoctl"))
        .arg("--spec")
        .arg(&ws)
        .args([
            "--uri",
            &uri,
            "-q",
            "import",
            "bench",
            "--from",
            &pg.uri(),
            "--batch-size",
            "2000",
        ])
        .env("PGPASSWORD", &pg.password)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (cpu, rss, ok) = reap(child.id());
    let ours = t.elapsed().as_secs_f64();
    assert!(ok, "mongoctl import failed");
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let n = client
        .database("ibench")
        .collection::<bson::Document>("patients")
        .count_documents(bson::doc! {})
        .await
        .unwrap();
    assert_eq!(n, rows, "every parent imported");
    println!(
        "(a) mongoctl import (embedded, validated): {ours:.2} s, client CPU {cpu:.2} s, peak RSS {rss:.1} MiB, {n} documents"
    );

    // (b) COPY … TO STDOUT (FORMAT csv) | mongoimport, flat.
    let psql = Path::new(&std::env::var("PG_BIN").unwrap_or("/usr/lib/postgresql/15/bin".into()))
        .join("psql");
    let parents = "SELECT patient_id, full_name, phone_number, balance, created_at FROM patients";
    let children = "SELECT patient_id, at, ip FROM logins";
    match mongoimport() {
        Some(tool) => {
            let sink = |coll: &str| {
                let mut c = Command::new(&tool);
                c.args([
                    "--uri",
                    &uri,
                    "--db",
                    "ibench",
                    "--collection",
                    coll,
                    "--type",
                    "csv",
                    "--headerline",
                    "--numInsertionWorkers",
                    "2",
                ]);
                c
            };
            let (w1, c1, ok1) = copy_into(&pg, &psql, parents, Some(sink("patients_flat")));
            let (w2, c2, ok2) = copy_into(&pg, &psql, children, Some(sink("logins_flat")));
            assert!(ok1 && ok2, "COPY | mongoimport failed");
            let theirs = w1 + w2;
            println!(
                "(b) COPY csv | mongoimport (flat): {theirs:.2} s, client CPU {:.2} s",
                c1 + c2
            );
            println!("speed ratio (b)/(a): {:.2} (target >= 2)", theirs / ours);
        }
        None => {
            let (w1, c1, ok1) = copy_into(&pg, &psql, parents, None);
            let (w2, c2, ok2) = copy_into(&pg, &psql, children, None);
            assert!(ok1 && ok2, "COPY failed");
            println!(
                "(b) mongoimport is not in MONGO_TOOLS_DIR (the mongo-tools wheel scripts/install-mongo-tools uses ships mongodump, mongoexport and mongorestore only): no ratio"
            );
            println!(
                "(b') COPY csv alone (the read side's floor, no insert): {:.2} s, CPU {:.2} s; import / COPY = {:.2}",
                w1 + w2,
                c1 + c2,
                ours / (w1 + w2)
            );
        }
    }
    drop(pg);
    drop(cluster);
}
