//! The growth part: the snapshots `stats --record` keeps, each database's growth per day and
//! its 30/90/365-day projections (`stats --growth`'s arithmetic), with the recorded points
//! kept for the chart.

use mongodb::Client;
use serde::Serialize;

use super::Part;
use crate::stats::{self, Growth, HISTORY_COLLECTION, Target};

/// One recorded snapshot of one database, for the chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordedPoint {
    pub at: String,
    /// Milliseconds since the epoch (the chart's x axis).
    pub at_millis: i64,
    pub total_size: i64,
    pub documents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseGrowth {
    #[serde(flatten)]
    pub growth: Growth,
    pub points: Vec<RecordedPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrowthPart {
    /// `<metadataDatabase>.stats_history`
    pub history: String,
    pub databases: Vec<DatabaseGrowth>,
}

pub async fn growth(client: &Client, metadata_db: &str, targets: &[Target]) -> Part<GrowthPart> {
    let history_ns = format!("{metadata_db}.{HISTORY_COLLECTION}");
    let history = match stats::history(client, metadata_db).await {
        Ok(h) => h,
        Err(e) => {
            return Part::unavailable(&stats::Unavailable::new(&e, "find", &history_ns));
        }
    };
    let databases: Vec<DatabaseGrowth> = targets
        .iter()
        .map(|(domain, db, _)| {
            let points = history.get(db).map(Vec::as_slice).unwrap_or(&[]);
            DatabaseGrowth {
                growth: stats::growth(domain, db, points),
                points: points
                    .iter()
                    .map(|p| RecordedPoint {
                        at: p
                            .at
                            .try_to_rfc3339_string()
                            .unwrap_or_else(|_| p.at.timestamp_millis().to_string()),
                        at_millis: p.at.timestamp_millis(),
                        total_size: p.total_size,
                        documents: p.documents,
                    })
                    .collect(),
            }
        })
        .collect();
    if databases.iter().all(|d| d.growth.projections.is_empty()) {
        let most = databases.iter().map(|d| d.points.len()).max().unwrap_or(0);
        return Part::no_data(format!(
            "{most} snapshot(s) recorded in {history_ns}: growth needs at least two taken at different times (run `mongoctl stats --record` daily, e.g. from cron)"
        ));
    }
    Part::Ok {
        data: GrowthPart {
            history: history_ns,
            databases,
        },
    }
}
