//! The output of `stats`: database and collection sizes, index usage, server and
//! replication, growth projections, and the rows of the live `--watch` view.

use std::io::Write;

use serde::Serialize;

use crate::stats::{self, DatabaseStats, Growth, IndexReport, Section, ServerReport, WatchRow};

/// The database sizes as JSON (`recorded_at` when `--record` stored a snapshot).
pub fn databases_json(rows: &[DatabaseStats], totals: &stats::Sizes, recorded_at: Option<String>) {
    #[derive(Serialize)]
    struct Out<'a> {
        databases: &'a [DatabaseStats],
        totals: &'a stats::Sizes,
        #[serde(skip_serializing_if = "Option::is_none")]
        recorded_at: Option<String>,
    }
    super::json(&Out {
        databases: rows,
        totals,
        recorded_at,
    });
}

pub fn growth_json(rows: &[Growth], metadata: &str) {
    super::json(&serde_json::json!({
        "history": format!("{metadata}.{}", stats::HISTORY_COLLECTION),
        "growth": rows,
    }));
}

/// On stderr: where `--record` stored its snapshot.
pub fn recorded(metadata: &str) {
    eprintln!(
        "Recorded a snapshot in {metadata}.{}",
        stats::HISTORY_COLLECTION
    );
}

/// On stderr: a `--watch` sample that failed (the view goes on).
pub fn sample_failed(error: &str) {
    eprintln!("warning: serverStatus: {error}");
}

/// How `--watch` shows its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// One JSON object per line.
    JsonLines,
    /// A table redrawn in place (stdout is a terminal).
    InPlace,
    /// One aligned line per sample, the header every 20 lines (like mongostat).
    Lines,
}

/// Prints the `emitted`-th row of the live view; false when the reader went away.
pub fn watch_row(row: &WatchRow, mode: WatchMode, emitted: u64) -> bool {
    match mode {
        WatchMode::JsonLines => write_line(&serde_json::to_string(row).unwrap_or_default()),
        WatchMode::InPlace => write_line(&format!("\x1b[H\x1b[2J{}", watch_table(row))),
        WatchMode::Lines => {
            let mut text = String::new();
            if emitted.is_multiple_of(20) {
                text.push_str(&watch_header());
                text.push('\n');
            }
            text.push_str(&watch_line(row));
            write_line(&text)
        }
    }
}

/// 1536 → "1.5 KiB".
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v.abs() >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// 1234567 → "1.2M".
pub fn count(n: f64) -> String {
    let a = n.abs();
    if a >= 1e9 {
        format!("{:.1}G", n / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    }
}

/// Sizes per database and a TOTAL row; with `collections`, a second table per collection.
pub fn databases(rows: &[DatabaseStats], totals: &stats::Sizes, collections: bool) {
    let mut t = super::table(&[
        "domain",
        "database",
        "colls",
        "documents",
        "data",
        "storage",
        "indexes",
        "total",
        "avg doc",
        "free",
    ]);
    for r in rows {
        let s = &r.sizes;
        let mut row = vec![r.domain.clone(), r.database.clone()];
        if let Some(u) = &r.unavailable {
            row.push(u.short());
        } else if !r.exists {
            row.push("(not created)".into());
        } else {
            row.extend([
                s.collections.to_string(),
                count(s.documents as f64),
                bytes(s.data_size),
                bytes(s.storage_size),
                format!("{} ({})", bytes(s.index_size), s.indexes),
                bytes(s.total_size),
                bytes(s.avg_obj_size.round() as i64),
                bytes(s.free_storage_size),
            ]);
        }
        t.add_row(row);
    }
    t.add_row(vec![
        "TOTAL".to_string(),
        format!("{} database(s)", rows.len()),
        totals.collections.to_string(),
        count(totals.documents as f64),
        bytes(totals.data_size),
        bytes(totals.storage_size),
        format!("{} ({})", bytes(totals.index_size), totals.indexes),
        bytes(totals.total_size),
        bytes(totals.avg_obj_size.round() as i64),
        bytes(totals.free_storage_size),
    ]);
    println!("{t}");
    if !collections {
        return;
    }
    let mut c = super::table(&[
        "database",
        "collection",
        "documents",
        "data",
        "storage",
        "indexes",
        "avg doc",
        "free",
        "validator",
        "last insert",
        "note",
    ]);
    for r in rows {
        for s in r.collection_stats.iter().flatten() {
            let mut notes = Vec::new();
            if s.kind != "collection" {
                notes.push(s.kind.clone());
            }
            if s.capped {
                notes.push("capped".into());
            }
            if !s.declared {
                notes.push("not in spec".into());
            }
            if let Some(u) = &s.unavailable {
                notes.push(u.short());
            }
            let numbers = s.kind != "view" && s.unavailable.is_none();
            let n = |v: String| if numbers { v } else { "-".into() };
            c.add_row(vec![
                r.database.clone(),
                s.name.clone(),
                n(count(s.documents as f64)),
                n(bytes(s.data_size)),
                n(bytes(s.storage_size)),
                n(format!("{} ({})", bytes(s.index_size), s.indexes)),
                n(bytes(s.avg_obj_size.round() as i64)),
                n(bytes(s.free_storage_size)),
                if s.validator { "yes" } else { "-" }.into(),
                s.last_insert.clone().unwrap_or_else(|| "-".into()),
                notes.join(", "),
            ]);
        }
    }
    println!("{c}");
}

/// Every index with its size, usage and flags, a count of the flagged ones, and warnings
/// (stderr) for what could not be read.
pub fn indexes(r: &IndexReport) {
    let mut t = super::table(&[
        "database",
        "collection",
        "index",
        "key",
        "size",
        "ops",
        "since",
        "flags",
    ]);
    for i in &r.indexes {
        let mut flags = i.flags.join(", ");
        if let Some(w) = &i.redundant_with {
            flags.push_str(&format!(" (prefix of {w})"));
        }
        if !i.contracts.is_empty() {
            if !flags.is_empty() {
                flags.push_str(", ");
            }
            flags.push_str(&format!("used by contract {}", i.contracts.join(", ")));
        }
        t.add_row(vec![
            i.database.clone(),
            i.collection.clone(),
            i.name.clone(),
            serde_json::to_string(&i.key).unwrap_or_default(),
            i.size.map(bytes).unwrap_or_else(|| "?".into()),
            i.ops.to_string(),
            i.since
                .as_deref()
                .map(|s| s.get(..19).unwrap_or(s).replace('T', " "))
                .unwrap_or_default(),
            flags,
        ]);
    }
    println!("{t}");
    let n = |f: &str| {
        r.indexes
            .iter()
            .filter(|i| i.flags.iter().any(|x| x == f))
            .count()
    };
    println!(
        "{} index(es): {} unused, {} redundant, {} unmanaged (usage counts since the server started)",
        r.indexes.len(),
        n("unused"),
        n("redundant"),
        n("unmanaged")
    );
    unavailable(&r.unavailable);
}

fn unavailable(list: &[stats::UnavailableAt]) {
    for u in list {
        let at = match &u.collection {
            Some(c) => format!("{}.{c}", u.database),
            None => u.database.clone(),
        };
        eprintln!("warning: {at}: {}", u.unavailable.short());
    }
}

/// The server table, then replica-set members and the oplog window when there is one.
pub fn server(r: &ServerReport) {
    let mut t = super::table(&["server", "value"]);
    match &r.server {
        Section::Ok(s) => {
            let rows = [
                ("host", format!("{} ({}, {})", s.host, s.process, s.role)),
                ("version", s.version.clone()),
                ("uptime", uptime(s.uptime_seconds)),
                (
                    "connections",
                    format!(
                        "{} current, {} available ({} active, {} created since start)",
                        s.connections.current,
                        s.connections.available,
                        s.connections.active,
                        s.connections.total_created
                    ),
                ),
                (
                    "operations",
                    format!(
                        "insert {} · query {} · update {} · delete {} · getmore {} · command {}",
                        count(s.opcounters.insert),
                        count(s.opcounters.query),
                        count(s.opcounters.update),
                        count(s.opcounters.delete),
                        count(s.opcounters.getmore),
                        count(s.opcounters.command)
                    ),
                ),
                (
                    "network",
                    format!(
                        "{} in · {} out · {} requests",
                        bytes(s.network.bytes_in),
                        bytes(s.network.bytes_out),
                        count(s.network.requests as f64)
                    ),
                ),
                (
                    "cache",
                    match &s.cache {
                        Some(c) => format!(
                            "{} of {} ({:.1}% used, {:.1}% dirty)",
                            bytes(c.bytes_in_cache),
                            bytes(c.max_bytes),
                            c.used_percent,
                            c.dirty_percent
                        ),
                        None => "-".into(),
                    },
                ),
                ("resident memory", format!("{} MiB", s.resident_mb)),
            ];
            for (k, v) in rows {
                t.add_row(vec![k.to_string(), v]);
            }
        }
        Section::Unavailable { unavailable } => {
            t.add_row(vec!["serverStatus".to_string(), unavailable.short()]);
        }
    }
    println!("{t}");
    let Some(repl) = &r.replication else { return };
    match &repl.members {
        Section::Ok(members) => {
            let mut m = super::table(&[
                "member",
                "state",
                "health",
                "lag",
                "last optime",
                "sync source",
            ]);
            for x in members {
                m.add_row(vec![
                    if x.is_self {
                        format!("{} (connected)", x.name)
                    } else {
                        x.name.clone()
                    },
                    x.state.clone(),
                    x.health.clone(),
                    x.lag_seconds
                        .map(|l| format!("{l:.0} s"))
                        .unwrap_or_else(|| "-".into()),
                    x.last_optime.clone().unwrap_or_else(|| "-".into()),
                    x.sync_source.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            println!("replica set {}", repl.set_name);
            println!("{m}");
        }
        Section::Unavailable { unavailable } => {
            println!(
                "replica set {}: members {}",
                repl.set_name,
                unavailable.short()
            )
        }
    }
    match &repl.oplog {
        Section::Ok(o) => println!(
            "oplog window: {:.2} h ({} → {}), {} used{}",
            o.window_hours,
            o.first,
            o.last,
            o.size_bytes.map(bytes).unwrap_or_else(|| "?".into()),
            o.max_size_bytes
                .map(|m| format!(" of {}", bytes(m)))
                .unwrap_or_default()
        ),
        Section::Unavailable { unavailable } => println!("oplog window: {}", unavailable.short()),
    }
}

fn uptime(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m {}s", secs % 60)
    }
}

/// Growth and projections per database, with a hint when there are too few snapshots.
pub fn growth(rows: &[Growth], metadata: &str) {
    let mut t = super::table(&[
        "domain",
        "database",
        "snapshots",
        "first",
        "size now",
        "size/day",
        "docs now",
        "docs/day",
        "per 1K docs",
        "in 30 d",
        "in 90 d",
        "in 365 d",
    ]);
    for g in rows {
        let proj = |days: i64| {
            g.projections
                .iter()
                .find(|p| p.days == days)
                .map(|p| {
                    format!(
                        "{} / {} docs",
                        bytes(p.total_size),
                        count(p.documents as f64)
                    )
                })
                .unwrap_or_else(|| "-".into())
        };
        t.add_row(vec![
            g.domain.clone(),
            g.database.clone(),
            g.samples.to_string(),
            g.first_at
                .clone()
                .map(|s| s.chars().take(10).collect())
                .unwrap_or_else(|| "-".into()),
            bytes(g.total_size),
            g.total_size_per_day
                .map(|s| bytes(s.round() as i64))
                .unwrap_or_else(|| "-".into()),
            count(g.documents as f64),
            g.documents_per_day.map(count).unwrap_or_else(|| "-".into()),
            g.bytes_per_1k_documents
                .map(|b| bytes(b.round() as i64))
                .unwrap_or_else(|| "-".into()),
            proj(30),
            proj(90),
            proj(365),
        ]);
    }
    println!("{t}");
    if rows.iter().any(|g| g.projections.is_empty()) {
        println!(
            "Projections need at least two snapshots at different times: run `mongoctl stats --record` regularly (e.g. daily from cron); they are kept in {metadata}.{}.",
            stats::HISTORY_COLLECTION
        );
    }
}

/// Writes and flushes; false when the reader went away.
pub fn write_line(s: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}").and_then(|_| out.flush()).is_ok()
}

fn watch_header() -> String {
    format!(
        "{:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>11} {:>11} {:>5} {:>4} {:>8}",
        "insert",
        "query",
        "update",
        "delete",
        "getmore",
        "command",
        "dirty",
        "used",
        "res",
        "net_in",
        "net_out",
        "conn",
        "repl",
        "time"
    )
}

fn watch_line(r: &WatchRow) -> String {
    let pct = |p: Option<f64>| p.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "-".into());
    format!(
        "{:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>11} {:>11} {:>5} {:>4} {:>8}",
        count(r.ops.insert.round()),
        count(r.ops.query.round()),
        count(r.ops.update.round()),
        count(r.ops.delete.round()),
        count(r.ops.getmore.round()),
        count(r.ops.command.round()),
        pct(r.cache_dirty_percent),
        pct(r.cache_used_percent),
        format!("{}M", r.resident_mb),
        format!("{}/s", bytes(r.net_in_per_sec.round() as i64)),
        format!("{}/s", bytes(r.net_out_per_sec.round() as i64)),
        r.connections,
        match r.role.as_str() {
            "primary" => "PRI",
            "secondary" => "SEC",
            "standalone" => "",
            _ => "OTH",
        },
        r.time.get(11..19).unwrap_or(&r.time),
    )
}

fn watch_table(r: &WatchRow) -> String {
    let mut t = super::table(&["per second", "value"]);
    for (k, v) in [
        ("insert", r.ops.insert),
        ("query", r.ops.query),
        ("update", r.ops.update),
        ("delete", r.ops.delete),
        ("getmore", r.ops.getmore),
        ("command", r.ops.command),
    ] {
        t.add_row(vec![k.to_string(), format!("{v:.1}")]);
    }
    t.add_row(vec![
        "network in".to_string(),
        format!("{}/s", bytes(r.net_in_per_sec.round() as i64)),
    ]);
    t.add_row(vec![
        "network out".to_string(),
        format!("{}/s", bytes(r.net_out_per_sec.round() as i64)),
    ]);
    t.add_row(vec!["connections".to_string(), r.connections.to_string()]);
    if let (Some(u), Some(d)) = (r.cache_used_percent, r.cache_dirty_percent) {
        t.add_row(vec![
            "cache".to_string(),
            format!("{u:.1}% used, {d:.1}% dirty"),
        ]);
    }
    t.add_row(vec![
        "resident".to_string(),
        format!("{} MiB", r.resident_mb),
    ]);
    format!(
        "{} {} ({}) every {:.1} s — Ctrl-C to stop\n{t}",
        r.time, r.host, r.role, r.seconds
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1_234_567.0), "1.2M");
        assert_eq!(count(2.5), "2.5");
    }
}
