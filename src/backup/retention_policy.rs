//! Which backups a retention policy keeps, and why — a pure function of the listing, the
//! policy and the time now (injected, so the rules are tested across months without waiting).
//!
//! The rules follow restic's `forget`: `last N` keeps the newest N; `hourly/daily/weekly/
//! monthly/yearly N` keep the newest backup of each of the N most recent periods that have one
//! (calendar periods in UTC, ISO weeks); `within D` keeps every backup made within D of the
//! *newest* backup, not of now — so a policy never deletes everything because backups stopped
//! for a while. A backup kept by no rule goes. Incomplete backups (no manifest: interrupted or
//! still being written) are never counted by the rules; they go only when `incomplete_after`
//! is set and nothing in them was written for that long.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;

use super::retention::BackupEntry;

/// The rules of one `backup prune`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub last: usize,
    pub hourly: usize,
    pub daily: usize,
    pub weekly: usize,
    pub monthly: usize,
    pub yearly: usize,
    pub within: Option<Duration>,
    /// Incomplete backups untouched for longer than this are pruned.
    pub incomplete_after: Option<Duration>,
}

impl Policy {
    /// Whether any rule keeps complete backups (a policy without one would delete them all).
    pub fn keeps_any(&self) -> bool {
        self.last + self.hourly + self.daily + self.weekly + self.monthly + self.yearly > 0
            || self.within.is_some()
    }
}

/// What happens to one backup, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub name: String,
    pub keep: bool,
    /// The rules that keep it (`last 3`, `daily 2026-11-22`, `within 7d`), or why it goes.
    pub reasons: Vec<String>,
}

/// The bucket a calendar rule files a backup's time under (its day, ISO week, month, ...).
type PeriodKey = fn(&DateTime<Utc>) -> String;

/// One decision per entry, in the listing's order (newest first).
pub fn decide(entries: &[BackupEntry], policy: &Policy, now: DateTime<Utc>) -> Vec<Decision> {
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
    // Complete backups, newest first (the listing's order).
    let complete: Vec<(usize, DateTime<Utc>)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.complete)
        .filter_map(|(i, e)| e.finished_at.map(|t| (i, t)))
        .collect();
    for (rank, &(i, _)) in complete.iter().enumerate().take(policy.last) {
        reasons[i].push(format!("last {} (#{})", policy.last, rank + 1));
    }
    let periods: [(&str, usize, PeriodKey); 5] = [
        ("hourly", policy.hourly, |t| {
            t.format("%Y-%m-%d %H:00").to_string()
        }),
        ("daily", policy.daily, |t| t.format("%Y-%m-%d").to_string()),
        ("weekly", policy.weekly, |t| {
            let w = t.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }),
        ("monthly", policy.monthly, |t| t.format("%Y-%m").to_string()),
        ("yearly", policy.yearly, |t| t.year().to_string()),
    ];
    for (rule, n, period_of) in periods {
        let mut seen = BTreeSet::new();
        for &(i, t) in &complete {
            if seen.len() >= n {
                break;
            }
            let period = period_of(&t);
            // The first backup met in a period is its newest.
            if seen.insert(period.clone()) {
                reasons[i].push(format!("{rule} {period}"));
            }
        }
    }
    if let (Some(within), Some(&(_, newest))) = (policy.within, complete.first()) {
        let shown = humantime::format_duration(within).to_string();
        for &(i, t) in &complete {
            if newest.signed_duration_since(t).to_std().unwrap_or_default() <= within {
                reasons[i].push(format!("within {shown} of the newest"));
            }
        }
    }
    entries
        .iter()
        .zip(reasons)
        .map(|(e, why)| {
            if e.complete {
                let keep = !why.is_empty();
                let reasons = if keep {
                    why
                } else {
                    vec!["no rule keeps it".into()]
                };
                return Decision {
                    name: e.name.clone(),
                    keep,
                    reasons,
                };
            }
            incomplete(e, policy.incomplete_after, now)
        })
        .collect()
}

fn incomplete(e: &BackupEntry, after: Option<Duration>, now: DateTime<Utc>) -> Decision {
    let idle = e
        .modified_at
        .map(|m| now.signed_duration_since(m).to_std().unwrap_or_default());
    let (keep, reason) = match (after, idle) {
        (None, _) => (
            true,
            "incomplete (no manifest): kept; --incomplete-after D prunes old ones".to_string(),
        ),
        (Some(after), Some(idle)) if idle > after => (
            false,
            format!(
                "incomplete (no manifest), nothing written for {} (> {})",
                coarse(idle),
                humantime::format_duration(after)
            ),
        ),
        (Some(_), Some(idle)) => (
            true,
            format!(
                "incomplete (no manifest), written {} ago: may still be running",
                coarse(idle)
            ),
        ),
        (Some(_), None) => (
            true,
            "incomplete (no manifest), modification time unknown".to_string(),
        ),
    };
    Decision {
        name: e.name.clone(),
        keep,
        reasons: vec![reason],
    }
}

/// An age to the minute (`3days 4h 12m`), not to the nanosecond.
fn coarse(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs() / 60 * 60)).to_string()
}

/// Parses a retention duration (`7d`, `2w`, `6months`, `1y`, `36h`; humantime's units). Spans
/// under an hour are refused: `6m` is six *minutes* there, and a retention window of minutes
/// is almost certainly a typo for months (`6M`).
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| {
        format!("{flag} {text:?}: {e} (expected e.g. 7d, 2w, 6M for months, 1y, 36h)")
    })?;
    if d < Duration::from_secs(3600) {
        return Err(format!(
            "{flag} {text:?} is {}: under an hour (\"m\" means minutes; months are \"M\")",
            humantime::format_duration(d)
        ));
    }
    Ok(d)
}

/// `now` truncated to the second, for reports.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.with_nanosecond(0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, t: &str) -> BackupEntry {
        BackupEntry {
            modified_at: Some(t.parse().unwrap()),
            ..crate::backup::retention::tests::e(name, Some(t))
        }
    }

    fn incomplete(name: &str, modified: &str) -> BackupEntry {
        BackupEntry {
            complete: false,
            finished_at: None,
            ..e(name, modified)
        }
    }

    /// Nightly backups at 02:00 from 2026-08-01 to 2026-11-30, plus an extra one on
    /// 2026-11-30 at 14:00; newest first, as `list` returns them.
    fn nightly() -> Vec<BackupEntry> {
        let mut out = vec![e("extra", "2026-11-30T14:00:00Z")];
        let mut day = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let first = chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
        while day >= first {
            out.push(e(
                &day.format("nightly-%Y%m%d").to_string(),
                &format!("{}T02:00:00Z", day.format("%Y-%m-%d")),
            ));
            day = day.pred_opt().unwrap();
        }
        out
    }

    fn kept(ds: &[Decision]) -> Vec<&str> {
        ds.iter()
            .filter(|d| d.keep)
            .map(|d| d.name.as_str())
            .collect()
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn daily_keeps_the_newest_of_each_of_the_last_days_that_have_one() {
        let p = Policy {
            daily: 3,
            ..Default::default()
        };
        let ds = decide(&nightly(), &p, now());
        assert_eq!(kept(&ds), ["extra", "nightly-20261129", "nightly-20261128"]);
        let nov30 = ds.iter().find(|d| d.name == "nightly-20261130").unwrap();
        assert_eq!(nov30.reasons, ["no rule keeps it"]);
        assert_eq!(ds[0].reasons, ["daily 2026-11-30"]);
    }

    #[test]
    fn weekly_uses_iso_weeks_and_monthly_calendar_months() {
        let p = Policy {
            weekly: 2,
            monthly: 4,
            ..Default::default()
        };
        let ds = decide(&nightly(), &p, now());
        // 2026-11-30 is a Monday (week 49); week 48 ends Sunday 2026-11-29.
        assert_eq!(
            kept(&ds),
            [
                "extra",
                "nightly-20261129",
                "nightly-20261031",
                "nightly-20260930",
                "nightly-20260831"
            ]
        );
        let extra = &ds[0];
        assert_eq!(extra.reasons, ["weekly 2026-W49", "monthly 2026-11"]);
    }

    #[test]
    fn periods_without_backups_do_not_count() {
        // Backups in January and March only: monthly 2 keeps both, skipping February.
        let list = vec![
            e("mar", "2026-03-10T00:00:00Z"),
            e("jan-late", "2026-01-20T00:00:00Z"),
            e("jan-early", "2026-01-05T00:00:00Z"),
            e("dec", "2025-12-31T23:59:59Z"),
        ];
        let p = Policy {
            monthly: 2,
            yearly: 2,
            ..Default::default()
        };
        let ds = decide(&list, &p, now());
        assert_eq!(kept(&ds), ["mar", "jan-late", "dec"]);
        assert_eq!(ds[3].reasons, ["yearly 2025"]);
    }

    #[test]
    fn within_counts_from_the_newest_backup_not_from_now() {
        // Backups stopped on 2026-10-31: a 7-day window still keeps the last week of them.
        let stop: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let list: Vec<BackupEntry> = nightly()
            .into_iter()
            .filter(|b| b.finished_at.unwrap() < stop)
            .collect();
        let p = Policy {
            within: Some(parse_duration("--keep-within", "7d").unwrap()),
            ..Default::default()
        };
        let ds = decide(&list, &p, now());
        assert_eq!(kept(&ds).len(), 8, "{:?}", kept(&ds));
        assert_eq!(kept(&ds)[7], "nightly-20261024");
        assert!(ds[0].reasons[0].starts_with("within 7days"), "{:?}", ds[0]);
    }

    #[test]
    fn rules_add_up_and_last_counts_complete_backups_only() {
        let mut list = nightly();
        list.insert(1, incomplete("running", "2026-12-01T08:55:00Z"));
        list.push(incomplete("crashed", "2026-07-01T00:00:00Z"));
        let p = Policy {
            last: 2,
            daily: 1,
            incomplete_after: Some(parse_duration("--incomplete-after", "1d").unwrap()),
            ..Default::default()
        };
        let ds = decide(&list, &p, now());
        assert_eq!(kept(&ds), ["extra", "running", "nightly-20261130"]);
        assert_eq!(ds[0].reasons, ["last 2 (#1)", "daily 2026-11-30"]);
        let running = &ds[1];
        assert!(
            running.reasons[0].contains("written 5m ago: may still be running"),
            "{running:?}"
        );
        let crashed = ds.last().unwrap();
        assert!(!crashed.keep);
        assert!(
            crashed.reasons[0]
                .starts_with("incomplete (no manifest), nothing written for 5months 1day"),
            "{crashed:?}"
        );
        // Without --incomplete-after, incomplete backups stay.
        let p = Policy {
            incomplete_after: None,
            ..p
        };
        assert!(decide(&list, &p, now()).last().unwrap().keep);
    }

    #[test]
    fn durations_are_humantime_and_minutes_are_refused() {
        assert_eq!(
            parse_duration("--keep-within", "2w").unwrap(),
            Duration::from_secs(14 * 86400)
        );
        assert!(parse_duration("--keep-within", "6M").unwrap() > Duration::from_secs(180 * 86400));
        let err = parse_duration("--keep-within", "6m").unwrap_err();
        assert!(err.contains("months are \"M\""), "{err}");
        let err = parse_duration("--keep-within", "seven days").unwrap_err();
        assert!(err.contains("expected e.g. 7d"), "{err}");
    }

    #[test]
    fn a_policy_without_keep_rules_is_recognised() {
        assert!(!Policy::default().keeps_any());
        assert!(
            !Policy {
                incomplete_after: Some(Duration::from_secs(86400)),
                ..Default::default()
            }
            .keeps_any()
        );
        assert!(
            Policy {
                within: Some(Duration::from_secs(86400)),
                ..Default::default()
            }
            .keeps_any()
        );
    }
}
