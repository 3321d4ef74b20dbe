//! The output of `audit`: its findings as a table, or as JSON with the counts; in a template
//! workspace, the tenant isolation proof too.

use crate::audit::Finding;
use crate::audit::isolation::Isolation;
use crate::model::Access;

pub fn json(live: &Access, found: &[Finding], isolation: Option<&Isolation>) {
    let mut out = serde_json::json!({"users": live.users.len(), "roles": live.roles.len(), "findings": found});
    if let Some(i) = isolation {
        out["isolation"] = serde_json::json!(i);
    }
    super::json(&out);
}

/// The isolation line: the proof when nothing crosses, else the count of violations.
pub fn isolation_line(i: &Isolation) -> String {
    let outcome = if i.proven {
        "no cross-tenant access".to_string()
    } else {
        format!("{} cross-tenant violation(s)", i.violations.len())
    };
    format!(
        "isolation: {} tenants, {} tenant users, {outcome}",
        i.tenants, i.tenant_users
    )
}

/// One row per finding and a count; nothing found is one line (none with `--quiet`). The
/// isolation line follows (also with `--quiet` when isolation does not hold).
pub fn table(live: &Access, found: &[Finding], isolation: Option<&Isolation>, quiet: bool) {
    if found.is_empty() {
        if !quiet {
            println!(
                "No findings: {} user(s) and {} custom role(s) match the spec.",
                live.users.len(),
                live.roles.len()
            );
        }
    } else {
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
    if let Some(i) = isolation.filter(|i| !quiet || !i.proven) {
        println!("{}", isolation_line(i));
    }
}
