//! The thresholds part: the manifest's alert thresholds held against the cluster and the
//! backup store (the evaluation `health --check` prints, from `crate::alerts`), and each
//! storage budget against the measured size and the recorded growth: how much of it is used
//! and, at the recorded rate, when it will be reached.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mongodb::Client;
use serde::Serialize;

use super::{GrowthPart, Part};
use crate::alerts::evaluate::{DomainStorage, crossed, percent_of};
use crate::alerts::observe::Scope;
use crate::alerts::{self, Evaluation, Kind, Observations, Observed, Severity, Thresholds};
use crate::model::ClusterState;
use crate::stats::Target;

/// What the thresholds are held against.
pub struct AlertInputs<'a> {
    pub thresholds: &'a Thresholds,
    /// The declared databases the thresholds apply to (a template's tenants are held
    /// against their quotas instead).
    pub targets: Vec<Target>,
    /// Where backup and drill ages are read (`--backups`, else the manifest's).
    pub backups: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThresholdsPart {
    pub evaluation: Evaluation,
    /// One row per declared budget (`storageBudget`), the domains' first.
    pub budgets: Vec<BudgetUse>,
}

/// One storage budget: a domain's or all domains'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetUse {
    /// `domain auth` or `all domains`.
    pub scope: String,
    /// Storage + indexes now, bytes.
    pub used: i64,
    pub budget: u64,
    pub percent: f64,
    /// The level `percent` reaches (storageBudget's warn/critical), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The recorded growth (least squares over `stats --record`'s snapshots); None when
    /// fewer than two snapshots were taken.
    pub bytes_per_day: Option<f64>,
    /// Days until `used` reaches `budget` at that rate: 0 once reached; None when not
    /// growing or no growth is recorded.
    pub days_to_budget: Option<f64>,
    /// The day it is reached (UTC), when `days_to_budget` is known.
    pub reached_on: Option<String>,
}

/// Observes and evaluates the declared thresholds. `None`: nothing is declared.
pub async fn observe_alerts(
    client: &Client,
    a: &AlertInputs<'_>,
    desired: &ClusterState,
    metadata_db: &str,
) -> Option<anyhow::Result<Observations>> {
    let t = a.thresholds;
    if t.is_empty() {
        return None;
    }
    let mut o = Observations::new(Utc::now());
    if t.reads_backups() {
        match &a.backups {
            Some(dir) => alerts::backups::observe(dir, &mut o),
            None => {
                let why = "no backup directory: pass --backups DIR or declare \"backups\" in the manifest's \"alerts\"".to_string();
                o.newest_backup = Observed::Unavailable(why.clone());
                o.last_drill = Observed::Unavailable(why);
            }
        }
    }
    let scope = Scope {
        targets: &a.targets,
        desired,
        metadata_db,
    };
    Some(
        alerts::observe::observe(client, t, &scope, &mut o)
            .await
            .map(|()| o),
    )
}

/// The part, from the observations and the growth part's rates.
pub fn thresholds_part(
    t: &Thresholds,
    observed: Option<anyhow::Result<Observations>>,
    growth: &Part<GrowthPart>,
) -> Part<ThresholdsPart> {
    let o = match observed {
        None => {
            return Part::no_data(format!(
                "no alert thresholds are declared: add \"alerts\" to {} (see `mongoctl health --check`)",
                crate::spec::MANIFEST_FILE
            ));
        }
        Some(Err(e)) => return Part::failed(&e, "serverStatus", "the cluster"),
        Some(Ok(o)) => o,
    };
    let budgets = match &o.storage {
        Observed::Value(rows) => {
            let rates: Vec<(&str, Option<f64>)> = growth.data().map_or_else(Vec::new, |g| {
                g.databases
                    .iter()
                    .map(|d| (d.growth.domain.as_str(), d.growth.total_size_per_day))
                    .collect()
            });
            budget_use(t, rows, &rates, o.now)
        }
        _ => Vec::new(),
    };
    Part::Ok {
        data: ThresholdsPart {
            evaluation: alerts::evaluate(t, &o),
            budgets,
        },
    }
}

/// Each declared budget against the domains' sizes and growth rates (per database:
/// `(domain, bytes per day)`); pure.
pub fn budget_use(
    t: &Thresholds,
    storage: &[DomainStorage],
    rates: &[(&str, Option<f64>)],
    now: DateTime<Utc>,
) -> Vec<BudgetUse> {
    let level = t
        .levels
        .get(&Kind::StorageBudget)
        .copied()
        .unwrap_or_default();
    let in_scope = |domain: &str, only: Option<&str>| only.is_none_or(|d| d == domain);
    let row = |scope: String, only: Option<&str>, budget: u64| {
        let used: i64 = storage
            .iter()
            .filter(|r| in_scope(&r.domain, only))
            .map(|r| r.total_size)
            .sum();
        // Only the databases measured here: a template's tenants carry no budget.
        let measured: Vec<&str> = storage.iter().map(|r| r.domain.as_str()).collect();
        let known: Vec<f64> = rates
            .iter()
            .filter(|(d, _)| in_scope(d, only) && measured.contains(d))
            .filter_map(|(_, r)| *r)
            .collect();
        let bytes_per_day = (!known.is_empty()).then(|| known.iter().sum::<f64>());
        let percent = percent_of(used, budget);
        let days_to_budget = match bytes_per_day {
            _ if used >= budget as i64 => Some(0.0),
            Some(rate) if rate > 0.0 => Some((budget as i64 - used) as f64 / rate),
            _ => None,
        };
        BudgetUse {
            scope,
            used,
            budget,
            percent,
            severity: crossed(Kind::StorageBudget, &level, percent).map(|(s, _)| s),
            bytes_per_day,
            days_to_budget,
            reached_on: days_to_budget
                .and_then(|d| chrono::Duration::try_milliseconds((d * 86_400_000.0) as i64))
                .and_then(|d| now.checked_add_signed(d))
                .map(|at| at.format("%Y-%m-%d").to_string()),
        }
    };
    let mut out: Vec<BudgetUse> = t
        .budgets
        .domains
        .iter()
        .map(|(domain, &budget)| row(format!("domain {domain}"), Some(domain), budget))
        .collect();
    if let Some(total) = t.budgets.total {
        out.push(row("all domains".into(), None, total));
    }
    out
}

/// The backups directory the thresholds read: the report's `--backups`, else the manifest's.
pub fn alert_backups_dir(given: Option<&Path>, t: &Thresholds) -> Option<PathBuf> {
    given.map(Path::to_path_buf).or_else(|| t.backups.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::alerts::Level;
    use crate::alerts::thresholds::Budgets;

    fn thresholds(total: Option<u64>, domains: &[(&str, u64)]) -> Thresholds {
        Thresholds {
            levels: BTreeMap::from([(
                Kind::StorageBudget,
                Level {
                    warn: Some(80.0),
                    critical: Some(100.0),
                },
            )]),
            budgets: Budgets {
                total,
                domains: domains.iter().map(|(d, b)| (d.to_string(), *b)).collect(),
            },
            backups: None,
        }
    }

    fn storage(rows: &[(&str, i64)]) -> Vec<DomainStorage> {
        rows.iter()
            .map(|(d, n)| DomainStorage {
                domain: d.to_string(),
                database: format!("db_{d}"),
                total_size: *n,
            })
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_growing_domain_reaches_its_budget_on_a_day_and_the_total_sums_the_domains() {
        let t = thresholds(Some(10_000), &[("auth", 1_000), ("chat", 5_000)]);
        let rows = budget_use(
            &t,
            &storage(&[("auth", 400), ("chat", 4_500)]),
            &[
                ("auth", Some(20.0)),
                ("chat", Some(-5.0)),
                ("logs", Some(1e6)),
            ],
            now(),
        );
        let auth = &rows[0];
        assert_eq!(auth.scope, "domain auth");
        assert_eq!((auth.used, auth.budget, auth.percent), (400, 1_000, 40.0));
        assert_eq!(auth.severity, None);
        // 600 bytes left at 20 a day.
        assert_eq!(auth.days_to_budget, Some(30.0));
        assert_eq!(auth.reached_on.as_deref(), Some("2027-01-01"));
        let chat = &rows[1];
        assert_eq!(chat.severity, Some(Severity::Warning));
        assert_eq!(chat.bytes_per_day, Some(-5.0));
        assert_eq!(chat.days_to_budget, None, "shrinking: never reached");
        let all = &rows[2];
        assert_eq!(all.scope, "all domains");
        assert_eq!(all.used, 4_900);
        // logs is not measured here (a template's tenants): its rate is left out.
        assert_eq!(all.bytes_per_day, Some(15.0));
        assert_eq!(all.days_to_budget, Some(5_100.0 / 15.0));
    }

    #[test]
    fn a_reached_budget_is_due_today_and_no_growth_means_no_date() {
        let t = thresholds(None, &[("auth", 1_000)]);
        let over = budget_use(&t, &storage(&[("auth", 1_500)]), &[], now());
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].severity, Some(Severity::Critical));
        assert_eq!(over[0].days_to_budget, Some(0.0));
        assert_eq!(over[0].reached_on.as_deref(), Some("2026-12-02"));
        let quiet = budget_use(&t, &storage(&[("auth", 10)]), &[("auth", None)], now());
        assert_eq!(quiet[0].bytes_per_day, None);
        assert_eq!(quiet[0].days_to_budget, None);
        assert_eq!(quiet[0].reached_on, None);
    }

    #[test]
    fn undeclared_thresholds_are_no_data_and_a_failed_observation_is_unavailable() {
        let growth = Part::no_data("none");
        let none = thresholds_part(&Thresholds::default(), None, &growth);
        assert!(
            none.reason()
                .unwrap()
                .contains("no alert thresholds are declared")
        );
        let failed = thresholds_part(
            &thresholds(None, &[]),
            Some(Err(anyhow::anyhow!("connection reset"))),
            &growth,
        );
        assert_eq!(failed.status(), "unavailable");
        let mut o = Observations::new(now());
        o.storage = Observed::Value(storage(&[("auth", 900)]));
        let ok = thresholds_part(&thresholds(None, &[("auth", 1_000)]), Some(Ok(o)), &growth);
        let data = ok.data().unwrap();
        assert_eq!(data.budgets.len(), 1);
        assert_eq!(data.budgets[0].bytes_per_day, None, "no growth part");
        assert_eq!(data.evaluation.findings.len(), 1);
        assert_eq!(data.evaluation.findings[0].severity, Severity::Warning);
    }
}
