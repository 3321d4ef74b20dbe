//! The apply history kept in the cluster (`<metadataDatabase>.apply_history`): when, who,
//! which spec revision, what changed and how it ended. Written only when a plan has changes,
//! so an idempotent re-apply sends no writes at all.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use mongodb::Client;

use crate::apply::{ApplyReport, StepStatus};
use crate::plan::Plan;

pub const COLLECTION: &str = "apply_history";

/// `git rev-parse HEAD` of the spec directory, with `+dirty` when it has uncommitted changes.
pub fn spec_revision(dir: &Path) -> Option<String> {
    let head = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    if !head.status.success() {
        return None;
    }
    let mut rev = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "--", "."])
        .output()
        .ok()?;
    if !status.stdout.is_empty() {
        rev.push_str("+dirty");
    }
    Some(rev)
}

pub struct Record {
    pub id: ObjectId,
}

/// Inserts the "running" record before the first step, so a crash still leaves a trace.
pub async fn start(
    client: &Client,
    meta_db: &str,
    project: &str,
    environment: Option<&str>,
    spec_dir: &Path,
    plan: &Plan,
    stage: Option<&str>,
) -> Result<Record> {
    let id = ObjectId::new();
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let changes: Vec<Bson> = plan
        .changes
        .iter()
        .map(|c| {
            Bson::Document(doc! {
                "action": c.action.label(),
                "database": &c.database,
                "collection": c.collection.clone(),
                "summary": &c.summary,
            })
        })
        .collect();
    let record = doc! {
        "_id": id,
        "project": project,
        "environment": environment,
        "started_at": DateTime::now(),
        "status": "running",
        "os_user": user,
        "host": host,
        "tool_version": env!("CARGO_PKG_VERSION"),
        "spec_revision": spec_revision(spec_dir),
        "changes": changes,
    };
    let mut record = record;
    if let Some(stage) = stage {
        // An apply that runs migrations records its changes in two parts, around them.
        record.insert("stage", stage);
    }
    client
        .database(meta_db)
        .collection::<Document>(COLLECTION)
        .insert_one(record)
        .await
        .with_context(|| format!("recording the apply in {meta_db}.{COLLECTION}"))?;
    Ok(Record { id })
}

pub async fn finish(
    client: &Client,
    meta_db: &str,
    record: &Record,
    report: &ApplyReport,
) -> Result<()> {
    let (status, error) = match report.failed() {
        Some((i, e)) => ("failed", Some(format!("step {}: {e}", i + 1))),
        None => ("succeeded", None),
    };
    let steps: Vec<Bson> = report
        .steps
        .iter()
        .map(|s| {
            Bson::String(
                match s {
                    StepStatus::Done { .. } => "done",
                    StepStatus::Failed { .. } => "failed",
                    StepStatus::NotRun => "not_run",
                }
                .into(),
            )
        })
        .collect();
    let authenticated = client
        .database("admin")
        .run_command(doc! {"connectionStatus": 1})
        .await
        .ok()
        .and_then(|r| {
            r.get_document("authInfo")
                .ok()?
                .get_array("authenticatedUsers")
                .ok()
                .cloned()
        });
    client
        .database(meta_db)
        .collection::<Document>(COLLECTION)
        .update_one(
            doc! {"_id": record.id},
            doc! {"$set": {
                "finished_at": DateTime::now(),
                "status": status,
                "error": error,
                "steps": steps,
                "steps_done": report.done() as i64,
                "authenticated_users": authenticated,
            }},
        )
        .await
        .with_context(|| format!("recording the apply result in {meta_db}.{COLLECTION}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn the_spec_revision_is_the_commit_and_says_when_the_spec_is_dirty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(spec_revision(dir.path()), None, "not a git checkout");
        git(dir.path(), &["init", "-q"]);
        let spec = dir.path().join("spec");
        std::fs::create_dir(&spec).unwrap();
        std::fs::write(spec.join("mongoctl.json"), "{}").unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-qm", "spec"]);
        let clean = spec_revision(&spec).unwrap();
        assert_eq!(clean.len(), 12, "{clean}");
        assert!(clean.chars().all(|c| c.is_ascii_hexdigit()), "{clean}");
        // A change outside the spec directory does not make the spec dirty.
        std::fs::write(dir.path().join("other.txt"), "x").unwrap();
        assert_eq!(spec_revision(&spec).unwrap(), clean);
        std::fs::write(spec.join("mongoctl.json"), "{\"project\": 1}").unwrap();
        assert_eq!(spec_revision(&spec).unwrap(), format!("{clean}+dirty"));
    }
}
