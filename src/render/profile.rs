//! The output of `profile`: profiler settings per database and the slowest operations.

use crate::stats::{ProfileStatus, SlowReport};

/// The profiler settings of each database, as JSON or a table (with the level it had before
/// when `set` changed it).
pub fn status(rows: &[ProfileStatus], as_json: bool, set: bool) {
    if as_json {
        super::json(&serde_json::json!({ "databases": rows }));
        return;
    }
    let level = |l: Option<i64>| match l {
        Some(0) => "0 (off)".to_string(),
        Some(1) => "1 (slow ops)".to_string(),
        Some(2) => "2 (all ops)".to_string(),
        Some(n) => n.to_string(),
        None => "-".to_string(),
    };
    let mut headers = vec!["domain", "database"];
    if set {
        headers.push("was");
    }
    headers.extend(["level", "slowms", "sample rate", "entries"]);
    let mut t = super::table(&headers);
    for r in rows {
        let mut row = vec![r.domain.clone(), r.database.clone()];
        if set {
            row.push(level(r.previous_level));
        }
        if let Some(u) = &r.unavailable {
            row.push(u.short());
        } else {
            row.extend([
                level(r.level),
                r.slowms
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.sample_rate
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.entries
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        t.add_row(row);
    }
    println!("{t}");
}

/// The slowest operations (a COLLSCAN plan marked ⚠, long commands cut at 80 characters), or
/// how to turn the profiler on; databases that could not be read are warned about on stderr.
pub fn slow(report: &SlowReport, since_given: bool) {
    if report.operations.is_empty() {
        println!(
            "No profiled operations{}. Turn the profiler on with `mongoctl profile set --level 1 --slowms 100`.",
            if since_given { " in that period" } else { "" }
        );
    } else {
        let mut t = super::table(&[
            "time", "ns", "op", "ms", "plan", "examined", "returned", "command",
        ]);
        for o in &report.operations {
            let mut plan = o.plan_summary.clone().unwrap_or_else(|| "-".into());
            if o.collscan {
                plan = format!("⚠ {plan}");
            }
            let mut command = serde_json::to_string(&o.command).unwrap_or_default();
            if command.chars().count() > 80 {
                command = command.chars().take(79).collect::<String>() + "…";
            }
            let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
            t.add_row(vec![
                o.ts.clone(),
                o.ns.clone(),
                o.op.clone(),
                o.millis.to_string(),
                plan,
                format!("{} docs / {} keys", n(o.docs_examined), n(o.keys_examined)),
                n(o.returned),
                command,
            ]);
        }
        println!("{t}");
    }
    for u in &report.unavailable {
        eprintln!("warning: {}: {}", u.database, u.unavailable.short());
    }
}
