//! `backup drill`'s table: each restored namespace's checks, the validators, RTO and RPO,
//! the findings and notes.

use indicatif::HumanBytes;

use crate::backup::drill::checks::ContentCheck;
use crate::backup::drill::report::DrillReport;

pub fn table(r: &DrillReport, quiet: bool) {
    if !quiet {
        let mut t = super::table(&[
            "namespace",
            "restored as",
            "type",
            "documents",
            "content",
            "indexes",
            "result",
        ]);
        for n in &r.namespaces {
            let docs = match n.expected_documents {
                Some(e) if e == n.restored_documents => e.to_string(),
                Some(e) => format!("{} of {e}", n.restored_documents),
                None => n.restored_documents.to_string(),
            };
            t.add_row(vec![
                n.namespace.clone(),
                n.restored_as.clone(),
                n.kind.clone(),
                docs,
                match n.content {
                    ContentCheck::Digest => "digest",
                    ContentCheck::CountsOnly => "counts only",
                    ContentCheck::View => "-",
                }
                .to_string(),
                n.indexes.to_string(),
                if n.ok { "ok" } else { "MISMATCH" }.to_string(),
            ]);
        }
        println!("{t}");
        if !r.validators.is_empty() {
            let mut v = super::table(&["domain", "collection", "schema", "violating"]);
            for c in &r.validators {
                v.add_row(vec![
                    c.domain.clone(),
                    c.collection.clone(),
                    c.schema_file.clone(),
                    c.skipped
                        .clone()
                        .map(|s| format!("skipped: {s}"))
                        .unwrap_or_else(|| c.violating.to_string()),
                ]);
            }
            println!("{v}");
        }
        let per_gb = r
            .rto
            .secs_per_gb
            .map(|s| format!(", {s:.1} s per GB"))
            .unwrap_or_default();
        println!(
            "RTO: restore {:.2} s for {}{per_gb}; verification {:.2} s ({:.0}% of the drill)",
            r.rto.restore_secs,
            HumanBytes(r.rto.data_bytes),
            r.verify_secs,
            r.verify_share * 100.0
        );
        match (&r.rpo.point, r.rpo.age_secs) {
            (Some(p), Some(age)) => println!(
                "RPO: consistent to {} ({}), {age:.0} s before the drill",
                p.format("%Y-%m-%d %H:%M:%S UTC"),
                r.rpo.from
            ),
            _ => println!("RPO: unknown (the backup has no manifest recording its end)"),
        }
    }
    for f in &r.findings {
        println!("MISMATCH {} [{}]: {}", f.namespace, f.check, f.message);
        for c in r.validators.iter().filter(|c| {
            f.check == "validator" && format!("{}.{}", c.database, c.collection) == f.namespace
        }) {
            for s in &c.samples {
                for reason in &s.reasons {
                    println!(
                        "  _id {}: {} ({}, {}:{})",
                        s.id, reason.message, reason.keyword, c.schema_file, reason.schema_line
                    );
                }
            }
        }
    }
    if !quiet {
        for n in &r.notes {
            println!("note: {n}");
        }
    }
    if r.error.is_none() {
        println!(
            "{}: drill of {}: {} namespace(s), {} finding(s)",
            if r.passed { "PASSED" } else { "FAILED" },
            r.backup,
            r.namespaces.len(),
            r.findings.len()
        );
    }
}
