//! Seed comparison benchmark (not a test): plans a seed set of `BENCH_SEEDS` documents
//! (default 100,000) against live data that already holds every one of them, so the plan is
//! empty. This is the pure diff `plan` runs after reading the live documents; no server needed.
//!
//!   cargo bench --bench seeds
//!   BENCH_SEEDS=1000000 cargo bench --bench seeds

use std::time::Instant;

use bson::{Document, doc, oid::ObjectId};
use mongoctl::diff::diff;
use mongoctl::model::{ClusterState, CollectionState, DatabaseState, SeedSet};

/// Target from the security review: 100k seed documents planned in under 2 s.
const TARGET_SECS: f64 = 2.0;

fn seed(i: usize) -> Document {
    doc! {
        "code": format!("ICD-{i:07}"),
        "system": "icd10",
        "display": format!("Condition number {i}"),
        "active": !i.is_multiple_of(7),
        "rank": (i % 1000) as i32,
        "tags": ["reference", format!("group-{}", i % 50)],
    }
}

fn state(documents: Vec<Document>) -> ClusterState {
    let mut coll = CollectionState::new("codes");
    coll.seeds = Some(SeedSet {
        key: vec!["code".into()],
        documents,
        owns_collection: false,
    });
    ClusterState {
        databases: vec![DatabaseState {
            domain: "ref".into(),
            name: "bench_ref".into(),
            collections: vec![coll],
            views: vec![],
        }],
        access: None,
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let desired = state((0..n).map(seed).collect());
    // The server's copy: an _id it added, fields in its order, numbers as it stores them, and
    // the documents in another order than the seed file's.
    let live = state(
        (0..n)
            .rev()
            .map(|i| {
                let mut d = doc! {"_id": ObjectId::new()};
                d.extend(seed(i));
                d.insert("rank", (i % 1000) as i64);
                d
            })
            .collect(),
    );
    let (start, cpu_start) = (Instant::now(), cpu_secs());
    let plan = diff(&desired, &live, false);
    let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu_start);
    assert!(
        plan.is_empty(),
        "expected no changes, got {:?}",
        plan.changes.len()
    );
    println!(
        "seeds: {n} seed documents planned against live data, no changes: {secs:.3} s ({cpu:.3} s CPU; target < {TARGET_SECS} s: {})",
        if secs < TARGET_SECS || n != 100_000 {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// This process's user + system CPU time: the machine is shared, so wall time alone misleads.
fn cpu_secs() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}
