//! The backup store's side of the observations: the newest complete backup under a
//! directory and the newest drill of any of them (`backup list`'s reading of it).

use std::path::Path;

use super::evaluate::{LastDrill, NewestBackup, Observations, Observed};
use crate::backup::retention;

/// Fills the backup and drill observations from the backups directly under `dir`.
pub fn observe(dir: &Path, o: &mut Observations) {
    o.backup_store = dir.display().to_string();
    let listing = match retention::list(dir) {
        Ok(l) => l,
        Err(e) => {
            let why = format!("{e:#}");
            o.newest_backup = Observed::Unavailable(why.clone());
            o.last_drill = Observed::Unavailable(why);
            return;
        }
    };
    let complete = listing.backups.iter().filter(|b| b.complete);
    o.newest_backup = Observed::Value(
        complete
            .clone()
            .filter_map(|b| {
                Some(NewestBackup {
                    name: b.name.clone(),
                    finished_at: b.finished_at?,
                })
            })
            .max_by_key(|b| b.finished_at),
    );
    o.last_drill = Observed::Value(
        complete
            .filter_map(|b| {
                let d = b.last_drill.as_ref()?;
                Some(LastDrill {
                    backup: b.name.clone(),
                    at: d.at,
                    passed: d.passed,
                    findings: d.findings,
                    error: d.error.clone(),
                })
            })
            .max_by_key(|d| d.at),
    );
}
