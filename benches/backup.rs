//! Backup / restore benchmark (not a test): on one local mongod and one deterministic
//! health-care data set (default 1,000,000 documents in four collections, `BENCH_DOCS` to
//! change), measures
//!   (a) raw cursor drain with the driver, all collections in parallel, nothing decoded,
//!   (b) `mongoctl backup` to a directory, (c) `mongoctl backup --gzip`,
//!   (d) raw unordered bulk insert of pre-encoded documents + building the same indexes,
//!   (e) `mongoctl restore` of (b),
//! and prints the ratios and the peak RSS of each mongoctl run.
//!
//!   cargo bench --bench backup
//!   BENCH_DOCS=200000 cargo bench --bench backup

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bson::{Document, RawDocumentBuf, doc};
use mongodb::Client;

const COLLECTIONS: [(&str, u64); 4] = [
    ("patients", 20),
    ("appointments", 35),
    ("observations", 30),
    ("reminders", 15),
];

fn indexes(coll: &str) -> Vec<Document> {
    match coll {
        "patients" => vec![
            doc! {"key": {"mrn": 1}, "name": "mrn_1", "unique": true},
            doc! {"key": {"name.family": 1, "dob": 1}, "name": "family_dob"},
        ],
        "appointments" => vec![doc! {"key": {"patient_id": 1, "at": -1}, "name": "patient_at"}],
        "observations" => vec![doc! {"key": {"patient_id": 1, "code": 1}, "name": "patient_code"}],
        _ => vec![doc! {"key": {"due": 1, "status": 1}, "name": "due_status"}],
    }
}

/// A deterministic pseudo-random generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const GIVEN: &[&str] = &[
    "Asha", "Ravi", "Meera", "John", "Fatima", "Chen", "Olu", "Maria", "Ivan", "Priya",
];
const FAMILY: &[&str] = &[
    "Sharma", "Iyer", "Smith", "Okafor", "Garcia", "Wang", "Khan", "Novak", "Rao", "Silva",
];
const CODES: &[&str] = &[
    "8867-4", "8480-6", "8462-4", "2339-0", "718-7", "4548-4", "29463-7", "8310-5",
];
const ACTIONS: [&str; 3] = ["create", "update", "review"];
const STATUS: &[&str] = &[
    "scheduled",
    "confirmed",
    "completed",
    "cancelled",
    "no_show",
];

fn generate(coll: &str, i: u64, r: &mut Rng) -> Document {
    let mut d = generate_body(coll, i, r);
    let at = bson::DateTime::from_millis(1_700_000_000_000 + (r.next() % 31_536_000_000) as i64);
    d.insert(
        "audit",
        (0..3)
            .map(|k| doc! {"at": at, "by": format!("user{}", r.next() % 500), "action": ACTIONS[k], "comment": "Reviewed against the care plan; no change to medication or follow-up schedule required.", "ip": format!("10.0.{}.{}", r.next() % 255, r.next() % 255)})
            .collect::<Vec<_>>(),
    );
    d
}

fn generate_body(coll: &str, i: u64, r: &mut Rng) -> Document {
    let pid = (r.next() % 250_000) as i64;
    let at = bson::DateTime::from_millis(1_700_000_000_000 + (r.next() % 31_536_000_000) as i64);
    match coll {
        "patients" => doc! {
            "_id": i as i64, "mrn": format!("MRN-{i:09}"),
            "name": {"given": r.pick(GIVEN), "family": r.pick(FAMILY), "prefix": "Ms"},
            "dob": bson::DateTime::from_millis(-631_152_000_000 + (r.next() % 2_524_608_000_000) as i64),
            "gender": if r.next().is_multiple_of(2) { "female" } else { "male" },
            "contact": {"phone": format!("+91-98{:08}", r.next() % 100_000_000), "email": format!("p{i}@example.org"),
                "address": {"line": [format!("{} MG Road", r.next() % 999), "Block B"], "city": "Bengaluru", "postalCode": format!("560{:03}", r.next() % 999), "country": "IN"}},
            "allergies": [{"substance": "penicillin", "severity": "high"}, {"substance": "latex", "severity": "low"}],
            "conditions": [{"code": r.pick(CODES), "onset": at, "verified": true}, {"code": r.pick(CODES), "onset": at, "verified": false}],
            "insurance": {"payer": "Star Health", "policy": format!("POL{:010}", r.next() % 10_000_000_000), "valid_until": at},
            "consents": {"sms": true, "email": r.next().is_multiple_of(2), "research": false},
            "notes": "Patient prefers morning appointments; interpreter not required; follow-up after lab results.",
            "created_at": at, "updated_at": at, "version": (r.next() % 20) as i32,
        },
        "appointments" => doc! {
            "_id": bson::oid::ObjectId::from_bytes({let mut b = [0u8; 12]; b[4..].copy_from_slice(&i.to_be_bytes()); b}),
            "patient_id": pid, "at": at, "duration_min": 15 + (r.next() % 4) as i32 * 15,
            "status": r.pick(STATUS), "practitioner": {"id": format!("PR{:05}", r.next() % 5000), "name": format!("Dr. {}", r.pick(FAMILY)), "specialty": "general medicine"},
            "location": {"clinic": format!("Clinic {}", r.next() % 40), "room": format!("R{}", r.next() % 30), "geo": {"type": "Point", "coordinates": [77.59 + (r.next() % 100) as f64 / 1000.0, 12.97]}},
            "reason": {"code": r.pick(CODES), "text": "Routine follow-up for chronic condition management"},
            "reminders": [{"channel": "sms", "at": at, "sent": true}, {"channel": "email", "at": at, "sent": false}],
            "billing": {"amount": (r.next() % 500_000) as f64 / 100.0, "currency": "INR", "paid": !r.next().is_multiple_of(3)},
            "created_at": at,
        },
        "observations" => doc! {
            "_id": i as i64, "patient_id": pid, "code": r.pick(CODES), "system": "http://loinc.org",
            "effective": at, "issued": at, "status": "final",
            "value": {"quantity": (r.next() % 20_000) as f64 / 100.0, "unit": "mg/dL", "reference_range": {"low": 70.0, "high": 140.0}},
            "components": [{"code": "8480-6", "value": (r.next() % 200) as i32}, {"code": "8462-4", "value": (r.next() % 120) as i32}],
            "device": {"id": format!("DEV{:06}", r.next() % 100_000), "model": "GlucoCheck 3"},
            "performer": format!("PR{:05}", r.next() % 5000), "interpretation": if r.next().is_multiple_of(5) { "H" } else { "N" },
            "note": "Fasting sample collected at clinic; no anomalies observed during collection.",
        },
        _ => doc! {
            "_id": i as i64, "patient_id": pid, "due": at, "status": r.pick(&["pending", "sent", "acknowledged"]),
            "medication": {"name": "Metformin", "dose": "500 mg", "schedule": ["08:00", "20:00"]},
            "channels": ["sms", "push"], "attempts": (r.next() % 4) as i32,
            "template": {"id": "med-reminder-v2", "locale": "en-IN", "vars": {"name": r.pick(GIVEN), "time": "08:00"}},
        },
    }
}

/// Runs mongoctl; returns (seconds, peak RSS bytes, success). The peak is the child's own
/// VmHWM, polled from /proc (rusage's maxrss would include the pages of this process
/// inherited through fork).
fn peak_rss_run(args: &[&str]) -> (f64, u64, bool) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mongoctl"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("running mongoctl");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kb * 1024);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    (t.elapsed().as_secs_f64(), peak, status.success())
}

async fn raw_drain(client: &Client, db: &str) -> (f64, u64, u64) {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (c, _) in COLLECTIONS {
        let coll = client.database(db).collection::<RawDocumentBuf>(c);
        tasks.push(tokio::spawn(async move {
            let mut cur = coll.find(doc! {}).await.unwrap();
            let (mut n, mut bytes) = (0u64, 0u64);
            while cur.advance().await.unwrap() {
                n += 1;
                bytes += cur.current().as_bytes().len() as u64;
            }
            (n, bytes)
        }));
    }
    let (mut n, mut b) = (0, 0);
    for t in tasks {
        let (x, y) = t.await.unwrap();
        n += x;
        b += y;
    }
    (t.elapsed().as_secs_f64(), n, b)
}

async fn raw_insert(client: &Client, db: &str, data: &[(String, Vec<RawDocumentBuf>)]) -> f64 {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (c, docs) in data {
        let coll = client.database(db).collection::<RawDocumentBuf>(c);
        let database = client.database(db);
        let docs = docs.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut set = tokio::task::JoinSet::new();
            for chunk in docs.chunks(1000) {
                while set.len() >= 2 {
                    set.join_next().await.unwrap().unwrap();
                }
                let coll = coll.clone();
                let chunk = chunk.to_vec();
                set.spawn(async move { coll.insert_many(chunk).ordered(false).await.unwrap() });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            database
                .run_command(doc! {"createIndexes": &c, "indexes": indexes(&c)})
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    t.elapsed().as_secs_f64()
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            dir_size(&e.path())
        } else {
            m.len()
        };
    }
    n
}

/// One `mongoctl` run against the bench server: (seconds, peak RSS).
fn mongoctl_run(spec: &Path, uri: &str, args: &[&str]) -> (f64, u64) {
    let mut full = vec!["--spec", spec.to_str().unwrap(), "--uri", uri, "-q"];
    full.extend_from_slice(args);
    let (t, rss, ok) = peak_rss_run(&full);
    assert!(ok, "mongoctl {} failed", args.join(" "));
    (t, rss)
}

/// Best (lowest) time and highest peak RSS over the rounds of one step.
#[derive(Default)]
struct Step {
    best: f64,
    rss: u64,
}

impl Step {
    fn add(&mut self, t: f64, rss: u64) {
        self.best = if self.best == 0.0 {
            t
        } else {
            self.best.min(t)
        };
        self.rss = self.rss.max(rss);
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs harness-less benches too; only `cargo bench` (which
    // passes --bench) should spend minutes loading a million documents.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("backup bench: skipped (run it with `cargo bench --bench backup`)");
        return;
    }
    let env_num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let total = env_num("BENCH_DOCS", 1_000_000);
    // The machine is shared: every step runs in each round, interleaved, and the best time of
    // each step is compared, so a burst of outside load does not land on one side only.
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let work = tempfile::Builder::new()
        .prefix("mongoctl-bench-")
        .tempdir()
        .unwrap();
    // BENCH_URI: use a running server (keeps the data set between runs while profiling).
    let (uri, cluster) = match std::env::var("BENCH_URI") {
        Ok(u) => (u, None),
        Err(_) => {
            let mut opts = mongoctl::mongod::ClusterOptions::standalone();
            opts.binary = Some(
                mongoctl::mongod::find_mongod()
                    .expect("mongod (scripts/install-mongod or $MONGOD)"),
            );
            let cluster = mongoctl::mongod::start_cluster(&work.path().join("db"), &opts)
                .await
                .unwrap();
            (cluster.uri(), Some(cluster))
        }
    };
    let client = Client::with_uri_str(&uri).await.unwrap();
    println!(
        "generating {total} documents ({} collections) …",
        COLLECTIONS.len()
    );
    let mut data = Vec::new();
    let mut bytes = 0u64;
    for (c, pct) in COLLECTIONS {
        let n = total * pct / 100;
        let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ pct);
        let docs: Vec<RawDocumentBuf> = (0..n)
            .map(|i| RawDocumentBuf::from_document(&generate(c, i, &mut r)).unwrap())
            .collect();
        bytes += docs.iter().map(|d| d.as_bytes().len() as u64).sum::<u64>();
        data.push((c.to_string(), docs));
    }
    let n_docs: u64 = data.iter().map(|d| d.1.len() as u64).sum();
    println!(
        "data set: {n_docs} documents, {:.0} MiB of BSON",
        mib(bytes)
    );
    let mut loaded = 0;
    for (c, _) in COLLECTIONS {
        loaded += client
            .database("bench")
            .collection::<Document>(c)
            .estimated_document_count()
            .await
            .unwrap();
    }
    if loaded != n_docs {
        client.database("bench").drop().await.unwrap();
        raw_insert(&client, "bench", &data).await;
    }
    let spec = work.path().join("spec");
    std::fs::create_dir_all(&spec).unwrap();
    let [
        mut drain,
        mut plain,
        mut nosync,
        mut gz,
        mut insert,
        mut restore,
    ] = std::array::from_fn::<Step, 6, _>(|_| Step::default());
    let (mut plain_size, mut gz_size) = (0, 0);
    let backup_dir = work.path().join("keep");
    for round in 1..=rounds {
        let (t, n, b) = raw_drain(&client, "bench").await;
        assert_eq!(n, n_docs);
        drain.add(t, 0);
        println!(
            "round {round}: (a) raw drain {t:.2} s ({:.0} MiB/s)",
            mib(b) / t
        );
        let out = work.path().join(format!("plain{round}"));
        let (t, rss) = mongoctl_run(
            &spec,
            &uri,
            &["backup", "--db", "bench", "--out", out.to_str().unwrap()],
        );
        plain.add(t, rss);
        plain_size = dir_size(&out);
        println!(
            "round {round}: (b) backup {t:.2} s, peak RSS {:.0} MiB",
            mib(rss)
        );
        if round == 1 {
            std::fs::rename(&out, &backup_dir).unwrap();
        } else {
            std::fs::remove_dir_all(&out).unwrap();
        }
        let out = work.path().join(format!("nosync{round}"));
        let (t, rss) = mongoctl_run(
            &spec,
            &uri,
            &[
                "backup",
                "--db",
                "bench",
                "--no-sync",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        nosync.add(t, rss);
        std::fs::remove_dir_all(&out).unwrap();
        println!("round {round}: (b') backup --no-sync {t:.2} s");
        let out = work.path().join(format!("gz{round}"));
        let (t, rss) = mongoctl_run(
            &spec,
            &uri,
            &[
                "backup",
                "--db",
                "bench",
                "--gzip",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        gz.add(t, rss);
        gz_size = dir_size(&out);
        std::fs::remove_dir_all(&out).unwrap();
        println!(
            "round {round}: (c) backup --gzip {t:.2} s, peak RSS {:.0} MiB",
            mib(rss)
        );
    }
    for round in 1..=rounds {
        client.database("rawcopy").drop().await.unwrap();
        let t = raw_insert(&client, "rawcopy", &data).await;
        insert.add(t, 0);
        println!("round {round}: (d) raw insert + indexes {t:.2} s");
        client.database("rawcopy").drop().await.unwrap();
        client.database("restored").drop().await.unwrap();
        let (t, rss) = mongoctl_run(
            &spec,
            &uri,
            &[
                "restore",
                backup_dir.to_str().unwrap(),
                "--ns-from",
                "bench.*",
                "--ns-to",
                "restored.*",
            ],
        );
        restore.add(t, rss);
        println!(
            "round {round}: (e) restore {t:.2} s, peak RSS {:.0} MiB",
            mib(rss)
        );
        client.database("restored").drop().await.unwrap();
    }
    drop(data);
    println!();
    println!(
        "best of {rounds} rounds ({n_docs} documents, {:.0} MiB of BSON):",
        mib(bytes)
    );
    println!("(a) raw drain                  {:7.2} s", drain.best);
    println!(
        "(b) mongoctl backup            {:7.2} s  peak RSS {:.0} MiB, {:.0} MiB on disk",
        plain.best,
        mib(plain.rss),
        mib(plain_size)
    );
    println!(
        "(b') mongoctl backup --no-sync  {:7.2} s  peak RSS {:.0} MiB",
        nosync.best,
        mib(nosync.rss)
    );
    println!(
        "(c) mongoctl backup --gzip     {:7.2} s  peak RSS {:.0} MiB, {:.0} MiB on disk",
        gz.best,
        mib(gz.rss),
        mib(gz_size)
    );
    println!("(d) raw insert + indexes       {:7.2} s", insert.best);
    println!(
        "(e) mongoctl restore           {:7.2} s  peak RSS {:.0} MiB",
        restore.best,
        mib(restore.rss)
    );
    println!();
    println!(
        "backup speed / raw drain            {:.2}  (target >= 0.90)",
        drain.best / plain.best
    );
    println!(
        "backup --no-sync speed / raw drain  {:.2}  (no fsync: the same work as mongodump)",
        drain.best / nosync.best
    );
    println!(
        "gzip backup time / plain backup     {:.2}  (target <= 2.50)",
        gz.best / plain.best
    );
    println!(
        "restore speed / (raw insert+index)  {:.2}  (target >= 0.90)",
        insert.best / restore.best
    );
    println!(
        "peak RSS: backup {:.0} MiB, gzip {:.0} MiB, restore {:.0} MiB (target < 128)",
        mib(plain.rss),
        mib(gz.rss),
        mib(restore.rss)
    );
    client.shutdown().await;
    drop(cluster);
}
