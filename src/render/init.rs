//! The output of `init`: the files a scaffold created, or a summary of what an export wrote.

use std::path::Path;

use serde_json::json;

use crate::export::{DRAFT_DIR, ExportFile, Exported};

/// The answers that shaped a scaffold, as `init` reports them.
pub struct Scaffolded<'a> {
    pub project: &'a str,
    pub domain: &'a str,
    pub database: &'a str,
    pub collections: usize,
}

/// The workspace a scaffold created: what it holds, its files, and what to do next.
pub fn scaffolded(dir: &Path, a: &Scaffolded, files: &[ExportFile]) {
    println!(
        "Created a workspace in {} (project {}, domain {} → database {}, {} collection(s)):",
        dir.display(),
        a.project,
        a.domain,
        a.database,
        a.collections
    );
    for f in files {
        println!("  {}", f.path.display());
    }
    println!(
        "Next: edit the schemas, then `mongoctl check`, `eval \"$(mongoctl sandbox up -q)\"`, `mongoctl plan`, `mongoctl apply`."
    );
}

/// An export as JSON, with the count of problems `check` finds in it.
pub fn exported_json(dir: &Path, exported: &Exported, check_errors: usize) {
    super::json(&json!({
        "dir": dir.display().to_string(),
        "domains": exported.domains,
        "files": exported.files,
        "warnings": exported.warnings,
        "check_errors": check_errors,
    }));
}

/// An export for people: its warnings (stderr), one row per domain, the files written and
/// the drafts to review.
pub fn exported(dir: &Path, exported: &Exported, uri: &str) {
    for w in &exported.warnings {
        eprintln!("warning: {w}");
    }
    let mut t = super::table(&[
        "domain",
        "database",
        "collections",
        "views",
        "schemas",
        "drafts",
        "index files",
        "seed files",
    ]);
    for d in &exported.domains {
        t.add_row(vec![
            d.domain.clone(),
            d.database.clone(),
            d.collections.to_string(),
            d.views.to_string(),
            d.schemas.to_string(),
            d.drafts.to_string(),
            d.indexes.to_string(),
            d.seeds.to_string(),
        ]);
    }
    println!("{t}");
    let drafts = exported.files.iter().filter(|f| f.draft).count();
    println!(
        "Wrote {} file(s) to {} from {}.",
        exported.files.len(),
        dir.display(),
        uri
    );
    if drafts > 0 {
        println!(
            "{drafts} DRAFT schema(s) in {DRAFT_DIR}/ are not applied: review each, then move it to schemas/<domain>/."
        );
    }
}

/// On stderr: the exported workspace does not pass `check`.
pub fn export_rejected(diagnostics: &[crate::spec::Diagnostic], problems: usize) {
    super::diagnostics(diagnostics, false);
    eprintln!(
        "error: the exported workspace has {problems} problem(s) that `mongoctl check` reports; fix them before `plan`"
    );
}
