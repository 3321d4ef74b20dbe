//! `migrate up`: runs the pending (and resumes the interrupted or failed) migrations in
//! order, under the cluster lease the caller holds. Every step records its rollback point
//! before it writes, and its progress as it goes, so a killed run resumes where it stopped
//! and every step that ran can be undone.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bson::{Bson, DateTime, doc};
use mongodb::Client;
use serde::Serialize;

use super::batch::{self, BatchRun};
use super::changelog::{self, Entry, RollbackPoint, Status, StepRecord, StepStatus};
use super::events::{Event, Observer};
use super::model::{Migration, Step, StepKind, UpdateStep};
use super::status::{self, State};
use super::target::{Databases, collection_exists, is_replica_set};
use super::{copy_step, count, rollback_point};
use crate::error::described;
use crate::lease::Lease;

pub struct UpOptions {
    /// Stop after this migration (inclusive).
    pub to: Option<String>,
    pub rollback_dir: PathBuf,
    pub batch_size: usize,
    /// After a verified move, drop its source (a rollback point is taken first).
    pub drop_source: bool,
    /// Run only these migrations (ids); `None`: every runnable one.
    pub only: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct StepOutcome {
    pub step: usize,
    pub summary: String,
    pub matched: u64,
    pub modified: u64,
    /// Already done by an earlier run.
    pub skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy: Option<bson::Document>,
}

#[derive(Debug, Serialize)]
pub struct MigrationRun {
    pub id: String,
    pub resumed: bool,
    pub steps: Vec<StepOutcome>,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, Default)]
pub struct UpReport {
    pub applied: Vec<MigrationRun>,
    /// Set when a step failed: what ran is in `applied` (the failed migration last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// Which migrations `up` runs: the runnable ones in order, up to `to`. Refuses changed or
/// missing files before anything is written.
pub fn select<'m>(
    files: &'m [Migration],
    log: &[Entry],
    to: Option<&str>,
) -> Result<Vec<&'m Migration>> {
    let statuses = status::compare(files, log);
    let blockers = status::blockers(&statuses);
    if !blockers.is_empty() {
        let lines: Vec<String> = blockers
            .iter()
            .map(|s| {
                format!(
                    "  {} ({}): {}",
                    s.id,
                    s.state.as_str(),
                    s.detail.clone().unwrap_or_default()
                )
            })
            .collect();
        bail!(
            "refusing to migrate; nothing was written:\n{}",
            lines.join("\n")
        );
    }
    if let Some(t) = to
        && !files.iter().any(|m| m.id == t)
    {
        bail!("--to {t}: no migration file has that id (ids are file names without .json)");
    }
    let mut out = Vec::new();
    for (m, s) in files.iter().zip(&statuses) {
        if s.state.is_runnable() {
            out.push(m);
        }
        if Some(m.id.as_str()) == to {
            break;
        }
    }
    Ok(out)
}

pub struct Engine<'a> {
    pub client: &'a Client,
    pub dbs: &'a Databases,
    pub meta_db: &'a str,
    pub lease: &'a Lease,
    pub observe: Observer,
}

impl Engine<'_> {
    pub async fn up(&self, files: &[Migration], opts: &UpOptions) -> Result<UpReport> {
        let log = changelog::read_all(self.client, self.meta_db).await?;
        let selected: Vec<&Migration> = select(files, &log, opts.to.as_deref())?
            .into_iter()
            .filter(|m| opts.only.as_ref().is_none_or(|ids| ids.contains(&m.id)))
            .collect();
        let transactions = is_replica_set(self.client).await?;
        let mut report = UpReport::default();
        for m in selected {
            let previous = log.iter().find(|e| e.id == m.id);
            let t0 = Instant::now();
            let mut entry = start_entry(m, previous);
            changelog::save(self.client, self.meta_db, &entry).await?;
            let mut run = MigrationRun {
                id: m.id.clone(),
                resumed: previous.is_some_and(|e| e.status != Status::RolledBack),
                steps: Vec::new(),
                duration_ms: 0,
            };
            let mut failure = None;
            for (i, step) in m.steps.iter().enumerate() {
                if entry.steps[i].status == StepStatus::Done {
                    run.steps.push(outcome(i, step, &entry.steps[i], true));
                    continue;
                }
                match self
                    .run_step(m, i, step, &mut entry, opts, transactions)
                    .await
                {
                    Ok(()) => run.steps.push(outcome(i, step, &entry.steps[i], false)),
                    Err(e) => {
                        let msg = format!("{e:#}");
                        entry.steps[i].status = StepStatus::Failed;
                        entry.steps[i].error = Some(crate::redact::scrub(&msg));
                        failure = Some(format!(
                            "migration {} step {} ({}) failed: {msg}\n{} of its {} steps are done and recorded; fix the cause and run migrate up again (it resumes at step {}), or undo what ran with migrate rollback",
                            m.id,
                            i + 1,
                            step.summary(),
                            i,
                            m.steps.len(),
                            i + 1
                        ));
                        break;
                    }
                }
            }
            entry.duration_ms += t0.elapsed().as_millis() as i64;
            entry.finished_at = Some(DateTime::now());
            entry.status = if failure.is_some() {
                Status::Failed
            } else {
                Status::Applied
            };
            // Progress of batches was written to the changelog as it went; re-read the counts
            // so that the whole entry written now does not undo them.
            merge_counts(self.client, self.meta_db, &mut entry).await?;
            changelog::save(self.client, self.meta_db, &entry).await?;
            run.duration_ms = entry.duration_ms;
            for (o, rec) in run.steps.iter_mut().zip(&entry.steps) {
                o.matched = rec.matched;
                o.modified = rec.modified;
            }
            report.applied.push(run);
            if let Some(f) = failure {
                report.failed = Some(f);
                return Ok(report);
            }
        }
        Ok(report)
    }

    async fn run_step(
        &self,
        m: &Migration,
        i: usize,
        step: &Step,
        entry: &mut Entry,
        opts: &UpOptions,
        transactions: bool,
    ) -> Result<()> {
        let index = i as u32;
        let summary = step.summary();
        let first = step.collections()[0];
        let (db, coll) = self.dbs.resolve(first)?;
        let expected = match &step.kind {
            StepKind::Update(u) => {
                Some(count::count_where(self.client, &db, &coll, u.filter.clone()).await?)
            }
            _ => Some(count::count_where(self.client, &db, &coll, doc! {}).await?),
        };
        (self.observe)(Event::StepStarted {
            migration: &m.id,
            index: i,
            summary: &summary,
            expected,
        });
        entry.steps[i].status = StepStatus::Running;
        entry.steps[i].error = None;
        entry.steps[i].started_at.get_or_insert(DateTime::now());
        self.lease.ensure_held(None).await?;
        changelog::update_step(
            self.client,
            self.meta_db,
            &m.id,
            index,
            doc! {"status": "running", "error": Bson::Null, "started_at": entry.steps[i].started_at},
            doc! {},
            None,
        )
        .await?;
        match &step.kind {
            StepKind::Update(u) => {
                self.update_step(m, index, u, entry, opts, transactions, &db, &coll)
                    .await?;
            }
            StepKind::Copy { from, to, is_move } => {
                let rec = copy_step::run(
                    self,
                    &m.id,
                    index,
                    from,
                    to,
                    &entry.steps[i],
                    transactions,
                    *is_move,
                )
                .await?;
                entry.steps[i].rollback = rec.0;
                entry.steps[i].copy = Some(rec.1);
                if *is_move && opts.drop_source {
                    let point = self
                        .drop_collection(
                            &m.id,
                            index,
                            (&db, &coll),
                            opts,
                            entry,
                            "copy.source_rollback",
                        )
                        .await?;
                    if let Some(p) = point {
                        let copy = entry.steps[i].copy.get_or_insert_with(Default::default);
                        copy.insert("source_dropped", true);
                        copy.insert("source_rollback", bson::to_bson(&p)?);
                    }
                }
            }
            StepKind::Drop { .. } => {
                entry.steps[i].rollback = self
                    .drop_collection(&m.id, index, (&db, &coll), opts, entry, "rollback")
                    .await?;
            }
        }
        entry.steps[i].status = StepStatus::Done;
        entry.steps[i].finished_at = Some(DateTime::now());
        changelog::update_step(
            self.client,
            self.meta_db,
            &m.id,
            index,
            doc! {"status": "done", "finished_at": entry.steps[i].finished_at,
            "rollback": bson::to_bson(&entry.steps[i].rollback)?,
            "copy": bson::to_bson(&entry.steps[i].copy)?},
            doc! {},
            None,
        )
        .await?;
        (self.observe)(Event::StepFinished {
            migration: &m.id,
            index: i,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn update_step(
        &self,
        m: &Migration,
        index: u32,
        u: &UpdateStep,
        entry: &mut Entry,
        opts: &UpOptions,
        transactions: bool,
        db: &str,
        coll: &str,
    ) -> Result<()> {
        let i = index as usize;
        if !collection_exists(self.client, db, coll).await? {
            return Ok(());
        }
        if entry.steps[i].rollback.is_none() {
            (self.observe)(Event::Phase("taking the rollback point"));
            let point = match &u.inverse_rename {
                Some((from, to))
                    if count::collides(self.client, db, coll, from, to).await? == 0 =>
                {
                    RollbackPoint::InverseRename {
                        namespace: format!("{db}.{coll}"),
                        from: from.clone(),
                        to: to.clone(),
                    }
                }
                _ => {
                    rollback_point::take(self.client, &opts.rollback_dir, &m.id, index, db, coll)
                        .await?
                }
            };
            changelog::update_step(
                self.client,
                self.meta_db,
                &m.id,
                index,
                doc! {"rollback": bson::to_bson(&point)?},
                doc! {},
                None,
            )
            .await?;
            entry.steps[i].rollback = Some(point);
        }
        let run = BatchRun {
            client: self.client,
            db,
            coll,
            meta_db: self.meta_db,
            migration: &m.id,
            index,
            batch_size: opts.batch_size,
            transactions,
            lease: self.lease,
            observe: &self.observe,
        };
        // Re-read: resume_after / in_flight of an earlier run are in the changelog.
        let log = changelog::read_all(self.client, self.meta_db).await?;
        let record = log
            .iter()
            .find(|e| e.id == m.id)
            .map(|e| e.steps[i].clone())
            .unwrap_or_else(|| entry.steps[i].clone());
        batch::run(&run, u, &record).await?;
        Ok(())
    }

    /// Drops a collection after taking its rollback point; the source of a verified move is
    /// dropped only while it still holds exactly what the move verified.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn drop_collection(
        &self,
        migration: &str,
        index: u32,
        (db, coll): (&str, &str),
        opts: &UpOptions,
        current: &Entry,
        // Where the step's changelog record keeps the rollback point.
        field: &str,
    ) -> Result<Option<RollbackPoint>> {
        if !collection_exists(self.client, db, coll).await? {
            return Ok(None);
        }
        let ns = format!("{db}.{coll}");
        let log = changelog::read_all(self.client, self.meta_db).await?;
        if let Some(verified) = copy_step::last_verified_move(&log, Some(current), &ns) {
            copy_step::ensure_unchanged_since(self.client, db, coll, &verified).await?;
        }
        (self.observe)(Event::Phase("taking the rollback point"));
        let point =
            rollback_point::take(self.client, &opts.rollback_dir, migration, index, db, coll)
                .await?;
        changelog::update_step(
            self.client,
            self.meta_db,
            migration,
            index,
            doc! {field: bson::to_bson(&point)?},
            doc! {},
            None,
        )
        .await?;
        self.lease.ensure_held(None).await?;
        self.client
            .database(db)
            .collection::<bson::Document>(coll)
            .drop()
            .await
            .map_err(described)
            .with_context(|| format!("dropping {ns}"))?;
        Ok(Some(point))
    }
}

fn start_entry(m: &Migration, previous: Option<&Entry>) -> Entry {
    let fresh_steps = || {
        m.steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepRecord::pending(i as u32, &s.op, s.summary()))
            .collect()
    };
    match previous {
        Some(e) if e.status != Status::RolledBack => Entry {
            status: Status::Applying,
            by: changelog::who(),
            ..e.clone()
        },
        _ => {
            let mut history = previous.map(|e| e.history.clone()).unwrap_or_default();
            if let Some(e) = previous {
                let mut old = e.clone();
                old.history.clear();
                if let Ok(d) = bson::to_document(&old) {
                    history.push(d);
                }
            }
            Entry {
                id: m.id.clone(),
                checksum: m.checksum.clone(),
                file: m.file.clone(),
                description: m.description.clone(),
                status: Status::Applying,
                by: changelog::who(),
                started_at: DateTime::now(),
                finished_at: None,
                duration_ms: 0,
                steps: fresh_steps(),
                history,
            }
        }
    }
}

async fn merge_counts(client: &Client, meta_db: &str, entry: &mut Entry) -> Result<()> {
    let log = changelog::read_all(client, meta_db).await?;
    if let Some(stored) = log.iter().find(|e| e.id == entry.id) {
        for (mine, theirs) in entry.steps.iter_mut().zip(&stored.steps) {
            mine.matched = theirs.matched;
            mine.modified = theirs.modified;
            mine.batches = theirs.batches;
            mine.resume_after = theirs.resume_after.clone();
            mine.in_flight = theirs.in_flight.clone();
        }
    }
    Ok(())
}

fn outcome(i: usize, step: &Step, rec: &StepRecord, skipped: bool) -> StepOutcome {
    StepOutcome {
        step: i + 1,
        summary: step.summary(),
        matched: rec.matched,
        modified: rec.modified,
        skipped,
        rollback: rec.rollback.clone(),
        copy: rec.copy.clone(),
    }
}

/// Whether any migration of `statuses` still needs `up`.
pub fn pending(statuses: &[status::MigrationStatus]) -> usize {
    statuses
        .iter()
        .filter(|s| s.state != State::Applied)
        .count()
}
