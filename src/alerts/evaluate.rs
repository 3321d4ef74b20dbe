//! Observations held against the declared thresholds: a pure function from
//! ([`Thresholds`], [`Observations`]) to findings, one per crossed level (or per threshold
//! whose measurement could not be taken). No client, no clock, no printing: `health --check`
//! and the report both draw from it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::thresholds::{Kind, Level, Thresholds, Unit};
use crate::stats::Quantile;

/// A measurement as it was gathered.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Observed<T> {
    Value(T),
    /// Does not apply here (e.g. replication on a standalone); says why.
    NotApplicable(String),
    /// Could not be read (no privilege, a failed command); says why.
    Unavailable(String),
    /// Not gathered (its threshold is not declared).
    #[default]
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberLag {
    pub member: String,
    pub lag_seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connections {
    pub current: i64,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseGrowth {
    pub database: String,
    pub samples: usize,
    /// Least-squares bytes per day; None with fewer than two snapshots at different times.
    pub bytes_per_day: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DomainStorage {
    pub domain: String,
    pub database: String,
    /// Storage + indexes, bytes.
    pub total_size: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnusedIndex {
    /// `database.collection`.
    pub namespace: String,
    pub name: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewestBackup {
    pub name: String,
    pub finished_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LastDrill {
    pub backup: String,
    pub at: DateTime<Utc>,
    pub passed: bool,
    pub findings: usize,
    /// Why the drill could not run, when it failed before checking anything.
    pub error: Option<String>,
}

/// Everything the thresholds are held against, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Observations {
    pub now: DateTime<Utc>,
    pub lag: Observed<Vec<MemberLag>>,
    pub oplog_window_hours: Observed<f64>,
    pub connections: Observed<Connections>,
    pub cache_dirty_percent: Observed<f64>,
    pub cache_hit_percent: Observed<f64>,
    /// Averages since the server started.
    pub read_latency_ms: Observed<f64>,
    pub write_latency_ms: Observed<f64>,
    /// The 99th percentiles of the server's latency histograms (since it started).
    pub read_p99: Observed<Quantile>,
    pub write_p99: Observed<Quantile>,
    pub growth: Observed<Vec<DatabaseGrowth>>,
    pub storage: Observed<Vec<DomainStorage>>,
    pub unused_indexes: Observed<Vec<UnusedIndex>>,
    /// Where the backups were read from (for messages).
    pub backup_store: String,
    /// The newest complete backup (None: there is none).
    pub newest_backup: Observed<Option<NewestBackup>>,
    /// The newest drill of any backup (None: no drill recorded).
    pub last_drill: Observed<Option<LastDrill>>,
}

impl Observations {
    pub fn new(now: DateTime<Utc>) -> Self {
        Observations {
            now,
            lag: Observed::Missing,
            oplog_window_hours: Observed::Missing,
            connections: Observed::Missing,
            cache_dirty_percent: Observed::Missing,
            cache_hit_percent: Observed::Missing,
            read_latency_ms: Observed::Missing,
            write_latency_ms: Observed::Missing,
            read_p99: Observed::Missing,
            write_p99: Observed::Missing,
            growth: Observed::Missing,
            storage: Observed::Missing,
            unused_indexes: Observed::Missing,
            backup_store: String::new(),
            newest_backup: Observed::Missing,
            last_drill: Observed::Missing,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// The measurement could not be taken.
    Unknown,
    Warning,
    Critical,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: Kind,
    /// What it is about: `member h:27018`, `database shop`, `index shop.orders.status_1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The measured value and the level it crossed, in the threshold's unit (bytes for
    /// sizes, percent, seconds, hours, days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The line after the severity: `replication lag 12s >= 10s (member h:27018)`.
    pub message: String,
}

/// What was held against what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The declared kinds, in order.
    pub checked: Vec<Kind>,
    /// Declared kinds that do not apply here, and why (`[{"kind", "reason"}]` in JSON).
    #[serde(serialize_with = "kind_and_reason")]
    pub not_applicable: Vec<(Kind, String)>,
    /// Most severe first.
    pub findings: Vec<Finding>,
}

fn kind_and_reason<S: serde::Serializer>(v: &[(Kind, String)], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct NotApplicable<'a> {
        kind: Kind,
        reason: &'a str,
    }
    s.collect_seq(v.iter().map(|(kind, reason)| NotApplicable {
        kind: *kind,
        reason,
    }))
}

impl Evaluation {
    /// The worst severity, None when nothing was found.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether a warn or critical level was crossed.
    pub fn crossed(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity != Severity::Unknown)
    }
}

/// What the cache hit rate and the latencies are averaged over.
const SINCE_START: &str = "average since the server started";

/// Holds every declared threshold against the observations.
pub fn evaluate(t: &Thresholds, o: &Observations) -> Evaluation {
    let mut ev = Evaluation {
        checked: t.levels.keys().copied().collect(),
        not_applicable: Vec::new(),
        findings: Vec::new(),
    };
    for (&kind, level) in &t.levels {
        let mut out = Out {
            kind,
            level,
            ev: &mut ev,
        };
        match kind {
            Kind::ReplicationLag => out.each(&o.lag, |m| {
                Some((m.lag_seconds, format!("member {}", m.member)))
            }),
            Kind::OplogWindow => out.each_one(&o.oplog_window_hours, |h| (*h, None)),
            Kind::ConnectionsUsed => out.each_one(&o.connections, |c| {
                let all = c.current + c.available;
                let pct = if all > 0 {
                    c.current as f64 * 100.0 / all as f64
                } else {
                    0.0
                };
                (pct, Some(format!("{} of {all}", c.current)))
            }),
            Kind::CacheDirty => out.each_one(&o.cache_dirty_percent, |p| (*p, None)),
            Kind::CacheHit => out.each_one(&o.cache_hit_percent, |p| {
                (*p, Some(SINCE_START.to_string()))
            }),
            Kind::ReadLatency => out.each_one(&o.read_latency_ms, |ms| {
                (*ms, Some(SINCE_START.to_string()))
            }),
            Kind::WriteLatency => out.each_one(&o.write_latency_ms, |ms| {
                (*ms, Some(SINCE_START.to_string()))
            }),
            Kind::ReadLatencyP99 => {
                out.each_one(&o.read_p99, |q| (q.ms, Some(in_bucket(q, "reads"))))
            }
            Kind::WriteLatencyP99 => {
                out.each_one(&o.write_p99, |q| (q.ms, Some(in_bucket(q, "writes"))))
            }
            Kind::GrowthPerDay => out.each(&o.growth, |g| {
                g.bytes_per_day.map(|b| {
                    (
                        b,
                        format!("database {}, {} snapshots", g.database, g.samples),
                    )
                })
            }),
            Kind::StorageBudget => storage(&mut out, t, o),
            Kind::UnusedIndexSize => out.each(&o.unused_indexes, |i| {
                Some((i.size as f64, format!("index {}.{}", i.namespace, i.name)))
            }),
            Kind::BackupAge => match &o.newest_backup {
                Observed::Value(None) => out.push(
                    Severity::Critical,
                    None,
                    format!("backup age: no complete backup in {}", o.backup_store),
                ),
                Observed::Value(Some(b)) => out.compare(
                    hours_between(b.finished_at, o.now),
                    Some(format!("backup {} in {}", b.name, o.backup_store)),
                ),
                other => {
                    out.gate(other);
                }
            },
            Kind::DrillAge => match &o.last_drill {
                Observed::Value(None) => out.push(
                    Severity::Critical,
                    None,
                    format!("last drill age: no drill recorded in {}", o.backup_store),
                ),
                Observed::Value(Some(d)) if !d.passed => out.push(
                    Severity::Critical,
                    Some(format!("backup {}", d.backup)),
                    format!(
                        "last drill failed {} at {} (backup {} in {})",
                        match &d.error {
                            Some(e) => format!("({e})"),
                            None => format!("with {} finding(s)", d.findings),
                        },
                        d.at.format("%Y-%m-%d %H:%M:%S UTC"),
                        d.backup,
                        o.backup_store
                    ),
                ),
                Observed::Value(Some(d)) => out.compare(
                    hours_between(d.at, o.now) / 24.0,
                    Some(format!("backup {} in {}", d.backup, o.backup_store)),
                ),
                other => {
                    out.gate(other);
                }
            },
        }
    }
    ev.findings
        .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.kind.cmp(&b.kind)));
    ev
}

/// `bucket 196.6–262.1ms of 40 reads since the server started`.
fn in_bucket(q: &Quantile, what: &str) -> String {
    let to = q
        .bucket_to_ms
        .map_or_else(|| "…".to_string(), |t| show(t, Unit::Milliseconds));
    format!(
        "bucket {}–{to} of {} {what} since the server started",
        sig3(q.bucket_from_ms),
        q.ops
    )
}

fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds() as f64 / 3_600_000.0).max(0.0)
}

/// Each domain's total size against its budget, and the sum against the total budget.
fn storage(out: &mut Out, t: &Thresholds, o: &Observations) {
    let Some(rows) = out.gate(&o.storage) else {
        return;
    };
    for (domain, &budget) in &t.budgets.domains {
        let used: i64 = rows
            .iter()
            .filter(|r| &r.domain == domain)
            .map(|r| r.total_size)
            .sum();
        out.compare(
            percent_of(used, budget),
            Some(format!("domain {domain}: {}", used_of(used, budget))),
        );
    }
    if let Some(budget) = t.budgets.total {
        let used: i64 = rows.iter().map(|r| r.total_size).sum();
        out.compare(
            percent_of(used, budget),
            Some(format!("all domains: {}", used_of(used, budget))),
        );
    }
}

fn used_of(used: i64, budget: u64) -> String {
    format!(
        "{} of {}",
        show(used as f64, Unit::Bytes),
        show(budget as f64, Unit::Bytes)
    )
}

/// `used` as a percentage of `budget` (infinite for anything over a zero budget).
pub fn percent_of(used: i64, budget: u64) -> f64 {
    if budget == 0 {
        return if used > 0 { f64::INFINITY } else { 0.0 };
    }
    used as f64 * 100.0 / budget as f64
}

struct Out<'a> {
    kind: Kind,
    level: &'a Level,
    ev: &'a mut Evaluation,
}

impl Out<'_> {
    fn push(&mut self, severity: Severity, subject: Option<String>, message: String) {
        self.ev.findings.push(Finding {
            severity,
            kind: self.kind,
            subject,
            value: None,
            threshold: None,
            message,
        });
    }

    /// Not applicable / unavailable / missing, or hands the value on.
    fn gate<'v, T>(&mut self, o: &'v Observed<T>) -> Option<&'v T> {
        match o {
            Observed::Value(v) => Some(v),
            Observed::NotApplicable(why) => {
                self.ev.not_applicable.push((self.kind, why.clone()));
                None
            }
            Observed::Unavailable(why) => {
                self.push(
                    Severity::Unknown,
                    None,
                    format!("{}: {why}", self.kind.label()),
                );
                None
            }
            Observed::Missing => {
                self.push(
                    Severity::Unknown,
                    None,
                    format!("{}: not measured", self.kind.label()),
                );
                None
            }
        }
    }

    fn each_one<T>(&mut self, o: &Observed<T>, f: impl Fn(&T) -> (f64, Option<String>)) {
        if let Some(v) = self.gate(o) {
            let (value, subject) = f(v);
            self.compare(value, subject);
        }
    }

    fn each<T>(&mut self, o: &Observed<Vec<T>>, f: impl Fn(&T) -> Option<(f64, String)>) {
        if let Some(items) = self.gate(o) {
            for (value, subject) in items.iter().filter_map(&f) {
                self.compare(value, Some(subject));
            }
        }
    }

    /// A finding when `value` reaches the critical (else the warn) level.
    fn compare(&mut self, value: f64, subject: Option<String>) {
        let Some((severity, threshold)) = crossed(self.kind, self.level, value) else {
            return;
        };
        let unit = self.kind.unit();
        let op = if self.kind.lower_is_worse() {
            "<="
        } else {
            ">="
        };
        let mut message = format!(
            "{} {} {op} {}",
            self.kind.label(),
            show(value, unit),
            show(threshold, unit)
        );
        if let Some(s) = &subject {
            message.push_str(&format!(" ({s})"));
        }
        self.ev.findings.push(Finding {
            severity,
            kind: self.kind,
            subject,
            value: Some(value),
            threshold: Some(threshold),
            message,
        });
    }
}

/// The level `value` reaches, critical first.
pub fn crossed(kind: Kind, level: &Level, value: f64) -> Option<(Severity, f64)> {
    let reaches = |t: f64| {
        if kind.lower_is_worse() {
            value <= t
        } else {
            value >= t
        }
    };
    if let Some(c) = level.critical.filter(|&c| reaches(c)) {
        return Some((Severity::Critical, c));
    }
    level
        .warn
        .filter(|&w| reaches(w))
        .map(|w| (Severity::Warning, w))
}

/// A value in its unit, to three significant digits: `12s`, `0.0125h`, `87.5%`, `1.50 MiB`.
pub fn show(x: f64, unit: Unit) -> String {
    match unit {
        Unit::Milliseconds => format!("{}ms", sig3(x)),
        Unit::Seconds => format!("{}s", sig3(x)),
        Unit::Hours => format!("{}h", sig3(x)),
        Unit::Days => format!("{}d", sig3(x)),
        Unit::Percent => format!("{}%", sig3(x)),
        Unit::Bytes => bytes(x),
        Unit::BytesPerDay => format!("{}/day", bytes(x)),
    }
}

fn bytes(x: f64) -> String {
    if x.is_finite() && x >= 0.0 {
        indicatif::HumanBytes(x.round() as u64).to_string()
    } else {
        format!("{} B", sig3(x))
    }
}

/// Three significant digits, trailing zeros dropped (integers as they are).
fn sig3(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::alerts::thresholds::Budgets;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn levels(pairs: &[(Kind, Option<f64>, Option<f64>)]) -> Thresholds {
        Thresholds {
            levels: pairs
                .iter()
                .map(|&(k, warn, critical)| (k, Level { warn, critical }))
                .collect(),
            ..Default::default()
        }
    }

    fn lines(ev: &Evaluation) -> Vec<String> {
        ev.findings
            .iter()
            .map(|f| format!("{} - {}", f.severity.word(), f.message))
            .collect()
    }

    #[test]
    fn levels_are_reached_at_equality_and_critical_wins() {
        let l = Level {
            warn: Some(10.0),
            critical: Some(60.0),
        };
        assert_eq!(crossed(Kind::ReplicationLag, &l, 9.99), None);
        assert_eq!(
            crossed(Kind::ReplicationLag, &l, 10.0),
            Some((Severity::Warning, 10.0))
        );
        assert_eq!(
            crossed(Kind::ReplicationLag, &l, 61.0),
            Some((Severity::Critical, 60.0))
        );
        let window = Level {
            warn: Some(48.0),
            critical: Some(24.0),
        };
        assert_eq!(crossed(Kind::OplogWindow, &window, 50.0), None);
        assert_eq!(
            crossed(Kind::OplogWindow, &window, 30.0),
            Some((Severity::Warning, 48.0))
        );
        assert_eq!(
            crossed(Kind::OplogWindow, &window, 0.01),
            Some((Severity::Critical, 24.0))
        );
        let only_critical = Level {
            warn: None,
            critical: Some(5.0),
        };
        assert_eq!(crossed(Kind::CacheDirty, &only_critical, 4.0), None);
    }

    #[test]
    fn one_line_per_crossing_most_severe_first() {
        let t = levels(&[
            (Kind::ReplicationLag, Some(10.0), Some(60.0)),
            (Kind::OplogWindow, Some(48.0), Some(24.0)),
            (Kind::ConnectionsUsed, Some(80.0), Some(95.0)),
            (Kind::CacheDirty, Some(5.0), Some(20.0)),
            (Kind::UnusedIndexSize, Some(1024.0 * 1024.0), None),
            (Kind::GrowthPerDay, Some(1e9), None),
        ]);
        let mut o = Observations::new(at("2026-12-02T12:00:00Z"));
        o.lag = Observed::Value(vec![
            MemberLag {
                member: "h:1".into(),
                lag_seconds: 0.0,
            },
            MemberLag {
                member: "h:2".into(),
                lag_seconds: 12.0,
            },
        ]);
        o.oplog_window_hours = Observed::Value(0.0125);
        o.connections = Observed::Value(Connections {
            current: 90,
            available: 10,
        });
        o.cache_dirty_percent = Observed::Value(1.5);
        o.unused_indexes = Observed::Value(vec![UnusedIndex {
            namespace: "shop.orders".into(),
            name: "status_1".into(),
            size: 3 << 20,
        }]);
        o.growth = Observed::Value(vec![DatabaseGrowth {
            database: "shop".into(),
            samples: 1,
            bytes_per_day: None,
        }]);
        let ev = evaluate(&t, &o);
        assert_eq!(
            lines(&ev),
            [
                "CRITICAL - oplog window 0.0125h <= 24h",
                "WARNING - replication lag 12s >= 10s (member h:2)",
                "WARNING - connections in use 90% >= 80% (90 of 100)",
                "WARNING - unused index size 3.00 MiB >= 1.00 MiB (index shop.orders.status_1)",
            ]
        );
        assert!(ev.crossed());
        assert_eq!(ev.worst(), Some(Severity::Critical));
        assert_eq!(ev.checked.len(), 6);
    }

    #[test]
    fn not_applicable_is_noted_and_unavailable_is_unknown() {
        let t = levels(&[
            (Kind::ReplicationLag, Some(10.0), None),
            (Kind::OplogWindow, None, Some(24.0)),
            (Kind::CacheDirty, None, Some(24.0)),
        ]);
        let mut o = Observations::new(at("2026-12-02T12:00:00Z"));
        o.lag = Observed::NotApplicable("not a replica set".into());
        o.oplog_window_hours =
            Observed::Unavailable("not authorized: needs find on local.oplog.rs".into());
        let ev = evaluate(&t, &o);
        assert_eq!(
            lines(&ev),
            [
                "UNKNOWN - oplog window: not authorized: needs find on local.oplog.rs",
                "UNKNOWN - cache dirty: not measured",
            ]
        );
        assert_eq!(
            ev.not_applicable,
            [(Kind::ReplicationLag, "not a replica set".to_string())]
        );
        assert!(!ev.crossed());
        assert_eq!(ev.worst(), Some(Severity::Unknown));
    }

    #[test]
    fn budgets_per_domain_and_in_total() {
        let mut t = levels(&[(Kind::StorageBudget, Some(80.0), Some(100.0))]);
        t.budgets = Budgets {
            total: Some(10_000),
            domains: BTreeMap::from([("auth".into(), 1000), ("chat".into(), 100_000)]),
        };
        let mut o = Observations::new(at("2026-12-02T12:00:00Z"));
        o.storage = Observed::Value(vec![
            DomainStorage {
                domain: "auth".into(),
                database: "a".into(),
                total_size: 1500,
            },
            DomainStorage {
                domain: "chat".into(),
                database: "c".into(),
                total_size: 7000,
            },
        ]);
        assert_eq!(
            lines(&evaluate(&t, &o)),
            [
                "CRITICAL - storage against budget 150% >= 100% (domain auth: 1.46 KiB of 1000 B)",
                "WARNING - storage against budget 85% >= 80% (all domains: 8.30 KiB of 9.77 KiB)",
            ]
        );
    }

    #[test]
    fn backup_and_drill_ages_and_their_absence() {
        let t = levels(&[
            (Kind::BackupAge, Some(26.0), Some(48.0)),
            (Kind::DrillAge, Some(7.0), Some(30.0)),
        ]);
        let mut o = Observations::new(at("2026-12-02T12:00:00Z"));
        o.backup_store = "backups".into();
        o.newest_backup = Observed::Value(Some(NewestBackup {
            name: "nov-30".into(),
            finished_at: at("2026-11-30T00:00:00Z"),
        }));
        o.last_drill = Observed::Value(Some(LastDrill {
            backup: "nov-30".into(),
            at: at("2026-11-22T00:00:00Z"),
            passed: true,
            findings: 0,
            error: None,
        }));
        assert_eq!(
            lines(&evaluate(&t, &o)),
            [
                "CRITICAL - backup age 60h >= 48h (backup nov-30 in backups)",
                "WARNING - last drill age 10.5d >= 7d (backup nov-30 in backups)",
            ]
        );
        o.newest_backup = Observed::Value(None);
        o.last_drill = Observed::Value(Some(LastDrill {
            backup: "nov-30".into(),
            at: at("2026-12-02T11:00:00Z"),
            passed: false,
            findings: 2,
            error: None,
        }));
        assert_eq!(
            lines(&evaluate(&t, &o)),
            [
                "CRITICAL - backup age: no complete backup in backups",
                "CRITICAL - last drill failed with 2 finding(s) at 2026-12-02 11:00:00 UTC (backup nov-30 in backups)",
            ]
        );
        o.last_drill = Observed::Value(None);
        assert!(
            lines(&evaluate(&t, &o))
                .contains(&"CRITICAL - last drill age: no drill recorded in backups".to_string())
        );
    }

    #[test]
    fn a_cache_hit_rate_alerts_when_it_drops_and_latencies_when_they_rise() {
        let t = levels(&[
            (Kind::CacheHit, Some(99.0), Some(80.0)),
            (Kind::ReadLatency, Some(20.0), Some(50.0)),
            (Kind::WriteLatency, Some(20.0), Some(100.0)),
        ]);
        let mut o = Observations::new(at("2026-12-02T12:00:00Z"));
        o.cache_hit_percent = Observed::Value(97.25);
        o.read_latency_ms = Observed::Value(51.0);
        o.write_latency_ms = Observed::NotApplicable("no write since the server started".into());
        let ev = evaluate(&t, &o);
        assert_eq!(
            lines(&ev),
            [
                "CRITICAL - read latency 51ms >= 50ms (average since the server started)",
                "WARNING - cache hit 97.2% <= 99% (average since the server started)",
            ]
        );
        assert_eq!(ev.not_applicable.len(), 1);
    }

    #[test]
    fn a_p99_names_its_bucket_and_an_idle_server_has_none() {
        let t = levels(&[
            (Kind::ReadLatencyP99, Some(50.0), Some(500.0)),
            (Kind::WriteLatencyP99, Some(50.0), None),
        ]);
        let mut o = Observations::new(at("2026-12-02T12:00:00Z"));
        o.read_p99 = Observed::Value(Quantile {
            ms: 255.59,
            bucket_from_ms: 196.608,
            bucket_to_ms: Some(262.144),
            ops: 40,
        });
        o.write_p99 = Observed::NotApplicable("no write since the server started".into());
        let ev = evaluate(&t, &o);
        assert_eq!(
            lines(&ev),
            [
                "WARNING - read latency p99 256ms >= 50ms (bucket 197–262ms of 40 reads since the server started)"
            ]
        );
        assert_eq!(ev.not_applicable[0].0, Kind::WriteLatencyP99);
    }

    #[test]
    fn values_are_shown_to_three_significant_digits() {
        assert_eq!(show(12.0, Unit::Seconds), "12s");
        assert_eq!(show(0.012_345, Unit::Hours), "0.0123h");
        assert_eq!(show(87.54, Unit::Percent), "87.5%");
        assert_eq!(show(1234.5678, Unit::Percent), "1235%");
        assert_eq!(
            show(1.5 * 1024.0 * 1024.0, Unit::BytesPerDay),
            "1.50 MiB/day"
        );
    }
}
