//! The query profiler: its level per database and the slowest recorded operations.

use anyhow::{Context, Result};
use bson::{DateTime, Document, doc};
use futures::{TryStreamExt, future::join_all};
use mongodb::Client;
use serde::Serialize;

use crate::model::{as_f64, doc_to_json};

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct ProfileStatus {
    pub domain: String,
    pub database: String,
    /// 0 off, 1 slow operations, 2 all operations.
    pub level: Option<i64>,
    /// Server-wide threshold in milliseconds.
    pub slowms: Option<i64>,
    pub sample_rate: Option<f64>,
    /// Entries currently in system.profile.
    pub entries: Option<i64>,
    /// With `profile set`: the level before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_level: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailable>,
}

/// Reads (`level` None) or sets the profiler of one database.
pub async fn profile(
    client: &Client,
    domain: &str,
    database: &str,
    level: Option<i32>,
    slowms: Option<i64>,
    sample_rate: Option<f64>,
) -> ProfileStatus {
    let db = client.database(database);
    let mut status = ProfileStatus {
        domain: domain.to_string(),
        database: database.to_string(),
        level: None,
        slowms: None,
        sample_rate: None,
        entries: None,
        previous_level: None,
        unavailable: None,
    };
    if let Some(level) = level {
        let mut cmd = doc! {"profile": level};
        if let Some(s) = slowms {
            cmd.insert("slowms", s);
        }
        if let Some(r) = sample_rate {
            cmd.insert("sampleRate", r);
        }
        match db.run_command(cmd).await {
            Ok(old) => status.previous_level = Some(int(&old, "was")),
            Err(e) => {
                status.unavailable = Some(Unavailable::new(&e, "enableProfiler", database));
                return status;
            }
        }
    }
    match db.run_command(doc! {"profile": -1}).await {
        Ok(d) => {
            status.level = Some(int(&d, "was"));
            status.slowms = Some(int(&d, "slowms"));
            status.sample_rate = d.get("sampleRate").and_then(as_f64);
        }
        Err(e) => {
            status.unavailable = Some(Unavailable::new(&e, "enableProfiler", database));
            return status;
        }
    }
    status.entries = db
        .collection::<Document>("system.profile")
        .estimated_document_count()
        .await
        .ok()
        .map(|n| n as i64);
    status
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowOp {
    pub ts: String,
    pub domain: String,
    pub ns: String,
    pub op: String,
    pub millis: i64,
    pub plan_summary: Option<String>,
    pub collscan: bool,
    pub docs_examined: Option<i64>,
    pub keys_examined: Option<i64>,
    pub returned: Option<i64>,
    /// The command, as relaxed Extended JSON.
    pub command: serde_json::Value,
    pub app_name: Option<String>,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowReport {
    pub operations: Vec<SlowOp>,
    pub unavailable: Vec<UnavailableAt>,
}

/// The slowest profiled operations across the target databases (mongoctl's own excluded).
pub async fn slow_ops(
    client: &Client,
    targets: &[(String, String)],
    limit: i64,
    since: Option<DateTime>,
) -> SlowReport {
    let results = join_all(targets.iter().map(|(domain, name)| async move {
        let db = client.database(name);
        let mut filter = doc! {
            "ns": {"$ne": format!("{name}.system.profile")},
            "command.profile": {"$exists": false},
            "appName": {"$not": {"$regex": "^mongoctl"}},
        };
        if let Some(s) = since {
            filter.insert("ts", doc! {"$gte": s});
        }
        let r: mongodb::error::Result<Vec<Document>> = async {
            db.collection::<Document>("system.profile")
                .find(filter)
                .sort(doc! {"millis": -1, "ts": -1})
                .limit(limit)
                .await?
                .try_collect()
                .await
        }
        .await;
        (domain, name, r)
    }))
    .await;
    let mut report = SlowReport {
        operations: vec![],
        unavailable: vec![],
    };
    for (domain, name, r) in results {
        match r {
            Ok(docs) => report
                .operations
                .extend(docs.iter().map(|d| slow_op(domain, d))),
            Err(e) => report.unavailable.push(UnavailableAt {
                database: name.clone(),
                collection: Some("system.profile".into()),
                unavailable: Unavailable::new(&e, "find", &format!("{name}.system.profile")),
            }),
        }
    }
    report
        .operations
        .sort_by(|a, b| b.millis.cmp(&a.millis).then_with(|| b.ts.cmp(&a.ts)));
    report.operations.truncate(limit.max(0) as usize);
    report
}

fn slow_op(domain: &str, d: &Document) -> SlowOp {
    let opt = |k: &str| d.get(k).and_then(as_f64).map(|f| f as i64);
    let plan = d.get_str("planSummary").ok().map(str::to_string);
    SlowOp {
        ts: d
            .get_datetime("ts")
            .map(|t| rfc3339(*t))
            .unwrap_or_default(),
        domain: domain.to_string(),
        ns: d.get_str("ns").unwrap_or_default().to_string(),
        op: d.get_str("op").unwrap_or_default().to_string(),
        millis: int(d, "millis"),
        collscan: plan.as_deref().is_some_and(|p| p.contains("COLLSCAN")),
        plan_summary: plan,
        docs_examined: opt("docsExamined"),
        keys_examined: opt("keysExamined"),
        returned: opt("nreturned"),
        command: sub(d, "command")
            .map(|c| {
                let mut c = c.clone();
                c.remove("lsid");
                c.remove("$clusterTime");
                c.remove("$db");
                doc_to_json(&c)
            })
            .unwrap_or(serde_json::Value::Null),
        app_name: d.get_str("appName").ok().map(str::to_string),
        user: d
            .get_str("user")
            .ok()
            .filter(|u| !u.is_empty())
            .map(str::to_string),
    }
}

/// `30s`, `15m`, `2h`, `7d`, or an RFC 3339 time → the instant it names.
pub fn parse_since(s: &str, now: DateTime) -> Result<DateTime> {
    let s = s.trim();
    if let Some((n, unit)) = s
        .char_indices()
        .last()
        .map(|(i, c)| (&s[..i], c))
        .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    {
        let n: i64 = n.parse().context("number too large")?;
        let secs = match unit {
            's' => n,
            'm' => n * 60,
            'h' => n * 3600,
            'd' => n * 86_400,
            _ => anyhow::bail!("--since {s}: unknown unit {unit:?} (use s, m, h or d)"),
        };
        return Ok(DateTime::from_millis(now.timestamp_millis() - secs * 1000));
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).with_context(|| {
        format!("--since {s}: expected a duration (30s, 15m, 2h, 7d) or an RFC 3339 time")
    })?;
    Ok(DateTime::from_millis(t.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn since_parses_durations_and_times() {
        let now = DateTime::from_millis(10_000_000);
        assert_eq!(
            parse_since("90s", now).unwrap().timestamp_millis(),
            10_000_000 - 90_000
        );
        assert_eq!(
            parse_since("2h", now).unwrap().timestamp_millis(),
            10_000_000 - 7_200_000
        );
        assert_eq!(
            parse_since("1970-01-01T00:00:01Z", now)
                .unwrap()
                .timestamp_millis(),
            1000
        );
        assert!(parse_since("5y", now).is_err());
        assert!(parse_since("yesterday", now).is_err());
    }
}
