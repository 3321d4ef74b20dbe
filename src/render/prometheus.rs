//! `stats -o prometheus`: the numbers of `stats`, `stats --collections`, `stats --indexes` and
//! `stats --server` in the Prometheus text exposition format (encoded by the `prometheus`
//! crate), for node_exporter's textfile collector or a scrape through a cron, and the server's
//! own operation latency histograms. Sizes in bytes, times in seconds; a section the user may
//! not read is left out.

use anyhow::{Context, Result};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{CounterVec, Encoder, GaugeVec, Opts, Registry, TextEncoder};

use crate::stats::{
    DatabaseStats, IndexReport, LatencyHistograms, Section, ServerReport, cumulative,
};

/// Everything one scrape holds.
pub struct Scrape<'a> {
    pub databases: &'a [DatabaseStats],
    pub indexes: &'a IndexReport,
    pub server: &'a ServerReport,
    /// serverStatus' opLatencies histograms; None when the user may not read them.
    pub latency: Option<&'a LatencyHistograms>,
}

const PREFIX: &str = "mongoctl_";

struct Families {
    registry: Registry,
}

impl Families {
    fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec> {
        let g = GaugeVec::new(Opts::new(format!("{PREFIX}{name}"), help), labels)
            .with_context(|| format!("declaring {name}"))?;
        self.registry.register(Box::new(g.clone()))?;
        Ok(g)
    }

    fn counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<CounterVec> {
        let c = CounterVec::new(Opts::new(format!("{PREFIX}{name}"), help), labels)
            .with_context(|| format!("declaring {name}"))?;
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }
}

pub fn print(s: &Scrape) -> Result<()> {
    let text = text(s)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = out.write_all(text.as_bytes());
    Ok(())
}

/// The exposition text of one scrape.
pub fn text(s: &Scrape) -> Result<String> {
    let f = Families {
        registry: Registry::new(),
    };
    databases(&f, s.databases)?;
    indexes(&f, s.indexes)?;
    server(&f, s.server)?;
    let mut families = f.registry.gather();
    if let Some(l) = s.latency {
        families.push(latency(l));
        families.sort_by(|a, b| a.name().cmp(b.name()));
    }
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut buf)
        .context("encoding the metrics")?;
    String::from_utf8(buf).context("the encoder wrote invalid UTF-8")
}

fn databases(f: &Families, rows: &[DatabaseStats]) -> Result<()> {
    let db = ["domain", "database"];
    let coll = ["domain", "database", "collection"];
    let d_docs = f.gauge(
        "database_documents",
        "Documents in the database (dbStats objects).",
        &db,
    )?;
    let d_data = f.gauge(
        "database_data_size_bytes",
        "Uncompressed document bytes (dbStats dataSize).",
        &db,
    )?;
    let d_storage = f.gauge(
        "database_storage_size_bytes",
        "Bytes on disk for documents (dbStats storageSize).",
        &db,
    )?;
    let d_index = f.gauge(
        "database_index_size_bytes",
        "Bytes on disk for indexes (dbStats indexSize).",
        &db,
    )?;
    let d_total = f.gauge(
        "database_total_size_bytes",
        "Storage plus index bytes on disk (dbStats totalSize).",
        &db,
    )?;
    let d_free = f.gauge(
        "database_free_storage_size_bytes",
        "Free, reusable bytes inside the storage files (dbStats freeStorageSize).",
        &db,
    )?;
    let d_colls = f.gauge("database_collections", "Collections in the database.", &db)?;
    let d_indexes = f.gauge("database_indexes", "Indexes in the database.", &db)?;
    let c_docs = f.gauge(
        "collection_documents",
        "Documents in the collection ($collStats count).",
        &coll,
    )?;
    let c_data = f.gauge(
        "collection_data_size_bytes",
        "Uncompressed document bytes of the collection.",
        &coll,
    )?;
    let c_storage = f.gauge(
        "collection_storage_size_bytes",
        "Bytes on disk for the collection's documents.",
        &coll,
    )?;
    let c_index = f.gauge(
        "collection_index_size_bytes",
        "Bytes on disk for the collection's indexes.",
        &coll,
    )?;
    let c_indexes = f.gauge("collection_indexes", "Indexes of the collection.", &coll)?;
    for r in rows.iter().filter(|r| r.unavailable.is_none() && r.exists) {
        let l = [r.domain.as_str(), r.database.as_str()];
        let s = &r.sizes;
        d_docs.with_label_values(&l).set(s.documents as f64);
        d_data.with_label_values(&l).set(s.data_size as f64);
        d_storage.with_label_values(&l).set(s.storage_size as f64);
        d_index.with_label_values(&l).set(s.index_size as f64);
        d_total.with_label_values(&l).set(s.total_size as f64);
        d_free.with_label_values(&l).set(s.free_storage_size as f64);
        d_colls.with_label_values(&l).set(s.collections as f64);
        d_indexes.with_label_values(&l).set(s.indexes as f64);
        for c in r.collection_stats.iter().flatten() {
            if c.unavailable.is_some() || c.kind == "view" {
                continue;
            }
            let l = [r.domain.as_str(), r.database.as_str(), c.name.as_str()];
            c_docs.with_label_values(&l).set(c.documents as f64);
            c_data.with_label_values(&l).set(c.data_size as f64);
            c_storage.with_label_values(&l).set(c.storage_size as f64);
            c_index.with_label_values(&l).set(c.index_size as f64);
            c_indexes.with_label_values(&l).set(c.indexes as f64);
        }
    }
    Ok(())
}

fn indexes(f: &Families, report: &IndexReport) -> Result<()> {
    let labels = ["domain", "database", "collection", "index"];
    let size = f.gauge("index_size_bytes", "Bytes on disk of the index.", &labels)?;
    let ops = f.counter(
        "index_accesses_total",
        "Operations that used the index since the server started ($indexStats accesses.ops).",
        &labels,
    )?;
    let unused = f.gauge(
        "index_unused",
        "1 when the index has no use since the server started.",
        &labels,
    )?;
    for i in &report.indexes {
        let l = [
            i.domain.as_str(),
            i.database.as_str(),
            i.collection.as_str(),
            i.name.as_str(),
        ];
        if let Some(s) = i.size {
            size.with_label_values(&l).set(s as f64);
        }
        ops.with_label_values(&l).inc_by(i.ops.max(0) as f64);
        let flagged = i.flags.iter().any(|x| x == "unused");
        unused
            .with_label_values(&l)
            .set(if flagged { 1.0 } else { 0.0 });
    }
    Ok(())
}

fn server(f: &Families, report: &ServerReport) -> Result<()> {
    if let Section::Ok(s) = &report.server {
        let conns = f.gauge(
            "connections",
            "Connections by state (serverStatus connections).",
            &["state"],
        )?;
        conns
            .with_label_values(&["current"])
            .set(s.connections.current as f64);
        conns
            .with_label_values(&["available"])
            .set(s.connections.available as f64);
        conns
            .with_label_values(&["active"])
            .set(s.connections.active as f64);
        f.counter(
            "connections_created_total",
            "Connections created since the server started.",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .inc_by(s.connections.total_created.max(0) as f64);
        let ops = f.counter(
            "opcounters_total",
            "Operations since the server started (serverStatus opcounters).",
            &["op"],
        )?;
        let o = &s.opcounters;
        for (op, n) in [
            ("insert", o.insert),
            ("query", o.query),
            ("update", o.update),
            ("delete", o.delete),
            ("getmore", o.getmore),
            ("command", o.command),
        ] {
            ops.with_label_values(&[op]).inc_by(n.max(0.0));
        }
        let net = f.counter(
            "network_bytes_total",
            "Network bytes since the server started.",
            &["direction"],
        )?;
        net.with_label_values(&["in"])
            .inc_by(s.network.bytes_in.max(0) as f64);
        net.with_label_values(&["out"])
            .inc_by(s.network.bytes_out.max(0) as f64);
        f.counter(
            "network_requests_total",
            "Requests received since the server started.",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .inc_by(s.network.requests.max(0) as f64);
        f.gauge("uptime_seconds", "Seconds since the server started.", &[])?
            .with_label_values::<&str>(&[])
            .set(s.uptime_seconds as f64);
        f.gauge(
            "resident_memory_bytes",
            "Resident memory of the mongod process.",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .set((s.resident_mb as f64) * 1024.0 * 1024.0);
        if let Some(c) = &s.cache {
            let cache = f.gauge(
                "wiredtiger_cache_bytes",
                "WiredTiger cache bytes: in the cache, dirty, configured maximum.",
                &["state"],
            )?;
            cache
                .with_label_values(&["used"])
                .set(c.bytes_in_cache as f64);
            cache
                .with_label_values(&["dirty"])
                .set(c.dirty_bytes as f64);
            cache.with_label_values(&["max"]).set(c.max_bytes as f64);
        }
    }
    let Some(r) = &report.replication else {
        return Ok(());
    };
    if let Section::Ok(members) = &r.members {
        let labels = ["set", "member", "state"];
        let lag = f.gauge(
            "replset_member_lag_seconds",
            "Seconds the member is behind the primary.",
            &labels,
        )?;
        let health = f.gauge("replset_member_health", "1 when the member is up.", &labels)?;
        for m in members {
            let l = [r.set_name.as_str(), m.name.as_str(), m.state.as_str()];
            if let Some(s) = m.lag_seconds {
                lag.with_label_values(&l).set(s);
            }
            health
                .with_label_values(&l)
                .set(if m.health == "up" { 1.0 } else { 0.0 });
        }
    }
    if let Section::Ok(o) = &r.oplog {
        let set = [r.set_name.as_str()];
        f.gauge(
            "oplog_window_seconds",
            "Seconds between the oldest and newest oplog entries.",
            &["set"],
        )?
        .with_label_values(&set)
        .set(o.window_hours * 3600.0);
        if let Some(b) = o.size_bytes {
            f.gauge("oplog_size_bytes", "Bytes of the oplog.", &["set"])?
                .with_label_values(&set)
                .set(b as f64);
        }
        if let Some(b) = o.max_size_bytes {
            f.gauge(
                "oplog_max_size_bytes",
                "Configured maximum bytes of the oplog.",
                &["set"],
            )?
            .with_label_values(&set)
            .set(b as f64);
        }
    }
    Ok(())
}

/// The server's histograms are counted already, so they are handed to the encoder as a
/// family (the crate's `Histogram` only observes single values): one metric per kind,
/// cumulative buckets at the server's bounds in seconds, `+Inf` and `_count` the operations
/// counted, `_sum` the latencies' sum.
fn latency(l: &LatencyHistograms) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(format!("{PREFIX}op_latency_seconds"));
    family.set_help(
        "Operation latency since the server started, by kind (serverStatus opLatencies histograms)."
            .into(),
    );
    family.set_field_type(MetricType::HISTOGRAM);
    for (kind, h) in l.kinds() {
        let buckets = cumulative(h)
            .into_iter()
            .map(|(upper_micros, below)| {
                let mut b = proto::Bucket::default();
                b.set_upper_bound(upper_micros as f64 / 1e6);
                b.set_cumulative_count(below);
                b
            })
            .collect();
        let mut histogram = proto::Histogram::default();
        histogram.set_bucket(buckets);
        histogram.set_sample_count(h.buckets.iter().map(|&(_, n)| n).sum());
        histogram.set_sample_sum(h.latency_micros as f64 / 1e6);
        let mut label = proto::LabelPair::default();
        label.set_name("type".into());
        label.set_value(kind.into());
        let mut metric = proto::Metric::default();
        metric.set_label(vec![label]);
        metric.set_histogram(histogram);
        family.mut_metric().push(metric);
    }
    family
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Histogram;

    #[test]
    fn latency_histograms_are_encoded_cumulative_in_seconds() {
        let l = LatencyHistograms {
            reads: Histogram {
                buckets: vec![(16, 7), (2048, 3)],
                ops: 10,
                latency_micros: 12_000,
            },
            writes: Histogram::default(),
            commands: Histogram {
                buckets: vec![(1 << 40, 1)],
                ops: 1,
                latency_micros: 2_000_000_000_000,
            },
        };
        let mut buf = Vec::new();
        TextEncoder::new().encode(&[latency(&l)], &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let line = |needle: &str| {
            text.lines()
                .find(|x| x.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        };
        assert!(text.contains("# TYPE mongoctl_op_latency_seconds histogram"));
        for (series, value) in [
            (r#"bucket{type="reads",le="0.000016"}"#, "0"),
            (r#"bucket{type="reads",le="0.000032"}"#, "7"),
            (r#"bucket{type="reads",le="0.003072"}"#, "10"),
            (r#"bucket{type="reads",le="+Inf"}"#, "10"),
            (r#"sum{type="reads"}"#, "0.012"),
            (r#"count{type="writes"}"#, "0"),
            // An operation in the unbounded bucket is only in +Inf.
            (r#"bucket{type="commands",le="1099511.627776"}"#, "0"),
            (r#"bucket{type="commands",le="+Inf"}"#, "1"),
        ] {
            let name = format!("mongoctl_op_latency_seconds_{series}");
            assert_eq!(line(&name), value, "{name}");
        }
        let buckets = text.matches("_bucket{type=\"reads\"").count();
        assert_eq!(buckets, crate::stats::bucket_lower_bounds().len());
    }
}
