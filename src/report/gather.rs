//! Gathers every part of the report from one connection. The parts that `plan` and `verify`
//! compute (drift, conformance, tenants) come in already gathered, so that `verify --report`
//! reuses its own results instead of reading the cluster twice.

use std::path::Path;

use mongodb::Client;

use super::*;
use crate::model::{Access, ClusterState};
use crate::stats::{self, Target};

/// What the report is about and the parts computed by the caller.
pub struct Inputs<'a> {
    pub client: &'a Client,
    pub project: String,
    pub environment: Option<String>,
    /// The connection string as it may be shown (password masked).
    pub cluster_uri: String,
    pub metadata_database: String,
    /// The declared state in scope (its databases, indexes, and roles and users).
    pub desired: &'a ClusterState,
    /// The declared roles and users (template workspaces: every tenant's included).
    pub declared_access: Access,
    pub drift: Part<Drift>,
    pub conformance: Part<ConformancePart>,
    pub tenants: Part<crate::stats::TenantReport>,
    pub backups: Option<&'a Path>,
    pub oplog_dir: Option<&'a Path>,
    pub slow_limit: i64,
    /// The manifest's alert thresholds and what they are held against.
    pub alerts: AlertInputs<'a>,
}

pub async fn gather(i: Inputs<'_>) -> Report {
    let targets: Vec<Target> = stats::targets(i.desired);
    let profiled: Vec<(String, String)> = targets
        .iter()
        .map(|(d, n, _)| (d.clone(), n.clone()))
        .collect();
    let (cluster, sizes, growth, indexes, audit, slow_operations, backups, observed) = tokio::join!(
        cluster(i.client),
        sizes(i.client, &targets),
        growth(i.client, &i.metadata_database, &targets),
        indexes(i.client, &targets, i.desired),
        audit(i.client, &i.declared_access),
        slow(i.client, &profiled, i.slow_limit),
        backups(i.client, &i.metadata_database, i.backups, i.oplog_dir),
        observe_alerts(i.client, &i.alerts, i.desired, &i.metadata_database),
    );
    let thresholds = thresholds_part(i.alerts.thresholds, observed, &growth);
    Report {
        project: i.project,
        environment: i.environment,
        cluster_uri: i.cluster_uri,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cluster,
        thresholds,
        sizes,
        growth,
        indexes,
        drift: i.drift,
        conformance: i.conformance,
        audit,
        backups,
        slow_operations,
        tenants: i.tenants,
    }
}

async fn sizes(client: &Client, targets: &[Target]) -> Part<SizesPart> {
    let mut databases = stats::database_stats(client, targets, true).await;
    stats::sort_databases(&mut databases, stats::SortBy::Size);
    if let Some(u) = databases.first().and_then(|d| d.unavailable.as_ref())
        && databases.iter().all(|d| d.unavailable.is_some())
    {
        return Part::unavailable(u);
    }
    if !databases.iter().any(|d| d.exists) {
        return Part::no_data(
            "none of the declared databases exists yet (mongoctl apply creates them)",
        );
    }
    let totals = stats::totals(&databases);
    Part::Ok {
        data: SizesPart { databases, totals },
    }
}

async fn indexes(client: &Client, targets: &[Target], desired: &ClusterState) -> Part<IndexesPart> {
    let report = stats::index_usage(client, targets, desired).await;
    if report.indexes.is_empty() {
        if let Some(u) = report.unavailable.first() {
            return Part::unavailable(&u.unavailable);
        }
        return Part::no_data("no index to read: the declared collections do not exist yet");
    }
    Part::Ok {
        data: IndexesPart {
            total: report.indexes.len(),
            total_size: report.indexes.iter().filter_map(|i| i.size).sum(),
            flagged: report
                .indexes
                .into_iter()
                .filter(|i| !i.flags.is_empty())
                .collect(),
            unavailable: report.unavailable,
        },
    }
}

async fn audit(client: &Client, declared: &Access) -> Part<AuditPart> {
    match crate::live::inspect_access(client, true).await {
        Ok(live) => Part::Ok {
            data: AuditPart {
                users: live.users.len(),
                roles: live.roles.len(),
                findings: crate::audit::findings(declared, &live),
            },
        },
        Err(e) => Part::failed(&e, "viewUser and viewRole", "the cluster"),
    }
}
