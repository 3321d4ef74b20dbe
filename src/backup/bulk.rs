//! Raw BSON batches into a collection: the insert shared by restore and relocate.

use anyhow::Result;
use bson::RawDocumentBuf;
use mongodb::Collection;
use mongodb::error::ErrorKind;

use crate::backup::bsonio::DocBatch;

/// What one unordered insert of a batch did.
#[derive(Default)]
pub struct InsertStats {
    pub inserted: u64,
    pub duplicates: u64,
    pub errors: u64,
    /// The first error that is not a duplicate key.
    pub first_error: Option<String>,
}

/// Inserts `batch` into `coll` unordered, bypassing document validation (a collection may
/// hold documents its validator no longer accepts); per-document write errors are counted,
/// duplicate keys apart, and only a failure of the whole command is an error.
pub async fn insert_batch(
    coll: Collection<RawDocumentBuf>,
    batch: DocBatch,
) -> Result<InsertStats> {
    let n = batch.len() as u64;
    match coll
        .clone_with_type::<&bson::RawDocument>()
        .insert_many(batch.docs())
        .ordered(false)
        .bypass_document_validation(true)
        .await
    {
        Ok(_) => Ok(InsertStats {
            inserted: n,
            ..Default::default()
        }),
        Err(e) => match e.kind.as_ref() {
            ErrorKind::InsertMany(ie) if ie.write_concern_error.is_none() => {
                let mut s = InsertStats::default();
                for w in ie.write_errors.iter().flatten() {
                    if w.code == 11000 {
                        s.duplicates += 1;
                    } else {
                        s.errors += 1;
                        s.first_error.get_or_insert_with(|| {
                            format!("write error {}: {}", w.code, w.message)
                        });
                    }
                }
                s.inserted = n - s.duplicates - s.errors;
                Ok(s)
            }
            _ => Err(anyhow::anyhow!(crate::error::describe_driver_error(&e))),
        },
    }
}
