//! Query plans: the winning plan of a find summarized, and an index suggested by the ESR rule.

use bson::{Document, doc};
use mongodb::Database;
use serde::Serialize;

use crate::model::{as_f64, doc_to_json};

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    pub database: String,
    pub collection: String,
    pub filter: serde_json::Value,
    pub sort: Option<serde_json::Value>,
    /// Stages from the top down, e.g. ["FETCH", "IXSCAN email_1"].
    pub stages: Vec<String>,
    /// Index names the winning plan scans (empty for a collection scan).
    pub indexes: Vec<String>,
    pub collscan: bool,
    pub keys_examined: i64,
    pub docs_examined: i64,
    pub returned: i64,
    pub time_ms: i64,
    pub rejected_plans: usize,
    /// Whether the winning plan's indexes cover at least one of the filter's fields.
    pub filter_supported: bool,
    /// An index that would support the query (equality, then sort, then range fields),
    /// when the winning plan scans the collection or its index serves none of the
    /// filter's fields (e.g. only the sort).
    pub suggested_index: Option<serde_json::Value>,
}

impl Explain {
    /// The indexes the winning plan reads, the `_id` index of an IDHACK lookup included.
    pub fn used_indexes(&self) -> Vec<String> {
        let mut v = self.indexes.clone();
        if self.stages.iter().any(|s| s == "IDHACK") && !v.iter().any(|i| i == "_id_") {
            v.push("_id_".into());
        }
        v
    }
}

/// A find with an optional projection, explained.
pub async fn explain_find(
    db: &Database,
    collection: &str,
    filter: &Document,
    sort: Option<&Document>,
    projection: Option<&Document>,
) -> mongodb::error::Result<Explain> {
    let mut find = doc! {"find": collection, "filter": filter.clone()};
    if let Some(s) = sort {
        find.insert("sort", s.clone());
    }
    if let Some(p) = projection {
        find.insert("projection", p.clone());
    }
    run_explain(db, collection, find, filter, sort).await
}

/// An aggregation explained; `filter` and `sort` are its leading `$match` and `$sort` (for
/// the summary's index suggestion).
pub async fn explain_aggregate(
    db: &Database,
    collection: &str,
    pipeline: &[Document],
    filter: &Document,
    sort: Option<&Document>,
) -> mongodb::error::Result<Explain> {
    let aggregate = doc! {"aggregate": collection, "pipeline": pipeline.to_vec(), "cursor": {}};
    run_explain(db, collection, aggregate, filter, sort).await
}

async fn run_explain(
    db: &Database,
    collection: &str,
    command: Document,
    filter: &Document,
    sort: Option<&Document>,
) -> mongodb::error::Result<Explain> {
    let reply = db
        .run_command(doc! {"explain": command, "verbosity": "executionStats"})
        .await?;
    Ok(summarize_explain(
        db.name(),
        collection,
        filter,
        sort,
        &cursor_stage(&reply),
    ))
}

/// An aggregation's explain holds the query layer's plan in its first stage (`$cursor`)
/// unless the whole pipeline was pushed down into it.
fn cursor_stage(reply: &Document) -> Document {
    reply
        .get_array("stages")
        .ok()
        .and_then(|s| s.first())
        .and_then(|s| s.as_document())
        .and_then(|s| s.get_document("$cursor").ok())
        .cloned()
        .unwrap_or_else(|| reply.clone())
}

/// Reads an explain reply (classic or SBE shapes); pure.
pub fn summarize_explain(
    database: &str,
    collection: &str,
    filter: &Document,
    sort: Option<&Document>,
    reply: &Document,
) -> Explain {
    let planner = sub(reply, "queryPlanner").cloned().unwrap_or_default();
    let winning = sub(&planner, "winningPlan").cloned().unwrap_or_default();
    let winning = sub(&winning, "queryPlan").cloned().unwrap_or(winning);
    let mut stages = Vec::new();
    let mut indexes = Vec::new();
    let mut keys = Vec::new();
    walk_plan(&winning, &mut stages, &mut indexes, &mut keys);
    let collscan = stages.iter().any(|s| s == "COLLSCAN");
    let (mut equality, mut range) = (Vec::new(), Vec::new());
    classify_fields(filter, &mut equality, &mut range);
    let filter_supported = equality
        .iter()
        .chain(&range)
        .any(|f| keys.iter().any(|k| k.contains_key(f)));
    let has_fields = !equality.is_empty() || !range.is_empty();
    let unsupported = collscan || (has_fields && !filter_supported);
    let exec = sub(reply, "executionStats").cloned().unwrap_or_default();
    Explain {
        database: database.to_string(),
        collection: collection.to_string(),
        filter: doc_to_json(filter),
        sort: sort.map(doc_to_json),
        stages,
        indexes,
        collscan,
        keys_examined: int(&exec, "totalKeysExamined"),
        docs_examined: int(&exec, "totalDocsExamined"),
        returned: int(&exec, "nReturned"),
        time_ms: int(&exec, "executionTimeMillis"),
        rejected_plans: planner
            .get_array("rejectedPlans")
            .map(|a| a.len())
            .unwrap_or(0),
        filter_supported,
        suggested_index: unsupported
            .then(|| suggest_index(filter, sort))
            .filter(|k| !k.is_empty())
            .map(|k| doc_to_json(&k)),
    }
}

fn walk_plan(
    stage: &Document,
    stages: &mut Vec<String>,
    indexes: &mut Vec<String>,
    keys: &mut Vec<Document>,
) {
    let Ok(name) = stage.get_str("stage") else {
        return;
    };
    match stage.get_str("indexName") {
        Ok(ix) => {
            stages.push(format!("{name} {ix}"));
            indexes.push(ix.to_string());
            keys.extend(sub(stage, "keyPattern").cloned());
        }
        Err(_) => stages.push(name.to_string()),
    }
    if let Some(s) = sub(stage, "inputStage") {
        walk_plan(s, stages, indexes, keys);
    }
    for s in stage
        .get_array("inputStages")
        .map(|a| a.as_slice())
        .unwrap_or_default()
    {
        if let Some(s) = s.as_document() {
            walk_plan(s, stages, indexes, keys);
        }
    }
}

/// The ESR rule: equality fields, then the sort's fields, then range fields.
pub fn suggest_index(filter: &Document, sort: Option<&Document>) -> Document {
    let mut equality = Vec::new();
    let mut range = Vec::new();
    classify_fields(filter, &mut equality, &mut range);
    let mut key = Document::new();
    for f in equality {
        if !key.contains_key(&f) {
            key.insert(f, 1);
        }
    }
    for (f, v) in sort
        .map(|s| s.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if !key.contains_key(f) {
            let dir = if as_f64(v).is_some_and(|d| d < 0.0) {
                -1
            } else {
                1
            };
            key.insert(f.clone(), dir);
        }
    }
    for f in range {
        if !key.contains_key(&f) {
            key.insert(f, 1);
        }
    }
    key
}

pub fn classify_fields(filter: &Document, equality: &mut Vec<String>, range: &mut Vec<String>) {
    for (k, v) in filter {
        if k == "$and" {
            for c in v.as_array().map(|a| a.as_slice()).unwrap_or_default() {
                if let Some(c) = c.as_document() {
                    classify_fields(c, equality, range);
                }
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let is_range = v.as_document().is_some_and(|d| {
            d.keys().any(|op| {
                matches!(
                    op.as_str(),
                    "$gt" | "$gte" | "$lt" | "$lte" | "$ne" | "$nin" | "$regex" | "$exists"
                )
            })
        });
        if is_range {
            range.push(k.clone());
        } else {
            equality.push(k.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn an_aggregation_explain_is_read_from_its_cursor_stage() {
        let reply = doc! {"stages": [
            {"$cursor": {"queryPlanner": {"winningPlan": {"stage": "COLLSCAN"}}, "executionStats": {"nReturned": 4}}},
            {"$group": {}}
        ]};
        let e = summarize_explain("d", "c", &doc! {}, None, &cursor_stage(&reply));
        assert!(e.collscan);
        assert_eq!(e.returned, 4);
        let pushed = doc! {"queryPlanner": {"winningPlan": {"stage": "IDHACK"}}};
        let e = summarize_explain("d", "c", &doc! {}, None, &cursor_stage(&pushed));
        assert_eq!(e.used_indexes(), ["_id_"]);
    }

    #[test]
    fn esr_suggestion() {
        let k = suggest_index(
            &doc! {"age": {"$gt": 30}, "status": "A", "$and": [{"city": {"$in": ["x"]}}]},
            Some(&doc! {"created": -1}),
        );
        assert_eq!(k, doc! {"status": 1, "city": 1, "created": -1, "age": 1});
    }

    #[test]
    fn explain_summary_reads_classic_and_sbe_plans() {
        let classic = doc! {
            "queryPlanner": {"winningPlan": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN", "indexName": "a_1", "keyPattern": {"a": 1}}}, "rejectedPlans": []},
            "executionStats": {"nReturned": 3, "executionTimeMillis": 1, "totalKeysExamined": 3, "totalDocsExamined": 3},
        };
        let e = summarize_explain("d", "c", &doc! {"a": 1}, None, &classic);
        assert_eq!(e.stages, vec!["FETCH", "IXSCAN a_1"]);
        assert_eq!(e.indexes, vec!["a_1"]);
        assert!(!e.collscan && e.suggested_index.is_none());
        let sort_only = doc! {
            "queryPlanner": {"winningPlan": {"stage": "FETCH", "filter": {}, "inputStage": {"stage": "IXSCAN", "indexName": "t_1", "keyPattern": {"t": 1}}}},
        };
        let e = summarize_explain("d", "c", &doc! {"b": 2}, Some(&doc! {"t": 1}), &sort_only);
        assert!(!e.collscan && !e.filter_supported);
        assert_eq!(e.suggested_index, Some(serde_json::json!({"b": 1, "t": 1})));
        let sbe = doc! {
            "queryPlanner": {"winningPlan": {"queryPlan": {"stage": "COLLSCAN"}, "slotBasedPlan": {}}},
            "executionStats": {"nReturned": 1, "totalDocsExamined": 100},
        };
        let e = summarize_explain("d", "c", &doc! {"b": 2}, None, &sbe);
        assert!(e.collscan);
        assert_eq!(e.docs_examined, 100);
        assert_eq!(e.suggested_index, Some(serde_json::json!({"b": 1})));
    }
}
