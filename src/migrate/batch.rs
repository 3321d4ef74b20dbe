//! A batched, resumable update: the matching `_id`s are read in `_id` order from one cursor,
//! and each batch is updated with `{$and: [filter, {_id: {$in: batch}}]}`. The last `_id` of
//! every committed batch is recorded in the changelog; on a replica set in the *same
//! transaction* as the batch (so a batch is applied exactly once, even when killed), on a
//! standalone just after it, with the batch in flight recorded before it (so a resume knows
//! which batch may be half done and repeats it only when the step is idempotent).

use anyhow::{Context, Result, bail};
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::{Client, ClientSession, Collection};

use super::changelog::{StepRecord, update_step};
use super::events::{Event, Observer};
use super::model::UpdateStep;
use crate::error::described;
use crate::lease::Lease;
use crate::model::sort_bracket;

pub struct BatchRun<'a> {
    pub client: &'a Client,
    pub db: &'a str,
    pub coll: &'a str,
    pub meta_db: &'a str,
    pub migration: &'a str,
    pub index: u32,
    pub batch_size: usize,
    pub transactions: bool,
    pub lease: &'a Lease,
    pub observe: &'a Observer,
}

/// (matched, modified) by this run (not counting batches an earlier run committed).
pub async fn run(r: &BatchRun<'_>, step: &UpdateStep, record: &StepRecord) -> Result<(u64, u64)> {
    if let Some(half) = &record.in_flight
        && !step.idempotent
    {
        bail!(
            "an earlier run was stopped while writing the batch ending at _id {half}; this step ({}) is not safe to repeat and a standalone server has no transactions to tell whether that batch was applied: roll the migration back (migrate rollback) and run it again",
            describe_update(step)
        );
    }
    let coll: Collection<Document> = r.client.database(r.db).collection(r.coll);
    let cursor_filter = match &record.resume_after {
        Some(last) => and(step.filter.clone(), after(last)),
        None => step.filter.clone(),
    };
    let mut ids = coll
        .find(cursor_filter)
        .sort(doc! {"_id": 1})
        .projection(doc! {"_id": 1})
        .batch_size(r.batch_size.min(100_000) as u32)
        .await
        .map_err(described)
        .with_context(|| format!("reading the _ids to update in {}.{}", r.db, r.coll))?;
    let update = step.update.to_bson();
    let (mut matched, mut modified) = (0, 0);
    loop {
        let mut batch = Vec::with_capacity(r.batch_size);
        while batch.len() < r.batch_size {
            match ids.try_next().await.map_err(described)? {
                Some(d) => batch.push(d.get("_id").cloned().unwrap_or(Bson::Null)),
                None => break,
            }
        }
        let Some(last) = batch.last().cloned() else {
            break;
        };
        let n = batch.len() as u64;
        let filter = and(step.filter.clone(), doc! {"_id": {"$in": batch}});
        let (m, md) = if r.transactions {
            in_transaction(r, &coll, &filter, &update, &last).await?
        } else {
            r.lease.ensure_held(None).await?;
            update_step(
                r.client,
                r.meta_db,
                r.migration,
                r.index,
                doc! {"in_flight": last.clone()},
                doc! {},
                None,
            )
            .await?;
            let res = update_many(&coll, filter.clone(), update.clone(), None).await?;
            update_step(
                r.client,
                r.meta_db,
                r.migration,
                r.index,
                doc! {"resume_after": last, "in_flight": Bson::Null},
                doc! {"matched": res.0 as i64, "modified": res.1 as i64, "batches": 1_i64},
                None,
            )
            .await?;
            res
        };
        matched += m;
        modified += md;
        (r.observe)(Event::Advanced { docs: n });
    }
    Ok((matched, modified))
}

/// One batch and its progress record, committed together; retried on transient errors as
/// the driver's transaction guidance says.
async fn in_transaction(
    r: &BatchRun<'_>,
    coll: &Collection<Document>,
    filter: &Document,
    update: &Bson,
    last: &Bson,
) -> Result<(u64, u64)> {
    let mut session = r.client.start_session().await.map_err(described)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        session.start_transaction().await.map_err(described)?;
        let attempt = async {
            r.lease.ensure_held(Some(&mut session)).await?;
            let res = update_many(coll, filter.clone(), update.clone(), Some(&mut session)).await?;
            update_step(
                r.client,
                r.meta_db,
                r.migration,
                r.index,
                doc! {"resume_after": last.clone()},
                doc! {"matched": res.0 as i64, "modified": res.1 as i64, "batches": 1_i64},
                Some(&mut session),
            )
            .await?;
            anyhow::Ok(res)
        }
        .await;
        match attempt {
            Ok(res) => loop {
                match session.commit_transaction().await {
                    Ok(()) => return Ok(res),
                    Err(e)
                        if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && attempts < 5 =>
                    {
                        attempts += 1;
                    }
                    Err(e) if e.contains_label(TRANSIENT_TRANSACTION_ERROR) && attempts < 5 => {
                        break;
                    }
                    Err(e) => return Err(described(e)).context("committing a batch"),
                }
            },
            Err(e) => {
                let _ = session.abort_transaction().await;
                let transient = e
                    .chain()
                    .filter_map(|c| c.downcast_ref::<DriverError>())
                    .any(|m| m.0.contains_label(TRANSIENT_TRANSACTION_ERROR));
                if !transient || attempts >= 5 {
                    return Err(e);
                }
            }
        }
    }
}

async fn update_many(
    coll: &Collection<Document>,
    filter: Document,
    update: Bson,
    session: Option<&mut ClientSession>,
) -> Result<(u64, u64)> {
    let action = match update {
        Bson::Array(stages) => coll.update_many(
            filter,
            stages
                .into_iter()
                .filter_map(|s| s.as_document().cloned())
                .collect::<Vec<_>>(),
        ),
        Bson::Document(d) => coll.update_many(filter, d),
        other => bail!("an update is a document or a pipeline, not {other}"),
    }
    // The collection's validator is the one being migrated away from: apply sets the new
    // one after the migrations, and counts what still violates it.
    .bypass_document_validation(true);
    let res = match session {
        Some(s) => action.session(s).await,
        None => action.await,
    };
    // Kept as the driver's error (described when shown) so transient labels stay visible.
    let res = res.map_err(|e| anyhow::Error::new(DriverError(e)))?;
    Ok((res.matched_count, res.modified_count))
}

/// A driver error that displays as mongoctl describes them and keeps its labels.
#[derive(Debug)]
struct DriverError(mongodb::error::Error);

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::error::describe_driver_error(&self.0))
    }
}

impl std::error::Error for DriverError {}

fn describe_update(step: &UpdateStep) -> String {
    step.update.to_bson().to_string()
}

pub fn and(filter: Document, extra: Document) -> Document {
    if filter.is_empty() {
        extra
    } else {
        doc! {"$and": [filter, extra]}
    }
}

/// `_id`s after `last` in the server's sort order. `$gt` only compares within one type
/// bracket, so the brackets that sort after `last`'s are added by type.
pub fn after(last: &Bson) -> Document {
    let later: Vec<&str> = BRACKETS
        .iter()
        .skip(sort_bracket(last) as usize + 1)
        .flat_map(|b| b.iter().copied())
        .collect();
    if later.is_empty() {
        doc! {"_id": {"$gt": last.clone()}}
    } else {
        doc! {"$or": [{"_id": {"$gt": last.clone()}}, {"_id": {"$type": later}}]}
    }
}

/// BSON types in the order the server sorts them (types within one bracket compare by value).
const BRACKETS: &[&[&str]] = &[
    &["minKey"],
    &["null", "undefined"],
    &["double", "int", "long", "decimal"],
    &["string", "symbol"],
    &["object"],
    &["array"],
    &["binData"],
    &["objectId"],
    &["bool"],
    &["date"],
    &["timestamp"],
    &["regex"],
    &["dbPointer", "javascript", "javascriptWithScope"],
    &["maxKey"],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_after_a_number_keeps_later_types() {
        let f = after(&Bson::Int32(5));
        let types = f.get_array("$or").unwrap()[1]
            .as_document()
            .unwrap()
            .get_document("_id")
            .unwrap()
            .get_array("$type")
            .unwrap()
            .clone();
        assert!(types.contains(&Bson::String("string".into())));
        assert!(types.contains(&Bson::String("objectId".into())));
        assert!(!types.contains(&Bson::String("int".into())));
        assert!(!types.contains(&Bson::String("null".into())));
        assert_eq!(after(&Bson::MaxKey), doc! {"_id": {"$gt": Bson::MaxKey}});
    }
}
