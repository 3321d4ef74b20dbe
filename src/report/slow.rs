//! The slow-operations part: the profiler's slowest operations (`profile slow`), COLLSCANs
//! marked, with the index `explain` would suggest for a scanning query (ESR order, from the
//! profiled command's filter and sort).

use mongodb::Client;
use serde::Serialize;

use super::Part;
use crate::stats::{self, SlowOp};

#[derive(Debug, Clone, Serialize)]
pub struct SlowRow {
    #[serde(flatten)]
    pub op: SlowOp,
    /// For a COLLSCAN with a filter: the index to declare.
    pub suggested_index: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowPart {
    pub operations: Vec<SlowRow>,
    pub collscans: usize,
    /// Databases whose profile could not be read.
    pub unavailable: Vec<stats::UnavailableAt>,
}

pub async fn slow(client: &Client, targets: &[(String, String)], limit: i64) -> Part<SlowPart> {
    let report = stats::slow_ops(client, targets, limit.max(1), None).await;
    if report.operations.is_empty() {
        if let Some(u) = report.unavailable.first()
            && report.unavailable.len() == targets.len()
        {
            return Part::unavailable(&u.unavailable);
        }
        return Part::no_data(
            "no profiled operation: the profiler is off or nothing was slow (mongoctl profile set --level 1 --slowms 100)",
        );
    }
    let operations: Vec<SlowRow> = report
        .operations
        .into_iter()
        .map(|op| SlowRow {
            suggested_index: op.collscan.then(|| suggestion(&op.command)).flatten(),
            op,
        })
        .collect();
    Part::Ok {
        data: SlowPart {
            collscans: operations.iter().filter(|o| o.op.collscan).count(),
            operations,
            unavailable: report.unavailable,
        },
    }
}

/// The ESR index for a profiled find/count/aggregate-with-$match: None without a filter.
fn suggestion(command: &serde_json::Value) -> Option<serde_json::Value> {
    let filter = command
        .get("filter")
        .or_else(|| command.get("query"))
        .or_else(|| command.get("pipeline")?.as_array()?.first()?.get("$match"))?;
    let filter = bson::to_document(filter).ok()?;
    let sort = command.get("sort").and_then(|s| bson::to_document(s).ok());
    let key = stats::suggest_index(&filter, sort.as_ref());
    (!key.is_empty())
        .then(|| serde_json::to_value(&key).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suggests_an_esr_index_from_a_profiled_command() {
        let find = json!({"find": "orders", "filter": {"status": "paid", "amount": {"$gt": 5}}, "sort": {"created": -1}});
        assert_eq!(
            suggestion(&find),
            Some(json!({"status": 1, "created": -1, "amount": 1}))
        );
        let agg = json!({"aggregate": "orders", "pipeline": [{"$match": {"customer": 3}}]});
        assert_eq!(suggestion(&agg), Some(json!({"customer": 1})));
        assert_eq!(suggestion(&json!({"find": "orders", "filter": {}})), None);
        assert_eq!(suggestion(&json!({"insert": "orders"})), None);
    }
}
