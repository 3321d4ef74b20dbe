//! The cluster's side of the observations: serverStatus, replSetGetStatus and the oplog
//! (through `stats::server_report`), the latency histograms, dbStats per declared database,
//! `$indexStats`, and the recorded size history. Only what a declared threshold needs is read.

use anyhow::Result;
use mongodb::Client;

use super::evaluate::{
    Connections, DatabaseGrowth, DomainStorage, MemberLag, Observations, Observed, UnusedIndex,
};
use super::thresholds::{Kind, Thresholds};
use crate::model::ClusterState;
use crate::stats::{self, Section, Target};

/// What the cluster is asked, and what the answers are held against.
pub struct Scope<'a> {
    /// The declared databases (domain, database, collections).
    pub targets: &'a [Target],
    /// The spec's desired state (which indexes are declared).
    pub desired: &'a ClusterState,
    /// Where `stats --record` keeps its snapshots.
    pub metadata_db: &'a str,
}

fn section<T, U>(s: &Section<T>, f: impl FnOnce(&T) -> U) -> Observed<U> {
    match s {
        Section::Ok(v) => Observed::Value(f(v)),
        Section::Unavailable { unavailable } => Observed::Unavailable(unavailable.short()),
    }
}

/// Fills the cluster observations the declared thresholds need.
pub async fn observe(
    client: &Client,
    t: &Thresholds,
    scope: &Scope<'_>,
    o: &mut Observations,
) -> Result<()> {
    let server_kinds = [
        Kind::ReplicationLag,
        Kind::OplogWindow,
        Kind::ConnectionsUsed,
        Kind::CacheDirty,
        Kind::CacheHit,
        Kind::ReadLatency,
        Kind::WriteLatency,
    ];
    if server_kinds.iter().any(|&k| t.declares(k)) {
        let report = stats::server_report(client).await?;
        o.connections = section(&report.server, |s| Connections {
            current: s.connections.current,
            available: s.connections.available,
        });
        let no_cache =
            || Observed::NotApplicable("the storage engine has no WiredTiger cache".into());
        let none_yet =
            |what: &str| Observed::NotApplicable(format!("no {what} since the server started"));
        match &report.server {
            Section::Ok(s) => {
                o.cache_dirty_percent = s
                    .cache
                    .as_ref()
                    .map_or_else(no_cache, |c| Observed::Value(c.dirty_percent));
                o.cache_hit_percent = match &s.cache {
                    None => no_cache(),
                    Some(c) => c
                        .hit_percent
                        .map_or_else(|| none_yet("cache request"), Observed::Value),
                };
                o.read_latency_ms = s
                    .latency
                    .reads_ms
                    .map_or_else(|| none_yet("read"), Observed::Value);
                o.write_latency_ms = s
                    .latency
                    .writes_ms
                    .map_or_else(|| none_yet("write"), Observed::Value);
            }
            Section::Unavailable { unavailable } => {
                let why = Observed::Unavailable(unavailable.short());
                o.cache_dirty_percent = why.clone();
                o.cache_hit_percent = why.clone();
                o.read_latency_ms = why.clone();
                o.write_latency_ms = why;
            }
        }
        match &report.replication {
            None => {
                let why = "not a replica set".to_string();
                o.lag = Observed::NotApplicable(why.clone());
                o.oplog_window_hours = Observed::NotApplicable(why);
            }
            Some(r) => {
                o.lag = section(&r.members, |ms| {
                    ms.iter()
                        .filter_map(|m| {
                            Some(MemberLag {
                                member: m.name.clone(),
                                lag_seconds: m.lag_seconds?,
                            })
                        })
                        .collect()
                });
                o.oplog_window_hours = section(&r.oplog, |x| x.window_hours);
            }
        }
    }
    if t.declares(Kind::ReadLatencyP99) || t.declares(Kind::WriteLatencyP99) {
        let p99 = |h: &stats::Histogram, what: &str| match stats::quantile(h, 0.99) {
            Some(q) => Observed::Value(q),
            None => Observed::NotApplicable(format!("no {what} since the server started")),
        };
        match stats::latency_histograms(client).await {
            Section::Ok(h) => {
                o.read_p99 = p99(&h.reads, "read");
                o.write_p99 = p99(&h.writes, "write");
            }
            Section::Unavailable { unavailable } => {
                o.read_p99 = Observed::Unavailable(unavailable.short());
                o.write_p99 = Observed::Unavailable(unavailable.short());
            }
        }
    }
    if t.declares(Kind::StorageBudget) {
        let rows = stats::database_stats(client, scope.targets, false).await;
        o.storage = match rows
            .iter()
            .find_map(|r| Some((&r.database, r.unavailable.as_ref()?)))
        {
            Some((db, u)) => Observed::Unavailable(format!("{db}: {}", u.short())),
            None => Observed::Value(
                rows.iter()
                    .map(|r| DomainStorage {
                        domain: r.domain.clone(),
                        database: r.database.clone(),
                        total_size: r.sizes.total_size,
                    })
                    .collect(),
            ),
        };
    }
    if t.declares(Kind::UnusedIndexSize) {
        let report = stats::index_usage(client, scope.targets, scope.desired).await;
        o.unused_indexes = match report.unavailable.first() {
            Some(u) => Observed::Unavailable(format!(
                "{}{}: {}",
                u.database,
                u.collection
                    .as_ref()
                    .map(|c| format!(".{c}"))
                    .unwrap_or_default(),
                u.unavailable.short()
            )),
            None => Observed::Value(
                report
                    .indexes
                    .iter()
                    .filter(|i| i.flags.iter().any(|f| f == "unused"))
                    .map(|i| UnusedIndex {
                        namespace: format!("{}.{}", i.database, i.collection),
                        name: i.name.clone(),
                        size: i.size.unwrap_or(0),
                    })
                    .collect(),
            ),
        };
    }
    if t.declares(Kind::GrowthPerDay) {
        o.growth = match stats::history(client, scope.metadata_db).await {
            Ok(history) => Observed::Value(
                scope
                    .targets
                    .iter()
                    .map(|(domain, db, _)| {
                        let g = stats::growth(
                            domain,
                            db,
                            history.get(db).map(Vec::as_slice).unwrap_or(&[]),
                        );
                        DatabaseGrowth {
                            database: g.database,
                            samples: g.samples,
                            bytes_per_day: g.total_size_per_day,
                        }
                    })
                    .collect(),
            ),
            Err(e) => Observed::Unavailable(
                stats::Unavailable::new(
                    &e,
                    "find",
                    &format!("{}.{}", scope.metadata_db, stats::HISTORY_COLLECTION),
                )
                .short(),
            ),
        };
    }
    Ok(())
}
