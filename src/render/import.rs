//! Tables for `import`: the dry run's samples, a run's report, the verification.

use std::path::Path;

use crate::import::dry_run::Sample;
use crate::import::run::SourceReport;
use crate::import::verify::VerifyRow;

pub fn samples(samples: &[Sample]) {
    for s in samples {
        println!(
            "{} ← {}: {} row(s) sampled, {} convert and validate, {} would be rejected",
            s.collection,
            s.source,
            s.sampled,
            s.converted,
            s.problems.len()
        );
        for d in &s.documents {
            println!("{}", serde_json::to_string_pretty(d).unwrap_or_default());
        }
        for p in &s.problems {
            println!("  rejected: key {}: {}", p.key, p.reason);
        }
    }
}

pub fn report(rows: &[SourceReport], rejects: &Path) {
    let mut t = super::table(&[
        "collection",
        "source",
        "from",
        "read",
        "imported",
        "already there",
        "rejected",
        "skipped",
        "note",
    ]);
    for r in rows {
        let note = if r.already_done {
            "done by an earlier run".to_string()
        } else if let Some(w) = &r.resumed_after {
            format!("resumed after key {w}")
        } else {
            String::new()
        };
        t.add_row(vec![
            r.collection.clone(),
            r.source.clone(),
            r.relation.clone(),
            r.read.to_string(),
            r.imported.to_string(),
            r.already_present.to_string(),
            r.rejected.to_string(),
            r.skipped.to_string(),
            note,
        ]);
    }
    println!("{t}");
    if rows.iter().any(|r| r.rejected > 0) {
        println!("rejected rows (key and reason): {}", rejects.display());
    }
}

pub fn verify(rows: &[VerifyRow]) {
    let mut t = super::table(&[
        "collection",
        "source",
        "source rows",
        "imported",
        "rejected",
        "skipped",
        "rows",
        "child rows (source/target)",
        "checksum",
        "result",
    ]);
    for r in rows {
        let mark = |ok: bool| if ok { "ok" } else { "MISMATCH" }.to_string();
        t.add_row(vec![
            r.collection.clone(),
            r.source.clone(),
            r.source_rows.to_string(),
            r.imported.to_string(),
            r.rejected.to_string(),
            r.skipped.to_string(),
            mark(r.rows_add_up),
            format!(
                "{}/{} {}",
                r.child_rows_source,
                r.child_rows_target,
                mark(r.children_add_up)
            ),
            if r.checksum_matches {
                "ok".into()
            } else {
                format!(
                    "MISMATCH source {} target {}; keys: {}",
                    r.checksum_source,
                    r.checksum_target,
                    r.mismatched_keys.join(", ")
                )
            },
            if r.ok() { "verified" } else { "FAILED" }.to_string(),
        ]);
    }
    println!("{t}");
}
