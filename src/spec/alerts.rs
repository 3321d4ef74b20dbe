//! The manifest's `"alerts"`: a warn and a critical level per kind of measurement
//! (`{"replicationLagSeconds": {"warn": 10, "critical": 60}, …}`), storage budgets, and the
//! backup directory. Every problem is a located diagnostic; what is read becomes
//! [`Thresholds`].

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::fields::{Reader, did_you_mean, json_kind};
use crate::alerts::thresholds::{Budgets, Kind, Level, Thresholds, Unit};
use crate::jsonpath::JsonPath;

const LEVEL: &[&str] = &["warn", "critical", "description"];
const BUDGET: &[&str] = &["warn", "critical", "description", "total", "domains"];

/// Reads `"alerts"`; `plain` are the declared domains that are not tenant templates (budgets
/// name them) among all the `declared` ones, `root` the workspace (a relative `backups`
/// directory is inside it).
pub fn read(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    plain: &[String],
    declared: &[String],
    root: &Path,
) -> Thresholds {
    let mut t = Thresholds::default();
    let mut allowed: Vec<&str> = Kind::ALL.iter().map(|k| k.key()).collect();
    allowed.extend(["backups", "description"]);
    let Some(map) = r.object(p, v, &allowed, "the alert thresholds") else {
        return t;
    };
    for (key, kv) in map {
        let kp = p.key(key.as_str());
        if key == "backups" {
            t.backups = read_dir(r, &kp, kv, root);
            continue;
        }
        let Some(kind) = Kind::from_key(key) else {
            continue;
        };
        let fields = if kind == Kind::StorageBudget {
            BUDGET
        } else {
            LEVEL
        };
        let Some(m) = r.object(&kp, kv, fields, &format!("the \"{key}\" threshold")) else {
            continue;
        };
        let level = read_level(r, &kp, m, kind);
        if kind == Kind::StorageBudget {
            t.budgets = read_budgets(r, &kp, m, plain, declared);
        }
        if let Some(level) = level {
            t.levels.insert(kind, level);
        }
    }
    t
}

fn read_dir(r: &mut Reader, p: &JsonPath, v: &Value, root: &Path) -> Option<PathBuf> {
    let s = r.string(p, v)?;
    if s.trim().is_empty() {
        r.error(
            p.clone(),
            "expected the directory backups are kept in, found an empty string",
        );
        return None;
    }
    Some(root.join(s))
}

/// `warn` and `critical` (one of them at least), in order for the kind's direction.
fn read_level(r: &mut Reader, p: &JsonPath, m: &Map<String, Value>, kind: Kind) -> Option<Level> {
    let mut level = Level::default();
    let mut ok = true;
    for (name, slot) in [("warn", &mut level.warn), ("critical", &mut level.critical)] {
        if let Some(x) = m.get(name) {
            match value(kind, x) {
                Ok(n) => *slot = Some(n),
                Err(e) => {
                    r.error(p.key(name), e);
                    ok = false;
                }
            }
        }
    }
    if !ok {
        return None;
    }
    let (Some(w), Some(c)) = (level.warn, level.critical) else {
        if level.warn.is_none() && level.critical.is_none() {
            r.error(
                p.clone(),
                format!(
                    "declare \"warn\", \"critical\" or both for \"{}\"",
                    kind.key()
                ),
            );
            return None;
        }
        return Some(level);
    };
    let (ordered, rule) = if kind.lower_is_worse() {
        (w > c, "above")
    } else {
        (w < c, "below")
    };
    if !ordered {
        r.error(
            p.key("warn"),
            format!(
                "warn ({}) must be {rule} critical ({}): {} alerts when the value {}",
                shown(w),
                shown(c),
                kind.label(),
                if kind.lower_is_worse() {
                    "falls to a level"
                } else {
                    "reaches a level"
                }
            ),
        );
        return None;
    }
    Some(level)
}

fn shown(x: f64) -> String {
    if x == x.trunc() {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// A level in the kind's unit: a size for sizes, else a number ≥ 0 (a percentage ≤ 100,
/// except against a budget, which may be exceeded).
fn value(kind: Kind, v: &Value) -> Result<f64, String> {
    match kind.unit() {
        Unit::Bytes | Unit::BytesPerDay => super::quotas::size(v).map(|n| n as f64),
        unit => {
            let what = match unit {
                Unit::Milliseconds => "a number of milliseconds",
                Unit::Seconds => "a number of seconds",
                Unit::Hours => "a number of hours",
                Unit::Days => "a number of days",
                _ => "a percentage",
            };
            let n = v
                .as_f64()
                .ok_or_else(|| format!("expected {what}, found {}", super::fields::describe(v)))?;
            if n < 0.0 {
                return Err(format!("expected {what} (0 or more), found {n}"));
            }
            if unit == Unit::Percent && kind != Kind::StorageBudget && n > 100.0 {
                return Err(format!("expected a percentage from 0 to 100, found {n}"));
            }
            Ok(n)
        }
    }
}

/// `"total"` and `"domains"` of `storageBudget` (one of them at least).
fn read_budgets(
    r: &mut Reader,
    p: &JsonPath,
    m: &Map<String, Value>,
    domains: &[String],
    declared: &[String],
) -> Budgets {
    let mut b = Budgets::default();
    let budget = |r: &mut Reader, bp: JsonPath, x: &Value| match super::quotas::size(x) {
        Ok(0) => {
            r.error(bp, "a budget must be more than 0 bytes");
            None
        }
        Ok(n) => Some(n),
        Err(e) => {
            r.error(bp, e);
            None
        }
    };
    if let Some(x) = m.get("total") {
        b.total = budget(r, p.key("total"), x);
    }
    if let Some(x) = m.get("domains") {
        let dp = p.key("domains");
        match x.as_object() {
            Some(map) => {
                for (name, bv) in map {
                    let np = dp.key(name.as_str());
                    if declared.contains(name) && !domains.contains(name) {
                        r.error(
                            np,
                            format!("\"{name}\" is a tenant template: its tenants are held against tenant quotas (\"tenantClasses\"), not a storage budget"),
                        );
                        continue;
                    }
                    if !domains.contains(name) {
                        let hint = did_you_mean(name, domains.iter().map(String::as_str))
                            .map(|s| format!("; did you mean \"{s}\"?"))
                            .unwrap_or_default();
                        r.error(np, format!("\"{name}\" is not a declared domain{hint}"));
                        continue;
                    }
                    if let Some(n) = budget(r, np, bv) {
                        b.domains.insert(name.clone(), n);
                    }
                }
            }
            None => r.error(
                dp,
                format!(
                    "expected an object of domain → budget, found {}",
                    json_kind(x)
                ),
            ),
        }
    }
    if !m.contains_key("total") && !m.contains_key("domains") {
        r.error(
            p.clone(),
            "storageBudget needs the budgets its levels are percentages of: \"total\" (all domains) and/or \"domains\" ({\"auth\": \"100MB\"})",
        );
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::source::SourceFile;

    fn read_text(text: &str) -> (Thresholds, Vec<String>) {
        let (src, mut diags) =
            SourceFile::parse(Path::new("mongoctl.json"), text.to_string()).unwrap();
        let mut r = Reader::new(&src, &mut diags);
        let t = read(
            &mut r,
            &JsonPath::root().key("alerts"),
            &src.value["alerts"],
            &["auth".to_string(), "chat".to_string()],
            &["auth".to_string(), "chat".to_string(), "tenant".to_string()],
            Path::new("/ws"),
        );
        (t, diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_full_declaration_is_read() {
        let (t, diags) = read_text(
            r#"{"alerts": {
  "backups": "backups",
  "replicationLagSeconds": {"warn": 10, "critical": 60},
  "oplogWindowHours": {"warn": 48, "critical": 24},
  "connectionsUsedPercent": {"warn": 80},
  "growthPerDay": {"warn": "1GiB", "critical": 5000000000},
  "storageBudget": {"warn": 80, "critical": 120, "total": "50GB", "domains": {"auth": "100MB"}},
  "drillAgeDays": {"critical": 31.5}
}}"#,
        );
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(t.backups, Some(PathBuf::from("/ws/backups")));
        assert_eq!(
            t.levels[&Kind::ReplicationLag],
            Level {
                warn: Some(10.0),
                critical: Some(60.0)
            }
        );
        assert_eq!(
            t.levels[&Kind::GrowthPerDay].warn,
            Some((1u64 << 30) as f64)
        );
        assert_eq!(t.levels[&Kind::DrillAge].critical, Some(31.5));
        assert_eq!(t.levels[&Kind::ConnectionsUsed].critical, None);
        assert_eq!(t.budgets.total, Some(50_000_000_000));
        assert_eq!(t.budgets.domains["auth"], 100_000_000);
        assert!(t.reads_backups());
        assert_eq!(t.levels.len(), 6);
    }

    #[test]
    fn problems_are_reported_at_their_line_and_path() {
        let (t, diags) = read_text(
            "{\"alerts\": {\n\"replicationLag\": {\"warn\": 1},\n\"oplogWindowHours\": {\"warn\": 6, \"critical\": 24},\n\"cacheDirtyPercent\": {\"warn\": 150},\n\"unusedIndexSize\": {\"warn\": \"lots\"},\n\"backupAgeHours\": {},\n\"storageBudget\": {\"warn\": 90, \"domains\": {\"auht\": \"1GB\"}},\n\"drillAgeDays\": {\"warn\": -1, \"critical\": \"x\"}\n}}",
        );
        let has = |line: usize, text: &str| {
            diags
                .iter()
                .any(|d| d.starts_with(&format!("mongoctl.json:{line}:")) && d.contains(text))
        };
        assert!(
            has(
                2,
                "alerts.replicationLag: unknown field \"replicationLag\" in the alert thresholds; did you mean \"replicationLagSeconds\"?"
            ),
            "{diags:#?}"
        );
        assert!(
            has(
                3,
                "alerts.oplogWindowHours.warn: warn (6) must be above critical (24)"
            ),
            "{diags:#?}"
        );
        assert!(
            has(
                4,
                "alerts.cacheDirtyPercent.warn: expected a percentage from 0 to 100, found 150"
            ),
            "{diags:#?}"
        );
        assert!(
            has(5, "alerts.unusedIndexSize.warn: expected a size"),
            "{diags:#?}"
        );
        assert!(
            has(
                6,
                "alerts.backupAgeHours: declare \"warn\", \"critical\" or both"
            ),
            "{diags:#?}"
        );
        assert!(
            has(
                7,
                "alerts.storageBudget.domains.auht: \"auht\" is not a declared domain; did you mean \"auth\"?"
            ),
            "{diags:#?}"
        );
        assert!(
            has(
                8,
                "alerts.drillAgeDays.warn: expected a number of days (0 or more), found -1"
            ),
            "{diags:#?}"
        );
        assert!(
            has(
                8,
                "alerts.drillAgeDays.critical: expected a number of days, found \"x\""
            ),
            "{diags:#?}"
        );
        assert_eq!(diags.len(), 8, "{diags:#?}");
        assert_eq!(t.levels.keys().collect::<Vec<_>>(), [&Kind::StorageBudget]);
    }

    #[test]
    fn a_budget_threshold_needs_budgets_of_plain_domains() {
        let (_, diags) = read_text(r#"{"alerts": {"storageBudget": {"warn": 80}}}"#);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(
            diags[0].contains("storageBudget needs the budgets"),
            "{diags:#?}"
        );
        let (_, diags) = read_text(
            r#"{"alerts": {"storageBudget": {"warn": 80, "domains": {"tenant": "1GB"}}}}"#,
        );
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(
            diags[0]
                .contains("alerts.storageBudget.domains.tenant: \"tenant\" is a tenant template"),
            "{diags:#?}"
        );
    }
}
