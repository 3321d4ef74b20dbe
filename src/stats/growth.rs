//! Recorded snapshots (`stats --record`) and the growth and projections drawn from them.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use bson::{DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::Client;
use serde::Serialize;

use super::*;

/// Collection of `<metadataDatabase>` that `stats --record` appends snapshots to.
pub const HISTORY_COLLECTION: &str = "stats_history";

/// Appends one snapshot of the databases' sizes to `<metadata>.stats_history`.
pub async fn record(
    client: &Client,
    metadata_db: &str,
    environment: Option<&str>,
    rows: &[DatabaseStats],
) -> Result<DateTime> {
    let at = DateTime::now();
    let databases: Vec<Document> = rows
        .iter()
        .filter(|r| r.unavailable.is_none())
        .map(|r| {
            doc! {
                "domain": &r.domain,
                "database": &r.database,
                "documents": r.sizes.documents,
                "dataSize": r.sizes.data_size,
                "storageSize": r.sizes.storage_size,
                "indexSize": r.sizes.index_size,
                "totalSize": r.sizes.total_size,
            }
        })
        .collect();
    let mut snapshot = doc! {"at": at, "databases": databases};
    if let Some(e) = environment {
        snapshot.insert("environment", e);
    }
    client
        .database(metadata_db)
        .collection::<Document>(HISTORY_COLLECTION)
        .insert_one(snapshot)
        .await
        .with_context(|| format!("recording a snapshot in {metadata_db}.{HISTORY_COLLECTION}"))?;
    Ok(at)
}

/// One database's value at one recorded time.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: DateTime,
    pub documents: i64,
    pub data_size: i64,
    pub total_size: i64,
}

/// Recorded points per database name, oldest first.
pub async fn history(
    client: &Client,
    metadata_db: &str,
) -> mongodb::error::Result<BTreeMap<String, Vec<Point>>> {
    let docs: Vec<Document> = client
        .database(metadata_db)
        .collection::<Document>(HISTORY_COLLECTION)
        .find(doc! {})
        .sort(doc! {"at": 1})
        .await?
        .try_collect()
        .await?;
    let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for d in docs {
        let Ok(at) = d.get_datetime("at") else {
            continue;
        };
        for db in d
            .get_array("databases")
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            let Some(db) = db.as_document() else { continue };
            let Ok(name) = db.get_str("database") else {
                continue;
            };
            out.entry(name.to_string()).or_default().push(Point {
                at: *at,
                documents: int(db, "documents"),
                data_size: int(db, "dataSize"),
                total_size: int(db, "totalSize"),
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Projection {
    pub days: i64,
    pub total_size: i64,
    pub documents: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Growth {
    pub domain: String,
    pub database: String,
    pub samples: usize,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    /// The latest recorded values.
    pub documents: i64,
    pub data_size: i64,
    pub total_size: i64,
    /// Least-squares slopes over the recorded history (null with fewer than two
    /// snapshots at different times).
    pub total_size_per_day: Option<f64>,
    pub documents_per_day: Option<f64>,
    /// Disk bytes per 1,000 documents at the latest snapshot (capacity planning:
    /// "~1 GB per 1 K patients").
    pub bytes_per_1k_documents: Option<f64>,
    /// The latest values plus slope × days, for 30, 90 and 365 days.
    pub projections: Vec<Projection>,
}

pub const PROJECTION_DAYS: [i64; 3] = [30, 90, 365];

/// Linear projection of the recorded points; pure.
pub fn growth(domain: &str, database: &str, points: &[Point]) -> Growth {
    let last = points.last();
    let t0 = points.first().map(|p| p.at.timestamp_millis()).unwrap_or(0);
    let xs: Vec<f64> = points
        .iter()
        .map(|p| (p.at.timestamp_millis() - t0) as f64 / 86_400_000.0)
        .collect();
    let size = slope(
        &xs,
        &points
            .iter()
            .map(|p| p.total_size as f64)
            .collect::<Vec<_>>(),
    );
    let docs = slope(
        &xs,
        &points
            .iter()
            .map(|p| p.documents as f64)
            .collect::<Vec<_>>(),
    );
    let (documents, data_size, total_size) =
        last.map_or((0, 0, 0), |p| (p.documents, p.data_size, p.total_size));
    let projections = match (size, docs) {
        (Some(s), Some(d)) => PROJECTION_DAYS
            .iter()
            .map(|&days| Projection {
                days,
                total_size: (total_size as f64 + s * days as f64).max(0.0).round() as i64,
                documents: (documents as f64 + d * days as f64).max(0.0).round() as i64,
            })
            .collect(),
        _ => vec![],
    };
    Growth {
        domain: domain.to_string(),
        database: database.to_string(),
        samples: points.len(),
        first_at: points.first().map(|p| rfc3339(p.at)),
        last_at: last.map(|p| rfc3339(p.at)),
        documents,
        data_size,
        total_size,
        total_size_per_day: size,
        documents_per_day: docs,
        bytes_per_1k_documents: (documents > 0)
            .then(|| total_size as f64 * 1000.0 / documents as f64),
        projections,
    }
}

/// Least-squares slope of y over x; None when x does not vary.
pub fn slope(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return None;
    }
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn slope_and_projection() {
        assert_eq!(slope(&[0.0], &[1.0]), None);
        assert_eq!(slope(&[1.0, 1.0], &[1.0, 5.0]), None);
        assert_eq!(slope(&[0.0, 1.0, 2.0], &[10.0, 20.0, 30.0]), Some(10.0));
        let day = 86_400_000;
        let pts: Vec<Point> = (0..3)
            .map(|i| Point {
                at: DateTime::from_millis(i * 10 * day),
                documents: 1000 + i * 100,
                data_size: 0,
                total_size: 1_000_000 + i * 50_000,
            })
            .collect();
        let g = growth("d", "db", &pts);
        assert_eq!(g.total_size_per_day, Some(5000.0));
        assert_eq!(g.documents_per_day, Some(10.0));
        assert_eq!(
            g.projections[0],
            Projection {
                days: 30,
                total_size: 1_100_000 + 150_000,
                documents: 1200 + 300
            }
        );
        assert!(growth("d", "db", &pts[..1]).projections.is_empty());
    }
}
