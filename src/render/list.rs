//! The output of `list`: one row per domain, or the rows as JSON.

use crate::inventory::DomainRow;

/// Counts of declared and present collections, names of the missing and unmanaged ones.
pub fn table(rows: &[DomainRow]) {
    let mut t = super::table(&[
        "domain",
        "database",
        "exists",
        "declared",
        "present",
        "missing",
        "unmanaged",
    ]);
    for r in rows {
        let exists = if r.exists { "yes" } else { "no" };
        let names = |v: &Vec<String>| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        t.add_row(vec![
            r.domain.clone(),
            r.database.clone(),
            exists.to_string(),
            r.declared.len().to_string(),
            r.present.len().to_string(),
            names(&r.missing),
            names(&r.unmanaged),
        ]);
    }
    println!("{t}");
}
