//! The report as one self-contained HTML page: styles inline, charts as inline SVG
//! (`render::charts`), no script, and a Content-Security-Policy that forbids every fetch, so
//! opening it never touches the network. Every value is escaped by maud.

use std::path::Path;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::charts::{self, Bar, GrowthSeries};
use super::stats::{bytes, count};
use crate::alerts::Severity;
use crate::report::*;
use crate::stats::{Section, TenantReport};

const STYLE: &str = r#"
body{font-family:"Liberation Sans",Arial,Helvetica,sans-serif;margin:0;color:#1a202c;background:#f7fafc}
header{background:#1a365d;color:#fff;padding:16px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;font-size:13px;color:#cbd5e0}
nav{padding:8px 28px;background:#edf2f7;font-size:13px}
nav a{margin-right:14px;color:#2c5282;text-decoration:none}
main{padding:8px 28px 40px;max-width:1100px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:6px;margin:16px 0;padding:12px 18px}
h2{font-size:18px;margin:4px 0 10px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #e2e8f0;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px}
.ok{background:#c6f6d5;color:#22543d}.no_data{background:#e2e8f0;color:#4a5568}
.unavailable{background:#fed7d7;color:#742a2a}.warn{color:#9c4221;font-weight:bold}
.note{color:#4a5568;font-size:13px}.reason{font-size:14px;padding:6px 10px;background:#f7fafc;border-left:3px solid #a0aec0}
.unavailable-list{background:#fff5f5;border:1px solid #feb2b2;padding:8px 14px;font-size:13px}
code{font-size:12px;background:#edf2f7;padding:0 3px;border-radius:2px}
header code{background:#2a4365;color:#fff}
figure{margin:8px 0}figcaption{font-size:13px;color:#4a5568}
.legend span{margin-right:14px}.rec{color:#2b6cb0}.proj{color:#d97706}
"#;

/// No fetch of any kind; inline styles and `data:` images only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

pub fn html(r: &Report) -> String {
    let statuses = r.statuses();
    let missing: Vec<_> = statuses
        .iter()
        .filter(|(_, st, _)| *st == "unavailable")
        .collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                // An inline icon: browsers would otherwise fetch /favicon.ico.
                link rel="icon" href="data:,";
                title { "mongoctl report: " (r.project) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "Cluster report: " (r.project) }
                    p { "Generated " (r.generated_at) " by mongoctl " (env!("CARGO_PKG_VERSION")) }
                    p {
                        "Cluster " code { (r.cluster_uri) }
                        @if let Some(e) = &r.environment { " · environment " (e) }
                    }
                }
                nav {
                    @for ((id, title), (_, st, _)) in SECTIONS.iter().zip(&statuses) {
                        a href={ "#" (id) } { (title) " " span class={ "badge " (st) } { (label(st)) } }
                    }
                }
                main {
                    @if !missing.is_empty() {
                        div class="unavailable-list" id="unavailable-sections" {
                            strong { "Unavailable to this user: " }
                            @for (i, (id, _, reason)) in missing.iter().enumerate() {
                                @if i > 0 { "; " }
                                (title_of(id)) " (" (reason.unwrap_or("")) ")"
                            }
                        }
                    }
                    (section("cluster", &r.cluster, cluster))
                    (section("thresholds", &r.thresholds, thresholds))
                    (section("sizes", &r.sizes, sizes))
                    (section("growth", &r.growth, growth))
                    (section("indexes", &r.indexes, indexes))
                    (section("drift", &r.drift, drift))
                    (section("conformance", &r.conformance, conformance))
                    (section("audit", &r.audit, audit))
                    (section("backups", &r.backups, backups))
                    (section("slow_operations", &r.slow_operations, slow))
                    (section("tenants", &r.tenants, tenants))
                }
            }
        }
    };
    page.into_string()
}

/// `report: wrote FILE (10 sections; unavailable: …)` on stdout.
pub fn written(out: &Path, r: &Report) {
    let statuses = r.statuses();
    let missing: Vec<&str> = statuses
        .iter()
        .filter(|(_, st, _)| *st == "unavailable")
        .map(|(id, _, _)| title_of(id))
        .collect();
    let empty: Vec<&str> = statuses
        .iter()
        .filter(|(_, st, _)| *st == "no_data")
        .map(|(id, _, _)| title_of(id))
        .collect();
    println!("Wrote {} ({} sections).", out.display(), statuses.len());
    if !empty.is_empty() {
        println!("No data: {}.", empty.join(", "));
    }
    if !missing.is_empty() {
        println!("Unavailable to this user: {}.", missing.join(", "));
    }
}

fn title_of(id: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

fn label(status: &str) -> &'static str {
    match status {
        "ok" => "ok",
        "no_data" => "no data",
        _ => "unavailable",
    }
}

fn section<T>(id: &str, part: &Part<T>, body: fn(&T) -> Markup) -> Markup {
    html! {
        section id=(id) data-status=(part.status()) {
            h2 { (title_of(id)) " " span class={ "badge " (part.status()) } { (label(part.status())) } }
            @match part {
                Part::Ok { data } => (body(data)),
                Part::NoData { reason } => p class="reason" { "No data: " (reason) },
                Part::Unavailable { reason, .. } => p class="reason" { "Unavailable: " (reason) },
            }
        }
    }
}

fn unavailable_note<T>(s: &Section<T>) -> Option<String> {
    match s {
        Section::Ok(_) => None,
        Section::Unavailable { unavailable } => Some(unavailable.short()),
    }
}

fn cluster(c: &Cluster) -> Markup {
    let server = match &c.report.server {
        Section::Ok(s) => Some(s),
        Section::Unavailable { .. } => None,
    };
    html! {
        table {
            tr { th { "topology" } td { (c.topology) } }
            tr { th { "version" } td { (c.version.as_deref().or(server.map(|s| s.version.as_str())).unwrap_or("-")) } }
            @if let Some(s) = server {
                tr { th { "host" } td { (s.host) " (" (s.role) ")" } }
                tr { th { "uptime" } td { (format!("{:.1} days", s.uptime_seconds as f64 / 86_400.0)) } }
                tr { th { "connections" } td { (s.connections.current) " current, " (s.connections.available) " available" } }
                @if let Some(cache) = &s.cache {
                    tr { th { "WiredTiger cache" } td { (format!("{:.1}% used, {:.1}% dirty", cache.used_percent, cache.dirty_percent)) } }
                }
            }
            @if let Some(n) = unavailable_note(&c.report.server) {
                tr { th { "server status" } td { (n) } }
            }
        }
        @if let Some(rs) = &c.report.replication {
            h3 { "Members of " (rs.set_name) }
            @match &rs.members {
                Section::Ok(members) => table {
                    tr { th { "member" } th { "state" } th { "health" } th class="n" { "lag (s)" } th { "sync source" } }
                    @for m in members {
                        tr {
                            td { (m.name) @if m.is_self { " (this)" } }
                            td { (m.state) }
                            td { (m.health) }
                            td class="n" { (m.lag_seconds.map(|l| format!("{l:.1}")).unwrap_or_else(|| "-".into())) }
                            td { (m.sync_source.as_deref().unwrap_or("-")) }
                        }
                    }
                },
                Section::Unavailable { unavailable } => p class="reason" { (unavailable.short()) },
            }
            h3 { "Oplog" }
            @match &rs.oplog {
                Section::Ok(o) => p {
                    "Window " strong { (format!("{:.1} hours", o.window_hours)) }
                    " (" (o.first) " … " (o.last) ")"
                    @if let (Some(size), Some(max)) = (o.size_bytes, o.max_size_bytes) {
                        ", " (bytes(size)) " of " (bytes(max))
                    }
                },
                Section::Unavailable { unavailable } => p class="reason" { (unavailable.short()) },
            }
        } @else {
            p class="note" { "A standalone server: no members, replication lag or oplog." }
        }
    }
}

/// `health --check`'s findings, then each storage budget's use and the day it is reached.
fn thresholds(t: &ThresholdsPart) -> Markup {
    let ev = &t.evaluation;
    let class = |s: Severity| match s {
        Severity::Critical => "badge unavailable",
        Severity::Warning => "badge warn",
        Severity::Unknown => "badge no_data",
    };
    html! {
        p {
            strong { (super::alerts::status(ev)) } ": " (ev.checked.len()) " threshold(s) from the manifest's "
            code { "alerts" } " checked (as " code { "mongoctl health --check" } "), "
            (ev.findings.iter().filter(|f| f.severity != Severity::Unknown).count()) " crossed."
        }
        @if !ev.findings.is_empty() { table id="threshold-findings" {
            tr { th { "severity" } th { "finding" } }
            @for f in &ev.findings {
                tr data-kind=(f.kind.key()) { td { span class=(class(f.severity)) { (f.severity.word()) } } td { (f.message) } }
            }
        } }
        @if !ev.not_applicable.is_empty() {
            p class="note" {
                "Not applicable here: "
                @for (i, (kind, why)) in ev.not_applicable.iter().enumerate() {
                    @if i > 0 { "; " }
                    code { (kind.key()) } " (" (why) ")"
                }
                "."
            }
        }
        @if !t.budgets.is_empty() {
            h3 { "Storage budgets" }
            p class="note" { "Storage and indexes on disk against " code { "storageBudget" } "; the day it is reached at the growth recorded by " code { "mongoctl stats --record" } "." }
            table id="budgets" {
                tr { th { "budget of" } th class="n" { "used" } th class="n" { "budget" } th { "use" } th class="n" { "growth per day" } th { "reaches the budget" } }
                @for b in &t.budgets {
                    tr data-scope=(b.scope) {
                        td { (b.scope) }
                        td class="n" { (bytes(b.used)) }
                        td class="n" { (bytes(b.budget as i64)) }
                        td {
                            meter min="0" max="100" value=(format!("{:.1}", b.percent.min(100.0))) { (format!("{:.0}%", b.percent)) } " "
                            @match b.severity { Some(s) => span class=(class(s)) { (format!("{:.1}%", b.percent)) }, None => (format!("{:.1}%", b.percent)), }
                        }
                        td class="n" { (b.bytes_per_day.map(|v| format!("{}/day", bytes(v as i64))).unwrap_or_else(|| "-".into())) }
                        td {
                            @match (b.days_to_budget, &b.reached_on, b.bytes_per_day) {
                                (Some(d), _, _) if d <= 0.0 => span class="warn" { "reached" },
                                (Some(d), Some(on), _) if d < 1.0 => { "within a day (" (on) ")" },
                                (Some(d), Some(on), _) => { "in " (format!("{d:.0}")) " days (" (on) ")" },
                                (_, _, Some(_)) => "not growing",
                                _ => span class="note" { "no growth recorded (two snapshots needed)" },
                            }
                        }
                    }
                }
            }
        }
    }
}

fn sizes(s: &SizesPart) -> Markup {
    let mut colls: Vec<Bar> = s
        .databases
        .iter()
        .flat_map(|d| {
            d.collection_stats
                .iter()
                .flatten()
                .filter(|c| c.kind != "view")
                .map(|c| Bar {
                    label: format!("{}.{}", d.database, c.name),
                    bytes: c.total_size,
                })
        })
        .collect();
    colls.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.label.cmp(&b.label)));
    let shown = colls.len().min(15);
    html! {
        p {
            "Total on disk " strong { (bytes(s.totals.total_size)) }
            ": " (count(s.totals.documents as f64)) " documents, " (bytes(s.totals.data_size)) " of data, "
            (bytes(s.totals.index_size)) " in " (s.totals.indexes) " indexes."
        }
        figure id="sizes-chart" data-bars=(shown) {
            (PreEscaped(charts::size_bars(&colls[..shown])))
            figcaption { "The " (shown) " largest collections on disk (storage + indexes)." }
        }
        h3 { "Per domain database" }
        table {
            tr { th { "domain" } th { "database" } th class="n" { "collections" } th class="n" { "documents" } th class="n" { "data" } th class="n" { "storage" } th class="n" { "indexes" } th class="n" { "total" } }
            @for d in &s.databases {
                tr {
                    td { (d.domain) } td { (d.database) }
                    @if let Some(u) = &d.unavailable {
                        td colspan="6" { (u.short()) }
                    } @else if !d.exists {
                        td colspan="6" { "does not exist yet" }
                    } @else {
                        td class="n" { (d.sizes.collections) }
                        td class="n" { (d.sizes.documents) }
                        td class="n" { (bytes(d.sizes.data_size)) }
                        td class="n" { (bytes(d.sizes.storage_size)) }
                        td class="n" { (bytes(d.sizes.index_size)) " (" (d.sizes.indexes) ")" }
                        td class="n" { (bytes(d.sizes.total_size)) }
                    }
                }
            }
        }
        h3 { "Per collection" }
        table {
            tr { th { "collection" } th class="n" { "documents" } th class="n" { "data" } th class="n" { "storage" } th class="n" { "indexes" } th class="n" { "total" } th { "note" } }
            @for d in &s.databases {
                @for c in d.collection_stats.iter().flatten() {
                    tr {
                        td { (d.database) "." (c.name) }
                        @if let Some(u) = &c.unavailable {
                            td colspan="6" { (u.short()) }
                        } @else {
                            td class="n" { (c.documents) }
                            td class="n" { (bytes(c.data_size)) }
                            td class="n" { (bytes(c.storage_size)) }
                            td class="n" { (bytes(c.index_size)) " (" (c.indexes) ")" }
                            td class="n" { (bytes(c.total_size)) }
                            td { (collection_note(c)) }
                        }
                    }
                }
            }
        }
    }
}

fn collection_note(c: &crate::stats::CollectionStats) -> String {
    let mut n = Vec::new();
    if c.kind != "collection" {
        n.push(c.kind.clone());
    }
    if c.capped {
        n.push("capped".into());
    }
    if !c.declared {
        n.push("not in spec".into());
    }
    n.join(", ")
}

fn growth(g: &GrowthPart) -> Markup {
    html! {
        p class="note" { "From the snapshots in " code { (g.history) } " (" code { "mongoctl stats --record" } "): least-squares growth per day and the latest value plus slope × 30, 90 and 365 days." }
        table {
            tr { th { "database" } th class="n" { "snapshots" } th class="n" { "total now" } th class="n" { "per day" } th class="n" { "per 1K documents" } th class="n" { "in 30 days" } th class="n" { "in 90 days" } th class="n" { "in 365 days" } }
            @for d in &g.databases {
                tr {
                    td { (d.growth.database) }
                    td class="n" { (d.growth.samples) }
                    td class="n" { (bytes(d.growth.total_size)) }
                    td class="n" { (d.growth.total_size_per_day.map(|v| bytes(v as i64)).unwrap_or_else(|| "-".into())) }
                    td class="n" { (d.growth.bytes_per_1k_documents.map(|v| bytes(v as i64)).unwrap_or_else(|| "-".into())) }
                    @for days in crate::stats::PROJECTION_DAYS {
                        td class="n" { (d.growth.projections.iter().find(|p| p.days == days).map(|p| bytes(p.total_size)).unwrap_or_else(|| "-".into())) }
                    }
                }
            }
        }
        @for d in charted(g) {
            (growth_chart(d))
        }
        h3 { "Capacity" }
        p class="note" { "No storage budget is declared in the manifest, so capacity is shown as the projections above; bytes per 1,000 documents is the planning figure (\"~1 GB per 1K patients\")." }
    }
}

/// The databases drawn: those with projections, the largest first, at most [`CHARTS`].
fn charted(g: &GrowthPart) -> Vec<&DatabaseGrowth> {
    let mut v: Vec<&DatabaseGrowth> = g
        .databases
        .iter()
        .filter(|d| !d.growth.projections.is_empty())
        .collect();
    v.sort_by(|a, b| {
        b.growth
            .total_size
            .cmp(&a.growth.total_size)
            .then_with(|| a.growth.database.cmp(&b.growth.database))
    });
    v.truncate(CHARTS);
    v
}

const CHARTS: usize = 6;

fn growth_chart(d: &DatabaseGrowth) -> Markup {
    let last = d.points.last().map(|p| p.at_millis).unwrap_or(0);
    let day = 86_400_000f64;
    let recorded: Vec<(f64, f64)> = d
        .points
        .iter()
        .map(|p| ((p.at_millis - last) as f64 / day, p.total_size as f64))
        .collect();
    let projected: Vec<(f64, f64)> = d
        .growth
        .projections
        .iter()
        .map(|p| (p.days as f64, p.total_size as f64))
        .collect();
    let date_of = move |x: f64| {
        chrono::DateTime::from_timestamp_millis(last + (x * day) as i64)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let svg = charts::growth_line(&GrowthSeries {
        recorded: &recorded,
        projected: &projected,
        date_of: &date_of,
    });
    html! {
        figure class="growth-chart" data-database=(d.growth.database) data-recorded-points=(recorded.len()) data-projected-points=(projected.len()) {
            (PreEscaped(svg))
            figcaption class="legend" {
                strong { (d.growth.database) } ": "
                span class="rec" { "● recorded total size (" (recorded.len()) " snapshots)" }
                span class="proj" { "▲ projected at 30, 90 and 365 days" }
            }
        }
    }
}

fn indexes(i: &IndexesPart) -> Markup {
    html! {
        p { (i.total) " indexes, " (bytes(i.total_size)) "; " strong { (i.flagged.len()) } " flagged (unused since the server started, redundant with a longer index, or not declared in the spec)." }
        @if !i.flagged.is_empty() {
            table {
                tr { th { "collection" } th { "index" } th { "key" } th class="n" { "size" } th class="n" { "ops" } th { "flags" } }
                @for x in &i.flagged {
                    tr {
                        td { (x.database) "." (x.collection) }
                        td { (x.name) }
                        td { code { (x.key.to_string()) } }
                        td class="n" { (x.size.map(bytes).unwrap_or_else(|| "-".into())) }
                        td class="n" { (x.ops) }
                        td class="warn" {
                            (x.flags.join(", "))
                            @if let Some(w) = &x.redundant_with { " (by " (w) ")" }
                        }
                    }
                }
            }
        }
        (unavailable_list(&i.unavailable))
    }
}

fn unavailable_list(list: &[crate::stats::UnavailableAt]) -> Markup {
    html! {
        @if !list.is_empty() {
            ul class="note" {
                @for u in list {
                    li { (u.database) @if let Some(c) = &u.collection { "." (c) } ": " (u.unavailable.short()) }
                }
            }
        }
    }
}

/// Changes listed on the page; `plan` has the rest.
const DRIFT_LINES: usize = 25;

fn drift(d: &Drift) -> Markup {
    html! {
        @if d.in_sync() {
            p { span class="badge ok" { "in sync" } " The cluster matches the spec: " code { "mongoctl plan" } " has no change." }
        } @else {
            p class="warn" {
                (d.changes) " change(s) pending (" (d.destructive) " destructive)"
                @if d.migrations_pending > 0 { ", " (d.migrations_pending) " migration(s) not applied" }
                @if d.tenants_changed > 0 { ", " (d.tenants_changed) " tenant(s) with changes" }
                ": run " code { "mongoctl plan" } " for the details."
            }
            @if !d.lines.is_empty() {
                table {
                    tr { th { "change" } th { "target" } th { "summary" } }
                    @for l in d.lines.iter().take(DRIFT_LINES) {
                        tr { td { (l.action) @if l.destructive { " ⚠" } } td { (l.target) } td { (l.summary) } }
                    }
                }
                @if d.lines.len() > DRIFT_LINES {
                    p class="note" { "… and " (d.lines.len() - DRIFT_LINES) " more (" code { "mongoctl plan" } " lists them all)." }
                }
            }
        }
        @if !d.unmanaged.is_empty() {
            p class="note" { "Live but not declared: " (d.unmanaged.join(", ")) }
        }
    }
}

fn conformance(c: &ConformancePart) -> Markup {
    html! {
        p {
            @if c.violating_documents == 0 { span class="badge ok" { "conform" } " Every stored document passes its declared schema." }
            @else { span class="warn" { (c.violating_documents) " stored document(s) violate their declared schema." } }
        }
        table {
            tr { th { "collection" } th { "schema" } th class="n" { "violating" } th { "first reasons" } }
            @for x in &c.collections {
                tr {
                    td { (x.database) "." (x.collection) }
                    td { code { (x.schema_file) } }
                    td class="n" { @if let Some(s) = &x.skipped { (s) } @else { (x.violating) } }
                    td {
                        @for s in x.samples.iter().take(2) {
                            @for reason in s.reasons.iter().take(2) {
                                div { code { (reason.path) } " " (reason.message) " (line " (reason.schema_line) ")" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn audit(a: &AuditPart) -> Markup {
    html! {
        p { (a.users) " user(s) and " (a.roles) " custom role(s) held against the spec: " strong { (a.findings.len()) } " finding(s)." }
        @if !a.findings.is_empty() {
            table {
                tr { th { "severity" } th { "finding" } th { "subject" } th { "detail" } }
                @for f in &a.findings {
                    tr { td class=[(f.severity != "info").then_some("warn")] { (f.severity) } td { (f.kind) } td { (f.subject) } td { (f.detail) } }
                }
            }
        }
    }
}

fn backups(b: &BackupsPart) -> Markup {
    let newest = b.backups.iter().find(|x| x.complete);
    html! {
        @if let Some(dir) = &b.directory { p {
            "In " code { (dir) } ": " (b.backups.len()) " backup(s)."
            @if let Some(n) = newest {
                " Newest complete: " strong { (n.name) }
                @if let Some(age) = n.age_hours { ", " (format!("{age:.1}")) " hours old" }
                @match &n.last_drill {
                    Some(d) => { "; last drill " (d.at.format("%Y-%m-%d %H:%M UTC").to_string()) " " @if d.passed { span class="badge ok" { "passed" } } @else { span class="badge unavailable" { "FAILED" } } },
                    None => { "; " span class="warn" { "never drilled" } },
                }
                "."
            } @else {
                " " span class="warn" { "No complete backup." }
            }
        } } @else {
            p class="note" { "No backup directory given (" code { "--backups DIR" } "): only the drills recorded in the cluster are shown." }
        }
        @if !b.backups.is_empty() { table {
            tr { th { "backup" } th { "finished" } th class="n" { "age (h)" } th { "layout" } th class="n" { "namespaces" } th class="n" { "documents" } th class="n" { "size" } th { "status" } th { "last drill" } @if b.oplog_dir.is_some() { th { "restorable to (PITR)" } } }
            @for x in &b.backups {
                tr {
                    td { (x.name) }
                    td { (x.finished_at.as_deref().unwrap_or("-")) }
                    td class="n" { (x.age_hours.map(|a| format!("{a:.1}")).unwrap_or_else(|| "-".into())) }
                    td { (x.layout) @if x.gzip { " (gzip)" } }
                    td class="n" { (x.namespaces) }
                    td class="n" { (x.documents) }
                    td class="n" { (bytes(x.bytes as i64)) }
                    td { @if x.complete { "complete" @if x.oplog { ", oplog" } } @else { span class="warn" { "INCOMPLETE" } } }
                    td {
                        @match &x.last_drill {
                            Some(d) => {
                                (d.at.format("%Y-%m-%d %H:%M UTC").to_string()) " "
                                @if d.passed { "passed" } @else { span class="warn" { "FAILED (" (d.findings) " findings)" } }
                                ", RTO " (format!("{:.1}", d.restore_secs)) " s"
                            },
                            None => "-",
                        }
                    }
                    @if b.oplog_dir.is_some() {
                        td { @match &x.pitr_window { Some((from, to)) => { (from) " … " (to) }, None => "-", } }
                    }
                }
            }
        }
        }
        h3 { "Drills recorded in the cluster" }
        @if let Some(u) = &b.recorded_drills_unavailable {
            p class="reason" { (u) }
        } @else if b.recorded_drills.is_empty() {
            p class="note" { "None (" code { "mongoctl backup drill" } " records each drill when a cluster is configured)." }
        } @else {
            table {
                tr { th { "drill" } th { "backup" } th { "result" } th class="n" { "RTO (s)" } th class="n" { "RPO (h)" } }
                @for d in &b.recorded_drills {
                    tr {
                        td { (d.at) }
                        td { (d.backup) }
                        td { @if d.passed { span class="badge ok" { "passed" } } @else { span class="warn" { "FAILED (" (d.findings) " findings)" } } }
                        td class="n" { (d.restore_secs.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into())) }
                        td class="n" { (d.rpo_secs.map(|s| format!("{:.1}", s / 3600.0)).unwrap_or_else(|| "-".into())) }
                    }
                }
            }
        }
    }
}

fn slow(s: &SlowPart) -> Markup {
    html! {
        p { (s.operations.len()) " slowest profiled operation(s); " strong { (s.collscans) } " scan(s) the whole collection (COLLSCAN ⚠)." }
        table {
            tr { th { "time" } th { "namespace" } th { "op" } th class="n" { "ms" } th { "plan" } th class="n" { "examined / returned" } th { "suggested index" } }
            @for o in &s.operations {
                tr class=[o.op.collscan.then_some("collscan")] {
                    td { (o.op.ts) }
                    td { (o.op.ns) }
                    td { (o.op.op) }
                    td class="n" { (o.op.millis) }
                    td class=[o.op.collscan.then_some("warn")] {
                        (o.op.plan_summary.as_deref().unwrap_or("-")) @if o.op.collscan { " ⚠" }
                    }
                    td class="n" { (o.op.docs_examined.map(|v| v.to_string()).unwrap_or_else(|| "-".into())) " / " (o.op.returned.map(|v| v.to_string()).unwrap_or_else(|| "-".into())) }
                    td { @if let Some(k) = &o.suggested_index { code { (k.to_string()) } } @else { "-" } }
                }
            }
        }
        (unavailable_list(&s.unavailable))
    }
}

fn tenants(t: &TenantReport) -> Markup {
    let over: Vec<_> = t.over_quota().collect();
    html! {
        p {
            (t.tenants.len()) " tenant(s); "
            @if over.is_empty() { "none over quota." } @else { span class="warn" { (over.len()) " over quota." } }
            @if !t.quotas_declared { " No quotas are declared." }
        }
        @if !over.is_empty() {
            ul class="warn" {
                @for line in super::quotas::over_quota_lines(over.iter().copied()) { li { (line) } }
            }
        }
        h3 { "Largest tenants" }
        table {
            tr { th { "tenant" } th { "class" } th class="n" { "documents" } th class="n" { "data" } th { "quota" } th class="n" { "use" } th { "status" } }
            @for u in t.tenants.iter().take(10) {
                tr {
                    td { (u.tenant) }
                    td { (u.class.as_deref().unwrap_or("-")) }
                    td class="n" { (u.documents) }
                    td class="n" { (bytes(u.data_size as i64)) }
                    td { (super::quotas::quota_text(&u.quota)) }
                    td class="n" { (u.use_percent.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into())) }
                    td { (super::quotas::status(u)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Unavailable;

    fn empty_report() -> Report {
        let denied = Unavailable {
            error: "not authorized on admin to execute command { serverStatus: 1 }".into(),
            missing_privilege: Some("serverStatus on the cluster".into()),
        };
        Report {
            project: "p<&>".into(),
            environment: None,
            cluster_uri: "mongodb://u:****@h/".into(),
            generated_at: "2026-01-01T00:00:00Z".into(),
            cluster: Part::unavailable(&denied),
            thresholds: Part::no_data("no alert thresholds are declared"),
            sizes: Part::no_data("none of the declared databases exists yet"),
            growth: Part::no_data("1 snapshot(s) recorded"),
            indexes: Part::no_data("no index"),
            drift: Part::Ok {
                data: crate::report::drift(&crate::plan::Plan::default()),
            },
            conformance: Part::no_data("no schema"),
            audit: Part::no_data("no access"),
            backups: Part::no_data("no backup directory given"),
            slow_operations: Part::no_data("no profiled operation"),
            tenants: Part::no_data("no tenants"),
        }
    }

    #[test]
    fn every_section_says_why_it_is_empty_and_the_page_lists_the_unavailable_ones() {
        let page = html(&empty_report());
        for (id, _) in SECTIONS {
            assert!(page.contains(&format!("<section id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("No data: 1 snapshot(s) recorded"));
        assert!(page.contains("Unavailable: not authorized: needs serverStatus on the cluster"));
        assert!(page.contains("id=\"unavailable-sections\""));
        assert!(page.contains("<section id=\"drift\" data-status=\"ok\""));
        assert!(page.contains("in sync"));
        // Escaped, and nothing the page would fetch.
        assert!(page.contains("p&lt;&amp;&gt;") && !page.contains("p<&>"));
        assert!(!page.contains("<script") && !page.contains("src=\"http"));
        assert!(page.contains("default-src 'none'"));
    }

    #[test]
    fn thresholds_show_each_finding_and_when_each_budget_is_reached() {
        use crate::alerts::{Evaluation, Finding, Kind};
        let budget = |scope: &str, used: i64, days: Option<f64>, on: Option<&str>| BudgetUse {
            scope: scope.into(),
            used,
            budget: 1000,
            percent: used as f64 / 10.0,
            severity: (used >= 1000).then_some(Severity::Critical),
            bytes_per_day: Some(20.0),
            days_to_budget: days,
            reached_on: on.map(str::to_string),
        };
        let mut r = empty_report();
        r.thresholds = Part::Ok {
            data: ThresholdsPart {
                evaluation: Evaluation {
                    checked: vec![Kind::StorageBudget, Kind::ReplicationLag],
                    not_applicable: vec![(Kind::ReplicationLag, "not a replica set".into())],
                    findings: vec![Finding {
                        severity: Severity::Critical,
                        kind: Kind::StorageBudget,
                        subject: None,
                        value: Some(150.0),
                        threshold: Some(100.0),
                        message: "storage against budget 150% >= 100% (domain a: <x>)".into(),
                    }],
                },
                budgets: vec![
                    budget("domain a", 1500, Some(0.0), Some("2026-12-02")),
                    budget("domain b", 400, Some(30.0), Some("2027-01-01")),
                ],
            },
        };
        let page = html(&r);
        let part = &page[page.find("<section id=\"thresholds\"").unwrap()..];
        let part = &part[..part.find("</section>").unwrap()];
        assert!(
            part.contains("<strong>CRITICAL</strong>: 2 threshold(s)"),
            "{part}"
        );
        assert!(part.contains("1 crossed"), "{part}");
        assert!(part.contains("(domain a: &lt;x&gt;)"), "escaped: {part}");
        assert!(part.contains("<code>replicationLagSeconds</code> (not a replica set)"));
        let row = |scope: &str| {
            let at = part.find(&format!("data-scope=\"{scope}\"")).unwrap();
            &part[at..at + part[at..].find("</tr>").unwrap()]
        };
        assert!(row("domain a").contains(">reached<"), "{}", row("domain a"));
        assert!(
            row("domain a").contains("value=\"100.0\""),
            "the meter stops at full"
        );
        assert!(row("domain b").contains("in 30 days (2027-01-01)"));
        assert!(row("domain b").contains("20 B/day"));
    }

    #[test]
    fn a_page_without_unavailable_sections_has_no_such_list() {
        let mut r = empty_report();
        r.cluster = Part::no_data("x");
        assert!(!html(&r).contains("unavailable-sections"));
    }
}
