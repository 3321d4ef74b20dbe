//! What a drill found, as printed (`-o json`) and recorded (`drill.json`,
//! `<metadataDatabase>.backup_drills`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::checks::{Finding, NsCheck};
use super::scratch::ScratchInfo;
use crate::backup::restore::BackupInfo;
use crate::conformance::Conformance;

/// Recovery time: how long the restore took, and per GB of restored data.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Rto {
    /// Wall time of the restore (its checks before the first write included).
    pub restore_secs: f64,
    /// Uncompressed BSON bytes restored (the collections' data size).
    pub data_bytes: u64,
    /// `restore_secs` per 10^9 bytes of data (`None` for an empty backup).
    pub secs_per_gb: Option<f64>,
}

/// Recovery point: the moment the backup is consistent with, and how far behind now it is.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Rpo {
    /// `None`: a backup without a manifest records no such moment.
    pub point: Option<DateTime<Utc>>,
    /// "oplog end" (a backup made with `--oplog`: `restore --oplog-replay` reaches it),
    /// "manifest finished_at", or "unknown".
    pub from: String,
    /// Seconds from `point` to the drill.
    pub age_secs: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub backup: String,
    /// When the drill started.
    pub at: DateTime<Utc>,
    /// Every check matched.
    pub passed: bool,
    pub made_by: BackupInfo,
    pub scratch: ScratchInfo,
    pub rto: Rto,
    pub rpo: Rpo,
    /// Wall time of the checks after the restore (digests, metadata, validators).
    pub verify_secs: f64,
    /// `verify_secs` over the whole drill's restore + verification time.
    pub verify_share: f64,
    pub namespaces: Vec<NsCheck>,
    /// The workspace's validators over the restored data (run in a workspace only).
    pub validators: Vec<Conformance>,
    pub findings: Vec<Finding>,
    /// What was not checked, and where the result was (or was not) recorded.
    pub notes: Vec<String>,
    /// The error that stopped the drill (exit 1), if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `backup list` shows of a backup's last drill (read back from `drill.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LastDrill {
    pub at: DateTime<Utc>,
    pub passed: bool,
    pub restore_secs: f64,
    /// Findings (0 when passed).
    pub findings: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DrillReport {
    pub fn last(&self) -> LastDrill {
        LastDrill {
            at: self.at,
            passed: self.passed,
            restore_secs: self.rto.restore_secs,
            findings: self.findings.len(),
            error: self.error.clone(),
        }
    }
}
