//! What a drill checks on each restored namespace: its documents (count, and the content
//! digest where the manifest records one), its options (validator, capped, collation, time
//! series) and its indexes against the backup's metadata. Reading the restored collection is
//! here; the comparisons are pure.

use anyhow::{Context, Result};
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::Client;
use serde::Serialize;

use crate::backup::format::CollectionMeta;
use crate::backup::nsmatch::split;
use crate::relocate::Namespace;
use crate::relocate::digest::digest;

/// One thing a drill found not as the backup says.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// The namespace as in the backup.
    pub namespace: String,
    /// "restore", "count", "digest", "options", "indexes" or "validator".
    pub check: String,
    pub message: String,
}

/// How a namespace's content was verified.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ContentCheck {
    /// Count and content digest both checked.
    Digest,
    /// The backup records no digest (an older mongoctl backup, or mongodump's): only the count.
    CountsOnly,
    /// A view: no documents of its own.
    View,
}

/// The checks of one restored namespace.
#[derive(Debug, Clone, Serialize)]
pub struct NsCheck {
    pub namespace: String,
    /// Where it was restored (a prefixed database with `--uri`).
    pub restored_as: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub expected_documents: Option<u64>,
    pub restored_documents: u64,
    pub content: ContentCheck,
    /// The restored collection's data size (uncompressed BSON, `collStats.size`).
    pub bytes: u64,
    pub indexes: usize,
    pub ok: bool,
}

/// Reads `target` back and checks it against the backup: `expected` documents, the manifest's
/// `digest` (if any) and the metadata `meta`. Findings are pushed onto `findings`.
pub async fn check_namespace(
    client: &Client,
    source: &str,
    target: &str,
    meta: &CollectionMeta,
    expected: Option<u64>,
    recorded_digest: Option<&str>,
    findings: &mut Vec<Finding>,
) -> Result<NsCheck> {
    let before = findings.len();
    let (db, coll) = split(target);
    let find = |check: &str, message: String| Finding {
        namespace: source.to_string(),
        check: check.into(),
        message,
    };
    let live = live_meta(client, db, coll).await?;
    let mut out = NsCheck {
        namespace: source.to_string(),
        restored_as: target.to_string(),
        kind: meta.kind.clone(),
        expected_documents: expected,
        restored_documents: 0,
        content: ContentCheck::View,
        bytes: 0,
        indexes: meta.indexes.len(),
        ok: true,
    };
    let Some(live) = live else {
        findings.push(find(
            "restore",
            format!("{target} does not exist after the restore"),
        ));
        out.ok = false;
        return Ok(out);
    };
    if !meta.is_view() {
        // A time series is dumped and restored as its buckets: they are what the digest covers.
        let read = if meta.is_timeseries() {
            format!("system.buckets.{coll}")
        } else {
            coll.to_string()
        };
        let got = digest(client, &Namespace::new(db, &read), None).await?;
        out.restored_documents = got.count;
        out.bytes = data_size(client, db, &read).await;
        if let Some(want) = expected
            && want != got.count
        {
            findings.push(find(
                "count",
                format!(
                    "{} document(s) restored, the backup holds {want}",
                    got.count
                ),
            ));
        }
        out.content = match recorded_digest {
            Some(want) => {
                if want != got.hash {
                    findings.push(find(
                        "digest",
                        format!(
                            "content digest {} of the restored documents, the manifest recorded {want}: \
                             documents differ from the ones that were backed up",
                            got.hash
                        ),
                    ));
                }
                ContentCheck::Digest
            }
            None => ContentCheck::CountsOnly,
        };
    }
    for m in compare_options(&meta.options, &live.options) {
        findings.push(find("options", m));
    }
    for m in compare_indexes(&meta.indexes, &live.indexes) {
        findings.push(find("indexes", m));
    }
    out.ok = findings.len() == before;
    Ok(out)
}

/// The restored collection's metadata as `backup` reads it (`None`: it does not exist).
pub async fn live_meta(client: &Client, db: &str, coll: &str) -> Result<Option<CollectionMeta>> {
    let d = client.database(db);
    let entries: Vec<Document> = d
        .run_cursor_command(doc! {"listCollections": 1, "filter": {"name": coll}})
        .await
        .with_context(|| format!("listing {db}.{coll}"))?
        .try_collect()
        .await?;
    let Some(entry) = entries.into_iter().next() else {
        return Ok(None);
    };
    let indexes: Vec<Document> = if entry.get_str("type") == Ok("view") {
        Vec::new()
    } else {
        d.run_cursor_command(doc! {"listIndexes": coll})
            .await
            .with_context(|| format!("listing the indexes of {db}.{coll}"))?
            .try_collect()
            .await?
    };
    Ok(Some(CollectionMeta::from_list_entry(&entry, indexes)))
}

async fn data_size(client: &Client, db: &str, coll: &str) -> u64 {
    let stats = client
        .database(db)
        .run_command(doc! {"collStats": coll})
        .await
        .ok();
    match stats.as_ref().and_then(|s| s.get("size")) {
        Some(Bson::Int32(v)) => *v as u64,
        Some(Bson::Int64(v)) => *v as u64,
        Some(Bson::Double(v)) => *v as u64,
        _ => 0,
    }
}

/// Differences between the backup's collection options and the restored ones (the uuid
/// aside; key order aside, since mongodump writes options in random order, TOOLS-3411).
pub fn compare_options(backup: &Document, restored: &Document) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = backup
        .keys()
        .chain(restored.keys())
        .filter(|k| k.as_str() != "uuid")
        .collect();
    let mut out = Vec::new();
    for k in keys {
        let (a, b) = (backup.get(k), restored.get(k));
        if a.map(unordered) != b.map(unordered) {
            out.push(format!(
                "option {k}: the backup has {}, the restored collection {}",
                shown(a),
                shown(b)
            ));
        }
    }
    out
}

/// Differences between the backup's indexes and the restored ones, by name: missing, extra,
/// or with other keys (in order) or options (the index version `v` aside).
pub fn compare_indexes(backup: &[Document], restored: &[Document]) -> Vec<String> {
    let by_name = |list: &[Document]| -> std::collections::BTreeMap<String, Document> {
        list.iter()
            .map(|i| (i.get_str("name").unwrap_or_default().to_string(), i.clone()))
            .collect()
    };
    let (want, got) = (by_name(backup), by_name(restored));
    let mut out = Vec::new();
    for (name, w) in &want {
        match got.get(name) {
            None => out.push(format!(
                "index {name} is in the backup but was not restored"
            )),
            Some(g) => {
                if !same_key(w.get_document("key").ok(), g.get_document("key").ok()) {
                    out.push(format!(
                        "index {name}: key {} in the backup, {} restored",
                        shown(w.get("key")),
                        shown(g.get("key"))
                    ));
                }
                if index_options(w) != index_options(g) {
                    out.push(format!(
                        "index {name}: options {} in the backup, {} restored",
                        Bson::Document(index_options(w)).into_relaxed_extjson(),
                        Bson::Document(index_options(g)).into_relaxed_extjson()
                    ));
                }
            }
        }
    }
    for name in got.keys().filter(|n| !want.contains_key(*n)) {
        out.push(format!(
            "index {name} was restored but is not in the backup's metadata"
        ));
    }
    out
}

/// Index keys compared in order (`{a: 1, b: -1}` is not `{b: -1, a: 1}`; a `Document`'s own
/// equality ignores order).
pub fn same_key(a: Option<&Document>, b: Option<&Document>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
        (a, b) => a.is_none() && b.is_none(),
    }
}

fn index_options(i: &Document) -> Document {
    let mut d: Document = i
        .iter()
        .filter(|(k, _)| !["key", "name", "v", "ns"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), unordered(v)))
        .collect();
    sort_keys(&mut d);
    d
}

/// `v` with the keys of every document in it sorted (for an order-blind comparison).
fn unordered(v: &Bson) -> Bson {
    match v {
        Bson::Document(d) => {
            let mut d: Document = d.iter().map(|(k, v)| (k.clone(), unordered(v))).collect();
            sort_keys(&mut d);
            Bson::Document(d)
        }
        Bson::Array(a) => Bson::Array(a.iter().map(unordered).collect()),
        other => other.clone(),
    }
}

fn sort_keys(d: &mut Document) {
    let mut pairs: Vec<(String, Bson)> = std::mem::take(d).into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    d.extend(pairs);
}

fn shown(v: Option<&Bson>) -> String {
    match v {
        None => "none".into(),
        Some(v) => v.clone().into_relaxed_extjson().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_compare_without_key_order_or_uuid() {
        let a = doc! {"validator": {"$jsonSchema": {"required": ["a"], "bsonType": "object"}}, "uuid": "x"};
        let b = doc! {"validator": {"$jsonSchema": {"bsonType": "object", "required": ["a"]}}};
        assert!(compare_options(&a, &b).is_empty());
        let c = doc! {"validator": {"$jsonSchema": {"bsonType": "object"}}, "capped": true};
        let d = compare_options(&a, &c);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("option capped: the backup has none"),
            "{d:?}"
        );
    }

    #[test]
    fn a_missing_an_extra_and_a_changed_index_are_each_named() {
        let id = doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"};
        let backup = vec![
            id.clone(),
            doc! {"v": 2, "key": {"a": 1, "b": -1}, "name": "ab", "unique": true},
            doc! {"v": 2, "key": {"c": 1}, "name": "c_1"},
        ];
        let restored = vec![
            id,
            doc! {"v": 2, "key": {"b": -1, "a": 1}, "name": "ab"},
            doc! {"v": 2, "key": {"d": 1}, "name": "d_1"},
        ];
        let d = compare_indexes(&backup, &restored);
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d[0].starts_with("index ab: key"), "{d:?}");
        assert!(d[1].starts_with("index ab: options"), "{d:?}");
        assert_eq!(d[2], "index c_1 is in the backup but was not restored");
        assert_eq!(
            d[3],
            "index d_1 was restored but is not in the backup's metadata"
        );
    }
}
