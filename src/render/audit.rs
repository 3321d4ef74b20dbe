//! The output of `audit`: its findings as a table, or as JSON with the counts.

use crate::audit::Finding;
use crate::model::Access;

pub fn json(live: &Access, found: &[Finding]) {
    super::json(
        &serde_json::json!({"users": live.users.len(), "roles": live.roles.len(), "findings": found}),
    );
}

/// One row per finding and a count; nothing found is one line (none with `--quiet`).
pub fn table(live: &Access, found: &[Finding], quiet: bool) {
    if found.is_empty() {
        if !quiet {
            println!(
                "No findings: {} user(s) and {} custom role(s) match the spec.",
                live.users.len(),
                live.roles.len()
            );
        }
        return;
    }
    let mut t = super::table(&["severity", "finding", "subject", "detail"]);
    for f in found {
        t.add_row(vec![f.severity, f.kind, &f.subject, &f.detail]);
    }
    println!("{t}");
    println!(
        "{} finding(s) over {} user(s) and {} custom role(s).",
        found.len(),
        live.users.len(),
        live.roles.len()
    );
}
