//! `mongoctl report`: everything a DBA looks at about one cluster, gathered into one value
//! that `render::report` draws as a self-contained HTML page (and `-o json` prints). Each part
//! reuses what its command already computes (stats, growth, index usage, plan, verify, audit,
//! backup list, the profiler, `health --check`'s thresholds); nothing here prints.
//!
//! A part the connected user may not read, or that has nothing to show, does not fail the
//! report: it becomes a [`Part`] saying so plainly, and the other parts are still gathered.

use serde::Serialize;

use crate::stats::Unavailable;

mod backups;
mod cluster;
mod drift;
mod gather;
mod growth;
mod slow;
mod thresholds;

pub use backups::*;
pub use cluster::*;
pub use drift::*;
pub use gather::*;
pub use growth::*;
pub use slow::*;
pub use thresholds::*;

/// One section of the report: its data, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Part<T> {
    Ok {
        data: T,
    },
    /// Readable, but nothing to show (no snapshot recorded, no backup directory given, …).
    NoData {
        reason: String,
    },
    /// The server refused (or failed) to give it.
    Unavailable {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        missing_privilege: Option<String>,
    },
}

impl<T> Part<T> {
    pub fn no_data(reason: impl Into<String>) -> Self {
        Part::NoData {
            reason: reason.into(),
        }
    }

    pub fn unavailable(u: &Unavailable) -> Self {
        Part::Unavailable {
            reason: u.short(),
            missing_privilege: u.missing_privilege.clone(),
        }
    }

    /// An error of the gathering step: "not authorized" names the privilege (`action` on
    /// `resource`) when the cause is a refusal by the server.
    pub fn failed(e: &anyhow::Error, action: &str, resource: &str) -> Self {
        let u = match e
            .chain()
            .find_map(|c| c.downcast_ref::<mongodb::error::Error>())
        {
            Some(m) => Unavailable::new(m, action, resource),
            None => Unavailable {
                error: crate::redact::scrub(&format!("{e:#}")),
                missing_privilege: None,
            },
        };
        Part::unavailable(&u)
    }

    pub fn from_result(r: anyhow::Result<T>, action: &str, resource: &str) -> Self {
        match r {
            Ok(data) => Part::Ok { data },
            Err(e) => Part::failed(&e, action, resource),
        }
    }

    pub fn data(&self) -> Option<&T> {
        match self {
            Part::Ok { data } => Some(data),
            _ => None,
        }
    }

    pub fn status(&self) -> &'static str {
        match self {
            Part::Ok { .. } => "ok",
            Part::NoData { .. } => "no_data",
            Part::Unavailable { .. } => "unavailable",
        }
    }

    /// Why there is nothing (None when there is data).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Part::Ok { .. } => None,
            Part::NoData { reason } | Part::Unavailable { reason, .. } => Some(reason),
        }
    }
}

/// The whole report, in page order.
#[derive(Debug, Serialize)]
pub struct Report {
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The connection string with its password replaced by `****`.
    pub cluster_uri: String,
    pub generated_at: String,
    pub cluster: Part<Cluster>,
    pub thresholds: Part<ThresholdsPart>,
    pub sizes: Part<SizesPart>,
    pub growth: Part<GrowthPart>,
    pub indexes: Part<IndexesPart>,
    pub drift: Part<Drift>,
    pub conformance: Part<ConformancePart>,
    pub audit: Part<AuditPart>,
    pub backups: Part<BackupsPart>,
    pub slow_operations: Part<SlowPart>,
    pub tenants: Part<crate::stats::TenantReport>,
}

/// The sections by id (the page's anchors and the JSON keys), with their headings.
pub const SECTIONS: [(&str, &str); 11] = [
    ("cluster", "Cluster"),
    ("thresholds", "Thresholds and budgets"),
    ("sizes", "Sizes"),
    ("growth", "Growth and capacity"),
    ("indexes", "Indexes"),
    ("drift", "Drift"),
    ("conformance", "Data conformance"),
    ("audit", "Audit"),
    ("backups", "Backups"),
    ("slow_operations", "Slow operations"),
    ("tenants", "Tenants"),
];

impl Report {
    /// (id, status, reason) of every section, in page order.
    pub fn statuses(&self) -> Vec<(&'static str, &'static str, Option<&str>)> {
        let s = [
            (self.cluster.status(), self.cluster.reason()),
            (self.thresholds.status(), self.thresholds.reason()),
            (self.sizes.status(), self.sizes.reason()),
            (self.growth.status(), self.growth.reason()),
            (self.indexes.status(), self.indexes.reason()),
            (self.drift.status(), self.drift.reason()),
            (self.conformance.status(), self.conformance.reason()),
            (self.audit.status(), self.audit.reason()),
            (self.backups.status(), self.backups.reason()),
            (self.slow_operations.status(), self.slow_operations.reason()),
            (self.tenants.status(), self.tenants.reason()),
        ];
        SECTIONS
            .iter()
            .zip(s)
            .map(|((id, _), (st, r))| (*id, st, r))
            .collect()
    }
}

/// Sizes per domain database and per collection.
#[derive(Debug, Clone, Serialize)]
pub struct SizesPart {
    pub databases: Vec<crate::stats::DatabaseStats>,
    pub totals: crate::stats::Sizes,
}

/// The indexes worth a look: unused, redundant or unmanaged.
#[derive(Debug, Clone, Serialize)]
pub struct IndexesPart {
    /// Every index read.
    pub total: usize,
    pub total_size: i64,
    pub flagged: Vec<crate::stats::IndexUsage>,
    /// Collections whose indexes could not be read.
    pub unavailable: Vec<crate::stats::UnavailableAt>,
}

/// Stored documents against the declared `$jsonSchema` validators (verify's data step).
#[derive(Debug, Clone, Serialize)]
pub struct ConformancePart {
    pub collections: Vec<crate::conformance::Conformance>,
    pub violating_documents: u64,
}

/// Users and roles against the spec (audit's findings).
#[derive(Debug, Serialize)]
pub struct AuditPart {
    pub users: usize,
    pub roles: usize,
    pub findings: Vec<crate::audit::Finding>,
}
