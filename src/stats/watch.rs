//! `stats --watch`: rates between two serverStatus samples, as mongostat prints them.

use bson::{DateTime, doc};
use mongodb::Client;
use serde::Serialize;

use super::*;

#[derive(Debug, Clone)]
pub struct Sample {
    pub stats: ServerStats,
    pub uptime_millis: i64,
    pub local_time: DateTime,
}

pub async fn sample(client: &Client) -> mongodb::error::Result<Sample> {
    let s = client
        .database("admin")
        .run_command(doc! {"serverStatus": 1})
        .await?;
    Ok(Sample {
        stats: ServerStats::from_server_status(&s),
        uptime_millis: int(&s, "uptimeMillis"),
        local_time: s
            .get_datetime("localTime")
            .copied()
            .unwrap_or_else(|_| DateTime::now()),
    })
}

/// One line of `stats --watch`: per-second rates since the previous sample.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WatchRow {
    pub time: String,
    pub host: String,
    pub role: String,
    pub seconds: f64,
    /// Operations per second.
    pub ops: Opcounters,
    pub net_in_per_sec: f64,
    pub net_out_per_sec: f64,
    pub connections: i64,
    pub resident_mb: i64,
    pub cache_used_percent: Option<f64>,
    pub cache_dirty_percent: Option<f64>,
}

pub fn rates(prev: &Sample, cur: &Sample) -> WatchRow {
    let secs = ((cur.uptime_millis - prev.uptime_millis) as f64 / 1000.0).max(0.001);
    let r = |a: f64, b: f64| ((b - a) / secs).max(0.0);
    let (p, c) = (&prev.stats.opcounters, &cur.stats.opcounters);
    WatchRow {
        time: rfc3339(cur.local_time),
        host: cur.stats.host.clone(),
        role: cur.stats.role.clone(),
        seconds: secs,
        ops: Opcounters {
            insert: r(p.insert, c.insert),
            query: r(p.query, c.query),
            update: r(p.update, c.update),
            delete: r(p.delete, c.delete),
            getmore: r(p.getmore, c.getmore),
            command: r(p.command, c.command),
        },
        net_in_per_sec: r(
            prev.stats.network.bytes_in as f64,
            cur.stats.network.bytes_in as f64,
        ),
        net_out_per_sec: r(
            prev.stats.network.bytes_out as f64,
            cur.stats.network.bytes_out as f64,
        ),
        connections: cur.stats.connections.current,
        resident_mb: cur.stats.resident_mb,
        cache_used_percent: cur.stats.cache.as_ref().map(|c| c.used_percent),
        cache_dirty_percent: cur.stats.cache.as_ref().map(|c| c.dirty_percent),
    }
}
