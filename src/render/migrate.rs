//! Tables and progress for `migrate`.

use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use crate::migrate::count::StepCount;
use crate::migrate::events::{Event, Observer};
use crate::migrate::rollback::RolledBack;
use crate::migrate::status::{MigrationStatus, State};
use crate::migrate::up::UpReport;

pub fn status(rows: &[MigrationStatus]) {
    if rows.is_empty() {
        println!("no migrations (add files to migrations/)");
        return;
    }
    let mut t = super::table(&["migration", "state", "steps", "applied at", "by", "detail"]);
    for r in rows {
        t.add_row(vec![
            r.id.clone(),
            r.state.as_str().to_string(),
            r.steps.to_string(),
            r.applied_at.clone().unwrap_or_default(),
            r.by.clone().unwrap_or_default(),
            r.detail.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
    let open = rows.iter().filter(|r| r.state != State::Applied).count();
    if open > 0 {
        println!("{open} migration(s) not applied: run mongoctl migrate plan, then migrate up");
    }
}

/// The migrations section of `plan` (and of `verify`'s drift).
pub fn pending_text(rows: &[MigrationStatus]) -> String {
    let mut t = super::table(&["migration", "state", "steps", "detail"]);
    for r in rows {
        t.add_row(vec![
            r.id.clone(),
            r.state.as_str().to_string(),
            r.steps.to_string(),
            r.detail.clone().unwrap_or_default(),
        ]);
    }
    let runnable = rows.iter().filter(|r| r.state.is_runnable()).count();
    let mut out = format!("{t}\n{} migration(s) not applied", rows.len());
    if runnable == rows.len() {
        out.push_str(": apply runs them (after creating collections, before validators, indexes and seeds change), or run mongoctl migrate up; mongoctl migrate plan counts what they touch.\n");
    } else {
        out.push_str(&format!(", {} of them refused (changed or missing files): apply and migrate up refuse to run until they are restored.\n", rows.len() - runnable));
    }
    out
}

pub fn plan(rows: &[StepCount]) {
    if rows.is_empty() {
        println!("no pending migrations");
        return;
    }
    let mut t = super::table(&[
        "migration",
        "step",
        "operation",
        "namespace",
        "documents",
        "undone by",
    ]);
    for r in rows {
        t.add_row(vec![
            r.migration.clone(),
            r.step.to_string(),
            r.summary.clone(),
            r.namespace.clone(),
            r.documents.to_string(),
            r.rollback.to_string(),
        ]);
    }
    println!("{t}");
    println!(
        "counted now; a step that depends on an earlier pending step is counted before that step runs"
    );
}

pub fn up(report: &UpReport) {
    if report.applied.is_empty() {
        println!("nothing to migrate: every migration is applied");
        return;
    }
    let mut t = super::table(&[
        "migration",
        "step",
        "operation",
        "matched",
        "modified",
        "undone by",
    ]);
    for m in &report.applied {
        for s in &m.steps {
            let undo = match &s.rollback {
                Some(crate::migrate::changelog::RollbackPoint::Backup { dir, .. }) => {
                    format!("backup {dir}")
                }
                Some(crate::migrate::changelog::RollbackPoint::InverseRename { .. }) => {
                    "inverse rename".into()
                }
                Some(crate::migrate::changelog::RollbackPoint::DropTarget { .. }) => {
                    "drop target".into()
                }
                None => "-".into(),
            };
            t.add_row(vec![
                m.id.clone(),
                s.step.to_string(),
                if s.skipped {
                    format!("{} (done earlier)", s.summary)
                } else {
                    s.summary.clone()
                },
                s.matched.to_string(),
                s.modified.to_string(),
                undo,
            ]);
        }
    }
    println!("{t}");
    let ok = report.applied.len() - usize::from(report.failed.is_some());
    println!("{ok} migration(s) applied");
}

pub fn rolled_back(done: &[RolledBack]) {
    let mut t = super::table(&["migration", "step", "operation", "undone"]);
    for m in done {
        for s in &m.steps {
            t.add_row(vec![
                m.id.clone(),
                s.step.to_string(),
                s.summary.clone(),
                s.action.clone(),
            ]);
        }
    }
    println!("{t}");
    println!("{} migration(s) rolled back", done.len());
}

/// A bar per step, drawn from engine events; invisible when not asked for.
pub struct Progress {
    bar: Arc<Mutex<Option<ProgressBar>>>,
    visible: bool,
}

impl Progress {
    pub fn new(visible: bool) -> Self {
        Progress {
            bar: Arc::new(Mutex::new(None)),
            visible,
        }
    }

    pub fn observer(&self) -> Observer {
        if !self.visible {
            return crate::migrate::events::ignore();
        }
        let slot = self.bar.clone();
        Arc::new(move |e: Event<'_>| {
            let Ok(mut slot) = slot.lock() else { return };
            match e {
                Event::StepStarted {
                    migration,
                    index,
                    summary,
                    expected,
                } => {
                    if let Some(b) = slot.take() {
                        b.finish_and_clear();
                    }
                    let b = ProgressBar::new(expected.unwrap_or(0));
                    b.set_style(
                        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} docs {per_sec}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b.set_message(format!("{migration} step {}: {summary}", index + 1));
                    *slot = Some(b);
                }
                Event::Advanced { docs } => {
                    if let Some(b) = slot.as_ref() {
                        b.inc(docs);
                    }
                }
                Event::Phase(p) => {
                    if let Some(b) = slot.as_ref() {
                        b.set_message(p.to_string());
                    }
                }
                Event::StepFinished { .. } => {
                    if let Some(b) = slot.take() {
                        b.finish_and_clear();
                    }
                }
            }
        })
    }

    pub fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(b) = slot.take()
        {
            b.finish_and_clear();
        }
    }
}
