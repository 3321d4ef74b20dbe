//! `import --verify`: per source, the rows must add up (source rows = documents imported +
//! rows rejected + rows skipped; embedded child rows = array elements in the target), and an
//! order-independent checksum of the selected fields per key must agree on both sides: the
//! source re-read and converted as the run did, the target read back. Nothing is written.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use bson::{Bson, Document, doc};
use mongodb::Client;
use serde::Serialize;

use super::catalog::SourcePlan;
use super::convert::get_path;
use super::document::build;
use super::model::{Import, Source, TargetCollection, quote_qualified};
use super::reader::{SourceReader, count_rows};
use super::rejects;
use super::state;
use crate::relocate::digest::DigestSum;

#[derive(Debug, Clone, Serialize)]
pub struct VerifyRow {
    pub collection: String,
    pub source: String,
    pub source_rows: u64,
    pub imported: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub rows_add_up: bool,
    pub child_rows_source: u64,
    pub child_rows_target: u64,
    pub children_add_up: bool,
    pub checksum_source: String,
    pub checksum_target: String,
    pub checksum_matches: bool,
    /// Fields the checksum covers.
    pub fields: Vec<String>,
    /// When the checksums differ: the first keys whose fields differ, or that one side lacks.
    pub mismatched_keys: Vec<String>,
}

impl VerifyRow {
    pub fn ok(&self) -> bool {
        self.rows_add_up && self.children_add_up && self.checksum_matches
    }
}

pub async fn verify(
    pg: &tokio_postgres::Client,
    imp: &Import,
    plans: &[SourcePlan],
    client: &Client,
    database: &str,
    meta_db: &str,
    rejects_file: &Path,
) -> Result<Vec<VerifyRow>> {
    let mut out = Vec::new();
    for plan in plans {
        let coll = &imp.collections[plan.coll];
        let src = &coll.sources[plan.source];
        let mongo = client
            .database(database)
            .collection::<Document>(&coll.collection);
        let filter = src.stamp_filter();
        let (all, skipped) = count_rows(pg, src).await?;
        let rejected = rejects::keys(rejects_file, &coll.collection, &src.name)?;
        let imported = mongo
            .count_documents(filter.clone())
            .await
            .with_context(|| format!("counting {}", mongo.namespace()))?;
        let (child_src, child_tgt) = children(pg, src, &rejected, &mongo, &filter).await?;
        let started = state::started_at(
            client,
            meta_db,
            &state::state_id(&imp.name, &coll.collection, &src.name),
        )
        .await?
        .unwrap_or_else(bson::DateTime::now);
        let docs = SourceDocs {
            pg,
            coll,
            src,
            plan,
            rejected: &rejected,
            migrated_at: started,
        };
        let source_sum = docs.checksum().await?;
        let target_sum = target_checksum(coll, &mongo, &filter).await?;
        let mismatched_keys = if source_sum == target_sum {
            vec![]
        } else {
            docs.differing_keys(&mongo, &filter).await?
        };
        out.push(VerifyRow {
            collection: coll.collection.clone(),
            source: src.name.clone(),
            source_rows: all,
            imported,
            rejected: rejected.len() as u64,
            skipped,
            rows_add_up: all == imported + rejected.len() as u64 + skipped,
            child_rows_source: child_src,
            child_rows_target: child_tgt,
            children_add_up: child_src == child_tgt,
            checksum_matches: source_sum == target_sum,
            checksum_source: format!("{} docs {}", source_sum.count, source_sum.finish().hash),
            checksum_target: format!("{} docs {}", target_sum.count, target_sum.finish().hash),
            fields: coll.checksum.clone(),
            mismatched_keys,
        });
    }
    Ok(out)
}

/// The part of a document the checksum covers: its key and the selected fields present.
fn checksum_doc(coll: &TargetCollection, d: &Document) -> Vec<u8> {
    let mut p = Document::new();
    p.insert("k", get_path(d, &coll.key).cloned().unwrap_or(Bson::Null));
    for f in &coll.checksum {
        if let Some(v) = get_path(d, f) {
            p.insert(f.clone(), v.clone());
        }
    }
    bson::to_vec(&p).unwrap_or_default()
}

/// How many differing keys `--verify` names.
const MAX_KEYS_SHOWN: usize = 10;

fn hash128(bytes: &[u8]) -> u128 {
    let h = <sha2::Sha256 as sha2::Digest>::digest(bytes);
    u128::from_be_bytes(h[..16].try_into().unwrap_or_default())
}

/// The source's documents as the run built them (rejected rows left out), key and the
/// checksummed part, to `each`.
struct SourceDocs<'a> {
    pg: &'a tokio_postgres::Client,
    coll: &'a TargetCollection,
    src: &'a Source,
    plan: &'a SourcePlan,
    rejected: &'a BTreeSet<String>,
    migrated_at: bson::DateTime,
}

impl SourceDocs<'_> {
    async fn each(&self, mut each: impl FnMut(String, Vec<u8>)) -> Result<()> {
        let reader = SourceReader::new(self.pg, self.src, self.plan).await?;
        let mut after: Option<String> = None;
        loop {
            let rows = reader.batch(after.as_deref(), 5_000).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.key.clone());
            for r in rows.iter().filter(|r| !self.rejected.contains(&r.key)) {
                // A row that does not convert was rejected by the run (and is in `rejected`).
                if let Ok((key, d)) = build(
                    self.coll,
                    self.src,
                    self.plan,
                    &r.row_set(),
                    self.migrated_at,
                ) {
                    each(key, checksum_doc(self.coll, &d));
                }
            }
        }
        Ok(())
    }

    async fn checksum(&self) -> Result<DigestSum> {
        let mut sum = DigestSum::default();
        self.each(|_, part| sum.add(&part)).await?;
        Ok(sum)
    }

    /// The keys behind a checksum mismatch: the target's per-key hashes held in memory (only
    /// when the sums already differ), the source streamed against them.
    async fn differing_keys(
        &self,
        mongo: &mongodb::Collection<Document>,
        filter: &Document,
    ) -> Result<Vec<String>> {
        let mut target = std::collections::HashMap::new();
        let mut cur = mongo.find(filter.clone()).await?;
        while cur.advance().await? {
            let d = cur.deserialize_current()?;
            let key = get_path(&d, &self.coll.key)
                .map(super::convert::key_text)
                .unwrap_or_default();
            target.insert(key, hash128(&checksum_doc(self.coll, &d)));
        }
        let mut out = Vec::new();
        self.each(|key, part| {
            if target.remove(&key) != Some(hash128(&part)) && out.len() < MAX_KEYS_SHOWN {
                out.push(key);
            }
        })
        .await?;
        out.extend(
            target
                .into_keys()
                .take(MAX_KEYS_SHOWN.saturating_sub(out.len())),
        );
        Ok(out)
    }
}

async fn target_checksum(
    coll: &TargetCollection,
    mongo: &mongodb::Collection<Document>,
    filter: &Document,
) -> Result<DigestSum> {
    let mut sum = DigestSum::default();
    let mut cur = mongo.find(filter.clone()).await?;
    while cur.advance().await? {
        let d = cur.deserialize_current()?;
        sum.add(&checksum_doc(coll, &d));
    }
    Ok(sum)
}

/// Child rows of the imported parents (not skipped, not rejected; as many as each embed's
/// limit keeps) against the elements embedded in the target.
async fn children(
    pg: &tokio_postgres::Client,
    src: &Source,
    rejected: &BTreeSet<String>,
    mongo: &mongodb::Collection<Document>,
    filter: &Document,
) -> Result<(u64, u64)> {
    let mut source = 0u64;
    let mut target = 0u64;
    let rejected: Vec<&String> = rejected.iter().collect();
    for e in &src.embeds {
        let skip = src
            .skip
            .as_ref()
            .map(|s| format!(" AND NOT COALESCE(({s}), false)"))
            .unwrap_or_default();
        let per_parent = match (e.limit, e.as_array) {
            (_, false) => "LEAST(count(*), 1)".to_string(),
            (Some(l), true) => format!("LEAST(count(*), {l})"),
            (None, true) => "count(*)".to_string(),
        };
        let sql = format!(
            "SELECT COALESCE(sum(n), 0)::int8 FROM (SELECT {per_parent} AS n FROM {} c JOIN (SELECT {ref} AS r FROM {} WHERE NOT ({key}::text = ANY($1::text[])){skip}) p ON {fk} = p.r GROUP BY {fk}) x",
            quote_qualified(&e.table),
            src.from.from_sql(),
            ref = super::catalog::col("s", &e.references),
            key = super::catalog::col("s", &src.key),
            fk = super::catalog::col("c", &e.foreign_key),
        );
        let n: i64 = pg
            .query_one(&sql, &[&rejected])
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "counting child rows of {}: {}",
                    e.table,
                    super::pg::error_text(&err)
                )
            })?
            .get(0);
        source += n as u64;
        let per_doc = if e.as_array {
            doc! {"$size": {"$ifNull": [format!("${}", e.target), []]}}
        } else {
            doc! {"$cond": [{"$eq": [{"$type": format!("${}", e.target)}, "object"]}, 1, 0]}
        };
        let mut cur = mongo
            .aggregate(vec![
                doc! {"$match": filter.clone()},
                doc! {"$group": {"_id": null, "n": {"$sum": per_doc}}},
            ])
            .await?;
        if cur.advance().await? {
            let d = cur.deserialize_current()?;
            target += d
                .get_i64("n")
                .or_else(|_| d.get_i32("n").map(i64::from))
                .unwrap_or(0) as u64;
        }
    }
    Ok((source, target))
}
