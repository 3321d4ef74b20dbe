//! Migration benchmark (not a test): on one local mongod and one deterministic data set of
//! `BENCH_DOCS` (default 1,000,000) customer documents of ~0.7 KiB, measures
//!   (a) a raw driver `updateMany({full_name: {$exists: true}}, {$rename: {full_name: "name"}})`
//!   (b) `mongoctl migrate up` running one `renameField` migration doing the same, on an
//!       identical collection (batched by `_id`, progress recorded per batch),
//!   (c) `mongodump --archive | mongorestore --archive --nsFrom --nsTo` of one collection to
//!       another database (the real mongo-tools, `MONGO_TOOLS_DIR`),
//!   (d) `mongoctl migrate up` running one `moveCollection` step (copy, index builds, and the
//!       digest of both sides that verifies the copy), and, in process, that digest alone,
//! and prints the ratios (a)/(b) and (c)/(d) with the CPU of the client(s) and of mongod.
//!
//!   cargo bench --bench migrate
//!   BENCH_DOCS=200000 BENCH_ROUNDS=2 cargo bench --bench migrate

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use bson::{Document, RawDocumentBuf, doc};
use mongoctl::relocate::{self, Namespace};
use mongodb::Client;

const APP_DB: &str = "mbench_app";
const RAW_COLL: &str = "customers_raw";
const OURS_COLL: &str = "customers";
const SRC_DB: &str = "mbench_src";
const DST_DB: &str = "mbench_dst";
const TOOLS_DB: &str = "mbench_tools";
const MOVED: &str = "customers";

/// The rename workspace: one `renameField` migration on `app.customers`.
const RENAME_MANIFEST: &str = r#"{"project": "mbench", "metadataDatabase": "mbench_meta_rename",
  "domains": {"app": {"database": "mbench_app", "collections": {"customers": {}, "customers_raw": {}}}}}"#;
const RENAME_MIGRATION: &str = r#"{"description": "full_name becomes name", "steps": [
  {"op": "renameField", "domain": "app", "collection": "customers", "from": "full_name", "to": "name"}
]}"#;

/// The move workspace: one `moveCollection` from `src.customers` to `dst.customers`.
const MOVE_MANIFEST: &str = r#"{"project": "mbench", "metadataDatabase": "mbench_meta_move",
  "domains": {"src": {"database": "mbench_src", "collections": {}},
              "dst": {"database": "mbench_dst", "collections": {"customers": {}}}}}"#;
const MOVE_MIGRATION: &str = r#"{"description": "customers get their own database", "steps": [
  {"op": "moveCollection", "from": {"domain": "src", "collection": "customers"}, "to": {"domain": "dst", "collection": "customers"}}
]}"#;

fn indexes() -> Vec<Document> {
    vec![
        doc! {"key": {"email": 1}, "name": "email_1", "unique": true},
        doc! {"key": {"address.city": 1, "created_at": -1}, "name": "city_created"},
    ]
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
const STATUS: [&str; 3] = ["delivered", "shipped", "returned"];
const CITIES: &[&str] = &[
    "Bengaluru",
    "Lagos",
    "Nairobi",
    "Lisbon",
    "Hanoi",
    "Lima",
    "Pune",
    "Accra",
];

/// One customer (~0.7 KiB of BSON) with the `full_name` the migration renames.
fn customer(i: u64, r: &mut Rng) -> RawDocumentBuf {
    let at = bson::DateTime::from_millis(1_700_000_000_000 + (r.next() % 31_536_000_000) as i64);
    let (given, family) = (r.pick(GIVEN), r.pick(FAMILY));
    let d = doc! {
        "_id": i as i64,
        "full_name": format!("{given} {family}"),
        "email": format!("c{i}@example.org"),
        "phone": format!("+91-98{:08}", r.next() % 100_000_000),
        "dob": bson::DateTime::from_millis(-631_152_000_000 + (r.next() % 2_524_608_000_000) as i64),
        "address": {"line": [format!("{} MG Road", r.next() % 999), "Block B"], "city": r.pick(CITIES),
            "postalCode": format!("560{:03}", r.next() % 999), "country": "IN"},
        "preferences": {"language": "en-IN", "newsletter": r.next().is_multiple_of(2), "channels": ["email", "sms"]},
        "loyalty": {"tier": r.pick(&["bronze", "silver", "gold"]), "points": (r.next() % 100_000) as i64, "since": at},
        "orders": (0..3).map(|k| doc! {"id": format!("ORD{:08}", r.next() % 100_000_000), "at": at,
            "total": (r.next() % 500_000) as f64 / 100.0, "status": STATUS[k]}).collect::<Vec<_>>(),
        "notes": "Prefers delivery after 6 pm; gate code at the front desk; call before arriving with large parcels.",
        "tags": ["retail", "newsletter"],
        "created_at": at, "updated_at": at, "version": (r.next() % 20) as i32,
    };
    RawDocumentBuf::from_document(&d).unwrap()
}

/// What one run of a step cost.
#[derive(Default, Clone, Copy)]
struct Cost {
    wall: f64,
    /// user + system CPU seconds of the client process(es) (and their children)
    cpu: f64,
    /// user + system CPU seconds mongod spent meanwhile
    server_cpu: f64,
}

fn secs(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6
}

/// Waits for each child with wait4 (for its rusage); the CPU seconds of them all and whether
/// every one exited 0.
fn reap(pids: &[libc::pid_t]) -> (f64, bool) {
    let (mut cpu, mut ok) = (0.0, true);
    for &pid in pids {
        let mut status = 0;
        // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(r, pid, "waiting for a benchmarked program");
        cpu += secs(usage.ru_utime) + secs(usage.ru_stime);
        ok &= libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    }
    (cpu, ok)
}

/// CPU seconds (user + system) this process has used.
fn own_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
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

/// The bench server and how to run steps against it.
struct Bench {
    client: Client,
    uri: String,
    tools: Option<PathBuf>,
}

impl Bench {
    /// Every step starts from the same server state: earlier writes and drops checkpointed
    /// (otherwise the checkpoint lands, and is billed, in whatever runs next).
    async fn settle(&self) {
        self.client
            .database("admin")
            .run_command(doc! {"fsync": 1})
            .await
            .unwrap();
    }

    /// Runs `start` (which spawns child processes), timing them until all have exited.
    async fn processes(&self, what: &str, start: impl FnOnce() -> Vec<libc::pid_t>) -> Cost {
        self.settle().await;
        let before = server_cpu(&self.client).await;
        let t = Instant::now();
        let pids = start();
        let (cpu, ok) = tokio::task::spawn_blocking(move || reap(&pids))
            .await
            .unwrap();
        let wall = t.elapsed().as_secs_f64();
        assert!(ok, "{what} failed");
        Cost {
            wall,
            cpu,
            server_cpu: server_cpu(&self.client).await - before,
        }
    }

    /// `mongoctl migrate up` on the workspace `spec`.
    // The children are reaped by `reap` (wait4, for their rusage), which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    async fn migrate_up(&self, spec: &Path) -> Cost {
        let (spec, uri) = (spec.to_str().unwrap().to_string(), self.uri.clone());
        self.processes("mongoctl migrate up", move || {
            let child = Command::new(env!("CARGO_BIN_EXE_mongoctl"))
                .args(["--spec", &spec, "--uri", &uri, "-q", "migrate", "up"])
                .stdout(Stdio::null())
                .spawn()
                .expect("starting mongoctl");
            vec![child.id() as libc::pid_t]
        })
        .await
    }

    /// `mongodump --archive --db SRC --collection C | mongorestore --archive --nsFrom --nsTo`.
    // The children are reaped by `reap` (wait4, for their rusage), which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    async fn dump_restore(&self, tools: &Path) -> Cost {
        let uri = format!("--uri={}", self.uri);
        let (dump, restore) = (tools.join("mongodump"), tools.join("mongorestore"));
        self.processes("mongodump | mongorestore", move || {
            let mut dumper = Command::new(dump)
                .args([
                    uri.as_str(),
                    &format!("--db={SRC_DB}"),
                    &format!("--collection={MOVED}"),
                    "--archive",
                    "--quiet",
                ])
                .stdout(Stdio::piped())
                .spawn()
                .expect("starting mongodump");
            let pipe = dumper.stdout.take().unwrap();
            let restorer = Command::new(restore)
                .args([
                    uri.as_str(),
                    &format!("--nsFrom={SRC_DB}.{MOVED}"),
                    &format!("--nsTo={TOOLS_DB}.{MOVED}"),
                    "--archive",
                    "--quiet",
                ])
                .stdin(pipe)
                .spawn()
                .expect("starting mongorestore");
            vec![dumper.id() as libc::pid_t, restorer.id() as libc::pid_t]
        })
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
        };
        (cost, out)
    }

    /// (Re)creates `db.coll` holding `docs` and the secondary indexes.
    async fn load(&self, db: &str, coll: &str, docs: &[RawDocumentBuf]) {
        let database = self.client.database(db);
        database.collection::<Document>(coll).drop().await.unwrap();
        let c = database.collection::<RawDocumentBuf>(coll);
        let mut set = tokio::task::JoinSet::new();
        for chunk in docs.chunks(1000) {
            while set.len() >= 2 {
                set.join_next().await.unwrap().unwrap();
            }
            let (c, chunk) = (c.clone(), chunk.to_vec());
            set.spawn(async move { c.insert_many(chunk).ordered(false).await.unwrap() });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        database
            .run_command(doc! {"createIndexes": coll, "indexes": indexes()})
            .await
            .unwrap();
    }

    async fn count(&self, db: &str, coll: &str, filter: Document) -> u64 {
        self.client
            .database(db)
            .collection::<Document>(coll)
            .count_documents(filter)
            .await
            .unwrap()
    }

    async fn drop_db(&self, db: &str) {
        self.client.database(db).drop().await.unwrap();
    }
}

fn find_tools() -> Option<PathBuf> {
    let dir = std::env::var_os("MONGO_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".mongo-tools/bin"));
    dir.join("mongodump").exists().then_some(dir)
}

/// The best (lowest wall time) run of one step over the rounds.
#[derive(Default)]
struct Step {
    best: Option<Cost>,
    all: Vec<f64>,
}

impl Step {
    fn add(&mut self, c: Cost) {
        self.all.push(c.wall);
        if self.best.is_none_or(|b| c.wall < b.wall) {
            self.best = Some(c);
        }
    }
    fn last(&self) -> f64 {
        self.all.last().copied().unwrap_or(f64::NAN)
    }
    fn wall(&self) -> f64 {
        self.best.map_or(f64::NAN, |c| c.wall)
    }
    fn line(&self, label: &str) {
        let Some(c) = self.best else { return };
        let rounds: Vec<String> = self.all.iter().map(|w| format!("{w:.2}")).collect();
        println!(
            "{label:<44}{:7.2} s  cpu {:6.2} s + mongod {:6.2} s  (rounds: {})",
            c.wall,
            c.cpu,
            c.server_cpu,
            rounds.join(", ")
        );
    }
}

fn write_workspace(dir: &Path, manifest: &str, migration: (&str, &str)) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("mongoctl.json"), manifest).unwrap();
    std::fs::write(dir.join("migrations").join(migration.0), migration.1).unwrap();
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs harness-less benches too; only `cargo bench` (which
    // passes --bench) should spend minutes loading a million documents.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("migrate bench: skipped (run it with `cargo bench --bench migrate`)");
        return;
    }
    let env_num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let total = env_num("BENCH_DOCS", 1_000_000);
    // The machine is shared: every step runs in each round, interleaved (which side goes
    // first alternates), and the best time of each is compared, so a burst of outside load
    // does not land on one side only.
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let work = tempfile::Builder::new()
        .prefix("mongoctl-bench-migrate-")
        .tempdir()
        .unwrap();
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
        uri,
        tools: find_tools(),
    };
    let (raw_ns, ours_ns) = (
        Namespace::new(APP_DB, RAW_COLL),
        Namespace::new(APP_DB, OURS_COLL),
    );
    let (src_ns, dst_ns, tools_ns) = (
        Namespace::new(SRC_DB, MOVED),
        Namespace::new(DST_DB, MOVED),
        Namespace::new(TOOLS_DB, MOVED),
    );
    let rename_ws = work.path().join("rename");
    write_workspace(
        &rename_ws,
        RENAME_MANIFEST,
        ("0001_rename_full_name.json", RENAME_MIGRATION),
    );
    let move_ws = work.path().join("move");
    write_workspace(
        &move_ws,
        MOVE_MANIFEST,
        ("0001_move_customers.json", MOVE_MIGRATION),
    );

    println!("generating {total} documents …");
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let docs: Vec<RawDocumentBuf> = (0..total).map(|i| customer(i, &mut r)).collect();
    let bytes: u64 = docs.iter().map(|d| d.as_bytes().len() as u64).sum();
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "data set: {total} documents, {:.0} MiB of BSON ({} bytes each on average)",
        mib(bytes),
        bytes / total.max(1)
    );

    // 1. Rename: (a) raw updateMany, (b) migrate up, on identical collections.
    let [mut raw, mut ours] = [Step::default(), Step::default()];
    let renamed = doc! {"name": {"$exists": true}, "full_name": {"$exists": false}};
    for round in 1..=rounds {
        bench.drop_db("mbench_meta_rename").await;
        bench.load(APP_DB, RAW_COLL, &docs).await;
        bench.load(APP_DB, OURS_COLL, &docs).await;
        let raw_coll = client.database(APP_DB).collection::<Document>(RAW_COLL);
        let raw_step = async {
            let (c, res) = bench
                .in_process(async {
                    raw_coll
                        .update_many(
                            doc! {"full_name": {"$exists": true}},
                            doc! {"$rename": {"full_name": "name"}},
                        )
                        .await
                })
                .await;
            assert_eq!(res.unwrap().modified_count, total);
            c
        };
        if round % 2 == 1 {
            raw.add(raw_step.await);
            ours.add(bench.migrate_up(&rename_ws).await);
        } else {
            ours.add(bench.migrate_up(&rename_ws).await);
            raw.add(raw_step.await);
        }
        // Both sides renamed every document, and hold the same documents byte for byte.
        assert_eq!(bench.count(APP_DB, RAW_COLL, renamed.clone()).await, total);
        assert_eq!(bench.count(APP_DB, OURS_COLL, renamed.clone()).await, total);
        let (a, b) = tokio::join!(
            relocate::digest(&client, &raw_ns, None),
            relocate::digest(&client, &ours_ns, None)
        );
        assert_eq!(a.unwrap(), b.unwrap(), "the two renamed collections differ");
        println!(
            "round {round}: rename: raw updateMany {:.2} s, migrate up {:.2} s",
            raw.last(),
            ours.last()
        );
    }
    bench.drop_db(APP_DB).await;

    // 2. Move: (c) mongodump | mongorestore, (d) migrate up with a moveCollection step, and
    // the verification's digest of both sides alone.
    let [mut tools, mut moved, mut digest] = [Step::default(), Step::default(), Step::default()];
    bench.load(SRC_DB, MOVED, &docs).await;
    drop(docs);
    let source_digest = relocate::digest(&client, &src_ns, None).await.unwrap();
    for round in 1..=rounds {
        for db in [DST_DB, TOOLS_DB, "mbench_meta_move"] {
            bench.drop_db(db).await;
        }
        let tools_step = async {
            let Some(dir) = &bench.tools else { return };
            tools.add(bench.dump_restore(dir).await);
            assert_eq!(bench.count(TOOLS_DB, MOVED, doc! {}).await, total);
        };
        if round % 2 == 1 {
            tools_step.await;
            moved.add(bench.migrate_up(&move_ws).await);
        } else {
            moved.add(bench.migrate_up(&move_ws).await);
            tools_step.await;
        }
        assert_eq!(bench.count(DST_DB, MOVED, doc! {}).await, total);
        let (c, (s, t)) = bench
            .in_process(async {
                tokio::join!(
                    relocate::digest(&client, &src_ns, None),
                    relocate::digest(&client, &dst_ns, None)
                )
            })
            .await;
        assert_eq!(s.unwrap(), source_digest);
        assert_eq!(t.unwrap(), source_digest, "the moved collection differs");
        digest.add(c);
        println!(
            "round {round}: move: migrate up {:.2} s (digests {:.2} s){}",
            moved.last(),
            digest.last(),
            if bench.tools.is_some() {
                format!(", mongodump | mongorestore {:.2} s", tools.last())
            } else {
                String::new()
            }
        );
    }
    let tools_identical = bench.tools.is_some()
        && relocate::digest(&client, &tools_ns, None).await.unwrap() == source_digest;

    println!();
    println!(
        "best of {rounds} rounds ({total} documents, {:.0} MiB of BSON); cpu = the client's \
         user+system CPU (both tools for (c)), mongod = the server's, in the same run",
        mib(bytes)
    );
    raw.line("(a) raw updateMany $rename");
    ours.line("(b) mongoctl migrate up (renameField)");
    if bench.tools.is_some() {
        tools.line("(c) mongodump | mongorestore (wine)");
    }
    moved.line("(d) mongoctl migrate up (moveCollection)");
    digest.line("(d') of which: digests of both sides");
    println!();
    println!(
        "rename speed / raw updateMany             {:5.2}  (target >= 0.90)",
        raw.wall() / ours.wall()
    );
    if bench.tools.is_some() {
        println!(
            "move speed / mongodump|mongorestore       {:5.2}  (target >= 2.00, verification \
             included; the tools' copy is {}identical byte for byte)",
            tools.wall() / moved.wall(),
            if tools_identical { "" } else { "NOT " }
        );
    }
    println!(
        "verification share of the move            {:5.2}",
        digest.wall() / moved.wall()
    );
    client.shutdown().await;
    drop(cluster);
}
