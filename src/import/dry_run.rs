//! `import --dry-run`: a sample of each source read, converted and validated against the
//! target's `$jsonSchema` offline. Nothing is written anywhere.

use anyhow::Result;
use bson::{DateTime, Document};
use serde::Serialize;

use super::catalog::SourcePlan;
use super::model::Import;
use super::reader::SourceReader;
use super::run::convert_row;
use crate::jsonschema::CompiledSchema;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub key: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub collection: String,
    pub source: String,
    pub sampled: u64,
    pub converted: u64,
    /// The first documents, as Extended JSON (relaxed).
    pub documents: Vec<serde_json::Value>,
    /// Every row of the sample that would be rejected, and why.
    pub problems: Vec<Problem>,
}

pub async fn sample(
    pg: &tokio_postgres::Client,
    imp: &Import,
    plans: &[SourcePlan],
    schemas: &dyn Fn(&str) -> Option<CompiledSchema>,
    rows: usize,
    show: usize,
) -> Result<Vec<Sample>> {
    let now = DateTime::now();
    let mut out = Vec::new();
    for plan in plans {
        let coll = &imp.collections[plan.coll];
        let src = &coll.sources[plan.source];
        let schema = schemas(&coll.collection);
        let reader = SourceReader::new(pg, src, plan).await?;
        let batch = reader.batch(None, rows as i64).await?;
        let mut s = Sample {
            collection: coll.collection.clone(),
            source: src.name.clone(),
            sampled: batch.len() as u64,
            converted: 0,
            documents: vec![],
            problems: vec![],
        };
        for r in &batch {
            match convert_row(coll, src, plan, schema.as_ref(), r, now) {
                Ok((_, d)) => {
                    s.converted += 1;
                    if s.documents.len() < show {
                        s.documents.push(extjson(d));
                    }
                }
                Err(reason) => s.problems.push(Problem {
                    key: r.key.clone(),
                    reason,
                }),
            }
        }
        out.push(s);
    }
    Ok(out)
}

fn extjson(d: Document) -> serde_json::Value {
    bson::Bson::Document(d).into_relaxed_extjson()
}
