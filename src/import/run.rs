//! The import run: per source, in key order, batch by batch — read, convert, validate offline
//! against the target's `$jsonSchema`, insert unordered, write the rows that did not make it to
//! the rejects file, then move the watermark. A killed run resumes after the watermark; the
//! batch in flight is repeated and meets its own documents (same derived `_id`, same content),
//! which count as already present, not as duplicates. Progress goes out as migration events.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use bson::{Bson, DateTime, Document, doc};
use mongodb::Client;
use mongodb::error::ErrorKind;
use serde::Serialize;

use super::catalog::SourcePlan;
use super::document::build;
use super::model::{Collision, Import, Source, TargetCollection};
use super::reader::{ParentRow, SourceReader, count_rows};
use super::rejects::{self, Reject};
use super::state::{self, BatchCounts};
use crate::jsonschema::CompiledSchema;
use crate::migrate::events::{Event, Observer};

pub struct RunOptions {
    pub batch_size: usize,
    pub strict: bool,
    pub rejects: PathBuf,
}

/// Where documents go.
pub struct Target<'a> {
    pub client: &'a Client,
    pub database: String,
    pub meta_db: &'a str,
    /// Each collection's compiled validator, by collection name.
    pub schemas: HashMap<String, CompiledSchema>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub collection: String,
    pub source: String,
    pub relation: String,
    /// Rows read in this run (skipped rows are not read).
    pub read: u64,
    pub imported: u64,
    /// Documents a repeated batch found already inserted (a resumed run).
    pub already_present: u64,
    pub rejected: u64,
    pub skipped: u64,
    /// The watermark this run started after, when it resumed.
    pub resumed_after: Option<String>,
    /// Finished by an earlier run: nothing was read.
    pub already_done: bool,
}

/// One row's fate in a batch.
enum Outcome {
    Doc(String, Document),
    Rejected(Reject),
}

/// Why a row failed the schema, every violation.
pub fn violations_text(schema: &CompiledSchema, doc: &Document) -> Option<String> {
    let v = schema.validate(doc);
    if v.is_empty() {
        return None;
    }
    Some(
        v.iter()
            .map(|x| format!("{}: {}", x.path, x.message))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Converts and validates one row.
pub fn convert_row(
    coll: &TargetCollection,
    src: &Source,
    plan: &SourcePlan,
    schema: Option<&CompiledSchema>,
    row: &ParentRow,
    migrated_at: DateTime,
) -> Result<(String, Document), String> {
    let (key, doc) = build(coll, src, plan, &row.row_set(), migrated_at)?;
    if let Some(reason) = schema.and_then(|s| violations_text(s, &doc)) {
        return Err(format!("violates the schema: {reason}"));
    }
    Ok((key, doc))
}

pub async fn run(
    pg: &tokio_postgres::Client,
    imp: &Import,
    plans: &[SourcePlan],
    target: &Target<'_>,
    opts: &RunOptions,
    observe: &Observer,
) -> Result<Vec<SourceReport>> {
    let mut reports = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let coll = &imp.collections[plan.coll];
        let src = &coll.sources[plan.source];
        let report = run_source(pg, imp, coll, src, plan, target, opts, observe, i).await?;
        reports.push(report);
    }
    Ok(reports)
}

#[allow(clippy::too_many_arguments)]
async fn run_source(
    pg: &tokio_postgres::Client,
    imp: &Import,
    coll: &TargetCollection,
    src: &Source,
    plan: &SourcePlan,
    target: &Target<'_>,
    opts: &RunOptions,
    observe: &Observer,
    index: usize,
) -> Result<SourceReport> {
    let id = state::state_id(&imp.name, &coll.collection, &src.name);
    let st = state::open(target.client, target.meta_db, &id).await?;
    let (all, skipped) = count_rows(pg, src).await?;
    let mut report = SourceReport {
        collection: coll.collection.clone(),
        source: src.name.clone(),
        relation: src.from.describe(),
        read: 0,
        imported: 0,
        already_present: 0,
        rejected: 0,
        skipped,
        resumed_after: st.watermark.clone(),
        already_done: st.done,
    };
    if st.done {
        let c = state::counters(target.client, target.meta_db, &id).await?;
        report.imported = c.imported as u64;
        report.already_present = c.already_present as u64;
        report.rejected = c.rejected as u64;
        return Ok(report);
    }
    let summary = format!(
        "{} ← {} ({})",
        coll.collection,
        src.name,
        src.from.describe()
    );
    observe(Event::StepStarted {
        migration: &imp.name,
        index,
        summary: &summary,
        expected: Some(all - skipped),
    });
    let reader = SourceReader::new(pg, src, plan).await?;
    let mongo = target
        .client
        .database(&target.database)
        .collection::<Document>(&coll.collection);
    let schema = target.schemas.get(&coll.collection);
    let mut watermark = st.watermark.clone();
    loop {
        let rows = reader
            .batch(watermark.as_deref(), opts.batch_size as i64)
            .await?;
        if rows.is_empty() {
            break;
        }
        report.read += rows.len() as u64;
        let mut outcomes: Vec<Outcome> = rows
            .iter()
            .map(
                |r| match convert_row(coll, src, plan, schema, r, st.started_at) {
                    Ok((k, d)) => Outcome::Doc(k, d),
                    Err(reason) => Outcome::Rejected(reject(coll, src, &r.key, reason, false)),
                },
            )
            .collect();
        // --strict: insert what precedes the first bad row, stop the watermark before it.
        let mut stop: Option<Reject> = None;
        let mut last = rows.len();
        if opts.strict
            && let Some(bad) = outcomes
                .iter()
                .position(|o| matches!(o, Outcome::Rejected(_)))
        {
            last = bad;
            if let Outcome::Rejected(r) = outcomes.swap_remove(bad) {
                stop = Some(r);
            }
            outcomes.truncate(bad);
        }
        let mut counts = BatchCounts::default();
        let mut batch_rejects = Vec::new();
        let mut docs = Vec::new();
        for (o, row) in outcomes.into_iter().zip(&rows) {
            match o {
                Outcome::Doc(k, d) => docs.push((row.key.clone(), k, d)),
                Outcome::Rejected(r) => batch_rejects.push(r),
            }
        }
        let inserted = insert(&mongo, coll, src, docs).await?;
        counts.imported = inserted.imported as i64;
        counts.already_present = inserted.already_present as i64;
        batch_rejects.extend(inserted.rejects);
        let strict_insert_reject =
            opts.strict && batch_rejects.iter().any(|r| !r.collision) && stop.is_none();
        batch_rejects.extend(stop.clone());
        counts.rejected = batch_rejects.len() as i64;
        rejects::append(&opts.rejects, &batch_rejects)?;
        if last > 0 {
            let w = rows[last - 1].key.clone();
            state::advance(target.client, target.meta_db, &id, &w, counts).await?;
            watermark = Some(w);
        }
        report.imported += counts.imported as u64;
        report.already_present += counts.already_present as u64;
        report.rejected += counts.rejected as u64;
        observe(Event::Advanced { docs: last as u64 });
        if let Some(r) = stop.or_else(|| {
            strict_insert_reject
                .then(|| batch_rejects.iter().find(|r| !r.collision).cloned())
                .flatten()
        }) {
            observe(Event::StepFinished {
                migration: &imp.name,
                index,
            });
            bail!(
                "--strict: {}.{} row {} = {}: {} (written to {}; fix it and run the import again: it resumes at this row)",
                src.name,
                src.from.describe(),
                src.key,
                r.key,
                r.reason,
                opts.rejects.display()
            );
        }
    }
    state::finish(target.client, target.meta_db, &id).await?;
    observe(Event::StepFinished {
        migration: &imp.name,
        index,
    });
    Ok(report)
}

fn reject(
    coll: &TargetCollection,
    src: &Source,
    key: &str,
    reason: String,
    collision: bool,
) -> Reject {
    Reject {
        collection: coll.collection.clone(),
        source: src.name.clone(),
        key: key.to_string(),
        reason,
        collision,
    }
}

struct Inserted {
    imported: u64,
    already_present: u64,
    rejects: Vec<Reject>,
}

/// Inserts `docs` (source key, document key, document) unordered; sorts out what the server
/// refused: our own document again (a repeated batch), a key collision, or a real refusal.
async fn insert(
    mongo: &mongodb::Collection<Document>,
    coll: &TargetCollection,
    src: &Source,
    docs: Vec<(String, String, Document)>,
) -> Result<Inserted> {
    let mut out = Inserted {
        imported: docs.len() as u64,
        already_present: 0,
        rejects: Vec::new(),
    };
    if docs.is_empty() {
        return Ok(out);
    }
    let failures = match mongo
        .insert_many(docs.iter().map(|(_, _, d)| d))
        .ordered(false)
        .await
    {
        Ok(_) => return Ok(out),
        Err(e) => match *e.kind {
            ErrorKind::InsertMany(ref ime) if ime.write_concern_error.is_none() => {
                ime.write_errors.clone().unwrap_or_default()
            }
            _ => {
                return Err(
                    anyhow::Error::new(e).context(format!("inserting into {}", mongo.namespace()))
                );
            }
        },
    };
    let dup_ids: Vec<Bson> = failures
        .iter()
        .filter(|f| f.code == 11000)
        .filter_map(|f| {
            docs.get(f.index)
                .and_then(|(_, _, d)| d.get("_id").cloned())
        })
        .collect();
    let mut existing: HashMap<String, Document> = HashMap::new();
    if !dup_ids.is_empty() {
        let mut cur = mongo.find(doc! {"_id": {"$in": dup_ids}}).await?;
        while cur.advance().await? {
            let d = cur.deserialize_current()?;
            if let Ok(id) = d.get_object_id("_id") {
                existing.insert(id.to_hex(), d);
            }
        }
    }
    for f in failures {
        out.imported -= 1;
        let Some((src_key, doc_key, d)) = docs.get(f.index) else {
            continue;
        };
        let id = d
            .get_object_id("_id")
            .map(|o| o.to_hex())
            .unwrap_or_default();
        match (f.code, existing.get(&id)) {
            (11000, Some(e)) if e == d => out.already_present += 1,
            (11000, Some(e)) => {
                let from = super::model::describe_origin(e);
                let keep_first = coll.on_collision == Collision::KeepFirst;
                let reason = format!(
                    "key collision: a document with {} = {doc_key} already exists{from}{}",
                    coll.key,
                    if keep_first {
                        "; kept it (onKeyCollision: keepFirst)"
                    } else {
                        ""
                    }
                );
                out.rejects
                    .push(reject(coll, src, src_key, reason, keep_first));
            }
            _ => out.rejects.push(reject(
                coll,
                src,
                src_key,
                format!("the server refused the document: {}", f.message),
                false,
            )),
        }
    }
    Ok(out)
}
