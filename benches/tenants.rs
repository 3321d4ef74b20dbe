//! Tenant fleet benchmark (not a test): on one local mongod, a database-per-tenant workspace
//! (one template domain of 6 collections, each with a `$jsonSchema` and 2 indexes) applied to
//! `BENCH_TENANTS` (default 1,000) tenants. Measures, with the release `mongoctl` binary:
//!   - the initial `apply` (reported, no target; first 100 tenants, then the rest),
//!   - `plan` with no changes (target < 3 s), best of `BENCH_ROUNDS` (default 3),
//!   - the peak RSS of that `plan` at 100 tenants and at `BENCH_TENANTS` (`wait4` rusage of
//!     the child: `ru_maxrss`, exact and per process, no polling),
//!   - `apply` of one new index on one collection of the template, i.e. on every tenant
//!     (tenants/s), against the server's own build time summed over the fleet (from the mongod
//!     log: each build's "registering" to its "completed" line, after the apply's offset),
//!   - `stats --tenants`, when this build's `mongoctl stats` has that flag,
//!
//! and prints a summary table.
//!
//!   cargo bench --bench tenants
//!   BENCH_TENANTS=100 cargo bench --bench tenants
//!   BENCH_URI=mongodb://127.0.0.1:27017 BENCH_MONGOD_LOG=/path/mongod.log cargo bench --bench tenants

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use bson::doc;
use mongodb::Client;

const BIN: &str = env!("CARGO_BIN_EXE_mongoctl");
/// The template database: `fleet_<tenant>`.
const TEMPLATE_DB: &str = "fleet_{tenant}";
/// The stage at which the small-fleet figures (plan time, peak RSS) are taken.
const SMALL_FLEET: usize = 100;
/// Tenants applied at a time (the `--jobs` default is 8).
const JOBS: &str = "8";
/// Set to `0`, the fleet plan reads indexes per collection (the read before `$listCatalog`).
const CATALOG_ENV: &str = mongoctl::live::catalog::ENV;

/// The template's collections; each gets a schema and two indexes.
const COLLECTIONS: [&str; 6] = [
    "users",
    "conversations",
    "messages",
    "files",
    "groups",
    "settings",
];

fn manifest() -> String {
    let colls: Vec<String> = COLLECTIONS
        .iter()
        .map(|c| format!(r#""{c}": {{"description": "the tenant's {c}"}}"#))
        .collect();
    format!(
        r#"{{"project": "fleetbench", "metadataDatabase": "fleet_meta",
  "tenants": {{"file": "tenants.json"}},
  "domains": {{"app": {{"database": "{TEMPLATE_DB}", "tenancy": "database",
    "description": "one database per tenant", "collections": {{{}}}}}}}}}"#,
        colls.join(", ")
    )
}

fn schema(coll: &str) -> String {
    format!(
        r#"{{"bsonType": "object", "required": ["tenant_id", "{coll}_id", "created_at"],
  "properties": {{"tenant_id": {{"bsonType": "string"}}, "{coll}_id": {{"bsonType": "int"}},
    "owner": {{"bsonType": "string"}}, "body": {{"bsonType": "string", "maxLength": 10000}},
    "created_at": {{"bsonType": "date"}}}}}}"#
    )
}

/// Two indexes per collection, and (`extra`) the one the index step adds to `messages`.
fn indexes(coll: &str, extra: bool) -> String {
    let mut ix = vec![
        format!(r#"{{"name": "{coll}_id", "key": {{"{coll}_id": 1}}, "unique": true}}"#),
        r#"{"name": "owner_created", "key": {"owner": 1, "created_at": -1}}"#.to_string(),
    ];
    if extra && coll == "messages" {
        ix.push(r#"{"name": "body_created", "key": {"body": 1, "created_at": 1}}"#.to_string());
    }
    format!("{{\"indexes\": [{}]}}\n", ix.join(", "))
}

fn tenant_id(i: usize) -> String {
    format!("t{i:05}")
}

fn write_tenants(ws: &Path, n: usize) {
    let ids: Vec<String> = (0..n).map(|i| format!("\"{}\"", tenant_id(i))).collect();
    std::fs::write(
        ws.join("tenants.json"),
        format!("{{\"tenants\": [{}]}}\n", ids.join(", ")),
    )
    .unwrap();
}

fn write_indexes(ws: &Path, extra: bool) {
    for c in COLLECTIONS {
        std::fs::write(
            ws.join("indexes/app").join(format!("{c}.json")),
            indexes(c, extra),
        )
        .unwrap();
    }
}

fn write_workspace(ws: &Path) {
    std::fs::create_dir_all(ws.join("schemas/app")).unwrap();
    std::fs::create_dir_all(ws.join("indexes/app")).unwrap();
    std::fs::write(ws.join("mongoctl.json"), manifest()).unwrap();
    for c in COLLECTIONS {
        std::fs::write(ws.join("schemas/app").join(format!("{c}.json")), schema(c)).unwrap();
    }
    write_indexes(ws, false);
}

fn secs(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6
}

/// One run of the mongoctl binary.
#[derive(Clone, Copy)]
struct Run {
    wall: f64,
    /// user + system CPU seconds of the child
    cpu: f64,
    /// peak resident set of the child (wait4's `ru_maxrss`), MiB
    rss_mib: f64,
    code: i32,
    /// CPU seconds mongod spent meanwhile
    server_cpu: f64,
}

/// Runs `mongoctl ARGS` in a fresh child and reaps it with `wait4`, whose rusage is that
/// child's alone (getrusage(RUSAGE_CHILDREN) would fold every earlier child in).
fn mongoctl(ws: &Path, uri: &str, args: &[&str]) -> Run {
    mongoctl_env(ws, uri, args, &[])
}

fn mongoctl_env(ws: &Path, uri: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let t = Instant::now();
    let child = Command::new(BIN)
        .args([
            "--spec",
            ws.to_str().unwrap(),
            "--uri",
            uri,
            "-q",
            "--no-progress",
        ])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .expect("starting mongoctl");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "waiting for mongoctl");
    std::mem::forget(child); // reaped above
    Run {
        wall: t.elapsed().as_secs_f64(),
        cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        rss_mib: usage.ru_maxrss as f64 / 1024.0,
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        server_cpu: 0.0,
    }
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

fn log_len(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// The index builds the server logged after `offset`: how many finished, and their server-side
/// durations summed (ms). mongod 6.0's "Index build: done building" line carries no duration,
/// so a build's time is taken from its structured log lines, keyed by `buildUUID`: from
/// "Index build: registering" (id 20438, the createIndexes command hands the build over) to
/// "Index build: completed" (id 20447, the build committed and the command may reply). Log
/// timestamps have millisecond resolution.
fn index_builds(log: &Path, offset: u64) -> (usize, u64) {
    let mut f = std::fs::File::open(log).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut text = String::new();
    f.read_to_string(&mut text).unwrap();
    let mut started = std::collections::HashMap::new();
    let (mut n, mut ms) = (0, 0);
    for line in text.lines() {
        if !line.contains("\"Index build: registering\"")
            && !line.contains("\"Index build: completed\"")
        {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(at), Some(uuid)) = (
            v["t"]["$date"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
            v["attr"]["buildUUID"]["uuid"]["$uuid"].as_str(),
        ) else {
            continue;
        };
        match v["id"].as_u64() {
            Some(20438) => {
                started.insert(uuid.to_string(), at);
            }
            Some(20447) => {
                if let Some(t0) = started.remove(uuid) {
                    n += 1;
                    ms += (at - t0).num_milliseconds().max(0) as u64;
                }
            }
            _ => {}
        }
    }
    (n, ms)
}

/// A few documents per tenant in `messages`, so the new index has something to build.
async fn load_messages(client: &Client, tenants: std::ops::Range<usize>, per_tenant: usize) {
    use futures::StreamExt;
    let at = bson::DateTime::from_millis(1_700_000_000_000);
    futures::stream::iter(tenants.map(|i| {
        let coll = client
            .database(&TEMPLATE_DB.replace("{tenant}", &tenant_id(i)))
            .collection::<bson::Document>("messages");
        let docs: Vec<bson::Document> = (0..per_tenant)
            .map(|k| {
                doc! {"tenant_id": tenant_id(i), "messages_id": k as i32, "owner": format!("u{}", k % 17),
                "body": format!("message {k} of tenant {i}: hello there"), "created_at": at}
            })
            .collect();
        async move {
            // A server reused with BENCH_URI already holds them.
            if !docs.is_empty() && coll.estimated_document_count().await.unwrap() == 0 {
                coll.insert_many(docs).await.unwrap();
            }
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<()>>()
    .await;
}

/// The index the index step adds, dropped where an earlier run on this server (BENCH_URI)
/// left it.
async fn drop_new_index(client: &Client, tenants: usize) {
    for i in 0..tenants {
        let db = client.database(&TEMPLATE_DB.replace("{tenant}", &tenant_id(i)));
        let _ = db
            .run_command(doc! {"dropIndexes": "messages", "index": "body_created"})
            .await;
    }
}

fn stats_has_tenants() -> bool {
    let out = Command::new(BIN)
        .args(["stats", "--help"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("--tenants")
}

/// Best (lowest wall) of `rounds` runs of `plan --exit-code` on a converged fleet, with the
/// server's CPU during each; `env` for the child (the per-collection read).
async fn plan_rounds(
    client: &Client,
    ws: &Path,
    uri: &str,
    rounds: u64,
    env: &[(&str, &str)],
) -> (Run, Vec<f64>) {
    let mut best: Option<Run> = None;
    let mut all = vec![];
    for _ in 0..rounds {
        let before = server_cpu(client).await;
        let mut r = mongoctl_env(ws, uri, &["plan", "--exit-code", "--jobs", JOBS], env);
        r.server_cpu = server_cpu(client).await - before;
        assert_eq!(
            r.code, 0,
            "plan on a converged fleet must exit 0 (no changes)"
        );
        all.push(r.wall);
        if best.is_none_or(|b| r.wall < b.wall) {
            best = Some(r);
        }
    }
    (best.unwrap(), all)
}

/// `plan` both ways at this fleet size: through `$listCatalog` (the default) and with one
/// `listIndexes` per collection (`MONGOCTL_LIST_CATALOG=0`), interleaved round by round would
/// need twice the runs; each is best-of-rounds instead.
async fn plan_both(client: &Client, ws: &Path, uri: &str, rounds: u64, n: usize) -> (Run, Run) {
    let (fast, fast_all) = plan_rounds(client, ws, uri, rounds, &[]).await;
    let (slow, slow_all) = plan_rounds(client, ws, uri, rounds, &[(CATALOG_ENV, "0")]).await;
    println!(
        "plan, no changes, {n} tenants: {:.2} s (rounds {}), cpu {:.2} s + mongod {:.2} s, peak RSS {:.1} MiB",
        fast.wall,
        rounds_text(&fast_all),
        fast.cpu,
        fast.server_cpu,
        fast.rss_mib
    );
    println!(
        "  same, listIndexes per collection: {:.2} s (rounds {}), cpu {:.2} s + mongod {:.2} s, peak RSS {:.1} MiB",
        slow.wall,
        rounds_text(&slow_all),
        slow.cpu,
        slow.server_cpu,
        slow.rss_mib
    );
    (fast, slow)
}

fn rounds_text(all: &[f64]) -> String {
    all.iter()
        .map(|w| format!("{w:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs harness-less benches too: only `cargo bench` (which
    // passes --bench) should apply a thousand tenant databases.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("tenants bench: skipped (run it with `cargo bench --bench tenants`)");
        return;
    }
    let env_num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let total = env_num("BENCH_TENANTS", 1000).max(1) as usize;
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let per_tenant = env_num("BENCH_DOCS_PER_TENANT", 200) as usize;
    let small = SMALL_FLEET.min(total);
    let work = tempfile::Builder::new()
        .prefix("mongoctl-bench-tenants-")
        .tempdir()
        .unwrap();
    // BENCH_URI: a server of your own (e.g. one that already holds the fleet: the initial
    // apply then has nothing to do); BENCH_MONGOD_LOG: its log, for the index build times.
    let (uri, log, cluster) = match std::env::var("BENCH_URI") {
        Ok(u) => (
            u,
            std::env::var_os("BENCH_MONGOD_LOG").map(PathBuf::from),
            None,
        ),
        Err(_) => {
            let mut opts = mongoctl::mongod::ClusterOptions::standalone();
            opts.binary = Some(
                mongoctl::mongod::find_mongod()
                    .expect("mongod (scripts/install-mongod or $MONGOD)"),
            );
            let cluster = mongoctl::mongod::start_cluster(&work.path().join("db"), &opts)
                .await
                .unwrap();
            let log = cluster.nodes()[0].log_path().to_path_buf();
            (cluster.uri(), Some(log), Some(cluster))
        }
    };
    let client = Client::with_uri_str(&uri).await.unwrap();
    let ws = work.path().join("ws");
    write_workspace(&ws);
    println!(
        "fleet: {total} tenants × {} collections (schema + 2 indexes each), {per_tenant} messages per tenant; mongoctl {BIN}",
        COLLECTIONS.len()
    );

    // Stage 1: the small fleet.
    write_tenants(&ws, small);
    let apply_small = mongoctl(&ws, &uri, &["apply", "--yes", "--jobs", JOBS]);
    assert_eq!(
        apply_small.code, 0,
        "initial apply of {small} tenants failed"
    );
    load_messages(&client, 0..small, per_tenant).await;
    println!(
        "initial apply, {small} tenants: {:.2} s ({:.1} tenants/s)",
        apply_small.wall,
        small as f64 / apply_small.wall
    );
    let (plan_small, plan_small_slow) = plan_both(&client, &ws, &uri, rounds, small).await;

    // Stage 2: the whole fleet.
    let mut apply_rest = None;
    if total > small {
        write_tenants(&ws, total);
        let r = mongoctl(&ws, &uri, &["apply", "--yes", "--jobs", JOBS]);
        assert_eq!(
            r.code, 0,
            "initial apply of tenants {small}..{total} failed"
        );
        load_messages(&client, small..total, per_tenant).await;
        println!(
            "initial apply, {} more tenants: {:.2} s ({:.1} tenants/s)",
            total - small,
            r.wall,
            (total - small) as f64 / r.wall
        );
        apply_rest = Some(r);
    }
    let (plan_full, plan_full_slow) = if total > small {
        plan_both(&client, &ws, &uri, rounds, total).await
    } else {
        (plan_small, plan_small_slow)
    };

    // One new index on every tenant.
    client
        .database("admin")
        .run_command(doc! {"fsync": 1})
        .await
        .unwrap();
    write_indexes(&ws, true);
    drop_new_index(&client, total).await;
    let offset = log.as_deref().map(log_len).unwrap_or(0);
    let server0 = server_cpu(&client).await;
    let mut index = mongoctl(&ws, &uri, &["apply", "--yes", "--jobs", JOBS]);
    index.server_cpu = server_cpu(&client).await - server0;
    assert_eq!(index.code, 0, "apply of the new index failed");
    // The last build's log line may trail the command's reply by a moment.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (builds, build_ms) = log
        .as_deref()
        .map(|l| index_builds(l, offset))
        .unwrap_or((0, 0));
    let after = mongoctl(&ws, &uri, &["plan", "--exit-code", "--jobs", JOBS]);
    assert_eq!(
        after.code, 0,
        "the fleet is not converged after the index apply"
    );
    println!(
        "apply of one new index on {total} tenants: {:.2} s ({:.1} tenants/s), cpu {:.2} s + mongod {:.2} s; server logged {builds} builds, {:.2} s of server build time summed",
        index.wall,
        total as f64 / index.wall,
        index.cpu,
        index.server_cpu,
        build_ms as f64 / 1000.0
    );

    let stats = if stats_has_tenants() {
        let r = mongoctl(&ws, &uri, &["stats", "--tenants"]);
        assert_eq!(r.code, 0, "stats --tenants failed");
        println!(
            "stats --tenants, {total} tenants: {:.2} s, peak RSS {:.1} MiB",
            r.wall, r.rss_mib
        );
        Some(r)
    } else {
        println!("stats --tenants: not available in this build");
        None
    };

    let met = if plan_full.wall < 3.0 {
        "met"
    } else {
        "NOT met"
    };
    println!();
    println!(
        "{:<46}{:>10}{:>10}{:>12}",
        "step", "wall s", "cpu s", "peak RSS"
    );
    let row = |label: &str, r: &Run| {
        println!(
            "{label:<46}{:>10.2}{:>10.2}{:>8.1} MiB",
            r.wall, r.cpu, r.rss_mib
        );
    };
    row(&format!("initial apply, {small} tenants"), &apply_small);
    if let Some(r) = &apply_rest {
        row(&format!("initial apply, +{} tenants", total - small), r);
    }
    row(&format!("plan (no changes), {small} tenants"), &plan_small);
    row(
        &format!("  listIndexes per collection, {small}"),
        &plan_small_slow,
    );
    if total > small {
        row(&format!("plan (no changes), {total} tenants"), &plan_full);
        row(
            &format!("  listIndexes per collection, {total}"),
            &plan_full_slow,
        );
    }
    row(&format!("apply 1 new index, {total} tenants"), &index);
    match &stats {
        Some(r) => row(&format!("stats --tenants, {total} tenants"), r),
        None => println!("{:<46}{:>10}", "stats --tenants", "n/a"),
    }
    println!();
    println!(
        "plan, no changes, {total} tenants: {:.2} s (target < 3 s: {met})",
        plan_full.wall
    );
    println!(
        "index apply: {:.1} tenants/s; {:.2} s wall against {:.2} s of server build time summed over {builds} builds (ratio {:.2})",
        total as f64 / index.wall,
        index.wall,
        build_ms as f64 / 1000.0,
        if build_ms > 0 {
            index.wall / (build_ms as f64 / 1000.0)
        } else {
            f64::NAN
        }
    );
    println!(
        "peak RSS of plan: {:.1} MiB at {small} tenants, {:.1} MiB at {total} tenants",
        plan_small.rss_mib, plan_full.rss_mib
    );
    drop(cluster);
}
