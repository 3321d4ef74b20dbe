//! `backup prune`'s table: every backup, kept or deleted, with the rules that decided it.

use crate::backup::retention::BackupEntry;
use crate::backup::retention_policy::Decision;

/// `pending`: nothing deleted yet (a dry run, or before the confirmation).
pub fn table(list: &[BackupEntry], decisions: &[Decision], pending: bool) {
    let mut t = super::table(&["backup", "finished", "action", "why"]);
    for (e, d) in list.iter().zip(decisions) {
        let action = match (d.keep, pending) {
            (true, _) => "keep",
            (false, true) => "would delete",
            (false, false) => "delete",
        };
        t.add_row(vec![
            e.name.clone(),
            e.finished_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "-".into()),
            action.to_string(),
            d.reasons.join("; "),
        ]);
    }
    println!("{t}");
    let gone = decisions.iter().filter(|d| !d.keep).count();
    println!(
        "{gone} of {} backup(s) {}; {} kept.",
        decisions.len(),
        if pending { "to delete" } else { "deleted" },
        decisions.len() - gone
    );
}
