//! Executes a [`Plan`]: runs each change's commands in order, reporting events as it goes,
//! and stops at the first failure so the report can say exactly what ran and what did not.
//! A re-run converges: the plan is recomputed from the live state.

use std::time::{Duration, Instant};

use anyhow::Result;
use bson::{Bson, Document};
use mongodb::Client;
use serde::Serialize;

use crate::plan::{Action, Plan};
use crate::secrets::Secrets;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    Done { millis: u64 },
    Failed { error: String },
    NotRun,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub steps: Vec<StepStatus>,
}

impl ApplyReport {
    pub fn failed(&self) -> Option<(usize, &str)> {
        self.steps.iter().enumerate().find_map(|(i, s)| match s {
            StepStatus::Failed { error } => Some((i, error.as_str())),
            _ => None,
        })
    }
    pub fn done(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, StepStatus::Done { .. }))
            .count()
    }
}

/// What `execute` tells its observer (the renderer drives a progress bar from these).
pub enum Event<'a> {
    Started {
        steps: &'a [usize],
        label: String,
    },
    /// An index build's scan progress, from `$currentOp` (only when asked to watch).
    IndexBuild {
        done: u64,
        total: u64,
    },
    Finished {
        steps: &'a [usize],
        ok: bool,
    },
}

/// Runs every change of `plan` against `client`. Consecutive index creations on one
/// collection go in a single `createIndexes`, so the collection is scanned once.
///
/// With `watch_index_builds`, long index builds report their progress while they run.
pub async fn execute(
    client: &Client,
    plan: &Plan,
    secrets: &Secrets,
    watch_index_builds: bool,
    mut observe: impl FnMut(Event),
) -> ApplyReport {
    let mut steps = vec![StepStatus::NotRun; plan.changes.len()];
    let mut i = 0;
    while i < plan.changes.len() {
        let group = batch_of(plan, i);
        let change = &plan.changes[i];
        let label = if group.len() > 1 {
            format!(
                "{} {}.{}: {} indexes",
                Action::CreateIndex.label(),
                change.database,
                change.collection.as_deref().unwrap_or(""),
                group.len()
            )
        } else {
            format!(
                "{} {}{}: {}",
                change.action.label(),
                change.database,
                change
                    .collection
                    .as_deref()
                    .map(|c| format!(".{c}"))
                    .unwrap_or_default(),
                change.summary
            )
        };
        observe(Event::Started {
            steps: &group,
            label,
        });
        let start = Instant::now();
        let commands: Vec<Document> = if group.len() > 1 {
            vec![merge_create_indexes(plan, &group)]
        } else {
            match secrets.inject(change) {
                Ok(c) => c,
                Err(e) => {
                    steps[i] = StepStatus::Failed {
                        error: format!("{e:#}"),
                    };
                    observe(Event::Finished {
                        steps: &group,
                        ok: false,
                    });
                    break;
                }
            }
        };
        let run = run_commands(client, &change.database, &commands);
        let result = if watch_index_builds
            && commands.iter().any(|c| c.contains_key("createIndexes"))
        {
            tokio::pin!(run);
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    r = &mut run => break r,
                    _ = tick.tick() => {
                        if let Some((done, total)) = index_build_progress(client, &change.database).await {
                            observe(Event::IndexBuild { done, total });
                        }
                    }
                }
            }
        } else {
            run.await
        };
        let ok = result.is_ok();
        let status = match result {
            Ok(()) => StepStatus::Done {
                millis: elapsed_ms(start.elapsed()),
            },
            Err(e) => StepStatus::Failed {
                error: crate::redact::scrub(&format!("{e:#}")),
            },
        };
        for &g in &group {
            steps[g] = status.clone();
        }
        observe(Event::Finished { steps: &group, ok });
        if !ok {
            break;
        }
        i += group.len();
    }
    ApplyReport { steps }
}

fn elapsed_ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// Indices of the run of CreateIndex changes starting at `i` on the same collection.
fn batch_of(plan: &Plan, i: usize) -> Vec<usize> {
    let first = &plan.changes[i];
    if first.action != Action::CreateIndex {
        return vec![i];
    }
    let mut group = vec![i];
    for (j, c) in plan.changes.iter().enumerate().skip(i + 1) {
        if c.action == Action::CreateIndex
            && c.database == first.database
            && c.collection == first.collection
        {
            group.push(j);
        } else {
            break;
        }
    }
    group
}

fn merge_create_indexes(plan: &Plan, group: &[usize]) -> Document {
    let mut merged = plan.changes[group[0]].commands[0].clone();
    let all: Vec<Bson> = group
        .iter()
        .flat_map(|&g| plan.changes[g].commands.iter())
        .flat_map(|c| c.get_array("indexes").cloned().unwrap_or_default())
        .collect();
    merged.insert("indexes", all);
    merged
}

/// The progress of a running index build in `database`, when the server reports one.
async fn index_build_progress(client: &Client, database: &str) -> Option<(u64, u64)> {
    let pipeline = vec![
        bson::doc! {"$currentOp": {}},
        bson::doc! {"$match": {"ns": {"$regex": format!("^{}\\.", regex::escape(database))}, "progress": {"$exists": true}}},
    ];
    let mut cursor = client.database("admin").aggregate(pipeline).await.ok()?;
    let op = futures::TryStreamExt::try_next(&mut cursor).await.ok()??;
    let p = op.get_document("progress").ok()?;
    let n = |k: &str| {
        p.get(k)
            .and_then(crate::model::as_i64)
            .map(|v| v.max(0) as u64)
    };
    Some((n("done")?, n("total")?))
}

async fn run_commands(client: &Client, database: &str, commands: &[Document]) -> Result<()> {
    let db = client.database(database);
    for cmd in commands {
        let reply = db
            .run_command(cmd.clone())
            .await
            .map_err(|e| anyhow::anyhow!(crate::error::describe_driver_error(&e)))?;
        // insert/update report per-document failures in the reply rather than as errors.
        if let Ok(errors) = reply.get_array("writeErrors")
            && let Some(Bson::Document(first)) = errors.first()
        {
            anyhow::bail!(
                "{} write error(s); first: {}",
                errors.len(),
                first.get_str("errmsg").unwrap_or("unknown")
            );
        }
        if let Ok(wce) = reply.get_document("writeConcernError") {
            anyhow::bail!(
                "write concern error: {}",
                wce.get_str("errmsg").unwrap_or("unknown")
            );
        }
    }
    Ok(())
}
