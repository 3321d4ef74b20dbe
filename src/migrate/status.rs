//! Where each migration stands: the files against the changelog. Pure.

use serde::Serialize;

use super::changelog::{Entry, Status};
use super::model::Migration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applied,
    /// Not run yet (or rolled back).
    Pending,
    /// Started and not finished (killed, or running now): `up` resumes it.
    Interrupted,
    /// A step failed: `up` resumes from it.
    Failed,
    /// Applied, but the file's steps changed since: refused until the file is restored.
    Changed,
    /// In the changelog, but no file has its id any more.
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Interrupted => "interrupted",
            State::Failed => "failed",
            State::Changed => "changed",
            State::Missing => "missing",
        }
    }

    /// Whether `up` has something to do for it.
    pub fn is_runnable(self) -> bool {
        matches!(self, State::Pending | State::Interrupted | State::Failed)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    pub id: String,
    pub state: State,
    pub file: String,
    pub description: String,
    pub steps: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// Why it is changed, failed or interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One row per file (in order), then one per changelog entry without a file.
pub fn compare(files: &[Migration], log: &[Entry]) -> Vec<MigrationStatus> {
    let mut out = Vec::new();
    for m in files {
        let entry = log.iter().find(|e| e.id == m.id);
        let (state, detail) = match entry {
            None => (State::Pending, None),
            Some(e) if e.status == Status::RolledBack => {
                (State::Pending, Some("rolled back".to_string()))
            }
            Some(e) if e.checksum != m.checksum => (
                State::Changed,
                Some(format!(
                    "the file's steps changed after it was {} (checksum {} then, {} now): restore the file, or add a new migration for the new steps",
                    if e.status == Status::Applied {
                        "applied"
                    } else {
                        "started"
                    },
                    short(&e.checksum),
                    short(&m.checksum)
                )),
            ),
            Some(e) => match e.status {
                Status::Applied => (State::Applied, None),
                Status::Failed => (State::Failed, e.steps.iter().find_map(|s| s.error.clone())),
                Status::Applying => (State::Interrupted, Some(progress(e))),
                Status::RollingBack => (
                    State::Interrupted,
                    Some("a rollback was interrupted: run migrate rollback again".into()),
                ),
                Status::RolledBack => unreachable!("handled above"),
            },
        };
        out.push(MigrationStatus {
            id: m.id.clone(),
            state,
            file: m.file.clone(),
            description: m.description.clone(),
            steps: m.steps.len(),
            applied_at: entry
                .filter(|_| state == State::Applied)
                .and_then(|e| e.finished_at)
                .and_then(|t| t.try_to_rfc3339_string().ok()),
            by: entry
                .filter(|_| state != State::Pending)
                .map(|e| e.by.clone()),
            duration_ms: entry
                .filter(|_| state == State::Applied)
                .map(|e| e.duration_ms),
            detail,
        });
    }
    for e in log.iter().filter(|e| !files.iter().any(|m| m.id == e.id)) {
        if e.status == Status::RolledBack {
            continue;
        }
        out.push(MigrationStatus {
            id: e.id.clone(),
            state: State::Missing,
            file: e.file.clone(),
            description: e.description.clone(),
            steps: e.steps.len(),
            applied_at: e.finished_at.and_then(|t| t.try_to_rfc3339_string().ok()),
            by: Some(e.by.clone()),
            duration_ms: Some(e.duration_ms),
            detail: Some(format!("{} is {} in the cluster but its file is gone: restore the file (migrations are never deleted)", e.id, e.status.as_str())),
        });
    }
    out
}

fn short(checksum: &str) -> &str {
    &checksum[..checksum.len().min(12)]
}

fn progress(e: &Entry) -> String {
    let done = e
        .steps
        .iter()
        .filter(|s| s.status == super::changelog::StepStatus::Done)
        .count();
    format!(
        "{done} of {} steps done; migrate up resumes it",
        e.steps.len()
    )
}

/// Problems that stop `up` (and `apply`) before any write: changed or missing files.
pub fn blockers(statuses: &[MigrationStatus]) -> Vec<&MigrationStatus> {
    statuses
        .iter()
        .filter(|s| matches!(s.state, State::Changed | State::Missing))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::changelog::{StepRecord, StepStatus};

    fn mig(id: &str, checksum: &str) -> Migration {
        Migration {
            id: id.into(),
            number: id[..4].parse().unwrap(),
            file: format!("migrations/{id}.json"),
            description: String::new(),
            checksum: checksum.into(),
            steps: vec![],
        }
    }

    fn entry(id: &str, checksum: &str, status: Status) -> Entry {
        Entry {
            id: id.into(),
            checksum: checksum.into(),
            file: format!("migrations/{id}.json"),
            description: String::new(),
            status,
            by: "me@host (pid 1)".into(),
            started_at: bson::DateTime::now(),
            finished_at: None,
            duration_ms: 5,
            steps: vec![StepRecord {
                status: StepStatus::Done,
                ..StepRecord::pending(0, "update", String::new())
            }],
            history: vec![],
        }
    }

    #[test]
    fn compares_files_with_the_changelog() {
        let files = [
            mig("0001_a", "aaa"),
            mig("0002_b", "bbb"),
            mig("0003_c", "ccc"),
            mig("0004_d", "ddd"),
            mig("0005_e", "eee"),
        ];
        let log = [
            entry("0001_a", "aaa", Status::Applied),
            entry("0002_b", "XXX", Status::Applied),
            entry("0003_c", "ccc", Status::Applying),
            entry("0004_d", "ddd", Status::RolledBack),
            entry("0009_gone", "zzz", Status::Applied),
        ];
        let s = compare(&files, &log);
        let states: Vec<_> = s.iter().map(|m| (m.id.as_str(), m.state)).collect();
        assert_eq!(
            states,
            [
                ("0001_a", State::Applied),
                ("0002_b", State::Changed),
                ("0003_c", State::Interrupted),
                ("0004_d", State::Pending),
                ("0005_e", State::Pending),
                ("0009_gone", State::Missing)
            ]
        );
        assert!(
            s[1].detail
                .as_deref()
                .unwrap()
                .contains("checksum XXX then, bbb now")
        );
        assert_eq!(blockers(&s).len(), 2);
        assert!(s[2].state.is_runnable() && !s[0].state.is_runnable());
    }
}
