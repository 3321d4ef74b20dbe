//! Latency percentiles from the server's own histograms: `serverStatus` with
//! `opLatencies: {histograms: true}` returns, per reads / writes / commands, the operations
//! counted since the server started in exponential buckets (microseconds). The server keeps
//! no samples, so a percentile is placed in its bucket and interpolated linearly inside it
//! (as Prometheus' `histogram_quantile` does): exact to the bucket, which is a power of two
//! wide up to 2 ms, half of one up to ~2.1 s, and a power of two beyond.

use bson::{Document, doc};
use mongodb::Client;
use serde::Serialize;

use super::{Section, num};

/// The server's bucket lower bounds in microseconds: 0, then 2^1 … 2^10, then 2^n and
/// 3·2^(n-1) for n in 11..=20, then 2^n for n in 21..=40 (operation_latency_histogram.cpp).
pub fn bucket_lower_bounds() -> Vec<u64> {
    let mut b = vec![0];
    b.extend((1..=10).map(|k| 1u64 << k));
    for n in 11..=20 {
        b.push(1u64 << n);
        b.push(3u64 << (n - 1));
    }
    b.extend((21..=40).map(|n| 1u64 << n));
    b
}

/// The bucket after the one starting at `lower` (None: the last, unbounded one, or not a
/// bound the server uses).
fn upper_bound(bounds: &[u64], lower: u64) -> Option<u64> {
    let i = bounds.iter().position(|&b| b == lower)?;
    bounds.get(i + 1).copied()
}

/// One kind's histogram: `(lower bound µs, count)` of its non-empty buckets, ascending.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Histogram {
    pub buckets: Vec<(u64, u64)>,
    pub ops: u64,
    /// The sum of the operations' latencies, microseconds.
    pub latency_micros: u64,
}

impl Histogram {
    /// From `opLatencies.<kind>` (`{histogram: [{micros, count}], latency, ops}`).
    pub fn from_document(d: &Document) -> Histogram {
        let mut buckets: Vec<(u64, u64)> = d
            .get_array("histogram")
            .map(|a| {
                a.iter()
                    .filter_map(|b| b.as_document())
                    .map(|b| (num(b, "micros") as u64, num(b, "count") as u64))
                    .filter(|&(_, n)| n > 0)
                    .collect()
            })
            .unwrap_or_default();
        buckets.sort_unstable();
        Histogram {
            ops: num(d, "ops") as u64,
            latency_micros: num(d, "latency") as u64,
            buckets,
        }
    }
}

/// A percentile placed in its bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantile {
    /// Interpolated inside the bucket, milliseconds.
    pub ms: f64,
    pub bucket_from_ms: f64,
    /// None for the last, unbounded bucket (`ms` is then its lower bound).
    pub bucket_to_ms: Option<f64>,
    /// Operations counted (since the server started).
    pub ops: u64,
}

/// The `q` quantile (0 < q ≤ 1) of the histogram; None when it counts no operation.
pub fn quantile(h: &Histogram, q: f64) -> Option<Quantile> {
    let total: u64 = h.buckets.iter().map(|&(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let bounds = bucket_lower_bounds();
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut before = 0u64;
    for &(lower, n) in &h.buckets {
        if (before + n) as f64 >= rank {
            let upper = upper_bound(&bounds, lower);
            let inside = ((rank - before as f64) / n as f64).clamp(0.0, 1.0);
            let micros = match upper {
                Some(u) => lower as f64 + inside * (u - lower) as f64,
                None => lower as f64,
            };
            return Some(Quantile {
                ms: micros / 1000.0,
                bucket_from_ms: lower as f64 / 1000.0,
                bucket_to_ms: upper.map(|u| u as f64 / 1000.0),
                ops: total,
            });
        }
        before += n;
    }
    None
}

/// `(upper bound µs, operations below it)` at every bound the server uses after 0: a
/// histogram as Prometheus counts it (cumulative, a fixed bucket set so that scrapes can be
/// subtracted). The server's buckets are `[lower, upper)` where Prometheus' `le` is `≤`;
/// at microsecond resolution the difference is one microsecond.
pub fn cumulative(h: &Histogram) -> Vec<(u64, u64)> {
    let mut below = 0u64;
    let mut rest = h.buckets.iter().peekable();
    bucket_lower_bounds()[1..]
        .iter()
        .map(|&upper| {
            while let Some(&&(lower, n)) = rest.peek() {
                if lower >= upper {
                    break;
                }
                below += n;
                rest.next();
            }
            (upper, below)
        })
        .collect()
}

/// Reads, writes and commands histograms since the server started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyHistograms {
    pub reads: Histogram,
    pub writes: Histogram,
    pub commands: Histogram,
}

impl LatencyHistograms {
    /// Each histogram with the server's name for its kind.
    pub fn kinds(&self) -> [(&'static str, &Histogram); 3] {
        [
            ("reads", &self.reads),
            ("writes", &self.writes),
            ("commands", &self.commands),
        ]
    }
}

/// serverStatus with histograms, and nothing else it could leave out.
pub async fn latency_histograms(client: &Client) -> Section<LatencyHistograms> {
    let command = doc! {
        "serverStatus": 1,
        "opLatencies": {"histograms": true},
        "repl": 0, "metrics": 0, "locks": 0, "wiredTiger": 0, "tcmalloc": 0,
    };
    let result = client
        .database("admin")
        .run_command(command)
        .await
        .map(|s| {
            let part = |k: &str| {
                s.get_document("opLatencies")
                    .and_then(|l| l.get_document(k))
                    .map(Histogram::from_document)
                    .unwrap_or_default()
            };
            LatencyHistograms {
                reads: part("reads"),
                writes: part("writes"),
                commands: part("commands"),
            }
        });
    Section::from_result(result, "serverStatus", "the cluster")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_are_the_servers() {
        let b = bucket_lower_bounds();
        assert_eq!(b.len(), 51);
        assert_eq!(
            &b[..12],
            &[0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
        );
        assert_eq!(&b[12..16], &[3072, 4096, 6144, 8192]);
        // 2^20 and its half-split, then powers of two.
        let i = b.iter().position(|&x| x == 1 << 20).unwrap();
        assert_eq!(&b[i..i + 4], &[1_048_576, 1_572_864, 2_097_152, 4_194_304]);
        assert_eq!(*b.last().unwrap(), 1 << 40);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
    }

    fn histogram(buckets: &[(u64, u64)]) -> Histogram {
        Histogram {
            buckets: buckets.to_vec(),
            ops: buckets.iter().map(|b| b.1).sum(),
            latency_micros: 0,
        }
    }

    #[test]
    fn a_percentile_is_interpolated_inside_its_bucket() {
        // 99 fast reads and one in [196.608, 262.144) ms: p99 is the end of the fast bucket,
        // p99.5 halfway through the slow one.
        let h = histogram(&[(64, 99), (196_608, 1)]);
        let p99 = quantile(&h, 0.99).unwrap();
        assert_eq!(p99.bucket_from_ms, 0.064);
        assert_eq!(p99.bucket_to_ms, Some(0.128));
        assert!((p99.ms - 0.128).abs() < 1e-12, "{p99:?}");
        let p995 = quantile(&h, 0.995).unwrap();
        assert_eq!(p995.bucket_from_ms, 196.608);
        assert_eq!(p995.bucket_to_ms, Some(262.144));
        assert!(
            (p995.ms - (196.608 + 0.5 * 65.536)).abs() < 1e-9,
            "{p995:?}"
        );
        assert_eq!(p995.ops, 100);
        // Ten slow ones of a hundred: p99 is 90 % of the way through the slow bucket.
        let h = histogram(&[(64, 90), (196_608, 10)]);
        let p99 = quantile(&h, 0.99).unwrap();
        assert!((p99.ms - (196.608 + 0.9 * 65.536)).abs() < 1e-9, "{p99:?}");
    }

    #[test]
    fn the_last_bucket_has_no_end_and_an_empty_histogram_no_percentile() {
        let h = histogram(&[(1 << 40, 3)]);
        let q = quantile(&h, 0.99).unwrap();
        assert_eq!(q.bucket_to_ms, None);
        assert_eq!(q.ms, (1u64 << 40) as f64 / 1000.0);
        assert_eq!(quantile(&Histogram::default(), 0.99), None);
    }

    #[test]
    fn the_servers_document_is_read_in_order() {
        let d = doc! {
            "histogram": [
                {"micros": 2048_i64, "count": 3_i64},
                {"micros": 16_i64, "count": 7_i64},
            ],
            "latency": 12_000_i64,
            "ops": 10_i64,
        };
        let h = Histogram::from_document(&d);
        assert_eq!(h.buckets, [(16, 7), (2048, 3)]);
        assert_eq!(h.ops, 10);
        assert_eq!(h.latency_micros, 12_000);
    }

    #[test]
    fn the_cumulative_counts_rise_at_each_bucket_end() {
        // 7 in [16, 32), 3 in [2048, 3072), 2 in the last, unbounded bucket.
        let c = cumulative(&histogram(&[(16, 7), (2048, 3), (1 << 40, 2)]));
        let bounds = bucket_lower_bounds();
        assert_eq!(c.len(), bounds.len() - 1);
        assert_eq!(c.iter().map(|b| b.0).collect::<Vec<_>>(), bounds[1..]);
        let at = |upper: u64| c.iter().find(|b| b.0 == upper).unwrap().1;
        assert_eq!(at(16), 0);
        assert_eq!(at(32), 7);
        assert_eq!(at(2048), 7);
        assert_eq!(at(3072), 10);
        // The last finite bound still excludes the unbounded bucket; +Inf is the total.
        assert_eq!(at(1 << 40), 10);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
