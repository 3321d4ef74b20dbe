//! Index usage from `$indexStats`, and the flags (unused, redundant, unmanaged) drawn from it.

use bson::{Document, doc};
use futures::future::join_all;
use mongodb::{Client, Database};
use serde::Serialize;

use crate::model::{ClusterState, as_f64, doc_to_json};

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct IndexUsage {
    pub domain: String,
    pub database: String,
    pub collection: String,
    pub name: String,
    pub key: serde_json::Value,
    pub unique: bool,
    /// Bytes (null when $collStats is not allowed).
    pub size: Option<i64>,
    /// Operations that used the index since `since` (per server; reset on restart).
    pub ops: i64,
    pub since: Option<String>,
    /// Declared in the spec's indexes/<domain>/<collection>.json (compared by name).
    pub declared: bool,
    /// "unused", "redundant", "unmanaged".
    pub flags: Vec<String>,
    /// The index whose key this one's key is a prefix of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundant_with: Option<String>,
    /// The query contracts that need this index (then it is never flagged unused).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub indexes: Vec<IndexUsage>,
    /// Collections (or databases) whose indexes could not be read, and why.
    pub unavailable: Vec<UnavailableAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnavailableAt {
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(flatten)]
    pub unavailable: Unavailable,
}

/// `$indexStats` and index sizes of every collection of the target databases, flagged
/// against `desired` (the spec's indexes).
pub async fn index_usage(
    client: &Client,
    targets: &[Target],
    desired: &ClusterState,
) -> IndexReport {
    let per_db = join_all(targets.iter().map(|(domain, name, _)| {
        let db = client.database(name);
        async move {
            let mut out = Vec::new();
            let mut denied = Vec::new();
            let specs = match list_collections(&db).await {
                Ok(s) => s,
                Err(e) => {
                    denied.push(UnavailableAt {
                        database: name.clone(),
                        collection: None,
                        unavailable: Unavailable::new(&e, "listCollections", name),
                    });
                    return (out, denied);
                }
            };
            let colls: Vec<String> = specs
                .iter()
                .filter(|s| {
                    matches!(
                        s.get_str("type").unwrap_or("collection"),
                        "collection" | "timeseries"
                    )
                })
                .filter_map(|s| s.get_str("name").ok())
                .filter(|n| !n.starts_with("system."))
                .map(str::to_string)
                .collect();
            let results = join_all(colls.iter().map(|c| collection_index_usage(&db, c))).await;
            for (coll, r) in colls.iter().zip(results) {
                match r {
                    Ok(rows) => {
                        let declared: Vec<&str> = desired
                            .database(name)
                            .and_then(|d| d.collection(coll))
                            .map(|c| c.indexes.iter().map(|i| i.name.as_str()).collect())
                            .unwrap_or_default();
                        for mut u in flag_indexes(rows) {
                            u.domain = domain.clone();
                            u.declared = u.name == "_id_" || declared.contains(&u.name.as_str());
                            if !u.declared {
                                u.flags.push("unmanaged".into());
                            }
                            out.push(u);
                        }
                    }
                    Err(u) => denied.push(UnavailableAt {
                        database: name.clone(),
                        collection: Some(coll.clone()),
                        unavailable: u,
                    }),
                }
            }
            (out, denied)
        }
    }))
    .await;
    let mut report = IndexReport {
        indexes: vec![],
        unavailable: vec![],
    };
    for (rows, denied) in per_db {
        report.indexes.extend(rows);
        report.unavailable.extend(denied);
    }
    report
}

async fn collection_index_usage(
    db: &Database,
    coll: &str,
) -> std::result::Result<Vec<(IndexUsage, Document)>, Unavailable> {
    let ns = format!("{}.{coll}", db.name());
    let stats = aggregate(db, coll, vec![doc! {"$indexStats": {}}])
        .await
        .map_err(|e| Unavailable::new(&e, "indexStats", &ns))?;
    let sizes: Option<Document> =
        aggregate(db, coll, vec![doc! {"$collStats": {"storageStats": {}}}])
            .await
            .ok()
            .and_then(|d| d.into_iter().next())
            .and_then(|d| {
                sub(&d, "storageStats")
                    .and_then(|s| sub(s, "indexSizes"))
                    .cloned()
            });
    let mut rows: Vec<(IndexUsage, Document)> = stats
        .iter()
        .map(|s| {
            let name = s.get_str("name").unwrap_or_default().to_string();
            let key = sub(s, "key").cloned().unwrap_or_default();
            let spec = sub(s, "spec").cloned().unwrap_or_default();
            let accesses = sub(s, "accesses").cloned().unwrap_or_default();
            let u = IndexUsage {
                domain: String::new(),
                database: db.name().to_string(),
                collection: coll.to_string(),
                size: sizes.as_ref().map(|z| int(z, &name)),
                key: doc_to_json(&key),
                unique: spec.get_bool("unique") == Ok(true),
                ops: int(&accesses, "ops"),
                since: accesses.get_datetime("since").ok().map(|d| rfc3339(*d)),
                declared: false,
                flags: vec![],
                redundant_with: None,
                contracts: vec![],
                name,
            };
            let mut spec = spec;
            spec.insert("key", key);
            (u, spec)
        })
        .collect();
    rows.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(rows)
}

/// Records which query contracts need each index, `needed` keyed by (domain, collection,
/// index): an index a contract needs is used by it, whatever `$indexStats` counted.
pub fn mark_contract_use(
    report: &mut IndexReport,
    needed: &std::collections::BTreeMap<(String, String, String), Vec<String>>,
) {
    for u in &mut report.indexes {
        let key = (u.domain.clone(), u.collection.clone(), u.name.clone());
        if let Some(names) = needed.get(&key) {
            u.contracts = names.clone();
            u.flags.retain(|f| f != "unused");
        }
    }
}

/// Marks unused indexes (no operation since the server started counting) and redundant ones
/// (a plain index whose key is a prefix of another index's key on the same collection).
pub fn flag_indexes(rows: Vec<(IndexUsage, Document)>) -> Vec<IndexUsage> {
    let keys: Vec<(String, Document)> = rows
        .iter()
        .map(|(u, s)| {
            (
                u.name.clone(),
                s.get_document("key").cloned().unwrap_or_default(),
            )
        })
        .collect();
    rows.into_iter()
        .map(|(mut u, spec)| {
            if u.name != "_id_" && u.ops == 0 {
                u.flags.push("unused".into());
            }
            let plain = u.name != "_id_"
                && spec.get_bool("unique") != Ok(true)
                && !spec.contains_key("partialFilterExpression")
                && spec.get_bool("sparse") != Ok(true);
            let key = spec.get_document("key").cloned().unwrap_or_default();
            if plain
                && let Some((other, _)) = keys
                    .iter()
                    .find(|(n, k)| *n != u.name && is_strict_prefix(&key, k))
            {
                u.flags.push("redundant".into());
                u.redundant_with = Some(other.clone());
            }
            u
        })
        .collect()
}

/// `a`'s fields and directions are the leading part of `b`'s, and `b` has more.
pub fn is_strict_prefix(a: &Document, b: &Document) -> bool {
    !a.is_empty()
        && a.len() < b.len()
        && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match (as_f64(va), as_f64(vb)) {
                    (Some(x), Some(y)) => x.signum() == y.signum(),
                    _ => va == vb,
                }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn prefix_detection_respects_order_and_direction() {
        assert!(is_strict_prefix(&doc! {"a": 1}, &doc! {"a": 1, "b": 1}));
        assert!(is_strict_prefix(&doc! {"a": -1}, &doc! {"a": -1.0, "b": 1}));
        assert!(!is_strict_prefix(&doc! {"a": 1}, &doc! {"a": -1, "b": 1}));
        assert!(!is_strict_prefix(&doc! {"b": 1}, &doc! {"a": 1, "b": 1}));
        assert!(!is_strict_prefix(
            &doc! {"a": 1, "b": 1},
            &doc! {"a": 1, "b": 1}
        ));
        assert!(!is_strict_prefix(
            &doc! {"t": "text"},
            &doc! {"t": 1, "x": 1}
        ));
    }
}
