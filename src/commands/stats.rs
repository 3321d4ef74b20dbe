//! `stats`: sizes per domain database (and per collection), index usage, server and
//! replication health, a live mongostat-like view, and recorded growth with projections.
//! The numbers come from `crate::stats`; this file chooses what to gather and renders it.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::flags::ScopeArgs;
use crate::render;
use crate::stats::{
    self, DatabaseStats, Growth, IndexReport, Section, ServerReport, SortBy, Target, WatchRow,
};

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Also one row per collection (count, sizes, indexes, validator, last insert)
    #[arg(long)]
    pub collections: bool,
    /// Order of database and collection rows
    #[arg(long, value_enum, default_value_t = SortArg::Size)]
    pub sort: SortArg,
    /// Every index with its size and usage ($indexStats); flags unused, redundant and
    /// unmanaged (not declared in the spec) indexes
    #[arg(long, conflicts_with_all = ["server", "watch", "growth", "collections", "record"])]
    pub indexes: bool,
    /// With --indexes: only the flagged indexes
    #[arg(long, requires = "indexes")]
    pub flagged: bool,
    /// Connections, operation counters, network, uptime, cache; replica set members, lag
    /// and oplog window
    #[arg(long, conflicts_with_all = ["watch", "growth", "collections", "record"])]
    pub server: bool,
    /// Live view refreshed every SECONDS (default 1): operations/s, network/s,
    /// connections, cache (JSON lines with -o json); stop with Ctrl-C
    #[arg(
        long,
        value_name = "SECONDS",
        num_args = 0..=1,
        default_missing_value = "1",
        conflicts_with_all = ["growth", "collections", "record"]
    )]
    pub watch: Option<f64>,
    /// Stop --watch after N rows (for scripts and tests)
    #[arg(long, hide = true, requires = "watch", value_name = "N")]
    pub count: Option<u64>,
    /// Record a snapshot of the database sizes in <metadataDatabase>.stats_history
    #[arg(long, conflicts_with = "growth")]
    pub record: bool,
    /// Size and document growth per database over the recorded snapshots, with linear
    /// projections for 30, 90 and 365 days
    #[arg(long, conflicts_with = "collections")]
    pub growth: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum SortArg {
    /// Largest on disk first (storage + indexes)
    Size,
    /// Most documents first
    Docs,
    /// Alphabetical
    Name,
}

impl From<SortArg> for SortBy {
    fn from(s: SortArg) -> Self {
        match s {
            SortArg::Size => SortBy::Size,
            SortArg::Docs => SortBy::Docs,
            SortArg::Name => SortBy::Name,
        }
    }
}

pub async fn run(args: StatsArgs, ctx: &Ctx) -> Result<u8> {
    if args.server || args.watch.is_some() {
        // Like `health`: a workspace is optional (it may only name the URI variable).
        let ws = crate::spec::load(&ctx.global.spec).workspace;
        let (client, _) = ctx.connect(ws.as_ref()).await?;
        return match args.watch {
            Some(secs) => watch(&client, secs, args.count, ctx).await,
            None => {
                let report = stats::server_report(&client).await?;
                if ctx.json() {
                    render::json(&report);
                } else {
                    print_server(&report);
                }
                Ok(SUCCESS)
            }
        };
    }
    let ws = super::workspace(ctx)?;
    let domains = ctx.domains(&ws, &args.scope.domain)?;
    let desired = ctx.desired(&ws, &domains)?;
    let targets: Vec<Target> = desired
        .databases
        .iter()
        .map(|d| {
            (
                d.domain.clone(),
                d.name.clone(),
                d.collections.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let metadata = ws.manifest.metadata_database.clone();

    if args.indexes {
        let mut report = stats::index_usage(&client, &targets, &desired).await;
        if args.flagged {
            report.indexes.retain(|i| !i.flags.is_empty());
        }
        if ctx.json() {
            render::json(&report);
        } else {
            print_indexes(&report);
        }
        return Ok(SUCCESS);
    }
    if args.growth {
        let history = stats::history(&client, &metadata)
            .await
            .with_context(|| format!("reading {metadata}.{}", stats::HISTORY_COLLECTION))?;
        let rows: Vec<Growth> = targets
            .iter()
            .map(|(domain, db, _)| {
                stats::growth(
                    domain,
                    db,
                    history.get(db).map(Vec::as_slice).unwrap_or(&[]),
                )
            })
            .collect();
        if ctx.json() {
            render::json(&serde_json::json!({
                "history": format!("{metadata}.{}", stats::HISTORY_COLLECTION),
                "growth": rows,
            }));
        } else {
            print_growth(&rows, &metadata);
        }
        return Ok(SUCCESS);
    }

    let mut rows = stats::database_stats(&client, &targets, args.collections).await;
    stats::sort_databases(&mut rows, args.sort.into());
    let totals = stats::totals(&rows);
    let recorded_at = if args.record {
        let env = ctx.environment(&ws)?.map(|(n, _)| n);
        let at = stats::record(&client, &metadata, env.as_deref(), &rows).await?;
        if !ctx.global.quiet && !ctx.json() {
            eprintln!(
                "Recorded a snapshot in {metadata}.{}",
                stats::HISTORY_COLLECTION
            );
        }
        Some(at.try_to_rfc3339_string().unwrap_or_default())
    } else {
        None
    };
    if ctx.json() {
        #[derive(Serialize)]
        struct Out<'a> {
            databases: &'a [DatabaseStats],
            totals: &'a stats::Sizes,
            #[serde(skip_serializing_if = "Option::is_none")]
            recorded_at: Option<String>,
        }
        render::json(&Out {
            databases: &rows,
            totals: &totals,
            recorded_at,
        });
    } else {
        print_databases(&rows, &totals, args.collections);
    }
    Ok(SUCCESS)
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

fn print_databases(rows: &[DatabaseStats], totals: &stats::Sizes, collections: bool) {
    let mut t = render::table(&[
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
    let mut c = render::table(&[
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

fn print_indexes(r: &IndexReport) {
    let mut t = render::table(&[
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
    print_unavailable(&r.unavailable);
}

fn print_unavailable(list: &[stats::UnavailableAt]) {
    for u in list {
        let at = match &u.collection {
            Some(c) => format!("{}.{c}", u.database),
            None => u.database.clone(),
        };
        eprintln!("warning: {at}: {}", u.unavailable.short());
    }
}

fn print_server(r: &ServerReport) {
    let mut t = render::table(&["server", "value"]);
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
            let mut m = render::table(&[
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

fn print_growth(rows: &[Growth], metadata: &str) {
    let mut t = render::table(&[
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

/// The live view: one row per interval until Ctrl-C, SIGTERM, or `count` rows.
async fn watch(client: &mongodb::Client, secs: f64, limit: Option<u64>, ctx: &Ctx) -> Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    if !(secs.is_finite() && secs >= 0.1) {
        bail!("--watch {secs}: the interval must be at least 0.1 seconds");
    }
    let interval = Duration::from_secs_f64(secs);
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut prev = stats::sample(client).await.map_err(|e| {
        anyhow::anyhow!(
            "{}",
            stats::Unavailable::new(&e, "serverStatus", "the cluster").short()
        )
    })?;
    let in_place = !ctx.json() && std::io::stdout().is_terminal();
    let mut emitted = 0u64;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = term.recv() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        let cur = match stats::sample(client).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "warning: serverStatus: {}",
                    crate::error::describe_driver_error(&e)
                );
                continue;
            }
        };
        let row = stats::rates(&prev, &cur);
        prev = cur;
        let ok = if ctx.json() {
            write_line(&serde_json::to_string(&row).unwrap_or_default())
        } else if in_place {
            write_line(&format!("\x1b[H\x1b[2J{}", watch_table(&row)))
        } else {
            let mut text = String::new();
            if emitted.is_multiple_of(20) {
                text.push_str(&watch_header());
                text.push('\n');
            }
            text.push_str(&watch_line(&row));
            write_line(&text)
        };
        emitted += 1;
        if !ok || limit.is_some_and(|n| emitted >= n) {
            break;
        }
    }
    Ok(SUCCESS)
}

/// Writes and flushes; false when the reader went away.
fn write_line(s: &str) -> bool {
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
    let mut t = render::table(&["per second", "value"]);
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
