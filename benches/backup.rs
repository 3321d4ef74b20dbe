//! Backup / restore benchmark (not a test): on one local mongod and one deterministic
//! health-care data set (default 1,000,000 documents in four collections, `BENCH_DOCS` to
//! change), measures
//!   (a) raw cursor drain with the driver, all collections in parallel, nothing decoded,
//!   (b) `mongoctl backup` to a directory, (c) `mongoctl backup --gzip`,
//!   (d) raw unordered bulk insert of pre-encoded documents + building the same indexes,
//!   (e) `mongoctl restore` of (b),
//! and prints the ratios and the peak RSS of each mongoctl run; then ([`encryption`])
//! `backup --encrypt-to` against a plain backup, the restore of each, `restore --mode
//! upsert` against `insert` into an empty target, `backup drill` against a restore and the
//! drill digest's CPU against a backup's.
//!
//!   cargo bench --bench backup
//!   BENCH_DOCS=200000 cargo bench --bench backup
//!   BENCH_STEPS=encryption cargo bench --bench backup   # only the encryption steps
//!   BENCH_STEPS=checksums cargo bench --bench backup    # only the checksum speeds
//!   BENCH_STEPS=single cargo bench --bench backup       # one collection: --split, restore

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bson::{Document, RawDocumentBuf, doc};
use futures::TryStreamExt;
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

/// What one run of a program cost.
#[derive(Default, Clone, Copy)]
struct Cost {
    wall: f64,
    /// user + system CPU seconds of the process (and its children)
    cpu: f64,
    /// user + system CPU seconds mongod spent meanwhile
    server_cpu: f64,
    peak_rss: u64,
}

/// Runs a program; returns its wall time, CPU time (from wait4's rusage) and peak RSS, the
/// child's own VmHWM polled from /proc (rusage's maxrss would include the pages of this
/// process inherited through fork).
// The child is reaped by wait4 (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(program: &Path, args: &[&str]) -> (Cost, bool) {
    let t = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting the benchmarked program");
    let pid = child.id() as libc::pid_t;
    let status_path = format!("/proc/{pid}/status");
    let mut peak = 0u64;
    loop {
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
        let mut status = 0;
        // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
            let cost = Cost {
                wall: t.elapsed().as_secs_f64(),
                cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
                server_cpu: 0.0,
                peak_rss: peak,
            };
            return (
                cost,
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// CPU seconds (user + system) this process has used.
fn own_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// CPU seconds mongod has used since it started (serverStatus.extra_info, Linux only).
async fn server_cpu(client: &Client) -> f64 {
    let s = client
        .database("admin")
        .run_command(doc! {"serverStatus": 1})
        .await
        .unwrap();
    let info = s.get_document("extra_info").ok();
    let us = |k: &str| {
        info.and_then(|i| i.get(k))
            .and_then(|v| match v {
                bson::Bson::Int64(n) => Some(*n as f64),
                bson::Bson::Int32(n) => Some(*n as f64),
                bson::Bson::Double(n) => Some(*n),
                _ => None,
            })
            .unwrap_or(0.0)
    };
    (us("user_time_us") + us("system_time_us")) / 1e6
}

/// The fastest drain the driver allows: raw reply batches, documents read in place.
async fn raw_drain(client: &Client, db: &str) -> (u64, u64) {
    let mut tasks = Vec::new();
    for (c, _) in COLLECTIONS {
        let coll = client.database(db).collection::<RawDocumentBuf>(c);
        tasks.push(tokio::spawn(async move {
            let mut cur = coll.find(doc! {}).batch().await.unwrap();
            let (mut n, mut bytes) = (0u64, 0u64);
            while let Some(batch) = cur.try_next().await.unwrap() {
                for d in batch.doc_slices().unwrap() {
                    n += 1;
                    bytes += d.unwrap().as_document().unwrap().as_bytes().len() as u64;
                }
            }
            (n, bytes)
        }));
    }
    sum_counts(tasks).await
}

/// The usual cursor: each document handed out as its own `RawDocumentBuf`.
async fn cursor_drain(client: &Client, db: &str) -> (u64, u64) {
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
    sum_counts(tasks).await
}

async fn sum_counts(tasks: Vec<tokio::task::JoinHandle<(u64, u64)>>) -> (u64, u64) {
    let (mut n, mut b) = (0, 0);
    for t in tasks {
        let (x, y) = t.await.unwrap();
        n += x;
        b += y;
    }
    (n, b)
}

async fn raw_insert(client: &Client, db: &str, data: &[(String, Vec<RawDocumentBuf>)]) {
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

/// The bench server and how to run programs against it.
struct Bench {
    client: Client,
    uri: String,
    spec: std::path::PathBuf,
    /// mongodump / mongorestore (scripts/install-mongo-tools), when installed
    tools: Option<std::path::PathBuf>,
}

impl Bench {
    /// Runs a program, adding the server's CPU time meanwhile to its cost.
    async fn run(&self, program: &Path, args: &[&str]) -> Cost {
        self.settle().await;
        let before = server_cpu(&self.client).await;
        let (mut cost, ok) = run_measured(program, args);
        assert!(ok, "{} {} failed", program.display(), args.join(" "));
        cost.server_cpu = server_cpu(&self.client).await - before;
        cost
    }

    async fn mongoctl(&self, args: &[&str]) -> Cost {
        let mut full = vec![
            "--spec",
            self.spec.to_str().unwrap(),
            "--uri",
            &self.uri,
            "-q",
        ];
        full.extend_from_slice(args);
        self.run(Path::new(env!("CARGO_BIN_EXE_mongoctl")), &full)
            .await
    }

    /// A timed in-process step, with this process's and the server's CPU.
    async fn in_process<T>(&self, step: impl std::future::Future<Output = T>) -> (Cost, T) {
        self.settle().await;
        let (server0, own0, t) = (server_cpu(&self.client).await, own_cpu(), Instant::now());
        let out = step.await;
        let cost = Cost {
            wall: t.elapsed().as_secs_f64(),
            cpu: own_cpu() - own0,
            server_cpu: server_cpu(&self.client).await - server0,
            peak_rss: 0,
        };
        (cost, out)
    }
}

impl Bench {
    /// Every step starts from the same server state: the previous step's writes and drops
    /// checkpointed (otherwise the checkpoint lands, and is billed, in whatever runs next).
    async fn settle(&self) {
        self.client
            .database("admin")
            .run_command(doc! {"fsync": 1})
            .await
            .unwrap();
    }
}

/// Reads every file under `dir`, so that a restore starts with its backup in the page cache
/// as (d) starts with its documents in memory (a durable backup is written with O_DIRECT and
/// would otherwise be read from the device).
fn warm(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            warm(&e.path());
        } else {
            std::io::copy(
                &mut std::fs::File::open(e.path()).unwrap(),
                &mut std::io::sink(),
            )
            .unwrap();
        }
    }
}

fn find_tools() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("MONGO_TOOLS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".mongo-tools/bin"));
    dir.join("mongodump").exists().then_some(dir)
}

/// The best (lowest wall time) run of one step over the rounds, and its highest peak RSS.
#[derive(Default)]
struct Step {
    best: Option<Cost>,
    rss: u64,
    /// the wall time of the latest run
    last: f64,
}

impl Step {
    fn add(&mut self, c: Cost) {
        self.last = c.wall;
        if self.best.is_none_or(|b| c.wall < b.wall) {
            self.best = Some(c);
        }
        self.rss = self.rss.max(c.peak_rss);
    }
    fn wall(&self) -> f64 {
        self.best.map_or(f64::NAN, |c| c.wall)
    }
    fn line(&self, label: &str, extra: &str) {
        let Some(c) = self.best else { return };
        let rss = if self.rss > 0 {
            format!("  peak RSS {:4.0} MiB", mib(self.rss))
        } else {
            String::new()
        };
        println!(
            "{label:<36}{:7.2} s  cpu {:5.2} s + mongod {:5.2} s{rss}{extra}",
            c.wall, c.cpu, c.server_cpu
        );
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
    if std::env::var("BENCH_ONLY").as_deref() == Ok("follow") {
        follow_bench().await;
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
    let bench = Bench {
        client: client.clone(),
        uri: uri.clone(),
        spec: work.path().join("spec"),
        tools: find_tools(),
    };
    std::fs::create_dir_all(&bench.spec).unwrap();
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
    let steps = std::env::var("BENCH_STEPS").unwrap_or_else(|_| "all".into());
    if steps == "single" {
        drop(data);
        single(&bench, work.path(), rounds, total).await;
        client.shutdown().await;
        drop(cluster);
        return;
    }
    checksum_speeds(&data, bytes);
    if steps == "checksums" {
        return;
    }
    if steps == "encryption" {
        let digest_secs = digest_time(&data);
        drop(data);
        encryption(&bench, work.path(), rounds, n_docs, bytes, digest_secs).await;
        client.shutdown().await;
        drop(cluster);
        return;
    }
    let [
        mut drain,
        mut cdrain,
        mut plain,
        mut nosync,
        mut gz,
        mut insert,
        mut restore,
        mut mdump,
        mut mdump_gz,
        mut mrestore,
    ] = std::array::from_fn::<Step, 10, _>(|_| Step::default());
    let (mut plain_size, mut gz_size, mut mdump_gz_size) = (0, 0, 0);
    let backup_dir = work.path().join("keep");
    let dump_dir = work.path().join("mongodump");
    let out = |name: &str| work.path().join(name);
    let path = |p: &std::path::PathBuf| p.to_str().unwrap().to_string();
    for round in 1..=rounds {
        let (c, (n, _)) = bench.in_process(raw_drain(&client, "bench")).await;
        assert_eq!(n, n_docs);
        drain.add(c);
        let (c, (n, _)) = bench.in_process(cursor_drain(&client, "bench")).await;
        assert_eq!(n, n_docs);
        cdrain.add(c);
        let dir = out("plain");
        plain.add(
            bench
                .mongoctl(&["backup", "--db", "bench", "--out", &path(&dir)])
                .await,
        );
        plain_size = dir_size(&dir);
        if round == 1 {
            std::fs::rename(&dir, &backup_dir).unwrap();
        } else {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let dir = out("nosync");
        nosync.add(
            bench
                .mongoctl(&["backup", "--db", "bench", "--no-sync", "--out", &path(&dir)])
                .await,
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let dir = out("gz");
        gz.add(
            bench
                .mongoctl(&["backup", "--db", "bench", "--gzip", "--out", &path(&dir)])
                .await,
        );
        gz_size = dir_size(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        if let Some(tools) = &bench.tools {
            let host = format!("--uri={uri}");
            let dir = out("md");
            let md = tools.join("mongodump");
            mdump.add(
                bench
                    .run(
                        &md,
                        &[
                            &host,
                            "--db=bench",
                            &format!("--out={}", path(&dir)),
                            "--quiet",
                        ],
                    )
                    .await,
            );
            if round == 1 {
                std::fs::rename(&dir, &dump_dir).unwrap();
            } else {
                std::fs::remove_dir_all(&dir).unwrap();
            }
            let dir = out("mdgz");
            let args = [
                &host,
                "--db=bench",
                "--gzip",
                &format!("--out={}", path(&dir)),
                "--quiet",
            ];
            mdump_gz.add(bench.run(&md, &args).await);
            mdump_gz_size = dir_size(&dir);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        println!(
            "round {round}: drain {:.2} s, cursor drain {:.2} s, backup {:.2} s, --no-sync {:.2} s, \
             --gzip {:.2} s{}",
            drain.last,
            cdrain.last,
            plain.last,
            nosync.last,
            gz.last,
            if bench.tools.is_some() {
                format!(
                    ", mongodump {:.2} s, --gzip {:.2} s",
                    mdump.last, mdump_gz.last
                )
            } else {
                String::new()
            }
        );
    }
    for round in 1..=rounds {
        for db in ["rawcopy", "restored", "mtrestored"] {
            client.database(db).drop().await.unwrap();
        }
        let (c, _) = bench
            .in_process(raw_insert(&client, "rawcopy", &data))
            .await;
        insert.add(c);
        client.database("rawcopy").drop().await.unwrap();
        warm(&backup_dir);
        restore.add(
            bench
                .mongoctl(&[
                    "restore",
                    &path(&backup_dir),
                    "--ns-from",
                    "bench.*",
                    "--ns-to",
                    "restored.*",
                ])
                .await,
        );
        client.database("restored").drop().await.unwrap();
        if let Some(tools) = &bench.tools {
            let args = [
                &format!("--uri={uri}"),
                "--nsFrom=bench.*",
                "--nsTo=mtrestored.*",
                "--quiet",
                &format!("--dir={}", path(&dump_dir)),
            ];
            warm(&dump_dir);
            mrestore.add(bench.run(&tools.join("mongorestore"), &args).await);
            client.database("mtrestored").drop().await.unwrap();
        }
        println!(
            "round {round}: raw insert + indexes {:.2} s, restore {:.2} s{}",
            insert.last,
            restore.last,
            if bench.tools.is_some() {
                format!(", mongorestore {:.2} s", mrestore.last)
            } else {
                String::new()
            }
        );
    }
    let digest_secs = digest_time(&data);
    drop(data);
    println!();
    println!(
        "best of {rounds} rounds ({n_docs} documents, {:.0} MiB of BSON); cpu = the client's \
         user+system CPU, mongod = the server's, in the same run",
        mib(bytes)
    );
    drain.line("(a) raw drain (raw batches)", "");
    cdrain.line("(a') cursor drain (a doc at a time)", "");
    plain.line(
        "(b) mongoctl backup",
        &format!(", {:.0} MiB on disk", mib(plain_size)),
    );
    nosync.line("(b') mongoctl backup --no-sync", "");
    gz.line(
        "(c) mongoctl backup --gzip",
        &format!(", {:.0} MiB on disk", mib(gz_size)),
    );
    insert.line("(d) raw insert + indexes", "");
    restore.line("(e) mongoctl restore", "");
    if bench.tools.is_some() {
        mdump.line("(f) mongodump 100.3.1 (wine)", "");
        mdump_gz.line(
            "(g) mongodump --gzip (wine)",
            &format!(", {:.0} MiB on disk", mib(mdump_gz_size)),
        );
        mrestore.line("(h) mongorestore (wine)", "");
    }
    println!();
    let ratio = |label: &str, v: f64, note: &str| println!("{label:<36}{v:5.2}  {note}");
    ratio(
        "backup speed / raw drain",
        drain.wall() / plain.wall(),
        "(target >= 0.90)",
    );
    ratio(
        "backup speed / cursor drain",
        cdrain.wall() / plain.wall(),
        "(the drain most driver users write)",
    );
    ratio(
        "backup --no-sync speed / raw drain",
        drain.wall() / nosync.wall(),
        "(no fsync: the same work as mongodump)",
    );
    ratio(
        "gzip backup time / plain backup",
        gz.wall() / plain.wall(),
        "(target <= 2.50)",
    );
    ratio(
        "restore speed / (raw insert+index)",
        insert.wall() / restore.wall(),
        "(target >= 0.90)",
    );
    if bench.tools.is_some() {
        ratio(
            "backup speed / mongodump",
            mdump.wall() / plain.wall(),
            "(mongodump does not fsync)",
        );
        ratio(
            "backup --gzip speed / mongodump --gzip",
            mdump_gz.wall() / gz.wall(),
            "",
        );
        ratio(
            "restore speed / mongorestore",
            mrestore.wall() / restore.wall(),
            "",
        );
    }
    println!(
        "peak RSS: backup {:.0} MiB, gzip {:.0} MiB, restore {:.0} MiB (target < 128)",
        mib(plain.rss),
        mib(gz.rss),
        mib(restore.rss)
    );
    encryption(&bench, work.path(), rounds, n_docs, bytes, digest_secs).await;
    client.shutdown().await;
    drop(cluster);
    follow_bench().await;
}

/// `backup oplog --follow` under a sustained insert load (its own single-member replica set:
/// a follower needs an oplog): `BENCH_FOLLOW_RATE` documents/s (default 20,000) of the
/// bench's `observations` shape for `BENCH_FOLLOW_SECS` (default 20), inserted in batches of
/// 1,000 by two paced writers. Prints the achieved insert rate, the follower's lag (its own
/// status lines: now minus the newest entry read, once a second) max and average, the time it
/// needs after the load to have read the last entry, its CPU and peak RSS.
/// `BENCH_ONLY=follow cargo bench --bench backup` runs only this.
// The follower is reaped by wait4 (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
async fn follow_bench() {
    use std::io::BufRead;
    let env_num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rate = env_num("BENCH_FOLLOW_RATE", 20_000);
    let secs = env_num("BENCH_FOLLOW_SECS", 20);
    let work = tempfile::Builder::new()
        .prefix("mongoctl-bench-follow-")
        .tempdir()
        .unwrap();
    let mut opts = mongoctl::mongod::ClusterOptions::replica_set(1);
    opts.binary =
        Some(mongoctl::mongod::find_mongod().expect("mongod (scripts/install-mongod or $MONGOD)"));
    let cluster = mongoctl::mongod::start_cluster(&work.path().join("db"), &opts)
        .await
        .unwrap();
    let client = Client::with_uri_str(cluster.uri()).await.unwrap();
    let slices = work.path().join("oplog");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mongoctl"))
        .args(["--uri", &cluster.uri(), "--spec"])
        .arg(work.path())
        .args([
            "backup",
            "oplog",
            "--follow",
            "--from-now",
            "-o",
            "json",
            "--out",
        ])
        .arg(&slices)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str(&line)
                && tx.send(v).is_err()
            {
                return;
            }
        }
    });
    // Following has begun once it says where it resumes.
    while rx.recv().unwrap()["event"] != "resuming" {}
    let t0 = Instant::now();
    let mut writers = Vec::new();
    for w in 0..2u64 {
        let coll = client
            .database("followbench")
            .collection::<Document>("observations");
        writers.push(tokio::spawn(async move {
            let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
            let per_writer = rate as f64 / 2.0;
            let mut sent = 0u64;
            let mut batch_no = 0u64;
            while t0.elapsed().as_secs_f64() < secs as f64 {
                let due = batch_no as f64 * 1000.0 / per_writer;
                let now = t0.elapsed().as_secs_f64();
                if due > now {
                    tokio::time::sleep(std::time::Duration::from_secs_f64(due - now)).await;
                }
                let docs: Vec<Document> = (0..1000)
                    .map(|k| {
                        let i = (batch_no * 1000 + k) * 2 + w;
                        generate("observations", i, &mut r)
                    })
                    .collect();
                coll.insert_many(docs).ordered(false).await.unwrap();
                sent += 1000;
                batch_no += 1;
            }
            sent
        }));
    }
    let mut lags = Vec::new();
    let mut inserted = 0;
    let mut done = false;
    while !done {
        while let Ok(v) = rx.try_recv() {
            if v["event"] == "status" {
                lags.push(v["status"]["lag_secs"].as_f64().unwrap_or(0.0));
            }
        }
        done = writers.iter().all(|w| w.is_finished());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for w in writers {
        inserted += w.await.unwrap();
    }
    let load_secs = t0.elapsed().as_secs_f64();
    let last = client
        .database("local")
        .collection::<Document>("oplog.rs")
        .find_one(doc! {})
        .sort(doc! {"$natural": -1})
        .await
        .unwrap()
        .unwrap()
        .get_timestamp("ts")
        .unwrap();
    let t_end = Instant::now();
    // Caught up: a status line whose newest entry read is at or past the last insert.
    loop {
        let v = rx.recv().unwrap();
        if v["event"] == "status" || v["event"] == "slice" {
            let r = &v["status"]["last_read"];
            let read = (r[0].as_u64().unwrap_or(0), r[1].as_u64().unwrap_or(0));
            if read >= (last.time as u64, last.increment as u64) {
                break;
            }
        }
    }
    let catch_up = t_end.elapsed().as_secs_f64();
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    // SAFETY: signalling and reaping our own child; rusage is written by the kernel.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let tv = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let max_lag = lags.iter().cloned().fold(0.0, f64::max);
    let avg_lag = lags.iter().sum::<f64>() / lags.len().max(1) as f64;
    println!(
        "follow: {inserted} docs in {load_secs:.1} s = {:.0} docs/s (target rate {rate}); lag max \
         {max_lag:.2} s, avg {avg_lag:.2} s over {} status lines (target < 2 s); caught up \
         {catch_up:.2} s after the load; follower cpu {cpu:.2} s ({:.0} % of one core), peak \
         RSS {:.0} MiB",
        inserted as f64 / load_secs,
        lags.len(),
        100.0 * cpu / (load_secs + catch_up),
        mib(hwm)
    );
    client.shutdown().await;
    drop(cluster);
}

/// CPU seconds of the drill's content digest (`relocate::digest`, what a backup computes per
/// namespace for `backup drill`) over the whole data set, on one core.
fn digest_time(data: &[(String, Vec<RawDocumentBuf>)]) -> f64 {
    let t = Instant::now();
    for (_, docs) in data {
        let mut sum = mongoctl::relocate::digest::DigestSum::default();
        for d in docs {
            sum.add(d.as_bytes());
        }
        std::hint::black_box(sum.finish());
    }
    t.elapsed().as_secs_f64()
}

/// One core's speed of each checksum over the data set's bytes (as a backup file holds
/// them): the reason new manifests record BLAKE3, not SHA-256.
fn checksum_speeds(data: &[(String, Vec<RawDocumentBuf>)], bytes: u64) {
    use mongoctl::backup::checksum::{FileHasher, Strong};
    for (name, strong, crc) in [
        ("SHA-256", Some(Strong::Sha256), false),
        ("BLAKE3", Some(Strong::Blake3), false),
        ("CRC-32C", None, true),
    ] {
        // A backup hashes the 1 MiB chunks its drain fills (BLAKE3's SIMD needs many 1 KiB
        // blocks per call: fed a document at a time it is slower than SHA-256 here).
        let mut chunk = Vec::with_capacity(1 << 20);
        let t = Instant::now();
        let mut h = FileHasher::with(strong, crc);
        for (_, docs) in data {
            for d in docs {
                chunk.extend_from_slice(d.as_bytes());
                if chunk.len() >= 1 << 20 {
                    h.update(&chunk);
                    chunk.clear();
                }
            }
        }
        h.update(&chunk);
        std::hint::black_box(h.finish());
        let secs = t.elapsed().as_secs_f64();
        println!(
            "checksum {name:8} {secs:.2} s of one core for {:.0} MiB: {:.0} MiB/s",
            mib(bytes),
            mib(bytes) / secs
        );
    }
}

/// Client-side encryption and restore modes, interleaved over the rounds as the steps above
/// are: `backup --encrypt-to` against a plain backup (target <= 1.2x the time), the restore
/// of each (the encrypted one decrypts every file twice: once in the check before the first
/// write, once while inserting), and `restore --mode upsert` against the default insert into
/// an empty target.
async fn encryption(
    bench: &Bench,
    work: &Path,
    rounds: u64,
    n_docs: u64,
    bytes: u64,
    digest_secs: f64,
) {
    let key = work.join("bench.key");
    let out = Command::new(env!("CARGO_BIN_EXE_mongoctl"))
        .args(["backup", "keygen", "--out", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "backup keygen failed");
    let recipient = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let ident = key.to_str().unwrap().to_string();
    let [
        mut plain,
        mut enc,
        mut restore,
        mut restore_enc,
        mut upsert,
        mut drill,
    ] = std::array::from_fn::<Step, 6, _>(|_| Step::default());
    let mut verify_share = f64::NAN;
    let (plain_dir, enc_dir) = (work.join("enc-plain"), work.join("enc-age"));
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (mut plain_size, mut enc_size) = (0, 0);
    for round in 1..=rounds {
        for d in [&plain_dir, &enc_dir] {
            let _ = std::fs::remove_dir_all(d);
        }
        let backup = ["backup", "--db", "bench", "--out"];
        let pp = path(&plain_dir);
        let mut args = backup.to_vec();
        args.push(&pp);
        plain.add(bench.mongoctl(&args).await);
        let p = path(&enc_dir);
        let mut args = backup.to_vec();
        args.extend([p.as_str(), "--encrypt-to", &recipient]);
        enc.add(bench.mongoctl(&args).await);
        plain_size = dir_size(&plain_dir);
        enc_size = dir_size(&enc_dir);
        let into = |db: &str| {
            [
                "--ns-from".to_string(),
                "bench.*".into(),
                "--ns-to".into(),
                format!("{db}.*"),
            ]
        };
        for (step, dir, extra) in [
            (&mut restore, &plain_dir, vec![]),
            (
                &mut restore_enc,
                &enc_dir,
                vec!["--identity", ident.as_str()],
            ),
            (&mut upsert, &plain_dir, vec!["--mode", "upsert"]),
        ] {
            bench.client.database("encrestored").drop().await.unwrap();
            warm(dir);
            let target = into("encrestored");
            let mut args = vec!["restore", dir.to_str().unwrap()];
            args.extend(target.iter().map(String::as_str));
            args.extend(extra);
            step.add(bench.mongoctl(&args).await);
        }
        bench.client.database("encrestored").drop().await.unwrap();
        // The drill restores into prefixed databases of the same server (no scratch mongod
        // start in the figure) and then verifies: its share is read from drill.json.
        warm(&plain_dir);
        let pd = path(&plain_dir);
        drill.add(
            bench
                .mongoctl(&["backup", "drill", &pd, "--prefix", "drillbench_"])
                .await,
        );
        let recorded: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(plain_dir.join("drill.json")).expect("drill.json"),
        )
        .unwrap();
        // drill.json: {"last": the summary, "report": the whole report}.
        let recorded = &recorded["report"];
        assert_eq!(
            recorded["passed"], true,
            "the bench's drill failed: {recorded}"
        );
        if drill.last <= drill.wall() {
            verify_share = recorded["verify_share"].as_f64().unwrap_or(f64::NAN);
        }
        println!(
            "round {round}: backup {:.2} s, --encrypt-to {:.2} s, restore {:.2} s, encrypted {:.2} s, \
             --mode upsert {:.2} s, drill {:.2} s",
            plain.last, enc.last, restore.last, restore_enc.last, upsert.last, drill.last
        );
    }
    println!();
    println!(
        "encryption and restore modes, best of {rounds} rounds ({n_docs} documents, {:.0} MiB \
         of BSON)",
        mib(bytes)
    );
    plain.line(
        "(i) mongoctl backup",
        &format!(", {:.0} MiB on disk", mib(plain_size)),
    );
    enc.line(
        "(j) backup --encrypt-to",
        &format!(", {:.0} MiB on disk", mib(enc_size)),
    );
    restore.line("(k) restore (insert) of (i)", "");
    restore_enc.line("(l) restore --identity of (j)", "");
    upsert.line("(m) restore --mode upsert of (i)", "");
    drill.line(
        "(n) backup drill --prefix of (i)",
        &format!(", verification {:.0} % of it", verify_share * 100.0),
    );
    println!();
    let ratio = |label: &str, v: f64, note: &str| println!("{label:<36}{v:5.2}  {note}");
    ratio(
        "encrypted backup time / plain",
        enc.wall() / plain.wall(),
        "(target <= 1.20)",
    );
    ratio(
        "encrypted restore time / plain",
        restore_enc.wall() / restore.wall(),
        "",
    );
    ratio(
        "upsert restore time / insert",
        upsert.wall() / restore.wall(),
        "(empty target)",
    );
    ratio(
        "drill time / restore",
        drill.wall() / restore.wall(),
        "(restore + counts, digests, validators, indexes)",
    );
    let backup_cpu = plain.best.map_or(f64::NAN, |c| c.cpu);
    ratio(
        "drill digest CPU / backup CPU",
        digest_secs / backup_cpu,
        &format!("({digest_secs:.2} s of one core over the data set at backup time)"),
    );
    println!(
        "peak RSS: backup {:.0} MiB, --encrypt-to {:.0} MiB, restore {:.0} MiB, encrypted {:.0} \
         MiB, upsert {:.0} MiB, drill {:.0} MiB (target < 128)",
        mib(plain.rss),
        mib(enc.rss),
        mib(restore.rss),
        mib(restore_enc.rss),
        mib(upsert.rss),
        mib(drill.rss)
    );
}

/// One collection (`BENCH_DOCS` documents of the `observations` shape, about 1 KiB each):
/// `backup --split N` (`BENCH_SPLIT`, default 4, the default `-j`) against a raw drain on the
/// same N `_id` ranges, a raw drain on one cursor, `backup --split off` and mongodump of the
/// collection; then `mongoctl restore` of the split backup (default `--workers`, and
/// `--workers 4`) against a raw unordered insert plus the index build and mongorestore of
/// mongodump's files. Interleaved over the rounds, best times compared.
async fn single(bench: &Bench, work: &Path, rounds: u64, total: u64) {
    use mongoctl::backup::dump::split::{part_query, split_ranges};
    const COLL: &str = "observations";
    let parts: usize = std::env::var("BENCH_SPLIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let client = &bench.client;
    let mut r = Rng(0x5106_1E00);
    let docs: Vec<RawDocumentBuf> = (0..total)
        .map(|i| RawDocumentBuf::from_document(&generate(COLL, i, &mut r)).unwrap())
        .collect();
    let bytes: u64 = docs.iter().map(|d| d.as_bytes().len() as u64).sum();
    let data = vec![(COLL.to_string(), docs)];
    let coll = client.database("single").collection::<RawDocumentBuf>(COLL);
    if coll.estimated_document_count().await.unwrap() != total {
        client.database("single").drop().await.unwrap();
        raw_insert(client, "single", &data).await;
    }
    println!(
        "single collection: {total} documents, {:.0} MiB of BSON, {parts} parts",
        mib(bytes)
    );
    let ranges = split_ranges(&coll.clone_with_type::<Document>(), total, parts)
        .await
        .unwrap();
    let drain_ranges = || {
        let ranges = ranges.clone();
        let coll = coll.clone();
        async move {
            let tasks: Vec<_> = ranges
                .into_iter()
                .map(|range| {
                    let coll = coll.clone();
                    tokio::spawn(async move {
                        let mut cur = part_query(&coll, doc! {}, &range).batch().await.unwrap();
                        let (mut n, mut b) = (0u64, 0u64);
                        while let Some(batch) = cur.try_next().await.unwrap() {
                            for d in batch.doc_slices().unwrap() {
                                n += 1;
                                b += d.unwrap().as_document().unwrap().as_bytes().len() as u64;
                            }
                        }
                        (n, b)
                    })
                })
                .collect();
            sum_counts(tasks).await
        }
    };
    let [
        mut drain_n,
        mut drain_1,
        mut split,
        mut whole,
        mut mdump,
        mut insert,
        mut restore,
        mut restore_w4,
        mut mrestore,
    ] = std::array::from_fn::<Step, 9, _>(|_| Step::default());
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (split_dir, whole_dir, dump_dir) = (
        work.join("single-split"),
        work.join("single-whole"),
        work.join("single-mongodump"),
    );
    let n_parts = parts.to_string();
    for round in 1..=rounds {
        for d in [&split_dir, &whole_dir, &dump_dir] {
            let _ = std::fs::remove_dir_all(d);
        }
        let (c, (n, _)) = bench.in_process(drain_ranges()).await;
        assert_eq!(n, total);
        drain_n.add(c);
        let (c, (n, _)) = bench
            .in_process(async {
                let mut cur = coll.find(doc! {}).batch().await.unwrap();
                let mut n = 0u64;
                while let Some(batch) = cur.try_next().await.unwrap() {
                    n += batch.doc_slices().unwrap().into_iter().count() as u64;
                }
                (n, 0u64)
            })
            .await;
        assert_eq!(n, total);
        drain_1.add(c);
        let backup = |dir: &Path, split: &str| {
            [
                "backup".to_string(),
                "--db".into(),
                "single".into(),
                "--split".into(),
                split.into(),
                "--out".into(),
                path(dir),
            ]
        };
        let args = backup(&split_dir, &n_parts);
        split.add(
            bench
                .mongoctl(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .await,
        );
        let args = backup(&whole_dir, "off");
        whole.add(
            bench
                .mongoctl(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .await,
        );
        if let Some(tools) = &bench.tools {
            let args = [
                format!("--uri={}", bench.uri),
                "--db=single".into(),
                format!("--collection={COLL}"),
                format!("--out={}", path(&dump_dir)),
                "--quiet".into(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            mdump.add(bench.run(&tools.join("mongodump"), &args).await);
        }
        for db in ["single_raw", "single_restored", "single_mr"] {
            client.database(db).drop().await.unwrap();
        }
        let (c, _) = bench
            .in_process(raw_insert(client, "single_raw", &data))
            .await;
        insert.add(c);
        client.database("single_raw").drop().await.unwrap();
        for (step, extra) in [(&mut restore, None), (&mut restore_w4, Some("4"))] {
            warm(&split_dir);
            let sd = path(&split_dir);
            let mut args = vec![
                "restore",
                sd.as_str(),
                "--ns-from",
                "single.*",
                "--ns-to",
                "single_restored.*",
            ];
            if let Some(w) = extra {
                args.extend(["--workers", w]);
            }
            step.add(bench.mongoctl(&args).await);
            client.database("single_restored").drop().await.unwrap();
        }
        if let Some(tools) = &bench.tools {
            warm(&dump_dir);
            let args = [
                format!("--uri={}", bench.uri),
                "--nsFrom=single.*".into(),
                "--nsTo=single_mr.*".into(),
                "--quiet".into(),
                format!("--dir={}", path(&dump_dir)),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            mrestore.add(bench.run(&tools.join("mongorestore"), &args).await);
            client.database("single_mr").drop().await.unwrap();
        }
        println!(
            "round {round}: drain x{parts} {:.2} s, drain x1 {:.2} s, backup --split {parts} {:.2} s, \
             --split off {:.2} s, mongodump {:.2} s, raw insert {:.2} s, restore {:.2} s, \
             --workers 4 {:.2} s, mongorestore {:.2} s",
            drain_n.last,
            drain_1.last,
            split.last,
            whole.last,
            mdump.last,
            insert.last,
            restore.last,
            restore_w4.last,
            mrestore.last
        );
    }
    println!();
    println!(
        "single collection, best of {rounds} rounds ({total} documents, {:.0} MiB of BSON)",
        mib(bytes)
    );
    drain_n.line(&format!("(s1) raw drain, {parts} cursors"), "");
    drain_1.line("(s2) raw drain, 1 cursor", "");
    split.line(&format!("(s3) backup --split {parts}"), "");
    whole.line("(s4) backup --split off", "");
    mdump.line("(s5) mongodump (wine)", "");
    insert.line("(s6) raw insert + indexes", "");
    restore.line("(s7) restore of (s3)", "");
    restore_w4.line("(s7') restore --workers 4", "");
    mrestore.line("(s8) mongorestore of (s5) (wine)", "");
    println!();
    let ratio = |label: &str, v: f64, note: &str| println!("{label:<44}{v:5.2}  {note}");
    ratio(
        "split backup speed / mongodump",
        mdump.wall() / split.wall(),
        "(target >= 1.70)",
    );
    ratio(
        &format!("split backup speed / raw drain x{parts}"),
        drain_n.wall() / split.wall(),
        "(target >= 0.90)",
    );
    ratio(
        "split backup speed / unsplit backup",
        whole.wall() / split.wall(),
        "",
    );
    ratio(
        &format!("raw drain x{parts} speed / raw drain x1"),
        drain_1.wall() / drain_n.wall(),
        "",
    );
    ratio(
        "unsplit backup speed / mongodump",
        mdump.wall() / whole.wall(),
        "",
    );
    ratio(
        "restore speed / mongorestore",
        mrestore.wall() / restore.wall(),
        "(target >= 1.60)",
    );
    ratio(
        "restore --workers 4 speed / mongorestore",
        mrestore.wall() / restore_w4.wall(),
        "",
    );
    ratio(
        "restore speed / (raw insert+index)",
        insert.wall() / restore.wall(),
        "",
    );
    println!(
        "peak RSS: backup --split {:.0} MiB, restore {:.0} MiB",
        mib(split.rss),
        mib(restore.rss)
    );
}
