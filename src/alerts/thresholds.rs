//! The alert thresholds a workspace declares (`"alerts"` in the manifest): a warn and a
//! critical level per kind of measurement, the storage budgets, and where backups are kept.
//! Plain values: `spec::alerts` reads them, `alerts::evaluate` holds observations against them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// What a threshold is about; serialized as its manifest key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Kind {
    #[serde(rename = "replicationLagSeconds")]
    ReplicationLag,
    #[serde(rename = "oplogWindowHours")]
    OplogWindow,
    #[serde(rename = "connectionsUsedPercent")]
    ConnectionsUsed,
    #[serde(rename = "cacheDirtyPercent")]
    CacheDirty,
    #[serde(rename = "cacheHitPercent")]
    CacheHit,
    #[serde(rename = "readLatencyMs")]
    ReadLatency,
    #[serde(rename = "writeLatencyMs")]
    WriteLatency,
    #[serde(rename = "readLatencyP99Ms")]
    ReadLatencyP99,
    #[serde(rename = "writeLatencyP99Ms")]
    WriteLatencyP99,
    #[serde(rename = "growthPerDay")]
    GrowthPerDay,
    #[serde(rename = "storageBudget")]
    StorageBudget,
    #[serde(rename = "unusedIndexSize")]
    UnusedIndexSize,
    #[serde(rename = "backupAgeHours")]
    BackupAge,
    #[serde(rename = "drillAgeDays")]
    DrillAge,
}

/// How a threshold's values are written and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Seconds,
    Hours,
    Days,
    Percent,
    /// A size: bytes, or a string with a unit in the manifest.
    Bytes,
    /// A size per day.
    BytesPerDay,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::ReplicationLag,
        Kind::OplogWindow,
        Kind::ConnectionsUsed,
        Kind::CacheDirty,
        Kind::CacheHit,
        Kind::ReadLatency,
        Kind::WriteLatency,
        Kind::ReadLatencyP99,
        Kind::WriteLatencyP99,
        Kind::GrowthPerDay,
        Kind::StorageBudget,
        Kind::UnusedIndexSize,
        Kind::BackupAge,
        Kind::DrillAge,
    ];

    /// The key under `"alerts"` in the manifest.
    pub fn key(self) -> &'static str {
        match self {
            Kind::ReplicationLag => "replicationLagSeconds",
            Kind::OplogWindow => "oplogWindowHours",
            Kind::ConnectionsUsed => "connectionsUsedPercent",
            Kind::CacheDirty => "cacheDirtyPercent",
            Kind::CacheHit => "cacheHitPercent",
            Kind::ReadLatency => "readLatencyMs",
            Kind::WriteLatency => "writeLatencyMs",
            Kind::ReadLatencyP99 => "readLatencyP99Ms",
            Kind::WriteLatencyP99 => "writeLatencyP99Ms",
            Kind::GrowthPerDay => "growthPerDay",
            Kind::StorageBudget => "storageBudget",
            Kind::UnusedIndexSize => "unusedIndexSize",
            Kind::BackupAge => "backupAgeHours",
            Kind::DrillAge => "drillAgeDays",
        }
    }

    pub fn from_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Words for the finding's line.
    pub fn label(self) -> &'static str {
        match self {
            Kind::ReplicationLag => "replication lag",
            Kind::OplogWindow => "oplog window",
            Kind::ConnectionsUsed => "connections in use",
            Kind::CacheDirty => "cache dirty",
            Kind::CacheHit => "cache hit",
            Kind::ReadLatency => "read latency",
            Kind::WriteLatency => "write latency",
            Kind::ReadLatencyP99 => "read latency p99",
            Kind::WriteLatencyP99 => "write latency p99",
            Kind::GrowthPerDay => "growth per day",
            Kind::StorageBudget => "storage against budget",
            Kind::UnusedIndexSize => "unused index size",
            Kind::BackupAge => "backup age",
            Kind::DrillAge => "last drill age",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Kind::ReplicationLag => Unit::Seconds,
            Kind::OplogWindow => Unit::Hours,
            Kind::ConnectionsUsed | Kind::CacheDirty | Kind::CacheHit | Kind::StorageBudget => {
                Unit::Percent
            }
            Kind::ReadLatency
            | Kind::WriteLatency
            | Kind::ReadLatencyP99
            | Kind::WriteLatencyP99 => Unit::Milliseconds,
            Kind::GrowthPerDay => Unit::BytesPerDay,
            Kind::UnusedIndexSize => Unit::Bytes,
            Kind::BackupAge => Unit::Hours,
            Kind::DrillAge => Unit::Days,
        }
    }

    /// An oplog window alerts when it gets short, a cache hit rate when it drops; everything
    /// else when it gets large.
    pub fn lower_is_worse(self) -> bool {
        matches!(self, Kind::OplogWindow | Kind::CacheHit)
    }

    /// Kinds read from the backup store rather than the cluster.
    pub fn reads_backups(self) -> bool {
        matches!(self, Kind::BackupAge | Kind::DrillAge)
    }
}

/// The two levels of one threshold (at least one is set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Level {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
}

/// Storage budgets (bytes on disk: storage + indexes): per domain, and for all domains.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Budgets {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    pub domains: BTreeMap<String, u64>,
}

/// Everything `"alerts"` declares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Thresholds {
    pub levels: BTreeMap<Kind, Level>,
    /// With `storageBudget`: what its percentages are of.
    pub budgets: Budgets,
    /// `"backups"`: the directory backup and drill ages are read from (joined to the
    /// workspace when relative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<PathBuf>,
}

impl Thresholds {
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn declares(&self, kind: Kind) -> bool {
        self.levels.contains_key(&kind)
    }

    /// Whether any declared threshold needs the backup store.
    pub fn reads_backups(&self) -> bool {
        self.levels.keys().any(|k| k.reads_backups())
    }
}
